// Exactly-once state through a repartition topic: clicks keyed by user are
// counted per page, so every task writes re-keyed records to the GROUP BY's
// repartition topic and counts what it reads back from its own partition of
// it. A task stopped at once (as a crash would stop it: nothing written,
// nothing committed) and started again replays its clicks from its last
// checkpoint (or from the beginning without one) and writes their re-keyed
// records again; the tasks reading them must skip the copies (their replay
// marks), or the per-page counts come out too high. Embedded broker in the
// test process.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "actors/application.hpp"
#include "chaos/topic_reader.hpp"
#include "checkpoint/directory_store.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/topic_admin.hpp"
#include "runtime/codec.hpp"

using namespace rivulet;

namespace {

constexpr int32_t kPartitions = 4;
constexpr int kPages = 40;

std::string page_of(int64_t click) { return "p" + std::to_string((click * 7919) % kPages); }
std::string user_of(int64_t click) { return "u" + std::to_string((click * 104729) % 997); }

Value page_key(const Record& r) {
  const Value* page = r.value.field("page");
  return page ? *page : Value();
}

// `two_phase`: the count in two phases (Topology::add_two_phase_aggregate):
// partial counts through the repartition topic, combined between flushes
// when the output cache is on.
Topology page_count_topology(bool two_phase) {
  Topology topo;
  if (!two_phase) {
    topo.stream("clicks", codecs::string_json())
        .group_by(page_key, "by-page")
        .count("page-counts")
        .to("page-counts", codecs::string_json());
    return topo;
  }
  auto keyed = topo.stream("clicks", codecs::string_json()).select_key(page_key, "by-page-key");
  AggregateSpec count;
  count.functions.push_back(AggregateFn::count());
  auto counts = topo.add_two_phase_aggregate(keyed.node(), "by-page", "page-counts", count,
                                             std::nullopt, true);
  topo.add_sink(counts, "page-counts", codecs::string_json(), true);
  return topo;
}

// `cache`: statestore.cache.max.bytes.
Config config_for(const std::string& bootstrap, const std::string& state_dir,
                  const std::string& checkpoint_interval_ms, const std::string& cache = "0",
                  const std::string& application_id = "page-views",
                  const std::string& guarantee = "at_least_once") {
  auto c = Config::from_map({{"application.id", application_id},
                             {"processing.guarantee", guarantee},
                             {"bootstrap.servers", bootstrap},
                             {"commit.interval.ms", "50"},
                             {"checkpoint.interval.ms", checkpoint_interval_ms},
                             {"consumer.batch.max.records", "100"},
                             {"log.level", "warn"},
                             {"statestore.cache.max.bytes", cache},
                             {"state.dir", state_dir}});
  REQUIRE(c.ok());
  return *c;
}

class Acks : public connectors::DeliveryHandler {
 public:
  void on_delivery(void*, const std::optional<Error>& e, int32_t, int64_t) override {
    if (e) failures.fetch_add(1);
  }
  std::atomic<int> failures{0};
};

// Clicks [first, first + n), keyed by user, at about `per_second`. Any
// thread (no Catch2 assertions): false when a click was not delivered.
bool produce_clicks(const std::string& bootstrap, int64_t first, int64_t n, int per_second) {
  Acks acks;
  auto p = connectors::KafkaProducer::create({{"bootstrap.servers", bootstrap}}, &acks);
  if (!p) return false;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n; ++i) {
    OutputRecord r;
    r.topic = "clicks";
    r.key = user_of(first + i);
    r.value = R"({"click": )" + std::to_string(first + i) + R"(, "page": ")" + page_of(first + i) +
              "\"}";
    if (!(*p)->produce(r, nullptr)) return false;
    if (i % 100 == 99) {
      std::this_thread::sleep_until(start +
                                    std::chrono::microseconds((i + 1) * 1000000 / per_second));
    }
  }
  return (*p)->flush(std::chrono::seconds(30)).ok() && acks.failures == 0;
}

uint64_t duplicates_skipped(const Application& app) {
  uint64_t n = 0;
  for (const auto& t : app.task_metrics()) n += t.replay_duplicates_skipped;
  return n;
}

uint64_t records_in(const Application& app, int32_t partition) {
  for (const auto& t : app.task_metrics())
    if (t.partition == partition) return t.records_in;
  return 0;
}

