// VALUE_FORMAT='PROTOBUF' (and KEY_FORMAT) with a schema registry in the
// SQL engine: columns inferred from the subject's .proto schema (the
// message *_SCHEMA_FULL_NAME names, else the first), the output's schema
// registered (type PROTOBUF) when the query is planned, the registry's wire
// format read and written in the test driver, and the refusals.
#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "runtime/avro_wire.hpp"
#include "runtime/protobuf_codec.hpp"
#include "runtime/protobuf_wire.hpp"
#include "runtime/schema_registry.hpp"
#include "sql/planner.hpp"
#include "sql/test_driver.hpp"

namespace rivulet::sql {
namespace {

struct UseRegistry {
  std::shared_ptr<MemorySchemaRegistry> registry = std::make_shared<MemorySchemaRegistry>();
  UseRegistry() { set_schema_registry(registry); }
  ~UseRegistry() { set_schema_registry(nullptr); }
};

std::string error_of(const Expected<bool>& r) {
  return r ? std::string("accepted") : r.error().message;
}

std::vector<std::string> described(const SqlEngine& engine, const std::string& name) {
  std::vector<std::string> out;
  for (const Column& c : engine.catalog().find(name)->schema.columns)
    out.push_back(c.name + " " + c.type->to_string() + (c.is_key ? " KEY" : ""));
  return out;
}

// A producer's schemas: the key and value messages second in their files.
const char* kKeys = R"(syntax = "proto3";
message Old { uint32 k1 = 1; }
message ShopKey { string shop = 1; })";
const char* kValues = R"(syntax = "proto3";
package sales;
import "google/protobuf/timestamp.proto";
message Old { float c1 = 1; }
message Sale {
  string item = 1;
  uint32 qty = 2;
  google.protobuf.Timestamp sold_at = 3;
  message Buyer { string city = 1; }
  Buyer buyer = 4;
  repeated string tags = 5;
})";

// `row` as the producer writes it: its schema's id, message `name`.
std::string produced(int id, const char* schema, const std::string& name, const Value& row) {
  auto columns = protobuf::columns_of(schema, name);
  REQUIRE(columns.ok());
  auto message = protobuf::Message::make(schema, name, *columns);
  REQUIRE(message.ok());
  auto body = (*message)->encode(row);
  REQUIRE(body.ok());
  std::string out(1, '\0');
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((id >> shift) & 0xff));
  return out + protobuf::encode_message_indexes((*message)->indexes()) + *body;
}

Value sale(const std::string& item, int64_t qty, const std::string& city) {
  return Value::structure({{"ITEM", Value::string(item)},
                           {"QTY", Value::int64(qty)},
                           {"SOLD_AT", Value::timestamp(1000)},
                           {"BUYER", Value::structure({{"CITY", Value::string(city)}})},
                           {"TAGS", Value::array({Value::string("a")})}});
}

