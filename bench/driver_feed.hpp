// Helpers of the benchmarks that run queries through sql::TestDriver in one
// thread (bench_sql_api, bench_subquery): the calling thread's CPU time,
// feeding a topic's records with the outputs counted and dropped as they
// come (memory stays flat), and the median of rounds.
#pragma once

#include <time.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "sql/test_driver.hpp"

namespace rivulet::bench {

// User + system CPU seconds of the calling thread so far.
inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Pipes each of `records` (with `key` and `value` strings) into `topic`,
// at times after `t` (which it advances); the outputs are counted and
// cleared every 4096 records. Returns how many there were.
template <class Records>
int64_t pipe_counted(sql::TestDriver& d, const std::string& topic, const Records& records,
                     TimestampMs& t) {
  int64_t outputs = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    d.pipe(topic, records[i].key, records[i].value, ++t);
    if ((i & 4095) == 4095) {
      outputs += static_cast<int64_t>(d.outputs().size());
      d.clear_outputs();
    }
  }
  outputs += static_cast<int64_t>(d.outputs().size());
  d.clear_outputs();
  return outputs;
}

// The median of an odd number of rounds (the upper middle of an even one).
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace rivulet::bench
