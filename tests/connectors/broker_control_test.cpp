// Pure parts of connectors/: the control-channel protocol, topic-name rules,
// configuration building and retry delays. No broker, no network.
#include "connectors/broker_control.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <string>

#include "connectors/kafka_config.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/retry_delay.hpp"
#include "connectors/topic_admin.hpp"

using namespace rivulet;
using namespace rivulet::connectors;

namespace {

ControlRequest round_trip(const ControlRequest& request) {
  auto parsed = parse_control_request(encode_control_request(request));
  INFO(encode_control_request(request));
  REQUIRE(parsed.ok());
  return *parsed;
}

std::string parse_error(const std::string& json) {
  auto parsed = parse_control_request(json);
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.error().kind == ErrorKind::Data);
  return parsed.error().message;
}

}  // namespace

TEST_CASE("control requests survive encoding and parsing", "[unit][connectors]") {
  auto create = ControlRequest::create_topic("orders", 8);
  create.id = "42-1";
  auto c = round_trip(create);
  CHECK(c.op == ControlOp::CreateTopic);
  CHECK(c.id == "42-1");
  CHECK(c.topic == "orders");
  CHECK(c.partitions == 8);

  CHECK(round_trip(ControlRequest::broker_down(2)).broker == 2);
  auto up = round_trip(ControlRequest::broker_up(3));
  CHECK(up.op == ControlOp::BrokerUp);
  CHECK(up.broker == 3);

  auto leader = round_trip(ControlRequest::set_leader("t", 5, -1));
  CHECK(leader.op == ControlOp::SetLeader);
  CHECK(leader.topic == "t");
  CHECK(leader.partition == 5);
  CHECK(leader.broker == -1);  // leaderless is allowed

  auto push = round_trip(ControlRequest::push_request_errors(0, {6, 7}));
  CHECK(push.op == ControlOp::PushRequestErrors);
  CHECK(push.api_key == 0);
  CHECK(push.errors == std::vector<int32_t>{6, 7});

  CHECK(round_trip(ControlRequest::clear_request_errors(1)).api_key == 1);
  auto rtt = round_trip(ControlRequest::set_rtt(1, 250));
  CHECK(rtt.rtt_ms == 250);

  auto ok = round_trip(ControlRequest::reply("x", true, ""));
  CHECK(ok.op == ControlOp::Reply);
  CHECK(ok.ok);
  auto refused = round_trip(ControlRequest::reply("y", false, "no such broker"));
  CHECK_FALSE(refused.ok);
  CHECK(refused.error == "no such broker");
}

TEST_CASE("the documented request text parses", "[unit][connectors]") {
  auto r = parse_control_request(R"({"op":"create_topic","topic":"X","partitions":8})");
  REQUIRE(r.ok());
  CHECK(r->op == ControlOp::CreateTopic);
  CHECK(r->topic == "X");
  CHECK(r->partitions == 8);
  CHECK(r->id.empty());
}

