#pragma once
// The embedded broker: librdkafka's mock cluster (N Kafka-protocol brokers on
// 127.0.0.1 inside this process) plus the control channel through which any
// process can create topics with a given partition count or inject faults
// (broker_control.hpp).
//
// Owned by whoever starts it (the `rivulet broker` command, a test fixture);
// the cluster lives until the object is destroyed. One control thread, owned
// by this object, consumes `__rivulet_broker_control` and applies requests.
// Every public method may be called from any thread.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "connectors/broker_control.hpp"
#include "connectors/topic_admin.hpp"
#include "runtime/error.hpp"

namespace rivulet::connectors {

// The broker that leads the control topic. Broker ids run from 1 to N; a
// broker_down request for this one is refused (the channel would go with it).
inline constexpr int32_t kControlChannelBroker = 1;

struct EmbeddedBrokerOptions {
  int brokers = 3;
  // Replication factor of created topics; capped at the broker count.
  int replication_factor = 3;
};

class EmbeddedBroker {
 public:
  static Expected<std::unique_ptr<EmbeddedBroker>> start(EmbeddedBrokerOptions options = {});
  ~EmbeddedBroker();
  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;

  // "127.0.0.1:PORT,127.0.0.1:PORT,..."
  const std::string& bootstrap() const { return bootstrap_; }
  int broker_count() const { return options_.brokers; }

  // Creates `topic` with `partitions` partitions. Already there with the same
  // count: nothing to do. With another count: an error naming both.
  Expected<bool> create_topic(const std::string& topic, int32_t partitions);
  Expected<std::optional<int32_t>> partition_count(const std::string& topic);

  // Applies one control request (any op but Reply); what the control thread
  // does with each record, callable directly in-process too.
  Expected<bool> apply(const ControlRequest& request);

  // Control records applied (successfully or not) since start.
  uint64_t control_requests_handled() const { return handled_.load(); }

  // For fault-injection calls not covered by ControlRequest.
  rd_kafka_mock_cluster_t* mock_cluster() const { return cluster_; }

 private:
  EmbeddedBroker(EmbeddedBrokerOptions options, rd_kafka_t* owner,
                 rd_kafka_mock_cluster_t* cluster);
  Expected<bool> start_control_thread();
  void control_loop();
  void handle_control_record(std::string_view payload, int64_t offset);

  EmbeddedBrokerOptions options_;
  rd_kafka_t* owner_;                 // the handle the mock cluster belongs to
  rd_kafka_mock_cluster_t* cluster_;
  std::string bootstrap_;
  std::unique_ptr<TopicAdmin> admin_;  // metadata and control replies
  rd_kafka_t* control_consumer_ = nullptr;  // used by the control thread only
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> handled_{0};
  std::thread control_thread_;
};

}  // namespace rivulet::connectors
