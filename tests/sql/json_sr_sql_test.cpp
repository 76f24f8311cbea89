// VALUE_FORMAT='JSON_SR' (and KEY_FORMAT) with a schema registry in the SQL
// engine: the registry's wire format read and written in the test driver,
// columns inferred from the subject's JSON Schema (or VALUE_SCHEMA_ID),
// the output's schema registered (type JSON) when the query is planned, and
// the refusals. With no registry (every other test), JSON_SR is plain JSON.
#include <catch2/catch.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/avro_wire.hpp"
#include "runtime/json_sr_wire.hpp"
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

std::string wire(int id, const std::string& json) {
  std::string out(1, '\0');
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((id >> shift) & 0xff));
  return out + json;
}

// A producer's schema, as Confluent's KafkaJsonSchemaSerializer derives one
// from a class: properties in written order, a nested object, a nullable
// string as a oneOf.
const char* kOrders = R"({
  "$schema": "http://json-schema.org/draft-07/schema#", "title": "Order", "type": "object",
  "properties": {
    "id": {"type": "integer"},
    "item": {"type": "string"},
    "qty": {"type": "integer", "connect.type": "int32"},
    "note": {"oneOf": [{"type": "null"}, {"type": "string"}]},
    "ship": {"type": "object", "properties": {"city": {"type": "string"}}}
  }})";

std::vector<std::string> described(const SqlEngine& engine, const std::string& name) {
  std::vector<std::string> out;
  for (const Column& c : engine.catalog().find(name)->schema.columns)
    out.push_back(c.name + " " + c.type->to_string() + (c.is_key ? " KEY" : ""));
  return out;
}

TEST_CASE("json_sr: columns come from the registry and the output is in the wire format",
          "[sql][json_sr]") {
  UseRegistry use;
  auto id = use.registry->register_schema("orders-value", kOrders, "JSON");
  REQUIRE(id.ok());
  SqlEngine engine;
  auto ran = engine.execute_script(
      "CREATE STREAM ORDERS (K STRING KEY) WITH (kafka_topic='orders', value_format='JSON_SR');\n"
      "CREATE STREAM BIG WITH (kafka_topic='big', value_format='JSON_SR') AS\n"
      "  SELECT K, ID, ITEM, QTY * 10 AS QTY10, SHIP->CITY AS CITY, NOTE\n"
      "  FROM ORDERS WHERE QTY > 1;\n");
  REQUIRE(error_of(ran) == "accepted");
  CHECK(described(engine, "ORDERS") ==
        std::vector<std::string>{"K STRING KEY", "ID BIGINT", "ITEM STRING", "QTY INTEGER",
                                 "NOTE STRING", "SHIP STRUCT<CITY STRING>"});
  // Registered when planned, as a JSON schema: ksqlDB's for the columns.
  auto out = use.registry->latest("big-value");
  REQUIRE(out.ok());
  CHECK(out->type == "JSON");
  CHECK(out->schema ==
        json_schema::schema_for(engine.catalog().find("BIG")->schema.value_columns()));

  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver.ok());
  auto& d = **driver;
  d.pipe("orders", std::string("a"),
         wire(*id, R"({"id":1,"item":"pen","qty":3,"note":null,"ship":{"city":"Lyon"}})"), 10);
  d.pipe("orders", std::string("b"), wire(*id, R"({"id":2,"item":"ink","qty":1})"), 11);
  d.pipe("orders", std::string("c"), std::string(R"({"id":3,"item":"cup","qty":5})"), 12);
  d.pipe("orders", std::string("d"), wire(*id, R"({"id":4,"item":"mug","qty":2,"note":"gift"})"),
         13);
  auto written = d.outputs("big");
  REQUIRE(written.size() == 2);
  std::vector<std::string> rows;
  for (const auto& r : written) {
    REQUIRE(r.value.has_value());
    CHECK(wire_schema_id(*r.value) == out->id);
    rows.push_back(*r.key + " " + r.value->substr(kWirePrefixBytes));
  }
  CHECK(rows == std::vector<std::string>{
                    R"(a {"ID":1,"ITEM":"pen","QTY10":30,"CITY":"Lyon","NOTE":null})",
                    R"(d {"ID":4,"ITEM":"mug","QTY10":20,"CITY":null,"NOTE":"gift"})"});
  // The record without the prefix is a data error, with what came.
  REQUIRE(d.data_errors().size() == 1);
  CHECK(d.data_errors()[0].error.message.find(
            "not in the schema registry's wire format (JSON_SR): 29 bytes, the first 0x7b") !=
        std::string::npos);
}

