#pragma once
// Checkpoints in a Kafka topic, so that any node of a cluster can restore any
// task without a shared file system (docs/checkpoints.md, "The Kafka store").
//
// A checkpoint is written as
//   - chunks: the encoded snapshot (the same RVCK image the directory store
//     writes) cut into pieces of at most `chunk_bytes`, one record each,
//     keyed `<task>/<id, 20 digits>/chunk-<index, 6 digits>`; chunk i goes
//     to partition (home + i) % partitions, so a large snapshot spreads over
//     the topic (the embedded broker keeps only 5 MiB per partition);
//   - then, once every chunk was acknowledged, a manifest, keyed
//     `<task>/<id>/manifest`, in the task's home partition (a hash of the
//     task's name): id, parent (for a delta), epoch, total size and the
//     partition, offset, size and XXH3 checksum of every chunk, itself
//     checksummed.
// The manifest is the commit point: chunks without one (a writer that died
// mid-write) are never listed, and a checkpoint is only accepted when every
// chunk the manifest names is found at its offset, intact, and the assembled
// image decodes (RVCK magic, version and checksum).
//
// Listing reads the task's home partition from where this store last read
// it up to its end: every manifest and tombstone of the task is there, in
// the order written. The topic needs no compaction for this (the embedded
// broker has none): the store keeps its own index of the newest manifests.
// Removing a checkpoint writes tombstones (null values) for its manifest and
// every chunk key, so that on a compacted topic (cleanup.policy=compact, which
// open() requests when it creates the topic on a real cluster) compaction
// drops old checkpoints.
//
// Crash tests: with RIVULET_FAULT=checkpoint-after-chunks the process
// SIGKILLs itself after the chunks were acknowledged, before the manifest.
//
// Restoring many tasks at once (a node starting): prefetch() reads the home
// partitions of all of them in one pass, then the chunks of every task's
// newest chain from all partitions together, verifies them as read() does
// and keeps the assembled images (at most `prefetch_bytes`) until each
// task's read() takes its own; anything that did not verify is left to
// read(), which reads it again and reports why.
//
// Ownership and threads: as CheckpointStore. One producer and one reading
// consumer per store; reads (listing, restoring) are serialized on a mutex,
// writes of different tasks run concurrently.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "checkpoint/store.hpp"
#include "connectors/kafka_config.hpp"

namespace rivulet::checkpoint {

struct KafkaStoreOptions {
  std::string topic;  // required
  // Partitions of the topic when this store creates it; an existing topic
  // keeps its own count.
  int32_t partitions = 8;
  // Largest chunk payload; a record is this plus a 32-byte header and its
  // key, and must stay under message.max.bytes (1,000,000 by default).
  std::size_t chunk_bytes = 256 * 1024;
  // Bound on one write (all acknowledgements) and on one read (all fetches).
  std::chrono::milliseconds timeout{30000};
  // Bound on the checkpoint images prefetch() holds (the tasks' restores
  // take them); past it, tasks are read one by one.
  std::size_t prefetch_bytes = std::size_t{512} << 20;
  // Client properties: bootstrap.servers plus anything to pass through
  // (security, client.id); the store adds its own defaults.
  connectors::KafkaProperties producer;
  connectors::KafkaProperties consumer;
};

// One chunk as the manifest records it.
struct ChunkLocation {
  int32_t partition = 0;
  int64_t offset = 0;
  uint32_t size = 0;      // payload bytes
  uint64_t checksum = 0;  // XXH3-64 of the payload
  bool operator==(const ChunkLocation& o) const {
    return partition == o.partition && offset == o.offset && size == o.size &&
           checksum == o.checksum;
  }
};

struct Manifest {
  TaskId task;
  CheckpointId id;
  bool incremental = false;
  CheckpointId parent;  // when incremental
  Epoch epoch;
  uint64_t total_bytes = 0;  // size of the encoded snapshot
  std::vector<ChunkLocation> chunks;
  bool operator==(const Manifest& o) const {
    return task == o.task && id == o.id && incremental == o.incremental && parent == o.parent &&
           epoch == o.epoch && total_bytes == o.total_bytes && chunks == o.chunks;
  }
};

// Record formats (pure functions, tested on their own).
inline constexpr char kManifestMagic[4] = {'R', 'V', 'C', 'M'};
inline constexpr char kChunkMagic[4] = {'R', 'V', 'C', 'C'};
inline constexpr uint16_t kKafkaRecordVersion = 1;
inline constexpr std::size_t kChunkHeaderSize = 32;

std::string manifest_key(const TaskId& task, CheckpointId id);
std::string chunk_key(const TaskId& task, CheckpointId id, uint32_t index);
// What a record key names: the task's name (TaskId::to_string()), the
// checkpoint id and the chunk index (nullopt: the manifest). Nothing for a
// key of any other shape.
struct ParsedKey {
  std::string task;
  CheckpointId id;
  std::optional<uint32_t> chunk;
};
std::optional<ParsedKey> parse_record_key(std::string_view key);

std::string encode_manifest(const Manifest& manifest);
// Never throws; a damaged or foreign value is an Error of kind Data.
Expected<Manifest> decode_manifest(std::string_view value);
// A chunk record's value: header (magic, version, reserved, id, index,
// count, XXH3 of the payload) and the payload.
std::string encode_chunk(CheckpointId id, uint32_t index, uint32_t count, std::string_view payload);
struct ChunkView {
  CheckpointId id;
  uint32_t index = 0;
  uint32_t count = 0;
  uint64_t checksum = 0;
  std::string_view payload;
};
// Checks the header and the payload's checksum.
Expected<ChunkView> decode_chunk(std::string_view value);
// The task's home partition (its manifests and chunk 0): a hash of its name.
int32_t home_partition(const TaskId& task, int32_t partitions);

class KafkaStore final : public CheckpointStore {
 public:
  // Connects, creates the topic if it does not exist (on a real cluster
  // with cleanup.policy=compact) and learns its partition count.
  static Expected<std::unique_ptr<KafkaStore>> open(KafkaStoreOptions options);
  ~KafkaStore() override;

