// bench_catchup: how fast a restarted Yahoo pipeline (docs/benchmarks.md)
// works off the backlog that built up while it was down, when its restore
// looks back at the repartition topic (repartition.lookback.max.records)
// against when it waits for its inputs' high watermarks, in one run.
//
//   build/bin/bench_catchup [--before N] [--backlog M] [--partitions P] [--rounds R]
//
// With the output cache on (statestore.cache.max.bytes), the GROUP BY's
// pre-aggregation combines each task's views per campaign and window
// between flushes. A task restored from a checkpoint combines only past its
// horizon: with the look back, past what its lost run wrote (read back
// from the repartition topic); without, past its input's high watermark as
// first seen, so every record of the backlog travels alone.
//
// Each run has topics of its own (prefixed): the ads table and N events
// are written, an Application (the Yahoo SQL, output cache on) reads them
// until idle, then every task is stopped at once (Application::abandon_task:
// no final checkpoint, as a crash) and the Application is dropped. M more
// events are written: the backlog. A new Application with the same
// application.id starts (restoring every task from its checkpoints) and is
// timed from start() until every task has read everything (no lag, no
// inbox) and stopped processing, with the process's CPU time over the same
// span and the records written to the repartition topic. The final counts
// per campaign and window are checked against the generator's. Runs
// alternate between the two settings, R rounds of both. The last line is
// one JSON object with every run and the median ratio of the catch-up
// times (without the look back / with it).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "actors/application.hpp"
#include "bench/sql_workloads.hpp"
#include "bench/thread_cpu.hpp"
#include "chaos/topic_reader.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/topic_admin.hpp"
#include "sql/app_file.hpp"

using namespace rivulet;
using namespace rivulet::bench;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

