// The configuration the latency benchmarks (bench_sql --latency,
// bench_pipeline --latency-seconds) run with by default: what a user who
// cares about latency more than about idle CPU sets (docs/configuration.md;
// the measurements behind the choice are in docs/benchmarks.md, "Latency at
// half of the measured maximum"). The same values apply to the benchmarks'
// own generator, reader and broker-path hops.
#pragma once

#include <string>
#include <vector>

namespace rivulet::bench {

inline std::vector<std::string> latency_profile() {
  return {
      // An empty fetch is held this long by the broker (the embedded one
      // holds it even when data arrives meanwhile): 1 ms instead of 5 per
      // consumer hop, for more fetch requests while idle.
      "fetch.wait.max.ms=1",
      // The producer's linger stays at its default (5 ms): lower lingers
      // cut the median, but on the embedded broker, which returns one batch
      // per partition per fetch, smaller batches made the Yahoo pipeline's
      // p99 worse (docs/benchmarks.md).
      "producer.linger.ms=5",
  };
}

}  // namespace rivulet::bench
