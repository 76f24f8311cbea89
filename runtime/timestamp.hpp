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

// DATE and TIME (ksqlDB's): days since the epoch and milliseconds since
// midnight, written as ISO-8601 ("2026-11-22"; "09:41:07", ".123" only
// when the milliseconds are not 0, as java.time writes them).
inline constexpr int64_t kMillisPerDay = 86400000;
std::string format_date(int64_t days);
std::string format_time_of_day(int64_t millis);
// "yyyy-MM-dd" -> days; nullopt on anything else or an invalid date.
std::optional<int64_t> parse_date(std::string_view text);
// "HH:mm", ":ss", ".fraction" (1 to 9 digits, truncated to milliseconds)
// -> milliseconds since midnight; nullopt on anything else.
std::optional<int64_t> parse_time_of_day(std::string_view text);
// The day of a TIMESTAMP (UTC, rounded down) and its time of day.
int64_t date_of_timestamp(int64_t millis);
int64_t time_of_timestamp(int64_t millis);

}  // namespace rivulet
