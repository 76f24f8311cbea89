#include "chaos/node_control.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "chaos/broker_faults.hpp"
#include "chaos/process_control.hpp"
#include "runtime/sanitizer.hpp"

namespace rivulet::chaos {

namespace {

using json = nlohmann::json;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

}  // namespace

Expected<NodeFault> parse_node_fault(const std::string& word) {
  if (word == "kill") return NodeFault::Kill;
  if (word == "pause") return NodeFault::Pause;
  if (word == "resume") return NodeFault::Resume;
  return Error::data("unknown node fault '" + word + "'; expected kill, pause or resume");
}

const char* node_fault_name(NodeFault fault) {
  switch (fault) {
    case NodeFault::Kill: return "kill";
    case NodeFault::Pause: return "pause";
    case NodeFault::Resume: return "resume";
  }
  return "?";
}

int node_fault_signal(NodeFault fault) {
  switch (fault) {
    case NodeFault::Kill: return SIGKILL;
    case NodeFault::Pause: return SIGSTOP;
    case NodeFault::Resume: return SIGCONT;
  }
  return 0;
}

Expected<std::vector<NodeInfo>> parse_status_nodes(std::string_view text) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Error::data("cluster status: not a JSON object");
  }
  auto nodes = doc.find("nodes");
  if (nodes == doc.end() || !nodes->is_array()) {
    return Error::data("cluster status: no array 'nodes'");
  }
  std::vector<NodeInfo> out;
  for (size_t i = 0; i < nodes->size(); ++i) {
    const json& n = (*nodes)[i];
    const std::string where = "cluster status: nodes[" + std::to_string(i) + "]";
    if (!n.is_object()) return Error::data(where + " is not an object");
    NodeInfo info;
    auto name = n.find("name");
    if (name == n.end() || !name->is_string() || name->get<std::string>().empty()) {
      return Error::data(where + " has no string 'name'");
    }
    info.name = name->get<std::string>();
    if (auto pid = n.find("pid"); pid != n.end() && pid->is_number_integer()) {
      info.pid = pid->get<int64_t>();
    }
    if (auto host = n.find("host"); host != n.end() && host->is_string()) {
      info.host = host->get<std::string>();
    }
    if (auto state = n.find("state"); state != n.end() && state->is_string()) {
      info.state = state->get<std::string>();
    }
    if (auto tasks = n.find("tasks"); tasks != n.end()) {
      if (tasks->is_number_integer()) {
        info.tasks = tasks->get<int64_t>();
      } else if (tasks->is_array()) {
        info.tasks = static_cast<int64_t>(tasks->size());
      }
    }
    out.push_back(std::move(info));
  }
  return out;
}

Expected<NodeInfo> find_node(const std::vector<NodeInfo>& nodes, const std::string& name) {
  std::string known;
  for (const auto& n : nodes) {
    if (n.name == name) return n;
    known += (known.empty() ? "" : ", ") + n.name;
  }
  return Error::data("no node '" + name + "' in the cluster; known nodes: " +
                     (known.empty() ? std::string("none") : known));
}

Expected<std::string> fetch_status_json(const std::string& coordinator, std::chrono::seconds timeout,
                                        std::string binary) {
  if (binary.empty()) binary = executable_of(::getpid());
  if (binary.empty()) return Error::fatal("cannot find the rivulet binary (/proc/self/exe)");
  char err_path[] = "/tmp/rivulet-chaos-status-XXXXXX";
  int fd = ::mkstemp(err_path);
  if (fd < 0) return Error::fatal(std::string("mkstemp: ") + std::strerror(errno));
  ::close(fd);
  // `rivulet status` asks up to three times; a sanitizer build waits longer.
  const std::string command = "timeout " + std::to_string(timeout.count() * kSanitizerSlowdown) +
                              " " + quote(binary) +
                              " status --coordinator " + quote(coordinator) + " --json 2>" +
                              quote(err_path);
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) {
    ::unlink(err_path);
    return Error::fatal(std::string("cannot run rivulet status: ") + std::strerror(errno));
  }
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  std::string err = read_file(err_path);
  ::unlink(err_path);
  while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return Error::retriable("`rivulet status --coordinator " + coordinator + " --json` failed" +
                            (code == 124 ? std::string(" (timed out)")
                                         : " (exit status " + std::to_string(code) + ")") +
                            (err.empty() ? "" : ": " + err));
  }
  return out;
}

Expected<bool> signal_node(const NodeInfo& node, NodeFault fault) {
  const std::string what = std::string(node_fault_name(fault)) + " node " + node.name;
  if (!is_loopback_host(node.host)) {
    return Error::data(what + ": it runs on '" + node.host +
                       "', not on this machine's loopback; rivulet chaos signals only local "
                       "node processes (a remote node needs its own rivulet chaos)");
  }
  if (node.pid <= 1 || node.pid > INT32_MAX) {
    return Error::data(what + ": the coordinator reports no usable pid (" +
                       std::to_string(node.pid) + ")");
  }
  return signal_process(static_cast<pid_t>(node.pid), fault, what, /*require_rivulet=*/true);
}

bool is_remote_node(const NodeInfo& node, const NodeFaultRoute& route) {
  return route.force_remote || !is_loopback_host(node.host);
}

Expected<bool> apply_node_fault(const NodeInfo& node, NodeFault fault, const NodeFaultRoute& route,
                                std::string* how) {
  if (!is_remote_node(node, route)) {
    auto done = signal_node(node, fault);
    if (done && how) {
      *how = "pid " + std::to_string(node.pid) + ", signal " + std::to_string(node_fault_signal(fault));
    }
    return done;
  }
  std::string binary = route.rivulet_binary.empty() ? executable_of(::getpid()) : route.rivulet_binary;
  if (binary.empty()) return Error::fatal("cannot find the rivulet binary (/proc/self/exe)");
  std::string command = "timeout 30 " + quote(binary) + " chaos --coordinator " +
                        quote(route.coordinator) + " --remote --max-pause " +
                        std::to_string(route.max_pause_ms) + "ms";
  if (!route.config_file.empty()) command += " --config " + quote(route.config_file);
  command += std::string(" ") + node_fault_name(fault) + " " + quote(node.name) + " 2>&1";
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return Error::fatal(std::string("cannot run rivulet chaos: ") + std::strerror(errno));
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Error::data(std::string(node_fault_name(fault)) + " node " + node.name +
                       " through the coordinator failed: " + out);
  }
  if (how) *how = "remote request through the coordinator";
  return true;
}

}  // namespace rivulet::chaos
