#pragma once
// `rivulet chaos run SCENARIO.yaml`: a timeline of faults, played against
// local processes and the embedded broker, each action logged with a
// timestamp, one line per event (docs/failover-testing.md has the format and
// an example).
//
//   name: broker faults under load          # optional
//   limits: {max_faults: 20, max_duration: 5m}   # optional; these bound the run
//   steps:
//     - {at: 0s,  start: app, command: [enrich_orders, "${RIVULET_CHAOS_BROKER}"],
//        env: {RIVULET_STATE_DIR: /tmp/app}}
//     - {at: 2s,  broker_down: 2, for: 2s}   # broker_up by itself after 2 s
//     - {at: 3s,  errors: {api: Produce, count: 5, error: NOT_LEADER_FOR_PARTITION}}
//     - {at: 5s,  leader: {topic: orders, partition: 0, broker: 3}}
//     - {at: 6s,  kill: n2}                  # needs --coordinator
//     - {at: 7s,  pause: n3, for: 3s}        # resumed by itself after 3 s
//     - {at: 20s, stop: app}                 # SIGTERM, then wait (bounded)
//     - {wait: app, timeout: 30s}            # no `at`: right after the step before
//
// Bounds: at most `max_faults` fault actions, every time within
// `max_duration`; whatever is still faulty at the end (a broker down, a node
// paused, injected errors, a started process still running) is undone, also
// when the run is interrupted by SIGINT/SIGTERM (a second signal exits at
// once). Targets are only the embedded broker on loopback and node processes
// on this machine.
#include <chrono>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "connectors/broker_control.hpp"
#include "chaos/node_control.hpp"
#include "runtime/error.hpp"

namespace rivulet::chaos {

using Millis = std::chrono::milliseconds;

// "10s", "500ms", "2m", "1.5s", "3" (seconds) -> milliseconds.
std::optional<Millis> parse_duration(const std::string& text);

enum class StepKind { Start, Stop, Wait, Node, Broker, Sleep };

struct ScenarioStep {
  std::optional<Millis> at;  // from the start of the run; none: right after the previous step
  StepKind kind = StepKind::Sleep;
  int line = 0;              // in the scenario file, for messages
  // Start / Stop / Wait: the process's name in the scenario.
  std::string process;
  std::vector<std::string> command;            // Start
  std::map<std::string, std::string> env;      // Start
  std::string log_file;                        // Start: stdout+stderr here (default: our stderr)
  Millis timeout{30000};                       // Stop / Wait
  // Node faults.
  NodeFault node_fault = NodeFault::Kill;
  std::string node;
  // Broker faults.
  connectors::ControlRequest broker_request;
  // Node pause / broker down: undone after this long.
  std::optional<Millis> duration;
  // Sleep: the `wait: 5s` form.
  Millis sleep{0};
};

struct Scenario {
  std::string name;
  int max_faults = 100;
  Millis max_duration{std::chrono::minutes(30)};
  std::vector<ScenarioStep> steps;
};

// Parses and checks a scenario (every time, name, target and bound) before
// anything runs; errors name the file, line and field.
Expected<Scenario> parse_scenario(const std::string& yaml_text, const std::string& file_name);
Expected<Scenario> load_scenario(const std::string& path);

struct ScenarioTargets {
  std::string broker;       // bootstrap of the embedded broker (broker faults)
  std::string coordinator;  // HOST:PORT (node faults; also watched: node state changes)
  std::string rivulet_binary;  // for `rivulet status`; default: this binary
  std::string config_file;     // remote node faults: cluster.secret (rivulet chaos --config)
  bool remote_nodes = false;   // every node fault through the coordinator (--remote)
};

struct ScenarioResult {
  int actions = 0;
  int failed = 0;
  bool interrupted = false;
};

// Plays the scenario, writing one line per event to `log`. `${NAME}` in
// commands, env values and log paths is replaced by the environment variable
// NAME; RIVULET_CHAOS_BROKER and RIVULET_CHAOS_COORDINATOR are set from
// `targets` (also for started processes). An error when the run could not
// start; otherwise the result, with failed > 0 when an action failed.
Expected<ScenarioResult> run_scenario(const Scenario& scenario, const ScenarioTargets& targets,
                                      std::ostream& log);

}  // namespace rivulet::chaos
