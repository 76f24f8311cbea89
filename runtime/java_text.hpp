#pragma once
// Java's renderings of numbers as text, where ksqlDB's output is Java's
// (CAST(x AS STRING), the DELIMITED writer): so Rivulet writes the same bytes.
#include <string>

namespace rivulet {

// The decimal digits Java's Double.toString and BigDecimal.valueOf(double)
// see in a finite, non-zero d: the shortest (at least two significant, then
// trailing zeros dropped) that read back as d. d = 0.DIGITS * 10^(exponent + 1).
struct DecimalDigits {
  bool negative = false;
  std::string digits;  // no leading zero, at least one digit
  int exponent = 0;    // of the first digit
};
DecimalDigits shortest_digits(double d);

// Java's Double.toString: "1.5", "100.0", "1.0E10", "4.9E-324", "NaN",
// "Infinity", "-0.0". Shortest digits that read back as the same double.
std::string java_double_string(double d);

}  // namespace rivulet