Expected<bool> produce(const std::string& bootstrap, const std::vector<std::string>& topics,
                       const std::vector<GenRecord>& records, size_t begin, size_t end) {
  auto producer = connectors::KafkaProducer::create(
      {{"bootstrap.servers", bootstrap}, {"linger.ms", "20"}}, nullptr);
  if (!producer) return producer.error();
  for (size_t i = begin; i < end; ++i) {
    const auto& r = records[i];
    OutputRecord out;
    out.topic = topics[static_cast<size_t>(r.topic)];
    out.key = r.key;
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

// Waits until every task has read everything and nothing was processed for
// `quiet`; returns when processing last moved (the end of the work), or
// nullopt after `timeout` or a failure.
std::optional<Clock::time_point> wait_caught_up(Application& app, std::chrono::milliseconds quiet,
                                                std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  uint64_t last = ~0ull;
  auto moved = Clock::now();
  while (Clock::now() < deadline && !app.failure()) {
    uint64_t in = 0;
    bool idle = true;
    for (const auto& t : app.task_metrics()) {
      in += t.records_in;
      if (t.lag != 0 || t.inbox_batches != 0) idle = false;
    }
    if (in != last || !idle) {
      if (in != last) moved = Clock::now();
      last = in;
    } else if (Clock::now() - moved > quiet) {
      return moved;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::nullopt;
}

Expected<int64_t> records_in(connectors::TopicAdmin& admin, const std::string& topic,
                             int partitions) {
  std::vector<TopicPartition> tps;
  for (int p = 0; p < partitions; ++p) tps.push_back(TopicPartition{topic, PartitionId{p}});
  auto marks = admin.watermarks(tps);
  if (!marks) return marks.error();
  int64_t n = 0;
  for (const auto& m : *marks) {
    if (!m) return m.error();
    n += m->second - m->first;
  }
  return n;
}

struct Run {
  bool look_back = false;
  int round = 0;
  double seconds = 0;               // start() of the restarted Application until caught up
  double cpu_seconds = 0;           // the process's, over the same span
  double start_seconds = 0;         // start() alone: restores and the look back
  int64_t repartition_records = 0;  // written to the repartition topic while catching up
  std::string error;
};

std::string g_log_level = "warn";

Run run_once(const std::string& bootstrap, connectors::TopicAdmin& admin, bool look_back, int round,
             int64_t before, int64_t backlog, int partitions) {
  Run run;
  run.look_back = look_back;
  run.round = round;
  const std::string prefix =
      "r" + std::to_string(round) + (look_back ? "-lookback-" : "-watermark-");
  const Workload w = yahoo_workload(prefix);
  for (const auto& t : w.topics) {
    if (auto r = admin.ensure_topic(t, partitions); !r) {
      run.error = r.error().to_string();
      return run;
    }
  }
  // The ads table, then the events, event time 1 ms apart (a 10 s window
  // holds 10,000 of them).
  YahooGenerator g;
  Expectation expect(w.name);
  std::vector<GenRecord> records = g.table();
  const int64_t base_ms = 1'700'000'000'000;
  for (auto& r : records) r.timestamp = base_ms - 1000;
  const size_t table = records.size();
  for (int64_t i = 0; i < before + backlog; ++i) {
    int ad = 0;
    bool view = false;
    records.push_back(g.event(base_ms + i, &ad, &view));
    expect.on_yahoo(base_ms + i, ad, view, g);
  }
  auto planned = sql::plan_script(w.sql);
  if (!planned) {
    run.error = planned.error().message;
    return run;
  }
  std::string state_dir =
      (std::filesystem::temp_directory_path() / "rivulet-bench-catchup-XXXXXX").string();
  if (::mkdtemp(state_dir.data()) == nullptr) {
    run.error = "cannot create a state directory under /tmp";
    return run;
  }
  auto config = sql::app_config(
      *planned, "",
      {"application.id=" + prefix + "yahoo", "bootstrap.servers=" + bootstrap,
       "state.dir=" + state_dir, "statestore.cache.max.bytes=10485760",
       "checkpoint.interval.ms=1000", "log.level=" + g_log_level,
       std::string("repartition.lookback.max.records=") + (look_back ? "1000000" : "0")});
  if (!config) {
    run.error = config.error().message;
    return run;
  }
  const std::string repartition =
      planned->topology.scoped_to(prefix + "yahoo").repartition_topics().front();
  auto fail = [&](const std::string& e) {
    run.error = e;
    std::filesystem::remove_all(state_dir);
    return run;
  };
  if (auto r = produce(bootstrap, w.topics, records, 0, table + static_cast<size_t>(before)); !r)
    return fail(r.error().to_string());
  {
    Application first(planned->topology, *config);
    if (auto s = first.start(); !s) return fail(s.error().to_string());
    if (!wait_caught_up(first, std::chrono::milliseconds(1500), std::chrono::seconds(300)))
      return fail("the first run did not catch up");
    // Every task's newest checkpoint holds all it processed (it skipped one
    // since: nothing changed), so the backlog is all that is new at the restart.
    std::map<int32_t, uint64_t> skipped;
    for (const auto& t : first.task_metrics()) skipped[t.partition] = t.checkpoints_skipped;
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    for (bool all = false; !all;) {
      if (Clock::now() > deadline) return fail("the first run's checkpoints did not catch up");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      all = true;
      for (const auto& t : first.task_metrics())
        if (t.checkpoints == 0 || t.checkpoints_skipped <= skipped[t.partition]) all = false;
    }
    // A crash: every task stopped at once, nothing more written.
    for (int32_t p = 0; p < partitions; ++p) first.abandon_task(p);
    first.stop();
  }

  if (auto r = produce(bootstrap, w.topics, records, table + static_cast<size_t>(before),
                       records.size());
      !r)
    return fail(r.error().to_string());
  auto moved_before = records_in(admin, repartition, partitions);
  if (!moved_before) return fail(moved_before.error().to_string());
  {
    Application second(planned->topology, *config);
    const double cpu0 = process_cpu_seconds();
    const auto t0 = Clock::now();
    if (auto s = second.start(); !s) return fail(s.error().to_string());
    run.start_seconds = seconds_since(t0);
    auto done = wait_caught_up(second, std::chrono::milliseconds(1000), std::chrono::seconds(300));
    if (!done) return fail(second.failure() ? *second.failure() : "the restart did not catch up");
    run.seconds = std::chrono::duration<double>(*done - t0).count();
    // The quiet second after the end is the CPU of idle polling: not counted
    // (it is the same for both settings, and small).
    run.cpu_seconds = process_cpu_seconds() - cpu0;
    second.stop();
  }
  auto moved_after = records_in(admin, repartition, partitions);
  if (!moved_after) return fail(moved_after.error().to_string());
  run.repartition_records = *moved_after - *moved_before;
  auto out =
      chaos::read_topic(bootstrap, w.output_topics.front(), {false, std::chrono::seconds(60), {}});
  if (!out) return fail(out.error().to_string());
  std::vector<OutputRecord> outputs;
  outputs.reserve(out->records.size());
  for (const auto& r : out->records) {
    OutputRecord o;
    if (r.record.key) o.key = std::string(*r.record.key);
    if (r.record.value) o.value = std::string(*r.record.value);
    outputs.push_back(std::move(o));
  }
  if (auto wrong = expect.check_final(outputs); wrong && !wrong->empty()) return fail(*wrong);
  std::filesystem::remove_all(state_dir);
  return run;
}

json to_json(const Run& r) {
  json j = {{"look_back", r.look_back},         {"round", r.round},
            {"catchup_seconds", r.seconds},     {"catchup_cpu_seconds", r.cpu_seconds},
            {"start_seconds", r.start_seconds}, {"repartition_records", r.repartition_records}};
  if (!r.error.empty()) j["error"] = r.error;
  return j;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli(
      "bench_catchup: a restarted Yahoo pipeline's backlog with and without the look back");
  int64_t before = 100000;
  int64_t backlog = 200000;
  int partitions = 32;
  int rounds = 2;
  cli.add_option("--before", before, "Events processed before the crash")
      ->check(CLI::Range(int64_t{1000}, int64_t{5000000}));
  cli.add_option("--backlog", backlog, "Events written while the pipeline is down")
      ->check(CLI::Range(int64_t{1000}, int64_t{5000000}));
  cli.add_option("--partitions", partitions, "Partitions of the inputs (and tasks)")
      ->check(CLI::Range(1, 256));
  cli.add_option("--rounds", rounds, "Runs of each setting, alternating")->check(CLI::Range(1, 20));
  cli.add_option("--log-level", g_log_level,
                 "log.level of the applications (info shows the restores and the look back)");
  CLI11_PARSE(cli, argc, argv);

  auto broker = connectors::EmbeddedBroker::start({3, 3});
  if (!broker) {
    std::cerr << "bench_catchup: " << broker.error().to_string() << "\n";
    return 1;
  }
  const std::string bootstrap = (*broker)->bootstrap();
  auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", bootstrap}});
  if (!admin) {
    std::cerr << "bench_catchup: " << admin.error().to_string() << "\n";
    return 1;
  }
  json runs = json::array();
  std::vector<double> ratios, cpu_ratios;
  bool ok = true;
  for (int round = 0; round < rounds; ++round) {
    // Alternate which setting goes first: the machine's noise drifts.
    std::vector<bool> order =
        round % 2 == 0 ? std::vector<bool>{true, false} : std::vector<bool>{false, true};
    Run with, without;
    for (bool look_back : order) {
      Run r = run_once(bootstrap, **admin, look_back, round, before, backlog, partitions);
      std::cerr << "bench_catchup: round " << round << (look_back ? " look back" : " watermark")
                << ": " << (r.error.empty() ? std::to_string(r.seconds) + " s" : r.error) << "\n";
      if (!r.error.empty()) ok = false;
      runs.push_back(to_json(r));
      (look_back ? with : without) = r;
    }
    if (with.error.empty() && without.error.empty() && with.seconds > 0 && with.cpu_seconds > 0) {
      ratios.push_back(without.seconds / with.seconds);
      cpu_ratios.push_back(without.cpu_seconds / with.cpu_seconds);
    }
  }
  json result = {
      {"command", "bench_catchup --before " + std::to_string(before) + " --backlog " +
                      std::to_string(backlog) + " --partitions " + std::to_string(partitions) +
                      " --rounds " + std::to_string(rounds)},
      {"before", before},
      {"backlog", backlog},
      {"partitions", partitions},
      {"runs", runs},
      {"watermark_over_look_back_seconds_median", median(ratios)},
      {"watermark_over_look_back_cpu_median", median(cpu_ratios)}};
  std::cout << result.dump() << "\n";
  return ok ? 0 : 1;
}
