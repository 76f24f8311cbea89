// Value equality, ordering and hashing agree with each other across kinds;
// coerce follows CAST; Error renders its context.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <unordered_set>

#include "runtime/data_type.hpp"
#include "runtime/error.hpp"
#include "runtime/value.hpp"

using namespace rivulet;

namespace {

Value dec(const char* s) { return Value::decimal(*Decimal::parse(s)); }

}  // namespace

TEST_CASE("equal numbers of every kind hash alike", "[runtime][value]") {
  std::vector<std::vector<Value>> groups = {
      {Value::int32(7), Value::int64(7), Value::float64(7.0), dec("7"), dec("7.000")},
      {Value::float64(0.5), dec("0.5"), dec("0.50")},
      {Value::float64(-0.0), Value::float64(0.0), Value::int32(0), dec("0.00")},
      {Value::float64(0.1), dec("0.1")},
      {Value::int64(INT64_MAX), Value::float64(9223372036854775807.0)},
      {Value::float64(std::nan("")), Value::float64(-std::nan(""))},
  };
  for (const auto& g : groups) {
    for (const auto& a : g) {
      for (const auto& b : g) {
        INFO(a.to_string() << " vs " << b.to_string());
        CHECK(a == b);
        CHECK(Value::compare(a, b) == 0);
        CHECK(a.hash() == b.hash());
      }
    }
  }
  CHECK(Value::float64(0.5) != dec("0.51"));
  CHECK(dec("1.5") != Value::int32(1));
}

TEST_CASE("compare is a total order: null first, NaN last among numbers", "[runtime][value]") {
  std::vector<Value> ordered = {Value(),
                                Value::boolean(false),
                                Value::boolean(true),
                                Value::float64(-std::numeric_limits<double>::infinity()),
                                Value::int64(-5),
                                dec("-4.5"),
                                Value::int32(0),
                                dec("0.25"),
                                Value::float64(0.3),
                                Value::int32(1),
                                Value::float64(std::nan(""))};
  for (size_t i = 0; i < ordered.size(); ++i) {
    for (size_t j = 0; j < ordered.size(); ++j) {
      INFO(ordered[i].to_string() << " vs " << ordered[j].to_string());
      int expected = i < j ? -1 : (i > j ? 1 : 0);
      CHECK(Value::compare(ordered[i], ordered[j]) == expected);
    }
  }
  CHECK(Value::compare(Value::string("a"), Value::string("b")) < 0);
  CHECK(Value::compare(Value::array({Value::int32(1)}),
                       Value::array({Value::int32(1), Value::int32(0)})) < 0);
}

TEST_CASE("maps are equal regardless of entry order, structs are not", "[runtime][value]") {
  Value m1 = Value::map({{"a", Value::int32(1)}, {"b", Value::int32(2)}});
  Value m2 = Value::map({{"b", Value::int64(2)}, {"a", Value::int64(1)}});
  CHECK(m1 == m2);
  CHECK(m1.hash() == m2.hash());
  CHECK(Value::compare(m1, m2) == 0);
  CHECK(m1 != Value::map({{"a", Value::int32(1)}, {"b", Value::int32(3)}}));
  CHECK(m1 != Value::map({{"a", Value::int32(1)}}));
  Value s1 = Value::structure({{"A", Value::int32(1)}, {"B", Value::int32(2)}});
  Value s2 = Value::structure({{"B", Value::int32(2)}, {"A", Value::int32(1)}});
  CHECK(s1 != s2);
  CHECK(m1 != s1);  // a map is not a struct
  std::unordered_set<Value, ValueHash> keys{m1, m2, s1, s2};
  CHECK(keys.size() == 3);
}

TEST_CASE("to_string renders values JSON-like", "[runtime][value]") {
  CHECK(Value().to_string() == "null");
  CHECK(Value::float64(1.5).to_string() == "1.5");
  CHECK(Value::float64(2).to_string() == "2.0");
  CHECK(dec("-0.05").to_string() == "-0.05");
  CHECK(Value::string("a\"b").to_string() == R"("a\"b")");
  CHECK(Value::array({Value::int32(1), Value()}).to_string() == "[1,null]");
  CHECK(Value::map({{"k", Value::boolean(true)}}).to_string() == R"({"k":true})");
}

TEST_CASE("to_int64 saturates instead of overflowing", "[runtime][value]") {
  CHECK(Value::float64(1e300).to_int64() == INT64_MAX);
  CHECK(Value::float64(-1e300).to_int64() == INT64_MIN);
  CHECK(Value::float64(std::nan("")).to_int64() == 0);
  CHECK(Value::float64(-2.9).to_int64() == -2);
}

