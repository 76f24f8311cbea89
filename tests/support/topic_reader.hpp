#pragma once
// Reading topics back in tests: every record of some topics (all partitions,
// from the beginning) with headers, until a condition holds or time is up.
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "connectors/kafka_consumer.hpp"

namespace rivulet::testing {

struct ReadRecord {
  std::optional<std::string> key;
  std::optional<std::string> value;
  Headers headers;
  TopicPartition tp;
  int64_t offset;

  std::optional<std::string> header(const std::string& name) const {
    for (const auto& h : headers) {
      if (h.name == name) return h.value;
    }
    return std::nullopt;
  }
};

// Collects every record on the consumer's poll thread.
class Collector : public connectors::BatchSink {
 public:
  bool offer(RawBatch&& batch) override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& r : batch.records) {
      records_.push_back({r.key.copy(), r.value.copy(), r.headers, batch.tp, r.offset});
    }
    return true;
  }
  std::vector<ReadRecord> records() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return records_;
  }
  // Calls fn for each record received since the last call with the same
  // cursor (incremental checks over large outputs).
  template <typename Fn>
  void for_each_new(size_t& cursor, Fn fn) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (; cursor < records_.size(); ++cursor) fn(records_[cursor]);
  }
  size_t count(const std::string& topic) const {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t n = 0;
    for (auto& r : records_) n += r.tp.topic == topic ? 1 : 0;
    return n;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<ReadRecord> records_;
};

// Reads `topics` until `done(collector)` holds or `timeout` passes.
inline std::vector<ReadRecord> read_until(
    const std::string& bootstrap, const std::vector<std::string>& topics, int32_t partitions,
    const std::function<bool(const Collector&)>& done,
    std::chrono::seconds timeout = std::chrono::seconds(60)) {
  Collector collector;
  auto consumer = connectors::KafkaConsumer::create(
      {{"bootstrap.servers", bootstrap}, {"group.id", "test-reader"}});
  REQUIRE(consumer.ok());
  std::vector<connectors::StartPosition> positions;
  for (const auto& t : topics) {
    for (int32_t p = 0; p < partitions; ++p) {
      positions.push_back(
          {TopicPartition{t, PartitionId{p}}, connectors::StartPosition::kBeginning});
    }
  }
  REQUIRE((*consumer)->assign(positions).ok());
  (*consumer)->start(&collector);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done(collector) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  (*consumer)->stop();
  return collector.records();
}

}  // namespace rivulet::testing
