#include "runtime/protobuf_codec.hpp"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>

#include "support/value_checks.hpp"

using namespace rivulet;

namespace {

using rivulet::testing::from_hex;
using rivulet::testing::identical;
using rivulet::testing::to_hex;

DataTypePtr of(TypeKind k) {
  return DataType::of(k);
}

Decimal dec(const char* text) {
  return *Decimal::parse(text);
}

std::unique_ptr<protobuf::Message> message(const std::string& schema, std::vector<Column> columns,
                                           const std::string& full_name = "") {
  auto m = protobuf::Message::make(schema, full_name, std::move(columns));
  if (!m) FAIL(m.error().message);
  return std::move(*m);
}

std::unique_ptr<protobuf::Message> message_of(const std::string& schema,
                                              const std::string& full_name = "") {
  auto cols = protobuf::columns_of(schema, full_name);
  if (!cols) FAIL(cols.error().message);
  return message(schema, *cols, full_name);
}

void require_data_error(const Expected<Value>& r, const std::string& contains = "") {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == ErrorKind::Data);
  if (!contains.empty()) CHECK_THAT(r.error().message, Catch::Contains(contains));
}

void require_data_error(const Expected<std::string>& r, const std::string& contains) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == ErrorKind::Data);
  CHECK_THAT(r.error().message, Catch::Contains(contains));
}

std::string fatal(const Expected<std::vector<Column>>& r) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == ErrorKind::Fatal);
  return r.error().message;
}

// --- protoc: the independent implementation -----------------------------------------

// A directory of its own with the bundled imports and the schema as test.proto.
class ProtoDir {
 public:
  explicit ProtoDir(const std::string& schema) {
    char pattern[] = "/tmp/rivulet-protobuf-test-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    REQUIRE(made != nullptr);
    path_ = made;
    for (const auto& [file, text] : protobuf::bundled_files()) write(file, text);
    write("test.proto", schema);
  }
  ~ProtoDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ProtoDir(const ProtoDir&) = delete;
  ProtoDir& operator=(const ProtoDir&) = delete;

  void write(const std::string& file, const std::string& text) const {
    const std::filesystem::path p = std::filesystem::path(path_) / file;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }
  std::string read(const std::string& file) const {
    std::ifstream in(std::filesystem::path(path_) / file, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // Runs protoc in the directory (with the schema's imports and the
  // well-known types it finds itself); its stderr in error.txt.
  bool protoc(const std::string& args) const {
    const std::string cmd = "cd '" + path_ + "' && protoc -I. " + args + " 2> error.txt";
    return std::system(cmd.c_str()) == 0;
  }

 private:
  std::string path_;
};

bool have_protoc() {
  static const bool found = std::system("protoc --version > /dev/null 2>&1") == 0;
  if (!found) WARN("protoc not found: the checks against it are skipped");
  return found;
}

// protoc --encode: the message `name` written from text format.
std::string protoc_encode(const std::string& schema, const std::string& name,
                          const std::string& text) {
  ProtoDir dir(schema);
  dir.write("in.txt", text);
  const bool ok = dir.protoc("--encode=" + name + " test.proto < in.txt > out.bin");
  INFO(dir.read("error.txt"));
  REQUIRE(ok);
  return dir.read("out.bin");
}

// protoc --decode: the text format of the bytes.
std::string protoc_decode(const std::string& schema, const std::string& name,
                          const std::string& bytes) {
  ProtoDir dir(schema);
  dir.write("in.bin", bytes);
  const bool ok = dir.protoc("--decode=" + name + " test.proto < in.bin > out.txt");
  INFO(dir.read("error.txt"));
  REQUIRE(ok);
  return dir.read("out.txt");
}

// Whether protoc accepts the schema (its complaint in *error).
bool protoc_accepts(const std::string& schema, std::string* error) {
  ProtoDir dir(schema);
  const bool ok = dir.protoc("--descriptor_set_out=out.desc test.proto");
  *error = dir.read("error.txt");
  return ok;
}

// --- Schemas --------------------------------------------------------------------

// Every scalar type, an enum and the well-known types ksqlDB maps.
const std::string kEverything = R"(syntax = "proto3";
package test.pb;

import "confluent/meta.proto";
import "confluent/type/decimal.proto";
import "google/protobuf/timestamp.proto";
import "google/type/date.proto";
import "google/type/timeofday.proto";

message Everything {
  bool flag = 1;
  int32 small = 2;
  sint32 zig = 3;
  sfixed32 fixed_small = 4;
  uint32 unsigned_small = 5;
  fixed32 fixed_unsigned = 6;
  int64 big = 7;
  sint64 zig_big = 8;
  sfixed64 fixed_big = 9;
  uint64 unsigned_big = 10;
  fixed64 fixed_unsigned_big = 11;
  float ratio = 12;
  double amount = 13;
  string name = 14;
  bytes blob = 15;
  Suit suit = 16;
  google.protobuf.Timestamp at = 17;
  google.type.Date day = 18;
  google.type.TimeOfDay tod = 19;
  confluent.type.Decimal price = 20 [(confluent.field_meta) = { params: [ { key: "precision", value: "10" }, { key: "scale", value: "2" } ] }];

  enum Suit {
    SPADES = 0;
    HEARTS = 1;
    CLUBS = 4;
  }
}
)";

const std::string kEverythingText = R"(flag: true
small: -42
zig: -7
fixed_small: -100000
unsigned_small: 4294967295
fixed_unsigned: 3000000000
big: -1234567890123
zig_big: 9223372036854775807
fixed_big: -9223372036854775808
unsigned_big: 18446744073709551615
fixed_unsigned_big: 9223372036854775808
ratio: 1.1234
amount: -2.25
name: "h\303\251llo"
blob: "\000\001\377"
suit: CLUBS
at { seconds: 1709214330 nanos: 123000000 }
day { year: 2024 month: 2 day: 29 }
tod { hours: 13 minutes: 45 seconds: 30 nanos: 123000000 }
price { value: "\373\056" precision: 4 scale: 2 }
)";

// protoc 3.21 --encode=test.pb.Everything of kEverythingText.
const std::string kEverythingHex =
    "080110d6ffffffffffffffff01180d256079feff28ffffffff0f35005ed0b238b5f693f088dcffffff0140feff"
    "ffffffffffffff0149000000000000008050ffffffffffffffffff015900000000000000806592cb8f3f690000"
    "0000000002c0720668c3a96c6c6f7a030001ff8001048a010b08fa9482af0610c0a9d33a92010708e80f100218"
    "1d9a010b080d102d181e20c0a9d33aa201080a02fb2e10041802";

Value everything_value() {
  return Value::structure({{"FLAG", Value::boolean(true)},
                           {"SMALL", Value::int32(-42)},
                           {"ZIG", Value::int32(-7)},
                           {"FIXED_SMALL", Value::int32(-100000)},
                           {"UNSIGNED_SMALL", Value::int64(4294967295LL)},
                           {"FIXED_UNSIGNED", Value::int64(3000000000LL)},
                           {"BIG", Value::int64(-1234567890123LL)},
                           {"ZIG_BIG", Value::int64(INT64_MAX)},
                           {"FIXED_BIG", Value::int64(INT64_MIN)},
                           // uint64 2^64-1 and 2^63: the BIGINTs of the same bits.
                           {"UNSIGNED_BIG", Value::int64(-1)},
                           {"FIXED_UNSIGNED_BIG", Value::int64(INT64_MIN)},
                           {"RATIO", Value::float64(static_cast<double>(1.1234f))},
                           {"AMOUNT", Value::float64(-2.25)},
                           {"NAME", Value::string("h\xc3\xa9llo")},
                           {"BLOB", Value::bytes(std::string("\x00\x01\xff", 3))},
                           {"SUIT", Value::string("CLUBS")},
                           {"AT", Value::timestamp(1'709'214'330'123)},
                           {"DAY", Value::date(19782)},
                           {"TOD", Value::time(49'530'123)},
                           {"PRICE", Value::decimal(dec("-12.34"))}});
}

// Nullable types: the wrappers, a proto3 optional, a oneof, messages.
const std::string kNullable = R"(syntax = "proto3";
package test.pb;

import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

message Nullable {
  google.protobuf.BoolValue b = 1;
  google.protobuf.Int32Value i = 2;
  google.protobuf.UInt32Value u = 3;
  google.protobuf.Int64Value l = 4;
  google.protobuf.UInt64Value ul = 5;
  google.protobuf.FloatValue f = 6;
  google.protobuf.DoubleValue d = 7;
  google.protobuf.StringValue s = 8;
  google.protobuf.BytesValue by = 9;
  optional int32 maybe = 10;
  oneof choice {
    string text = 11;
    int64 number = 12;
    Point where = 13;
  }
  Point point = 14;
  google.protobuf.Timestamp at = 15;

  message Point {
    double x = 1;
    double y = 2;
  }
}
)";

// Repeated fields, maps (keyed by strings, integers and bools) and nesting.
const std::string kContainers = R"(syntax = "proto3";
package test.pb;

message Order {
  int64 id = 1;
  repeated string items = 2;
  map<string, Level> stock = 3;
  map<int32, string> by_number = 4;
  map<bool, double> flags = 5;
  repeated Line lines = 6;
  Address address = 7;
  repeated int64 tags = 8;
  map<string, Level> empty = 9;

  message Level {
    int32 qty = 1;
    string where = 2;
  }
  message Line {
    string sku = 1;
    uint32 qty = 2;
    repeated double prices = 3;
  }
  message Address {
    string street = 1;
    Geo geo = 2;
    message Geo {
      double lat = 1;
      double lon = 2;
    }
  }
}
)";

