#pragma once
// exactly_once_v2 for one task: the pieces of its transaction cycle that do
// not need the task actor's internals (the cycle itself runs in
// task_actor.cpp; docs/exactly-once.md describes it).
//
// A task owns one TransactionalProducer (transactional.id
// `<application.id>-<partition>`). Every commit.interval.ms it ends the
// open transaction at a boundary:
//   1. snapshot its state (full or delta) with the input offsets it reflects
//      and write it to the checkpoint store (durable);
//   2. send those offsets to the transaction (consumer group
//      `<application.id>`);
//   3. commit the transaction.
// So a checkpoint is written *before* its transaction commits, and on a
// restart the group's committed offsets (read with isolation.level=
// read_committed, which makes the broker settle pending transactional
// offsets first) decide which checkpoints describe committed state: those
// whose offsets are ahead of the committed ones belong to a transaction
// that never committed and are dropped (drop_uncommitted_checkpoints);
// the newest one left is the state at the last committed boundary.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/snapshot.hpp"
#include "checkpoint/store.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/transactional_producer.hpp"
#include "runtime/error.hpp"
#include "runtime/ids.hpp"

namespace rivulet::actors {

// True when `checkpoint` reflects input the group has not committed: some
// partition's offset is above the committed one (a partition without a
// committed offset counts as committed at 0).
bool ahead_of_committed(const std::map<TopicPartition, Offset>& checkpoint,
                        const std::map<TopicPartition, Offset>& committed);

// Removes the task's newest checkpoints while they are ahead of `committed`
// (they describe transactions that were aborted or never committed), newest
// first, stopping at the first that is not. A checkpoint that cannot be
// read (damaged) is left for the restore's own rules. Returns the ids
// removed, newest first.
Expected<std::vector<CheckpointId>> drop_uncommitted_checkpoints(
    checkpoint::CheckpointStore& store, const checkpoint::TaskId& task,
    const std::map<TopicPartition, Offset>& committed);

// Where a rewound task resumes: the input offsets its restored state
// reflects (empty: no checkpoint; streams resume at the committed offsets)
// and the id of its next checkpoint.
struct RewindPoint {
  std::map<TopicPartition, Offset> offsets;
  CheckpointId next_checkpoint{1};
};

// What a task needs for exactly_once_v2, set up by the Application.
struct ExactlyOnce {
  connectors::TransactionalProducer* producer = nullptr;  // the task's own
  std::string group_id;  // the consumer group of the input offsets
  // The embedded broker discards the offsets sent to a transaction
  // (PLATFORM.md): after each commit the task also commits them through
  // the consumer, so that restarts find them. Off on a real cluster, where
  // the transaction commits them and a second writer would only race.
  bool mirror_commits = false;
  // Bound on each transactional call (retriable failures are retried
  // within it).
  std::chrono::milliseconds timeout{30000};
  // Transactions aborted in a row before the task gives up (fails).
  int max_consecutive_aborts = 5;
  // Restores the task's stores to its newest checkpoint (every store reset
  // first, so state not in the checkpoint is gone too) and says where its
  // inputs resume. Called on the task's thread during a rewind.
  std::function<Expected<RewindPoint>()> restore_committed;
  // Indexed like the task graph's inputs: true for table topics (read again
  // from the beginning after a rewind, as at start).
  std::vector<bool> table_inputs;
};

// Outcome of ending a transaction at a boundary.
struct BoundaryOutcome {
  enum Kind { Committed, Rewind, Fatal } kind = Committed;
  std::string error;      // Rewind, Fatal: why
  uint64_t bytes = 0;     // Committed: checkpoint size
  bool checkpoint_written = false;  // the snapshot is in the store (Rewind: remove it)
};

// Steps 1-3 above for `snapshot` (its input_offsets are the offsets sent).
// Retriable failures are retried until x.timeout.
BoundaryOutcome commit_boundary(ExactlyOnce& x, checkpoint::CheckpointStore& store,
                                const checkpoint::Snapshot& snapshot);

// Aborts the open transaction and waits until every record of it was
// reported to the delivery handler (purged or sent), so that nothing
// refers to the aborted runs afterwards. An error is fatal for the task.
std::optional<std::string> abort_and_settle(ExactlyOnce& x);

// A DeliveryHandler in front of another that can be switched off: after
// disable() returns, no call reaches the target any more (a task's
// producer outliving its actor must not acknowledge runs that are gone).
class GatedDeliveryHandler : public connectors::DeliveryHandler {
 public:
  explicit GatedDeliveryHandler(connectors::DeliveryHandler* target) : target_(target) {}
  void on_delivery(void* opaque, const std::optional<Error>& error, int32_t partition,
                   int64_t offset) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (target_ != nullptr) target_->on_delivery(opaque, error, partition, offset);
  }
  void disable() {
    std::lock_guard<std::mutex> lock(mutex_);
    target_ = nullptr;
  }

 private:
  std::mutex mutex_;
  connectors::DeliveryHandler* target_;
};

}  // namespace rivulet::actors
