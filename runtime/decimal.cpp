#include "runtime/decimal.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace rivulet {

namespace {

constexpr Int128 kMaxUnscaled() {
  Int128 v = 1;
  for (int i = 0; i < 38; ++i) v *= 10;
  return v - 1;
}

Int128 abs128(Int128 v) { return v < 0 ? -v : v; }

// Divides by 10^n rounding half away from zero.
Int128 div_pow10_round(Int128 v, int n) {
  if (n <= 0) return v;
  Int128 p = pow10_i128(n);
  Int128 q = v / p;
  Int128 r = v % p;
  if (abs128(r) * 2 >= p) q += (v < 0) ? -1 : 1;
  return q;
}

bool mul_overflows(Int128 a, Int128 b, Int128& out) {
  return __builtin_mul_overflow(a, b, &out);
}

std::optional<Decimal> make(Int128 unscaled, int precision, int scale) {
  if (precision > Decimal::kMaxPrecision) precision = Decimal::kMaxPrecision;
  if (scale > precision) scale = precision;
  if (digits_i128(unscaled) > precision) return std::nullopt;
  return Decimal(unscaled, precision, scale);
}

// Brings both to scale s (>= both scales); false on overflow.
bool align(const Decimal& a, const Decimal& b, int s, Int128& ua, Int128& ub) {
  return !mul_overflows(a.unscaled(), pow10_i128(s - a.scale()), ua) &&
         !mul_overflows(b.unscaled(), pow10_i128(s - b.scale()), ub);
}

}  // namespace

Int128 pow10_i128(int n) {
  Int128 v = 1;
  for (int i = 0; i < n; ++i) v *= 10;
  return v;
}

int digits_i128(Int128 v) {
  v = abs128(v);
  int d = 1;
  while (v >= 10) {
    v /= 10;
    ++d;
  }
  return d;
}

std::string i128_to_string(Int128 v) {
  if (v == 0) return "0";
  bool neg = v < 0;
  std::string out;
  // Work with negative values so the minimum value does not overflow.
  Int128 n = neg ? v : -v;
  while (n != 0) {
    int digit = static_cast<int>(-(n % 10));
    out.push_back(static_cast<char>('0' + digit));
    n /= 10;
  }
  if (neg) out.push_back('-');
  return std::string(out.rbegin(), out.rend());
}

std::optional<Decimal> Decimal::parse(std::string_view text) {
  size_t i = 0;
  bool neg = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    neg = text[i] == '-';
    ++i;
  }
  Int128 v = 0;
  int digits = 0;
  int scale = 0;
  bool seen_point = false;
  bool any_digit = false;
  bool leading = true;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      if (seen_point) return std::nullopt;
      seen_point = true;
      continue;
    }
    if (c < '0' || c > '9') break;
    any_digit = true;
    if (leading && c == '0' && !seen_point) continue;  // leading zeros are not digits
    leading = false;
    if (digits >= kMaxPrecision) return std::nullopt;
    v = v * 10 + (c - '0');
    ++digits;
    if (seen_point) ++scale;
  }
  int exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
      eneg = text[i] == '-';
      ++i;
    }
    if (i >= text.size()) return std::nullopt;
    for (; i < text.size(); ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      exponent = exponent * 10 + (text[i] - '0');
      if (exponent > 100) return std::nullopt;
    }
    if (eneg) exponent = -exponent;
  }
  if (i != text.size() || !any_digit) return std::nullopt;
  scale -= exponent;
  if (scale < 0) {
    if (digits - scale > kMaxPrecision) return std::nullopt;
    v *= pow10_i128(-scale);
    digits -= scale;
    scale = 0;
  }
  if (neg) v = -v;
  int precision = std::max({digits, scale, 1});
  if (precision > kMaxPrecision) return std::nullopt;
  return Decimal(v, precision, scale);
}

std::optional<Decimal> Decimal::parse(std::string_view text, int precision, int scale) {
  auto d = parse(text);
  if (!d) return std::nullopt;
  return d->rescale(precision, scale);
}

Decimal Decimal::from_int(int64_t v) {
  return Decimal(v, digits_i128(v), 0);
}

std::optional<Decimal> Decimal::from_double(double v, int precision, int scale) {
  if (!std::isfinite(v)) return std::nullopt;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  auto d = parse(buf);
  if (!d) return std::nullopt;
  return d->rescale(precision, scale);
}

