// `rivulet chaos` as users run it: one-shot broker faults against
// `rivulet broker` in a child process, observed with kcat (an independent
// client); node signals against a real child process; refusals of bad
// arguments and of targets off this machine.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "chaos/node_control.hpp"
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
