// bench_windows: a windowed count of N events over K keys through the
// operators in-process (TaskGraph::process on decoded records, one
// thread, no broker, no codecs): records per second and peak RSS for
// tumbling and hopping windows with EMIT CHANGES and EMIT FINAL. Each case
// runs in its own child process so its peak RSS is its own.
//
//   build/bin/bench_windows                       # 10M events, 100k keys
//   build/bin/bench_windows --events 2000000      # smaller N
//
// Events: keys uniformly random, event time advancing 1 ms per event (so
// 10M events span 10,000 s), 1 in 100 records up to 5 s out of order.
// Windows: tumbling 60 s; hopping 60 s advancing by 10 s (6 windows per
// event); grace 10 s. Prints one JSON object per case, one per line.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "operators/topology.hpp"

namespace {

struct Case {
  std::string name;
  rivulet::WindowSpec window;
};

struct Result {
  double seconds = 0;
  uint64_t outputs = 0;
  uint64_t late = 0;
  size_t open_windows = 0;
};

Result run_case(const Case& c, uint64_t events, uint64_t keys, size_t batch_size) {
  using namespace rivulet;
  Topology topo;
  auto outputs = std::make_shared<uint64_t>(0);
  topo.stream("events", codecs::internal())
      .group_by_key()
      .windowed_count(c.window, "counts")
      .peek([outputs](const Record&) { ++*outputs; });
  auto graph = topo.instantiate(PartitionId{0});
  if (!graph) {
    std::cerr << "topology: " << topo.validate().error().message << "\n";
    std::exit(2);
  }
  std::vector<Value> key_values;
  key_values.reserve(keys);
  for (uint64_t k = 0; k < keys; ++k) key_values.push_back(Value::string("user-" + std::to_string(k)));
  std::mt19937_64 rng(42);
  TaskOutput out;
  Batch batch;
  batch.reserve(batch_size);
  auto started = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < events;) {
    batch.clear();
    for (size_t j = 0; j < batch_size && i < events; ++j, ++i) {
      Record r;
      r.key = key_values[rng() % keys];
      r.value = Value::int64(1);
      auto t = static_cast<TimestampMs>(i);
      if (rng() % 100 == 0) t = std::max<TimestampMs>(0, t - static_cast<TimestampMs>(rng() % 5000));
      r.timestamp = t;
      batch.push_back(std::move(r));
    }
    graph->process(0, batch, out);
  }
  Result res;
  res.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  res.outputs = *outputs;
  res.late = out.late_records_dropped;
  res.open_windows = graph->window_store("counts")->size();
  return res;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Windowed count benchmark (operators in-process)");
  uint64_t events = 10'000'000, keys = 100'000;
  size_t batch = 1000;
  app.add_option("--events", events, "Events to count")->capture_default_str();
  app.add_option("--keys", keys, "Distinct keys")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--batch", batch, "Records per batch")->capture_default_str()->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  using rivulet::WindowSpec;
  std::vector<Case> cases;
  for (auto emit : {rivulet::WindowEmit::Changes, rivulet::WindowEmit::Final}) {
    const char* mode = emit == rivulet::WindowEmit::Changes ? "changes" : "final";
    WindowSpec t = WindowSpec::tumbling(60000, 10000);
    t.emit = emit;
    cases.push_back({std::string("tumbling-") + mode, t});
    WindowSpec h = WindowSpec::hopping(60000, 10000, 10000);
    h.emit = emit;
    cases.push_back({std::string("hopping-") + mode, h});
  }
  int status_all = 0;
  for (const Case& c : cases) {
    int fds[2];
    if (pipe(fds) != 0) return 2;
    pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) {
      close(fds[0]);
      Result r = run_case(c, events, keys, batch);
      std::string line = std::to_string(r.seconds) + " " + std::to_string(r.outputs) + " " +
                         std::to_string(r.late) + " " + std::to_string(r.open_windows) + "\n";
      if (write(fds[1], line.data(), line.size()) < 0) _exit(3);
      _exit(0);
    }
    close(fds[1]);
    std::string text;
    char buf[256];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
    close(fds[0]);
    int status = 0;
    struct rusage usage {};
    wait4(pid, &status, 0, &usage);
    double seconds = 0;
    unsigned long long outputs = 0, late = 0, open = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        std::sscanf(text.c_str(), "%lf %llu %llu %llu", &seconds, &outputs, &late, &open) != 4) {
      std::cerr << c.name << ": the child failed\n";
      status_all = 1;
      continue;
    }
    // CPU time of the child (the whole case, generation included): on a
    // shared machine records per CPU second is steadier than per wall second.
    double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                 static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    std::printf(
        "{\"case\": \"%s\", \"events\": %llu, \"keys\": %llu, \"seconds\": %.3f, "
        "\"records_per_second\": %.0f, \"cpu_seconds\": %.3f, \"records_per_cpu_second\": %.0f, "
        "\"outputs\": %llu, \"late_records_dropped\": %llu, "
        "\"open_windows_at_end\": %llu, \"peak_rss_mb\": %.1f}\n",
        c.name.c_str(), static_cast<unsigned long long>(events),
        static_cast<unsigned long long>(keys), seconds,
        seconds > 0 ? static_cast<double>(events) / seconds : 0.0, cpu,
        cpu > 0 ? static_cast<double>(events) / cpu : 0.0, outputs, late, open,
        static_cast<double>(usage.ru_maxrss) / 1024.0);
    std::fflush(stdout);
  }
  return status_all;
}
