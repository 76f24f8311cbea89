#include "runtime/avro_codec.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <random>

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

std::unique_ptr<avro::Datum> datum(const std::string& schema, std::vector<Column> columns) {
  auto d = avro::Datum::make(schema, std::move(columns));
  if (!d) FAIL(d.error().message);
  return std::move(*d);
}

std::unique_ptr<avro::Datum> datum_of(const std::string& schema) {
  auto cols = avro::columns_of(schema);
  if (!cols) FAIL(cols.error().message);
  return datum(schema, *cols);
}

// Every Avro type, written by python3-avro (below).
const std::string kEverything =
    R"({"type":"record","name":"Everything","namespace":"test.avro","fields":[)"
    R"({"name":"flag","type":"boolean"},{"name":"small","type":"int"},{"name":"big","type":"long"},)"
    R"({"name":"ratio","type":"float"},{"name":"amount","type":"double"},)"
    R"({"name":"name","type":"string"},{"name":"blob","type":"bytes"},)"
    R"({"name":"suit","type":{"type":"enum","name":"Suit","symbols":["HEARTS","SPADES"]}},)"
    R"({"name":"tag","type":{"type":"fixed","name":"Tag","size":4}},)"
    R"({"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},)"
    R"({"name":"fprice","type":{"type":"fixed","name":"Money","size":8,"logicalType":"decimal","precision":12,"scale":3}},)"
    R"({"name":"day","type":{"type":"int","logicalType":"date"}},)"
    R"({"name":"at","type":{"type":"int","logicalType":"time-millis"}},)"
    R"({"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},)"
    R"({"name":"ts_us","type":{"type":"long","logicalType":"timestamp-micros"}},)"
    R"({"name":"at_us","type":{"type":"long","logicalType":"time-micros"}}]})";

// Nullable fields, nested records, arrays and a map of records.
const std::string kOrder =
    R"({"type":"record","name":"Order","fields":[{"name":"id","type":"long"},)"
    R"({"name":"note","type":["null","string"],"default":null},)"
    R"({"name":"address","type":["null",{"type":"record","name":"Address","fields":[)"
    R"({"name":"street","type":"string"},{"name":"zip","type":["null","int"]}]}]},)"
    R"({"name":"items","type":{"type":"array","items":"string"}},)"
    R"({"name":"stock","type":{"type":"map","values":{"type":"record","name":"Level","fields":[)"
    R"({"name":"qty","type":"int"},{"name":"where","type":["string","null"]}]}}},)"
    R"({"name":"tags","type":["null",{"type":"array","items":["null","long"]}]}]})";

// What schema_for writes for kKsqlColumns().
const std::string kKsql =
    R"({"type":"record","name":"KsqlDataSourceSchema","namespace":"io.confluent.ksql.avro_schemas","fields":[)"
    R"({"name":"ID","type":["null","long"],"default":null},)"
    R"({"name":"NAME","type":["null","string"],"default":null},)"
    R"({"name":"PRICE","type":["null",{"type":"bytes","logicalType":"decimal","precision":6,"scale":2}],"default":null},)"
    R"({"name":"AT","type":["null",{"type":"long","logicalType":"timestamp-millis"}],"default":null},)"
    R"({"name":"TAGS","type":["null",{"type":"array","items":["null","string"]}],"default":null},)"
    R"({"name":"ATTRS","type":["null",{"type":"map","values":["null","int"]}],"default":null},)"
    R"({"name":"ADDRESS","type":["null",{"type":"record","name":"KsqlDataSourceSchema_ADDRESS","fields":[)"
    R"({"name":"STREET","type":["null","string"],"default":null},)"
    R"({"name":"GEO","type":["null",{"type":"record","name":"KsqlDataSourceSchema_ADDRESS_GEO","fields":[)"
    R"({"name":"LAT","type":["null","double"],"default":null},)"
    R"({"name":"LON","type":["null","double"],"default":null}]}],"default":null}]}],"default":null},)"
    R"({"name":"DAY","type":["null",{"type":"int","logicalType":"date"}],"default":null},)"
    R"({"name":"TOD","type":["null",{"type":"int","logicalType":"time-millis"}],"default":null},)"
    R"({"name":"BLOB","type":["null","bytes"],"default":null},)"
    R"({"name":"OK","type":["null","boolean"],"default":null},)"
    R"({"name":"N","type":["null","int"],"default":null}]})";

