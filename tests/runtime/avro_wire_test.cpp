// runtime/avro_wire: the schema registry's wire format (a zero byte, the
// schema id, the Avro datum) over a MemorySchemaRegistry.
#include "runtime/avro_wire.hpp"

#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "runtime/avro_codec.hpp"

namespace rivulet {
namespace {

std::shared_ptr<const Schema> columns(std::vector<Column> cols) {
  auto s = std::make_shared<Schema>();
  s->columns = std::move(cols);
  return s;
}

// A record in the wire format: the prefix of schema `id`, then `body`.
std::string prefixed(int id, const std::string& body) {
  std::string out;
  append_wire_prefix(out, id);
  return out + body;
}

int id_of(const std::string& bytes) {
  int id = 0;
  for (int i = 1; i < 5; ++i) id = (id << 8) | static_cast<unsigned char>(bytes[i]);
  return id;
}

TEST_CASE("avro wire: encode registers the columns' schema and prefixes its id",
          "[runtime][avro]") {
  auto registry = std::make_shared<MemorySchemaRegistry>();
  // Another subject's schema first, so that ids and versions differ.
  REQUIRE(registry->register_schema("other-value", R"({"type":"string"})").ok());
  auto values =
      columns({{"NAME", DataType::of(TypeKind::String)}, {"N", DataType::of(TypeKind::BigInt)}});
  auto codec = make_avro_codec(values, registry, value_subject("users"));
  const Value row = Value::structure({{"NAME", Value::string("ann")}, {"N", Value::int64(-3)}});
  auto bytes = codec->encode(row);
  REQUIRE(bytes.ok());
  REQUIRE(bytes->size() > 5);
  CHECK((*bytes)[0] == '\0');
  auto latest = registry->latest("users-value");
  REQUIRE(latest.ok());
  CHECK(latest->schema == avro::schema_for(values->columns));
  CHECK(id_of(*bytes) == latest->id);
  CHECK(latest->id == 2);
  // The datum after the prefix: null-or-string branch 1, "ann"; branch 1, -3.
  CHECK(bytes->substr(5) == std::string("\x02\x06"
                                        "ann"
                                        "\x02\x05",
                                        7));
  auto back = codec->decode(*bytes);
  REQUIRE(back.ok());
  CHECK(*back == row);
  // A second codec (another task) finds the same id, and one registration.
  auto again = make_avro_codec(values, registry, "users-value")->encode(row);
  CHECK(*again == *bytes);
  CHECK(registry->latest("users-value")->version == 1);
}

TEST_CASE("avro wire: encode writes with the subject's latest schema when it holds the row",
          "[runtime][avro]") {
  auto registry = std::make_shared<MemorySchemaRegistry>();
  // The producers' key schema: a record of one int field, as Kafka Connect
  // writes keys. A key codec placing key 7 writes the same bytes they do.
  const char* connect_key =
      R"({"type":"record","name":"Key","fields":[{"name":"id","type":"int"}]})";
  auto producers = registry->register_schema("t-key", connect_key);
  REQUIRE(producers.ok());
  auto schema =
      columns({{"ID", DataType::of(TypeKind::Int), true}, {"V", DataType::of(TypeKind::String)}});
  auto key = make_avro_key_codec(schema, registry, key_subject("t"));
  auto bytes = key->encode(Value::int32(7));
  REQUIRE(bytes.ok());
  CHECK(id_of(*bytes) == *producers);
  CHECK(bytes->substr(5) == "\x0e");               // 7, zigzag
  CHECK(registry->latest("t-key")->version == 1);  // nothing registered
  CHECK(*key->decode(*bytes) == Value::int32(7));
  // A latest schema that cannot hold the row: the codec's own, registered.
  REQUIRE(
      registry
          ->register_schema(
              "u-value", R"({"type":"record","name":"U","fields":[{"name":"other","type":"int"}]})")
          .ok());
  auto values = make_avro_codec(schema, registry, value_subject("u"));
  auto written = values->encode(Value::structure({{"V", Value::string("x")}}));
  REQUIRE(written.ok());
  CHECK(registry->latest("u-value")->version == 2);
  CHECK(id_of(*written) == registry->latest("u-value")->id);
}

TEST_CASE("avro wire: decode reads each record with its writer's schema", "[runtime][avro]") {
  auto registry = std::make_shared<MemorySchemaRegistry>();
  auto values =
      columns({{"NAME", DataType::of(TypeKind::String)}, {"AGE", DataType::of(TypeKind::Int)}});
  auto codec = make_avro_codec(values, registry, "people-value");
  // Two versions of the producer's schema: the second adds a field and
  // drops none; the columns read both by name.
  const char* v1 = R"({"type":"record","name":"P","fields":[{"name":"name","type":"string"}]})";
  const char* v2 = R"({"type":"record","name":"P","fields":[{"name":"age","type":"int"},
                      {"name":"name","type":"string"},{"name":"extra","type":"boolean"}]})";
  auto id1 = registry->register_schema("people-value", v1);
  auto id2 = registry->register_schema("people-value", v2);
  auto old_row = codec->decode(prefixed(*id1, std::string("\x04"
                                                          "bo",
                                                          3)));
  REQUIRE(old_row.ok());
  CHECK(*old_row == Value::structure({{"NAME", Value::string("bo")}, {"AGE", Value()}}));
  auto new_row = codec->decode(prefixed(*id2, std::string("\x54\x04"
                                                          "cy\x01",
                                                          5)));
  REQUIRE(new_row.ok());
  CHECK(*new_row == Value::structure({{"NAME", Value::string("cy")}, {"AGE", Value::int32(42)}}));

  // Not the wire format, an unknown id, a datum that does not fit: data errors.
  auto not_wire = codec->decode("{\"name\":\"x\"}");
  REQUIRE_FALSE(not_wire.ok());
  CHECK(not_wire.error().kind == ErrorKind::Data);
  CHECK(not_wire.error().message ==
        "not in the schema registry's wire format (AVRO): 12 bytes, the first 0x7b (expected "
        "0x00, then a 4-byte schema id)");
  CHECK(codec->decode("").error().message ==
        "empty value: not in the schema registry's wire format (AVRO)");
  auto unknown = codec->decode(prefixed(77, "x"));
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().kind == ErrorKind::Data);
  CHECK(unknown.error().message ==
        "schema id 77 (registry memory): schema 77 not found (registry: memory)");
  auto truncated = codec->decode(prefixed(*id2, std::string("\x54\x08"
                                                            "cy",
                                                            4)));
  REQUIRE_FALSE(truncated.ok());
  CHECK(truncated.error().kind == ErrorKind::Data);
  CHECK(truncated.error().message.rfind("AVRO (schema id " + std::to_string(*id2) + "): ", 0) == 0);
}