const std::string kContainersText = R"(id: 7
items: "a"
items: ""
items: "b"
stock { key: "x" value { qty: 3 where: "shelf" } }
by_number { key: -5 value: "minus five" }
flags { key: true value: 0.5 }
lines { sku: "p-1" qty: 2 prices: 1.5 prices: -0.25 }
lines { }
address { street: "Main St" geo { lat: 1.25 } }
tags: 1
tags: -1
tags: 300
)";

// protoc 3.21 --encode=test.pb.Order of kContainersText.
const std::string kContainersHex =
    "080712016112001201621a0e0a01781209080312057368656c66221708fbffffffffffffffff01120a6d696e75"
    "7320666976652a0b080111000000000000e03f32190a03702d3110021a10000000000000f83f000000000000d0"
    "bf32003a140a074d61696e205374120909000000000000f43f420d01ffffffffffffffffff01ac02";

Value level(int qty, const char* where) {
  return Value::structure({{"QTY", Value::int32(qty)}, {"WHERE", Value::string(where)}});
}

Value containers_value() {
  auto line = [](const char* sku, int64_t qty, Array prices) {
    return Value::structure({{"SKU", Value::string(sku)},
                             {"QTY", Value::int64(qty)},
                             {"PRICES", Value::array(std::move(prices))}});
  };
  return Value::structure(
      {{"ID", Value::int64(7)},
       {"ITEMS", Value::array({Value::string("a"), Value::string(""), Value::string("b")})},
       {"STOCK", Value::map({{"x", level(3, "shelf")}})},
       {"BY_NUMBER", Value::map({{"-5", Value::string("minus five")}})},
       {"FLAGS", Value::map({{"true", Value::float64(0.5)}})},
       {"LINES", Value::array({line("p-1", 2, {Value::float64(1.5), Value::float64(-0.25)}),
                               line("", 0, {})})},
       {"ADDRESS", Value::structure({{"STREET", Value::string("Main St")},
                                     {"GEO", Value::structure({{"LAT", Value::float64(1.25)},
                                                               {"LON", Value::float64(0)}})}})},
       {"TAGS", Value::array({Value::int64(1), Value::int64(-1), Value::int64(300)})},
       {"EMPTY", Value::map({})}});
}

// A message that may hold itself: nesting is as deep as the data says.
const std::string kChain = R"(syntax = "proto3";
message Link {
  int32 v = 1;
  Link next = 2;
}
)";

// Link{v: 1, next: Link{v: 1, next: ...}}, `depth` messages.
std::string chain_bytes(int depth) {
  std::string out = std::string("\x08\x01", 2);
  for (int i = 1; i < depth; ++i) {
    std::string outer = std::string("\x08\x01\x12", 3);
    size_t n = out.size();
    do {
      outer.push_back(static_cast<char>((n & 0x7f) | (n > 0x7f ? 0x80 : 0)));
      n >>= 7;
    } while (n);
    out = outer + out;
  }
  return out;
}

// The columns of ksqlDB's own test of the schema it registers
// (JsonStreamedRowResponseWriterTest.shouldConvertComplexLogicalSchemaToProtobufSchema),
// the header column left out.
std::vector<Column> ksql_columns() {
  auto s = [](std::vector<StructFieldType> fields) {
    return DataType::structure(std::move(fields));
  };
  return {
      {"K", s({{"F1", DataType::array(of(TypeKind::String))}})},
      {"STR", of(TypeKind::String)},
      {"LONG", of(TypeKind::BigInt)},
      {"DEC", DataType::decimal(4, 2)},
      {"BYTES_", of(TypeKind::Bytes)},
      {"ARRAY", DataType::array(of(TypeKind::String))},
      {"MAP", DataType::map(of(TypeKind::String))},
      {"STRUCT", s({{"F1", of(TypeKind::Int)}})},
      {"COMPLEX", s({{"DECIMAL", DataType::decimal(2, 1)},
                     {"STRUCT", s({{"F1", of(TypeKind::String)}, {"F2", of(TypeKind::Int)}})},
                     {"ARRAY_STRUCT", DataType::array(s({{"F1", of(TypeKind::String)}}))},
                     {"ARRAY_MAP", DataType::array(DataType::map(of(TypeKind::Int)))},
                     {"MAP_ARRAY", DataType::map(DataType::array(of(TypeKind::String)))},
                     {"MAP_MAP", DataType::map(DataType::map(of(TypeKind::Int)))},
                     {"MAP_STRUCT", DataType::map(s({{"F1", of(TypeKind::String)}}))}})},
      {"TIMESTAMP", of(TypeKind::Timestamp)},
      {"DATE", of(TypeKind::Date)},
      {"TIME", of(TypeKind::Time)},
  };
}

// What schema_for writes for ksql_columns(): the names, numbers, nesting
// and field order of ksqlDB's expected schema (its printer lays the decimal
// options out over several lines and leaves out the meta.proto import).
const std::string kKsqlSchema = R"(syntax = "proto3";

import "confluent/meta.proto";
import "confluent/type/decimal.proto";
import "google/protobuf/timestamp.proto";
import "google/type/date.proto";
import "google/type/timeofday.proto";

message ConnectDefault1 {
  ConnectDefault2 K = 1;
  string STR = 2;
  int64 LONG = 3;
  confluent.type.Decimal DEC = 4 [(confluent.field_meta) = { params: [ { key: "precision", value: "4" }, { key: "scale", value: "2" } ] }];
  bytes BYTES_ = 5;
  repeated string ARRAY = 6;
  repeated ConnectDefault3Entry MAP = 7;
  ConnectDefault4 STRUCT = 8;
  ConnectDefault5 COMPLEX = 9;
  google.protobuf.Timestamp TIMESTAMP = 10;
  google.type.Date DATE = 11;
  google.type.TimeOfDay TIME = 12;

  message ConnectDefault2 {
    repeated string F1 = 1;
  }
  message ConnectDefault3Entry {
    string key = 1;
    string value = 2;
  }
  message ConnectDefault4 {
    int32 F1 = 1;
  }
  message ConnectDefault5 {
    confluent.type.Decimal DECIMAL = 1 [(confluent.field_meta) = { params: [ { key: "precision", value: "2" }, { key: "scale", value: "1" } ] }];
    ConnectDefault6 STRUCT = 2;
    repeated ConnectDefault7 ARRAY_STRUCT = 3;
    repeated ConnectDefault8Entry ARRAY_MAP = 4;
    repeated ConnectDefault9Entry MAP_ARRAY = 5;
    repeated ConnectDefault10Entry MAP_MAP = 6;
    repeated ConnectDefault12Entry MAP_STRUCT = 7;

    message ConnectDefault6 {
      string F1 = 1;
      int32 F2 = 2;
    }
    message ConnectDefault7 {
      string F1 = 1;
    }
    message ConnectDefault8Entry {
      string key = 1;
      int32 value = 2;
    }
    message ConnectDefault9Entry {
      string key = 1;
      repeated string value = 2;
    }
    message ConnectDefault10Entry {
      string key = 1;
      repeated ConnectDefault11Entry value = 2;

      message ConnectDefault11Entry {
        string key = 1;
        int32 value = 2;
      }
    }
    message ConnectDefault12Entry {
      string key = 1;
      ConnectDefault13 value = 2;

      message ConnectDefault13 {
        string F1 = 1;
      }
    }
  }
}
)";

// Every SQL type protobuf can hold, for round trips through schema_for.
std::vector<Column> round_trip_columns() {
  auto geo = DataType::structure({{"LAT", of(TypeKind::Double)}, {"LON", of(TypeKind::Double)}});
  return {{"ID", of(TypeKind::BigInt)},
          {"NAME", of(TypeKind::String)},
          {"PRICE", DataType::decimal(6, 2)},
          {"AT", of(TypeKind::Timestamp)},
          {"TAGS", DataType::array(of(TypeKind::String))},
          {"ATTRS", DataType::map(of(TypeKind::Int))},
          {"ADDRESS", DataType::structure({{"STREET", of(TypeKind::String)}, {"GEO", geo}})},
          {"DAY", of(TypeKind::Date)},
          {"TOD", of(TypeKind::Time)},
          {"BLOB", of(TypeKind::Bytes)},
          {"OK", of(TypeKind::Boolean)},
          {"N", of(TypeKind::Int)},
          {"RATIO", of(TypeKind::Double)},
          {"GROUPS", DataType::map(DataType::array(of(TypeKind::String)))},
          {"NESTED", DataType::map(DataType::map(DataType::decimal(4, 1)))},
          {"POINTS", DataType::array(geo)},
          {"WHEN", DataType::array(of(TypeKind::Timestamp))}};
}

}  // namespace

// --- Types ---------------------------------------------------------------------

