// Helpers of the benchmarks that run queries through sql::TestDriver in one
// thread (bench_sql_api, bench_subquery): feeding a topic's records with the
// outputs counted and dropped as they come (memory stays flat), and the
// median of rounds. Their CPU clock is bench/thread_cpu.hpp's.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/thread_cpu.hpp"
#include "sql/test_driver.hpp"

namespace rivulet::bench {

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
