#pragma once
// SinkNode: the exit of a DAG into one output topic. Encodes each record's
// key and value with the topic's codecs into an OutputRecord appended to the
// task's output, with the record's headers and its input record's position
// (OutputRecord::input), which the producer sends as the provenance header
// `rivulet.input` = "<topic>:<partition>:<offset>" (in place of one the input
// carried, e.g. from a repartition topic, which the sink drops). A null key
// or value is written as null. A value that does not
// encode is a data error; the record is dropped. A sink is terminal: it
// forwards nothing (its records' headers move into the output).
//
// A sink of a repartition topic (`sequenced`) also writes `rivulet.seq`,
// the record's rank among the outputs of its input record
// (operators/replay_marks.hpp), so the task reading the topic can skip
// replay duplicates. Other sinks drop a `rivulet.seq` their input carried.
//
// A sink of a table's changelog (`table`) can cache: while caching is on
// (statestore.cache.max.bytes), a record with a key replaces the cached
// record of that key instead of being written, and flush() encodes and
// writes what is cached, each key once, in the order the keys were first
// cached since the last flush. Records with a null key are written at once.
// The task decides when to flush (TaskGraph::flush_output_cache).
//
// Owned by a TaskGraph; runs on the task's thread.
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "operators/processor.hpp"
#include "operators/replay_marks.hpp"
#include "runtime/codec.hpp"

namespace rivulet {

inline constexpr const char* kProvenanceHeader = kInputHeader;

class SinkNode final : public Processor {
 public:
  SinkNode(std::string name, std::string topic, std::unique_ptr<Codec> key_codec,
           std::unique_ptr<Codec> value_codec, bool sequenced = false, bool table = false);

  const std::string& topic() const { return topic_; }
  bool sequenced() const { return sequenced_; }
  bool table() const { return table_; }
  void process(Batch& batch, ProcessContext& ctx) override;

  // Caching (table sinks only; turning it off flushes nothing: flush first).
  void set_caching(bool on) { caching_ = on && table_; }
  size_t cached_records() const { return cache_.size(); }
  // An estimate of the memory the cached records hold.
  size_t cached_bytes() const { return cache_bytes_; }
  void flush(ProcessContext& ctx);
  void drop_cache();

 private:
  void write(Record& r, ProcessContext& ctx);

  std::string topic_;
  std::unique_ptr<Codec> key_codec_;
  std::unique_ptr<Codec> value_codec_;
  bool sequenced_;
  bool table_;
  bool caching_ = false;
  OutputSequencer sequencer_;
  struct Cached {
    Record record;
    size_t bytes = 0;
  };
  std::vector<Cached> cache_;                              // first-cached order
  std::unordered_map<Value, size_t, ValueHash> cache_at_;  // key -> index in cache_
  size_t cache_bytes_ = 0;
};

}  // namespace rivulet
