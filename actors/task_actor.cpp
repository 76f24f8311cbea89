#include "actors/task_actor.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <thread>

#include "actors/delivery_tracker.hpp"
#include "actors/orphan_runs.hpp"
#include "actors/table_scan.hpp"
#include "actors/transaction_coordinator.hpp"
#include "checkpoint/async_writer.hpp"
#include "checkpoint/recovery.hpp"
#include "checkpoint/store.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/retry_delay.hpp"
#include "operators/input_merger.hpp"
#include "runtime/log.hpp"
#include "runtime/sanitizer.hpp"

namespace rivulet::actors {

namespace {

// How far behind its inputs' high watermarks a task with nothing buffered
// still counts as caught up and writes its cached outputs at once: less
// than one of the consumer's batches (`consumer.batch.max.records`, 2,000
// by default). At the live edge a task is behind by the few records
// fetched since its last batch (the embedded broker returns one producer
// batch per partition per fetch); in a backlog it is behind by more, and
// combines until its commit.
constexpr int64_t kCaughtUpLagRecords = 1000;

int64_t wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

int64_t epoch_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// Microseconds from `since` until now (steady clock).
uint64_t micros_since(std::chrono::steady_clock::time_point since) {
  using namespace std::chrono;
  return static_cast<uint64_t>(duration_cast<microseconds>(steady_clock::now() - since).count());
}

struct TaskState {
  static inline const char* name = "rivulet.task";

  TaskEnvironment env;
  std::unique_ptr<InputMerger> merger;
  DeliveryTracker tracker;
  TaskOutput output;
  std::string task_name;
  std::string state = "running";
  std::string error;
  bool wait_timer_armed = false;
  std::map<TopicPartition, Offset> committed;  // last offsets handed to the consumer
  // Input progress of the state: the next offset per input partition after
  // the last record processed.
  std::map<TopicPartition, Offset> processed;
  // A snapshot taken but not yet written: it becomes durable only once the
  // outputs of everything it reflects are acknowledged (otherwise a restore
  // from it would skip input whose output was lost).
  std::optional<checkpoint::Snapshot> pending;
  std::chrono::steady_clock::time_point pending_since;  // when `pending` was taken
  uint64_t pending_changes = 0;                         // `changes` when `pending` was taken
  uint64_t pending_runs = 0;  // runs begun before it (tracker.runs_begun())
  // A snapshot handed to the checkpoint writer (env.checkpoint_writer) and
  // not yet known durable: what its outcome updates. No other snapshot is
  // taken, and no call for this task goes to the store, until it is.
  struct InFlightWrite {
    std::shared_ptr<checkpoint::WriteTicket> ticket;
    CheckpointId id;
    bool incremental = false;
    std::map<TopicPartition, Offset> input_offsets;
    std::chrono::steady_clock::time_point since;  // when the snapshot was taken
    uint64_t changes = 0;
  };
  std::optional<InFlightWrite> writing;
  uint64_t data_errors_seen = 0;                        // for the log's rate limit
  // The offsets of the newest durable checkpoint: commits never pass them.
  std::map<TopicPartition, Offset> durable;
  // Changes to the state since the task started: runs processed and idle
  // advances that changed something; and how many of them the newest
  // durable (or the restored) checkpoint holds.
  uint64_t changes = 0;
  uint64_t durable_changes = 0;
  // Wall clock of the last run processed (or of the start or a rewind):
  // stream.time.idle.advance.ms counts from it.
  int64_t last_input_ms = 0;
  CheckpointId next_checkpoint{1};
  // The chain of incremental snapshots being written.
  checkpoint::ChainState chain;

  // The output cache (statestore.cache.max.bytes): the run that first put a
  // record into it since the last flush, holding one extra output until the
  // flush (emit); null while the cache is empty.
  PendingRun* cache_anchor = nullptr;

