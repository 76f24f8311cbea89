// A node killed after a checkpoint became durable and before the offsets it
// covers were committed: the next start restores that checkpoint and, when
// no input is left after it, processes nothing. Its committed offsets must
// still reach the checkpoint's (the crash drill waited on them forever:
// tests/integration/crash_recovery_test.cpp).
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "actors/application.hpp"
#include "checkpoint/directory_store.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/topic_admin.hpp"
#include "examples/orders_enrichment.hpp"

using namespace rivulet;

namespace {

// The demo's orders workload written to a new embedded broker (every topic
// with `partitions` partitions), and a new state directory, removed at the end.
struct OrdersRun {
  examples::OrdersWorkload w;
  std::unique_ptr<connectors::EmbeddedBroker> broker;
  std::string bootstrap;
  std::string state;

  OrdersRun(int64_t users, int64_t user_space, int64_t orders, int32_t partitions) {
    w.users = users;
    w.user_space = user_space;
    w.orders = orders;
    auto started = connectors::EmbeddedBroker::start();
    REQUIRE(started.ok());
    broker = std::move(*started);
    for (const auto& t : {w.users_topic, w.orders_topic, w.enriched_topic, w.counts_topic}) {
      REQUIRE(broker->create_topic(t, partitions).ok());
    }
    bootstrap = broker->bootstrap();
    REQUIRE(examples::produce_orders_workload(bootstrap, w, nullptr).ok());
    state = (std::filesystem::temp_directory_path() / "rivulet-test-XXXXXX").string();
    REQUIRE(::mkdtemp(state.data()) != nullptr);
  }
  ~OrdersRun() {
    std::error_code ignored;
    std::filesystem::remove_all(state, ignored);
  }
};

}  // namespace

TEST_CASE("a task restored at the end of its input commits the checkpoint's offsets",
          "[integration][application][checkpoint]") {
  const int32_t partitions = 2;
  OrdersRun run(20, 22, 200, partitions);
  const auto& w = run.w;
  const std::string& bootstrap = run.bootstrap;
  const std::string& state = run.state;

  // The checkpoint a killed node left behind: all input processed, nothing
  // committed.
  auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", bootstrap}});
  REQUIRE(admin.ok());
  auto store = checkpoint::DirectoryStore::open(state);
  REQUIRE(store.ok());
  std::vector<TopicPartition> orders;
  std::map<TopicPartition, Offset> ends;
  for (int32_t p = 0; p < partitions; ++p) {
    checkpoint::Snapshot snap;
    snap.task = checkpoint::TaskId{"test-app", PartitionId{p}};
    snap.id = CheckpointId{1};
    snap.epoch = Epoch{1};
    for (const auto& topic : {w.users_topic, w.orders_topic}) {
      TopicPartition tp{topic, PartitionId{p}};
      auto marks = (*admin)->watermarks(tp);
      REQUIRE(marks.ok());
      REQUIRE(marks->second > 0);
      snap.input_offsets[tp] = Offset{marks->second};
      if (topic == w.orders_topic) {
        orders.push_back(tp);
        ends[tp] = Offset{marks->second};
      }
    }
    REQUIRE((*store)->write(snap).ok());
  }

  auto config = Config::from_map({{"application.id", "test-app"},
                                  {"bootstrap.servers", bootstrap},
                                  {"commit.interval.ms", "100"},
                                  {"checkpoint.interval.ms", "200"},
                                  {"state.dir", state}});
  REQUIRE(config.ok());
  Application app(examples::make_orders_topology(w), *config);
  REQUIRE(app.start().ok());
  auto group = connectors::KafkaConsumer::create(
      {{"bootstrap.servers", bootstrap}, {"group.id", "test-app"}});
  REQUIRE(group.ok());
  std::map<TopicPartition, Offset> committed;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    auto c = (*group)->committed(orders, std::chrono::seconds(5));
    if (c.ok()) committed = *c;
    if (committed == ends) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(committed == ends);  // without a single record processed
  CHECK(app.stats().records_in == 0);
  REQUIRE(app.stop());
}

