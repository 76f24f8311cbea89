#pragma once
// The decisions of checkpointing and recovery, as pure functions: which
// checkpoint to restore, which to delete, and which input offsets may be
// committed to Kafka. No I/O here; the stores and the task actors call these,
// and tests/checkpoint/recovery_test.cpp checks them exhaustively.
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "runtime/ids.hpp"

namespace rivulet::checkpoint {

// A checkpoint found in a store and whether it was read back intact.
struct CheckpointCandidate {
  CheckpointId id;
  bool valid = false;
};

// The checkpoint to restore: the newest one read back intact. An id that any
// entry marks invalid is never chosen, even if another entry for the same id
// says valid (a store cannot hold two versions of one id; trust the failure).
// std::nullopt: nothing valid, rebuild state from the beginning of the inputs.
std::optional<CheckpointId> choose_restore_point(const std::vector<CheckpointCandidate>& found);

// The checkpoints to delete so that the newest `keep` checkpoints not known to
// be corrupt remain. Known-corrupt checkpoints are not counted: a damaged
// newest file must not push the last good one out. A known-corrupt checkpoint
// older than the oldest one kept is deleted too; newer ones stay for
// inspection. With keep == 0 nothing is deleted (keeping none would leave a
// task without a restore point). Result is sorted, oldest first.
std::vector<CheckpointId> retention_victims(const std::vector<CheckpointId>& existing,
                                            const std::set<CheckpointId>& known_corrupt,
                                            std::size_t keep);

// A checkpoint as a store lists it: its id and, for an incremental one, the
// checkpoint it applies on top of (its parent). A chain is a full snapshot
// (the base) followed by deltas, each the parent of the next.
struct ChainLink {
  CheckpointId id;
  std::optional<CheckpointId> parent;  // nullopt: a full snapshot

  bool operator==(const ChainLink& o) const { return id == o.id && parent == o.parent; }
};

// What restoring checkpoint `id` takes: the ids from its base to itself, in
// the order to apply them. `missing` names the first link that is not in
// `existing` (or a parent cycle), in which case `ids` is empty.
struct ResolvedChain {
  std::vector<CheckpointId> ids;  // base first, `id` last
  std::optional<CheckpointId> missing;
};
ResolvedChain resolve_chain(const std::vector<ChainLink>& existing, CheckpointId id);

// retention_victims for chains: the newest `keep` chains whose base is not
// known to be corrupt stay whole; every link of an older chain goes, and so
// do deltas older than the oldest kept base whose chain has no base any
// more. Damaged links inside a kept chain stay (for inspection). With only
// full snapshots this is exactly retention_victims. Sorted, oldest first.
std::vector<CheckpointId> chain_retention_victims(const std::vector<ChainLink>& existing,
                                                  const std::set<CheckpointId>& known_corrupt,
                                                  std::size_t keep);

// When a task starts a new chain instead of adding a delta.
struct ChainPolicy {
  // Deltas after a base before the next full snapshot; 0: full snapshots only.
  std::size_t max_deltas = 10;
  // A new base once the deltas since the base add up to more than this
  // percentage of the base's size (replaying them would cost more than a base).
  std::size_t max_delta_percent = 50;
};

// The chain a task is writing: decides whether its next snapshot is a full
// base or a delta, and on top of which checkpoint.
class ChainState {
 public:
  explicit ChainState(ChainPolicy policy = {}) : policy_(policy) {}
  // True: the next snapshot must be full (no chain yet, the chain is long or
  // heavy enough, or a taken snapshot was lost so the changes it held are
  // missing from the chain).
  bool next_is_full() const;
  // The parent of the next delta (the last checkpoint written).
  CheckpointId parent() const { return last_; }
  // A snapshot taken as decided was written durably.
  void written(CheckpointId id, bool incremental, uint64_t bytes);
  // A taken snapshot was not written (or dropped): its changes are gone
  // from the change tracking, so the chain cannot continue.
  void broken() { open_ = false; }

 private:
  ChainPolicy policy_;
  bool open_ = false;
  CheckpointId last_{0};
  std::size_t deltas_ = 0;
  uint64_t base_bytes_ = 0;
  uint64_t delta_bytes_ = 0;
};

// The id for the next checkpoint a task writes: above every id present in the
// store, corrupt ones included, so that a new checkpoint never reuses the name
// of an old one and "newest" always means "highest id". Starts at 1.
CheckpointId next_checkpoint_id(const std::vector<CheckpointId>& existing);

// The input offsets that may be committed to Kafka. A committed offset is a
// promise that everything before it never needs reading again, which holds
// only if the output derived from those records is durable (acknowledged by
// the broker) AND the state that reflects them is in a durable checkpoint. So
// per partition: the minimum of the two; a partition missing from either map
// is not committable. `acknowledged[tp]` is the offset below which every
// input record's output (possibly none) has been acknowledged.
std::map<TopicPartition, Offset> committable_offsets(
    const std::map<TopicPartition, Offset>& checkpointed,
    const std::map<TopicPartition, Offset>& acknowledged);

// The part of `committable` worth sending: partitions whose offset is beyond
// the one already committed (or that have none yet). Never moves a committed
// offset backwards: after a restore from an older checkpoint the task seeks to
// the checkpoint's offsets itself, so a committed offset ahead of them costs
// nothing, while rewinding it would only make monitoring show false lag.
std::map<TopicPartition, Offset> offsets_to_commit(
    const std::map<TopicPartition, Offset>& committable,
    const std::map<TopicPartition, Offset>& already_committed);

}  // namespace rivulet::checkpoint
