#pragma once
// Windowed aggregation: tumbling, hopping and session windows over event
// time, with a grace period for out-of-order records, retention, and two
// emit modes. Kafka Streams' and ksqlDB's semantics (checked against
// ksqlDB's query-validation tests); docs/time-and-windows.md explains them
// with a timeline.
//
// Time: every record carries its event time (Record::timestamp: the Kafka
// record's time, or a column's, see the SQL `timestamp` property). A
// window node keeps *stream time*: the largest timestamp it has seen. The
// records reaching it are those of its task, in the InputMerger's timestamp
// order across the task's inputs, so this is the task's stream time for
// this aggregation (kept in the store, so it survives a restart).
//
// Windows (sizes in milliseconds, epoch-aligned, never starting below 0):
//  - tumbling(size): [start, start + size) with start = t - t % size;
//  - hopping(size, advance): every [start, start + size) with start a
//    multiple of advance and start <= t < start + size;
//  - session(gap): per key, records closer than `gap` to each other form
//    one session [first, last] (both ends inclusive); a record that falls
//    within gap of two sessions bridges them: they merge into one.
//
// Closing: a time window [s, e) closes when stream time >= e + grace; a
// session [s, e] when e < stream time - gap - grace. A record whose window
// is closed is dropped and counted (late_records_dropped(), per window, and
// TaskOutput::late_records_dropped), never silently.
//
// Emit modes:
//  - Changes: every record produces the updated result of each window it
//    lands in (a session merge first produces a tombstone for each session
//    that disappeared), timestamped with the window's largest record time
//    (sessions: the session's end);
//  - Final: nothing until a window closes, then one result per window, in
//    window order, when the record that advanced stream time is processed.
//
// Retention and memory: a window's state is kept until its retention has
// passed (default size + grace; sessions gap + grace): Final frees a window
// as soon as it is emitted, so only open windows are in memory.
// `expire_unemitted` reproduces ksqlDB's EMIT FINAL exactly: a window whose
// retention passes before a record lands exactly on its close time is
// dropped without being emitted (ksqlDB's qtt "large jump" case); off by
// default, where every closed window is emitted once.
//
// Output keys: windowed keys (windowed_key() below) that the sink encodes
// with codecs::windowed (Kafka's TimeWindowed / SessionWindowed formats).
//
// Owned by a TaskGraph; runs on the task's thread.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "operators/aggregation.hpp"
#include "operators/processor.hpp"
#include "operators/serdes.hpp"
#include "operators/state_store.hpp"

namespace rivulet {

enum class WindowKind { Tumbling, Hopping, Session };
enum class WindowEmit { Changes, Final };

struct WindowSpec {
  WindowKind kind = WindowKind::Tumbling;
  int64_t size_ms = 0;     // tumbling and hopping: the size; session: the inactivity gap
  int64_t advance_ms = 0;  // hopping
  int64_t grace_ms = kDefaultGraceMs;
  int64_t retention_ms = -1;  // -1: size + grace (sessions: gap + grace)
  WindowEmit emit = WindowEmit::Changes;
  bool expire_unemitted = false;  // see the header comment

  // ksqlDB's default grace period when none is given: 24 hours.
  static constexpr int64_t kDefaultGraceMs = 24LL * 3600 * 1000;

  static WindowSpec tumbling(int64_t size_ms, int64_t grace_ms = kDefaultGraceMs);
  static WindowSpec hopping(int64_t size_ms, int64_t advance_ms,
                            int64_t grace_ms = kDefaultGraceMs);
  static WindowSpec session(int64_t gap_ms, int64_t grace_ms = kDefaultGraceMs);

