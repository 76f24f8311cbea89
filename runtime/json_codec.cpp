// JSON codec: simdjson's DOM parser to decode (it validates UTF-8 and
// structure), a hand-written writer to encode (the output hot path).
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <new>

#include "runtime/ascii.hpp"
#include "runtime/base64.hpp"
#include "runtime/codec.hpp"

namespace rivulet {

namespace {

// Length of the well-formed UTF-8 sequence at s[i], or 0 (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF).
size_t utf8_sequence(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xc0) == 0x80; };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xe0 && b(1) < 0xa0) return 0;   // overlong
    if (c == 0xed && b(1) >= 0xa0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xf0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xf4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// STRING values may hold any bytes (the KAFKA format does not validate);
// JSON must be UTF-8, so each invalid byte becomes U+FFFD, as Java's
// encoders do.
std::string replace_invalid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  return out;
}

// Whether s is all ASCII, eight bytes at a time: ASCII is valid UTF-8 as it
// stands, and most strings (keys, names, codes) are, so the validator (a
// call through simdjson's dispatch, once the larger part of encoding a
// short string) runs only on the others.
inline bool is_ascii(std::string_view s) {
  const char* p = s.data();
  const size_t n = s.size();
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    acc |= w;
  }
  for (; i < n; ++i) acc |= static_cast<unsigned char>(p[i]);
  return (acc & 0x8080808080808080ULL) == 0;
}

