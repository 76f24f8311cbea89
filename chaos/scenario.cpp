#include "chaos/scenario.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "chaos/broker_faults.hpp"
#include "chaos/process_control.hpp"

namespace rivulet::chaos {

namespace {

using Clock = std::chrono::steady_clock;
using connectors::ControlOp;
using connectors::ControlRequest;

// ---------------------------------------------------------------- parsing

Error at_line(const std::string& file, int line, const std::string& what) {
  return Error::data(file + ":" + std::to_string(line) + ": " + what);
}

int line_of(const YAML::Node& n) { return n.Mark().line + 1; }

std::optional<std::string> scalar(const YAML::Node& n) {
  if (!n || !n.IsScalar()) return std::nullopt;
  return n.Scalar();
}

std::optional<int64_t> to_int(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return std::nullopt;
  return v;
}

bool valid_process_name(const std::string& s) {
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

const std::set<std::string> kActions = {"start", "stop",   "wait",        "kill",      "pause",
                                        "resume", "broker_down", "broker_up", "leader", "errors"};

struct StepParser {
  const std::string& file;
  std::set<std::string> started;

  Expected<ScenarioStep> parse(const YAML::Node& node) {
    ScenarioStep step;
    step.line = line_of(node);
    auto fail = [&](const std::string& what) { return at_line(file, step.line, what); };
    if (!node.IsMap()) return fail("a step must be a mapping such as {at: 5s, kill: n2}");
    std::string action;
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>();
      if (kActions.count(key)) {
        if (!action.empty()) return fail("one action per step, got '" + action + "' and '" + key + "'");
        action = key;
      } else if (key != "at" && key != "for" && key != "command" && key != "env" &&
                 key != "log" && key != "timeout") {
        return fail("unknown key '" + key +
                    "'; a step has at, one action (start, stop, wait, kill, pause, resume, "
                    "broker_down, broker_up, leader, errors) and for, command, env, log, timeout");
      }
    }
    if (action.empty()) return fail("no action in this step");
    auto duration_of = [&](const char* key) -> Expected<std::optional<Millis>> {
      if (!node[key]) return std::optional<Millis>{};
      auto text = scalar(node[key]);
      auto d = text ? parse_duration(*text) : std::nullopt;
      if (!d) return fail(std::string("'") + key + "' must be a duration such as 500ms, 10s or 2m");
      return std::optional<Millis>(*d);
    };
    auto at = duration_of("at");
    if (!at) return at.error();
    step.at = *at;
    auto dur = duration_of("for");
    if (!dur) return dur.error();
    step.duration = *dur;
    auto timeout = duration_of("timeout");
    if (!timeout) return timeout.error();
    if (*timeout) step.timeout = **timeout;
    auto only_with = [&](const char* key, bool allowed) -> std::optional<Error> {
      if (node[key] && !allowed) return fail(std::string("'") + key + "' does not go with " + action);
      return std::nullopt;
    };
    const bool is_start = action == "start";
    if (auto e = only_with("command", is_start)) return *e;
    if (auto e = only_with("env", is_start)) return *e;
    if (auto e = only_with("log", is_start)) return *e;
    if (auto e = only_with("for", action == "pause" || action == "broker_down")) return *e;
    if (auto e = only_with("timeout", action == "stop" || action == "wait")) return *e;

    const YAML::Node value = node[action];
    if (action == "start" || action == "stop" || action == "wait") {
      auto name = scalar(value);
      if (action == "wait" && name && parse_duration(*name) && !started.count(*name)) {
        step.kind = StepKind::Sleep;
        step.sleep = *parse_duration(*name);
        return step;
      }
      if (!name || !valid_process_name(*name)) {
        return fail(action + " takes a process name (a letter, then letters, digits, - _ .)" +
                    (action == "wait" ? std::string(" or a duration") : std::string()));
      }
      step.process = *name;
      if (action == "start") {
        if (started.count(*name)) return fail("process '" + *name + "' is started twice");
        step.kind = StepKind::Start;
        const YAML::Node cmd = node["command"];
        if (!cmd || !cmd.IsSequence() || cmd.size() == 0) {
          return fail("start needs command: [program, arg, ...]");
        }
        for (const auto& a : cmd) {
          auto s = scalar(a);
          if (!s) return fail("command entries must be strings");
          step.command.push_back(*s);
        }
        if (const YAML::Node env = node["env"]; env) {
          if (!env.IsMap()) return fail("env must be a mapping NAME: value");
          for (const auto& kv : env) {
            auto v = scalar(kv.second);
            if (!v) return fail("env values must be strings");
            step.env[kv.first.as<std::string>()] = *v;
          }
        }
        if (node["log"]) {
          auto l = scalar(node["log"]);
          if (!l) return fail("log must be a file path");
          step.log_file = *l;
        }
        started.insert(*name);
      } else {
        if (!started.count(*name)) {
          return fail(action + " '" + *name + "': no earlier step starts a process of that name");
        }
        step.kind = action == "stop" ? StepKind::Stop : StepKind::Wait;
      }
      return step;
    }
    if (action == "kill" || action == "pause" || action == "resume") {
      auto name = scalar(value);
      if (!name || name->empty()) return fail(action + " takes a node name");
      step.kind = StepKind::Node;
      step.node = *name;
      step.node_fault = *parse_node_fault(action);
      return step;
    }
    // Broker faults, in the words of the one-shot command.
    std::vector<std::string> words;
    if (action == "broker_down" || action == "broker_up") {
      auto id = scalar(value);
      if (!id) return fail(action + " takes a broker id");
      words = {action == "broker_down" ? "down" : "up", *id};
    } else if (action == "leader") {
      if (!value.IsMap()) return fail("leader takes {topic: T, partition: P, broker: B}");
      auto t = scalar(value["topic"]), p = scalar(value["partition"]), b = scalar(value["broker"]);
      if (!t || !p || !b) return fail("leader takes {topic: T, partition: P, broker: B}");
      words = {"leader", *t, *p, *b};
    } else {  // errors
      if (!value.IsMap()) return fail("errors takes {api: A, count: N, error: E} or {api: A, clear: true}");
      auto api = scalar(value["api"]);
      if (!api) return fail("errors needs api (Produce, Fetch, ...)");
      if (value["clear"]) {
        words = {"errors", *api, "clear"};
      } else {
        auto c = scalar(value["count"]), e = scalar(value["error"]);
        if (!c || !e) return fail("errors takes {api: A, count: N, error: E}");
        words = {"errors", *api, *c, *e};
      }
    }
    auto request = parse_broker_fault(words);
    if (!request) return fail(request.error().message);
    step.kind = StepKind::Broker;
    step.broker_request = *request;
    return step;
  }
};

bool is_fault(const ScenarioStep& s) {
  if (s.kind == StepKind::Node) return s.node_fault != NodeFault::Resume;
  if (s.kind == StepKind::Broker) {
    return s.broker_request.op != ControlOp::BrokerUp &&
           s.broker_request.op != ControlOp::ClearRequestErrors;
  }
  return false;
}

std::string format_duration(Millis d) {
  std::ostringstream out;
  if (d.count() % 1000 == 0) {
    out << d.count() / 1000 << "s";
  } else {
    out << d.count() << "ms";
  }
  return out.str();
}

// `${NAME}` -> the environment variable NAME (empty when unset).
std::string expand(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, 2, "${") == 0) {
      auto close = text.find('}', i + 2);
      if (close != std::string::npos) {
        const char* v = std::getenv(text.substr(i + 2, close - i - 2).c_str());
        if (v) out += v;
        i = close + 1;
        continue;
      }
    }
    out += text[i++];
  }
  return out;
}

