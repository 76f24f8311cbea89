// DELIMITED: one line of RFC 4180 CSV per record, one field per value
// column; an empty field is null.
#include <cctype>
#include <charconv>

#include "runtime/base64.hpp"
#include "runtime/codec.hpp"
#include "runtime/java_text.hpp"

namespace rivulet {

namespace {

// One field's text as the column's type: CAST semantics, plus the
// encodings DELIMITED writes for BYTES (base64) and TIMESTAMP (epoch
// milliseconds; ISO-8601 text is read too).
std::optional<Value> read_field(std::string text, const DataType& type) {
  if (type.kind == TypeKind::Bytes) {
    auto b = decode_base64(text);
    if (!b) return std::nullopt;
    return Value::bytes(std::move(*b));
  }
  if (type.kind == TypeKind::Timestamp || type.kind == TypeKind::Date ||
      type.kind == TypeKind::Time) {
    // A number is what ksqlDB writes: milliseconds, days, milliseconds of the day.
    int64_t n = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), n);
    if (r.ec == std::errc() && r.ptr == text.data() + text.size())
      return coerce(Value::int64(n), type);
  }
  return coerce(Value::string(std::move(text)), type);
}

class DelimitedCodec final : public Codec {
 public:
  DelimitedCodec(std::shared_ptr<const Schema> schema, char delimiter)
      : delimiter_(delimiter) {
    if (schema) {
      for (const auto& c : schema->columns) {
        if (!c.is_key) columns_.push_back(c);
      }
    }
  }

  Expected<Value> decode(std::string_view bytes) const override {
    // One record per message: a trailing line break (as `kcat` or a file
    // line may carry) ends the record instead of belonging to the last field.
    if (!bytes.empty() && bytes.back() == '\n') bytes.remove_suffix(1);
    if (!bytes.empty() && bytes.back() == '\r') bytes.remove_suffix(1);
    std::vector<std::optional<std::string>> fields;
    std::string current;
    bool quoted_field = false;
    size_t i = 0;
    bool field_start = true;
    while (i <= bytes.size()) {
      if (i == bytes.size() || bytes[i] == delimiter_) {
        if (!quoted_field && current.empty()) {
          fields.emplace_back(std::nullopt);
        } else {
          fields.emplace_back(std::move(current));
        }
        current.clear();
        quoted_field = false;
        field_start = true;
        ++i;
        continue;
      }
      char c = bytes[i];
      if (field_start && c == '"') {
        quoted_field = true;
        ++i;
        bool closed = false;
        while (i < bytes.size()) {
          if (bytes[i] == '"') {
            if (i + 1 < bytes.size() && bytes[i + 1] == '"') {
              current.push_back('"');
              i += 2;
              continue;
            }
            closed = true;
            ++i;
            break;
          }
          current.push_back(bytes[i++]);
        }
        if (!closed) return Error::data("DELIMITED: unterminated quoted field");
        if (i < bytes.size() && bytes[i] != delimiter_) {
          return Error::data("DELIMITED: unexpected character after quoted field at byte " +
                             std::to_string(i));
        }
        field_start = false;
        continue;
      }
      field_start = false;
      current.push_back(c);
      ++i;
    }
    if (fields.size() != columns_.size()) {
      return Error::data("DELIMITED: expected " + std::to_string(columns_.size()) +
                         " fields, got " + std::to_string(fields.size()));
    }
    StructFields out;
    out.reserve(columns_.size());
    for (size_t c = 0; c < columns_.size(); ++c) {
      if (!fields[c]) {
        out.push_back(Field{columns_[c].name, Value()});
        continue;
      }
      auto v = read_field(std::move(*fields[c]), *columns_[c].type);
      if (!v) {
        return Error::data("DELIMITED: cannot read column " + columns_[c].name + " as " +
                           columns_[c].type->to_string());
      }
      out.push_back(Field{columns_[c].name, std::move(*v)});
    }
    return Value::structure(std::move(out));
  }

  Expected<std::string> encode(const Value& v) const override {
    std::string out;
    bool first_field = true;
    auto write_field = [&](const Value& f) {
      const bool record_start = first_field;
      first_field = false;
      if (f.is_null()) return;  // an empty field
      std::string text;
      if (f.kind() == TypeKind::String) {
        text = f.as_string();
      } else if (f.kind() == TypeKind::Decimal) {
        text = f.as_decimal().to_string();
      } else if (f.kind() == TypeKind::Bytes) {
        text = encode_base64(f.as_bytes());
      } else if (f.kind() == TypeKind::Double) {
        text = java_double_string(f.as_double());  // as ksqlDB writes it: 1.0E10, 4.9E-324
      } else {
        text = to_json(f);
      }
      // Quoted as ksqlDB's writer (Apache Commons CSV, minimal quoting)
      // quotes: a delimiter, quote or line break inside; a first character
      // up to '#' (space, tab, '!', '"', '#'), or anything but a letter or
      // digit at the start of a record; a last character up to ' '. An
      // empty string only at the start of a record (elsewhere it is an empty
      // field, as a NULL is).
      bool quote;
      if (text.empty()) {
        quote = record_start;
      } else {
        const auto first = static_cast<unsigned char>(text.front());
        const auto last = static_cast<unsigned char>(text.back());
        quote = first <= '#' || last <= ' ' || (record_start && !std::isalnum(first)) ||
                text.find_first_of(std::string("\"\r\n") + delimiter_) != std::string::npos;
      }
      if (!quote) {
        out += text;
        return;
      }
      out.push_back('"');
      for (char c : text) {
        if (c == '"') out.push_back('"');
        out.push_back(c);
      }
      out.push_back('"');
    };
    if (v.kind() != TypeKind::Struct) {
      write_field(v);
      return out;
    }
    bool first = true;
    for (const auto& f : v.as_struct()) {
      if (!first) out.push_back(delimiter_);
      first = false;
      write_field(f.value);
    }
    return out;
  }

 private:
  std::vector<Column> columns_;
  char delimiter_;
};

}  // namespace

std::unique_ptr<Codec> make_delimited_codec(std::shared_ptr<const Schema> schema, char delimiter) {
  return std::make_unique<DelimitedCodec>(std::move(schema), delimiter);
}

}  // namespace rivulet
