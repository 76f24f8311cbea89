#pragma once
// Stream-stream joins over a join window (Kafka Streams' KStream#join with
// JoinWindows, ksqlDB's `JOIN ... WITHIN`): inner, left, right and full
// outer, both sides co-partitioned and keyed by the join key.
//
// Window: a left record at time t matches the right records of its key
// with a time in [t - before, t + after] (so a right record at t matches
// the left records in [t - after, t + before]). Each match is emitted at
// once, timestamped max(left time, right time).
//
// Time: the two sides share one stream time (the largest timestamp either
// side has seen), kept in the store. A record of side S at t is late when
// t + after_S + grace < stream time (after_S: `after` for the left side,
// `before` for the right): its window closed; it is dropped and counted
// (late_records_dropped(), TaskOutput::late_records_dropped).
//
// Outer non-matches (left records of a LEFT/FULL join, right records of a
// RIGHT/FULL join that matched nothing):
//  - with a grace period (Kafka Streams >= 3.1, ksqlDB >= 0.25 with GRACE
//    PERIOD): held until their window closes (t + after_S + grace < stream
//    time, checked when a record at stream time arrives), then emitted as
//    (record, null) with the record's own time, in time order; a later
//    match removes them. A record whose window already ended (t + after_S <
//    stream time) and that matched nothing is emitted at once;
//  - without one (`grace_ms < 0`, Kafka's legacy JoinWindows.of, ksqlDB's
//    WITHIN without GRACE PERIOD): emitted at once, and again joined when
//    a match arrives later (the "spurious" results of old versions). The
//    effective grace is then 24 hours minus the window size (Kafka's).
//
// Memory: each side's records are kept for retention = before + after +
// grace after stream time passes them, then expired; the pending outer
// records are a subset of them. Records with a null key or value are
// skipped and counted (skipped_records()).
//
// State (StreamJoinStore, a StateStore): stream time, both sides' records
// and the pending outer records; snapshot format (msgpack of a Value):
// [1, stream_time, next_seq, [[side, key, time, seq, pending, value], ...]].
//
// Owned by a TaskGraph; runs on the task's thread.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "operators/processor.hpp"
#include "operators/state_store.hpp"
#include "runtime/value.hpp"

namespace rivulet {

class Topology;

struct StreamJoinSpec {
  int64_t before_ms = 0;
  int64_t after_ms = 0;
  int64_t grace_ms = -1;  // < 0: none given (legacy, eager outer results)
  bool left_outer = false;
  bool right_outer = false;

  static constexpr int64_t kLegacyGraceMs = 24LL * 3600 * 1000;

  bool eager() const { return grace_ms < 0; }
  int64_t grace() const;
  int64_t retention() const { return before_ms + after_ms + grace(); }
  Expected<bool> validate() const;
};

// (key, left value or nullptr, right value or nullptr) -> the joined value.
using StreamJoiner = std::function<Value(const Value& key, const Value* left, const Value* right)>;

class StreamJoinStore final : public StateStore {
 public:
  StreamJoinStore(std::string name, StreamJoinSpec spec);

  const StreamJoinSpec& spec() const { return spec_; }
  int64_t stream_time() const { return stream_time_; }
  // Records held per side (0: left, 1: right), and pending outer records.
  size_t size(int side) const { return sides_[side].size; }
  size_t pending_outer() const { return outer_.size(); }

  std::string name() const override { return name_; }
  std::string serialize() const override;
  Expected<bool> restore(std::string_view bytes) override;

 private:
  friend class StreamJoinNode;
  struct Entry {
    Value value;
    uint64_t seq = 0;
    bool pending = false;  // in outer_
  };
  struct Side {
    std::unordered_map<Value, std::multimap<int64_t, Entry>, ValueHash> by_key;
    std::multimap<int64_t, Value> by_time;  // time -> key, for expiry
    size_t size = 0;
  };
  struct OuterRef {
    int side = 0;
    Value key;
  };
  void clear();
  Entry& insert(int side, const Value& key, int64_t t, Value value);
  void expire();

  std::string name_;
  StreamJoinSpec spec_;
  int64_t stream_time_ = -1;
  // Stream time at the last record while idle advances move it on (not
  // saved; StreamJoinNode::advance_idle).
  std::optional<int64_t> idle_base_;
  uint64_t next_seq_ = 0;
  Side sides_[2];
  std::map<std::pair<int64_t, uint64_t>, OuterRef> outer_;  // (time, seq) -> record
};

// One side's records: joins each with the other side's window, stores it.
class StreamJoinNode final : public Processor {
 public:
  StreamJoinNode(std::string name, std::shared_ptr<StreamJoinStore> store, int side,
                 StreamJoiner joiner);

  void process(Batch& batch, ProcessContext& ctx) override;
  // Emits the pending outer records whose window the idle advance closes,
  // and expires what it passes. Either side's node may do it for the store.
  // True when a record was emitted or expired.
  bool advance_idle(int64_t idle_ms, ProcessContext& ctx) override;
  uint64_t late_records_dropped() const { return late_; }
  uint64_t skipped_records() const { return skipped_; }

 private:
  void emit_closed(const Record& current, Batch& out, ProcessContext& ctx);
  bool join(const Record& r, const Value& key, const Value* left, const Value* right,
            int64_t ts, Batch& out, ProcessContext& ctx);

  std::shared_ptr<StreamJoinStore> store_;
  int side_;
  StreamJoiner joiner_;
  uint64_t late_ = 0;
  uint64_t skipped_ = 0;
};

// Adds a stream-stream join of `left` and `right` (both keyed by the join
// key) to `topo`, with its store `store_name`; returns the node emitting
// the joined records.
size_t add_stream_join(Topology& topo, size_t left, size_t right, const std::string& store_name,
                       StreamJoinSpec spec, StreamJoiner joiner);

}  // namespace rivulet
