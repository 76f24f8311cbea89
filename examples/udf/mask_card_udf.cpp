// A library of user-defined scalar functions for `rivulet --udf-library`
// (docs/sql-reference.md, "User-defined functions"): built beside the
// `rivulet` binary, against the same sources, as
// build/lib/librivulet_example_udf.so.
//
//   MASK_CARD(STRING) -> STRING   "****" and the last four characters; a
//                                 value shorter than four throws (NULL,
//                                 counted in expression_errors)
//   LUHN_VALID(STRING) -> BOOLEAN whether the digits pass the Luhn check
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
  for (auto* d : {&mask, &valid}) {
    auto ok = sql::register_function(std::move(*d));
    if (!ok) {
      error = ok.error().message;
      return error.c_str();
    }
  }
  return nullptr;
}
