#include "actors/application.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <thread>

#include "actors/checkpoint_restore.hpp"
#include "actors/delivery_tracker.hpp"
#include "actors/global_table_feeder.hpp"
#include "actors/orphan_runs.hpp"
#include "actors/scheduler_config.hpp"
#include "actors/task_actor.hpp"
#include "actors/task_inbox.hpp"
#include "actors/transaction_coordinator.hpp"
#include "checkpoint/async_writer.hpp"
#include "checkpoint/configured_store.hpp"
#include "checkpoint/recovery.hpp"
#include "connectors/header_scan.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/topic_admin.hpp"
#include "connectors/transactional_producer.hpp"
#include "operators/ktable.hpp"
#include "operators/replay_marks.hpp"
#include "operators/sink_node.hpp"
#include "operators/task_graph.hpp"
#include "partitioning/copartition.hpp"
#include "partitioning/murmur2.hpp"
#include "runtime/log.hpp"
#include "runtime/thread_name.hpp"

namespace rivulet {

namespace {

// Routes the consumer's batches to the inbox of the task owning the
// partition. Runs on the consumer's poll thread.
class InboxRouter : public connectors::BatchSink {
 public:
  struct Slot {
    actors::TaskInbox* inbox;
    actors::task_actor actor;
  };

  bool offer(RawBatch&& batch) override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = slots_.find(batch.tp);
    if (it == slots_.end()) {
      // Never dropped: refusing pauses the partition, and the error says why.
      logger()->error("batch for {} has no task; pausing the partition", batch.tp.to_string());
      return false;
    }
    bool wake = false;
    bool accepted = it->second.inbox->push(std::move(batch), wake);
    if (wake) caf::anon_send(it->second.actor, actors::wake_atom::value);
    return accepted;
  }

  // Any thread. A task's slots are added before its partitions are assigned
  // and removed after they were unassigned, so the poll thread never offers
  // a batch of a task that is not here.
  void add(const TopicPartition& tp, Slot slot) {
    std::lock_guard<std::mutex> lock(mutex_);
    slots_.insert_or_assign(tp, slot);
  }
  void remove(const TopicPartition& tp) {
    std::lock_guard<std::mutex> lock(mutex_);
    slots_.erase(tp);
  }

 private:
  // Uncontended but for task moves: the poll thread is the only frequent user.
  std::mutex mutex_;
  std::map<TopicPartition, Slot> slots_;
};

// Hands the producer's acknowledgements to the run that produced them.
// Runs on the producer's delivery thread; touches only atomics.
class RunAcknowledger : public connectors::DeliveryHandler {
 public:
  void on_delivery(void* opaque, const std::optional<Error>& error, int32_t /*partition*/,
                   int64_t /*offset*/) override {
    auto* run = static_cast<actors::PendingRun*>(opaque);
    if (run == nullptr) return;
    if (error) {
      std::string text = error->to_string();
      run->acknowledge(&text);
    } else {
      run->acknowledge(nullptr);
    }
  }
};

}  // namespace

struct Application::Impl {
  Topology topology;
  Config config;
  std::unique_ptr<caf::actor_system_config> actor_config;
  std::unique_ptr<caf::actor_system> system;
  std::unique_ptr<connectors::KafkaConsumer> consumer;
  std::unique_ptr<connectors::KafkaProducer> producer;
  RunAcknowledger acknowledger;
  std::unique_ptr<checkpoint::CheckpointStore> checkpoints;
  // Writes the tasks' checkpoints off their threads (checkpoint.write.async,
  // at_least_once). Declared after the store: it is destroyed first, once
  // it wrote what was queued.
  std::unique_ptr<checkpoint::AsyncWriter> checkpoint_writer;
  std::unique_ptr<InboxRouter> router;
  // Global table replicas (subqueries that scan a table): one per node,
  // shared by its tasks, bootstrapped before any task starts.
  std::unique_ptr<actors::GlobalTableFeeder> globals;
  int32_t partitions = 0;  // the task count: plan.tasks
  std::atomic<bool> paused{false};  // pause() .. resume(); every task reads it
  // Each input's partition count; task i reads partition i of the inputs
  // that have one.
  PartitionPlan plan;
  struct Task {
    std::vector<std::unique_ptr<actors::TaskInbox>> inboxes;  // per input
    std::unique_ptr<actors::TaskCounters> counters;
    std::shared_ptr<TaskGraph> graph;
    actors::task_actor actor;
    std::vector<TopicPartition> inputs;  // indexed like graph->inputs()
    int64_t epoch = 0;
    // The write lease (steady ms), when leases are used.
    std::unique_ptr<std::atomic<int64_t>> lease;
    // exactly_once_v2: the task's own transactional producer (destroyed
    // before the gate, which is disabled before the producer goes).
    std::unique_ptr<actors::GatedDeliveryHandler> gate;
    std::unique_ptr<actors::ExactlyOnce> eos;
    std::unique_ptr<connectors::TransactionalProducer> txn;
    // Stops the task's transactional producer; its reports reach nothing
    // afterwards. Call once the actor is done with it.
    void close_transactions() {
      if (gate) gate->disable();
      txn.reset();
    }
  };
  // Guards `tasks` (changed by add_task/remove_task on the controlling
  // thread, read by metrics and table handles from any thread).
  mutable std::mutex tasks_mutex;
  std::map<int32_t, Task> tasks;  // by partition
  std::atomic<bool> started{false};
  std::atomic<bool> stopped{false};
  bool leases = false;  // use_leases()
  // Set up by start() for add_task().
  std::string dead_letter;
  int64_t checkpoint_interval = 0;
  int64_t start_epoch = 0;
  bool all_partitions = false;  // start() without a subset
  // processing.guarantee=exactly_once_v2 (docs/exactly-once.md).
  bool exactly_once = false;
  // Every repartition topic was created by this start(): the tasks it starts
  // are the first to write to them (cleared once they are prepared).
  bool new_repartition_topics = false;
  // The unscoped names of this application's repartition topics that exist
  // (a version before scoped names wrote them): leave_unscoped_repartition.
  std::set<std::string> unscoped_repartition_present;
  bool mirror_commits = false;  // the embedded broker drops transactional offsets
  connectors::KafkaProperties producer_props;

  // exactly_once_v2: the task's transactional producer (its init fences
  // older owners and aborts what they left open), then the checkpoints
  // whose transaction never committed are dropped, so that the restore
  // below finds the state at the last committed boundary.
  Expected<bool> prepare_exactly_once(Task& task, int32_t p, actors::TaskEnvironment& env);

  // The topology as this application runs it: repartition topics named
  // "<application.id>-<name>-repartition" (Topology::scoped_to).
  Impl(const Topology& t, Config c)
      : topology(t.scoped_to(c.get("application.id"))), config(std::move(c)) {}

