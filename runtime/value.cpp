#include "runtime/value.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "runtime/ascii.hpp"
#include "runtime/codec.hpp"

namespace rivulet {

namespace {

// Numeric comparison across int, bigint, double and decimal.
int compare_numbers(const Value& a, const Value& b) {
  TypeKind ka = a.kind(), kb = b.kind();
  bool a_int = ka == TypeKind::Int || ka == TypeKind::BigInt;
  bool b_int = kb == TypeKind::Int || kb == TypeKind::BigInt;
  if (a_int && b_int) {
    int64_t x = a.to_int64(), y = b.to_int64();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (ka == TypeKind::Double || kb == TypeKind::Double) {
    double x = a.to_double(), y = b.to_double();
    if (x < y) return -1;
    if (x > y) return 1;
    if (x == y) return 0;
    // NaN sorts last, equal to itself.
    bool xn = std::isnan(x), yn = std::isnan(y);
    return xn == yn ? 0 : (xn ? 1 : -1);
  }
  // At least one decimal, the other decimal or integer.
  Decimal x = ka == TypeKind::Decimal ? a.as_decimal() : Decimal::from_int(a.to_int64());
  Decimal y = kb == TypeKind::Decimal ? b.as_decimal() : Decimal::from_int(b.to_int64());
  return Decimal::compare(x, y);
}

int kind_rank(TypeKind k) {
  switch (k) {
    case TypeKind::Int:
    case TypeKind::BigInt:
    case TypeKind::Double:
    case TypeKind::Decimal:
      return static_cast<int>(TypeKind::Int);
    default:
      return static_cast<int>(k);
  }
}

// Truncates toward zero; NaN is 0 and out-of-range values saturate (a plain
// cast would be undefined behaviour).
int64_t saturating_int64(double d) {
  if (std::isnan(d)) return 0;
  if (d >= 9223372036854775807.0) return INT64_MAX;
  if (d <= -9223372036854775808.0) return INT64_MIN;
  return static_cast<int64_t>(d);
}

// Every numeric kind hashes through its double value: equality between
// kinds is exact among integers and decimals and goes through double as soon
// as a double is involved, and in every case equal numbers have the same
// correctly rounded double. NaNs (equal to each other) share one hash; 0.0
// and -0.0 too.
size_t hash_number(double d) {
  if (std::isnan(d)) return 0x7ff8000000000000ULL;
  if (d == 0) return 0;
  return std::hash<double>{}(d);
}

// Map entries ordered by key, for order-insensitive equality and ordering
// (a map is a set of entries; its insertion order is kept for display only).
std::vector<const std::pair<std::string, Value>*> sorted_entries(const MapEntries& m) {
  std::vector<const std::pair<std::string, Value>*> out;
  out.reserve(m.size());
  for (const auto& e : m) out.push_back(&e);
  std::stable_sort(out.begin(), out.end(),
                   [](const auto* a, const auto* b) { return a->first < b->first; });
  return out;
}

size_t hash_combine(size_t seed, size_t v) {
  return seed ^ (v + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2));
}

}  // namespace

const char* type_kind_name(TypeKind k) {
  switch (k) {
    case TypeKind::Null: return "NULL";
    case TypeKind::Boolean: return "BOOLEAN";
    case TypeKind::Int: return "INTEGER";
    case TypeKind::BigInt: return "BIGINT";
    case TypeKind::Double: return "DOUBLE";
    case TypeKind::Decimal: return "DECIMAL";
    case TypeKind::String: return "STRING";
    case TypeKind::Bytes: return "BYTES";
    case TypeKind::Timestamp: return "TIMESTAMP";
    case TypeKind::Array: return "ARRAY";
    case TypeKind::Map: return "MAP";
    case TypeKind::Struct: return "STRUCT";
    case TypeKind::Date: return "DATE";
    case TypeKind::Time: return "TIME";
  }
  return "UNKNOWN";
}

Value Value::array(Array items) {
  return Value(Rep(std::make_shared<const Array>(std::move(items))));
}
Value Value::map(MapEntries entries) {
  return Value(Rep(std::make_shared<const MapEntries>(std::move(entries))));
}
Value Value::structure(StructFields fields) {
  return Value(Rep(std::make_shared<const StructFields>(std::move(fields))));
}

bool Value::is_numeric() const {
  switch (kind()) {
    case TypeKind::Int:
    case TypeKind::BigInt:
    case TypeKind::Double:
    case TypeKind::Decimal:
      return true;
    default:
      return false;
  }
}

int64_t Value::to_int64() const {
  switch (kind()) {
    case TypeKind::Int: return as_int32();
    case TypeKind::BigInt: return as_int64();
    case TypeKind::Timestamp: return as_timestamp();
    case TypeKind::Date: return as_date();
    case TypeKind::Time: return as_time();
    case TypeKind::Double: return saturating_int64(as_double());
    case TypeKind::Decimal: return as_decimal().to_int64();
    case TypeKind::Boolean: return as_bool() ? 1 : 0;
    default: return 0;
  }
}

double Value::to_double() const {
  switch (kind()) {
    case TypeKind::Int: return as_int32();
    case TypeKind::BigInt: return static_cast<double>(as_int64());
    case TypeKind::Timestamp: return static_cast<double>(as_timestamp());
    case TypeKind::Date: return as_date();
    case TypeKind::Time: return as_time();
    case TypeKind::Double: return as_double();
    case TypeKind::Decimal: return as_decimal().to_double();
    case TypeKind::Boolean: return as_bool() ? 1 : 0;
    default: return 0;
  }
}

const Value* Value::field(std::string_view name) const {
  if (kind() != TypeKind::Struct) return nullptr;
  const auto& fields = as_struct();
  for (const auto& f : fields) {
    if (f.name == name) return &f.value;
  }
  for (const auto& f : fields) {
    if (iequals(f.name, name)) return &f.value;
  }
  return nullptr;
}

const Value* Value::entry(std::string_view key) const {
  if (kind() != TypeKind::Map) return nullptr;
  for (const auto& [k, v] : as_map()) {
    if (k == key) return &v;
  }
  return nullptr;
}

bool Value::operator==(const Value& o) const {
  if (is_numeric() && o.is_numeric()) return compare_numbers(*this, o) == 0;
  if (kind() != o.kind()) return false;
  switch (kind()) {
    case TypeKind::Array: return as_array() == o.as_array();
    case TypeKind::Map: {
      const auto& x = as_map();
      const auto& y = o.as_map();
      if (x.size() != y.size()) return false;
      if (x == y) return true;  // same order: the common case
      return compare(*this, o) == 0;
    }
    case TypeKind::Struct: return as_struct() == o.as_struct();
    default: return rep_ == o.rep_;
  }
}

int Value::compare(const Value& a, const Value& b) {
  if (a.is_numeric() && b.is_numeric()) return compare_numbers(a, b);
  int ra = kind_rank(a.kind()), rb = kind_rank(b.kind());
  if (ra != rb) return ra < rb ? -1 : 1;
  switch (a.kind()) {
    case TypeKind::Null: return 0;
    case TypeKind::Boolean: return static_cast<int>(a.as_bool()) - static_cast<int>(b.as_bool());
    case TypeKind::String: {
      int c = a.as_string().compare(b.as_string());
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case TypeKind::Bytes: {
      int c = a.as_bytes().compare(b.as_bytes());
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case TypeKind::Timestamp: {
      auto x = a.as_timestamp(), y = b.as_timestamp();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    case TypeKind::Date: {
      auto x = a.as_date(), y = b.as_date();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    case TypeKind::Time: {
      auto x = a.as_time(), y = b.as_time();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    case TypeKind::Array: {
      const auto& x = a.as_array();
      const auto& y = b.as_array();
      for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
        if (int c = compare(x[i], y[i])) return c;
      }
      return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
    }
    case TypeKind::Map: {
      auto x = sorted_entries(a.as_map());
      auto y = sorted_entries(b.as_map());
      for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
        int c = x[i]->first.compare(y[i]->first);
        if (c) return c < 0 ? -1 : 1;
        if (int d = compare(x[i]->second, y[i]->second)) return d;
      }
      return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
    }
    case TypeKind::Struct: {
      const auto& x = a.as_struct();
      const auto& y = b.as_struct();
      for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
        int c = x[i].name.compare(y[i].name);
        if (c) return c < 0 ? -1 : 1;
        if (int d = compare(x[i].value, y[i].value)) return d;
      }
      return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
    }
    default: return 0;
  }
}

size_t Value::hash() const {
  switch (kind()) {
    case TypeKind::Null: return 0x6e756c6c;
    case TypeKind::Boolean: return as_bool() ? 1231 : 1237;
    case TypeKind::Int: return hash_number(as_int32());
    case TypeKind::BigInt: return hash_number(static_cast<double>(as_int64()));
    case TypeKind::Double: return hash_number(as_double());
    case TypeKind::Decimal: return hash_number(as_decimal().to_double());
    case TypeKind::String: return std::hash<std::string>{}(as_string());
    case TypeKind::Bytes: return hash_combine(7, std::hash<std::string>{}(as_bytes()));
    case TypeKind::Timestamp: return hash_combine(11, std::hash<int64_t>{}(as_timestamp()));
    case TypeKind::Date: return hash_combine(23, std::hash<int32_t>{}(as_date()));
    case TypeKind::Time: return hash_combine(29, std::hash<int32_t>{}(as_time()));
    case TypeKind::Array: {
      size_t h = 13;
      for (const auto& e : as_array()) h = hash_combine(h, e.hash());
      return h;
    }
    case TypeKind::Map: {
      // Order-insensitive, like map equality: a sum of entry hashes.
      size_t h = 17;
      for (const auto& [k, e] : as_map()) {
        h += hash_combine(std::hash<std::string>{}(k), e.hash());
      }
      return h;
    }
    case TypeKind::Struct: {
      size_t h = 19;
      for (const auto& f : as_struct()) {
        h = hash_combine(h, std::hash<std::string>{}(f.name));
        h = hash_combine(h, f.value.hash());
      }
      return h;
    }
  }
  return 0;
}

// The JSON codec's writer: one rendering of values for logs, errors and
// output (bytes in base64, doubles in shortest round-trip form).
std::string Value::to_string() const { return to_json(*this); }

}  // namespace rivulet