// ---------------------------------------------------------------- running

class Runner {
 public:
  Runner(const Scenario& s, const ScenarioTargets& t, std::ostream& log)
      : scenario_(s), targets_(t), log_(log) {}

  Expected<ScenarioResult> run();

 private:
  struct Child {
    pid_t pid = -1;
    bool running = false;
  };
  struct Undo {
    Clock::time_point due;
    bool broker = false;  // broker_up; else resume of `node`
    int32_t broker_id = -1;
    NodeInfo node;
  };

  void event(const std::string& text);
  bool tick();  // false: interrupted
  bool sleep_until(Clock::time_point t);
  void act(const ScenarioStep& step);
  bool broker_fault(const ControlRequest& request, const std::string& note = "");
  bool node_fault(const std::string& node, NodeFault fault, const std::optional<Millis>& duration);
  // The coordinator is always signalled here: it has no one to forward a request.
  NodeFaultRoute route_for(const NodeInfo& node) const {
    NodeFaultRoute r = node_route();
    if (node.name == kCoordinatorTarget) r.force_remote = false;
    return r;
  }
  NodeFaultRoute node_route() const {
    NodeFaultRoute r;
    r.coordinator = targets_.coordinator;
    r.rivulet_binary = targets_.rivulet_binary;
    r.config_file = targets_.config_file;
    r.force_remote = targets_.remote_nodes;
    return r;
  }
  bool start(const ScenarioStep& step);
  bool stop_child(const std::string& name, Millis timeout, bool terminate);
  void poll_children();
  void observe_cluster();
  void run_due_undos(bool all);
  void cleanup();
  bool check_signal();

