#pragma once
// Small text helpers shared by the SQL front-end: case folding and the
// Java renderings ksqlDB uses when it turns numbers into text (CAST(x AS
// STRING), CONCAT, messages), so output matches ksqlDB byte for byte.
#include <string>
#include <string_view>

namespace rivulet::sql {

std::string to_upper(std::string_view s);
std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);

// Java's Double.toString: "1.5", "100.0", "1.0E10", "4.9E-324", "NaN",
// "Infinity", "-0.0". Shortest digits that read back as the same double.
std::string java_double_string(double d);

}  // namespace rivulet::sql
