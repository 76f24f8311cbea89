// bench_checkpoint: what a checkpoint costs a task holding a large KTable,
// full snapshots against incremental ones (a chain of deltas), in one run.
//
//   build/bin/bench_checkpoint [--keys N] [--changed-percent P] [--rounds R]
//                              [--storage decoded|encoded] [--dir PATH]
//                              [--store directory|kafka] [--partitions P]
//
// Fills a KTable with N keys (a ~40-byte struct each), then R times: changes
// P% of the keys (upserts of random keys), takes a checkpoint as the task
// does and writes it through a DirectoryStore (fsync included). Each round
// (or, with --store kafka, a KafkaStore on an embedded broker started in
// this process: chunks, manifest, acknowledgements). Each round
// is measured twice on the same table state: as a full snapshot
// (serialize) and as a delta (serialize_changes), so the ratio compares
// like with like. Reported per kind, median and max over the rounds:
//   pause  serialization on the task (rivulet_task_checkpoint_pause_seconds),
//          wall time and the thread's CPU time (the wall time of a loaded
//          machine includes waiting for a core)
//   write  encode + write + fsync + rename (also on the task, once the
//          outputs are acknowledged)
//   bytes  size of the checkpoint file
// and the restore of a base + R deltas against a restore of one full
// snapshot. Then the same kinds of checkpoint handed to the checkpoint
// writer (checkpoint.write.async, checkpoint/async_writer.hpp), R rounds
// each: what holds the task's thread per checkpoint is the pause plus the
// hand-over instead of the pause plus the write:
//   held   sync: pause + write; async: pause + submit (the write runs on
//          the writer's thread meanwhile; its time is reported beside)
// and R full ones whose encoding is left to the writer as well
// (StateStore::serialize_deferred, what a task with the writer does): the
// task is held for the copy of what it must see, and the hand-over.
// The last line is one JSON object with every figure.
#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "checkpoint/async_writer.hpp"
#include "checkpoint/directory_store.hpp"
#include "checkpoint/kafka_store.hpp"
#include "connectors/embedded_broker.hpp"
#include "operators/ktable.hpp"

using namespace rivulet;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

Value user_value(int64_t n, int64_t version) {
  return Value::structure({Field{"name", Value::string("user-" + std::to_string(n))},
                           Field{"country", Value::string(n % 2 ? "DE" : "FR")},
                           Field{"version", Value::int64(version)}});
}

Value user_key(int64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "u%08lld", static_cast<long long>(n));
  return Value::string(buf);
}

struct Series {
  std::vector<double> values;
  double median() const {
    auto v = values;
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
  }
  double max() const { return values.empty() ? 0 : *std::max_element(values.begin(), values.end()); }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("bench_checkpoint: full against incremental checkpoints of a large KTable");
  int64_t keys = 1000000;
  double changed_percent = 1.0;
  int rounds = 5;
  std::string storage = "decoded";
  std::string dir;
  app.add_option("--keys", keys, "Keys in the table");
  app.add_option("--changed-percent", changed_percent, "Keys changed between checkpoints (%)");
  app.add_option("--rounds", rounds, "Checkpoints measured of each kind");
  app.add_option("--storage", storage, "KTable storage: decoded or encoded")
      ->check(CLI::IsMember({"decoded", "encoded"}));
  app.add_option("--dir", dir, "Directory for the checkpoint files (default: a temporary one)");
  std::string store_kind = "directory";
  int partitions = 128;
  app.add_option("--store", store_kind, "Checkpoint store: directory, or kafka (embedded broker)")
      ->check(CLI::IsMember({"directory", "kafka"}));
  app.add_option("--partitions", partitions, "Partitions of the checkpoint topic (--store kafka)");
  CLI11_PARSE(app, argc, argv);