  // Stopped with records still in the producer (abandoned): their reports
  // must not reach freed runs.
  ~TaskState() {
    if (cache_anchor != nullptr) cache_anchor->acknowledge(nullptr);
    adopt_orphan_runs(tracker.take_runs());
  }
  // exactly_once_v2: transactions aborted in a row.
  int consecutive_aborts = 0;
};

using task_pointer = task_actor::stateful_pointer<TaskState>;

// False once the task's write lease has run out (see TaskEnvironment).
bool may_write(const TaskState& st) {
  if (st.env.lease_deadline_ms == nullptr) return true;
  return wall_clock_ms() < st.env.lease_deadline_ms->load(std::memory_order_acquire);
}

// True while the application is paused (see TaskEnvironment).
bool is_paused(const TaskState& st) {
  return st.env.paused != nullptr && st.env.paused->load(std::memory_order_acquire);
}

Header make_header(const char* name, std::string value) {
  return Header{name, std::optional<std::string>(std::move(value))};
}

void fail(task_pointer self, std::string why) {
  auto& st = self->state;
  if (st.state == "failed") return;
  st.state = "failed";
  st.error = std::move(why);
  st.env.counters->failure = st.error;
  st.env.counters->failed.store(true, std::memory_order_release);
  logger()->error("task {} failed: {}", st.task_name, st.error);
}

// Sends the outputs and data errors in st.output to the producer as outputs
// of `run`, counting them into it first. False when a data error stopped
// the task (errors.tolerance=none).
bool send_output(task_pointer self, PendingRun* run);

// Sends one run's outputs and data errors to the producer, registering them
// with the tracker before the first produce so no acknowledgement is missed.
// A run that put records into the output cache (`cached`) while it was
// empty also holds one more "output", released when the cache is flushed:
// it and every later run stay uncommitted until the cached records were
// written and acknowledged.
void emit(task_pointer self, const TopicPartition& input, Offset next_offset, bool cached) {
  auto& st = self->state;
  const bool hold = cached && st.cache_anchor == nullptr;
  PendingRun* run = st.tracker.begin_run(input, next_offset, hold ? 1 : 0);
  if (hold) st.cache_anchor = run;
  send_output(self, run);
}

// Writes what the table sinks cached. Its records become outputs of the run
// that first cached (the anchor): that run, and with it every later one,
// becomes committable only when they are acknowledged; then its hold is
// released.
void flush_output_cache(task_pointer self) {
  auto& st = self->state;
  if (st.cache_anchor == nullptr) return;  // nothing cached since the last flush
  if (st.state == "failed") return;         // its work is not written (the anchor holds it)
  PendingRun* anchor = st.cache_anchor;
  st.cache_anchor = nullptr;
  st.output.clear();
  st.env.graph->flush_output_cache(st.output);
  send_output(self, anchor);
  anchor->acknowledge(nullptr);  // the hold
}

// A rewind or an abandoned task: the cache is dropped with what it held,
// and the anchor's hold released so the run can be collected.
void drop_output_cache(TaskState& st) {
  st.env.graph->drop_output_cache();
  if (st.cache_anchor != nullptr) st.cache_anchor->acknowledge(nullptr);
  st.cache_anchor = nullptr;
}

bool send_output(task_pointer self, PendingRun* run) {
  auto& st = self->state;
  auto& out = st.output;
  const bool dead_letter = !st.env.dead_letter_topic.empty();
  if (!out.data_errors.empty() && !dead_letter) {
    fail(self, "data error (errors.tolerance=none): " + out.data_errors.front().to_string());
    return false;
  }
  const int64_t total = static_cast<int64_t>(out.records.size()) +
                        (dead_letter ? static_cast<int64_t>(out.data_errors.size()) : 0);
  run->add_outputs(total);
  // One log line per data error, with its context (task, operation, topic,
  // partition, offset, key); past the first 100 of a task only every
  // 1000th, so a flood of poison cannot flood the log (the counters count
  // them all). The correlation id "<task>/<epoch>/<n>" ties the log line to
  // the dead letter (header rivulet.error.id).
  for (auto& err : out.data_errors) {
    ++st.data_errors_seen;
    err.error.context.correlation_id = st.task_name + "/" +
                                       std::to_string(st.env.epoch.value()) + "/" +
                                       std::to_string(st.data_errors_seen);
    if (st.data_errors_seen <= 100 || st.data_errors_seen % 1000 == 0) {
      logger()->warn("task {}: data error #{}{}: {}", st.task_name, st.data_errors_seen,
                     dead_letter ? " (dead-lettered to " + st.env.dead_letter_topic + ")" : "",
                     err.to_string());
    }
  }
  const std::string& task_header = st.task_name;
  const std::string epoch_header = std::to_string(st.env.epoch.value());
  // After each record's own headers, without copying them into it.
  const std::vector<connectors::HeaderRef> run_headers = {{"rivulet.task", task_header},
                                                          {"rivulet.epoch", epoch_header}};
  for (auto& rec : out.records) {
    auto r = st.env.producer->produce(rec, run, run_headers);
    if (!r) {
      std::string msg = r.error().to_string();
      run->acknowledge(&msg);
    }
  }
  if (dead_letter) {
    for (auto& err : out.data_errors) {
      OutputRecord dlq;
      dlq.topic = st.env.dead_letter_topic;
      dlq.key = err.raw_key;
      dlq.value = err.raw_value;
      dlq.headers = {make_header("rivulet.error", err.error.message),
                     make_header("rivulet.error.kind", "data"),
                     make_header("rivulet.error.operation", err.error.context.operation),
                     make_header("rivulet.error.id", err.error.context.correlation_id),
                     make_header("rivulet.source.topic", err.error.context.topic),
                     make_header("rivulet.source.partition",
                                 std::to_string(err.error.context.partition)),
                     make_header("rivulet.source.offset", std::to_string(err.error.context.offset)),
                     make_header("rivulet.task", task_header),
                     make_header("rivulet.error.payload", err.rendered ? "rendered" : "original")};
      auto r = st.env.producer->produce(dlq, run);
      if (!r) {
        std::string msg = r.error().to_string();
        run->acknowledge(&msg);
      }
    }
    st.env.counters->dead_lettered.fetch_add(out.data_errors.size(), std::memory_order_relaxed);
  }
  st.env.counters->data_errors.fetch_add(out.data_errors.size(), std::memory_order_relaxed);
  st.env.counters->records_out.fetch_add(out.records.size(), std::memory_order_relaxed);
  st.env.counters->late_records_dropped.store(out.late_records_dropped, std::memory_order_relaxed);
  st.env.counters->records_skipped.store(out.records_skipped, std::memory_order_relaxed);
  st.env.counters->replay_duplicates_skipped.store(out.replay_duplicates_skipped,
                                                   std::memory_order_relaxed);
  st.env.counters->repartition_unsequenced.store(out.repartition_unsequenced,
                                                 std::memory_order_relaxed);
  for (size_t i = 0; i < kSkipReasons; ++i)
    st.env.counters->skipped_by_reason[i].store(out.skipped_by_reason[i], std::memory_order_relaxed);
  st.env.counters->expression_errors.store(out.expression_errors, std::memory_order_relaxed);
  for (const auto& line : out.first_skips) logger()->info("task {}: {}", st.task_name, line);
  return true;
}

void take_inbox(task_pointer self);
bool ensure_transaction(task_pointer self);

// Processes buffered input in timestamp order until the merger has nothing
// ready or this turn's budget is spent. `flush` ignores waits for inputs
// that may still have data (shutdown).
void process(task_pointer self, bool flush) {
  auto& st = self->state;
  if (st.state == "failed") return;
  // exactly_once_v2: nothing is processed outside a transaction, and none
  // is begun once the task drained for its final commit.
  if (st.env.exactly_once != nullptr && st.state != "running") return;
  size_t budget = st.env.records_per_turn;
  while (budget > 0) {
    if (!may_write(st) || (!flush && is_paused(st))) {
      // Fenced or paused: hold still and look again when the lease may be
      // back (resume() wakes the task at once).
      if (!st.wait_timer_armed) {
        st.wait_timer_armed = true;
        self->delayed_send(self, std::chrono::milliseconds(50), wake_atom::value);
      }
      return;
    }
    auto run = flush ? st.merger->next_run_flushing() : st.merger->next_run(wall_clock_ms());
    if (!run) {
      // Room may have been made for batches left waiting in an inbox.
      size_t before = st.merger->buffered_records();
      take_inbox(self);
      if (st.merger->buffered_records() == before) break;
      continue;
    }
    if (!ensure_transaction(self)) return;
    auto run_started = std::chrono::steady_clock::now();
    st.output.clear();
    const auto& tp = st.merger->input_partition(run->input);
    const uint64_t cached_before = st.output.records_cached;
    st.env.graph->note_high_watermark(run->input, st.merger->high_watermark(run->input));
    st.env.graph->process(run->input, run->begin, run->end, st.output);
    auto count = static_cast<size_t>(run->end - run->begin);
    Offset next{(run->end - 1)->offset + 1};
    st.env.counters->records_in.fetch_add(count, std::memory_order_relaxed);
    emit(self, tp, next, st.output.records_cached != cached_before);
    if (st.cache_anchor != nullptr &&
        st.env.graph->output_cache_bytes() > st.env.output_cache_max_bytes) {
      flush_output_cache(self);
    }
    st.processed[tp] = next;
    ++st.changes;
    st.last_input_ms = wall_clock_ms();
    st.merger->consume(*run);
    st.env.counters->record_latency(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                              run_started)
            .count()));
    budget = count >= budget ? 0 : budget - count;
    if (st.state == "failed") return;
  }
  st.env.counters->stream_time.store(st.merger->stream_time(), std::memory_order_relaxed);
  // Caught up: nothing buffered is left to update the cached rows and the
  // broker holds at most kCaughtUpLagRecords more of any input than the
  // task has received, so they go out now rather than at the next commit. A task in
  // a backlog (its inbox may run dry while the next batch is on its way)
  // keeps caching and writes each key once per commit; one that keeps up
  // adds no latency.
  if (budget > 0 && st.cache_anchor != nullptr && !st.merger->has_buffered() &&
      st.merger->lag() <= kCaughtUpLagRecords) {
    flush_output_cache(self);
  }
  if (budget == 0) {
    // More may be ready: continue after other actors had their turn.
    self->send(self, wake_atom::value);
  } else if (!flush && st.merger->waiting() && !st.wait_timer_armed) {
    // An input that may still have data holds the others back; look again
    // soon (its batch or max.task.idle.ms, whichever comes first).
    st.wait_timer_armed = true;
    self->delayed_send(self, std::chrono::milliseconds(5), wake_atom::value);
  }
}

