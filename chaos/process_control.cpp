#include "chaos/process_control.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <httplib.h>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "chaos/broker_faults.hpp"
#include "runtime/host_port.hpp"

namespace rivulet::chaos {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string base_name(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string unbracket(std::string host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

// The bytes of an address in /proc/net/tcp's hex form: 32-bit words, each
// printed as the number its (network-order) bytes make in this machine's
// byte order.
bool proc_address_bytes(const std::string& hex, unsigned char* out, size_t n) {
  if (hex.size() != n * 2) return false;
  for (size_t word = 0; word < n / 4; ++word) {
    uint32_t v = 0;
    try {
      v = static_cast<uint32_t>(std::stoul(hex.substr(word * 8, 8), nullptr, 16));
    } catch (...) {
      return false;
    }
    std::memcpy(out + word * 4, &v, 4);
  }
  return true;
}

bool all_zero(const unsigned char* b, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (b[i] != 0) return false;
  }
  return true;
}

// A listener address (4 or 16 bytes) that `host` reaches: the wildcard, the
// same address, or any loopback address for "localhost".
bool listener_matches(const unsigned char* addr, size_t n, const std::string& host) {
  if (all_zero(addr, n)) return true;
  unsigned char v4[4];
  if (n == 16) {
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const bool is_loop6 = all_zero(addr, 15) && addr[15] == 1;
    if (std::memcmp(addr, mapped, 12) == 0) {
      std::memcpy(v4, addr + 12, 4);  // ::ffff:a.b.c.d: compare as IPv4
      return listener_matches(v4, 4, host);
    }
    if (host == "localhost") return is_loop6;
    unsigned char want[16];
    return ::inet_pton(AF_INET6, host.c_str(), want) == 1 && std::memcmp(want, addr, 16) == 0;
  }
  if (host == "localhost") return addr[0] == 127;
  return ::inet_pton(AF_INET, host.c_str(), v4) == 1 && std::memcmp(v4, addr, 4) == 0;
}

std::string signal_word(NodeFault fault) {
  return "signal " + std::to_string(node_fault_signal(fault));
}

}  // namespace

std::string executable_of(pid_t pid) {
  char buf[4096];
  std::string link = "/proc/" + std::to_string(pid) + "/exe";
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string exe(buf, static_cast<size_t>(n));
  const std::string deleted = " (deleted)";
  if (exe.size() > deleted.size() &&
      exe.compare(exe.size() - deleted.size(), deleted.size(), deleted) == 0) {
    exe.resize(exe.size() - deleted.size());
  }
  return exe;
}

Expected<std::pair<std::string, int>> split_host_port(const std::string& address) {
  auto parsed = parse_host_port(address);
  if (!parsed) return parsed.error();
  if (parsed->port == 0) return Error::data("'" + address + "': port 0 names no process");
  return std::make_pair(parsed->host, static_cast<int>(parsed->port));
}

std::vector<unsigned long> listening_inodes(const std::string& table, const std::string& host_in,
                                            int port, bool ipv6) {
  const std::string host = unbracket(host_in);
  std::vector<unsigned long> out;
  std::istringstream lines(table);
  std::string line;
  std::getline(lines, line);  // header
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    std::string word;
    while (fields >> word && f.size() < 10) f.push_back(word);
    if (f.size() < 10 || f[3] != "0A") continue;  // 0A: TCP_LISTEN
    const auto colon = f[1].find(':');
    if (colon == std::string::npos) continue;
    int local_port = 0;
    try {
      local_port = std::stoi(f[1].substr(colon + 1), nullptr, 16);
    } catch (...) {
      continue;
    }
    if (local_port != port) continue;
    unsigned char addr[16];
    const size_t n = ipv6 ? 16 : 4;
    if (!proc_address_bytes(f[1].substr(0, colon), addr, n)) continue;
    if (!listener_matches(addr, n, host)) continue;
    try {
      out.push_back(std::stoul(f[9]));
    } catch (...) {
    }
  }
  return out;
}

Expected<pid_t> find_listener(const std::string& address) {
  auto hp = split_host_port(address);
  if (!hp) return hp.error();
  const auto& [host, port] = *hp;
  if (!is_loopback_host(host)) {
    return Error::data(address + " is not a loopback address: rivulet chaos signals only "
                       "processes on this machine");
  }
  std::set<unsigned long> inodes;
  for (bool v6 : {false, true}) {
    for (auto inode : listening_inodes(read_file(v6 ? "/proc/net/tcp6" : "/proc/net/tcp"), host,
                                       port, v6)) {
      inodes.insert(inode);
    }
  }
  if (inodes.empty()) return Error::data("no process listens on " + address);
  std::set<pid_t> owners;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return Error::fatal(std::string("cannot read /proc: ") + std::strerror(errno));
  while (dirent* e = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    const std::string fd_dir = "/proc/" + std::string(e->d_name) + "/fd";
    DIR* fds = ::opendir(fd_dir.c_str());
    if (fds == nullptr) continue;  // gone, or another user's
    while (dirent* fd = ::readdir(fds)) {
      if (fd->d_name[0] == '.') continue;
      char buf[64];
      const std::string link = fd_dir + "/" + fd->d_name;
      ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
      if (n <= 0) continue;
      buf[n] = '\0';
      unsigned long inode = 0;
      if (std::sscanf(buf, "socket:[%lu]", &inode) == 1 && inodes.count(inode)) {
        owners.insert(static_cast<pid_t>(pid));
        break;
      }
    }
    ::closedir(fds);
  }
  ::closedir(proc);
  if (owners.empty()) {
    return Error::data("the socket listening on " + address +
                       " belongs to a process rivulet chaos cannot inspect (another user's?)");
  }
  if (owners.size() > 1) {
    std::string list;
    for (auto p : owners) list += (list.empty() ? "" : ", ") + std::to_string(p);
    return Error::data("more than one process holds the socket listening on " + address + " (pids " +
                       list + "); give one with --pid");
  }
  return *owners.begin();
}