  int64_t retention() const;
  // Why the spec is unusable (sizes, advance), or true.
  Expected<bool> validate() const;
};

// ---- Windowed keys ------------------------------------------------------------

struct WindowBounds {
  int64_t start = 0;
  int64_t end = 0;  // time windows: exclusive; sessions: inclusive (the last record's time)
};

// A group key with its window, as a record key: a 3-field struct with
// reserved field names. Sinks encode it with codecs::windowed.
Value windowed_key(Value key, WindowBounds w);
bool is_windowed_key(const Value& v);
// The group key of a windowed key (the value itself when not windowed).
const Value& window_inner_key(const Value& v);
// The window of a windowed key ({0, 0} when not windowed).
WindowBounds window_of(const Value& v);

namespace codecs {
// Kafka's windowed key formats around an inner key codec: TimeWindowed is
// the inner bytes then the start (8 bytes, big-endian); SessionWindowed the
// inner bytes then the end and the start. `size_ms` gives a time window's
// end when decoding. Encoding a key that is not windowed encodes it as the
// inner codec does.
CodecFactory windowed(CodecFactory inner, WindowKind kind, int64_t size_ms);
}  // namespace codecs

// ---- Store ----------------------------------------------------------------------

// The open windows of one windowed aggregation, with its stream time: its
// checkpointed state. Snapshot format (msgpack of a Value):
// [1, stream_time, [[key, start, end, max_timestamp, [acc value, count, ...]], ...]].
class WindowStore final : public StateStore {
 public:
  WindowStore(std::string name, std::shared_ptr<const AggregateSpec> spec,
              std::shared_ptr<const WindowSpec> window);

  const AggregateSpec& spec() const { return *spec_; }
  const WindowSpec& window() const { return *window_; }
  int64_t stream_time() const { return stream_time_; }
  // Windows (time windows: key and window; sessions: sessions) held.
  size_t size() const;

  struct Entry {
    AccumulatorRow row;
    int64_t max_timestamp = 0;
  };
  struct Session {
    int64_t end = 0;
    Entry entry;
  };

  std::string name() const override { return name_; }
  // Packs its entries directly; a deferred serialization (StateStore's
  // default) packs on the task too, since copying them would cost as much.
  std::string serialize() const override;
  Expected<bool> restore(std::string_view bytes) override;

 private:
  friend class WindowedAggregateNode;

  std::string name_;
  std::shared_ptr<const AggregateSpec> spec_;
  std::shared_ptr<const WindowSpec> window_;
  int64_t stream_time_ = -1;
  // Stream time at the last record, while idle advances move it on
  // (WindowedAggregateNode::advance_idle); not saved: after a restore the
  // saved stream time is the base.
  std::optional<int64_t> idle_base_;
  // Time windows: by start, then by key.
  std::map<int64_t, std::unordered_map<Value, Entry, ValueHash>> windows_;
  // Sessions: by key, then by start; and by end for closing.
  std::unordered_map<Value, std::map<int64_t, Session>, ValueHash> sessions_;
  std::multimap<int64_t, std::pair<Value, int64_t>> session_ends_;  // end -> (key, start)
};

// Aggregates each record into its windows and emits per the spec's mode.
class WindowedAggregateNode final : public Processor {
 public:
  // `merges_partials`: the records are partial aggregates of its functions
  // (operators/partial_aggregate.hpp), merged instead of stepped; each
  // counts as its records (late ones included).
  WindowedAggregateNode(std::string name, std::shared_ptr<WindowStore> store,
                        bool merges_partials = false);

  void process(Batch& batch, ProcessContext& ctx) override;
  // Closes (EMIT FINAL: emits) the windows that stream time moved on by
  // `idle_ms` closes; with EMIT CHANGES only frees those past retention.
  // True when a window closed or was dropped.
  bool advance_idle(int64_t idle_ms, ProcessContext& ctx) override;
  uint64_t late_records_dropped() const { return late_; }
  uint64_t skipped_records() const { return skipped_; }
  const std::shared_ptr<WindowStore>& store() const { return store_; }

 private:
  void process_time(Record& r, Batch& out, ProcessContext& ctx);
  void process_session(Record& r, Batch& out, ProcessContext& ctx);
  void expire_time(Batch& out, bool emit);
  void drop_past_retention();
  void emit_closed_time(Batch& out);
  void expire_sessions(Batch& out, bool emit);
  void erase_session(const Value& key, int64_t start, int64_t end);
  Record result_record(const Value& key, WindowBounds w, const WindowStore::Entry& e,
                       int64_t timestamp) const;
  void late(ProcessContext& ctx, int64_t records = 1);

  std::shared_ptr<WindowStore> store_;
  bool merges_partials_;
  AccumulatorRow scratch_;
  uint64_t late_ = 0;
  uint64_t skipped_ = 0;
};

}  // namespace rivulet
