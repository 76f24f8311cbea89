#pragma once
// Topic metadata and creation, the same call against the embedded broker and
// against a real Kafka cluster.
//
// TopicAdmin is owned by its user (a command, the job runner, a test); every
// method blocks for a bounded time and may be called from any thread (the
// librdkafka handle is thread-safe; the reply consumer is guarded by a mutex).
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "connectors/broker_control.hpp"
#include "connectors/kafka_config.hpp"
#include "runtime/error.hpp"
#include "runtime/ids.hpp"

namespace rivulet::connectors {

// Kafka's rules: 1..249 characters of [a-zA-Z0-9._-], not "." or "..".
Expected<bool> validate_topic_name(const std::string& topic);

struct TopicAdminOptions {
  // Bound on one metadata, watermark or control round trip, retries included.
  std::chrono::milliseconds request_timeout{10000};
  // Bound on ensure_topic waiting for a new topic to show in metadata.
  std::chrono::milliseconds create_timeout{15000};
  // Replication factor for CreateTopics on a real cluster (-1: broker default).
  int32_t replication_factor = -1;
};

class TopicAdmin {
 public:
  // `config` needs bootstrap.servers; other librdkafka client properties
  // (security, client.id) pass through.
  static Expected<std::unique_ptr<TopicAdmin>> create(const KafkaProperties& config,
                                                      TopicAdminOptions options = {});
  ~TopicAdmin();
  TopicAdmin(const TopicAdmin&) = delete;
  TopicAdmin& operator=(const TopicAdmin&) = delete;

  // Every topic and its partition count. Asks for all topics, so that the
  // embedded broker does not auto-create the one we look for.
  Expected<std::map<std::string, int32_t>> topics();
  // The partition count, or nullopt when the topic does not exist.
  Expected<std::optional<int32_t>> partition_count(const std::string& topic);
  // A topic's partitions and the replicas of its first partition (its
  // replication factor), from one metadata request; nullopt when it does
  // not exist.
  struct Layout {
    int32_t partitions = 0;
    int32_t replicas = 0;
  };
  Expected<std::optional<Layout>> layout(const std::string& topic);

  // The topic exists with `partitions` partitions when this returns true.
  // Exists with another count: an error naming both. Absent: created, through
  // the embedded broker's control channel when there is one, else with the
  // Admin API (with the topic `configs`, e.g. cleanup.policy=compact; the
  // embedded broker ignores them); then waits (bounded) until metadata shows it.
  Expected<bool> ensure_topic(const std::string& topic, int32_t partitions,
                              const std::map<std::string, std::string>& configs = {});

  // Low and high watermark of a partition, asked of the broker.
  Expected<std::pair<int64_t, int64_t>> watermarks(const TopicPartition& tp);
  // The same for each of `tps`, in order, checked against one metadata
  // request for all of them (one each would ask for every topic's metadata
  // per partition): an error in place of a partition that does not exist or
  // whose query failed. Fails as a whole only when the metadata request does.
  Expected<std::vector<Expected<std::pair<int64_t, int64_t>>>> watermarks(
      const std::vector<TopicPartition>& tps);

  // True when the cluster is Rivulet's embedded broker (it has the control topic).
  Expected<bool> is_embedded_broker();

  // Sends a request to the embedded broker and waits for its reply; an error
  // when the broker refused it (the reply's reason) or did not answer in time.
  Expected<bool> control(ControlRequest request);

  // Writes one record to the control topic and returns its offset; no reply
  // is awaited. The embedded broker uses this to answer.
  Expected<int64_t> send_control_record(const ControlRequest& request);

 private:
  TopicAdmin(rd_kafka_t* rk, KafkaProperties config, TopicAdminOptions options);
  Expected<bool> create_with_admin_api(const std::string& topic, int32_t partitions,
                                      const std::map<std::string, std::string>& configs);
  Expected<bool> wait_for_topic(const std::string& topic, int32_t partitions);
  // Calls `read` with a metadata snapshot of every topic, retrying a
  // retriable failure until the request timeout.
  Expected<bool> read_metadata(const std::function<void(const rd_kafka_metadata_t&)>& read);
  Expected<bool> await_reply(const std::string& id, int64_t after_offset);
  // The watermark query itself, retried within the request timeout; the
  // partition is known to exist.
  Expected<std::pair<int64_t, int64_t>> query_watermarks(const TopicPartition& tp);

  rd_kafka_t* rk_;  // producer handle: metadata, watermarks, admin API, control records
  KafkaProperties config_;
  TopicAdminOptions options_;
  std::mutex reply_mutex_;
  rd_kafka_t* reply_consumer_ = nullptr;  // made on first control(); guarded by reply_mutex_
};

}  // namespace rivulet::connectors
