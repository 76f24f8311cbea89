// `rivulet chaos`: fault injection for failover drills (chaos/README.md).
//   rivulet chaos --broker BOOTSTRAP down|up BROKER_ID
//   rivulet chaos --broker BOOTSTRAP leader TOPIC PARTITION BROKER_ID
//   rivulet chaos --broker BOOTSTRAP errors API COUNT ERROR   (or: errors API clear)
//   rivulet chaos --coordinator HOST:PORT [--remote] [--config FILE] kill|pause|resume NODE
//   rivulet chaos --coordinator HOST:PORT kill|pause|resume coordinator
//   rivulet chaos --http HOST:PORT kill|pause|resume     (a single application's process)
//   rivulet chaos --pid PID kill|pause|resume
//   rivulet chaos [--broker BOOTSTRAP] [--coordinator HOST:PORT] run SCENARIO.yaml
// Exit status: 0 done, 1 the fault could not be applied (refused, no such
// node, broker did not answer; in a scenario: an action failed or the run
// was interrupted), 2 usage errors.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "chaos/broker_faults.hpp"
#include "chaos/node_control.hpp"
#include "chaos/process_control.hpp"
#include "chaos/scenario.hpp"
#include "cli/commands.hpp"
#include "cluster/remote_fault.hpp"
#include "connectors/kafka_log.hpp"

