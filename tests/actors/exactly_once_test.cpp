// processing.guarantee=exactly_once_v2 on the embedded broker: which
// checkpoints count as committed, the transaction cycle of running tasks,
// aborts that rewind a task, and a fenced task that stops. The embedded
// broker shows aborted records to read_committed readers (PLATFORM.md), so
// output may hold duplicates here; state (counts), committed offsets and
// checkpoints must agree exactly, and no input may be missing from the
// output.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "actors/application.hpp"
#include "actors/transaction_coordinator.hpp"
#include "chaos/topic_reader.hpp"
#include "checkpoint/directory_store.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/topic_admin.hpp"
#include "examples/orders_enrichment.hpp"
#include "runtime/codec.hpp"
#include "support/eos_checks.hpp"
#include "support/task_totals.hpp"
#include "support/topic_reader.hpp"

using namespace rivulet;
using rivulet::testing::Collector;
using rivulet::testing::ReadRecord;

namespace {

constexpr int16_t kAddOffsetsToTxn = 25;
constexpr int16_t kEndTxn = 26;

std::string fresh_dir() {
  std::string templ = (std::filesystem::temp_directory_path() / "rivulet-eos-XXXXXX").string();
  REQUIRE(::mkdtemp(templ.data()) != nullptr);
  return templ;
}

TopicPartition tp(const std::string& t, int32_t p) { return TopicPartition{t, PartitionId{p}}; }

checkpoint::Snapshot snapshot_with(const std::string& app, int64_t id, int64_t offset) {
  checkpoint::Snapshot s;
  s.task = checkpoint::TaskId{app, PartitionId{0}};
  s.id = CheckpointId{id};
  s.input_offsets = {{tp("orders", 0), Offset{offset}}};
  s.sections = {{"counts", "x"}};
  return s;
}

struct Run {
  examples::OrdersWorkload w;
  std::unique_ptr<connectors::EmbeddedBroker> broker;
  std::string state = fresh_dir();
  int32_t partitions = 4;

  Run() {
    w.users = 500;
    w.user_space = 550;
    w.orders = 6000;
    auto b = connectors::EmbeddedBroker::start();
    REQUIRE(b.ok());
    broker = std::move(*b);
    for (const auto& t : {w.users_topic, w.orders_topic, w.enriched_topic, w.counts_topic}) {
      REQUIRE(broker->create_topic(t, partitions).ok());
    }
    REQUIRE(examples::produce_orders_workload(broker->bootstrap(), w, nullptr).ok());
  }
  ~Run() { std::filesystem::remove_all(state); }

  Config config(std::map<std::string, std::string> extra = {}) const {
    std::map<std::string, std::string> values = {{"application.id", "eos-app"},
                                                 {"bootstrap.servers", broker->bootstrap()},
                                                 {"processing.guarantee", "exactly_once_v2"},
                                                 {"state.dir", state},
                                                 {"log.level", "warn"}};
    for (auto& [k, v] : extra) values[k] = v;
    auto c = Config::from_map(values);
    REQUIRE(c.ok());
    return *c;
  }

