// Integration tests of the Application (task actors over Kafka) against an
// embedded broker started in the test process.
#include "actors/application.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include "checkpoint/directory_store.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/kafka_producer.hpp"
#include "examples/orders_enrichment.hpp"
#include "runtime/codec.hpp"
#include "support/committed_progress.hpp"
#include "support/temp_dir.hpp"
#include "support/topic_reader.hpp"
#include "support/wait_for.hpp"

using namespace rivulet;
using Clock = std::chrono::steady_clock;
using rivulet::testing::Collector;
using rivulet::testing::read_until;
using rivulet::testing::ReadRecord;

namespace {

std::string fresh_state_dir() { return rivulet::testing::scratch_dir(); }

std::unique_ptr<connectors::EmbeddedBroker> start_broker(const examples::OrdersWorkload& w,
                                                         int32_t partitions) {
  auto broker = connectors::EmbeddedBroker::start();
  REQUIRE(broker.ok());
  for (const auto& t : {w.users_topic, w.orders_topic, w.enriched_topic, w.counts_topic}) {
    REQUIRE((*broker)->create_topic(t, partitions).ok());
  }
  return std::move(*broker);
}

Config app_config(const std::string& bootstrap, const std::string& state_dir,
                  std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> values = {{"application.id", "test-app"},
                                               {"bootstrap.servers", bootstrap},
                                               {"commit.interval.ms", "100"},
                                               {"checkpoint.interval.ms", "200"},
                                               {"state.dir", state_dir}};
  for (auto& [k, v] : extra) values[k] = v;
  auto c = Config::from_map(values);
  REQUIRE(c.ok());
  return *c;
}

// Last count per user in order-counts, and per order id the enriched copies.
struct Outputs {
  std::map<std::string, int64_t> counts;
  std::map<int64_t, int> order_copies;
  int64_t matched = 0;
};

Outputs summarize(const std::vector<ReadRecord>& records, const examples::OrdersWorkload& w) {
  Outputs out;
  auto json = make_json_codec();
  std::map<TopicPartition, int64_t> last_offset;
  for (const auto& r : records) {
    if (!r.value) continue;
    auto v = json->decode(*r.value);
    REQUIRE(v.ok());
    if (r.tp.topic == w.enriched_topic) {
      int64_t id = v->field("order_id")->to_int64();
      if (out.order_copies[id]++ == 0 && !v->field("name")->is_null()) ++out.matched;
    } else if (r.tp.topic == w.counts_topic) {
      out.counts[v->field("user_id")->as_string()] = v->field("orders")->to_int64();
    }
  }
  return out;
}

// Each user's latest count in the count records read so far (`fold` takes
// those a Collector got since the last call).
struct LatestCounts {
  std::map<std::string, int64_t> by_user;
  size_t cursor = 0;
  std::unique_ptr<Codec> json = make_json_codec();

  void fold(const Collector& c, const std::string& counts_topic) {
    c.for_each_new(cursor, [&](const ReadRecord& r) {
      if (r.tp.topic != counts_topic || !r.value) return;
      auto v = json->decode(*r.value);
      if (v.ok()) by_user[v->field("user_id")->as_string()] = v->field("orders")->to_int64();
    });
  }
};

// Orders [from, to) of the workload, written as produce_orders_workload
// writes them (keyed by user).
void produce_orders(const std::string& bootstrap, const examples::OrdersWorkload& w, int64_t from,
                    int64_t to) {
  auto producer = connectors::KafkaProducer::create({{"bootstrap.servers", bootstrap}}, nullptr);
  REQUIRE(producer.ok());
  for (int64_t o = from; o < to; ++o) {
    OutputRecord rec;
    rec.topic = w.orders_topic;
    rec.key = w.user_id(w.user_of_order(o));
    rec.value = R"({"order_id":)" + std::to_string(o) + R"(,"user_id":")" + *rec.key +
                R"(","amount":1.00})";
    REQUIRE((*producer)->produce(rec, nullptr).ok());
  }
  REQUIRE((*producer)->flush(std::chrono::seconds(30)).ok());
}

