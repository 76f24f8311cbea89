// Decimal edge cases beyond the basic rules: signs, rounding at every
// boundary, results whose intermediates exceed 128 bits, capped types.
#include <catch2/catch.hpp>

#include "runtime/decimal.hpp"

using rivulet::Decimal;

namespace {

Decimal D(const char* s) {
  auto d = Decimal::parse(s);
  REQUIRE(d.has_value());
  return *d;
}

std::string str(const std::optional<Decimal>& d) { return d ? d->to_string() : "<none>"; }

}  // namespace

TEST_CASE("decimal parse accepts exponents and keeps scale <= precision", "[runtime][decimal]") {
  CHECK(D("1.5e-3").to_string() == "0.0015");
  CHECK(D("1.5e-3").scale() == 4);
  CHECK(D("1.5E+3").to_string() == "1500");
  CHECK(D("+7").to_string() == "7");
  CHECK(D("-0").to_string() == "0");
  CHECK(D("0.000").precision() == 3);
  CHECK(D("0.000").scale() == 3);
  CHECK(D("007.50").to_string() == "7.50");
  CHECK(D("007.50").precision() == 3);
  CHECK_FALSE(Decimal::parse("1e").has_value());
  CHECK_FALSE(Decimal::parse("1e+").has_value());
  CHECK_FALSE(Decimal::parse("1 ").has_value());
  CHECK_FALSE(Decimal::parse("1e-50").has_value());  // scale 50 > 38
  CHECK_FALSE(Decimal::parse("1e99999999999").has_value());
}

TEST_CASE("decimal parse into a type rounds half up, even past 38 digits",
          "[runtime][decimal]") {
  CHECK(str(Decimal::parse("2.345", 4, 2)) == "2.35");
  CHECK(str(Decimal::parse("-2.345", 4, 2)) == "-2.35");
  CHECK(str(Decimal::parse("2.3449999", 4, 2)) == "2.34");
  CHECK(str(Decimal::parse("0.0000000000000000000000000000000000000000051", 3, 2)) == "0.00");
  CHECK(str(Decimal::parse("1.0000000000000000000000000000000000000000051", 3, 2)) == "1.00");
  CHECK(str(Decimal::parse("9.995", 3, 2)) == "<none>");  // rounds to 10.00
  CHECK(str(Decimal::parse("9.995", 4, 2)) == "10.00");
  CHECK(str(Decimal::parse("1e-60", 5, 2)) == "0.00");
  CHECK(str(Decimal::parse("5e-3", 5, 2)) == "0.01");
  CHECK(str(Decimal::parse("12", 1, 0)) == "<none>");
  CHECK(str(Decimal::parse("1", 3, 4)) == "<none>");  // scale > precision
  CHECK(str(Decimal::parse("1", 39, 0)) == "<none>");
}

TEST_CASE("decimal from_double uses the shortest round-trip digits", "[runtime][decimal]") {
  // 1.005 is 1.00499999999999989... in binary; Java's BigDecimal.valueOf
  // (and ksqlDB) read it as 1.005 and round it up.
  CHECK(str(Decimal::from_double(1.005, 4, 2)) == "1.01");
  CHECK(str(Decimal::from_double(0.1, 10, 9)) == "0.100000000");
  CHECK(str(Decimal::from_double(-2.5, 2, 0)) == "-3");
  CHECK(str(Decimal::from_double(1e300, 38, 0)) == "<none>");
  CHECK(str(Decimal::from_double(std::numeric_limits<double>::quiet_NaN(), 5, 2)) == "<none>");
  CHECK(str(Decimal::from_double(std::numeric_limits<double>::infinity(), 5, 2)) == "<none>");
}

TEST_CASE("decimal arithmetic with negative operands", "[runtime][decimal]") {
  CHECK(str(Decimal::add(D("-1.25"), D("0.5"))) == "-0.75");
  CHECK(str(Decimal::subtract(D("0.5"), D("1.25"))) == "-0.75");
  CHECK(str(Decimal::subtract(D("1.25"), D("1.25"))) == "0.00");
  CHECK(str(Decimal::multiply(D("-1.5"), D("-2"))) == "3.0");
  CHECK(str(Decimal::multiply(D("-1.5"), D("2"))) == "-3.0");
  CHECK(str(Decimal::divide(D("-2"), D("3"))) == "-0.666667");
  CHECK(str(Decimal::divide(D("2"), D("-3"))) == "-0.666667");
  CHECK(str(Decimal::divide(D("-1"), D("3"))) == "-0.333333");
  // The remainder takes the dividend's sign.
  CHECK(str(Decimal::modulo(D("-10.5"), D("3"))) == "-1.5");
  CHECK(str(Decimal::modulo(D("10.5"), D("-3"))) == "1.5");
  CHECK(str(Decimal::modulo(D("9"), D("3"))) == "0");
}

