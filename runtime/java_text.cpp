#include "runtime/java_text.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace rivulet {

DecimalDigits shortest_digits(double d) {
  char buf[64];
  // At least two significant digits, as Java's Double.toString (4.9E-324,
  // not 5.0E-324).
  for (int precision = 2; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*e", precision - 1, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string sci(buf);
  DecimalDigits out;
  out.negative = sci[0] == '-';
  if (out.negative) sci.erase(0, 1);
  const size_t e = sci.find('e');
  out.exponent = std::atoi(sci.c_str() + e + 1);
  for (size_t i = 0; i < e; ++i)
    if (sci[i] != '.') out.digits.push_back(sci[i]);
  while (out.digits.size() > 1 && out.digits.back() == '0') out.digits.pop_back();
  return out;
}

std::string java_double_string(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  const DecimalDigits dd = shortest_digits(d);
  const std::string& digits = dd.digits;
  const int exponent = dd.exponent;
  const bool negative = dd.negative;

  std::string out = negative ? "-" : "";
  double magnitude = std::fabs(d);
  if (magnitude >= 1e-3 && magnitude < 1e7) {
    // Plain notation with at least one digit after the point.
    int point = exponent + 1;  // digits before the point
    if (point <= 0) {
      out += "0.";
      out.append(static_cast<size_t>(-point), '0');
      out += digits;
    } else if (static_cast<size_t>(point) >= digits.size()) {
      out += digits;
      out.append(static_cast<size_t>(point) - digits.size(), '0');
      out += ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(point));
      out += ".";
      out += digits.substr(static_cast<size_t>(point));
    }
    return out;
  }
  out += digits.substr(0, 1);
  out += ".";
  out += digits.size() > 1 ? digits.substr(1) : "0";
  out += "E" + std::to_string(exponent);
  return out;
}

}  // namespace rivulet
