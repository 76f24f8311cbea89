#pragma once
// The SIGKILL crash drill on a single node, as a user would run it
// (docs/failover-testing.md, "A drill against a single node"): a node
// (examples/enrich_orders: orders LEFT JOIN users plus per-user counts,
// checkpointing often, serving /health on --http) is killed with
// `rivulet chaos --http HOST:PORT kill` at random points, and once right
// inside a checkpoint write (the RIVULET_FAULT hook), and restarted until its
// input is consumed. Then `rivulet verify` judges: no order missing, every
// duplicate a replay (the same input record produced again by a later
// incarnation of its task), and the final per-user counts (--table
// order-counts --expect) equal to those of a run without kills.
//
// Used by crash_recovery_test.cpp (the long drill, label `crash`, `make
// test-crash`) and crash_short_test.cpp (a short one in `make test`).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "connectors/kafka_consumer.hpp"
#include "connectors/topic_admin.hpp"
#include "examples/orders_enrichment.hpp"
#include "support/child_process.hpp"
#include "support/committed_progress.hpp"
#include "support/loopback.hpp"
#include "support/verify_orders.hpp"

namespace rivulet::testing {

struct CrashDrill {
  std::string store = "directory";  // checkpoint.store
  int64_t orders = 30000;
  int64_t users = 2000;
  int rounds = 5;  // incarnations killed; the first dies inside a checkpoint write
};

inline void run_crash_drill(const CrashDrill& d) {
  INFO("checkpoint.store=" << d.store);
  const std::string fault_point =
      d.store == "kafka" ? "checkpoint-after-chunks" : "checkpoint-after-tmp";
  examples::OrdersWorkload w;
  w.users = d.users;
  w.user_space = d.users + d.users / 10;
  // The embedded broker keeps at most 5 MiB per partition and silently drops
  // older records beyond that; written by a node (small batches, provenance
  // headers) an enriched order takes about 600 bytes of it, so a partition
  // keeps only its last ~8,800 records. 30,000 orders (3,750 per partition,
  // up to about as many duplicates when kills come late in checkpoint
  // intervals) stay within it; records dropped anyway show as missing in
  // rivulet verify's report.
  w.orders = d.orders;
  const int32_t partitions = 8;
  auto broker = ChildProcess::spawn({rivulet_binary(), "broker", "--topic", "users:8", "--topic",
                                     "orders:8", "--topic", "enriched-orders:8", "--topic",
                                     "order-counts:8"});
  REQUIRE(broker.has_value());
  auto bootstrap = broker->read_line();
  REQUIRE(bootstrap.has_value());
  REQUIRE(examples::produce_orders_workload(*bootstrap, w, nullptr).ok());

  std::string state = (std::filesystem::temp_directory_path() / "rivulet-crash-XXXXXX").string();
  REQUIRE(::mkdtemp(state.data()) != nullptr);
  int incarnation = 0;
  // With the Kafka store every incarnation gets a fresh state.dir (as if it
  // ran on another machine).
  auto state_for_next = [&]() {
    if (d.store != "kafka") return state;
    const std::string dir = state + "/node-" + std::to_string(++incarnation);
    std::filesystem::create_directories(dir);
    return dir;
  };
  // Each incarnation serves /health on its own port: the drill finds the
  // process to kill by it, as `rivulet chaos --http` does for a user.
  auto start_node = [&](const std::string& fault, std::string* http) {
    *http = "127.0.0.1:" + std::to_string(testing::free_loopback_port());
    std::vector<std::string> argv = {"env",
                                     "RIVULET_STATE_DIR=" + state_for_next(),
                                     "RIVULET_CHECKPOINT_STORE=" + d.store,
                                     "RIVULET_CHECKPOINT_INTERVAL_MS=400",
                                     "RIVULET_COMMIT_INTERVAL_MS=100",
                                     "RIVULET_LOG_LEVEL=warn"};
    if (!fault.empty()) argv.push_back("RIVULET_FAULT=" + fault);
    argv.push_back(std::string(RIVULET_BINARY_DIR) + "/bin/enrich_orders");
    argv.push_back(*bootstrap);
    argv.push_back("--http");
    argv.push_back(*http);
    return ChildProcess::spawn(argv);
  };

  // The application's committed progress on the orders, read as any Kafka
  // client would (the group is the application id).
  testing::CommittedProgress progress_of_group(*bootstrap, "enrich-orders", w.orders_topic,
                                               partitions);
  auto committed_total = [&] { return progress_of_group.total(); };

  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> extra_ms(0, 150);
  int64_t progress = 0;
  std::string committed_at_kills;
  for (int round = 0; round < d.rounds; ++round) {
    // The first incarnation dies inside its first checkpoint write, after
    // the temporary file (or the chunks) are durable and before the rename
    // (the manifest): first, because only a node with input left to process
    // writes checkpoints.
    const bool fault = round == 0;
    std::string http;
    auto node = start_node(fault ? fault_point : "", &http);
    REQUIRE(node.has_value());
    int status = -1;
    if (fault) {
      status = node->stop(0, std::chrono::seconds(30));  // signal 0: only wait for its death
    } else {
      // Killed while it works: once it has committed progress beyond the
      // previous incarnation's (bounded), and a random moment later.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (committed_total() <= progress && progress < w.orders &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(extra_ms(rng)));
      // Its endpoint starts right after the application: bounded wait for it.
      std::pair<int, std::string> killed;
      const auto kill_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      do {
        killed = run_command(rivulet_binary() + " chaos --http " + http + " kill 2>&1", "", 30);
        if (killed.first == 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      } while (std::chrono::steady_clock::now() < kill_deadline);
      INFO("rivulet chaos --http " << http << " kill: " << killed.second);
      CHECK(killed.first == 0);
      status = node->stop(0, std::chrono::seconds(30));
    }
    CHECK(status == 128 + SIGKILL);  // killed (by rivulet chaos, or by the fault hook)
    progress = std::max(progress, committed_total());
    committed_at_kills += " " + std::to_string(progress);
  }
  // Not asserted: with all the input written up front, a fast machine may
  // consume it before a kill lands (eos_crash_test.cpp feeds its input
  // during the kills instead). The kill inside a checkpoint write always
  // comes with input left: only then is a checkpoint written.
  WARN("orders committed at each kill (of " << w.orders << "):" << committed_at_kills);

  // The last incarnation runs until it has consumed all the input: its
  // group's committed offsets reach the end of every orders partition. A
  // committed offset never runs ahead of acknowledged output and a durable
  // checkpoint, so then every output is in the topics. Bounded: on the
  // deadline the test fails naming the partitions behind. (rivulet verify
  // reads the topics as they are; waiting for the pipeline is the drill's.)
  std::string http;
  auto last = start_node("", &http);
  REQUIRE(last.has_value());
  auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", *bootstrap}});
  REQUIRE(admin.ok());
  std::map<TopicPartition, Offset> ends;
  for (int32_t p = 0; p < partitions; ++p) {
    TopicPartition tp{w.orders_topic, PartitionId{p}};
    auto marks = (*admin)->watermarks(tp);
    REQUIRE(marks.ok());
    ends[tp] = Offset{marks->second};
  }
  const auto catch_up_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::string behind;
  for (;;) {
    auto committed = progress_of_group.offsets();
    behind.clear();
    if (!committed) {
      behind = committed.error().to_string();
    } else {
      for (const auto& [tp, end] : ends) {
        auto it = committed->find(tp);
        if (it == committed->end() || it->second < end) {
          behind += " " + tp.to_string() + " committed " +
                    (it == committed->end() ? std::string("none")
                                            : std::to_string(it->second.value())) +
                    " of " + std::to_string(end.value());
        }
      }
    }
    if (behind.empty() || std::chrono::steady_clock::now() >= catch_up_deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (!behind.empty()) FAIL("input not consumed within 120 s:" << behind);
  // The input may have been consumed before this incarnation started: make
  // sure it is up (its first status line, every 3 s) before stopping it, or
  // the signal could arrive before it handles signals.
  CHECK(last->read_first_line(std::chrono::seconds(30)).has_value());
  CHECK(last->stop(SIGTERM) == 0);  // graceful: final checkpoint, commit, exit 0

  // The verdict is rivulet verify's: every order in enriched-orders, each
  // duplicate explained as a replay, and order-counts' final value per user
  // equal to a run without kills.
  auto report = verify_orders_output(*bootstrap, w, state);
  WARN("orders duplicated by replays after the kills: " << report["duplicates"]["count"]);
  std::filesystem::remove_all(state);
}

}  // namespace rivulet::testing