// Waits (up to a minute) until the group committed `total` records.
void wait_committed(const testing::CommittedProgress& committed, int64_t total) {
  testing::wait_for([&] { return committed.total() >= total; }, std::chrono::seconds(60));
  REQUIRE(committed.total() == total);
}

}  // namespace

TEST_CASE("orders LEFT JOIN users with per-user counts: every order once, counts exact",
          "[integration][application]") {
  examples::OrdersWorkload w;
  w.users = 2000;
  w.user_space = 2200;
  w.orders = 20000;
  auto broker = start_broker(w, 4);
  REQUIRE(examples::produce_orders_workload(broker->bootstrap(), w, nullptr).ok());

  Application app(examples::make_orders_topology(w),
                  app_config(broker->bootstrap(), fresh_state_dir()));
  auto started = app.start();
  INFO((started.ok() ? std::string() : started.error().to_string()));
  REQUIRE(started.ok());
  CHECK(app.partitions() == 4);
  // task.threads 0: a worker per core, at least 2 (not CAF's at least 4).
  CHECK(app.task_threads() == std::max<size_t>(2, std::thread::hardware_concurrency()));

  auto records = read_until(broker->bootstrap(), {w.enriched_topic, w.counts_topic}, 4,
                            [&](const Collector& c) {
                              return c.count(w.enriched_topic) >= static_cast<size_t>(w.orders) &&
                                     c.count(w.counts_topic) >= static_cast<size_t>(w.orders);
                            });
  // The users table answers queries from this thread while tasks run.
  auto users = app.table("users");
  CHECK(users.size() == static_cast<size_t>(w.users));
  auto user = users.get(Value::string(w.user_id(42)));
  REQUIRE(user.has_value());
  CHECK(*user->field("name") == Value::string("User 42"));
  CHECK_FALSE(users.get(Value::string(w.user_id(w.users + 1))).has_value());
  CHECK(users.keys().size() == static_cast<size_t>(w.users));
  CHECK(users.stats().size == static_cast<size_t>(w.users));
  CHECK(users.stats().updates_applied == static_cast<uint64_t>(w.users));
  CHECK(users.stats().last_update.has_value());
  auto german = users.filter(
      [](const Value&, const Value& v) { return *v.field("country") == Value::string("DE"); });
  CHECK(german.size() == static_cast<size_t>(w.users / 8));  // every eighth user
  auto names = users.map_values([](const Value& v) { return *v.field("name"); });
  CHECK(names.size() == static_cast<size_t>(w.users));
  CHECK(users.wait_for_keys(static_cast<size_t>(w.users), std::chrono::milliseconds(10)));
  REQUIRE(app.stop());

  auto out = summarize(records, w);
  CHECK(out.order_copies.size() == static_cast<size_t>(w.orders));
  for (const auto& [id, copies] : out.order_copies) {
    INFO("order " << id);
    CHECK(copies == 1);
  }
  CHECK(out.matched == w.expected_matched());
  CHECK(out.counts == w.expected_counts());
  // Provenance: each output names its task, epoch and input record.
  for (const auto& r : records) {
    bool input = false, task = false, epoch = false;
    for (const auto& h : r.headers) {
      input = input || h.name == "rivulet.input";
      task = task || h.name == "rivulet.task";
      epoch = epoch || h.name == "rivulet.epoch";
    }
    REQUIRE((input && task && epoch));
  }
}

