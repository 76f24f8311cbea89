#pragma once
// KafkaProducer: an idempotent librdkafka producer (acks=all, Java-compatible
// murmur2 partitioner, bounded local queue) whose delivery reports reach a
// DeliveryHandler on the producer's own delivery thread.
//
// Threads: produce() and flush() from any thread (librdkafka's produce is
// thread-safe); DeliveryHandler::on_delivery runs on the delivery thread
// this class owns, which does nothing else but poll for reports.
//
// Retries: librdkafka's own, bounded by message.timeout.ms (default here 30 s)
// with exponential backoff (retry.backoff.ms); a record that still fails
// reaches the handler as an Error with its topic and partition.
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "connectors/kafka_config.hpp"
#include "runtime/error.hpp"
#include "runtime/record.hpp"

namespace rivulet::connectors {

class DeliveryHandler {
 public:
  virtual ~DeliveryHandler() = default;
  // One call per produced record, with the opaque pointer given to
  // produce(); `error` is set when the record could not be written.
  virtual void on_delivery(void* opaque, const std::optional<Error>& error, int32_t partition,
                           int64_t offset) = 0;
};

// A header written after a record's own, by reference: the same for every
// record of a run (rivulet.task, rivulet.epoch), so no record copies it.
struct HeaderRef {
  std::string_view name;
  std::string_view value;
};

struct ProducerTopicStats {
  uint64_t produced = 0;  // acknowledged by the broker
  uint64_t failed = 0;
};

class KafkaProducer {
 public:
  // `handler` may be null (reports are then only counted).
  static Expected<std::unique_ptr<KafkaProducer>> create(const KafkaProperties& config,
                                                         DeliveryHandler* handler);
  ~KafkaProducer();
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  // Hands one record to librdkafka. When the local queue is full it waits
  // (backpressure) until there is room, at most `queue_full_timeout`; a
  // record that cannot be enqueued is an Error (and no report follows).
  Expected<bool> produce(const OutputRecord& record, void* opaque,
                         std::chrono::milliseconds queue_full_timeout = std::chrono::seconds(30)) {
    return produce(record, opaque, {}, queue_full_timeout);
  }
  // The same with `extra` headers after the record's own.
  Expected<bool> produce(const OutputRecord& record, void* opaque,
                         const std::vector<HeaderRef>& extra,
                         std::chrono::milliseconds queue_full_timeout = std::chrono::seconds(30));
  // Fetches the metadata of topics this producer is about to write, so the
  // first records to each are not held until librdkafka's periodic refresh
  // (up to a second: kafka_config.hpp). Optional; failures are logged.
  void prepare_topics(const std::vector<std::string>& topics,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Waits until every record produced so far was reported. What lingers
  // in librdkafka's batches is sent at once, not after linger.ms (as the
  // Java producer's flush does); the reports still reach the handler on
  // the delivery thread.
  Expected<bool> flush(std::chrono::milliseconds timeout);

  std::map<std::string, ProducerTopicStats> stats() const;
  // Per partition of `topic`, the highest offset a record of this producer
  // got there, as acknowledged so far (-1: none). Every record produced
  // after this call lands above it: a safe place to start reading what
  // this producer (or a later one) writes from now on.
  std::vector<int64_t> acknowledged_offsets(const std::string& topic) const;
  uint64_t in_flight() const;
  // Requests and bytes from librdkafka's statistics, as of the last report
  // (every statistics.interval.ms, 5 s unless set).
  KafkaClientStats client_stats() const { return client_stats_.get(); }
  // The librdkafka handle, for the transactional API (TransactionalProducer);
  // owned by this object.
  rd_kafka_t* native_handle() const { return rk_; }

 private:
  KafkaProducer(rd_kafka_t* rk, DeliveryHandler* handler);
  static void delivery_callback(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  static int stats_callback(rd_kafka_t* rk, char* json, size_t len, void* opaque);
  void on_report(const rd_kafka_message_t* msg);

  rd_kafka_t* rk_;
  DeliveryHandler* handler_;
  rd_kafka_queue_t* main_queue_ = nullptr;  // served by rd_kafka_poll; yielded by flush()
  std::atomic<bool> stopping_{false};
  std::atomic<int> flush_waiters_{0};  // callers in flush(): the delivery thread flushes
  std::thread delivery_thread_;
  mutable std::mutex stats_mutex_;
  struct TopicReports {
    ProducerTopicStats stats;
    std::vector<int64_t> acknowledged;  // per partition, -1: none
  };
  std::map<std::string, TopicReports, std::less<>> topics_;  // under stats_mutex_
  ClientStatsSink client_stats_;
};

}  // namespace rivulet::connectors