// Waits (bounded) until the application has read everything there is:
// no task lags behind its inputs (repartition topic included) and nothing
// was processed for a while. A count that is still short would hide a count
// that is about to be too high.
void wait_idle(const Application& app) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  uint64_t last = ~0ull;
  auto quiet_since = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < deadline) {
    uint64_t in = 0;
    int64_t lag = 0;
    for (const auto& t : app.task_metrics()) {
      in += t.records_in;
      lag += t.lag;
    }
    if (in != last || lag > 0) {
      last = in;
      quiet_since = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - quiet_since > std::chrono::milliseconds(1500)) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL("the application did not become idle within 60 s");
}

// The last count of every key in `topic` (page-counts), read to its end.
std::map<std::string, int64_t> final_counts(const std::string& bootstrap,
                                            const std::string& topic = "page-counts") {
  auto contents = chaos::read_topic(bootstrap, topic, {false, std::chrono::seconds(60), {}});
  if (!contents) FAIL("reading " << topic << ": " << contents.error().to_string());
  std::map<std::string, int64_t> counts;
  auto json = make_json_codec();
  size_t unreadable = 0;
  for (const auto& r : contents->records) {  // offset order within each partition
    auto v = r.record.value ? json->decode(*r.record.value) : Expected<Value>(Value());
    if (!r.record.key || !v || !v->is_numeric()) {
      ++unreadable;
      continue;
    }
    counts[std::string(*r.record.key)] = v->to_int64();
  }
  CHECK(unreadable == 0);
  return counts;
}

// The embedded broker with `topics`, kPartitions each.
std::unique_ptr<connectors::EmbeddedBroker> broker_with(std::initializer_list<const char*> topics) {
  auto broker = connectors::EmbeddedBroker::start();
  REQUIRE(broker.ok());
  for (const char* t : topics) REQUIRE((*broker)->create_topic(t, kPartitions).ok());
  return std::move(*broker);
}

std::string fresh_dir() {
  std::string templ = (std::filesystem::temp_directory_path() / "rivulet-replay-XXXXXX").string();
  REQUIRE(::mkdtemp(templ.data()) != nullptr);
  return templ;
}

}  // namespace

