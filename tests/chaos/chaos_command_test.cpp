// `rivulet chaos` as users run it: one-shot broker faults against
// `rivulet broker` in a child process, observed with kcat (an independent
// client); node signals against a real child process; refusals of bad
// arguments and of targets off this machine.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "chaos/node_control.hpp"
#include "chaos/process_control.hpp"
#include "connectors/broker_fixture.hpp"
#include "support/child_process.hpp"

using namespace rivulet;
using rivulet::testing::BrokerProcess;
using rivulet::testing::run_command;

namespace {

std::pair<int, std::string> run_chaos(const std::string& args) {
  return run_command(testing::rivulet_binary() + " chaos " + args + " 2>&1", "", 60);
}

nlohmann::json metadata(const std::string& bootstrap, const std::string& topic) {
  auto [rc, out] = run_command("kcat -L -J -m 5 -b " + bootstrap + " -t " + topic, "", 20);
  INFO(out);
  REQUIRE(rc == 0);
  return nlohmann::json::parse(out);
}

int32_t leader_of(const std::string& bootstrap, const std::string& topic, int32_t partition) {
  auto md = metadata(bootstrap, topic);
  for (const auto& t : md["topics"]) {
    for (const auto& p : t["partitions"]) {
      if (p["partition"] == partition) return p["leader"].get<int32_t>();
    }
  }
  return -2;
}

// Whether a metadata request answered by this one broker alone succeeds.
bool broker_answers(const std::string& address) {
  return run_command("kcat -L -J -m 2 -b " + address + " -X topic.metadata.refresh.interval.ms=-1",
                     "", 10)
             .first == 0;
}

template <typename Pred>
bool eventually(Pred pred, std::chrono::seconds limit = std::chrono::seconds(15)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

char process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() ? '?' : stat[close + 2];
}

}  // namespace

TEST_CASE("rivulet chaos takes brokers down and up, moves leaders and injects errors",
          "[integration][chaos]") {
  auto broker = BrokerProcess::start({"--topic", "orders:4"});
  const std::string& bootstrap = broker->bootstrap();
  std::string broker2;
  nlohmann::json md;
  eventually([&] {  // the first answer may come before every broker is listed
    md = metadata(bootstrap, "orders");
    for (const auto& b : md["brokers"]) {
      if (b["id"] == 2) broker2 = b["name"].get<std::string>();
    }
    return !broker2.empty();
  });
  INFO(md.dump());
  REQUIRE_FALSE(broker2.empty());
  REQUIRE(broker_answers(broker2));

  SECTION("down and up") {
    auto [rc, out] = run_chaos("--broker " + bootstrap + " down 2");
    INFO(out);
    REQUIRE(rc == 0);
    CHECK_THAT(out, Catch::Contains("broker 2 down"));
    CHECK(eventually([&] { return !broker_answers(broker2); }));
    auto [rc_up, out_up] = run_chaos("--broker " + bootstrap + " up 2");
    INFO(out_up);
    REQUIRE(rc_up == 0);
    CHECK(eventually([&] { return broker_answers(broker2); }));
  }

  SECTION("leader") {
    auto [rc, out] = run_chaos("--broker " + bootstrap + " leader orders 1 3");
    INFO(out);
    REQUIRE(rc == 0);
    CHECK(eventually([&] { return leader_of(bootstrap, "orders", 1) == 3; }));
    REQUIRE(run_chaos("--broker " + bootstrap + " leader orders 1 2").first == 0);
    CHECK(eventually([&] { return leader_of(bootstrap, "orders", 1) == 2; }));
  }

  SECTION("errors: the next produce request fails, the one after succeeds") {
    auto [rc, out] = run_chaos("--broker " + bootstrap + " errors Produce 1 TOPIC_AUTHORIZATION_FAILED");
    INFO(out);
    REQUIRE(rc == 0);
    CHECK_THAT(out, Catch::Contains("Produce errors: 1 x TOPIC_AUTHORIZATION_FAILED"));
    const std::string produce =
        "kcat -P -b " + bootstrap + " -t orders -p 0 -X message.send.max.retries=0 2>&1";
    auto [rc1, out1] = run_command(produce, "first\n", 30);
    INFO(out1);
    CHECK(rc1 != 0);
    CHECK_THAT(out1, Catch::Contains("uthoriz"));
    auto [rc2, out2] = run_command(produce, "second\n", 30);
    INFO(out2);
    CHECK(rc2 == 0);
  }

  SECTION("bad arguments and refused faults") {
    auto usage = run_chaos("--broker " + bootstrap + " down");
    CHECK(usage.first == 2);
    CHECK_THAT(usage.second, Catch::Contains("down takes 1 argument"));
    auto no_broker = run_chaos("down 2");
    CHECK(no_broker.first == 2);
    CHECK_THAT(no_broker.second, Catch::Contains("--broker BOOTSTRAP"));
    auto bad_error = run_chaos("--broker " + bootstrap + " errors Produce 2 NO_SUCH_ERROR");
    CHECK(bad_error.first == 2);
    CHECK_THAT(bad_error.second, Catch::Contains("unknown ERROR 'NO_SUCH_ERROR'"));
    auto control = run_chaos("--broker " + bootstrap + " down 1");
    CHECK(control.first == 1);
    CHECK_THAT(control.second, Catch::Contains("control channel"));
    auto no_partition = run_chaos("--broker " + bootstrap + " leader orders 9 2");
    CHECK(no_partition.first == 1);
    CHECK_THAT(no_partition.second, Catch::Contains("no such partition orders[9]"));
    auto remote = run_chaos("--broker 10.255.0.1:9092 down 2");
    CHECK(remote.first == 1);
    CHECK_THAT(remote.second, Catch::Contains("loopback"));
    auto nothing = run_chaos("--broker " + bootstrap);
    CHECK(nothing.first == 2);
    auto no_coordinator = run_chaos("kill n1");
    CHECK(no_coordinator.first == 2);
    CHECK_THAT(no_coordinator.second, Catch::Contains("--coordinator"));
    CHECK(leader_of(bootstrap, "orders", 0) >= 1);  // the broker still serves
  }
}

