// runtime/json_sr_wire: JSON Schemas <-> SQL columns (Confluent's
// JsonSchemaData, as ksqlDB reads and writes them) and the registry's wire
// format around JSON text, over a MemorySchemaRegistry.
#include "runtime/json_sr_wire.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "runtime/avro_wire.hpp"
#include "runtime/codec.hpp"

namespace rivulet {
namespace {

DataTypePtr t(TypeKind k) {
  return DataType::of(k);
}

std::shared_ptr<const Schema> columns(std::vector<Column> cols) {
  auto s = std::make_shared<Schema>();
  s->columns = std::move(cols);
  return s;
}

std::string wire(int id, const std::string& json) {
  std::string out(1, '\0');
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((id >> shift) & 0xff));
  return out + json;
}

std::vector<Column> every_type() {
  return {
      {"B", t(TypeKind::Boolean)},
      {"I", t(TypeKind::Int)},
      {"L", t(TypeKind::BigInt)},
      {"D", t(TypeKind::Double)},
      {"DEC", DataType::decimal(6, 2)},
      {"S", t(TypeKind::String)},
      {"BY", t(TypeKind::Bytes)},
      {"TS", t(TypeKind::Timestamp)},
      {"DT", t(TypeKind::Date)},
      {"TM", t(TypeKind::Time)},
      {"ARR", DataType::array(t(TypeKind::String))},
      {"M", DataType::map(t(TypeKind::BigInt))},
      {"ST", DataType::structure({{"X", t(TypeKind::Int)},
                                  {"INNER", DataType::structure({{"Y", t(TypeKind::String)}})}})},
  };
}

TEST_CASE("json schema: ksqlDB's schema for columns, in Connect's shape", "[runtime][json_sr]") {
  const std::vector<Column> cols = {{"ID", t(TypeKind::BigInt), true},
                                    {"NAME", t(TypeKind::String)},
                                    {"PRICE", DataType::decimal(4, 2)}};
  // The key column is skipped; each property nullable, with its index.
  CHECK(nlohmann::json::parse(json_schema::schema_for(cols)) == nlohmann::json::parse(R"({
    "type": "object",
    "properties": {
      "NAME": {"connect.index": 0, "oneOf": [{"type": "null"}, {"type": "string"}]},
      "PRICE": {"connect.index": 1, "oneOf": [{"type": "null"}, {"type": "number",
        "title": "org.apache.kafka.connect.data.Decimal", "connect.version": 1,
        "connect.type": "bytes",
        "connect.parameters": {"scale": "2", "connect.decimal.precision": "4"}}]}
    }})"));
  // Properties are written in column order.
  const std::string text = json_schema::schema_for(cols);
  CHECK(text.find("NAME") < text.find("PRICE"));
  // A single key is its type alone; several an object.
  CHECK(nlohmann::json::parse(json_schema::key_schema_for({cols[0]})) ==
        nlohmann::json::parse(
            R"({"oneOf":[{"type":"null"},{"type":"integer","connect.type":"int64"}]})"));
  CHECK(nlohmann::json::parse(json_schema::key_schema_for(cols))["properties"].size() == 3);
}

TEST_CASE("json schema: every SQL type goes to a schema and back", "[runtime][json_sr]") {
  const auto cols = every_type();
  auto back = json_schema::columns_of(json_schema::schema_for(cols));
  REQUIRE(back.ok());
  REQUIRE(back->size() == cols.size());
  for (size_t i = 0; i < cols.size(); ++i) {
    CHECK((*back)[i].name == cols[i].name);
    CHECK((*back)[i].type->to_string() == cols[i].type->to_string());
  }
}

TEST_CASE("json schema: schemas written by hand and by Connect read as ksqlDB reads them",
          "[runtime][json_sr]") {
  // Written order without connect.index; type lists; enums; $ref; anyOf;
  // a map as additionalProperties; Connect's int32.
  auto cols = json_schema::columns_of(R"({
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Order", "type": "object",
    "definitions": {"address": {"type": "object", "properties": {
        "city": {"type": "string"}, "zip": {"type": ["integer", "null"]}}}},
    "properties": {
      "orderId": {"type": "integer"},
      "status": {"enum": ["NEW", "PAID"]},
      "shipTo": {"$ref": "#/definitions/address"},
      "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
      "tags": {"type": "object", "additionalProperties": {"type": "number"}},
      "qty": {"type": "integer", "connect.type": "int32"},
      "at": {"type": "integer", "title": "org.apache.kafka.connect.data.Timestamp"},
      "lines": {"type": "array", "items": {"type": "string"}}
    }})");
  REQUIRE(cols.ok());
  std::vector<std::string> got;
  for (const Column& c : *cols) got.push_back(c.name + " " + c.type->to_string());
  CHECK(got == std::vector<std::string>{"ORDERID BIGINT", "STATUS STRING",
                                        "SHIPTO STRUCT<CITY STRING, ZIP BIGINT>", "NOTE STRING",
                                        "TAGS MAP<STRING, DOUBLE>", "QTY INTEGER", "AT TIMESTAMP",
                                        "LINES ARRAY<STRING>"});
  // connect.index orders the columns when present.
  auto indexed = json_schema::columns_of(R"({"type":"object","properties":{
      "B":{"type":"string","connect.index":1},"A":{"type":"string","connect.index":0}}})");
  REQUIRE(indexed.ok());
  CHECK((*indexed)[0].name == "A");
  // A bare key schema.
  auto key = json_schema::type_of(R"({"type":"string"})");
  REQUIRE(key.ok());
  CHECK((*key)->kind == TypeKind::String);
}

