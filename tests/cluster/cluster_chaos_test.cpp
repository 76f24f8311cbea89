// Node faults through the coordinator (`rivulet chaos --remote`), and a
// scenario file played against a real cluster and judged by `rivulet
// verify`: real processes on loopback (broker, coordinator, nodes).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "local_cluster.hpp"

using rivulet::testing::LocalCluster;
using rivulet::testing::run_command;
using Clock = std::chrono::steady_clock;

namespace {

const char* kSql = R"sql(
CREATE TABLE USERS (UID STRING PRIMARY KEY, NAME STRING) WITH (kafka_topic='users', value_format='JSON');
CREATE STREAM ORDERS (UID STRING KEY, ORDER_ID BIGINT, AMOUNT DOUBLE) WITH (kafka_topic='orders', value_format='JSON');
CREATE STREAM ENRICHED AS SELECT O.UID AS UID, ORDER_ID, AMOUNT, NAME FROM ORDERS O LEFT JOIN USERS U ON O.UID = U.UID;
)sql";

bool wait_state(LocalCluster& c, const std::string& node, const std::string& state,
                std::chrono::seconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (c.node_state(node) == state) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0; }

// "task epoch" of every ENRICHED record (kcat reads the provenance headers).
std::multiset<std::string> provenance(const LocalCluster& c) {
  auto [rc, out] = run_command("kcat -b " + c.bootstrap + " -C -t ENRICHED -e -q -f '%h\\n'", "", 60);
  REQUIRE(rc == 0);
  std::multiset<std::string> seen;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::string task, epoch;
    std::istringstream headers(line);
    std::string h;
    while (std::getline(headers, h, ',')) {
      if (h.rfind("rivulet.task=", 0) == 0) task = h.substr(13);
      if (h.rfind("rivulet.epoch=", 0) == 0) epoch = h.substr(14);
    }
    seen.insert(task + " " + epoch);
  }
  return seen;
}

}  // namespace

TEST_CASE("rivulet chaos --remote kill: the node dies at once as in a crash and its tasks move",
          "[integration][cluster][chaos]") {
  LocalCluster c({"users:8", "orders:8"});
  c.start_coordinator();
  c.start_node("n1");
  c.start_node("n2");
  c.submit(kSql);
  c.wait_balanced(8, {"n1", "n2"}, std::chrono::seconds(40));  // n2 has tasks to lose
  c.produce_orders(1000, 5000);
  auto [rc, out] = c.rivulet("chaos --coordinator " + c.address + " --remote --config " +
                             c.config_file + " kill n2");
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(out.find("kill node n2 (remote request through the coordinator") != std::string::npos);
  // Killed by itself, by SIGKILL: no graceful exit.
  CHECK(c.nodes["n2"]->stop(0, std::chrono::seconds(5)) == 128 + SIGKILL);
  CHECK(wait_state(c, "n2", "dead", std::chrono::seconds(10)));
  c.wait_all_running(8, std::chrono::seconds(20), {"n1"});
  c.produce_orders(1000, 5000);
  std::string report;
  CHECK(c.verify_orders(std::chrono::seconds(40), &report));
  INFO(report);

  // Refusals: without the secret, and an unknown node.
  auto [bad_rc, bad] = c.rivulet("chaos --coordinator " + c.address + " --remote kill n1");
  INFO(bad);
  CHECK(bad_rc == 1);
  CHECK(bad.find("cluster.secret") != std::string::npos);
  CHECK(alive(c.nodes["n1"]->pid()));
}

