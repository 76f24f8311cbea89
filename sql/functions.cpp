#include "sql/functions.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>

#include "runtime/base64.hpp"
#include "runtime/evaluation_notes.hpp"
#include "runtime/timestamp.hpp"
#include "sql/ast.hpp"
#include "sql/text.hpp"
#include "sql/types.hpp"

namespace rivulet::sql {

namespace {

using Types = std::vector<DataTypePtr>;

DataTypePtr T(TypeKind k) {
  return DataType::of(k);
}

bool is_null_arg(const DataTypePtr& t) {
  return !t || t->kind == TypeKind::Null;
}
bool fits(const DataTypePtr& t, TypeKind k) {
  return is_null_arg(t) || t->kind == k;
}
bool fits_numeric(const DataTypePtr& t) {
  return is_null_arg(t) || is_numeric(*t);
}
bool all_fit(const Types& args, TypeKind k) {
  for (const auto& a : args)
    if (!fits(a, k)) return false;
  return true;
}

// The kind a generic numeric parameter takes: the argument's, or INT for a
// bare NULL.
TypeKind numeric_kind(const DataTypePtr& t) {
  return is_null_arg(t) ? TypeKind::Int : t->kind;
}

ScalarCall call(DataTypePtr ret, ScalarBody body, bool null_on_null = true) {
  ScalarCall c;
  c.return_type = std::move(ret);
  c.body = std::move(body);
  c.null_on_null_arg = null_on_null;
  return c;
}

// ---- UTF-8 ----------------------------------------------------------------

bool is_continuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s)
    if (!is_continuation(c)) ++n;
  return n;
}

// Byte offset of code point `index` (the end when index >= length).
size_t utf8_offset(std::string_view s, size_t index) {
  size_t cp = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (is_continuation(static_cast<unsigned char>(s[i]))) continue;
    if (cp == index) return i;
    ++cp;
  }
  return s.size();
}

// ---- string functions -----------------------------------------------------

// ksqlDB SUBSTRING: 1-based start, negative counts from the end; the length
// is clamped to the input.
std::pair<size_t, size_t> substring_range(int64_t len, int64_t pos, std::optional<int64_t> count) {
  int64_t start = pos < 0 ? std::max<int64_t>(len + pos, 0)
                          : std::max<int64_t>(std::min<int64_t>(pos - 1, len), 0);
  int64_t end = len;
  if (count) end = std::max<int64_t>(std::min<int64_t>(start + *count, len), start);
  return {static_cast<size_t>(start), static_cast<size_t>(end)};
}

Value substring(const ArgValues& a) {
  std::optional<int64_t> count;
  if (a.size() > 2) count = a[2].to_int64();
  int64_t pos = a[1].to_int64();
  if (a[0].kind() == TypeKind::Bytes) {
    const std::string& b = a[0].as_bytes();
    auto [s, e] = substring_range(static_cast<int64_t>(b.size()), pos, count);
    return Value::bytes(b.substr(s, e - s));
  }
  const std::string& str = a[0].as_string();
  auto [s, e] = substring_range(static_cast<int64_t>(utf8_length(str)), pos, count);
  size_t bs = utf8_offset(str, s), be = utf8_offset(str, e);
  return Value::string(str.substr(bs, be - bs));
}

bool java_whitespace(char c) {
  return static_cast<unsigned char>(c) <= ' ';
}
bool regex_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string trim_left(std::string s, bool (*pred)(char)) {
  size_t i = 0;
  while (i < s.size() && pred(s[i])) ++i;
  return s.substr(i);
}
std::string trim_right(std::string s, bool (*pred)(char)) {
  size_t n = s.size();
  while (n > 0 && pred(s[n - 1])) --n;
  s.resize(n);
  return s;
}

std::string initcap(const std::string& s) {
  std::string out = s;
  bool start = true;
  for (char& c : out) {
    if (regex_space(c)) {
      start = true;
      continue;
    }
    c = static_cast<char>(start ? std::toupper(static_cast<unsigned char>(c))
                                : std::tolower(static_cast<unsigned char>(c)));
    start = false;
  }
  return out;
}

// Java's String.replace(target, replacement): every occurrence, left to
// right; an empty target inserts the replacement around every character.
std::string replace_all(const std::string& s, const std::string& from, const std::string& to) {
  std::string out;
  if (from.empty()) {
    out += to;
    for (size_t i = 0; i < s.size(); ++i) {
      out.push_back(s[i]);
      if (i + 1 == s.size() || !is_continuation(static_cast<unsigned char>(s[i + 1]))) out += to;
    }
    return out;
  }
  size_t i = 0;
  for (;;) {
    size_t j = s.find(from, i);
    if (j == std::string::npos) break;
    out.append(s, i, j - i);
    out += to;
    i = j + from.size();
  }
  out.append(s, i, std::string::npos);
  return out;
}

// INSTR(str, sub [, position [, occurrence]]): 1-based code point index of
// the occurrence-th match searching forward from `position` (backward from
// the end when negative); 0 when none.
Value instr(const ArgValues& a) {
  const std::string& s = a[0].as_string();
  const std::string& sub = a[1].as_string();
  int64_t position = a.size() > 2 ? a[2].to_int64() : 1;
  int64_t occurrence = a.size() > 3 ? a[3].to_int64() : 1;
  if (occurrence <= 0 || position == 0) return Value::int32(0);
  if (position > 0) {
    size_t from = utf8_offset(s, static_cast<size_t>(position - 1));
    for (;;) {
      size_t j = s.find(sub, from);
      if (j == std::string::npos) return Value::int32(0);
      if (--occurrence == 0)
        return Value::int32(static_cast<int32_t>(utf8_length(s.substr(0, j)) + 1));
      from = j + 1;
    }
  }
  int64_t len = static_cast<int64_t>(utf8_length(s));
  int64_t start_cp = len + position;  // where the match may start at the latest
  if (start_cp < 0) return Value::int32(0);
  size_t from = utf8_offset(s, static_cast<size_t>(start_cp));
  for (;;) {
    size_t j = s.rfind(sub, from);
    if (j == std::string::npos) return Value::int32(0);
    if (--occurrence == 0)
      return Value::int32(static_cast<int32_t>(utf8_length(s.substr(0, j)) + 1));
    if (j == 0) return Value::int32(0);
    from = j - 1;
  }
}

Value pad(const ArgValues& a, bool left) {
  const std::string& input = a[0].as_string();
  int64_t target = a[1].to_int64();
  const std::string& padding = a[2].as_string();
  if (target < 0 || padding.empty()) return Value();
  size_t len = utf8_length(input);
  size_t want = static_cast<size_t>(target);
  if (want <= len) return Value::string(input.substr(0, utf8_offset(input, want)));
  size_t need = want - len;
  std::string fill;
  size_t pad_len = utf8_length(padding);
  while (need >= pad_len) {
    fill += padding;
    need -= pad_len;
  }
  fill += padding.substr(0, utf8_offset(padding, need));
  return Value::string(left ? fill + input : input + fill);
}

Value split(const ArgValues& a) {
  const std::string& s = a[0].as_string();
  const std::string& d = a[1].as_string();
  Array out;
  if (d.empty()) {
    for (size_t i = 0; i < s.size();) {
      size_t j = i + 1;
      while (j < s.size() && is_continuation(static_cast<unsigned char>(s[j]))) ++j;
      out.push_back(Value::string(s.substr(i, j - i)));
      i = j;
    }
    return Value::array(std::move(out));
  }
  size_t i = 0;
  for (;;) {
    size_t j = s.find(d, i);
    if (j == std::string::npos) {
      out.push_back(Value::string(s.substr(i)));
      break;
    }
    out.push_back(Value::string(s.substr(i, j - i)));
    i = j + d.size();
  }
  return Value::array(std::move(out));
}

// ---- numbers ---------------------------------------------------------------

// Java's Math.round: floor(x + 0.5), saturating at the BIGINT range.
int64_t java_round(double d) {
  if (std::isnan(d)) return 0;
  double r = std::floor(d + 0.5);
  if (r >= 9223372036854775807.0) return INT64_MAX;
  if (r <= -9223372036854775808.0) return INT64_MIN;
  return static_cast<int64_t>(r);
}

int64_t saturating_trunc(double d) {
  if (std::isnan(d)) return 0;
  double r = std::trunc(d);
  if (r >= 9223372036854775807.0) return INT64_MAX;
  if (r <= -9223372036854775808.0) return INT64_MIN;
  return static_cast<int64_t>(r);
}

// Drops `digits` decimal digits from u, rounding (ksqlDB's ROUND: half up
// for a positive value, half down for a negative one, so ties go toward
// positive infinity as Math.round does) or toward zero (trunc).
Int128 drop_digits(Int128 u, int digits, bool round) {
  if (digits <= 0) return u;
  if (digits > 38) return 0;
  Int128 p = pow10_i128(digits);
  Int128 q = u / p;
  Int128 r = u % p;
  if (round) {
    Int128 twice = (r < 0 ? -r : r) * 2;
    if (u < 0 ? twice > p : twice >= p) q += (u < 0 ? -1 : 1);
  }
  return q;
}

// ROUND / TRUNC of a DECIMAL to `places` digits after the point (negative:
// before it), keeping scale `keep_scale` in the result.
std::optional<Decimal> decimal_round(const Decimal& d, int64_t places, int out_precision,
                                     int out_scale, bool round) {
  int scale = d.scale();
  Int128 u = d.unscaled();
  int64_t drop = scale - places;
  if (drop <= 0) return d.rescale(out_precision, out_scale);
  if (drop > 38) {
    u = 0;
  } else {
    u = drop_digits(u, static_cast<int>(drop), round);
  }
  // u now has scale (scale - drop) = places; bring it to out_scale.
  int64_t current = scale - drop;
  if (out_scale > current) {
    int64_t up = out_scale - current;
    if (up > 38) return std::nullopt;
    u *= pow10_i128(static_cast<int>(up));
  } else if (out_scale < current) {
    u = drop_digits(u, static_cast<int>(current - out_scale), round);
  }
  if (digits_i128(u) > out_precision) return std::nullopt;
  return Decimal(u, out_precision, out_scale);
}