TEST_CASE("json schema: schemas with no SQL columns are refused with the property's path",
          "[runtime][json_sr]") {
  auto refused = [](const char* schema) {
    auto c = json_schema::columns_of(schema);
    REQUIRE_FALSE(c.ok());
    return c.error().message;
  };
  CHECK(refused(R"({"type":"object","properties":{"A":{"type":"object","properties":{
          "Z":{"oneOf":[{"type":"integer"},{"type":"string"}]}}}}})") ==
        "property A.Z: a oneOf of 2 types other than null has no SQL type");
  CHECK(refused(R"({"type":"object","properties":{"A":{}}})") ==
        "property A: a schema without a type has no SQL type");
  CHECK(refused(R"({"type":"string"})") ==
        "the schema: a top level of SQL type STRING is not an object with properties");
  CHECK(
      refused(R"({"type":"object","properties":{"a":{"type":"string"},"A":{"type":"string"}}})") ==
      "property A: two properties named A but for case");
  CHECK(
      refused(R"({"type":"object","properties":{"A":{"type":"number","connect.type":"bytes"}}})") ==
      "property A: a decimal without a precision (1 to 38) and a scale in connect.parameters "
      "has no SQL type");
  CHECK(refused(R"({"type":"object","properties":{"A":{"$ref":"#/nowhere"}}})") ==
        "property A: a $ref to nothing: \"#/nowhere\"");
  CHECK(refused(R"({"type":"object","properties":{"A":{"$ref":"other.json"}}})") ==
        "property A: a $ref outside the schema and its references: \"other.json\"");
  CHECK(refused(R"({"type":"object","properties":{"A":{"type":"array"}}})") ==
        "property A: an array without one schema for its items has no SQL type");
  CHECK(refused(R"({"type":"object","properties":{"M":{"type":"array","connect.type":"map",
          "items":{"type":"object","properties":{"key":{"type":"integer"},
          "value":{"type":"boolean"}}}}}})") ==
        "property M: a map whose keys are not strings has no SQL type");
  CHECK(refused("not json") == "the JSON schema is not JSON");
  // A $ref to itself ends at the depth bound, not in a stack overflow.
  CHECK(refused(R"({"type":"object","properties":{"A":{"$ref":"#/properties/A"}}})")
            .find("nesting deeper than") != std::string::npos);
}