TEST_CASE("Protobuf columns_of maps every protobuf type the way ksqlDB does",
          "[runtime][protobuf]") {
  auto check = [](const std::string& schema, const std::string& full_name,
                  const std::vector<std::pair<std::string, std::string>>& expected) {
    auto cols = protobuf::columns_of(schema, full_name);
    if (!cols) FAIL(cols.error().message);
    REQUIRE(cols->size() == expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      INFO(expected[i].first);
      CHECK((*cols)[i].name == expected[i].first);
      CHECK((*cols)[i].type->to_string() == expected[i].second);
      CHECK_FALSE((*cols)[i].is_key);
    }
    return *cols;
  };
  SECTION("scalars, enums and the well-known types") {
    auto cols = check(kEverything, "",
                      {{"FLAG", "BOOLEAN"},
                       {"SMALL", "INTEGER"},
                       {"ZIG", "INTEGER"},
                       {"FIXED_SMALL", "INTEGER"},
                       // Connect's INT64: a uint32 does not fit INT.
                       {"UNSIGNED_SMALL", "BIGINT"},
                       {"FIXED_UNSIGNED", "BIGINT"},
                       {"BIG", "BIGINT"},
                       {"ZIG_BIG", "BIGINT"},
                       {"FIXED_BIG", "BIGINT"},
                       {"UNSIGNED_BIG", "BIGINT"},
                       {"FIXED_UNSIGNED_BIG", "BIGINT"},
                       {"RATIO", "DOUBLE"},
                       {"AMOUNT", "DOUBLE"},
                       {"NAME", "STRING"},
                       {"BLOB", "BYTES"},
                       {"SUIT", "STRING"},
                       {"AT", "TIMESTAMP"},
                       {"DAY", "DATE"},
                       {"TOD", "TIME"},
                       {"PRICE", "DECIMAL(10, 2)"}});
    CHECK(*cols[19].type == *DataType::decimal(10, 2));
  }
  SECTION("wrappers, optional fields and oneofs (first, as ProtobufData lays them out)") {
    check(kNullable, "",
          {{"CHOICE_0", "STRUCT<TEXT STRING, NUMBER BIGINT, WHERE STRUCT<X DOUBLE, Y DOUBLE>>"},
           {"B", "BOOLEAN"},
           {"I", "INTEGER"},
           {"U", "BIGINT"},
           {"L", "BIGINT"},
           {"UL", "BIGINT"},
           {"F", "DOUBLE"},
           {"D", "DOUBLE"},
           {"S", "STRING"},
           {"BY", "BYTES"},
           {"MAYBE", "INTEGER"},
           {"POINT", "STRUCT<X DOUBLE, Y DOUBLE>"},
           {"AT", "TIMESTAMP"}});
  }
  SECTION("repeated fields, maps and nested messages") {
    check(kContainers, "",
          {{"ID", "BIGINT"},
           {"ITEMS", "ARRAY<STRING>"},
           {"STOCK", "MAP<STRING, STRUCT<QTY INTEGER, WHERE STRING>>"},
           {"BY_NUMBER", "MAP<STRING, STRING>"},
           {"FLAGS", "MAP<STRING, DOUBLE>"},
           {"LINES", "ARRAY<STRUCT<SKU STRING, QTY BIGINT, PRICES ARRAY<DOUBLE>>>"},
           {"ADDRESS", "STRUCT<STREET STRING, GEO STRUCT<LAT DOUBLE, LON DOUBLE>>"},
           {"TAGS", "ARRAY<BIGINT>"},
           {"EMPTY", "MAP<STRING, STRUCT<QTY INTEGER, WHERE STRING>>"}});
  }
  SECTION("ksqlDB's query-validation schemas") {
    // group-by.json, insert-into.json: VALUE_SCHEMA_FULL_NAME='ProtobufValue2'.
    const std::string two_values =
        "syntax = \"proto3\"; message ProtobufValue1 {float c1 = 1; uint32 c2 = 2;} message "
        "ProtobufValue2 {uint64 A = 1; string B = 2;}";
    check(two_values, "ProtobufValue2", {{"A", "BIGINT"}, {"B", "STRING"}});
    check(two_values, "", {{"C1", "DOUBLE"}, {"C2", "BIGINT"}});
    check("syntax = \"proto3\";\n\nmessage Event {\n int64 TIMESTAMP = 1;\n}", "",
          {{"TIMESTAMP", "BIGINT"}});
    // protobuf.json "protobuf inference - partial schema": Confluent's printer
    // uses (confluent.field_meta) without importing confluent/meta.proto.
    check(
        "syntax = \"proto3\"; import \"confluent/type/decimal.proto\"; message ConfluentDefault1 "
        "{bool c1 = 1; int32 c2 = 2; int64 c3 = 3; double c4 = 4; string c5 = 5; "
        "confluent.type.Decimal c6 = 6 [(confluent.field_meta) = { params: [{ value: \"4\", key: "
        "\"precision\" }, { value: \"2\", key: \"scale\" }]}];}",
        "",
        {{"C1", "BOOLEAN"},
         {"C2", "INTEGER"},
         {"C3", "BIGINT"},
         {"C4", "DOUBLE"},
         {"C5", "STRING"},
         {"C6", "DECIMAL(4, 2)"}});
    // "should convert enum to STRING", "should convert nested types to STRUCT".
    check(
        "syntax = \"proto3\"; message ConfluentDefault1 {enum Suit {SPADES = 0; HEARTS = 1; "
        "DIAMONDS = 2; CLUBS = 4;} Suit c1 = 1;}",
        "", {{"C1", "STRING"}});
    check(
        "syntax = \"proto3\"; message ConfluentDefault1 {message Something {int32 f1 = 1;} "
        "Something c1 = 1;}",
        "", {{"C1", "STRUCT<F1 INTEGER>"}});
  }
  SECTION("full names with packages and nesting") {
    const std::string schema =
        "syntax = \"proto3\"; package shop.v1; message Order { int64 id = 1; message Line { "
        "string sku = 1; } } message Other { bool b = 1; }";
    check(schema, "shop.v1.Other", {{"B", "BOOLEAN"}});
    check(schema, "Other", {{"B", "BOOLEAN"}});
    check(schema, "Order.Line", {{"SKU", "STRING"}});
    check(schema, "shop.v1.Order.Line", {{"SKU", "STRING"}});
    CHECK_THAT(fatal(protobuf::columns_of(schema, "Missing")),
               Catch::Contains("no message \"Missing\""));
  }
  SECTION("a message named as a well-known one but of another shape is a plain message") {
    const std::string schema =
        "syntax = \"proto3\"; package google.type; message Date { string year = 1; } message R { "
        "Date d = 1; }";
    check(schema, "google.type.R", {{"D", "STRUCT<YEAR STRING>"}});
    auto m = message_of(schema, "google.type.R");
    auto v = m->decode(from_hex("0a040a023230"));
    REQUIRE(v.ok());
    CHECK(identical(*v,
                    Value::structure({{"D", Value::structure({{"YEAR", Value::string("20")}})}})));
    CHECK(to_hex(m->encode(*v).value()) == "0a040a023230");
  }
  SECTION("proto2, map keys and Confluent's map entries") {
    check(R"(syntax = "proto2";
             message P {
               optional int32 a = 1 [default = 7];
               required string b = 2;
               map<sint64, bool> m = 3;
               repeated ValuesEntry values = 4;
               message ValuesEntry { optional string key = 1; repeated int32 value = 2; }
             })",
          "",
          {{"A", "INTEGER"},
           {"B", "STRING"},
           {"M", "MAP<STRING, BOOLEAN>"},
           {"VALUES", "MAP<STRING, ARRAY<INTEGER>>"}});
  }
}

TEST_CASE("Protobuf columns_of refuses what has no SQL type and names the field",
          "[runtime][protobuf]") {
  CHECK(fatal(protobuf::columns_of(kChain)) ==
        "field NEXT: recursive protobuf message \"Link\" has no SQL type");
  CHECK_THAT(fatal(protobuf::columns_of(
                 "syntax = \"proto3\"; message A { B b = 1; } message B { repeated A back = 1; }")),
             Catch::Contains("field B.BACK: recursive protobuf message \"A\""));
  CHECK(fatal(protobuf::columns_of(
            "syntax = \"proto2\"; message R { optional group Zip = 1 { optional int32 v = 1; } "
            "}")) == "field ZIP: protobuf group \"R.Zip\" has no SQL type");
  CHECK_THAT(fatal(protobuf::columns_of(
                 "syntax = \"proto3\"; message R { repeated KEntry k = 1; message KEntry { double "
                 "key = 1; int32 value = 2; } }")),
             Catch::Contains("field K: protobuf map<double, int32> has no SQL type"));
  CHECK_THAT(fatal(protobuf::columns_of(
                 "syntax = \"proto3\"; import \"confluent/type/decimal.proto\"; message R { "
                 "confluent.type.Decimal d = 1; }")),
             Catch::Contains("field D: confluent.type.Decimal without a precision"));
  CHECK_THAT(fatal(protobuf::columns_of(
                 "syntax = \"proto3\"; import \"confluent/meta.proto\"; import "
                 "\"confluent/type/decimal.proto\"; message R { message S { confluent.type.Decimal "
                 "d = 1 [(confluent.field_meta) = { params: [{key: \"precision\", value: \"40\"}] "
                 "}]; } S s = 1; }")),
             Catch::Contains("field S.D: confluent.type.Decimal has precision 40"));
  CHECK_THAT(fatal(protobuf::columns_of(
                 "syntax = \"proto3\"; import \"confluent/meta.proto\"; import "
                 "\"confluent/type/decimal.proto\"; message R { confluent.type.Decimal d = 1 "
                 "[(confluent.field_meta) = { params: [{key: \"precision\", value: \"2\"}, {key: "
                 "\"scale\", value: \"3\"}] }]; }")),
             Catch::Contains("invalid precision 2 and scale 3"));
  CHECK_THAT(fatal(protobuf::columns_of(
                 "syntax = \"proto2\"; message R { optional int32 a = 1; optional int32 A = "
                 "2; }")),
             Catch::Contains("field A: two fields of protobuf message \"R\""));
  CHECK_THAT(fatal(protobuf::columns_of("syntax = \"proto3\"; message R { }")),
             Catch::Contains("has no fields"));
  CHECK_THAT(fatal(protobuf::columns_of("syntax = \"proto3\"; enum E { A = 0; }")),
             Catch::Contains("has no message"));
  CHECK_THAT(fatal(protobuf::columns_of("syntax = \"proto3\"; message R { int32 a = 1 }")),
             Catch::Contains("invalid protobuf schema: line 1:"));
  CHECK_THAT(fatal(protobuf::columns_of("not a schema at all")),
             Catch::Contains("invalid protobuf schema"));
  CHECK_THAT(fatal(protobuf::columns_of("syntax = \"proto3\"; message R { Nowhere a = 1; }")),
             Catch::Contains("\"Nowhere\" is not defined"));
  CHECK_THAT(fatal(protobuf::columns_of(
                 "syntax = \"proto3\"; import \"event.proto\"; message R { Event e = 1; }")),
             Catch::Contains("import \"event.proto\" is not available"));
}