std::vector<Column> ksql_columns() {
  auto geo = DataType::structure({{"LAT", of(TypeKind::Double)}, {"LON", of(TypeKind::Double)}});
  auto address = DataType::structure({{"STREET", of(TypeKind::String)}, {"GEO", geo}});
  return {{"ID", of(TypeKind::BigInt)},
          {"NAME", of(TypeKind::String)},
          {"PRICE", DataType::decimal(6, 2)},
          {"AT", of(TypeKind::Timestamp)},
          {"TAGS", DataType::array(of(TypeKind::String))},
          {"ATTRS", DataType::map(of(TypeKind::Int))},
          {"ADDRESS", address},
          {"DAY", of(TypeKind::Date)},
          {"TOD", of(TypeKind::Time)},
          {"BLOB", of(TypeKind::Bytes)},
          {"OK", of(TypeKind::Boolean)},
          {"N", of(TypeKind::Int)}};
}

// /usr/bin/python3 (Debian python3-avro 1.11.1): DatumWriter(kEverything) of
// {"flag":True,"small":-42,"big":1234567890123,"ratio":1.5,"amount":-2.25,
//  "name":"h\u00e9llo","blob":b"\x00\x01\xff","suit":"SPADES","tag":b"abcd",
//  "price":Decimal("-12.34"),"fprice":Decimal("-98765.432"),"day":date(2024,2,29),
//  "at":time(13,45,30,123000),"ts":datetime(2024,2,29,13,45,30,123000,utc),
//  "ts_us":datetime(1969,12,31,23,59,59,250000,utc),"at_us":time(1,2,3,4000)}
const std::string kEverythingHex =
    "01539693d89fee470000c03f00000000000002c00c68c3a96c6c6f060001ff026162636404fb2efffffffffa"
    "1cf5888cb50296949e2f96b4e7d1be63dfc65bc0a1c4de1b";

// DatumWriter(kOrder) of {"id":7,"note":None,"address":{"street":"Main St","zip":None},
//  "items":["a","b"],"stock":{"x":{"qty":3,"where":"shelf"},"y":{"qty":-1,"where":None}},
//  "tags":[1,None,3]}
const std::string kOrderHex =
    "0e00020e4d61696e2053740004026102620004027806000a7368656c6602790102000206020200020600";

// DatumWriter(kKsql) of {"ID":1,"NAME":"pen","PRICE":Decimal("-0.50"),
//  "AT":datetime(2024,1,2,3,4,5,678000,utc),"TAGS":["a",None],"ATTRS":{"k":1,"z":None},
//  "ADDRESS":{"STREET":"Elm","GEO":{"LAT":1.25,"LON":None}},"DAY":date(1969,12,31),
//  "TOD":time(0,0,0,1000),"BLOB":b"","OK":False,"N":None}
const std::string kKsqlHex =
    "0202020670656e0202ce02dcec86829963020402026100000204026b0202027a0000020206456c6d02020000"
    "00000000f43f00020102020200020000";

// A record that may hold itself: nesting is as deep as the data says.
const std::string kChain = R"({"type":"record","name":"Link","fields":[{"name":"v","type":"int"},)"
                           R"({"name":"next","type":["null","Link"]}]})";

std::string chain_bytes(int depth) {
  std::string out;
  for (int i = 0; i < depth - 1; ++i) out += std::string("\x02\x02", 2);  // v=1, next: branch 1
  out += std::string("\x02\x00", 2);                                      // v=1, next: null
  return out;
}

void require_data_error(const Expected<Value>& r, const std::string& contains = "") {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == ErrorKind::Data);
  if (!contains.empty()) CHECK_THAT(r.error().message, Catch::Contains(contains));
}

}  // namespace