  const Scenario& scenario_;
  const ScenarioTargets& targets_;
  std::ostream& log_;
  Clock::time_point t0_;
  std::unique_ptr<BrokerFaults> broker_;
  std::map<std::string, Child> children_;
  std::vector<Undo> undos_;
  std::set<int32_t> brokers_down_;
  std::set<int32_t> error_apis_;
  std::map<std::string, NodeInfo> paused_;
  std::map<std::string, NodeInfo> last_nodes_;
  std::string last_status_error_;
  Clock::time_point next_observe_{};
  sigset_t signals_{};
  sigset_t old_mask_{};
  int signals_seen_ = 0;
  ScenarioResult result_;
};

void Runner::event(const std::string& text) {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<Millis>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  const double since = std::chrono::duration<double>(Clock::now() - t0_).count();
  std::ostringstream line;
  line << stamp << "." << std::setw(3) << std::setfill('0') << ms % 1000 << "Z +" << std::fixed
       << std::setprecision(3) << since << "s " << text << "\n";
  log_ << line.str() << std::flush;
}

bool Runner::check_signal() {
  timespec zero{0, 0};
  int sig = sigtimedwait(&signals_, nullptr, &zero);
  if (sig <= 0) return true;
  ++signals_seen_;
  if (signals_seen_ >= 2) {
    event("second signal " + std::to_string(sig) + ": exiting at once, faults left in place");
    std::_Exit(130);
  }
  event("signal " + std::to_string(sig) + ": stopping the scenario, undoing its faults");
  result_.interrupted = true;
  return false;
}

void Runner::poll_children() {
  for (auto& [name, child] : children_) {
    if (!child.running) continue;
    int status = 0;
    if (::waitpid(child.pid, &status, WNOHANG) == child.pid) {
      child.running = false;
      if (WIFEXITED(status)) {
        event("process " + name + " (pid " + std::to_string(child.pid) + ") exited with status " +
              std::to_string(WEXITSTATUS(status)));
      } else {
        event("process " + name + " (pid " + std::to_string(child.pid) + ") died of signal " +
              std::to_string(WTERMSIG(status)));
      }
    }
  }
}

