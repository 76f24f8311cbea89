#pragma once
// Application: runs a Topology on one node against Kafka. The C++ API's
// entry point, and what `rivulet run` and the demo use.
//
//   rivulet::Topology topo;  ... build ...
//   auto config = rivulet::Config::from_map({{"application.id", "shop"},
//                                            {"bootstrap.servers", bootstrap}});
//   rivulet::Application app(std::move(topo), *config);
//   if (auto ok = app.start(); !ok) { ... ok.error().to_string() ... }
//   auto users = app.table("users");          // query from any thread
//   auto alice = users.get(rivulet::Value::string("alice"));
//   app.stop();                               // graceful: drain, flush, commit
//
// Threads: start() and stop() from one controlling thread. Inside: one
// librdkafka consumer (its poll thread feeds the task inboxes), one
// idempotent producer (its delivery thread acknowledges runs), and one CAF
// actor per partition task.
#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "actors/messages.hpp"
#include "connectors/client_stats.hpp"
#include "operators/task_output.hpp"
#include "operators/topology.hpp"
#include "partitioning/copartition.hpp"
#include "runtime/config.hpp"
#include "runtime/error.hpp"

namespace rivulet {

namespace connectors {
class TopicAdmin;
}

class Application;

// The partition counts an application over `topology` runs with, read
// through `admin` (Application::start; `rivulet submit` counts a cluster
// query's tasks with it). Every input must exist, except a topic the
// topology also writes (a result another query of the same file reads),
// which is counted as it will be created (output_topic_partitions). Then
// plan_partitions: the inputs of a join must agree, others may differ.
Expected<PartitionPlan> plan_topology_partitions(const Topology& topology,
                                                 connectors::TopicAdmin& admin);
// The partition count an output topic is created with when missing:
// Topology::output_partitions' hint (WITH PARTITIONS, else its first
// source's count under `plan`), else the task count.
int32_t output_topic_partitions(const Topology& topology, const PartitionPlan& plan,
                                const std::string& topic);

// A read-only view of one KTable across all partition tasks of an
// Application. Any thread; each lookup is routed to the task owning the key
// (the Java-compatible partitioner over the serialized key).
class TableHandle {
 public:
  std::optional<Value> get(const Value& key) const;
  bool contains(const Value& key) const;
  size_t size() const;  // sum over partitions
  std::vector<Value> keys() const;
  std::vector<std::pair<Value, Value>> snapshot() const;
  // New plain collections (not live views), over all partitions.
  std::vector<std::pair<Value, Value>> filter(
      const std::function<bool(const Value& key, const Value& value)>& pred) const;
  std::vector<std::pair<Value, Value>> map_values(
      const std::function<Value(const Value& value)>& fn) const;
  // Summed over partitions; last_update is the newest of them.
  KTableStats stats() const;
  // Waits until the table holds at least n keys in total.
  bool wait_for_keys(size_t n, std::chrono::milliseconds timeout) const;