namespace rivulet::cli {

namespace {

constexpr int kFailed = 1;
constexpr int kUsage = 2;

struct ChaosArgs {
  std::string broker, coordinator, http;
  int64_t pid = 0;
  std::vector<std::string> words;
  int timeout_s = 10;
  bool remote = false;
  std::string config;
  std::string max_pause = "10m";
};

int usage_error(const std::string& message) {
  std::cerr << "rivulet chaos: " << message << " (see rivulet chaos --help)\n";
  return kUsage;
}

int failed(const Error& e) {
  std::cerr << "rivulet chaos: " << e.message << "\n";
  return kFailed;
}

// --http HOST:PORT or --pid PID: one process, not a cluster node.
int run_process_fault(const ChaosArgs& a) {
  const std::string target = !a.http.empty() ? "--http" : "--pid";
  if (!a.http.empty() && a.pid != 0) return usage_error("give --http or --pid, not both");
  if (!a.coordinator.empty()) return usage_error(target + " and --coordinator name different targets");
  if (a.remote) return usage_error("--remote applies to cluster nodes (--coordinator), not to " + target);
  if (a.words.size() != 1) {
    return usage_error(a.words[0] + " with " + target + " takes no node name (" + target + " " +
                       (a.http.empty() ? "PID " : "HOST:PORT ") + a.words[0] + ")");
  }
  auto fault = chaos::parse_node_fault(a.words[0]);
  if (!fault) return usage_error(fault.error().message);
  Expected<std::string> done = !a.http.empty()
                                   ? chaos::http_process_fault(a.http, *fault, std::chrono::seconds(a.timeout_s))
                                   : chaos::pid_fault(a.pid, *fault);
  if (!done) return failed(done.error());
  std::cout << chaos::node_fault_name(*fault) << " "
            << (!a.http.empty() ? "the process serving " + a.http : "pid " + std::to_string(a.pid))
            << " (" << *done << ")" << std::endl;
  return 0;
}

int run_coordinator_fault(const ChaosArgs& a, chaos::NodeFault fault) {
  if (a.remote) {
    return usage_error("--remote: the coordinator cannot forward a fault to itself; it is "
                       "signalled on this machine only");
  }
  auto done = chaos::coordinator_fault(a.coordinator, fault);
  if (!done) return failed(done.error());
  std::cout << chaos::node_fault_name(fault) << " the coordinator on " << a.coordinator << " ("
            << *done << ")" << std::endl;
  return 0;
}

int run_node_fault(const ChaosArgs& a) {
  if (!a.http.empty() || a.pid != 0) return run_process_fault(a);
  if (a.words.size() != 2) {
    return usage_error(a.words[0] + " takes one argument, the node's name (" + a.words[0] +
                       " NODE)");
  }
  auto fault = chaos::parse_node_fault(a.words[0]);
  if (!fault) return usage_error(fault.error().message);
  if (a.coordinator.empty()) {
    return usage_error(a.words[0] + " needs --coordinator HOST:PORT to find node " + a.words[1] +
                       " (or --http HOST:PORT, --pid PID for a process outside a cluster)");
  }
  if (a.words[1] == chaos::kCoordinatorTarget) return run_coordinator_fault(a, *fault);
  auto status = chaos::fetch_status_json(a.coordinator, std::chrono::seconds(a.timeout_s));
  if (!status) return failed(status.error());
  auto nodes = chaos::parse_status_nodes(*status);
  if (!nodes) return failed(nodes.error());
  auto node = chaos::find_node(*nodes, a.words[1]);
  if (!node) return failed(node.error());
  chaos::NodeFaultRoute route;
  route.coordinator = a.coordinator;
  route.force_remote = a.remote;
  if (!chaos::is_remote_node(*node, route)) {
    auto done = chaos::signal_node(*node, *fault);
    if (!done) return failed(done.error());
    std::cout << chaos::node_fault_name(*fault) << " node " << node->name << " (pid " << node->pid
              << ", signal " << chaos::node_fault_signal(*fault) << ")" << std::endl;
    return 0;
  }
  // Not a process here: an orderly request through the coordinator.
  auto bound = chaos::parse_duration(a.max_pause);
  if (!bound || bound->count() <= 0) return usage_error("--max-pause: not a duration: " + a.max_pause);
  auto config = Config::load(a.config, {});
  if (!config) return usage_error(config.error().message);
  auto done = cluster::request_node_fault(a.coordinator, *config, node->name,
                                          chaos::node_fault_name(*fault), bound->count());
  if (!done) return failed(done.error());
  std::cout << chaos::node_fault_name(*fault) << " node " << node->name
            << " (remote request through the coordinator" << (node->host.empty() ? "" : ", host " + node->host)
            << ")" << std::endl;
  return 0;
}

int run_broker_fault(const ChaosArgs& a) {
  auto request = chaos::parse_broker_fault(a.words);
  if (!request) return usage_error(request.error().message);
  if (a.broker.empty()) {
    return usage_error(a.words[0] + " is a broker fault: give --broker BOOTSTRAP");
  }
  auto done = chaos::apply_broker_fault(a.broker, *request, std::chrono::seconds(a.timeout_s));
  if (!done) return failed(done.error());
  std::cout << chaos::describe_broker_fault(*request) << std::endl;
  return 0;
}

int run_scenario_command(const ChaosArgs& a) {
  if (a.words.size() != 2) return usage_error("run takes one argument, the scenario file");
  auto scenario = chaos::load_scenario(a.words[1]);
  if (!scenario) return usage_error(scenario.error().message);
  chaos::ScenarioTargets targets;
  targets.broker = a.broker;
  targets.coordinator = a.coordinator;
  targets.config_file = a.config;
  targets.remote_nodes = a.remote;
  auto result = chaos::run_scenario(*scenario, targets, std::cout);
  if (!result) return failed(result.error());
  return result->failed == 0 && !result->interrupted ? 0 : kFailed;
}

int run_chaos(const ChaosArgs& a) {
  if (a.words.empty()) {
    return usage_error("no fault given: down, up, leader, errors (--broker), kill, pause, resume "
                       "(--coordinator, --http or --pid) or run SCENARIO.yaml");
  }
  // Our own control-channel clients report every refused connection to a
  // broker we took down; that is the fault working, not news. Failures
  // reach the user as the command's own errors.
  connectors::kafka_log().set_level(spdlog::level::critical);
  const std::string& verb = a.words[0];
  if (verb == "run") return run_scenario_command(a);
  if (verb == "kill" || verb == "pause" || verb == "resume") return run_node_fault(a);
  if (!a.http.empty() || a.pid != 0) {
    return usage_error("--http and --pid take kill, pause or resume, not '" + verb + "'");
  }
  return run_broker_fault(a);
}

}  // namespace

void add_chaos_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "chaos", "Inject faults into a local cluster: broker faults, node kill/pause/resume, scenarios");
  auto args = std::make_shared<ChaosArgs>();
  cmd->add_option("--broker", args->broker, "Bootstrap list of the embedded broker (rivulet broker)");
  cmd->add_option("--coordinator", args->coordinator, "Coordinator HOST:PORT (to find node pids)");
  cmd->add_option("--http", args->http,
                  "HOST:PORT of a Rivulet process's HTTP endpoint (rivulet run --http, an "
                  "application's /health): kill|pause|resume that process");
  cmd->add_option("--pid", args->pid, "kill|pause|resume the process with this pid")
      ->check(CLI::Range(int64_t{2}, int64_t{INT32_MAX}));
  cmd->add_option("--timeout", args->timeout_s, "Seconds to wait for the broker or the coordinator")
      ->check(CLI::Range(1, 600));
  cmd->add_flag("--remote", args->remote,
                "Node faults as an orderly request through the coordinator, also for a node on "
                "this machine (automatic for nodes on other hosts)");
  cmd->add_option("--config", args->config,
                  "Properties file with cluster.secret (and cluster.tls.*) for remote node faults");
  cmd->add_option("--max-pause", args->max_pause,
                  "A remote pause ends by itself after this long (default 10m)");
  cmd->add_option("fault", args->words, "The fault and its arguments (see below)");
  cmd->positionals_at_end();
  cmd->footer(
      "Faults:\n"
      "  --broker BOOTSTRAP down|up BROKER_ID\n"
      "  --broker BOOTSTRAP leader TOPIC PARTITION BROKER_ID   (BROKER_ID -1: no leader)\n"
      "  --broker BOOTSTRAP errors API COUNT ERROR   e.g. errors Produce 5 NOT_LEADER_FOR_PARTITION\n"
      "  --broker BOOTSTRAP errors API clear\n"
      "  --coordinator HOST:PORT kill|pause|resume NODE   SIGKILL/SIGSTOP/SIGCONT of a local node;\n"
      "      a node on another host (or any with --remote) gets an orderly request through the\n"
      "      coordinator: kill = it dies at once as in a crash, pause = it stops processing and\n"
      "      heartbeating (declared dead, fenced) until resume or --max-pause\n"
      "  --coordinator HOST:PORT kill|pause|resume coordinator   the coordinator process (found\n"
      "      by the socket it listens on; on this machine only)\n"
      "  --http HOST:PORT kill|pause|resume   the process serving Rivulet's HTTP endpoint there\n"
      "      (a single rivulet run or application; kill and pause check its /health first)\n"
      "  --pid PID kill|pause|resume   any process of yours, by pid\n"
      "  run SCENARIO.yaml   a timeline of faults (docs/failover-testing.md)\n"
      "Broker faults target only the embedded broker on this machine.");
  cmd->callback([args] { exit_code = run_chaos(*args); });
}

}  // namespace rivulet::cli