TEST_CASE("Protobuf schema_for writes the schema ksqlDB registers", "[runtime][protobuf]") {
  // protobuf.json "protobuf primitives": the value schema ksqlDB registers, byte for byte.
  CHECK(protobuf::schema_for({{"K", of(TypeKind::String), true},
                              {"I", of(TypeKind::Int)},
                              {"L", of(TypeKind::BigInt)},
                              {"D", of(TypeKind::Double)},
                              {"B", of(TypeKind::Boolean)},
                              {"S", of(TypeKind::String)}}) ==
        "syntax = \"proto3\";\n\nmessage ConnectDefault1 {\n  int32 I = 1;\n  int64 L = 2;\n  "
        "double D = 3;\n  bool B = 4;\n  string S = 5;\n}\n");

  const std::string text = protobuf::schema_for(ksql_columns());
  CHECK(text == kKsqlSchema);
  // Key columns are not part of the value schema.
  auto with_key = ksql_columns();
  with_key.insert(with_key.begin(), Column{"ROWKEY", of(TypeKind::String), true});
  CHECK(protobuf::schema_for(with_key) == kKsqlSchema);

  // It reads back as the same columns, but for the ARRAY of MAPs, which
  // protobuf cannot hold (the map's entries, repeated, read as a MAP).
  auto cols = protobuf::columns_of(text);
  if (!cols) FAIL(cols.error().message);
  const auto expected = ksql_columns();
  REQUIRE(cols->size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO(expected[i].name);
    CHECK((*cols)[i].name == expected[i].name);
    if (expected[i].name != "COMPLEX") CHECK(*(*cols)[i].type == *expected[i].type);
  }
  CHECK((*cols)[8].type->to_string() ==
        "STRUCT<DECIMAL DECIMAL(2, 1), STRUCT STRUCT<F1 STRING, F2 INTEGER>, ARRAY_STRUCT "
        "ARRAY<STRUCT<F1 STRING>>, ARRAY_MAP MAP<STRING, INTEGER>, MAP_ARRAY MAP<STRING, "
        "ARRAY<STRING>>, MAP_MAP MAP<STRING, MAP<STRING, INTEGER>>, MAP_STRUCT MAP<STRING, "
        "STRUCT<F1 STRING>>>");
  // ... and Message::make says so.
  auto refused = protobuf::Message::make(text, "", ksql_columns());
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == ErrorKind::Fatal);
  CHECK_THAT(refused.error().message, Catch::Contains("field COMPLEX.ARRAY_MAP: protobuf"));

  // A full name, a package, nested ARRAYs and a name clash.
  const std::string named =
      protobuf::schema_for({{"ConnectDefault1", DataType::structure({{"X", of(TypeKind::Int)}})},
                            {"AA", DataType::array(DataType::array(of(TypeKind::Int)))},
                            {"NOTHING", of(TypeKind::Null)},
                            {"B", of(TypeKind::Boolean)}},
                           "io.example.Result");
  CHECK(named == R"(syntax = "proto3";
package io.example;

message Result {
  ConnectDefault1Message ConnectDefault1 = 1;
  repeated int32 AA = 2;
  bool B = 3;

  message ConnectDefault1Message {
    int32 X = 1;
  }
}
)");
  CHECK(protobuf::message_indexes(named, "io.example.Result").value() == std::vector<int>{0});

  if (have_protoc()) {
    std::string error;
    CHECK(protoc_accepts(text, &error));
    INFO(error);
    CHECK(protoc_accepts(named, &error));
    CHECK(protoc_accepts(protobuf::schema_for(round_trip_columns()), &error));
    for (const auto& [file, content] : protobuf::bundled_files()) {
      INFO(file);
      CHECK(protoc_accepts(content, &error));
    }
  }
}

// --- Values ------------------------------------------------------------------------

TEST_CASE("Protobuf round trip keeps every type through ksqlDB's schema", "[runtime][protobuf]") {
  const auto columns = round_trip_columns();
  auto m = message(protobuf::schema_for(columns), columns);
  CHECK(m->full_name() == "ConnectDefault1");
  CHECK(m->indexes() == std::vector<int>{0});
  auto geo = [](double lat, double lon) {
    return Value::structure({{"LAT", Value::float64(lat)}, {"LON", Value::float64(lon)}});
  };
  const std::vector<Value> rows = {
      Value::structure(
          {{"ID", Value::int64(INT64_MIN)},
           {"NAME", Value::string(std::string("pen\0ink \xc3\xa9 \xf0\x9f\x96\x8a", 15))},
           {"PRICE", Value::decimal(dec("-1234.56"))},
           {"AT", Value::timestamp(-1)},
           {"TAGS", Value::array({Value::string("a"), Value::string(""), Value::string("z")})},
           {"ATTRS",
            Value::map(
                {{"k", Value::int32(-1)}, {"", Value::int32(0)}, {"z", Value::int32(INT32_MAX)}})},
           {"ADDRESS",
            Value::structure({{"STREET", Value::string("Elm")}, {"GEO", geo(1.25, -0.5)}})},
           {"DAY", Value::date(-719162)},  // 0001-01-01
           {"TOD", Value::time(86'399'999)},
           {"BLOB", Value::bytes(std::string("\x00\xff\x80", 3))},
           {"OK", Value::boolean(true)},
           {"N", Value::int32(INT32_MIN)},
           {"RATIO", Value::float64(-1e300)},
           {"GROUPS", Value::map({{"g", Value::array({Value::string("x"), Value::string("y")})},
                                  {"none", Value::array({})}})},
           {"NESTED",
            Value::map({{"outer", Value::map({{"inner", Value::decimal(dec("-0.5"))}})}})},
           {"POINTS", Value::array({geo(1, 2), geo(0, 0)})},
           {"WHEN", Value::array({Value::timestamp(253'402'300'799'999), Value::timestamp(0),
                                  Value::timestamp(-62'135'596'800'000)})}}),
      Value::structure(
          {{"ID", Value::int64(1)},
           {"NAME", Value::string("x")},
           {"PRICE", Value::decimal(dec("0.01"))},
           {"AT", Value::timestamp(1'709'214'330'123)},
           {"TAGS", Value::array({})},
           {"ATTRS", Value::map({})},
           {"ADDRESS", Value::structure({{"STREET", Value::string("")}, {"GEO", Value()}})},
           {"DAY", Value::date(2'932'896)},  // 9999-12-31
           {"TOD", Value::time(1)},
           {"BLOB", Value::bytes("")},
           {"OK", Value::boolean(false)},
           {"N", Value::int32(0)},
           {"RATIO", Value::float64(0.1)},
           {"GROUPS", Value::map({})},
           {"NESTED", Value::map({{"empty", Value::map({})}})},
           {"POINTS", Value::array({})},
           {"WHEN", Value::array({})}}),
  };
  for (const auto& row : rows) {
    INFO(row.to_string());
    auto bytes = m->encode(row);
    REQUIRE(bytes.ok());
    auto back = m->decode(*bytes, {0});
    REQUIRE(back.ok());
    CHECK(identical(*back, row));
  }

  // Proto3 has no nulls: a NULL scalar is left out and reads back as its
  // default, a NULL message as NULL, a NULL container as empty.
  StructFields nulls;
  for (const auto& c : columns) nulls.push_back(Field{c.name, Value()});
  auto bytes = m->encode(Value::structure(nulls));
  REQUIRE(bytes.ok());
  CHECK(bytes->empty());
  auto back = m->decode(*bytes);
  REQUIRE(back.ok());
  const Value defaults = Value::structure({{"ID", Value::int64(0)},
                                           {"NAME", Value::string("")},
                                           {"PRICE", Value()},
                                           {"AT", Value()},
                                           {"TAGS", Value::array({})},
                                           {"ATTRS", Value::map({})},
                                           {"ADDRESS", Value()},
                                           {"DAY", Value()},
                                           {"TOD", Value()},
                                           {"BLOB", Value::bytes("")},
                                           {"OK", Value::boolean(false)},
                                           {"N", Value::int32(0)},
                                           {"RATIO", Value::float64(0)},
                                           {"GROUPS", Value::map({})},
                                           {"NESTED", Value::map({})},
                                           {"POINTS", Value::array({})},
                                           {"WHEN", Value::array({})}});
  CHECK(identical(*back, defaults));
  // A STRUCT of NULLs is an empty message: its fields read as their defaults.
  auto empty_struct = m->decode(from_hex("3a00"));  // ADDRESS (7) of no bytes
  REQUIRE(empty_struct.ok());
  CHECK(identical(*empty_struct->field("ADDRESS"),
                  Value::structure({{"STREET", Value::string("")}, {"GEO", Value()}})));
}