TEST_CASE("table.decoded.max.bytes decides when AUTO tables are encoded, and answers do not change",
          "[integration][application]") {
  examples::OrdersWorkload w;
  w.users = 2000;  // 1,000 per task, under table.auto.encode.rows
  w.user_space = 2200;
  w.orders = 5000;
  // 0: encoded from the first row; 200,000 bytes: 100,000 per task, less
  // than 1,000 decoded users take (about 300 bytes each); 100 MB: decoded.
  const auto [budget, encoded] =
      GENERATE(table<std::string, bool>({{"0", true}, {"200000", true}, {"100000000", false}}));
  INFO("table.decoded.max.bytes " << budget);
  auto broker = start_broker(w, 2);
  REQUIRE(examples::produce_orders_workload(broker->bootstrap(), w, nullptr).ok());
  Application app(
      examples::make_orders_topology(w),
      app_config(broker->bootstrap(), fresh_state_dir(), {{"table.decoded.max.bytes", budget}}));
  REQUIRE(app.start().ok());
  auto records = read_until(broker->bootstrap(), {w.enriched_topic, w.counts_topic}, 2,
                            [&](const Collector& c) {
                              return c.count(w.enriched_topic) >= static_cast<size_t>(w.orders) &&
                                     c.count(w.counts_topic) >= static_cast<size_t>(w.orders);
                            });
  auto user = app.table("users").get(Value::string(w.user_id(42)));
  REQUIRE(user.has_value());
  CHECK(*user->field("name") == Value::string("User 42"));
  size_t rows = 0;
  for (const auto& task : app.task_metrics(true)) {
    for (const auto& t : task.tables) {
      if (t.name != "users") continue;
      CHECK(t.encoded == encoded);
      REQUIRE(t.decoded_max_bytes.has_value());
      CHECK(*t.decoded_max_bytes == std::stoull(budget) / 2);
      if (encoded) CHECK(t.bytes < t.rows * 150);  // not 300 decoded
      rows += t.rows;
    }
  }
  CHECK(rows == static_cast<size_t>(w.users));
  REQUIRE(app.stop());
  auto out = summarize(records, w);
  CHECK(out.order_copies.size() == static_cast<size_t>(w.orders));
  CHECK(out.matched == w.expected_matched());
  CHECK(out.counts == w.expected_counts());
}

// A task whose inbox has run dry while the broker holds more than 1,000
// more records of its input (its next batch is on the way) is behind, not
// caught up: it keeps caching. With commits too rare to flush, a backlog read in
// many batches writes each user's count once, when the task reaches the
// end of it.
TEST_CASE("with the output cache a backlog writes each count once: when its task catches up",
          "[integration][application]") {
  examples::OrdersWorkload w;
  w.users = 200;
  w.user_space = 220;
  w.orders = 20000;
  auto broker = start_broker(w, 4);
  // The embedded broker returns one producer batch per partition per fetch.
  // The first 14,000 orders are written in 28 rounds, so the task gets them
  // about 125 at a time and often has none buffered while more than 1,000
  // are still on the broker. The last 6,000 are one round: 1,280-1,608 per
  // partition in one batch (more than 1,000, and within one consumer batch
  // of 2,000), so the task is never within 1,000 records of the end before
  // it has all of it. Within those 1,000 a dry inbox means the task keeps up
  // with its consumer, and it writes what it has: how often that happened
  // with many small batches there depended on the machine's load.
  for (int64_t first = 0; first < w.orders;) {
    examples::LoadOptions load;
    load.users = first == 0;
    load.first_order = first;
    load.last_order = first < 14000 ? first + 500 : w.orders;
    // A loaded machine must not split the last round (a flush waits out the linger).
    if (load.last_order == w.orders) load.linger_ms = 1000;
    REQUIRE(examples::produce_orders_workload(broker->bootstrap(), w, nullptr, load).ok());
    first = load.last_order;
  }
  Application app(examples::make_orders_topology(w),
                  app_config(broker->bootstrap(), fresh_state_dir(),
                             {{"statestore.cache.max.bytes", "67108864"},
                              {"commit.interval.ms", "600000"},
                              {"checkpoint.interval.ms", "0"}}));
  REQUIRE(app.start().ok());
  const auto want = w.expected_counts();
  LatestCounts latest;
  auto records = read_until(broker->bootstrap(), {w.counts_topic}, 4, [&](const Collector& c) {
    latest.fold(c, w.counts_topic);
    return latest.by_user == want;
  });
  CHECK(latest.by_user == want);
  REQUIRE(app.stop());
  INFO("counts written: " << records.size() << " for " << want.size() << " users");
  CHECK(records.size() <= want.size() + want.size() / 10);
}

