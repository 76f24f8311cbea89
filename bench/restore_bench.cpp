// bench_restore: how long a restarted application takes to have its table
// back, restored from checkpoints against rebuilt by replaying the table
// topic (as Kafka Streams restores a store from its changelog), in one run.
//
//   build/bin/bench_restore [--keys N] [--partitions P] [--store directory|kafka|both]
//                           [--storage decoded|encoded]
//
// --storage encoded runs the same join with the users table in
// TableStorage::Encoded (msgpack bytes in an arena: restoring copies bytes
// instead of decoding every value).
//
// An embedded broker (3 brokers, in this process) gets the demo's users
// table with N keys (JSON values of about 55 bytes) in P partitions, sized for
// the embedded broker's 5 MiB per partition (the default 32 partitions hold
// 1M keys at about 2 MiB each). Then, per store:
//   replay   an Application (orders LEFT JOIN users, no orders) starts without any checkpoint and reads the users topic
//            from the beginning: timed from start() until its users table
//            holds N keys. It stops gracefully, writing one full checkpoint
//            per task (timed: `final_checkpoint_ms`).
//   restore  a second Application with the same application.id (and, with
//            the Kafka store, another state.dir: another node) starts:
//            timed from start() until the table holds N keys.
// The last line is one JSON object with every figure.
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "actors/application.hpp"
#include "connectors/embedded_broker.hpp"
#include "examples/orders_enrichment.hpp"
#include "operators/serdes.hpp"
#include "operators/topology.hpp"

using namespace rivulet;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

