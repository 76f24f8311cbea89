// `rivulet chaos run SCENARIO.yaml` as users run it: the orders pipeline
// (examples/enrich_orders, configured by RIVULET_* variables) is started by
// the scenario on `rivulet broker`, survives a broker down for 2 s and
// injected produce errors, and `rivulet verify` finds nothing lost; an
// interrupted scenario undoes its faults.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>

#include "connectors/broker_fixture.hpp"
#include "examples/orders_enrichment.hpp"
#include "support/child_process.hpp"

using namespace rivulet;
using rivulet::testing::BrokerProcess;
using rivulet::testing::ChildProcess;
using rivulet::testing::run_command;

namespace {

std::string temp_dir() {
  std::string dir = (std::filesystem::temp_directory_path() / "rivulet-chaos-XXXXXX").string();
  REQUIRE(::mkdtemp(dir.data()) != nullptr);
  return dir;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  REQUIRE(out.good());
}

bool broker_answers(const std::string& address) {
  return run_command("kcat -L -J -m 2 -b " + address, "", 10).first == 0;
}

}  // namespace

TEST_CASE("a scenario with broker faults under the orders pipeline loses nothing",
          "[integration][chaos]") {
  auto broker = BrokerProcess::start({"--topic", "users:4", "--topic", "orders:4", "--topic",
                                      "enriched-orders:4", "--topic", "order-counts:4"});
  examples::OrdersWorkload w;
  w.users = 500;
  w.user_space = 550;
  w.orders = 20000;
  REQUIRE(examples::produce_orders_workload(broker->bootstrap(), w, nullptr).ok());

  const std::string dir = temp_dir();
  const std::string scenario = dir + "/scenario.yaml";
  write_file(scenario, R"(name: broker faults under the orders pipeline
limits: {max_faults: 5, max_duration: 60s}
steps:
  - at: 0s
    start: app
    command: ["${ENRICH_ORDERS}", "${RIVULET_CHAOS_BROKER}"]
    env:
      RIVULET_STATE_DIR: "${STATE_DIR}"
      RIVULET_CHECKPOINT_INTERVAL_MS: "1000"
      RIVULET_COMMIT_INTERVAL_MS: "200"
      RIVULET_LOG_LEVEL: warn
    log: "${STATE_DIR}/app.log"
  - {at: 1s, broker_down: 2, for: 2s}
  - {at: 2s, errors: {api: Produce, count: 3, error: NOT_LEADER_FOR_PARTITION}}
  - {at: 14s, stop: app, timeout: 20s}
)");
  std::filesystem::create_directories(dir + "/state");
  auto [rc, log] = run_command("env ENRICH_ORDERS=" + std::string(RIVULET_BINARY_DIR) +
                                   "/bin/enrich_orders STATE_DIR=" + dir + "/state " +
                                   testing::rivulet_binary() + " chaos --broker " +
                                   broker->bootstrap() + " run " + scenario,
                               "", 90);
  INFO(log);
  CHECK(rc == 0);
  // One line per event, each with a UTC timestamp and the offset into the run.
  std::regex line(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \+\d+\.\d{3}s .+)");
  std::istringstream lines(log);
  std::string l;
  int events = 0;
  while (std::getline(lines, l)) {
    CHECK(std::regex_match(l, line));
    ++events;
  }
  CHECK(events >= 7);
  CHECK_THAT(log, Catch::Contains("start app (pid"));
  CHECK_THAT(log, Catch::Contains("broker 2 down for 2s"));
  CHECK_THAT(log, Catch::Contains("broker 2 up"));
  CHECK_THAT(log, Catch::Contains("Produce errors: 3 x NOT_LEADER_FOR_PARTITION"));
  CHECK_THAT(log, Catch::Contains("exited with status 0"));  // graceful stop on SIGTERM
  CHECK_THAT(log, Catch::Contains("0 failed"));

  auto [vrc, report] = run_command(testing::rivulet_binary() + " verify --bootstrap " +
                                       broker->bootstrap() +
                                       " --input orders --output enriched-orders --id order_id",
                                   "", 90);
  INFO(report);
  // What this scenario asserts is that nothing is lost. The embedded broker
  // does not de-duplicate an idempotent producer's retries (PLATFORM.md):
  // a produce request in flight when broker 2 goes down can be appended
  // twice, and verify then exits 1 for those copies ("two copies from the
  // same epoch"). Since the application reaches broker 2 within its first
  // second (it no longer waits for a metadata refresh), that happens in
  // about one run of four here; a real Kafka drops such retries.
  CHECK_THAT(report, Catch::Contains("missing_lost: 0"));
  CHECK_THAT(report, Catch::Contains("unexpected_ids: 0"));
  if (vrc != 0) {
    CHECK_THAT(report, Catch::Contains("duplicates_unexplained:") &&
                           Catch::Contains("one incarnation wrote the record twice"));
    WARN("producer retries appended twice by the embedded broker:\n" << report.substr(0, 600));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("an interrupted scenario undoes its faults", "[integration][chaos]") {
  auto broker = BrokerProcess::start();
  std::string broker2;
  {
    auto [rc, out] = run_command("kcat -L -J -m 5 -b " + broker->bootstrap(), "", 20);
    REQUIRE(rc == 0);
    std::smatch m;
    std::regex b2(R"re("id":2,"name":"([^"]+)")re");
    REQUIRE(std::regex_search(out, m, b2));
    broker2 = m[1];
  }
  const std::string dir = temp_dir();
  write_file(dir + "/s.yaml", "steps:\n  - {at: 0s, broker_down: 2, for: 50s}\n  - {at: 55s, broker_up: 2}\n");
  auto chaos = ChildProcess::spawn({testing::rivulet_binary(), "chaos", "--broker",
                                    broker->bootstrap(), "run", dir + "/s.yaml"});
  REQUIRE(chaos.has_value());
  std::string seen;
  while (auto l = chaos->read_line()) {
    seen += *l + "\n";
    if (l->find("broker 2 down for 50s") != std::string::npos) break;
  }
  INFO(seen);
  REQUIRE_THAT(seen, Catch::Contains("broker 2 down for 50s"));
  CHECK_FALSE(broker_answers(broker2));
  CHECK(chaos->stop(SIGTERM, std::chrono::seconds(20)) == 1);  // interrupted: exit 1
  while (auto l = chaos->read_line()) seen += *l + "\n";
  CHECK_THAT(seen, Catch::Contains("stopping the scenario"));
  CHECK_THAT(seen, Catch::Contains("broker 2 up (end of scenario)"));
  CHECK(broker_answers(broker2));
  std::filesystem::remove_all(dir);
}
