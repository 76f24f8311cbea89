#include "operators/input_merger.hpp"

#include <tuple>
#include <utility>

namespace rivulet {

namespace {

// The processing-order key of a record of input `index`: timestamp, then
// tables before streams, then input index.
using OrderKey = std::tuple<TimestampMs, int, size_t>;

OrderKey order_key(TimestampMs ts, bool is_table, size_t index) {
  return OrderKey{ts, is_table ? 0 : 1, index};
}

}  // namespace

InputMerger::InputMerger(std::vector<InputSpec> inputs, PartitionId partition,
                         int64_t max_task_idle_ms)
    : max_task_idle_ms_(max_task_idle_ms) {
  inputs_.reserve(inputs.size());
  for (auto& spec : inputs) {
    Input in;
    in.tp = TopicPartition{std::move(spec.topic), partition};
    in.is_table = spec.is_table;
    in.group = spec.group;
    if (spec.group + 1 > groups_) groups_ = spec.group + 1;
    inputs_.push_back(std::move(in));
  }
}

bool InputMerger::add(RawBatch&& batch, TimestampMs /*now_ms*/) {
  for (Input& in : inputs_) {
    if (!(in.tp == batch.tp)) continue;
    if (batch.high_watermark >= 0 && batch.high_watermark > in.high_watermark) {
      in.high_watermark = batch.high_watermark;
    }
    if (batch.records.empty()) {
      // The consumer found nothing more: it stands at the high watermark.
      if (batch.high_watermark > in.position) in.position = batch.high_watermark;
      return true;
    }
    in.position = batch.records.back().offset + 1;
    in.buffered += batch.records.size();
    buffered_total_ += batch.records.size();
    in.waiting_since.reset();
    in.batches.push_back(std::move(batch));
    return true;
  }
  return false;
}

// Kafka Streams' rules (KIP-695): an empty input that still has data on the
// broker (or whose position is not known yet) is waited for, because its
// next record is already there and may come first; only a caught-up input
// is waited for no longer than max.task.idle.ms (0: not at all), and -1
// disables waiting entirely. The wait for a lagging input is bounded too
// (kMaxLagWaitMs), so a partition the consumer cannot read does not stop a
// task forever.
bool InputMerger::blocks(Input& in, TimestampMs now_ms) {
  if (max_task_idle_ms_ < 0) return false;
  const int64_t limit = in.caught_up() ? max_task_idle_ms_ : kMaxLagWaitMs;
  if (limit <= 0) return false;
  if (!in.waiting_since) in.waiting_since = now_ms;
  return now_ms - *in.waiting_since < limit;
}

std::optional<InputMerger::Run> InputMerger::next_run(TimestampMs now_ms) {
  return pick(now_ms);
}

std::optional<InputMerger::Run> InputMerger::next_run_flushing() {
  return pick(std::nullopt);
}

std::optional<InputMerger::Run> InputMerger::pick(std::optional<TimestampMs> now_ms) {
  waiting_ = false;
  if (buffered_total_ == 0) return std::nullopt;
  // Groups held back by one of their empty inputs (every empty input is
  // looked at, so each one's wait starts now).
  std::vector<char>& blocked = blocked_;
  blocked.assign(groups_, 0);
  if (now_ms) {
    for (Input& in : inputs_) {
      if (in.buffered == 0 && blocks(in, *now_ms)) blocked[in.group] = 1;
    }
  }
  // The earliest head among the groups free to go.
  size_t best = inputs_.size();
  OrderKey best_key;
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const Input& in = inputs_[i];
    if (in.buffered == 0 || blocked[in.group]) continue;
    OrderKey k = order_key(in.head().timestamp, in.is_table, i);
    if (best == inputs_.size() || k < best_key) {
      best = i;
      best_key = k;
    }
  }
  if (best == inputs_.size()) {
    waiting_ = true;  // data is buffered, but only in groups that wait
    return std::nullopt;
  }
  // The run ends before the first record that no longer precedes every
  // other head of its group.
  const size_t group = inputs_[best].group;
  std::optional<OrderKey> limit;
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const Input& in = inputs_[i];
    if (i == best || in.buffered == 0 || in.group != group) continue;
    OrderKey k = order_key(in.head().timestamp, in.is_table, i);
    if (!limit || k < *limit) limit = k;
  }
  const Input& in = inputs_[best];
  const auto& records = in.batches.front().records;
  size_t end = in.cursor + 1;
  if (limit) {
    while (end < records.size() && order_key(records[end].timestamp, in.is_table, best) < *limit) {
      ++end;
    }
  } else {
    end = records.size();
  }
  return Run{best, records.data() + in.cursor, records.data() + end};
}

void InputMerger::consume(const Run& run) {
  Input& in = inputs_[run.input];
  for (const RawRecord* r = run.begin; r != run.end; ++r) {
    if (r->timestamp > stream_time_) stream_time_ = r->timestamp;
  }
  size_t n = run.size();
  in.cursor += n;
  in.buffered -= n;
  buffered_total_ -= n;
  if (in.cursor >= in.batches.front().records.size()) {
    in.batches.pop_front();
    in.cursor = 0;
  }
}

}  // namespace rivulet