TEST_CASE("error codes are accepted by number and by librdkafka name", "[unit][connectors]") {
  auto r = parse_control_request(
      R"({"op":"push_request_errors","api_key":0,"errors":["NOT_LEADER_FOR_PARTITION",7,"_TRANSPORT"]})");
  REQUIRE(r.ok());
  REQUIRE(r->errors.size() == 3);
  CHECK(r->errors[0] == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
  CHECK(r->errors[1] == 7);
  CHECK(r->errors[2] == RD_KAFKA_RESP_ERR__TRANSPORT);
  CHECK_THAT(parse_error(R"({"op":"push_request_errors","api_key":0,"errors":["NO_SUCH_ERROR"]})"),
             Catch::Contains("NO_SUCH_ERROR"));
  CHECK_THAT(parse_error(R"({"op":"push_request_errors","api_key":0,"errors":[]})"),
             Catch::Contains("errors"));
  CHECK_THAT(parse_error(R"({"op":"push_request_errors","api_key":0,"errors":[true]})"),
             Catch::Contains("errors"));
}

TEST_CASE("bad control requests are Data errors naming the problem", "[unit][connectors]") {
  CHECK_THAT(parse_error("not json"), Catch::Contains("JSON"));
  CHECK_THAT(parse_error("[1,2]"), Catch::Contains("object"));
  CHECK_THAT(parse_error(R"({"topic":"x"})"), Catch::Contains("op"));
  CHECK_THAT(parse_error(R"({"op":7})"), Catch::Contains("op"));
  CHECK_THAT(parse_error(R"({"op":"delete_everything"})"), Catch::Contains("delete_everything"));
  CHECK_THAT(parse_error(R"({"op":"create_topic","partitions":3})"), Catch::Contains("topic"));
  CHECK_THAT(parse_error(R"({"op":"create_topic","topic":"","partitions":3})"),
             Catch::Contains("topic"));
  CHECK_THAT(parse_error(R"({"op":"create_topic","topic":5,"partitions":3})"),
             Catch::Contains("topic"));
  CHECK_THAT(parse_error(R"({"op":"create_topic","topic":"t"})"),
             Catch::Contains("missing field 'partitions'"));
  CHECK_THAT(parse_error(R"({"op":"create_topic","topic":"t","partitions":0})"),
             Catch::Contains("partitions") && Catch::Contains("out of range"));
  CHECK_THAT(parse_error(R"({"op":"create_topic","topic":"t","partitions":-4})"),
             Catch::Contains("out of range"));
  CHECK_THAT(parse_error(R"({"op":"create_topic","topic":"t","partitions":"8"})"),
             Catch::Contains("integer"));
  CHECK_THAT(parse_error(R"({"op":"create_topic","topic":"t","partitions":2.5})"),
             Catch::Contains("integer"));
  CHECK_THAT(parse_error(R"({"op":"create_topic","topic":"t","partitions":8,"id":1})"),
             Catch::Contains("id"));
  CHECK_THAT(parse_error(R"({"op":"broker_down"})"), Catch::Contains("broker"));
  CHECK_THAT(parse_error(R"({"op":"broker_up","broker":-1})"), Catch::Contains("out of range"));
  CHECK_THAT(parse_error(R"({"op":"set_leader","topic":"t","broker":1})"),
             Catch::Contains("partition"));
  CHECK_THAT(parse_error(R"({"op":"set_rtt","broker":1,"rtt_ms":-5})"), Catch::Contains("rtt_ms"));
  CHECK_THAT(parse_error(R"({"op":"clear_request_errors","api_key":70000})"),
             Catch::Contains("api_key"));
  CHECK_THAT(parse_error(R"({"op":"reply","id":"x"})"), Catch::Contains("ok"));
}

TEST_CASE("odd bytes never crash the control parser", "[unit][connectors]") {
  const std::string samples[] = {
      std::string("\0\0\0", 3),
      "{",
      "}",
      "{\"op\":",
      "\xff\xfe",
      "{\"op\":\"create_topic\"",
      R"({"op":"create_topic","topic":"t","partitions":99999999999999999999})",
      R"({"op":"create_topic","topic":"t","partitions":null})",
      "null",
      "\"create_topic\""};
  for (const auto& s : samples) {
    auto r = parse_control_request(s);
    CHECK_FALSE(r.ok());
  }
}

TEST_CASE("topic names follow Kafka's rules", "[unit][connectors]") {
  CHECK(validate_topic_name("orders").ok());
  CHECK(validate_topic_name("a.b_c-D9").ok());
  CHECK(validate_topic_name(std::string(249, 'x')).ok());
  CHECK_FALSE(validate_topic_name("").ok());
  CHECK_FALSE(validate_topic_name(".").ok());
  CHECK_FALSE(validate_topic_name("..").ok());
  CHECK_FALSE(validate_topic_name(std::string(250, 'x')).ok());
  auto bad = validate_topic_name("with space");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message, Catch::Contains("with space") && Catch::Contains("' '"));
  CHECK_FALSE(validate_topic_name("slash/no").ok());
  CHECK_FALSE(validate_topic_name("colon:no").ok());
}

TEST_CASE("a librdkafka configuration error names the key", "[unit][connectors]") {
  auto unknown = make_conf({{"bootstrap.servers", "127.0.0.1:9"}, {"no.such.property", "1"}});
  REQUIRE_FALSE(unknown.ok());
  CHECK_THAT(unknown.error().message,
             Catch::Contains("no.such.property") && Catch::Contains("unknown"));

  auto invalid = make_conf({{"fetch.wait.max.ms", "soon"}});
  REQUIRE_FALSE(invalid.ok());
  CHECK_THAT(invalid.error().message,
             Catch::Contains("fetch.wait.max.ms") && Catch::Contains("soon"));

  CHECK(make_conf(consumer_defaults()).ok());
  CHECK(make_conf(producer_defaults()).ok());
}

TEST_CASE("pipeline defaults and overrides", "[unit][connectors]") {
  const auto consumer = consumer_defaults();
  CHECK(consumer.at("fetch.wait.max.ms") == "5");
  CHECK(consumer.at("enable.auto.commit") == "false");
  CHECK(consumer.at("enable.auto.offset.store") == "false");
  // Data lost to retention must be reported, not skipped.
  CHECK(consumer.at("auto.offset.reset") == "error");
  CHECK(consumer.at("reconnect.backoff.max.ms") == "1000");

  const auto producer = producer_defaults();
  CHECK(producer.at("enable.idempotence") == "true");
  CHECK(producer.at("acks") == "all");
  CHECK(producer.at("partitioner") == "murmur2_random");

  auto merged = merge_properties(producer, {{"linger.ms", "50"}, {"client.id", "me"}});
  CHECK(merged.at("linger.ms") == "50");
  CHECK(merged.at("client.id") == "me");
  CHECK(merged.at("acks") == "all");
  CHECK(property_or(merged, "nope", "fallback") == "fallback");
}

