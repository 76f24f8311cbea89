#pragma once
// GlobalTableFeeder: keeps a node's global table replicas
// (operators/global_tables.hpp) up to date from Kafka, like the global
// stream thread of Kafka Streams.
//
// start() makes the replicas, assigns its own consumer every partition of
// every global table's topic from the beginning (no consumer group
// membership, no commits: a replica is rebuilt from its topic at every
// start and is not in task checkpoints), and returns only once the
// replicas hold everything up to the end offsets the topics had when it
// started (bootstrapping, bounded by a timeout), so that tasks never
// evaluate a subquery against a half-loaded table. Then it follows the
// topics live on the consumer's poll thread, the replicas' only writer.
//
// A record whose key or value does not decode is not applied: it is
// logged with topic/partition/offset and counted (data_errors()).
//
// Owned by the Application; stop() (or the destructor) joins the poll
// thread. The replicas (tables()) may outlive it and are read by the tasks
// from any thread.
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connectors/kafka_config.hpp"
#include "connectors/kafka_consumer.hpp"
#include "operators/global_tables.hpp"
#include "runtime/error.hpp"

namespace rivulet::actors {

struct GlobalTableFeederOptions {
  std::string name;  // for logs and the consumer's group.id ("<application.id>-global")
  connectors::KafkaProperties consumer_props;  // bootstrap.servers and client settings
  size_t max_batch_records = 1000;
  std::chrono::milliseconds bootstrap_timeout{60000};
};

struct GlobalTableStats {
  std::string name;
  std::string topic;
  size_t size = 0;
  uint64_t updates_applied = 0;
  int64_t lag = 0;  // records on the broker not yet applied, over all partitions
};

class GlobalTableFeeder final : public connectors::BatchSink {
 public:
  static Expected<std::unique_ptr<GlobalTableFeeder>> start(
      const std::vector<GlobalTableSpec>& specs, GlobalTableFeederOptions options);
  ~GlobalTableFeeder() override;

  const std::shared_ptr<GlobalTables>& tables() const { return tables_; }
  void stop();
  uint64_t data_errors() const { return tables_->data_errors(); }
  std::vector<GlobalTableStats> stats() const;

  // BatchSink (the poll thread).
  bool offer(RawBatch&& batch) override;

 private:
  GlobalTableFeeder() = default;
  bool caught_up(const std::map<TopicPartition, int64_t>& ends) const;

  std::string name_;
  std::vector<GlobalTableSpec> specs_;
  std::shared_ptr<GlobalTables> tables_;
  std::unique_ptr<connectors::KafkaConsumer> consumer_;
  mutable std::mutex mutex_;
  std::map<TopicPartition, int64_t> next_;  // next offset to apply, per partition
  uint64_t errors_logged_ = 0;              // poll thread
};

}  // namespace rivulet::actors
