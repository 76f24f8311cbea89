#pragma once
// Exact decimal numbers: an unscaled 128-bit integer with a precision (total
// digits, at most 38) and a scale (digits after the point), as SQL's
// DECIMAL(p, s). Arithmetic never goes through double.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rivulet {

__extension__ using Int128 = __int128;
// The same held at 8-byte alignment (GCC lowers a typedef's alignment): a
// Decimal takes 24 bytes instead of 32, so a Value (whose largest scalar it
// is) takes 40 instead of 48, in every row, record and table entry.
__extension__ typedef __int128 Int128Align8 __attribute__((aligned(8)));

class Decimal {
 public:
  static constexpr int kMaxPrecision = 38;

  Decimal() = default;
  Decimal(Int128 unscaled, int precision, int scale)
      : unscaled_(unscaled), precision_(static_cast<uint8_t>(precision)),
        scale_(static_cast<uint8_t>(scale)) {}

  // Parses "-12.345"; precision and scale are those of the literal (at least
  // 1 digit of precision). nullopt on syntax error or more than 38 digits.
  static std::optional<Decimal> parse(std::string_view text);
  // Parses and rescales to DECIMAL(precision, scale), rounding half up.
  static std::optional<Decimal> parse(std::string_view text, int precision, int scale);
  static Decimal from_int(int64_t v);
  // Nearest decimal to v at the given scale (half up). For CAST(double AS DECIMAL).
  static std::optional<Decimal> from_double(double v, int precision, int scale);

  Int128 unscaled() const { return unscaled_; }
  int precision() const { return precision_; }
  int scale() const { return scale_; }

  // Same value at another scale, rounding half away from zero when the scale
  // shrinks. nullopt when the result does not fit `precision` digits.
  std::optional<Decimal> rescale(int precision, int scale) const;
  double to_double() const;
  // Truncates toward zero.
  int64_t to_int64() const;
  // Plain notation with exactly scale() digits after the point: "1.50", "-0.05", "12".
  std::string to_string() const;

  // Results follow ksqlDB's (SQL Server's) precision and scale rules:
  //  +,-: s = max(s1,s2); p = max(p1-s1, p2-s2) + s + 1
  //  *  : s = s1+s2;     p = p1+p2+1
  //  /  : s = max(6, s1+p2+1); p = p1-s1+s2+s
  //  %  : s = max(s1,s2); p = min(p1-s1, p2-s2) + s
  // capped at 38 digits. nullopt on overflow or division by zero.
  static std::optional<Decimal> add(const Decimal& a, const Decimal& b);
  static std::optional<Decimal> subtract(const Decimal& a, const Decimal& b);
  static std::optional<Decimal> multiply(const Decimal& a, const Decimal& b);
  static std::optional<Decimal> divide(const Decimal& a, const Decimal& b);
  static std::optional<Decimal> modulo(const Decimal& a, const Decimal& b);
  Decimal negate() const { return Decimal(-unscaled_, precision_, scale_); }

  // Numeric comparison regardless of scale: -1, 0, 1.
  static int compare(const Decimal& a, const Decimal& b);
  bool operator==(const Decimal& o) const { return compare(*this, o) == 0; }
  bool operator<(const Decimal& o) const { return compare(*this, o) < 0; }

 private:
  Int128Align8 unscaled_ = 0;
  uint8_t precision_ = 1;
  uint8_t scale_ = 0;
};

// 10^n for 0 <= n <= 38.
Int128 pow10_i128(int n);
// Number of decimal digits of |v| (1 for 0).
int digits_i128(Int128 v);
std::string i128_to_string(Int128 v);
// An unscaled value as big-endian two's complement bytes, as Java's
// BigInteger writes it (Avro's and Confluent's protobuf decimals): the
// shortest form, and back (nullopt for no bytes, or more than 128 bits).
std::string i128_to_twos_complement(Int128 v);
std::optional<Int128> i128_from_twos_complement(std::string_view bytes);

}  // namespace rivulet