TEST_CASE("Avro columns_of maps every Avro type the way ksqlDB does", "[runtime][avro]") {
  const std::string schema =
      R"({"type":"record","name":"Full","namespace":"t","fields":[)"
      R"({"name":"flag","type":"boolean"},{"name":"small","type":"int"},{"name":"big","type":"long"},)"
      R"({"name":"ratio","type":"float"},{"name":"amount","type":"double"},)"
      R"({"name":"name","type":"string"},)"
      R"({"name":"suit","type":{"type":"enum","name":"Suit","symbols":["A","B"]}},)"
      R"({"name":"blob","type":"bytes"},{"name":"tag","type":{"type":"fixed","name":"Tag","size":4}},)"
      R"({"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},)"
      R"({"name":"fprice","type":{"type":"fixed","name":"Money","size":8,"logicalType":"decimal","precision":12,"scale":3}},)"
      R"({"name":"day","type":{"type":"int","logicalType":"date"}},)"
      R"({"name":"at","type":{"type":"int","logicalType":"time-millis"}},)"
      R"({"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},)"
      R"({"name":"ts_us","type":{"type":"long","logicalType":"timestamp-micros"}},)"
      R"({"name":"at_us","type":{"type":"long","logicalType":"time-micros"}},)"
      R"({"name":"maybe","type":["null","long"]},{"name":"maybeLast","type":["string","null"]},)"
      R"({"name":"items","type":{"type":"array","items":["null","string"]}},)"
      R"({"name":"address","type":["null",{"type":"record","name":"Address","fields":[)"
      R"({"name":"street","type":"string"},)"
      R"({"name":"geo","type":{"type":"record","name":"Geo","fields":[{"name":"lat","type":"double"}]}}]}]},)"
      R"({"name":"stock","type":{"type":"map","values":{"type":"record","name":"Level","fields":[)"
      R"({"name":"qty","type":"int"}]}}},)"
      R"({"name":"again","type":"Address"},)"
      R"({"name":"not_a_date","type":{"type":"long","logicalType":"date"}},)"
      R"({"name":"bad_decimal","type":{"type":"bytes","logicalType":"decimal","precision":2,"scale":3}}]})";
  auto cols = avro::columns_of(schema);
  REQUIRE(cols.ok());
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"FLAG", "BOOLEAN"},
      {"SMALL", "INTEGER"},
      {"BIG", "BIGINT"},
      {"RATIO", "DOUBLE"},
      {"AMOUNT", "DOUBLE"},
      {"NAME", "STRING"},
      {"SUIT", "STRING"},
      {"BLOB", "BYTES"},
      {"TAG", "BYTES"},
      {"PRICE", "DECIMAL(10, 2)"},
      {"FPRICE", "DECIMAL(12, 3)"},
      {"DAY", "DATE"},
      {"AT", "TIME"},
      {"TS", "TIMESTAMP"},
      {"TS_US", "TIMESTAMP"},
      {"AT_US", "TIME"},
      {"MAYBE", "BIGINT"},
      {"MAYBELAST", "STRING"},
      {"ITEMS", "ARRAY<STRING>"},
      {"ADDRESS", "STRUCT<STREET STRING, GEO STRUCT<LAT DOUBLE>>"},
      {"STOCK", "MAP<STRING, STRUCT<QTY INTEGER>>"},
      {"AGAIN", "STRUCT<STREET STRING, GEO STRUCT<LAT DOUBLE>>"},
      // A logical type its underlying type does not support is ignored, as
      // an invalid decimal is (Avro's rule).
      {"NOT_A_DATE", "BIGINT"},
      {"BAD_DECIMAL", "BYTES"},
  };
  REQUIRE(cols->size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO(expected[i].first);
    CHECK((*cols)[i].name == expected[i].first);
    CHECK((*cols)[i].type->to_string() == expected[i].second);
    CHECK_FALSE((*cols)[i].is_key);
  }
  CHECK(*(*cols)[9].type == *DataType::decimal(10, 2));
}

TEST_CASE("Avro columns_of refuses what has no SQL type and names the field", "[runtime][avro]") {
  auto refused = [](const std::string& schema) {
    auto r = avro::columns_of(schema);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ErrorKind::Fatal);
    return r.error().message;
  };
  CHECK(
      refused(R"({"type":"record","name":"R","fields":[{"name":"address","type":{"type":"record",)"
              R"("name":"A","fields":[{"name":"zip","type":["int","string"]}]}}]})") ==
      R"(field ADDRESS.ZIP: Avro union ["int","string"] has no SQL type)");
  CHECK(
      refused(
          R"({"type":"record","name":"R","fields":[{"name":"v","type":["null","int","string"]}]})") ==
      R"(field V: Avro union ["null","int","string"] has no SQL type)");
  CHECK(refused(R"("int")") == R"(top level: Avro "int" is not a record)");
  CHECK_THAT(refused(R"({"type":"array","items":"int"})"), Catch::Contains("is not a record"));
  CHECK_THAT(refused(R"({"type":"record","name":"R","fields":[)"),
             Catch::Contains("not valid JSON"));
  CHECK_THAT(refused("not json at all"), Catch::Contains("not valid JSON"));
  CHECK_THAT(refused(R"({"type":"record","name":"R","fields":[{"name":"a","type":"Nowhere"}]})"),
             Catch::Contains("invalid Avro schema"));
  CHECK_THAT(refused(kChain), Catch::Contains("field NEXT: recursive Avro record \"Link\""));
  CHECK_THAT(refused(R"({"type":"record","name":"R","fields":[{"name":"d","type":{"type":"bytes",)"
                     R"("logicalType":"decimal","precision":40,"scale":2}}]})"),
             Catch::Contains("field D: Avro"));
  CHECK_THAT(refused(R"({"type":"record","name":"R","fields":[{"name":"n","type":"null"}]})"),
             Catch::Contains("field N: Avro \"null\" has no SQL type"));
  CHECK_THAT(refused(R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"},)"
                     R"({"name":"A","type":"int"}]})"),
             Catch::Contains("field A:"));
}