// BigDecimal.valueOf(d).setScale(places, mode).doubleValue(), the mode
// HALF_UP for a positive d and HALF_DOWN otherwise (ksqlDB's ROUND), or
// DOWN (TRUNC).
double double_round(double d, int64_t places, bool round) {
  if (!std::isfinite(d)) return d;
  places = std::max<int64_t>(std::min<int64_t>(places, 300), -300);
  if (d == 0) return 0.0;  // a BigDecimal zero has no sign
  // The shortest decimal digits of d, as ksqlDB's BigDecimal.valueOf sees them.
  DecimalDigits dd = shortest_digits(d);
  const std::string& digits = dd.digits;
  int exponent = dd.exponent;
  bool negative = dd.negative;
  // value = 0.digits * 10^(exponent + 1); digits after the point:
  int64_t frac_digits = static_cast<int64_t>(digits.size()) - (exponent + 1);
  if (frac_digits <= places) return d;  // nothing to drop
  int64_t keep = static_cast<int64_t>(digits.size()) - (frac_digits - places);
  std::string kept = keep > 0 ? digits.substr(0, static_cast<size_t>(keep)) : "";
  bool up = false;
  if (round && keep >= 0 && static_cast<size_t>(keep) < digits.size()) {
    const size_t first = static_cast<size_t>(keep);
    // A tie (5 then only zeros) rounds up in magnitude for a positive value only.
    const bool above_half =
        digits[first] > '5' ||
        (digits[first] == '5' && digits.find_first_not_of('0', first + 1) != std::string::npos);
    up = negative ? above_half : digits[first] >= '5';
  }
  // Increment `kept` when rounding up.
  if (up) {
    int i = static_cast<int>(kept.size()) - 1;
    while (i >= 0 && kept[static_cast<size_t>(i)] == '9') kept[static_cast<size_t>(i--)] = '0';
    if (i < 0) {
      kept.insert(kept.begin(), '1');
      ++exponent;  // one more integer digit
    } else {
      ++kept[static_cast<size_t>(i)];
    }
  }
  if (kept.empty()) kept = "0";
  // A BigDecimal zero has no sign: -0.4 rounds to 0.0, not -0.0.
  if (kept.find_first_not_of('0') == std::string::npos) negative = false;
  std::string text = (negative ? "-" : "") + kept + "e" + std::to_string(-places);
  return std::strtod(text.c_str(), nullptr);
}

Value abs_value(const Value& v) {
  switch (v.kind()) {
    case TypeKind::Int:
      return Value::int32(static_cast<int32_t>(v.as_int32() < 0
                                                   ? 0u - static_cast<uint32_t>(v.as_int32())
                                                   : static_cast<uint32_t>(v.as_int32())));
    case TypeKind::BigInt:
      return Value::int64(static_cast<int64_t>(v.as_int64() < 0
                                                   ? 0ull - static_cast<uint64_t>(v.as_int64())
                                                   : static_cast<uint64_t>(v.as_int64())));
    case TypeKind::Double:
      return Value::float64(std::fabs(v.as_double()));
    case TypeKind::Decimal: {
      const Decimal& d = v.as_decimal();
      return Value::decimal(d.unscaled() < 0 ? d.negate() : d);
    }
    default:
      return Value();
  }
}

Value floor_ceil(const Value& v, bool ceil) {
  switch (v.kind()) {
    case TypeKind::Int:
    case TypeKind::BigInt:
      return v;
    case TypeKind::Double:
      return Value::float64(ceil ? std::ceil(v.as_double()) : std::floor(v.as_double()));
    case TypeKind::Decimal: {
      const Decimal& d = v.as_decimal();
      Int128 p = pow10_i128(d.scale());
      Int128 q = d.unscaled() / p;
      Int128 r = d.unscaled() % p;
      if (ceil && r > 0) q += 1;
      if (!ceil && r < 0) q -= 1;
      Int128 u = q * p;
      if (digits_i128(u) > d.precision()) return Value();
      return Value::decimal(Decimal(u, d.precision(), d.scale()));
    }
    default:
      return Value();
  }
}

ScalarResolver unary_double(double (*fn)(double)) {
  return [fn](const Types& args) -> Expected<ScalarCall> {
    if (args.size() != 1 || !fits_numeric(args[0])) return Error::fatal("");
    return call(T(TypeKind::Double),
                [fn](const ArgValues& a) { return Value::float64(fn(a[0].to_double())); });
  };
}

double cot(double x) {
  return 1.0 / std::tan(x);
}
double degrees(double x) {
  return x * 180.0 / M_PI;
}
double radians(double x) {
  return x * M_PI / 180.0;
}

// ---- date and time ----------------------------------------------------------

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = floor_div(y, 400);
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civil_from_days(int64_t z, int64_t& y, int64_t& m, int64_t& d) {
  z += 719468;
  const int64_t era = floor_div(z, 146097);
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp + (mp < 10 ? 3 : -9);
  y += m <= 2;
}

const char* const kMonths[] = {"January",   "February", "March",    "April",
                               "May",       "June",     "July",     "August",
                               "September", "October",  "November", "December"};
const char* const kDays[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                             "Friday", "Saturday", "Sunday"};

// Offset in milliseconds of a zone we support; nullopt otherwise.
std::optional<int64_t> zone_offset(std::string_view zone) {
  std::string z = to_upper(zone);
  for (const char* prefix : {"UTC", "GMT", "UT"}) {
    std::string_view p(prefix);
    if (z.compare(0, p.size(), p) == 0) {
      z = z.substr(p.size());
      break;
    }
  }
  if (z.empty() || z == "Z") return 0;
  if (z[0] != '+' && z[0] != '-') return std::nullopt;
  int sign = z[0] == '-' ? -1 : 1;
  std::string digits;
  int hours = 0, minutes = 0;
  size_t colon = z.find(':');
  if (colon != std::string::npos) {
    std::string h = z.substr(1, colon - 1), m = z.substr(colon + 1);
    if (h.empty() || h.size() > 2 || m.size() != 2) return std::nullopt;
    for (char c : h + m)
      if (c < '0' || c > '9') return std::nullopt;
    hours = std::atoi(h.c_str());
    minutes = std::atoi(m.c_str());
  } else {
    std::string rest = z.substr(1);
    if (rest.empty() || rest.size() > 4) return std::nullopt;
    for (char c : rest)
      if (c < '0' || c > '9') return std::nullopt;
    if (rest.size() <= 2) {
      hours = std::atoi(rest.c_str());
    } else {
      hours = std::atoi(rest.substr(0, rest.size() - 2).c_str());
      minutes = std::atoi(rest.substr(rest.size() - 2).c_str());
    }
  }
  if (hours > 18 || minutes > 59) return std::nullopt;
  return sign * (hours * 3600000LL + minutes * 60000LL);
}

struct PatternToken {
  char letter = 0;  // 0: literal
  int count = 0;
  std::string literal;
};

