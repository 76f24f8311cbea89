#pragma once
// Faults for processes that are not a cluster node, all on this machine:
//   rivulet chaos --coordinator HOST:PORT kill|pause|resume coordinator
//   rivulet chaos --http HOST:PORT kill|pause|resume   (a `rivulet run`, an
//                                                       application with --http)
//   rivulet chaos --pid PID kill|pause|resume
//
// A process is found by the TCP socket it listens on (/proc/net/tcp and
// tcp6, then the /proc/PID/fd link to that socket), so a paused process,
// which answers nothing, can still be resumed. Only loopback addresses are
// accepted: the listener is then a process on this machine.
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "chaos/node_control.hpp"
#include "runtime/error.hpp"

namespace rivulet::chaos {

// The target word of `kill|pause|resume coordinator` (command and scenarios):
// the coordinator process, not a node of that name.
inline constexpr const char* kCoordinatorTarget = "coordinator";

// HOST:PORT (HOST may be [v6]) split; a Data error naming the form.
Expected<std::pair<std::string, int>> split_host_port(const std::string& address);

// The pid of the process on this machine that listens on `address`
// (HOST:PORT, HOST a loopback address or localhost; a listener on the
// wildcard address counts). Errors: not loopback, nobody listens there, the
// socket belongs to a process we cannot inspect (another user's), or to more
// than one process.
Expected<pid_t> find_listener(const std::string& address);

// The inodes of the listening TCP sockets in `table` (the text of
// /proc/net/tcp, or of /proc/net/tcp6 when `ipv6`) bound to `port` and to
// `host` (a loopback address, or localhost: any loopback address) or to the
// wildcard address. Exposed for tests.
std::vector<unsigned long> listening_inodes(const std::string& table, const std::string& host,
                                            int port, bool ipv6);

// Signals `pid` with the fault's signal (SIGKILL, SIGSTOP, SIGCONT) after
// the checks every target gets: a live process, not pid 0 or 1, not this
// process or its parent. With `require_rivulet`, also the checks of
// signal_node: its executable or argv[0] must be rivulet. `what` names the
// target in errors.
Expected<bool> signal_process(pid_t pid, NodeFault fault, const std::string& what,
                              bool require_rivulet);

// The coordinator listening on `coordinator` (HOST:PORT): found by its
// socket, and it must be the rivulet binary. Returns a description of what
// was done ("pid 1234, signal 9").
Expected<std::string> coordinator_fault(const std::string& coordinator, NodeFault fault);

// The process serving Rivulet's HTTP endpoint on `address`: found by its
// socket; for kill and pause its GET /health must answer as a Rivulet
// application or node (and, when it reports a pid, the same pid); resume
// asks nothing (a paused process cannot answer).
Expected<std::string> http_process_fault(const std::string& address, NodeFault fault,
                                         std::chrono::seconds timeout = std::chrono::seconds(5));

// The executable of `pid` ("" when it cannot be read); " (deleted)" is
// stripped, so a rebuilt binary still counts.
std::string executable_of(pid_t pid);

// A process given by its pid (any program: the user named it).
Expected<std::string> pid_fault(int64_t pid, NodeFault fault);

}  // namespace rivulet::chaos
