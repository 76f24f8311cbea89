// runtime/protobuf_wire: the schema registry's wire format for PROTOBUF (a
// zero byte, the schema id, the message indexes, the message) over a
// MemorySchemaRegistry.
#include "runtime/protobuf_wire.hpp"

#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "runtime/avro_wire.hpp"
#include "runtime/protobuf_codec.hpp"

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

std::string prefix(int id) {
  std::string out(1, '\0');
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((id >> shift) & 0xff));
  return out;
}

// A producer's schema: two messages, the second one its records.
const char* kTwo = R"(syntax = "proto3";
message Other { int32 x = 1; }
message Order { string item = 1; int64 qty = 2; }
)";

TEST_CASE("protobuf wire: encode registers the columns' schema and prefixes id and indexes",
          "[runtime][protobuf]") {
  auto registry = std::make_shared<MemorySchemaRegistry>();
  REQUIRE(registry->register_schema("other-value", R"({"type":"string"})").ok());
  auto values = columns({{"NAME", t(TypeKind::String)}, {"N", t(TypeKind::BigInt)}});
  auto codec = make_protobuf_codec(values, registry, value_subject("users"), "");
  const Value row = Value::structure({{"NAME", Value::string("ann")}, {"N", Value::int64(-3)}});
  auto bytes = codec->encode(row);
  REQUIRE(bytes.ok());
  auto latest = registry->latest("users-value");
  REQUIRE(latest.ok());
  CHECK(latest->type == "PROTOBUF");
  CHECK(latest->schema == protobuf::schema_for(values->columns));
  CHECK(latest->id == 2);
  // Prefix, indexes [0] as one zero byte, then field 1 "ann", field 2 -3.
  CHECK(bytes->substr(0, 6) == prefix(2) + std::string(1, '\0'));
  CHECK(bytes->substr(6) == std::string("\x0a\x03"
                                        "ann"
                                        "\x10\xfd\xff\xff\xff\xff\xff\xff\xff\xff\x01",
                                        16));
  CHECK(*codec->decode(*bytes) == row);
  // Another codec (another task) writes the same, with one registration.
  CHECK(*make_protobuf_codec(values, registry, "users-value", "")->encode(row) == *bytes);
  CHECK(registry->latest("users-value")->version == 1);
}

TEST_CASE("protobuf wire: a producer's schema is read by the indexes and written by its name",
          "[runtime][protobuf]") {
  auto registry = std::make_shared<MemorySchemaRegistry>();
  auto id = registry->register_schema("orders-value", kTwo, "PROTOBUF");
  REQUIRE(id.ok());
  auto values = columns({{"ITEM", t(TypeKind::String)}, {"QTY", t(TypeKind::BigInt)}});
  // A record of message Order: indexes [1] (count 1, index 1: zigzag 02 02).
  const std::string order =
      prefix(*id) + std::string("\x02\x02", 2) + std::string("\x0a\x03pen\x10\x07", 7);
  auto codec = make_protobuf_codec(values, registry, "orders-value", "Order");
  auto read = codec->decode(order);
  REQUIRE(read.ok());
  CHECK(*read == Value::structure({{"ITEM", Value::string("pen")}, {"QTY", Value::int64(7)}}));
  // Written with the producer's schema (it names the columns): its id and
  // Order's indexes, nothing registered.
  auto written = codec->encode(*read);
  REQUIRE(written.ok());
  CHECK(*written == order);
  CHECK(registry->latest("orders-value")->version == 1);
  // Not the wire format; an unknown id; indexes past the file: data errors.
  auto plain = codec->decode(std::string("\x0a\x03pen", 5));
  REQUIRE_FALSE(plain.ok());
  CHECK(plain.error().kind == ErrorKind::Data);
  CHECK(plain.error().message ==
        "not in the schema registry's wire format (PROTOBUF): 5 bytes, the first 0x0a (expected "
        "0x00, then a 4-byte schema id)");
  auto unknown = codec->decode(prefix(99) + std::string(1, '\0'));
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message.find("schema id 99 (registry memory)") != std::string::npos);
  auto past = codec->decode(prefix(*id) + std::string("\x02\x0a", 2));
  REQUIRE_FALSE(past.ok());
  CHECK(past.error().kind == ErrorKind::Data);
  // An AVRO schema's id is no PROTOBUF schema.
  auto avro_id = registry->register_schema("a-value", R"({"type":"string"})");
  auto avro = codec->decode(prefix(*avro_id) + std::string(1, '\0'));
  REQUIRE_FALSE(avro.ok());
  CHECK(avro.error().message.find("is a AVRO schema, not a PROTOBUF one") != std::string::npos);
  // Truncated message bytes.
  auto cut = codec->decode(order.substr(0, order.size() - 3));
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.error().kind == ErrorKind::Data);
}

