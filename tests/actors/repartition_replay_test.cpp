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
#include <thread>

#include "actors/application.hpp"
#include "chaos/topic_reader.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_producer.hpp"
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
                  const std::string& checkpoint_interval_ms, const std::string& cache = "0") {
  auto c = Config::from_map({{"application.id", "page-views"},
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

// The last count of every page in page-counts, read to its end.
std::map<std::string, int64_t> final_counts(const std::string& bootstrap) {
  auto contents = chaos::read_topic(bootstrap, "page-counts", {false, std::chrono::seconds(60), {}});
  if (!contents) FAIL("reading page-counts: " << contents.error().to_string());
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

std::string fresh_dir() {
  std::string templ = (std::filesystem::temp_directory_path() / "rivulet-replay-XXXXXX").string();
  REQUIRE(::mkdtemp(templ.data()) != nullptr);
  return templ;
}

}  // namespace

TEST_CASE("a task replaying into a repartition topic: the GROUP BY downstream counts exactly",
          "[integration][application][replay]") {
  auto broker = connectors::EmbeddedBroker::start();
  REQUIRE(broker.ok());
  for (const auto& t : {"clicks", "page-counts"}) {
    REQUIRE((*broker)->create_topic(t, kPartitions).ok());
  }
  const std::string bootstrap = (*broker)->bootstrap();
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
    auto moved =
        chaos::read_topic(bootstrap, "by-page-repartition", {false, std::chrono::seconds(60), {}});
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
