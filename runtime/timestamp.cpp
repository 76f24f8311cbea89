#include "runtime/timestamp.hpp"

#include <cstdio>

namespace rivulet {

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil), and its inverse.
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civil_from_days(int64_t z, int64_t* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int64_t y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

// Reads exactly n digits at text[*i].
bool digits(std::string_view text, size_t* i, int n, int* out) {
  if (*i + static_cast<size_t>(n) > text.size()) return false;
  int v = 0;
  for (int k = 0; k < n; ++k) {
    char c = text[*i + static_cast<size_t>(k)];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *i += static_cast<size_t>(n);
  *out = v;
  return true;
}

bool expect(std::string_view text, size_t* i, char c) {
  if (*i >= text.size() || text[*i] != c) return false;
  ++*i;
  return true;
}

}  // namespace

std::string format_timestamp(int64_t millis) {
  int64_t days = millis / 86400000;
  int64_t ms_of_day = millis % 86400000;
  if (ms_of_day < 0) {
    ms_of_day += 86400000;
    --days;
  }
  int64_t y = 0;
  int m = 0, d = 0;
  civil_from_days(days, &y, &m, &d);
  char buf[64];
  const char* year_format = (y >= 0 && y <= 9999) ? "%04lld" : "%+05lld";
  int n = std::snprintf(buf, sizeof buf, year_format, static_cast<long long>(y));
  std::snprintf(buf + n, sizeof buf - static_cast<size_t>(n), "-%02d-%02dT%02d:%02d:%02d.%03d", m,
                d, static_cast<int>(ms_of_day / 3600000), static_cast<int>(ms_of_day / 60000 % 60),
                static_cast<int>(ms_of_day / 1000 % 60), static_cast<int>(ms_of_day % 1000));
  return buf;
}

std::optional<int64_t> parse_timestamp(std::string_view text) {
  size_t i = 0;
  int year = 0, month = 0, day = 0;
  if (!digits(text, &i, 4, &year) || !expect(text, &i, '-') || !digits(text, &i, 2, &month) ||
      !expect(text, &i, '-') || !digits(text, &i, 2, &day)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return std::nullopt;
  int hour = 0, minute = 0, second = 0, millis = 0;
  int64_t offset_minutes = 0;
  if (i < text.size() && (text[i] == 'T' || text[i] == ' ')) {
    ++i;
    if (!digits(text, &i, 2, &hour) || !expect(text, &i, ':') || !digits(text, &i, 2, &minute)) {
      return std::nullopt;
    }
    if (i < text.size() && text[i] == ':') {
      ++i;
      if (!digits(text, &i, 2, &second)) return std::nullopt;
      if (i < text.size() && text[i] == '.') {
        ++i;
        int n = 0;
        int fraction = 0;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
          if (n < 3) fraction = fraction * 10 + (text[i] - '0');
          ++n;
          ++i;
        }
        if (n == 0 || n > 9) return std::nullopt;
        for (int k = n; k < 3; ++k) fraction *= 10;
        millis = fraction;
      }
    }
    if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
    if (i < text.size()) {
      char z = text[i];
      if (z == 'Z') {
        ++i;
      } else if (z == '+' || z == '-') {
        ++i;
        int oh = 0, om = 0;
        if (!digits(text, &i, 2, &oh)) return std::nullopt;
        if (i < text.size() && text[i] == ':') ++i;
        if (i < text.size() && !digits(text, &i, 2, &om)) return std::nullopt;
        if (oh > 18 || om > 59) return std::nullopt;
        offset_minutes = (z == '+' ? 1 : -1) * (oh * 60 + om);
      }
    }
  }
  if (i != text.size()) return std::nullopt;
  int64_t days = days_from_civil(year, month, day);
  int64_t ms = ((days * 24 + hour) * 60 + minute) * 60000 + second * 1000 + millis;
  return ms - offset_minutes * 60000;
}

int64_t date_of_timestamp(int64_t millis) {
  int64_t days = millis / kMillisPerDay;
  if (millis % kMillisPerDay < 0) --days;
  return days;
}

int64_t time_of_timestamp(int64_t millis) {
  const int64_t ms = millis % kMillisPerDay;
  return ms < 0 ? ms + kMillisPerDay : ms;
}

std::string format_date(int64_t days) {
  // The date part of the day's first millisecond ("yyyy-MM-dd", or a signed
  // year outside 0-9999).
  std::string ts = format_timestamp(days * kMillisPerDay);
  return ts.substr(0, ts.find('T'));
}

std::string format_time_of_day(int64_t millis) {
  millis = time_of_timestamp(millis);
  char buf[16];
  const int h = static_cast<int>(millis / 3600000);
  const int m = static_cast<int>(millis / 60000 % 60);
  const int sec = static_cast<int>(millis / 1000 % 60);
  const int ms = static_cast<int>(millis % 1000);
  if (ms == 0) {
    std::snprintf(buf, sizeof buf, "%02d:%02d:%02d", h, m, sec);
  } else {
    std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03d", h, m, sec, ms);
  }
  return buf;
}

std::optional<int64_t> parse_date(std::string_view text) {
  if (text.size() != 10) return std::nullopt;  // no time, no zone
  auto ms = parse_timestamp(text);
  if (!ms) return std::nullopt;
  return *ms / kMillisPerDay - (*ms % kMillisPerDay < 0 ? 1 : 0);
}

std::optional<int64_t> parse_time_of_day(std::string_view text) {
  // The time of a timestamp on the epoch's day, without a zone.
  if (text.empty() || text.find_first_of("Z+-") != std::string_view::npos) return std::nullopt;
  std::string ts = "1970-01-01T";
  ts.append(text);
  return parse_timestamp(ts);
}

}  // namespace rivulet