// INSERT INTO a producer's topic: when its schema declares the columns,
// named as they are written and with their types, the query writes with
// it and registers nothing (a registry checking compatibility is not asked
// to take a second shape); a schema that names them otherwise ("qty" for
// QTY) or types them otherwise gets the query's own registered.
TEST_CASE("json_sr: a producer's schema that declares the columns is kept", "[sql][json_sr]") {
  UseRegistry use;
  auto producer = use.registry->register_schema(
      "totals-value",
      R"({"type":"object","properties":{"ITEM":{"type":"string"},"QTY":{"type":"integer"}}})",
      "JSON");
  REQUIRE(producer.ok());
  REQUIRE(use.registry
              ->register_schema("lower-value",
                                R"({"type":"object","properties":{"item":{"type":"string"},)"
                                R"("qty":{"type":"integer"}}})",
                                "JSON")
              .ok());
  SqlEngine engine;
  auto ran = engine.execute_script(
      "CREATE STREAM TOTALS (K STRING KEY) WITH (kafka_topic='totals', value_format='JSON_SR');\n"
      "CREATE STREAM LOWER (K STRING KEY) WITH (kafka_topic='lower', value_format='JSON_SR');\n"
      "CREATE STREAM MORE (K STRING KEY, ITEM STRING, QTY BIGINT)\n"
      "  WITH (kafka_topic='more', value_format='JSON_SR');\n"
      "INSERT INTO TOTALS SELECT * FROM MORE;\n"
      "INSERT INTO LOWER SELECT * FROM MORE;\n");
  REQUIRE(error_of(ran) == "accepted");
  CHECK(use.registry->versions("totals-value") == std::vector<int>{1});  // kept
  CHECK(use.registry->versions("lower-value") == std::vector<int>{1, 2});
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver.ok());
  auto& d = **driver;
  // (Reading JSON_SR asks the registry nothing: any id will do.)
  d.pipe("more", std::string("m"), wire(*producer, R"({"ITEM":"pad","QTY":4})"), 1);
  auto kept = d.outputs("totals");
  REQUIRE(kept.size() == 1);
  CHECK(wire_schema_id(*kept[0].value) == *producer);
  CHECK(kept[0].value->substr(kWirePrefixBytes) == R"({"ITEM":"pad","QTY":4})");
  auto lower = d.outputs("lower");
  REQUIRE(lower.size() == 1);
  CHECK(wire_schema_id(*lower[0].value) == use.registry->latest("lower-value")->id);

  // QTY / 2.0 is a DECIMAL, which an "integer" does not declare.
  use.registry->add("totals3-value", 90,
                    R"({"type":"object","properties":{"ITEM":{"type":"string"},)"
                    R"("QTY":{"type":"integer"}}})",
                    "JSON");
  SqlEngine again;
  REQUIRE(error_of(again.execute_script(
              "CREATE STREAM MORE (K STRING KEY, ITEM STRING, QTY BIGINT)\n"
              "  WITH (kafka_topic='more', value_format='JSON_SR');\n"
              "CREATE STREAM HALF WITH (kafka_topic='totals3', value_format='JSON_SR') AS\n"
              "  SELECT K, ITEM, QTY / 2.0 AS QTY FROM MORE;\n")) == "accepted");
  CHECK(use.registry->versions("totals3-value").size() == 2);
  CHECK(use.registry->latest("totals3-value")->id != 90);
}

TEST_CASE("json_sr: columns inferred through schema references", "[sql][json_sr]") {
  UseRegistry use;
  REQUIRE(use.registry
              ->register_schema("customer",
                                R"({"type":"object","properties":{"city":{"type":"string"}}})",
                                "JSON")
              .ok());
  REQUIRE(
      use.registry
          ->register_with_references("sales-value",
                                     R"({"type":"object","properties":{"id":{"type":"integer"},)"
                                     R"("buyer":{"$ref":"customer.json"}}})",
                                     "JSON", {{"customer.json", "customer", 1}})
          .ok());
  SqlEngine engine;
  REQUIRE(error_of(engine.execute_script(
              "CREATE STREAM SALES WITH (kafka_topic='sales', value_format='JSON_SR');")) ==
          "accepted");
  CHECK(described(engine, "SALES") ==
        std::vector<std::string>{"ID BIGINT", "BUYER STRUCT<CITY STRING>"});
}

TEST_CASE("json_sr: VALUE_SCHEMA_ID labels what a query writes", "[sql][json_sr]") {
  UseRegistry use;
  auto first = use.registry->register_schema(
      "out-value", R"({"type":"object","properties":{"ITEM":{"type":"string"}}})", "JSON");
  REQUIRE(first.ok());
  REQUIRE(use.registry
              ->register_schema("out-value", R"({"type":"object","properties":{"X":{}}})", "JSON")
              .ok());
  SqlEngine engine;
  REQUIRE(error_of(engine.execute_script(
              "CREATE STREAM SRC (K STRING KEY, ITEM STRING) WITH (kafka_topic='src',\n"
              "  value_format='JSON');\n"
              "CREATE STREAM OUT WITH (kafka_topic='out', value_format='JSON_SR',\n"
              "  VALUE_SCHEMA_ID=" +
              std::to_string(*first) + ") AS SELECT K, ITEM FROM SRC;\n")) == "accepted");
  CHECK(use.registry->versions("out-value").size() == 2);  // nothing registered
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver.ok());
  (*driver)->pipe("src", std::string("k"), std::string(R"({"ITEM":"pen"})"), 1);
  auto out = (*driver)->outputs("out");
  REQUIRE(out.size() == 1);
  CHECK(*out[0].value == wire(*first, R"({"ITEM":"pen"})"));
}