std::optional<Decimal> Decimal::rescale(int precision, int scale) const {
  if (precision < 1 || precision > kMaxPrecision || scale < 0 || scale > precision) {
    return std::nullopt;
  }
  Int128 v = unscaled_;
  if (scale > scale_) {
    if (mul_overflows(v, pow10_i128(scale - scale_), v)) return std::nullopt;
  } else if (scale < scale_) {
    v = div_pow10_round(v, scale_ - scale);
  }
  if (digits_i128(v) > precision) return std::nullopt;
  return Decimal(v, precision, scale);
}

double Decimal::to_double() const {
  return std::strtod(to_string().c_str(), nullptr);
}

int64_t Decimal::to_int64() const {
  return static_cast<int64_t>(unscaled_ / pow10_i128(scale_));
}

std::string Decimal::to_string() const {
  std::string digits = i128_to_string(abs128(unscaled_));
  if (scale_ > 0) {
    if (digits.size() <= scale_) digits.insert(0, scale_ - digits.size() + 1, '0');
    digits.insert(digits.size() - scale_, 1, '.');
  }
  if (unscaled_ < 0) digits.insert(0, 1, '-');
  return digits;
}

std::optional<Decimal> Decimal::add(const Decimal& a, const Decimal& b) {
  int s = std::max(a.scale(), b.scale());
  int p = std::max(a.precision() - a.scale(), b.precision() - b.scale()) + s + 1;
  Int128 ua, ub;
  if (!align(a, b, s, ua, ub)) return std::nullopt;
  Int128 r;
  if (__builtin_add_overflow(ua, ub, &r) || abs128(r) > kMaxUnscaled()) return std::nullopt;
  return make(r, p, s);
}

std::optional<Decimal> Decimal::subtract(const Decimal& a, const Decimal& b) {
  return add(a, b.negate());
}

std::optional<Decimal> Decimal::multiply(const Decimal& a, const Decimal& b) {
  int s = a.scale() + b.scale();
  int p = a.precision() + b.precision() + 1;
  Int128 r;
  if (mul_overflows(a.unscaled(), b.unscaled(), r) || abs128(r) > kMaxUnscaled()) {
    return std::nullopt;
  }
  if (s > kMaxPrecision) {
    r = div_pow10_round(r, s - kMaxPrecision);
    s = kMaxPrecision;
  }
  return make(r, p, s);
}

std::optional<Decimal> Decimal::divide(const Decimal& a, const Decimal& b) {
  if (b.unscaled() == 0) return std::nullopt;
  int s = std::max(6, a.scale() + b.precision() + 1);
  int p = a.precision() - a.scale() + b.scale() + s;
  if (p > kMaxPrecision) {
    // Keep the integer digits, give up fraction digits (as SQL Server does).
    int integer_digits = p - s;
    p = kMaxPrecision;
    s = std::max(std::min(s, kMaxPrecision - integer_digits), std::min(s, 6));
  }
  // result unscaled = a.unscaled * 10^(s - a.scale + b.scale) / b.unscaled, rounded.
  int shift = s - a.scale() + b.scale();
  Int128 num = a.unscaled();
  Int128 den = b.unscaled();
  if (shift >= 0) {
    if (mul_overflows(num, pow10_i128(shift), num)) return std::nullopt;
  } else {
    if (mul_overflows(den, pow10_i128(-shift), den)) return std::nullopt;
  }
  Int128 q = num / den;
  Int128 r = num % den;
  if (abs128(r) * 2 >= abs128(den)) q += ((num < 0) != (den < 0)) ? -1 : 1;
  return make(q, p, s);
}

std::optional<Decimal> Decimal::modulo(const Decimal& a, const Decimal& b) {
  if (b.unscaled() == 0) return std::nullopt;
  int s = std::max(a.scale(), b.scale());
  int p = std::min(a.precision() - a.scale(), b.precision() - b.scale()) + s;
  Int128 ua, ub;
  if (!align(a, b, s, ua, ub)) return std::nullopt;
  return make(ua % ub, std::max(p, 1), s);
}

int Decimal::compare(const Decimal& a, const Decimal& b) {
  int s = std::max(a.scale(), b.scale());
  Int128 ua, ub;
  if (!align(a, b, s, ua, ub)) {
    // Cannot overflow for values within 38 digits unless scales differ
    // wildly; fall back to doubles, which order such values correctly.
    double da = a.to_double(), db = b.to_double();
    return da < db ? -1 : (da > db ? 1 : 0);
  }
  return ua < ub ? -1 : (ua > ub ? 1 : 0);
}

}  // namespace rivulet