TEST_CASE("Protobuf round trip keeps every protobuf type", "[runtime][protobuf]") {
  SECTION("scalars, enums and the well-known types") {
    auto m = message_of(kEverything);
    CHECK(m->full_name() == "test.pb.Everything");
    const Value extremes = Value::structure({{"FLAG", Value::boolean(false)},
                                             {"SMALL", Value::int32(INT32_MIN)},
                                             {"ZIG", Value::int32(INT32_MAX)},
                                             {"FIXED_SMALL", Value::int32(INT32_MIN)},
                                             {"UNSIGNED_SMALL", Value::int64(0)},
                                             {"FIXED_UNSIGNED", Value::int64(UINT32_MAX)},
                                             {"BIG", Value::int64(INT64_MIN)},
                                             {"ZIG_BIG", Value::int64(INT64_MIN)},
                                             {"FIXED_BIG", Value::int64(INT64_MAX)},
                                             {"UNSIGNED_BIG", Value::int64(INT64_MIN)},
                                             {"FIXED_UNSIGNED_BIG", Value::int64(-2)},
                                             {"RATIO", Value::float64(-0.5)},
                                             {"AMOUNT", Value::float64(1e300)},
                                             {"NAME", Value::string("")},
                                             {"BLOB", Value::bytes("")},
                                             {"SUIT", Value::string("SPADES")},
                                             {"AT", Value::timestamp(-62'135'596'800'000)},
                                             {"DAY", Value::date(-719162)},
                                             {"TOD", Value::time(0)},
                                             {"PRICE", Value::decimal(dec("99999999.99"))}});
    for (const Value& row : {everything_value(), extremes}) {
      INFO(row.to_string());
      auto bytes = m->encode(row);
      REQUIRE(bytes.ok());
      auto back = m->decode(*bytes, {0});
      REQUIRE(back.ok());
      CHECK(identical(*back, row));
    }
  }
  SECTION("wrappers, optional fields and oneofs keep NULL") {
    auto m = message_of(kNullable);
    auto point = [](double x, double y) {
      return Value::structure({{"X", Value::float64(x)}, {"Y", Value::float64(y)}});
    };
    auto choice = [](Value text, Value number, Value where) {
      return Value::structure(
          {{"TEXT", std::move(text)}, {"NUMBER", std::move(number)}, {"WHERE", std::move(where)}});
    };
    const std::vector<Value> rows = {
        Value::structure({{"CHOICE_0", choice(Value::string("hi"), Value(), Value())},
                          {"B", Value::boolean(false)},
                          {"I", Value::int32(0)},
                          {"U", Value::int64(UINT32_MAX)},
                          {"L", Value::int64(INT64_MIN)},
                          {"UL", Value::int64(-1)},
                          {"F", Value::float64(0)},
                          {"D", Value::float64(-0.25)},
                          {"S", Value::string("")},
                          {"BY", Value::bytes("")},
                          {"MAYBE", Value::int32(0)},
                          {"POINT", point(0, 0)},
                          {"AT", Value::timestamp(0)}}),
        Value::structure({{"CHOICE_0", choice(Value(), Value::int64(0), Value())},
                          {"B", Value()},
                          {"I", Value()},
                          {"U", Value()},
                          {"L", Value()},
                          {"UL", Value()},
                          {"F", Value()},
                          {"D", Value()},
                          {"S", Value()},
                          {"BY", Value()},
                          {"MAYBE", Value()},
                          {"POINT", Value()},
                          {"AT", Value()}}),
        Value::structure({{"CHOICE_0", choice(Value(), Value(), point(1, -1))},
                          {"B", Value::boolean(true)},
                          {"I", Value::int32(-5)},
                          {"U", Value()},
                          {"L", Value()},
                          {"UL", Value()},
                          {"F", Value::float64(1.5)},
                          {"D", Value()},
                          {"S", Value::string("x")},
                          {"BY", Value::bytes("y")},
                          {"MAYBE", Value::int32(-1)},
                          {"POINT", Value()},
                          {"AT", Value()}}),
        Value::structure({{"CHOICE_0", Value()},
                          {"B", Value()},
                          {"I", Value()},
                          {"U", Value()},
                          {"L", Value()},
                          {"UL", Value()},
                          {"F", Value()},
                          {"D", Value()},
                          {"S", Value()},
                          {"BY", Value()},
                          {"MAYBE", Value()},
                          {"POINT", Value()},
                          {"AT", Value()}}),
    };
    for (const auto& row : rows) {
      INFO(row.to_string());
      auto bytes = m->encode(row);
      REQUIRE(bytes.ok());
      auto back = m->decode(*bytes, {0});
      REQUIRE(back.ok());
      CHECK(identical(*back, row));
    }
    // The members of a oneof by their own names: the first with a value is set.
    auto by_member =
        message(kNullable, {{"TEXT", of(TypeKind::String)}, {"NUMBER", of(TypeKind::BigInt)}});
    auto bytes =
        by_member->encode(Value::structure({{"TEXT", Value()}, {"NUMBER", Value::int64(12)}}));
    REQUIRE(bytes.ok());
    CHECK(to_hex(*bytes) == "600c");
    auto back = by_member->decode(*bytes);
    REQUIRE(back.ok());
    CHECK(identical(*back, Value::structure({{"TEXT", Value()}, {"NUMBER", Value::int64(12)}})));
  }
  SECTION("containers") {
    auto m = message_of(kContainers);
    auto bytes = m->encode(containers_value());
    REQUIRE(bytes.ok());
    auto back = m->decode(*bytes);
    REQUIRE(back.ok());
    CHECK(identical(*back, containers_value()));
  }
}

TEST_CASE("Protobuf decodes what protoc wrote and encodes the same bytes", "[runtime][protobuf]") {
  SECTION("every scalar and well-known type") {
    auto m = message_of(kEverything);
    auto v = m->decode(from_hex(kEverythingHex), {0});
    REQUIRE(v.ok());
    CHECK(identical(*v, everything_value()));
    CHECK(to_hex(m->encode(everything_value()).value()) == kEverythingHex);
    if (have_protoc()) {
      CHECK(to_hex(protoc_encode(kEverything, "test.pb.Everything", kEverythingText)) ==
            kEverythingHex);
      // Nanoseconds below a millisecond are dropped (rounding down, also
      // before 1970), as Java's Timestamps.toMillis and LocalTime do.
      auto fine = m->decode(protoc_encode(
          kEverything, "test.pb.Everything",
          "at { seconds: -1 nanos: 999999999 } tod { hours: 23 minutes: 59 seconds: 59 nanos: "
          "999999999 } price { value: \"\\001\" scale: 5 }"));
      REQUIRE(fine.ok());
      CHECK(identical(*fine->field("AT"), Value::timestamp(-1)));
      CHECK(identical(*fine->field("TOD"), Value::time(86'399'999)));
      // The message's own scale, then the column's: 0.00001 rounds to 0.00.
      CHECK(identical(*fine->field("PRICE"), Value::decimal(dec("0.00"))));
    }
  }
  SECTION("containers") {
    auto m = message_of(kContainers);
    auto v = m->decode(from_hex(kContainersHex));
    REQUIRE(v.ok());
    CHECK(identical(*v, containers_value()));
    CHECK(to_hex(m->encode(containers_value()).value()) == kContainersHex);
    if (have_protoc()) {
      CHECK(to_hex(protoc_encode(kContainers, "test.pb.Order", kContainersText)) == kContainersHex);
      // Maps of many entries (in no particular order on the wire).
      auto many = m->decode(protoc_encode(
          kContainers, "test.pb.Order",
          "stock { key: \"a\" value { qty: 1 } } stock { key: \"b\" value { where: \"w\" } } "
          "stock { key: \"c\" } by_number { key: 2147483647 value: \"max\" } by_number { key: "
          "-2147483648 value: \"min\" } flags { key: false value: -1 } flags { key: true value: 1 "
          "}"));
      REQUIRE(many.ok());
      CHECK(
          identical(*many->field("STOCK"),
                    Value::map({{"a", level(1, "")}, {"b", level(0, "w")}, {"c", level(0, "")}})));
      CHECK(identical(*many->field("BY_NUMBER"),
                      Value::map({{"2147483647", Value::string("max")},
                                  {"-2147483648", Value::string("min")}})));
      CHECK(identical(*many->field("FLAGS"),
                      Value::map({{"false", Value::float64(-1)}, {"true", Value::float64(1)}})));
    }
  }
  SECTION("wrappers, optional fields and oneofs") {
    if (!have_protoc()) return;
    auto m = message_of(kNullable);
    const std::string text =
        "b { value: true } i { } u { value: 4294967295 } ul { value: 18446744073709551615 } f { "
        "value: 0.25 } s { value: \"\\303\\251\" } maybe: 0 where { x: 2 } at { seconds: 1 }";
    const std::string bytes = protoc_encode(kNullable, "test.pb.Nullable", text);
    auto v = m->decode(bytes);
    REQUIRE(v.ok());
    const Value expected = Value::structure(
        {{"CHOICE_0", Value::structure({{"TEXT", Value()},
                                        {"NUMBER", Value()},
                                        {"WHERE", Value::structure({{"X", Value::float64(2)},
                                                                    {"Y", Value::float64(0)}})}})},
         {"B", Value::boolean(true)},
         {"I", Value::int32(0)},
         {"U", Value::int64(UINT32_MAX)},
         {"L", Value()},
         {"UL", Value::int64(-1)},
         {"F", Value::float64(0.25)},
         {"D", Value()},
         {"S", Value::string("\xc3\xa9")},
         {"BY", Value()},
         {"MAYBE", Value::int32(0)},
         {"POINT", Value()},
         {"AT", Value::timestamp(1000)}});
    CHECK(identical(*v, expected));
    CHECK(to_hex(m->encode(expected).value()) == to_hex(bytes));
  }
  SECTION("protoc reads what schema_for's schema encodes") {
    if (!have_protoc()) return;
    const std::vector<Column> columns = {
        {"ID", of(TypeKind::BigInt)},
        {"PRICE", DataType::decimal(6, 2)},
        {"AT", of(TypeKind::Timestamp)},
        {"DAY", of(TypeKind::Date)},
        {"TOD", of(TypeKind::Time)},
        {"GROUPS", DataType::map(DataType::array(of(TypeKind::String)))},
        {"ADDRESS", DataType::structure({{"STREET", of(TypeKind::String)}})}};
    const std::string schema = protobuf::schema_for(columns);
    auto m = message(schema, columns);
    auto bytes = m->encode(
        Value::structure({{"ID", Value::int64(-3)},
                          {"PRICE", Value::decimal(dec("-1.28"))},
                          {"AT", Value::timestamp(-1)},
                          {"DAY", Value::date(-1)},
                          {"TOD", Value::time(3'723'004)},
                          {"GROUPS", Value::map({{"g", Value::array({Value::string("x")})}})},
                          {"ADDRESS", Value::structure({{"STREET", Value::string("Elm")}})}}));
    REQUIRE(bytes.ok());
    // -1.28: unscaled -128, Java's shortest two's complement (0x80), 3 digits.
    CHECK(protoc_decode(schema, "ConnectDefault1", *bytes) ==
          "ID: -3\n"
          "PRICE {\n  value: \"\\200\"\n  precision: 3\n  scale: 2\n}\n"
          "AT {\n  seconds: -1\n  nanos: 999000000\n}\n"
          "DAY {\n  year: 1969\n  month: 12\n  day: 31\n}\n"
          "TOD {\n  hours: 1\n  minutes: 2\n  seconds: 3\n  nanos: 4000000\n}\n"
          "GROUPS {\n  key: \"g\"\n  value: \"x\"\n}\n"
          "ADDRESS {\n  STREET: \"Elm\"\n}\n");
  }
}