  // Builds, restores and spawns the task of partition p, and registers its
  // inboxes with the router; returns where its inputs start.
  Expected<std::vector<connectors::StartPosition>> spawn_task(int32_t p, int64_t epoch) {
    auto prepared = prepare_task(p, epoch);
    if (!prepared) return prepared.error();
    bound_replays(&*prepared, 1);
    return launch_task(std::move(*prepared));
  }
  // spawn_task in two steps: start() builds and restores every task before
  // the actor system exists (its idle workers poll, which slows restores
  // sharing a small machine), then spawns them.
  struct Prepared {
    int32_t partition = 0;
    Task task;
    actors::TaskEnvironment env;
    std::vector<connectors::StartPosition> positions;
  };
  Expected<Prepared> prepare_task(int32_t p, int64_t epoch);
  // table.decoded.max.bytes and table.auto.encode.rows on the task's AUTO
  // tables (decoded_table_share).
  void apply_table_budget(TaskGraph& graph) const {
    std::vector<KTable*> autos;
    for (const auto& name : graph.table_names()) {
      KTable* t = graph.table(name);
      if (t && t->storage() == TableStorage::Auto) autos.push_back(t);
    }
    if (autos.empty()) return;
    const auto budget = static_cast<uint64_t>(config.get_int("table.decoded.max.bytes"));
    const auto rows = static_cast<size_t>(config.get_int("table.auto.encode.rows"));
    const size_t share = decoded_table_share(budget, partitions, autos.size());
    for (KTable* t : autos) t->set_auto_switch(rows, share);
  }
  // prepare_task for every partition of `partitions`, in that order. The
  // tasks are built and restored on up to one thread per core (restoring
  // is mostly decoding snapshots, and each task's is its own): the first
  // error is returned once every thread stopped. Under exactly_once_v2 one
  // at a time, as each restore follows its producer's fencing.
  Expected<std::vector<Prepared>> prepare_tasks(const std::vector<int32_t>& partitions,
                                                int64_t epoch);
  std::vector<connectors::StartPosition> launch_task(Prepared prepared);
  // After the restores, before the tasks run: the pre-aggregations of
  // restored tasks that combine (output cache on, a replay possible) get
  // the horizon of what their lost runs wrote instead of waiting for their
  // inputs' high watermarks (PartialAggregateNode::set_horizon). One read
  // per repartition topic, from the lowest start the tasks' checkpoints
  // keep (LookBack) to its end, of every record's provenance. Skipped
  // (the high watermarks stay the horizons) when no checkpoint keeps
  // starts, when there are more than repartition.lookback.max.records to
  // read, or when the read fails.
  void bound_replays(Prepared* tasks, size_t count);
  // What the look back read of each repartition topic: offsets [from, to)
  // per partition, and the furthest origin offset among their records.
  struct LookBackRead {
    std::vector<int64_t> from, to;
    std::map<std::pair<std::string, int32_t>, int64_t> furthest;
  };
  std::mutex look_back_mutex;
  std::map<std::string, LookBackRead> look_back_reads;  // under look_back_mutex
  // Every topic the tasks write: sinks (repartition topics included) and
  // the dead-letter topic.
  std::vector<std::string> output_topics() const {
    auto topics = topology.sink_topics();
    if (!dead_letter.empty()) topics.push_back(dead_letter);
    return topics;
  }

  // Loads the task's newest restorable checkpoint (its chain: a full
  // snapshot and the deltas on top of it) into its stores. A snapshot
  // that does not fit the topology (a store it does not have, bytes a store
  // rejects) is an error: running on would silently lose state. False when
  // the task has checkpoints but none of them restores (all damaged).
  Expected<bool> restore(TaskGraph& graph, actors::TaskCounters& counters, PartitionId p,
                         actors::TaskEnvironment& env) {
    checkpoint::TaskId id{config.get("application.id"), p};
    auto ids = checkpoints->list(id);
    if (!ids) return ids.error();
    env.next_checkpoint_id = checkpoint::next_checkpoint_id(*ids);
    auto chain = checkpoints->load_latest_chain(id);
    if (!chain) return chain.error();
    // Checkpoints exist but none restores: the state they held is gone, and
    // the committed offsets (which only a durable checkpoint allowed) must
    // not be where the rebuild starts.
    if (!*chain) return ids->empty();
    auto begin = std::chrono::steady_clock::now();
    auto applied = actors::apply_checkpoint_chain(graph, **chain);
    if (!applied) return applied.error();
    const checkpoint::Snapshot& newest = (*chain)->back();  // its offsets and id count
    env.restored_offsets = newest.input_offsets;
    counters.restores.fetch_add(1);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - begin)
                  .count();
    logger()->info("task {} restored checkpoint {} ({} link(s), {} input partitions) in {} ms",
                   id.to_string(), newest.id.value(), (*chain)->size(),
                   newest.input_offsets.size(), ms);
    return true;
  }

  // A checkpoint written before repartition topics were named by
  // application.id holds offsets of the unscoped topic ("<name>-repartition")
  // that the task no longer reads. Its records past those offsets were
  // never applied, and the scoped topic does not hold them: starting would
  // lose them, so that is refused until the earlier version has read them
  // (docs/operations.md, "Upgrading"). When nothing is left (or the topic
  // is gone) the offsets are dropped and the task reads the scoped topic
  // from its beginning.
  Expected<bool> leave_unscoped_repartition(int32_t p, actors::TaskEnvironment& env) const {
    for (const auto& [scoped, unscoped] : topology.unscoped_repartition_topics()) {
      auto it = env.restored_offsets.find(TopicPartition{unscoped, PartitionId{p}});
      if (it == env.restored_offsets.end()) continue;
      const int64_t read = it->second.value();
      if (unscoped_repartition_present.count(unscoped)) {
        auto admin = connectors::TopicAdmin::create(kafka_base());
        if (!admin) return admin.error();
        auto marks = (*admin)->watermarks(TopicPartition{unscoped, PartitionId{p}});
        if (!marks) return marks.error();
        if (marks->second > read) {
          return Error::fatal(
              "task " + env.application_id + "-" + std::to_string(p) +
              ": its checkpoint predates repartition topics named by application.id: it read " +
              unscoped + " partition " + std::to_string(p) + " up to offset " +
              std::to_string(read) + ", and " + std::to_string(marks->second - read) +
              " records after it (to offset " + std::to_string(marks->second) +
              ") were never applied. This version reads " + scoped +
              " instead and would lose them: stop the producers of the inputs, run the "
              "earlier version until it has read them, then start this one "
              "(docs/operations.md, Upgrading)");
        }
      }
      logger()->info(
          "task {}-{}: {} (named before application.id scoped it) {}; the task now "
          "reads {}",
          env.application_id, p, unscoped,
          unscoped_repartition_present.count(unscoped) ? "was read to its end" : "no longer exists",
          scoped);
      env.restored_offsets.erase(it);
    }
    return true;
  }

  std::map<std::string, std::string> kafka_base() const {
    return {{"bootstrap.servers", config.get("bootstrap.servers")}};
  }

  Expected<bool> check_inputs(connectors::TopicAdmin& admin) {
    auto planned = plan_topology_partitions(topology, admin);
    if (!planned) return planned.error();
    plan = std::move(*planned);
    partitions = plan.tasks;
    return true;
  }
};

namespace {

bool contains(const std::vector<std::string>& topics, const std::string& topic) {
  return std::find(topics.begin(), topics.end(), topic) != topics.end();
}

// A hinted output topic's count from the counts known so far; 0 when the
// hint leads to none.
int32_t hinted_partitions(const Topology& topology, const std::map<std::string, int32_t>& known,
                          const std::string& topic) {
  std::string at = topic;
  for (int depth = 0; depth < 64; ++depth) {  // a chain of results, each like the one before
    auto hint = topology.output_partitions(at);
    if (!hint) return 0;
    if (hint->partitions > 0) return hint->partitions;
    auto it = known.find(hint->like);
    if (it != known.end()) return it->second;
    if (hint->like.empty() || hint->like == at) return 0;
    at = hint->like;
  }
  return 0;
}

}  // namespace

Expected<PartitionPlan> plan_topology_partitions(const Topology& topology,
                                                 connectors::TopicAdmin& admin) {
  const auto repartition = topology.repartition_topics();
  const auto sinks = topology.sink_topics();
  std::map<std::string, int32_t> existing;
  std::vector<std::string> written;  // inputs this application creates first
  for (const auto& topic : topology.source_topics()) {
    // Repartition topics are ours: created with the plan's count.
    if (contains(repartition, topic)) continue;
    auto n = admin.partition_count(topic);
    if (!n) return n.error();
    if (*n) {
      existing[topic] = **n;
    } else if (contains(sinks, topic)) {
      written.push_back(topic);
    } else {
      return Error::fatal("input topic '" + topic + "' does not exist");
    }
  }
  int32_t largest = 1;
  for (const auto& [topic, n] : existing) largest = std::max(largest, n);
  std::vector<TopicPartitions> inputs;
  for (const auto& topic : topology.source_topics()) {
    if (auto it = existing.find(topic); it != existing.end()) {
      inputs.push_back(TopicPartitions{topic, it->second});
    } else if (contains(written, topic)) {
      const int32_t n = hinted_partitions(topology, existing, topic);
      inputs.push_back(TopicPartitions{topic, n > 0 ? n : largest});
    }
  }
  return plan_partitions(inputs, topology.copartition_groups(), repartition);
}

