#pragma once
// Small text helpers shared by the SQL front-end: case folding and the
// Java renderings ksqlDB uses when it turns numbers into text (CAST(x AS
// STRING), CONCAT, messages), so output matches ksqlDB byte for byte.
#include <string>
#include <string_view>

#include "runtime/java_text.hpp"

namespace rivulet::sql {

std::string to_upper(std::string_view s);
std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
// Java's String.trim() (every character up to ' ' off both ends): what
// Kafka's ConfigDef reads a SET value through.
std::string_view java_trim(std::string_view text);

// Java's Double.toString (runtime/java_text.hpp).
using rivulet::java_double_string;

}  // namespace rivulet::sql