TEST_CASE("node faults signal a real local rivulet process and nothing else", "[integration][chaos]") {
  auto node = testing::ChildProcess::spawn({testing::rivulet_binary(), "broker", "--brokers", "1"});
  REQUIRE(node.has_value());
  REQUIRE(node->read_line().has_value());  // started
  chaos::NodeInfo info{"n1", node->pid(), "127.0.0.1", "running"};

  REQUIRE(chaos::signal_node(info, chaos::NodeFault::Pause).ok());
  CHECK(eventually([&] { return process_state(node->pid()) == 'T'; }, std::chrono::seconds(5)));
  REQUIRE(chaos::signal_node(info, chaos::NodeFault::Resume).ok());
  CHECK(eventually([&] { return process_state(node->pid()) != 'T'; }, std::chrono::seconds(5)));
  REQUIRE(chaos::signal_node(info, chaos::NodeFault::Kill).ok());
  CHECK(node->stop(0) == 128 + SIGKILL);
  auto gone = chaos::signal_node(info, chaos::NodeFault::Kill);
  CHECK_FALSE(gone.ok());

  // A pid that is not rivulet (a stale status) is refused and left alone.
  auto other = testing::ChildProcess::spawn({"sleep", "30"});
  REQUIRE(other.has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  chaos::NodeInfo stale{"n2", other->pid(), "127.0.0.1", "running"};
  auto refused = chaos::signal_node(stale, chaos::NodeFault::Kill);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Contains("not rivulet"));
  CHECK(process_state(other->pid()) != 'Z');

  // Through the command, a coordinator that does not answer is a clear failure.
  auto [rc, out] = run_chaos("--coordinator 127.0.0.1:1 --timeout 5 kill n1");
  INFO(out);
  CHECK(rc == 1);
  CHECK_THAT(out, Catch::Contains("rivulet status --coordinator 127.0.0.1:1"));
}

