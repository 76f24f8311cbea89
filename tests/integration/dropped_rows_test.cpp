// SQL rows that are dropped by design are counted, and those that are data
// errors are dead-lettered with the bytes that were read, on the embedded
// broker through rivulet::Application:
//  - a multi-column GROUP BY whose CAT is NULL (a data error: dead-lettered,
//    rivulet_task_records_skipped_total{reason="null_group_key"});
//  - a GROUP BY over a TABLE whose group is NULL (the same);
//  - a stream tombstone (null value) at a GROUP BY's re-keying (ksqlDB drops
//    it: reason="tombstone", not dead-lettered);
//  - a timestamp column that does not parse (an error found after decoding).
// Each dead letter's key and value are byte for byte what was produced,
// although the JSON has whitespace and field orders a re-encoding would
// change, with rivulet.error.payload = original.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "actors/application.hpp"
#include "actors/http_endpoint.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_producer.hpp"
#include "sql/app_file.hpp"
#include "support/topic_reader.hpp"

using namespace rivulet;
using rivulet::testing::Collector;
using rivulet::testing::ReadRecord;

namespace {

const char* kSql = R"sql(
SET 'application.id' = 'drops';
SET 'commit.interval.ms' = '100';
CREATE STREAM ORDERS (ID STRING KEY, REGION STRING, CAT STRING, AMOUNT INT) WITH (kafka_topic='orders', value_format='JSON');
CREATE TABLE BY_RC WITH (key_format='JSON') AS SELECT REGION, CAT, COUNT(*) AS N FROM ORDERS GROUP BY REGION, CAT;
CREATE TABLE USERS (UID STRING PRIMARY KEY, REGION STRING, TIER STRING) WITH (kafka_topic='users', value_format='JSON');
CREATE TABLE USERS_BY_REGION AS SELECT REGION, COUNT(*) AS N FROM USERS GROUP BY REGION;
CREATE STREAM EVENTS (ID STRING KEY, TS STRING, X INT) WITH (kafka_topic='events', value_format='JSON', timestamp='TS', timestamp_format='yyyy-MM-dd');
CREATE STREAM EVENTS_OUT AS SELECT ID, X FROM EVENTS;
)sql";

// Every input goes to partition 0, so offsets are known.
OutputRecord record(const std::string& topic, std::string key, std::optional<std::string> value) {
  OutputRecord r;
  r.topic = topic;
  r.key = std::move(key);
  r.value = std::move(value);
  r.partition = 0;
  return r;
}

}  // namespace