TEST_CASE("protobuf wire: a schema's references are its imports", "[runtime][protobuf]") {
  auto registry = std::make_shared<MemorySchemaRegistry>();
  REQUIRE(registry
              ->register_schema(
                  "common/money.proto",
                  "syntax = \"proto3\"; package c; message Money { int64 cents = 1; }", "PROTOBUF")
              .ok());
  const std::string order =
      "syntax = \"proto3\"; import \"common/money.proto\"; "
      "message Order { string item = 1; c.Money price = 2; }";
  auto id = registry->register_with_references("o-value", order, "PROTOBUF",
                                               {{"common/money.proto", "common/money.proto", 1}});
  REQUIRE(id.ok());
  auto values = columns({{"ITEM", t(TypeKind::String)},
                         {"PRICE", DataType::structure({{"CENTS", t(TypeKind::BigInt)}})}});
  auto codec = make_protobuf_codec(values, registry, "o-value", "");
  const Value row = Value::structure({{"ITEM", Value::string("pen")},
                                      {"PRICE", Value::structure({{"CENTS", Value::int64(250)}})}});
  // Written with the producer's schema (it holds the columns), read back.
  auto bytes = codec->encode(row);
  REQUIRE(bytes.ok());
  CHECK(wire_schema_id(*bytes) == *id);
  CHECK(*codec->decode(*bytes) == row);
  // A schema whose reference the registry lacks: each record a data error.
  registry->add("x-value", 70, order, "PROTOBUF", {{"common/money.proto", "nowhere", 1}});
  auto other = make_protobuf_codec(values, registry, "x-value", "");
  std::string lost = *bytes;
  lost[4] = 70;
  auto refused = other->decode(lost);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == ErrorKind::Data);
  CHECK(refused.error().message.find("schema reference 'common/money.proto' (subject nowhere") !=
        std::string::npos);
}

TEST_CASE("protobuf wire: keys are messages and one key column reads as its value",
          "[runtime][protobuf]") {
  auto registry = std::make_shared<MemorySchemaRegistry>();
  auto schema = columns({{"K", t(TypeKind::String), true}, {"V", t(TypeKind::Int)}});
  auto keys = make_protobuf_key_codec(schema, registry, key_subject("t"), "");
  auto bytes = keys->encode(Value::string("a"));
  REQUIRE(bytes.ok());
  auto latest = registry->latest("t-key");
  REQUIRE(latest.ok());
  CHECK(latest->schema.find("string K = 1;") != std::string::npos);
  CHECK(*bytes == prefix(latest->id) + std::string(1, '\0') + std::string("\x0a\x01\x61", 3));
  CHECK(*keys->decode(*bytes) == Value::string("a"));
}

TEST_CASE("protobuf wire: registering finds a schema that holds the columns or refuses",
          "[runtime][protobuf]") {
  MemorySchemaRegistry registry;
  Schema schema;
  schema.columns = {{"ITEM", t(TypeKind::String)}, {"QTY", t(TypeKind::BigInt)}};
  auto producers = registry.register_schema("o-value", kTwo, "PROTOBUF");
  // The producer's Order holds both columns: its id, nothing registered.
  CHECK(*register_protobuf_schema(registry, "o-value", schema, false, "Order") == *producers);
  CHECK(registry.latest("o-value")->version == 1);
  // Its first message does not: ksqlDB's schema for the columns, registered.
  auto own = register_protobuf_schema(registry, "o-value", schema, false, "");
  REQUIRE(own.ok());
  CHECK(*own != *producers);
  CHECK(registry.latest("o-value")->schema == protobuf::schema_for(schema.columns));
  // A column name protobuf cannot take: refused before any registration.
  Schema bad;
  bad.columns = {{"my col", t(TypeKind::String)}};
  auto refused = register_protobuf_schema(registry, "b-value", bad, false, "");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.rfind("the PROTOBUF schema of subject 'b-value' is not valid: ",
                                      0) == 0);
  CHECK_FALSE(registry.latest("b-value").ok());
}