int32_t output_topic_partitions(const Topology& topology, const PartitionPlan& plan,
                                const std::string& topic) {
  if (auto it = plan.topics.find(topic); it != plan.topics.end()) return it->second;
  const int32_t n = hinted_partitions(topology, plan.topics, topic);
  return n > 0 ? n : plan.tasks;
}

Application::Application(Topology topology, Config config)
    : impl_(std::make_unique<Impl>(std::move(topology), std::move(config))) {}

Application::~Application() { stop(); }

int32_t Application::partitions() const { return impl_->partitions; }

PartitionPlan Application::partition_plan() const {
  return impl_->plan;
}

size_t Application::task_threads() const {
  return impl_->system ? impl_->system->scheduler().num_workers() : 0;
}

void Application::use_leases() { impl_->leases = true; }

bool Application::extend_lease(int32_t partition, int64_t epoch, int64_t deadline_ms) {
  std::lock_guard<std::mutex> lock(impl_->tasks_mutex);
  auto it = impl_->tasks.find(partition);
  if (it == impl_->tasks.end() || !it->second.lease || it->second.epoch != epoch) return false;
  auto& lease = *it->second.lease;
  int64_t current = lease.load();
  while (current < deadline_ms && !lease.compare_exchange_weak(current, deadline_ms)) {
  }
  return true;
}

bool Application::may_write(int32_t partition) const {
  std::lock_guard<std::mutex> lock(impl_->tasks_mutex);
  auto it = impl_->tasks.find(partition);
  if (it == impl_->tasks.end()) return false;
  if (!it->second.lease) return true;
  using namespace std::chrono;
  const int64_t now = duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  return now < it->second.lease->load(std::memory_order_acquire);
}

void Application::pause() {
  impl_->paused.store(true, std::memory_order_release);
}

void Application::resume() {
  impl_->paused.store(false, std::memory_order_release);
  std::lock_guard<std::mutex> lock(impl_->tasks_mutex);
  for (auto& [p, task] : impl_->tasks) {
    if (task.actor) caf::anon_send(task.actor, actors::wake_atom::value);
  }
}

bool Application::paused() const {
  return impl_->paused.load(std::memory_order_acquire);
}

void Application::revoke_leases() {
  std::lock_guard<std::mutex> lock(impl_->tasks_mutex);
  for (auto& [p, task] : impl_->tasks) {
    if (task.lease) task.lease->store(0);
  }
}

void Application::lookup(int32_t partition, int64_t epoch, const std::string& table,
                         const std::string& key_bytes, std::chrono::milliseconds timeout,
                         LookupDone done) {
  auto& im = *impl_;
  const std::string task_name = im.config.get("application.id") + "-" + std::to_string(partition);
  actors::task_actor actor;
  {
    std::lock_guard<std::mutex> lock(im.tasks_mutex);
    auto it = im.tasks.find(partition);
    if (!im.started || im.stopped || it == im.tasks.end()) {
      done(Error::retriable("task " + task_name + " does not run on this node"));
      return;
    }
    if (epoch >= 0 && it->second.epoch != epoch) {
      done(Error::retriable("task " + task_name + " runs here as epoch " +
                            std::to_string(it->second.epoch) + ", not " + std::to_string(epoch)));
      return;
    }
    if (!it->second.graph->table(table)) {
      done(Error::data("task " + task_name + " has no table " + table));
      return;
    }
    actor = it->second.actor;
  }
  // A short-lived asker in this application's actor system: the task
  // answers between two runs of records.
  im.system->spawn([actor, table, key_bytes, timeout, done, task_name](caf::event_based_actor* self) {
    self->request(actor, timeout, actors::lookup_atom::value, table, key_bytes)
        .then(
            [done, self](bool found, std::string& payload) {
              if (!found && !payload.empty()) {
                done(Error::data(std::move(payload)));
              } else {
                done(std::make_pair(found, std::move(payload)));
              }
              self->quit();
            },
            [done, self, task_name](caf::error& err) {
              done(Error::retriable("task " + task_name + " did not answer the lookup: " +
                                    self->system().render(err)));
              self->quit();
            });
  });
}

Expected<bool> Application::start() {
  impl_->all_partitions = true;
  return start({}, 0);
}

Expected<Application::Impl::Prepared> Application::Impl::prepare_task(int32_t p, int64_t epoch) {
  const std::string app_id = config.get("application.id");
  Prepared prepared;
  prepared.partition = p;
  Task& task = prepared.task;
  actors::TaskEnvironment& env = prepared.env;
  task.epoch = epoch > 0 ? epoch : start_epoch;
  task.counters = std::make_unique<actors::TaskCounters>();
  task.graph = topology.instantiate(PartitionId{p}, globals ? globals->tables() : nullptr);
  if (!task.graph) return Error::fatal("task " + app_id + "-" + std::to_string(p) +
                                       ": the topology could not be instantiated");
  if (!plan.uniform()) {
    task.graph->leave_out_inputs([&](const std::string& topic) { return plan.of(topic) <= p; });
  }
  apply_table_budget(*task.graph);
  env.application_id = app_id;
  env.partition = PartitionId{p};
  env.graph = task.graph;
  const auto inbox_batches = static_cast<size_t>(config.get_int("task.inbox.batches"));
  for (size_t i = 0; i < task.graph->inputs().size(); ++i) {
    task.inboxes.push_back(std::make_unique<actors::TaskInbox>(inbox_batches));
    env.inboxes.push_back(task.inboxes.back().get());
  }
  env.max_buffered_per_input =
      inbox_batches * static_cast<size_t>(config.get_int("consumer.batch.max.records"));
  env.consumer = consumer.get();
  env.producer = producer.get();
  env.counters = task.counters.get();
  env.commit_interval_ms = config.get_int("commit.interval.ms");
  if (const int64_t cache = config.get_int("statestore.cache.max.bytes"); cache > 0) {
    // Each task's equal share: no node holds more than the budget, whatever
    // the assignment.
    env.output_cache_max_bytes =
        std::max<size_t>(1, static_cast<size_t>(cache) / static_cast<size_t>(std::max(1, partitions)));
  }
  env.repartition_partitions = [plan = plan](const std::string& topic) { return plan.of(topic); };
  // Under exactly_once_v2 a replay's earlier copies were aborted, and a
  // Kafka broker hides them; the embedded broker does not (mirror_commits).
  env.no_replay = (exactly_once && !mirror_commits) || new_repartition_topics;
  env.max_task_idle_ms = config.get_int("max.task.idle.ms");
  env.stream_time_idle_advance_ms = config.get_int("stream.time.idle.advance.ms");
  env.dead_letter_topic = dead_letter;
  env.epoch = Epoch{task.epoch};
  if (leases) {
    task.lease = std::make_unique<std::atomic<int64_t>>(0);
    env.lease_deadline_ms = task.lease.get();
  }
  env.paused = &paused;
  env.checkpoint_interval_ms = checkpoint_interval;
  env.checkpoint_retain = static_cast<size_t>(config.get_int("checkpoint.retain"));
  env.checkpoint_max_deltas =
      static_cast<size_t>(config.get_int("checkpoint.incremental.max.deltas"));
  env.checkpoint_max_delta_percent =
      static_cast<size_t>(config.get_int("checkpoint.incremental.max.delta.percent"));
  if (exactly_once) {
    auto prepared = prepare_exactly_once(task, p, env);
    if (!prepared) return prepared.error();
  }
  bool state_lost = false;  // checkpoints existed, none restored
  if (checkpoints) {
    env.checkpoint_store = checkpoints.get();
    if (checkpoint_writer) {
      // An earlier incarnation's last write (a task abandoned here and
      // assigned back) lands before the restore reads the store.
      checkpoint_writer->wait_idle(
          checkpoint::TaskId{config.get("application.id"), PartitionId{p}});
      env.checkpoint_writer = checkpoint_writer.get();
    }
    auto restored = restore(*task.graph, *task.counters, PartitionId{p}, env);
    if (!restored) return restored.error();
    state_lost = !*restored;
    auto left = leave_unscoped_repartition(p, env);
    if (!left) return left.error();
  }
  // Every input resumes where the restored state ends (tables included:
  // their stores are in the checkpoint). Without a checkpoint, tables are
  // rebuilt from the beginning of their topics (their state lives in
  // memory) and streams start at the committed offsets. Re-reading a table
  // under restored state would not only cost time: a table GROUP BY would
  // re-emit retractions computed against the restored (later) rows.
  // With 'auto.offset.reset' = 'latest', a stream topic the group has no
  // committed offset for starts at its end (committed at once); tables and
  // repartition topics (the application's own) still start at the beginning.
  std::vector<connectors::StartPosition>& positions = prepared.positions;
  auto tables = topology.table_topics();
  auto repartition = topology.repartition_topics();
  const bool latest = config.get("auto.offset.reset") == "latest";
  for (const auto& input : task.graph->inputs()) {
    TopicPartition tp{input.topic, PartitionId{p}};
    bool is_table = std::find(tables.begin(), tables.end(), input.topic) != tables.end();
    bool is_internal =
        std::find(repartition.begin(), repartition.end(), input.topic) != repartition.end();
    int64_t offset = latest && !is_internal ? connectors::StartPosition::kCommittedElseEnd
                                            : connectors::StartPosition::kCommitted;
    if (auto it = env.restored_offsets.find(tp); it != env.restored_offsets.end()) {
      offset = it->second.value();
    } else if (is_table || state_lost) {
      offset = connectors::StartPosition::kBeginning;
    }
    positions.push_back(connectors::StartPosition{tp, offset});
  }
  if (state_lost) {
    logger()->warn("task {}-{}: no checkpoint restores: every input is read again from its beginning",
                   app_id, p);
  }
  return prepared;
}