TEST_CASE("Protobuf decode fills the columns by name and converts to their types",
          "[runtime][protobuf]") {
  auto m =
      message(kContainers,
              {{"ID", of(TypeKind::BigInt), true},  // a key column: not in the value
               {"tags", DataType::array(of(TypeKind::Double))},
               {"Items", DataType::array(of(TypeKind::String))},
               {"MISSING", of(TypeKind::Int)},
               {"ADDRESS",
                DataType::structure({{"geo", DataType::structure({{"LAT", of(TypeKind::String)}})},
                                     {"CITY", of(TypeKind::String)}})},
               {"id", DataType::decimal(10, 1)},
               {"BY_NUMBER", DataType::map(of(TypeKind::String))}});
  auto v = m->decode(from_hex(kContainersHex));
  REQUIRE(v.ok());
  const Value expected = Value::structure(
      {{"tags", Value::array({Value::float64(1), Value::float64(-1), Value::float64(300)})},
       {"Items", Value::array({Value::string("a"), Value::string(""), Value::string("b")})},
       {"MISSING", Value()},
       {"ADDRESS", Value::structure({{"geo", Value::structure({{"LAT", Value::string("1.25")}})},
                                     {"CITY", Value()}})},
       {"id", Value::decimal(dec("7.0"))},
       {"BY_NUMBER", Value::map({{"-5", Value::string("minus five")}})}});
  CHECK(identical(*v, expected));
  // Encode takes the same row back (the map key parsed as the int32 it was).
  auto again = m->decode(m->encode(expected).value());
  REQUIRE(again.ok());
  CHECK(identical(*again->field("BY_NUMBER"), *expected.field("BY_NUMBER")));

  // A string field read into an INT column: coerce, and a data error naming
  // the column when it cannot.
  auto s =
      message("syntax = \"proto3\"; message S { string qty = 1; }", {{"QTY", of(TypeKind::Int)}});
  CHECK(identical(*s->decode(from_hex("0a023132")).value().field("QTY"), Value::int32(12)));
  require_data_error(s->decode(from_hex("0a0178")), "field QTY: cannot read protobuf string");

  // A map's entries read as an ARRAY of STRUCTs, and written back.
  auto entries =
      message(kContainers,
              {{"BY_NUMBER", DataType::array(DataType::structure(
                                 {{"KEY", of(TypeKind::Int)}, {"VALUE", of(TypeKind::String)}}))}});
  auto listed = entries->decode(from_hex(kContainersHex));
  REQUIRE(listed.ok());
  CHECK(identical(*listed->field("BY_NUMBER"),
                  Value::array({Value::structure(
                      {{"KEY", Value::int32(-5)}, {"VALUE", Value::string("minus five")}})})));
  CHECK(identical(entries->decode(entries->encode(*listed).value()).value(), *listed));

  // A Timestamp read field by field into a STRUCT column, and written back.
  auto t = message(kEverything, {{"AT", DataType::structure({{"SECONDS", of(TypeKind::BigInt)},
                                                             {"NANOS", of(TypeKind::Int)}})}});
  auto at = t->decode(from_hex(kEverythingHex));
  REQUIRE(at.ok());
  CHECK(identical(*at->field("AT"), Value::structure({{"SECONDS", Value::int64(1'709'214'330)},
                                                      {"NANOS", Value::int32(123'000'000)}})));
  CHECK(to_hex(t->encode(*at).value()) == "8a010b08fa9482af0610c0a9d33a");
}

TEST_CASE("Protobuf reads absent fields the way ksqlDB does", "[runtime][protobuf]") {
  SECTION("proto3") {
    // protobuf.json: "protobuf defaults - empty struct fills defaults and
    // nulls remain nulls", "protobuf primitives with null".
    auto m = message_of(kEverything);
    auto empty = m->decode("");
    REQUIRE(empty.ok());
    for (const char* name :
         {"FLAG", "SMALL", "BIG", "UNSIGNED_SMALL", "AMOUNT", "NAME", "BLOB", "SUIT"}) {
      INFO(name);
      CHECK_FALSE(empty->field(name)->is_null());
    }
    CHECK(identical(*empty->field("SUIT"), Value::string("SPADES")));
    CHECK(identical(*empty->field("UNSIGNED_SMALL"), Value::int64(0)));
    for (const char* name : {"AT", "DAY", "TOD", "PRICE"}) {
      INFO(name);
      CHECK(empty->field(name)->is_null());
    }
    // A number the enum does not define (proto3 keeps it) and back.
    auto unknown = m->decode(from_hex("800107"));
    REQUIRE(unknown.ok());
    CHECK(identical(*unknown->field("SUIT"), Value::string("UNKNOWN_ENUM_VALUE_Suit_7")));
    CHECK(to_hex(m->encode(*unknown).value()) == "800107");
  }
  SECTION("proto2 defaults and required fields") {
    const std::string schema = R"(syntax = "proto2";
      message P {
        optional int32 a = 1 [default = 7];
        required string b = 2;
        optional string c = 3 [default = "caf\303\251 \"q\""];
        optional E e = 4 [default = TWO];
        enum E { ONE = 1; TWO = 2; }
      })";
    auto m = message_of(schema);
    auto v = m->decode(from_hex("1200"));  // b: ""
    REQUIRE(v.ok());
    CHECK(identical(*v, Value::structure({{"A", Value::int32(7)},
                                          {"B", Value::string("")},
                                          {"C", Value::string("caf\xc3\xa9 \"q\"")},
                                          {"E", Value::string("TWO")}})));
    require_data_error(m->decode(from_hex("0801")), "missing required fields b");
    require_data_error(m->encode(Value::structure({{"A", Value::int32(1)}})),
                       "missing required fields b");
    // A closed enum keeps an unknown number aside: the field reads as its default.
    auto closed = m->decode(from_hex("12002009"));
    REQUIRE(closed.ok());
    CHECK(identical(*closed->field("E"), Value::string("TWO")));
  }
}

TEST_CASE("Protobuf message indexes", "[runtime][protobuf]") {
  SECTION("encoding") {
    CHECK(protobuf::encode_message_indexes({0}) == std::string(1, '\0'));
    CHECK(protobuf::encode_message_indexes({}) == std::string(1, '\0'));
    CHECK(to_hex(protobuf::encode_message_indexes({1})) == "0202");
    CHECK(to_hex(protobuf::encode_message_indexes({0, 0})) == "040000");
    CHECK(to_hex(protobuf::encode_message_indexes({2, 64, 1})) == "0604800102");
    for (const std::vector<int>& indexes :
         {std::vector<int>{0}, std::vector<int>{5}, std::vector<int>{0, 3, 1},
          std::vector<int>{INT32_MAX, 0, 1000000}}) {
      std::string bytes = protobuf::encode_message_indexes(indexes) + "rest";
      std::string_view in = bytes;
      auto back = protobuf::decode_message_indexes(in);
      REQUIRE(back.ok());
      CHECK(*back == indexes);
      CHECK(in == "rest");
    }
    std::string_view empty_list("\x00\x08\x01", 3);  // [0], then a message
    CHECK(protobuf::decode_message_indexes(empty_list).value() == std::vector<int>{0});
    CHECK(empty_list.size() == 2);
  }
  SECTION("bad bytes are data errors") {
    auto bad = [](std::string bytes, const std::string& text) {
      std::string_view in = bytes;
      auto r = protobuf::decode_message_indexes(in);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().kind == ErrorKind::Data);
      CHECK_THAT(r.error().message, Catch::Contains(text));
    };
    bad("", "ends inside the count");
    bad("\x80", "ends inside the count");
    bad("\x04\x02", "a count of 2 with 1 bytes left");
    bad("\x01", "a count of -1");
    bad("\x02\x01", "index -1 is negative");
    bad("\x02\xff\xff\xff\xff\x7f", "longer than 32 bits");
    bad("\x02\x80\x80\x80\x80\x80\x01", "longer than 32 bits");
    bad(std::string("\xfe\xff\xff\xff\x0f", 5) + "xx", "a count of 2147483647");
  }
  SECTION("locating messages in a schema") {
    const std::string schema = R"(syntax = "proto3";
      package p;
      message A { int32 x = 1; message Inner { string s = 1; message Deep { bool d = 1; } } }
      enum Ignored { ZERO = 0; }
      message B { string y = 1; }
    )";
    CHECK(protobuf::message_indexes(schema).value() == std::vector<int>{0});
    CHECK(protobuf::message_indexes(schema, "p.B").value() == std::vector<int>{1});
    CHECK(protobuf::message_indexes(schema, "A.Inner.Deep").value() == std::vector<int>{0, 0, 0});
    CHECK(protobuf::message_name(schema, {1}).value() == "p.B");
    CHECK(protobuf::message_name(schema, {0, 0}).value() == "p.A.Inner");
    CHECK(protobuf::message_name(schema, {}).value() == "p.A");
    auto none = protobuf::message_name(schema, {2});
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().kind == ErrorKind::Data);
    CHECK(protobuf::message_indexes(schema, "p.C").error().kind == ErrorKind::Fatal);
    // The entries of map fields are not messages of the schema to Confluent.
    const std::string with_map =
        "syntax = \"proto3\"; message A { map<string, int32> m = 1; message Inner { int32 x = 1; "
        "map<int32, Inner> again = 2; message Deep { bool d = 1; } } }";
    CHECK(protobuf::message_indexes(with_map, "A.Inner").value() == std::vector<int>{0, 0});
    CHECK(protobuf::message_indexes(with_map, "A.Inner.Deep").value() == std::vector<int>{0, 0, 0});
    CHECK(protobuf::message_name(with_map, {0, 0, 0}).value() == "A.Inner.Deep");
    CHECK(protobuf::message_name(with_map, {0, 1}).error().kind == ErrorKind::Data);

    // The record's indexes pick the message it is read as.
    auto m = message(schema, {{"X", of(TypeKind::Int)}, {"Y", of(TypeKind::String)}}, "B");
    CHECK(m->indexes() == std::vector<int>{1});
    CHECK(m->full_name() == "p.B");
    CHECK(identical(m->decode(from_hex("0a0168"), {1}).value(),
                    Value::structure({{"X", Value()}, {"Y", Value::string("h")}})));
    CHECK(identical(m->decode(from_hex("0805"), {0}).value(),
                    Value::structure({{"X", Value::int32(5)}, {"Y", Value()}})));
    CHECK(identical(m->decode(from_hex("0a0168")).value(),
                    Value::structure({{"X", Value()}, {"Y", Value::string("h")}})));
    CHECK(to_hex(m->encode(Value::structure({{"X", Value::int32(5)}, {"Y", Value::string("h")}}))
                     .value()) == "0a0168");
    require_data_error(m->decode(from_hex("0805"), {3}), "locate no message");
    require_data_error(m->decode(from_hex("0805"), {0, 5}), "locate no message");
    // A message that cannot be read as the columns: each record is refused.
    auto typed = message(schema, {{"X", DataType::structure({{"Z", of(TypeKind::Int)}})}}, "B");
    require_data_error(typed->decode(from_hex("0805"), {0}), "cannot be read as the columns");
    require_data_error(typed->decode(from_hex("0805"), {0}), "field X: protobuf int32");
    CHECK(typed->decode(from_hex("0a0168"), {1}).ok());
  }
}