TEST_CASE("with the output cache, counts leave once per user and commit, and end exact",
          "[integration][application]") {
  examples::OrdersWorkload w;
  w.users = 200;
  w.user_space = 220;
  w.orders = 20000;
  auto broker = start_broker(w, 4);
  REQUIRE(examples::produce_orders_workload(broker->bootstrap(), w, nullptr).ok());
  // A budget this large is flushed by the commits and when a task catches
  // up; one of a byte (per task: under any record) after every run.
  const std::string budget = GENERATE(as<std::string>(), "67108864", "1");
  INFO("statestore.cache.max.bytes=" << budget);
  Application app(examples::make_orders_topology(w),
                  app_config(broker->bootstrap(), fresh_state_dir(),
                             {{"statestore.cache.max.bytes", budget}}));
  REQUIRE(app.start().ok());
  const auto want = w.expected_counts();
  LatestCounts latest;
  auto records = read_until(
      broker->bootstrap(), {w.enriched_topic, w.counts_topic}, 4, [&](const Collector& c) {
        latest.fold(c, w.counts_topic);
        return c.count(w.enriched_topic) >= static_cast<size_t>(w.orders) && latest.by_user == want;
      });
  // The counts are out before the application stops: the commits flushed
  // them (nothing waits for shutdown).
  CHECK(latest.by_user == want);
  REQUIRE(app.stop());
  auto out = summarize(records, w);
  CHECK(out.order_copies.size() == static_cast<size_t>(w.orders));
  CHECK(out.counts == want);
  size_t counts_written = 0;
  for (const auto& r : records) counts_written += r.tp.topic == w.counts_topic ? 1 : 0;
  if (budget != "1") {
    // 20,000 orders over 200 users, read in batches: far fewer than one
    // count per order.
    INFO("counts written: " << counts_written);
    CHECK(counts_written < static_cast<size_t>(w.orders) / 2);
  }
  // Every order's offset was committed, the cached counts' included.
  testing::CommittedProgress committed(broker->bootstrap(), "test-app", w.orders_topic, 4);
  CHECK(committed.total() == w.orders);
}

TEST_CASE("a restarted application restores its checkpoints and continues exactly",
          "[integration][application][checkpoint]") {
  // Both stores; with the Kafka store the restarted application has another
  // state.dir (another node, no shared file system).
  const std::string store = GENERATE(as<std::string>(), "directory", "kafka");
  INFO("checkpoint.store=" << store);
  examples::OrdersWorkload w;
  w.users = 500;
  w.user_space = 550;
  w.orders = 5000;
  auto broker = start_broker(w, 4);
  REQUIRE(examples::produce_orders_workload(broker->bootstrap(), w, nullptr).ok());
  const std::string state = fresh_state_dir();
  {
    Application app(examples::make_orders_topology(w),
                    app_config(broker->bootstrap(), state, {{"checkpoint.store", store}}));
    REQUIRE(app.start().ok());
    read_until(broker->bootstrap(), {w.enriched_topic}, 4, [&](const Collector& c) {
      return c.count(w.enriched_topic) >= static_cast<size_t>(w.orders);
    });
    REQUIRE(app.stop());  // writes a final checkpoint per task
  }
  // More orders arrive while the application is down.
  examples::OrdersWorkload more = w;
  more.orders = 7000;
  produce_orders(broker->bootstrap(), w, w.orders, more.orders);
  const std::string state_again = store == "kafka" ? fresh_state_dir() : state;
  Application again(examples::make_orders_topology(more),
                    app_config(broker->bootstrap(), state_again, {{"checkpoint.store", store}}));
  REQUIRE(again.start().ok());
  // The users table is back from the checkpoint before any user record is
  // read again: the table topic resumes at the checkpoint's offsets.
  CHECK(again.table("users").size() == static_cast<size_t>(w.users));
  // Each order yields one enriched record and one count update.
  auto records = read_until(broker->bootstrap(), {w.enriched_topic, w.counts_topic}, 4,
                            [&](const Collector& c) {
                              return c.count(w.enriched_topic) >=
                                         static_cast<size_t>(more.orders) &&
                                     c.count(w.counts_topic) >= static_cast<size_t>(more.orders);
                            });
  REQUIRE(again.stop());
  auto out = summarize(records, more);
  CHECK(out.order_copies.size() == static_cast<size_t>(more.orders));
  int64_t duplicated = 0;
  for (const auto& [id, copies] : out.order_copies) duplicated += copies > 1 ? 1 : 0;
  CHECK(duplicated == 0);  // the final checkpoint and commit covered everything
  CHECK(out.counts == more.expected_counts());  // counts continued from restored state
}