std::optional<std::vector<PatternToken>> tokenize_pattern(std::string_view p) {
  std::vector<PatternToken> out;
  for (size_t i = 0; i < p.size();) {
    char c = p[i];
    if (c == '\'') {
      std::string lit;
      ++i;
      if (i < p.size() && p[i] == '\'') {  // '' is a quote
        out.push_back(PatternToken{0, 0, "'"});
        ++i;
        continue;
      }
      bool closed = false;
      while (i < p.size()) {
        if (p[i] == '\'') {
          if (i + 1 < p.size() && p[i + 1] == '\'') {
            lit.push_back('\'');
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        lit.push_back(p[i++]);
      }
      if (!closed) return std::nullopt;
      out.push_back(PatternToken{0, 0, lit});
      continue;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      size_t j = i;
      while (j < p.size() && p[j] == c) ++j;
      static const std::string kKnown = "yuMLdHhmsSaEXxZz";
      if (kKnown.find(c) == std::string::npos) return std::nullopt;
      out.push_back(PatternToken{c, static_cast<int>(j - i), {}});
      i = j;
      continue;
    }
    out.push_back(PatternToken{0, 0, std::string(1, c)});
    ++i;
  }
  return out;
}

std::string pad_number(int64_t v, int width) {
  std::string s = std::to_string(v < 0 ? -v : v);
  if (static_cast<int>(s.size()) < width) s.insert(0, static_cast<size_t>(width) - s.size(), '0');
  return v < 0 ? "-" + s : s;
}

std::string offset_text(int64_t offset_ms, char letter, int count) {
  if (offset_ms == 0 && (letter == 'X' || (letter == 'Z' && count >= 4))) return "Z";
  int64_t total_min = (offset_ms < 0 ? -offset_ms : offset_ms) / 60000;
  std::string sign = offset_ms < 0 ? "-" : "+";
  std::string hh = pad_number(total_min / 60, 2), mm = pad_number(total_min % 60, 2);
  if (letter == 'Z') return count >= 4 ? sign + hh + ":" + mm : sign + hh + mm;
  if (count == 1) return total_min % 60 == 0 ? sign + hh : sign + hh + mm;
  if (count == 2 || count == 4) return sign + hh + mm;
  return sign + hh + ":" + mm;
}

}  // namespace

std::optional<std::string> format_time(int64_t millis, std::string_view pattern,
                                       std::string_view zone) {
  auto tokens = tokenize_pattern(pattern);
  auto offset = zone_offset(zone);
  if (!tokens || !offset) return std::nullopt;
  int64_t local = millis + *offset;
  int64_t days = floor_div(local, 86400000);
  int64_t ms_of_day = local - days * 86400000;
  int64_t y, m, d;
  civil_from_days(days, y, m, d);
  int64_t hour = ms_of_day / 3600000, minute = ms_of_day / 60000 % 60,
          second = ms_of_day / 1000 % 60, ms = ms_of_day % 1000;
  int64_t weekday = floor_div(days + 3, 1) % 7;  // 1970-01-01 was a Thursday (index 3)
  if (weekday < 0) weekday += 7;
  std::string out;
  for (const auto& t : *tokens) {
    switch (t.letter) {
      case 0:
        out += t.literal;
        break;
      case 'y':
      case 'u':
        out += t.count == 2 ? pad_number(((y % 100) + 100) % 100, 2) : pad_number(y, t.count);
        break;
      case 'M':
      case 'L':
        if (t.count >= 4) {
          out += kMonths[m - 1];
        } else if (t.count == 3) {
          out += std::string(kMonths[m - 1]).substr(0, 3);
        } else {
          out += pad_number(m, t.count);
        }
        break;
      case 'd':
        out += pad_number(d, t.count);
        break;
      case 'H':
        out += pad_number(hour, t.count);
        break;
      case 'h':
        out += pad_number(hour % 12 == 0 ? 12 : hour % 12, t.count);
        break;
      case 'm':
        out += pad_number(minute, t.count);
        break;
      case 's':
        out += pad_number(second, t.count);
        break;
      case 'S': {
        std::string frac = pad_number(ms, 3);
        if (t.count <= 3) {
          out += frac.substr(0, static_cast<size_t>(t.count));
        } else {
          out += frac + std::string(static_cast<size_t>(t.count - 3), '0');
        }
        break;
      }
      case 'a':
        out += hour < 12 ? "AM" : "PM";
        break;
      case 'E':
        out += t.count >= 4 ? kDays[weekday] : std::string(kDays[weekday]).substr(0, 3);
        break;
      case 'X':
      case 'x':
      case 'Z':
        out += offset_text(*offset, t.letter, t.count);
        break;
      case 'z':
        out += *offset == 0 ? "UTC" : offset_text(*offset, 'X', 3);
        break;
      default:
        return std::nullopt;
    }
  }
  return out;
}

std::optional<int64_t> parse_time(std::string_view text, std::string_view pattern,
                                  std::string_view zone) {
  auto tokens = tokenize_pattern(pattern);
  auto zone_ms = zone_offset(zone);
  if (!tokens || !zone_ms) return std::nullopt;
  int64_t y = 1970, mo = 1, d = 1, hour = 0, minute = 0, second = 0, ms = 0;
  int ampm = -1;
  std::optional<int64_t> offset;
  size_t i = 0;
  auto digits = [&](int min, int max) -> std::optional<int64_t> {
    size_t start = i;
    int64_t v = 0;
    while (i < text.size() && static_cast<int>(i - start) < max && text[i] >= '0' && text[i] <= '9')
      v = v * 10 + (text[i++] - '0');
    if (static_cast<int>(i - start) < min) return std::nullopt;
    return v;
  };
  auto word = [&](const char* const* names, int n, bool short_form) -> std::optional<int> {
    for (int k = 0; k < n; ++k) {
      std::string name = short_form ? std::string(names[k]).substr(0, 3) : names[k];
      if (text.size() - i >= name.size() && iequals(text.substr(i, name.size()), name)) {
        i += name.size();
        return k;
      }
    }
    return std::nullopt;
  };
  for (const auto& t : *tokens) {
    std::optional<int64_t> v;
    switch (t.letter) {
      case 0:
        if (text.substr(i, t.literal.size()) != t.literal) return std::nullopt;
        i += t.literal.size();
        continue;
      case 'y':
      case 'u': {
        bool negative = i < text.size() && text[i] == '-' && t.count != 2;
        if (negative) ++i;
        v = t.count == 2 ? digits(2, 2) : digits(t.count, 9);
        if (!v) return std::nullopt;
        y = t.count == 2 ? 2000 + *v : (negative ? -*v : *v);
        continue;
      }
      case 'M':
      case 'L':
        if (t.count >= 3) {
          auto k = word(kMonths, 12, t.count == 3);
          if (!k) return std::nullopt;
          mo = *k + 1;
          continue;
        }
        v = digits(t.count, 2);
        if (!v) return std::nullopt;
        mo = *v;
        continue;
      case 'd':
        v = digits(t.count, 2);
        if (!v) return std::nullopt;
        d = *v;
        continue;
      case 'H':
        v = digits(t.count, 2);
        if (!v) return std::nullopt;
        hour = *v;
        continue;
      case 'h':
        v = digits(t.count, 2);
        if (!v) return std::nullopt;
        hour = *v;
        continue;
      case 'm':
        v = digits(t.count, 2);
        if (!v) return std::nullopt;
        minute = *v;
        continue;
      case 's':
        v = digits(t.count, 2);
        if (!v) return std::nullopt;
        second = *v;
        continue;
      case 'S': {
        size_t start = i;
        v = digits(t.count, t.count);
        if (!v) return std::nullopt;
        int n = static_cast<int>(i - start);
        int64_t frac = *v;
        while (n > 3) {
          frac /= 10;
          --n;
        }
        while (n < 3) {
          frac *= 10;
          ++n;
        }
        ms = frac;
        continue;
      }
      case 'a':
        if (text.size() - i >= 2 && iequals(text.substr(i, 2), "AM")) {
          ampm = 0;
        } else if (text.size() - i >= 2 && iequals(text.substr(i, 2), "PM")) {
          ampm = 1;
        } else {
          return std::nullopt;
        }
        i += 2;
        continue;
      case 'E':
        if (!word(kDays, 7, t.count < 4)) return std::nullopt;
        continue;
      case 'X':
      case 'x':
      case 'Z':
      case 'z': {
        if (i < text.size() && text[i] == 'Z') {
          ++i;
          offset = 0;
          continue;
        }
        size_t start = i;
        if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
        while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == ':')) ++i;
        auto o = zone_offset(text.substr(start, i - start));
        if (!o || i == start) return std::nullopt;
        offset = *o;
        continue;
      }
      default:
        return std::nullopt;
    }
  }
  if (i != text.size()) return std::nullopt;
  if (ampm >= 0) {
    if (hour < 1 || hour > 12) return std::nullopt;
    hour = hour % 12 + (ampm == 1 ? 12 : 0);
  }
  if (mo < 1 || mo > 12 || d < 1 || hour > 23 || minute > 59 || second > 59) return std::nullopt;
  static const int kDaysIn[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > kDaysIn[mo - 1] || (mo == 2 && !leap && d > 28)) return std::nullopt;
  int64_t local =
      days_from_civil(y, mo, d) * 86400000 + hour * 3600000 + minute * 60000 + second * 1000 + ms;
  return local - (offset ? *offset : *zone_ms);
}

Error no_matching_overload(std::string_view name, const std::vector<DataTypePtr>& args) {
  std::string list;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i > 0) list += ", ";
    list += type_name(args[i]);
  }
  return Error::fatal("Function '" + std::string(name) + "' does not accept parameters (" + list +
                      ").");
}

