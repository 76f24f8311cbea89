#include "runtime/decimal.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>

namespace rivulet {

namespace {

__extension__ using UInt128 = unsigned __int128;

// A fixed-width unsigned integer of 8 x 64 bits. Decimal arithmetic needs
// intermediates wider than 128 bits (a 38-digit number times 10^77 during
// division), and this keeps every operation exact without a bignum library.
// Little-endian limbs.
struct Wide {
  static constexpr int kLimbs = 8;
  uint64_t w[kLimbs] = {};

  static Wide of(UInt128 v) {
    Wide r;
    r.w[0] = static_cast<uint64_t>(v);
    r.w[1] = static_cast<uint64_t>(v >> 64);
    return r;
  }
  bool is_zero() const {
    for (uint64_t x : w) {
      if (x) return false;
    }
    return true;
  }
  // false on overflow.
  bool mul_small(uint64_t m) {
    UInt128 carry = 0;
    for (uint64_t& x : w) {
      UInt128 p = static_cast<UInt128>(x) * m + carry;
      x = static_cast<uint64_t>(p);
      carry = p >> 64;
    }
    return carry == 0;
  }
  bool mul_pow10(int n) {
    while (n > 0) {
      int step = std::min(n, 19);
      uint64_t m = 1;
      for (int i = 0; i < step; ++i) m *= 10;
      if (!mul_small(m)) return false;
      n -= step;
    }
    return true;
  }
  // Divides in place, returns the remainder.
  uint64_t div_small(uint64_t d) {
    UInt128 rem = 0;
    for (int i = kLimbs - 1; i >= 0; --i) {
      UInt128 cur = (rem << 64) | w[i];
      w[i] = static_cast<uint64_t>(cur / d);
      rem = cur % d;
    }
    return static_cast<uint64_t>(rem);
  }
  bool add(const Wide& o) {
    UInt128 carry = 0;
    for (int i = 0; i < kLimbs; ++i) {
      UInt128 s = static_cast<UInt128>(w[i]) + o.w[i] + carry;
      w[i] = static_cast<uint64_t>(s);
      carry = s >> 64;
    }
    return carry == 0;
  }
  // Precondition: *this >= o.
  void sub(const Wide& o) {
    uint64_t borrow = 0;
    for (int i = 0; i < kLimbs; ++i) {
      uint64_t a = w[i];
      uint64_t r = a - o.w[i] - borrow;
      borrow = (a < o.w[i] || (a == o.w[i] && borrow)) ? 1 : 0;
      w[i] = r;
    }
  }
  static int cmp(const Wide& a, const Wide& b) {
    for (int i = kLimbs - 1; i >= 0; --i) {
      if (a.w[i] != b.w[i]) return a.w[i] < b.w[i] ? -1 : 1;
    }
    return 0;
  }
  void shl1() {
    for (int i = kLimbs - 1; i > 0; --i) w[i] = (w[i] << 1) | (w[i - 1] >> 63);
    w[0] <<= 1;
  }
  int bit_length() const {
    for (int i = kLimbs - 1; i >= 0; --i) {
      if (w[i]) return i * 64 + 64 - __builtin_clzll(w[i]);
    }
    return 0;
  }
  bool bit(int i) const { return (w[i / 64] >> (i % 64)) & 1; }
  // Binary long division: quotient and remainder. Precondition: d != 0.
  static void divmod(const Wide& n, const Wide& d, Wide* q, Wide* r) {
    Wide quot, rem;
    for (int i = n.bit_length() - 1; i >= 0; --i) {
      rem.shl1();
      rem.w[0] |= n.bit(i) ? 1 : 0;
      if (cmp(rem, d) >= 0) {
        rem.sub(d);
        quot.w[i / 64] |= uint64_t{1} << (i % 64);
      }
    }
    *q = quot;
    *r = rem;
  }
  bool fits_u128() const {
    for (int i = 2; i < kLimbs; ++i) {
      if (w[i]) return false;
    }
    return true;
  }
  UInt128 to_u128() const { return (static_cast<UInt128>(w[1]) << 64) | w[0]; }
};

UInt128 magnitude(Int128 v) {
  return v < 0 ? static_cast<UInt128>(0) - static_cast<UInt128>(v) : static_cast<UInt128>(v);
}

// Number of decimal digits of an unsigned 128-bit value (1 for 0).
int digits_u128(UInt128 v) {
  int d = 1;
  while (v >= 10) {
    v /= 10;
    ++d;
  }
  return d;
}

bool valid_type(int precision, int scale) {
  return precision >= 1 && precision <= Decimal::kMaxPrecision && scale >= 0 && scale <= precision;
}

// Turns an exact magnitude at scale `from_scale` into a Decimal of
// DECIMAL(precision, scale): rounds half away from zero when the scale
// shrinks, fails when the result needs more than `precision` digits.
std::optional<Decimal> finish(bool negative, Wide mag, int from_scale, int precision, int scale) {
  if (!valid_type(precision, scale)) return std::nullopt;
  if (scale > from_scale) {
    if (!mag.mul_pow10(scale - from_scale)) return std::nullopt;
  } else if (scale < from_scale) {
    int drop = from_scale - scale;
    // Half-up only looks at the first dropped digit, so the lower ones can
    // be discarded together.
    if (drop > 1) {
      for (int n = drop - 1; n > 0;) {
        int step = std::min(n, 19);
        uint64_t d = 1;
        for (int i = 0; i < step; ++i) d *= 10;
        mag.div_small(d);
        n -= step;
      }
    }
    uint64_t first_dropped = mag.div_small(10);
    if (first_dropped >= 5 && !mag.add(Wide::of(1))) return std::nullopt;
  }
  if (!mag.fits_u128()) return std::nullopt;
  UInt128 m = mag.to_u128();
  if (m != 0 && digits_u128(m) > precision) return std::nullopt;
  Int128 unscaled = static_cast<Int128>(m);
  return Decimal(negative ? -unscaled : unscaled, precision, scale);
}

// SQL Server's rule (which ksqlDB follows) when a result type needs more than
// 38 digits: keep the integral digits, give up scale but keep at least
// min(scale, 6) of it.
void cap_type(int* precision, int* scale) {
  if (*precision <= Decimal::kMaxPrecision) return;
  int integral = *precision - *scale;
  *scale = std::max(Decimal::kMaxPrecision - integral, std::min(*scale, 6));
  *scale = std::clamp(*scale, 0, Decimal::kMaxPrecision);
  *precision = Decimal::kMaxPrecision;
}

// A number literal split into sign, digits and a power of ten:
// value = digits * 10^exponent.
struct ParsedNumber {
  bool negative = false;
  std::string digits;  // without leading zeros; may be empty (zero)
  int64_t exponent = 0;
};

std::optional<ParsedNumber> parse_number(std::string_view text) {
  ParsedNumber out;
  size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
    out.negative = text[i] == '-';
    ++i;
  }
  bool any_digit = false;
  int64_t fraction_digits = 0;
  bool seen_point = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      any_digit = true;
      if (!(out.digits.empty() && c == '0')) out.digits += c;
      if (seen_point) ++fraction_digits;
      // Bounded input length keeps the digit string (and later work) small.
      if (out.digits.size() > 1000 || fraction_digits > 1000) return std::nullopt;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!any_digit) return std::nullopt;
  int64_t exp = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
      exp_negative = text[i] == '-';
      ++i;
    }
    bool exp_digit = false;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      exp_digit = true;
      // Saturate: anything this large is out of range for every DECIMAL.
      if (exp < 100000) exp = exp * 10 + (text[i] - '0');
    }
    if (!exp_digit) return std::nullopt;
    if (exp_negative) exp = -exp;
  }
  if (i != text.size()) return std::nullopt;
  out.exponent = exp - fraction_digits;
  return out;
}