  Expected<uint64_t> write(const Snapshot& snapshot) override;
  Expected<std::vector<CheckpointId>> list(const TaskId& task) override;
  Expected<Snapshot> read(const TaskId& task, CheckpointId id) override;
  Expected<bool> remove(const TaskId& task, CheckpointId id) override;
  // Reads the task's home partition up to its end first, unless this store
  // read it since list() last did (its own writes keep the index current:
  // one writer per task). list() always reads it: restoring a task that may
  // have run elsewhere starts with list().
  Expected<std::vector<ChainLink>> list_links(const TaskId& task) override;
  // Reads, in one pass over the topic, the newest restorable chain of every
  // task (see the class comment). The next list() of each of these tasks
  // uses what this read instead of reading its home partition again.
  void prefetch(const std::vector<TaskId>& tasks) override;

  const std::string& topic() const { return options_.topic; }
  int32_t partitions() const { return partitions_; }
  // The manifest of a listed checkpoint (after list/list_links), for tests
  // and tools.
  std::optional<Manifest> manifest(const TaskId& task, CheckpointId id);
  // Records read while listing whose key or manifest was not understood.
  uint64_t skipped_records() const;
  // Checkpoints prefetch() verified whose read() has not taken them yet.
  std::size_t prefetched() const;

 private:
  KafkaStore(KafkaStoreOptions options, rd_kafka_t* producer, rd_kafka_t* consumer,
             int32_t partitions);
  // Reads partition p from where this store left off to its end, updating
  // the index. Caller holds read_mutex_.
  Expected<bool> catch_up(int32_t partition);
  Expected<bool> catch_up(const std::set<int32_t>& partitions);
  Expected<std::vector<ChainLink>> links_of(const TaskId& task, bool refresh);
  // Produces records and waits for their acknowledgements; fills offsets.
  struct Outgoing {
    int32_t partition = 0;
    std::string key;
    std::optional<std::string> value;  // nullopt: a tombstone
    int64_t offset = -1;               // set when acknowledged
  };
  Expected<bool> produce_all(std::vector<Outgoing>& records, const std::string& what);
  // Fetches the records at the given offsets of one checkpoint's chunks.
  Expected<std::vector<std::string>> fetch_chunks(const Manifest& manifest,
                                                  const std::string& where);
  // Fetches the chunks of many checkpoints together, from all their
  // partitions at once; per manifest its assembled image, or nullopt when a
  // chunk was missing, damaged or not read in time (read() then tells why).
  std::vector<std::optional<std::string>> fetch_many(const std::vector<Manifest>& manifests);

  struct Entry {
    ChainLink link;
    std::optional<Manifest> manifest;  // nullopt: damaged (see `damaged`)
    std::string damaged;
    int32_t partition = 0;
    int64_t offset = -1;  // of the manifest record
  };

  KafkaStoreOptions options_;
  rd_kafka_t* producer_;
  rd_kafka_t* consumer_;
  const int32_t partitions_;
  mutable std::mutex read_mutex_;  // the consumer, the index and the scan positions
  // task name -> id -> newest manifest written for it
  std::map<std::string, std::map<CheckpointId, Entry>> index_;
  std::vector<int64_t> scanned_;  // per partition: next offset to read (-2: beginning)
  std::set<std::string> current_;  // tasks whose home partition was read since list()
  std::set<std::string> fresh_;    // tasks whose next list() uses prefetch()'s reading
  struct Prefetched {
    Manifest manifest;
    std::string image;  // the verified chunks, assembled
  };
  std::map<std::pair<std::string, CheckpointId>, Prefetched> prefetched_;
  uint64_t skipped_ = 0;
};

}  // namespace rivulet::checkpoint
