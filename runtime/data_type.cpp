#include "runtime/data_type.hpp"

#include <cctype>
#include <charconv>
#include <cmath>

namespace rivulet {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::optional<int64_t> parse_int(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  int64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<double> parse_double(std::string_view s) {
  std::string text(s);
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size()) return std::nullopt;
  return v;
}

}  // namespace

DataTypePtr DataType::of(TypeKind k) {
  auto t = std::make_shared<DataType>();
  t->kind = k;
  return t;
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
        if (iequals(v.as_string(), "true")) return Value::boolean(true);
        if (iequals(v.as_string(), "false")) return Value::boolean(false);
      }
      return std::nullopt;
    case TypeKind::Int:
    case TypeKind::BigInt: {
      int64_t x = 0;
      if (from == TypeKind::Int || from == TypeKind::BigInt || from == TypeKind::Timestamp) {
        x = v.to_int64();
      } else if (from == TypeKind::Double) {
        double d = v.as_double();
        if (!std::isfinite(d)) return std::nullopt;
        x = static_cast<int64_t>(d);  // SQL CAST truncates toward zero
      } else if (from == TypeKind::Decimal) {
        x = v.as_decimal().to_int64();
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
      return Value::string(v.to_string());
    case TypeKind::Bytes:
      if (from == TypeKind::Bytes) return v;
      return std::nullopt;
    case TypeKind::Timestamp:
      if (from == TypeKind::Timestamp) return v;
      if (from == TypeKind::Int || from == TypeKind::BigInt) return Value::timestamp(v.to_int64());
      return std::nullopt;
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