// Confluent's JSON Schema references: a $ref naming another registered
// schema (by the reference's name), whole or a part of it, whose own
// "#/..." refs are its own; and through the registry.
TEST_CASE("json schema: $refs to referenced schemas", "[runtime][json_sr]") {
  const std::string customer =
      R"({"type":"object","properties":{"name":{"type":"string"},)"
      R"("address":{"$ref":"#/definitions/Address"}},)"
      R"("definitions":{"Address":{"type":"object","properties":{"city":{"type":"string"}}}}})";
  const std::string order = R"({"type":"object","properties":{"id":{"type":"integer"},)"
                            R"("buyer":{"$ref":"customer.json"},)"
                            R"("ship":{"$ref":"customer.json#/definitions/Address"}}})";
  const json_schema::References refs = {{"customer.json", customer}};
  auto cols = json_schema::columns_of(order, refs);
  REQUIRE(cols.ok());
  std::vector<std::string> got;
  for (const Column& c : *cols) got.push_back(c.name + " " + c.type->to_string());
  CHECK(got == std::vector<std::string>{"ID BIGINT",
                                        "BUYER STRUCT<NAME STRING, ADDRESS STRUCT<CITY STRING>>",
                                        "SHIP STRUCT<CITY STRING>"});
  CHECK_FALSE(json_schema::columns_of(order).ok());  // without its references
  CHECK(json_schema::columns_of(order, {{"customer.json", "not json"}}).error().message ==
        "the JSON schema reference 'customer.json' is not JSON");

  // Through the registry: the references of the subject's schema.
  MemorySchemaRegistry registry;
  REQUIRE(registry.register_schema("customer", customer, "JSON").ok());
  REQUIRE(registry
              .register_with_references("orders-value", order, "JSON",
                                        {{"customer.json", "customer", 1}})
              .ok());
  auto latest = registry.latest("orders-value");
  REQUIRE(latest.ok());
  auto resolved = referenced_schemas(registry, latest->references);
  REQUIRE(resolved.ok());
  CHECK(json_schema::columns_of(latest->schema, *resolved).ok());
}

TEST_CASE("json_sr wire: values read after the prefix, written with the subject's id",
          "[runtime][json_sr]") {
  auto registry = std::make_shared<MemorySchemaRegistry>();
  REQUIRE(registry->register_schema("other-value", R"({"type":"string"})").ok());
  auto values = columns({{"NAME", t(TypeKind::String)}, {"N", t(TypeKind::BigInt)}});
  const std::string schema = json_schema::schema_for(values->columns);
  auto codec = make_json_sr_codec(make_json_codec(values), registry, value_subject("users"), schema,
                                  {"NAME", "N"});
  // Read: whatever id the prefix names (no schema is needed).
  auto read = codec->decode(wire(77, R"({"name":"ann","N":"12"})"));
  REQUIRE(read.ok());
  CHECK(*read == Value::structure({{"NAME", Value::string("ann")}, {"N", Value::int64(12)}}));
  // Not the wire format: a data error that says what came.
  auto plain = codec->decode(R"({"NAME":"ann"})");
  REQUIRE_FALSE(plain.ok());
  CHECK(plain.error().kind == ErrorKind::Data);
  CHECK(plain.error().message ==
        "not in the schema registry's wire format (JSON_SR): 14 bytes, the first 0x7b (expected "
        "0x00, then a 4-byte schema id, then JSON)");
  CHECK(codec->decode("").error().message ==
        "empty value: not in the schema registry's wire format (JSON_SR)");
  // Bad JSON after a good prefix: the JSON codec's error.
  CHECK(codec->decode(wire(1, "{\"NAME\":")).error().kind == ErrorKind::Data);

  // Write: the schema registered (type JSON) under the subject, its id first.
  const Value row = Value::structure({{"NAME", Value::string("bo")}, {"N", Value::int64(-3)}});
  auto bytes = codec->encode(row);
  REQUIRE(bytes.ok());
  auto latest = registry->latest("users-value");
  REQUIRE(latest.ok());
  CHECK(latest->type == "JSON");
  CHECK(latest->schema == schema);
  CHECK(*bytes == wire(latest->id, R"({"NAME":"bo","N":-3})"));
  CHECK(wire_schema_id(*bytes) == latest->id);
  CHECK(*codec->decode(*bytes) == row);
}