// Moves fetched batches from the inboxes into the merger, for each input
// only while it holds fewer than max_buffered_per_input records: an input
// with enough buffered stays in its inbox, which fills up and makes the
// consumer pause that partition (backpressure, bounded memory).
void take_inbox(task_pointer self) {
  auto& st = self->state;
  int64_t now = wall_clock_ms();
  for (size_t i = 0; i < st.env.inboxes.size(); ++i) {
    if (st.merger->buffered_records(i) >= st.env.max_buffered_per_input) continue;
    st.env.inboxes[i]->drain([&](RawBatch&& batch) { st.merger->add(std::move(batch), now); });
  }
}

// stream.time.idle.advance.ms: a task whose inputs are all caught up and
// that has read nothing for longer than that moves the stream time of its
// windows and stream-stream joins on with the wall clock, that far behind
// (TaskGraph::advance_idle), so what an idle partition holds open closes.
// What closes goes out as a run of its own at the task's current input
// offsets: commits, and the checkpoint that holds the closed state, wait
// for its acknowledgement as for any run. Under exactly_once_v2 it goes
// into a transaction (begun only when there is output).
void advance_idle_time(task_pointer self) {
  auto& st = self->state;
  const int64_t after = st.env.stream_time_idle_advance_ms;
  if (after < 0 || st.state != "running" || st.processed.empty()) return;
  if (!st.merger->all_caught_up() || !may_write(st) || is_paused(st)) return;
  const int64_t idle_ms = wall_clock_ms() - st.last_input_ms - after;
  if (idle_ms <= 0) return;
  st.output.clear();
  const uint64_t cached_before = st.output.records_cached;
  if (!st.env.graph->advance_idle(idle_ms, st.output)) return;
  ++st.changes;
  const bool cached = st.output.records_cached != cached_before;
  if (st.output.records.empty() && st.output.data_errors.empty() && !cached) return;
  if (!ensure_transaction(self)) return;  // rewound: the advance is undone with the rest
  const auto& [tp, next] = *st.processed.begin();
  emit(self, tp, next, cached);
  flush_output_cache(self);  // idle: nothing will update the cached rows soon
}

