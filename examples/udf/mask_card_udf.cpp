// A library of user-defined SQL functions for `rivulet --udf-library`
// (docs/sql-reference.md, "User-defined functions" and "User-defined
// aggregate functions"): built beside the `rivulet` binary, against the
// same sources, as build/lib/librivulet_example_udf.so.
//
//   MASK_CARD(STRING) -> STRING   "****" and the last four characters; a
//                                 value shorter than four throws (NULL,
//                                 counted in expression_errors)
//   LUHN_VALID(STRING) -> BOOLEAN whether the digits pass the Luhn check
//   WEIGHTED_AVG(number, weight) -> DOUBLE  (an aggregate)
//                                 sum(number * weight) / sum(weight) over
//                                 the rows where neither is NULL; NULL
//                                 before the first; a negative weight fails
//                                 its row (a data error). Undoable: tables
//                                 may aggregate with it.
#include <cctype>
#include <stdexcept>
#include <string>
#include <vector>

#include "sql/functions.hpp"

using rivulet::DataType;
using rivulet::DataTypePtr;
using rivulet::Expected;
using rivulet::TypeKind;
using rivulet::Value;
namespace sql = rivulet::sql;

namespace {

bool is_string(const DataTypePtr& t) {
  return t && (t->kind == TypeKind::String || t->kind == TypeKind::Null);
}

sql::FunctionDef one_string_arg(const char* name, const char* signature, const char* description,
                                TypeKind result, sql::ScalarBody body) {
  sql::FunctionDef d;
  d.name = name;
  d.signature = signature;
  d.description = description;
  d.resolve = [name = std::string(name), result,
               body](const std::vector<DataTypePtr>& args) -> Expected<sql::ScalarCall> {
    if (args.size() != 1 || !is_string(args[0])) return sql::no_matching_overload(name, args);
    sql::ScalarCall c;
    c.return_type = DataType::of(result);
    c.body = body;
    return c;
  };
  return d;
}

bool luhn(const std::string& s) {
  int sum = 0, digits = 0;
  for (auto it = s.rbegin(); it != s.rend(); ++it) {
    if (*it == ' ') continue;
    if (!std::isdigit(static_cast<unsigned char>(*it))) return false;
    int d = *it - '0';
    if (digits++ % 2 == 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return digits > 1 && sum % 10 == 0;
}

bool is_number(const DataTypePtr& t) {
  return t && (t->kind == TypeKind::Int || t->kind == TypeKind::BigInt ||
               t->kind == TypeKind::Double || t->kind == TypeKind::Null);
}

bool is_whole(const DataTypePtr& t) {
  return t &&
         (t->kind == TypeKind::Int || t->kind == TypeKind::BigInt || t->kind == TypeKind::Null);
}

// The aggregate: STRUCT<SUM DOUBLE, WEIGHT BIGINT>.
Value weighted(double sum, int64_t weight) {
  return Value::structure(
      {rivulet::Field{"SUM", Value::float64(sum)}, rivulet::Field{"WEIGHT", Value::int64(weight)}});
}
double sum_of(const Value& agg) {
  return agg.as_struct()[0].value.as_double();
}
int64_t weight_of(const Value& agg) {
  return agg.as_struct()[1].value.as_int64();
}

// The aggregate after adding (sign 1) or taking back out (sign -1) a row.
Value weighted_step(const sql::ArgValues& a, const Value& agg, int sign) {
  if (a[0].is_null() || a[1].is_null()) return agg;
  const int64_t w = a[1].to_int64();
  if (w < 0) throw std::invalid_argument("negative weight " + std::to_string(w));
  return weighted(sum_of(agg) + sign * a[0].to_double() * static_cast<double>(w),
                  weight_of(agg) + sign * w);
}

sql::FunctionDef weighted_avg() {
  sql::FunctionDef d;
  d.name = "WEIGHTED_AVG";
  d.kind = sql::FunctionDef::Kind::Aggregate;
  d.signature = "WEIGHTED_AVG(DOUBLE, BIGINT) -> DOUBLE";
  d.description = "the average of a number weighted by a whole number";
  d.resolve_aggregate = [](const std::vector<DataTypePtr>& args) -> Expected<sql::AggregateCall> {
    if (args.size() != 2 || !is_number(args[0]) || !is_whole(args[1]))
      return sql::no_matching_overload("WEIGHTED_AVG", args);
    sql::AggregateCall c;
    c.return_type = DataType::of(TypeKind::Double);
    c.initialize = [] { return weighted(0, 0); };
    c.aggregate = [](const sql::ArgValues& a, const Value& agg) {
      return weighted_step(a, agg, 1);
    };
    c.undo = [](const sql::ArgValues& a, const Value& agg) { return weighted_step(a, agg, -1); };
    c.merge = [](const Value& earlier, const Value& later) {
      return weighted(sum_of(earlier) + sum_of(later), weight_of(earlier) + weight_of(later));
    };
    c.map = [](const Value& agg) {
      const int64_t w = weight_of(agg);
      return w == 0 ? Value() : Value::float64(sum_of(agg) / static_cast<double>(w));
    };
    return c;
  };
  return d;
}

}  // namespace

extern "C" const char* rivulet_register_udfs() {
  static std::string error;
  auto mask = one_string_arg("MASK_CARD", "MASK_CARD(STRING) -> STRING",
                             "a card number's last four characters", TypeKind::String,
                             [](const sql::ArgValues& a) -> Value {
                               const std::string& s = a[0].as_string();
                               if (s.size() < 4)
                                 throw std::invalid_argument("fewer than four characters");
                               return Value::string("****" + s.substr(s.size() - 4));
                             });
  auto valid = one_string_arg(
      "LUHN_VALID", "LUHN_VALID(STRING) -> BOOLEAN", "whether a card number passes the Luhn check",
      TypeKind::Boolean,
      [](const sql::ArgValues& a) -> Value { return Value::boolean(luhn(a[0].as_string())); });
  auto average = weighted_avg();
  for (auto* d : {&mask, &valid, &average}) {
    auto ok = sql::register_function(std::move(*d));
    if (!ok) {
      error = ok.error().message;
      return error.c_str();
    }
  }
  return nullptr;
}