TEST_CASE("json_sr wire: the subject's latest JSON schema labels the rows it names",
          "[runtime][json_sr]") {
  auto registry = std::make_shared<MemorySchemaRegistry>();
  auto values = columns({{"NAME", t(TypeKind::String)}});
  const std::string own = json_schema::schema_for(values->columns);
  const Value row = Value::structure({{"NAME", Value::string("x")}});
  // A producer's schema naming the column (in its own case): its id.
  const std::string producers =
      R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}}})";
  auto theirs = registry->register_schema("p-value", producers, "JSON");
  REQUIRE(theirs.ok());
  auto p = make_json_sr_codec(make_json_codec(values), registry, "p-value", own, {"NAME"});
  CHECK(wire_schema_id(*p->encode(row)) == *theirs);
  CHECK(registry->latest("p-value")->version == 1);  // nothing registered
  // A latest schema without the column, or of another type: this codec's.
  REQUIRE(
      registry->register_schema("q-value", R"({"type":"object","properties":{}})", "JSON").ok());
  REQUIRE(registry->register_schema("r-value", producers).ok());  // AVRO
  for (const char* subject : {"q-value", "r-value"}) {
    auto c = make_json_sr_codec(make_json_codec(values), registry, subject, own, {"NAME"});
    auto bytes = c->encode(row);
    REQUIRE(bytes.ok());
    auto latest = registry->latest(subject);
    CHECK(latest->version == 2);
    CHECK(latest->type == "JSON");
    CHECK(wire_schema_id(*bytes) == latest->id);
  }
  // A bare value (a single key): a latest that is not an object serves.
  REQUIRE(registry->register_schema("k-key", R"({"type":"string"})", "JSON").ok());
  auto key =
      make_json_sr_codec(make_json_codec(), registry, "k-key",
                         json_schema::key_schema_for({{"K", t(TypeKind::String), true}}), {});
  auto kb = key->encode(Value::string("a"));
  REQUIRE(kb.ok());
  CHECK(*kb == wire(registry->latest("k-key")->id, "\"a\""));
  CHECK(registry->latest("k-key")->version == 1);
  CHECK(*key->decode(*kb) == Value::string("a"));
}

TEST_CASE("json_sr wire: a refused registration is the record's data error", "[runtime][json_sr]") {
  class Refusing final : public SchemaRegistry {
   public:
    Expected<RegisteredSchema> schema_by_id(int) override { return Error::fatal("none"); }
    Expected<RegisteredSchema> latest(const std::string&) override {
      return Error::fatal("HTTP 404: Subject not found.");
    }
    Expected<RegisteredSchema> version(const std::string&, int) override {
      return Error::fatal("HTTP 404: Subject not found.");
    }
    Expected<int> register_schema(const std::string&, const std::string&,
                                  const std::string& = kAvroSchemaType) override {
      return Error::fatal("HTTP 409: incompatible");
    }
    Expected<std::vector<std::string>> subjects_of(int) override { return Error::fatal("none"); }
    Expected<std::vector<int>> versions_of(const std::string&) override {
      return Error::fatal("none");
    }
    std::string where() const override { return "memory"; }
  };
  auto registry = std::make_shared<Refusing>();
  auto values = columns({{"A", t(TypeKind::Int)}});
  auto codec = make_json_sr_codec(make_json_codec(values), registry, "z-value",
                                  json_schema::schema_for(values->columns), {"A"});
  auto bytes = codec->encode(Value::structure({{"A", Value::int32(1)}}));
  REQUIRE_FALSE(bytes.ok());
  CHECK(bytes.error().kind == ErrorKind::Data);
  CHECK(bytes.error().message ==
        "could not register the JSON schema of subject 'z-value' with the schema registry "
        "memory: HTTP 409: incompatible");
}

}  // namespace
}  // namespace rivulet
