#pragma once
// Where checkpoints live. A store holds, per task, a set of encoded snapshots
// identified by checkpoint id; "newest" means highest id. Implementations
// provide the four primitives (write, list, read, remove); restoring the
// newest valid checkpoint and retention are built on them here, with the
// decisions taken by the pure functions of recovery.hpp.
//
// Ownership and threads: a node creates one store and shares it among its
// task actors. Every member function may be called from any thread; calls for
// different tasks may run concurrently, calls for one task must come from the
// actor that owns the task, or from the checkpoint writer it handed a write
// to (async_writer.hpp), one at a time, which the assignment and the task's
// wait for its write's outcome guarantee.
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "checkpoint/recovery.hpp"
#include "checkpoint/snapshot.hpp"
#include "runtime/error.hpp"

namespace rivulet::checkpoint {

class CheckpointStore {
 public:
  CheckpointStore() = default;
  CheckpointStore(const CheckpointStore&) = delete;
  CheckpointStore& operator=(const CheckpointStore&) = delete;
  virtual ~CheckpointStore() = default;

  // Stores `snapshot` durably under (snapshot.task, snapshot.id); when this
  // returns a value, the checkpoint survives a crash of the process or the
  // machine. Returns the number of bytes stored. Replaces a checkpoint with
  // the same id atomically. I/O failures are Retriable errors.
  virtual Expected<uint64_t> write(const Snapshot& snapshot) = 0;

  // Ids of the task's checkpoints, newest first; none is an empty list.
  // Lists what is stored without reading it: an id may still turn out corrupt.
  virtual Expected<std::vector<CheckpointId>> list(const TaskId& task) = 0;

  // Reads and verifies one checkpoint. A damaged one (bad checksum,
  // truncation, another task's or id's content) is an Error of kind Data; a
  // failure to read is Retriable. Error messages name where the checkpoint
  // is kept (a file, a topic) so that a log line can point at it.
  virtual Expected<Snapshot> read(const TaskId& task, CheckpointId id) = 0;

  // Deletes one checkpoint; deleting a missing one succeeds.
  virtual Expected<bool> remove(const TaskId& task, CheckpointId id) = 0;

  // The task's checkpoints with the parent of each incremental one, newest
  // first, without reading their content. A store that keeps only full
  // snapshots need not override it.
  virtual Expected<std::vector<ChainLink>> list_links(const TaskId& task);

  // A hint that these tasks are about to be restored (a node starting its
  // tasks): a store may read what their restores will need in bulk now.
  // The restores that follow (list, load_latest_chain) return exactly what
  // they would have without the hint. Never fails: whatever a store could
  // not prepare is read as usual. The default does nothing.
  virtual void prefetch(const std::vector<TaskId>& tasks) { (void)tasks; }

  // The newest checkpoint that restores completely: the links of its chain,
  // base first (one element for a full snapshot), each read back intact and
  // matching the listing. A damaged or missing link is skipped with a warning
  // naming it, and the next older checkpoint is tried: the newest intact
  // prefix of the chain, or else the previous chain. std::nullopt: nothing
  // restorable. A Retriable read failure is returned, as in
  // load_latest_valid.
  Expected<std::optional<std::vector<Snapshot>>> load_latest_chain(const TaskId& task);

  // The newest checkpoint that reads back intact, or std::nullopt if the task
  // has none. Corrupt or truncated ones are skipped with a warning naming the
  // checkpoint and the reason, and remembered so that retain() does not count
  // them. A Retriable read failure is returned rather than skipped: falling
  // back past a readable-later checkpoint would only cost replay, but retrying
  // costs nothing.
  Expected<std::optional<Snapshot>> load_latest_valid(const TaskId& task);

  // Deletes all but the newest `keep` checkpoints of the task that are not
  // known to be corrupt; with incremental snapshots, `keep` counts chains
  // (see chain_retention_victims). Returns how many were deleted.
  Expected<std::size_t> retain(const TaskId& task, std::size_t keep = 2);

 private:
  // Checkpoints this store found corrupt, per task. Guarded by mutex_.
  std::mutex mutex_;
  std::set<std::pair<TaskId, CheckpointId>> known_corrupt_;
};

}  // namespace rivulet::checkpoint
