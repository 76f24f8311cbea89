#pragma once
// TaskGraph: one partition task's instance of a Topology: its source nodes
// (one per input topic, each with its own codecs), processors, sinks, KTables
// and aggregation stores. Made by Topology::instantiate(partition).
//
// Ownership and threads: owned by the task (the task actor holds it through
// a shared_ptr that query handles share). process() and stores() run on the
// task's thread only; table(name)'s KTable may be read from any thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "operators/aggregation.hpp"
#include "operators/global_tables.hpp"
#include "operators/input_merger.hpp"
#include "operators/ktable.hpp"
#include "operators/partial_aggregate.hpp"
#include "operators/processor.hpp"
#include "operators/replay_marks.hpp"
#include "operators/sink_node.hpp"
#include "operators/source_node.hpp"
#include "operators/state_store.hpp"
#include "operators/task_output.hpp"
#include "operators/versioned_table.hpp"
#include "operators/window.hpp"

namespace rivulet {

class TaskGraph {
 public:
  PartitionId partition() const { return partition_; }

  // The task's input topics in input-index order, tables flagged (the
  // InputMerger's inputs).
  const std::vector<InputSpec>& inputs() const { return inputs_; }
  std::optional<size_t> input_index(std::string_view topic) const;
  // Leaves out the inputs whose topics have no partition for this task (an
  // application runs as many tasks as its largest input has partitions:
  // PartitionPlan). Their source nodes stay, unfed. Before anything is read.
  void leave_out_inputs(const std::function<bool(const std::string& topic)>& absent);

  // Processes consecutive records of input `input` (this task's partition
  // of that topic), appending outputs and data errors to `out`.
  void process(size_t input, const RawRecord* begin, const RawRecord* end, TaskOutput& out);
  // Decoded records for input `input`, skipping its codecs (test drivers,
  // benchmarks). The batch is consumed.
  void process(size_t input, Batch& records, TaskOutput& out);
  // The same by topic name; false when the topic is not an input.
  bool process(std::string_view topic, const RawRecord* begin, const RawRecord* end,
               TaskOutput& out);

  // The task has read nothing for `idle_ms` past stream.time.idle.advance.ms
  // with its inputs caught up: every node that keeps stream time (windowed
  // aggregations, stream-stream joins) moves it to its time at its last
  // record plus `idle_ms`, closing and emitting what that closes, as a
  // record with that timestamp would (EMIT FINAL results before retention
  // drops anything). Outputs go to `out`. True when anything closed or was
  // dropped (the task's next checkpoint must hold it); a move of stream
  // time alone is not saved.
  bool advance_idle(int64_t idle_ms, TaskOutput& out);

  // A KTable of this task by name: a table input's store, or a queryable
  // aggregation's results. nullptr when there is none.
  KTable* table(std::string_view name) const;
  std::shared_ptr<KTable> table_handle(std::string_view name) const;
  std::vector<std::string> table_names() const;
  AggregateStore* aggregate_store(std::string_view name) const;
  WindowStore* window_store(std::string_view name) const;
  // The history of a versioned table by the table's name; nullptr otherwise.
  VersionedTable* versions(std::string_view table) const;
  // Every piece of state a checkpoint must save: table stores,
  // aggregation stores and window stores (not the derived result tables),
  // then the replay marks of each repartition input and the look-back
  // store of each two-phase GROUP BY's repartition topic (LookBack), in a
  // stable order.
  std::vector<StateStore*> stores() const;

  // ---- Output cache (statestore.cache.max.bytes) ----------------------------
  // With the cache on, the sinks of tables (Topology::add_sink with `table`)
  // keep only the latest record of each key instead of writing every update;
  // flush_output_cache writes what they hold (encoded, in the order each key
  // was first cached). The task flushes before anything it processed becomes
  // durable (commit, checkpoint, transaction), so no update is lost, and
  // when output_cache_bytes() passes its share of the budget. Off by default:
  // every update is written (ksqlDB's query tests expect that).
  // `repartition_partitions` (a repartition topic's partition count): with
  // the cache on, the pre-aggregations of two-phase GROUP BYs
  // (Topology::add_two_phase_aggregate) combine their records until the
  // flush, per destination partition of their repartition topics; 0 (or no
  // function): they pass each record's partial on.
  void set_output_cache(
      bool on, const std::function<int32_t(const std::string& topic)>& repartition_partitions = {});
  // The same with one count for every repartition topic.
  void set_output_cache(bool on, int32_t repartition_partitions) {
    set_output_cache(
        on, [repartition_partitions](const std::string&) { return repartition_partitions; });
  }
  // The high watermark of input `input` as the task last saw it: the first
  // one known becomes the input's horizon, below which the pre-aggregations
  // pass each record's partial on (a replay after a restore).
  void note_high_watermark(size_t input, int64_t high_watermark);
  // No replay of a lost run can reach the repartition topics (exactly-once,
  // or the first run over new repartition topics): pre-aggregations combine
  // from the first record.
  void set_combine_from_start(bool on);
  // The pre-aggregations of two-phase GROUP BYs (their repartition topics,
  // where a restore may look back at them, their horizons).
  const std::vector<PartialAggregateNode*>& pre_aggregates() const { return pre_aggregates_; }
  // Before a snapshot: each pre-aggregation's LookBack takes the offsets
  // `acknowledged(topic)` gives for its repartition topic, and the
  // pre-aggregation's known horizons.
  void note_acknowledged(
      const std::function<std::vector<int64_t>(const std::string& topic)>& acknowledged);
  bool has_table_sinks() const { return !table_sinks_.empty(); }
  bool has_pre_aggregates() const { return !pre_aggregates_.empty(); }
  size_t output_cache_bytes() const;
  size_t output_cache_records() const;
  void flush_output_cache(TaskOutput& out);
  // Forgets what is cached (the task rewinds to a checkpoint).
  void drop_output_cache();

 private:
  friend class Topology;
  friend class BuildContext;
  TaskGraph() = default;

  PartitionId partition_{0};
  std::vector<InputSpec> inputs_;
  std::vector<SourceNode*> sources_;  // by input index
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::pair<std::string, std::shared_ptr<KTable>>> tables_;
  std::vector<std::shared_ptr<AggregateStore>> aggregates_;
  std::vector<std::shared_ptr<WindowStore>> windows_;
  std::vector<std::shared_ptr<StateStore>> other_stores_;  // Topology::add_state_store
  // Histories of versioned tables, by table name.
  std::vector<std::pair<std::string, std::shared_ptr<VersionedTable>>> versions_;
  std::vector<std::shared_ptr<ReplayMarks>> replay_marks_;  // one per repartition input
  std::shared_ptr<GlobalTables> globals_;  // the node's, shared (read-only here)
  std::vector<StateStore*> stores_;
  std::vector<SinkNode*> table_sinks_;                 // among nodes_
  std::vector<PartialAggregateNode*> pre_aggregates_;  // among nodes_
};

}  // namespace rivulet