void Runner::observe_cluster() {
  if (targets_.coordinator.empty() || Clock::now() < next_observe_) return;
  next_observe_ = Clock::now() + std::chrono::seconds(2);
  auto status = fetch_status_json(targets_.coordinator, std::chrono::seconds(3), targets_.rivulet_binary);
  Expected<std::vector<NodeInfo>> nodes =
      status ? parse_status_nodes(*status) : Expected<std::vector<NodeInfo>>(status.error());
  if (!nodes) {
    if (nodes.error().message != last_status_error_) {
      event("cluster: status unavailable: " + nodes.error().message);
      last_status_error_ = nodes.error().message;
    }
    return;
  }
  last_status_error_.clear();
  std::map<std::string, NodeInfo> now;
  for (auto& n : *nodes) now[n.name] = n;
  auto tasks = [](const NodeInfo& n) {
    return n.tasks < 0 ? std::string() : ", " + std::to_string(n.tasks) + " tasks";
  };
  for (const auto& [name, n] : now) {
    auto it = last_nodes_.find(name);
    if (it == last_nodes_.end()) {
      event("cluster: node " + name + " joined (pid " + std::to_string(n.pid) + ", " + n.state +
            tasks(n) + ")");
    } else if (it->second.state != n.state || it->second.tasks != n.tasks ||
               it->second.pid != n.pid) {
      event("cluster: node " + name + " " + it->second.state + tasks(it->second) + " -> " +
            n.state + tasks(n) + (it->second.pid != n.pid ? " (pid " + std::to_string(n.pid) + ")" : ""));
    }
  }
  for (const auto& [name, n] : last_nodes_) {
    if (!now.count(name)) event("cluster: node " + name + " left");
  }
  last_nodes_ = std::move(now);
}

void Runner::run_due_undos(bool all) {
  const auto now = Clock::now();
  for (size_t i = 0; i < undos_.size();) {
    if (!all && undos_[i].due > now) {
      ++i;
      continue;
    }
    Undo u = undos_[i];
    undos_.erase(undos_.begin() + static_cast<std::ptrdiff_t>(i));
    if (u.broker) {
      broker_fault(ControlRequest::broker_up(u.broker_id), all ? " (end of scenario)" : "");
    } else {
      node_fault(u.node.name, NodeFault::Resume, std::nullopt);
    }
  }
}

bool Runner::tick() {
  if (!check_signal()) return false;
  poll_children();
  run_due_undos(false);
  observe_cluster();
  return true;
}

bool Runner::sleep_until(Clock::time_point t) {
  while (Clock::now() < t) {
    if (!tick()) return false;
    auto step = std::min<Clock::duration>(t - Clock::now(), Millis(50));
    if (step > Clock::duration::zero()) std::this_thread::sleep_for(step);
  }
  return tick();
}

bool Runner::broker_fault(const ControlRequest& request, const std::string& note) {
  ++result_.actions;
  if (!broker_) {
    auto b = BrokerFaults::connect(targets_.broker);
    if (!b) {
      ++result_.failed;
      event(describe_broker_fault(request) + note + " FAILED: " + b.error().message);
      return false;
    }
    broker_ = std::move(*b);
  }
  auto done = broker_->apply(request);
  if (!done) {
    ++result_.failed;
    event(done.error().message + note + " FAILED");
    return false;
  }
  switch (request.op) {
    case ControlOp::BrokerDown: brokers_down_.insert(request.broker); break;
    case ControlOp::BrokerUp: brokers_down_.erase(request.broker); break;
    case ControlOp::PushRequestErrors: error_apis_.insert(request.api_key); break;
    case ControlOp::ClearRequestErrors: error_apis_.erase(request.api_key); break;
    default: break;
  }
  event(describe_broker_fault(request) + note);
  return true;
}

bool Runner::node_fault(const std::string& name, NodeFault fault, const std::optional<Millis>& duration) {
  ++result_.actions;
  const std::string what = std::string(node_fault_name(fault)) +
                           (name == kCoordinatorTarget ? " the coordinator" : " node " + name);
  NodeInfo node;
  if (fault == NodeFault::Resume && paused_.count(name)) {
    node = paused_[name];  // the process we paused, even if the coordinator moved on
  } else if (name == kCoordinatorTarget) {
    // The coordinator itself: the process listening on its address.
    auto pid = find_listener(targets_.coordinator);
    if (!pid) {
      ++result_.failed;
      event(what + " FAILED: " + pid.error().message);
      return false;
    }
    node = NodeInfo{kCoordinatorTarget, *pid, "127.0.0.1", "running"};
  } else {
    auto status = fetch_status_json(targets_.coordinator, std::chrono::seconds(10), targets_.rivulet_binary);
    auto nodes = status ? parse_status_nodes(*status) : Expected<std::vector<NodeInfo>>(status.error());
    auto found = nodes ? find_node(*nodes, name) : Expected<NodeInfo>(nodes.error());
    if (!found) {
      ++result_.failed;
      event(what + " FAILED: " + found.error().message);
      return false;
    }
    node = *found;
  }
  NodeFaultRoute route = route_for(node);
  if (fault == NodeFault::Pause && duration) route.max_pause_ms = duration->count() + 30000;
  std::string how;
  auto done = apply_node_fault(node, fault, route, &how);
  if (!done) {
    ++result_.failed;
    event(what + " FAILED: " + done.error().message);
    return false;
  }
  if (fault == NodeFault::Pause) paused_[name] = node;
  if (fault == NodeFault::Resume) paused_.erase(name);
  event(what + " (" + how + ")" + (duration ? " for " + format_duration(*duration) : ""));
  if (duration) undos_.push_back({Clock::now() + *duration, false, -1, node});
  return true;
}

