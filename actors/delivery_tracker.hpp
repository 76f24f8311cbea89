#pragma once
// DeliveryTracker: decides which input offsets may be committed. A task
// processes input in runs; each run produces some output records. The run's
// input offsets become committable only when every output of that run, and
// of every earlier run, was acknowledged by the broker: committed offsets
// never run ahead of durable output (at-least-once, nothing lost).
//
// Owned by one task actor. `begin_run`, `committable` and `failure` are
// called by the actor; `PendingRun::acknowledge` by the producer's delivery
// thread (it only touches atomics and, before publishing failure, the error
// text).
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "runtime/ids.hpp"

namespace rivulet::actors {

class PendingRun {
 public:
  PendingRun(TopicPartition tp, Offset next_offset, int64_t outputs)
      : tp_(std::move(tp)), next_offset_(next_offset), remaining_(outputs) {}

  // Adds outputs to a run that is still being produced (before the task
  // hands the run to the tracker's committable check).
  void add_outputs(int64_t n) { remaining_.fetch_add(n, std::memory_order_relaxed); }

  // Delivery thread: one output of this run was acknowledged (or failed).
  void acknowledge(const std::string* error) {
    if (error != nullptr && !failed_.load(std::memory_order_relaxed)) {
      error_ = *error;
      failed_.store(true, std::memory_order_release);
    }
    remaining_.fetch_sub(1, std::memory_order_acq_rel);
  }

  bool done() const { return remaining_.load(std::memory_order_acquire) == 0; }
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  const std::string& error() const { return error_; }
  const TopicPartition& tp() const { return tp_; }
  Offset next_offset() const { return next_offset_; }

 private:
  TopicPartition tp_;
  Offset next_offset_;  // first offset after the run
  std::atomic<int64_t> remaining_;
  std::atomic<bool> failed_{false};
  std::string error_;  // written once before failed_ is published
};

class DeliveryTracker {
 public:
  // Registers a run covering input up to (excluding) next_offset, with
  // `outputs` records to be acknowledged. The returned pointer stays valid
  // until the run is done and collected by `committable`.
  PendingRun* begin_run(const TopicPartition& tp, Offset next_offset, int64_t outputs) {
    ++begun_;
    runs_.push_back(std::make_unique<PendingRun>(tp, next_offset, outputs));
    return runs_.back().get();
  }

  // Collects the longest prefix of finished runs and returns the offsets
  // that may now be committed (next offset to read, per partition), merged
  // with earlier uncommitted progress. Stops at the first failed run: its
  // error is then available through `failure()`.
  std::map<TopicPartition, Offset> committable() {
    while (!runs_.empty() && runs_.front()->done()) {
      if (runs_.front()->failed()) {
        failure_ = runs_.front()->error();
        break;
      }
      auto& run = *runs_.front();
      auto& slot = progress_[run.tp()];
      if (run.next_offset() > slot) slot = run.next_offset();
      runs_.pop_front();
      ++collected_;
    }
    return progress_;
  }

  // Input before `offsets` had all its outputs acknowledged earlier: the
  // offsets of a restored checkpoint, which was written only after that.
  // They are committable from the start, so that a task restored at the end
  // of its input (nothing left to process, so no run ever completes)
  // still commits them.
  void start_at(const std::map<TopicPartition, Offset>& offsets) {
    for (const auto& [tp, offset] : offsets) {
      auto& slot = progress_[tp];
      if (offset > slot) slot = offset;
    }
  }

  const std::optional<std::string>& failure() const { return failure_; }
  size_t runs_in_flight() const { return runs_.size(); }
  // Runs begun, and runs collected done by `committable`, since the
  // tracker was made: every run begun before a point is acknowledged once
  // runs_collected() reaches runs_begun() as of that point.
  uint64_t runs_begun() const { return begun_; }
  uint64_t runs_collected() const { return collected_; }

  // The runs not yet collected, handed over when the task ends (their
  // records may still be in the producer: actors/orphan_runs.hpp).
  std::deque<std::unique_ptr<PendingRun>> take_runs() { return std::move(runs_); }

 private:
  std::deque<std::unique_ptr<PendingRun>> runs_;
  std::map<TopicPartition, Offset> progress_;
  std::optional<std::string> failure_;
  uint64_t begun_ = 0;
  uint64_t collected_ = 0;
};

}  // namespace rivulet::actors