TEST_CASE(
    "checkpoints written off the task threads, or on them, let commits reach the end while running",
    "[integration][application][checkpoint]") {
  const std::string async = GENERATE(as<std::string>(), "true", "false");
  INFO("checkpoint.write.async=" << async);
  examples::OrdersWorkload w;
  w.users = 200;
  w.user_space = 220;
  w.orders = 3000;
  auto broker = start_broker(w, 4);
  REQUIRE(examples::produce_orders_workload(broker->bootstrap(), w, nullptr).ok());
  const std::string state = fresh_state_dir();
  Application app(examples::make_orders_topology(w),
                  app_config(broker->bootstrap(), state, {{"checkpoint.write.async", async}}));
  REQUIRE(app.start().ok());
  read_until(broker->bootstrap(), {w.enriched_topic}, 4, [&](const Collector& c) {
    return c.count(w.enriched_topic) >= static_cast<size_t>(w.orders);
  });
  // No stop, so no final checkpoint: the periodic ones become durable (the
  // writer's outcome wakes the task) and the commits follow them.
  testing::CommittedProgress committed(broker->bootstrap(), "test-app", w.orders_topic, 4);
  wait_committed(committed, w.orders);
  auto offsets = committed.offsets();
  REQUIRE(offsets.ok());
  // A commit never passes the task's newest durable checkpoint.
  auto store = checkpoint::DirectoryStore::open(state);
  REQUIRE(store.ok());
  for (int32_t p = 0; p < 4; ++p) {
    const TopicPartition tp{w.orders_topic, PartitionId{p}};
    auto newest = (*store)->load_latest_valid(checkpoint::TaskId{"test-app", PartitionId{p}});
    REQUIRE(newest.ok());
    REQUIRE(newest->has_value());
    auto covered = (*newest)->input_offsets.find(tp);
    REQUIRE(covered != (*newest)->input_offsets.end());
    CHECK(covered->second >= offsets->at(tp));
  }
  for (const auto& m : app.task_metrics(false)) {
    CHECK(m.checkpoints >= 1);
    CHECK(m.checkpoint_write_us > 0);
  }
  REQUIRE(app.stop());
}

TEST_CASE("an idle task writes no checkpoint until it processes again and none at its stop",
          "[integration][application][checkpoint]") {
  examples::OrdersWorkload w;
  w.users = 200;
  w.user_space = 220;
  w.orders = 2000;
  auto broker = start_broker(w, 4);
  REQUIRE(examples::produce_orders_workload(broker->bootstrap(), w, nullptr).ok());
  const std::string state = fresh_state_dir();
  auto store = checkpoint::DirectoryStore::open(state);
  REQUIRE(store.ok());
  auto ids_of = [&](int32_t p) {
    auto ids = (*store)->list(checkpoint::TaskId{"test-app", PartitionId{p}});
    REQUIRE(ids.ok());
    return *ids;
  };
  testing::CommittedProgress committed(broker->bootstrap(), "test-app", w.orders_topic, 4);
  // checkpoint.interval.ms is 200.
  Application app(examples::make_orders_topology(w), app_config(broker->bootstrap(), state));
  REQUIRE(app.start().ok());
  // Commits follow durable checkpoints: all orders committed means each
  // task's newest checkpoint covers everything it read.
  wait_committed(committed, w.orders);
  auto all_skipped = [&] {
    for (const auto& m : app.task_metrics(false))
      if (m.checkpoints_skipped == 0) return false;
    return true;
  };
  REQUIRE(testing::wait_for(all_skipped, std::chrono::seconds(30)));
  const auto before = app.task_metrics(false);
  std::map<int32_t, std::vector<CheckpointId>> ids_before;
  for (int32_t p = 0; p < 4; ++p) ids_before[p] = ids_of(p);

  // Five intervals with nothing to process: no checkpoint is taken.
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  const auto idle = app.task_metrics(false);
  REQUIRE(idle.size() == before.size());
  for (size_t i = 0; i < idle.size(); ++i) {
    INFO("task " << idle[i].task);
    CHECK(idle[i].checkpoints == before[i].checkpoints);
    CHECK(idle[i].checkpoints_skipped >= before[i].checkpoints_skipped + 3);
  }
  for (int32_t p = 0; p < 4; ++p) CHECK(ids_of(p) == ids_before[p]);

  // New orders: every task that reads some takes checkpoints again, and
  // the commits reach the new end through them.
  const int64_t more = 400;
  produce_orders(broker->bootstrap(), w, w.orders, w.orders + more);
  wait_committed(committed, w.orders + more);
  const auto offsets = committed.offsets();
  REQUIRE(offsets.ok());
  const auto active = app.task_metrics(false);
  for (size_t i = 0; i < active.size(); ++i) {
    INFO("task " << active[i].task);
    CHECK(active[i].checkpoints > idle[i].checkpoints);
  }
  const auto written = [&] {
    std::map<int32_t, std::vector<CheckpointId>> ids;
    for (int32_t p = 0; p < 4; ++p) ids[p] = ids_of(p);
    return ids;
  }();
  // Idle again by the time the last commit landed: the stop takes no final
  // checkpoint, and the newest one holds every order.
  REQUIRE(app.stop());
  for (int32_t p = 0; p < 4; ++p) {
    INFO("partition " << p);
    const TopicPartition tp{w.orders_topic, PartitionId{p}};
    CHECK(ids_of(p) == written.at(p));
    auto newest = (*store)->load_latest_valid(checkpoint::TaskId{"test-app", PartitionId{p}});
    REQUIRE(newest.ok());
    REQUIRE(newest->has_value());
    CHECK((*newest)->input_offsets.at(tp) == offsets->at(tp));
  }
}