TEST_CASE("Avro schema_for writes the schema ksqlDB registers", "[runtime][avro]") {
  auto text = avro::schema_for(ksql_columns());
  CHECK(nlohmann::json::parse(text) == nlohmann::json::parse(kKsql));
  // Key columns are not part of the value schema.
  auto with_key = ksql_columns();
  with_key.insert(with_key.begin(), Column{"K", of(TypeKind::String), true});
  CHECK(nlohmann::json::parse(avro::schema_for(with_key)) == nlohmann::json::parse(kKsql));
  // And it reads back as the same columns.
  auto cols = avro::columns_of(text);
  REQUIRE(cols.ok());
  const auto expected = ksql_columns();
  REQUIRE(cols->size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    CHECK((*cols)[i].name == expected[i].name);
    CHECK(*(*cols)[i].type == *expected[i].type);
  }
  // Structs in arrays and maps are named after their column; names never repeat.
  auto nested = avro::schema_for(
      {{"A", DataType::array(DataType::structure({{"X", of(TypeKind::Int)}}))},
       {"B", DataType::structure({{"C", DataType::structure({{"Y", of(TypeKind::Int)}})}})},
       {"B_C", DataType::map(DataType::structure({{"Z", of(TypeKind::Int)}}))}});
  auto j = nlohmann::json::parse(nested);
  CHECK(j["fields"][0]["type"][1]["items"][1]["name"] == "KsqlDataSourceSchema_A");
  CHECK(j["fields"][1]["type"][1]["fields"][0]["type"][1]["name"] == "KsqlDataSourceSchema_B_C");
  CHECK(j["fields"][2]["type"][1]["values"][1]["name"] == "KsqlDataSourceSchema_B_C_2");
  CHECK(avro::Datum::make(nested, {}).ok());
}

TEST_CASE("Avro round trip keeps every type through ksqlDB's schema", "[runtime][avro]") {
  auto d = datum(avro::schema_for(ksql_columns()), ksql_columns());
  auto geo = [](Value lat, Value lon) {
    return Value::structure({{"LAT", std::move(lat)}, {"LON", std::move(lon)}});
  };
  const std::vector<Value> rows = {
      Value::structure(
          {{"ID", Value::int64(-9'000'000'000'000)},
           {"NAME", Value::string(std::string("pen\0ink \xc3\xa9", 10))},
           {"PRICE", Value::decimal(dec("-1234.56"))},
           {"AT", Value::timestamp(-1)},
           {"TAGS", Value::array({Value::string("a"), Value(), Value::string("")})},
           {"ATTRS", Value::map({{"k", Value::int32(-1)}, {"", Value()}, {"z", Value::int32(7)}})},
           {"ADDRESS", Value::structure({{"STREET", Value::string("Elm")},
                                         {"GEO", geo(Value::float64(1.25), Value())}})},
           {"DAY", Value::date(-719162)},
           {"TOD", Value::time(86'399'999)},
           {"BLOB", Value::bytes(std::string("\x00\xff\x80", 3))},
           {"OK", Value::boolean(false)},
           {"N", Value::int32(INT32_MIN)}}),
      // Empty containers, a struct of NULLs, zero and small negative decimals.
      Value::structure({{"ID", Value::int64(0)},
                        {"NAME", Value::string("")},
                        {"PRICE", Value::decimal(dec("-0.01"))},
                        {"AT", Value::timestamp(1'709'214'330'123)},
                        {"TAGS", Value::array({})},
                        {"ATTRS", Value::map({})},
                        {"ADDRESS", Value::structure({{"STREET", Value()}, {"GEO", Value()}})},
                        {"DAY", Value::date(0)},
                        {"TOD", Value::time(0)},
                        {"BLOB", Value::bytes("")},
                        {"OK", Value::boolean(true)},
                        {"N", Value::int32(INT32_MAX)}}),
      Value::structure({{"ID", Value()},
                        {"NAME", Value()},
                        {"PRICE", Value::decimal(dec("-1.28"))},
                        {"AT", Value()},
                        {"TAGS", Value()},
                        {"ATTRS", Value()},
                        {"ADDRESS", Value()},
                        {"DAY", Value()},
                        {"TOD", Value()},
                        {"BLOB", Value()},
                        {"OK", Value()},
                        {"N", Value()}}),
  };
  for (const auto& row : rows) {
    INFO(row.to_string());
    auto bytes = d->encode(row);
    REQUIRE(bytes.ok());
    auto back = d->decode(*bytes);
    REQUIRE(back.ok());
    CHECK(identical(*back, row));
  }
  // A NULL is one union branch byte; -1.28 (unscaled -128) is Java's
  // shortest two's complement, one byte (python3-avro writes ff80).
  CHECK(to_hex(d->encode(rows[2]).value()) == "0000020280" + std::string(18, '0'));
}