namespace {

// Registration helpers ---------------------------------------------------------

void scalar(FunctionRegistry& r, std::string name, std::string signature, std::string description,
            ScalarResolver resolve) {
  FunctionDef d;
  d.name = std::move(name);
  d.kind = FunctionDef::Kind::Scalar;
  d.signature = std::move(signature);
  d.description = std::move(description);
  d.resolve = std::move(resolve);
  r.add(std::move(d));
}

void aggregate(FunctionRegistry& r, std::string name, std::string signature,
               std::string description, AggregateTyper typer) {
  FunctionDef d;
  d.name = std::move(name);
  d.kind = FunctionDef::Kind::Aggregate;
  d.signature = std::move(signature);
  d.description = std::move(description);
  d.aggregate_type = std::move(typer);
  r.add(std::move(d));
}

constexpr size_t kCubeExplodeMaxElements = 20;  // as ksqlDB: 2^20 rows at most

// An error whose text the registry replaces by no_matching_overload.
Error mismatch() {
  return Error::fatal("");
}

// (STRING) -> STRING
ScalarResolver string_to_string(std::string (*fn)(const std::string&)) {
  return [fn](const Types& args) -> Expected<ScalarCall> {
    if (args.size() != 1 || !fits(args[0], TypeKind::String)) return mismatch();
    return call(T(TypeKind::String),
                [fn](const ArgValues& a) { return Value::string(fn(a[0].as_string())); });
  };
}

std::string lower_fn(const std::string& s) {
  return to_lower(s);
}
std::string upper_fn(const std::string& s) {
  return to_upper(s);
}
std::string trim_fn(const std::string& s) {
  return trim_right(trim_left(s, java_whitespace), java_whitespace);
}
std::string ltrim_fn(const std::string& s) {
  return trim_left(s, regex_space);
}
std::string rtrim_fn(const std::string& s) {
  return trim_right(s, regex_space);
}
std::string initcap_fn(const std::string& s) {
  return initcap(s);
}

void register_string_functions(FunctionRegistry& r) {
  scalar(r, "LCASE", "LCASE(STRING) -> STRING", "lower case", string_to_string(lower_fn));
  scalar(r, "UCASE", "UCASE(STRING) -> STRING", "upper case", string_to_string(upper_fn));
  scalar(r, "TRIM", "TRIM(STRING) -> STRING", "removes leading and trailing whitespace",
         string_to_string(trim_fn));
  scalar(r, "LTRIM", "LTRIM(STRING) -> STRING", "removes leading whitespace",
         string_to_string(ltrim_fn));
  scalar(r, "RTRIM", "RTRIM(STRING) -> STRING", "removes trailing whitespace",
         string_to_string(rtrim_fn));
  scalar(r, "INITCAP", "INITCAP(STRING) -> STRING",
         "capitalizes the first letter of each word, lower-cases the rest",
         string_to_string(initcap_fn));

  scalar(r, "LEN", "LEN(STRING | BYTES) -> INT", "length in characters (bytes for BYTES)",
         [](const Types& args) -> Expected<ScalarCall> {
           if (args.size() != 1) return mismatch();
           if (fits(args[0], TypeKind::String))
             return call(T(TypeKind::Int), [](const ArgValues& a) {
               return Value::int32(static_cast<int32_t>(utf8_length(a[0].as_string())));
             });
           if (fits(args[0], TypeKind::Bytes))
             return call(T(TypeKind::Int), [](const ArgValues& a) {
               return Value::int32(static_cast<int32_t>(a[0].as_bytes().size()));
             });
           return mismatch();
         });

  // ksqlDB's four encodings; another is an error of the call (NULL, counted).
  scalar(
      r, "FROM_BYTES", "FROM_BYTES(BYTES, STRING encoding) -> STRING",
      "the bytes as text in the encoding 'hex', 'utf8', 'ascii' or 'base64' (any case)",
      [](const Types& args) -> Expected<ScalarCall> {
        if (args.size() != 2 || !fits(args[0], TypeKind::Bytes) || !fits(args[1], TypeKind::String))
          return mismatch();
        return call(T(TypeKind::String), [](const ArgValues& a) {
          const std::string& b = a[0].as_bytes();
          const std::string encoding = to_lower(a[1].as_string());
          if (encoding == "utf8" || encoding == "ascii") return Value::string(b);
          if (encoding == "base64") return Value::string(encode_base64(b));
          if (encoding == "hex") {
            static const char digits[] = "0123456789abcdef";
            std::string out;
            out.reserve(b.size() * 2);
            for (unsigned char c : b) {
              out += digits[c >> 4];
              out += digits[c & 15];
            }
            return Value::string(std::move(out));
          }
          throw std::invalid_argument("FROM_BYTES: unknown encoding '" + a[1].as_string() +
                                      "' (hex, utf8, ascii or base64)");
        });
      });
  scalar(r, "TO_BYTES", "TO_BYTES(STRING, STRING encoding) -> BYTES",
         "the text's bytes in the encoding 'hex', 'utf8', 'ascii' or 'base64' (any case); text "
         "that is not of the encoding is an error of the call",
         [](const Types& args) -> Expected<ScalarCall> {
           if (args.size() != 2 || !fits(args[0], TypeKind::String) ||
               !fits(args[1], TypeKind::String))
             return mismatch();
           return call(T(TypeKind::Bytes), [](const ArgValues& a) {
             const std::string& text = a[0].as_string();
             const std::string encoding = to_lower(a[1].as_string());
             if (encoding == "utf8" || encoding == "ascii") return Value::bytes(text);
             if (encoding == "base64") {
               auto decoded = decode_base64(text);
               if (!decoded) throw std::invalid_argument("TO_BYTES: not base64: '" + text + "'");
               return Value::bytes(std::move(*decoded));
             }
             if (encoding == "hex") {
               auto nibble = [&](char c) {
                 if (c >= '0' && c <= '9') return c - '0';
                 if (c >= 'a' && c <= 'f') return c - 'a' + 10;
                 if (c >= 'A' && c <= 'F') return c - 'A' + 10;
                 throw std::invalid_argument("TO_BYTES: not hex: '" + text + "'");
               };
               if (text.size() % 2 != 0)
                 throw std::invalid_argument("TO_BYTES: not hex (odd length): '" + text + "'");
               std::string out;
               out.reserve(text.size() / 2);
               for (size_t i = 0; i < text.size(); i += 2)
                 out += static_cast<char>(nibble(text[i]) * 16 + nibble(text[i + 1]));
               return Value::bytes(std::move(out));
             }
             throw std::invalid_argument("TO_BYTES: unknown encoding '" + a[1].as_string() +
                                         "' (hex, utf8, ascii or base64)");
           });
         });

  scalar(r, "CONCAT", "CONCAT(STRING, ...) -> STRING | CONCAT(BYTES, ...) -> BYTES",
         "concatenates its arguments, skipping NULLs",
         [](const Types& args) -> Expected<ScalarCall> {
           if (args.empty()) return mismatch();
           bool bytes = all_fit(args, TypeKind::Bytes) && !all_fit(args, TypeKind::String);
           if (!bytes && !all_fit(args, TypeKind::String)) return mismatch();
           return call(
               T(bytes ? TypeKind::Bytes : TypeKind::String),
               [bytes](const ArgValues& a) {
                 std::string out;
                 for (const auto& v : a) {
                   if (v.is_null()) continue;
                   out += bytes ? v.as_bytes() : v.as_string();
                 }
                 return bytes ? Value::bytes(std::move(out)) : Value::string(std::move(out));
               },
               false);
         });

  scalar(r, "CONCAT_WS", "CONCAT_WS(STRING sep, STRING, ...) -> STRING",
         "joins the non-NULL arguments with a separator; NULL when the separator is NULL",
         [](const Types& args) -> Expected<ScalarCall> {
           if (args.size() < 2) return mismatch();
           bool bytes = all_fit(args, TypeKind::Bytes) && !all_fit(args, TypeKind::String);
           if (!bytes && !all_fit(args, TypeKind::String)) return mismatch();
           return call(
               T(bytes ? TypeKind::Bytes : TypeKind::String),
               [bytes](const ArgValues& a) {
                 if (a[0].is_null()) return Value();
                 const std::string& sep = bytes ? a[0].as_bytes() : a[0].as_string();
                 std::string out;
                 bool first = true;
                 for (size_t i = 1; i < a.size(); ++i) {
                   if (a[i].is_null()) continue;
                   if (!first) out += sep;
                   out += bytes ? a[i].as_bytes() : a[i].as_string();
                   first = false;
                 }
                 return bytes ? Value::bytes(std::move(out)) : Value::string(std::move(out));
               },
               false);
         });

  scalar(r, "SUBSTRING", "SUBSTRING(STRING | BYTES, INT pos [, INT len]) -> same",
         "the part from 1-based pos (negative: from the end), len characters long",
         [](const Types& args) -> Expected<ScalarCall> {
           if (args.size() < 2 || args.size() > 3) return mismatch();
           for (size_t i = 1; i < args.size(); ++i)
             if (!fits(args[i], TypeKind::Int)) return mismatch();
           if (fits(args[0], TypeKind::String)) return call(T(TypeKind::String), substring);
           if (fits(args[0], TypeKind::Bytes)) return call(T(TypeKind::Bytes), substring);
           return mismatch();
         });

  scalar(
      r, "REPLACE", "REPLACE(STRING, STRING old, STRING new) -> STRING",
      "replaces every occurrence of old by new", [](const Types& args) -> Expected<ScalarCall> {
        if (args.size() != 3 || !all_fit(args, TypeKind::String)) return mismatch();
        return call(T(TypeKind::String), [](const ArgValues& a) {
          return Value::string(replace_all(a[0].as_string(), a[1].as_string(), a[2].as_string()));
        });
      });

  scalar(r, "INSTR", "INSTR(STRING, STRING sub [, INT position [, INT occurrence]]) -> INT",
         "1-based position of sub, 0 when absent", [](const Types& args) -> Expected<ScalarCall> {
           if (args.size() < 2 || args.size() > 4) return mismatch();
           if (!fits(args[0], TypeKind::String) || !fits(args[1], TypeKind::String))
             return mismatch();
           for (size_t i = 2; i < args.size(); ++i)
             if (!fits(args[i], TypeKind::Int)) return mismatch();
           return call(T(TypeKind::Int), instr);
         });

  for (bool left : {true, false}) {
    scalar(r, left ? "LPAD" : "RPAD",
           std::string(left ? "LPAD" : "RPAD") + "(STRING, INT length, STRING padding) -> STRING",
           left ? "pads on the left to length (truncates longer input)"
                : "pads on the right to length (truncates longer input)",
           [left](const Types& args) -> Expected<ScalarCall> {
             if (args.size() != 3 || !fits(args[0], TypeKind::String) ||
                 !fits(args[1], TypeKind::Int) || !fits(args[2], TypeKind::String))
               return mismatch();
             return call(T(TypeKind::String), [left](const ArgValues& a) { return pad(a, left); });
           });
  }

  scalar(r, "SPLIT", "SPLIT(STRING, STRING delimiter) -> ARRAY<STRING>",
         "splits on every delimiter (into characters when it is empty)",
         [](const Types& args) -> Expected<ScalarCall> {
           if (args.size() != 2 || !all_fit(args, TypeKind::String)) return mismatch();
           return call(DataType::array(T(TypeKind::String)), split);
         });
}

void register_math_functions(FunctionRegistry& r) {
  scalar(r, "ABS", "ABS(number) -> same", "absolute value",
         [](const Types& args) -> Expected<ScalarCall> {
           if (args.size() != 1 || !fits_numeric(args[0])) return mismatch();
           DataTypePtr t = is_null_arg(args[0]) ? T(TypeKind::Int) : args[0];
           return call(t, [](const ArgValues& a) { return abs_value(a[0]); });
         });
  for (bool ceil : {true, false}) {
    scalar(r, ceil ? "CEIL" : "FLOOR", std::string(ceil ? "CEIL" : "FLOOR") + "(number) -> same",
           ceil ? "smallest integral value not below" : "largest integral value not above",
           [ceil](const Types& args) -> Expected<ScalarCall> {
             if (args.size() != 1 || !fits_numeric(args[0])) return mismatch();
             DataTypePtr t = is_null_arg(args[0]) ? T(TypeKind::Int) : args[0];
             return call(t, [ceil](const ArgValues& a) { return floor_ceil(a[0], ceil); });
           });
  }
  for (bool round : {true, false}) {
    const char* name = round ? "ROUND" : "TRUNC";
    scalar(r, name,
           std::string(name) + "(number [, INT places]) -> INT | BIGINT | DOUBLE | DECIMAL",
           round ? "rounds to places digits after the point (0 by default), ties toward "
                   "positive infinity (2.5 -> 3, -2.5 -> -2)"
                 : "truncates toward zero to places digits after the point (0 by default)",
           [round](const Types& args) -> Expected<ScalarCall> {
             if (args.empty() || args.size() > 2 || !fits_numeric(args[0])) return mismatch();
             if (args.size() == 2 && !fits(args[1], TypeKind::Int)) return mismatch();
             TypeKind k = numeric_kind(args[0]);
             if (args.size() == 1) {
               switch (k) {
                 case TypeKind::Int:
                 case TypeKind::BigInt:
                   return call(T(k), [](const ArgValues& a) { return a[0]; });
                 case TypeKind::Double:
                   return call(T(TypeKind::BigInt), [round](const ArgValues& a) {
                     double d = a[0].as_double();
                     return Value::int64(round ? java_round(d) : saturating_trunc(d));
                   });
                 default: {
                   int p = std::max(args[0]->precision - args[0]->scale, 1);
                   return call(DataType::decimal(p, 0), [round, p](const ArgValues& a) {
                     auto d = decimal_round(a[0].as_decimal(), 0, p, 0, round);
                     return d ? Value::decimal(*d) : Value();
                   });
                 }
               }
             }
             if (k == TypeKind::Decimal) {
               int p = args[0]->precision, s = args[0]->scale;
               return call(args[0], [round, p, s](const ArgValues& a) {
                 auto d = decimal_round(a[0].as_decimal(), a[1].to_int64(), p, s, round);
                 return d ? Value::decimal(*d) : Value();
               });
             }
             return call(T(TypeKind::Double), [round](const ArgValues& a) {
               return Value::float64(double_round(a[0].to_double(), a[1].to_int64(), round));
             });
           });
  }

  struct Unary {
    const char* name;
    double (*fn)(double);
    const char* description;
  };
  static const Unary kUnary[] = {
      {"SQRT", static_cast<double (*)(double)>(std::sqrt), "square root"},
      {"CBRT", static_cast<double (*)(double)>(std::cbrt), "cube root"},
      {"EXP", static_cast<double (*)(double)>(std::exp), "e to the power of x"},
      {"LN", static_cast<double (*)(double)>(std::log), "natural logarithm"},
      {"SIN", static_cast<double (*)(double)>(std::sin), "sine"},
      {"COS", static_cast<double (*)(double)>(std::cos), "cosine"},
      {"TAN", static_cast<double (*)(double)>(std::tan), "tangent"},
      {"COT", cot, "cotangent"},
      {"ASIN", static_cast<double (*)(double)>(std::asin), "arc sine"},
      {"ACOS", static_cast<double (*)(double)>(std::acos), "arc cosine"},
      {"ATAN", static_cast<double (*)(double)>(std::atan), "arc tangent"},
      {"SINH", static_cast<double (*)(double)>(std::sinh), "hyperbolic sine"},
      {"COSH", static_cast<double (*)(double)>(std::cosh), "hyperbolic cosine"},
      {"TANH", static_cast<double (*)(double)>(std::tanh), "hyperbolic tangent"},
      {"DEGREES", degrees, "radians to degrees"},
      {"RADIANS", radians, "degrees to radians"},
  };
  for (const Unary& u : kUnary)
    scalar(r, u.name, std::string(u.name) + "(number) -> DOUBLE", u.description,
           unary_double(u.fn));

  scalar(r, "LOG", "LOG(number) | LOG(number base, number x) -> DOUBLE",
         "natural logarithm, or the logarithm of x in base",
         [](const Types& args) -> Expected<ScalarCall> {
           if (args.empty() || args.size() > 2) return mismatch();
           for (const auto& a : args)
             if (!fits_numeric(a)) return mismatch();
           if (args.size() == 1)
             return call(T(TypeKind::Double), [](const ArgValues& a) {
               return Value::float64(std::log(a[0].to_double()));
             });
           return call(T(TypeKind::Double), [](const ArgValues& a) {
             // As ksqlDB: no logarithm in a base <= 0 or 1 (NaN, not the
             // -0.0 or infinity the quotient gives).
             const double base = a[0].to_double();
             if (base <= 0 || base == 1) return Value::float64(std::nan(""));
             return Value::float64(std::log(a[1].to_double()) / std::log(base));
           });
         });
  scalar(r, "POWER", "POWER(number base, number exponent) -> DOUBLE", "base to the power",
         [](const Types& args) -> Expected<ScalarCall> {
           if (args.size() != 2 || !fits_numeric(args[0]) || !fits_numeric(args[1]))
             return mismatch();
           return call(T(TypeKind::Double), [](const ArgValues& a) {
             return Value::float64(std::pow(a[0].to_double(), a[1].to_double()));
           });
         });
  scalar(r, "ATAN2", "ATAN2(number y, number x) -> DOUBLE", "angle of the point (x, y)",
         [](const Types& args) -> Expected<ScalarCall> {
           if (args.size() != 2 || !fits_numeric(args[0]) || !fits_numeric(args[1]))
             return mismatch();
           return call(T(TypeKind::Double), [](const ArgValues& a) {
             return Value::float64(std::atan2(a[0].to_double(), a[1].to_double()));
           });
         });
  scalar(r, "SIGN", "SIGN(number) -> INT", "-1, 0 or 1",
         [](const Types& args) -> Expected<ScalarCall> {
           if (args.size() != 1 || !fits_numeric(args[0])) return mismatch();
           return call(T(TypeKind::Int), [](const ArgValues& a) {
             if (a[0].kind() == TypeKind::Decimal) {
               Int128 u = a[0].as_decimal().unscaled();
               return Value::int32(u > 0 ? 1 : (u < 0 ? -1 : 0));
             }
             double d = a[0].to_double();
             return Value::int32(d > 0 ? 1 : (d < 0 ? -1 : 0));
           });
         });
  scalar(r, "PI", "PI() -> DOUBLE", "the constant pi",
         [](const Types& args) -> Expected<ScalarCall> {
           if (!args.empty()) return mismatch();
           return call(T(TypeKind::Double), [](const ArgValues&) { return Value::float64(M_PI); });
         });
  scalar(r, "RANDOM", "RANDOM() -> DOUBLE", "a random number in [0, 1)",
         [](const Types& args) -> Expected<ScalarCall> {
           if (!args.empty()) return mismatch();
           ScalarCall c = call(T(TypeKind::Double), [](const ArgValues&) {
             thread_local std::mt19937_64 gen{std::random_device{}()};
             return Value::float64(std::uniform_real_distribution<double>(0.0, 1.0)(gen));
           });
           c.deterministic = false;
           return c;
         });
}

Expected<DataTypePtr> common_of(const Types& args) {
  DataTypePtr t = T(TypeKind::Null);
  for (const auto& a : args) {
    auto c = common_type(t, a);
    if (!c) return mismatch();
    t = *c;
  }
  return t;
}

void register_null_functions(FunctionRegistry& r) {
  scalar(r, "COALESCE", "COALESCE(T, T, ...) -> T", "the first non-NULL argument",
         [](const Types& args) -> Expected<ScalarCall> {
           if (args.empty()) return mismatch();
           auto t = common_of(args);
           if (!t.ok()) return t.error();
           DataTypePtr rt = *t;
           return call(
               rt,
               [rt](const ArgValues& a) {
                 for (const auto& v : a)
                   if (!v.is_null()) return coerce(v, *rt).value_or(v);
                 return Value();
               },
               false);
         });
  scalar(r, "IFNULL", "IFNULL(T, T) -> T", "the first argument, or the second when it is NULL",
         [](const Types& args) -> Expected<ScalarCall> {
           if (args.size() != 2) return mismatch();
           auto t = common_of(args);
           if (!t.ok()) return t.error();
           DataTypePtr rt = *t;
           return call(
               rt,
               [rt](const ArgValues& a) {
                 const Value& v = a[0].is_null() ? a[1] : a[0];
                 if (v.is_null()) return Value();
                 return coerce(v, *rt).value_or(v);
               },
               false);
         });
  scalar(r, "NULLIF", "NULLIF(T, T) -> T", "NULL when both are equal, else the first",
         [](const Types& args) -> Expected<ScalarCall> {
           if (args.size() != 2 || !common_type(args[0], args[1])) return mismatch();
           return call(
               is_null_arg(args[0]) ? args[1] : args[0],
               [](const ArgValues& a) {
                 if (a[0].is_null()) return Value();
                 if (!a[1].is_null() && a[0] == a[1]) return Value();
                 return a[0];
               },
               false);
         });
  scalar(r, "AS_VALUE", "AS_VALUE(T) -> T",
         "copies a key column into the value (identity on values)",
         [](const Types& args) -> Expected<ScalarCall> {
           if (args.size() != 1) return mismatch();
           return call(
               args[0], [](const ArgValues& a) { return a[0]; }, false);
         });
}

void register_collection_functions(FunctionRegistry& r) {
  scalar(r, "ARRAY_LENGTH", "ARRAY_LENGTH(ARRAY) -> INT", "number of elements",
         [](const Types& args) -> Expected<ScalarCall> {
           if (args.size() != 1 || !fits(args[0], TypeKind::Array)) return mismatch();
           return call(T(TypeKind::Int), [](const ArgValues& a) {
             return Value::int32(static_cast<int32_t>(a[0].as_array().size()));
           });
         });
  scalar(r, "ARRAY_CONTAINS", "ARRAY_CONTAINS(ARRAY<T>, T) -> BOOLEAN",
         "whether the array holds the value", [](const Types& args) -> Expected<ScalarCall> {
           if (args.size() != 2 || !fits(args[0], TypeKind::Array)) return mismatch();
           if (!is_null_arg(args[0]) && !common_type(args[0]->element, args[1])) return mismatch();
           ScalarCall c = call(T(TypeKind::Boolean), [](const ArgValues& a) {
             if (a[0].is_null()) return Value::boolean(false);
             for (const auto& e : a[0].as_array())
               if (e == a[1]) return Value::boolean(true);
             return Value::boolean(false);
           });
           c.null_on_null_arg = false;
           return c;
         });
  for (bool min : {true, false}) {
    scalar(r, min ? "ARRAY_MIN" : "ARRAY_MAX",
           std::string(min ? "ARRAY_MIN" : "ARRAY_MAX") + "(ARRAY<T>) -> T",
           min ? "smallest non-NULL element" : "largest non-NULL element",
           [min](const Types& args) -> Expected<ScalarCall> {
             if (args.size() != 1 || is_null_arg(args[0]) || args[0]->kind != TypeKind::Array)
               return mismatch();
             return call(args[0]->element, [min](const ArgValues& a) {
               const Value* best = nullptr;
               for (const auto& e : a[0].as_array()) {
                 if (e.is_null()) continue;
                 if (!best || (min ? Value::compare(e, *best) < 0 : Value::compare(e, *best) > 0))
                   best = &e;
               }
               return best ? *best : Value();
             });
           });
  }
  for (bool keys : {true, false}) {
    scalar(r, keys ? "MAP_KEYS" : "MAP_VALUES",
           keys ? "MAP_KEYS(MAP<STRING, T>) -> ARRAY<STRING>"
                : "MAP_VALUES(MAP<STRING, T>) -> ARRAY<T>",
           keys ? "the keys of a map" : "the values of a map",
           [keys](const Types& args) -> Expected<ScalarCall> {
             if (args.size() != 1 || is_null_arg(args[0]) || args[0]->kind != TypeKind::Map)
               return mismatch();
             return call(DataType::array(keys ? T(TypeKind::String) : args[0]->element),
                         [keys](const ArgValues& a) {
                           Array out;
                           for (const auto& [k, v] : a[0].as_map())
                             out.push_back(keys ? Value::string(k) : v);
                           return Value::array(std::move(out));
                         });
           });
  }
}

int64_t now_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string zone_arg(const ArgValues& a, size_t i) {
  return a.size() > i ? a[i].as_string() : std::string("UTC");
}

void register_time_functions(FunctionRegistry& r) {
  scalar(r, "UNIX_TIMESTAMP", "UNIX_TIMESTAMP([TIMESTAMP]) -> BIGINT",
         "milliseconds since the epoch, of the argument or of now",
         [](const Types& args) -> Expected<ScalarCall> {
           if (args.empty()) {
             ScalarCall c = call(T(TypeKind::BigInt),
                                 [](const ArgValues&) { return Value::int64(now_millis()); });
             c.deterministic = false;
             return c;
           }
           if (args.size() != 1 || !fits(args[0], TypeKind::Timestamp)) return mismatch();
           return call(T(TypeKind::BigInt),
                       [](const ArgValues& a) { return Value::int64(a[0].as_timestamp()); });
         });
  scalar(
      r, "FROM_UNIXTIME", "FROM_UNIXTIME(BIGINT) -> TIMESTAMP",
      "the TIMESTAMP of milliseconds since the epoch",
      [](const Types& args) -> Expected<ScalarCall> {
        if (args.size() != 1 || !(fits(args[0], TypeKind::BigInt) || fits(args[0], TypeKind::Int)))
          return mismatch();
        return call(T(TypeKind::Timestamp),
                    [](const ArgValues& a) { return Value::timestamp(a[0].to_int64()); });
      });

  auto formatter = [](TypeKind input) {
    return [input](const Types& args) -> Expected<ScalarCall> {
      if (args.size() < 2 || args.size() > 3) return mismatch();
      bool ok_input =
          fits(args[0], input) || (input == TypeKind::BigInt && fits(args[0], TypeKind::Int));
      if (!ok_input || !fits(args[1], TypeKind::String)) return mismatch();
      if (args.size() == 3 && !fits(args[2], TypeKind::String)) return mismatch();
      return call(T(TypeKind::String), [](const ArgValues& a) {
        int64_t ms = a[0].kind() == TypeKind::Timestamp ? a[0].as_timestamp() : a[0].to_int64();
        auto s = format_time(ms, a[1].as_string(), zone_arg(a, 2));
        return s ? Value::string(std::move(*s)) : Value();
      });
    };
  };
  scalar(r, "TIMESTAMPTOSTRING",
         "TIMESTAMPTOSTRING(BIGINT millis, STRING pattern [, STRING zone]) -> STRING",
         "formats epoch milliseconds with a Java date pattern", formatter(TypeKind::BigInt));
  scalar(r, "FORMAT_TIMESTAMP",
         "FORMAT_TIMESTAMP(TIMESTAMP, STRING pattern [, STRING zone]) -> STRING",
         "formats a TIMESTAMP with a Java date pattern", formatter(TypeKind::Timestamp));

  auto parser = [](TypeKind output) {
    return [output](const Types& args) -> Expected<ScalarCall> {
      if (args.size() < 2 || args.size() > 3 || !all_fit(args, TypeKind::String)) return mismatch();
      return call(T(output), [output](const ArgValues& a) {
        auto ms = parse_time(a[0].as_string(), a[1].as_string(), zone_arg(a, 2));
        if (!ms) return Value();
        return output == TypeKind::Timestamp ? Value::timestamp(*ms) : Value::int64(*ms);
      });
    };
  };
  scalar(r, "STRINGTOTIMESTAMP",
         "STRINGTOTIMESTAMP(STRING, STRING pattern [, STRING zone]) -> BIGINT",
         "parses text with a Java date pattern into epoch milliseconds", parser(TypeKind::BigInt));
  scalar(r, "PARSE_TIMESTAMP",
         "PARSE_TIMESTAMP(STRING, STRING pattern [, STRING zone]) -> TIMESTAMP",
         "parses text with a Java date pattern into a TIMESTAMP", parser(TypeKind::Timestamp));

  // DATE (days since the epoch) and TIME (milliseconds since midnight):
  // the same patterns, read and written in UTC, through the TIMESTAMP of the
  // day's midnight or of the time on the epoch's day.
  auto day_parser = [](TypeKind output) {
    return [output](const Types& args) -> Expected<ScalarCall> {
      if (args.size() != 2 || !all_fit(args, TypeKind::String)) return mismatch();
      return call(T(output), [output](const ArgValues& a) {
        auto ms = parse_time(a[0].as_string(), a[1].as_string(), "UTC");
        if (!ms) return Value();
        auto v = coerce(Value::timestamp(*ms), *T(output));  // its day, or its time of day
        return v ? std::move(*v) : Value();
      });
    };
  };
  auto day_formatter = [](TypeKind input) {
    return [input](const Types& args) -> Expected<ScalarCall> {
      if (args.size() != 2 || !fits(args[0], input) || !fits(args[1], TypeKind::String))
        return mismatch();
      return call(T(TypeKind::String), [input](const ArgValues& a) {
        const int64_t ms =
            input == TypeKind::Date ? int64_t{a[0].as_date()} * kMillisPerDay : a[0].as_time();
        auto s = format_time(ms, a[1].as_string(), "UTC");
        return s ? Value::string(std::move(*s)) : Value();
      });
    };
  };
  scalar(r, "PARSE_DATE", "PARSE_DATE(STRING, STRING pattern) -> DATE",
         "parses text with a Java date pattern into a DATE (NULL when it does not match)",
         day_parser(TypeKind::Date));
  scalar(r, "FORMAT_DATE", "FORMAT_DATE(DATE, STRING pattern) -> STRING",
         "formats a DATE with a Java date pattern", day_formatter(TypeKind::Date));
  scalar(r, "PARSE_TIME", "PARSE_TIME(STRING, STRING pattern) -> TIME",
         "parses text with a Java time pattern into a TIME (NULL when it does not match)",
         day_parser(TypeKind::Time));
  scalar(r, "FORMAT_TIME", "FORMAT_TIME(TIME, STRING pattern) -> STRING",
         "formats a TIME with a Java time pattern", day_formatter(TypeKind::Time));
  // ksqlDB's TIMESTAMPADD(unit, n, x) and its kin. The unit arrives as its
  // milliseconds (takes_time_unit). A DATE moves by whole days, rounded
  // toward the epoch as ksqlDB's does; a TIME wraps around midnight.
  auto shift = [](TypeKind kind, int sign) {
    return [kind, sign](const Types& args) -> Expected<ScalarCall> {
      if (args.size() != 3 || !fits(args[0], TypeKind::BigInt) || !fits(args[1], TypeKind::Int) ||
          !fits(args[2], kind))
        return mismatch();
      return call(T(kind), [kind, sign](const ArgValues& a) {
        // At most a day's milliseconds times an INT: no overflow in 64 bits.
        const int64_t delta = sign * a[0].as_int64() * a[1].as_int32();
        switch (kind) {
          case TypeKind::Date: {
            const int64_t days = (int64_t{a[2].as_date()} * kMillisPerDay + delta) / kMillisPerDay;
            if (days < INT32_MIN || days > INT32_MAX) return Value();
            return Value::date(static_cast<int32_t>(days));
          }
          case TypeKind::Time:
            return Value::time(static_cast<int32_t>(time_of_timestamp(a[2].as_time() + delta)));
          default: {
            int64_t ms = 0;
            if (__builtin_add_overflow(a[2].as_timestamp(), delta, &ms)) return Value();
            return Value::timestamp(ms);
          }
        }
      });
    };
  };
  scalar(r, "TIMESTAMPADD", "TIMESTAMPADD(unit, INT n, TIMESTAMP) -> TIMESTAMP",
         "the TIMESTAMP n units later (unit: MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS)",
         shift(TypeKind::Timestamp, 1));
  scalar(r, "TIMESTAMPSUB", "TIMESTAMPSUB(unit, INT n, TIMESTAMP) -> TIMESTAMP",
         "the TIMESTAMP n units earlier", shift(TypeKind::Timestamp, -1));
  scalar(r, "DATEADD", "DATEADD(unit, INT n, DATE) -> DATE",
         "the DATE n units later, in whole days", shift(TypeKind::Date, 1));
  scalar(r, "DATESUB", "DATESUB(unit, INT n, DATE) -> DATE", "the DATE n units earlier, in whole days",
         shift(TypeKind::Date, -1));
  scalar(r, "TIMEADD", "TIMEADD(unit, INT n, TIME) -> TIME",
         "the TIME n units later, around midnight", shift(TypeKind::Time, 1));
  scalar(r, "TIMESUB", "TIMESUB(unit, INT n, TIME) -> TIME",
         "the TIME n units earlier, around midnight", shift(TypeKind::Time, -1));
  scalar(r, "UNIX_DATE", "UNIX_DATE([DATE]) -> INT",
         "days since the epoch, of the argument or of today (UTC)",
         [](const Types& args) -> Expected<ScalarCall> {
           if (args.empty()) {
             ScalarCall c = call(T(TypeKind::Int), [](const ArgValues&) {
               return Value::int32(static_cast<int32_t>(date_of_timestamp(now_millis())));
             });
             c.deterministic = false;
             return c;
           }
           if (args.size() != 1 || !fits(args[0], TypeKind::Date)) return mismatch();
           return call(T(TypeKind::Int),
                       [](const ArgValues& a) { return Value::int32(a[0].as_date()); });
         });
  scalar(r, "FROM_DAYS", "FROM_DAYS(INT) -> DATE", "the DATE of a number of days since the epoch",
         [](const Types& args) -> Expected<ScalarCall> {
           if (args.size() != 1 || !fits(args[0], TypeKind::Int)) return mismatch();
           return call(T(TypeKind::Date),
                       [](const ArgValues& a) { return Value::date(a[0].as_int32()); });
         });
}

Expected<DataTypePtr> agg_mismatch(std::string_view name, const Types& args) {
  return no_matching_overload(name, args);
}

void register_aggregates(FunctionRegistry& r) {
  aggregate(r, "COUNT", "COUNT(* | T) -> BIGINT", "number of rows (of non-NULL values)",
            [](const Types& args) -> Expected<DataTypePtr> {
              if (args.size() > 1) return agg_mismatch("COUNT", args);
              return T(TypeKind::BigInt);
            });
  aggregate(r, "SUM", "SUM(number) -> same", "sum of non-NULL values",
            [](const Types& args) -> Expected<DataTypePtr> {
              if (args.size() != 1 || !fits_numeric(args[0])) return agg_mismatch("SUM", args);
              return is_null_arg(args[0]) ? T(TypeKind::Int) : args[0];
            });
  aggregate(r, "SUM_LIST", "SUM_LIST(ARRAY<INT | BIGINT | DOUBLE>) -> same as the elements",
            "sum of the non-NULL elements of every array, starting at 0",
            [](const Types& args) -> Expected<DataTypePtr> {
              if (args.size() != 1 || args[0]->kind != TypeKind::Array || !args[0]->element)
                return agg_mismatch("SUM_LIST", args);
              const TypeKind k = args[0]->element->kind;
              if (k != TypeKind::Int && k != TypeKind::BigInt && k != TypeKind::Double)
                return agg_mismatch("SUM_LIST", args);
              return args[0]->element;
            });
  aggregate(r, "AVG", "AVG(number) -> DOUBLE", "average of non-NULL values",
            [](const Types& args) -> Expected<DataTypePtr> {
              if (args.size() != 1 || !fits_numeric(args[0])) return agg_mismatch("AVG", args);
              return T(TypeKind::Double);
            });
  for (const char* name : {"MIN", "MAX"}) {
    aggregate(r, name, std::string(name) + "(T) -> T",
              std::string(name == std::string("MIN") ? "smallest" : "largest") + " non-NULL value",
              [name](const Types& args) -> Expected<DataTypePtr> {
                if (args.size() != 1 || is_null_arg(args[0])) return agg_mismatch(name, args);
                TypeKind k = args[0]->kind;
                if (!is_numeric(*args[0]) && k != TypeKind::String && k != TypeKind::Timestamp &&
                    k != TypeKind::Date && k != TypeKind::Time && k != TypeKind::Bytes &&
                    k != TypeKind::Boolean)
                  return agg_mismatch(name, args);
                return args[0];
              });
  }
  aggregate(r, "COUNT_DISTINCT", "COUNT_DISTINCT(T) -> BIGINT",
            "number of distinct non-NULL values (in a GROUP BY: exact up to 1,024, then "
            "HyperLogLog's estimate, 0.81% standard error)",
            [](const Types& args) -> Expected<DataTypePtr> {
              if (args.size() != 1) return agg_mismatch("COUNT_DISTINCT", args);
              return T(TypeKind::BigInt);
            });
  for (const char* name : {"STDDEV_SAMPLE", "STDDEV_SAMP"}) {
    aggregate(r, name, std::string(name) + "(number) -> DOUBLE",
              "sample standard deviation of non-NULL values (0.0 below two)",
              [name](const Types& args) -> Expected<DataTypePtr> {
                if (args.size() != 1 || !fits_numeric(args[0])) return agg_mismatch(name, args);
                return T(TypeKind::Double);
              });
  }
  aggregate(r, "CORRELATION", "CORRELATION(number, number) -> DOUBLE",
            "Pearson correlation coefficient of the pairs without a NULL (NULL while undefined)",
            [](const Types& args) -> Expected<DataTypePtr> {
              if (args.size() != 2 || !fits_numeric(args[0]) || !fits_numeric(args[1]))
                return agg_mismatch("CORRELATION", args);
              return T(TypeKind::Double);
            });
  aggregate(r, "ATTR", "ATTR(T) -> T",
            "the value every row of the group holds (NULL counts), NULL when they differ",
            [](const Types& args) -> Expected<DataTypePtr> {
              if (args.size() != 1 || is_null_arg(args[0])) return agg_mismatch("ATTR", args);
              return args[0];
            });
  for (const char* name : {"LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET"}) {
    aggregate(r, name,
              std::string(name) + "(T [, BOOLEAN ignoreNulls]) -> T | " + name +
                  "(T, INT n [, BOOLEAN ignoreNulls]) -> ARRAY<T>",
              "the value of the latest (earliest) record whose value is not NULL (with "
              "ignoreNulls false: of the latest record); with n, the latest (earliest) n values",
              [name](const Types& args) -> Expected<DataTypePtr> {
                if (args.empty() || args.size() > 3 || is_null_arg(args[0]))
                  return agg_mismatch(name, args);
                if (args.size() == 2 && args[1] && args[1]->kind == TypeKind::Boolean)
                  return args[0];
                if (args.size() >= 2) return DataType::array(args[0]);
                return args[0];
              });
  }
  for (const char* name : {"COLLECT_LIST", "COLLECT_SET"}) {
    aggregate(r, name, std::string(name) + "(T) -> ARRAY<T>",
              "every value (distinct value), NULLs included, in arrival order, at most 1000",
              [name](const Types& args) -> Expected<DataTypePtr> {
                if (args.size() != 1 || is_null_arg(args[0])) return agg_mismatch(name, args);
                return DataType::array(args[0]);
              });
  }
  for (const char* name : {"TOPK", "TOPKDISTINCT"}) {
    aggregate(r, name, std::string(name) + "(T, INT k) -> ARRAY<T>",
              "the k largest (distinct) values",
              [name](const Types& args) -> Expected<DataTypePtr> {
                if (args.size() != 2 || is_null_arg(args[0]) || !fits(args[1], TypeKind::Int))
                  return agg_mismatch(name, args);
                return DataType::array(args[0]);
              });
  }
  aggregate(r, "HISTOGRAM", "HISTOGRAM(STRING) -> MAP<STRING, BIGINT>",
            "how many times each non-NULL value occurs (at most 1000 distinct values)",
            [](const Types& args) -> Expected<DataTypePtr> {
              if (args.size() != 1 || !fits(args[0], TypeKind::String))
                return agg_mismatch("HISTOGRAM", args);
              return DataType::map(T(TypeKind::BigInt));
            });
}

void register_lambda_functions(FunctionRegistry& r) {
  auto lambda = [&r](const char* name, const char* signature, const char* description) {
    FunctionDef d;
    d.name = name;
    d.kind = FunctionDef::Kind::Lambda;
    d.signature = signature;
    d.description = description;
    r.add(std::move(d));
  };
  lambda("FILTER", "FILTER(ARRAY<T>, x => BOOLEAN) | FILTER(MAP, (k, v) => BOOLEAN)",
         "the elements (entries) for which the lambda is true");
  lambda("TRANSFORM", "TRANSFORM(ARRAY<T>, x => U) | TRANSFORM(MAP, (k, v) => STRING, (k, v) => U)",
         "applies the lambda to every element (every key and value)");
  lambda("REDUCE", "REDUCE(ARRAY<T>, S init, (s, x) => S) -> S",
         "folds the elements into one value");
}

// ksqlDB's built-in table functions.
void register_table_functions(FunctionRegistry& r) {
  auto table = [&r](const char* name, const char* signature, const char* description,
                    TableResolver resolve) {
    FunctionDef d;
    d.name = name;
    d.kind = FunctionDef::Kind::Table;
    d.signature = signature;
    d.description = description;
    d.resolve_table = std::move(resolve);
    r.add(std::move(d));
  };
  auto one_array = [](const Types& args) {
    return args.size() == 1 && args[0]->kind == TypeKind::Array && args[0]->element;
  };
  table("EXPLODE", "EXPLODE(ARRAY<T>) -> T", "one row per element of the array (none for NULL)",
        [one_array](const Types& args) -> Expected<TableCall> {
          if (!one_array(args)) return mismatch();
          TableCall c;
          c.return_type = args[0]->element;
          c.body = [](const ArgValues& a) {
            return a[0].kind() == TypeKind::Array ? a[0].as_array() : Array{};
          };
          return c;
        });
  table("CUBE_EXPLODE", "CUBE_EXPLODE(ARRAY<T>) -> ARRAY<T>",
        "one row per combination of the elements, each kept or NULL (2^n rows; a NULL element "
        "only NULL); at most 20 elements",
        [one_array](const Types& args) -> Expected<TableCall> {
          if (!one_array(args)) return mismatch();
          TableCall c;
          c.return_type = args[0];
          c.body = [](const ArgValues& a) {
            if (a[0].kind() != TypeKind::Array) return Array{};
            const Array& columns = a[0].as_array();
            const size_t n = columns.size();
            if (n > kCubeExplodeMaxElements)
              throw std::invalid_argument(
                  "CUBE_EXPLODE input size (" + std::to_string(n) + ") exceeds the maximum of " +
                  std::to_string(kCubeExplodeMaxElements) + " columns: it would make 2^n rows");
            // Bit n-1-i of a combination keeps element i; a NULL element
            // has one combination (NULL), not two.
            uint32_t non_null = 0;
            for (size_t i = 0; i < n; ++i)
              if (!columns[i].is_null()) non_null |= 1u << (n - 1 - i);
            Array rows;
            for (uint32_t keep = 0; keep < (1u << n); ++keep) {
              if ((keep & non_null) != keep) continue;
              Array row(n);
              for (size_t i = 0; i < n; ++i)
                if (keep & (1u << (n - 1 - i))) row[i] = columns[i];
              rows.push_back(Value::array(std::move(row)));
            }
            return rows;
          };
          return c;
        });
}

FunctionRegistry build_builtin() {
  FunctionRegistry r;
  register_string_functions(r);
  register_math_functions(r);
  register_null_functions(r);
  register_collection_functions(r);
  register_time_functions(r);
  register_aggregates(r);
  register_lambda_functions(r);
  register_table_functions(r);
  return r;
}

}  // namespace

