// exactly_once_v2 across SIGKILLs: a node (examples/enrich_orders, orders
// LEFT JOIN users plus per-user counts) runs with
// processing.guarantee=exactly_once_v2, is killed with SIGKILL at random
// points (mid-transaction, between a checkpoint and its commit, ...) and
// restarted until its input is consumed; the kills are `rivulet chaos --pid
// PID kill`. Then `rivulet verify` judges: the per-user counts are exact,
// every order is in the output, every duplicate is a replay by a later
// incarnation (on the embedded broker aborted records stay visible,
// PLATFORM.md; a real cluster hides them: tests/integration/
// real_kafka_eos_test.cpp); and each task's newest checkpoint describes
// exactly the offsets its group committed.
#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "connectors/kafka_consumer.hpp"
#include "examples/orders_enrichment.hpp"
#include "support/child_process.hpp"
#include "support/committed_progress.hpp"
#include "support/eos_checks.hpp"
#include "support/verify_orders.hpp"

using namespace rivulet;
using rivulet::testing::ChildProcess;

namespace {

std::optional<ChildProcess> start_node(const std::string& bootstrap, const std::string& state) {
  return ChildProcess::spawn({"env", "RIVULET_STATE_DIR=" + state,
                              "RIVULET_PROCESSING_GUARANTEE=exactly_once_v2",
                              "RIVULET_LOG_LEVEL=warn",
                              // A transaction per second: a kill decided just
                              // after a commit lands before the next one.
                              "RIVULET_COMMIT_INTERVAL_MS=1000",
                              // Small batches: the node takes a few seconds,
                              // so the kills land mid-stream.
                              "RIVULET_CONSUMER_BATCH_MAX_RECORDS=100",
                              std::string(RIVULET_BINARY_DIR) + "/bin/enrich_orders", bootstrap});
}

}  // namespace

TEST_CASE("exactly_once_v2: SIGKILLed and restarted, counts are exact and every order is output",
          "[integration][exactly-once]") {
  examples::OrdersWorkload w;
  w.users = 500;
  w.user_space = 550;
  // 3,000 orders per partition: with the replays' duplicates the enriched
  // output stays within the embedded broker's 5 MiB per partition.
  w.orders = 24000;
  const int32_t partitions = 8;
  auto broker = ChildProcess::spawn({testing::rivulet_binary(), "broker", "--topic", "users:8",
                                     "--topic", "orders:8", "--topic", "enriched-orders:8",
                                     "--topic", "order-counts:8"});
  REQUIRE(broker.has_value());
  auto bootstrap = broker->read_line();
  REQUIRE(bootstrap.has_value());
  // The input is fed while the node is killed: the users and the first
  // orders now, then a steady stream of orders (kChunk every kEvery) from a
  // feeder thread while each incarnation runs. A kill comes once the node
  // has committed progress beyond the previous incarnation's; since orders
  // keep arriving and commit.interval.ms is 1 s here, the node always has
  // uncommitted input when the kill lands, however fast it is. (Feeding in
  // fixed steps let a fast node commit all it had before `rivulet chaos`,
  // about 0.5 s to start, killed it: "committed/written orders at each
  // kill: 6000/6000 12000/12000 18000/18000".)
  constexpr int64_t kChunk = 200;
  constexpr auto kEvery = std::chrono::milliseconds(100);
  std::atomic<int64_t> end{3000};  // orders [0, end) are written
  REQUIRE(examples::produce_orders_workload(*bootstrap, w, nullptr, {true, 0, end.load()}).ok());
  std::atomic<bool> feed_failed{false};
  auto feed = [&](int64_t to) {
    to = std::min(to, w.orders);
    const int64_t from = end.load();
    if (to <= from) return;
    if (!examples::produce_orders_workload(*bootstrap, w, nullptr, {false, from, to}).ok()) {
      feed_failed = true;  // checked on the test's thread
      return;
    }
    end = to;
  };
  std::string state = (std::filesystem::temp_directory_path() / "rivulet-eos-crash-XXXXXX").string();
  REQUIRE(::mkdtemp(state.data()) != nullptr);

  testing::CommittedProgress progress_of_group(*bootstrap, "enrich-orders", w.orders_topic,
                                               partitions);
  auto committed_total = [&] { return progress_of_group.total(); };

  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> extra_ms(0, 300);
  int64_t progress = 0;
  int mid_stream = 0;  // kills while the node had input left to process
  std::string rounds;
  for (int round = 0; round < 3; ++round) {
    auto node = start_node(*bootstrap, state);
    REQUIRE(node.has_value());
    std::atomic<bool> stop_feeding{false};
    std::thread feeder([&] {
      while (!stop_feeding.load() && !feed_failed.load()) {
        feed(end.load() + kChunk);
        std::this_thread::sleep_for(kEvery);
      }
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline && committed_total() <= progress) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(extra_ms(rng)));
    // SIGKILL through the product's tool, by pid: a process outside a cluster.
    auto [krc, kout] = testing::run_command(
        testing::rivulet_binary() + " chaos --pid " + std::to_string(node->pid()) + " kill 2>&1", "", 30);
    INFO("rivulet chaos --pid " << node->pid() << " kill: " << kout);
    CHECK(krc == 0);
    CHECK(node->stop(0, std::chrono::seconds(30)) == 128 + SIGKILL);  // signal 0: reap it
    stop_feeding = true;
    feeder.join();
    const int64_t after = committed_total();
    if (after < end.load()) ++mid_stream;
    rounds += " " + std::to_string(after) + "/" + std::to_string(end.load());
    progress = std::max(progress, after);
  }
  REQUIRE_FALSE(feed_failed.load());
  WARN("committed/written orders at each kill:" << rounds);
  // Orders keep arriving until the node is dead, so each kill should find
  // input left; unless the feeder ran out of orders (24,000) first. At
  // least one must.
  CHECK(mid_stream >= 1);
  feed(w.orders);

  auto last = start_node(*bootstrap, state);
  REQUIRE(last.has_value());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (committed_total() < w.orders && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(committed_total() == w.orders);
  CHECK(last->read_first_line(std::chrono::seconds(30)).has_value());
  CHECK(last->stop(SIGTERM) == 0);

  // The verdict is rivulet verify's, reading read_committed: every order in
  // the output, every duplicate a replay by another incarnation of its task
  // (same input record, pairwise different epochs), and the final per-user
  // counts exact. Not --exactly-once: the embedded broker keeps aborted
  // records visible to read_committed readers (PLATFORM.md), so replays of
  // aborted transactions show as explained duplicates here;
  // real_kafka_eos_test.cpp proves --exactly-once on a real cluster.
  auto report = testing::verify_orders_output(*bootstrap, w, state, "--read-committed");
  WARN("orders output more than once (aborted transactions stay visible on the embedded broker): "
       << report["duplicates"]["count"]);
  // Not expressible in rivulet verify (it reads topics, not checkpoints): each
  // task's newest checkpoint describes exactly the offsets its group committed.
  testing::check_checkpoints_match_committed(*bootstrap, state, "enrich-orders", w.orders_topic,
                                             partitions);
  std::filesystem::remove_all(state);
}