 private:
  friend class Application;
  std::string name_;
  std::vector<std::shared_ptr<TaskGraph>> graphs_;  // the tasks running when it was made
};

// One KTable of a task: its rows and heap bytes (KTable::bytes_estimate, a
// large decoded table's from a sample), and whether it is kept encoded.
struct TableMetrics {
  std::string name;
  uint64_t rows = 0;
  uint64_t bytes = 0;
  bool encoded = false;
  // An AUTO table's share of table.decoded.max.bytes: encoded past it.
  std::optional<uint64_t> decoded_max_bytes;
};

// One task's figures, read from atomics without disturbing the task (the
// tables' under their shared locks, briefly).
struct TaskMetrics {
  std::string task;  // "<application.id>-<partition>"
  int32_t partition = 0;
  int64_t epoch = 0;  // the incarnation running it (rivulet.epoch of its outputs)
  std::string state;  // "running", "fenced" (lease run out), "paused", "failed", "stopped"
  std::string error;
  uint64_t records_in = 0, records_out = 0, data_errors = 0, dead_lettered = 0;
  uint64_t late_records_dropped = 0;  // records for windows that had closed
  uint64_t records_skipped = 0;       // skipped by design: null value in an aggregation, ...
  uint64_t replay_duplicates_skipped = 0;  // repartition records applied before (replays)
  uint64_t repartition_unsequenced = 0;    // repartition outputs without rivulet.seq
  std::array<uint64_t, kSkipReasons> skipped_by_reason{};  // the same by SkipReason
  uint64_t expression_errors = 0;  // evaluations that failed and gave NULL (a UDF that threw)
  int64_t stream_time = -1;
  int64_t lag = 0;  // records on the broker not yet read, summed over the task's inputs
  uint64_t input_pauses = 0;  // times its input partitions were paused (inbox full)
  uint64_t checkpoints = 0, checkpoint_bytes = 0, checkpoint_pause_us = 0,
           checkpoint_pause_max_us = 0, restores = 0;
  // Checkpoints not taken because the state is unchanged since the newest durable one.
  uint64_t checkpoints_skipped = 0;
  uint64_t checkpoint_duration_us = 0;  // the last one, from snapshot to durable
  // The last one's deferred sections, encode, write, fsync, rename and
  // retention (on the checkpoint writer's thread unless
  // checkpoint.write.async=false).
  uint64_t checkpoint_write_us = 0;
  uint64_t mailbox_messages = 0;        // the task actor's mailbox (control messages)
  int64_t last_checkpoint_ms = 0;  // wall clock; 0: none yet
  // exactly_once_v2: transactions committed, and aborted (each rewound the task).
  uint64_t transactions_committed = 0, transactions_aborted = 0;
  size_t inbox_batches = 0;        // batches waiting in the task's inboxes
  std::vector<uint64_t> latency_bucket_bounds_us;  // upper bounds
  std::vector<uint64_t> latency_buckets;           // counts per bucket, last is +Inf
  uint64_t latency_sum_us = 0, latency_count = 0;
  std::vector<TableMetrics> tables;  // the task's KTables, by name (when asked for)
};

struct ApplicationStats {
  uint64_t records_in = 0;
  uint64_t records_out = 0;
  uint64_t data_errors = 0;
  uint64_t dead_lettered = 0;
  std::vector<actors::TaskStatus> tasks;
};

class Application {
 public:
  Application(Topology topology, Config config);
  ~Application();
  Application(const Application&) = delete;
  Application& operator=(const Application&) = delete;

