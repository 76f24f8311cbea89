#pragma once
// Records as they move through Rivulet.
//  - RawRecord: bytes as read from or written to Kafka (no decoding yet).
//  - RawBatch: consecutive RawRecords of one topic partition, the unit a
//    consumer hands to a task.
//  - Record: decoded key and value, timestamp, headers, and where it came from.
#include <cstddef>
#include <cstdint>
#include <memory>
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

// A record key's or value's bytes as read: null, owned, or borrowed from
// the ByteArena of the batch the record came in (the Kafka consumer copies a
// whole fetch's bytes into one arena instead of allocating two strings per
// record on its poll thread and freeing them on a task's). Reads like a
// std::optional<std::string_view>.
// Lifetime: a copy of a RawBytes (and so of a RawRecord) owns its bytes and
// may outlive the batch. A move keeps borrowing: a RawBytes moved out of its
// batch is valid only while the batch's arena lives.
class RawBytes {
 public:
  RawBytes() = default;
  RawBytes(const RawBytes& o)
      : state_(o.state_ == State::Null ? State::Null : State::Owned), owned_(o.view()) {}
  RawBytes& operator=(const RawBytes& o) {
    if (this != &o) *this = RawBytes(o);
    return *this;
  }
  RawBytes(RawBytes&&) noexcept = default;
  RawBytes& operator=(RawBytes&&) noexcept = default;
  RawBytes(std::nullopt_t) {}                                                      // NOLINT: null
  RawBytes(std::string owned) : state_(State::Owned), owned_(std::move(owned)) {}  // NOLINT
  RawBytes(const char* owned) : RawBytes(std::string(owned)) {}  // NOLINT: a string
  RawBytes(std::optional<std::string> owned) {                   // NOLINT: a string
    if (owned) *this = RawBytes(std::move(*owned));
  }
  // Bytes that stay where they are, for as long as this RawBytes is read.
  static RawBytes borrow(std::string_view bytes) {
    RawBytes b;
    b.state_ = State::Borrowed;
    b.borrowed_ = bytes;
    return b;
  }

  bool has_value() const { return state_ != State::Null; }
  explicit operator bool() const { return has_value(); }
  // The bytes (empty when null).
  std::string_view view() const {
    return state_ == State::Owned ? std::string_view(owned_) : borrowed_;
  }
  std::string_view operator*() const { return view(); }
  struct Arrow {
    std::string_view v;
    const std::string_view* operator->() const { return &v; }
  };
  Arrow operator->() const { return Arrow{view()}; }
  void emplace(const char* data, size_t size) { *this = RawBytes(std::string(data, size)); }
  void reset() { *this = RawBytes(); }
  // A copy that owns its bytes.
  std::optional<std::string> copy() const {
    if (!has_value()) return std::nullopt;
    return std::string(view());
  }
  // The same, moving the bytes out when this RawBytes owns them.
  std::optional<std::string> release() && {
    if (state_ == State::Owned) return std::move(owned_);
    return copy();
  }

  friend bool operator==(const RawBytes& a, const RawBytes& b) {
    return a.has_value() == b.has_value() && a.view() == b.view();
  }
  friend bool operator!=(const RawBytes& a, const RawBytes& b) { return !(a == b); }
  friend bool operator==(const RawBytes& a, std::nullopt_t) { return !a.has_value(); }
  friend bool operator!=(const RawBytes& a, std::nullopt_t) { return a.has_value(); }

 private:
  enum class State : uint8_t { Null, Owned, Borrowed };
  State state_ = State::Null;
  std::string owned_;
  std::string_view borrowed_;
};

// Memory that RawBytes of one batch borrow: chunks that never move, freed
// together with the last batch that holds the arena.
class ByteArena {
 public:
  // Makes room for `bytes` more in one chunk (a new one when the current one
  // is too small), so that the next copies of that many bytes allocate once.
  void reserve(size_t bytes);
  // Copies `size` bytes into the arena.
  std::string_view copy(const void* data, size_t size);
  size_t allocated() const { return allocated_; }

 private:
  std::vector<std::unique_ptr<char[]>> chunks_;
  char* next_ = nullptr;
  size_t left_ = 0;
  size_t allocated_ = 0;
};

struct RawRecord {
  int64_t offset = -1;
  TimestampMs timestamp = 0;
  RawBytes key;    // null: null key
  RawBytes value;  // null: null value (tombstone)
  Headers headers;
};

struct RawBatch {
  TopicPartition tp;
  std::vector<RawRecord> records;
  // The partition's high watermark as last seen by the consumer (-1 when
  // unknown): lets a task tell "no more data" from "data not fetched yet".
  int64_t high_watermark = -1;
  // Holds the bytes its records borrow (null when they own theirs). Shared,
  // so that a batch may be copied or split.
  std::shared_ptr<ByteArena> arena;
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
  // Inline: every default TopicName (a record's source, before it is set)
  // takes it.
  static const std::string& empty_name() {
    static const auto* empty = new std::string();
    return *empty;
  }
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

// "topic[partition]@offset", as logs and errors name a record.
inline std::string to_string(const SourcePosition& at) {
  return at.topic.str() + "[" + std::to_string(at.partition.value()) + "]@" +
         std::to_string(at.offset.value());
}

struct Record {
  // Provided, not defaulted: value-initializing a Record (a batch's
  // emplace_back()) would otherwise zero all its bytes first, then
  // construct each member over them.
  Record() {}  // NOLINT(modernize-use-equals-default)
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
  // The input record this output was made from (a sink's outputs have
  // one), sent as the first header, `rivulet.input` (kInputHeader), by
  // whoever sends the record on: the producer formats it into its own
  // buffer, where a header made here took a string and a header list per
  // record. sent_headers() gives the whole list.
  std::optional<SourcePosition> input;
};

// The header naming an output's input record: "<topic>:<partition>:<offset>".
inline constexpr const char* kInputHeader = "rivulet.input";
// Room write_input_text needs past the topic's bytes: two colons, a
// partition (11 bytes at most) and an offset (20).
inline constexpr size_t kInputTextExtra = 33;
// Writes "<topic>:<partition>:<offset>" at `out`, which has room for
// at.topic.size() + kInputTextExtra bytes; returns the bytes written.
size_t write_input_text(const SourcePosition& at, char* out);
std::string input_text(const SourcePosition& at);
// The headers `o` is sent with: `rivulet.input` first where it has an
// input, then its own.
Headers sent_headers(const OutputRecord& o);

}  // namespace rivulet