// CPU time of the whole process (the embedded broker's threads included).
double cpu_ms() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return (static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)) * 1e3 +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::string temp_dir() {
  std::string dir = (std::filesystem::temp_directory_path() / "rivulet-bench-restore-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  return dir;
}

struct Timing {
  bool ok = false;
  std::string error;
  double table_ms = 0;  // start() until the table holds every key
  double table_cpu_ms = 0;  // process CPU time over the same span
  double start_ms = 0;  // start() alone
  double stop_ms = 0;   // graceful stop (final checkpoints)
  uint64_t checkpoint_bytes = 0;
  uint64_t restores = 0;
};

// The demo's join (orders LEFT JOIN users -> enriched) with the users table
// in the given storage.
Topology join_topology(const examples::OrdersWorkload& w, TableStorage storage) {
  Topology topo;
  auto users = topo.table(w.users_topic, codecs::string_json(), "users", storage);
  topo.stream(w.orders_topic, codecs::string_json())
      .left_join(users, [](const Record& order, const Value*) { return order.value; })
      .to(w.enriched_topic, codecs::string_json());
  return topo;
}

Timing run_app(const examples::OrdersWorkload& w, TableStorage storage, const Config& config,
               int timeout_s) {
  Timing t;
  Application app(join_topology(w, storage), config);
  const auto begin = Clock::now();
  const double cpu0 = cpu_ms();
  auto started = app.start();
  t.start_ms = ms_since(begin);
  if (!started) {
    t.error = started.error().to_string();
    return t;
  }
  auto users = app.table("users");
  const auto deadline = begin + std::chrono::seconds(timeout_s);
  while (users.size() < static_cast<size_t>(w.users) && Clock::now() < deadline &&
         !app.failure()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  t.table_ms = ms_since(begin);
  t.table_cpu_ms = cpu_ms() - cpu0;
  t.ok = users.size() == static_cast<size_t>(w.users);
  if (!t.ok) {
    t.error = app.failure() ? *app.failure()
                            : "table holds " + std::to_string(users.size()) + " of " +
                                  std::to_string(w.users) + " keys after " +
                                  std::to_string(timeout_s) + " s";
  }
  for (const auto& m : app.task_metrics()) t.restores += m.restores;
  const auto stop_begin = Clock::now();
  if (!app.stop()) t.ok = false;
  t.stop_ms = ms_since(stop_begin);
  for (const auto& m : app.task_metrics()) t.checkpoint_bytes += m.checkpoint_bytes;
  return t;
}

json to_json(const Timing& t) {
  json j = {{"ok", t.ok},
            {"table_ms", t.table_ms},
            {"table_cpu_ms", t.table_cpu_ms},
            {"start_ms", t.start_ms},
            {"stop_ms", t.stop_ms},
            {"checkpoint_bytes", t.checkpoint_bytes},
            {"restored_tasks", t.restores}};
  if (!t.error.empty()) j["error"] = t.error;
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli("bench_restore: a table restored from checkpoints against replaying its topic");
  int64_t keys = 1000000;
  int partitions = 32;
  std::string store = "both";
  int timeout_s = 600;
  cli.add_option("--keys", keys, "Keys in the users table")->check(CLI::Range(1, 20000000));
  cli.add_option("--partitions", partitions, "Partitions of every topic (and tasks)")
      ->check(CLI::Range(1, 256));
  cli.add_option("--store", store, "Checkpoint store(s) to measure")
      ->check(CLI::IsMember({"directory", "kafka", "both"}));
  cli.add_option("--timeout", timeout_s, "Seconds each phase may take");
  std::string log_level = "warn";
  cli.add_option("--log-level", log_level, "log.level of the applications (info shows each task's restore)");
  std::string storage_name = "decoded";
  cli.add_option("--storage", storage_name, "Storage of the users table")
      ->check(CLI::IsMember({"decoded", "encoded"}));
  CLI11_PARSE(cli, argc, argv);

  const TableStorage storage =
      storage_name == "encoded" ? TableStorage::Encoded : TableStorage::Decoded;
  auto broker = connectors::EmbeddedBroker::start({3, 3});
  if (!broker) {
    std::cerr << "bench_restore: " << broker.error().to_string() << "\n";
    return 1;
  }
  const std::string bootstrap = (*broker)->bootstrap();
  examples::OrdersWorkload w;
  w.users = keys;
  w.user_space = keys;
  w.orders = 0;
  for (const auto& t : {w.users_topic, w.orders_topic, w.enriched_topic, w.counts_topic}) {
    if (auto r = (*broker)->create_topic(t, partitions); !r) {
      std::cerr << "bench_restore: " << r.error().to_string() << "\n";
      return 1;
    }
  }
  std::cerr << "bench_restore: loading " << keys << " users into " << partitions
            << " partitions\n";
  const auto load_begin = Clock::now();
  if (auto r = examples::produce_orders_workload(bootstrap, w, nullptr); !r) {
    std::cerr << "bench_restore: " << r.error().to_string() << "\n";
    return 1;
  }
  json result = {{"keys", keys},
                 {"partitions", partitions},
                 {"load_ms", ms_since(load_begin)},
                 {"command", "bench_restore --keys " + std::to_string(keys) + " --partitions " +
                                 std::to_string(partitions) + " --store " + store +
                                 " --storage " + storage_name}};
  bool ok = true;
  std::vector<std::string> stores;
  if (store == "both") {
    stores = {"directory", "kafka"};
  } else {
    stores = {store};
  }
  for (const auto& s : stores) {
    const std::string dir_a = temp_dir();
    const std::string dir_b = s == "kafka" ? temp_dir() : dir_a;
    auto make_config = [&](const std::string& state_dir) {
      auto c = Config::from_map({{"application.id", "bench-restore-" + s},
                                 {"bootstrap.servers", bootstrap},
                                 {"checkpoint.store", s},
                                 // Only the final checkpoint at stop: the replay is not slowed.
                                 {"checkpoint.interval.ms", "3600000"},
                                 {"checkpoint.topic.partitions", "64"},
                                 {"commit.interval.ms", "1000"},
                                 {"state.dir", state_dir},
                                 {"log.level", log_level}});
      if (!c) {
        std::cerr << "bench_restore: " << c.error().message << "\n";
        std::exit(1);
      }
      return *c;
    };
    std::cerr << "bench_restore: " << s << ": replay of the table topic\n";
    Timing replay = run_app(w, storage, make_config(dir_a), timeout_s);
    Timing restore;
    if (replay.ok) {
      std::cerr << "bench_restore: " << s << ": restore from checkpoints\n";
      restore = run_app(w, storage, make_config(dir_b), timeout_s);
      if (restore.ok && restore.restores != static_cast<uint64_t>(partitions)) {
        restore.ok = false;
        restore.error = "only " + std::to_string(restore.restores) + " of " +
                        std::to_string(partitions) + " tasks restored a checkpoint";
      }
    }
    json j = {{"replay", to_json(replay)}, {"restore", to_json(restore)}};
    j["replay"]["final_checkpoint_ms"] = replay.stop_ms;
    if (replay.ok && restore.ok && restore.table_ms > 0) {
      j["replay_over_restore"] = replay.table_ms / restore.table_ms;
    }
    ok = ok && replay.ok && restore.ok;
    std::printf("%-9s replay %8.0f ms (cpu %8.0f)   restore %8.0f ms (cpu %8.0f)   "
                "replay/restore %6.1fx   final checkpoint %6.0f ms, %llu bytes\n",
                s.c_str(), replay.table_ms, replay.table_cpu_ms, restore.table_ms,
                restore.table_cpu_ms, restore.table_ms > 0 ? replay.table_ms / restore.table_ms : 0.0,
                replay.stop_ms, static_cast<unsigned long long>(replay.checkpoint_bytes));
    if (!replay.ok) std::fprintf(stderr, "replay FAILED: %s\n", replay.error.c_str());
    if (!restore.ok) std::fprintf(stderr, "restore FAILED: %s\n", restore.error.c_str());
    result[s] = j;
    std::error_code ec;
    std::filesystem::remove_all(dir_a, ec);
    if (dir_b != dir_a) std::filesystem::remove_all(dir_b, ec);
  }
  std::cout << result.dump() << std::endl;
  return ok ? 0 : 1;
}
