#pragma once
// Value: one SQL value (null, boolean, int, bigint, double, exact decimal,
// string, bytes, timestamp, array, map, struct). Containers are immutable and
// shared, so copying a Value is cheap (no deep copies on the hot path).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/decimal.hpp"

namespace rivulet {

enum class TypeKind : uint8_t {
  Null,
  Boolean,
  Int,        // 32-bit
  BigInt,     // 64-bit
  Double,
  Decimal,
  String,
  Bytes,
  Timestamp,  // milliseconds since the epoch
  Array,
  Map,        // string keys, as ksqlDB maps
  Struct,
  Date,  // days since the epoch (ksqlDB's DATE)
  Time,  // milliseconds since midnight (ksqlDB's TIME)
};

const char* type_kind_name(TypeKind k);  // "NULL", "BOOLEAN", "INTEGER", "BIGINT", ...

class Value;

// How deep values nest, in containers (ARRAY, MAP, STRUCT; a scalar is 0):
// the JSON decoder refuses a deeper document as a data error. Every reader
// of Rivulet's own msgpack (internal topics, table arenas, checkpoints)
// accepts more (runtime/msgpack_value.cpp), room for the levels its
// framing adds (a joined row, an accumulator's arrays), so that a value
// once accepted can always be written and read back.
inline constexpr int kMaxValueDepth = 200;

struct Bytes {
  std::string data;
  bool operator==(const Bytes& o) const { return data == o.data; }
};
struct Timestamp {
  int64_t millis = 0;
  bool operator==(const Timestamp& o) const { return millis == o.millis; }
};
struct Date {
  int32_t days = 0;
  bool operator==(const Date& o) const { return days == o.days; }
};
struct Time {
  int32_t millis = 0;
  bool operator==(const Time& o) const { return millis == o.millis; }
};
struct Field;
using Array = std::vector<Value>;
using MapEntries = std::vector<std::pair<std::string, Value>>;  // insertion order kept
using StructFields = std::vector<Field>;                        // declaration order kept

class Value {
 public:
  Value() = default;  // null
  static Value null() { return Value(); }
  static Value boolean(bool b) { return Value(Rep(b)); }
  static Value int32(int32_t v) { return Value(Rep(v)); }
  static Value int64(int64_t v) { return Value(Rep(v)); }
  static Value float64(double v) { return Value(Rep(v)); }
  static Value decimal(Decimal d) { return Value(Rep(d)); }
  static Value string(std::string s) { return Value(Rep(std::move(s))); }
  static Value bytes(std::string b) { return Value(Rep(Bytes{std::move(b)})); }
  static Value timestamp(int64_t millis) { return Value(Rep(Timestamp{millis})); }
  static Value date(int32_t days) { return Value(Rep(Date{days})); }
  static Value time(int32_t millis) { return Value(Rep(Time{millis})); }
  static Value array(Array items);
  static Value map(MapEntries entries);
  static Value structure(StructFields fields);

  // Replace the value in place, without a temporary Value moved in and
  // destroyed (decoders filling the fields of a record).
  void assign_boolean(bool b) { rep_.emplace<bool>(b); }
  void assign_int32(int32_t v) { rep_.emplace<int32_t>(v); }
  void assign_int64(int64_t v) { rep_.emplace<int64_t>(v); }
  void assign_float64(double v) { rep_.emplace<double>(v); }
  void assign_string(std::string_view s) { rep_.emplace<std::string>(s); }
  void assign_timestamp(int64_t millis) { rep_.emplace<Timestamp>(Timestamp{millis}); }

  TypeKind kind() const { return static_cast<TypeKind>(rep_.index()); }
  bool is_null() const { return rep_.index() == 0; }
  bool is_numeric() const;  // int, bigint, double, decimal

  // Accessors: precondition kind() matches (checked: throws std::bad_variant_access).
  bool as_bool() const { return std::get<bool>(rep_); }
  int32_t as_int32() const { return std::get<int32_t>(rep_); }
  int64_t as_int64() const { return std::get<int64_t>(rep_); }
  double as_double() const { return std::get<double>(rep_); }
  const Decimal& as_decimal() const { return std::get<Decimal>(rep_); }
  const std::string& as_string() const { return std::get<std::string>(rep_); }
  const std::string& as_bytes() const { return std::get<Bytes>(rep_).data; }
  int64_t as_timestamp() const { return std::get<Timestamp>(rep_).millis; }
  int32_t as_date() const { return std::get<Date>(rep_).days; }
  int32_t as_time() const { return std::get<Time>(rep_).millis; }
  const Array& as_array() const { return *std::get<std::shared_ptr<const Array>>(rep_); }
  const MapEntries& as_map() const { return *std::get<std::shared_ptr<const MapEntries>>(rep_); }
  const StructFields& as_struct() const {
    return *std::get<std::shared_ptr<const StructFields>>(rep_);
  }

  // Widening numeric views: int/bigint/timestamp/date/time -> int64; any numeric -> double.
  int64_t to_int64() const;
  double to_double() const;

  // Struct field by name (exact match first, then case-insensitive); nullptr
  // when absent or not a struct.
  const Value* field(std::string_view name) const;
  // Map entry by key; nullptr when absent or not a map.
  const Value* entry(std::string_view key) const;

  // Structural equality; numbers of different kinds compare by value
  // (int 1 == bigint 1 == decimal 1.0), null == null.
  bool operator==(const Value& o) const;
  bool operator!=(const Value& o) const { return !(*this == o); }
  // Total order for sorting and MIN/MAX: null first, then by kind, numbers
  // across kinds by value. -1, 0, 1.
  static int compare(const Value& a, const Value& b);
  size_t hash() const;

  // Debug/log rendering, JSON-like: null, true, 12, 1.5, "text", [1,2], {"A":1}.
  std::string to_string() const;

 private:
  using Rep = std::variant<std::monostate, bool, int32_t, int64_t, double, Decimal, std::string,
                           Bytes, Timestamp, std::shared_ptr<const Array>,
                           std::shared_ptr<const MapEntries>, std::shared_ptr<const StructFields>,
                           Date, Time>;
  explicit Value(Rep r) : rep_(std::move(r)) {}
  Rep rep_;
};

struct Field {
  std::string name;
  Value value;
  bool operator==(const Field& o) const { return name == o.name && value == o.value; }
};

// Not noexcept on purpose: libstdc++'s unordered containers then keep each
// node's hash code (std::__detail::__cache_default), so a lookup compares
// cached hashes instead of calling operator== on every node of the bucket
// and rehashing the next node's key to find the bucket's end. Value::hash
// walks strings and containers; recomputing it is what costs, not the 8
// bytes (a KTable node: next pointer, two 40-byte Values, the hash: 96).
struct ValueHash {
  size_t operator()(const Value& v) const { return v.hash(); }
};

}  // namespace rivulet
