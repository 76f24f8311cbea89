#pragma once
// A Kafka client's request counters, from librdkafka's statistics reports
// (statistics.interval.ms). Without librdkafka's header, so that
// actors/application.hpp can hand them out.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace rivulet::connectors {

// What a client's librdkafka statistics report (every statistics.interval.ms)
// counts since the client started: requests sent, by type ("Fetch",
// "Produce", "Metadata", ...) and summed over its brokers, and the bytes sent
// and received. All zero until the first report.
struct KafkaClientStats {
  std::map<std::string, uint64_t> requests;
  uint64_t tx_bytes = 0;
  uint64_t rx_bytes = 0;
  uint64_t reports = 0;  // statistics reports taken in
};

// Reads one librdkafka statistics document; false (and `out` untouched)
// when it is not one.
bool parse_client_stats(std::string_view json, KafkaClientStats& out);

// How often Rivulet's consumers and producers report statistics unless
// statistics.interval.ms is given (kafka.consumer.* / kafka.producer.*).
inline constexpr const char* kClientStatsIntervalMs = "5000";

// The latest statistics of one client: librdkafka's stats callback writes
// (on the thread that serves the client's queue), any thread reads.
class ClientStatsSink {
 public:
  void take(std::string_view json);
  KafkaClientStats get() const;

 private:
  mutable std::mutex mutex_;
  KafkaClientStats stats_;
};

}  // namespace rivulet::connectors
