// PRINT's record formatter: which formats survive the bytes seen, and how a
// record is shown in the first of them.
#include "connectors/record_formatter.hpp"

#include <catch2/catch.hpp>
#include <string>

#include "runtime/avro_wire.hpp"
#include "runtime/protobuf_wire.hpp"

using rivulet::connectors::format_rowtime;
using rivulet::connectors::RecordFormatter;

namespace {

std::string be64(int64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

}  // namespace

TEST_CASE("PRINT: JSON values are JSON or text, and text keys are text", "[connectors][print]") {
  RecordFormatter values(RecordFormatter::Part::Value);
  CHECK(values.describe() == "no data processed");
  CHECK(values.possible_formats().empty());
  CHECK(values.format(std::string_view("{\"AMOUNT\":1.5}")) == "{\"AMOUNT\":1.5}");
  CHECK(values.describe() == "JSON or KAFKA_STRING");
  CHECK(values.format(std::nullopt) == "<null>");
  // Text that is not JSON strikes JSON out for the rest.
  CHECK(values.format(std::string_view("plain, text")) == "plain, text");
  CHECK(values.possible_formats() == std::vector<std::string>{"KAFKA_STRING"});
  CHECK(values.format(std::string_view("{\"AMOUNT\":2}")) == "{\"AMOUNT\":2}");

  RecordFormatter keys(RecordFormatter::Part::Key);
  CHECK(keys.format(std::string_view("u1")) == "u1");
  CHECK(keys.describe() == "KAFKA_STRING");
  // A 17-byte text key is no session: its "times" are not plausible.
  CHECK(keys.format(std::string_view("user_0123456789ab")) == "user_0123456789ab");
  CHECK(keys.describe() == "KAFKA_STRING");
}

TEST_CASE("PRINT: fixed-width numbers, and bytes no format reads", "[connectors][print]") {
  RecordFormatter keys(RecordFormatter::Part::Key);
  const std::string four("\x00\x00\x01\x92", 4);  // not UTF-8: no text
  CHECK(keys.format(std::string_view(four)) == "402");
  CHECK(keys.possible_formats() == std::vector<std::string>{"KAFKA_INT"});
  RecordFormatter longs(RecordFormatter::Part::Value);
  CHECK(longs.format(std::string_view(be64(-5))) == "-5");
  CHECK(longs.describe() == "KAFKA_BIGINT or KAFKA_DOUBLE");
  // Invalid UTF-8 of 3 bytes: nothing reads it; shown escaped, nothing struck out.
  RecordFormatter raw(RecordFormatter::Part::Value);
  CHECK(raw.format(std::string_view("\xff\x01" "a", 3)) == "\\xFF\\x01a");
  CHECK(raw.describe() == "JSON or KAFKA_STRING or KAFKA_INT or KAFKA_BIGINT or KAFKA_DOUBLE");
  // Four letters are text first (ksqlDB shows them as an INT), the INT
  // still possible; a control character is no text.
  RecordFormatter words(RecordFormatter::Part::Key);
  CHECK(words.format(std::string_view("late")) == "late");
  CHECK(words.describe() == "KAFKA_STRING or KAFKA_INT");
  CHECK(words.format(std::string_view("\x00\x00\x00\x07", 4)) == "7");
  CHECK(words.describe() == "KAFKA_INT");
}

TEST_CASE("PRINT: windowed keys in Kafka's formats", "[connectors][print]") {
  const int64_t start = 1700000000000;  // 2023-11-14
  RecordFormatter time_keys(RecordFormatter::Part::Key);
  const std::string tumbling = "u1" + be64(start);
  CHECK(time_keys.format(std::string_view(tumbling)) == "[u1@1700000000000/-]");
  CHECK(time_keys.describe() == "HOPPING(KAFKA_STRING) or TUMBLING(KAFKA_STRING)");

  RecordFormatter session_keys(RecordFormatter::Part::Key);
  const std::string session = "u1" + be64(start + 5000) + be64(start);
  CHECK(session_keys.format(std::string_view(session)) == "[u1@1700000000000/1700000005000]");
  CHECK(session_keys.possible_formats().front() == "SESSION(KAFKA_STRING)");
  // An end before the start is no session.
  RecordFormatter backwards(RecordFormatter::Part::Key);
  (void)backwards.format(std::string_view("u1" + be64(start) + be64(start + 5000)));
  CHECK(backwards.possible_formats().front() != "SESSION(KAFKA_STRING)");
}

TEST_CASE("PRINT: rowtime as ksqlDB writes it, in UTC", "[connectors][print]") {
  CHECK(format_rowtime(1700000000123) == "2023/11/14 22:13:20.123 Z");
  CHECK(format_rowtime(0) == "1970/01/01 00:00:00.000 Z");
  CHECK(format_rowtime(-1) == "N/A");
}

TEST_CASE("PRINT: AVRO and PROTOBUF and JSON_SR in the schema registry's wire format",
          "[connectors][print][avro][protobuf][json_sr]") {
  auto registry = std::make_shared<rivulet::MemorySchemaRegistry>();
  rivulet::set_schema_registry(registry);
  auto schema = std::make_shared<rivulet::Schema>();
  schema->columns = {{"ID", rivulet::DataType::of(rivulet::TypeKind::BigInt), true},
                     {"NAME", rivulet::DataType::of(rivulet::TypeKind::String)}};
  auto values = rivulet::make_avro_codec(schema, registry, "t-value");
  auto keys = rivulet::make_avro_key_codec(schema, registry, "t-key");
  auto value = values->encode(rivulet::Value::structure({{"NAME", rivulet::Value::string("ann")}}));
  auto key = keys->encode(rivulet::Value::int64(-9));
  REQUIRE(value.ok());
  REQUIRE(key.ok());

  RecordFormatter v(RecordFormatter::Part::Value);
  CHECK(v.format(std::string_view(*value)) == R"({"NAME":"ann"})");
  CHECK(v.describe() == "AVRO");
  RecordFormatter k(RecordFormatter::Part::Key);
  CHECK(k.format(std::string_view(*key)) == "-9");  // an unwrapped key: the bare value
  CHECK(k.possible_formats().back() == "AVRO");
  // JSON text is no Avro: the AVRO candidate is struck out.
  RecordFormatter mixed(RecordFormatter::Part::Value);
  CHECK(mixed.format(std::string_view("{\"a\": 12}")) == "{\"a\": 12}");
  CHECK(mixed.describe() == "JSON or KAFKA_STRING");
  // An unknown schema id is no Avro either: shown as bytes.
  std::string unknown = *value;
  unknown[4] = 77;
  RecordFormatter other(RecordFormatter::Part::Value);
  CHECK(other.format(std::string_view(unknown)).rfind("\\x00\\x00\\x00\\x00M", 0) == 0);
  // JSON_SR: the prefix names a JSON schema, JSON text follows.
  auto json_id = registry->register_schema("j-value", R"({"type":"object"})", "JSON");
  REQUIRE(json_id.ok());
  std::string json_sr(1, '\0');
  json_sr += std::string("\0\0\0", 3) + static_cast<char>(*json_id) + R"({"N": 1})";
  RecordFormatter j(RecordFormatter::Part::Value);
  CHECK(j.format(std::string_view(json_sr)) == R"({"N": 1})");
  CHECK(j.describe() == "JSON_SR");
  // The same prefix with an Avro schema's id is not JSON_SR.
  std::string avro_id = json_sr;
  avro_id[4] = (*value)[4];
  RecordFormatter neither(RecordFormatter::Part::Value);
  CHECK(neither.format(std::string_view(avro_id)).rfind("\\x00", 0) == 0);
  // PROTOBUF: the prefix, message indexes, a message its schema reads.
  auto proto = rivulet::make_protobuf_codec(schema, registry, "p-value", "")
                   ->encode(rivulet::Value::structure({{"NAME", rivulet::Value::string("bo")}}));
  REQUIRE(proto.ok());
  RecordFormatter p(RecordFormatter::Part::Value);
  CHECK(p.format(std::string_view(*proto)) == R"({"NAME":"bo"})");
  CHECK(p.describe() == "PROTOBUF");
  rivulet::set_schema_registry(nullptr);
  // Without a registry there is no AVRO candidate.
  RecordFormatter plain(RecordFormatter::Part::Value);
  CHECK(plain.format(std::string_view(*value)).find("\\x00") == 0);
}