// The ParsedNumber at `scale`, rounded half up; nullopt if it needs more
// than `precision` digits.
std::optional<Decimal> from_parsed(const ParsedNumber& p, int precision, int scale) {
  std::string digits = p.digits;
  int64_t shift = p.exponent + scale;  // value * 10^scale = digits * 10^shift
  bool round_up = false;
  if (shift >= 0) {
    if (!digits.empty()) {
      if (static_cast<int64_t>(digits.size()) + shift > precision) return std::nullopt;
      digits.append(static_cast<size_t>(shift), '0');
    }
  } else {
    int64_t drop = -shift;
    if (drop > static_cast<int64_t>(digits.size())) {
      digits.clear();
    } else {
      size_t keep = digits.size() - static_cast<size_t>(drop);
      round_up = digits[keep] >= '5';
      digits.resize(keep);
    }
  }
  if (static_cast<int64_t>(digits.size()) > precision) return std::nullopt;
  UInt128 m = 0;
  for (char c : digits) m = m * 10 + static_cast<UInt128>(c - '0');
  if (round_up) ++m;
  if (m != 0 && digits_u128(m) > precision) return std::nullopt;
  Int128 v = static_cast<Int128>(m);
  return Decimal(p.negative ? -v : v, precision, scale);
}

Wide aligned(const Decimal& d, int scale, bool* ok) {
  Wide w = Wide::of(magnitude(d.unscaled()));
  *ok = w.mul_pow10(scale - d.scale());
  return w;
}

