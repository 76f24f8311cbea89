// A task's answer to a pull query's table scan (actors/table_scan.hpp):
// every row, decodable as an array of [key, value] pairs, in either
// storage; an empty table; the bound on the answer's bytes.
#include "actors/table_scan.hpp"

#include <catch2/catch.hpp>
#include <map>

#include "operators/serdes.hpp"

using namespace rivulet;

namespace {

std::map<std::string, Value> decode_rows(const std::string& bytes) {
  auto v = codecs::msgpack()()->decode(bytes);
  REQUIRE(v.ok());
  REQUIRE(v->kind() == TypeKind::Array);
  std::map<std::string, Value> rows;
  for (const Value& pair : v->as_array()) {
    REQUIRE(pair.kind() == TypeKind::Array);
    REQUIRE(pair.as_array().size() == 2);
    rows.emplace(pair.as_array()[0].as_string(), pair.as_array()[1]);
  }
  return rows;
}

}  // namespace

TEST_CASE("a table scan's answer holds every row as [key, value]", "[actors][scan]") {
  for (TableStorage storage : {TableStorage::Decoded, TableStorage::Encoded}) {
    KTable t("counts", storage);
    t.apply(Value::string("u1"),
            Value::structure(StructFields{Field{"N", Value::int64(3)}, Field{"TOTAL", Value::float64(8.5)}}));
    t.apply(Value::string("u2"),
            Value::structure(StructFields{Field{"N", Value::int64(2)}, Field{"TOTAL", Value::float64(7)}}));
    t.apply(Value::string("gone"), Value::int64(1));
    t.apply(Value::string("gone"), Value());  // deleted: not in the answer
    auto bytes = actors::encode_table_rows(t, 1 << 20, "table counts in task q-0");
    REQUIRE(bytes.ok());
    auto rows = decode_rows(*bytes);
    REQUIRE(rows.size() == 2);
    CHECK(rows.at("u1").field("N")->to_int64() == 3);
    CHECK(rows.at("u1").field("TOTAL")->as_double() == 8.5);
    CHECK(rows.at("u2").field("N")->to_int64() == 2);
  }
}

TEST_CASE("an empty table's scan answers no rows", "[actors][scan]") {
  KTable t("empty");
  auto bytes = actors::encode_table_rows(t, 1 << 20, "table empty in task q-0");
  REQUIRE(bytes.ok());
  CHECK(decode_rows(*bytes).empty());
}

TEST_CASE("a scan past its byte bound is an error naming the table, not a partial answer",
          "[actors][scan]") {
  KTable t("big");
  for (int i = 0; i < 100; ++i)
    t.apply(Value::string("k" + std::to_string(i)), Value::string(std::string(100, 'x')));
  auto whole = actors::encode_table_rows(t, 1 << 20, "table big in task q-1");
  REQUIRE(whole.ok());
  CHECK(decode_rows(*whole).size() == 100);
  auto bounded = actors::encode_table_rows(t, 5000, "table big in task q-1");
  REQUIRE(!bounded.ok());
  CHECK(bounded.error().message ==
        "the scan of table big in task q-1 exceeds 5000 bytes of rows: ask for one key (WHERE "
        "<key column> = <literal>)");
}