bool Runner::start(const ScenarioStep& step) {
  ++result_.actions;
  std::vector<std::string> argv;
  for (const auto& a : step.command) argv.push_back(expand(a));
  std::string log_file = expand(step.log_file);
  std::map<std::string, std::string> env;
  for (const auto& [k, v] : step.env) env[k] = expand(v);
  int out_fd = -1;
  if (!log_file.empty()) {
    out_fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out_fd < 0) {
      ++result_.failed;
      event("start " + step.process + " FAILED: cannot open " + log_file + ": " + std::strerror(errno));
      return false;
    }
  }
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    if (out_fd >= 0) ::close(out_fd);
    ++result_.failed;
    event("start " + step.process + " FAILED: pipe: " + std::strerror(errno));
    return false;
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
    if (out_fd >= 0) {
      ::dup2(out_fd, STDOUT_FILENO);
      ::dup2(out_fd, STDERR_FILENO);
    } else {
      ::dup2(STDERR_FILENO, STDOUT_FILENO);  // our stdout is the event log
    }
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    int e = errno;
    (void)!::write(err_pipe[1], &e, sizeof e);
    ::_exit(127);
  }
  ::close(err_pipe[1]);
  if (out_fd >= 0) ::close(out_fd);
  if (pid < 0) {
    ::close(err_pipe[0]);
    ++result_.failed;
    event("start " + step.process + " FAILED: fork: " + std::strerror(errno));
    return false;
  }
  int exec_errno = 0;
  ssize_t n = ::read(err_pipe[0], &exec_errno, sizeof exec_errno);  // EOF when exec succeeded
  ::close(err_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    ::waitpid(pid, nullptr, 0);
    ++result_.failed;
    event("start " + step.process + " FAILED: cannot run " + argv[0] + ": " + std::strerror(exec_errno));
    return false;
  }
  children_[step.process] = Child{pid, true};
  std::string cmd;
  for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  event("start " + step.process + " (pid " + std::to_string(pid) + "): " + cmd);
  return true;
}

bool Runner::stop_child(const std::string& name, Millis timeout, bool terminate) {
  ++result_.actions;
  auto& child = children_[name];
  if (!child.running) {
    event(std::string(terminate ? "stop " : "wait ") + name + ": already exited");
    return true;
  }
  if (terminate) {
    ::kill(child.pid, SIGTERM);
    event("stop " + name + " (SIGTERM to pid " + std::to_string(child.pid) + ")");
  } else {
    event("wait for " + name + " to exit (at most " + format_duration(timeout) + ")");
  }
  const auto deadline = Clock::now() + timeout;
  while (child.running && Clock::now() < deadline) {
    if (!tick()) return false;
    std::this_thread::sleep_for(Millis(20));
  }
  if (child.running) {
    ++result_.failed;
    event(name + " still running after " + format_duration(timeout) + ": SIGKILL");
    ::kill(child.pid, SIGKILL);
    ::waitpid(child.pid, nullptr, 0);
    child.running = false;
    return false;
  }
  return true;
}

