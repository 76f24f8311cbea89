#pragma once
// Two-phase aggregation of a GROUP BY over a stream that goes through a
// repartition topic (Flink's local-global aggregation; docs/architecture.md,
// "Two-phase aggregation").
//
// Upstream of the repartition topic, PartialAggregateNode turns each record
// into a *partial aggregate*: the aggregate functions' accumulators after
// that record alone (aggregate_step from nothing). Downstream,
// UnpackPartialsNode hands the partials to the aggregation, which merges
// them into its state (aggregate_merge) instead of stepping a record:
// merging the partial of one record equals stepping it, so results, errors
// and late records are what the one-phase plan gives.
//
// With the output cache on (TaskGraph::set_output_cache with the
// repartition topic's partition count) the node also *combines*: the
// records of one group (and window pane) merge into one partial, held
// until the task flushes its cache (commit, caught up, over budget), so the
// repartition topic carries one partial per group and flush instead of one
// record per input record.
//
// What travels: uncombined, one record per input record, keyed by its group,
// at its time, with its provenance, whose value is its partial:
// [records = 1, accumulators] (the internal msgpack codec). Combined, one
// record (a *pack*) per flush, origin input partition and destination
// partition, holding all of their partials: an array of [group key,
// timestamp, records, accumulators], keyed by the first partial's group key
// (so the producer's partitioner puts it where every partial of it
// belongs), with the origin partition's latest offset held as provenance.
//
// Why combined partials keep replays exact (operators/replay_marks.hpp):
// the reading task skips a pack at or below its origin's mark. A pack is
// delivered whole or not at all, and every record of its origin at or below
// its provenance offset that goes to its destination is in it or in an
// earlier pack there, so a mark never covers a record whose partial was not
// applied. A restored task does not cut its packs where the lost run did,
// so it combines only records at or beyond its *horizon*: the input's high
// watermark as first seen after the task started, beyond anything the lost
// run can have read. Below it, every record travels alone, with the same
// provenance as in the lost run, and the marks judge each one.
//
// Owned by a TaskGraph; runs on the task's thread.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "operators/aggregation.hpp"
#include "operators/processor.hpp"
#include "runtime/codec.hpp"

namespace rivulet {

// A partial aggregate as the aggregation nodes receive it (the value of a
// record UnpackPartialsNode emits): [records, accumulators].
struct PartialAggregate {
  int64_t records = 0;
  AccumulatorRow row;
};
// Decodes a partial for the `n` functions of the store named `store`.
Expected<PartialAggregate> decode_partial(const std::string& store, size_t n, const Value& v);

class PartialAggregateNode final : public Processor {
 public:
  // `spec`: the aggregation's functions (their inputs read the records this
  // node gets). `pane_ms` > 0: a windowed aggregation; records combine only
  // within one pane of that many ms of event time (a tumbling window's
  // size; the gcd of a hopping window's size and advance, whose records
  // all fall in the same windows). `key_codec`: the repartition topic's
  // key codec (destination partitions, as the producer's partitioner
  // computes them).
  PartialAggregateNode(std::string name, std::shared_ptr<const AggregateSpec> spec, int64_t pane_ms,
                       std::unique_ptr<Codec> key_codec);

  void process(Batch& batch, ProcessContext& ctx) override;

  // Combining: on with the repartition topic's partition count, off with 0
  // (what is held is not flushed: flush first).
  void set_combining(int32_t partitions) { partitions_ = partitions; }
  bool combining() const { return partitions_ > 0; }
  // The high watermark of an input partition as the task sees it: the first
  // one known after the task started becomes that input's horizon.
  void note_high_watermark(const TopicPartition& tp, int64_t high_watermark);
  // No replay can follow a lost run (exactly-once: what a lost run wrote
  // was never committed; or no earlier run wrote to the repartition topic):
  // combine from the first record, whatever the horizons.
  void set_combine_from_start(bool on) { from_start_ = on; }
  // -1 when not known yet.
  int64_t horizon(const TopicPartition& tp) const;

  size_t held_partials() const { return partials_.size(); }
  size_t held_bytes() const { return bytes_; }
  // Sends what is held on, one pack per origin and destination.
  void flush(ProcessContext& ctx);
  // Forgets what is held, the horizons and combining from the start (the
  // task rewinds to a checkpoint: what follows is a replay again, and the
  // aborted copies may be visible: the embedded broker shows them).
  void drop();

 private:
  struct Origin {
    TopicPartition tp;
    int64_t horizon = -1;
    int64_t latest = -1;  // the latest offset held
  };
  struct Partial {
    size_t origin = 0;
    int32_t destination = 0;
    Value key;
    int64_t pane = 0;
    TimestampMs timestamp = 0;
    int64_t records = 0;
    AccumulatorRow row;
  };
  struct Slot {
    size_t origin;
    int64_t pane;
    Value key;
    bool operator==(const Slot& o) const {
      return origin == o.origin && pane == o.pane && key == o.key;
    }
  };
  struct SlotHash {
    size_t operator()(const Slot& s) const;
  };

  Origin& origin_of(const SourcePosition& source, size_t& index);

  std::shared_ptr<const AggregateSpec> spec_;
  int64_t pane_ms_;
  std::unique_ptr<Codec> key_codec_;
  int32_t partitions_ = 0;
  bool from_start_ = false;
  std::vector<Origin> origins_;
  std::vector<Partial> partials_;  // first-held order
  std::unordered_map<Slot, size_t, SlotHash> index_;
  size_t bytes_ = 0;
  AccumulatorRow scratch_;
};

// Downstream of the repartition topic: a record's own partial goes on as it
// is; a pack becomes one record per partial (key: the group, timestamp: the
// latest of its records, value: [records, accumulators]), with the pack's
// provenance. Anything else is a data error.
class UnpackPartialsNode final : public Processor {
 public:
  using Processor::Processor;
  void process(Batch& batch, ProcessContext& ctx) override;
};

}  // namespace rivulet
