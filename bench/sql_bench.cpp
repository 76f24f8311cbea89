// bench_sql: the Yahoo Streaming Benchmark and Nexmark Q1, Q2, Q3, Q5, Q7
// written in Rivulet SQL (bench/sql_workloads.hpp), each next to the limit
// of the broker path, in one process:
//
//   driver    the planned SQL topology through sql::TestDriver in this
//             thread, no broker: records per CPU second of the operators
//             (with --check, the results are compared with what the
//             generator says they must be; exit 1 when they differ; the
//             pipeline's final Yahoo counts too);
//   pipeline  the same SQL planned by sql::plan_script and run by
//             rivulet::Application, as `rivulet run` does, on the embedded
//             broker (or --bootstrap): from start until every input record
//             was processed and the last output was read back;
//   baseline  our KafkaConsumer -> KafkaProducer (librdkafka, no
//             processing): reads the same inputs and writes as many output
//             records as the pipeline wrote;
//   baseline_hops (workloads whose pipeline writes topics it reads back,
//             such as Yahoo's repartition topic) the same through as many
//             KafkaConsumer -> KafkaProducer hops as the pipeline has, each
//             writing as many records as the pipeline wrote at that hop;
//   latency   (--latency) the latency phase's Application first takes a
//             burst of --latency-max-records input records as fast as the
//             producer accepts them (the live maximum), then a rate-limited
//             generator (event time = the wall clock) writes at half of it;
//             p50/p99 of (time an output is read by a consumer - the output
//             record's timestamp, which is the time of the input that caused
//             it); then the broker path alone at the same rate.
//
// Input is produced before the phases (sized to stay under the embedded
// broker's 5 MiB per partition); outputs are read back while they are
// written. Prints progress on stderr and one JSON object on stdout.
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "actors/application.hpp"
#include "bench/latency_profile.hpp"
#include "bench/read_back_watchdog.hpp"
#include "bench/sql_workloads.hpp"
#include "bench/thread_cpu.hpp"
#include "chaos/topic_reader.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/topic_admin.hpp"
#include "sql/app_file.hpp"
#include "sql/test_driver.hpp"

namespace rivulet::bench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct Options {
  std::vector<std::string> workloads = {"yahoo", "q1", "q2", "q3", "q5", "q7"};
  int64_t yahoo_events = 100000;
  int64_t nexmark_events = 150000;
  // Q3 reads persons and auctions only (8% of the events): its own, longer
  // run of the generator, bids left out.
  int64_t q3_events = 1000000;
  double events_per_second = 5000;  // event time density of the generated input
  int partitions = 8;
  int brokers = 3;
  int timeout_s = 60;
  std::string bootstrap;
  bool driver_only = false;
  bool check = false;
  bool latency = false;
  double latency_rate = 0;  // 0: half of the live maximum measured by a burst
  int latency_seconds = 15;
  // Input records of the burst that measures each latency phase's live
  // maximum; 0: min(100,000, the workload's pipeline input records).
  int64_t latency_max_records = 0;
  std::vector<std::string> sets;  // --set key=value for the pipeline phases
  // The latency phases' configuration (--latency-set replaces it); --set
  // values apply on top of it. Without --latency-set each workload runs
  // with the profile for its number of hops (bench/latency_profile.hpp).
  std::vector<std::string> latency_sets = latency_profile();
  bool latency_sets_given = false;
  // Both, in that order: what the latency phases run with.
  std::vector<std::string> latency_config() const {
    std::vector<std::string> all = latency_sets;
    all.insert(all.end(), sets.begin(), sets.end());
    return all;
  }
};

// Published Flink 1.13 Nexmark figures per core (nexmark/nexmark README):
// other hardware, other generator, no broker in the loop.
const std::map<std::string, double> kFlinkPerCore = {
    {"q1", 158000}, {"q2", 175000}, {"q3", 152000}, {"q5", 22000}, {"q7", 12000}};

bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

int64_t peak_rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atoll(line.c_str() + 6);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
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