// Tasks' codecs on their own threads: each parses the schema into its own
// descriptor pool (the well-known Timestamp from libprotobuf's generated
// pool, shared), all over one cached registry (run under ThreadSanitizer
// too).
TEST_CASE("protobuf wire: codecs on several threads share one cached registry",
          "[runtime][protobuf]") {
  auto registry = cached_schema_registry(std::make_shared<MemorySchemaRegistry>());
  auto values = columns({{"N", t(TypeKind::BigInt)}, {"AT", t(TypeKind::Timestamp)}});
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  std::vector<int> ids(kThreads, 0), good(kThreads, 0);
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      auto codec = make_protobuf_codec(values, registry, "shared-value", "");
      for (int i = 0; i < 200; ++i) {
        const Value row = Value::structure(
            {{"N", Value::int64(th * 1000 + i)}, {"AT", Value::timestamp(1000 * i)}});
        auto bytes = codec->encode(row);
        if (!bytes) continue;
        ids[th] = wire_schema_id(*bytes).value_or(-1);
        auto back = codec->decode(*bytes);
        if (back && *back == row) ++good[th];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int th = 0; th < kThreads; ++th) {
    CHECK(good[th] == 200);
    CHECK(ids[th] == ids[0]);
  }
  CHECK(registry->latest("shared-value")->version == 1);
}

TEST_CASE("protobuf nosr: the message alone in the columns' own schema", "[runtime][protobuf]") {
  auto schema = columns({{"K", t(TypeKind::String), true},
                         {"A", t(TypeKind::BigInt)},
                         {"B", t(TypeKind::String)},
                         {"D", DataType::decimal(6, 4)}});
  auto codec = make_protobuf_nosr_codec(schema);
  const Value row = Value::structure({{"A", Value::int64(123)},
                                      {"B", Value::string("falcon")},
                                      {"D", Value::decimal(*Decimal::parse("1.5"))}});
  auto bytes = codec->encode(row);
  REQUIRE(bytes.ok());
  // No prefix, no indexes: field 1 varint 123, field 2 "falcon", then field
  // 3, a confluent.type.Decimal at the column's scale: value 15000 (0x3a98),
  // precision 5 (Java BigDecimal's, of 1.5000), scale 4.
  CHECK(bytes->substr(0, 10) == std::string("\x08\x7b\x12\x06"
                                            "falcon",
                                            10));
  CHECK(bytes->substr(10) == std::string("\x1a\x08\x0a\x02\x3a\x98\x10\x05\x18\x04", 10));
  auto back = codec->decode(*bytes);
  REQUIRE(back.ok());
  CHECK(back->to_string() == R"({"A":123,"B":"falcon","D":1.5000})");
  // An absent field reads as proto3's default, an absent message as NULL.
  CHECK(codec->decode(std::string("\x08\x01", 2))->to_string() == R"({"A":1,"B":"","D":null})");
  // Bad bytes (a length past the end) are a data error that names the format.
  auto bad =
      codec->decode(std::string("\x12\x09"
                                "ab",
                                4));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().kind == ErrorKind::Data);
  CHECK(bad.error().message.rfind("PROTOBUF_NOSR: ", 0) == 0);

  // Keys are messages; one key column gives and takes its value alone.
  auto keys = make_protobuf_nosr_key_codec(schema);
  auto key = keys->encode(Value::string("a"));
  REQUIRE(key.ok());
  CHECK(*key == std::string("\x0a\x01\x61", 3));
  CHECK(*keys->decode(*key) == Value::string("a"));
  auto two = columns({{"K1", t(TypeKind::String), true}, {"K2", t(TypeKind::Int), true}});
  auto two_keys = make_protobuf_nosr_key_codec(two);
  const Value pair = Value::structure({{"K1", Value::string("x")}, {"K2", Value::int32(7)}});
  auto pair_bytes = two_keys->encode(pair);
  REQUIRE(pair_bytes.ok());
  CHECK(*pair_bytes == std::string("\x0a\x01x\x10\x07", 5));
  CHECK(*two_keys->decode(*pair_bytes) == pair);
}

TEST_CASE("protobuf nosr: columns protobuf cannot hold are refused before any record",
          "[runtime][protobuf]") {
  CHECK(check_protobuf_nosr(*columns({{"A", t(TypeKind::Int)}}), false).ok());
  auto nested = columns({{"A", DataType::array(DataType::array(t(TypeKind::Int)))}});
  auto refused = check_protobuf_nosr(*nested, false);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == ErrorKind::Fatal);
  CHECK(refused.error().message.rfind("the PROTOBUF_NOSR format cannot hold these columns: ", 0) ==
        0);
  // A codec made anyway refuses each record with the same reason.
  auto codec = make_protobuf_nosr_codec(nested);
  auto bytes = codec->encode(Value::structure({{"A", Value::array({})}}));
  REQUIRE_FALSE(bytes.ok());
  CHECK(bytes.error().kind == ErrorKind::Data);
}

}  // namespace
}  // namespace rivulet
