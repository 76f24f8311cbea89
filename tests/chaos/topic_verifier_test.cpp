// Turning topic records into verifier inputs, without a broker: ids from
// JSON values, provenance headers, records without an id.
#include "chaos/topic_verifier.hpp"

#include <catch2/catch.hpp>

using rivulet::Epoch;
using rivulet::Header;
using rivulet::PartitionId;
using rivulet::TopicPartition;
using namespace rivulet::chaos;

namespace {

TopicRecord rec(int64_t offset, std::optional<std::string> value, rivulet::Headers headers = {}) {
  TopicRecord r;
  r.tp = TopicPartition{"t", PartitionId{2}};
  r.record.offset = offset;
  r.record.value = std::move(value);
  r.record.headers = std::move(headers);
  return r;
}

}  // namespace

TEST_CASE("a record's id is a field of its JSON value", "[chaos]") {
  CHECK(*record_id(std::string(R"({"order_id":"A-17","x":1})"), "order_id") == "A-17");
  CHECK(*record_id(std::string(R"({"order_id":42})"), "order_id") == "42");
  CHECK(*record_id(std::string(R"({"ORDER_ID":42})"), "order_id") == "42");  // as Value::field
  CHECK(*record_id(std::string(R"({"id":{"a":1}})"), "id") == R"({"a":1})");

  auto missing = record_id(std::string(R"({"other":1})"), "order_id");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message, Catch::Contains("no field 'order_id'"));
  auto null_field = record_id(std::string(R"({"order_id":null})"), "order_id");
  REQUIRE_FALSE(null_field.ok());
  CHECK_THAT(null_field.error().message, Catch::Contains("is null"));
  auto not_json = record_id(std::string("order 42"), "order_id");
  REQUIRE_FALSE(not_json.ok());
  CHECK_THAT(not_json.error().message, Catch::Contains("not JSON"));
  auto array = record_id(std::string("[1,2]"), "order_id");
  REQUIRE_FALSE(array.ok());
  CHECK_THAT(array.error().message, Catch::Contains("not an object"));
  auto tombstone = record_id(std::nullopt, "order_id");
  REQUIRE_FALSE(tombstone.ok());
  CHECK_THAT(tombstone.error().message, Catch::Contains("null value"));
}

TEST_CASE("rivulet.epoch is an integer or unknown", "[chaos]") {
  CHECK(parse_epoch(std::string("7")) == Epoch{7});
  CHECK(parse_epoch(std::string("0")) == Epoch{0});
  CHECK_FALSE(parse_epoch(std::nullopt));
  CHECK_FALSE(parse_epoch(std::string("")));
  CHECK_FALSE(parse_epoch(std::string("7x")));
  CHECK_FALSE(parse_epoch(std::string(" 7")));
  CHECK_FALSE(parse_epoch(std::string("99999999999999999999999")));
}

TEST_CASE("records without an id are listed with the reason, never skipped", "[chaos]") {
  std::vector<TopicRecord> records = {
      rec(0, std::string(R"({"id":1})"),
          {Header{"rivulet.input", std::string("in:0:0")},
           Header{"rivulet.task", std::string("a-0")}, Header{"rivulet.epoch", std::string("3")}}),
      rec(1, std::string(R"({"name":"x"})")), rec(2, std::nullopt),
      rec(3, std::string(R"({"id":2})"), {Header{"rivulet.epoch", std::string("three")}})};
  std::vector<Unidentified> without_id;
  auto outs = output_records(records, "id", without_id);
  REQUIRE(outs.size() == 2);
  CHECK(outs[0].id == "1");
  CHECK(outs[0].input == std::optional<std::string>("in:0:0"));
  CHECK(outs[0].task == std::optional<std::string>("a-0"));
  CHECK(outs[0].epoch == Epoch{3});
  CHECK(outs[0].tp.partition == PartitionId{2});
  CHECK(outs[1].id == "2");
  CHECK_FALSE(outs[1].input);
  CHECK_FALSE(outs[1].epoch);
  REQUIRE(without_id.size() == 2);
  CHECK(without_id[0].offset == 1);
  CHECK_THAT(without_id[0].reason, Catch::Contains("no field 'id'"));
  CHECK(without_id[1].offset == 2);

  std::vector<Unidentified> inputs_without;
  auto ins = input_records(records, "id", inputs_without);
  CHECK(ins.size() == 2);
  CHECK(inputs_without.size() == 2);
}

TEST_CASE("partitions whose oldest records were deleted are noted", "[chaos]") {
  TopicContents c;
  c.topic = "t";
  c.partitions = {{TopicPartition{"t", PartitionId{0}}, 0, 10},
                  {TopicPartition{"t", PartitionId{1}}, 1200, 5000}};
  auto notes = truncation_notes(c);
  REQUIRE(notes.size() == 1);
  CHECK_THAT(notes[0], Catch::Contains("t[1] starts at offset 1200"));
}