TEST_CASE("rivulet chaos --remote pause: the node stops and is fenced like SIGSTOP, resume brings it back",
          "[integration][cluster][chaos]") {
  LocalCluster c({"users:8", "orders:8"});
  c.start_coordinator();
  c.start_node("n1");
  c.start_node("n2");
  c.submit(kSql);
  auto before = c.wait_balanced(8, {"n1", "n2"}, std::chrono::seconds(40));
  std::set<std::string> lost;  // "task epoch" pairs n2 ran
  for (const auto& t : before["tasks"]) {
    if (t["owner"] == "n2") lost.insert(t["task"].get<std::string>() + " " + std::to_string(t["epoch"].get<int64_t>()));
  }
  REQUIRE(lost.size() == 4);
  c.produce_orders(1000, 5000);
  REQUIRE(c.verify_orders(std::chrono::seconds(30)));

  auto paused = Clock::now();
  auto [rc, out] = c.rivulet("chaos --coordinator " + c.address + " --remote --config " +
                             c.config_file + " pause n2");
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(wait_state(c, "n2", "dead", std::chrono::seconds(10)));
  WARN("remote pause: n2 declared dead after "
       << std::chrono::duration<double>(Clock::now() - paused).count() << " s");
  CHECK(alive(c.nodes["n2"]->pid()));  // paused, not gone
  c.wait_all_running(8, std::chrono::seconds(20), {"n1"});
  c.produce_orders(1500, 5000);
  REQUIRE(c.verify_orders(std::chrono::seconds(30)));
  auto count_stale = [&] {
    size_t n = 0;
    for (const auto& p : provenance(c)) n += lost.count(p);
    return n;
  };
  const size_t stale_before = count_stale();

  auto [rrc, rout] = c.rivulet("chaos --coordinator " + c.address + " --remote --config " +
                               c.config_file + " resume n2");
  INFO(rout);
  REQUIRE(rrc == 0);
  CHECK(wait_state(c, "n2", "alive", std::chrono::seconds(10)));
  // It rejoins and takes a share again, as new incarnations.
  auto deadline = Clock::now() + std::chrono::seconds(30);
  bool n2_runs = false;
  while (!n2_runs && Clock::now() < deadline) {
    auto s = c.wait_all_running(8, std::chrono::seconds(20));
    for (const auto& t : s["tasks"]) {
      if (t["owner"] == "n2") n2_runs = true;
    }
    if (!n2_runs) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  CHECK(n2_runs);
  c.produce_orders(1000, 5000);
  CHECK(c.verify_orders(std::chrono::seconds(30)));
  CHECK(count_stale() == stale_before);  // nothing written under the epochs it lost
}

TEST_CASE("examples/chaos/node-faults.yaml against a real cluster, judged by rivulet verify",
          "[integration][cluster][chaos]") {
  LocalCluster c({"users:8", "orders:8"});
  c.start_coordinator();
  for (const auto* n : {"n1", "n2", "n3"}) c.start_node(n);
  c.submit(kSql);
  c.wait_all_running(8, std::chrono::seconds(40));
  std::string produce_failed;
  rivulet::testing::JoiningThread producer([&] { produce_failed = c.try_produce_orders(6000, 300); });
  // The scenario's n4 is `${RIVULET_BIN}/rivulet node ...`; its configuration
  // comes from the environment (RIVULET_<KEY>).
  const std::string env = "env RIVULET_BIN=" + std::string(RIVULET_BINARY_DIR) + "/bin" +
                          " RIVULET_BOOTSTRAP_SERVERS=" + c.bootstrap +
                          " RIVULET_STATE_DIR=" + c.dir + "/state" +
                          " RIVULET_CLUSTER_SECRET=" + c.secret + " RIVULET_CHECKPOINT_INTERVAL_MS=300" +
                          " RIVULET_COMMIT_INTERVAL_MS=100 ";
  auto started = Clock::now();
  auto [rc, log] = run_command(env + rivulet::testing::rivulet_binary() + " chaos --coordinator " +
                                   c.address + " run " + std::string(RIVULET_SOURCE_DIR) +
                                   "/examples/chaos/node-faults.yaml 2>&1",
                               "", 120);
  const double took = std::chrono::duration<double>(Clock::now() - started).count();
  producer.join();
  INFO(produce_failed);
  REQUIRE(produce_failed.empty());
  INFO(log);
  WARN("scenario took " << took << " s");
  CHECK(rc == 0);
  CHECK(log.find("kill node n2") != std::string::npos);
  CHECK(log.find("pause node n3") != std::string::npos);
  CHECK(log.find("resume node n3") != std::string::npos);
  CHECK(log.find("start n4") != std::string::npos);
  CHECK(c.nodes["n2"]->stop(0, std::chrono::seconds(5)) == 128 + SIGKILL);
  std::string report;
  CHECK(c.verify_orders(std::chrono::seconds(40), &report));
  INFO(report);
}
