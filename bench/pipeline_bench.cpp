// bench_pipeline: end-to-end figures of the demo's orders-join-users
// workload next to the limit of the broker path, in one run:
//
//   driver    the topology through TaskGraph::process in this thread, no
//             broker (records/s per core; also gives the output count);
//   baseline  our KafkaConsumer + KafkaProducer: read users and orders,
//             write as many records as the pipeline writes, no processing;
//   pipeline  examples::make_orders_topology run by rivulet::Application.
//
// Broker phases are timed from start until an independent consumer has read
// every expected output record back (the same measure for both), so the
// ratio pipeline/baseline compares like with like. CPU seconds come from
// getrusage(RUSAGE_SELF) and include everything in this process: with the
// embedded broker that is the broker, the read-back consumer and the
// workload's clients too. Peak RSS is per phase (VmHWM, reset through
// /proc/self/clear_refs) when the kernel allows, else the process peak.
//
// Prints progress on stderr and one JSON object on stdout. Threads: main
// drives the phases; consumers and producers run their own threads.
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "actors/application.hpp"
#include "bench/latency_profile.hpp"
#include "bench/read_back_watchdog.hpp"
#include "bench/thread_cpu.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/topic_admin.hpp"
#include "examples/orders_enrichment.hpp"

namespace rivulet::bench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct Options {
  int64_t users = 10000;
  int64_t orders = 200000;
  int partitions = 8;
  int brokers = 3;
  int batch = 1000;
  int timeout_s = 120;
  std::string bootstrap;  // empty: start the embedded broker
  bool driver_only = false;
  // The users KTable in the driver and pipeline phases (the demo's default).
  std::string users_storage = "auto";
  bool table_bytes = true;  // measure the users table's bytes per entry in both storages
  // > 0: instead of the baseline and pipeline phases, this many rounds of the
  // pipeline with checkpoint.interval.ms=1000 against checkpoints disabled.
  int checkpoint_compare = 0;
  // > 0: after the pipeline phase, orders at this rate (records/s; 0 with
  // latency_seconds > 0: half the pipeline's measured records/s) into fresh
  // topics, the users table already loaded: p50/p99 of order -> enriched
  // order read back.
  double latency_rate = 0;
  int latency_seconds = 0;
  // Configuration of the latency phase's Application (and its clients'
  // librdkafka properties): what a latency-minded user sets.
  std::vector<std::string> latency_sets = latency_profile();
  int64_t latency_max_orders = 100000;  // the burst that measures the maximum
};

// Writing 5 to clear_refs resets the kernel's peak RSS (VmHWM) of this
// process, so that each phase reports its own peak.
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

int64_t peak_rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// One phase's figures.
struct Phase {
  explicit Phase(std::string n) : name(std::move(n)) {}
  std::string name;
  int64_t input_records = 0;
  int64_t output_records = 0;
  double seconds = 0;
  double cpu = 0;
  int64_t rss_kb = 0;
  bool rss_per_phase = false;
  bool ok = false;
  std::string error;
  // Records the embedded broker dropped from the phase's output topics
  // (low watermarks; 5 MiB per partition), when known.
  int64_t dropped_by_broker = 0;
  int read_back_restarts = 0;  // ReadBackWatchdog
  std::map<std::string, double> cpu_by_thread;  // by thread family (threads_cpu_delta)
  std::map<std::string, long long> faults_by_thread;  // minor page faults, the same families

  json to_json() const {
    json j{{"ok", ok},
           {"input_records", input_records},
           {"output_records", output_records},
           {"seconds", seconds},
           {"cpu_seconds", cpu},
           {"peak_rss_kb", rss_kb},
           {"peak_rss_scope", rss_per_phase ? "phase" : "process"}};
    if (seconds > 0) j["input_records_per_second"] = static_cast<double>(input_records) / seconds;
    if (input_records > 0) {
      j["cpu_seconds_per_million_input_records"] = cpu * 1e6 / static_cast<double>(input_records);
    }
    if (!error.empty()) j["error"] = error;
    if (dropped_by_broker > 0) j["output_dropped_by_broker"] = dropped_by_broker;
    if (read_back_restarts > 0) j["read_back_restarts"] = read_back_restarts;
    if (!cpu_by_thread.empty()) j["cpu_seconds_by_thread"] = cpu_by_thread;
    if (!faults_by_thread.empty()) j["page_faults_by_thread"] = faults_by_thread;
    return j;
  }
};

// Measures CPU (also by thread family), wall time and peak RSS between
// begin() and end().
class PhaseTimer {
 public:
  explicit PhaseTimer(Phase& p) : phase_(p) {
    phase_.rss_per_phase = reset_peak_rss();
    cpu0_ = process_cpu_seconds();
    threads0_ = threads_cpu();
    t0_ = Clock::now();
  }
  Clock::time_point start() const { return t0_; }
  void end(Clock::time_point last) {
    phase_.seconds = std::chrono::duration<double>(last - t0_).count();
    phase_.cpu = process_cpu_seconds() - cpu0_;
    const auto now = threads_cpu();
    phase_.cpu_by_thread = threads_cpu_delta(threads0_, now);
    phase_.faults_by_thread = threads_faults_delta(threads0_, now);
    phase_.rss_kb = peak_rss_kb();
  }

 private:
  Phase& phase_;
  double cpu0_ = 0;
  std::map<std::string, ThreadCpu> threads0_;
  Clock::time_point t0_;
};