bool checkpoints_enabled(const TaskState& st) {
  return st.env.checkpoint_store != nullptr && st.env.checkpoint_interval_ms > 0;
}

// True when the newest durable (or restored) checkpoint already holds the
// task's state: the state changes only by processing input (process()) and
// by idle advances of stream time (advance_idle_time), both counted in
// `changes`. An idle task then writes nothing, as Kafka Streams writes no
// checkpoint for an unchanged store. A restore needs nothing newer: it
// would load the same state and resume at the same offsets.
bool unchanged_since_durable(const TaskState& st) {
  return st.changes == st.durable_changes;
}

// Snapshots the task's state and the input offsets it reflects: a full base,
// or only what changed since the previous checkpoint of the chain. The pause
// this costs the task is measured. With the checkpoint writer, a full
// section's encoding is left to its thread (StateStore::serialize_deferred:
// the task copies what it must see, the writer packs it); a delta's is
// small and done here.
void take_snapshot(task_pointer self) {
  auto& st = self->state;
  auto begin = std::chrono::steady_clock::now();
  checkpoint::Snapshot snap;
  const bool full = st.chain.next_is_full();
  snap.incremental = !full;
  if (!full) snap.base = st.chain.parent();
  snap.task = checkpoint::TaskId{st.env.application_id, st.env.partition};
  snap.id = st.next_checkpoint;
  snap.epoch = st.env.epoch;
  snap.stream_time = st.merger->stream_time();
  snap.created_at = epoch_ms();
  snap.input_offsets = st.processed;
  if (st.env.producer != nullptr && st.env.graph->has_pre_aggregates()) {
    // Where a restore of this checkpoint may look back at the repartition
    // topics: what the task writes from now on lands above these offsets.
    st.env.graph->note_acknowledged(
        [&](const std::string& topic) { return st.env.producer->acknowledged_offsets(topic); });
  }
  const bool defer = st.env.checkpoint_writer != nullptr;
  for (auto* store : st.env.graph->stores()) {
    // A store without incremental snapshots writes its whole content into
    // every delta too.
    if (!full && store->supports_incremental()) {
      snap.sections.emplace_back(store->name(), store->serialize_changes());
    } else if (defer) {
      snap.deferred.push_back({snap.sections.size(), store->serialize_deferred()});
      snap.sections.emplace_back(store->name(), std::string());
    } else {
      snap.sections.emplace_back(store->name(), store->serialize());
    }
  }
  const uint64_t pause = micros_since(begin);
  auto* c = st.env.counters;
  c->checkpoint_pause_us.store(pause);
  if (pause > c->checkpoint_pause_max_us.load()) c->checkpoint_pause_max_us.store(pause);
  st.pending = std::move(snap);
  // Written, or its deferred sections serialized, by a later handler of
  // this actor, perhaps on another worker: the edge TSan does not see.
  tsan_release(&st.pending);
  st.pending_since = begin;
  st.pending_changes = st.changes;
  st.pending_runs = st.tracker.runs_begun();
}

// Records a written checkpoint (or why it was not) as the newest durable
// one: the chain, the offsets commits may reach, the counters.
void record_write(TaskState& st, CheckpointId id, bool incremental,
                  const std::map<TopicPartition, Offset>& input_offsets, uint64_t changes,
                  std::chrono::steady_clock::time_point since,
                  const checkpoint::WriteOutcome& outcome) {
  st.env.counters->checkpoint_write_us.store(outcome.write_us);
  const Expected<uint64_t>& written = outcome.written;
  if (!written) {
    // The store may recover (a full disk, a slow mount): keep processing,
    // try the next interval; commits stay behind the last durable one.
    logger()->warn("task {}: checkpoint {} not written: {}", st.task_name, id.value(),
                   written.error().to_string());
    st.chain.broken();  // its changes are not in the store: the next one is full
    return;
  }
  st.chain.written(id, incremental, *written);
  st.durable = input_offsets;
  st.durable_changes = changes;
  st.next_checkpoint = CheckpointId{id.value() + 1};
  auto* c = st.env.counters;
  c->checkpoints.fetch_add(1);
  c->checkpoint_bytes.store(*written);
  c->checkpoint_duration_us.store(micros_since(since));
  c->last_checkpoint_ms.store(epoch_ms());
  if (outcome.retain_error) {
    logger()->warn("task {}: removing old checkpoints failed: {}", st.task_name,
                   outcome.retain_error->to_string());
  }
}