Expected<std::vector<Application::Impl::Prepared>> Application::Impl::prepare_tasks(
    const std::vector<int32_t>& partitions, int64_t epoch) {
  size_t threads = 1;
  if (!exactly_once) {
    threads = std::min<size_t>(partitions.size(),
                               std::max<size_t>(1, std::thread::hardware_concurrency()));
  }
  std::vector<std::optional<Expected<Prepared>>> results(partitions.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < partitions.size() && !failed.load();
         i = next.fetch_add(1)) {
      try {
        results[i] = prepare_task(partitions[i], epoch);
      } catch (const std::exception& e) {
        results[i] = Expected<Prepared>(Error::fatal(
            "task " + config.get("application.id") + "-" + std::to_string(partitions[i]) +
            ": " + e.what()));
      }
      if (!*results[i]) failed = true;
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) {
    try {
      pool.emplace_back([&work] {
        set_thread_name("rivulet.restore");
        work();
      });
    } catch (const std::system_error& e) {
      // No thread to be had: the ones running (and this one) do the rest.
      logger()->warn("application {}: restoring on {} thread(s): {}", config.get("application.id"),
                     pool.size() + 1, e.what());
      break;
    }
  }
  work();
  for (auto& t : pool) t.join();
  std::vector<Prepared> prepared;
  prepared.reserve(partitions.size());
  for (auto& r : results) {
    if (!r) continue;  // not begun: another task failed first
    if (!*r) return r->error();
    prepared.push_back(std::move(**r));
  }
  return prepared;
}

void Application::Impl::bound_replays(Prepared* tasks, size_t count) {
  if (config.get_int("statestore.cache.max.bytes") <= 0) return;  // nothing combines
  const int64_t max_records = config.get_int("repartition.lookback.max.records");
  if (max_records <= 0) return;
  const std::string app_id = config.get("application.id");
  // Repartition topic -> the lowest offset to read from, per partition.
  std::map<std::string, std::vector<int64_t>> begin_of;
  for (size_t i = 0; i < count; ++i) {
    const Prepared& t = tasks[i];
    if (t.env.no_replay) continue;
    for (const auto* pre : t.task.graph->pre_aggregates()) {
      const LookBack* starts = pre->look_back();
      if (starts == nullptr || !starts->restored()) continue;
      auto [it, added] =
          begin_of.emplace(pre->repartition_topic(),
                           std::vector<int64_t>(static_cast<size_t>(std::max(1, partitions)),
                                                std::numeric_limits<int64_t>::max()));
      auto& begin = it->second;
      for (size_t d = 0; d < begin.size(); ++d) {
        const int64_t acked = d < starts->starts().size() ? starts->starts()[d] : -1;
        begin[d] = std::min(begin[d], acked + 1);
      }
    }
  }
  if (begin_of.empty()) return;
  // A task stopped at once here (abandon_task) may still have records in
  // the producer: they must be in the topics before they are read back.
  // Normally a matter of milliseconds; a broker that does not take them
  // would fail the read back too.
  if (!actors::wait_orphan_runs(std::chrono::seconds(5))) {
    logger()->info(
        "application {}: outputs of stopped tasks are still unacknowledged: restored "
        "tasks combine from their inputs' high watermarks on",
        app_id);
    return;
  }
  auto admin = connectors::TopicAdmin::create(kafka_base());
  if (!admin) {
    logger()->warn("application {}: not reading back the repartition topics: {}", app_id,
                   admin.error().to_string());
    return;
  }
  // Per repartition topic: origin partition ("topic", partition) -> the
  // furthest offset anything written since the checkpoints came from.
  std::map<std::string, std::map<std::pair<std::string, int32_t>, int64_t>> furthest_of;
  auto scan_props = kafka_base();
  for (const auto& [k, v] : config.kafka_properties("consumer")) scan_props[k] = v;
  std::lock_guard<std::mutex> lock(look_back_mutex);
  for (const auto& [topic, begin] : begin_of) {
    std::vector<TopicPartition> tps;
    for (size_t d = 0; d < begin.size(); ++d)
      tps.push_back(TopicPartition{topic, PartitionId{static_cast<int32_t>(d)}});
    auto marks = (*admin)->watermarks(tps);
    if (!marks) {
      logger()->warn("application {}: not reading back {}: {}", app_id, topic,
                     marks.error().to_string());
      continue;
    }
    std::vector<std::pair<int64_t, int64_t>> bounds;  // low, high per partition
    for (const auto& m : *marks) {
      if (!m) {
        logger()->warn("application {}: not reading back {}: {}", app_id, topic,
                       m.error().to_string());
        break;
      }
      bounds.push_back(*m);
    }
    if (bounds.size() != begin.size()) continue;
    // What an earlier look back read (tasks restored one at a time, as a
    // cluster node adds them) is not read again: only what lies before it
    // (from these tasks' starts) and after it (to the end), when that is
    // less to read than these tasks' whole range.
    LookBackRead& earlier = look_back_reads[topic];
    bool extend = earlier.from.size() == begin.size();
    std::vector<connectors::ScanRange> full, before, after;
    int64_t full_total = 0, extend_total = 0;
    for (size_t d = 0; d < begin.size(); ++d) {
      const auto [low, high] = bounds[d];
      const auto p = static_cast<int32_t>(d);
      const int64_t from = std::max(begin[d], low);
      if (from < high) {
        full.push_back(connectors::ScanRange{p, from, high});
        full_total += high - from;
      }
      if (!extend) continue;
      if (high < earlier.to[d]) {  // the partition lost records: read it all again
        extend = false;
        continue;
      }
      const int64_t old_from = std::max(earlier.from[d], low);
      const int64_t old_to = std::max(earlier.to[d], low);
      if (from < old_from) {
        before.push_back(connectors::ScanRange{p, from, old_from});
        extend_total += old_from - from;
      }
      if (old_to < high) {
        after.push_back(connectors::ScanRange{p, old_to, high});
        extend_total += high - old_to;
      }
    }
    if (extend && full_total <= extend_total) extend = false;
    const int64_t total = extend ? extend_total : full_total;
    if (total > max_records) {
      logger()->info(
          "application {}: {} holds {} records written since the restored checkpoints (more than "
          "repartition.lookback.max.records, {}): restored tasks combine from their inputs' high "
          "watermarks on",
          app_id, topic, total, max_records);
      continue;
    }
    std::map<std::pair<std::string, int32_t>, int64_t> furthest;
    if (extend) furthest = earlier.furthest;
    auto take = [&](int32_t, int64_t, std::string_view value) {
      auto origin = parse_provenance(value);
      if (!origin) return;
      auto& f = furthest.try_emplace({origin->topic, origin->partition}, -1).first->second;
      f = std::max(f, origin->offset);
    };
    const auto started = std::chrono::steady_clock::now();
    Expected<uint64_t> read = uint64_t{0};
    for (const auto* ranges :
         extend ? std::vector<const std::vector<connectors::ScanRange>*>{&before, &after}
                : std::vector<const std::vector<connectors::ScanRange>*>{&full}) {
      auto n = connectors::scan_header(scan_props, topic, *ranges, kProvenanceHeader, take,
                                       std::chrono::seconds(30));
      if (!n) {
        read = n.error();
        break;
      }
      *read += *n;
    }
    if (!read) {
      logger()->warn("application {}: not reading back {}: {}", app_id, topic,
                     read.error().to_string());
      continue;
    }
    logger()->info(
        "application {}: read back {} records of {} written since the restored "
        "checkpoints{} in {} ms",
        app_id, *read, topic, extend ? " (around an earlier read)" : "",
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                              started)
            .count());
    if (extend) {
      for (size_t d = 0; d < begin.size(); ++d)
        earlier.from[d] = std::min(earlier.from[d], std::max(begin[d], bounds[d].first));
    } else {
      earlier.from.clear();
      for (size_t d = 0; d < begin.size(); ++d)
        earlier.from.push_back(std::max(begin[d], bounds[d].first));
    }
    earlier.to.clear();
    for (const auto& b : bounds) earlier.to.push_back(b.second);
    earlier.furthest = furthest;
    furthest_of[topic] = std::move(furthest);
  }
  for (size_t i = 0; i < count; ++i) {
    Prepared& t = tasks[i];
    if (t.env.no_replay) continue;
    for (auto* pre : t.task.graph->pre_aggregates()) {
      const LookBack* look_back = pre->look_back();
      auto read = furthest_of.find(pre->repartition_topic());
      if (look_back == nullptr || !look_back->restored() || read == furthest_of.end()) continue;
      const auto& furthest = read->second;
      for (const auto& input : t.task.graph->inputs()) {
        const TopicPartition tp{input.topic, PartitionId{t.partition}};
        // What runs before the checkpoint wrote came from below the horizon
        // it kept; what was written since came from at most the furthest
        // offset read back. Past both, nothing can meet what the task
        // sends: it combines from there. An input without a kept horizon
        // waits for its high watermark.
        auto kept = look_back->horizons().find(tp);
        if (kept == look_back->horizons().end()) continue;
        auto it = furthest.find({input.topic, t.partition});
        const int64_t horizon =
            std::max(kept->second, it == furthest.end() ? int64_t{0} : it->second + 1);
        pre->set_horizon(tp, horizon);
        logger()->debug("task {}-{}: {} combines from offset {} of {}", app_id, t.partition,
                        pre->repartition_topic(), horizon, input.topic);
      }
    }
  }
}