  bool own_dir = dir.empty();
  if (own_dir) {
    dir = (std::filesystem::temp_directory_path() / "rivulet-bench-ckpt-XXXXXX").string();
    if (::mkdtemp(dir.data()) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
  }
  std::unique_ptr<connectors::EmbeddedBroker> broker;
  Expected<std::unique_ptr<checkpoint::CheckpointStore>> store = Error::fatal("no store");
  if (store_kind == "kafka") {
    auto b = connectors::EmbeddedBroker::start({1, 1});
    if (!b) {
      std::fprintf(stderr, "%s\n", b.error().to_string().c_str());
      return 1;
    }
    broker = std::move(*b);
    checkpoint::KafkaStoreOptions options;
    options.topic = "bench-checkpoints";
    options.partitions = partitions;
    options.timeout = std::chrono::seconds(300);
    options.producer["bootstrap.servers"] = broker->bootstrap();
    options.consumer["bootstrap.servers"] = broker->bootstrap();
    auto k = checkpoint::KafkaStore::open(options);
    if (k) store = std::unique_ptr<checkpoint::CheckpointStore>(std::move(*k));
    else store = k.error();
  } else {
    auto d = checkpoint::DirectoryStore::open(dir);
    if (d) store = std::unique_ptr<checkpoint::CheckpointStore>(std::move(*d));
    else store = d.error();
  }
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().to_string().c_str());
    return 1;
  }
  const checkpoint::TaskId task{"bench", PartitionId{0}};
  const checkpoint::TaskId full_task{"bench-full", PartitionId{0}};

  const TableStorage kind = storage == "encoded" ? TableStorage::Encoded : TableStorage::Decoded;
  KTable table("users", kind);
  auto fill_start = Clock::now();
  {
    auto w = table.writer();
    for (int64_t n = 0; n < keys; ++n) w.put(user_key(n), user_value(n, 0));
  }
  std::fprintf(stderr, "bench_checkpoint: %lld keys (%s) filled in %.0f ms\n",
               static_cast<long long>(keys), storage.c_str(), ms_since(fill_start));
  table.set_change_tracking(true);

  auto write = [&](const checkpoint::TaskId& t, int64_t id, std::optional<int64_t> parent,
                   std::string bytes, Series& write_ms, Series& sizes) {
    checkpoint::Snapshot snap;
    snap.task = t;
    snap.id = CheckpointId(id);
    snap.epoch = Epoch(1);
    snap.incremental = parent.has_value();
    if (parent) snap.base = CheckpointId(*parent);
    snap.input_offsets[TopicPartition{"users", PartitionId{0}}] = Offset(id);
    snap.sections.emplace_back("users", std::move(bytes));
    auto begin = Clock::now();
    auto written = (*store)->write(snap);
    write_ms.values.push_back(ms_since(begin));
    if (!written) {
      std::fprintf(stderr, "write failed: %s\n", written.error().to_string().c_str());
      std::exit(1);
    }
    sizes.values.push_back(static_cast<double>(*written));
  };

  Series full_pause, full_write, full_bytes, delta_pause, delta_write, delta_bytes;
  Series full_cpu, delta_cpu;
  // The chain's base.
  {
    auto begin = Clock::now();
    double cpu0 = thread_cpu_ms();
    std::string bytes = table.serialize();
    full_pause.values.push_back(ms_since(begin));
    full_cpu.values.push_back(thread_cpu_ms() - cpu0);
    write(task, 1, std::nullopt, std::move(bytes), full_write, full_bytes);
  }
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int64_t> pick(0, keys - 1);
  const auto changes = static_cast<int64_t>(static_cast<double>(keys) * changed_percent / 100.0);
  for (int r = 1; r <= rounds; ++r) {
    {
      auto w = table.writer();
      for (int64_t i = 0; i < changes; ++i) {
        const int64_t n = pick(rng);
        w.put(user_key(n), user_value(n, r));
      }
    }
    // The delta first (it takes the change set), then a full snapshot of
    // the same state for comparison (no change happens in between, so the
    // new change set it starts loses nothing).
    auto begin = Clock::now();
    double cpu0 = thread_cpu_ms();
    std::string changed = table.serialize_changes();
    delta_pause.values.push_back(ms_since(begin));
    delta_cpu.values.push_back(thread_cpu_ms() - cpu0);
    write(task, 1 + r, r, std::move(changed), delta_write, delta_bytes);
    begin = Clock::now();
    cpu0 = thread_cpu_ms();
    std::string whole = table.serialize();
    full_pause.values.push_back(ms_since(begin));
    full_cpu.values.push_back(thread_cpu_ms() - cpu0);
    write(full_task, r, std::nullopt, std::move(whole), full_write, full_bytes);
  }

  // Restore: base + every delta against the newest full snapshot.
  double chain_restore_ms = 0, full_restore_ms = 0;
  size_t restored_keys = 0;
  bool same = false;
  {
    auto begin = Clock::now();
    auto chain = (*store)->load_latest_chain(task);
    KTable target("users", kind);
    if (!chain || !*chain) {
      std::fprintf(stderr, "chain restore failed\n");
      return 1;
    }
    for (const auto& link : **chain) {
      auto r = link.incremental ? target.apply_changes(link.sections.front().second)
                                : target.restore(link.sections.front().second);
      if (!r) {
        std::fprintf(stderr, "chain restore failed: %s\n", r.error().to_string().c_str());
        return 1;
      }
    }
    chain_restore_ms = ms_since(begin);
    restored_keys = target.size();
    begin = Clock::now();
    auto newest = (*store)->load_latest_chain(full_task);
    KTable full_target("users", kind);
    if (!newest || !*newest || !full_target.restore((**newest).back().sections.front().second)) {
      std::fprintf(stderr, "full restore failed\n");
      return 1;
    }
    full_restore_ms = ms_since(begin);
    same = target.snapshot() == full_target.snapshot() && target.snapshot() == table.snapshot();
  }
  // The same checkpoints handed to the checkpoint writer: the task's thread
  // is held for the pause and the hand-over; the write runs meanwhile.
  Series async_full_submit, async_full_write, async_delta_submit, async_delta_write;
  Series deferred_pause, deferred_cpu, deferred_submit, deferred_write;
  {
    checkpoint::AsyncWriter writer;
    const checkpoint::TaskId async_task{"bench-async", PartitionId{0}};
    int64_t next_id = 1;
    auto hand_over = [&](std::string bytes, bool incremental, Series& submit_ms, Series& write_ms,
                         std::function<std::string()> later = nullptr) {
      checkpoint::AsyncWriter::Job job;
      job.store = store->get();
      job.snapshot.task = async_task;
      job.snapshot.id = CheckpointId(next_id);
      job.snapshot.epoch = Epoch(1);
      job.snapshot.incremental = incremental;
      if (incremental) job.snapshot.base = CheckpointId(next_id - 1);
      job.snapshot.input_offsets[TopicPartition{"users", PartitionId{0}}] = Offset(next_id);
      job.snapshot.sections.emplace_back("users", std::move(bytes));
      if (later) job.snapshot.deferred.push_back({0, std::move(later)});
      job.retain = 2;
      ++next_id;
      auto begin = Clock::now();
      auto ticket = writer.submit(std::move(job));
      submit_ms.values.push_back(ms_since(begin));
      const auto& outcome = ticket->wait();  // before the next round changes the table
      if (!outcome.written) {
        std::fprintf(stderr, "async write failed: %s\n",
                     outcome.written.error().to_string().c_str());
        std::exit(1);
      }
      write_ms.values.push_back(static_cast<double>(outcome.write_us) / 1e3);
    };
    hand_over(table.serialize(), false, async_full_submit, async_full_write);
    for (int r = 1; r <= rounds; ++r) {
      {
        auto w = table.writer();
        for (int64_t i = 0; i < changes; ++i) {
          const int64_t n = pick(rng);
          w.put(user_key(n), user_value(n, rounds + r));
        }
      }
      hand_over(table.serialize_changes(), true, async_delta_submit, async_delta_write);
    }
    for (int r = 1; r < rounds; ++r) {  // full ones, the first was the base above
      hand_over(table.serialize(), false, async_full_submit, async_full_write);
    }
    // Full ones whose encoding is left to the writer, as a task with the
    // writer takes them (StateStore::serialize_deferred): the task copies
    // what it must see, the writer packs it.
    for (int r = 0; r < rounds; ++r) {
      auto begin = Clock::now();
      const double cpu0 = thread_cpu_ms();
      auto later = table.serialize_deferred();
      deferred_pause.values.push_back(ms_since(begin));
      deferred_cpu.values.push_back(thread_cpu_ms() - cpu0);
      hand_over(std::string(), false, deferred_submit, deferred_write, std::move(later));
    }
  }

  if (own_dir) std::filesystem::remove_all(dir);

  std::printf("checkpoint of a %lld-key KTable (%s storage) into a %s store, %.2f%% keys changed "
              "between checkpoints, %d rounds (median / max)\n",
              static_cast<long long>(keys), storage.c_str(), store_kind.c_str(), changed_percent,
              rounds);
  std::printf("  %-12s %10s %10s %10s %10s %10s %12s\n", "kind", "pause ms", "max", "cpu ms",
              "write ms", "max", "bytes");
  std::printf("  %-12s %10.1f %10.1f %10.1f %10.1f %10.1f %12.0f\n", "full", full_pause.median(),
              full_pause.max(), full_cpu.median(), full_write.median(), full_write.max(),
              full_bytes.median());
  std::printf("  %-12s %10.1f %10.1f %10.1f %10.1f %10.1f %12.0f\n", "incremental",
              delta_pause.median(), delta_pause.max(), delta_cpu.median(), delta_write.median(),
              delta_write.max(), delta_bytes.median());
  const double pause_ratio = delta_pause.median() > 0 ? full_pause.median() / delta_pause.median() : 0;
  const double total_ratio = (delta_pause.median() + delta_write.median()) > 0
                                 ? (full_pause.median() + full_write.median()) /
                                       (delta_pause.median() + delta_write.median())
                                 : 0;
  std::printf("  pause: incremental %.1fx shorter; pause + write: %.1fx shorter\n", pause_ratio,
              total_ratio);
  std::printf("  restore: base + %d deltas %.0f ms, one full snapshot %.0f ms (%zu keys, %s)\n",
              rounds, chain_restore_ms, full_restore_ms, restored_keys,
              same ? "same content" : "CONTENT DIFFERS");
  // The task's thread per checkpoint: sync writes hold it for the pause and
  // the write, the checkpoint writer for the pause and the hand-over.
  const double full_held_sync = full_pause.median() + full_write.median();
  const double full_held_async = full_pause.median() + async_full_submit.median();
  const double delta_held_sync = delta_pause.median() + delta_write.median();
  const double delta_held_async = delta_pause.median() + async_delta_submit.median();
  std::printf(
      "  task held per checkpoint (median ms): full %.1f written on the task, %.1f handed "
      "over (%.3f ms; %.1f ms on the writer); incremental %.1f against %.1f (%.3f ms; "
      "%.1f ms on the writer)\n",
      full_held_sync, full_held_async, async_full_submit.median(), async_full_write.median(),
      delta_held_sync, delta_held_async, async_delta_submit.median(), async_delta_write.median());
  const double full_held_deferred = deferred_pause.median() + deferred_submit.median();
  std::printf(
      "  full, its encoding left to the writer: task held %.1f ms (copy %.1f ms, %.1f ms CPU; "
      "hand-over %.3f ms), %.1f ms on the writer; %.1fx shorter than handed over encoded\n",
      full_held_deferred, deferred_pause.median(), deferred_cpu.median(), deferred_submit.median(),
      deferred_write.median(), full_held_deferred > 0 ? full_held_async / full_held_deferred : 0);
  nlohmann::json j = {
      {"keys", keys},
      {"storage", storage},
      {"store", store_kind},
      {"changed_percent", changed_percent},
      {"rounds", rounds},
      {"full",
       {{"pause_ms_median", full_pause.median()},
        {"pause_ms_max", full_pause.max()},
        {"pause_cpu_ms_median", full_cpu.median()},
        {"write_ms_median", full_write.median()},
        {"bytes", full_bytes.median()}}},
      {"incremental",
       {{"pause_ms_median", delta_pause.median()},
        {"pause_ms_max", delta_pause.max()},
        {"pause_cpu_ms_median", delta_cpu.median()},
        {"write_ms_median", delta_write.median()},
        {"bytes", delta_bytes.median()}}},
      {"pause_ratio", pause_ratio},
      {"pause_plus_write_ratio", total_ratio},
      {"restore_chain_ms", chain_restore_ms},
      {"restore_full_ms", full_restore_ms},
      {"restore_same_content", same},
      {"task_held_ms",
       {{"full_sync", full_held_sync},
        {"full_async", full_held_async},
        {"incremental_sync", delta_held_sync},
        {"incremental_async", delta_held_async},
        {"full_async_submit", async_full_submit.median()},
        {"incremental_async_submit", async_delta_submit.median()},
        {"full_async_write_on_writer", async_full_write.median()},
        {"incremental_async_write_on_writer", async_delta_write.median()},
        {"full_sync_over_async", full_held_async > 0 ? full_held_sync / full_held_async : 0},
        {"incremental_sync_over_async",
         delta_held_async > 0 ? delta_held_sync / delta_held_async : 0},
        {"full_deferred", full_held_deferred},
        {"full_deferred_copy", deferred_pause.median()},
        {"full_deferred_copy_cpu", deferred_cpu.median()},
        {"full_deferred_write_on_writer", deferred_write.median()},
        {"full_async_over_deferred",
         full_held_deferred > 0 ? full_held_async / full_held_deferred : 0}}},
  };
  std::printf("%s\n", j.dump().c_str());
  return same ? 0 : 1;
}