// Every checkpoint of the tasks is damaged while the group has committed
// offsets (which only a durable checkpoint allowed): the state those
// checkpoints held is gone, so the tasks must rebuild it from the beginning
// of their inputs, not resume at the committed offsets with empty state
// (per-user counts would restart from zero).
TEST_CASE("tasks whose checkpoints are all damaged rebuild from the beginning, not the committed offsets",
          "[integration][application][checkpoint]") {
  const int32_t partitions = 2;
  OrdersRun run(20, 22, 200, partitions);
  const auto& w = run.w;
  const std::string& bootstrap = run.bootstrap;
  const std::string& state = run.state;

  auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", bootstrap}});
  REQUIRE(admin.ok());
  auto store = checkpoint::DirectoryStore::open(state);
  REQUIRE(store.ok());
  auto group = connectors::KafkaConsumer::create(
      {{"bootstrap.servers", bootstrap}, {"group.id", "test-app"}});
  REQUIRE(group.ok());
  std::vector<std::pair<TopicPartition, Offset>> ends;
  for (int32_t p = 0; p < partitions; ++p) {
    checkpoint::TaskId task{"test-app", PartitionId{p}};
    checkpoint::Snapshot snap;
    snap.task = task;
    snap.id = CheckpointId{1};
    snap.epoch = Epoch{1};
    TopicPartition tp{w.orders_topic, PartitionId{p}};
    auto marks = (*admin)->watermarks(tp);
    REQUIRE(marks.ok());
    snap.input_offsets[tp] = Offset{marks->second};
    ends.emplace_back(tp, Offset{marks->second});
    REQUIRE((*store)->write(snap).ok());
    // Damaged on disk: its last bytes are gone.
    const std::string path = (*store)->file_path(task, CheckpointId{1});
    std::filesystem::resize_file(path, std::filesystem::file_size(path) - 4);
  }
  REQUIRE((*group)->commit_sync(ends).ok());

  auto config = Config::from_map({{"application.id", "test-app"},
                                  {"bootstrap.servers", bootstrap},
                                  {"commit.interval.ms", "100"},
                                  {"checkpoint.interval.ms", "200"},
                                  {"state.dir", state}});
  REQUIRE(config.ok());
  Application app(examples::make_orders_topology(w), *config);
  REQUIRE(app.start().ok());
  const auto everything = static_cast<uint64_t>(w.users + w.orders);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (app.stats().records_in < everything && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(app.stats().records_in == everything);  // every order counted again, none skipped
  REQUIRE(app.stop());
}

// Application::start restores its tasks on several threads: a checkpoint
// that does not fit the topology, whichever task and thread it falls to,
// stops the start with the error naming that task and store, and a second
// start with the checkpoint repaired restores every task.
TEST_CASE("a checkpoint that does not fit the topology stops a start that restores on several threads",
          "[integration][application][checkpoint]") {
  const int32_t partitions = 8;
  OrdersRun run(40, 40, 100, partitions);
  const auto& w = run.w;
  const std::string& bootstrap = run.bootstrap;
  const std::string& state = run.state;

  auto config = Config::from_map({{"application.id", "test-app"},
                                  {"bootstrap.servers", bootstrap},
                                  {"commit.interval.ms", "100"},
                                  {"checkpoint.interval.ms", "200"},
                                  {"state.dir", state}});
  REQUIRE(config.ok());
  const auto everything = static_cast<uint64_t>(w.users + w.orders);
  {
    // A first run leaves a checkpoint per task (written again at stop).
    Application app(examples::make_orders_topology(w), *config);
    REQUIRE(app.start().ok());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (app.stats().records_in < everything && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(app.stats().records_in == everything);
    REQUIRE(app.stop());
  }
  auto store = checkpoint::DirectoryStore::open(state);
  REQUIRE(store.ok());
  const checkpoint::TaskId bad{"test-app", PartitionId{5}};
  auto newest = (*store)->load_latest_chain(bad);
  REQUIRE(newest.ok());
  REQUIRE(newest->has_value());
  checkpoint::Snapshot foreign = (*newest)->back();
  auto ids = (*store)->list(bad);
  REQUIRE(ids.ok());
  REQUIRE_FALSE(ids->empty());
  foreign.id = CheckpointId{std::max_element(ids->begin(), ids->end())->value() + 1};
  foreign.incremental = false;
  foreign.sections.emplace_back("no-such-store", std::string("\x90", 1));
  REQUIRE((*store)->write(foreign).ok());
  {
    Application app(examples::make_orders_topology(w), *config);
    auto started = app.start();
    REQUIRE_FALSE(started.ok());
    CHECK_THAT(started.error().message,
               Catch::Contains("of task test-app-5") && Catch::Contains("'no-such-store'"));
  }
  // Without it, the start restores all eight tasks and reads nothing again.
  REQUIRE((*store)->remove(bad, foreign.id).ok());
  {
    Application app(examples::make_orders_topology(w), *config);
    REQUIRE(app.start().ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    uint64_t restores = 0;
    for (const auto& t : app.task_metrics()) restores += t.restores;
    CHECK(restores == static_cast<uint64_t>(partitions));
    CHECK(app.stats().records_in == 0);
    REQUIRE(app.stop());
  }
}