std::vector<connectors::StartPosition> Application::Impl::launch_task(Prepared prepared) {
  const int32_t p = prepared.partition;
  Task& task = prepared.task;
  task.actor = actors::spawn_task_actor(*system, std::move(prepared.env));
  for (size_t i = 0; i < task.graph->inputs().size(); ++i) {
    TopicPartition tp{task.graph->inputs()[i].topic, PartitionId{p}};
    task.inputs.push_back(tp);
    router->add(tp, InboxRouter::Slot{task.inboxes[i].get(), task.actor});
  }
  std::lock_guard<std::mutex> lock(tasks_mutex);
  tasks[p] = std::move(task);
  return std::move(prepared.positions);
}

Expected<bool> Application::Impl::prepare_exactly_once(Task& task, int32_t p,
                                                      actors::TaskEnvironment& env) {
  const std::string app_id = config.get("application.id");
  const std::string name = app_id + "-" + std::to_string(p);
  task.gate = std::make_unique<actors::GatedDeliveryHandler>(&acknowledger);
  auto txn = connectors::TransactionalProducer::create(producer_props, name, task.gate.get());
  if (!txn) return txn.error();
  task.txn = std::move(*txn);
  task.txn->producer().prepare_topics(output_topics());
  // Only after init_transactions: the previous owner's open transaction
  // is aborted, so the committed offsets read now are settled.
  std::vector<TopicPartition> inputs;
  std::vector<bool> tables_flags;
  auto tables = topology.table_topics();
  for (const auto& input : task.graph->inputs()) {
    inputs.push_back(TopicPartition{input.topic, PartitionId{p}});
    tables_flags.push_back(std::find(tables.begin(), tables.end(), input.topic) != tables.end());
  }
  // A checkpoint from before repartition topics were scoped names the
  // unscoped topic (leave_unscoped_repartition): its committed offsets
  // decide too, or every such checkpoint would look uncommitted.
  std::vector<TopicPartition> asked = inputs;
  for (const auto& topic : unscoped_repartition_present)
    asked.push_back(TopicPartition{topic, PartitionId{p}});
  auto committed = consumer->committed(asked, std::chrono::seconds(30));
  if (!committed) return committed.error();
  checkpoint::TaskId id{app_id, PartitionId{p}};
  auto dropped = actors::drop_uncommitted_checkpoints(*checkpoints, id, *committed);
  if (!dropped) return dropped.error();
  // Every store's empty content, for a rewind before any checkpoint.
  std::map<std::string, std::string> baseline;
  for (auto* store : task.graph->stores()) baseline.emplace(store->name(), store->serialize());
  task.eos = std::make_unique<actors::ExactlyOnce>();
  auto& x = *task.eos;
  x.producer = task.txn.get();
  x.group_id = app_id;
  x.mirror_commits = mirror_commits;
  x.table_inputs = tables_flags;
  TaskGraph* graph = task.graph.get();
  x.restore_committed = [this, p, graph, baseline]() -> Expected<actors::RewindPoint> {
    for (auto* store : graph->stores()) {
      auto it = baseline.find(store->name());
      if (it == baseline.end()) continue;
      if (auto r = store->restore(it->second); !r) return r.error();
    }
    actors::TaskEnvironment scratch;
    scratch.application_id = config.get("application.id");
    actors::TaskCounters counters;
    auto restored = restore(*graph, counters, PartitionId{p}, scratch);
    if (!restored) return restored.error();
    auto left = leave_unscoped_repartition(p, scratch);
    if (!left) return left.error();
    return actors::RewindPoint{scratch.restored_offsets, scratch.next_checkpoint_id};
  };
  env.exactly_once = task.eos.get();
  env.producer = &task.txn->producer();
  return true;
}

