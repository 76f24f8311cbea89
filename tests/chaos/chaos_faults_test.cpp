// The words of `rivulet chaos` and scenario files turned into faults, and the
// coordinator's status turned into pids: every accepted form and every
// refusal, without a broker or a cluster.
#include <catch2/catch.hpp>
#include <csignal>

#include "chaos/broker_faults.hpp"
#include "chaos/node_control.hpp"
#include "chaos/process_control.hpp"
#include "chaos/scenario.hpp"

using namespace rivulet;
using namespace rivulet::chaos;
using connectors::ControlOp;

namespace {
std::string error_of(const std::vector<std::string>& words) {
  auto r = parse_broker_fault(words);
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}
std::string scenario_error(const std::string& yaml) {
  auto r = parse_scenario(yaml, "s.yaml");
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}
}  // namespace

TEST_CASE("broker fault words become control requests", "[chaos]") {
  auto down = parse_broker_fault({"down", "2"});
  REQUIRE(down.ok());
  CHECK(down->op == ControlOp::BrokerDown);
  CHECK(down->broker == 2);
  CHECK(describe_broker_fault(*down) == "broker 2 down");
  CHECK(parse_broker_fault({"up", "3"})->op == ControlOp::BrokerUp);

  auto leader = parse_broker_fault({"leader", "orders", "3", "1"});
  REQUIRE(leader.ok());
  CHECK(leader->op == ControlOp::SetLeader);
  CHECK(leader->topic == "orders");
  CHECK(leader->partition == 3);
  CHECK(leader->broker == 1);
  CHECK(parse_broker_fault({"leader", "orders", "0", "-1"})->broker == -1);

  auto errors = parse_broker_fault({"errors", "Produce", "3", "NOT_LEADER_FOR_PARTITION"});
  REQUIRE(errors.ok());
  CHECK(errors->op == ControlOp::PushRequestErrors);
  CHECK(errors->api_key == 0);
  CHECK(errors->errors == std::vector<int32_t>(3, 6));
  CHECK(describe_broker_fault(*errors) == "Produce errors: 3 x NOT_LEADER_FOR_PARTITION");
  // Names in any case, numbers, librdkafka's prefixed and internal names.
  CHECK(parse_broker_fault({"errors", "fetch", "1", "RD_KAFKA_RESP_ERR__TRANSPORT"})->errors ==
        std::vector<int32_t>{-195});
  CHECK(parse_broker_fault({"errors", "1", "2", "7"})->api_key == 1);
  CHECK(parse_broker_fault({"errors", "Produce", "clear"})->op == ControlOp::ClearRequestErrors);
}

TEST_CASE("bad broker fault words are refused naming the word and the form", "[chaos]") {
  CHECK_THAT(error_of({}), Catch::Contains("down BROKER_ID"));
  CHECK_THAT(error_of({"explode", "2"}), Catch::Contains("unknown fault 'explode'"));
  CHECK_THAT(error_of({"down"}), Catch::Contains("down takes 1 argument"));
  CHECK_THAT(error_of({"down", "2", "3"}), Catch::Contains("got 2"));
  CHECK_THAT(error_of({"down", "two"}), Catch::Contains("got 'two'"));
  CHECK_THAT(error_of({"down", "0"}), Catch::Contains("BROKER_ID"));
  CHECK_THAT(error_of({"down", "-1"}), Catch::Contains("BROKER_ID"));
  CHECK_THAT(error_of({"leader", "orders", "x", "1"}), Catch::Contains("PARTITION"));
  CHECK_THAT(error_of({"leader", "bad topic!", "0", "1"}), Catch::Contains("bad topic!"));
  CHECK_THAT(error_of({"errors", "Produce", "3"}), Catch::Contains("API COUNT ERROR"));
  CHECK_THAT(error_of({"errors", "Bogus", "3", "NOT_LEADER_FOR_PARTITION"}),
             Catch::Contains("unknown API 'Bogus'") && Catch::Contains("Produce, Fetch"));
  CHECK_THAT(error_of({"errors", "Produce", "0", "NOT_LEADER_FOR_PARTITION"}),
             Catch::Contains("COUNT must be between 1 and 10000"));
  CHECK_THAT(error_of({"errors", "Produce", "10001", "NOT_LEADER_FOR_PARTITION"}),
             Catch::Contains("COUNT"));
  CHECK_THAT(error_of({"errors", "Produce", "2", "NOT_A_REAL_ERROR"}),
             Catch::Contains("unknown ERROR 'NOT_A_REAL_ERROR'"));
  CHECK_THAT(error_of({"errors", "Produce", "2", "0"}), Catch::Contains("unknown ERROR"));
}

