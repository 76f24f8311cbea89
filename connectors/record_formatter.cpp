#include "connectors/record_formatter.hpp"

#include <simdjson.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

namespace rivulet::connectors {

namespace {

const char* const kBaseNames[] = {"JSON", "KAFKA_STRING", "KAFKA_INT", "KAFKA_BIGINT",
                                  "KAFKA_DOUBLE"};
constexpr int kBases = 5;
const char* const kWindowNames[] = {"", "SESSION", "HOPPING", "TUMBLING"};

// Window times this formatter believes: from the epoch to 2100-01-01.
constexpr int64_t kLatestPlausibleMs = 4102444800000LL;

bool utf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

uint64_t big_endian(const char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// The bytes read in base format `base`, or nullopt when they cannot be.
std::optional<std::string> read_base(int base, std::string_view b) {
  switch (base) {
    case 0: {  // JSON: text that parses (shown as written)
      if (b.empty() || !utf8(b) || !nlohmann::json::accept(b)) return std::nullopt;
      return std::string(b);
    }
    case 1:  // KAFKA_STRING: UTF-8 text without control characters but tab and newlines
      if (b.empty() || !utf8(b)) return std::nullopt;
      for (char ch : b) {
        const auto u = static_cast<unsigned char>(ch);
        if ((u < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || u == 0x7f) return std::nullopt;
      }
      return std::string(b);
    case 2:  // KAFKA_INT
      if (b.size() != 4) return std::nullopt;
      return std::to_string(static_cast<int32_t>(static_cast<uint32_t>(big_endian(b.data(), 4))));
    case 3:  // KAFKA_BIGINT
      if (b.size() != 8) return std::nullopt;
      return std::to_string(static_cast<int64_t>(big_endian(b.data(), 8)));
    default: {  // KAFKA_DOUBLE
      if (b.size() != 8) return std::nullopt;
      const uint64_t bits = big_endian(b.data(), 8);
      double d;
      std::memcpy(&d, &bits, sizeof d);
      return nlohmann::json(d).dump();
    }
  }
}

bool plausible(int64_t ms) { return ms >= 0 && ms <= kLatestPlausibleMs; }

std::optional<std::string> read(int base, int window, std::string_view b) {
  if (window == 0) return read_base(base, b);
  if (window == 1) {  // SESSION: inner, end, start
    if (b.size() < 17) return std::nullopt;
    const auto end = static_cast<int64_t>(big_endian(b.data() + b.size() - 16, 8));
    const auto start = static_cast<int64_t>(big_endian(b.data() + b.size() - 8, 8));
    if (!plausible(start) || !plausible(end) || end < start) return std::nullopt;
    auto inner = read_base(base, b.substr(0, b.size() - 16));
    if (!inner) return std::nullopt;
    return "[" + *inner + "@" + std::to_string(start) + "/" + std::to_string(end) + "]";
  }
  // HOPPING, TUMBLING: inner, start
  if (b.size() < 9) return std::nullopt;
  const auto start = static_cast<int64_t>(big_endian(b.data() + b.size() - 8, 8));
  if (!plausible(start)) return std::nullopt;
  auto inner = read_base(base, b.substr(0, b.size() - 8));
  if (!inner) return std::nullopt;
  return "[" + *inner + "@" + std::to_string(start) + "/-]";
}

}  // namespace

RecordFormatter::RecordFormatter(Part part) {
  for (int base = 0; base < kBases; ++base) {
    if (part == Part::Key) {
      for (int w = 1; w <= 3; ++w)
        candidates_.push_back(
            Candidate{std::string(kWindowNames[w]) + "(" + kBaseNames[base] + ")", base, w});
    }
    candidates_.push_back(Candidate{kBaseNames[base], base, 0});
  }
}

std::string RecordFormatter::format(std::optional<std::string_view> bytes) {
  if (!bytes) return "<null>";
  seen_ = true;
  std::optional<std::string> first;
  std::vector<Candidate> left;
  for (const Candidate& c : candidates_) {
    auto text = read(c.base, c.window, *bytes);
    if (!text) continue;
    if (!first) first = std::move(text);
    left.push_back(c);
  }
  if (!first) {  // as Kafka's Bytes prints them: printable ASCII, else \xNN
    std::string out;
    for (char ch : *bytes) {
      const auto u = static_cast<unsigned char>(ch);
      if (u >= 0x20 && u < 0x7f && ch != '\\') {
        out += ch;
      } else {
        char hex[5];
        std::snprintf(hex, sizeof hex, "\\x%02X", u);
        out += hex;
      }
    }
    return out;
  }
  candidates_ = std::move(left);
  return *first;
}

std::vector<std::string> RecordFormatter::possible_formats() const {
  std::vector<std::string> out;
  if (!seen_) return out;
  for (const Candidate& c : candidates_) out.push_back(c.name);
  return out;
}

std::string RecordFormatter::describe() const {
  if (!seen_) return "no data processed";
  std::string out;
  for (const Candidate& c : candidates_) out += (out.empty() ? "" : " or ") + c.name;
  return out;
}

std::string format_rowtime(int64_t timestamp_ms) {
  if (timestamp_ms < 0) return "N/A";
  const std::time_t seconds = static_cast<std::time_t>(timestamp_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  std::strftime(text, sizeof text, "%Y/%m/%d %H:%M:%S", &utc);
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03d Z", static_cast<int>(timestamp_ms % 1000));
  return std::string(text) + millis;
}

}  // namespace rivulet::connectors