// A byte a JSON string holds as it is: printable ASCII but the quote and
// the backslash.
constexpr bool plain_json_byte(unsigned char c) {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

// Whether any of the eight bytes of w may not be plain: below 0x20, a
// quote, a backslash, or 0x80 and above. Exact for "none"; a word it flags
// is looked at byte by byte.
inline bool word_needs_care(uint64_t w) {
  constexpr uint64_t ones = 0x0101010101010101ULL;
  constexpr uint64_t highs = 0x8080808080808080ULL;
  auto below = [&](uint64_t x, uint64_t n) { return (x - n * ones) & ~x & highs; };
  return ((w & highs) | below(w, 0x20) | below(w ^ ('"' * ones), 1) |
          below(w ^ ('\\' * ones), 1)) != 0;
}

// std::to_chars(double)'s shortest form, for the doubles most data holds
// (prices, rates, measures: at least 0.001 and below 1e15 in magnitude, few
// decimals), without the general algorithm, which took most of the time of
// encoding such a record. The digits are those of the smallest k for which
// m = round(|d| * 10^k) gives |d| back as m / 10^k: IEEE division is
// correctly rounded, as reading "m e-k" is, so that text reads back as d,
// and below 1e15 the half-ulp around |d| * 10^k is narrower than a quarter,
// so no other integer, and no shorter text, would. Such a number is written
// in fixed notation, as to_chars writes it where that is no longer than
// the scientific form: always with decimals (the scientific form adds an
// exponent), and for whole numbers with at most four trailing zeros (more,
// as in 100000 = 1e+05, and to_chars decides). Returns the end, or nullptr
// where it does not apply. At most 21 bytes.
char* short_decimal(char* p, double d) {
  static constexpr double kPow10[] = {1e0, 1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,
                                      1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17};
  const double a = std::fabs(d);
  if (!(a >= 1e-3 && a < 1e15)) return nullptr;
  constexpr double kTwo52 = 4503599627370496.0;  // adding it rounds to an integer
  for (size_t k = 0; k < std::size(kPow10); ++k) {
    const double scaled = a * kPow10[k];
    if (scaled >= 1e15) return nullptr;
    const double m = (scaled + kTwo52) - kTwo52;
    if (m / kPow10[k] != a) continue;
    const auto digits = static_cast<uint64_t>(m);
    if (k == 0 && digits % 100000 == 0) return nullptr;
    char buf[24];
    const auto len = static_cast<size_t>(std::to_chars(buf, buf + sizeof buf, digits).ptr - buf);
    if (d < 0) *p++ = '-';
    if (len > k) {
      std::memcpy(p, buf, len - k);
      p += len - k;
      *p++ = '.';
      if (k == 0) {
        *p++ = '0';
      } else {
        std::memcpy(p, buf + len - k, k);
        p += k;
      }
    } else {
      *p++ = '0';
      *p++ = '.';
      std::memset(p, '0', k - len);
      p += k - len;
      std::memcpy(p, buf, len);
      p += len;
    }
    return p;
  }
  return nullptr;
}

// The JSON text of a Value, written after what `out` holds. Room is made
// once per item (a string's worst case, a number's longest form) and the
// bytes are stored through a pointer, instead of a capacity check and a
// terminator's store per character; what is left over is trimmed when the
// writer goes. Strings with nothing to escape are copied eight bytes at a
// time.
class JsonWriter {
 public:
  JsonWriter(std::string& out, size_t hint) : out_(out) {
    const size_t at = out_.size();
    out_.resize(at + std::max<size_t>(hint, 64));
    p_ = out_.data() + at;
    end_ = out_.data() + out_.size();
  }
  ~JsonWriter() { out_.resize(static_cast<size_t>(p_ - out_.data())); }
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  void value(const Value& v) {
    switch (v.kind()) {
      case TypeKind::Null:
        literal("null");
        break;
      case TypeKind::Boolean:
        v.as_bool() ? literal("true") : literal("false");
        break;
      case TypeKind::Int:
        integer(v.as_int32());
        break;
      case TypeKind::BigInt:
        integer(v.as_int64());
        break;
      case TypeKind::Double:
        float64(v.as_double());
        break;
      case TypeKind::Decimal:
        literal(v.as_decimal().to_string());
        break;
      case TypeKind::String:
        string(v.as_string());
        break;
      case TypeKind::Bytes: {
        std::string text = "\"";
        append_base64(text, v.as_bytes());
        text.push_back('"');
        literal(text);
        break;
      }
      case TypeKind::Timestamp:
        integer(v.as_timestamp());
        break;
      // ksqlDB's JSON: days since the epoch, milliseconds since midnight.
      case TypeKind::Date:
        integer(v.as_date());
        break;
      case TypeKind::Time:
        integer(v.as_time());
        break;
      case TypeKind::Array: {
        put('[');
        bool first = true;
        for (const auto& e : v.as_array()) {
          if (!first) put(',');
          first = false;
          value(e);
        }
        put(']');
        break;
      }
      case TypeKind::Map: {
        put('{');
        bool first = true;
        for (const auto& [k, e] : v.as_map()) {
          if (!first) put(',');
          first = false;
          string(k);
          put(':');
          value(e);
        }
        put('}');
        break;
      }
      case TypeKind::Struct: {
        put('{');
        bool first = true;
        for (const auto& f : v.as_struct()) {
          if (!first) put(',');
          first = false;
          string(f.name);
          put(':');
          value(f.value);
        }
        put('}');
        break;
      }
    }
  }

 private:
  void room(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) grow(n);
  }
  void grow(size_t n) {
    const size_t at = static_cast<size_t>(p_ - out_.data());
    out_.resize(std::max(out_.size() * 2, at + n));
    p_ = out_.data() + at;
    end_ = out_.data() + out_.size();
  }
  void put(char c) {
    room(1);
    *p_++ = c;
  }
  void literal(std::string_view s) {
    room(s.size());
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  template <class Int>
  void integer(Int v) {
    room(24);  // an int64 and its sign take 20
    p_ = std::to_chars(p_, p_ + 24, v).ptr;
  }
  void float64(double d) {
    if (!std::isfinite(d)) {
      // JSON has no NaN or infinities; ksqlDB writes them as strings.
      literal(std::isnan(d) ? "\"NaN\"" : (d > 0 ? "\"Infinity\"" : "\"-Infinity\""));
      return;
    }
    room(40);  // the shortest form of a double takes at most 24
    if (char* end = short_decimal(p_, d)) {
      p_ = end;
      return;
    }
    char* start = p_;
    p_ = std::to_chars(p_, p_ + 32, d).ptr;
    if (std::string_view(start, static_cast<size_t>(p_ - start)).find_first_of(".eE") ==
        std::string_view::npos) {
      *p_++ = '.';
      *p_++ = '0';
    }
  }

  // STRING values may hold any bytes (the KAFKA format does not validate);
  // JSON must be UTF-8, so each invalid byte becomes U+FFFD, as Java's
  // encoders do.
  void string(std::string_view s) {
    room(s.size() + 2);
    char* q = p_;
    *q++ = '"';
    const char* in = s.data();
    const size_t n = s.size();
    size_t i = 0;
    if (n >= 8) {
      for (; i + 8 <= n; i += 8) {
        uint64_t w;
        std::memcpy(&w, in + i, 8);
        if (word_needs_care(w)) break;
        std::memcpy(q, &w, 8);
        q += 8;
      }
      // The last 1 to 7 bytes as the string's last word, which overlaps
      // what was copied.
      if (i < n && i + 8 > n) {
        uint64_t w;
        std::memcpy(&w, in + n - 8, 8);
        if (!word_needs_care(w)) {
          std::memcpy(q + (n - i) - 8, &w, 8);
          q += n - i;
          i = n;
        }
      }
    } else if (n >= 4) {
      // Short strings (most names and codes) as two overlapping halves,
      // not a byte at a time.
      uint32_t lo, hi;
      std::memcpy(&lo, in, 4);
      std::memcpy(&hi, in + n - 4, 4);
      if (!word_needs_care(lo | (uint64_t{hi} << 32))) {
        std::memcpy(q, &lo, 4);
        std::memcpy(q + n - 4, &hi, 4);
        q += n;
        i = n;
      }
    } else if (n > 0) {
      // The first, middle and last bytes (which may be the same), the
      // word's other bytes a plain letter.
      const auto b0 = static_cast<unsigned char>(in[0]);
      const auto b1 = static_cast<unsigned char>(in[n / 2]);
      const auto b2 = static_cast<unsigned char>(in[n - 1]);
      const uint64_t w = 0x6161616161000000ULL | b0 | (uint64_t{b1} << 8) | (uint64_t{b2} << 16);
      if (!word_needs_care(w)) {
        q[0] = static_cast<char>(b0);
        q[n / 2] = static_cast<char>(b1);
        q[n - 1] = static_cast<char>(b2);
        q += n;
        i = n;
      }
    }
    for (; i < n && plain_json_byte(static_cast<unsigned char>(in[i])); ++i) *q++ = in[i];
    if (i == n) {
      *q++ = '"';
      p_ = q;
      return;
    }
    if (!is_ascii(s.substr(i)) && !simdjson::validate_utf8(in, n)) {
      string(replace_invalid_utf8(s));  // from the opening quote again
      return;
    }
    p_ = q;
    room(6 * (n - i) + 1);
    for (; i < n; ++i) {
      auto c = static_cast<unsigned char>(in[i]);
      if (c >= 0x80 || plain_json_byte(c)) {
        *p_++ = static_cast<char>(c);
        continue;
      }
      *p_++ = '\\';
      switch (c) {
        case '"':
          *p_++ = '"';
          break;
        case '\\':
          *p_++ = '\\';
          break;
        case '\n':
          *p_++ = 'n';
          break;
        case '\r':
          *p_++ = 'r';
          break;
        case '\t':
          *p_++ = 't';
          break;
        case '\b':
          *p_++ = 'b';
          break;
        case '\f':
          *p_++ = 'f';
          break;
        default: {
          static constexpr char kHex[] = "0123456789abcdef";
          *p_++ = 'u';
          *p_++ = '0';
          *p_++ = '0';
          *p_++ = kHex[c >> 4];
          *p_++ = kHex[c & 0xf];
        }
      }
    }
    *p_++ = '"';
  }

  std::string& out_;
  char* p_;
  char* end_;
};

// Whether n bytes at a and b are equal: field names are short, and a call
// to memcmp per field of every record cost more than the comparison.
// Names up to 16 bytes compare as two overlapping words (both strings hold
// at least n bytes).
inline bool same_bytes(const char* a, const char* b, size_t n) {
  if (n >= 8 && n <= 16) {
    uint64_t x, y, u, v;
    std::memcpy(&x, a, 8);
    std::memcpy(&y, b, 8);
    std::memcpy(&u, a + n - 8, 8);
    std::memcpy(&v, b + n - 8, 8);
    return ((x ^ y) | (u ^ v)) == 0;
  }
  if (n >= 4 && n < 8) {
    uint32_t x, y, u, v;
    std::memcpy(&x, a, 4);
    std::memcpy(&y, b, 4);
    std::memcpy(&u, a + n - 4, 4);
    std::memcpy(&v, b + n - 4, 4);
    return ((x ^ y) | (u ^ v)) == 0;
  }
  if (n < 4) {
    for (size_t i = 0; i < n; ++i)
      if (a[i] != b[i]) return false;
    return true;
  }
  return std::memcmp(a, b, n) == 0;
}

// Sets `out` (null) to the value of e, scalars in place: a decoded record's
// fields are built where they stay, not made and moved in.
void read_element(simdjson::dom::element e, Value& out) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::NULL_VALUE:
      return;
    case element_type::BOOL:
      out.assign_boolean(bool(e.get_bool()));
      return;
    case element_type::INT64:
      out.assign_int64(int64_t(e.get_int64()));
      return;
    case element_type::UINT64:
      out.assign_float64(double(uint64_t(e.get_uint64())));
      return;
    case element_type::DOUBLE:
      out.assign_float64(double(e.get_double()));
      return;
    case element_type::STRING:
      out.assign_string(std::string_view(e.get_string()));
      return;
    case element_type::ARRAY: {
      // The tape knows the count (one allocation instead of the doublings).
      simdjson::dom::array arr = e.get_array();
      Array items(arr.size());
      size_t i = 0;
      for (auto child : arr) read_element(child, items[i++]);
      out = Value::array(std::move(items));
      return;
    }
    case element_type::OBJECT: {
      simdjson::dom::object obj = e.get_object();
      StructFields fields(obj.size());
      size_t i = 0;
      for (auto field : obj) {
        Field& f = fields[i++];
        f.name.assign(field.key);
        read_element(field.value, f.value);
      }
      out = Value::structure(std::move(fields));
      return;
    }
  }
}