// Adds or subtracts magnitudes with signs. Result sign and magnitude.
void signed_add(bool an, const Wide& a, bool bn, const Wide& b, bool* rn, Wide* r) {
  if (an == bn) {
    *r = a;
    r->add(b);  // cannot overflow: both are below 10^77
    *rn = an;
  } else if (Wide::cmp(a, b) >= 0) {
    *r = a;
    r->sub(b);
    *rn = an;
  } else {
    *r = b;
    r->sub(a);
    *rn = bn;
  }
  if (r->is_zero()) *rn = false;
}

std::optional<Decimal> add_impl(const Decimal& a, const Decimal& b, bool negate_b) {
  int s = std::max(a.scale(), b.scale());
  int p = std::max(a.precision() - a.scale(), b.precision() - b.scale()) + s + 1;
  int exact_scale = s;
  cap_type(&p, &s);
  bool ok1 = false, ok2 = false;
  Wide wa = aligned(a, exact_scale, &ok1);
  Wide wb = aligned(b, exact_scale, &ok2);
  if (!ok1 || !ok2) return std::nullopt;
  bool bn = (b.unscaled() < 0) != negate_b && b.unscaled() != 0;
  bool rn = false;
  Wide r;
  signed_add(a.unscaled() < 0, wa, bn, wb, &rn, &r);
  return finish(rn, r, exact_scale, p, s);
}

}  // namespace

Int128 pow10_i128(int n) {
  Int128 r = 1;
  for (int i = 0; i < n; ++i) r *= 10;
  return r;
}

int digits_i128(Int128 v) { return digits_u128(magnitude(v)); }

std::string i128_to_string(Int128 v) {
  UInt128 m = magnitude(v);
  char buf[48];
  int pos = sizeof(buf);
  do {
    buf[--pos] = static_cast<char>('0' + static_cast<int>(m % 10));
    m /= 10;
  } while (m != 0);
  if (v < 0) buf[--pos] = '-';
  return std::string(buf + pos, sizeof(buf) - static_cast<size_t>(pos));
}

std::optional<Decimal> Decimal::parse(std::string_view text) {
  auto p = parse_number(text);
  if (!p) return std::nullopt;
  int64_t scale = p->exponent < 0 ? -p->exponent : 0;
  if (scale > kMaxPrecision) return std::nullopt;
  int64_t integral_digits =
      p->digits.empty() ? 0 : static_cast<int64_t>(p->digits.size()) + p->exponent;
  int64_t precision = std::max<int64_t>({integral_digits, 0}) + scale;
  precision = std::max<int64_t>(precision, 1);
  // Leading zeros after the point ("0.05") count toward precision so that
  // scale <= precision always holds.
  if (precision > kMaxPrecision) return std::nullopt;
  return from_parsed(*p, static_cast<int>(precision), static_cast<int>(scale));
}