Expected<bool> signal_process(pid_t pid, NodeFault fault, const std::string& what,
                              bool require_rivulet) {
  if (pid <= 1) return Error::data(what + ": no usable pid (" + std::to_string(pid) + ")");
  if (pid == ::getpid() || pid == ::getppid()) {
    return Error::data(what + ": pid " + std::to_string(pid) + " is rivulet chaos itself or its parent");
  }
  const std::string exe = executable_of(pid);
  if (exe.empty()) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) {
      return Error::data(what + ": no process " + std::to_string(pid) + " (already gone?)");
    }
    return Error::data(what + ": cannot inspect process " + std::to_string(pid) +
                       " (another user's?)");
  }
  if (require_rivulet) {
    const std::string mine = executable_of(::getpid());
    std::string cmdline = read_file("/proc/" + std::to_string(pid) + "/cmdline");
    const std::string argv0 = cmdline.substr(0, cmdline.find('\0'));
    const bool is_rivulet = exe == mine || base_name(exe).find("rivulet") != std::string::npos ||
                            base_name(argv0).find("rivulet") != std::string::npos;
    if (!is_rivulet) {
      return Error::data(what + ": process " + std::to_string(pid) + " runs " + exe +
                         ", not rivulet; refusing (a stale status?)");
    }
  }
  if (::kill(pid, node_fault_signal(fault)) != 0) {
    return Error::fatal(what + ": kill(" + std::to_string(pid) + "): " + std::strerror(errno));
  }
  return true;
}

Expected<std::string> coordinator_fault(const std::string& coordinator, NodeFault fault) {
  const std::string what = std::string(node_fault_name(fault)) + " the coordinator on " + coordinator;
  auto pid = find_listener(coordinator);
  if (!pid) return Error::data(what + ": " + pid.error().message);
  auto done = signal_process(*pid, fault, what, /*require_rivulet=*/true);
  if (!done) return done.error();
  return "pid " + std::to_string(*pid) + ", " + signal_word(fault);
}

Expected<std::string> http_process_fault(const std::string& address, NodeFault fault,
                                         std::chrono::seconds timeout) {
  const std::string what = std::string(node_fault_name(fault)) + " the process serving " + address;
  auto pid = find_listener(address);
  if (!pid) return Error::data(what + ": " + pid.error().message);
  std::string who;
  if (fault != NodeFault::Resume) {
    // It must say it is Rivulet before it is killed or paused.
    auto hp = split_host_port(address);
    httplib::Client client(hp->first, hp->second);
    client.set_connection_timeout(timeout);
    client.set_read_timeout(timeout);
    auto res = client.Get("/health");
    if (!res) {
      return Error::data(what + ": GET /health failed (" + httplib::to_string(res.error()) +
                         "); refusing to signal a process that does not answer as Rivulet");
    }
    auto doc = nlohmann::json::parse(res->body, nullptr, false);
    const bool rivulet = doc.is_object() && doc.contains("status") &&
                         (doc.contains("application") || doc.contains("node"));
    if (!rivulet) {
      return Error::data(what + ": its /health (HTTP " + std::to_string(res->status) +
                         ") is not a Rivulet health report; refusing");
    }
    if (doc.contains("pid") && doc["pid"].is_number_integer() &&
        doc["pid"].get<int64_t>() != static_cast<int64_t>(*pid)) {
      return Error::data(what + ": /health reports pid " + doc["pid"].dump() +
                         " but the listening socket belongs to pid " + std::to_string(*pid) +
                         "; refusing");
    }
    who = doc.contains("application") ? "application " + doc["application"].dump()
                                      : "node " + doc["node"].dump();
  }
  auto done = signal_process(*pid, fault, what, /*require_rivulet=*/false);
  if (!done) return done.error();
  return (who.empty() ? "" : who + ", ") + "pid " + std::to_string(*pid) + ", " + signal_word(fault);
}

Expected<std::string> pid_fault(int64_t pid, NodeFault fault) {
  const std::string what = std::string(node_fault_name(fault)) + " pid " + std::to_string(pid);
  if (pid <= 1 || pid > INT32_MAX) return Error::data(what + ": not a usable pid");
  const std::string exe = executable_of(static_cast<pid_t>(pid));
  auto done = signal_process(static_cast<pid_t>(pid), fault, what, /*require_rivulet=*/false);
  if (!done) return done.error();
  return (exe.empty() ? "" : base_name(exe) + ", ") + signal_word(fault);
}

}  // namespace rivulet::chaos
