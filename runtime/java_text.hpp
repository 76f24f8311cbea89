#pragma once
// Java's renderings of numbers as text, where ksqlDB's output is Java's
// (CAST(x AS STRING), the DELIMITED writer): so Rivulet writes the same bytes.
#include <string>

namespace rivulet {

// Java's Double.toString: "1.5", "100.0", "1.0E10", "4.9E-324", "NaN",
// "Infinity", "-0.0". Shortest digits that read back as the same double.
std::string java_double_string(double d);

}  // namespace rivulet