TEST_CASE("decimal division result types and rounding", "[runtime][decimal]") {
  // s = max(6, s1 + p2 + 1), p = p1 - s1 + s2 + s
  auto q = Decimal::divide(D("10.00"), D("4.0"));  // (4,2) / (2,1): s = 5 -> 6; p = 2+1+6
  REQUIRE(q);
  CHECK(q->scale() == 6);
  CHECK(q->precision() == 9);
  CHECK(q->to_string() == "2.500000");
  auto wide = Decimal::divide(D("1.0000"), D("123"));  // s = 4 + 3 + 1 = 8
  REQUIRE(wide);
  CHECK(wide->scale() == 8);
  CHECK(wide->to_string() == "0.00813008");
  CHECK(str(Decimal::divide(D("0"), D("7"))) == "0.000000");
  CHECK(str(Decimal::divide(D("1"), D("0.000"))) == "<none>");
}

TEST_CASE("decimal results whose intermediates exceed 128 bits stay exact",
          "[runtime][decimal]") {
  // 30-digit operands: the exact product has 60 digits. The type is capped
  // at 38 digits keeping the integral part (3 digits) and 35 of the scale.
  auto a = D("1.23456789012345678901234567890");
  auto p = Decimal::multiply(a, a);
  REQUIRE(p);
  CHECK(p->precision() == 38);
  CHECK(p->scale() == 35);
  // 1.23456789012345678901234567890^2 = 1.524157875323883675049535156256...
  CHECK(p->to_string() == "1.52415787532388367504953515625361988");

  // (32,0) / (1,0): s = 6, p = 38; the scaled numerator (10^39) is beyond
  // 2^128.
  auto big = D("12345678901234567890123456789012");
  auto q = Decimal::divide(big, D("7"));
  REQUIRE(q);
  CHECK(q->scale() == 6);
  CHECK(q->to_string() == "1763668414462081127160493827001.714286");
  // (38,0) / (1,0) keeps scale 6 (SQL Server's minimum), so a 37-digit
  // quotient does not fit: overflow, not a silently truncated scale.
  CHECK_FALSE(Decimal::divide(D("12345678901234567890123456789012345678"), D("3")).has_value());
}

TEST_CASE("decimal add and subtract cap the type and keep the integral digits",
          "[runtime][decimal]") {
  auto a = D("12345678901234567890123456789012345678");  // DECIMAL(38, 0)
  auto b = D("0.5");
  auto s = Decimal::add(a, b);  // p = 38 + 1 + 1 = 40 -> 38, scale max(-2, min(1, 6)) = 1
  // The exact sum needs 39 digits: no DECIMAL(38, s) can hold it.
  CHECK_FALSE(s.has_value());
  auto small = Decimal::add(D("1"), D("0.00000000000000000000000000000000000001"));
  REQUIRE(small);  // (1,0) + (38,38): p = 1 + 38 + 1 = 40 -> 38, s = 38 - (40 - 38) = 36
  CHECK(small->precision() == 38);
  CHECK(small->scale() == 36);
  CHECK(small->to_string() == "1.000000000000000000000000000000000000");
  auto half = Decimal::add(D("1"), D("0.0000000000000000000000000000000000005"));  // (37,37)
  REQUIRE(half);
  CHECK(half->scale() == 36);
  CHECK(half->to_string() == "1.000000000000000000000000000000000001");  // half up
}

TEST_CASE("decimal overflow is nullopt, never wrapped", "[runtime][decimal]") {
  auto max38 = D("99999999999999999999999999999999999999");
  CHECK_FALSE(Decimal::add(max38, D("1")).has_value());
  CHECK_FALSE(Decimal::subtract(max38.negate(), D("1")).has_value());
  CHECK_FALSE(Decimal::multiply(max38, D("10")).has_value());
  CHECK_FALSE(Decimal::divide(max38, D("0.1")).has_value());
  CHECK(str(Decimal::add(max38, D("0"))) == "99999999999999999999999999999999999999");
  CHECK_FALSE(max38.rescale(38, 1).has_value());
  CHECK(max38.to_int64() == INT64_MAX);  // saturates
  CHECK(max38.negate().to_int64() == INT64_MIN);
}

TEST_CASE("decimal conversions and comparison across scales", "[runtime][decimal]") {
  CHECK(D("-2.75").to_int64() == -2);
  CHECK(D("0.1").to_double() == 0.1);
  CHECK(D("123456789012345678901234.5").to_double() == 123456789012345678901234.5);
  CHECK(D("-0.000001").to_double() == -0.000001);
  CHECK(Decimal::compare(D("99999999999999999999999999999999999999"),
                         D("0.00000000000000000000000000000000000001")) > 0);
  CHECK(Decimal::compare(D("-1"), D("-1.000")) == 0);
  CHECK(Decimal::compare(D("-1.5"), D("-1.25")) < 0);
  CHECK(Decimal::from_int(INT64_MIN).to_string() == "-9223372036854775808");
  CHECK(Decimal::from_int(0).precision() == 1);
}