// Takes the outcome of the write handed to the checkpoint writer, waiting
// for it when `wait`. False while it is still running (not waiting).
bool finish_write(TaskState& st, bool wait) {
  if (!st.writing) return true;
  if (!wait && !st.writing->ticket->done()) return false;
  record_write(st, st.writing->id, st.writing->incremental, st.writing->input_offsets,
               st.writing->changes, st.writing->since, st.writing->ticket->wait());
  st.writing.reset();
  return true;
}

// Writes the pending snapshot once every output of the input it reflects
// was acknowledged: through the checkpoint writer, unless `sync` (the final
// checkpoint, which the task waits for) or there is none.
void write_pending_if_durable(task_pointer self, const std::map<TopicPartition, Offset>& acked,
                              bool sync) {
  auto& st = self->state;
  if (!finish_write(st, sync)) return;  // the previous one is still being written
  if (!st.pending) return;
  tsan_acquire(&st.pending);  // take_snapshot's release
  // Outputs not tied to input (an idle advance's) are waited for too:
  // every run begun before the snapshot must have been acknowledged.
  if (st.tracker.runs_collected() < st.pending_runs) return;
  for (const auto& [tp, offset] : st.pending->input_offsets) {
    // Input below the newest durable (or restored) checkpoint's offset had
    // its outputs acknowledged before: a partition with nothing processed
    // since the restore (a table with no new rows) holds nothing back.
    auto d = st.durable.find(tp);
    if (d != st.durable.end() && d->second >= offset) continue;
    auto it = acked.find(tp);
    if (it == acked.end() || it->second < offset) return;  // not yet
  }
  checkpoint::Snapshot& snap = *st.pending;
  if (st.env.checkpoint_writer != nullptr && !sync) {
    TaskState::InFlightWrite w;
    w.id = snap.id;
    w.incremental = snap.incremental;
    w.input_offsets = snap.input_offsets;
    w.since = st.pending_since;
    w.changes = st.pending_changes;
    checkpoint::AsyncWriter::Job job;
    job.store = st.env.checkpoint_store;
    job.snapshot = std::move(snap);
    job.retain = st.env.checkpoint_retain;
    if (const auto* lease = st.env.lease_deadline_ms; lease != nullptr) {
      job.may_write = [lease] { return wall_clock_ms() < lease->load(std::memory_order_acquire); };
    }
    // The outcome wakes the task, which then commits what it covers.
    caf::weak_actor_ptr weak{self->ctrl()};
    job.on_done = [weak] {
      if (auto strong = weak.lock()) {
        caf::anon_send(caf::actor_cast<task_actor>(strong), wake_atom::value);
      }
    };
    w.ticket = st.env.checkpoint_writer->submit(std::move(job));
    st.writing = std::move(w);
    st.pending.reset();
    return;
  }
  checkpoint::finish_sections(snap);  // written here: what was left to the writer too
  record_write(
      st, snap.id, snap.incremental, snap.input_offsets, st.pending_changes, st.pending_since,
      checkpoint::write_and_retain(*st.env.checkpoint_store, snap, st.env.checkpoint_retain));
  st.pending.reset();
}

// Commits the input progress whose outputs were all acknowledged and, with
// checkpoints, that a durable checkpoint covers. The final commit at
// shutdown waits for the broker's answer.
bool commit_offsets(task_pointer self, bool wait);
bool commit(task_pointer self, bool wait) {
  auto& st = self->state;
  if (!may_write(st)) return true;  // fenced: nothing becomes durable
  // What the table sinks cached goes out now; the runs it came from are
  // committable once it is acknowledged (at the next commit, or at once
  // for the final one: the task was drained and its cache flushed).
  flush_output_cache(self);
  return commit_offsets(self, wait);
}

// commit() without the flush of the output cache: also after a checkpoint
// written off the task's thread became durable, between two commit ticks.
bool commit_offsets(task_pointer self, bool wait) {
  auto& st = self->state;
  auto acked = st.tracker.committable();
  if (st.tracker.failure()) {
    fail(self, "output not delivered: " + *st.tracker.failure());
    return false;
  }
  std::map<TopicPartition, Offset> offsets = acked;
  if (checkpoints_enabled(st)) {
    write_pending_if_durable(self, acked, /*sync=*/wait);
    offsets = checkpoint::committable_offsets(st.durable, acked);
  }
  if (offsets.empty() || offsets == st.committed) return true;
  std::vector<std::pair<TopicPartition, Offset>> list(offsets.begin(), offsets.end());
  if (!wait) {
    st.env.consumer->commit(list);
    st.committed = std::move(offsets);
    return true;
  }
  // The final commit: a retriable failure (coordinator moving, request
  // timed out) is tried again with exponential backoff and jitter, 5 times.
  auto r = st.env.consumer->commit_sync(list);
  for (int attempt = 0; !r && r.error().kind == ErrorKind::Retriable && attempt < 4; ++attempt) {
    auto delay = connectors::retry_delay(attempt, std::chrono::milliseconds(100),
                                         std::chrono::milliseconds(2000));
    logger()->warn("task {}: final commit failed (attempt {}), retrying in {} ms: {}",
                   st.task_name, attempt + 1, delay.count(), r.error().to_string());
    std::this_thread::sleep_for(delay);
    r = st.env.consumer->commit_sync(list);
  }
  if (!r) {
    logger()->error("task {}: final commit failed: {}", st.task_name, r.error().to_string());
    return false;
  }
  st.committed = std::move(offsets);
  return true;
}

