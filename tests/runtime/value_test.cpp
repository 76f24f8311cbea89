#include <catch2/catch.hpp>
#include <unordered_set>

#include "runtime/data_type.hpp"
#include "runtime/value.hpp"

using namespace rivulet;

TEST_CASE("numbers compare by value across kinds", "[runtime][value]") {
  CHECK(Value::int32(1) == Value::int64(1));
  CHECK(Value::int64(1) == Value::float64(1.0));
  CHECK(Value::decimal(*Decimal::parse("1.0")) == Value::int32(1));
  CHECK(Value::int32(1) != Value::int32(2));
  CHECK(Value::compare(Value::int32(1), Value::float64(1.5)) < 0);
  CHECK(Value::compare(Value(), Value::int32(0)) < 0);  // null first
  CHECK(Value::null() == Value());
  CHECK(Value::string("1") != Value::int32(1));
}

TEST_CASE("equal values hash alike", "[runtime][value]") {
  CHECK(Value::int32(7).hash() == Value::int64(7).hash());
  CHECK(Value::int64(7).hash() == Value::float64(7.0).hash());
  CHECK(Value::decimal(*Decimal::parse("7.00")).hash() == Value::int64(7).hash());
  std::unordered_set<Value, ValueHash> set;
  set.insert(Value::string("a"));
  set.insert(Value::string("a"));
  set.insert(Value::int32(3));
  set.insert(Value::int64(3));
  CHECK(set.size() == 2);
}

TEST_CASE("struct fields are found by exact then case-insensitive name", "[runtime][value]") {
  Value row = Value::structure({{"ID", Value::int32(1)}, {"name", Value::string("x")}});
  REQUIRE(row.field("ID"));
  CHECK(*row.field("id") == Value::int32(1));
  CHECK(*row.field("NAME") == Value::string("x"));
  CHECK(row.field("missing") == nullptr);
  CHECK(Value::int32(1).field("x") == nullptr);
  CHECK(row.to_string() == R"({"ID":1,"name":"x"})");
}

TEST_CASE("coerce follows CAST", "[runtime][value]") {
  auto int_type = DataType::of(TypeKind::Int);
  CHECK(*coerce(Value::string("12"), *int_type) == Value::int32(12));
  CHECK_FALSE(coerce(Value::string("12x"), *int_type).has_value());
  CHECK_FALSE(coerce(Value::int64(1LL << 40), *int_type).has_value());
  CHECK(*coerce(Value::float64(2.9), *int_type) == Value::int32(2));
  auto dec = DataType::decimal(5, 2);
  CHECK(coerce(Value::string("1.005"), *dec)->as_decimal().to_string() == "1.01");
  CHECK(coerce(Value::int32(3), *dec)->as_decimal().to_string() == "3.00");
  CHECK(*coerce(Value::int32(3), *DataType::of(TypeKind::String)) == Value::string("3"));
  CHECK(coerce(Value(), *int_type)->is_null());
  auto arr = DataType::array(DataType::of(TypeKind::BigInt));
  auto a = coerce(Value::array({Value::int32(1), Value::string("2")}), *arr);
  REQUIRE(a);
  CHECK(a->as_array()[1] == Value::int64(2));
  CHECK(DataType::decimal(4, 2)->to_string() == "DECIMAL(4, 2)");
}