TEST_CASE("inputs that are not co-partitioned are rejected at start",
          "[integration][application]") {
  examples::OrdersWorkload w;
  auto broker = connectors::EmbeddedBroker::start();
  REQUIRE(broker.ok());
  REQUIRE((*broker)->create_topic(w.users_topic, 4).ok());
  REQUIRE((*broker)->create_topic(w.orders_topic, 3).ok());
  Application app(examples::make_orders_topology(w),
                  app_config((*broker)->bootstrap(), fresh_state_dir()));
  auto started = app.start();
  REQUIRE_FALSE(started.ok());
  CHECK_THAT(started.error().message, Catch::Contains("users partitions = 4") &&
                                          Catch::Contains("orders partitions = 3"));
}

TEST_CASE("poison records go to the dead-letter topic and good records are not lost",
          "[integration][application]") {
  examples::OrdersWorkload w;
  w.users = 10;
  w.user_space = 10;
  w.orders = 0;
  auto broker = start_broker(w, 2);
  REQUIRE((*broker).create_topic("test-app-dlq", 1).ok());
  REQUIRE(examples::produce_orders_workload(broker->bootstrap(), w, nullptr).ok());
  std::vector<std::string> poison = {R"({"order_id": 1, "user_id": )",  // truncated
                                     "\xff\xfe not utf-8", std::string(100, '{')};
  int good = 0;
  {
    auto producer = connectors::KafkaProducer::create(
        {{"bootstrap.servers", broker->bootstrap()}, {"message.max.bytes", "20000000"}}, nullptr);
    REQUIRE(producer.ok());
    for (int i = 0; i < 300; ++i) {
      OutputRecord rec;
      rec.topic = w.orders_topic;
      rec.key = w.user_id(i % 10);
      if (i % 100 == 50) {
        rec.value = poison[static_cast<size_t>(i / 100)];
      } else {
        rec.value = R"({"order_id":)" + std::to_string(i) + R"(,"user_id":")" + *rec.key + "\"}";
        ++good;
      }
      REQUIRE((*producer)->produce(rec, nullptr).ok());
    }
    (*producer)->flush(std::chrono::seconds(30));
  }
  Application app(examples::make_orders_topology(w),
                  app_config(broker->bootstrap(), fresh_state_dir()));
  REQUIRE(app.start().ok());
  auto records = read_until(broker->bootstrap(), {w.enriched_topic}, 2, [&](const Collector& c) {
    return c.count(w.enriched_topic) >= static_cast<size_t>(good);
  });
  auto dlq = read_until(broker->bootstrap(), {"test-app-dlq"}, 1, [&](const Collector& c) {
    return c.count("test-app-dlq") >= poison.size();
  });
  auto stats = app.stats();
  REQUIRE(app.stop());
  CHECK(records.size() == static_cast<size_t>(good));
  REQUIRE(dlq.size() == poison.size());
  CHECK(stats.dead_lettered == poison.size());
  for (const auto& r : dlq) {
    std::map<std::string, std::string> h;
    for (const auto& x : r.headers) h[x.name] = x.value.value_or("");
    CHECK(h["rivulet.source.topic"] == w.orders_topic);
    CHECK_FALSE(h["rivulet.source.offset"].empty());
    CHECK_FALSE(h["rivulet.error"].empty());
    bool original = false;
    for (const auto& p : poison) original = original || (r.value && *r.value == p);
    CHECK(original);  // the original bytes, untouched
  }
}

