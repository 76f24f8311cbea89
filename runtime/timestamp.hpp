#pragma once
// TIMESTAMP text: ksqlDB's format, ISO-8601 in UTC with milliseconds
// ("2026-11-22T09:41:07.123"). Pure functions, no time zone database.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rivulet {

// "yyyy-MM-ddTHH:mm:ss.SSS" (UTC) for milliseconds since the epoch; years
// before 0 or after 9999 are written with a sign and more digits.
std::string format_timestamp(int64_t millis);

// Parses "yyyy-MM-dd", optionally followed by 'T' or ' ' and "HH:mm",
// ":ss", ".fraction" (1 to 9 digits, truncated to milliseconds) and a zone
// ("Z", "+HH:mm", "+HHmm", "+HH"). Without a zone the time is UTC. nullopt
// on anything else, including invalid dates such as February 30.
std::optional<int64_t> parse_timestamp(std::string_view text);

}  // namespace rivulet