TEST_CASE("coerce to numbers: truncation, range checks, text", "[runtime][coerce]") {
  auto INT = DataType::of(TypeKind::Int);
  auto BIGINT = DataType::of(TypeKind::BigInt);
  auto DOUBLE = DataType::of(TypeKind::Double);
  CHECK(*coerce(Value::float64(-2.9), *INT) == Value::int32(-2));
  CHECK_FALSE(coerce(Value::float64(1e30), *BIGINT).has_value());
  CHECK_FALSE(coerce(Value::float64(3e9), *INT).has_value());
  CHECK_FALSE(coerce(Value::float64(std::nan("")), *INT).has_value());
  CHECK_FALSE(coerce(Value::float64(INFINITY), *BIGINT).has_value());
  CHECK(*coerce(dec("-7.99"), *INT) == Value::int32(-7));
  CHECK_FALSE(coerce(dec("99999999999999999999"), *BIGINT).has_value());
  CHECK(*coerce(Value::string(" 42 "), *BIGINT) == Value::int64(42));
  CHECK(*coerce(Value::string("+42"), *INT) == Value::int32(42));
  CHECK_FALSE(coerce(Value::string("+-42"), *INT).has_value());
  CHECK_FALSE(coerce(Value::string(""), *INT).has_value());
  CHECK_FALSE(coerce(Value::string("1.5"), *INT).has_value());
  CHECK_FALSE(coerce(Value::string("9223372036854775808"), *BIGINT).has_value());
  CHECK(*coerce(Value::string("2.5e3"), *DOUBLE) == Value::float64(2500));
  CHECK(*coerce(Value::string(" -0.5"), *DOUBLE) == Value::float64(-0.5));
  CHECK_FALSE(coerce(Value::string("0x10"), *DOUBLE).has_value());
  CHECK_FALSE(coerce(Value::string("1.5abc"), *DOUBLE).has_value());
  CHECK(*coerce(dec("0.25"), *DOUBLE) == Value::float64(0.25));
  CHECK_FALSE(coerce(Value::boolean(true), *INT).has_value());
}

TEST_CASE("coerce to boolean, string, timestamp, decimal", "[runtime][coerce]") {
  auto BOOL = DataType::of(TypeKind::Boolean);
  auto STRING = DataType::of(TypeKind::String);
  auto TS = DataType::of(TypeKind::Timestamp);
  for (const char* t : {"true", "TRUE", "t", "Yes", "y"}) {
    CHECK(*coerce(Value::string(t), *BOOL) == Value::boolean(true));
  }
  for (const char* f : {"false", "F", "no", "N"}) {
    CHECK(*coerce(Value::string(f), *BOOL) == Value::boolean(false));
  }
  CHECK_FALSE(coerce(Value::string("maybe"), *BOOL).has_value());
  CHECK(*coerce(Value::float64(1.0), *STRING) == Value::string("1.0"));
  CHECK(*coerce(Value::boolean(true), *STRING) == Value::string("true"));
  CHECK(*coerce(dec("1.50"), *STRING) == Value::string("1.50"));
  CHECK(*coerce(Value::timestamp(1700000000123), *STRING) ==
        Value::string("2023-11-14T22:13:20.123"));
  CHECK(*coerce(Value::string("2023-11-14T22:13:20.123"), *TS) == Value::timestamp(1700000000123));
  CHECK(*coerce(Value::int64(5), *TS) == Value::timestamp(5));
  CHECK_FALSE(coerce(Value::string("yesterday"), *TS).has_value());
  // DATE (days) and TIME (milliseconds of the day): from numbers, text,
  // TIMESTAMPs (their day and time, UTC, before the epoch too), and back.
  auto DATE = DataType::of(TypeKind::Date);
  auto TIME = DataType::of(TypeKind::Time);
  CHECK(*coerce(Value::string("2023-11-14"), *DATE) == Value::date(19675));
  CHECK(*coerce(Value::timestamp(1700000000123), *DATE) == Value::date(19675));
  CHECK(*coerce(Value::timestamp(-1), *DATE) == Value::date(-1));
  CHECK(*coerce(Value::timestamp(-1), *TIME) == Value::time(86399999));
  CHECK(*coerce(Value::timestamp(1700000000123), *TIME) == Value::time(80000123));
  CHECK(*coerce(Value::string("22:13:20.123"), *TIME) == Value::time(80000123));
  CHECK(*coerce(Value::string("22:13"), *TIME) == Value::time(79980000));
  CHECK(*coerce(Value::date(19675), *TS) == Value::timestamp(1699920000000));
  CHECK(*coerce(Value::date(19675), *STRING) == Value::string("2023-11-14"));
  CHECK(*coerce(Value::date(-719529), *STRING) == Value::string("-0001-12-31"));
  CHECK(*coerce(Value::time(80000123), *STRING) == Value::string("22:13:20.123"));
  CHECK(*coerce(Value::time(80000000), *STRING) == Value::string("22:13:20"));
  CHECK_FALSE(coerce(Value::string("22:13:20Z"), *TIME).has_value());
  CHECK_FALSE(coerce(Value::string("24:00"), *TIME).has_value());
  CHECK_FALSE(coerce(Value::int64(int64_t{1} << 40), *DATE).has_value());
  CHECK_FALSE(coerce(Value::date(1), *TIME).has_value());
  CHECK_FALSE(coerce(Value::time(1), *DATE).has_value());
  // Ordered and hashed as their own kinds, not as the numbers they hold.
  CHECK(Value::compare(Value::date(1), Value::date(2)) < 0);
  CHECK(Value::date(1) != Value::int32(1));
  CHECK(Value::date(1) != Value::time(1));
  CHECK(Value::date(7).hash() == Value::date(7).hash());
  CHECK(Value::date(7).to_string() == "7");
  CHECK(DATE->to_string() == "DATE");
  CHECK(TIME->to_string() == "TIME");
  auto d = DataType::decimal(3, 1);
  CHECK(coerce(Value::float64(2.25), *d)->as_decimal().to_string() == "2.3");
  CHECK_FALSE(coerce(Value::int32(100), *d).has_value());
  CHECK_FALSE(coerce(Value::string("abc"), *d).has_value());
}