TEST_CASE("a task replaying into a repartition topic: the GROUP BY downstream counts exactly",
          "[integration][application][replay]") {
  auto broker = broker_with({"clicks", "page-counts"});
  const std::string bootstrap = broker->bootstrap();
  const std::string state = fresh_dir();
  std::map<std::string, int64_t> expected;
  int64_t produced = 0;
  // Counts the clicks as expected; produces them on the calling thread.
  auto expect = [&](int64_t n) {
    for (int64_t i = produced; i < produced + n; ++i) ++expected[page_of(i)];
    produced += n;
    return produced - n;
  };

  // One phase (rows through the topic); two phases (a partial count per
  // click); two phases with the output cache (partials combined between
  // flushes; a restored task sends each click alone up to its horizon).
  const int variant = GENERATE(0, 1, 2);
  const bool two_phase = variant > 0;
  const std::string cache = variant == 2 ? "1048576" : "0";
  INFO("two phases: " << two_phase << ", cache: " << cache);

  SECTION("restarted without a checkpoint: everything it wrote is written again") {
    // No checkpoint is due while the test runs: task 0 restarts from the
    // beginning of its clicks and of its partition of the repartition topic.
    Application app(page_count_topology(two_phase), config_for(bootstrap, state, "600000", cache));
    REQUIRE(app.start({0, 1, 2, 3}, 10).ok());
    REQUIRE(produce_clicks(bootstrap, expect(4000), 4000, 20000));
    wait_idle(app);
    REQUIRE(final_counts(bootstrap) == expected);
    REQUIRE(records_in(app, 0) > 0);
    // One record per click through the topic, unless combined.
    auto moved = chaos::read_topic(bootstrap, "page-views-by-page-repartition",
                                   {false, std::chrono::seconds(60), {}});
    REQUIRE(moved);
    INFO("records in the repartition topic: " << moved->records.size());
    if (variant < 2) {
      CHECK(moved->records.size() == 4000);
    } else {
      CHECK(moved->records.size() < 2000);
    }
    app.abandon_task(0);  // stopped at once: writes, commits and checkpoints nothing
    REQUIRE(app.add_task(0, 11).ok());
    REQUIRE(produce_clicks(bootstrap, expect(2000), 2000, 20000));
    wait_idle(app);
    // Task 0's clicks went through the repartition topic twice; the copies
    // that reached tasks 1..3 (and task 0 itself) were skipped.
    CHECK(duplicates_skipped(app) > 0);
    REQUIRE(app.stop());
    CHECK(final_counts(bootstrap) == expected);
  }

  SECTION("restored from checkpoints while input keeps coming: replays skipped every time") {
    Application app(page_count_topology(two_phase), config_for(bootstrap, state, "150", cache));
    REQUIRE(app.start({0, 1, 2, 3}, 10).ok());
    const int64_t first = expect(12000);
    std::atomic<bool> produced_ok{false};
    std::thread producer([&] { produced_ok = produce_clicks(bootstrap, first, 12000, 4000); });
    // Stop and restore each task at once while clicks arrive (3 s), each time
    // after it processed more input since its start.
    int64_t epoch = 11;
    for (int round = 0; round < 8; ++round) {
      const int32_t p = round % kPartitions;
      const uint64_t seen = records_in(app, p);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (records_in(app, p) < seen + 200 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      app.abandon_task(p);
      REQUIRE(app.add_task(p, epoch++).ok());
    }
    producer.join();
    REQUIRE(produced_ok);
    wait_idle(app);
    WARN("repartition records skipped as replay duplicates: " << duplicates_skipped(app));
    REQUIRE(app.stop());
    CHECK(final_counts(bootstrap) == expected);
  }
  std::filesystem::remove_all(state);
}

namespace {

// Clicks counted per user under the same group name ("by-page") as the
// per-page count: the same repartition topic name within a topology.
Topology user_count_topology() {
  Topology topo;
  topo.stream("clicks", codecs::string_json())
      .group_by([](const Record& r) { return r.key; }, "by-page")
      .count("user-counts")
      .to("user-counts", codecs::string_json());
  return topo;
}

}  // namespace

TEST_CASE(
    "two applications whose GROUP BYs have the same name each use their own repartition topic",
    "[integration][application][replay]") {
  auto broker = broker_with({"clicks", "page-counts", "user-counts"});
  const std::string bootstrap = broker->bootstrap();
  const std::string state_a = fresh_dir(), state_b = fresh_dir();
  std::map<std::string, int64_t> pages, users;
  for (int64_t i = 0; i < 2000; ++i) {
    ++pages[page_of(i)];
    ++users[user_of(i)];
  }
  // Before repartition topics were named by application.id both read
  // "by-page-repartition": each counted the other's records under keys of
  // the other kind.
  Application a(page_count_topology(false), config_for(bootstrap, state_a, "500", "0", "views-a"));
  Application b(user_count_topology(), config_for(bootstrap, state_b, "500", "0", "views-b"));
  REQUIRE(a.start({0, 1, 2, 3}, 1).ok());
  REQUIRE(b.start({0, 1, 2, 3}, 1).ok());
  REQUIRE(produce_clicks(bootstrap, 0, 2000, 20000));
  wait_idle(a);
  wait_idle(b);
  REQUIRE(a.stop());
  REQUIRE(b.stop());
  CHECK(final_counts(bootstrap, "page-counts") == pages);
  CHECK(final_counts(bootstrap, "user-counts") == users);
  for (const auto* topic : {"views-a-by-page-repartition", "views-b-by-page-repartition"}) {
    auto moved = chaos::read_topic(bootstrap, topic, {false, std::chrono::seconds(60), {}});
    REQUIRE(moved);
    CHECK(moved->records.size() == 2000);
  }
  std::filesystem::remove_all(state_a);
  std::filesystem::remove_all(state_b);
}

namespace {

// Turns application `from`'s checkpoints into `to`'s as a version before
// scoped repartition topics wrote them: their offsets of
// "<from>-by-page-repartition" name "by-page-repartition" instead, at
// `unscoped_offset[p]`. The newest one's offsets are committed for `to`'s
// group, as that version's last commit would have left them (under
// exactly_once_v2 a checkpoint ahead of them is dropped as uncommitted).
void write_unscoped_checkpoints(const std::string& bootstrap, const std::string& state_dir,
                                const std::string& from, const std::string& to,
                                const std::map<int32_t, int64_t>& unscoped_offset) {
  auto store = checkpoint::DirectoryStore::open(state_dir);
  REQUIRE(store);
  std::vector<std::pair<TopicPartition, Offset>> commits;
  for (int32_t p = 0; p < kPartitions; ++p) {
    auto ids = (*store)->list(checkpoint::TaskId{from, PartitionId{p}});
    REQUIRE(ids);
    REQUIRE(!ids->empty());
    for (const auto& id : *ids) {
      auto snap = (*store)->read(checkpoint::TaskId{from, PartitionId{p}}, id);
      REQUIRE(snap);
      snap->task = checkpoint::TaskId{to, PartitionId{p}};
      const TopicPartition scoped{from + "-by-page-repartition", PartitionId{p}};
      REQUIRE(snap->input_offsets.erase(scoped) == 1);
      auto at = unscoped_offset.find(p);
      snap->input_offsets[TopicPartition{"by-page-repartition", PartitionId{p}}] =
          Offset{at == unscoped_offset.end() ? 0 : at->second};
      REQUIRE((*store)->write(*snap));
      if (id == ids->front())  // newest first
        commits.insert(commits.end(), snap->input_offsets.begin(), snap->input_offsets.end());
    }
  }
  auto group =
      connectors::KafkaConsumer::create({{"bootstrap.servers", bootstrap}, {"group.id", to}});
  REQUIRE(group);
  REQUIRE((*group)->commit_sync(commits));
}

}  // namespace

TEST_CASE(
    "checkpoints from before scoped repartition topics: refused while the old topic holds unread "
    "records and then continued",
    "[integration][application][replay]") {
  auto broker = broker_with({"clicks", "page-counts"});
  const std::string bootstrap = broker->bootstrap();
  const std::string state = fresh_dir();
  std::map<std::string, int64_t> expected;
  for (int64_t i = 0; i < 3000; ++i) ++expected[page_of(i)];
  // Under exactly_once_v2 the restore also checks the checkpoint's offsets
  // of the old topic against the group's commits.
  const std::string guarantee = GENERATE(as<std::string>(), "at_least_once", "exactly_once_v2");
  INFO("processing.guarantee=" << guarantee);

  // The state an earlier version left: counts of the first 2000 clicks,
  // and offsets of the unscoped "by-page-repartition".
  {
    Application old(page_count_topology(false), config_for(bootstrap, state, "600000", "0", "old"));
    REQUIRE(old.start({0, 1, 2, 3}, 1).ok());
    REQUIRE(produce_clicks(bootstrap, 0, 2000, 20000));
    wait_idle(old);
    REQUIRE(old.stop());  // a final checkpoint per task
  }
  REQUIRE(broker->create_topic("by-page-repartition", kPartitions).ok());
  write_unscoped_checkpoints(bootstrap, state, "old", "page-views", {});

  // Two records the earlier version wrote to partition 1 and never read.
  {
    Acks acks;
    auto p = connectors::KafkaProducer::create({{"bootstrap.servers", bootstrap}}, &acks);
    REQUIRE(p);
    for (int i = 0; i < 2; ++i) {
      OutputRecord r;
      r.topic = "by-page-repartition";
      r.partition = 1;
      r.key = "p1";
      r.value = R"({"click": 0, "page": "p1"})";
      REQUIRE((*p)->produce(r, nullptr));
    }
    REQUIRE((*p)->flush(std::chrono::seconds(30)).ok());
    REQUIRE(acks.failures == 0);
  }
  {
    Application refused(page_count_topology(false),
                        config_for(bootstrap, state, "600000", "0", "page-views", guarantee));
    auto started = refused.start({0, 1, 2, 3}, 2);
    REQUIRE_FALSE(started.ok());
    INFO(started.error().message);
    CHECK_THAT(started.error().message,
               Catch::Contains("by-page-repartition partition 1 up to offset 0, and 2 records") &&
                   Catch::Contains("page-views-by-page-repartition"));
  }

  // The earlier version read them: the tasks restore and go on through
  // "page-views-by-page-repartition", counting every click once.
  write_unscoped_checkpoints(bootstrap, state, "old", "page-views", {{1, 2}});
  Application app(page_count_topology(false),
                  config_for(bootstrap, state, "600000", "0", "page-views", guarantee));
  REQUIRE(app.start({0, 1, 2, 3}, 3).ok());
  REQUIRE(produce_clicks(bootstrap, 2000, 1000, 20000));
  wait_idle(app);
  REQUIRE(app.stop());
  const auto counts = final_counts(bootstrap);
  std::ostringstream differ;
  for (const auto& [page, n] : expected) {
    auto it = counts.find(page);
    const int64_t got = it == counts.end() ? -1 : it->second;
    if (got != n) differ << page << ": " << got << " (expected " << n << ") ";
  }
  INFO("pages counted wrong: " << differ.str());
  CHECK(counts == expected);
  auto moved = chaos::read_topic(bootstrap, "page-views-by-page-repartition",
                                 {false, std::chrono::seconds(60), {}});
  REQUIRE(moved);
  CHECK(moved->records.size() == 1000);
  // The new checkpoints name only the topics the tasks read.
  auto store = checkpoint::DirectoryStore::open(state);
  REQUIRE(store);
  for (int32_t p = 0; p < kPartitions; ++p) {
    auto newest = (*store)->load_latest_valid(checkpoint::TaskId{"page-views", PartitionId{p}});
    REQUIRE(newest);
    REQUIRE(newest->has_value());
    for (const auto& [tp, offset] : (*newest)->input_offsets)
      CHECK(tp.topic != "by-page-repartition");
  }
  std::filesystem::remove_all(state);
}

TEST_CASE(
    "a restored task combines past what its lost run wrote instead of waiting for its input's "
    "high watermark",
    "[integration][application][replay]") {
  auto broker = broker_with({"clicks", "page-counts"});
  const std::string bootstrap = broker->bootstrap();
  const std::string state = fresh_dir();
  // repartition.lookback.max.records=0 turns the look back off: each of
  // the backlog's clicks then travels alone.
  const auto [guarantee, lookback] = GENERATE(table<std::string, std::string>(
      {{"at_least_once", "1000000"}, {"exactly_once_v2", "1000000"}, {"at_least_once", "0"}}));
  INFO("processing.guarantee=" << guarantee << ", repartition.lookback.max.records=" << lookback);
  std::map<std::string, int64_t> expected;
  for (int64_t i = 0; i < 8000; ++i) ++expected[page_of(i)];
  const std::string repartition = "page-views-by-page-repartition";

  Config config = config_for(bootstrap, state, "150", "1048576", "page-views", guarantee);
  REQUIRE(config.set("repartition.lookback.max.records", lookback));
  Application app(page_count_topology(true), config);
  REQUIRE(app.start({0, 1, 2, 3}, 10).ok());
  REQUIRE(produce_clicks(bootstrap, 0, 4000, 20000));
  wait_idle(app);
  // Stopped at once, as a crash stops it: no final checkpoint; what it
  // wrote past its last one stays in the repartition topic.
  app.abandon_task(0);
  auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", bootstrap}});
  REQUIRE(admin);
  auto before = (*admin)->watermarks(TopicPartition{"clicks", PartitionId{0}});
  REQUIRE(before);
  // The backlog the task finds when it comes back.
  REQUIRE(produce_clicks(bootstrap, 4000, 4000, 20000));
  auto after = (*admin)->watermarks(TopicPartition{"clicks", PartitionId{0}});
  REQUIRE(after);
  const int64_t backlog = after->second - before->second;
  REQUIRE(backlog > 500);
  REQUIRE(app.add_task(0, 11).ok());
  wait_idle(app);
  REQUIRE(app.stop());

  // Exact counts: what the lost run wrote was not applied twice.
  CHECK(final_counts(bootstrap) == expected);
  // The backlog went through the repartition topic combined. Waiting for
  // the high watermark, as before the look back, sends each of its clicks
  // alone: `backlog` records.
  auto moved = chaos::read_topic(bootstrap, repartition, {false, std::chrono::seconds(60), {}});
  REQUIRE(moved);
  int64_t from_backlog = 0;
  for (const auto& r : moved->records) {
    auto origin = r.header("rivulet.input");
    if (!origin || origin->rfind("clicks:0:", 0) != 0) continue;
    if (std::stoll(origin->substr(9)) >= before->second) ++from_backlog;
  }
  INFO("records of the backlog's " << backlog << " clicks in " << repartition << ": "
                                   << from_backlog);
  if (lookback == "0") {
    CHECK(from_backlog == backlog);
  } else {
    CHECK(from_backlog > 0);
    CHECK(from_backlog < backlog / 4);
  }
  std::filesystem::remove_all(state);
}