Expected<bool> Application::start(const std::vector<int32_t>& only, int64_t epoch) {
  auto& im = *impl_;
  if (im.started) return Error::fatal("application already started");
  if (im.config.get("bootstrap.servers").empty()) {
    return Error::fatal("bootstrap.servers is not set (use --bootstrap or the config file)");
  }
  const std::string app_id = im.config.get("application.id");
  set_log_level(im.config.get("log.level"));
  im.exactly_once = im.config.get("processing.guarantee") == "exactly_once_v2";
  if (im.exactly_once && im.config.get_int("checkpoint.interval.ms") <= 0) {
    return Error::fatal(
        "processing.guarantee=exactly_once_v2 needs checkpoints (checkpoint.interval.ms > 0): "
        "each transaction commits together with a checkpoint of the state it produced");
  }
  if (im.exactly_once && !im.config.is_set("commit.interval.ms")) {
    (void)im.config.set("commit.interval.ms", "100");  // Kafka Streams' EOS default
  }

  auto valid = im.topology.validate();
  if (!valid) return valid.error();
  auto admin_or = connectors::TopicAdmin::create(im.kafka_base());
  if (!admin_or) return admin_or.error();
  auto& admin = **admin_or;
  auto inputs_ok = im.check_inputs(admin);
  if (!inputs_ok) return inputs_ok.error();
  const auto sources = im.topology.source_topics();
  const auto repartition = im.topology.repartition_topics();
  im.new_repartition_topics = !repartition.empty();
  for (const auto& topic : repartition) {
    auto n = admin.partition_count(topic);
    if (!n) return n.error();
    if (n->has_value()) im.new_repartition_topics = false;
  }
  for (const auto& names : im.topology.unscoped_repartition_topics()) {
    auto n = admin.partition_count(names.second);
    if (!n) return n.error();
    if (n->has_value()) im.unscoped_repartition_present.insert(names.second);
  }
  // An earlier version's run wrote them: what it left applied may be
  // replayed into the scoped topics, so combining waits for the horizons.
  if (!im.unscoped_repartition_present.empty()) im.new_repartition_topics = false;
  for (const auto& topic : im.topology.sink_topics()) {
    // An output topic this application does not read back (not a
    // repartition topic, not an input) is made with the task count when
    // missing, and taken as it is when it exists: the producer partitions
    // its records by key over however many partitions it has, as a Kafka
    // Streams sink does; a missing one as ksqlDB creates a result's topic
    // (output_topic_partitions). A topic the tasks read must have the
    // plan's count (a repartition topic: its co-partition group's, else the
    // task count; a result another query reads: as it is created).
    if (std::find(sources.begin(), sources.end(), topic) == sources.end()) {
      auto n = admin.partition_count(topic);
      if (!n) return n.error();
      if (n->has_value()) continue;
    }
    auto r = admin.ensure_topic(topic, output_topic_partitions(im.topology, im.plan, topic));
    if (!r) return r.error();
  }
  if (im.config.get("errors.tolerance") == "all") {
    im.dead_letter = im.config.get("errors.deadletterqueue.topic.name");
    if (im.dead_letter.empty()) im.dead_letter = app_id + "-dlq";
    auto r = admin.ensure_topic(im.dead_letter, 1);
    if (!r) return r.error();
  }
  std::vector<int32_t> partitions = only;
  if (im.all_partitions) {
    for (int32_t p = 0; p < im.partitions; ++p) partitions.push_back(p);
  }
  for (int32_t p : partitions) {
    if (p < 0 || p >= im.partitions) {
      return Error::fatal("application " + app_id + ": no partition " + std::to_string(p) +
                          " (its inputs have " + std::to_string(im.partitions) + ")");
    }
  }

  // Kafka clients.
  auto consumer_props = im.kafka_base();
  consumer_props["group.id"] = app_id;
  consumer_props["fetch.wait.max.ms"] = im.config.get("fetch.wait.max.ms");
  consumer_props["auto.offset.reset"] = "earliest";
  if (im.exactly_once) {
    // Only committed output of upstream transactions; and committed offsets
    // are read as stable (pending transactional offsets settled first).
    consumer_props["isolation.level"] = "read_committed";
    auto embedded = admin.is_embedded_broker();
    if (!embedded) return embedded.error();
    im.mirror_commits = *embedded;
    if (*embedded) {
      logger()->warn(
          "application {}: exactly_once_v2 on the embedded broker: transactions run, but it "
          "neither hides aborted records nor fences (docs/exactly-once.md); state stays exact",
          app_id);
    }
  }
  for (const auto& [k, v] : im.config.kafka_properties("consumer")) consumer_props[k] = v;
  connectors::ConsumerOptions consumer_options;
  consumer_options.max_batch_records =
      static_cast<size_t>(im.config.get_int("consumer.batch.max.records"));
  consumer_options.batch_wait =
      std::chrono::milliseconds(im.config.get_int("consumer.batch.wait.ms"));
  consumer_options.on_error = [](const Error& e) {
    logger()->error("consumer: {}", e.to_string());
  };
  auto consumer = connectors::KafkaConsumer::create(consumer_props, consumer_options);
  if (!consumer) return consumer.error();
  im.consumer = std::move(*consumer);

  auto producer_props = im.kafka_base();
  producer_props["linger.ms"] = im.config.get("producer.linger.ms");
  for (const auto& [k, v] : im.config.kafka_properties("producer")) producer_props[k] = v;
  im.producer_props = producer_props;
  auto producer = connectors::KafkaProducer::create(producer_props, &im.acknowledger);
  if (!producer) return producer.error();
  im.producer = std::move(*producer);
  im.producer->prepare_topics(im.output_topics());

  // Checkpoints: restore each task's newest valid snapshot.
  im.checkpoint_interval = im.config.get_int("checkpoint.interval.ms");
  if (im.checkpoint_interval <= 0) {
    logger()->warn(
        "application {}: checkpoint.interval.ms=0: tables are re-read on restart, but "
        "aggregation state is not durable and restarts empty",
        app_id);
  }
  if (im.checkpoint_interval > 0) {
    auto store = checkpoint::open_checkpoint_store(im.config);
    if (!store) return store.error();
    im.checkpoints = std::move(*store);
    if (!im.exactly_once && im.config.get_bool("checkpoint.write.async")) {
      im.checkpoint_writer = std::make_unique<checkpoint::AsyncWriter>();
    }
  }
  im.start_epoch = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();

  if (!im.topology.global_tables().empty()) {
    actors::GlobalTableFeederOptions g;
    g.name = app_id + "-global";
    g.consumer_props = consumer_props;
    g.consumer_props.erase("group.id");
    g.max_batch_records = consumer_options.max_batch_records;
    auto feeder = actors::GlobalTableFeeder::start(im.topology.global_tables(), std::move(g));
    if (!feeder) return feeder.error();
    im.globals = std::move(*feeder);
  }

  // Every task restores next: the store may read all their checkpoints in
  // one pass (not under exactly_once_v2, whose restores follow fencing).
  if (im.checkpoints && !im.exactly_once) {
    std::vector<checkpoint::TaskId> ids;
    for (int32_t p : partitions) ids.push_back(checkpoint::TaskId{app_id, PartitionId{p}});
    im.checkpoints->prefetch(ids);
  }
  auto prepared = im.prepare_tasks(partitions, epoch);
  im.new_repartition_topics = false;  // tasks added later may follow a lost run
  if (!prepared) return prepared.error();
  im.bound_replays(prepared->data(), prepared->size());

  // Actors: one per partition task.
  im.actor_config = std::make_unique<caf::actor_system_config>();
  im.actor_config->add_message_type<actors::TaskStatus>("rivulet::actors::TaskStatus");
  im.actor_config->set("logger.verbosity", caf::atom("quiet"));
  const size_t task_threads = actors::task_threads(im.config.get_int("task.threads"));
  actors::configure_scheduler(*im.actor_config, task_threads);
  im.system = std::make_unique<caf::actor_system>(*im.actor_config);
  im.router = std::make_unique<InboxRouter>();
  std::vector<connectors::StartPosition> positions;
  for (auto& task : *prepared) {
    auto task_positions = im.launch_task(std::move(task));
    positions.insert(positions.end(), task_positions.begin(), task_positions.end());
  }
  auto assigned = im.consumer->assign(positions);
  if (!assigned) return assigned.error();
  im.consumer->start(im.router.get());
  im.started = true;
  logger()->info("application {} started: {} of {} tasks over {} input topics, {} task threads",
                 app_id, partitions.size(), im.partitions, im.topology.source_topics().size(),
                 task_threads);
  return true;
}

