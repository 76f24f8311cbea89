#pragma once
// Strong types for the ids and positions that flow through Rivulet, so that
// mixing a partition with an offset, or an epoch with a task, is a compile
// error. Plain values: cheap to copy, hashable, ordered.
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

namespace rivulet {

template <typename Tag, typename Rep>
class StrongId {
 public:
  using rep_type = Rep;
  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep v) : value_(v) {}
  constexpr Rep value() const { return value_; }
  constexpr bool operator==(StrongId o) const { return value_ == o.value_; }
  constexpr bool operator!=(StrongId o) const { return value_ != o.value_; }
  constexpr bool operator<(StrongId o) const { return value_ < o.value_; }
  constexpr bool operator<=(StrongId o) const { return value_ <= o.value_; }
  constexpr bool operator>(StrongId o) const { return value_ > o.value_; }
  constexpr bool operator>=(StrongId o) const { return value_ >= o.value_; }
  friend std::ostream& operator<<(std::ostream& os, StrongId id) { return os << id.value_; }

 private:
  Rep value_{};
};

struct PartitionTag {};
struct OffsetTag {};
struct EpochTag {};
struct CheckpointTag {};

using PartitionId = StrongId<PartitionTag, int32_t>;
// A Kafka offset. By Kafka's convention a committed offset is the offset of
// the *next* record to read.
using Offset = StrongId<OffsetTag, int64_t>;
using Epoch = StrongId<EpochTag, int64_t>;
using CheckpointId = StrongId<CheckpointTag, int64_t>;

// Milliseconds since the Unix epoch (event time or wall-clock time).
using TimestampMs = int64_t;

struct TopicPartition {
  std::string topic;
  PartitionId partition;
  bool operator==(const TopicPartition& o) const {
    return partition == o.partition && topic == o.topic;
  }
  bool operator<(const TopicPartition& o) const {
    return topic < o.topic || (topic == o.topic && partition < o.partition);
  }
  std::string to_string() const { return topic + "[" + std::to_string(partition.value()) + "]"; }
};

}  // namespace rivulet

namespace std {
template <typename Tag, typename Rep>
struct hash<rivulet::StrongId<Tag, Rep>> {
  size_t operator()(rivulet::StrongId<Tag, Rep> id) const noexcept {
    return std::hash<Rep>{}(id.value());
  }
};
template <>
struct hash<rivulet::TopicPartition> {
  size_t operator()(const rivulet::TopicPartition& tp) const noexcept {
    return std::hash<std::string>{}(tp.topic) * 31 + std::hash<int32_t>{}(tp.partition.value());
  }
};
}  // namespace std