std::optional<Decimal> Decimal::parse(std::string_view text, int precision, int scale) {
  if (!valid_type(precision, scale)) return std::nullopt;
  auto p = parse_number(text);
  if (!p) return std::nullopt;
  return from_parsed(*p, precision, scale);
}

Decimal Decimal::from_int(int64_t v) { return Decimal(v, digits_i128(v), 0); }

std::optional<Decimal> Decimal::from_double(double v, int precision, int scale) {
  if (!valid_type(precision, scale)) return std::nullopt;
  // The shortest text that reads back as v (what Java's BigDecimal.valueOf
  // uses), so 1.005 becomes 1.01 at scale 2 rather than 1.00.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  if (res.ec != std::errc()) return std::nullopt;
  std::string_view text(buf, static_cast<size_t>(res.ptr - buf));
  if (text.find_first_of("ni") != std::string_view::npos) return std::nullopt;  // nan, inf
  return parse(text, precision, scale);
}

std::optional<Decimal> Decimal::rescale(int precision, int scale) const {
  return finish(unscaled_ < 0, Wide::of(magnitude(unscaled_)), scale_, precision, scale);
}

double Decimal::to_double() const {
  // Both operands exact doubles (below 2^53 and 10^22): one IEEE division is
  // correctly rounded, the same double as the text conversion below.
  constexpr Int128 kExact = Int128{1} << 53;
  if (unscaled_ > -kExact && unscaled_ < kExact && scale_ <= 22) {
    static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                        1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                        1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    return static_cast<double>(static_cast<int64_t>(unscaled_)) / kPow10[scale_];
  }
  // Through text so the result is correctly rounded (strtod is exact).
  std::string s = to_string();
  return std::strtod(s.c_str(), nullptr);
}

int64_t Decimal::to_int64() const {
  Int128 q = unscaled_ / pow10_i128(scale_);
  if (q > INT64_MAX) return INT64_MAX;
  if (q < INT64_MIN) return INT64_MIN;
  return static_cast<int64_t>(q);
}

std::string Decimal::to_string() const {
  std::string digits = i128_to_string(unscaled_ < 0 ? -unscaled_ : unscaled_);
  if (scale_ > 0) {
    if (digits.size() <= scale_) digits.insert(0, scale_ - digits.size() + 1, '0');
    digits.insert(digits.size() - scale_, 1, '.');
  }
  if (unscaled_ < 0) digits.insert(0, 1, '-');
  return digits;
}

std::optional<Decimal> Decimal::add(const Decimal& a, const Decimal& b) {
  return add_impl(a, b, false);
}

std::optional<Decimal> Decimal::subtract(const Decimal& a, const Decimal& b) {
  return add_impl(a, b, true);
}

std::optional<Decimal> Decimal::multiply(const Decimal& a, const Decimal& b) {
  int exact_scale = a.scale() + b.scale();
  int s = exact_scale;
  int p = a.precision() + b.precision() + 1;
  cap_type(&p, &s);
  if (s > p) s = p;
  UInt128 ma = magnitude(a.unscaled());
  UInt128 mb = magnitude(b.unscaled());
  // 128 x 128 -> 256 bits via 64-bit limbs.
  Wide r;
  uint64_t al[2] = {static_cast<uint64_t>(ma), static_cast<uint64_t>(ma >> 64)};
  uint64_t bl[2] = {static_cast<uint64_t>(mb), static_cast<uint64_t>(mb >> 64)};
  for (int i = 0; i < 2; ++i) {
    UInt128 carry = 0;
    for (int j = 0; j < 2; ++j) {
      UInt128 cur = static_cast<UInt128>(al[i]) * bl[j] + r.w[i + j] + carry;
      r.w[i + j] = static_cast<uint64_t>(cur);
      carry = cur >> 64;
    }
    r.w[i + 2] += static_cast<uint64_t>(carry);
  }
  bool negative = (a.unscaled() < 0) != (b.unscaled() < 0) && !r.is_zero();
  return finish(negative, r, exact_scale, p, s);
}

