#pragma once
// InputMerger: time-synchronized processing across the inputs of a task.
//
// A task reads partition p of each of its inputs (table and stream topics).
// The merger buffers the RawBatches that arrive for each input and hands out
// *runs*: consecutive buffered records of one input, in an order such that
// records are processed in timestamp order across inputs, with table inputs
// winning ties (a table record with timestamp <= a stream record's is
// applied first), so that a stream-table join sees the table as of the
// stream record's time whatever the fetch timing. Runs are as long as that
// order allows (never crossing a RawBatch), so a task still processes
// batch-sized slices.
//
// Order: the next record is the head (first unprocessed record) of the
// input with the smallest (timestamp, table before stream, input index); a
// run extends while its input's next record still comes before every other
// input's head. Within an input, offset order is kept whatever the
// timestamps (out-of-order records are not reordered).
//
// Groups: the ordering and waiting below apply among the inputs of one
// group (InputSpec::group, a sub-topology as Kafka Streams splits a
// topology at its repartition topics). Inputs of different groups share no
// operator or state, so a run of one group is never held back by another;
// in particular a task's own repartition topic, which fills only as the
// task's other inputs are processed, does not gate them (which would tie
// their pace to the round trip through the broker).
//
// Waiting (Kafka Streams' KIP-695 rules): an input with nothing buffered
// that may have more data (its position is below its high watermark, or
// either is unknown) blocks the others, because its next record is already
// on the broker and might come first (at most kMaxLagWaitMs). An input that
// is caught up (position >= high watermark) blocks for max_task_idle_ms of
// wall-clock time (0: not at all), waiting for new data. max_task_idle_ms
// < 0 disables all waiting. Positions come from the batches: after a
// batch with records, the offset after its last record; an *empty* batch
// means "the consumer is at the high watermark" (a caught-up signal).
//
// Determinism: with no idle timeouts, the order of processed records of
// each group depends only on its inputs' records, not on batch sizes or
// arrival order (tested).
//
// A pure class: no clocks (the caller passes wall-clock time in), no
// threads. Owned by a task; used on the task's thread.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "runtime/ids.hpp"
#include "runtime/record.hpp"

namespace rivulet {

// One input topic of a task, as a TaskGraph declares it.
struct InputSpec {
  std::string topic;
  bool is_table = false;
  // The input's sub-topology: inputs of different groups feed disjoint
  // operators and state (a repartition topic starts a new one), so they are
  // not ordered against each other and never wait for each other.
  size_t group = 0;
};

// Records [begin, end) of buffered input `input`, to process next. The
// pointers stay valid until the run is consumed (add() does not move
// buffered batches).
struct MergerRun {
  size_t input = 0;
  const RawRecord* begin = nullptr;
  const RawRecord* end = nullptr;
  size_t size() const { return static_cast<size_t>(end - begin); }
};

class InputMerger {
 public:
  using Run = MergerRun;
  // The longest wait for an input that has data on the broker.
  static constexpr int64_t kMaxLagWaitMs = 30000;

  InputMerger(std::vector<InputSpec> inputs, PartitionId partition, int64_t max_task_idle_ms);

  // Buffers a batch (its records must follow the input's previous ones).
  // False when the batch is not for one of this task's input partitions.
  bool add(RawBatch&& batch, TimestampMs now_ms);

  // The next run in timestamp order, or nullopt when nothing is buffered or
  // an input that may still have data holds the others back (waiting()).
  std::optional<Run> next_run(TimestampMs now_ms);
  // The next run ignoring inputs without buffered data (shutdown: process
  // what is here, wait for nothing).
  std::optional<Run> next_run_flushing();
  // Marks the run returned last as processed; advances stream time.
  void consume(const Run& run);

  // True when the last next_run() returned nothing because of a waiting
  // input while others had data.
  bool waiting() const { return waiting_; }
  bool has_buffered() const { return buffered_total_ > 0; }
  // Every input has had all the records on the broker (as its last batch
  // or caught-up signal said) and holds none unprocessed.
  bool all_caught_up() const {
    for (const Input& in : inputs_)
      if (in.buffered > 0 || !in.caught_up()) return false;
    return true;
  }
  // The most records any input is known to have on the broker beyond what
  // it received: its high watermark, as its last batch or caught-up signal
  // carried it, less its position (0 while no watermark is known).
  int64_t lag() const {
    int64_t most = 0;
    for (const Input& in : inputs_)
      if (in.high_watermark >= 0) most = std::max(most, in.high_watermark - in.position);
    return most;
  }
  size_t buffered_records() const { return buffered_total_; }
  size_t buffered_records(size_t input) const { return inputs_[input].buffered; }
  // Largest timestamp processed so far; -1 before the first record.
  TimestampMs stream_time() const { return stream_time_; }

  size_t input_count() const { return inputs_.size(); }
  const TopicPartition& input_partition(size_t input) const { return inputs_[input].tp; }
  bool is_table(size_t input) const { return inputs_[input].is_table; }
  // The offset after the last record received for `input` (-1: none yet).
  int64_t position(size_t input) const { return inputs_[input].position; }
  int64_t high_watermark(size_t input) const { return inputs_[input].high_watermark; }

 private:
  struct Input {
    // Moved, never copied (its buffered batches are the task's input).
    Input() = default;
    Input(Input&&) = default;
    Input& operator=(Input&&) = default;

    TopicPartition tp;
    bool is_table = false;
    size_t group = 0;
    std::deque<RawBatch> batches;  // non-empty batches only
    size_t cursor = 0;             // next record in batches.front()
    size_t buffered = 0;
    int64_t position = -1;
    int64_t high_watermark = -1;
    std::optional<TimestampMs> waiting_since;

    bool caught_up() const { return high_watermark >= 0 && position >= high_watermark; }
    const RawRecord& head() const { return batches.front().records[cursor]; }
  };

  std::optional<Run> pick(std::optional<TimestampMs> now_ms);
  // True when `input` (empty) may receive records that must come first.
  bool blocks(Input& input, TimestampMs now_ms);

  std::vector<Input> inputs_;
  size_t groups_ = 1;
  std::vector<char> blocked_;  // pick()'s per-group flags, kept to reuse their memory
  int64_t max_task_idle_ms_;
  size_t buffered_total_ = 0;
  TimestampMs stream_time_ = -1;
  bool waiting_ = false;
};

}  // namespace rivulet
