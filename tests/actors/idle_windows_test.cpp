// stream.time.idle.advance.ms in a running Application: the windows of an
// input that went quiet close without another record, their results go out
// once, and a restart neither loses nor repeats them.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "actors/application.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_producer.hpp"
#include "operators/topology.hpp"
#include "operators/window.hpp"
#include "runtime/codec.hpp"
#include "support/task_totals.hpp"
#include "support/temp_dir.hpp"
#include "support/topic_reader.hpp"
#include "support/wait_for.hpp"

using namespace rivulet;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int32_t kPartitions = 2;
constexpr int kKeys = 10;
constexpr int64_t kWindowMs = 1000;
// Event time of the clicks: one old window, whatever the wall clock says
// (the advance counts idle wall-clock time from the last record's time).
constexpr int64_t kWindowStart = 1'700'000'000'000;

Topology clicks_per_window() {
  Topology topo;
  WindowSpec w = WindowSpec::tumbling(kWindowMs, 0);
  w.emit = WindowEmit::Final;
  // As the SQL planner plans EMIT FINAL (ksqlDB's expiry of windows a
  // large jump of stream time passes unemitted): the advance's steps of a
  // commit interval must still emit each window.
  w.expire_unemitted = true;
  topo.stream("clicks", codecs::string_json())
      .group_by_key()
      .windowed_count(w, "clicks-per-window")
      .to("click-counts",
          Serdes{codecs::windowed(codecs::kafka_string(), WindowKind::Tumbling, kWindowMs),
                 codecs::json()});
  return topo;
}

Config config_for(const std::string& bootstrap, const std::string& state_dir,
                  const std::string& idle_advance_ms, const std::string& guarantee) {
  auto c = Config::from_map({{"application.id", "idle-windows"},
                             {"processing.guarantee", guarantee},
                             {"bootstrap.servers", bootstrap},
                             {"commit.interval.ms", "100"},
                             {"checkpoint.interval.ms", "200"},
                             {"log.level", "warn"},
                             {"stream.time.idle.advance.ms", idle_advance_ms},
                             {"state.dir", state_dir}});
  REQUIRE(c.ok());
  return *c;
}

uint64_t records_out(const Application& app) {
  return testing::task_total(app, &TaskMetrics::records_out);
}

uint64_t records_in(const Application& app) {
  return testing::task_total(app, &TaskMetrics::records_in);
}

using rivulet::testing::wait_for;

}  // namespace

TEST_CASE(
    "stream.time.idle.advance.ms closes an idle input's EMIT FINAL windows once and a restart "
    "repeats none",
    "[integration][application][idle]") {
  // Under exactly_once_v2 the closed windows' results go out in a
  // transaction of their own, whose boundary is the checkpoint.
  const std::string guarantee = GENERATE(as<std::string>(), "at_least_once", "exactly_once_v2");
  INFO("processing.guarantee=" << guarantee);
  auto broker = connectors::EmbeddedBroker::start();
  REQUIRE(broker.ok());
  const std::string bootstrap = (*broker)->bootstrap();
  REQUIRE((*broker)->create_topic("clicks", kPartitions).ok());
  REQUIRE((*broker)->create_topic("click-counts", kPartitions).ok());
  // Key k<i> clicks i + 1 times, all in the window [kWindowStart, +1 s),
  // the last at +9 ms: only a later record, or the advance, closes it.
  int64_t clicks = 0;
  {
    auto producer = connectors::KafkaProducer::create({{"bootstrap.servers", bootstrap}}, nullptr);
    REQUIRE(producer.ok());
    for (int k = 0; k < kKeys; ++k) {
      for (int i = 0; i <= k; ++i) {
        OutputRecord r;
        r.topic = "clicks";
        r.key = "k" + std::to_string(k);
        r.value = R"({"n":)" + std::to_string(i) + "}";
        r.timestamp = kWindowStart + k;
        REQUIRE((*producer)->produce(r, nullptr).ok());
        ++clicks;
      }
    }
    REQUIRE((*producer)->flush(std::chrono::seconds(30)).ok());
  }
  const std::string state = rivulet::testing::scratch_dir("rivulet-idle");

  {
    // Off (the default): everything read, nothing closes.
    Application app(clicks_per_window(), config_for(bootstrap, state, "-1", guarantee));
    REQUIRE(app.start().ok());
    REQUIRE(wait_for([&] { return records_in(app) == static_cast<uint64_t>(clicks); },
                     std::chrono::seconds(30)));
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    CHECK(records_out(app) == 0);
    REQUIRE(app.stop());
  }
  {
    // On, restored from the checkpoint above with the window open: 500 ms
    // after its last record's time would need 991 ms more of stream time,
    // so it closes about 1.5 s after the start, with no new record.
    Application app(clicks_per_window(), config_for(bootstrap, state, "500", guarantee));
    const auto started = Clock::now();
    REQUIRE(app.start().ok());
    REQUIRE(wait_for([&] { return records_out(app) == static_cast<uint64_t>(kKeys); },
                     std::chrono::seconds(30)));
    CHECK(Clock::now() - started >= std::chrono::milliseconds(1400));
    CHECK(records_in(app) == 0);  // the checkpoint held every click
    // Its checkpoint then holds the closed window: the stop needs none.
    REQUIRE(wait_for(
        [&] {
          for (const auto& t : app.task_metrics())
            if (t.checkpoints == 0) return false;
          return true;
        },
        std::chrono::seconds(30)));
    REQUIRE(app.stop());
  }
  {
    // Restarted: the windows were closed in the checkpoint, nothing repeats.
    Application app(clicks_per_window(), config_for(bootstrap, state, "500", guarantee));
    REQUIRE(app.start().ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    CHECK(records_out(app) == 0);
    REQUIRE(app.stop());
  }
  // Read back with a consumer of its own, for 3 s: one final count per key.
  auto records = testing::read_until(
      bootstrap, {"click-counts"}, kPartitions,
      [](const testing::Collector& c) { return c.count("click-counts") > kKeys; },
      std::chrono::seconds(3));
  REQUIRE(records.size() == static_cast<size_t>(kKeys));
  auto key_codec = codecs::windowed(codecs::kafka_string(), WindowKind::Tumbling, kWindowMs)();
  auto json = make_json_codec();
  std::map<std::string, int64_t> counts;
  for (const auto& r : records) {
    REQUIRE(r.key);
    REQUIRE(r.value);
    auto key = key_codec->decode(*r.key);
    REQUIRE(key.ok());
    CHECK(window_of(*key).start == kWindowStart);
    auto value = json->decode(*r.value);
    REQUIRE(value.ok());
    counts[window_inner_key(*key).as_string()] = value->to_int64();
  }
  for (int k = 0; k < kKeys; ++k) CHECK(counts["k" + std::to_string(k)] == k + 1);
}
