// Large poison values on the embedded broker.
//  - 10 MB cannot be carried by librdkafka's mock broker at all: a partition
//    keeps at most 5 MiB, and appending a bigger batch evicts every older
//    batch of the partition; the next append evicts the big one. The records
//    are gone before any consumer sees them (the low watermark jumps past
//    them). This is why a 10 MB poison "stalled" its partition: a consumer
//    behind the jump gets OFFSET_OUT_OF_RANGE. A real broker refuses such a
//    record (MESSAGE_TOO_LARGE) unless its limits are raised.
//  - 3 MB fits the mock broker. With the producer's default message.max.bytes
//    (1 MB) the dead-letter write fails, and the task stops with a clear,
//    counted error (failed in /health, rivulet_task_failed) naming the limit;
//    with kafka.producer.message.max.bytes raised it reaches the dead-letter
//    topic, original bytes intact, and no good record is lost.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "actors/application.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/topic_admin.hpp"
#include "examples/orders_enrichment.hpp"
#include "support/temp_dir.hpp"
#include "support/topic_reader.hpp"

using namespace rivulet;
using rivulet::testing::Collector;
using rivulet::testing::read_until;

namespace {

constexpr int kOrders = 30;
constexpr int kPoisonAt = 15;

struct Setup {
  examples::OrdersWorkload w;
  std::unique_ptr<connectors::EmbeddedBroker> broker;
  std::string bootstrap;
  int good = 0;

  explicit Setup(size_t poison_bytes) {
    w.users = 10;
    w.user_space = 10;
    w.orders = 0;
    auto b = connectors::EmbeddedBroker::start();
    REQUIRE(b.ok());
    broker = std::move(*b);
    bootstrap = broker->bootstrap();
    for (const auto& t : {w.users_topic, w.orders_topic, w.enriched_topic, w.counts_topic}) {
      REQUIRE(broker->create_topic(t, 1).ok());
    }
    REQUIRE(broker->create_topic("test-app-dlq", 1).ok());
    REQUIRE(examples::produce_orders_workload(bootstrap, w, nullptr).ok());
    auto producer = connectors::KafkaProducer::create(
        {{"bootstrap.servers", bootstrap}, {"message.max.bytes", "20000000"}, {"linger.ms", "0"}},
        nullptr);
    REQUIRE(producer.ok());
    for (int i = 0; i < kOrders; ++i) {
      OutputRecord rec;
      rec.topic = w.orders_topic;
      rec.key = w.user_id(i % 10);
      if (i == kPoisonAt) {
        rec.value = std::string(poison_bytes, '{');
      } else {
        rec.value = R"({"order_id":)" + std::to_string(i) + R"(,"user_id":")" + *rec.key + "\"}";
        ++good;
      }
      REQUIRE((*producer)->produce(rec, nullptr).ok());
      REQUIRE((*producer)->flush(std::chrono::seconds(30)).ok());  // one batch per record
    }
  }

  std::pair<int64_t, int64_t> watermarks() {
    auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", bootstrap}});
    REQUIRE(admin.ok());
    auto wm = (*admin)->watermarks(TopicPartition{w.orders_topic, PartitionId{0}});
    REQUIRE(wm.ok());
    return *wm;
  }

  Config config(std::map<std::string, std::string> extra = {}) {
    const std::string state = rivulet::testing::scratch_dir();
    std::map<std::string, std::string> values = {{"application.id", "test-app"},
                                                  {"bootstrap.servers", bootstrap},
                                                  {"commit.interval.ms", "100"},
                                                  {"state.dir", state}};
    for (auto& [k, v] : extra) values[k] = v;
    auto c = Config::from_map(values);
    REQUIRE(c.ok());
    return *c;
  }
};

}  // namespace

TEST_CASE("a 10 MB value is evicted by the embedded broker together with the records before it",
          "[integration][application][poison]") {
  Setup s(10 * 1024 * 1024);
  auto [low, high] = s.watermarks();
  CHECK(high == kOrders);
  CHECK(low > kPoisonAt);  // the poison and everything before it are gone
  // What is left is processed; nothing stalls.
  Application app(examples::make_orders_topology(s.w), s.config());
  REQUIRE(app.start().ok());
  const size_t retained = static_cast<size_t>(high - low);
  auto out = read_until(s.bootstrap, {s.w.enriched_topic}, 1,
                        [&](const Collector& c) { return c.count(s.w.enriched_topic) >= retained; },
                        std::chrono::seconds(30));
  CHECK(out.size() == retained);
  CHECK_FALSE(app.failure().has_value());
  CHECK(app.stop());
}

TEST_CASE("a 3 MB poison value: a clear task failure at the producer's limit, the dead-letter "
          "topic once the limit is raised",
          "[integration][application][poison]") {
  Setup s(3 * 1024 * 1024);
  REQUIRE(s.watermarks().first == 0);  // the mock broker carries 3 MB
  SECTION("default message.max.bytes: the task stops and says why") {
    Application app(examples::make_orders_topology(s.w), s.config());
    REQUIRE(app.start().ok());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!app.failure() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(app.failure().has_value());
    CHECK_THAT(*app.failure(), Catch::Contains("test-app-dlq") &&
                                   Catch::Contains("kafka.producer.message.max.bytes"));
    CHECK(app.stats().dead_lettered == 1);  // counted, not silently skipped
    (void)app.stop();
  }
  SECTION("kafka.producer.message.max.bytes raised: dead-lettered, nothing lost") {
    Application app(examples::make_orders_topology(s.w),
                    s.config({{"kafka.producer.message.max.bytes", "20000000"}}));
    REQUIRE(app.start().ok());
    auto out = read_until(s.bootstrap, {s.w.enriched_topic}, 1, [&](const Collector& c) {
      return c.count(s.w.enriched_topic) >= static_cast<size_t>(s.good);
    });
    auto dlq = read_until(s.bootstrap, {"test-app-dlq"}, 1,
                          [&](const Collector& c) { return c.count("test-app-dlq") >= 1; });
    CHECK(out.size() == static_cast<size_t>(s.good));
    REQUIRE(dlq.size() == 1);
    REQUIRE(dlq[0].value.has_value());
    CHECK(dlq[0].value->size() == 3u * 1024 * 1024);
    CHECK(app.stats().dead_lettered == 1);
    CHECK_FALSE(app.failure().has_value());
    CHECK(app.stop());
  }
}