// Input records counted over a phase, sampled every 10 ms on a thread of
// its own (the phases' waiting loops block for a fraction of a second at
// times, in ReadBackWatchdog::tick): the rate in the phase's middle, from
// the moment a fifth of the input was counted to the moment four fifths
// were. It leaves out the start (fetches and caches warming, first-touch
// page faults) and the drain, which in a run of about a second weigh as
// much as the steady state the throughput goal is about.
class ProgressSampler {
 public:
  ProgressSampler(std::function<int64_t()> count, int64_t total)
      : count_(std::move(count)), total_(total), thread_([this] { run(); }) {}
  ~ProgressSampler() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Records per second between the 20% and 80% crossings (interpolated
  // between samples); -1 when the phase did not pass both.
  double steady_rate() {
    stop();
    const double lo = 0.2 * static_cast<double>(total_), hi = 0.8 * static_cast<double>(total_);
    auto a = crossing(lo), b = crossing(hi);
    if (!a || !b || *b <= *a) return -1;
    return (hi - lo) / (*b - *a);
  }

 private:
  void run() {
    while (!stop_) {
      samples_.emplace_back(std::chrono::duration<double>(Clock::now().time_since_epoch()).count(),
                            count_());
      if (samples_.back().second >= total_) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::optional<double> crossing(double target) const {
    for (size_t i = 1; i < samples_.size(); ++i) {
      const auto& [t0, c0] = samples_[i - 1];
      const auto& [t1, c1] = samples_[i];
      if (static_cast<double>(c1) < target || c1 == c0) continue;
      const double f = (target - static_cast<double>(c0)) / static_cast<double>(c1 - c0);
      return t0 + std::max(0.0, f) * (t1 - t0);
    }
    return std::nullopt;
  }

  std::function<int64_t()> count_;
  const int64_t total_;
  std::atomic<bool> stop_{false};
  std::vector<std::pair<double, int64_t>> samples_;  // the thread's until stop()
  std::thread thread_;
};

struct Phase {
  int64_t input_records = 0;
  int64_t output_records = 0;
  double seconds = 0;
  double cpu = 0;
  double broker_cpu = -1;  // of it, the embedded broker's thread (-1: not measured)
  double steady_rps = -1;   // ProgressSampler::steady_rate (-1: not measured)
  int64_t rss_kb = 0;
  bool rss_per_phase = false;
  bool ok = false;
  std::string error;
  int64_t read_back_missed = 0;
  int read_back_restarts = 0;  // ReadBackWatchdog: stalled partitions assigned again
  std::map<std::string, double> cpu_by_thread;  // by thread family (threads_cpu_delta)
  std::map<std::string, long long> faults_by_thread;  // minor page faults, the same families
  // CPU the process used between the phase's end and the moment it was
  // declared done (the pipeline's quiet second); not in `cpu`. -1: none.
  double cpu_after_end = -1;
  // With --kafka-stats-ms: per client, what it sent in the phase (kafka_delta).
  json kafka = json::object();

  json to_json() const {
    json j{{"ok", ok},
           {"input_records", input_records},
           {"output_records", output_records},
           {"seconds", seconds},
           {"cpu_seconds", cpu},
           {"peak_rss_kb", rss_kb},
           {"peak_rss_scope", rss_per_phase ? "phase" : "process"}};
    if (seconds > 0) j["records_per_second"] = static_cast<double>(input_records) / seconds;
    if (steady_rps > 0) j["steady_records_per_second"] = steady_rps;
    if (cpu > 0) j["records_per_cpu_second"] = static_cast<double>(input_records) / cpu;
    if (input_records > 0)
      j["cpu_seconds_per_million_records"] = cpu * 1e6 / static_cast<double>(input_records);
    if (broker_cpu >= 0) {
      // What the process spent besides the embedded broker: the Application
      // (or the baseline) with its Kafka clients, and the bench's readers.
      j["embedded_broker_cpu_seconds"] = broker_cpu;
      j["cpu_seconds_without_broker"] = cpu - broker_cpu;
      if (input_records > 0)
        j["cpu_seconds_per_million_records_without_broker"] =
            (cpu - broker_cpu) * 1e6 / static_cast<double>(input_records);
    }
    if (!error.empty()) j["error"] = error;
    if (read_back_missed > 0) j["read_back_missed"] = read_back_missed;
    if (read_back_restarts > 0) j["read_back_restarts"] = read_back_restarts;
    if (!cpu_by_thread.empty()) {
      j["cpu_seconds_by_thread"] = cpu_by_thread;
      // librdkafka's own threads (rdk:*: the clients' broker and main
      // threads, and the embedded broker's rdk:mock): the rest is what the
      // Application or the baseline spent on their own threads, the calls
      // they make into librdkafka there (polling, producing) included, and
      // the bench's read-back.
      double kafka_threads_cpu = 0;
      for (const auto& [family, seconds] : cpu_by_thread) {
        if (family.rfind("rdk:", 0) == 0) kafka_threads_cpu += seconds;
      }
      j["kafka_threads_cpu_seconds"] = kafka_threads_cpu;
      j["cpu_seconds_without_kafka_threads"] = cpu - kafka_threads_cpu;
      if (input_records > 0)
        j["cpu_seconds_per_million_records_without_kafka_threads"] =
            (cpu - kafka_threads_cpu) * 1e6 / static_cast<double>(input_records);
    }
    if (!faults_by_thread.empty()) j["page_faults_by_thread"] = faults_by_thread;
    if (cpu_after_end >= 0) j["cpu_seconds_after_end"] = cpu_after_end;
    if (!kafka.empty()) j["kafka"] = kafka;
    return j;
  }
};

class PhaseTimer {
 public:
  explicit PhaseTimer(Phase& p) : phase_(p) {
    phase_.rss_per_phase = reset_peak_rss();
    restart();
  }
  // Starts the phase over from now (after a set-up that is not timed).
  void restart() {
    cpu0_ = process_cpu_seconds();
    threads0_ = threads_cpu();
    t0_ = Clock::now();
  }
  // Reads the CPU counters now, as they stand at `at`: for a phase whose
  // end is known only later. The pipeline phase ends at its last output
  // (or when its tasks were seen drained) but is declared done a quiet
  // second after it; the clients' idle fetches in that second are not the
  // phase's CPU. Reading every thread's counters opens two files per
  // thread, so the caller marks when progress stops, not on every poll.
  void mark(Clock::time_point at) {
    mark_at_ = at;
    mark_cpu_ = process_cpu_seconds();
    mark_threads_ = threads_cpu();
  }
  // Ends the phase at `last`: with the CPU of the mark taken for `last`,
  // or of now when there is none.
  void end(Clock::time_point last) {
    phase_.seconds = std::chrono::duration<double>(last - t0_).count();
    if (mark_at_ == last) {
      phase_.cpu = mark_cpu_ - cpu0_;
      phase_.cpu_by_thread = threads_cpu_delta(threads0_, mark_threads_);
      phase_.faults_by_thread = threads_faults_delta(threads0_, mark_threads_);
      phase_.cpu_after_end = process_cpu_seconds() - mark_cpu_;
    } else {
      phase_.cpu = process_cpu_seconds() - cpu0_;
      const auto now = threads_cpu();
      phase_.cpu_by_thread = threads_cpu_delta(threads0_, now);
      phase_.faults_by_thread = threads_faults_delta(threads0_, now);
    }
    // Only with the embedded broker in this process (not with --bootstrap).
    if (auto broker = phase_.cpu_by_thread.find("rdk:mock"); broker != phase_.cpu_by_thread.end())
      phase_.broker_cpu = broker->second;
    phase_.rss_kb = peak_rss_kb();
  }

 private:
  Phase& phase_;
  double cpu0_ = 0;
  std::map<std::string, ThreadCpu> threads0_;
  Clock::time_point t0_;
  std::optional<Clock::time_point> mark_at_;
  double mark_cpu_ = 0;
  std::map<std::string, ThreadCpu> mark_threads_;
};

// The generated input of a workload family: every record in production order.
struct Input {
  std::vector<std::string> topics;  // the generator's topic names, by GenRecord::topic
  std::vector<GenRecord> records;
  int64_t bytes = 0;
};

Input generate_yahoo(const Options& o, const std::string& prefix, int64_t base_ms) {
  YahooGenerator g;
  Input in;
  in.topics = {prefix + "ad-events", prefix + "ads"};
  in.records = g.table();
  // Tables before the events in time too: a task takes its inputs' records
  // in timestamp order, so a table newer than the events would join nothing.
  for (auto& r : in.records) r.timestamp = base_ms - 1000;
  for (int64_t i = 0; i < o.yahoo_events; ++i) {
    in.records.push_back(g.event(
        base_ms + static_cast<int64_t>(static_cast<double>(i) * 1000.0 / o.events_per_second)));
  }
  for (const auto& r : in.records) in.bytes += static_cast<int64_t>(r.value.size());
  return in;
}

Input generate_nexmark(const Options& o, const std::string& prefix, int64_t base_ms,
                       int64_t events, bool without_bids) {
  NexmarkGenerator g(base_ms, o.events_per_second);
  Input in;
  in.topics = {prefix + "nexmark-person", prefix + "nexmark-auction", prefix + "nexmark-bid"};
  if (without_bids) in.topics.pop_back();
  for (int64_t i = 0; i < events; ++i) {
    auto r = g.next_event();
    if (!without_bids || r.topic != 2) in.records.push_back(std::move(r));
  }
  for (const auto& r : in.records) in.bytes += static_cast<int64_t>(r.value.size());
  return in;
}

// The expectation of `w` over the same generator run as `generate_*` made.
Expectation expect(const Options& o, const Workload& w, int64_t base_ms) {
  Expectation e(w.name);
  if (w.name == "yahoo") {
    YahooGenerator g;
    for (int64_t i = 0; i < o.yahoo_events; ++i) {
      int ad = 0;
      bool view = false;
      const int64_t t =
          base_ms + static_cast<int64_t>(static_cast<double>(i) * 1000.0 / o.events_per_second);
      g.event(t, &ad, &view);
      e.on_yahoo(t, ad, view, g);
    }
  } else {
    NexmarkGenerator g(base_ms, o.events_per_second);
    const int64_t events = w.name == "q3" ? o.q3_events : o.nexmark_events;
    for (int64_t i = 0; i < events; ++i) {
      auto r = g.next_event();
      e.on_nexmark(r.timestamp, g);
    }
  }
  return e;
}

bool reads(const Workload& w, const std::string& topic) {
  return std::find(w.topics.begin(), w.topics.end(), topic) != w.topics.end();
}

int64_t input_count(const Workload& w, const Input& in) {
  int64_t n = 0;
  for (const auto& r : in.records)
    if (reads(w, in.topics[static_cast<size_t>(r.topic)])) ++n;
  return n;
}

// RIVULET_BENCH_PERF_CTL=fifo: perf's control FIFO (`perf record
// --control=fifo:FIFO -D -1 -- bench_sql ...`). Each pipeline phase writes
// "enable" when its timed part starts and "disable" when it ends, so that
// a profile holds the pipeline alone (not the generator, the driver or
// the baselines); with --driver-only, the driver phases do the same.
void perf_control(const char* command) {
  static const char* path = std::getenv("RIVULET_BENCH_PERF_CTL");
  if (path == nullptr) return;
  if (FILE* f = std::fopen(path, "w")) {
    std::fprintf(f, "%s\n", command);
    std::fclose(f);
  }
}

// (1) The planned topology in this thread, through the TestDriver.
Phase run_driver(const Workload& w, const Input& in, const Expectation* check, bool profile,
                 json& out) {
  Phase p;
  auto planned = sql::plan_script(w.sql);
  if (!planned) {
    p.error = "the SQL does not plan: " + planned.error().message;
    return p;
  }
  auto driver = sql::TestDriver::create(planned->topology);
  if (!driver) {
    p.error = driver.error().to_string();
    return p;
  }
  // Tables first, untimed (as a preloaded table in the broker phases).
  for (const auto& r : in.records) {
    const auto& topic = in.topics[static_cast<size_t>(r.topic)];
    if (!reads(w, topic)) continue;
    const size_t idx = static_cast<size_t>(
        std::find(w.topics.begin(), w.topics.end(), topic) - w.topics.begin());
    if (w.table_topic[idx] && w.name == "yahoo") (*driver)->pipe(topic, r.key, r.value, r.timestamp);
  }
  // The driver collects everything the task writes (repartition topics
  // included); left to grow, that vector's reallocations and fresh pages
  // were more than a third of the phase's samples, the harness's cost rather
  // than the operators'. Every 1,024 records the outputs of the
  // workload's topics are taken out (copied only for --check, which needs
  // them) and the rest forgotten, as a sink that discards would.
  std::vector<std::vector<OutputRecord>> kept(w.output_topics.size());
  int64_t output_records = 0;
  std::vector<std::optional<OutputRecord>> firsts(w.output_topics.size());
  auto take_outputs = [&] {
    for (const auto& o : (*driver)->outputs()) {
      const size_t t = static_cast<size_t>(
          std::find(w.output_topics.begin(), w.output_topics.end(), o.topic) -
          w.output_topics.begin());
      if (t == w.output_topics.size()) continue;
      ++output_records;
      if (!firsts[t]) firsts[t] = o;
      if (check != nullptr) kept[t].push_back(o);
    }
    (*driver)->clear_outputs();
  };
  const double cpu0 = thread_cpu_seconds();
  const auto t0 = Clock::now();
  if (profile) perf_control("enable");
  int64_t n = 0;
  for (const auto& r : in.records) {
    const auto& topic = in.topics[static_cast<size_t>(r.topic)];
    if (!reads(w, topic)) continue;
    if (w.name == "yahoo" && r.topic == 1) continue;  // loaded above
    (*driver)->pipe(topic, r.key, r.value, r.timestamp);
    if ((++n & 1023) == 0) take_outputs();
  }
  take_outputs();
  if (profile) perf_control("disable");
  p.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  p.cpu = thread_cpu_seconds() - cpu0;
  p.rss_kb = peak_rss_kb();
  p.input_records = n;
  std::vector<OutputRecord> outputs;
  for (auto& k : kept) std::move(k.begin(), k.end(), std::back_inserter(outputs));
  std::optional<OutputRecord> first_output;
  for (auto& f : firsts)
    if (f && !first_output) first_output = std::move(f);
  p.output_records = output_records;
  out["data_errors"] = (*driver)->data_errors().size();
  if (!(*driver)->data_errors().empty())
    out["first_data_error"] = (*driver)->data_errors().front().to_string();
  p.ok = true;
  if (check != nullptr) {
    const std::string diff = check->check(outputs);
    out["check"] = diff.empty() ? "ok" : diff;
    if (!diff.empty()) {
      p.ok = false;
      p.error = "wrong results: " + diff;
    }
  }
  if (first_output) {
    out["first_output"] = {{"key_bytes", first_output->key ? first_output->key->size() : 0},
                           {"value", first_output->value.value_or("null")},
                           {"timestamp", first_output->timestamp}};
  }
  return p;
}

// RIVULET_BENCH_LATENCY_DUMP=file: every counted latency as a line
// "topic partition base_ms latency_ms" (to see when and where time goes).
FILE* const g_dump = [] {
  const char* path = std::getenv("RIVULET_BENCH_LATENCY_DUMP");
  return path != nullptr ? std::fopen(path, "w") : nullptr;
}();

// Counts records read back; with `latencies`, also wall ms - record time of
// each record whose time is >= from_ms.
class ReadBack : public connectors::BatchSink {
 public:
  bool offer(RawBatch&& batch) override {
    if (batch.records.empty()) return true;
    if (collect_.load()) {
      const int64_t now = wall_ms();
      const int64_t from = from_ms_.load();
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& r : batch.records) {
        const int64_t base = base_ ? base_(r) : r.timestamp;
        if (base >= from) latencies_.push_back(now - base);
        if (g_dump != nullptr && base >= from)
          std::fprintf(g_dump, "%s %d %lld %lld\n", batch.tp.topic.c_str(),
                       batch.tp.partition.value(), static_cast<long long>(base),
                       static_cast<long long>(now - base));
      }
    }
    last_ = Clock::now();
    read_.fetch_add(static_cast<int64_t>(batch.records.size()), std::memory_order_relaxed);
    return true;
  }
  // Where a record's latency is counted from (default: its timestamp);
  // set before the reader starts.
  void latency_base(std::function<int64_t(const RawRecord&)> base) { base_ = std::move(base); }
  // Any thread (the consumer's poll thread reads the flags).
  void collect_latencies(int64_t from_ms) {
    from_ms_.store(from_ms);
    collect_.store(true);
  }
  std::vector<int64_t> latencies() {
    std::lock_guard<std::mutex> lock(mutex_);
    return latencies_;
  }
  int64_t read() const { return read_.load(std::memory_order_relaxed); }
  Clock::time_point last() const { return last_.load(); }
  // The reader's first fatal error (records lost: offset out of range), ""
  // when none; start_reader reports into on_lost().
  std::string lost_error() const { return lost_.first(); }
  std::function<void(const Error&)> on_lost() { return lost_.sink(); }

 private:
  FirstLoss lost_;
  std::atomic<int64_t> read_{0};
  std::atomic<Clock::time_point> last_{Clock::now()};
  std::atomic<bool> collect_{false};
  std::atomic<int64_t> from_ms_{0};
  std::function<int64_t(const RawRecord&)> base_;
  std::mutex mutex_;
  std::vector<int64_t> latencies_;
};

std::vector<connectors::StartPosition> from_beginning(const std::vector<std::string>& topics,
                                                      int partitions) {
  std::vector<connectors::StartPosition> positions;
  for (const auto& t : topics)
    for (int32_t p = 0; p < partitions; ++p)
      positions.push_back(
          {TopicPartition{t, PartitionId{p}}, connectors::StartPosition::kBeginning});
  return positions;
}

// Every topic a reader or hop of this bench reads was created for this run
// (fresh names on a real Kafka): its first record is offset 0. Assigning
// offset 0, not kBeginning, starts fetching at once: kBeginning is resolved
// by a ListOffsets round trip per partition first, which librdkafka retries
// after 500 ms when it fails and, with auto.offset.reset=error, turns into a
// consumer error when it fails for good; a partition whose first fetch
// comes late can lose its start to the embedded broker's 5 MiB per
// partition. A start that is gone anyway fails loudly (offset out of range).
std::vector<connectors::StartPosition> from_first(const std::vector<std::string>& topics,
                                                  int partitions) {
  std::vector<connectors::StartPosition> positions;
  for (const auto& t : topics)
    for (int32_t p = 0; p < partitions; ++p)
      positions.push_back({TopicPartition{t, PartitionId{p}}, 0});
  return positions;
}

// Starts a consumer of `topics` (created for this run) from their first
// records into `sink`; fatal consumer errors (records lost) go to `lost`.
Expected<std::unique_ptr<connectors::KafkaConsumer>> start_reader(
    const std::string& bootstrap, const std::string& group, const std::vector<std::string>& topics,
    int partitions, connectors::BatchSink* sink, connectors::KafkaProperties props = {},
    std::function<void(const Error&)> lost = nullptr) {
  props["bootstrap.servers"] = bootstrap;
  props["group.id"] = group;
  connectors::ConsumerOptions options;
  options.thread_name = "bench.read";
  if (lost) {
    options.on_error = [lost = std::move(lost)](const Error& e) {
      if (e.kind == ErrorKind::Fatal) lost(e);
    };
  }
  auto reader = connectors::KafkaConsumer::create(props, std::move(options));
  if (!reader) return reader.error();
  if (auto r = (*reader)->assign(from_first(topics, partitions)); !r) return r.error();
  (*reader)->start(sink);
  return reader;
}

// The topics a topology reads that the Application does not create itself
// (its repartition topics it creates, and a run that finds them new knows no
// earlier run wrote to them: two-phase GROUP BYs combine from the start).
std::vector<std::string> external_inputs(const Topology& t) {
  std::vector<std::string> out;
  const auto internal = t.repartition_topics();
  for (const auto& s : t.source_topics())
    if (std::find(internal.begin(), internal.end(), s) == internal.end()) out.push_back(s);
  return out;
}

Expected<bool> ensure_topics(const std::string& bootstrap, const std::vector<std::string>& topics,
                             int partitions) {
  auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", bootstrap}});
  if (!admin) return admin.error();
  for (const auto& t : topics)
    if (auto r = (*admin)->ensure_topic(t, partitions); !r) return r.error();
  return true;
}

// Records written to `topics` (sum of high watermarks) and records the
// broker dropped from them (sum of low watermarks; fresh topics start at 0).
Expected<std::pair<int64_t, int64_t>> written_and_dropped(const std::string& bootstrap,
                                                          const std::vector<std::string>& topics,
                                                          int partitions) {
  auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", bootstrap}});
  if (!admin) return admin.error();
  std::vector<TopicPartition> tps;
  for (const auto& t : topics)
    for (int32_t p = 0; p < partitions; ++p) tps.push_back(TopicPartition{t, PartitionId{p}});
  auto marks = (*admin)->watermarks(tps);
  if (!marks) return marks.error();
  int64_t written = 0, dropped = 0;
  for (const auto& w : *marks) {
    if (!w) return w.error();
    dropped += w->first;
    written += w->second;
  }
  return std::make_pair(written, dropped);
}

// Records written to `topic` (the sum of its partitions' high watermarks).
Expected<int64_t> records_written(const std::string& bootstrap, const std::string& topic) {
  auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", bootstrap}});
  if (!admin) return admin.error();
  auto n = (*admin)->partition_count(topic);
  if (!n) return n.error();
  if (!*n) return Error::fatal("topic '" + topic + "' does not exist");
  auto wd = written_and_dropped(bootstrap, {topic}, **n);
  if (!wd) return wd.error();
  return wd->first;
}

// The topics a planned topology both writes and reads (repartition topics,
// a first stage's results read by a second), in the order the topology
// reads them: along its path for the workloads here, where each such topic
// is written by the stage before the one that reads it.
std::vector<std::string> intermediate_topics(const Topology& t) {
  const auto sinks = t.sink_topics();
  std::vector<std::string> out;
  for (const auto& s : t.source_topics())
    if (std::find(sinks.begin(), sinks.end(), s) != sinks.end() &&
        std::find(out.begin(), out.end(), s) == out.end())
      out.push_back(s);
  return out;
}

// Produces `in` (all of it) and waits until every record was acknowledged.
Expected<bool> load(const std::string& bootstrap, const Input& in, int partitions) {
  auto producer = connectors::KafkaProducer::create(
      {{"bootstrap.servers", bootstrap}, {"linger.ms", "20"}}, nullptr);
  if (!producer) return producer.error();
  // Records without a key go round robin over the partitions: librdkafka's
  // sticky partitioner would fill some partitions far beyond the average
  // (and the embedded broker keeps only 5 MiB of each).
  std::vector<int32_t> next(in.topics.size(), 0);
  for (const auto& r : in.records) {
    OutputRecord out;
    out.topic = in.topics[static_cast<size_t>(r.topic)];
    out.key = r.key;
    if (!r.key) {
      int32_t& n = next[static_cast<size_t>(r.topic)];
      out.partition = n;
      n = (n + 1) % partitions;
    }
    out.value = r.value;
    out.timestamp = r.timestamp;
    if (auto ok = (*producer)->produce(out, nullptr); !ok) return ok.error();
  }
  if (auto ok = (*producer)->flush(std::chrono::seconds(60)); !ok) return ok.error();
  for (const auto& [topic, s] : (*producer)->stats())
    if (s.failed > 0)
      return Error::fatal(topic + ": " + std::to_string(s.failed) + " records not acknowledged");
  return true;
}

// --trace: the pipeline's progress every 10 ms on stderr.
bool g_trace = false;

// --kafka-stats-ms: the interval of the Kafka clients' statistics in the
// pipeline and baseline phases (0: off, the clients' own 5 s, too coarse
// for a phase). Each phase then reports what its clients sent, as of their
// last report: up to this long before the phase's end.
int g_kafka_stats_ms = 0;

// What one client sent and received between two of its statistics reports.
json kafka_delta(const connectors::KafkaClientStats& before,
                 const connectors::KafkaClientStats& after) {
  json requests = json::object();
  for (const auto& [type, n] : after.requests) {
    auto it = before.requests.find(type);
    const uint64_t was = it != before.requests.end() ? it->second : 0;
    if (n > was) requests[type] = n - was;
  }
  return {{"requests", requests},
          {"bytes_sent", after.tx_bytes - before.tx_bytes},
          {"bytes_received", after.rx_bytes - before.rx_bytes},
          {"reports", after.reports - before.reports}};
}

// (2) The SQL run by the Application, as `rivulet run` runs it.
// `check` (--check): the results read back from the output topics must be
// what the generator says (the final value of every key; with the output
// cache the intermediate ones differ).
Phase run_pipeline(const std::string& bootstrap, const Workload& w, int64_t inputs, int partitions,
                   const std::string& app_id, int timeout_s,
                   const std::vector<std::string>& extra_sets, const Expectation* check,
                   json& out) {
  Phase p;
  auto planned = sql::plan_script(w.sql);
  if (!planned) {
    p.error = planned.error().message;
    return p;
  }
  std::string state_dir =
      (std::filesystem::temp_directory_path() / "rivulet-bench-sql-XXXXXX").string();
  if (::mkdtemp(state_dir.data()) == nullptr) {
    p.error = "cannot create a state directory under /tmp";
    return p;
  }
  std::vector<std::string> sets{"application.id=" + app_id, "bootstrap.servers=" + bootstrap,
                                "state.dir=" + state_dir};
  if (g_kafka_stats_ms > 0) {
    for (const char* client : {"consumer", "producer"})
      sets.push_back(std::string("kafka.") + client +
                     ".statistics.interval.ms=" + std::to_string(g_kafka_stats_ms));
  }
  sets.insert(sets.end(), extra_sets.begin(), extra_sets.end());
  auto config = sql::app_config(*planned, "", sets);
  if (!config) {
    p.error = config.error().message;
    return p;
  }
  // Topics the queries read that nobody wrote yet (one query's output read
  // by the next): the Application wants its inputs to exist.
  if (auto r = ensure_topics(bootstrap, external_inputs(planned->topology), partitions); !r) {
    p.error = r.error().to_string();
    return p;
  }
  ReadBack back;
  {
    Application app(planned->topology, *config);
    PhaseTimer timer(p);
    const auto t_start = Clock::now();
    auto started = app.start();
    // Timed from here: start() (topic checks, spawning the tasks) is set-up.
    out["start_seconds"] = std::chrono::duration<double>(Clock::now() - t_start).count();
    timer.restart();
    perf_control("enable");
    const auto clients_at_start = app.kafka_client_stats();
    auto clients_at_mark = clients_at_start;
    std::unique_ptr<connectors::KafkaConsumer> reader;
    if (started) {
      // The Application created the output topics; read them from the start.
      auto r = start_reader(bootstrap, app_id + "-reader", w.output_topics, app.partitions(), &back,
                            {}, back.on_lost());
      if (!r) {
        p.error = r.error().to_string();
      } else {
        reader = std::move(*r);
      }
    } else {
      p.error = started.error().to_string();
    }
    if (reader) {
      // Done when every task has read all of its inputs (the stream inputs
      // and the repartition topics), its inboxes are empty, and no output
      // arrived for a second. The phase ends at the later of the last output
      // read and the moment processing was seen finished.
      const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
      auto next_report = Clock::now() + std::chrono::seconds(5);
      std::optional<Clock::time_point> drained;
      ProgressSampler progress(
          [&app] {
            uint64_t n = 0;
            for (const auto& t : app.task_metrics()) n += t.records_in;
            return static_cast<int64_t>(n);
          },
          inputs);
      Clock::time_point marked{};
      bool done = false;
      ReadBackWatchdog watchdog(bootstrap, *reader, "bench_sql");
      while (!done) {
        if (Clock::now() >= deadline) break;
        watchdog.tick();
        if (auto f = app.failure()) {
          p.error = *f;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        uint64_t in = 0;
        bool idle = true;
        for (const auto& t : app.task_metrics()) {
          in += t.records_in;
          if (t.lag != 0 || t.inbox_batches != 0) idle = false;
        }
        if (idle && static_cast<int64_t>(in) >= inputs) {
          if (!drained) drained = Clock::now();
          const auto quiet = std::max(*drained, back.last());
          // The phase ends at `quiet` if nothing follows: its CPU is read
          // now, once per candidate end, not after the quiet second.
          if (quiet != marked) {
            timer.mark(quiet);
            if (g_kafka_stats_ms > 0) clients_at_mark = app.kafka_client_stats();
            marked = quiet;
          }
          done = Clock::now() - quiet >= std::chrono::seconds(1);
        } else {
          drained.reset();
        }
        if (g_trace) {
          int64_t lag = 0;
          size_t inbox = 0;
          for (const auto& t : app.task_metrics()) {
            lag += t.lag;
            inbox += t.inbox_batches;
          }
          std::cerr << "trace " << std::chrono::duration<double>(Clock::now() - t_start).count()
                    << " in=" << in << " lag=" << lag << " inbox=" << inbox
                    << " out=" << back.read() << "\n";
        }
        if (Clock::now() >= next_report) {
          std::cerr << "bench_sql: " << w.name << " pipeline: " << in << " records in, "
                    << back.read() << " outputs read\n";
          next_report += std::chrono::seconds(5);
        }
      }
      const auto end_at = done ? std::max(*drained, back.last()) : Clock::now();
      timer.end(end_at);
      perf_control("disable");
      if (g_kafka_stats_ms > 0) {
        const auto at_end = end_at == marked ? clients_at_mark : app.kafka_client_stats();
        for (const auto& [client, after] : at_end)
          for (const auto& [name, before] : clients_at_start)
            if (name == client) p.kafka[client] = kafka_delta(before, after);
      }
      auto stats = app.stats();
      p.input_records = inputs;
      p.steady_rps = progress.steady_rate();
      p.output_records = back.read();
      // What the read-back consumer missed (the embedded broker dropped it
      // before it was read: 5 MiB per partition) still counts as written.
      if (auto wd = written_and_dropped(bootstrap, w.output_topics, app.partitions()); wd) {
        if (wd->first > back.read()) {
          out["read_back_missed"] = wd->first - back.read();
          p.output_records = wd->first;
        }
      }
      if (auto lost = back.lost_error(); !lost.empty()) out["read_back_error"] = lost;
      p.read_back_restarts = watchdog.restarts();
      out["records_in_all_topics"] = stats.records_in;  // repartition topics included
      out["records_out_all_topics"] = stats.records_out;
      // What the pipeline wrote to each topic it also reads (repartition
      // topics, a first stage's results), for the multi-hop baseline.
      json inter = json::array();
      // Named as the Application names them (Topology::scoped_to).
      for (const auto& t : intermediate_topics(planned->topology.scoped_to(app.application_id()))) {
        auto n = records_written(bootstrap, t);
        inter.push_back({{"topic", t}, {"records", n ? *n : -1}});
      }
      out["intermediate_topics"] = inter;
      out["data_errors"] = stats.data_errors;
      uint64_t late = 0;
      uint64_t pauses = 0;
      for (const auto& t : app.task_metrics()) {
        late += t.late_records_dropped;
        pauses += t.input_pauses;
      }
      out["input_pauses"] = pauses;
      out["late_records_dropped"] = late;
      p.ok = done && p.error.empty();
      if (!done && p.error.empty())
        p.error = "timed out after " + std::to_string(timeout_s) + " s: " +
                  std::to_string(stats.records_in) + " records in, " +
                  std::to_string(back.read()) + " outputs read";
    }
    app.stop();
    if (reader) reader->stop();
  }
  if (check != nullptr && p.ok) {
    std::vector<OutputRecord> outputs;
    for (const auto& t : w.output_topics) {
      auto contents = chaos::read_topic(bootstrap, t);
      if (!contents) {
        p.ok = false;
        p.error = "reading " + t + " to check it: " + contents.error().to_string();
        break;
      }
      for (auto& r : contents->records)
        outputs.push_back(OutputRecord{t,
                                       r.record.key.copy(),
                                       r.record.value.copy(),
                                       r.record.timestamp,
                                       {},
                                       std::nullopt,
                                       std::nullopt});
    }
    if (p.ok) {
      const auto diff = check->check_final(outputs);
      out["check"] = !diff           ? "not checked (final results are checked for yahoo)"
                     : diff->empty() ? "ok"
                                     : *diff;
      if (diff && !diff->empty()) {
        p.ok = false;
        p.error = "wrong results: " + *diff;
      }
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(state_dir, ignored);
  return p;
}

// The baseline's data path: every stream input record may become output
// records, handed straight to the producer, spread evenly so that the total
// equals the pipeline's output count. Runs on the consumer's poll thread.
class Forwarder : public connectors::BatchSink {
 public:
  Forwarder(connectors::KafkaProducer& producer, std::vector<std::string> streams,
            std::string out_topic, int64_t stream_records, int64_t inputs, int64_t target)
      : producer_(producer),
        streams_(std::move(streams)),
        out_topic_(std::move(out_topic)),
        stream_records_(std::max<int64_t>(1, stream_records)),
        inputs_(inputs),
        target_(target) {}

  bool offer(RawBatch&& batch) override {
    const int64_t consumed =
        consumed_.fetch_add(static_cast<int64_t>(batch.records.size())) +
        static_cast<int64_t>(batch.records.size());
    if (consumed >= inputs_ && !all_read_) {
      all_read_at_ = Clock::now();
      all_read_ = true;
    }
    if (std::find(streams_.begin(), streams_.end(), batch.tp.topic) == streams_.end()) return true;
    for (const auto& rec : batch.records) {
      const int64_t due =
          (seen_ + 1) * target_ / stream_records_ - seen_ * target_ / stream_records_;
      ++seen_;
      for (int64_t k = 0; k < due; ++k) {
        OutputRecord out;
        out.topic = out_topic_;
        out.key = rec.key.copy();
        out.value = rec.value.copy();
        if (auto r = producer_.produce(out, nullptr); !r) {
          if (!failed_.exchange(true)) error_ = r.error().to_string();
        }
      }
    }
    return true;
  }
  int64_t consumed() const { return consumed_.load(); }
  bool all_read() const { return all_read_.load(); }
  Clock::time_point all_read_at() const { return all_read_at_; }
  bool failed() const { return failed_.load(); }
  const std::string& error() const { return error_; }

 private:
  connectors::KafkaProducer& producer_;
  std::vector<std::string> streams_;
  std::string out_topic_;
  int64_t stream_records_, inputs_, target_;
  int64_t seen_ = 0;  // poll thread only
  std::atomic<int64_t> consumed_{0};
  std::atomic<bool> all_read_{false};
  Clock::time_point all_read_at_;  // written before all_read_ is set
  std::atomic<bool> failed_{false};
  std::string error_;
};

// The workload's input topics that are streams (not tables): what a
// baseline forwards.
std::vector<std::string> stream_topics(const Workload& w) {
  std::vector<std::string> streams;
  for (size_t i = 0; i < w.topics.size(); ++i)
    if (!w.table_topic[i]) streams.push_back(w.topics[i]);
  return streams;
}

// (3) The limit of the broker path for this workload's inputs.
Phase run_baseline(const std::string& bootstrap, const Workload& w, int64_t inputs,
                   int64_t stream_records, int64_t target, int partitions,
                   const std::string& out_topic, const std::string& tag, int timeout_s) {
  Phase p;
  ReadBack back;
  auto reader = start_reader(bootstrap, tag + "-baseline-reader", {out_topic}, partitions, &back);
  if (!reader) {
    p.error = reader.error().to_string();
    return p;
  }
  connectors::KafkaProperties stats;
  if (g_kafka_stats_ms > 0) stats["statistics.interval.ms"] = std::to_string(g_kafka_stats_ms);
  // The Application's producer defaults (idempotent, acks=all, linger 5 ms).
  auto producer_props = stats;
  producer_props["bootstrap.servers"] = bootstrap;
  auto producer = connectors::KafkaProducer::create(producer_props, nullptr);
  if (!producer) {
    p.error = producer.error().to_string();
    return p;
  }
  // Set-up, as the Application's start(): the output topic's leaders known.
  (*producer)->prepare_topics({out_topic});
  const std::vector<std::string> streams = stream_topics(w);
  Forwarder forward(**producer, streams, out_topic, stream_records, inputs, target);
  auto consumer_props = stats;
  consumer_props["bootstrap.servers"] = bootstrap;
  consumer_props["group.id"] = tag + "-baseline";
  connectors::ConsumerOptions consumer_options;
  consumer_options.thread_name = "bench.baseline";
  auto consumer = connectors::KafkaConsumer::create(consumer_props, std::move(consumer_options));
  if (!consumer) {
    p.error = consumer.error().to_string();
    return p;
  }
  int64_t missed = 0;
  PhaseTimer timer(p);
  // The consumer reports only once its poll thread runs: from zero.
  const auto producer_at_start = (*producer)->client_stats();
  if (auto r = (*consumer)->assign(from_beginning(w.topics, partitions)); !r) {
    p.error = r.error().to_string();
    return p;
  }
  (*consumer)->start(&forward);
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  bool done = false;
  ReadBackWatchdog watch_in(bootstrap, **consumer, "bench_sql"),
      watch_out(bootstrap, **reader, "bench_sql");
  ProgressSampler progress([&forward] { return forward.consumed(); }, inputs);
  while (!done && Clock::now() < deadline && !forward.failed()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    watch_in.tick();
    watch_out.tick();
    done = forward.all_read() && back.read() >= target;
    if (!done && forward.all_read() && Clock::now() - back.last() > std::chrono::seconds(2)) {
      // Everything acknowledged but not all read back: the read-back
      // consumer fell more than 5 MiB behind on a partition of the embedded
      // broker. Counted, not waited for.
      uint64_t acked = 0;
      for (const auto& [topic, st] : (*producer)->stats()) acked += st.produced;
      if (static_cast<int64_t>(acked) >= target) {
        done = true;
        p.error = "";  // not an error of the baseline
        missed = target - back.read();
      }
    }
  }
  timer.end(done ? std::max(back.last(), forward.all_read_at()) : Clock::now());
  if (g_kafka_stats_ms > 0) {
    p.kafka["consumer"] = kafka_delta({}, (*consumer)->client_stats());
    p.kafka["producer"] = kafka_delta(producer_at_start, (*producer)->client_stats());
  }
  (*consumer)->stop();
  (*producer)->flush(std::chrono::seconds(10));
  (*reader)->stop();
  p.input_records = forward.consumed();
  p.steady_rps = progress.steady_rate();
  p.output_records = back.read() + missed;
  p.read_back_missed = missed;
  p.read_back_restarts = watch_in.restarts() + watch_out.restarts();
  p.ok = done && !forward.failed();
  if (forward.failed()) p.error = forward.error();
  if (!done && p.error.empty())
    p.error = "timed out: " + std::to_string(forward.consumed()) + " of " +
              std::to_string(inputs) + " inputs read, " + std::to_string(back.read()) + " of " +
              std::to_string(target) + " outputs read back";
  return p;
}

// (3b) The broker path with as many hops as the pipeline makes (for
// workloads whose pipeline writes to topics it reads back: Yahoo's
// repartition topic between the join task and the count task). Hop 1 reads
// the same inputs as run_baseline and writes writes[0] records (as many as
// the pipeline wrote to its first intermediate topic) to a fresh topic; hop
// k reads hop k-1's topic and writes writes[k-1] records; the last hop
// writes the pipeline's output count, read back as in run_baseline. Each
// hop is one KafkaConsumer -> KafkaProducer pair with the Application's
// client defaults; hops 2.. and the reader are assigned before the timer
// starts, hop 1 is timed from its assign to the last output read back.
// Forwarded records are the input records (key and value); a hop topic
// gets more partitions than the pipeline's when that many of them would
// not fit the embedded broker's 5 MiB per partition (hop_topic_partitions).
Phase run_baseline_hops(const std::string& bootstrap, const Workload& w, int64_t inputs,
                        int64_t stream_records, const std::vector<int64_t>& writes,
                        int partitions, double record_bytes, bool embedded,
                        const std::string& topic_prefix, const std::string& tag, int timeout_s,
                        json& out) {
  Phase p;
  const size_t hops = writes.size();
  std::vector<std::string> topics;
  std::vector<int> parts;
  for (size_t i = 0; i < hops; ++i) {
    topics.push_back(topic_prefix + "hop" + std::to_string(i + 1));
    int n = partitions;
    if (embedded) {
      const double per_partition = 5.0 * 1024 * 1024 / 1.2;  // 20% for uneven keys
      n = std::max(n, static_cast<int>(static_cast<double>(writes[i]) * record_bytes /
                                       per_partition) + 1);
    }
    parts.push_back(n);
    if (auto r = ensure_topics(bootstrap, {topics.back()}, n); !r) {
      p.error = r.error().to_string();
      return p;
    }
  }
  out["hops"] = hops;
  out["records_written_per_hop"] = writes;
  out["hop_topic_partitions"] = parts;
  FirstLoss losses;
  ReadBack back;
  auto reader = start_reader(bootstrap, tag + "-hops-reader", {topics.back()}, parts.back(), &back,
                             {}, back.on_lost());
  if (!reader) {
    p.error = reader.error().to_string();
    return p;
  }
  const std::vector<std::string> streams = stream_topics(w);
  std::vector<std::unique_ptr<connectors::KafkaProducer>> producers;
  std::vector<std::unique_ptr<Forwarder>> forwarders;
  for (size_t i = 0; i < hops; ++i) {
    // The Application's producer defaults (idempotent, acks=all, linger 5 ms).
    auto producer = connectors::KafkaProducer::create({{"bootstrap.servers", bootstrap}}, nullptr);
    if (!producer) {
      p.error = producer.error().to_string();
      return p;
    }
    (*producer)->prepare_topics({topics[i]});
    producers.push_back(std::move(*producer));
    if (i == 0) {
      forwarders.push_back(std::make_unique<Forwarder>(*producers.back(), streams, topics[0],
                                                       stream_records, inputs, writes[0]));
    } else {
      forwarders.push_back(std::make_unique<Forwarder>(
          *producers.back(), std::vector<std::string>{topics[i - 1]}, topics[i], writes[i - 1],
          writes[i - 1], writes[i]));
    }
  }
  // Hops 2.. read their (empty, fresh) topics before hop 1 starts.
  std::vector<std::unique_ptr<connectors::KafkaConsumer>> consumers;
  for (size_t i = 1; i < hops; ++i) {
    auto c = start_reader(bootstrap, tag + "-hop" + std::to_string(i + 1), {topics[i - 1]},
                          parts[i - 1], forwarders[i].get(), {}, losses.sink());
    if (!c) {
      p.error = c.error().to_string();
      return p;
    }
    consumers.push_back(std::move(*c));
  }
  connectors::ConsumerOptions first_options;
  first_options.thread_name = "bench.baseline";
  first_options.on_error = [sink = losses.sink()](const Error& e) {
    if (e.kind == ErrorKind::Fatal) sink(e);
  };
  auto first = connectors::KafkaConsumer::create(
      {{"bootstrap.servers", bootstrap}, {"group.id", tag + "-hop1"}}, std::move(first_options));
  if (!first) {
    p.error = first.error().to_string();
    return p;
  }
  int64_t missed = 0;
  PhaseTimer timer(p);
  if (auto r = (*first)->assign(from_beginning(w.topics, partitions)); !r) {
    p.error = r.error().to_string();
    return p;
  }
  (*first)->start(forwarders[0].get());
  const auto all_read = [&] {
    if (!forwarders[0]->all_read()) return false;
    for (size_t i = 1; i < hops; ++i)
      if (forwarders[i]->consumed() < writes[i - 1]) return false;
    return true;
  };
  const auto failed = [&] {
    for (const auto& f : forwarders)
      if (f->failed()) return true;
    return !losses.first().empty();
  };
  const int64_t target = writes.back();
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  bool done = false;
  std::vector<std::unique_ptr<ReadBackWatchdog>> watchdogs;
  watchdogs.push_back(std::make_unique<ReadBackWatchdog>(bootstrap, **first, "bench_sql"));
  watchdogs.push_back(std::make_unique<ReadBackWatchdog>(bootstrap, **reader, "bench_sql"));
  for (auto& c : consumers)
    watchdogs.push_back(std::make_unique<ReadBackWatchdog>(bootstrap, *c, "bench_sql"));
  while (!done && Clock::now() < deadline && !failed()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (auto& wd : watchdogs) wd->tick();
    done = all_read() && back.read() >= target;
    if (!done && all_read() && Clock::now() - back.last() > std::chrono::seconds(2)) {
      // As in run_baseline: the read-back consumer fell more than 5 MiB
      // behind on a partition of the last topic. Counted, not waited for.
      uint64_t acked = 0;
      for (const auto& [topic, st] : producers.back()->stats()) acked += st.produced;
      if (static_cast<int64_t>(acked) >= target) {
        done = true;
        missed = target - back.read();
      }
    }
  }
  timer.end(done ? std::max(back.last(), forwarders[0]->all_read_at()) : Clock::now());
  (*first)->stop();
  producers[0]->flush(std::chrono::seconds(10));
  for (size_t i = 0; i < consumers.size(); ++i) {
    consumers[i]->stop();
    producers[i + 1]->flush(std::chrono::seconds(10));
  }
  (*reader)->stop();
  p.input_records = forwarders[0]->consumed();
  p.output_records = back.read() + missed;
  p.read_back_missed = missed;
  for (const auto& wd : watchdogs) p.read_back_restarts += wd->restarts();
  p.ok = done && !failed();
  for (const auto& f : forwarders)
    if (f->failed() && p.error.empty()) p.error = f->error();
  if (p.error.empty() && !losses.first().empty()) p.error = "a hop lost records: " + losses.first();
  if (!done && p.error.empty()) {
    std::string read = std::to_string(forwarders[0]->consumed()) + " of " +
                       std::to_string(inputs) + " inputs read";
    for (size_t i = 1; i < hops; ++i)
      read += ", hop " + std::to_string(i + 1) + " read " +
              std::to_string(forwarders[i]->consumed()) + " of " + std::to_string(writes[i - 1]);
    p.error = "timed out: " + read + ", " + std::to_string(back.read()) + " of " +
              std::to_string(target) + " outputs read back";
  }
  return p;
}

int64_t percentile(std::vector<int64_t>& v, double q) {
  if (v.empty()) return -1;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// Writes Yahoo ad events to `topic` at `rate` records/s with event time =
// the wall clock, for `seconds` or until `stop()` says so. Counts what it
// sent; the first produce error goes into j["error"].
struct RateRun {
  int64_t sent = 0, views = 0;
};
// Makes the next record for wall time `now_ms`; `counted` says whether it
// must cause an output that is read back (Yahoo's views).
using RateSource = std::function<GenRecord(int64_t now_ms, bool* counted)>;

// Produces `next`'s records to `topics` (indexed by GenRecord::topic) at
// `rate` records/s for `seconds`.
RateRun produce_at_rate(connectors::KafkaProducer& producer, const std::vector<std::string>& topics,
                        double rate, int seconds, const std::function<bool()>& stop, json& j,
                        const RateSource& next) {
  RateRun run;
  j["loadavg_1m_start"] = loadavg_1m();
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::seconds(seconds);
  while (Clock::now() < end && !stop() && !j.contains("error")) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    const auto due = static_cast<int64_t>(elapsed * rate);
    while (run.sent < due) {
      bool counted = false;
      GenRecord rec = next(wall_ms(), &counted);
      OutputRecord out;
      out.topic = topics.at(static_cast<size_t>(rec.topic));
      out.key = rec.key;
      out.value = rec.value;
      out.timestamp = rec.timestamp;
      if (auto r = producer.produce(out, nullptr); !r) {
        j["error"] = r.error().to_string();
        break;
      }
      ++run.sent;
      if (counted) ++run.views;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  producer.flush(std::chrono::seconds(10));
  return run;
}

// What a latency run reports: counts and percentiles of `back`'s latencies;
// `before` outputs were read before the run (the maximum's burst).
// `exact`: every counted view causes one output (no output cache).
void summarize_latencies(const RateRun& run, ReadBack& back, json& j, int64_t before = 0,
                         bool exact = true) {
  j["loadavg_1m_end"] = loadavg_1m();
  auto lat = back.latencies();
  const int64_t read = back.read() - before;
  j["events_sent"] = run.sent;
  j["views_sent"] = run.views;
  j["outputs_read"] = read;
  j["latencies_counted"] = lat.size();
  if (!lat.empty()) {
    j["p50_ms"] = percentile(lat, 0.50);
    j["p99_ms"] = percentile(lat, 0.99);
    j["max_ms"] = *std::max_element(lat.begin(), lat.end());
  }
  const int64_t must_read = exact ? run.views : 0;
  j["ok"] = !j.contains("error") && !lat.empty() && read >= must_read;
  if (!j.contains("error") && read < must_read)
    j["error"] = std::to_string(run.views - read) + " updates not read back";
}

// The window start in a Nexmark Q5/Q7 result's key (GROUP BY starttime: a
// BIGINT key, 8 bytes big-endian, or its text); -1 when it has none.
int64_t window_start_of(const RawRecord& r) {
  if (!r.key) return -1;
  const std::string_view k = *r.key;
  if (k.size() == 8) {
    uint64_t v = 0;
    for (char c : k) v = (v << 8) | static_cast<unsigned char>(c);
    return static_cast<int64_t>(v);
  }
  try {
    return std::stoll(std::string(k));
  } catch (const std::exception&) {
    return -1;
  }
}

// Sum of the Application's tasks' records_in, and whether every task is
// idle (nothing on the broker left to read, no batch waiting in an inbox).
std::pair<uint64_t, bool> records_in_and_idle(Application& app) {
  uint64_t in = 0;
  bool idle = true;
  for (const auto& t : app.task_metrics()) {
    in += t.records_in;
    if (t.lag != 0 || t.inbox_batches != 0) idle = false;
  }
  return {in, idle};
}

// (4) One workload at a fixed rate, event time = the wall clock. Yahoo, Q1,
// Q2 and Q3: latency from the event time of the input record that caused
// each output (the output's timestamp) to the output being read by a
// consumer. Q5 and Q7 emit a window's result once it closes (EMIT FINAL,
// 10 s windows with a 10 s grace period): latency from the window's close
// (start + 20 s of event time) to the result being read.
//
// `rate` 0: the rate is half of this run's live maximum, measured first in
// the same Application, with the same reader, producer and settings: a
// burst of `burst` input records written as fast as the producer accepts
// them (event time = the wall clock; Nexmark's generator 1 ms of event time
// per 1,000 events), from the first written to the end of the burst. Where
// the generator knows how many outputs the burst must cause (Yahoo: one
// count update per view; Q1: one per bid; Q2: one per bid whose auction %
// 123 = 0), the end is the last of them read back. Where it does not (Q3's
// join, Q5's and Q7's EMIT FINAL windows, which close only later), the end
// is the later of the last output read and the moment every input was seen
// processed (the tasks' records_in grew by at least the burst, no lag, no
// inbox), once that held and no output arrived for 1 s. The rate and the
// maximum are in the JSON with the burst's size and seconds.
json run_latency(const std::string& bootstrap, const Options& o, const std::string& name,
                 double rate, int64_t burst, const std::string& prefix, const std::string& tag) {
  const Workload w = name == "yahoo" ? yahoo_workload(prefix) : nexmark_workload(name, prefix);
  const bool windowed = name == "q5" || name == "q7";
  // A window closes 20 s of event time after it starts: long enough for
  // several to close after the warm-up.
  const int seconds = windowed ? std::max(o.latency_seconds, 40) : o.latency_seconds;
  json j{{"seconds", seconds}};
  j["measured_from"] = windowed ? "window close (start + size + grace) to read"
                                : "event time of the causing input to read";
  if (auto r = ensure_topics(bootstrap, w.topics, o.partitions); !r) {
    j["error"] = r.error().to_string();
    return j;
  }
  YahooGenerator yahoo;
  if (name == "yahoo") {
    Input table;
    table.topics = w.topics;
    table.records = yahoo.table();
    for (auto& r : table.records) r.timestamp = wall_ms() - 1000;
    if (auto r = load(bootstrap, table, o.partitions); !r) {
      j["error"] = r.error().to_string();
      return j;
    }
  }
  // Nexmark: only the event kinds the query reads are written, and the
  // generator's event time runs at the wall clock's pace for them.
  const bool q3 = name == "q3";
  const double share = q3 ? 4.0 / 50 : 46.0 / 50;
  std::unique_ptr<NexmarkGenerator> nexmark;
  // Nexmark topics (person, auction, bid) to the workload's topics.
  std::vector<std::string> topics = w.topics;
  if (name != "yahoo") {
    const std::string p = prefix + "nexmark-";
    topics = {p + "person", p + "auction", p + "bid"};
  }
  const RateSource next = [&](int64_t now, bool* counted) -> GenRecord {
    if (name == "yahoo") return yahoo.event(now, nullptr, counted);
    for (;;) {
      GenRecord r = nexmark->next_event();
      const bool bid = nexmark->last_kind == 2;
      if (q3 == bid) continue;
      *counted = name == "q1" || (name == "q2" && nexmark->bid.auction % 123 == 0);
      return r;
    }
  };
  auto planned = sql::plan_script(w.sql);
  if (!planned) {
    j["error"] = planned.error().message;
    return j;
  }
  // Q5 and Q7 read their first stage's results back as a stream.
  if (auto r = ensure_topics(bootstrap, external_inputs(planned->topology), o.partitions); !r) {
    j["error"] = r.error().to_string();
    return j;
  }
  std::string state_dir =
      (std::filesystem::temp_directory_path() / "rivulet-bench-lat-XXXXXX").string();
  if (::mkdtemp(state_dir.data()) == nullptr) {
    j["error"] = "cannot create a state directory";
    return j;
  }
  std::vector<std::string> sets{"application.id=" + tag + "-" + name + "-latency",
                                "bootstrap.servers=" + bootstrap, "state.dir=" + state_dir};
  const auto lat_sets = o.latency_config();
  sets.insert(sets.end(), lat_sets.begin(), lat_sets.end());
  j["settings"] = lat_sets;
  auto config = sql::app_config(*planned, "", sets);
  if (!config) {
    j["error"] = config.error().message;
    return j;
  }
  // With the output cache a table writes each key's latest update once per
  // flush: the latencies are then those of the updates written (from the
  // event time of the input that made each one), and no count of outputs
  // is expected.
  const bool cached = config->get_int("statestore.cache.max.bytes") > 0;
  if (cached) j["output_cache"] = "on: one output per key and flush; latency of those written";
  // Whether `counted` says exactly which records cause an output.
  const bool outputs_known = !cached && (name == "yahoo" || name == "q1" || name == "q2");
  ReadBack back;
  if (windowed) {
    back.latency_base([](const RawRecord& r) {
      const int64_t start = window_start_of(r);
      return start < 0 ? std::numeric_limits<int64_t>::min() : start + 20000;
    });
  }
  RateRun run;
  int64_t burst_read = 0;  // outputs read before the latency run
  {
    Application app(planned->topology, *config);
    if (auto r = app.start(); !r) {
      j["error"] = r.error().to_string();
      return j;
    }
    auto reader = start_reader(bootstrap, tag + "-" + name + "-latency-reader", w.output_topics,
                               app.partitions(), &back, client_props(lat_sets, bootstrap, false),
                               back.on_lost());
    auto producer =
        connectors::KafkaProducer::create(client_props(lat_sets, bootstrap, true), nullptr);
    if (!reader || !producer) {
      j["error"] = !reader ? reader.error().to_string() : producer.error().to_string();
      app.stop();
      return j;
    }
    (*producer)->prepare_topics(w.topics);
    for (int i = 0; i < 500 && !app.ready(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (rate <= 0) {
      // The live maximum: `burst` records as fast as the producer takes them.
      if (nexmark == nullptr && name != "yahoo")
        nexmark = std::make_unique<NexmarkGenerator>(wall_ms(), 1e6);
      const uint64_t in0 = records_in_and_idle(app).first;
      int64_t sent = 0, expected = 0;
      const auto b0 = Clock::now();
      for (; sent < burst; ++sent) {
        bool counted = false;
        GenRecord rec = next(wall_ms(), &counted);
        OutputRecord out;
        out.topic = topics.at(static_cast<size_t>(rec.topic));
        out.key = std::move(rec.key);
        out.value = std::move(rec.value);
        out.timestamp = rec.timestamp;
        if (auto r = (*producer)->produce(out, nullptr); !r) {
          j["error"] = r.error().to_string();
          break;
        }
        if (counted) ++expected;
      }
      const auto deadline = Clock::now() + std::chrono::seconds(o.timeout_s);
      std::optional<Clock::time_point> drained, end;
      while (!end && !j.contains("error") && Clock::now() < deadline) {
        if (auto f = app.failure()) {
          j["error"] = *f;
          break;
        }
        if (auto lost = back.lost_error(); !lost.empty()) {
          j["error"] = "the burst's outputs were not all read back: " + lost;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (outputs_known) {
          if (back.read() >= expected) end = back.last();
          continue;
        }
        const auto [in, idle] = records_in_and_idle(app);
        if (idle && static_cast<int64_t>(in - in0) >= sent) {
          if (!drained) drained = Clock::now();
          const auto last = std::max(*drained, back.last());
          if (Clock::now() - last >= std::chrono::seconds(1)) end = last;
        } else {
          drained.reset();
        }
      }
      const double s = end ? std::chrono::duration<double>(*end - b0).count() : 0;
      if (!end || s <= 0) {
        if (!j.contains("error"))
          j["error"] = "the maximum's burst was not processed in " + std::to_string(o.timeout_s) +
                       " s (" + std::to_string(back.read()) + " outputs read)";
        app.stop();
        (*reader)->stop();
        std::error_code ignored;
        std::filesystem::remove_all(state_dir, ignored);
        return j;
      }
      const double max_rps = static_cast<double>(sent) / s;
      j["max_measured"] = "live burst";
      j["max_throughput_records_per_second"] = max_rps;
      j["max_burst_records"] = sent;
      j["max_burst_seconds"] = s;
      j["max_burst_outputs"] = back.read();
      j["max_burst_end"] = outputs_known ? "every output it causes read back"
                                         : "all inputs processed, outputs quiet for 1 s";
      rate = max_rps / 2;
      std::cerr << "bench_sql: " << name << " latency: live maximum " << max_rps
                << " records/s (" << sent << " records in " << s << " s); latency at " << rate
                << " records/s\n";
    }
    j["rate_records_per_second"] = rate;
    burst_read = back.read();
    // The first 2 s warm up (connections, first fetches) and are not counted.
    const int64_t start_ms = wall_ms();
    if (name != "yahoo") nexmark = std::make_unique<NexmarkGenerator>(start_ms, rate / share);
    back.collect_latencies(start_ms + 2000);
    run = produce_at_rate(**producer, topics, rate, seconds,
                          [&] { return app.failure().has_value(); }, j, next);
    // Wait (bounded) for the last outputs: all counted ones, or 2 s without
    // a new one.
    for (int i = 0; i < 1000; ++i) {
      if (run.views > 0 && outputs_known
              ? back.read() - burst_read >= run.views
              : Clock::now() - back.last() > std::chrono::seconds(2))
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (auto f = app.failure()) j["error"] = *f;
    if (auto lost = back.lost_error(); !lost.empty() && !j.contains("error"))
      j["error"] = "the reader lost records: " + lost;
    app.stop();
    (*reader)->stop();
  }
  std::error_code ignored;
  std::filesystem::remove_all(state_dir, ignored);
  summarize_latencies(run, back, j, burst_read, !cached);
  return j;
}

// Copies the records of one topic to another, keeping their timestamps;
// with `views_only`, only Yahoo's view events (a cheap text match: the
// pipeline's WHERE does the same selection). One hop of the broker path.
class HopForwarder : public connectors::BatchSink {
 public:
  HopForwarder(connectors::KafkaProducer& producer, std::string out_topic, bool views_only)
      : producer_(producer), out_topic_(std::move(out_topic)), views_only_(views_only) {}
  bool offer(RawBatch&& batch) override {
    for (auto& rec : batch.records) {
      if (views_only_ && (!rec.value || rec.value->find("\"view\"") == std::string::npos))
        continue;
      OutputRecord out;
      out.topic = out_topic_;
      out.key = rec.key.copy();
      out.value = rec.value.copy();
      out.timestamp = rec.timestamp;
      if (auto r = producer_.produce(out, nullptr); !r) failed_.store(true);
    }
    return true;
  }
  bool failed() const { return failed_.load(); }

 private:
  connectors::KafkaProducer& producer_;
  std::string out_topic_;
  bool views_only_;
  std::atomic<bool> failed_{false};
};

// The number of consumer -> producer hops on the longest path of a planned
// workload: one per topic the topology both writes and reads (repartition
// topics, a first stage's results read by a second), plus the first.
int hops_of(const Workload& w) {
  auto planned = sql::plan_script(w.sql);
  if (!planned) return 1;
  const auto sources = planned->topology.source_topics();
  int hops = 1;
  for (const auto& t : planned->topology.sink_topics())
    if (std::find(sources.begin(), sources.end(), t) != sources.end()) ++hops;
  return hops;
}

// (5) The broker path's own latency at the same rate, for a workload's
// latency run to be read against: the same generator writes the same events
// at the same rate with the same client settings (--set kafka.producer.*,
// kafka.consumer.*, fetch.wait.max.ms) to a fresh topic; a chain of `hops`
// KafkaConsumer -> KafkaProducer forwarders copies them on (as many hops as
// the pipeline has tasks on its longest path), and a reader measures event
// time -> read, as for the pipeline. Only the records whose output the
// pipeline's latency counts are forwarded (Yahoo's views, Q1's bids, Q2's
// matching bids; every record for Q3, Q5 and Q7); the others are written
// to a second topic that nobody reads, so the broker takes the same input.
json run_baseline_latency(const std::string& bootstrap, const Options& o, const std::string& name,
                          double rate, int hops, const std::string& prefix,
                          const std::string& tag) {
  json j{{"rate_records_per_second", rate}, {"seconds", o.latency_seconds}, {"hops", hops}};
  std::vector<std::string> chain;  // chain[0] is written by the generator, the last is read
  for (int i = 0; i <= hops; ++i) chain.push_back(prefix + "hop" + std::to_string(i));
  const std::string rest = prefix + "rest";
  std::vector<std::string> all = chain;
  all.push_back(rest);
  if (auto r = ensure_topics(bootstrap, all, o.partitions); !r) {
    j["error"] = r.error().to_string();
    return j;
  }
  j["settings"] = o.latency_config();
  const auto pprops = client_props(o.latency_config(), bootstrap, true);
  const auto cprops = client_props(o.latency_config(), bootstrap, false);
  auto gen = connectors::KafkaProducer::create(pprops, nullptr);
  if (!gen) {
    j["error"] = gen.error().to_string();
    return j;
  }
  std::vector<std::unique_ptr<connectors::KafkaProducer>> producers;
  std::vector<std::unique_ptr<HopForwarder>> forwarders;
  for (int i = 0; i < hops; ++i) {
    auto p = connectors::KafkaProducer::create(pprops, nullptr);
    if (!p) {
      j["error"] = p.error().to_string();
      return j;
    }
    // As the Application's producer: the leaders known before the first
    // record, not after librdkafka's next periodic refresh (about 1 s).
    (*p)->prepare_topics({chain[static_cast<size_t>(i) + 1]});
    producers.push_back(std::move(*p));
    forwarders.push_back(std::make_unique<HopForwarder>(*producers.back(),
                                                        chain[static_cast<size_t>(i) + 1], false));
  }
  ReadBack back;
  std::vector<std::unique_ptr<connectors::KafkaConsumer>> consumers;
  auto reader = start_reader(bootstrap, tag + "-" + name + "-lat-base-reader", {chain.back()},
                             o.partitions, &back, cprops);
  if (!reader) {
    j["error"] = reader.error().to_string();
    return j;
  }
  // Last hop first, so that every hop reads before its input is written.
  for (int i = hops - 1; i >= 0; --i) {
    auto c = start_reader(bootstrap, tag + "-" + name + "-lat-base-hop" + std::to_string(i),
                          {chain[static_cast<size_t>(i)]}, o.partitions,
                          forwarders[static_cast<size_t>(i)].get(), cprops);
    if (!c) {
      j["error"] = c.error().to_string();
      return j;
    }
    consumers.push_back(std::move(*c));
  }
  (*gen)->prepare_topics({chain.front(), rest});
  const bool q3 = name == "q3";
  const double share = q3 ? 4.0 / 50 : 46.0 / 50;
  YahooGenerator yahoo;
  std::unique_ptr<NexmarkGenerator> nexmark;
  const int64_t start_ms = wall_ms();
  if (name != "yahoo") nexmark = std::make_unique<NexmarkGenerator>(start_ms, rate / share);
  const bool all_counted = name == "q3" || name == "q5" || name == "q7";
  int64_t forwarded = 0;
  back.collect_latencies(start_ms + 2000);
  RateRun run = produce_at_rate(
      **gen, {chain.front(), rest}, rate, o.latency_seconds, [] { return false; }, j,
      [&](int64_t now, bool* counted) {
        GenRecord r;
        if (name == "yahoo") {
          r = yahoo.event(now, nullptr, counted);
        } else {
          for (;;) {
            r = nexmark->next_event();
            if (q3 != (nexmark->last_kind == 2)) break;
          }
          *counted = all_counted || name == "q1" ||
                     (name == "q2" && nexmark->bid.auction % 123 == 0);
        }
        r.topic = *counted ? 0 : 1;
        if (*counted) ++forwarded;
        return r;
      });
  for (int i = 0; i < 1000 && back.read() < forwarded; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  // consumers[i] is hop hops-1-i: stop the first hop first.
  for (size_t i = consumers.size(); i-- > 0;) {
    consumers[i]->stop();
    producers[producers.size() - 1 - i]->flush(std::chrono::seconds(10));
  }
  (*reader)->stop();
  for (const auto& f : forwarders)
    if (f->failed()) j["error"] = "a forwarder failed to produce";
  run.views = forwarded;
  summarize_latencies(run, back, j);
  return j;
}

int run(const Options& o) {
  const std::string tag =
      "bench-sql-" + std::to_string(::getpid()) + "-" +
      std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 1000000000);
  // Fresh topic names on a real Kafka (it keeps earlier runs' data).
  const std::string prefix = o.bootstrap.empty() ? "" : tag + "-";
  const int64_t base_ms = 1700000000000LL;
  bool want_yahoo = false, want_nexmark = false, want_q3 = false;
  for (const auto& w : o.workloads) {
    if (w == "yahoo") {
      want_yahoo = true;
    } else if (w == "q3") {
      want_q3 = true;
    } else if (is_nexmark(w)) {
      want_nexmark = true;
    } else {
      std::cerr << "bench_sql: unknown workload " << w << " (yahoo, q1, q2, q3, q5, q7)\n";
      return 2;
    }
  }
  json result{{"settings",
               {{"yahoo_events", o.yahoo_events},
                {"nexmark_events", o.nexmark_events},
                {"q3_events", o.q3_events},
                {"event_time_per_second", o.events_per_second},
                {"partitions", o.partitions},
                {"broker", o.bootstrap.empty() ? "embedded" : o.bootstrap}}},
              {"workloads", json::object()}};
  Input yahoo_in, nexmark_in, q3_in;
  if (want_yahoo) yahoo_in = generate_yahoo(o, prefix, base_ms);
  if (want_nexmark) nexmark_in = generate_nexmark(o, prefix, base_ms, o.nexmark_events, false);
  if (want_q3) q3_in = generate_nexmark(o, prefix + "q3-", base_ms, o.q3_events, true);
  auto input_of = [&](const std::string& name) -> const Input& {
    return name == "yahoo" ? yahoo_in : name == "q3" ? q3_in : nexmark_in;
  };
  auto workload_of = [&](const std::string& name) {
    return name == "yahoo" ? yahoo_workload(prefix)
           : name == "q3"  ? nexmark_workload(name, prefix + "q3-")
                           : nexmark_workload(name, prefix);
  };
  bool ok = true;

  // Driver phases (and checks) first: no broker.
  std::map<std::string, Workload> workloads;
  std::map<std::string, Expectation> expectations;  // --check
  for (const auto& name : o.workloads) {
    Workload w = workload_of(name);
    const Input& in = input_of(name);
    json& wj = result["workloads"][name];
    wj["description"] = w.description;
    wj["sql"] = w.sql;
    std::cerr << "bench_sql: " << name << " driver (TestDriver, one thread, no broker)\n";
    std::optional<Expectation> e;
    if (o.check) e = expect(o, w, base_ms);
    json dj = json::object();
    Phase d = run_driver(w, in, e ? &*e : nullptr, o.driver_only, dj);
    if (e) expectations.emplace(name, std::move(*e));
    json dphase = d.to_json();
    dphase.update(dj);
    wj["driver"] = dphase;
    if (kFlinkPerCore.count(name))
      wj["flink_1_13_per_core_other_hardware"] = kFlinkPerCore.at(name);
    if (!d.ok) {
      std::cerr << "bench_sql: " << name << " driver FAILED: " << d.error << "\n";
      ok = false;
    }
    workloads.emplace(name, std::move(w));
  }
  if (o.driver_only) {
    std::cout << result.dump() << std::endl;
    return ok ? 0 : 1;
  }

  std::unique_ptr<connectors::EmbeddedBroker> broker;
  std::string bootstrap = o.bootstrap;
  if (bootstrap.empty()) {
    auto b = connectors::EmbeddedBroker::start({o.brokers, o.brokers});
    if (!b) {
      std::cerr << "bench_sql: " << b.error().to_string() << "\n";
      return 1;
    }
    broker = std::move(*b);
    bootstrap = broker->bootstrap();
  }
  for (Input* in : {&yahoo_in, &nexmark_in, &q3_in}) {
    if (in->records.empty()) continue;
    // The embedded broker keeps 5 MiB per partition: refuse, loudly, input
    // that would not fit (the largest topic, with 20% for uneven keys).
    std::map<int, int64_t> per_topic;
    for (const auto& r : in->records) per_topic[r.topic] += static_cast<int64_t>(r.value.size() + 30 + (r.key ? r.key->size() : 0));
    for (const auto& [t, bytes] : per_topic) {
      if (o.bootstrap.empty() && bytes * 11 / 10 / o.partitions > 5 * 1024 * 1024) {
        std::cerr << "bench_sql: " << in->topics[static_cast<size_t>(t)] << ": " << bytes
                  << " bytes do not fit the embedded broker's 5 MiB per partition in "
                  << o.partitions << " partitions: fewer events or more --partitions\n";
        return 2;
      }
    }
    if (auto r = ensure_topics(bootstrap, in->topics, o.partitions); !r) {
      std::cerr << "bench_sql: " << r.error().to_string() << "\n";
      return 1;
    }
    std::cerr << "bench_sql: loading " << in->records.size() << " records (" << in->bytes
              << " bytes of values)\n";
    const auto t0 = Clock::now();
    if (auto r = load(bootstrap, *in, o.partitions); !r) {
      std::cerr << "bench_sql: loading failed: " << r.error().to_string() << "\n";
      return 1;
    }
    result["load_seconds"] = std::chrono::duration<double>(Clock::now() - t0).count();
    auto wd = written_and_dropped(bootstrap, in->topics, o.partitions);
    if (!wd || wd->second > 0) {
      std::cerr << "bench_sql: the broker dropped "
                << (wd ? std::to_string(wd->second) : wd.error().to_string())
                << " input records (the embedded broker keeps 5 MiB per partition): fewer events "
                   "or more --partitions\n";
      return 1;
    }
  }

  std::map<std::string, double> pipeline_rps;  // per workload: input records/s
  for (const auto& name : o.workloads) {
    const Workload& w = workloads.at(name);
    const Input& in = input_of(name);
    json& wj = result["workloads"][name];
    const int64_t inputs = input_count(w, in);
    int64_t stream_records = 0;
    for (const auto& r : in.records) {
      const auto& topic = in.topics[static_cast<size_t>(r.topic)];
      const size_t idx = static_cast<size_t>(
          std::find(w.topics.begin(), w.topics.end(), topic) - w.topics.begin());
      if (idx < w.topics.size() && !w.table_topic[idx]) ++stream_records;
    }
    std::cerr << "bench_sql: " << name << " pipeline (Application, " << inputs << " records)\n";
    json pj = json::object();
    auto expected = expectations.find(name);
    Phase p =
        run_pipeline(bootstrap, w, inputs, o.partitions, tag + "-" + name, o.timeout_s, o.sets,
                     expected == expectations.end() ? nullptr : &expected->second, pj);
    json pphase = p.to_json();
    pphase.update(pj);
    wj["pipeline"] = pphase;
    if (!p.ok) {
      std::cerr << "bench_sql: " << name << " pipeline FAILED: " << p.error << "\n";
      ok = false;
      continue;
    }
    pipeline_rps[name] = static_cast<double>(p.input_records) / p.seconds;
    const std::string out_topic = prefix + tag + "-" + name + "-baseline-out";
    if (auto r = ensure_topics(bootstrap, {out_topic}, o.partitions); !r) {
      std::cerr << "bench_sql: " << r.error().to_string() << "\n";
      return 1;
    }
    std::cerr << "bench_sql: " << name << " baseline (KafkaConsumer -> KafkaProducer, "
              << p.output_records << " outputs)\n";
    Phase b = run_baseline(bootstrap, w, inputs, stream_records, p.output_records, o.partitions,
                           out_topic, tag + "-" + name, o.timeout_s);
    wj["baseline"] = b.to_json();
    if (!b.ok) {
      std::cerr << "bench_sql: " << name << " baseline FAILED: " << b.error << "\n";
      ok = false;
      continue;
    }
    wj["ratio_to_baseline"] = b.seconds / p.seconds;
    if (p.steady_rps > 0 && b.steady_rps > 0)
      wj["steady_ratio_to_baseline"] = p.steady_rps / b.steady_rps;
    // Workloads whose pipeline makes more than one broker round trip: the
    // broker path through as many hops.
    if (pj.contains("intermediate_topics") && !pj["intermediate_topics"].empty()) {
      std::vector<int64_t> writes;
      for (const auto& t : pj["intermediate_topics"]) writes.push_back(t["records"].get<int64_t>());
      writes.push_back(p.output_records);
      double bytes = 0;
      for (const auto& r : in.records) {
        const auto& topic = in.topics[static_cast<size_t>(r.topic)];
        const size_t idx = static_cast<size_t>(
            std::find(w.topics.begin(), w.topics.end(), topic) - w.topics.begin());
        if (idx < w.topics.size() && !w.table_topic[idx])
          bytes += static_cast<double>(r.value.size() + (r.key ? r.key->size() : 0) + 30);
      }
      const double record_bytes = bytes / static_cast<double>(std::max<int64_t>(1, stream_records));
      json hj = json::object();
      Phase bh;
      if (*std::min_element(writes.begin(), writes.end()) < 0) {
        bh.error = "unknown: the records the pipeline wrote to a topic between its hops";
      } else {
        std::cerr << "bench_sql: " << name << " baseline through " << writes.size()
                  << " hops (KafkaConsumer -> KafkaProducer each)\n";
        bh = run_baseline_hops(bootstrap, w, inputs, stream_records, writes, o.partitions,
                               record_bytes, o.bootstrap.empty(),
                               prefix + tag + "-" + name + "-baseline-", tag + "-" + name,
                               o.timeout_s, hj);
      }
      json bj = bh.to_json();
      bj.update(hj);
      if (writes.size() == 2 && pj.contains("records_out_all_topics")) {
        // The same count from the Application's own statistics.
        bj["repartition_records_from_stats"] =
            pj["records_out_all_topics"].get<int64_t>() - p.output_records;
      }
      wj["baseline_hops"] = bj;
      if (bh.ok) {
        wj["ratio_to_baseline_hops"] = bh.seconds / p.seconds;
      } else {
        std::cerr << "bench_sql: " << name << " baseline through hops FAILED: " << bh.error << "\n";
        ok = false;
      }
    }
  }

  // Latency: each workload at half of its live maximum, measured by a burst
  // through the latency phase's own Application (run_latency), or at
  // --latency-rate; then the broker path alone at the same rate. Yahoo's
  // results go to the top level ("latency", "latency_baseline"), the
  // others' into their workload.
  if (o.latency) {
    for (const auto& name : o.workloads) {
      if (name != "yahoo" && !is_nexmark(name)) continue;
      json& wj = result["workloads"][name];
      json& lj = name == "yahoo" ? result["latency"] : wj["latency"];
      json& bj = name == "yahoo" ? result["latency_baseline"] : wj["latency_baseline"];
      const std::string lat_prefix = name == "yahoo" ? prefix + "lat-" : prefix + "lat-" + name + "-";
      const std::string base_prefix =
          name == "yahoo" ? prefix + "lat-base-" : prefix + "lat-base-" + name + "-";
      const double pipeline_max = pipeline_rps.count(name) ? pipeline_rps.at(name) : 0;
      const int64_t burst =
          o.latency_max_records > 0
              ? o.latency_max_records
              : std::min<int64_t>(100000, input_count(workloads.at(name), input_of(name)));
      if (o.latency_rate > 0) {
        std::cerr << "bench_sql: " << name << " latency at " << o.latency_rate
                  << " records/s (--latency-rate) for " << o.latency_seconds << " s\n";
      } else {
        std::cerr << "bench_sql: " << name << " latency: the live maximum from a burst of "
                  << burst << " records, then half of it for " << o.latency_seconds << " s\n";
      }
      const int hops = hops_of(workloads.at(name));
      Options lo = o;
      if (!o.latency_sets_given) lo.latency_sets = latency_profile(hops);
      lj = run_latency(bootstrap, lo, name, o.latency_rate, burst, lat_prefix, tag);
      // The pipeline phase's records/s (preloaded input, nothing else
      // running): what the rate was half of before the live burst.
      if (pipeline_max > 0) lj["pipeline_phase_records_per_second"] = pipeline_max;
      if (o.latency_rate > 0) {
        lj["max_measured"] = "none: --latency-rate";
        if (pipeline_max > 0) lj["max_throughput_records_per_second"] = pipeline_max;
      }
      if (!lj.value("ok", false)) ok = false;
      const double rate = lj.value("rate_records_per_second", 0.0);
      if (rate <= 0) continue;  // the burst failed: no rate for the broker path either
      std::cerr << "bench_sql: " << name << " broker-path latency (" << hops
                << " forwarding hops) at " << rate << " records/s for " << o.latency_seconds
                << " s\n";
      bj = run_baseline_latency(bootstrap, lo, name, rate, hops, base_prefix, tag);
      if (!bj.value("ok", false)) ok = false;
    }
  }
  std::cout << result.dump() << std::endl;
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace rivulet::bench

int main(int argc, char** argv) {
  rivulet::bench::Options o;
  std::string workloads;
  CLI::App app{"Yahoo Streaming Benchmark and Nexmark in Rivulet SQL against a librdkafka baseline"};
  app.add_option("--workloads", workloads,
                 "Comma-separated: yahoo,q1,q2,q3,q5,q7 (default: all)");
  app.add_option("--yahoo-events", o.yahoo_events, "Yahoo ad events")
      ->check(CLI::Range(int64_t{1}, int64_t{100000000}));
  app.add_option("--nexmark-events", o.nexmark_events, "Nexmark events (persons, auctions, bids)")
      ->check(CLI::Range(int64_t{50}, int64_t{100000000}));
  app.add_option("--q3-events", o.q3_events,
                 "Nexmark events generated for Q3 (only its persons and auctions are written)")
      ->check(CLI::Range(int64_t{50}, int64_t{100000000}));
  app.add_option("--event-rate", o.events_per_second,
                 "Generated events per second of event time (windows fill with this many)")
      ->check(CLI::Range(1.0, 1e9));
  app.add_option("--partitions", o.partitions, "Partitions per input topic")
      ->check(CLI::Range(1, 256));
  app.add_option("--brokers", o.brokers, "Embedded brokers")->check(CLI::Range(1, 9));
  app.add_option("--timeout", o.timeout_s, "Seconds each broker phase may take")
      ->check(CLI::Range(1, 3600));
  app.add_option("--bootstrap", o.bootstrap, "A real Kafka instead of the embedded broker");
  app.add_flag("--driver-only", o.driver_only, "Only the in-process driver phases, no broker");
  app.add_option("--kafka-stats-ms", rivulet::bench::g_kafka_stats_ms,
                 "Report each pipeline and one-hop baseline phase's Kafka requests by client and type "
                 "and its bytes (\"kafka\" in the phase's JSON), from the clients' statistics "
                 "every this many ms (0: off, the default; statistics cost CPU of their own)")
      ->check(CLI::Range(0, 60000));
  app.add_flag("--trace", rivulet::bench::g_trace,
               "Print the pipeline phase's progress every 10 ms to stderr (seconds since start, "
               "records read, lag, inbox batches, outputs read back): shows stalls");
  app.add_flag("--check", o.check,
               "Check the driver phases' results against the generator, and the pipeline's final "
               "Yahoo counts (exit 1 when wrong)");
  app.add_option("--set", o.sets,
                 "Configuration of the pipeline and latency phases: --set key=value (repeatable)");
  app.add_flag("--latency", o.latency,
               "Also measure each workload's latency at half its live maximum (a burst of "
               "--latency-max-records through the latency phase's Application), then the broker "
               "path's at the same rate");
  app.add_option("--latency-rate", o.latency_rate,
                 "Records/s for the latency runs (default: half of each workload's live maximum)");
  app.add_option("--latency-max-records", o.latency_max_records,
                 "Input records of the burst that measures each latency phase's live maximum "
                 "(default: 100,000, or the workload's input records when fewer)")
      ->check(CLI::Range(int64_t{1000}, int64_t{10000000}));
  auto* latency_set =
      app.add_option("--latency-set", o.latency_sets,
                     "Configuration of the latency phases (key=value, repeatable; replaces the "
                     "default latency profile, bench/latency_profile.hpp: a 1 ms linger for "
                     "queries of one hop, 5 ms for more; --set applies on top)");
  app.add_option("--latency-seconds", o.latency_seconds, "Length of the latency run")
      ->check(CLI::Range(3, 3600));
  CLI11_PARSE(app, argc, argv);
  o.latency_sets_given = latency_set->count() > 0;
  if (!workloads.empty()) {
    o.workloads.clear();
    std::stringstream s(workloads);
    for (std::string w; std::getline(s, w, ',');)
      if (!w.empty()) o.workloads.push_back(w);
  }
  return rivulet::bench::run(o);
}
