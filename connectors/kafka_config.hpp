#pragma once
// Building librdkafka configurations from plain key/value maps, with the
// defaults a Rivulet pipeline wants, and small RAII owners for librdkafka
// handles. Every failure names the offending key.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "connectors/client_stats.hpp"
#include "runtime/error.hpp"

namespace rivulet::connectors {

using KafkaProperties = std::map<std::string, std::string>;

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

struct TopicPartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
using TopicPartitionListPtr =
    std::unique_ptr<rd_kafka_topic_partition_list_t, TopicPartitionListDeleter>;

// Defaults shared by every client: a short reconnect backoff (the embedded
// broker's fault tests recover in about 5 s instead of 10, see PLATFORM.md)
// and quiet logs for the connection closes the mock broker does routinely.
KafkaProperties common_defaults();

// Consumer defaults: short fetch waits (the mock holds an empty fetch for the
// whole fetch.wait.max.ms), no automatic commits or offset stores (Rivulet
// commits only what its outputs made durable), and auto.offset.reset=error so
// that data lost to retention is reported instead of silently skipped.
KafkaProperties consumer_defaults();

// A consumer that reads partitions it assigns itself, start to end, and is
// never part of a group: `base` over the common defaults, then its
// `client_id` as client.id and group.id (never joined, nothing committed or
// stored), partition-EOF events (the end of a partition is not always the
// offset after its last record: transaction markers), auto.offset.reset=
// earliest (records deleted by retention are not there to read) and short
// fetch waits. Used to read checkpoints and to look back at a topic.
KafkaProperties standalone_reader_properties(const KafkaProperties& base,
                                             const std::string& client_id);

// Producer defaults: idempotence, acks=all, Java-compatible partitioner
// (murmur2_random), a bounded local queue and a small linger.
KafkaProperties producer_defaults();

// `overrides` on top of `defaults` (overrides win).
KafkaProperties merge_properties(const KafkaProperties& defaults,
                                 const KafkaProperties& overrides);

// A configuration with every property set; the first bad key or value is
// an error naming it and librdkafka's reason. Also routes librdkafka's logs
// to spdlog (logger "kafka").
Expected<ConfPtr> make_conf(const KafkaProperties& properties);

// "BROKER_NOT_AVAILABLE (Broker: Broker not available)"
std::string kafka_error_text(rd_kafka_resp_err_t err);

// Asks the broker for the metadata of `topics` on the client `rk`, so that
// its cache knows their partitions' leaders. librdkafka otherwise learns
// the leaders of a topic it has not used yet from its periodic refresh
// (every second): a consumer assigned such a topic fetches nothing, and a
// producer sends nothing to it, for up to a second. Returns the topics
// whose metadata arrived; failures are logged, not fatal (the periodic
// refresh still finds them). Blocks for about one round trip per topic.
std::vector<std::string> request_topic_metadata(rd_kafka_t* rk,
                                                const std::vector<std::string>& topics,
                                                std::chrono::milliseconds timeout);

// Replaces the logical offsets BEGINNING and END in `list` with the
// partitions' current first and next offsets, asked of their leaders (one
// ListOffsets request per broker). A consumer assigned a logical offset asks
// for it itself once it starts fetching, and librdkafka 2.0 asks again only
// 500 ms later when the partition has not yet joined its leader's broker
// thread, as happens when the assignment follows the topic's metadata by
// less than a moment: about one fresh start in fifteen here idled for
// half a second (docs/architecture.md, "Fetch"). Other entries are left
// alone. Entries it cannot resolve keep their logical offsets, as does the
// whole list when the request fails or `timeout` passes (logged at debug
// level): librdkafka then resolves them itself. Returns how many it
// resolved.
int resolve_logical_offsets(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* list,
                            std::chrono::milliseconds timeout);

// Errors librdkafka reports for the same request that may succeed when tried
// again (timeouts, transport, leader moves).
bool is_retriable(rd_kafka_resp_err_t err);

// The value of `key` in `properties`, or `fallback`.
std::string property_or(const KafkaProperties& properties, const std::string& key,
                        const std::string& fallback);

}  // namespace rivulet::connectors
