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
// A cheaper horizon, when the checkpoint says where to look (LookBack):
// each checkpoint keeps, per partition of the repartition topic, the
// highest offset the producer had seen acknowledged there, and everything
// the task wrote after the checkpoint lies above it; and the task's horizon
// then, below which every earlier run's records came from. A restore reads
// the topic from there (Application) and finds the furthest origin offset
// of anything the lost run wrote: records beyond it and beyond the kept
// horizon combine, since no record of a lost run can meet them
// (set_horizon).
//
// Owned by a TaskGraph; runs on the task's thread.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "operators/aggregation.hpp"
#include "operators/processor.hpp"
#include "operators/state_store.hpp"
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

// What a restore needs to look back at a repartition topic (saved with every
// checkpoint, as "rivulet.look-back/<name>"; docs/checkpoints.md):
//
// - per partition of the topic, the highest offset the task's producer had
//   seen acknowledged there when the checkpoint was taken (-1: none). A
//   record the task writes after that lands above it, so a restore reads
//   from there;
// - per input partition, the task's horizon at the time (only the known
//   ones): every record an earlier run wrote of that input came from below
//   it. A restore combines from the larger of it and what it read.
//
// Runs on the task's thread.
class LookBack final : public StateStore {
 public:
  // `internal_name`: the repartition topic's name before scoping (the
  // checkpoint's name for this store does not depend on application.id).
  explicit LookBack(const std::string& internal_name);
  std::string name() const override { return name_; }
  std::string serialize() const override;
  Expected<bool> restore(std::string_view bytes) override;

  // Takes the producer's acknowledged offsets (KafkaProducer::
  // acknowledged_offsets); each partition's start only moves forward.
  void advance(const std::vector<int64_t>& acknowledged);
  // Per partition (shorter than the topic: the rest are -1).
  const std::vector<int64_t>& starts() const { return starts_; }
  // The horizons to keep (replacing those kept).
  void set_horizons(std::map<TopicPartition, int64_t> horizons) { horizons_ = std::move(horizons); }
  const std::map<TopicPartition, int64_t>& horizons() const { return horizons_; }
  // True once restored from a checkpoint: a checkpoint from before these
  // stores has none, and its restore cannot look back.
  bool restored() const { return restored_; }

 private:
  std::string name_;
  std::vector<int64_t> starts_;
  std::map<TopicPartition, int64_t> horizons_;
  bool restored_ = false;
};

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
  // A restore read what the lost run wrote: no record of origin `tp` from
  // `horizon` on can meet one of its records downstream, so those combine.
  // Overrides the high watermark's (a later note_high_watermark keeps it).
  void set_horizon(const TopicPartition& tp, int64_t horizon);

  // The repartition topic this node's packs go to (its sink's), and the
  // store of what a restore needs to look back at it (Topology::instantiate).
  void attach_repartition(std::string topic, std::shared_ptr<LookBack> look_back) {
    topic_ = std::move(topic);
    look_back_ = std::move(look_back);
  }
  const std::string& repartition_topic() const { return topic_; }
  LookBack* look_back() const { return look_back_.get(); }
  // The known horizons of `inputs` (0 for every one when combining from the
  // start), for the look-back store.
  std::map<TopicPartition, int64_t> known_horizons(const std::vector<TopicPartition>& inputs) const;

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
  std::string topic_;
  std::shared_ptr<LookBack> look_back_;
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
