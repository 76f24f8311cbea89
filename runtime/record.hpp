#pragma once
// Records as they move through Rivulet.
//  - RawRecord: bytes as read from or written to Kafka (no decoding yet).
//  - RawBatch: consecutive RawRecords of one topic partition, the unit a
//    consumer hands to a task.
//  - Record: decoded key and value, timestamp, headers, and where it came from.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/ids.hpp"
#include "runtime/value.hpp"

namespace rivulet {

struct Header {
  std::string name;
  std::optional<std::string> value;  // Kafka headers may have null values
  bool operator==(const Header& o) const { return name == o.name && value == o.value; }
};
using Headers = std::vector<Header>;

struct RawRecord {
  int64_t offset = -1;
  TimestampMs timestamp = 0;
  std::optional<std::string> key;    // nullopt: null key
  std::optional<std::string> value;  // nullopt: null value (tombstone)
  Headers headers;
};

struct RawBatch {
  TopicPartition tp;
  std::vector<RawRecord> records;
  // The partition's high watermark as last seen by the consumer (-1 when
  // unknown): lets a task tell "no more data" from "data not fetched yet".
  int64_t high_watermark = -1;
};

// Where a record was read from; topic is empty for records that were made
// inside a task (for example by an aggregation).
struct SourcePosition {
  std::string topic;
  PartitionId partition{-1};
  Offset offset{-1};
};

struct Record {
  Value key;
  Value value;
  TimestampMs timestamp = 0;
  Headers headers;
  SourcePosition source;
};

// A record to be written: destination topic and encoded bytes. The partition
// is chosen by the producer's partitioner from the key unless set.
struct OutputRecord {
  std::string topic;
  std::optional<std::string> key;
  std::optional<std::string> value;
  TimestampMs timestamp = 0;
  Headers headers;
  std::optional<int32_t> partition;
};

}  // namespace rivulet