TEST_CASE("Avro round trip keeps every Avro type without unions", "[runtime][avro]") {
  auto d = datum_of(kEverything);
  const Value row = Value::structure({{"FLAG", Value::boolean(false)},
                                      {"SMALL", Value::int32(0)},
                                      {"BIG", Value::int64(INT64_MIN)},
                                      {"RATIO", Value::float64(-0.5)},
                                      {"AMOUNT", Value::float64(1e300)},
                                      {"NAME", Value::string("")},
                                      {"BLOB", Value::bytes("")},
                                      {"SUIT", Value::string("HEARTS")},
                                      {"TAG", Value::bytes(std::string("\0\0\0\1", 4))},
                                      {"PRICE", Value::decimal(dec("-99999999.99"))},
                                      {"FPRICE", Value::decimal(dec("999999999.999"))},
                                      {"DAY", Value::date(INT32_MIN)},
                                      {"AT", Value::time(1)},
                                      {"TS", Value::timestamp(INT64_MAX)},
                                      {"TS_US", Value::timestamp(-9'223'372'036'854)},
                                      {"AT_US", Value::time(86'399'999)}});
  auto bytes = d->encode(row);
  REQUIRE(bytes.ok());
  auto back = d->decode(*bytes);
  REQUIRE(back.ok());
  CHECK(identical(*back, row));
}

TEST_CASE("Avro decodes what python3-avro wrote and encodes the same bytes", "[runtime][avro]") {
  SECTION("every Avro type") {
    const std::string& hex = kEverythingHex;
    auto d = datum_of(kEverything);
    auto v = d->decode(from_hex(hex));
    REQUIRE(v.ok());
    const Value expected = Value::structure({{"FLAG", Value::boolean(true)},
                                             {"SMALL", Value::int32(-42)},
                                             {"BIG", Value::int64(1'234'567'890'123)},
                                             {"RATIO", Value::float64(1.5)},
                                             {"AMOUNT", Value::float64(-2.25)},
                                             {"NAME", Value::string("h\xc3\xa9llo")},
                                             {"BLOB", Value::bytes(std::string("\x00\x01\xff", 3))},
                                             {"SUIT", Value::string("SPADES")},
                                             {"TAG", Value::bytes("abcd")},
                                             {"PRICE", Value::decimal(dec("-12.34"))},
                                             {"FPRICE", Value::decimal(dec("-98765.432"))},
                                             {"DAY", Value::date(19782)},
                                             {"AT", Value::time(49'530'123)},
                                             {"TS", Value::timestamp(1'709'214'330'123)},
                                             {"TS_US", Value::timestamp(-750)},
                                             {"AT_US", Value::time(3'723'004)}});
    CHECK(identical(*v, expected));
    CHECK(to_hex(d->encode(expected).value()) == hex);
  }
  SECTION("nullable fields and nested records and a map of records") {
    auto d = datum_of(kOrder);
    const std::string& first = kOrderHex;
    auto level = [](int qty, Value where) {
      return Value::structure({{"QTY", Value::int32(qty)}, {"WHERE", std::move(where)}});
    };
    const Value expected_first = Value::structure(
        {{"ID", Value::int64(7)},
         {"NOTE", Value()},
         {"ADDRESS", Value::structure({{"STREET", Value::string("Main St")}, {"ZIP", Value()}})},
         {"ITEMS", Value::array({Value::string("a"), Value::string("b")})},
         {"STOCK",
          Value::map({{"x", level(3, Value::string("shelf"))}, {"y", level(-1, Value())}})},
         {"TAGS", Value::array({Value::int64(1), Value(), Value::int64(3)})}});
    // {"id":-1,"note":"hi","address":None,"items":[],"stock":{},"tags":None}
    const std::string second = "010204686900000000";
    const Value expected_second = Value::structure({{"ID", Value::int64(-1)},
                                                    {"NOTE", Value::string("hi")},
                                                    {"ADDRESS", Value()},
                                                    {"ITEMS", Value::array({})},
                                                    {"STOCK", Value::map({})},
                                                    {"TAGS", Value()}});
    // {"id":300,"note":None,"address":{"street":"","zip":-5},"items":[""],"stock":{},"tags":[]}
    const std::string third = "d8040002000209020000000200";
    const Value expected_third = Value::structure(
        {{"ID", Value::int64(300)},
         {"NOTE", Value()},
         {"ADDRESS", Value::structure({{"STREET", Value::string("")}, {"ZIP", Value::int32(-5)}})},
         {"ITEMS", Value::array({Value::string("")})},
         {"STOCK", Value::map({})},
         {"TAGS", Value::array({})}});
    for (const auto& [hex, expected] :
         {std::pair{first, expected_first}, std::pair{second, expected_second},
          std::pair{third, expected_third}}) {
      INFO(hex);
      auto v = d->decode(from_hex(hex));
      REQUIRE(v.ok());
      CHECK(identical(*v, expected));
      CHECK(to_hex(d->encode(expected).value()) == hex);
    }
  }
  SECTION("ksqlDB's schema") {
    auto d = datum(kKsql, ksql_columns());
    const std::string& hex = kKsqlHex;
    const Value expected = Value::structure(
        {{"ID", Value::int64(1)},
         {"NAME", Value::string("pen")},
         {"PRICE", Value::decimal(dec("-0.50"))},
         {"AT", Value::timestamp(1'704'164'645'678)},
         {"TAGS", Value::array({Value::string("a"), Value()})},
         {"ATTRS", Value::map({{"k", Value::int32(1)}, {"z", Value()}})},
         {"ADDRESS", Value::structure({{"STREET", Value::string("Elm")},
                                       {"GEO", Value::structure({{"LAT", Value::float64(1.25)},
                                                                 {"LON", Value()}})}})},
         {"DAY", Value::date(-1)},
         {"TOD", Value::time(1)},
         {"BLOB", Value::bytes("")},
         {"OK", Value::boolean(false)},
         {"N", Value()}});
    auto v = d->decode(from_hex(hex));
    REQUIRE(v.ok());
    CHECK(identical(*v, expected));
    CHECK(to_hex(d->encode(expected).value()) == hex);
    // Every field None.
    auto nulls = d->decode(from_hex("000000000000000000000000"));
    REQUIRE(nulls.ok());
    for (const auto& f : nulls->as_struct()) CHECK(f.value.is_null());
  }
  SECTION("timestamp-micros rounds down to milliseconds") {
    // {"type":"record","name":"T","fields":[{"name":"t","type":{"type":"long",
    //  "logicalType":"timestamp-micros"}}]} of {"t":datetime(1969,12,31,23,59,59,249500,utc)}:
    // -750500 microseconds.
    auto d = datum_of(
        R"({"type":"record","name":"T","fields":[{"name":"t","type":{"type":"long","logicalType":"timestamp-micros"}}]})");
    auto v = d->decode(from_hex("c7ce5b"));
    REQUIRE(v.ok());
    CHECK(identical(*v->field("T"), Value::timestamp(-751)));
  }
}

