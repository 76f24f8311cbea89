// JSON codec: simdjson's DOM parser to decode (it validates UTF-8 and
// structure), a hand-written writer to encode (the output hot path).
#include <simdjson.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "runtime/codec.hpp"

namespace rivulet {

namespace {

const char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void append_base64(std::string& out, const std::string& in) {
  size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out += kBase64[(n >> 18) & 63];
    out += kBase64[(n >> 12) & 63];
    out += kBase64[(n >> 6) & 63];
    out += kBase64[n & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t n = p[i] << 16;
    out += kBase64[(n >> 18) & 63];
    out += kBase64[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t n = (p[i] << 16) | (p[i + 1] << 8);
    out += kBase64[(n >> 18) & 63];
    out += kBase64[(n >> 12) & 63];
    out += kBase64[(n >> 6) & 63];
    out += '=';
  }
}

void append_string(std::string& out, std::string_view s) {
  out.push_back('"');
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void append_double(std::string& out, double d) {
  if (!std::isfinite(d)) {
    // JSON has no NaN or infinities; ksqlDB writes them as strings.
    out += std::isnan(d) ? "\"NaN\"" : (d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  std::string_view s(buf, static_cast<size_t>(r.ptr - buf));
  out.append(s);
  if (s.find_first_of(".eE") == std::string_view::npos) out += ".0";
}

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

Value from_element(simdjson::dom::element e) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::NULL_VALUE: return Value();
    case element_type::BOOL: return Value::boolean(bool(e.get_bool()));
    case element_type::INT64: return Value::int64(int64_t(e.get_int64()));
    case element_type::UINT64: return Value::float64(double(uint64_t(e.get_uint64())));
    case element_type::DOUBLE: return Value::float64(double(e.get_double()));
    case element_type::STRING: return Value::string(std::string(std::string_view(e.get_string())));
    case element_type::ARRAY: {
      Array items;
      for (auto child : simdjson::dom::array(e.get_array())) items.push_back(from_element(child));
      return Value::array(std::move(items));
    }
    case element_type::OBJECT: {
      StructFields fields;
      for (auto field : simdjson::dom::object(e.get_object())) {
        fields.push_back(Field{std::string(field.key), from_element(field.value)});
      }
      return Value::structure(std::move(fields));
    }
  }
  return Value();
}

// A JSON number read as DOUBLE, to DECIMAL(p, s): the shortest text that
// round-trips the double is the literal as written for up to 15 significant
// digits, so common decimal inputs convert exactly.
std::optional<Value> number_to_decimal(const Value& v, const DataType& t) {
  if (v.kind() != TypeKind::Double) return coerce(v, t);
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v.as_double());
  auto d = Decimal::parse(std::string_view(buf, static_cast<size_t>(r.ptr - buf)), t.precision,
                          t.scale);
  if (!d) return std::nullopt;
  return Value::decimal(*d);
}

class JsonCodec final : public Codec {
 public:
  explicit JsonCodec(std::shared_ptr<const Schema> schema) : schema_(std::move(schema)) {
    if (schema_) {
      for (const auto& c : schema_->columns) {
        if (!c.is_key) value_columns_.push_back(c);
      }
    }
  }

  Expected<Value> decode(std::string_view bytes) const override {
    simdjson::dom::element doc;
    auto err = parser_.parse(bytes.data(), bytes.size(), true).get(doc);
    if (err) {
      return Error::data(std::string("invalid JSON: ") + simdjson::error_message(err));
    }
    if (!schema_) return from_element(doc);
    if (doc.type() != simdjson::dom::element_type::OBJECT) {
      // A single value column may be written unwrapped (WRAP_SINGLE_VALUE=false).
      if (value_columns_.size() == 1) return convert_columns_unwrapped(from_element(doc));
      return Error::data("expected a JSON object for the value columns, got " +
                         std::string(type_kind_name(from_element(doc).kind())));
    }
    StructFields fields;
    fields.reserve(value_columns_.size());
    simdjson::dom::object obj = doc.get_object();
    for (const auto& col : value_columns_) {
      Value raw;
      bool found = false;
      for (auto field : obj) {
        if (iequals(field.key, col.name)) {
          raw = from_element(field.value);
          found = true;
          break;
        }
      }
      if (!found || raw.is_null()) {
        fields.push_back(Field{col.name, Value()});
        continue;
      }
      auto converted = col.type->kind == TypeKind::Decimal ? number_to_decimal(raw, *col.type)
                                                           : coerce(raw, *col.type);
      if (!converted) {
        return Error::data("cannot read column " + col.name + " as " + col.type->to_string() +
                           " from JSON value " + raw.to_string());
      }
      fields.push_back(Field{col.name, std::move(*converted)});
    }
    return Value::structure(std::move(fields));
  }

  Expected<std::string> encode(const Value& v) const override {
    std::string out;
    append_json(out, v);
    return out;
  }

 private:
  Expected<Value> convert_columns_unwrapped(const Value& raw) const {
    const auto& col = value_columns_.front();
    auto converted = col.type->kind == TypeKind::Decimal ? number_to_decimal(raw, *col.type)
                                                         : coerce(raw, *col.type);
    if (!converted) {
      return Error::data("cannot read column " + col.name + " as " + col.type->to_string() +
                         " from JSON value " + raw.to_string());
    }
    return Value::structure({Field{col.name, std::move(*converted)}});
  }

  std::shared_ptr<const Schema> schema_;
  std::vector<Column> value_columns_;
  mutable simdjson::dom::parser parser_;  // one thread at a time (see codec.hpp)
};

}  // namespace

void append_json(std::string& out, const Value& v) {
  switch (v.kind()) {
    case TypeKind::Null: out += "null"; break;
    case TypeKind::Boolean: out += v.as_bool() ? "true" : "false"; break;
    case TypeKind::Int: {
      char buf[16];
      auto r = std::to_chars(buf, buf + sizeof buf, v.as_int32());
      out.append(buf, r.ptr);
      break;
    }
    case TypeKind::BigInt: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, v.as_int64());
      out.append(buf, r.ptr);
      break;
    }
    case TypeKind::Double: append_double(out, v.as_double()); break;
    case TypeKind::Decimal: out += v.as_decimal().to_string(); break;
    case TypeKind::String: append_string(out, v.as_string()); break;
    case TypeKind::Bytes:
      out.push_back('"');
      append_base64(out, v.as_bytes());
      out.push_back('"');
      break;
    case TypeKind::Timestamp: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, v.as_timestamp());
      out.append(buf, r.ptr);
      break;
    }
    case TypeKind::Array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.as_array()) {
        if (!first) out.push_back(',');
        first = false;
        append_json(out, e);
      }
      out.push_back(']');
      break;
    }
    case TypeKind::Map: {
      out.push_back('{');
      bool first = true;
      for (const auto& [k, e] : v.as_map()) {
        if (!first) out.push_back(',');
        first = false;
        append_string(out, k);
        out.push_back(':');
        append_json(out, e);
      }
      out.push_back('}');
      break;
    }
    case TypeKind::Struct: {
      out.push_back('{');
      bool first = true;
      for (const auto& f : v.as_struct()) {
        if (!first) out.push_back(',');
        first = false;
        append_string(out, f.name);
        out.push_back(':');
        append_json(out, f.value);
      }
      out.push_back('}');
      break;
    }
  }
}

std::string to_json(const Value& v) {
  std::string out;
  append_json(out, v);
  return out;
}

std::unique_ptr<Codec> make_json_codec(std::shared_ptr<const Schema> schema) {
  return std::make_unique<JsonCodec>(std::move(schema));
}

Expected<Format> parse_format(std::string_view name) {
  if (iequals(name, "JSON")) return Format::Json;
  if (iequals(name, "DELIMITED")) return Format::Delimited;
  if (iequals(name, "KAFKA")) return Format::Kafka;
  return Error::fatal("unknown format '" + std::string(name) +
                      "': valid formats are JSON, DELIMITED, KAFKA");
}

}  // namespace rivulet
