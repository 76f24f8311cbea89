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