void Runner::act(const ScenarioStep& step) {
  switch (step.kind) {
    case StepKind::Start: start(step); break;
    case StepKind::Stop: stop_child(step.process, step.timeout, true); break;
    case StepKind::Wait: stop_child(step.process, step.timeout, false); break;
    case StepKind::Sleep:
      event("wait " + format_duration(step.sleep));
      sleep_until(Clock::now() + step.sleep);
      break;
    case StepKind::Node: node_fault(step.node, step.node_fault, step.duration); break;
    case StepKind::Broker:
      if (broker_fault(step.broker_request,
                       step.duration ? " for " + format_duration(*step.duration) : "") &&
          step.duration) {
        undos_.push_back({Clock::now() + *step.duration, true, step.broker_request.broker, {}});
      }
      break;
  }
}

void Runner::cleanup() {
  // Due times first (a `for` runs its course), unless interrupted.
  while (!undos_.empty() && !result_.interrupted) {
    auto next = undos_.front().due;
    for (const auto& u : undos_) next = std::min(next, u.due);
    if (!sleep_until(next)) break;
  }
  run_due_undos(true);
  for (int32_t id : std::set<int32_t>(brokers_down_)) {
    broker_fault(ControlRequest::broker_up(id), " (end of scenario)");
  }
  for (int32_t api : std::set<int32_t>(error_apis_)) {
    broker_fault(ControlRequest::clear_request_errors(api), " (end of scenario)");
  }
  for (const auto& [name, node] : std::map<std::string, NodeInfo>(paused_)) {
    if (apply_node_fault(node, NodeFault::Resume, route_for(node))) {
      event("resume node " + name + " (pid " + std::to_string(node.pid) + ", end of scenario)");
    }
  }
  poll_children();
  for (auto& [name, child] : children_) {
    if (child.running) {
      check_signal();
      if (signals_seen_ == 0 || result_.interrupted) stop_child(name, Millis(15000), true);
    }
  }
}

Expected<ScenarioResult> Runner::run() {
  bool needs_broker = false, needs_coordinator = false;
  for (const auto& s : scenario_.steps) {
    needs_broker |= s.kind == StepKind::Broker;
    needs_coordinator |= s.kind == StepKind::Node;
  }
  if (needs_broker && targets_.broker.empty()) {
    return Error::data("the scenario has broker faults: give --broker BOOTSTRAP");
  }
  if (needs_coordinator && targets_.coordinator.empty()) {
    return Error::data("the scenario has node faults: give --coordinator HOST:PORT");
  }
  if (needs_broker && !is_loopback_bootstrap(targets_.broker)) {
    return Error::data("refusing broker '" + targets_.broker +
                       "': rivulet chaos targets only brokers on loopback addresses");
  }
  if (!targets_.broker.empty()) ::setenv("RIVULET_CHAOS_BROKER", targets_.broker.c_str(), 1);
  if (!targets_.coordinator.empty()) {
    ::setenv("RIVULET_CHAOS_COORDINATOR", targets_.coordinator.c_str(), 1);
  }
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals_, &old_mask_);

  t0_ = Clock::now();
  event("scenario " + (scenario_.name.empty() ? std::string("(unnamed)") : scenario_.name) + ": " +
        std::to_string(scenario_.steps.size()) + " steps, at most " +
        std::to_string(scenario_.max_faults) + " faults within " +
        format_duration(scenario_.max_duration));
  if (needs_broker) {
    auto b = BrokerFaults::connect(targets_.broker);
    if (!b) {
      pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
      return b.error();
    }
    broker_ = std::move(*b);
  }
  const auto end_by = t0_ + scenario_.max_duration;
  for (const auto& step : scenario_.steps) {
    if (step.at && !sleep_until(t0_ + *step.at)) break;
    if (Clock::now() > end_by) {
      ++result_.failed;
      event("max_duration " + format_duration(scenario_.max_duration) +
            " reached: the remaining steps are not run");
      break;
    }
    act(step);
    if (result_.interrupted) break;
  }
  cleanup();
  event("scenario done: " + std::to_string(result_.actions) + " actions, " +
        std::to_string(result_.failed) + " failed" + (result_.interrupted ? ", interrupted" : ""));
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  return result_;
}

}  // namespace