TEST_CASE("Avro decode fills the columns by name and converts to their types", "[runtime][avro]") {
  auto d = datum(kOrder, {{"ID", of(TypeKind::BigInt), true},  // a key column: not in the value
                          {"tags", DataType::array(of(TypeKind::Double))},
                          {"Note", of(TypeKind::String)},
                          {"MISSING", of(TypeKind::Int)},
                          {"ADDRESS", DataType::structure({{"ZIP", of(TypeKind::BigInt)},
                                                           {"CITY", of(TypeKind::String)}})},
                          {"id", DataType::decimal(10, 1)}});
  auto v = d->decode(from_hex("d8040002000209020000000200"));
  REQUIRE(v.ok());
  const Value expected = Value::structure(
      {{"tags", Value::array({})},
       {"Note", Value()},
       {"MISSING", Value()},
       {"ADDRESS", Value::structure({{"ZIP", Value::int64(-5)}, {"CITY", Value()}})},
       {"id", Value::decimal(dec("300.0"))}});
  CHECK(identical(*v, expected));
  auto tags = d->decode(from_hex(kOrderHex));
  REQUIRE(tags.ok());
  CHECK(identical(*tags->field("tags"),
                  Value::array({Value::float64(1), Value(), Value::float64(3)})));

  // A string field read into an INT column: coerce, and a data error naming
  // the column when it cannot.
  auto s = datum(R"({"type":"record","name":"S","fields":[{"name":"qty","type":"string"}]})",
                 {{"QTY", of(TypeKind::Int)}});
  auto twelve = s->decode(from_hex("043132"));  // "12"
  REQUIRE(twelve.ok());
  CHECK(identical(*twelve->field("QTY"), Value::int32(12)));
  require_data_error(s->decode(from_hex("0278")), "QTY");  // "x"

  // A union of several types read into a STRING column, and written back by
  // the value's kind.
  const std::string multi =
      R"({"type":"record","name":"U","fields":[{"name":"v","type":["null","int","string"]}]})";
  auto u = datum(multi, {{"V", of(TypeKind::String)}});
  CHECK(identical(*u->decode(from_hex("020a")).value().field("V"), Value::string("5")));
  CHECK(identical(*u->decode(from_hex("040278")).value().field("V"), Value::string("x")));
  CHECK(u->decode(from_hex("00")).value().field("V")->is_null());
  CHECK(to_hex(u->encode(Value::structure({{"V", Value::string("x")}})).value()) == "040278");
  CHECK(to_hex(u->encode(Value::structure({{"V", Value::int32(5)}})).value()) == "020a");
  // A BIGINT goes to the int branch when it fits, else to the string one.
  CHECK(to_hex(u->encode(Value::structure({{"V", Value::int64(5)}})).value()) == "020a");
  auto big = u->encode(Value::structure({{"V", Value::int64(1LL << 40)}}));
  REQUIRE(big.ok());
  CHECK(identical(*u->decode(*big).value().field("V"), Value::string("1099511627776")));
}

