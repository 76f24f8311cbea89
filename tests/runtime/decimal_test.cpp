#include <catch2/catch.hpp>

#include "runtime/decimal.hpp"

using rivulet::Decimal;

static Decimal D(const char* s) {
  auto d = Decimal::parse(s);
  REQUIRE(d.has_value());
  return *d;
}

TEST_CASE("decimal parse and print keep exact digits", "[runtime][decimal]") {
  CHECK(D("12.345").to_string() == "12.345");
  CHECK(D("12.345").precision() == 5);
  CHECK(D("12.345").scale() == 3);
  CHECK(D("-0.05").to_string() == "-0.05");
  CHECK(D("0.05").precision() == 2);
  CHECK(D("100").to_string() == "100");
  CHECK(D("1.5e2").to_string() == "150");
  CHECK(D("12345678901234567890123456789012345678").precision() == 38);
  CHECK_FALSE(Decimal::parse("123456789012345678901234567890123456789").has_value());
  CHECK_FALSE(Decimal::parse("1.2.3").has_value());
  CHECK_FALSE(Decimal::parse("").has_value());
  CHECK_FALSE(Decimal::parse("abc").has_value());
  CHECK_FALSE(Decimal::parse("-").has_value());
}

TEST_CASE("decimal arithmetic follows ksqlDB's precision and scale", "[runtime][decimal]") {
  auto sum = Decimal::add(D("1.25"), D("10.5"));  // (3,2) + (3,1)
  REQUIRE(sum);
  CHECK(sum->to_string() == "11.75");
  CHECK(sum->scale() == 2);
  CHECK(sum->precision() == 5);  // max(1, 2) + 2 + 1

  auto product = Decimal::multiply(D("1.25"), D("0.5"));
  REQUIRE(product);
  CHECK(product->to_string() == "0.625");
  CHECK(product->scale() == 3);
  CHECK(product->precision() == 3 + 1 + 1);  // 0.5 is DECIMAL(1, 1)

  auto quotient = Decimal::divide(D("1.00"), D("3"));
  REQUIRE(quotient);
  CHECK(quotient->scale() == 6);
  CHECK(quotient->to_string() == "0.333333");

  auto rounded = Decimal::divide(D("2.00"), D("3"));
  REQUIRE(rounded);
  CHECK(rounded->to_string() == "0.666667");

  auto rem = Decimal::modulo(D("10.5"), D("3"));
  REQUIRE(rem);
  CHECK(rem->to_string() == "1.5");

  CHECK_FALSE(Decimal::divide(D("1"), D("0")).has_value());
  CHECK_FALSE(Decimal::modulo(D("1"), D("0.0")).has_value());
  CHECK_FALSE(Decimal::multiply(D("99999999999999999999"), D("99999999999999999999")).has_value());
}

TEST_CASE("decimal sums are exact where doubles drift", "[runtime][decimal]") {
  Decimal total = D("0");
  for (int i = 0; i < 10000; ++i) {
    auto next = Decimal::add(total, D("0.1"));
    REQUIRE(next);
    total = *next;
  }
  CHECK(total.to_string() == "1000.0");
  CHECK(total == D("1000"));
}

TEST_CASE("rescale rounds half away from zero and detects overflow", "[runtime][decimal]") {
  CHECK(D("1.005").rescale(4, 2)->to_string() == "1.01");
  CHECK(D("-1.005").rescale(4, 2)->to_string() == "-1.01");
  CHECK(D("1.004").rescale(4, 2)->to_string() == "1.00");
  CHECK(D("12.5").rescale(3, 0)->to_string() == "13");
  CHECK_FALSE(D("123.4").rescale(3, 1).has_value());
  CHECK(D("7").rescale(5, 2)->to_string() == "7.00");
}

TEST_CASE("decimal comparison ignores scale", "[runtime][decimal]") {
  CHECK(Decimal::compare(D("1.50"), D("1.5")) == 0);
  CHECK(Decimal::compare(D("-2"), D("1.5")) < 0);
  CHECK(Decimal::compare(D("0.001"), D("0.0009")) > 0);
}
