#pragma once
// TaskInbox: the hand-off of input batches from the consumer's poll thread
// (librdkafka, not an actor) to one task actor. A bounded single-producer,
// single-consumer lock-free queue plus a "wake pending" flag, so the poll
// thread sends the actor one wake message per burst of batches, not one per
// batch, and never takes a lock.
//
// Owned by the Application (outlives the actor and the consumer thread).
// Producer side: the consumer's poll thread only. Consumer side: the task
// actor only (CAF runs an actor on one thread at a time and its mailbox
// orders the hand-over between worker threads).
#include <atomic>
#include <memory>

#include <boost/lockfree/spsc_queue.hpp>

#include "runtime/record.hpp"

namespace rivulet::actors {

class TaskInbox {
 public:
  explicit TaskInbox(size_t capacity_batches) : queue_(capacity_batches) {}
  ~TaskInbox() {
    RawBatch* b = nullptr;
    while (queue_.pop(b)) delete b;
  }
  TaskInbox(const TaskInbox&) = delete;
  TaskInbox& operator=(const TaskInbox&) = delete;

  // Poll thread: false when full (the consumer then pauses the partition and
  // offers again later). On success, returns through `should_wake` whether
  // the caller must send the actor a wake message.
  bool push(RawBatch&& batch, bool& should_wake) {
    auto owned = std::make_unique<RawBatch>(std::move(batch));
    if (!queue_.push(owned.get())) {
      batch = std::move(*owned);  // hand the records back to the caller
      should_wake = !wake_pending_.exchange(true, std::memory_order_acq_rel);
      return false;
    }
    owned.release();
    queued_.fetch_add(1, std::memory_order_relaxed);
    should_wake = !wake_pending_.exchange(true, std::memory_order_acq_rel);
    return true;
  }

  // Task actor: clears the wake flag first, then takes everything queued, so
  // a batch pushed concurrently either is taken now or triggers a new wake.
  template <typename F>
  size_t drain(F&& consume) {
    wake_pending_.store(false, std::memory_order_release);
    size_t n = 0;
    RawBatch* b = nullptr;
    while (queue_.pop(b)) {
      std::unique_ptr<RawBatch> owned(b);
      queued_.fetch_sub(1, std::memory_order_relaxed);
      consume(std::move(*owned));
      ++n;
    }
    return n;
  }

  // Batches waiting (any thread; approximate): a mailbox-size metric.
  size_t size_approx() const { return queued_.load(std::memory_order_relaxed); }

 private:
  boost::lockfree::spsc_queue<RawBatch*> queue_;
  std::atomic<bool> wake_pending_{false};
  std::atomic<size_t> queued_{0};
};

}  // namespace rivulet::actors