TEST_CASE("SQL rows dropped at a NULL group key or a stream tombstone are counted by reason, "
          "data errors dead-lettered with the original bytes",
          "[integration][application][sql][poison]") {
  auto b = connectors::EmbeddedBroker::start();
  REQUIRE(b.ok());
  auto& broker = **b;
  for (const char* t : {"orders", "users", "events", "BY_RC", "USERS_BY_REGION", "EVENTS_OUT"})
    REQUIRE(broker.create_topic(t, 2).ok());
  REQUIRE(broker.create_topic("drops-dlq", 1).ok());

  // Whitespace and field order a re-encoding would not keep.
  const std::string null_cat = R"({ "REGION" : "eu",  "CAT" : null,   "AMOUNT" : 2 })";
  const std::string null_region = R"({"TIER":  "silver", "REGION":null})";
  const std::string bad_ts = R"({"X": 2,   "TS": "yesterday"})";
  const std::vector<OutputRecord> inputs = {
      record("orders", "o1", R"({"REGION":"eu","CAT":"a","AMOUNT":1})"),
      record("orders", "o2", null_cat),      // offset 1: CAT is NULL
      record("orders", "o3", std::nullopt),  // offset 2: a tombstone
      record("orders", "o4", R"({"REGION":"eu","CAT":"a","AMOUNT":3})"),
      record("users", "ann", R"({"REGION":"eu","TIER":"gold"})"),
      record("users", "bob", null_region),  // offset 1: REGION is NULL
      record("events", "e1", R"({"TS":"2026-11-29","X":1})"),
      record("events", "e2", bad_ts),  // offset 1: TS does not parse
  };
  {
    auto p = connectors::KafkaProducer::create({{"bootstrap.servers", broker.bootstrap()}}, nullptr);
    REQUIRE(p.ok());
    for (const auto& r : inputs) REQUIRE((*p)->produce(r, nullptr).ok());
    REQUIRE((*p)->flush(std::chrono::seconds(30)).ok());
  }

  auto planned = sql::plan_script(kSql);
  REQUIRE(planned.ok());
  std::string state = (std::filesystem::temp_directory_path() / "rivulet-drops-XXXXXX").string();
  REQUIRE(::mkdtemp(state.data()) != nullptr);
  auto config = sql::app_config(*planned, "",
                                {"bootstrap.servers=" + broker.bootstrap(), "state.dir=" + state});
  REQUIRE(config.ok());
  Application app(std::move(planned->topology), *config);
  REQUIRE(app.start().ok());

  // The good rows arrive, and the dead letters; then nothing more.
  auto outputs_done = [](const Collector& c) {
    return c.count("BY_RC") >= 2 && c.count("USERS_BY_REGION") >= 1 && c.count("EVENTS_OUT") >= 1;
  };
  auto dlq_done = [](const Collector& c) { return c.count("drops-dlq") >= 3; };
  const std::vector<std::string> outputs = {"BY_RC", "USERS_BY_REGION", "EVENTS_OUT"};
  testing::read_until(broker.bootstrap(), outputs, 2, outputs_done, std::chrono::seconds(60));
  testing::read_until(broker.bootstrap(), {"drops-dlq"}, 1, dlq_done, std::chrono::seconds(30));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto out = testing::read_until(broker.bootstrap(), outputs, 2, outputs_done,
                                 std::chrono::seconds(30));
  for (auto& r : testing::read_until(broker.bootstrap(), {"drops-dlq"}, 1, dlq_done,
                                     std::chrono::seconds(30)))
    out.push_back(std::move(r));

  std::map<std::string, std::vector<ReadRecord>> by_topic;
  for (auto& r : out) by_topic[r.tp.topic].push_back(r);
  auto json_of = [](const ReadRecord& r) { return nlohmann::json::parse(r.value.value_or("null")); };
  REQUIRE(by_topic["BY_RC"].size() == 2);  // o1 and o4; not o2 (NULL CAT) nor o3 (tombstone)
  CHECK(json_of(by_topic["BY_RC"].back())["N"] == 2);
  REQUIRE(by_topic["USERS_BY_REGION"].size() == 1);  // ann; not bob
  CHECK(by_topic["USERS_BY_REGION"][0].key == std::optional<std::string>("eu"));
  REQUIRE(by_topic["EVENTS_OUT"].size() == 1);  // e1; not e2
  CHECK(by_topic["EVENTS_OUT"][0].key == std::optional<std::string>("e1"));

  // Dead letters: the original bytes, where they were read, why.
  const auto& dlq = by_topic["drops-dlq"];
  REQUIRE(dlq.size() == 3);
  std::set<std::string> seen;
  for (const auto& r : dlq) {
    std::string error = r.header("rivulet.error").value_or("");
    INFO("dead letter: " << error);
    CHECK(r.header("rivulet.error.kind") == std::optional<std::string>("data"));
    CHECK(r.header("rivulet.error.payload") == std::optional<std::string>("original"));
    CHECK(r.header("rivulet.source.partition") == std::optional<std::string>("0"));
    CHECK(r.header("rivulet.source.offset") == std::optional<std::string>("1"));
    CHECK(r.header("rivulet.task") == std::optional<std::string>("drops-0"));
    const std::string topic = r.header("rivulet.source.topic").value_or("");
    if (topic == "orders") {
      CHECK(r.key == std::optional<std::string>("o2"));
      CHECK(r.value == std::optional<std::string>(null_cat));
      CHECK(error == "the group key (GROUP BY) is null: expression 2 of 2, CAT, is NULL");
    } else if (topic == "users") {
      CHECK(r.key == std::optional<std::string>("bob"));
      CHECK(r.value == std::optional<std::string>(null_region));
      CHECK(error == "the group key (GROUP BY) is null: REGION is NULL");
    } else if (topic == "events") {
      CHECK(r.key == std::optional<std::string>("e2"));
      CHECK(r.value == std::optional<std::string>(bad_ts));
      CHECK(error.find("timestamp") != std::string::npos);
    }
    seen.insert(topic);
  }
  CHECK(seen == std::set<std::string>{"orders", "users", "events"});

  // Counted: by reason in /metrics and /tasks, in total in the dead-letter counters.
  uint64_t data_errors = 0, dead_lettered = 0, skipped = 0;
  std::array<uint64_t, kSkipReasons> by_reason{};
  auto metrics = app.task_metrics();
  for (const auto& m : metrics) {
    data_errors += m.data_errors;
    dead_lettered += m.dead_lettered;
    skipped += m.records_skipped;
    for (size_t i = 0; i < kSkipReasons; ++i) by_reason[i] += m.skipped_by_reason[i];
  }
  CHECK(data_errors == 3);
  CHECK(dead_lettered == 3);
  CHECK(by_reason[static_cast<size_t>(SkipReason::NullGroupKey)] == 2);
  CHECK(by_reason[static_cast<size_t>(SkipReason::Tombstone)] == 1);
  CHECK(skipped == 3);
  const std::string text = render_prometheus("drops", metrics, 0);
  INFO(text);
  CHECK(text.find("rivulet_task_records_skipped_total{task=\"drops-0\",reason=\"null_group_key\"} 2\n") !=
        std::string::npos);
  CHECK(text.find("rivulet_task_records_skipped_total{task=\"drops-0\",reason=\"tombstone\"} 1\n") !=
        std::string::npos);
  auto tasks = nlohmann::json::parse(render_tasks(metrics));
  for (const auto& t : tasks) {
    if (t["task"] != "drops-0") continue;
    CHECK(t["records_skipped_by_reason"]["null_group_key"] == 2);
    CHECK(t["records_skipped_by_reason"]["tombstone"] == 1);
  }
  CHECK_FALSE(app.failure().has_value());
  CHECK(app.stop());
  std::filesystem::remove_all(state);
}
