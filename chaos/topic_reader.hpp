#pragma once
// Reads every record of a topic, all partitions, from the oldest retained
// record up to the end offsets seen when reading starts: a consistent,
// finite copy for the verifier. Bounded by a timeout; fails loudly (never
// returns a partial copy as if it were whole) when the end is not reached or
// records vanish under the reader (retention).
//
// Why not connectors::KafkaConsumer: the end of a partition is not always
// the offset after its last record. Transaction markers occupy offsets but
// are never delivered, and under read_committed aborted records are skipped,
// so "last delivered offset + 1 == end" may never hold. librdkafka's
// partition-EOF event does say when the fetch position reached the end, and
// KafkaConsumer (built for endless streaming) does not surface it.
//
// read_topic runs on the calling thread and blocks it; it owns its Kafka
// client for the duration of the call.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/error.hpp"
#include "runtime/record.hpp"

namespace rivulet::chaos {

struct TopicRecord {
  TopicPartition tp;
  RawRecord record;

  // The first header of that name with a value; nullopt when none.
  std::optional<std::string> header(const std::string& name) const;
};

// What was read of one partition: offsets [first_offset, end_offset).
// first_offset > 0 means older records were deleted (retention) before the
// read started.
struct PartitionExtent {
  TopicPartition tp;
  int64_t first_offset = 0;
  int64_t end_offset = 0;
};

struct TopicContents {
  std::string topic;
  std::vector<PartitionExtent> partitions;
  std::vector<TopicRecord> records;  // offset order within each partition
};

struct ReadOptions {
  // isolation.level=read_committed: skip aborted transactional records and
  // stop at the last stable offset. Otherwise read_uncommitted: everything
  // that was written.
  bool read_committed = false;
  // Bound on reading the whole topic, metadata included.
  std::chrono::milliseconds timeout{60000};
  // Further librdkafka properties (security settings, client.id).
  std::map<std::string, std::string> properties;
};

Expected<TopicContents> read_topic(const std::string& bootstrap, const std::string& topic,
                                   const ReadOptions& options = {});

}  // namespace rivulet::chaos