Value from_element(simdjson::dom::element e) {
  Value v;
  read_element(e, v);
  return v;
}

std::string_view trim_json_space(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// Error messages quote the offending value, but never a megabyte of it.
std::string excerpt(const Value& v) {
  std::string text = v.to_string();
  if (text.size() > 64) text = text.substr(0, 61) + "...";
  return text;
}

class JsonCodec final : public Codec {
 public:
  JsonCodec(std::shared_ptr<const Schema> schema, std::vector<bool> decoded)
      : schema_(std::move(schema)) {
    if (schema_) {
      for (const auto& c : schema_->columns) {
        if (c.is_key) continue;
        const size_t i = value_columns_.size();
        value_columns_.push_back(c);
        std::string lower = c.name;
        for (char& ch : lower) ch = ascii_lower(ch);
        lower_names_.push_back(std::move(lower));
        decoded_.push_back((i >= decoded.size() || decoded[i]) ? 1 : 0);
        named_fields_.push_back(Field{c.name, Value()});
      }
      present_.assign(value_columns_.size(), 0);
      found_.resize(value_columns_.size());
      for (size_t i = 0; i < value_columns_.size(); ++i)
        for (size_t j = i + 1; j < value_columns_.size(); ++j)
          if (iequals(value_columns_[i].name, value_columns_[j].name)) case_twins_ = true;
    }
    // Documents nest at most kMaxValueDepth arrays and objects (simdjson
    // counts an object with members one level more), so that every value
    // decoded goes through msgpack and a checkpoint and back
    // (runtime/value.hpp). The parser keeps this depth as it grows.
    if (dom_parser_.allocate(simdjson::dom::MINIMAL_DOCUMENT_CAPACITY, kMaxValueDepth) !=
        simdjson::SUCCESS) {
      throw std::bad_alloc();
    }
  }

  Expected<Value> decode(std::string_view bytes) const override {
    // The DOM parser validates the whole document (structure, UTF-8, no
    // trailing content) before we look at it.
    simdjson::dom::element doc;
    auto err = dom_parser_.parse(bytes.data(), bytes.size(), true).get(doc);
    if (err == simdjson::NUMBER_ERROR) {
      // simdjson rejects integers beyond 64 bits, which are valid JSON (a
      // DECIMAL(38, 0) written by Jackson is one). Marking them as
      // fractions makes them doubles in the DOM; decimal columns still read
      // their digits from the text, now `rewritten_`.
      if (mark_big_integers(bytes, &rewritten_)) {
        bytes = rewritten_;
        err = dom_parser_.parse(bytes.data(), bytes.size(), true).get(doc);
      }
    }
    if (err == simdjson::DEPTH_ERROR) {
      return Error::data("invalid JSON: arrays and objects nested deeper than " +
                         std::to_string(kMaxValueDepth) + " levels");
    }
    if (err) {
      return Error::data(std::string("invalid JSON: ") + simdjson::error_message(err));
    }
    if (!schema_) return from_element(doc);
    if (doc.type() != simdjson::dom::element_type::OBJECT) {
      // A single value column may be written unwrapped (WRAP_SINGLE_VALUE=false).
      if (value_columns_.size() == 1) {
        const auto& col = value_columns_.front();
        auto v = convert(col, doc, [&] { return trim_json_space(bytes); });
        if (!v) return v.error();
        return Value::structure({Field{col.name, std::move(*v)}});
      }
      return Error::data("expected a JSON object for the value columns, got " +
                         std::string(type_kind_name(from_element(doc).kind())));
    }
    const size_t n = value_columns_.size();
    match_fields(doc.get_object());
    // A copy of the named, NULL fields; each is given its value only when
    // it has one.
    StructFields fields(named_fields_);
    for (size_t i = 0; i < n; ++i) {
      if (!present_[i]) continue;
      const Column& col = value_columns_[i];
      const simdjson::dom::element found = found_[i];
      const simdjson::dom::element_type json_type = found.type();
      if (!decoded_[i]) {
        // Not read by anyone, and of its column's type: nothing to check.
        if (reads_as_itself(col.type->kind, json_type)) continue;
      } else if (read_exact(col.type->kind, found, json_type, fields[i].value)) {
        continue;
      }
      auto v = convert(col, found, [&] { return raw_field_text(bytes, col.name); });
      if (!v) return v.error();
      if (decoded_[i] && !v->is_null()) fields[i].value = std::move(*v);
    }
    return Value::structure(std::move(fields));
  }

  Expected<std::string> encode(const Value& v) const override {
    // Sized like the last output, so that a record takes one allocation
    // instead of the string's doublings (15, 30, 60, 120 bytes ...).
    std::string out;
    {
      JsonWriter writer(out, last_size_);
      writer.value(v);
    }
    last_size_ = out.size() + out.size() / 4;
    return out;
  }

 private:
  // Finds each value column's field in one pass over the object (names
  // match case-insensitively; the first of duplicate keys wins). Writers
  // keep one key order, so the column after the last one matched is tried
  // first: one comparison per field instead of a scan of the object per
  // column.
  void match_fields(simdjson::dom::object obj) const {
    const size_t n = value_columns_.size();
    std::fill(present_.begin(), present_.end(), 0);
    if (case_twins_) {  // quoted names equal but for case: each takes the first match
      for (size_t j = 0; j < n; ++j) {
        for (auto field : obj) {
          if (iequals(field.key, value_columns_[j].name)) {
            present_[j] = 1;
            found_[j] = field.value;
            break;
          }
        }
      }
      return;
    }
    size_t left = n, next = 0;
    for (auto field : obj) {
      size_t c = n;
      if (next < n && names_column(field.key, next)) {
        c = next;
      } else {
        for (size_t j = 0; j < n; ++j) {
          if (names_column(field.key, j)) {
            c = j;
            break;
          }
        }
      }
      if (c == n || present_[c]) continue;
      present_[c] = 1;
      found_[c] = field.value;
      next = c + 1;
      if (--left == 0) break;
    }
  }

  // Whether a JSON key names value column j: case-insensitively, with the
  // lower-case spelling (what most writers use for ksqlDB's upper-case
  // column names) compared as bytes first.
  bool names_column(std::string_view key, size_t j) const {
    const std::string& lower = lower_names_[j];
    if (key.size() != lower.size()) return false;
    return same_bytes(key.data(), lower.data(), key.size()) || iequals(key, value_columns_[j].name);
  }

  // The JSON type that reads as a column of `kind` without a conversion
  // (an INT's value must also be in range); NULL_VALUE for the kinds that
  // always convert (DECIMAL, BYTES, nested types).
  static simdjson::dom::element_type exact_json_type(TypeKind kind) {
    using simdjson::dom::element_type;
    switch (kind) {
      case TypeKind::String:
        return element_type::STRING;
      case TypeKind::Int:
      case TypeKind::BigInt:
      case TypeKind::Timestamp:
        return element_type::INT64;
      case TypeKind::Double:
        return element_type::DOUBLE;
      case TypeKind::Boolean:
        return element_type::BOOL;
      default:
        return element_type::NULL_VALUE;
    }
  }

  // Whether a value of this JSON type reads as a column of `kind` with no
  // conversion that could fail (an INT's range is checked by converting).
  static bool reads_as_itself(TypeKind kind, simdjson::dom::element_type json_type) {
    using simdjson::dom::element_type;
    return json_type == element_type::NULL_VALUE ||
           (kind != TypeKind::Int && json_type == exact_json_type(kind));
  }

  // convert()'s fast paths, written straight into the field: true when the
  // JSON value reads as a column of `kind` without a conversion (NULL
  // included, which leaves `out` NULL); false for convert() to decide.
  static bool read_exact(TypeKind kind, simdjson::dom::element e,
                         simdjson::dom::element_type json_type, Value& out) {
    using simdjson::dom::element_type;
    if (json_type == element_type::NULL_VALUE) return true;
    if (json_type != exact_json_type(kind)) return false;
    switch (kind) {
      case TypeKind::String:
        out.assign_string(e.get_string().value_unsafe());
        return true;
      case TypeKind::BigInt:
        out.assign_int64(e.get_int64().value_unsafe());
        return true;
      case TypeKind::Timestamp:
        out.assign_timestamp(e.get_int64().value_unsafe());
        return true;
      case TypeKind::Int: {
        const int64_t v = e.get_int64().value_unsafe();
        if (v < INT32_MIN || v > INT32_MAX) return false;
        out.assign_int32(static_cast<int32_t>(v));
        return true;
      }
      case TypeKind::Double:
        out.assign_float64(e.get_double().value_unsafe());
        return true;
      case TypeKind::Boolean:
        out.assign_boolean(e.get_bool().value_unsafe());
        return true;
      default:
        return false;
    }
  }

  // One column's JSON value to the column's type. `raw_text` gives the
  // number as written, for DECIMAL columns: the DOM holds only a double,
  // and a decimal must come from the digits, not from a rounded binary
  // fraction.
  template <typename RawText>
  Expected<Value> convert(const Column& col, simdjson::dom::element e, RawText raw_text) const {
    using simdjson::dom::element_type;
    const DataType& type = *col.type;
    const element_type json_type = e.type();
    // The common exact matches: no intermediate Value, no second copy of
    // strings.
    if (Value exact; read_exact(type.kind, e, json_type, exact)) return exact;
    std::optional<Value> converted;
    if (type.kind == TypeKind::Decimal &&
        (json_type == element_type::DOUBLE || json_type == element_type::UINT64)) {
      std::optional<std::string_view> text = raw_text();
      if (text) {
        if (auto d = Decimal::parse(*text, type.precision, type.scale)) {
          converted = Value::decimal(*d);
        }
      }
    } else if (type.kind == TypeKind::Bytes && json_type == element_type::STRING) {
      if (auto b = decode_base64(std::string_view(e.get_string()))) {
        converted = Value::bytes(std::move(*b));
      }
    } else {
      converted = coerce(from_element(e), type);
    }
    if (!converted) {
      return Error::data("cannot read column " + col.name + " as " + type.to_string() +
                         " from JSON value " + excerpt(from_element(e)));
    }
    return std::move(*converted);
  }

  // Copies `in` to `out` with ".0" after every integer literal of more than
  // 19 digits (outside strings). False when there is none.
  static bool mark_big_integers(std::string_view in, std::string* out) {
    out->clear();
    bool changed = false;
    bool in_string = false;
    for (size_t i = 0; i < in.size();) {
      char c = in[i];
      if (in_string) {
        out->push_back(c);
        if (c == '\\' && i + 1 < in.size()) {
          out->push_back(in[i + 1]);
          i += 2;
          continue;
        }
        if (c == '"') in_string = false;
        ++i;
        continue;
      }
      if (c == '"') {
        in_string = true;
        out->push_back(c);
        ++i;
        continue;
      }
      if (c == '-' || (c >= '0' && c <= '9')) {
        size_t start = i;
        if (c == '-') ++i;
        size_t digits_start = i;
        while (i < in.size() && in[i] >= '0' && in[i] <= '9') ++i;
        out->append(in.substr(start, i - start));
        bool integer = i >= in.size() || (in[i] != '.' && in[i] != 'e' && in[i] != 'E');
        if (integer && i - digits_start > 19) {
          out->append(".0");
          changed = true;
        }
        continue;
      }
      out->push_back(c);
      ++i;
    }
    return changed;
  }

  // The common case of raw_field_text without a parser: a scan over the
  // (already validated) document for a top-level key without escapes.
  // Sets *needs_parser when it meets an escaped key it cannot compare.
  static std::optional<std::string_view> scan_field_text(std::string_view doc,
                                                         std::string_view name,
                                                         bool* needs_parser) {
    size_t i = 0;
    auto skip_space = [&] {
      while (i < doc.size() && (doc[i] == ' ' || doc[i] == '\t' || doc[i] == '\n' || doc[i] == '\r')) {
        ++i;
      }
    };
    auto skip_string = [&] {  // at the opening quote
      for (++i; i < doc.size() && doc[i] != '"'; ++i) {
        if (doc[i] == '\\') ++i;
      }
      ++i;
    };
    skip_space();
    if (i >= doc.size() || doc[i] != '{') return std::nullopt;
    ++i;
    while (true) {
      skip_space();
      if (i >= doc.size() || doc[i] != '"') return std::nullopt;
      size_t key_start = i + 1;
      skip_string();
      if (i > doc.size()) return std::nullopt;
      std::string_view key = doc.substr(key_start, i - 1 - key_start);
      if (key.find('\\') != std::string_view::npos) {
        // It might spell `name`: only a parser can tell, and it must be
        // asked before any later key, so that the first match wins.
        *needs_parser = true;
        return std::nullopt;
      }
      skip_space();
      ++i;  // ':'
      skip_space();
      size_t value_start = i;
      if (iequals(key, name)) {
        while (i < doc.size() && (std::isdigit(static_cast<unsigned char>(doc[i])) ||
                                  doc[i] == '-' || doc[i] == '+' || doc[i] == '.' ||
                                  doc[i] == 'e' || doc[i] == 'E')) {
          ++i;
        }
        return doc.substr(value_start, i - value_start);
      }
      int depth = 0;
      while (i < doc.size()) {
        char c = doc[i];
        if (c == '"') {
          skip_string();
          continue;
        }
        if (c == '{' || c == '[') ++depth;
        if (c == '}' || c == ']') {
          if (depth == 0) break;
          --depth;
        }
        if (c == ',' && depth == 0) break;
        ++i;
      }
      if (i >= doc.size() || doc[i] != ',') return std::nullopt;
      ++i;
    }
  }

  // The text of a top-level field's value as written, found with simdjson's
  // on-demand parser (which keeps positions). The document is already known
  // to be valid. Rare path: only DECIMAL columns holding a fraction use it.
  std::optional<std::string_view> raw_field_text(std::string_view bytes,
                                                 std::string_view name) const {
    bool needs_parser = false;
    if (auto text = scan_field_text(bytes, name, &needs_parser)) return text;
    if (!needs_parser) return std::nullopt;
    padded_.assign(bytes.data(), bytes.size());
    padded_.append(simdjson::SIMDJSON_PADDING, ' ');
    simdjson::ondemand::document doc;
    if (ondemand_parser_.iterate(padded_.data(), bytes.size(), padded_.size()).get(doc)) {
      return std::nullopt;
    }
    simdjson::ondemand::object obj;
    if (doc.get_object().get(obj)) return std::nullopt;
    for (auto field : obj) {
      std::string_view key;
      if (field.unescaped_key().get(key)) return std::nullopt;
      if (!iequals(key, name)) continue;
      std::string_view text;
      if (field.value().raw_json_token().get(text)) return std::nullopt;
      return trim_json_space(text);
    }
    return std::nullopt;
  }

  std::shared_ptr<const Schema> schema_;
  std::vector<Column> value_columns_;
  std::vector<std::string> lower_names_;  // value_columns_' names in ASCII lower case
  // Per value column: materialized (else NULL, still checked). Bytes, not
  // std::vector<bool>: decode reads it for every column of every record.
  std::vector<char> decoded_;
  StructFields named_fields_;  // per value column: its name and NULL, what decode fills
  // Parser state and scratch buffers: one thread at a time (see codec.hpp).
  mutable simdjson::dom::parser dom_parser_;
  mutable simdjson::ondemand::parser ondemand_parser_;
  mutable std::string padded_;
  mutable std::string rewritten_;
  mutable size_t last_size_ = 0;  // encode's size hint
  // match_fields: whether each value column's field was found, and where.
  bool case_twins_ = false;  // two value columns' names differ only in case
  mutable std::vector<char> present_;
  mutable std::vector<simdjson::dom::element> found_;
};

}  // namespace

void append_json(std::string& out, const Value& v) {
  JsonWriter writer(out, 64);
  writer.value(v);
}

std::string to_json(const Value& v) {
  std::string out;
  append_json(out, v);
  return out;
}

std::unique_ptr<Codec> make_json_codec(std::shared_ptr<const Schema> schema,
                                       std::vector<bool> decoded) {
  return std::make_unique<JsonCodec>(std::move(schema), std::move(decoded));
}

Expected<Format> parse_format(std::string_view name) {
  if (iequals(name, "JSON")) return Format::Json;
  if (iequals(name, "DELIMITED")) return Format::Delimited;
  if (iequals(name, "KAFKA")) return Format::Kafka;
  return Error::fatal("unknown format '" + std::string(name) +
                      "': valid formats are JSON, DELIMITED, KAFKA");
}

}  // namespace rivulet