TEST_CASE("only loopback addresses are fault targets", "[chaos]") {
  CHECK(is_loopback_bootstrap("127.0.0.1:9092,127.0.0.1:9093"));
  CHECK(is_loopback_bootstrap("localhost:9092"));
  CHECK(is_loopback_bootstrap("PLAINTEXT://127.0.0.2:9092"));
  CHECK(is_loopback_bootstrap("[::1]:9092"));
  CHECK_FALSE(is_loopback_bootstrap("127.0.0.1:9092,10.0.0.5:9092"));
  CHECK_FALSE(is_loopback_bootstrap("kafka.example.com:9092"));
  CHECK_FALSE(is_loopback_bootstrap("127.evil.com:9092"));
  CHECK_FALSE(is_loopback_bootstrap(""));
  auto refused = apply_broker_fault("10.0.0.5:9092", *parse_broker_fault({"down", "2"}));
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Contains("only brokers on loopback"));
}

TEST_CASE("the coordinator's status resolves a node name to its pid and host", "[chaos]") {
  const std::string status = R"({"nodes": [
      {"name": "n1", "pid": 1234, "host": "127.0.0.1", "state": "running", "tasks": 4},
      {"name": "n2", "pid": 1240, "host": "10.1.2.3", "state": "running", "tasks": 2}],
    "tasks": []})";
  auto nodes = parse_status_nodes(status);
  REQUIRE(nodes.ok());
  REQUIRE(nodes->size() == 2);
  auto n1 = find_node(*nodes, "n1");
  REQUIRE(n1.ok());
  CHECK(n1->pid == 1234);
  CHECK(n1->host == "127.0.0.1");
  CHECK(n1->tasks == 4);
  auto missing = find_node(*nodes, "n9");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message, Catch::Contains("no node 'n9'") && Catch::Contains("n1, n2"));

  // A remote node is refused before any signal.
  auto remote = signal_node((*nodes)[1], NodeFault::Kill);
  REQUIRE_FALSE(remote.ok());
  CHECK_THAT(remote.error().message, Catch::Contains("10.1.2.3") && Catch::Contains("only local"));
  // No usable pid: refused.
  NodeInfo no_pid{"n3", 0, "127.0.0.1", "starting"};
  CHECK_THAT(signal_node(no_pid, NodeFault::Kill).error().message, Catch::Contains("no usable pid"));
  NodeInfo init{"n4", 1, "127.0.0.1", "running"};
  CHECK_FALSE(signal_node(init, NodeFault::Kill).ok());

  CHECK_FALSE(parse_status_nodes("not json").ok());
  CHECK_FALSE(parse_status_nodes(R"({"tasks": []})").ok());
  CHECK_THAT(parse_status_nodes(R"({"nodes": [{"pid": 3}]})").error().message,
             Catch::Contains("nodes[0]"));
  CHECK(parse_node_fault("pause").ok());
  CHECK(node_fault_signal(*parse_node_fault("pause")) == SIGSTOP);
  CHECK_FALSE(parse_node_fault("stop").ok());
}

TEST_CASE("scenario durations", "[chaos]") {
  CHECK(parse_duration("10s") == Millis(10000));
  CHECK(parse_duration("500ms") == Millis(500));
  CHECK(parse_duration("1.5s") == Millis(1500));
  CHECK(parse_duration("2m") == Millis(120000));
  CHECK(parse_duration("3") == Millis(3000));
  CHECK_FALSE(parse_duration("").has_value());
  CHECK_FALSE(parse_duration("soon").has_value());
  CHECK_FALSE(parse_duration("5 parsecs").has_value());
  CHECK_FALSE(parse_duration("-1s").has_value());
}