  // Checks co-partitioning of every join's inputs (a mismatch names the
  // topics and counts), creates missing output topics with the inputs'
  // partition count, spawns one task actor per partition and starts
  // consuming. A task restored from a checkpoint resumes every input
  // (tables too) at the checkpoint's offsets; without one, tables are read
  // from the beginning of their topics, streams from the committed offsets
  // (earliest when none).
  Expected<bool> start();
  // The same for a subset of the partitions (a cluster node runs the tasks
  // assigned to it; add_task and remove_task change the set while running).
  // `epoch` tags every started task's outputs (0: the wall clock in ms).
  Expected<bool> start(const std::vector<int32_t>& partitions, int64_t epoch = 0);
  // Starts the task of `partition` while the others run: restores its newest
  // checkpoint from the store, seeks its inputs to the checkpoint's offsets
  // (without one: streams at the committed offsets, tables from the
  // beginning) and resumes. Other tasks do not pause. `epoch` as in
  // start(); it must grow with every incarnation of the task.
  Expected<bool> add_task(int32_t partition, int64_t epoch = 0);
  // Hands the task of `partition` over: stops fetching its partitions,
  // processes what was fetched, waits for its outputs to be acknowledged,
  // writes a final checkpoint, commits, and stops its actor. Other tasks do
  // not pause. Returns false when the task failed or its output was not
  // delivered.
  Expected<bool> remove_task(int32_t partition);
  // Stops the task of `partition` at once, writing and committing nothing
  // (its partition was given to another node: this copy is stale).
  void abandon_task(int32_t partition);
  // The partitions whose tasks run here, ascending.
  std::vector<int32_t> task_partitions() const;
  // Write leases (cluster nodes; call before start): every task then holds
  // its own lease, a deadline on the steady clock in ms, and produces,
  // commits and writes checkpoints only before it. A task starts with an
  // expired lease and holds still until extend_lease(); without
  // use_leases() tasks always write.
  void use_leases();
  // Extends the lease of the task of `partition` to `deadline_ms` when it
  // runs here as incarnation `epoch`; false otherwise. Any thread.
  bool extend_lease(int32_t partition, int64_t epoch, int64_t deadline_ms);
  // Expires every task's lease at once (a paused cluster node): tasks hold
  // still until extend_lease() gives them a new one. Any thread.
  void revoke_leases();
  // Whether the task of `partition` runs here and may write now (its lease
  // runs, or leases are not used): what a cluster node checks before it
  // writes on the task's behalf (a file source's loader, task 0). Any thread.
  bool may_write(int32_t partition) const;
  // Interactive query: looks `key_bytes` (a key as codecs::msgpack bytes)
  // up in the KTable `table` of the task of `partition`, on the task's actor
  // between two runs of records (never racing its updates). `epoch` >= 0:
  // only the incarnation `epoch` answers. `done` runs once, on a CAF thread
  // of this application, with (found, value as msgpack bytes) or an error
  // (no such task here, other epoch, no such table, no answer in time).
  // Empty `key_bytes`: a scan, (true, every row as a msgpack array of [key,
  // value] arrays), or an error past actors::kScanMaxBytes of rows.
  using LookupDone = std::function<void(Expected<std::pair<bool, std::string>>)>;
  void lookup(int32_t partition, int64_t epoch, const std::string& table,
              const std::string& key_bytes, std::chrono::milliseconds timeout, LookupDone done);
  // Stops fetching, processes everything fetched, flushes the producer and
  // commits. Idempotent. Returns false when a task failed.
  bool stop();
  // PAUSE / RESUME (the shell's, as ksqlDB's PAUSE query_id): while paused
  // no task processes a record or advances idle stream time; state, tables
  // and the consumer's assignment stay, commits and checkpoints of what was
  // processed go on, and what arrives waits in the topics (the tasks'
  // inboxes fill, then the consumer pauses their partitions: memory stays
  // bounded). resume() wakes every task. Any thread; before start() too.
  void pause();
  void resume();
  bool paused() const;

  TableHandle table(const std::string& name) const;
  ApplicationStats stats() const;
  // `with_tables`: also each task's tables (TaskMetrics::tables), which
  // takes each table's shared lock and walks up to 1,024 decoded rows: for
  // /metrics and /tasks, not for heartbeats and health checks.
  std::vector<TaskMetrics> task_metrics(bool with_tables = false) const;
  // The Kafka clients' requests and bytes ("consumer": the tasks' inputs;
  // "producer": outputs, repartition topics, dead letters; not the
  // exactly_once_v2 tasks' own producers) as of their last statistics
  // report; empty unless running.
  std::vector<std::pair<std::string, connectors::KafkaClientStats>> kafka_client_stats() const;
  // Started, every task restored and running, none failed.
  bool ready() const;
  const std::string& application_id() const;
  // The task count (once started): the partition count of its largest
  // input. Task i reads partition i of every input that has one.
  int32_t partitions() const;
  // Each input's partition count once started (repartition topics
  // included): PartitionPlan::of gives partitions() for any other topic.
  PartitionPlan partition_plan() const;
  // The workers running the task actors once started (task.threads), 0 before.
  size_t task_threads() const;
  // The first task failure, if any (fatal errors stop the task).
  std::optional<std::string> failure() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rivulet