// The records examples::produce_orders_workload writes (same text), for the
// driver phase, which has no broker to read them from.
std::string user_json(int64_t n, const std::string& user) {
  static const char* const kCountries[] = {"DE", "FR", "US", "JP", "BR", "IN", "NG", "SE"};
  char buf[160];
  std::snprintf(buf, sizeof buf, R"({"user_id":"%s","name":"User %lld","country":"%s"})",
                user.c_str(), static_cast<long long>(n), kCountries[n % 8]);
  return buf;
}

std::string order_json(int64_t order, const std::string& user) {
  int64_t cents = 100 + (order * 104729) % 50000;
  char buf[160];
  std::snprintf(buf, sizeof buf, R"({"order_id":%lld,"user_id":"%s","amount":%lld.%02lld})",
                static_cast<long long>(order), user.c_str(), static_cast<long long>(cents / 100),
                static_cast<long long>(cents % 100));
  return buf;
}

RawRecord raw(int64_t offset, std::string key, std::string value) {
  RawRecord r;
  r.offset = offset;
  r.timestamp = offset;
  r.key = std::move(key);
  r.value = std::move(value);
  return r;
}

// The users KTable's memory: every user applied to one task's graph (one
// table holding all users) in `storage`; KTable::bytes_estimate() per entry
// against the raw bytes of the keys and JSON values as they arrive.
json measure_users_table(examples::OrdersWorkload w, TableStorage storage) {
  w.users_storage = storage;
  json j{{"storage", table_storage_name(storage)}};
  auto graph = examples::make_orders_topology(w).instantiate(PartitionId{0});
  if (!graph) {
    j["error"] = "the orders topology does not instantiate";
    return j;
  }
  const size_t input = *graph->input_index(w.users_topic);
  double raw_bytes = 0;
  std::vector<RawRecord> batch;
  TaskOutput out;
  const auto t0 = Clock::now();
  for (int64_t u = 0; u < w.users; ++u) {
    auto id = w.user_id(u);
    auto value = user_json(u, id);
    raw_bytes += static_cast<double>(id.size() + value.size());
    batch.push_back(raw(u, id, std::move(value)));
    if (batch.size() == 1000 || u + 1 == w.users) {
      out.clear();
      graph->process(input, batch.data(), batch.data() + batch.size(), out);
      batch.clear();
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const KTable* users = graph->table("users");
  if (users == nullptr || users->size() == 0) {
    j["error"] = "the users table is empty";
    return j;
  }
  const double entries = static_cast<double>(users->size());
  j["entries"] = users->size();
  j["bytes"] = users->bytes_estimate();
  j["bytes_per_entry"] = static_cast<double>(users->bytes_estimate()) / entries;
  j["raw_bytes_per_entry"] = raw_bytes / static_cast<double>(w.users);
  j["ratio_to_raw"] = static_cast<double>(users->bytes_estimate()) / raw_bytes;
  j["load_seconds"] = seconds;
  return j;
}

// The users table spread over `partitions` tasks (user u in task u %
// partitions), each task's Auto table given its share of a node budget
// (table.decoded.max.bytes, as the Application splits it; SIZE_MAX: none):
// the bytes all tasks' tables take together, and how many were encoded.
json measure_users_tasks(examples::OrdersWorkload w, int partitions, size_t budget) {
  w.users_storage = TableStorage::Auto;
  json j{{"partitions", partitions}};
  j["budget"] = budget == SIZE_MAX ? json(nullptr) : json(budget);
  std::vector<std::unique_ptr<TaskGraph>> graphs;
  const auto topology = examples::make_orders_topology(w);
  for (int p = 0; p < partitions; ++p) {
    graphs.push_back(topology.instantiate(PartitionId{p}));
    KTable* users = graphs.back() ? graphs.back()->table("users") : nullptr;
    if (users == nullptr) {
      j["error"] = "the orders topology has no users table";
      return j;
    }
    users->set_auto_switch(kAutoEncodeEntries, budget == SIZE_MAX
                                                   ? SIZE_MAX
                                                   : decoded_table_share(budget, partitions, 1));
  }
  const size_t input = *graphs.front()->input_index(w.users_topic);
  double raw_bytes = 0;
  std::vector<std::vector<RawRecord>> batches(static_cast<size_t>(partitions));
  TaskOutput out;
  for (int64_t u = 0; u < w.users; ++u) {
    auto id = w.user_id(u);
    auto value = user_json(u, id);
    raw_bytes += static_cast<double>(id.size() + value.size());
    auto& batch = batches[static_cast<size_t>(u % partitions)];
    batch.push_back(raw(u, id, std::move(value)));
    if (batch.size() == 1000 || u + partitions >= w.users) {
      out.clear();
      graphs[static_cast<size_t>(u % partitions)]->process(input, batch.data(),
                                                           batch.data() + batch.size(), out);
      batch.clear();
    }
  }
  size_t bytes = 0, rows = 0;
  int encoded = 0;
  for (const auto& g : graphs) {
    const KTable* users = g->table("users");
    bytes += users->bytes_estimate();
    rows += users->size();
    encoded += users->encoded() ? 1 : 0;
  }
  j["rows"] = rows;
  j["bytes"] = bytes;
  j["ratio_to_raw"] = static_cast<double>(bytes) / raw_bytes;
  j["encoded_tasks"] = encoded;
  return j;
}

// (c) The topology in this thread, no broker: users first (not timed), then
// the orders in batches of `batch`, as the consumer would cut them.
Phase run_driver(const examples::OrdersWorkload& w, int batch_size) {
  Phase p{"driver"};
  auto graph = examples::make_orders_topology(w).instantiate(PartitionId{0});
  if (!graph) {
    p.error = "the orders topology does not instantiate";
    return p;
  }
  std::vector<RawRecord> users, orders;
  users.reserve(static_cast<size_t>(w.users));
  for (int64_t u = 0; u < w.users; ++u)
    users.push_back(raw(u, w.user_id(u), user_json(u, w.user_id(u))));
  orders.reserve(static_cast<size_t>(w.orders));
  for (int64_t o = 0; o < w.orders; ++o) {
    auto id = w.user_id(w.user_of_order(o));
    orders.push_back(raw(o, id, order_json(o, id)));
  }
  TaskOutput out;
  graph->process(*graph->input_index(w.users_topic), users.data(), users.data() + users.size(),
                 out);
  const size_t input = *graph->input_index(w.orders_topic);
  int64_t outputs = 0;
  PhaseTimer timer(p);
  for (size_t i = 0; i < orders.size(); i += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(orders.size(), i + static_cast<size_t>(batch_size));
    out.clear();
    graph->process(input, orders.data() + i, orders.data() + end, out);
    outputs += static_cast<int64_t>(out.records.size());
  }
  timer.end(Clock::now());
  p.input_records = w.orders;
  p.output_records = outputs;
  p.ok = outputs > 0;
  if (!p.ok) p.error = "the topology wrote nothing";
  return p;
}

// Counts records read back from output topics. Runs on the reader's poll
// thread; main reads the atomics.
class ReadBack : public connectors::BatchSink {
 public:
  bool offer(RawBatch&& batch) override {
    if (batch.records.empty()) return true;
    last_ = Clock::now();
    read_.fetch_add(static_cast<int64_t>(batch.records.size()), std::memory_order_relaxed);
    return true;
  }
  int64_t read() const { return read_.load(std::memory_order_relaxed); }
  Clock::time_point last() const { return last_.load(); }
  // The reader's first fatal error (records lost: offset out of range, with
  // topic, partition and offset), "" when none. Any thread.
  void lost(const Error& e) { lost_.report(e); }
  std::string lost_error() const { return lost_.first(); }

 private:
  std::atomic<int64_t> read_{0};
  std::atomic<Clock::time_point> last_{Clock::now()};
  FirstLoss lost_;
};

// The baseline's data path: every order batch the consumer offers becomes
// output records, handed straight to the producer. Runs on the baseline
// consumer's poll thread. The outputs are spread evenly over the orders so
// that the total equals the pipeline's output count.
class Forwarder : public connectors::BatchSink {
 public:
  Forwarder(connectors::KafkaProducer& producer, std::string orders_topic,
            std::vector<std::string> out_topics, int64_t orders, int64_t target)
      : producer_(producer),
        orders_topic_(std::move(orders_topic)),
        out_topics_(std::move(out_topics)),
        orders_(orders),
        target_(target) {}

  bool offer(RawBatch&& batch) override {
    if (!batch.records.empty()) last_ = Clock::now();
    consumed_.fetch_add(static_cast<int64_t>(batch.records.size()), std::memory_order_relaxed);
    if (batch.tp.topic != orders_topic_) return true;  // the table input: read, not written
    for (const auto& rec : batch.records) {
      const int64_t due = (seen_ + 1) * target_ / orders_ - seen_ * target_ / orders_;
      ++seen_;
      for (int64_t k = 0; k < due; ++k) {
        OutputRecord out;
        out.topic = out_topics_[static_cast<size_t>(produced_++ % out_topics_.size())];
        out.key = rec.key.copy();
        out.value = rec.value.copy();
        if (auto r = producer_.produce(out, nullptr); !r) {
          if (!failed_.exchange(true)) error_ = r.error().to_string();
        }
      }
    }
    return true;
  }
  int64_t consumed() const { return consumed_.load(std::memory_order_relaxed); }
  Clock::time_point last() const { return last_.load(); }
  bool failed() const { return failed_.load(); }
  const std::string& error() const { return error_; }

 private:
  connectors::KafkaProducer& producer_;
  std::string orders_topic_;
  std::vector<std::string> out_topics_;
  int64_t orders_, target_;
  int64_t seen_ = 0, produced_ = 0;  // poll thread only
  std::atomic<int64_t> consumed_{0};
  std::atomic<Clock::time_point> last_{Clock::now()};
  std::atomic<bool> failed_{false};
  std::string error_;  // written once on the poll thread; read after the consumer stopped
};

std::vector<connectors::StartPosition> from_beginning(const std::vector<std::string>& topics,
                                                      int partitions) {
  std::vector<connectors::StartPosition> positions;
  for (const auto& t : topics) {
    for (int32_t p = 0; p < partitions; ++p) {
      positions.push_back(
          {TopicPartition{t, PartitionId{p}}, connectors::StartPosition::kBeginning});
    }
  }
  return positions;
}

// Starts a consumer reading `topics` from their first record (offset 0)
// into `sink`; fatal consumer errors (records lost) go to `lost`. Every
// topic a reader here reads was created empty for this run (fresh names per
// round and phase; on a real Kafka prefixed with the run's tag), so offset
// 0 is its first record. Not kBeginning: that is resolved by a ListOffsets
// round trip per partition before the first fetch, which librdkafka
// retries 500 ms later when it fails and, with auto.offset.reset=error,
// ends in a consumer error when it fails for good; meanwhile the
// Application writes, and a partition first fetched late can lose its
// start to the embedded broker's 5 MiB per partition (a partition of
// enriched orders takes about 25,000 records at 200k orders, 4.6-4.9 MB of
// keys, values and headers, more with --checkpoint-compare's longer
// application ids in the headers, so the broker drops its oldest batches
// near the end of a phase: harmless for a reader that keeps up, fatal for
// one that has not fetched them yet). With offset 0 the reader fetches as
// soon as it knows the leaders (assign() fetches the metadata first); a
// partition it stops fetching is restarted by ReadBackWatchdog, and a start
// that is gone anyway is reported at once, not as a timeout.
Expected<std::unique_ptr<connectors::KafkaConsumer>> start_reader(
    const std::string& bootstrap, const std::string& group, const std::vector<std::string>& topics,
    int partitions, connectors::BatchSink* sink, connectors::KafkaProperties props = {},
    ReadBack* lost = nullptr) {
  props["bootstrap.servers"] = bootstrap;
  props["group.id"] = group;
  connectors::ConsumerOptions options;
  options.thread_name = "bench.read";
  if (lost != nullptr) {
    options.on_error = [lost](const Error& e) {
      if (e.kind == ErrorKind::Fatal) lost->lost(e);
    };
  }
  auto reader = connectors::KafkaConsumer::create(props, std::move(options));
  if (!reader) return reader.error();
  std::vector<connectors::StartPosition> positions;
  for (const auto& t : topics)
    for (int32_t p = 0; p < partitions; ++p) positions.push_back({TopicPartition{t, PartitionId{p}}, 0});
  if (auto r = (*reader)->assign(std::move(positions)); !r) return r.error();
  (*reader)->start(sink);
  return reader;
}

// Records the broker no longer holds at the start of `topics` (the sum of
// their partitions' low watermarks: fresh topics start at 0).
int64_t dropped_records(const std::string& bootstrap, const std::vector<std::string>& topics,
                        int partitions) {
  auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", bootstrap}});
  if (!admin) return 0;
  int64_t dropped = 0;
  for (const auto& t : topics)
    for (int32_t p = 0; p < partitions; ++p)
      if (auto w = (*admin)->watermarks(TopicPartition{t, PartitionId{p}}); w) dropped += w->first;
  return dropped;
}

// Waits until `done()` or the deadline; true when done.
template <typename Done, typename Failed>
bool wait_until(Done done, Failed failed, int timeout_s, const char* what) {
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  auto next_report = Clock::now() + std::chrono::seconds(5);
  while (!done()) {
    if (Clock::now() >= deadline || failed()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (Clock::now() >= next_report) {
      std::cerr << "bench_pipeline: " << what << " still running\n";
      next_report += std::chrono::seconds(5);
    }
  }
  return true;
}

// (a) The limit of the broker path.
Phase run_baseline(const std::string& bootstrap, const examples::OrdersWorkload& w,
                   const std::vector<std::string>& out_topics, int partitions, int64_t target,
                   const std::string& tag, int timeout_s) {
  Phase p{"baseline"};
  ReadBack back;
  auto reader =
      start_reader(bootstrap, "bench-baseline-reader-" + tag, out_topics, partitions, &back, {},
                   &back);
  if (!reader) {
    p.error = reader.error().to_string();
    return p;
  }
  // The Application's producer settings, as the demo gives them.
  auto producer = connectors::KafkaProducer::create(
      {{"bootstrap.servers", bootstrap}, {"linger.ms", "50"}}, nullptr);
  if (!producer) {
    p.error = producer.error().to_string();
    return p;
  }
  Forwarder forward(**producer, w.orders_topic, out_topics, w.orders, target);
  connectors::ConsumerOptions consumer_options;
  consumer_options.thread_name = "bench.baseline";
  auto consumer = connectors::KafkaConsumer::create(
      {{"bootstrap.servers", bootstrap}, {"group.id", "bench-baseline-" + tag}},
      std::move(consumer_options));
  if (!consumer) {
    p.error = consumer.error().to_string();
    return p;
  }
  PhaseTimer timer(p);
  if (auto r = (*consumer)->assign(from_beginning({w.users_topic, w.orders_topic}, partitions));
      !r) {
    p.error = r.error().to_string();
    return p;
  }
  (*consumer)->start(&forward);
  // Done when every input record was read (with many users the outputs,
  // which only the orders make, can all be back before the last user is
  // read) and every output was read back.
  const int64_t inputs = w.users + w.orders;
  ReadBackWatchdog watchdog(bootstrap, **reader, "bench_pipeline");
  const bool done = wait_until(
      [&] {
        watchdog.tick();
        return back.read() >= target && forward.consumed() >= inputs;
      },
                 [&] { return forward.failed() || !back.lost_error().empty(); }, timeout_s,
                 "baseline");
  const int64_t read = back.read();
  // Timed out: the phase lasted until now, whatever was read.
  timer.end(done ? std::max(back.last(), forward.last()) : Clock::now());
  (*consumer)->stop();
  (*producer)->flush(std::chrono::seconds(10));
  (*reader)->stop();
  p.input_records = forward.consumed();
  p.output_records = read;
  p.ok = done && !forward.failed();
  if (forward.failed()) p.error = forward.error();
  if (!done && p.error.empty() && !back.lost_error().empty()) {
    p.error = "the read-back consumer lost records: " + back.lost_error();
  }
  p.dropped_by_broker = dropped_records(bootstrap, out_topics, partitions);
  p.read_back_restarts = watchdog.restarts();
  if (!done && p.error.empty()) {
    p.error = "timed out: " + std::to_string(read) + " of " + std::to_string(target) +
              " outputs read back";
  }
  return p;
}

// (b) The demo's pipeline run by the Application.
Phase run_pipeline(const std::string& bootstrap, const examples::OrdersWorkload& w, int partitions,
                   int64_t target, const std::string& tag, int timeout_s,
                   int64_t checkpoint_interval_ms = 2000) {
  Phase p{"pipeline"};
  ReadBack back;
  auto reader = start_reader(bootstrap, "bench-pipeline-reader-" + tag,
                             {w.enriched_topic, w.counts_topic}, partitions, &back, {}, &back);
  if (!reader) {
    p.error = reader.error().to_string();
    return p;
  }
  std::string state_dir =
      (std::filesystem::temp_directory_path() / "rivulet-bench-XXXXXX").string();
  if (::mkdtemp(state_dir.data()) == nullptr) {
    p.error = "cannot create a state directory under /tmp";
    return p;
  }
  // The demo's settings (cli/demo_command.cpp).
  auto config = Config::from_map({{"application.id", "bench-" + tag},
                                  {"bootstrap.servers", bootstrap},
                                  {"commit.interval.ms", "500"},
                                  {"checkpoint.interval.ms", std::to_string(checkpoint_interval_ms)},
                                  {"state.dir", state_dir},
                                  {"kafka.producer.linger.ms", "50"}});
  if (!config) {
    p.error = config.error().message;
    return p;
  }
  {
    Application app(examples::make_orders_topology(w), *config);
    PhaseTimer timer(p);
    if (auto r = app.start(); !r) {
      p.error = r.error().to_string();
    } else {
      ReadBackWatchdog watchdog(bootstrap, **reader, "bench_pipeline");
      const bool done = wait_until(
          [&] {
            watchdog.tick();
            return back.read() >= target;
          },
          [&] { return app.failure().has_value() || !back.lost_error().empty(); }, timeout_s,
          "pipeline");
      const int64_t read = back.read();
      // Timed out: the phase lasted until now, whatever was read.
      timer.end(done ? back.last() : Clock::now());
      p.input_records = static_cast<int64_t>(app.stats().records_in);
      p.output_records = read;
      p.ok = done;
      if (auto f = app.failure()) p.error = *f;
      if (!done && p.error.empty() && !back.lost_error().empty()) {
        p.error = "the read-back consumer lost records: " + back.lost_error();
      }
      p.dropped_by_broker =
          dropped_records(bootstrap, {w.enriched_topic, w.counts_topic}, partitions);
      p.read_back_restarts = watchdog.restarts();
      if (!done && p.error.empty()) {
        p.error = "timed out: " + std::to_string(read) + " of " + std::to_string(target) +
                  " outputs read back";
      }
    }
    app.stop();
  }
  (*reader)->stop();
  std::error_code ignored;
  std::filesystem::remove_all(state_dir, ignored);
  return p;
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The 1-minute load average (/proc/loadavg), -1 when unknown: latency on
// this shared machine depends on it, so each latency phase records it.
double loadavg_1m() {
  std::ifstream f("/proc/loadavg");
  double v = -1;
  if (!(f >> v)) return -1;
  return v;
}

// Latency of the enriched orders: wall clock when read back - the record's
// timestamp (the order's, which the pipeline keeps), for records stamped at
// or after `from_ms`. Runs on the reader's poll thread.
class LatencyBack : public connectors::BatchSink {
 public:
  explicit LatencyBack(int64_t from_ms) : from_ms_(from_ms) {}
  bool offer(RawBatch&& batch) override {
    if (batch.records.empty()) return true;
    const int64_t now = wall_ms();
    const int64_t from = from_ms_.load();
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& r : batch.records) {
      if (r.timestamp >= from) latencies_.push_back(now - r.timestamp);
    }
    read_.fetch_add(static_cast<int64_t>(batch.records.size()));
    last_read_.store(Clock::now());
    return true;
  }
  int64_t read() const { return read_.load(); }
  Clock::time_point last_read() const { return last_read_.load(); }
  // Counts latencies of records stamped at or after `from_ms` from now on.
  void count_from(int64_t from_ms) { from_ms_.store(from_ms); }
  std::vector<int64_t> latencies() {
    std::lock_guard<std::mutex> lock(mutex_);
    return latencies_;
  }

 private:
  std::atomic<int64_t> from_ms_;
  std::atomic<int64_t> read_{0};
  std::atomic<Clock::time_point> last_read_{Clock::now()};
  std::mutex mutex_;
  std::vector<int64_t> latencies_;
};

// (d) Latency at half of a measured maximum: a new Application on fresh
// order and output topics loads the users table (already in the broker);
// then `max_orders` orders are written as fast as the producer takes them
// and the rate from the first written to the last enriched order read back
// is this run's maximum (the table warm, the same Application, reader and
// settings); then orders are written at `rate` (0: half that maximum) per
// second for `seconds`, stamped with the wall clock, the first 2 s not
// counted. `sets` configure the Application (and the clients' librdkafka
// properties: client_props).
json run_latency(const std::string& bootstrap, const examples::OrdersWorkload& base,
                 int partitions, const std::string& tag, double rate, int seconds, int timeout_s,
                 const std::vector<std::string>& sets, int64_t max_orders) {
  json j{{"seconds", seconds}, {"settings", sets}};
  examples::OrdersWorkload w = base;
  w.orders_topic = "bench-" + tag + "-orders-lat";
  w.enriched_topic = "bench-" + tag + "-enriched-lat";
  w.counts_topic = "bench-" + tag + "-counts-lat";
  {
    auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", bootstrap}});
    if (!admin) {
      j["error"] = admin.error().to_string();
      return j;
    }
    for (const auto& t : {w.orders_topic, w.enriched_topic, w.counts_topic}) {
      if (auto r = (*admin)->ensure_topic(t, partitions); !r) {
        j["error"] = r.error().to_string();
        return j;
      }
    }
  }
  std::string state_dir =
      (std::filesystem::temp_directory_path() / "rivulet-bench-lat-XXXXXX").string();
  if (::mkdtemp(state_dir.data()) == nullptr) {
    j["error"] = "cannot create a state directory under /tmp";
    return j;
  }
  std::map<std::string, std::string> values{{"application.id", "bench-lat-" + tag},
                                            {"bootstrap.servers", bootstrap},
                                            {"commit.interval.ms", "500"},
                                            {"checkpoint.interval.ms", "2000"},
                                            {"state.dir", state_dir}};
  for (const auto& kv : sets) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) {
      j["error"] = "--latency-set wants key=value, got " + kv;
      return j;
    }
    values[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  auto config = Config::from_map(values);
  if (!config) {
    j["error"] = config.error().message;
    return j;
  }
  int64_t sent = 0, burst = 0;
  std::unique_ptr<LatencyBack> back;
  {
    Application app(examples::make_orders_topology(w), *config);
    if (auto r = app.start(); !r) {
      j["error"] = r.error().to_string();
      return j;
    }
    // The users table first: the orders are stamped later, so the
    // time-ordered merge would hold them until it is loaded anyway.
    const auto t0 = Clock::now();
    const bool loaded = wait_until(
        [&] { return static_cast<int64_t>(app.stats().records_in) >= w.users; },
        [&] { return app.failure().has_value(); }, timeout_s, "latency: loading the users table");
    j["table_load_seconds"] = std::chrono::duration<double>(Clock::now() - t0).count();
    auto producer =
        connectors::KafkaProducer::create(client_props(sets, bootstrap, true), nullptr);
    back = std::make_unique<LatencyBack>(std::numeric_limits<int64_t>::max());
    auto reader = start_reader(bootstrap, "bench-lat-reader-" + tag, {w.enriched_topic},
                               partitions, back.get(), client_props(sets, bootstrap, false));
    if (!loaded || !producer || !reader) {
      j["error"] = !loaded     ? std::string("the users table did not load in time")
                   : !producer ? producer.error().to_string()
                               : reader.error().to_string();
      app.stop();
      return j;
    }
    (*producer)->prepare_topics({w.orders_topic});
    auto write_order = [&](int64_t n) -> bool {
      OutputRecord out;
      out.topic = w.orders_topic;
      out.key = w.user_id(w.user_of_order(n));
      out.value = order_json(n, *out.key);
      out.timestamp = wall_ms();
      if (auto r = (*producer)->produce(out, nullptr); !r) {
        j["error"] = r.error().to_string();
        return false;
      }
      return true;
    };
    if (rate <= 0) {
      // The maximum: a burst of max_orders, first written -> last read back.
      const auto b0 = Clock::now();
      for (; burst < max_orders && write_order(burst); ++burst) {
      }
      const bool drained =
          wait_until([&] { return back->read() >= burst; },
                     [&] { return app.failure().has_value() || j.contains("error"); }, timeout_s,
                     "latency: the maximum's burst");
      const double s = std::chrono::duration<double>(back->last_read() - b0).count();
      if (!drained || s <= 0) {
        if (!j.contains("error")) j["error"] = "the maximum's burst was not read back in time";
        app.stop();
        return j;
      }
      const double max_rps = static_cast<double>(burst) / s;
      j["max_throughput_records_per_second"] = max_rps;
      j["max_burst_orders"] = burst;
      j["max_burst_seconds"] = s;
      rate = max_rps / 2;
      std::cerr << "bench_pipeline: latency: maximum " << max_rps << " orders/s (" << burst
                << " orders in " << s << " s); latency at " << rate << " orders/s\n";
    }
    j["rate_records_per_second"] = rate;
    j["loadavg_1m_start"] = loadavg_1m();
    back->count_from(wall_ms() + 2000);
    const auto start = Clock::now();
    const auto end = start + std::chrono::seconds(seconds);
    while (Clock::now() < end && !app.failure() && !j.contains("error")) {
      const auto due = static_cast<int64_t>(
          std::chrono::duration<double>(Clock::now() - start).count() * rate);
      for (; sent < due; ++sent)
        if (!write_order(burst + sent)) break;
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    (*producer)->flush(std::chrono::seconds(10));
    for (int i = 0; i < 1000 && back->read() < burst + sent; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (auto f = app.failure()) j["error"] = *f;
    app.stop();
    (*reader)->stop();
  }
  std::error_code ignored;
  std::filesystem::remove_all(state_dir, ignored);
  auto lat = back->latencies();
  std::sort(lat.begin(), lat.end());
  j["loadavg_1m_end"] = loadavg_1m();
  j["orders_sent"] = sent;
  j["outputs_read"] = back->read() - burst;
  j["latencies_counted"] = lat.size();
  if (!lat.empty()) {
    auto at = [&](double q) {
      return lat[std::min(lat.size() - 1, static_cast<size_t>(q * static_cast<double>(lat.size())))];
    };
    j["p50_ms"] = at(0.50);
    j["p99_ms"] = at(0.99);
    j["max_ms"] = lat.back();
  }
  if (!j.contains("error") && back->read() < burst + sent) {
    j["error"] = std::to_string(burst + sent - back->read()) + " enriched orders not read back";
  }
  j["ok"] = !j.contains("error") && !lat.empty();
  return j;
}

int run(const Options& o) {
  examples::OrdersWorkload w;
  w.users = o.users;
  w.user_space = o.users + o.users / 10;
  w.orders = o.orders;
  // Fresh topic names per run: a real Kafka keeps earlier runs' data.
  const std::string tag =
      std::to_string(::getpid()) + "-" +
      std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 1000000000);
  if (!o.bootstrap.empty()) {
    for (auto* t : {&w.users_topic, &w.orders_topic, &w.enriched_topic, &w.counts_topic}) {
      *t = "bench-" + tag + "-" + *t;
    }
  }
  w.users_storage = o.users_storage == "encoded" ? TableStorage::Encoded
                    : o.users_storage == "auto"  ? TableStorage::Auto
                                                 : TableStorage::Decoded;
  json result{{"workload",
               {{"users", w.users},
                {"users_storage", o.users_storage},
                {"orders", w.orders},
                {"partitions", o.partitions},
                {"batch", o.batch},
                {"broker", o.bootstrap.empty() ? "embedded" : o.bootstrap}}}};
  bool ok = true;

  std::cerr << "bench_pipeline: driver (TaskGraph::process, one thread, no broker)\n";
  Phase driver = run_driver(w, o.batch);
  result["driver"] = driver.to_json();
  ok = ok && driver.ok;
  const int64_t target = driver.output_records;
  if (o.table_bytes) {
    std::cerr << "bench_pipeline: users table bytes per entry, decoded, encoded and auto storage\n";
    result["users_table"] = json::array({measure_users_table(w, TableStorage::Decoded),
                                         measure_users_table(w, TableStorage::Encoded),
                                         measure_users_table(w, TableStorage::Auto)});
    // A node of o.partitions tasks: no budget (the row switch alone), the
    // default table.decoded.max.bytes (256 MiB), 32 MiB and 0.
    json tasks = json::array();
    for (size_t budget : {SIZE_MAX, size_t{268435456}, size_t{33554432}, size_t{0}})
      tasks.push_back(measure_users_tasks(w, o.partitions, budget));
    result["users_table_tasks"] = std::move(tasks);
  }
  if (o.driver_only || !driver.ok) {
    std::cout << result.dump() << std::endl;
    return ok ? 0 : 1;
  }

  std::unique_ptr<connectors::EmbeddedBroker> broker;
  std::string bootstrap = o.bootstrap;
  if (bootstrap.empty()) {
    auto b = connectors::EmbeddedBroker::start({o.brokers, o.brokers});
    if (!b) {
      std::cerr << "bench_pipeline: " << b.error().to_string() << "\n";
      return 1;
    }
    broker = std::move(*b);
    bootstrap = broker->bootstrap();
  }
  const std::vector<std::string> baseline_out = {"bench-" + tag + "-baseline-out-a",
                                                 "bench-" + tag + "-baseline-out-b"};
  {
    auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", bootstrap}});
    if (!admin) {
      std::cerr << "bench_pipeline: " << admin.error().to_string() << "\n";
      return 1;
    }
    std::vector<std::string> topics = {w.users_topic, w.orders_topic, w.enriched_topic,
                                       w.counts_topic};
    topics.insert(topics.end(), baseline_out.begin(), baseline_out.end());
    for (const auto& t : topics) {
      if (auto r = (*admin)->ensure_topic(t, o.partitions); !r) {
        std::cerr << "bench_pipeline: " << r.error().to_string() << "\n";
        return 1;
      }
    }
  }

  std::cerr << "bench_pipeline: loading " << w.users << " users and " << w.orders << " orders\n";
  Phase load{"load"};
  {
    PhaseTimer timer(load);
    auto loaded = examples::produce_orders_workload(bootstrap, w, nullptr);
    timer.end(Clock::now());
    load.input_records = w.users + w.orders;
    load.output_records = w.users + w.orders;
    load.ok = static_cast<bool>(loaded);
    if (!loaded) load.error = loaded.error().to_string();
  }
  result["load"] = load.to_json();
  if (!load.ok) {
    std::cerr << "bench_pipeline: " << load.error << "\n";
    std::cout << result.dump() << std::endl;
    return 1;
  }

  if (o.checkpoint_compare > 0) {
    // The same pipeline with checkpoints every second and without, in
    // alternating order, each run into fresh output topics.
    json rounds = json::array();
    std::vector<double> with_rps, without_rps, ratios;
    for (int i = 0; i < o.checkpoint_compare; ++i) {
      double rps[2] = {0, 0};  // [0] with checkpoints, [1] without
      for (int k = 0; k < 2; ++k) {
        const int which = (i + k) % 2;
        examples::OrdersWorkload wi = w;
        const std::string suffix = std::to_string(i) + (which == 0 ? "-ckpt" : "-nockpt");
        wi.enriched_topic = "bench-" + tag + "-enriched-" + suffix;
        wi.counts_topic = "bench-" + tag + "-counts-" + suffix;
        auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", bootstrap}});
        if (!admin) return 1;
        for (const auto& t : {wi.enriched_topic, wi.counts_topic}) {
          if (auto r = (*admin)->ensure_topic(t, o.partitions); !r) {
            std::cerr << "bench_pipeline: " << r.error().to_string() << "\n";
            return 1;
          }
        }
        std::cerr << "bench_pipeline: checkpoint compare round " << i + 1 << ": "
                  << (which == 0 ? "checkpoint.interval.ms=1000" : "no checkpoints") << "\n";
        Phase ph = run_pipeline(bootstrap, wi, o.partitions, target, tag + "-" + suffix,
                                o.timeout_s, which == 0 ? 1000 : 0);
        if (!ph.ok) {
          std::cerr << "bench_pipeline: " << ph.error << "\n";
          ok = false;
          continue;
        }
        rps[which] = static_cast<double>(ph.input_records) / ph.seconds;
      }
      rounds.push_back({{"with_checkpoints_rps", rps[0]}, {"without_checkpoints_rps", rps[1]}});
      if (rps[0] > 0 && rps[1] > 0) {
        with_rps.push_back(rps[0]);
        without_rps.push_back(rps[1]);
        ratios.push_back(rps[0] / rps[1]);
      }
    }
    json cmp{{"rounds", rounds}, {"checkpoint_interval_ms", 1000}};
    if (!ratios.empty()) {
      auto best = [](std::vector<double> v) { return *std::max_element(v.begin(), v.end()); };
      auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
      };
      cmp["with_best_rps"] = best(with_rps);
      cmp["without_best_rps"] = best(without_rps);
      cmp["ratio_of_best"] = best(with_rps) / best(without_rps);
      cmp["ratio_median"] = median(ratios);
    }
    result["checkpoint_compare"] = cmp;
    std::cout << result.dump() << std::endl;
    return ok && !ratios.empty() ? 0 : 1;
  }

  std::cerr << "bench_pipeline: baseline (KafkaConsumer -> KafkaProducer, no processing)\n";
  Phase baseline = run_baseline(bootstrap, w, baseline_out, o.partitions, target, tag, o.timeout_s);
  result["baseline"] = baseline.to_json();
  ok = ok && baseline.ok;

  std::cerr << "bench_pipeline: pipeline (Application, orders LEFT JOIN users + counts)\n";
  Phase pipeline = run_pipeline(bootstrap, w, o.partitions, target, tag, o.timeout_s);
  result["pipeline"] = pipeline.to_json();
  ok = ok && pipeline.ok;
  if (baseline.ok && pipeline.ok && baseline.seconds > 0) {
    result["pipeline"]["ratio_to_baseline"] = baseline.seconds / pipeline.seconds;
  }
  for (const Phase* p : {&baseline, &pipeline}) {
    if (!p->ok) std::cerr << "bench_pipeline: " << p->name << " FAILED: " << p->error << "\n";
  }
  if (o.latency_seconds > 0 && pipeline.ok) {
    std::cerr << "bench_pipeline: latency for " << o.latency_seconds << " s at "
              << (o.latency_rate > 0 ? std::to_string(o.latency_rate) + " orders/s"
                                     : std::string("half of the measured maximum"))
              << "\n";
    result["latency"] = run_latency(bootstrap, w, o.partitions, tag, o.latency_rate,
                                    o.latency_seconds, o.timeout_s, o.latency_sets,
                                    o.latency_max_orders);
    if (!result["latency"].value("ok", false)) ok = false;
  }
  std::cout << result.dump() << std::endl;
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace rivulet::bench

int main(int argc, char** argv) {
  rivulet::bench::Options o;
  CLI::App app{"Rivulet end-to-end benchmark: driver, raw-librdkafka baseline, Application"};
  app.add_option("--users", o.users, "Users in the table")->check(CLI::Range(1, 10000000));
  app.add_option("--orders", o.orders, "Orders in the stream")->check(CLI::Range(1, 10000000));
  app.add_option("--partitions", o.partitions, "Partitions per topic")->check(CLI::Range(1, 64));
  app.add_option("--brokers", o.brokers, "Embedded brokers")->check(CLI::Range(1, 9));
  app.add_option("--batch", o.batch, "Driver batch size (records)")->check(CLI::Range(1, 100000));
  app.add_option("--timeout", o.timeout_s, "Seconds each broker phase may take")
      ->check(CLI::Range(1, 3600));
  app.add_option("--bootstrap", o.bootstrap, "A real Kafka instead of the embedded broker");
  app.add_flag("--driver-only", o.driver_only, "Only the in-process driver phase, no broker");
  app.add_option("--users-storage", o.users_storage,
                 "Storage of the users KTable in the driver and pipeline phases "
                 "(the demo's default is auto)")
      ->check(CLI::IsMember({"decoded", "encoded", "auto"}));
  app.add_flag("!--no-table-bytes", o.table_bytes,
               "Skip measuring the users table's bytes per entry (both storages)");
  app.add_option("--checkpoint-compare", o.checkpoint_compare,
                 "Rounds of the pipeline with checkpoint.interval.ms=1000 against no checkpoints "
                 "(instead of the baseline and pipeline phases)")
      ->check(CLI::Range(0, 100));
  app.add_option("--latency-seconds", o.latency_seconds,
                 "After the pipeline phase: orders at a fixed rate for this long, p50/p99 of order "
                 "-> enriched order read back (0: no latency phase)")
      ->check(CLI::Range(0, 600));
  app.add_option("--latency-rate", o.latency_rate,
                 "Orders/s of the latency phase (default: half of the maximum measured by a burst "
                 "of --latency-max-orders just before, in the same Application)")
      ->check(CLI::Range(0.0, 10000000.0));
  app.add_option("--latency-max-orders", o.latency_max_orders,
                 "Orders of the burst that measures the latency phase's maximum")
      ->check(CLI::Range(int64_t{1000}, int64_t{10000000}));
  app.add_option("--latency-set", o.latency_sets,
                 "Configuration of the latency phase (key=value, repeatable; replaces the "
                 "default latency profile)");
  CLI11_PARSE(app, argc, argv);
  return rivulet::bench::run(o);
}
