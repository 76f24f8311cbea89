#pragma once
// Node faults for `rivulet chaos --coordinator HOST:PORT kill|pause|resume
// NODE`: SIGKILL, SIGSTOP or SIGCONT of a node process on this machine.
//
// The node's pid comes from the coordinator's view of the cluster, the JSON
// printed by `rivulet status --coordinator HOST:PORT --json`:
//   {"nodes": [{"name": "n1", "pid": 1234, "host": "127.0.0.1", "state": "...",
//               "tasks": N}], "tasks": [...]}
// Only nodes whose host is a loopback address are signalled; a remote node is
// refused with an error saying so. Before signalling, the pid is checked to be
// a live process running the rivulet binary (a stale status must not make us
// kill an unrelated process that reused the pid).
#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.hpp"

namespace rivulet::chaos {

struct NodeInfo {
  std::string name;
  int64_t pid = 0;
  std::string host;
  std::string state;
  int64_t tasks = -1;  // -1: not reported
};

enum class NodeFault { Kill, Pause, Resume };

// "kill" / "pause" / "resume"; a Data error for anything else.
Expected<NodeFault> parse_node_fault(const std::string& word);
const char* node_fault_name(NodeFault fault);
int node_fault_signal(NodeFault fault);  // SIGKILL, SIGSTOP, SIGCONT

// The "nodes" of a status JSON document; a Data error naming what is wrong.
Expected<std::vector<NodeInfo>> parse_status_nodes(std::string_view json);

// The node called `name`, or an error listing the known names.
Expected<NodeInfo> find_node(const std::vector<NodeInfo>& nodes, const std::string& name);

// Runs `RIVULET status --coordinator COORDINATOR --json` (RIVULET: this
// binary, /proc/self/exe, unless `rivulet_binary` is given), bounded by
// `timeout`, and returns its stdout; an error with its exit status and
// stderr when it fails.
Expected<std::string> fetch_status_json(const std::string& coordinator,
                                        std::chrono::seconds timeout = std::chrono::seconds(15),
                                        std::string rivulet_binary = "");

// How node faults reach a node: a signal for a node process on this machine,
// or (remote: forced, or the node's host is not a loopback address) an
// orderly request through the coordinator, made by running `RIVULET chaos
// --coordinator C --remote [--config F] [--max-pause MS] FAULT NODE`.
struct NodeFaultRoute {
  std::string coordinator;
  std::string rivulet_binary;  // default: this binary
  std::string config_file;     // cluster.secret (and cluster.tls.*) for remote requests
  bool force_remote = false;
  int64_t max_pause_ms = 600000;  // a remote pause ends by itself after this
};

// True when the node is to be reached through the coordinator.
bool is_remote_node(const NodeInfo& node, const NodeFaultRoute& route);
// Applies the fault by the route above; `how` says what was done
// ("pid 1234, signal 9" or "remote request through the coordinator").
Expected<bool> apply_node_fault(const NodeInfo& node, NodeFault fault, const NodeFaultRoute& route,
                                std::string* how = nullptr);

// Signals the node's process: refuses non-loopback hosts, pids <= 1, our own
// process group, and processes that are not the rivulet binary (by
// /proc/PID/exe and /proc/PID/cmdline).
Expected<bool> signal_node(const NodeInfo& node, NodeFault fault);

}  // namespace rivulet::chaos