TEST_CASE("a scenario file is parsed and checked before anything runs", "[chaos]") {
  auto sc = parse_scenario(R"(name: drill
limits: {max_faults: 5, max_duration: 1m}
steps:
  - {at: 0s, start: app, command: [sleep, "30"], env: {A: b}}
  - {at: 2s, broker_down: 2, for: 2s}
  - {at: 3s, errors: {api: Produce, count: 5, error: NOT_LEADER_FOR_PARTITION}}
  - {at: 4s, leader: {topic: orders, partition: 0, broker: 3}}
  - {at: 5s, kill: n2}
  - {at: 6s, pause: n3, for: 1s}
  - {wait: 1s}
  - {at: 10s, stop: app, timeout: 5s}
)",
                           "s.yaml");
  INFO((sc.ok() ? "" : sc.error().message));
  REQUIRE(sc.ok());
  CHECK(sc->name == "drill");
  CHECK(sc->max_faults == 5);
  REQUIRE(sc->steps.size() == 8);
  CHECK(sc->steps[0].kind == StepKind::Start);
  CHECK(sc->steps[0].command == std::vector<std::string>{"sleep", "30"});
  CHECK(sc->steps[1].kind == StepKind::Broker);
  CHECK(sc->steps[1].broker_request.op == ControlOp::BrokerDown);
  CHECK(sc->steps[1].duration == Millis(2000));
  CHECK(sc->steps[2].broker_request.errors.size() == 5);
  CHECK(sc->steps[4].kind == StepKind::Node);
  CHECK(sc->steps[4].node == "n2");
  CHECK(sc->steps[6].kind == StepKind::Sleep);
  CHECK_FALSE(sc->steps[6].at.has_value());
  CHECK(sc->steps[7].kind == StepKind::Stop);
  CHECK(sc->steps[7].timeout == Millis(5000));
  CHECK(sc->steps[0].line == 4);

  CHECK_THAT(scenario_error("steps: [{at: 1s, explode: n1}]"), Catch::Contains("unknown key 'explode'"));
  CHECK_THAT(scenario_error("steps:\n  - {at: 1s}\n"), Catch::Contains("s.yaml:2") && Catch::Contains("no action"));
  CHECK_THAT(scenario_error("steps: [{at: 1s, kill: n1, pause: n2}]"), Catch::Contains("one action per step"));
  CHECK_THAT(scenario_error("steps: [{at: soon, kill: n1}]"), Catch::Contains("'at' must be a duration"));
  CHECK_THAT(scenario_error("steps: [{at: 2s, kill: n1}, {at: 1s, kill: n1}]"),
             Catch::Contains("before the step above"));
  CHECK_THAT(scenario_error("steps: [{at: 1s, stop: app}]"), Catch::Contains("no earlier step starts"));
  CHECK_THAT(scenario_error("steps: [{at: 1s, start: app}]"), Catch::Contains("start needs command"));
  CHECK_THAT(scenario_error("steps: [{at: 1s, kill: n1, for: 2s}]"), Catch::Contains("'for' does not go with kill"));
  CHECK_THAT(scenario_error("steps: [{at: 1s, broker_down: zero}]"), Catch::Contains("BROKER_ID"));
  CHECK_THAT(scenario_error("steps: [{at: 1s, errors: {api: Produce, count: 3, error: NOPE}}]"),
             Catch::Contains("unknown ERROR 'NOPE'"));
  CHECK_THAT(scenario_error("limits: {max_duration: 10s}\nsteps: [{at: 9s, broker_down: 2, for: 5s}]"),
             Catch::Contains("after max_duration 10s"));
  CHECK_THAT(scenario_error("limits: {max_faults: 1}\nsteps: [{at: 1s, kill: n1}, {at: 2s, kill: n2}]"),
             Catch::Contains("more than max_faults (1)"));
  CHECK_THAT(scenario_error("steps: [{at: 1s, kill: [unclosed}]"), Catch::Contains("s.yaml:1:"));
  CHECK_THAT(scenario_error("stepz: []"), Catch::Contains("unknown key 'stepz'"));
}

TEST_CASE("a listening socket is found in /proc/net/tcp by loopback address and port", "[chaos]") {
  using chaos::listening_inodes;
  // Little-endian words, as Linux prints them on x86 and arm64.
  const std::string tcp =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1\n"
      "   1: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 222 1\n"
      "   2: 0100007F:1F90 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000  1000        0 333 1\n"
      "   3: 0200007F:1F92 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 444 1\n"
      "   4: 0101A8C0:1F93 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 555 1\n";
  using V = std::vector<unsigned long>;
  CHECK(listening_inodes(tcp, "127.0.0.1", 8080, false) == V{111});  // not the connection (333)
  CHECK(listening_inodes(tcp, "127.0.0.1", 8081, false) == V{222});  // the wildcard address
  CHECK(listening_inodes(tcp, "127.0.0.1", 8082, false).empty());     // another loopback address
  CHECK(listening_inodes(tcp, "127.0.0.2", 8082, false) == V{444});
  CHECK(listening_inodes(tcp, "localhost", 8082, false) == V{444});
  CHECK(listening_inodes(tcp, "127.0.0.1", 8083, false).empty());     // 192.168.1.1
  CHECK(listening_inodes(tcp, "127.0.0.1", 9999, false).empty());
  const std::string tcp6 =
      "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 666 1\n"
      "   1: 0000000000000000FFFF00000100007F:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 777 1\n";
  CHECK(listening_inodes(tcp6, "::1", 8080, true) == V{666});
  CHECK(listening_inodes(tcp6, "[::1]", 8080, true) == V{666});
  CHECK(listening_inodes(tcp6, "localhost", 8080, true) == V{666});
  CHECK(listening_inodes(tcp6, "127.0.0.1", 8080, true).empty());
  CHECK(listening_inodes(tcp6, "127.0.0.1", 8081, true) == V{777});  // ::ffff:127.0.0.1

  CHECK_FALSE(chaos::split_host_port("nohost").ok());
  CHECK_FALSE(chaos::split_host_port("127.0.0.1:0").ok());
  CHECK_FALSE(chaos::split_host_port("127.0.0.1:99999").ok());
  CHECK(chaos::split_host_port("[::1]:7400")->first == "::1");
  auto remote = chaos::find_listener("10.1.2.3:7400");
  REQUIRE_FALSE(remote.ok());
  CHECK_THAT(remote.error().message, Catch::Contains("not a loopback address"));
}