TEST_CASE("clients refuse configurations without their required keys", "[unit][connectors]") {
  auto no_group = KafkaConsumer::create({{"bootstrap.servers", "127.0.0.1:9"}});
  REQUIRE_FALSE(no_group.ok());
  CHECK_THAT(no_group.error().message, Catch::Contains("group.id"));

  auto no_bootstrap = KafkaConsumer::create({{"group.id", "g"}});
  REQUIRE_FALSE(no_bootstrap.ok());
  CHECK_THAT(no_bootstrap.error().message, Catch::Contains("bootstrap.servers"));

  auto bad_key = KafkaConsumer::create(
      {{"bootstrap.servers", "127.0.0.1:9"}, {"group.id", "g"}, {"fetch.wait.max.ms", "x"}});
  REQUIRE_FALSE(bad_key.ok());
  CHECK_THAT(bad_key.error().message, Catch::Contains("fetch.wait.max.ms"));

  auto producer = KafkaProducer::create({}, nullptr);
  REQUIRE_FALSE(producer.ok());
  CHECK_THAT(producer.error().message, Catch::Contains("bootstrap.servers"));

  auto admin = TopicAdmin::create({});
  REQUIRE_FALSE(admin.ok());
  CHECK_THAT(admin.error().message, Catch::Contains("bootstrap.servers"));
}

TEST_CASE("retry delays grow exponentially with jitter and stay capped", "[unit][connectors]") {
  using std::chrono::milliseconds;
  for (int trial = 0; trial < 200; ++trial) {
    for (int attempt = 0; attempt < 30; ++attempt) {
      const int64_t full = std::min<int64_t>(1000, int64_t{20} << std::min(attempt, 20));
      const auto d = retry_delay(attempt, milliseconds(20), milliseconds(1000)).count();
      CHECK(d >= full / 2);
      CHECK(d <= full);
    }
  }
  CHECK(retry_delay(-3).count() <= 20);
  // Jitter: many draws at the cap are not all the same.
  std::set<int64_t> seen;
  for (int i = 0; i < 50; ++i) seen.insert(retry_delay(10).count());
  CHECK(seen.size() > 5);
}

TEST_CASE("a client's statistics report gives its requests by type and its bytes",
          "[unit][connectors]") {
  // The shape of librdkafka's statistics (STATISTICS.md), trimmed: totals at
  // the top, request counts per broker (the group coordinator's
  // connection listed as one more).
  const std::string report = R"({
    "name": "rivulet#consumer-1", "type": "consumer", "ts": 123456,
    "tx": 13, "tx_bytes": 1234, "rx": 12, "rx_bytes": 56789,
    "brokers": {
      "127.0.0.1:9092/1": {"nodeid": 1, "tx": 6,
                           "req": {"Produce": 0, "Fetch": 5, "Metadata": 1}},
      "127.0.0.1:9093/2": {"nodeid": 2, "tx": 6, "req": {"Fetch": 4, "OffsetCommit": 2}},
      "GroupCoordinator": {"nodeid": -1, "req": {"FindCoordinator": 1}}
    },
    "topics": {"orders": {"partitions": {"0": {"rxmsgs": 40}}}}
  })";
  KafkaClientStats stats;
  REQUIRE(parse_client_stats(report, stats));
  CHECK(stats.requests ==
        std::map<std::string, uint64_t>{
            {"Fetch", 9}, {"FindCoordinator", 1}, {"Metadata", 1}, {"OffsetCommit", 2}});
  CHECK(stats.tx_bytes == 1234);
  CHECK(stats.rx_bytes == 56789);

  // Not a report: false, and what was there stays.
  CHECK_FALSE(parse_client_stats("{\"brokers\": ", stats));
  CHECK_FALSE(parse_client_stats("{\"tx_bytes\": 5}", stats));
  CHECK_FALSE(parse_client_stats("[]", stats));
  CHECK(stats.requests.at("Fetch") == 9);

  // The sink keeps the latest report and counts them.
  ClientStatsSink sink;
  CHECK(sink.get().reports == 0);
  sink.take(report);
  sink.take("not json");
  CHECK(sink.get().reports == 1);
  CHECK(sink.get().requests.at("OffsetCommit") == 2);
}