TEST_CASE("coerce containers element-wise, structs match names case-insensitively",
          "[runtime][coerce]") {
  auto row_type = DataType::structure({{"ID", DataType::of(TypeKind::BigInt)},
                                       {"TAGS", DataType::map(DataType::of(TypeKind::Int))},
                                       {"GONE", DataType::of(TypeKind::String)}});
  Value in = Value::structure({{"tags", Value::structure({{"x", Value::string("3")}})},
                               {"id", Value::int32(9)}});
  auto out = coerce(in, *row_type);
  REQUIRE(out);
  REQUIRE(out->as_struct().size() == 3);
  CHECK(out->as_struct()[0].name == "ID");
  CHECK(out->as_struct()[0].value.kind() == TypeKind::BigInt);
  CHECK(*out->field("TAGS")->entry("x") == Value::int32(3));
  CHECK(out->field("GONE")->is_null());
  CHECK_FALSE(coerce(Value::array({Value::string("x")}),
                     *DataType::array(DataType::of(TypeKind::Int)))
                   .has_value());
  CHECK_FALSE(coerce(Value::int32(1), *row_type).has_value());
}

TEST_CASE("data types print in SQL spelling and compare structurally", "[runtime][type]") {
  auto t = DataType::structure({{"A", DataType::of(TypeKind::Int)},
                                {"B", DataType::array(DataType::decimal(10, 2))}});
  CHECK(t->to_string() == "STRUCT<A INTEGER, B ARRAY<DECIMAL(10, 2)>>");
  CHECK(DataType::map(DataType::of(TypeKind::String))->to_string() == "MAP<STRING, STRING>");
  CHECK(*DataType::decimal(10, 2) == *DataType::decimal(10, 2));
  CHECK_FALSE(*DataType::decimal(10, 2) == *DataType::decimal(10, 3));
  Schema s;
  s.columns = {{"ID", DataType::of(TypeKind::BigInt), true}, {"Name", DataType::of(TypeKind::String)}};
  CHECK(s.index_of("name") == 1u);
  CHECK_FALSE(s.index_of("nope").has_value());
  CHECK(s.key_columns().size() == 1);
  CHECK(s.value_columns().front().name == "Name");
}

TEST_CASE("errors render operation, location, key and attempt", "[runtime][error]") {
  Error raw = Error::data("expected ',' at byte 17");
  raw.context.operation = "decode value";
  Error e = std::move(raw).at("orders", 3, 1234);
  CHECK(e.kind == ErrorKind::Data);
  CHECK(e.to_string() == "decode value failed at orders[3]@1234: expected ',' at byte 17");
  CHECK(Error::fatal("boom").to_string() == "boom");
  Error r = Error::retriable("broker down");
  r.context.operation = "produce";
  r.context.attempt = 2;
  CHECK(r.to_string() == "produce failed (attempt 2): broker down");
  CHECK(r.kind == ErrorKind::Retriable);
}