TEST_CASE("Protobuf Message make refuses schemas and columns that cannot work",
          "[runtime][protobuf]") {
  auto refused = [](const std::string& schema, std::vector<Column> cols, const std::string& text,
                    const std::string& full_name = "") {
    auto m = protobuf::Message::make(schema, full_name, std::move(cols));
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().kind == ErrorKind::Fatal);
    CHECK_THAT(m.error().message, Catch::Contains(text));
  };
  refused("syntax = \"proto3\"; message R { int32 a = 1 }", {}, "invalid protobuf schema");
  refused(kContainers, {}, "no message \"Nope\"", "Nope");
  refused(kContainers, {{"ADDRESS", of(TypeKind::String)}},
          "field ADDRESS: protobuf message \"test.pb.Order.Address\" cannot be read as STRING");
  refused(kContainers, {{"ID", DataType::structure({{"A", of(TypeKind::Int)}})}},
          "field ID: protobuf int64 cannot be read as STRUCT<A INTEGER>");
  refused(kContainers, {{"ITEMS", DataType::map(of(TypeKind::String))}},
          "field ITEMS: protobuf repeated string cannot be read as MAP<STRING, STRING>");
  refused(kContainers, {{"STOCK", DataType::array(of(TypeKind::String))}},
          "field STOCK: protobuf map<string, message \"test.pb.Order.Level\">");
  refused(kContainers, {{"ID", DataType::array(of(TypeKind::Int))}},
          "field ID: protobuf int64 cannot be read as ARRAY<INTEGER>");
  refused(kContainers,
          {{"ADDRESS", DataType::structure({{"STREET", DataType::array(of(TypeKind::Int))}})}},
          "field ADDRESS.STREET:");
  refused(kNullable, {{"CHOICE_0", of(TypeKind::String)}},
          "field CHOICE_0: protobuf oneof \"test.pb.Nullable.choice\" cannot be read as STRING");
  refused("syntax = \"proto2\"; message R { optional group G = 1 { optional int32 v = 1; } }",
          {{"G", DataType::structure({{"V", of(TypeKind::Int)}})}}, "field G: protobuf group");
  // A recursive schema is fine for a Message: the columns say how deep to read.
  auto chain = message(kChain, {{"V", of(TypeKind::Int)},
                                {"NEXT", DataType::structure({{"V", of(TypeKind::Int)}})}});
  auto v = chain->decode(chain_bytes(3));
  REQUIRE(v.ok());
  CHECK(identical(*v, Value::structure({{"V", Value::int32(1)},
                                        {"NEXT", Value::structure({{"V", Value::int32(1)}})}})));
}

TEST_CASE("Protobuf encode refuses values the schema cannot hold", "[runtime][protobuf]") {
  auto e = message_of(kEverything);
  const Value base = everything_value();
  auto with = [&](const std::string& name, Value v) {
    StructFields fields = base.as_struct();
    for (auto& f : fields)
      if (f.name == name) f.value = std::move(v);
    return Value::structure(std::move(fields));
  };
  REQUIRE(e->encode(base).ok());
  require_data_error(e->encode(Value::int64(3)), "STRUCT");
  require_data_error(e->encode(with("SUIT", Value::string("DIAMONDS"))),
                     "field suit: \"DIAMONDS\" is not a value of protobuf enum");
  require_data_error(e->encode(with("SMALL", Value::int64(1LL << 33))),
                     "field small: cannot write BIGINT");
  require_data_error(e->encode(with("UNSIGNED_SMALL", Value::int64(-1))),
                     "field unsigned_small: BIGINT -1 is out of range for protobuf uint32");
  require_data_error(e->encode(with("UNSIGNED_SMALL", Value::int64(1LL << 32))),
                     "out of range for protobuf uint32");
  require_data_error(e->encode(with("AT", Value::timestamp(INT64_MAX))),
                     "field at: TIMESTAMP 9223372036854775807 is out of google.protobuf.Timestamp");
  require_data_error(e->encode(with("AT", Value::timestamp(-62'135'596'800'001))),
                     "out of google.protobuf.Timestamp's range");
  require_data_error(e->encode(with("DAY", Value::date(-719163))),
                     "field day: DATE -719163 is before year 1");
  require_data_error(e->encode(with("PRICE", Value::decimal(dec("123456789.01")))),
                     "field price: cannot write DECIMAL");
  require_data_error(e->encode(with("NAME", Value::string("\xff"))),
                     "field name: a STRING that is not valid UTF-8");
  require_data_error(e->encode(with("BLOB", Value::string("text"))), "field blob:");
  require_data_error(e->encode(with("NAME", Value::bytes("b"))), "field name: cannot write BYTES");
  // Values of another kind are converted where they can be.
  auto converted = e->encode(with("SMALL", Value::string("12")));
  REQUIRE(converted.ok());
  CHECK(identical(*e->decode(*converted).value().field("SMALL"), Value::int32(12)));
  // A float beyond float's range is infinity, as Java's cast makes it.
  auto huge = e->decode(e->encode(with("RATIO", Value::float64(1e300))).value());
  REQUIRE(huge.ok());
  CHECK(std::isinf(huge->field("RATIO")->as_double()));

  auto c = message_of(kContainers);
  auto order = [](const char* name, Value v) {
    return Value::structure({{"ID", Value::int64(1)}, {name, std::move(v)}});
  };
  require_data_error(c->encode(order("ITEMS", Value::array({Value::string("a"), Value()}))),
                     "field items: NULL in an ARRAY");
  require_data_error(c->encode(order("STOCK", Value::map({{"k", Value()}}))),
                     "field stock: NULL as the value of key \"k\"");
  require_data_error(c->encode(order("BY_NUMBER", Value::map({{"x", Value::string("y")}}))),
                     "field by_number: map key \"x\" is not a 32-bit integer");
  require_data_error(
      c->encode(order("BY_NUMBER", Value::map({{"2147483648", Value::string("y")}}))),
      "is not a 32-bit integer");
  require_data_error(c->encode(order("FLAGS", Value::map({{"yes", Value::float64(1)}}))),
                     "map key \"yes\" is not a bool");
  require_data_error(c->encode(order("ADDRESS", Value::structure({{"GEO", Value::int32(1)}}))),
                     "field address.geo: cannot write INTEGER value 1 as protobuf message");

  auto n = message_of(kNullable);
  require_data_error(n->encode(Value::structure({{"CHOICE_0", Value::string("x")}})),
                     "field choice_0: cannot write STRING value \"x\" as protobuf oneof");
}