TEST_CASE("protobuf: columns from the registry by full name and the output in the wire format",
          "[sql][protobuf]") {
  UseRegistry use;
  auto key_id = use.registry->register_schema("sales-key", kKeys, "PROTOBUF");
  auto value_id = use.registry->register_schema("sales-value", kValues, "PROTOBUF");
  REQUIRE(key_id.ok());
  REQUIRE(value_id.ok());
  SqlEngine engine;
  auto ran = engine.execute_script(
      "CREATE STREAM SALES WITH (kafka_topic='sales', format='PROTOBUF',\n"
      "  KEY_SCHEMA_FULL_NAME='ShopKey', VALUE_SCHEMA_FULL_NAME='sales.Sale');\n"
      "CREATE STREAM BIG WITH (kafka_topic='big', value_format='PROTOBUF') AS\n"
      "  SELECT SHOP, ITEM, QTY * 10 AS QTY10, BUYER->CITY AS CITY, SOLD_AT\n"
      "  FROM SALES WHERE QTY > 1;\n");
  REQUIRE(error_of(ran) == "accepted");
  CHECK(described(engine, "SALES") == std::vector<std::string>{"SHOP STRING KEY", "ITEM STRING",
                                                               "QTY BIGINT", "SOLD_AT TIMESTAMP",
                                                               "BUYER STRUCT<CITY STRING>",
                                                               "TAGS ARRAY<STRING>"});
  // Registered when planned: ksqlDB's schema for the output's columns.
  auto out = use.registry->latest("big-value");
  REQUIRE(out.ok());
  CHECK(out->type == "PROTOBUF");
  const auto big = engine.catalog().find("BIG")->schema;
  CHECK(out->schema == protobuf::schema_for(big.value_columns()));
  auto out_key = use.registry->latest("big-key");
  REQUIRE(out_key.ok());
  CHECK(out_key->schema.find("string SHOP = 1;") != std::string::npos);  // a message, one field

  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver.ok());
  auto& d = **driver;
  auto key = [&](const std::string& shop) {
    return produced(*key_id, kKeys, "ShopKey", Value::structure({{"SHOP", Value::string(shop)}}));
  };
  d.pipe("sales", key("s1"), produced(*value_id, kValues, "sales.Sale", sale("pen", 3, "Lyon")), 1);
  d.pipe("sales", key("s2"), produced(*value_id, kValues, "sales.Sale", sale("ink", 1, "Oslo")), 2);
  d.pipe("sales", key("s3"), std::string("{\"item\": \"cup\"}"), 3);  // not the wire format
  auto written = d.outputs("big");
  REQUIRE(written.size() == 1);
  REQUIRE(written[0].value.has_value());
  CHECK(wire_schema_id(*written[0].value) == out->id);
  REQUIRE(written[0].key.has_value());
  CHECK(wire_schema_id(*written[0].key) == out_key->id);
  auto key_reader =
      make_protobuf_key_codec(std::make_shared<Schema>(big), use.registry, "big-key", "");
  CHECK(*key_reader->decode(*written[0].key) == Value::string("s1"));
  auto reader = make_protobuf_codec(std::make_shared<Schema>(big), use.registry, "big-value", "");
  auto row = reader->decode(*written[0].value);
  REQUIRE(row.ok());
  CHECK(row->to_string() == R"({"ITEM":"pen","QTY10":30,"CITY":"Lyon","SOLD_AT":1000})");
  REQUIRE(d.data_errors().size() == 1);
  CHECK(d.data_errors()[0].error.message.find("wire format (PROTOBUF)") != std::string::npos);
}

TEST_CASE("protobuf: what the registry cannot give is refused at the statement",
          "[sql][protobuf]") {
  UseRegistry use;
  REQUIRE(use.registry->register_schema("json-value", R"({"type":"object"})", "JSON").ok());
  REQUIRE(
      use.registry
          ->register_schema("rec-value", "syntax = \"proto3\"; message R { R r = 1; }", "PROTOBUF")
          .ok());
  REQUIRE(use.registry->register_schema("p-value", kValues, "PROTOBUF").ok());
  auto refused = [](const std::string& sql) {
    SqlEngine engine;
    return error_of(engine.execute_script(sql));
  };
  CHECK(refused("CREATE STREAM S WITH (kafka_topic='json', value_format='PROTOBUF');") ==
        "line 1:15: The value schema of topic 'json' (subject json-value) is a JSON schema: the "
        "PROTOBUF format reads PROTOBUF schemas");
  CHECK(refused("CREATE STREAM S WITH (kafka_topic='rec', value_format='PROTOBUF');")
            .rfind("line 1:15: The value schema of topic 'rec' (subject rec-value) has no SQL "
                   "columns: ",
                   0) == 0);
  CHECK(refused("CREATE STREAM S WITH (kafka_topic='p', value_format='PROTOBUF', "
                "VALUE_SCHEMA_FULL_NAME='Nope');")
            .rfind("line 1:15: The value schema of topic 'p' (subject p-value) has no SQL "
                   "columns: ",
                   0) == 0);
  CHECK(refused("CREATE STREAM S (A INT) WITH (kafka_topic='s', value_format='PROTOBUF',\n"
                "  WRAP_SINGLE_VALUE=false);") ==
        "line 1:15: Format 'PROTOBUF' does not support 'WRAP_SINGLE_VALUE' set to 'false'.");
}