  // Waits until the group committed every orders partition to its end.
  bool wait_consumed(Application& app, std::chrono::seconds timeout) {
    auto group = connectors::KafkaConsumer::create(
        {{"bootstrap.servers", broker->bootstrap()}, {"group.id", "eos-app"}});
    REQUIRE(group.ok());
    std::vector<TopicPartition> tps;
    for (int32_t p = 0; p < partitions; ++p) tps.push_back(tp(w.orders_topic, p));
    auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", broker->bootstrap()}});
    REQUIRE(admin.ok());
    int64_t end = 0;
    for (const auto& t : tps) {
      auto marks = (*admin)->watermarks(t);
      REQUIRE(marks.ok());
      end += marks->second;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (app.failure()) return false;
      auto committed = (*group)->committed(tps, std::chrono::seconds(5));
      if (committed) {
        int64_t total = 0;
        for (const auto& [t, o] : *committed) total += o.value();
        if (total >= end) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // Reads both outputs to their end (on the embedded broker they may hold
  // aborted copies, so a count of records says nothing about being done).
  void check_outputs() {
    auto json = make_json_codec();
    std::map<std::string, int64_t> counts;
    std::set<int64_t> orders;
    for (const auto& topic : {w.enriched_topic, w.counts_topic}) {
      auto contents =
          chaos::read_topic(broker->bootstrap(), topic, {true, std::chrono::seconds(30), {}});
      REQUIRE(contents.ok());
      for (const auto& r : contents->records) {
        REQUIRE(r.record.value);
        auto v = json->decode(*r.record.value);
        REQUIRE(v.ok());
        if (topic == w.enriched_topic) {
          orders.insert(v->field("order_id")->to_int64());
        } else {
          counts[v->field("user_id")->as_string()] = v->field("orders")->to_int64();
        }
      }
    }
    CHECK(orders.size() == static_cast<size_t>(w.orders));  // every input in the output
    CHECK(counts == w.expected_counts());                   // exact state
  }
};

uint64_t committed_transactions(const Application& app) {
  return testing::task_total(app, &TaskMetrics::transactions_committed);
}

uint64_t aborted_transactions(const Application& app) {
  return testing::task_total(app, &TaskMetrics::transactions_aborted);
}

}  // namespace

TEST_CASE("a checkpoint is ahead of the committed offsets when any partition is",
          "[actors][exactly-once]") {
  using actors::ahead_of_committed;
  std::map<TopicPartition, Offset> committed{{tp("a", 0), Offset{10}}, {tp("b", 0), Offset{5}}};
  CHECK_FALSE(ahead_of_committed({}, committed));
  CHECK_FALSE(ahead_of_committed({{tp("a", 0), Offset{10}}}, committed));
  CHECK_FALSE(ahead_of_committed({{tp("a", 0), Offset{9}}, {tp("b", 0), Offset{5}}}, committed));
  CHECK(ahead_of_committed({{tp("a", 0), Offset{11}}}, committed));
  CHECK(ahead_of_committed({{tp("a", 0), Offset{1}}, {tp("b", 0), Offset{6}}}, committed));
  // Nothing committed for a partition: only offset 0 is not ahead.
  CHECK_FALSE(ahead_of_committed({{tp("c", 0), Offset{0}}}, committed));
  CHECK(ahead_of_committed({{tp("c", 0), Offset{1}}}, committed));
  CHECK(ahead_of_committed({{tp("a", 0), Offset{1}}}, {}));
}

TEST_CASE("checkpoints of transactions that never committed are dropped, newest first",
          "[actors][exactly-once]") {
  const std::string dir = fresh_dir();
  auto store = checkpoint::DirectoryStore::open(dir);
  REQUIRE(store.ok());
  checkpoint::TaskId task{"app", PartitionId{0}};
  for (int64_t id = 1; id <= 4; ++id) REQUIRE((*store)->write(snapshot_with("app", id, id * 10)).ok());

  SECTION("the group committed checkpoint 2's offsets: 3 and 4 go") {
    auto dropped = actors::drop_uncommitted_checkpoints(**store, task, {{tp("orders", 0), Offset{20}}});
    REQUIRE(dropped.ok());
    CHECK(*dropped == std::vector<CheckpointId>{CheckpointId{4}, CheckpointId{3}});
    auto ids = (*store)->list(task);
    REQUIRE(ids.ok());
    CHECK(*ids == std::vector<CheckpointId>{CheckpointId{2}, CheckpointId{1}});
  }
  SECTION("the newest is committed: nothing goes") {
    auto dropped = actors::drop_uncommitted_checkpoints(**store, task, {{tp("orders", 0), Offset{40}}});
    REQUIRE(dropped.ok());
    CHECK(dropped->empty());
  }
  SECTION("nothing committed: every checkpoint with progress goes") {
    auto dropped = actors::drop_uncommitted_checkpoints(**store, task, {});
    REQUIRE(dropped.ok());
    CHECK(dropped->size() == 4);
    auto ids = (*store)->list(task);
    REQUIRE(ids.ok());
    CHECK(ids->empty());
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("exactly_once_v2: transactions commit with checkpoints that match the committed offsets",
          "[integration][exactly-once]") {
  Run run;
  {
    Application app(examples::make_orders_topology(run.w), run.config());
    auto started = app.start();
    INFO((started.ok() ? std::string() : started.error().to_string()));
    REQUIRE(started.ok());
    REQUIRE(run.wait_consumed(app, std::chrono::seconds(60)));
    CHECK(committed_transactions(app) > 0);
    CHECK(aborted_transactions(app) == 0);
    CHECK(app.stop());
    CHECK_FALSE(app.failure());
  }
  run.check_outputs();
  testing::check_checkpoints_match_committed(run.broker->bootstrap(), run.state, "eos-app",
                                             run.w.orders_topic, run.partitions);
}

TEST_CASE("exactly_once_v2: an abortable error aborts the transaction and rewinds the task",
          "[integration][exactly-once]") {
  // With the output cache too: the counts it held for the aborted
  // transaction are dropped with it and counted again after the rewind.
  const std::string cache = GENERATE(as<std::string>(), "0", "16777216");
  INFO("statestore.cache.max.bytes=" << cache);
  Run run;
  // The next two AddOffsetsToTxn requests (only transactional producers send
  // them) fail in a way that requires an abort.
  REQUIRE(run.broker
              ->apply(connectors::ControlRequest::push_request_errors(
                  kAddOffsetsToTxn, {RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED,
                                     RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED}))
              .ok());
  Application app(examples::make_orders_topology(run.w), run.config({{"statestore.cache.max.bytes", cache}}));
  REQUIRE(app.start().ok());
  REQUIRE(run.wait_consumed(app, std::chrono::seconds(60)));
  CHECK(aborted_transactions(app) >= 2);
  uint64_t restores = 0;
  for (const auto& m : app.task_metrics()) restores += m.restores;
  CHECK(restores >= 2);  // each abort rewound its task
  CHECK(app.stop());
  INFO((app.failure() ? *app.failure() : std::string()));
  CHECK_FALSE(app.failure());
  run.check_outputs();
  testing::check_checkpoints_match_committed(run.broker->bootstrap(), run.state, "eos-app",
                                             run.w.orders_topic, run.partitions);
}

TEST_CASE("exactly_once_v2: a fenced producer stops its task with the reason",
          "[integration][exactly-once]") {
  Run run;
  // What a real cluster answers a zombie once a newer owner of the task
  // initialized the same transactional.id (the mock does not fence).
  REQUIRE(run.broker
              ->apply(connectors::ControlRequest::push_request_errors(
                  kEndTxn, {RD_KAFKA_RESP_ERR_PRODUCER_FENCED}))
              .ok());
  Application app(examples::make_orders_topology(run.w), run.config());
  REQUIRE(app.start().ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!app.failure() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(app.failure());
  INFO(*app.failure());
  CHECK(app.failure()->find("exactly_once_v2") != std::string::npos);
  CHECK(app.failure()->find("FENCED") != std::string::npos);
  CHECK(app.failure()->find("newer owner") != std::string::npos);
  CHECK(app.failure()->find("eos-app-") != std::string::npos);  // the transactional.id
  CHECK_FALSE(app.stop());  // a task failed
}

TEST_CASE("exactly_once_v2 without checkpoints is refused at start", "[actors][exactly-once]") {
  auto c = Config::from_map({{"application.id", "eos-refused"},
                             {"bootstrap.servers", "127.0.0.1:1"},
                             {"processing.guarantee", "exactly_once_v2"},
                             {"checkpoint.interval.ms", "0"}});
  REQUIRE(c.ok());
  Topology topo;
  topo.stream("in", codecs::string_json()).to("out", codecs::string_json());
  Application app(std::move(topo), *c);
  auto started = app.start();
  REQUIRE_FALSE(started.ok());
  CHECK(started.error().message.find("checkpoint.interval.ms") != std::string::npos);
}
