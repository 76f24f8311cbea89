#pragma once
// The processor framework: a task's operator DAG, one batch at a time.
//
// A TaskGraph (task_graph.hpp) owns one DAG of nodes per partition task.
// Source nodes decode raw input into a Batch of Records and push it down the
// DAG; every Processor takes the whole batch, rewrites it in place (drops,
// rewrites, appends records) and forwards it to its children. One virtual
// call per node per batch, never per record: per-record work is a plain loop
// inside the node, with user functions inlined where the node is a template
// over the callable (the fluent API) or called through std::function (the
// SQL planner's compiled expressions).
//
// Errors: a user function that throws, a value of the wrong type, an encoding
// failure: each is a data error for that record (reported through the
// ProcessContext with the record's source position), the record is dropped,
// and processing goes on. Nothing a record contains stops the task.
//
// Threads: all nodes of a DAG run on the owning task's thread.
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "operators/task_output.hpp"
#include "runtime/evaluation_notes.hpp"
#include "runtime/ids.hpp"
#include "runtime/record.hpp"

namespace rivulet {

// The unit of work between nodes: records in processing order.
using Batch = std::vector<Record>;

// Per-call context handed down the DAG: where outputs and data errors go.
// Lives for one TaskGraph::process call, on the task's thread.
class ProcessContext {
 public:
  // Collects what expressions note on this thread while it lives
  // (runtime/evaluation_notes.hpp) into out.expression_errors.
  ProcessContext(TaskOutput& out, PartitionId partition)
      : out_(out), partition_(partition), outer_notes_(thread_evaluation_notes()) {
    thread_evaluation_notes() = &notes_;
  }
  ~ProcessContext();
  ProcessContext(const ProcessContext&) = delete;
  ProcessContext& operator=(const ProcessContext&) = delete;

  TaskOutput& output() { return out_; }
  PartitionId partition() const { return partition_; }

  // Reports that `record` failed in `operation` ("filter", "join", ...) and
  // was dropped. When the record was read in this run (its source is the
  // raw range being processed), the error keeps the input's original key
  // and value bytes, so a dead-letter topic shows exactly what was read;
  // otherwise (a record made from state) their text rendering.
  void data_error(const Record& record, std::string_view operation, std::string reason);
  // Counts `record` as skipped for `reason` (records_skipped, by reason);
  // `operation` names the step for the log line of the reason's first skip.
  void skipped(const Record& record, SkipReason reason, std::string_view operation);
  // Both: a record dropped for a null key is a data error and a skip.
  void null_key(const Record& record, SkipReason reason, std::string_view operation,
                std::string message) {
    data_error(record, operation, std::move(message));
    skipped(record, reason, operation);
  }
  // Reports a record that failed before decoding, with its raw bytes.
  void raw_data_error(const std::string& topic, const RawRecord& raw, std::string_view operation,
                      std::string reason);
  // The raw records being processed (one run of `topic`, in offset order):
  // data_error finds a record's original bytes there.
  void set_raw(const std::string* topic, const RawRecord* begin, const RawRecord* end) {
    raw_topic_ = topic;
    raw_begin_ = begin;
    raw_end_ = end;
  }

 private:
  const RawRecord* find_raw(const SourcePosition& source) const;

  TaskOutput& out_;
  PartitionId partition_;
  const std::string* raw_topic_ = nullptr;
  const RawRecord* raw_begin_ = nullptr;
  const RawRecord* raw_end_ = nullptr;
  EvaluationNotes notes_;
  EvaluationNotes* outer_notes_;
};

class Processor;

// A node of the DAG with children. Owned by its TaskGraph.
class Node {
 public:
  explicit Node(std::string name) : name_(std::move(name)) {}
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const std::string& name() const { return name_; }
  void add_child(Processor* child) { children_.push_back(child); }
  const std::vector<Processor*>& children() const { return children_; }

 protected:
  // Hands `batch` to the children. With one child the batch itself moves on
  // (no copy); with several, all but the last get a copy, in the order the
  // children were added.
  void forward(Batch& batch, ProcessContext& ctx);

 private:
  std::string name_;
  std::vector<Processor*> children_;
  Batch fan_out_;  // scratch for copies when there are several children
};

// A node that takes a batch of records.
class Processor : public Node {
 public:
  using Node::Node;
  // Takes the records of `batch` (they are this node's to rewrite, reorder
  // or drop) and forwards what results. `batch` is left in an unspecified
  // state.
  virtual void process(Batch& batch, ProcessContext& ctx) = 0;
  // The task has read nothing for `idle_ms` more than
  // stream.time.idle.advance.ms, its inputs caught up: a node that keeps
  // stream time moves it to its time at the last record plus `idle_ms`,
  // closes what that closes and forwards the results. True when that closed
  // or dropped anything: a move of stream time alone need not be saved (a
  // restored task advances again from the saved time). Nodes without time
  // keep none (the default).
  virtual bool advance_idle(int64_t idle_ms, ProcessContext& ctx) {
    (void)idle_ms;
    (void)ctx;
    return false;
  }
};

// The rule of Processor::advance_idle for a node that keeps `stream_time`:
// `base` is its stream time at its last record (set here at the first
// advance after it, reset by the node on every record); stream time moves
// to base + `idle_ms` when that is later. True when it moved.
inline bool advance_stream_time_idle(int64_t& stream_time, std::optional<int64_t>& base,
                                     int64_t idle_ms) {
  if (stream_time < 0 || idle_ms <= 0) return false;  // nothing seen yet
  if (!base) base = stream_time;
  const int64_t to = *base + idle_ms;
  if (to <= stream_time) return false;
  stream_time = to;
  return true;
}

// Runs `fn()` for `record`; on an exception reports a data error for
// `operation` and returns false. The try block costs nothing on the path
// where nothing throws.
template <typename Fn>
bool guarded(ProcessContext& ctx, const Record& record, std::string_view operation, Fn&& fn) {
  try {
    fn();
    return true;
  } catch (const std::exception& e) {
    ctx.data_error(record, operation, e.what());
  } catch (...) {
    ctx.data_error(record, operation, "unknown exception");
  }
  return false;
}

}  // namespace rivulet