Expected<bool> Application::add_task(int32_t p, int64_t epoch) {
  auto& im = *impl_;
  if (!im.started || im.stopped) return Error::fatal("application is not running");
  if (p < 0 || p >= im.partitions) {
    return Error::fatal("application " + im.config.get("application.id") + ": no partition " +
                        std::to_string(p));
  }
  {
    std::lock_guard<std::mutex> lock(im.tasks_mutex);
    if (im.tasks.count(p)) {
      return Error::fatal("task " + im.config.get("application.id") + "-" + std::to_string(p) +
                          " already runs here");
    }
  }
  auto positions = im.spawn_task(p, epoch);
  if (!positions) return positions.error();
  auto added = im.consumer->add_partitions(*positions);
  if (!added) {
    abandon_task(p);
    return added.error();
  }
  logger()->info("task {}-{} started (epoch {})", im.config.get("application.id"), p,
                 epoch > 0 ? epoch : im.start_epoch);
  return true;
}

std::vector<int32_t> Application::task_partitions() const {
  std::lock_guard<std::mutex> lock(impl_->tasks_mutex);
  std::vector<int32_t> out;
  for (const auto& [p, t] : impl_->tasks) out.push_back(p);
  return out;
}

namespace {

// Stops the actor and waits until it finished (its last message handled).
void stop_actor(caf::actor_system& system, const actors::task_actor& actor) {
  caf::scoped_actor self{system};
  self->monitor(actor);
  self->send_exit(actor, caf::exit_reason::user_shutdown);
  self->receive([](const caf::down_msg&) {});
}

}  // namespace

void Application::abandon_task(int32_t p) {
  auto& im = *impl_;
  if (!im.started || im.stopped) return;
  Impl::Task task;
  {
    std::lock_guard<std::mutex> lock(im.tasks_mutex);
    auto it = im.tasks.find(p);
    if (it == im.tasks.end()) return;
    task = std::move(it->second);
    im.tasks.erase(it);
  }
  if (auto r = im.consumer->remove_partitions(task.inputs); !r) {
    logger()->error("task {}-{}: {}", im.config.get("application.id"), p, r.error().to_string());
  }
  for (const auto& tp : task.inputs) im.router->remove(tp);
  if (task.gate) task.gate->disable();  // its runs go with the actor
  stop_actor(*im.system, task.actor);
  task.close_transactions();  // an open transaction is aborted (the new owner's init would too)
  logger()->info("task {}-{} abandoned (it runs elsewhere now)", im.config.get("application.id"),
                 p);
}

Expected<bool> Application::remove_task(int32_t p) {
  auto& im = *impl_;
  if (!im.started || im.stopped) return Error::fatal("application is not running");
  std::vector<TopicPartition> inputs;
  actors::task_actor actor;
  {
    std::lock_guard<std::mutex> lock(im.tasks_mutex);
    auto it = im.tasks.find(p);
    if (it == im.tasks.end()) return true;
    inputs = it->second.inputs;
    actor = it->second.actor;
  }
  const std::string name = im.config.get("application.id") + "-" + std::to_string(p);
  auto begin = std::chrono::steady_clock::now();
  // 1. Stop fetching its partitions (the others keep going).
  auto removed = im.consumer->remove_partitions(inputs);
  if (!removed) return removed.error();
  for (const auto& tp : inputs) im.router->remove(tp);
  bool ok = true;
  std::string why;
  {
    caf::scoped_actor self{*im.system};
    // 2. Process what was fetched.
    self->request(actor, caf::infinite, actors::drain_atom::value)
        .receive([&](bool task_ok) { ok = ok && task_ok; },
                 [&](caf::error& err) {
                   why = im.system->render(err);
                   ok = false;
                 });
    // 3. Wait for its outputs to be acknowledged (not a producer flush:
    //    other tasks keep producing meanwhile).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (ok) {
      uint64_t in_flight = 0;
      self->request(actor, caf::infinite, actors::status_atom::value)
          .receive([&](const actors::TaskStatus& s) { in_flight = s.runs_in_flight; },
                   [&](caf::error& err) {
                     why = im.system->render(err);
                     ok = false;
                   });
      if (in_flight == 0) break;
      if (std::chrono::steady_clock::now() > deadline) {
        why = "outputs not acknowledged within 30 s";
        ok = false;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    // 4. Final checkpoint and commit.
    if (ok) {
      self->request(actor, caf::infinite, actors::commit_atom::value)
          .receive([&](bool task_ok) { ok = ok && task_ok; },
                   [&](caf::error& err) {
                     why = im.system->render(err);
                     ok = false;
                   });
    }
  }
  // 5. Stop the actor.
  Impl::Task task;
  {
    std::lock_guard<std::mutex> lock(im.tasks_mutex);
    auto it = im.tasks.find(p);
    if (it != im.tasks.end()) {
      task = std::move(it->second);
      im.tasks.erase(it);
    }
  }
  task.close_transactions();  // the actor committed its last transaction
  stop_actor(*im.system, actor);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - begin)
                .count();
  if (!ok) {
    logger()->error("task {} handed over with errors after {} ms: {}", name, ms,
                    why.empty() ? "the task failed" : why);
    return Error::fatal("task " + name + " did not stop cleanly: " +
                        (why.empty() ? std::string("the task failed") : why));
  }
  logger()->info("task {} checkpointed, committed and stopped in {} ms", name, ms);
  return true;
}

bool Application::stop() {
  auto& im = *impl_;
  if (!im.started || im.stopped) return true;
  im.stopped = true;
  bool ok = true;
  std::vector<actors::task_actor> actors;
  {
    std::lock_guard<std::mutex> lock(im.tasks_mutex);
    for (auto& [p, t] : im.tasks) actors.push_back(t.actor);
  }
  // 1. Stop fetching.
  im.consumer->stop();
  // 2. Process everything already fetched.
  {
    caf::scoped_actor self{*im.system};
    for (auto& actor : actors) {
      self->request(actor, caf::infinite, actors::drain_atom::value)
          .receive([&](bool task_ok) { ok = ok && task_ok; },
                   [&](caf::error& err) {
                     logger()->error("drain failed: {}", im.system->render(err));
                     ok = false;
                   });
    }
  }
  // 3. Flush outputs, 4. commit what they acknowledged.
  im.producer->flush(std::chrono::seconds(30));
  {
    caf::scoped_actor self{*im.system};
    for (auto& actor : actors) {
      self->request(actor, caf::infinite, actors::commit_atom::value)
          .receive([&](bool task_ok) { ok = ok && task_ok; },
                   [&](caf::error& err) {
                     logger()->error("final commit failed: {}", im.system->render(err));
                     ok = false;
                   });
    }
  }
  {
    // exactly_once_v2: every task ended its last transaction (or failed).
    std::lock_guard<std::mutex> lock(im.tasks_mutex);
    for (auto& [p, t] : im.tasks) t.close_transactions();
  }
  for (auto& actor : actors) caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  actors.clear();
  {
    // The system waits for detached actors (exactly_once_v2 tasks) until
    // their last handle is gone.
    std::lock_guard<std::mutex> lock(im.tasks_mutex);
    for (auto& [p, t] : im.tasks) t.actor = actors::task_actor{};
  }
  im.router.reset();  // its slots hold actor handles; the consumer stopped
  // What the tasks handed over is written (an abandoned task's last one;
  // the others waited for theirs), while the actors it wakes still exist.
  im.checkpoint_writer.reset();
  im.system.reset();  // waits for the actors to finish
  im.producer.reset();
  im.consumer.reset();
  im.globals.reset();  // the tasks are gone; their graphs may still hold the replicas
  logger()->info("application {} stopped", im.config.get("application.id"));
  return ok;
}

