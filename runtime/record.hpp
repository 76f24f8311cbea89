#pragma once
// Records as they move through Rivulet.
//  - RawRecord: bytes as read from or written to Kafka (no decoding yet).
//  - RawBatch: consecutive RawRecords of one topic partition, the unit a
//    consumer hands to a task.
//  - Record: decoded key and value, timestamp, headers, and where it came from.
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
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

// A topic's name, interned: one copy of each distinct name per process,
// kept for its life (a process reads few topics), so that each record
// carries a pointer to it instead of a copy of it (most names are longer
// than the 15 characters a std::string holds without allocating). Reads
// and compares like a std::string; equal names are the same pointer.
class TopicName {
 public:
  TopicName() : name_(&empty_name()) {}
  TopicName(const std::string& name) : name_(intern(name)) {}  // NOLINT: a string
  TopicName(const char* name) : name_(intern(name)) {}         // NOLINT: a string

  const std::string& str() const { return *name_; }
  operator const std::string&() const { return *name_; }  // NOLINT: a string
  bool empty() const { return name_->empty(); }
  size_t size() const { return name_->size(); }
  const char* c_str() const { return name_->c_str(); }

  friend bool operator==(const TopicName& a, const TopicName& b) { return a.name_ == b.name_; }
  friend bool operator!=(const TopicName& a, const TopicName& b) { return a.name_ != b.name_; }
  friend bool operator==(const TopicName& a, const std::string& b) { return *a.name_ == b; }
  friend bool operator==(const std::string& a, const TopicName& b) { return a == *b.name_; }
  friend bool operator!=(const TopicName& a, const std::string& b) { return *a.name_ != b; }
  friend bool operator!=(const std::string& a, const TopicName& b) { return a != *b.name_; }
  friend bool operator==(const TopicName& a, const char* b) { return *a.name_ == b; }
  friend bool operator!=(const TopicName& a, const char* b) { return *a.name_ != b; }
  friend std::ostream& operator<<(std::ostream& os, const TopicName& t) { return os << *t.name_; }

 private:
  static const std::string& empty_name();
  static const std::string* intern(std::string_view name);

  const std::string* name_;
};

// Where a record was read from; topic is empty for records that were made
// inside a task (for example by an aggregation).
struct SourcePosition {
  TopicName topic;
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