TEST_CASE("Avro Datum make refuses schemas and columns that cannot work", "[runtime][avro]") {
  auto fatal = [](const std::string& schema, std::vector<Column> cols, const std::string& text) {
    auto d = avro::Datum::make(schema, std::move(cols));
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().kind == ErrorKind::Fatal);
    CHECK_THAT(d.error().message, Catch::Contains(text));
  };
  fatal(R"("string")", {}, "not a record");
  fatal("{", {}, "not valid JSON");
  fatal(R"({"type":"record","name":"R","fields":[{"name":"a","type":"bogus"}]})", {},
        "invalid Avro schema");
  fatal(kOrder, {{"ADDRESS", of(TypeKind::String)}}, "field ADDRESS: Avro \"Address\"");
  fatal(kOrder, {{"NOTE", DataType::structure({{"A", of(TypeKind::Int)}})}}, "field NOTE:");
  fatal(kOrder, {{"ITEMS", DataType::map(of(TypeKind::String))}}, "field ITEMS:");
  fatal(kOrder,
        {{"ADDRESS", DataType::structure({{"STREET", DataType::array(of(TypeKind::Int))}})}},
        "field ADDRESS.STREET:");
  // A recursive schema is fine for a Datum: the columns say how deep to read.
  auto chain = datum(kChain, {{"V", of(TypeKind::Int)},
                              {"NEXT", DataType::structure({{"V", of(TypeKind::Int)}})}});
  auto v = chain->decode(chain_bytes(3));
  REQUIRE(v.ok());
  CHECK(identical(*v, Value::structure({{"V", Value::int32(1)},
                                        {"NEXT", Value::structure({{"V", Value::int32(1)}})}})));
}

TEST_CASE("Avro encode refuses values the writer schema cannot hold", "[runtime][avro]") {
  auto d = datum_of(kOrder);
  auto row = [](Value id, Value address) {
    return Value::structure({{"ID", std::move(id)},
                             {"NOTE", Value()},
                             {"ADDRESS", std::move(address)},
                             {"ITEMS", Value::array({})},
                             {"STOCK", Value::map({})},
                             {"TAGS", Value()}});
  };
  auto data_error = [](const Expected<std::string>& r, const std::string& text) {
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ErrorKind::Data);
    CHECK_THAT(r.error().message, Catch::Contains(text));
  };
  REQUIRE(d->encode(row(Value::int64(1), Value())).ok());
  data_error(d->encode(row(Value(), Value())), "field id: NULL for a non-nullable Avro \"long\"");
  data_error(d->encode(row(Value::int64(1), Value::structure({{"ZIP", Value::int32(1)}}))),
             "field address.street: NULL");
  data_error(d->encode(row(Value::string("seven"), Value())), "field id: cannot write STRING");
  data_error(d->encode(Value::int64(3)), "STRUCT");
  // A required field no column fills.
  auto partial = datum(kOrder, {{"NOTE", of(TypeKind::String)}});
  data_error(partial->encode(Value::structure({{"NOTE", Value::string("x")}})),
             "field id: no column for it");

  auto e = datum_of(kEverything);
  auto base = e->decode(from_hex(kEverythingHex)).value();
  auto with = [&](const std::string& name, Value v) {
    StructFields fields = base.as_struct();
    for (auto& f : fields)
      if (f.name == name) f.value = std::move(v);
    return Value::structure(std::move(fields));
  };
  REQUIRE(e->encode(base).ok());
  data_error(e->encode(with("SUIT", Value::string("CLUBS"))), "not a symbol of Avro enum");
  data_error(e->encode(with("TAG", Value::bytes("abc"))), "field tag: 3 bytes");
  data_error(e->encode(with("PRICE", Value::decimal(dec("123456789.01")))), "field price:");
  data_error(e->encode(with("FPRICE", Value::decimal(dec("1234567890.123")))), "field fprice:");
  data_error(e->encode(with("SMALL", Value::int64(1LL << 33))), "field small:");
  data_error(e->encode(with("TS_US", Value::timestamp(INT64_MAX))), "timestamp-micros");
}

