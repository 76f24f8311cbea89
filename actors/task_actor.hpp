#pragma once
// The task actor: one per partition task (partition i of every
// co-partitioned input). It owns the task's TaskGraph (KTables, operator
// chain, aggregation state), pulls input batches from its TaskInbox, orders
// them across inputs by timestamp (InputMerger: table updates before stream
// records of the same or later time), hands outputs to the producer, and
// commits input offsets once the outputs they produced are acknowledged.
//
// Spawned and owned by the Application; runs on CAF's scheduler.
#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "actors/task_inbox.hpp"
#include "operators/topology.hpp"
#include "operators/task_output.hpp"

namespace rivulet::connectors {
class KafkaConsumer;
class KafkaProducer;
}  // namespace rivulet::connectors

namespace rivulet::checkpoint {
class CheckpointStore;
class AsyncWriter;
}  // namespace rivulet::checkpoint

namespace rivulet::actors {

struct ExactlyOnce;

// Counters of one task, readable from any thread (metrics, status).
struct TaskCounters {
  std::atomic<uint64_t> records_in{0};
  std::atomic<uint64_t> records_out{0};
  std::atomic<uint64_t> data_errors{0};
  std::atomic<uint64_t> dead_lettered{0};
  std::atomic<uint64_t> late_records_dropped{0};  // records for closed windows
  std::atomic<uint64_t> records_skipped{0};       // skipped by design (TaskOutput)
  // Repartition input records skipped as replay duplicates, and repartition
  // outputs written without a sequence number (operators/replay_marks.hpp).
  std::atomic<uint64_t> replay_duplicates_skipped{0};
  std::atomic<uint64_t> repartition_unsequenced{0};
  std::array<std::atomic<uint64_t>, kSkipReasons> skipped_by_reason{};  // by SkipReason
  std::atomic<uint64_t> expression_errors{0};  // evaluations that failed and gave NULL
  std::atomic<int64_t> stream_time{-1};
  std::atomic<bool> failed{false};
  std::atomic<uint64_t> checkpoints{0};
  // Checkpoints not taken: the state is unchanged since the newest durable one.
  std::atomic<uint64_t> checkpoints_skipped{0};
  std::atomic<uint64_t> checkpoint_bytes{0};        // size of the last one
  std::atomic<uint64_t> checkpoint_pause_us{0};     // task paused taking the last one
  std::atomic<uint64_t> checkpoint_pause_max_us{0};
  std::atomic<uint64_t> checkpoint_duration_us{0};  // last one: snapshot taken -> durable
  // Last one: the sections left to the writer serialized, encode, write,
  // fsync, rename and old ones removed (on the checkpoint writer's thread, or
  // on the task's with checkpoint.write.async=false).
  std::atomic<uint64_t> checkpoint_write_us{0};
  std::atomic<uint64_t> mailbox_messages{0};        // the actor's CAF mailbox, sampled per tick
  std::atomic<int64_t> last_checkpoint_ms{0};       // wall clock of the last durable one
  std::atomic<uint64_t> restores{0};
  // exactly_once_v2: transactions committed and aborted (each abort rewinds).
  std::atomic<uint64_t> transactions_committed{0};
  std::atomic<uint64_t> transactions_aborted{0};
  // Processing time per run (decode, operators, hand-off to the producer),
  // as a cumulative histogram over kLatencyBucketsUs, Prometheus-style.
  static constexpr std::array<uint64_t, 8> kLatencyBucketsUs = {100,   500,    1000,   5000,
                                                                10000, 50000, 100000, 1000000};
  std::array<std::atomic<uint64_t>, kLatencyBucketsUs.size() + 1> latency_buckets{};
  std::atomic<uint64_t> latency_sum_us{0};
  std::atomic<uint64_t> latency_count{0};
  void record_latency(uint64_t us) {
    size_t i = 0;
    while (i < kLatencyBucketsUs.size() && us > kLatencyBucketsUs[i]) ++i;
    latency_buckets[i].fetch_add(1, std::memory_order_relaxed);
    latency_sum_us.fetch_add(us, std::memory_order_relaxed);
    latency_count.fetch_add(1, std::memory_order_relaxed);
  }
  // Why the task failed (set once, before `failed` is published).
  std::string failure;
};

// Everything a task needs from its Application. The Application outlives
// the actor, so the raw pointers stay valid for the actor's whole life.
struct TaskEnvironment {
  std::string application_id;
  PartitionId partition;
  std::shared_ptr<TaskGraph> graph;  // shared with TableHandle readers
  // One inbox per input partition, indexed like graph->inputs(): a full
  // inbox pauses only its own partition, so a task waiting for one input
  // (a table catching up) never blocks that input behind another's batches.
  std::vector<TaskInbox*> inboxes;
  // Records buffered per input before its inbox is left to fill up (and the
  // consumer pauses that partition): bounds the task's memory.
  size_t max_buffered_per_input = 8000;
  connectors::KafkaConsumer* consumer = nullptr;
  connectors::KafkaProducer* producer = nullptr;
  TaskCounters* counters = nullptr;
  int64_t commit_interval_ms = 1000;
  // The output cache of the task's table sinks (statestore.cache.max.bytes,
  // TaskGraph::set_output_cache): its budget in bytes; 0: off.
  size_t output_cache_max_bytes = 0;
  // The partition count of each repartition topic (two-phase GROUP BYs
  // combine per destination partition): PartitionPlan::of.
  std::function<int32_t(const std::string& topic)> repartition_partitions;
  // No earlier run of this task can have written records to the
  // repartition topics that a replay would write again differently
  // (exactly_once_v2, or the first start over new repartition topics):
  // two-phase GROUP BYs combine from the first record.
  bool no_replay = false;
  int64_t max_task_idle_ms = 0;
  // stream.time.idle.advance.ms: -1 never (TaskGraph::advance_idle).
  int64_t stream_time_idle_advance_ms = -1;
  std::string dead_letter_topic;  // empty: data errors stop the task (errors.tolerance=none)
  size_t records_per_turn = 20000;  // fairness: yield to other actors after this many
  // This incarnation of the task: grows with every start or restore, and is
  // written into every output's `rivulet.epoch` header (provenance).
  Epoch epoch{0};
  // A write lease (cluster nodes): while the steady clock, in ms since its
  // epoch, is at or past *lease_deadline_ms the task neither processes,
  // produces, commits nor writes checkpoints; it holds still until the
  // lease is extended (or the task is abandoned). Null: no lease.
  const std::atomic<int64_t>* lease_deadline_ms = nullptr;
  // PAUSE (Application::pause): while true the task processes no record and
  // does not advance idle stream time; it still commits and checkpoints
  // what it processed. Its inboxes fill, and the consumer's backpressure
  // then pauses its partitions. A drain (shutdown) processes what was
  // fetched regardless. Null: never paused.
  const std::atomic<bool>* paused = nullptr;
  // Checkpoints (null store or interval 0: none). The store is shared by the
  // application's tasks and outlives them.
  checkpoint::CheckpointStore* checkpoint_store = nullptr;
  // Writes the task's checkpoints off its thread (checkpoint.write.async;
  // owned by the Application, outlives the task). Null: the task writes
  // them itself. Not used under exactly_once_v2, whose checkpoint is part
  // of the transaction's boundary.
  checkpoint::AsyncWriter* checkpoint_writer = nullptr;
  int64_t checkpoint_interval_ms = 0;
  size_t checkpoint_retain = 2;
  // Incremental snapshots: deltas after each full base (0: full snapshots
  // only) and the size of the deltas, in percent of the base's, that starts
  // a new base.
  size_t checkpoint_max_deltas = 10;
  size_t checkpoint_max_delta_percent = 50;
  CheckpointId next_checkpoint_id{1};
  // The input offsets the restored state reflects (empty without a restore).
  std::map<TopicPartition, Offset> restored_offsets;
  // processing.guarantee=exactly_once_v2 (null: at_least_once): the task
  // produces through its own transactional producer and ends a transaction
  // with a checkpoint every commit_interval_ms (transaction_coordinator.hpp).
  // Owned by the Application.
  ExactlyOnce* exactly_once = nullptr;
};

task_actor spawn_task_actor(caf::actor_system& system, TaskEnvironment env);

}  // namespace rivulet::actors