// Confluent's schema references: a producer's record uses named types
// registered under other subjects (an Address, which uses a Zip in turn),
// by full name and by a name relative to its namespace.
TEST_CASE("avro wire: named types from schema references", "[runtime][avro]") {
  auto registry = std::make_shared<MemorySchemaRegistry>();
  const std::string zip = R"({"type":"record","name":"Zip","namespace":"geo",)"
                          R"("fields":[{"name":"code","type":"string"}]})";
  const std::string address = R"({"type":"record","name":"Address","namespace":"shop",)"
                              R"("fields":[{"name":"city","type":"string"},)"
                              R"({"name":"zip","type":"geo.Zip"}]})";
  const std::string order = R"({"type":"record","name":"Order","namespace":"shop",)"
                            R"("fields":[{"name":"ship","type":"Address"},)"
                            R"({"name":"bill","type":["null","shop.Address"]}]})";
  REQUIRE(registry->register_schema("geo.Zip", zip).ok());
  REQUIRE(
      registry
          ->register_with_references("shop.Address", address, "AVRO", {{"geo.Zip", "geo.Zip", 1}})
          .ok());
  auto id = registry->register_with_references("orders-value", order, "AVRO",
                                               {{"shop.Address", "shop.Address", 1}});
  REQUIRE(id.ok());

  // Made whole: each definition at its first use, the second use a name.
  auto imports = referenced_schemas(*registry, registry->latest("orders-value")->references);
  REQUIRE(imports.ok());
  auto whole = avro::with_references(order, *imports);
  REQUIRE(whole.ok());
  auto cols = avro::columns_of(*whole);
  REQUIRE(cols.ok());
  REQUIRE(cols->size() == 2);
  CHECK((*cols)[0].type->to_string() == "STRUCT<CITY STRING, ZIP STRUCT<CODE STRING>>");
  CHECK((*cols)[1].type->to_string() == "STRUCT<CITY STRING, ZIP STRUCT<CODE STRING>>");

  // The producer's bytes (written with the whole schema) read by the codec,
  // which resolves the references itself.
  const Value address_value =
      Value::structure({{"CITY", Value::string("Lyon")},
                        {"ZIP", Value::structure({{"CODE", Value::string("69001")}})}});
  const Value row = Value::structure({{"SHIP", address_value}, {"BILL", Value()}});
  auto datum = avro::Datum::make(*whole, *cols);
  REQUIRE(datum.ok());
  auto body = (*datum)->encode(row);
  REQUIRE(body.ok());
  const std::string bytes = prefixed(*id, *body);
  auto codec = make_avro_codec(columns(*cols), registry, "orders-value");
  auto read = codec->decode(bytes);
  REQUIRE(read.ok());
  CHECK(*read == row);
  // Written back with the producer's schema (its latest holds the row).
  auto written = codec->encode(row);
  REQUIRE(written.ok());
  CHECK(*written == bytes);

  // A key schema with a reference, read by the key codec.
  const std::string key_schema = R"({"type":"record","name":"Key","namespace":"shop",)"
                                 R"("fields":[{"name":"zip","type":"geo.Zip"}]})";
  auto key_id = registry->register_with_references("orders-key", key_schema, "AVRO",
                                                   {{"geo.Zip", "geo.Zip", 1}});
  REQUIRE(key_id.ok());
  auto key_imports = referenced_schemas(*registry, registry->latest("orders-key")->references);
  REQUIRE(key_imports.ok());
  auto whole_key = avro::with_references(key_schema, *key_imports);
  REQUIRE(whole_key.ok());
  auto key_cols = avro::columns_of(*whole_key);
  REQUIRE(key_cols.ok());
  const Value zip_value = Value::structure({{"CODE", Value::string("69001")}});
  auto key_datum = avro::Datum::make(*whole_key, *key_cols);
  REQUIRE(key_datum.ok());
  auto key_body = (*key_datum)->encode(Value::structure({{"ZIP", zip_value}}));
  REQUIRE(key_body.ok());
  const std::string key_bytes = prefixed(*key_id, *key_body);
  auto key_codec =
      make_avro_key_codec(columns({{"ZIP", (*key_cols)[0].type, true}}), registry, "orders-key");
  auto key_read = key_codec->decode(key_bytes);
  REQUIRE(key_read.ok());
  CHECK(*key_read == zip_value);

  // A reference that is not a named type; one that is missing.
  auto refused = avro::with_references(order, {{"shop.Address", R"("string")"}});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message ==
        "schema reference 'shop.Address': not an Avro record, enum or fixed type");
  auto missing = registry->register_with_references("bad-value", order, "AVRO",
                                                    {{"shop.Address", "nowhere", 1}});
  REQUIRE(missing.ok());  // the memory registry does not check references
  auto unread =
      make_avro_codec(columns(*cols), registry, "bad-value")->decode(prefixed(*missing, *body));
  REQUIRE_FALSE(unread.ok());
  CHECK(unread.error().kind == ErrorKind::Data);
  CHECK(unread.error().message.find("schema reference 'shop.Address' (subject nowhere") !=
        std::string::npos);
}

// Tasks share the process's registry (behind its cache) from their own
// threads, each with its own codecs: the first encode of each registers,
// every thread finds the same id (run under ThreadSanitizer too).
TEST_CASE("avro wire: codecs on several threads share one cached registry", "[runtime][avro]") {
  auto registry = cached_schema_registry(std::make_shared<MemorySchemaRegistry>());
  auto values = columns({{"N", DataType::of(TypeKind::BigInt)}});
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  std::vector<int> ids(kThreads, 0), good(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto codec = make_avro_codec(values, registry, "shared-value");
      for (int i = 0; i < 200; ++i) {
        auto bytes = codec->encode(Value::structure({{"N", Value::int64(t * 1000 + i)}}));
        if (!bytes) continue;
        ids[t] = id_of(*bytes);
        auto back = codec->decode(*bytes);
        if (back && *back == Value::structure({{"N", Value::int64(t * 1000 + i)}})) ++good[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    CHECK(good[t] == 200);
    CHECK(ids[t] == ids[0]);
  }
  CHECK(registry->latest("shared-value")->version == 1);
}

}  // namespace
}  // namespace rivulet