const FunctionRegistry& FunctionRegistry::builtin() {
  static const FunctionRegistry registry = build_builtin();
  return registry;
}

namespace {

// The versions of the global registry: each registration adds one. None is
// ever freed, so a reference global() returned stays valid.
struct GlobalRegistry {
  std::mutex mu;
  std::vector<std::unique_ptr<const FunctionRegistry>> versions;
  std::atomic<const FunctionRegistry*> current{nullptr};
};

GlobalRegistry& global_registry() {
  static GlobalRegistry* g = new GlobalRegistry();  // never destroyed: see above
  return *g;
}

Error unknown_function(std::string_view upper_name) {
  return Error::fatal("Can't find any functions with the name '" + std::string(upper_name) + "'");
}

// A resolver's answer; an error without text (the argument types fit no
// overload) becomes ksqlDB's "Function 'X' does not accept parameters ...".
template <typename Call>
Expected<Call> or_no_matching_overload(Expected<Call> resolved, std::string_view upper_name,
                                       const std::vector<DataTypePtr>& args) {
  if (!resolved.ok() && resolved.error().message.empty())
    return no_matching_overload(upper_name, args);
  return resolved;
}

bool identifier(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

}  // namespace

const FunctionRegistry& FunctionRegistry::global() {
  const FunctionRegistry* r = global_registry().current.load(std::memory_order_acquire);
  return r ? *r : builtin();
}

Expected<bool> register_function(FunctionDef def) {
  const std::string name = to_upper(def.name);
  if (!identifier(name))
    return Error::fatal("cannot register function '" + def.name +
                        "': a function's name is letters, digits and '_', not starting with a "
                        "digit");
  if (def.kind == FunctionDef::Kind::Lambda)
    return Error::fatal("cannot register function " + name +
                        ": only scalar, aggregate and table functions can be user-defined");
  const bool resolver = def.kind == FunctionDef::Kind::Scalar      ? bool(def.resolve)
                        : def.kind == FunctionDef::Kind::Aggregate ? bool(def.resolve_aggregate)
                                                                   : bool(def.resolve_table);
  if (!resolver) return Error::fatal("cannot register function " + name + ": it has no resolver");
  if (is_reserved_word(name))
    return Error::fatal("cannot register function " + name +
                        ": a reserved word of the SQL dialect cannot name a function");
  if (FunctionRegistry::builtin().find(name))
    return Error::fatal("cannot register function " + name + ": a built-in function has that name");
  def.name = name;
  if (def.signature.empty()) def.signature = name + "(...)";
  GlobalRegistry& g = global_registry();
  std::lock_guard<std::mutex> lock(g.mu);
  const FunctionRegistry& current = FunctionRegistry::global();
  if (current.find(name))
    return Error::fatal("cannot register function " + name + ": it is registered already");
  auto next = std::make_unique<FunctionRegistry>(current);
  next->add(std::move(def));
  g.current.store(next.get(), std::memory_order_release);
  g.versions.push_back(std::move(next));
  return true;
}

void FunctionRegistry::add(FunctionDef def) {
  std::string name = def.name;
  defs_[name] = std::move(def);
}

const FunctionDef* FunctionRegistry::find(std::string_view upper_name) const {
  auto it = defs_.find(upper_name);
  return it == defs_.end() ? nullptr : &it->second;
}

bool FunctionRegistry::is_aggregate(std::string_view upper_name) const {
  const FunctionDef* d = find(upper_name);
  return d && d->kind == FunctionDef::Kind::Aggregate;
}

bool FunctionRegistry::is_table_function(std::string_view upper_name) const {
  const FunctionDef* d = find(upper_name);
  return d && d->kind == FunctionDef::Kind::Table;
}

Expected<TableCall> FunctionRegistry::resolve_table(std::string_view upper_name,
                                                    const std::vector<DataTypePtr>& args) const {
  const FunctionDef* d = find(upper_name);
  if (!d) return unknown_function(upper_name);
  if (d->kind != FunctionDef::Kind::Table || !d->resolve_table)
    return Error::fatal("Function '" + std::string(upper_name) + "' is not a table function");
  auto call = or_no_matching_overload(d->resolve_table(args), upper_name, args);
  if (!call.ok()) return call;
  if (!call->body || !call->return_type)
    return Error::fatal("table function " + std::string(upper_name) +
                        " resolved without a body or a return type");
  return call;
}

std::vector<const FunctionDef*> FunctionRegistry::all() const {
  std::vector<const FunctionDef*> out;
  for (const auto& [name, def] : defs_) out.push_back(&def);
  return out;
}

Expected<ScalarCall> FunctionRegistry::resolve_scalar(std::string_view upper_name,
                                                      const std::vector<DataTypePtr>& args) const {
  const FunctionDef* d = find(upper_name);
  if (!d) return unknown_function(upper_name);
  if (d->kind != FunctionDef::Kind::Scalar || !d->resolve)
    return Error::fatal("Function '" + std::string(upper_name) + "' is not a scalar function");
  return or_no_matching_overload(d->resolve(args), upper_name, args);
}

Expected<DataTypePtr> FunctionRegistry::aggregate_result_type(
    std::string_view upper_name, const std::vector<DataTypePtr>& args) const {
  const FunctionDef* d = find(upper_name);
  if (!d) return unknown_function(upper_name);
  if (d->kind == FunctionDef::Kind::Aggregate && d->resolve_aggregate) {  // a UDAF
    auto call = resolve_udaf(upper_name, args);
    if (!call.ok()) return call.error();
    return call->return_type;
  }
  if (d->kind != FunctionDef::Kind::Aggregate || !d->aggregate_type)
    return Error::fatal("Function '" + std::string(upper_name) + "' is not an aggregate function");
  return d->aggregate_type(args);
}

Value AggregateCall::result(const Value& aggregate, std::string_view name) const {
  if (!map) return aggregate;
  std::string failure;
  try {
    return map(aggregate);
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  if (EvaluationNotes* notes = thread_evaluation_notes())
    notes->note(std::string(name) + ": " + failure);
  return Value();
}

Expected<AggregateCall> FunctionRegistry::resolve_udaf(std::string_view upper_name,
                                                       const std::vector<DataTypePtr>& args) const {
  const FunctionDef* d = find(upper_name);
  if (!d) return unknown_function(upper_name);
  if (d->kind != FunctionDef::Kind::Aggregate || !d->resolve_aggregate)
    return Error::fatal("Function '" + std::string(upper_name) +
                        "' is not a user-defined aggregate function");
  auto call = or_no_matching_overload(d->resolve_aggregate(args), upper_name, args);
  if (!call.ok()) return call;
  std::string missing;
  if (!call->initialize)
    missing = "initialize";
  else if (!call->aggregate)
    missing = "aggregate";
  else if (!call->merge)
    missing = "merge";
  else if (!call->return_type)
    missing = "a return type";
  if (!missing.empty())
    return Error::fatal("aggregate function " + std::string(upper_name) + " resolved without " +
                        missing);
  return call;
}

bool takes_time_unit(std::string_view function) {
  return function == "TIMESTAMPADD" || function == "TIMESTAMPSUB" || function == "DATEADD" ||
         function == "DATESUB" || function == "TIMEADD" || function == "TIMESUB";
}

}  // namespace rivulet::sql