TEST_CASE("json_sr: keys in the wire format and inferred by id", "[sql][json_sr]") {
  UseRegistry use;
  REQUIRE(use.registry->register_schema("later-value", R"({"type":"string"})", "JSON").ok());
  use.registry->add("users-value", 40,
                    R"({"type":"object","properties":{"NAME":{"type":"string"},
                        "AGE":{"type":"integer","connect.type":"int32"}}})",
                    "JSON");
  use.registry->add("users-key", 41, R"({"type":"integer"})", "JSON");
  SqlEngine engine;
  auto ran = engine.execute_script(
      "CREATE TABLE USERS WITH (kafka_topic='users', format='JSON_SR', VALUE_SCHEMA_ID=40);\n"
      "CREATE TABLE ADULTS WITH (kafka_topic='adults', format='JSON_SR') AS\n"
      "  SELECT ROWKEY, NAME FROM USERS WHERE AGE >= 18;\n");
  REQUIRE(error_of(ran) == "accepted");
  // A bare key schema: one key column, ROWKEY.
  CHECK(described(engine, "USERS") ==
        std::vector<std::string>{"ROWKEY BIGINT KEY", "NAME STRING", "AGE INTEGER"});
  auto key_schema = use.registry->latest("adults-key");
  REQUIRE(key_schema.ok());
  CHECK(key_schema->type == "JSON");
  CHECK(nlohmann::json::parse(key_schema->schema) ==
        nlohmann::json::parse(
            R"({"oneOf":[{"type":"null"},{"type":"integer","connect.type":"int64"}]})"));

  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver.ok());
  auto& d = **driver;
  d.pipe("users", wire(41, "7"), wire(40, R"({"NAME":"ann","AGE":30})"), 1);
  d.pipe("users", wire(41, "8"), wire(40, R"({"NAME":"bob","AGE":12})"), 2);
  auto written = d.outputs("adults");
  REQUIRE(written.size() == 2);  // a table's changes: bob's row deleted (never was)
  CHECK(written[0].key == wire(key_schema->id, "7"));
  CHECK(written[0].value == wire(use.registry->latest("adults-value")->id, R"({"NAME":"ann"})"));
  CHECK(written[1].key == wire(key_schema->id, "8"));
  CHECK_FALSE(written[1].value.has_value());
  // A key without the prefix is a data error too.
  d.pipe("users", std::string("9"), wire(40, R"({"NAME":"cy","AGE":40})"), 3);
  REQUIRE(d.data_errors().size() == 1);
  CHECK(d.data_errors()[0].error.message.find("wire format (JSON_SR)") != std::string::npos);
}

TEST_CASE("json_sr: what the registry cannot give is refused at the statement", "[sql][json_sr]") {
  UseRegistry use;
  REQUIRE(use.registry
              ->register_schema("avro-value", R"({"type":"record","name":"R",
      "fields":[{"name":"a","type":"int"}]})")
              .ok());
  REQUIRE(use.registry
              ->register_schema("union-value",
                                R"({"type":"object","properties":{
          "x":{"oneOf":[{"type":"integer"},{"type":"string"}]}}})",
                                "JSON")
              .ok());
  auto refused = [](const std::string& sql) {
    SqlEngine engine;
    return error_of(engine.execute_script(sql));
  };
  CHECK(refused("CREATE STREAM S WITH (kafka_topic='none', value_format='JSON_SR');") ==
        "line 1:15: Schema for message values on topic 'none' could not be read from the schema "
        "registry memory (subject none-value): subject 'none-value' not found (registry: memory)");
  CHECK(refused("CREATE STREAM S WITH (kafka_topic='avro', value_format='JSON_SR');") ==
        "line 1:15: The value schema of topic 'avro' (subject avro-value) is a AVRO schema: the "
        "JSON_SR format reads JSON schemas");
  CHECK(refused("CREATE STREAM S WITH (kafka_topic='union', value_format='JSON_SR');") ==
        "line 1:15: The value schema of topic 'union' (subject union-value) has no SQL columns: "
        "property X: a oneOf of 2 types other than null has no SQL type");
  // Declared columns need no schema: the stream reads the wire format.
  CHECK(refused("CREATE STREAM S (A INT) WITH (kafka_topic='none', value_format='JSON_SR');") ==
        "accepted");
}

TEST_CASE("json_sr: without a registry JSON_SR stays plain JSON", "[sql][json_sr]") {
  SqlEngine engine;
  REQUIRE(error_of(engine.execute_script(
              "CREATE STREAM S (A INT) WITH (kafka_topic='s', value_format='JSON_SR');\n"
              "CREATE STREAM T AS SELECT A + 1 AS B FROM S;\n")) == "accepted");
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver.ok());
  (*driver)->pipe("s", std::nullopt, std::string(R"({"A":1})"), 1);
  auto written = (*driver)->outputs("T");
  REQUIRE(written.size() == 1);
  CHECK(written[0].value == std::string(R"({"B":2})"));
}

}  // namespace
}  // namespace rivulet::sql
