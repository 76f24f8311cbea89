#pragma once
// A checkpoint of one task: its state as opaque named sections, the stream
// time, and the input offsets that state reflects, plus the binary format a
// snapshot is stored in. The checkpoint layer knows nothing of operators: each
// state store serializes itself into a section and restores from it.
//
// Byte layout (all integers big-endian; docs/checkpoints.md has the details):
//   0     4  magic "RVCK"
//   4     2  format version (1)
//   6     2  reserved, must be 0
//   8     8  body length N
//   16    N  body: one msgpack array (see snapshot.cpp)
//   16+N  8  XXH3-64 checksum of bytes [0, 16+N)
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/error.hpp"
#include "runtime/ids.hpp"

namespace rivulet::checkpoint {

// The task a checkpoint belongs to: one partition of one persistent query.
struct TaskId {
  std::string query;
  PartitionId partition;

  // "q1-3": used in file names and log lines.
  std::string to_string() const;
  bool operator==(const TaskId& o) const { return partition == o.partition && query == o.query; }
  bool operator!=(const TaskId& o) const { return !(*this == o); }
  bool operator<(const TaskId& o) const {
    return query < o.query || (query == o.query && partition < o.partition);
  }
};

// A section whose bytes are produced later (StateStore::serialize_deferred):
// `produce` returns what sections[index].second must hold.
struct DeferredSection {
  std::size_t index = 0;
  std::function<std::string()> produce;
};

struct Snapshot {
  TaskId task;
  CheckpointId id;
  Epoch epoch;  // the assignment epoch of the owner that wrote it
  TimestampMs stream_time = 0;
  TimestampMs created_at = 0;  // wall clock when taken
  // Next offset to read per input partition: the state reflects every record
  // before it and none at or after it.
  std::map<TopicPartition, Offset> input_offsets;
  // State store name -> the bytes it serialized (msgpack inside, opaque here).
  std::vector<std::pair<std::string, std::string>> sections;
  // An incremental snapshot holds only what changed on top of checkpoint
  // `base`; restoring it needs `base` first.
  bool incremental = false;
  CheckpointId base;
  // Sections whose bytes are not produced yet: finish_sections() produces
  // them, on the thread that writes the snapshot (the checkpoint writer's),
  // so that the task is held only for what must see its state as it was.
  // Not part of the stored format, nor of ==; a snapshot with any left is
  // not encodable (check_encodable).
  std::vector<DeferredSection> deferred;

  bool operator==(const Snapshot& o) const;
  bool operator!=(const Snapshot& o) const { return !(*this == o); }
};

inline constexpr char kSnapshotMagic[4] = {'R', 'V', 'C', 'K'};
inline constexpr uint16_t kSnapshotFormatVersion = 1;
inline constexpr std::size_t kSnapshotHeaderSize = 16;
inline constexpr std::size_t kSnapshotChecksumSize = 8;

// Produces the deferred sections' bytes in place, in order, and empties
// `deferred`. Any thread; once per snapshot.
void finish_sections(Snapshot& snapshot);

// The full file image of a snapshot: header, msgpack body, checksum.
// Precondition: check_encodable(snapshot) holds.
std::string encode(const Snapshot& snapshot);

// msgpack bounds every string, binary and array at 2^32 - 1 bytes or
// elements: a Fatal error names the first field beyond that (a state store
// that large has to split itself into several sections). Stores call this
// before encode().
Expected<bool> check_encodable(const Snapshot& snapshot);

// Parses and verifies an encoded snapshot. Never throws. Anything but an
// intact snapshot of a known version is an Error of kind Data whose message
// names what is wrong: wrong magic, unknown version, truncation (with the
// expected and actual sizes), trailing bytes, checksum mismatch, or a
// malformed body.
Expected<Snapshot> decode(std::string_view bytes);

}  // namespace rivulet::checkpoint