// exactly_once_v2 (docs/exactly-once.md) -------------------------------------

// Rewinds the task to its last committed transaction boundary after an
// abortable error: aborts the open transaction (its output is discarded on
// a real cluster), drops the checkpoint written for it, restores the state
// of the newest committed checkpoint and re-reads the inputs from its
// offsets. Other tasks are not disturbed.
void rewind(task_pointer self, const std::string& why,
            std::optional<CheckpointId> uncommitted_checkpoint) {
  auto& st = self->state;
  auto& x = *st.env.exactly_once;
  st.env.counters->transactions_aborted.fetch_add(1);
  if (++st.consecutive_aborts > x.max_consecutive_aborts) {
    fail(self, "exactly_once_v2: " + std::to_string(st.consecutive_aborts) +
                   " transactions aborted in a row; last: " + why);
    return;
  }
  logger()->warn("task {}: aborting transaction and rewinding to the last committed checkpoint: {}",
                 st.task_name, why);
  // The cache holds updates of the aborted transaction's input.
  drop_output_cache(st);
  if (auto err = abort_and_settle(x)) {
    fail(self, "exactly_once_v2: abort failed: " + *err + " (after: " + why + ")");
    return;
  }
  checkpoint::TaskId id{st.env.application_id, st.env.partition};
  if (uncommitted_checkpoint && st.env.checkpoint_store != nullptr) {
    if (auto r = st.env.checkpoint_store->remove(id, *uncommitted_checkpoint); !r) {
      // A restart drops it anyway: its offsets are ahead of the committed ones.
      logger()->warn("task {}: removing aborted checkpoint {}: {}", st.task_name,
                     uncommitted_checkpoint->value(), r.error().to_string());
    }
  }
  // A task that is stopping (its final transaction aborted) does not read
  // again: its inputs were handed back, and the next start restores the
  // last committed checkpoint.
  if (st.state != "running") return;
  // Stop the inputs, forget what was fetched, restore, and read again.
  std::vector<TopicPartition> inputs;
  for (const auto& input : st.env.graph->inputs()) {
    inputs.push_back(TopicPartition{input.topic, st.env.partition});
  }
  if (auto r = st.env.consumer->remove_partitions(inputs); !r) {
    fail(self, "exactly_once_v2 rewind: " + r.error().to_string());
    return;
  }
  for (auto* inbox : st.env.inboxes) inbox->drain([](RawBatch&&) {});
  auto point = x.restore_committed();
  if (!point) {
    fail(self, "exactly_once_v2 rewind: restoring the last committed checkpoint failed: " +
                   point.error().to_string());
    return;
  }
  st.merger = std::make_unique<InputMerger>(st.env.graph->inputs(), st.env.partition,
                                            st.env.max_task_idle_ms);
  // Records of the aborted transaction may still await their reports.
  adopt_orphan_runs(st.tracker.take_runs());
  st.tracker = DeliveryTracker();
  st.processed = point->offsets;
  st.durable = point->offsets;
  st.durable_changes = st.changes;  // the state is the committed checkpoint's again
  st.last_input_ms = wall_clock_ms();
  st.pending.reset();
  st.next_checkpoint = point->next_checkpoint;
  st.chain = checkpoint::ChainState(checkpoint::ChainPolicy{
      st.env.checkpoint_max_deltas, st.env.checkpoint_max_delta_percent});
  std::vector<connectors::StartPosition> positions;
  for (size_t i = 0; i < inputs.size(); ++i) {
    int64_t offset = connectors::StartPosition::kCommitted;
    if (i < x.table_inputs.size() && x.table_inputs[i]) {
      offset = connectors::StartPosition::kBeginning;
    } else if (auto it = point->offsets.find(inputs[i]); it != point->offsets.end()) {
      offset = it->second.value();
    }
    positions.push_back(connectors::StartPosition{inputs[i], offset});
  }
  if (auto r = st.env.consumer->add_partitions(positions); !r) {
    fail(self, "exactly_once_v2 rewind: " + r.error().to_string());
    return;
  }
  st.env.counters->restores.fetch_add(1);
}

// Begins a transaction before the first run after a boundary. False when
// the task cannot go on this turn (it rewound or failed).
bool ensure_transaction(task_pointer self) {
  auto& st = self->state;
  if (st.env.exactly_once == nullptr) return true;
  auto& x = *st.env.exactly_once;
  if (x.producer->in_transaction()) return true;
  auto err = x.producer->begin();
  if (!err) return true;
  if (err->kind == connectors::TxnFailure::Fatal) {
    fail(self, "exactly_once_v2: " + err->to_string());
  } else {
    rewind(self, err->to_string(), std::nullopt);
  }
  return false;
}