TEST_CASE("rivulet chaos kills, pauses and resumes the coordinator found by its listening address",
          "[integration][chaos]") {
  char dir[] = "/tmp/rivulet-chaos-coord-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string config = std::string(dir) + "/cluster.properties";
  std::ofstream(config) << "bootstrap.servers=127.0.0.1:1\ncluster.secret=s3cret\n";
  auto coordinator = testing::ChildProcess::spawn(
      {testing::rivulet_binary(), "coordinator", "--listen", "127.0.0.1:0", "--config", config});
  REQUIRE(coordinator.has_value());
  auto line = coordinator->read_line();
  REQUIRE(line.has_value());
  const std::string prefix = "coordinator listening on ";
  REQUIRE(line->rfind(prefix, 0) == 0);
  std::string address = line->substr(prefix.size());
  address = address.substr(0, address.find(' '));
  const pid_t pid = coordinator->pid();

  // The pid comes from the socket, so a paused coordinator (which answers
  // nothing) can be resumed.
  auto [prc, pout] = run_chaos("--coordinator " + address + " pause coordinator");
  INFO(pout);
  CHECK(prc == 0);
  CHECK_THAT(pout, Catch::Contains("pid " + std::to_string(pid)));
  CHECK(eventually([&] { return process_state(pid) == 'T'; }, std::chrono::seconds(5)));
  auto [rrc, rout] = run_chaos("--coordinator " + address + " resume coordinator");
  INFO(rout);
  CHECK(rrc == 0);
  CHECK(eventually([&] { return process_state(pid) != 'T'; }, std::chrono::seconds(5)));

  // The coordinator cannot forward a fault to itself.
  auto [mrc, mout] = run_chaos("--coordinator " + address + " --remote kill coordinator");
  INFO(mout);
  CHECK(mrc == 2);
  CHECK(process_state(pid) != 'Z');

  auto [krc, kout] = run_chaos("--coordinator " + address + " kill coordinator");
  INFO(kout);
  CHECK(krc == 0);
  CHECK_THAT(kout, Catch::Contains("kill the coordinator on " + address));
  CHECK(coordinator->stop(0, std::chrono::seconds(10)) == 128 + SIGKILL);

  // Nobody listens there any more: a clear failure, exit 1.
  auto [grc, gout] = run_chaos("--coordinator " + address + " kill coordinator");
  INFO(gout);
  CHECK(grc == 1);
  CHECK_THAT(gout, Catch::Contains("no process listens on " + address));
  // Off this machine: refused before anything is looked up.
  auto [frc, fout] = run_chaos("--coordinator 10.1.2.3:7400 kill coordinator");
  INFO(fout);
  CHECK(frc == 1);
  CHECK_THAT(fout, Catch::Contains("not a loopback address"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("rivulet chaos --http and --pid fault a single Rivulet process outside a cluster",
          "[integration][chaos]") {
  auto broker = BrokerProcess::start({"--topic", "events:1"});
  char dir[] = "/tmp/rivulet-chaos-http-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string sql = std::string(dir) + "/app.sql";
  std::ofstream(sql) << "CREATE STREAM events (id INT) WITH (kafka_topic='events', value_format='JSON');\n"
                        "CREATE STREAM copies AS SELECT id FROM events;\n";
  auto run = testing::ChildProcess::spawn(
      {testing::rivulet_binary(), "run", sql, "--bootstrap", broker->bootstrap(), "--http",
       "127.0.0.1:0", "--set", "state.dir=" + std::string(dir) + "/state"});
  REQUIRE(run.has_value());
  std::string http;
  for (int i = 0; i < 3 && http.empty(); ++i) {
    auto line = run->read_line();
    REQUIRE(line.has_value());
    if (line->rfind("http ", 0) == 0) http = line->substr(5);
  }
  REQUIRE_FALSE(http.empty());
  const pid_t pid = run->pid();

  auto [prc, pout] = run_chaos("--http " + http + " pause");
  INFO(pout);
  CHECK(prc == 0);
  CHECK_THAT(pout, Catch::Contains("pid " + std::to_string(pid)));
  CHECK(eventually([&] { return process_state(pid) == 'T'; }, std::chrono::seconds(5)));
  // Paused, it cannot answer /health; resume needs only its socket.
  auto [rrc, rout] = run_chaos("--http " + http + " resume");
  INFO(rout);
  CHECK(rrc == 0);
  CHECK(eventually([&] { return process_state(pid) != 'T'; }, std::chrono::seconds(5)));

  // A listener that is not a Rivulet HTTP endpoint (the broker's Kafka port)
  // is refused and left alone.
  const std::string broker_address = broker->bootstrap().substr(0, broker->bootstrap().find(','));
  auto [brc, bout] = run_chaos("--http " + broker_address + " --timeout 3 kill");
  INFO(bout);
  CHECK(brc == 1);
  CHECK_THAT(bout, Catch::Contains("refusing"));
  CHECK(broker_answers(broker_address));

  // Usage errors: a node name, both targets, a broker verb.
  CHECK(run_chaos("--http " + http + " kill n1").first == 2);
  CHECK(run_chaos("--http " + http + " --pid " + std::to_string(pid) + " kill").first == 2);
  CHECK(run_chaos("--pid " + std::to_string(pid) + " down 1").first == 2);
  CHECK(process_state(pid) != 'Z');

  auto [krc, kout] = run_chaos("--http " + http + " kill");
  INFO(kout);
  CHECK(krc == 0);
  CHECK(run->stop(0, std::chrono::seconds(10)) == 128 + SIGKILL);

  // --pid: any process of ours, here one that is not rivulet.
  auto other = testing::ChildProcess::spawn({"sleep", "30"});
  REQUIRE(other.has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const std::string p = std::to_string(other->pid());
  CHECK(run_chaos("--pid " + p + " pause").first == 0);
  CHECK(eventually([&] { return process_state(other->pid()) == 'T'; }, std::chrono::seconds(5)));
  CHECK(run_chaos("--pid " + p + " resume").first == 0);
  CHECK(eventually([&] { return process_state(other->pid()) != 'T'; }, std::chrono::seconds(5)));
  auto [orc, oout] = run_chaos("--pid " + p + " kill");
  INFO(oout);
  CHECK(orc == 0);
  CHECK_THAT(oout, Catch::Contains("kill pid " + p + " (sleep, signal 9)"));
  CHECK(other->stop(0, std::chrono::seconds(10)) == 128 + SIGKILL);
  auto [nrc, nout] = run_chaos("--pid 1 kill");
  INFO(nout);
  CHECK(nrc != 0);
  std::filesystem::remove_all(dir);
}