std::optional<Decimal> Decimal::divide(const Decimal& a, const Decimal& b) {
  if (b.unscaled() == 0) return std::nullopt;
  int s = std::max(6, a.scale() + b.precision() + 1);
  int p = a.precision() - a.scale() + b.scale() + s;
  cap_type(&p, &s);
  // q = a/b at scale s+1 (one guard digit for half-up rounding):
  // A * 10^(s+1 + sb - sa) / B.
  int k = s + 1 + b.scale() - a.scale();
  Wide n = Wide::of(magnitude(a.unscaled()));
  Wide d = Wide::of(magnitude(b.unscaled()));
  if (k >= 0) {
    if (!n.mul_pow10(k)) return std::nullopt;
  } else if (!d.mul_pow10(-k)) {
    return std::nullopt;
  }
  Wide q, r;
  if (n.fits_u128() && d.fits_u128()) {
    q = Wide::of(n.to_u128() / d.to_u128());  // the common case, without long division
  } else {
    Wide::divmod(n, d, &q, &r);
  }
  bool negative = (a.unscaled() < 0) != (b.unscaled() < 0) && !q.is_zero();
  return finish(negative, q, s + 1, p, s);
}

std::optional<Decimal> Decimal::modulo(const Decimal& a, const Decimal& b) {
  if (b.unscaled() == 0) return std::nullopt;
  int s = std::max(a.scale(), b.scale());
  int p = std::min(a.precision() - a.scale(), b.precision() - b.scale()) + s;
  p = std::max(p, 1);
  cap_type(&p, &s);
  bool ok1 = false, ok2 = false;
  Wide wa = aligned(a, s, &ok1);
  Wide wb = aligned(b, s, &ok2);
  if (!ok1 || !ok2) return std::nullopt;
  Wide q, r;
  Wide::divmod(wa, wb, &q, &r);
  // The remainder takes the dividend's sign (Java's BigDecimal.remainder).
  bool negative = a.unscaled() < 0 && !r.is_zero();
  return finish(negative, r, s, p, s);
}

int Decimal::compare(const Decimal& a, const Decimal& b) {
  bool an = a.unscaled_ < 0, bn = b.unscaled_ < 0;
  if (an != bn) return an ? -1 : 1;
  if (a.scale_ == b.scale_) {
    return a.unscaled_ < b.unscaled_ ? -1 : (a.unscaled_ > b.unscaled_ ? 1 : 0);
  }
  int s = std::max(a.scale_, b.scale_);
  bool ok1 = false, ok2 = false;
  Wide wa = aligned(a, s, &ok1);
  Wide wb = aligned(b, s, &ok2);
  int c = Wide::cmp(wa, wb);
  return an ? -c : c;
}

namespace {
__extension__ using UInt128 = unsigned __int128;
}  // namespace

std::string i128_to_twos_complement(Int128 v) {
  auto u = static_cast<UInt128>(v);
  unsigned char buf[16];
  for (int i = 15; i >= 0; --i) {
    buf[i] = static_cast<unsigned char>(u & 0xff);
    u >>= 8;
  }
  int start = 0;
  while (start < 15) {
    const bool redundant = (buf[start] == 0x00 && !(buf[start + 1] & 0x80)) ||
                           (buf[start] == 0xff && (buf[start + 1] & 0x80));
    if (!redundant) break;
    ++start;
  }
  return std::string(reinterpret_cast<const char*>(buf + start), static_cast<size_t>(16 - start));
}

std::optional<Int128> i128_from_twos_complement(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  if (n == 0) return std::nullopt;
  const bool negative = (p[0] & 0x80) != 0;
  // Bytes beyond 16 must only extend the sign.
  while (n > 16) {
    if (p[0] != (negative ? 0xff : 0x00)) return std::nullopt;
    if (((p[1] & 0x80) != 0) != negative) return std::nullopt;
    ++p;
    --n;
  }
  UInt128 u = negative ? ~static_cast<UInt128>(0) : 0;
  for (size_t i = 0; i < n; ++i) u = (u << 8) | p[i];
  return static_cast<Int128>(u);
}

}  // namespace rivulet