// Ends the open transaction at this boundary: checkpoint, offsets, commit
// (transaction_coordinator.hpp). Nothing processed since the last boundary:
// nothing to do. False when the task failed.
bool end_transaction(task_pointer self) {
  auto& st = self->state;
  if (st.state == "failed") return false;
  auto& x = *st.env.exactly_once;
  if (!x.producer->in_transaction()) return true;
  if (!may_write(st)) return true;  // fenced: hold the transaction open
  // The cached table updates belong to this transaction.
  flush_output_cache(self);
  if (st.state == "failed") return false;
  // Every record of the transaction must have been handed over and
  // acknowledged: a record that failed (and would be missing from the
  // committed output) aborts the transaction instead.
  if (auto flushed = x.producer->producer().flush(x.timeout); !flushed) {
    rewind(self, flushed.error().to_string(), std::nullopt);
    return st.state != "failed";
  }
  (void)st.tracker.committable();
  if (st.tracker.failure()) {
    rewind(self, "output not delivered: " + *st.tracker.failure(), std::nullopt);
    return st.state != "failed";
  }
  take_snapshot(self);
  checkpoint::Snapshot snapshot = std::move(*st.pending);
  st.pending.reset();
  checkpoint::finish_sections(snapshot);  // none without the writer; the boundary writes here
  auto outcome = commit_boundary(x, *st.env.checkpoint_store, snapshot);
  if (outcome.kind == BoundaryOutcome::Fatal) {
    fail(self, "exactly_once_v2: " + outcome.error);
    return false;
  }
  if (outcome.kind == BoundaryOutcome::Rewind) {
    rewind(self, outcome.error,
           outcome.checkpoint_written ? std::optional<CheckpointId>(snapshot.id) : std::nullopt);
    return st.state != "failed";
  }
  // Committed: state, offsets and output agree at this boundary.
  st.consecutive_aborts = 0;
  st.chain.written(snapshot.id, snapshot.incremental, outcome.bytes);
  st.durable = snapshot.input_offsets;
  st.durable_changes = st.pending_changes;
  st.next_checkpoint = CheckpointId{snapshot.id.value() + 1};
  auto* c = st.env.counters;
  c->transactions_committed.fetch_add(1);
  c->checkpoints.fetch_add(1);
  c->checkpoint_bytes.store(outcome.bytes);
  c->last_checkpoint_ms.store(epoch_ms());
  if (x.mirror_commits) {
    std::vector<std::pair<TopicPartition, Offset>> list(snapshot.input_offsets.begin(),
                                                        snapshot.input_offsets.end());
    if (auto r = st.env.consumer->commit_sync(list); !r) {
      logger()->warn("task {}: committing offsets after transaction: {}", st.task_name,
                     r.error().to_string());
    } else {
      st.committed = snapshot.input_offsets;
    }
  }
  auto retained = st.env.checkpoint_store->retain(snapshot.task, st.env.checkpoint_retain);
  if (!retained) {
    logger()->warn("task {}: removing old checkpoints failed: {}", st.task_name,
                   retained.error().to_string());
  }
  return true;
}

// An interactive query on the task's own thread: no run is half applied.
// Empty `key_bytes`: the whole table (scan_table).
std::tuple<bool, std::string> lookup_key(const TaskState& st, const std::string& table,
                                         const std::string& key_bytes) {
  const KTable* t = st.env.graph->table(table);
  if (t == nullptr) return {false, "no table " + table};
  if (key_bytes.empty()) {
    auto rows = encode_table_rows(*t, kScanMaxBytes, "table " + table + " in task " + st.task_name);
    if (!rows) return {false, rows.error().message};
    return {true, std::move(*rows)};
  }
  auto codec = codecs::msgpack()();
  auto key = codec->decode(key_bytes);
  if (!key) return {false, "undecodable key: " + key.error().message};
  const Value* v = t->find_local(*key);
  if (v == nullptr) return {false, ""};
  auto bytes = codec->encode(*v);
  if (!bytes) return {false, "unencodable value: " + bytes.error().message};
  return {true, std::move(*bytes)};
}