TEST_CASE("Protobuf decode refuses bad bytes without crashing", "[runtime][protobuf]") {
  auto everything = message_of(kEverything);
  auto containers = message_of(kContainers);
  auto nullable = message_of(kNullable);
  const std::string valid_everything = from_hex(kEverythingHex);
  const std::string valid_containers = from_hex(kContainersHex);

  SECTION("truncations") {
    // Cut between two fields a message is still a message; anywhere else it
    // is a data error.
    for (auto [m, valid] : {std::pair{everything.get(), valid_everything},
                            std::pair{containers.get(), valid_containers}}) {
      size_t refused = 0;
      for (size_t n = 0; n < valid.size(); ++n) {
        auto r = m->decode(std::string_view(valid).substr(0, n));
        if (!r.ok()) {
          CHECK(r.error().kind == ErrorKind::Data);
          ++refused;
        }
      }
      CHECK(refused > valid.size() / 2);
    }
    require_data_error(everything->decode(valid_everything.substr(0, 5)), "invalid protobuf");
  }
  SECTION("malformed wire data") {
    require_data_error(containers->decode(from_hex("12")), "invalid protobuf message");
    // A length past the end, one of 2^62, a varint of eleven bytes.
    require_data_error(containers->decode(from_hex("12e8076162")));
    require_data_error(containers->decode(from_hex("1280808080808080808001")));
    require_data_error(containers->decode(from_hex("08ffffffffffffffffffff01")));
    // Field number 0, wire types 6 and 7, an end-group without a start.
    require_data_error(containers->decode(from_hex("0001")));
    require_data_error(containers->decode(from_hex("0e00")));
    require_data_error(containers->decode(from_hex("0f00")));
    require_data_error(containers->decode(from_hex("0c")));
    // A packed field whose length cuts a varint.
    require_data_error(containers->decode(from_hex("420181")));
    // A field written with another wire type than its own (protobuf's
    // parsers keep it aside as unknown: ksqlDB would read the default).
    require_data_error(
        containers->decode(from_hex("0d01020304")),
        "field id: protobuf field 1 written as a 32-bit value, not as its type int64");
    require_data_error(containers->decode(from_hex("3a020801")),  // address.street as a varint
                       "field ADDRESS.street: protobuf field 1 written as a varint value");
    require_data_error(containers->decode(from_hex("3808")), "field address: protobuf field 7");
    require_data_error(containers->decode(from_hex("22050d00000000")),  // a map key as fixed32
                       "field BY_NUMBER.key: protobuf field 1 written as a 32-bit value, not as "
                       "its type int32");
    require_data_error(everything->decode(from_hex("8a0109090000000000000000")),
                       "field AT.seconds: protobuf field 1 written as a 64-bit value");
    require_data_error(everything->decode(from_hex("7500000000")),
                       "field name: protobuf field 14 written as a 32-bit value, not as its type "
                       "string");

    // Packed or not, a repeated number is fine either way.
    CHECK(identical(*containers->decode(from_hex("40014002")).value().field("TAGS"),
                    Value::array({Value::int64(1), Value::int64(2)})));
    // Fields the schema does not have are skipped.
    CHECK(containers->decode(from_hex("f8070182080161")).ok());
  }
  SECTION("values out of their types' ranges") {
    require_data_error(everything->decode(from_hex("720261627202c328")),
                       "field NAME: protobuf string of 2 bytes is not valid UTF-8");
    require_data_error(everything->decode(from_hex("7203eda080")),
                       "not valid UTF-8");                                            // a surrogate
    require_data_error(everything->decode(from_hex("7202c0af")), "not valid UTF-8");  // overlong
    require_data_error(containers->decode(from_hex("1a050a03ff0000")),
                       "field STOCK: a map key is not valid UTF-8");
    require_data_error(nullable->decode(from_hex("42030a01ff")), "field S:");  // StringValue
    // Timestamp nanos of 10^9, seconds in year 10000; a Date of February 30th,
    // of year 0, of month 13; a TimeOfDay at 24:00.
    require_data_error(everything->decode(from_hex("8a0106108094ebdc03")),
                       "field AT: google.protobuf.Timestamp {seconds: 0, nanos: 1000000000}");
    require_data_error(everything->decode(from_hex("8a0107088083d1ffaf07")), "out of range");
    require_data_error(everything->decode(from_hex("92010708e80f1002181e")),
                       "field DAY: google.type.Date {year: 2024, month: 2, day: 30} is not a date");
    require_data_error(everything->decode(from_hex("92010410021801")), "year: 0");
    require_data_error(everything->decode(from_hex("9201060801100d1801")), "month: 13");
    require_data_error(everything->decode(from_hex("9a01020818")),
                       "field TOD: google.type.TimeOfDay {hours: 24");
    // A decimal without bytes, of 17 bytes, of more than 38 digits.
    require_data_error(everything->decode(from_hex("a201021004")),
                       "field PRICE: confluent.type.Decimal of 0 bytes");
    require_data_error(everything->decode(from_hex("a201130a110100000000000000000000000000000000")),
                       "confluent.type.Decimal of 17 bytes");
    require_data_error(
        everything->decode(from_hex("a201140a107fffffffffffffffffffffffffffffff1802")));
    // Into the column's DECIMAL(10, 2): 10^9 does not fit.
    require_data_error(everything->decode(from_hex("a201060a043b9aca00")),
                       "field PRICE: cannot read protobuf confluent.type.Decimal value");
  }
  SECTION("nesting deeper than protobuf parses") {
    auto chain = message(kChain, {{"V", of(TypeKind::Int)}});
    REQUIRE(chain->decode(chain_bytes(99)).ok());
    require_data_error(chain->decode(chain_bytes(150)), "invalid protobuf message");
    require_data_error(chain->decode(chain_bytes(20000)), "invalid protobuf message");
  }
  SECTION("random and corrupted bytes") {
    std::mt19937 rng(20240229);
    std::uniform_int_distribution<int> byte(0, 255);
    const auto columns = round_trip_columns();
    auto ksql = message(protobuf::schema_for(columns), columns);
    auto chain =
        message(kChain, {{"V", of(TypeKind::Int)},
                         {"NEXT", DataType::structure({{"V", of(TypeKind::Int)},
                                                       {"NEXT", DataType::structure({})}})}});
    std::vector<protobuf::Message*> all = {everything.get(), containers.get(), nullable.get(),
                                           ksql.get(), chain.get()};
    size_t decoded = 0;
    auto check_one = [&](protobuf::Message& m, const std::string& bytes) {
      auto r = m.decode(bytes);
      if (!r.ok()) {
        CHECK(r.error().kind == ErrorKind::Data);
        return;
      }
      ++decoded;
      // Whatever decodes encodes again, and reads back the same.
      auto again = m.encode(*r);
      REQUIRE(again.ok());
      auto back = m.decode(*again);
      REQUIRE(back.ok());
      CHECK(identical(*back, *r));
    };
    for (int i = 0; i < 3000; ++i) {
      std::string bytes(static_cast<size_t>(byte(rng) % 48), '\0');
      for (char& c : bytes) c = static_cast<char>(byte(rng));
      for (auto* m : all) check_one(*m, bytes);
    }
    const Value ksql_row = Value::structure(
        {{"ID", Value::int64(5)},
         {"PRICE", Value::decimal(dec("-1.50"))},
         {"AT", Value::timestamp(77)},
         {"ATTRS", Value::map({{"k", Value::int32(3)}})},
         {"DAY", Value::date(5)},
         {"TOD", Value::time(5)},
         {"GROUPS", Value::map({{"g", Value::array({Value::string("s")})}})},
         {"NESTED", Value::map({{"o", Value::map({{"i", Value::decimal(dec("1.5"))}})}})},
         {"POINTS", Value::array({Value::structure({{"LAT", Value::float64(1)}})})}});
    const std::string valid_ksql = ksql->encode(ksql_row).value();
    for (auto [m, valid] :
         {std::pair{everything.get(), valid_everything},
          std::pair{containers.get(), valid_containers}, std::pair{ksql.get(), valid_ksql}}) {
      for (int i = 0; i < 3000; ++i) {
        std::string bytes = valid;
        for (int k = 0; k < 1 + i % 3; ++k) {
          bytes[static_cast<size_t>(byte(rng)) % bytes.size()] = static_cast<char>(byte(rng));
        }
        check_one(*m, bytes);
      }
    }
    CHECK(decoded > 1000);
  }
}