std::optional<Millis> parse_duration(const std::string& text_in) {
  std::string text = text_in;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  size_t unit_at = 0;
  while (unit_at < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[unit_at])) || text[unit_at] == '.')) {
    ++unit_at;
  }
  if (unit_at == 0) return std::nullopt;
  const std::string number = text.substr(0, unit_at), unit = text.substr(unit_at);
  char* end = nullptr;
  const double v = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || !std::isfinite(v) || v < 0) return std::nullopt;
  double ms = 0;
  if (unit == "ms") {
    ms = v;
  } else if (unit == "s" || unit.empty()) {
    ms = v * 1000;
  } else if (unit == "m" || unit == "min") {
    ms = v * 60000;
  } else if (unit == "h") {
    ms = v * 3600000;
  } else {
    return std::nullopt;
  }
  if (ms > 7 * 24 * 3600000.0) return std::nullopt;
  return Millis(static_cast<int64_t>(std::llround(ms)));
}

Expected<Scenario> parse_scenario(const std::string& text, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Error::data(file + ":" + std::to_string(e.mark.line + 1) + ":" +
                       std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (!root || !root.IsMap()) return Error::data(file + ": a scenario is a mapping with 'steps'");
  Scenario sc;
  try {
    for (const auto& kv : root) {
      const std::string key = kv.first.as<std::string>();
      if (key != "name" && key != "limits" && key != "steps") {
        return at_line(file, line_of(kv.first), "unknown key '" + key + "'; expected name, limits, steps");
      }
    }
    if (root["name"]) sc.name = root["name"].as<std::string>();
    if (const YAML::Node limits = root["limits"]; limits) {
      if (!limits.IsMap()) return at_line(file, line_of(limits), "limits must be a mapping");
      for (const auto& kv : limits) {
        const std::string key = kv.first.as<std::string>();
        auto v = scalar(kv.second);
        if (key == "max_faults") {
          auto n = v ? to_int(*v) : std::nullopt;
          if (!n || *n < 1 || *n > 1000) {
            return at_line(file, line_of(kv.second), "max_faults must be between 1 and 1000");
          }
          sc.max_faults = static_cast<int>(*n);
        } else if (key == "max_duration") {
          auto d = v ? parse_duration(*v) : std::nullopt;
          if (!d || *d > Millis(std::chrono::hours(24)) || d->count() == 0) {
            return at_line(file, line_of(kv.second), "max_duration must be a duration up to 24h");
          }
          sc.max_duration = *d;
        } else {
          return at_line(file, line_of(kv.first),
                         "unknown limit '" + key + "'; expected max_faults, max_duration");
        }
      }
    }
    const YAML::Node steps = root["steps"];
    if (!steps || !steps.IsSequence() || steps.size() == 0) {
      return Error::data(file + ": 'steps' must be a non-empty list");
    }
    StepParser parser{file, {}};
    Millis last_at{0};
    int faults = 0;
    for (const auto& node : steps) {
      auto step = parser.parse(node);
      if (!step) return step.error();
      if (step->at) {
        if (*step->at < last_at) {
          return at_line(file, step->line,
                         "at " + format_duration(*step->at) + " is before the step above (" +
                             format_duration(last_at) + "): steps run in order");
        }
        last_at = *step->at;
      }
      const Millis end = last_at + step->duration.value_or(Millis(0));
      if (end > sc.max_duration) {
        return at_line(file, step->line,
                       "this step ends at " + format_duration(end) + ", after max_duration " +
                           format_duration(sc.max_duration));
      }
      if (is_fault(*step) && ++faults > sc.max_faults) {
        return at_line(file, step->line,
                       "more than max_faults (" + std::to_string(sc.max_faults) + ") faults");
      }
      sc.steps.push_back(std::move(*step));
    }
  } catch (const YAML::Exception& e) {
    return Error::data(file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return sc;
}

Expected<Scenario> load_scenario(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error::data("cannot read scenario file " + path);
  std::stringstream buf;
  buf << in.rdbuf();
  return parse_scenario(buf.str(), path);
}

Expected<ScenarioResult> run_scenario(const Scenario& scenario, const ScenarioTargets& targets,
                                      std::ostream& log) {
  Runner runner(scenario, targets, log);
  return runner.run();
}

}  // namespace rivulet::chaos