std::optional<std::string> Application::failure() const {
  std::lock_guard<std::mutex> lock(impl_->tasks_mutex);
  for (const auto& [p, t] : impl_->tasks) {
    const auto& c = *t.counters;
    if (c.failed.load(std::memory_order_acquire)) {
      return impl_->config.get("application.id") + "-" + std::to_string(p) + ": " + c.failure;
    }
  }
  return std::nullopt;
}

ApplicationStats Application::stats() const {
  ApplicationStats s;
  std::lock_guard<std::mutex> lock(impl_->tasks_mutex);
  for (auto& [p, t] : impl_->tasks) {
    s.records_in += t.counters->records_in.load();
    s.records_out += t.counters->records_out.load();
    s.data_errors += t.counters->data_errors.load();
    s.dead_lettered += t.counters->dead_lettered.load();
  }
  return s;
}

std::vector<std::pair<std::string, connectors::KafkaClientStats>> Application::kafka_client_stats()
    const {
  const auto& im = *impl_;
  std::vector<std::pair<std::string, connectors::KafkaClientStats>> out;
  if (!im.started || im.stopped) return out;
  if (im.consumer) out.emplace_back("consumer", im.consumer->client_stats());
  if (im.producer) out.emplace_back("producer", im.producer->client_stats());
  return out;
}

std::vector<TaskMetrics> Application::task_metrics(bool with_tables) const {
  std::vector<TaskMetrics> out;
  const auto& im = *impl_;
  std::vector<connectors::PartitionStats> partitions;
  if (im.consumer && !im.stopped) partitions = im.consumer->all_stats();
  std::lock_guard<std::mutex> lock(im.tasks_mutex);
  for (const auto& [p, t] : im.tasks) {
    const auto& c = *t.counters;
    TaskMetrics m;
    m.partition = p;
    m.epoch = t.epoch;
    m.task = im.config.get("application.id") + "-" + std::to_string(p);
    bool failed = c.failed.load(std::memory_order_acquire);
    const bool fenced =
        t.lease && t.lease->load() <= std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count();
    const bool paused = im.paused.load(std::memory_order_acquire);
    m.state = failed       ? "failed"
              : im.stopped ? "stopped"
              : fenced     ? "fenced"
              : paused     ? "paused"
                           : "running";
    if (failed) m.error = c.failure;
    m.records_in = c.records_in.load();
    m.records_out = c.records_out.load();
    m.data_errors = c.data_errors.load();
    m.dead_lettered = c.dead_lettered.load();
    m.late_records_dropped = c.late_records_dropped.load();
    m.records_skipped = c.records_skipped.load();
    m.replay_duplicates_skipped = c.replay_duplicates_skipped.load();
    m.repartition_unsequenced = c.repartition_unsequenced.load();
    for (size_t i = 0; i < kSkipReasons; ++i) m.skipped_by_reason[i] = c.skipped_by_reason[i].load();
    m.expression_errors = c.expression_errors.load();
    m.stream_time = c.stream_time.load();
    for (const auto& ps : partitions) {
      if (ps.tp.partition.value() != p) continue;
      if (ps.lag > 0) m.lag += ps.lag;
      m.input_pauses += ps.pauses;
    }
    m.checkpoints = c.checkpoints.load();
    m.checkpoints_skipped = c.checkpoints_skipped.load();
    m.checkpoint_bytes = c.checkpoint_bytes.load();
    m.checkpoint_pause_us = c.checkpoint_pause_us.load();
    m.checkpoint_pause_max_us = c.checkpoint_pause_max_us.load();
    m.checkpoint_duration_us = c.checkpoint_duration_us.load();
    m.checkpoint_write_us = c.checkpoint_write_us.load();
    m.mailbox_messages = c.mailbox_messages.load();
    m.last_checkpoint_ms = c.last_checkpoint_ms.load();
    m.restores = c.restores.load();
    m.transactions_committed = c.transactions_committed.load();
    m.transactions_aborted = c.transactions_aborted.load();
    for (const auto& inbox : t.inboxes) m.inbox_batches += inbox->size_approx();
    m.latency_bucket_bounds_us.assign(actors::TaskCounters::kLatencyBucketsUs.begin(),
                                      actors::TaskCounters::kLatencyBucketsUs.end());
    for (const auto& b : c.latency_buckets) m.latency_buckets.push_back(b.load());
    m.latency_sum_us = c.latency_sum_us.load();
    m.latency_count = c.latency_count.load();
    if (with_tables && t.graph) {
      for (const auto& name : t.graph->table_names()) {
        const KTable* k = t.graph->table(name);
        if (k == nullptr) continue;
        // At most 1,024 decoded entries walked per table and scrape.
        TableMetrics tm{name, k->size(), k->bytes_estimate(1024), k->encoded(), std::nullopt};
        if (k->storage() == TableStorage::Auto && k->auto_switch_bytes() != SIZE_MAX)
          tm.decoded_max_bytes = k->auto_switch_bytes();
        m.tables.push_back(std::move(tm));
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

bool Application::ready() const {
  if (!impl_->started || impl_->stopped) return false;
  std::lock_guard<std::mutex> lock(impl_->tasks_mutex);
  for (const auto& [p, t] : impl_->tasks) {
    if (t.counters->failed.load()) return false;
  }
  return true;
}

const std::string& Application::application_id() const {
  static const std::string none;
  auto it = impl_->config.values().find("application.id");
  return it == impl_->config.values().end() ? none : it->second;
}

TableHandle Application::table(const std::string& name) const {
  TableHandle h;
  h.name_ = name;
  std::lock_guard<std::mutex> lock(impl_->tasks_mutex);
  for (auto& [p, t] : impl_->tasks) h.graphs_.push_back(t.graph);
  return h;
}

std::optional<Value> TableHandle::get(const Value& key) const {
  // The owning partition is known only through the key's serialized bytes;
  // probing every partition is as cheap for the handful a node runs and
  // needs no shared codec.
  for (const auto& g : graphs_) {
    if (const KTable* t = g->table(name_)) {
      if (auto v = t->get(key)) return v;
    }
  }
  return std::nullopt;
}

bool TableHandle::contains(const Value& key) const { return get(key).has_value(); }

size_t TableHandle::size() const {
  size_t n = 0;
  for (const auto& g : graphs_) {
    if (const KTable* t = g->table(name_)) n += t->size();
  }
  return n;
}

std::vector<std::pair<Value, Value>> TableHandle::snapshot() const {
  std::vector<std::pair<Value, Value>> out;
  for (const auto& g : graphs_) {
    if (const KTable* t = g->table(name_)) {
      for (auto& kv : t->snapshot()) out.emplace_back(kv.first, kv.second);
    }
  }
  return out;
}

std::vector<Value> TableHandle::keys() const {
  std::vector<Value> out;
  for (const auto& g : graphs_) {
    if (const KTable* t = g->table(name_)) {
      auto k = t->keys();
      out.insert(out.end(), k.begin(), k.end());
    }
  }
  return out;
}

std::vector<std::pair<Value, Value>> TableHandle::filter(
    const std::function<bool(const Value&, const Value&)>& pred) const {
  std::vector<std::pair<Value, Value>> out;
  for (auto& kv : snapshot()) {
    if (pred(kv.first, kv.second)) out.push_back(std::move(kv));
  }
  return out;
}

std::vector<std::pair<Value, Value>> TableHandle::map_values(
    const std::function<Value(const Value&)>& fn) const {
  std::vector<std::pair<Value, Value>> out;
  for (auto& kv : snapshot()) out.emplace_back(std::move(kv.first), fn(kv.second));
  return out;
}

KTableStats TableHandle::stats() const {
  KTableStats total{};
  for (const auto& g : graphs_) {
    if (const KTable* t = g->table(name_)) {
      KTableStats s = t->stats();
      total.size += s.size;
      total.updates_applied += s.updates_applied;
      if (s.last_update > total.last_update) total.last_update = s.last_update;
    }
  }
  return total;
}

bool TableHandle::wait_for_keys(size_t n, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (size() < n) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace rivulet
