// The configuration the latency benchmarks (bench_sql --latency,
// bench_pipeline --latency-seconds) run with by default: what a user who
// cares about latency more than about idle CPU sets (docs/configuration.md;
// the measurements behind the choice are in docs/benchmarks.md, "Latency at
// half of the measured maximum"). The same values apply to the benchmarks'
// own generator, reader and broker-path hops.
#pragma once

#include <string>
#include <vector>

#include "connectors/kafka_config.hpp"

namespace rivulet::bench {

// `hops`: the consumer -> producer hops of the query's longest path (1: a
// filter or projection; 2: through a repartition topic).
inline std::vector<std::string> latency_profile(int hops = 2) {
  return {
      // An empty fetch is held this long by the broker (the embedded one
      // holds it even when data arrives meanwhile): 1 ms instead of 5 per
      // consumer hop, for more fetch requests while idle.
      "fetch.wait.max.ms=1",
      // One hop: 1 ms, which cut Nexmark Q1's and Q2's median from 18-20
      // to 11-13 ms and their p99 to 17-20 ms in most runs. More hops keep
      // the producer's default (5 ms): on the embedded broker, which
      // returns one batch per partition per fetch, smaller batches made
      // Yahoo's broker path itself, and so its pipeline, slower at the
      // median and the p99 (docs/benchmarks.md, "p99 at half load with a
      // 1 ms linger").
      hops <= 1 ? "producer.linger.ms=1" : "producer.linger.ms=5",
  };
}

// The librdkafka properties of a benchmark's own clients (generator, reader,
// the broker path's hops): the same --set values the Application gets
// (kafka.producer.*, kafka.consumer.*, fetch.wait.max.ms,
// producer.linger.ms), so that both sides of a comparison run with the same
// client settings.
inline connectors::KafkaProperties client_props(const std::vector<std::string>& sets,
                                                const std::string& bootstrap, bool producer) {
  connectors::KafkaProperties props{{"bootstrap.servers", bootstrap}};
  const std::string prefix = producer ? "kafka.producer." : "kafka.consumer.";
  for (const auto& kv : sets) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
    if (key.rfind(prefix, 0) == 0) props[key.substr(prefix.size())] = value;
    if (!producer && key == "fetch.wait.max.ms") props[key] = value;
    if (producer && key == "producer.linger.ms" && !props.count("linger.ms"))
      props["linger.ms"] = value;
  }
  return props;
}

}  // namespace rivulet::bench
