#include "sql/functions.hpp"

#include <catch2/catch.hpp>

#include "sql/types.hpp"

namespace rivulet::sql {
namespace {

DataTypePtr T(TypeKind k) {
  return DataType::of(k);
}

}  // namespace

TEST_CASE("functions: lookup and kinds", "[sql][functions]") {
  const auto& r = FunctionRegistry::builtin();
  REQUIRE(r.find("SUBSTRING"));
  CHECK(r.find("SUBSTRING")->kind == FunctionDef::Kind::Scalar);
  CHECK(r.is_aggregate("COUNT"));
  CHECK(r.is_aggregate("COUNT_DISTINCT"));
  CHECK_FALSE(r.is_aggregate("ABS"));
  CHECK(r.find("FILTER")->kind == FunctionDef::Kind::Lambda);
  CHECK(r.find("NOPE") == nullptr);
  // Every function documents itself (SHOW FUNCTIONS, docs/sql-reference.md).
  for (const FunctionDef* f : r.all()) {
    INFO(f->name);
    CHECK_FALSE(f->signature.empty());
    CHECK_FALSE(f->description.empty());
  }
}

TEST_CASE("functions: resolution errors read as ksqlDB's", "[sql][functions]") {
  const auto& r = FunctionRegistry::builtin();
  auto unknown = r.resolve_scalar("WONT_FIND_ME", {});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message == "Can't find any functions with the name 'WONT_FIND_ME'");
  auto coalesce = r.resolve_scalar("COALESCE", {});
  REQUIRE_FALSE(coalesce.ok());
  CHECK(coalesce.error().message == "Function 'COALESCE' does not accept parameters ().");
  auto sub = r.resolve_scalar("SUBSTRING", {T(TypeKind::Int), T(TypeKind::Int)});
  REQUIRE_FALSE(sub.ok());
  CHECK(sub.error().message ==
        "Function 'SUBSTRING' does not accept parameters (INTEGER, INTEGER).");
}

TEST_CASE("functions: aggregate result types", "[sql][functions]") {
  const auto& r = FunctionRegistry::builtin();
  auto type = [&](const char* name, std::vector<DataTypePtr> args) {
    auto t = r.aggregate_result_type(name, args);
    if (!t.ok()) return std::string("error: ") + t.error().message;
    return type_name(t.value());
  };
  CHECK(type("COUNT", {}) == "BIGINT");
  CHECK(type("COUNT", {T(TypeKind::String)}) == "BIGINT");
  CHECK(type("SUM", {T(TypeKind::Int)}) == "INTEGER");
  CHECK(type("SUM", {T(TypeKind::BigInt)}) == "BIGINT");
  CHECK(type("SUM", {T(TypeKind::Double)}) == "DOUBLE");
  CHECK(type("SUM", {DataType::decimal(4, 1)}) == "DECIMAL(4, 1)");
  CHECK(type("SUM", {T(TypeKind::String)}).rfind("error", 0) == 0);
  CHECK(type("AVG", {T(TypeKind::Int)}) == "DOUBLE");
  CHECK(type("MIN", {T(TypeKind::String)}) == "STRING");
  CHECK(type("MAX", {DataType::decimal(4, 1)}) == "DECIMAL(4, 1)");
  CHECK(type("MAX", {DataType::array(T(TypeKind::Int))}).rfind("error", 0) == 0);
  CHECK(type("COUNT_DISTINCT", {T(TypeKind::String)}) == "BIGINT");
  CHECK(type("LATEST_BY_OFFSET", {T(TypeKind::String)}) == "STRING");
  CHECK(type("LATEST_BY_OFFSET", {T(TypeKind::String), T(TypeKind::Int)}) == "ARRAY<STRING>");
  CHECK(type("COLLECT_LIST", {T(TypeKind::Int)}) == "ARRAY<INTEGER>");
  CHECK(type("TOPK", {T(TypeKind::Double), T(TypeKind::Int)}) == "ARRAY<DOUBLE>");
  CHECK(type("HISTOGRAM", {T(TypeKind::String)}) == "MAP<STRING, BIGINT>");
  CHECK(type("ABS", {T(TypeKind::Int)}).rfind("error", 0) == 0);
}

