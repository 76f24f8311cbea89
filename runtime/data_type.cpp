#include "runtime/data_type.hpp"

#include <cctype>
#include <charconv>
#include <cmath>

#include "runtime/ascii.hpp"
#include "runtime/timestamp.hpp"

namespace rivulet {

namespace {

std::optional<int64_t> parse_int(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (s.size() > 1 && s.front() == '+' && s[1] != '-') s.remove_prefix(1);
  int64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<double> parse_double(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (s.size() > 1 && s.front() == '+' && s[1] != '-') s.remove_prefix(1);
  double v = 0;
  // from_chars: locale-independent, no hex floats, whole text or nothing.
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// ksqlDB's boolean spellings (case-insensitive).
std::optional<bool> parse_bool(std::string_view s) {
  s = trim(s);
  for (const char* t : {"true", "t", "yes", "y"}) {
    if (iequals(s, t)) return true;
  }
  for (const char* f : {"false", "f", "no", "n"}) {
    if (iequals(s, f)) return false;
  }
  return std::nullopt;
}

// Truncation toward zero, as CAST does; nullopt for NaN, infinities and
// values outside BIGINT (a plain cast of those is undefined behaviour).
std::optional<int64_t> double_to_int64(double d) {
  if (!std::isfinite(d)) return std::nullopt;
  double t = std::trunc(d);
  if (t < -9223372036854775808.0 || t >= 9223372036854775808.0) return std::nullopt;
  return static_cast<int64_t>(t);
}

std::optional<int64_t> decimal_to_int64(const Decimal& d) {
  Int128 q = d.unscaled() / pow10_i128(d.scale());
  if (q < INT64_MIN || q > INT64_MAX) return std::nullopt;
  return static_cast<int64_t>(q);
}

}  // namespace

DataTypePtr DataType::of(TypeKind k) {
  auto t = std::make_shared<DataType>();
  t->kind = k;
  return t;
}

const DataType& DataType::plain(TypeKind k) {
  static const DataTypePtr types[] = {
      of(TypeKind::Null),      of(TypeKind::Boolean), of(TypeKind::Int),    of(TypeKind::BigInt),
      of(TypeKind::Double),    of(TypeKind::Decimal), of(TypeKind::String), of(TypeKind::Bytes),
      of(TypeKind::Timestamp), of(TypeKind::Array),   of(TypeKind::Map),    of(TypeKind::Struct),
      of(TypeKind::Date),      of(TypeKind::Time),
  };
  static_assert(sizeof types / sizeof types[0] == static_cast<size_t>(TypeKind::Time) + 1,
                "one type per TypeKind");
  return *types[static_cast<size_t>(k)];
}

DataTypePtr DataType::decimal(int precision, int scale) {
  auto t = std::make_shared<DataType>();
  t->kind = TypeKind::Decimal;
  t->precision = precision;
  t->scale = scale;
  return t;
}

DataTypePtr DataType::array(DataTypePtr element) {
  auto t = std::make_shared<DataType>();
  t->kind = TypeKind::Array;
  t->element = std::move(element);
  return t;
}

DataTypePtr DataType::map(DataTypePtr value) {
  auto t = std::make_shared<DataType>();
  t->kind = TypeKind::Map;
  t->element = std::move(value);
  return t;
}

DataTypePtr DataType::structure(std::vector<StructFieldType> fields) {
  auto t = std::make_shared<DataType>();
  t->kind = TypeKind::Struct;
  t->fields = std::move(fields);
  return t;
}

DataTypePtr DataType::structure_of(const std::vector<Column>& columns) {
  std::vector<StructFieldType> fields;
  fields.reserve(columns.size());
  for (const auto& c : columns) fields.push_back(StructFieldType{c.name, c.type});
  return structure(std::move(fields));
}

std::string DataType::to_string() const {
  switch (kind) {
    case TypeKind::Decimal:
      return "DECIMAL(" + std::to_string(precision) + ", " + std::to_string(scale) + ")";
    case TypeKind::Array:
      return "ARRAY<" + (element ? element->to_string() : std::string("?")) + ">";
    case TypeKind::Map:
      return "MAP<STRING, " + (element ? element->to_string() : std::string("?")) + ">";
    case TypeKind::Struct: {
      std::string out = "STRUCT<";
      for (size_t i = 0; i < fields.size(); ++i) {
        if (i) out += ", ";
        out += fields[i].name + " " + (fields[i].type ? fields[i].type->to_string() : "?");
      }
      return out + ">";
    }
    default:
      return type_kind_name(kind);
  }
}

bool DataType::operator==(const DataType& o) const {
  if (kind != o.kind) return false;
  switch (kind) {
    case TypeKind::Decimal:
      return precision == o.precision && scale == o.scale;
    case TypeKind::Array:
    case TypeKind::Map:
      if (!element || !o.element) return element == o.element;
      return *element == *o.element;
    case TypeKind::Struct:
      if (fields.size() != o.fields.size()) return false;
      for (size_t i = 0; i < fields.size(); ++i) {
        if (fields[i].name != o.fields[i].name) return false;
        if (!fields[i].type || !o.fields[i].type) {
          if (fields[i].type != o.fields[i].type) return false;
        } else if (!(*fields[i].type == *o.fields[i].type)) {
          return false;
        }
      }
      return true;
    default:
      return true;
  }
}

std::optional<size_t> Schema::index_of(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == name) return i;
  }
  for (size_t i = 0; i < columns.size(); ++i) {
    if (iequals(columns[i].name, name)) return i;
  }
  return std::nullopt;
}

std::vector<Column> Schema::key_columns() const {
  std::vector<Column> out;
  for (const auto& c : columns) {
    if (c.is_key) out.push_back(c);
  }
  return out;
}

std::vector<Column> Schema::value_columns() const {
  std::vector<Column> out;
  for (const auto& c : columns) {
    if (!c.is_key) out.push_back(c);
  }
  return out;
}

std::optional<Value> coerce(const Value& v, const DataType& t) {
  if (v.is_null()) return Value();
  const TypeKind from = v.kind();
  switch (t.kind) {
    case TypeKind::Null:
      return Value();
    case TypeKind::Boolean:
      if (from == TypeKind::Boolean) return v;
      if (from == TypeKind::String) {
        if (auto b = parse_bool(v.as_string())) return Value::boolean(*b);
      }
      return std::nullopt;
    case TypeKind::Int:
    case TypeKind::BigInt: {
      int64_t x = 0;
      if (from == TypeKind::Int || from == TypeKind::BigInt || from == TypeKind::Timestamp) {
        x = v.to_int64();
      } else if (from == TypeKind::Double) {
        auto i = double_to_int64(v.as_double());  // SQL CAST truncates toward zero
        if (!i) return std::nullopt;
        x = *i;
      } else if (from == TypeKind::Decimal) {
        auto i = decimal_to_int64(v.as_decimal());
        if (!i) return std::nullopt;
        x = *i;
      } else if (from == TypeKind::String) {
        auto p = parse_int(v.as_string());
        if (!p) return std::nullopt;
        x = *p;
      } else {
        return std::nullopt;
      }
      if (t.kind == TypeKind::Int) {
        if (x < INT32_MIN || x > INT32_MAX) return std::nullopt;
        return Value::int32(static_cast<int32_t>(x));
      }
      return Value::int64(x);
    }
    case TypeKind::Double:
      if (v.is_numeric()) return Value::float64(v.to_double());
      if (from == TypeKind::String) {
        auto d = parse_double(v.as_string());
        if (!d) return std::nullopt;
        return Value::float64(*d);
      }
      return std::nullopt;
    case TypeKind::Decimal: {
      std::optional<Decimal> d;
      if (from == TypeKind::Decimal) {
        d = v.as_decimal().rescale(t.precision, t.scale);
      } else if (from == TypeKind::Int || from == TypeKind::BigInt) {
        d = Decimal::from_int(v.to_int64()).rescale(t.precision, t.scale);
      } else if (from == TypeKind::Double) {
        d = Decimal::from_double(v.as_double(), t.precision, t.scale);
      } else if (from == TypeKind::String) {
        d = Decimal::parse(v.as_string(), t.precision, t.scale);
      }
      if (!d) return std::nullopt;
      return Value::decimal(*d);
    }
    case TypeKind::String:
      if (from == TypeKind::String) return v;
      if (from == TypeKind::Bytes) return std::nullopt;
      if (from == TypeKind::Decimal) return Value::string(v.as_decimal().to_string());
      if (from == TypeKind::Timestamp) return Value::string(format_timestamp(v.as_timestamp()));
      if (from == TypeKind::Date) return Value::string(format_date(v.as_date()));
      if (from == TypeKind::Time) return Value::string(format_time_of_day(v.as_time()));
      return Value::string(v.to_string());
    case TypeKind::Bytes:
      if (from == TypeKind::Bytes) return v;
      return std::nullopt;
    case TypeKind::Timestamp:
      if (from == TypeKind::Timestamp) return v;
      if (from == TypeKind::Int || from == TypeKind::BigInt) return Value::timestamp(v.to_int64());
      if (from == TypeKind::Date) return Value::timestamp(v.as_date() * kMillisPerDay);
      if (from == TypeKind::String) {
        if (auto ms = parse_timestamp(trim(v.as_string()))) return Value::timestamp(*ms);
      }
      return std::nullopt;
    case TypeKind::Date: {
      // Days since the epoch: a number of days (the JSON and Avro
      // representation), the day of a TIMESTAMP, or "yyyy-MM-dd".
      std::optional<int64_t> days;
      if (from == TypeKind::Date) return v;
      if (from == TypeKind::Int || from == TypeKind::BigInt) days = v.to_int64();
      if (from == TypeKind::Timestamp) days = date_of_timestamp(v.as_timestamp());
      if (from == TypeKind::String) days = parse_date(trim(v.as_string()));
      if (!days || *days < INT32_MIN || *days > INT32_MAX) return std::nullopt;
      return Value::date(static_cast<int32_t>(*days));
    }
    case TypeKind::Time: {
      // Milliseconds since midnight: a number (the JSON and Avro
      // representation, within a day), the time of a TIMESTAMP, or "HH:mm:ss".
      std::optional<int64_t> ms;
      if (from == TypeKind::Time) return v;
      if (from == TypeKind::Int || from == TypeKind::BigInt) ms = v.to_int64();
      if (from == TypeKind::Timestamp) ms = time_of_timestamp(v.as_timestamp());
      if (from == TypeKind::String) ms = parse_time_of_day(trim(v.as_string()));
      if (!ms || *ms < 0 || *ms >= kMillisPerDay) return std::nullopt;
      return Value::time(static_cast<int32_t>(*ms));
    }
    case TypeKind::Array: {
      if (from != TypeKind::Array || !t.element) return std::nullopt;
      Array out;
      out.reserve(v.as_array().size());
      for (const auto& e : v.as_array()) {
        auto c = coerce(e, *t.element);
        if (!c) return std::nullopt;
        out.push_back(std::move(*c));
      }
      return Value::array(std::move(out));
    }
    case TypeKind::Map: {
      if (!t.element) return std::nullopt;
      MapEntries out;
      if (from == TypeKind::Map) {
        for (const auto& [k, e] : v.as_map()) {
          auto c = coerce(e, *t.element);
          if (!c) return std::nullopt;
          out.emplace_back(k, std::move(*c));
        }
      } else if (from == TypeKind::Struct) {  // a JSON object read schemaless
        for (const auto& f : v.as_struct()) {
          auto c = coerce(f.value, *t.element);
          if (!c) return std::nullopt;
          out.emplace_back(f.name, std::move(*c));
        }
      } else {
        return std::nullopt;
      }
      return Value::map(std::move(out));
    }
    case TypeKind::Struct: {
      if (from != TypeKind::Struct && from != TypeKind::Map) return std::nullopt;
      StructFields out;
      out.reserve(t.fields.size());
      for (const auto& ft : t.fields) {
        const Value* src = from == TypeKind::Struct ? v.field(ft.name) : v.entry(ft.name);
        if (!src || !ft.type) {
          out.push_back(Field{ft.name, Value()});
          continue;
        }
        auto c = coerce(*src, *ft.type);
        if (!c) return std::nullopt;
        out.push_back(Field{ft.name, std::move(*c)});
      }
      return Value::structure(std::move(out));
    }
  }
  return std::nullopt;
}

}  // namespace rivulet
