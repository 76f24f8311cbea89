#pragma once
// Writes checkpoints off the task threads.
//
// A task takes its snapshot on its own thread (the pause the
// rivulet_task_checkpoint_pause_seconds metric reports: the snapshot must
// see one consistent state). A store that can leaves the encoding of its
// full snapshot to this thread (Snapshot::deferred,
// StateStore::serialize_deferred): the task only copies what it must see.
// Writing the snapshot is another matter: the
// encoding, the write, the fsync and the rename take 1-3 ms for a small
// delta and seconds for a full snapshot of a large table (docs/benchmarks.md),
// and on the task's thread every record behind them waits that long. The
// AsyncWriter takes those steps, and the removal of old checkpoints that
// follows them, on a thread of its own, as Flink's asynchronous snapshot
// phase does. The task goes on processing and learns the outcome from the
// ticket; it commits no input offset past a checkpoint until the ticket says
// the checkpoint is durable (actors/task_actor.cpp).
// One per Application (actors/application.cpp), shared by its tasks.
//
// Memory: a task hands over at most one snapshot at a time (it takes the
// next one only after the previous write's outcome), so the queue holds at
// most one snapshot per task.
//
// Threads: submit, wait_idle and queued may be called from any thread. The
// store's calls for one task stay one at a time: the task makes none of its
// own while its write is queued or running (it waits for the ticket first).
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "checkpoint/snapshot.hpp"
#include "checkpoint/store.hpp"
#include "runtime/error.hpp"

namespace rivulet::checkpoint {

// What became of one write.
struct WriteOutcome {
  // The bytes stored, or why nothing was (the write failed, or the task's
  // may_write refused it).
  Expected<uint64_t> written = Error::retriable("not written");
  // Removing the task's old checkpoints after the write failed (the new one
  // is durable all the same).
  std::optional<Error> retain_error;
  // The deferred sections' serialization (on the writer), encode, write,
  // fsync and rename, and the removals.
  uint64_t write_us = 0;
};

// Writes `snapshot` to `store`, then keeps the task's newest `retain`
// checkpoints (chains), timing both: the writer thread's step, and the
// task's own when it writes synchronously.
WriteOutcome write_and_retain(CheckpointStore& store, const Snapshot& snapshot, size_t retain);

// One submitted write, shared by the writer and the task that submitted it.
class WriteTicket {
 public:
  // True once the outcome is known (never blocks).
  bool done() const { return done_.load(std::memory_order_acquire); }
  // Blocks until the outcome is known.
  const WriteOutcome& wait();

 private:
  friend class AsyncWriter;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::atomic<bool> done_{false};
  WriteOutcome outcome_;
};

class AsyncWriter {
 public:
  struct Job {
    CheckpointStore* store = nullptr;  // outlives the writer
    Snapshot snapshot;
    size_t retain = 2;  // checkpoints (chains) kept for the task after the write
    // Asked just before the write: false skips it (a task whose write lease
    // ran out while the job was queued must not write). Null: always write.
    std::function<bool()> may_write;
    // Runs on the writer thread once the ticket is done (a task's wake-up).
    std::function<void()> on_done;
  };

  AsyncWriter();
  // Writes everything queued, then stops the thread.
  ~AsyncWriter();
  AsyncWriter(const AsyncWriter&) = delete;
  AsyncWriter& operator=(const AsyncWriter&) = delete;

  std::shared_ptr<WriteTicket> submit(Job job);
  // Returns once no write of `task` is queued or running (a task handed to
  // another incarnation must not restore while its last write lands).
  void wait_idle(const TaskId& task);
  // Writes queued or running. A job stops counting as its ticket becomes
  // done: an observer of either sees both.
  size_t queued() const;

 private:
  struct Entry {
    Job job;
    std::shared_ptr<WriteTicket> ticket;
  };
  void run();

  mutable std::mutex mutex_;
  std::condition_variable work_cv_;  // a job arrived, or stop
  std::condition_variable idle_cv_;  // a job finished
  std::deque<Entry> queue_;
  std::map<TaskId, size_t> busy_;  // queued or running, per task
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace rivulet::checkpoint