TEST_CASE("functions: a registry copy takes user functions", "[sql][functions]") {
  FunctionRegistry r = FunctionRegistry::builtin();
  FunctionDef d;
  d.name = "TWICE";
  d.signature = "TWICE(INT) -> INT";
  d.description = "doubles";
  d.resolve = [](const std::vector<DataTypePtr>& args) -> Expected<ScalarCall> {
    if (args.size() != 1) return no_matching_overload("TWICE", args);
    ScalarCall c;
    c.return_type = DataType::of(TypeKind::Int);
    c.body = [](const ArgValues& a) { return Value::int32(a[0].as_int32() * 2); };
    return c;
  };
  r.add(d);
  auto c = r.resolve_scalar("TWICE", {T(TypeKind::Int)});
  REQUIRE(c.ok());
  CHECK(c->body({Value::int32(21)}).as_int32() == 42);
  CHECK(FunctionRegistry::builtin().find("TWICE") == nullptr);
}

TEST_CASE("functions: Java date patterns format and parse", "[sql][functions]") {
  // 2021-03-04T05:06:07.089Z
  const int64_t t = 1614834367089;
  CHECK(format_time(t, "yyyy-MM-dd'T'HH:mm:ss.SSS") ==
        std::optional<std::string>("2021-03-04T05:06:07.089"));
  CHECK(format_time(t, "yy/M/d h:mm a") == std::optional<std::string>("21/3/4 5:06 AM"));
  CHECK(format_time(t, "EEE, dd MMM yyyy") == std::optional<std::string>("Thu, 04 Mar 2021"));
  CHECK(format_time(t, "EEEE MMMM") == std::optional<std::string>("Thursday March"));
  CHECK(format_time(t, "HH:mmXXX", "+02:00") == std::optional<std::string>("07:06+02:00"));
  CHECK(format_time(t, "HH:mmX") == std::optional<std::string>("05:06Z"));
  CHECK(format_time(t, "HHmmZ", "-0130") == std::optional<std::string>("0336-0130"));
  CHECK(format_time(t, "'at' HH 'o''clock'") == std::optional<std::string>("at 05 o'clock"));
  CHECK_FALSE(format_time(t, "yyyy", "Europe/Paris").has_value());
  CHECK_FALSE(format_time(t, "yyyy 'open").has_value());
  CHECK_FALSE(format_time(t, "qqq").has_value());

  CHECK(parse_time("2021-03-04T05:06:07.089", "yyyy-MM-dd'T'HH:mm:ss.SSS") ==
        std::optional<int64_t>(t));
  CHECK(parse_time("2021-03-04 07:06:07.089+0200", "yyyy-MM-dd HH:mm:ss.SSSZ") ==
        std::optional<int64_t>(t));
  CHECK(parse_time("2021-03-04 05:06:07.089", "yyyy-MM-dd HH:mm:ss.SSS", "UTC") ==
        std::optional<int64_t>(t));
  CHECK(parse_time("2021-03-04 06:06:07.089", "yyyy-MM-dd HH:mm:ss.SSS", "GMT+1") ==
        std::optional<int64_t>(t));
  CHECK(parse_time("21-03-04 05:06:07Z", "yy-MM-dd HH:mm:ssX") == std::optional<int64_t>(t - 89));
  CHECK(parse_time("04 Mar 2021", "dd MMM yyyy") == std::optional<int64_t>(1614816000000));
  CHECK(parse_time("1970-01-01", "yyyy-MM-dd") == std::optional<int64_t>(0));
  CHECK(parse_time("1969-12-31", "yyyy-MM-dd") == std::optional<int64_t>(-86400000));
  CHECK(parse_time("12:30 PM", "hh:mm a") == std::optional<int64_t>(45000000));
  CHECK_FALSE(parse_time("2021-02-30", "yyyy-MM-dd").has_value());
  CHECK_FALSE(parse_time("2021-13-01", "yyyy-MM-dd").has_value());
  CHECK_FALSE(parse_time("2021-03-04x", "yyyy-MM-dd").has_value());
  CHECK_FALSE(parse_time("20x1-03-04", "yyyy-MM-dd").has_value());
  // Round trips across a range of instants, including before the epoch.
  for (int64_t ms = -5000000000000; ms < 5000000000000; ms += 123456789012) {
    auto s = format_time(ms, "yyyy-MM-dd HH:mm:ss.SSS");
    REQUIRE(s);
    CHECK(parse_time(*s, "yyyy-MM-dd HH:mm:ss.SSS") == std::optional<int64_t>(ms));
  }
}

}  // namespace rivulet::sql