task_actor::behavior_type task_behavior(task_pointer self, TaskEnvironment env) {
  auto& st = self->state;
  st.task_name = env.application_id + "-" + std::to_string(env.partition.value());
  st.merger = std::make_unique<InputMerger>(env.graph->inputs(), env.partition,
                                            env.max_task_idle_ms);
  st.processed = env.restored_offsets;
  st.durable = env.restored_offsets;
  st.last_input_ms = wall_clock_ms();
  // The restored checkpoint's input had its outputs acknowledged before the
  // checkpoint was written: its offsets are committed at the first commit,
  // even when nothing is left to process.
  st.tracker.start_at(env.restored_offsets);
  st.next_checkpoint = env.next_checkpoint_id;
  st.chain = checkpoint::ChainState(
      checkpoint::ChainPolicy{env.checkpoint_max_deltas, env.checkpoint_max_delta_percent});
  st.env = std::move(env);
  if (st.env.output_cache_max_bytes > 0) {
    st.env.graph->set_output_cache(true, st.env.repartition_partitions);
    st.env.graph->set_combine_from_start(st.env.no_replay);
  }
  if (checkpoints_enabled(st) && st.env.checkpoint_max_deltas > 0) {
    // The first snapshot is a full base (serialize() starts the change set).
    for (auto* store : st.env.graph->stores()) {
      if (store->supports_incremental()) store->set_change_tracking(true);
    }
  }
  self->delayed_send(self, std::chrono::milliseconds(st.env.commit_interval_ms), tick_atom::value);
  if (checkpoints_enabled(st) && st.env.exactly_once == nullptr) {
    // (exactly_once_v2 checkpoints at every transaction boundary instead.)
    self->delayed_send(self, std::chrono::milliseconds(st.env.checkpoint_interval_ms),
                       checkpoint_atom::value);
  }
  return {
      [=](wake_atom) {
        auto& s = self->state;
        // A checkpoint written off the task's thread may have become
        // durable (the writer wakes the task): commit what it covers.
        if (s.writing && s.writing->ticket->done()) {
          finish_write(s, false);
          if (s.state == "running" && may_write(s)) commit_offsets(self, false);
        }
        s.wait_timer_armed = false;
        take_inbox(self);
        process(self, false);
      },
      [=](tick_atom) {
        // Only the actor itself may look into its mailbox.
        self->state.env.counters->mailbox_messages.store(self->mailbox().size(),
                                                         std::memory_order_relaxed);
        advance_idle_time(self);
        if (self->state.env.exactly_once == nullptr) {
          commit(self, false);
        } else if (self->state.state == "running") {
          end_transaction(self);
        }
        take_inbox(self);
        process(self, false);
        self->delayed_send(self, std::chrono::milliseconds(self->state.env.commit_interval_ms),
                           tick_atom::value);
      },
      [=](checkpoint_atom) {
        auto& s = self->state;
        finish_write(s, false);
        if (s.state == "running" && !s.pending && !s.writing) {
          if (unchanged_since_durable(s)) {
            s.env.counters->checkpoints_skipped.fetch_add(1, std::memory_order_relaxed);
          } else {
            take_snapshot(self);
          }
        }
        self->delayed_send(self, std::chrono::milliseconds(s.env.checkpoint_interval_ms),
                           checkpoint_atom::value);
      },
      [=](drain_atom) {
        auto& s = self->state;
        take_inbox(self);
        process(self, true);
        while (s.state != "failed" && may_write(s) && s.merger->has_buffered()) process(self, true);
        // The cached table updates go out with the rest, before the final
        // commit waits for their acknowledgements (a task handed over waits
        // for no run in flight). With exactly_once_v2 a non-empty cache
        // means the transaction that cached is still open (every boundary
        // flushes first), so they go into it.
        if (s.state != "failed" && may_write(s)) flush_output_cache(self);
        if (s.state != "failed") s.state = "draining";
        return s.state != "failed";
      },
      [=](commit_atom) {
        auto& st = self->state;
        if (st.env.exactly_once != nullptr) {
          // Shutdown: the last transaction ends with a final checkpoint. An
          // abort here is reported: the input after the last committed
          // boundary is processed again at the next start.
          const auto aborted = st.env.counters->transactions_aborted.load();
          bool ok = st.state != "failed" && end_transaction(self) &&
                    st.env.counters->transactions_aborted.load() == aborted;
          if (st.state != "failed") st.state = "stopped";
          return ok && st.state != "failed";
        }
        // Shutdown: everything was processed and the producer flushed, so a
        // final checkpoint is durable at once.
        if (checkpoints_enabled(st) && st.state != "failed") {
          finish_write(st, true);             // the writer's last one lands first
          if (st.pending) st.chain.broken();  // dropped: the final one is full
          st.pending.reset();
          // A task whose state is unchanged since its newest durable
          // checkpoint hands over without writing one (an idle task moves
          // at once).
          if (unchanged_since_durable(st)) {
            st.env.counters->checkpoints_skipped.fetch_add(1, std::memory_order_relaxed);
          } else {
            take_snapshot(self);
          }
        }
        bool committed = commit(self, true);
        auto& s = self->state;
        if (s.state != "failed") s.state = "stopped";
        return committed && s.state != "failed" && s.tracker.runs_in_flight() == 0;
      },
      [=](status_atom) {
        auto& s = self->state;
        TaskStatus status;
        status.task = s.task_name;
        status.state = s.state;
        status.error = s.error;
        status.records_in = s.env.counters->records_in.load();
        status.records_out = s.env.counters->records_out.load();
        status.data_errors = s.env.counters->data_errors.load();
        status.stream_time = s.merger->stream_time();
        // exactly_once_v2 collects acknowledged runs only at transaction
        // boundaries: count what is still unacknowledged.
        if (s.env.exactly_once != nullptr) (void)s.tracker.committable();
        status.runs_in_flight = s.tracker.runs_in_flight();
        return status;
      },
      [=](lookup_atom, const std::string& table,
          const std::string& key_bytes) -> caf::result<bool, std::string> {
        auto [found, payload] = lookup_key(self->state, table, key_bytes);
        return caf::result<bool, std::string>(found, std::move(payload));
      },
  };
}

}  // namespace

task_actor spawn_task_actor(caf::actor_system& system, TaskEnvironment env) {
  // exactly_once_v2 blocks in transactional calls (commit waits for the
  // broker): such a task gets a thread of its own instead of stalling CAF's
  // shared workers.
  if (env.exactly_once != nullptr) return system.spawn<caf::detached>(task_behavior, std::move(env));
  return system.spawn(task_behavior, std::move(env));
}

}  // namespace rivulet::actors