TEST_CASE("Avro decode refuses truncated and garbage bytes without crashing", "[runtime][avro]") {
  auto everything = datum_of(kEverything);
  auto order = datum_of(kOrder);
  auto ksql = datum(kKsql, ksql_columns());
  const std::string valid_everything = from_hex(kEverythingHex);
  const std::string valid_order = from_hex(kOrderHex);
  const std::string valid_ksql = from_hex(kKsqlHex);

  SECTION("every truncation") {
    for (auto [d, valid] :
         {std::pair{everything.get(), valid_everything}, std::pair{order.get(), valid_order},
          std::pair{ksql.get(), valid_ksql}}) {
      REQUIRE(d->decode(valid).ok());
      for (size_t n = 0; n < valid.size(); ++n) {
        INFO(n);
        require_data_error(d->decode(std::string_view(valid).substr(0, n)));
      }
      require_data_error(d->decode(valid + std::string(1, '\0')), "after the end of the datum");
    }
  }
  SECTION("lengths and counts past the end") {
    // id 7, note: string of 1000 bytes but two present.
    require_data_error(order->decode(from_hex("0e02d00f6162")), "runs past the end");
    // A string claiming 2^62 bytes is refused, not allocated.
    require_data_error(order->decode(from_hex("0e0280808080808080808001")), "runs past the end");
    require_data_error(order->decode(from_hex("0e0201")), "negative length");
    // items: a block of 2^40 strings.
    require_data_error(order->decode(from_hex("0e0000808080808040")), "more than the input");
    // A block of INT64_MIN items (negative counts carry a byte size).
    require_data_error(order->decode(from_hex("0e0000ffffffffffffffffff01")));
    // Union branch 2 of ["null","string"], enum index 2 of two symbols.
    require_data_error(order->decode(from_hex("0e04")), "union branch 2 out of range");
    std::string bad_enum = valid_everything;
    bad_enum[bad_enum.find(
        "\x02"
        "abcd")] = '\x04';
    require_data_error(everything->decode(bad_enum), "enum index 2");
    // A varint of eleven bytes, a boolean of 2.
    require_data_error(order->decode(from_hex("ffffffffffffffffffff01")), "longer than 64 bits");
    require_data_error(everything->decode(from_hex("02")), "boolean");
    // An int out of 32-bit range.
    require_data_error(everything->decode(from_hex("0180808080a001")), "32-bit");
    // A block of many empty records costs no bytes per item, but is bounded.
    auto empties = datum(
        R"({"type":"record","name":"E","fields":[{"name":"a","type":{"type":"array","items":"null"}}]})",
        {{"A", DataType::array(of(TypeKind::Null))}});
    auto few = empties->decode(from_hex("0600"));
    REQUIRE(few.ok());
    CHECK(few->field("A")->as_array().size() == 3);
    require_data_error(empties->decode(from_hex("80808080808080808001")), "more than the input");
  }
  SECTION("nesting deeper than values may be") {
    auto chain = datum(kChain, {{"V", of(TypeKind::Int)}});
    REQUIRE(chain->decode(chain_bytes(150)).ok());
    require_data_error(chain->decode(chain_bytes(kMaxValueDepth + 1)), "nested deeper");
    require_data_error(chain->decode(chain_bytes(200000)), "nested deeper");
  }
  SECTION("random and corrupted bytes") {
    std::mt19937 rng(20240229);
    std::uniform_int_distribution<int> byte(0, 255);
    auto check_one = [](avro::Datum& d, const std::string& bytes) {
      auto r = d.decode(bytes);
      if (!r.ok()) {
        CHECK(r.error().kind == ErrorKind::Data);
      } else {
        // Whatever decodes encodes again.
        CHECK(d.encode(*r).ok());
      }
    };
    auto chain = datum(kChain, {{"V", of(TypeKind::Int)}});
    for (int i = 0; i < 3000; ++i) {
      std::string bytes(static_cast<size_t>(byte(rng) % 48), '\0');
      for (char& c : bytes) c = static_cast<char>(byte(rng));
      check_one(*everything, bytes);
      check_one(*order, bytes);
      check_one(*ksql, bytes);
      check_one(*chain, bytes);
    }
    for (auto [d, valid] :
         {std::pair{everything.get(), valid_everything}, std::pair{order.get(), valid_order},
          std::pair{ksql.get(), valid_ksql}}) {
      for (int i = 0; i < 3000; ++i) {
        std::string bytes = valid;
        for (int k = 0; k < 1 + i % 3; ++k) {
          bytes[static_cast<size_t>(byte(rng)) % bytes.size()] = static_cast<char>(byte(rng));
        }
        check_one(*d, bytes);
      }
    }
  }
}