TEST_CASE("protobuf nosr: messages without a registry in and out", "[sql][protobuf]") {
  SqlEngine engine;
  auto ran = engine.execute_script(
      "CREATE STREAM SRC (K STRING KEY, A BIGINT, B STRING) WITH (kafka_topic='src',\n"
      "  format='PROTOBUF_NOSR');\n"
      "CREATE STREAM OUT WITH (kafka_topic='out') AS\n"
      "  SELECT K, B, A * 2 AS A2 FROM SRC WHERE A > 1;\n");
  REQUIRE(error_of(ran) == "accepted");
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver.ok());
  auto& d = **driver;
  // The producer's bytes: key message {K = 1}, value {A = 1, B = 2}.
  const std::string key_k1("\x0a\x02k1", 4);
  d.pipe("src", key_k1, std::string("\x08\x05\x12\x03pen", 7), 1);
  d.pipe("src", key_k1, std::string("\x08\x01\x12\x03ink", 7), 2);      // filtered out
  d.pipe("src", key_k1, std::string("{\"A\": 3, \"B\": \"cup\"}"), 3);  // JSON: not protobuf
  auto written = d.outputs("out");
  REQUIRE(written.size() == 1);
  CHECK(written[0].key == key_k1);
  // The output's own columns: B is field 1, A2 field 2.
  CHECK(written[0].value == std::string("\x0a\x03pen\x10\x0a", 7));
  REQUIRE(d.data_errors().size() == 1);
  CHECK(d.data_errors()[0].error.message.find("PROTOBUF_NOSR: ") != std::string::npos);
}

TEST_CASE("protobuf nosr: what protobuf cannot hold is refused at the statement",
          "[sql][protobuf]") {
  auto refused = [](const std::string& sql) {
    SqlEngine engine;
    return error_of(engine.execute_script(sql));
  };
  CHECK(refused("CREATE STREAM S (A INT) WITH (kafka_topic='s', value_format='PROTOBUF_NOSR',\n"
                "  WRAP_SINGLE_VALUE=false);") ==
        "line 1:15: Format 'PROTOBUF_NOSR' does not support 'WRAP_SINGLE_VALUE' set to "
        "'false'.");
  // The same for PROTOBUF without a registry (read and written as JSON
  // then, but never with a bare value: ksqlDB's PROTOBUF does not unwrap).
  CHECK(refused("CREATE STREAM S (A INT) WITH (kafka_topic='s', value_format='PROTOBUF',\n"
                "  WRAP_SINGLE_VALUE=false);") ==
        "line 1:15: Format 'PROTOBUF' does not support 'WRAP_SINGLE_VALUE' set to 'false'.");
  CHECK(refused("CREATE STREAM S (A ARRAY<ARRAY<INT>>) WITH (kafka_topic='s',\n"
                "  value_format='PROTOBUF_NOSR');")
            .rfind("line 1:15: the PROTOBUF_NOSR format cannot hold these columns: ", 0) == 0);
  CHECK(refused("CREATE STREAM S (K ARRAY<ARRAY<INT>> KEY, A INT) WITH (kafka_topic='s',\n"
                "  key_format='PROTOBUF_NOSR', value_format='JSON');")
            .rfind("line 1:15: the PROTOBUF_NOSR key format cannot hold these columns: ", 0) == 0);
}

}  // namespace
}  // namespace rivulet::sql