TEST_CASE("a tiny inbox applies backpressure without losing or duplicating records",
          "[integration][application]") {
  examples::OrdersWorkload w;
  w.users = 100;
  w.user_space = 110;
  w.orders = 6000;
  auto broker = start_broker(w, 2);
  REQUIRE(examples::produce_orders_workload(broker->bootstrap(), w, nullptr).ok());
  // Inboxes of one batch of 50 records: the consumer pauses the partitions
  // again and again.
  Application app(examples::make_orders_topology(w),
                  app_config(broker->bootstrap(), fresh_state_dir(),
                             {{"task.inbox.batches", "1"},
                              {"consumer.batch.max.records", "50"},
                              {"task.threads", "3"}}));
  REQUIRE(app.start().ok());
  CHECK(app.task_threads() == 3);
  auto records = read_until(broker->bootstrap(), {w.enriched_topic}, 2, [&](const Collector& c) {
    return c.count(w.enriched_topic) >= static_cast<size_t>(w.orders);
  });
  uint64_t pauses = 0;
  for (const auto& t : app.task_metrics()) pauses += t.input_pauses;
  CHECK(pauses > 0);  // rivulet_task_input_pauses_total
  REQUIRE(app.stop());
  auto out = summarize(records, w);
  CHECK(out.order_copies.size() == static_cast<size_t>(w.orders));
  CHECK(records.size() == static_cast<size_t>(w.orders));
}

// PAUSE (the shell's PAUSE query_id): a paused application processes
// nothing, its input waits (the consumer pauses the partitions once the
// inboxes are full), and after resume() every order comes out once.
TEST_CASE("a paused application processes nothing until resumed, then every record once",
          "[integration][application]") {
  examples::OrdersWorkload w;
  w.users = 100;
  w.user_space = 110;
  w.orders = 3000;
  auto broker = start_broker(w, 2);
  Application app(examples::make_orders_topology(w),
                  app_config(broker->bootstrap(), fresh_state_dir(),
                             {{"task.inbox.batches", "1"}, {"consumer.batch.max.records", "50"}}));
  REQUIRE(app.start().ok());
  app.pause();
  CHECK(app.paused());
  REQUIRE(examples::produce_orders_workload(broker->bootstrap(), w, nullptr).ok());
  // The consumer fills the inboxes, then holds the partitions back.
  REQUIRE(rivulet::testing::wait_for(
      [&] {
        uint64_t pauses = 0;
        for (const auto& t : app.task_metrics()) pauses += t.input_pauses;
        return pauses > 0;
      },
      std::chrono::seconds(30)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // commit and idle ticks pass
  for (const auto& t : app.task_metrics()) {
    CHECK(t.records_in == 0);
    CHECK(t.records_out == 0);
    CHECK(t.state == "paused");
    CHECK(t.lag > 0);
  }
  app.resume();
  CHECK_FALSE(app.paused());
  auto records = read_until(broker->bootstrap(), {w.enriched_topic}, 2, [&](const Collector& c) {
    return c.count(w.enriched_topic) >= static_cast<size_t>(w.orders);
  });
  for (const auto& t : app.task_metrics()) CHECK(t.state == "running");
  REQUIRE(app.stop());
  auto out = summarize(records, w);
  CHECK(out.order_copies.size() == static_cast<size_t>(w.orders));
  CHECK(records.size() == static_cast<size_t>(w.orders));
}
