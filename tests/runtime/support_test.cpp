// The small runtime helpers: timestamps, base64, backoff, the logger.
#include <catch2/catch.hpp>
#include <random>

#include "runtime/base64.hpp"
#include "runtime/log.hpp"
#include "runtime/retry.hpp"
#include "runtime/timestamp.hpp"

using namespace rivulet;
using std::chrono::milliseconds;

TEST_CASE("timestamps format as ksqlDB's ISO-8601 UTC text", "[runtime][timestamp]") {
  CHECK(format_timestamp(0) == "1970-01-01T00:00:00.000");
  CHECK(format_timestamp(1700000000123) == "2023-11-14T22:13:20.123");
  CHECK(format_timestamp(-1) == "1969-12-31T23:59:59.999");
  CHECK(format_timestamp(951782400000) == "2000-02-29T00:00:00.000");
  CHECK(format_timestamp(253402300800000) == "+10000-01-01T00:00:00.000");
}

TEST_CASE("timestamps parse with optional time, fraction and zone", "[runtime][timestamp]") {
  CHECK(parse_timestamp("1970-01-01") == 0);
  CHECK(parse_timestamp("2023-11-14T22:13:20.123") == 1700000000123);
  CHECK(parse_timestamp("2023-11-14 22:13:20.123") == 1700000000123);
  CHECK(parse_timestamp("2023-11-14T22:13") == 1699999980000);
  CHECK(parse_timestamp("2023-11-14T22:13:20.1234567") == 1700000000123);
  CHECK(parse_timestamp("2023-11-14T22:13:20.1") == 1700000000100);
  CHECK(parse_timestamp("2023-11-14T22:13:20Z") == 1700000000000);
  CHECK(parse_timestamp("2023-11-15T00:13:20+02:00") == 1700000000000);
  CHECK(parse_timestamp("2023-11-14T20:13:20-0200") == 1700000000000);
  CHECK(parse_timestamp("1969-12-31T23:59:59.999") == -1);
  CHECK(parse_timestamp("2000-02-29") == 951782400000);
  for (const char* bad : {"", "2023", "2023-13-01", "2023-02-29", "2023-11-14T25:00",
                          "2023-11-14T22:13:20.", "2023-11-14T22:13:20+", "2023-11-14X",
                          "2023-11-14T22:13:20 trailing", "20231114"}) {
    INFO(bad);
    CHECK_FALSE(parse_timestamp(bad).has_value());
  }
  std::mt19937_64 rng(3);
  for (int i = 0; i < 2000; ++i) {
    auto ms = static_cast<int64_t>(rng() % 400000000000000ULL) - 62000000000000;  // years 0..12000
    if (ms < -62135596800000 || ms >= 253402300800000) continue;  // 4-digit years only
    REQUIRE(parse_timestamp(format_timestamp(ms)) == ms);
  }
}

TEST_CASE("base64 round trips and rejects garbage", "[runtime][base64]") {
  CHECK(encode_base64("") == "");
  CHECK(encode_base64("f") == "Zg==");
  CHECK(encode_base64("fo") == "Zm8=");
  CHECK(encode_base64("foo") == "Zm9v");
  CHECK(decode_base64("Zm9vYg") == "foob");
  CHECK(decode_base64("Zm9vYg==") == "foob");
  CHECK(decode_base64("-_8=") == decode_base64("+/8="));
  CHECK_FALSE(decode_base64("Zm9v!").has_value());
  CHECK_FALSE(decode_base64("Z").has_value());
  CHECK_FALSE(decode_base64("Zm9=v").has_value());
  std::mt19937 rng(1);
  for (int n = 0; n < 300; ++n) {
    std::string s(static_cast<size_t>(n), '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    REQUIRE(decode_base64(encode_base64(s)) == s);
  }
}

TEST_CASE("backoff doubles from base up to the cap", "[runtime][retry]") {
  const milliseconds base(100), cap(5000);
  CHECK(backoff_delay(0, base, cap, 0.0, 0) == milliseconds(100));
  CHECK(backoff_delay(1, base, cap, 0.0, 0) == milliseconds(200));
  CHECK(backoff_delay(5, base, cap, 0.0, 0) == milliseconds(3200));
  CHECK(backoff_delay(6, base, cap, 0.0, 0) == milliseconds(5000));
  CHECK(backoff_delay(1000000, base, cap, 0.0, 0) == milliseconds(5000));
  CHECK(backoff_delay(-3, base, cap, 0.0, 0) == milliseconds(100));
  CHECK(backoff_delay(70, milliseconds(1), milliseconds(INT64_MAX), 0.0, 0).count() == INT64_MAX);
  CHECK(backoff_delay(3, milliseconds(0), cap, 0.5, 0) == milliseconds(0));
  CHECK(backoff_delay(3, milliseconds(10000), cap, 0.0, 0) == milliseconds(5000));
}

TEST_CASE("backoff jitter stays within its fraction below the cap", "[runtime][retry]") {
  const milliseconds base(100), cap(1000);
  CHECK(backoff_delay(2, base, cap, 0.5, 0) == milliseconds(400));  // u = 0: no jitter
  CHECK(backoff_delay(2, base, cap, 0.5, UINT64_MAX) == milliseconds(201));
  CHECK(backoff_delay(2, base, cap, 0.5, uint64_t{1} << 63) == milliseconds(300));
  std::mt19937_64 rng(9);
  int64_t lo = INT64_MAX, hi = 0;
  for (int i = 0; i < 5000; ++i) {
    auto d = backoff_delay(10, base, cap, 0.25, rng()).count();
    REQUIRE(d > 750);
    REQUIRE(d <= 1000);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  CHECK(lo < 760);  // the range is actually used
  CHECK(hi > 990);
  CHECK(backoff_delay(2, base, cap, 7.0, UINT64_MAX).count() >= 0);  // fraction clamped to 1
}

TEST_CASE("log level follows set_log_level, unknown names leave it", "[runtime][log]") {
  auto log = rivulet::logger();
  REQUIRE(log);
  CHECK(log->name() == "rivulet");
  CHECK(rivulet::logger().get() == log.get());  // one logger for the process
  rivulet::set_log_level("debug");
  CHECK(log->level() == spdlog::level::debug);
  rivulet::set_log_level("no-such-level");
  CHECK(log->level() == spdlog::level::debug);
  rivulet::set_log_level("off");
  CHECK(log->level() == spdlog::level::off);
  rivulet::set_log_level("info");
  CHECK(log->level() == spdlog::level::info);
}
