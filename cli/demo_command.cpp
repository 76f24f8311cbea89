// `rivulet demo`: the whole story on one machine. Starts the embedded
// broker, loads 10,000 users and 200,000 orders (8 partitions each), runs
// orders LEFT JOIN users plus a per-user order count with one task actor
// per partition, reads enriched-orders and order-counts back with an
// independent consumer, checks every order appears exactly once and every
// count is exact, and prints one JSON summary as the last line of stdout.
// With --http HOST:PORT it serves /metrics, /health and /tasks while it
// runs. SIGINT/SIGTERM stop it early (gracefully: a final checkpoint; exit
// status 130/143); a second signal exits at once.
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include "actors/application.hpp"
#include "actors/http_endpoint.hpp"
#include "cli/commands.hpp"
#include "cli/demo_cluster.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_consumer.hpp"
#include "examples/orders_enrichment.hpp"
#include "runtime/codec.hpp"
#include "runtime/log.hpp"
#include "runtime/progress.hpp"
#include "runtime/shutdown_signals.hpp"

namespace rivulet::cli {

namespace {

using Clock = std::chrono::steady_clock;

// Reads enriched-orders and order-counts back. Runs on the read-back
// consumer's poll thread; the demo's main thread reads the atomics.
class OutputChecker : public connectors::BatchSink {
 public:
  OutputChecker(const examples::OrdersWorkload& w, std::string enriched_topic)
      : workload_(w), enriched_topic_(std::move(enriched_topic)),
        seen_(static_cast<size_t>(w.orders), 0), json_(make_json_codec()) {}

  bool offer(RawBatch&& batch) override {
    const bool enriched = batch.tp.topic == enriched_topic_;
    for (const auto& rec : batch.records) {
      if (!rec.value) continue;
      auto v = json_->decode(*rec.value);
      if (!v || v->kind() != TypeKind::Struct) {
        malformed_.fetch_add(1);
        continue;
      }
      if (enriched) {
        const Value* id = v->field("order_id");
        if (!id || !id->is_numeric() || id->to_int64() < 0 || id->to_int64() >= workload_.orders) {
          malformed_.fetch_add(1);
          continue;
        }
        auto& slot = seen_[static_cast<size_t>(id->to_int64())];
        if (slot++ == 0) {
          distinct_.fetch_add(1);
          const Value* name = v->field("name");
          (name && !name->is_null() ? matched_ : unmatched_).fetch_add(1);
          last_output_ = Clock::now();
        } else {
          duplicates_.fetch_add(1);
        }
      } else {
        const Value* user = v->field("user_id");
        const Value* n = v->field("orders");
        if (!user || !n || user->kind() != TypeKind::String) continue;
        std::lock_guard<std::mutex> lock(counts_mutex_);
        counts_[user->as_string()] = n->to_int64();
      }
    }
    return true;
  }

  int64_t distinct() const { return distinct_.load(); }
  int64_t matched() const { return matched_.load(); }
  int64_t unmatched() const { return unmatched_.load(); }
  int64_t duplicates() const { return duplicates_.load(); }
  int64_t malformed() const { return malformed_.load(); }
  Clock::time_point last_output() const { return last_output_.load(); }
  std::map<std::string, int64_t> counts() const {
    std::lock_guard<std::mutex> lock(counts_mutex_);
    return counts_;
  }

 private:
  const examples::OrdersWorkload& workload_;
  std::string enriched_topic_;
  std::vector<uint8_t> seen_;
  std::unique_ptr<Codec> json_;
  std::atomic<int64_t> distinct_{0}, matched_{0}, unmatched_{0}, duplicates_{0}, malformed_{0};
  std::atomic<Clock::time_point> last_output_{Clock::now()};
  mutable std::mutex counts_mutex_;
  std::map<std::string, int64_t> counts_;
};

int run_demo(int partitions, int64_t users, int64_t orders, int timeout_s,
             const std::string& http) {
  ShutdownSignals signals("rivulet demo");  // before any thread starts
  examples::OrdersWorkload w;
  w.users = users;
  w.user_space = users + users / 10;
  w.orders = orders;

  std::cerr << "demo: starting the embedded broker\n";
  auto broker = connectors::EmbeddedBroker::start();
  if (!broker) {
    std::cerr << "demo: " << broker.error().to_string() << "\n";
    return 1;
  }
  const std::string bootstrap = (*broker)->bootstrap();
  for (const auto& topic : {w.users_topic, w.orders_topic, w.enriched_topic, w.counts_topic}) {
    auto r = (*broker)->create_topic(topic, partitions);
    if (!r) {
      std::cerr << "demo: " << r.error().to_string() << "\n";
      return 1;
    }
  }

  std::cerr << "demo: loading " << w.users << " users and " << w.orders << " orders into "
            << partitions << " partitions\n";
  Progress progress("demo: records loaded", w.users + w.orders);
  auto loaded = examples::produce_orders_workload(
      bootstrap, w, [&progress](int64_t done, int64_t) { progress.update(done); });
  if (loaded) progress.finish();
  if (signals.poll() != 0) return 128 + signals.received();
  if (!loaded) {
    std::cerr << "demo: " << loaded.error().to_string() << "\n";
    return 1;
  }

  // An independent consumer reads the outputs back while the job runs.
  OutputChecker checker(w, w.enriched_topic);
  auto reader = connectors::KafkaConsumer::create(
      {{"bootstrap.servers", bootstrap}, {"group.id", "rivulet-demo-reader"}});
  if (!reader) {
    std::cerr << "demo: " << reader.error().to_string() << "\n";
    return 1;
  }
  std::vector<connectors::StartPosition> positions;
  for (int32_t p = 0; p < partitions; ++p) {
    for (const auto& topic : {w.enriched_topic, w.counts_topic}) {
      positions.push_back({TopicPartition{topic, PartitionId{p}},
                           connectors::StartPosition::kBeginning});
    }
  }
  if (auto r = (*reader)->assign(positions); !r) {
    std::cerr << "demo: " << r.error().to_string() << "\n";
    return 1;
  }
  (*reader)->start(&checker);

  // A fresh state directory: the broker is new, so no old checkpoint applies.
  std::string state_dir = (std::filesystem::temp_directory_path() / "rivulet-demo-XXXXXX").string();
  if (::mkdtemp(state_dir.data()) == nullptr) {
    std::cerr << "demo: cannot create a state directory under /tmp\n";
    return 1;
  }
  auto config = Config::from_map({{"application.id", "rivulet-demo"},
                                  {"bootstrap.servers", bootstrap},
                                  {"commit.interval.ms", "500"},
                                  {"checkpoint.interval.ms", "2000"},
                                  {"state.dir", state_dir},
                                  {"kafka.producer.linger.ms", "50"}});
  if (!config) {
    std::cerr << "demo: " << config.error().message << "\n";
    return 1;
  }
  Application app(examples::make_orders_topology(w), *config);
  const auto started = Clock::now();
  if (auto r = app.start(); !r) {
    std::cerr << "demo: " << r.error().to_string() << "\n";
    return 1;
  }
  std::unique_ptr<HttpEndpoint> endpoint;
  if (!http.empty()) {
    auto e = HttpEndpoint::start(http, app);
    if (!e) {
      std::cerr << "demo: cannot serve http on " << http << ": " << e.error().to_string() << "\n";
      (void)app.stop();
      return 1;
    }
    endpoint = std::move(*e);
    std::cerr << "demo: http on " << endpoint->host() << ":" << endpoint->port()
              << " (/metrics /health /tasks)\n";
  }
  std::cerr << "demo: running orders LEFT JOIN users and per-user counts, one actor per "
               "partition ("
            << app.partitions() << " tasks)\n";

  const auto deadline = started + std::chrono::seconds(timeout_s);
  auto next_report = started + std::chrono::seconds(2);
  while (checker.distinct() < w.orders && Clock::now() < deadline && !app.failure() &&
         signals.poll() == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (Clock::now() >= next_report) {
      auto stats = app.stats();
      std::cerr << "demo: " << checker.distinct() << "/" << w.orders
                << " orders enriched (tasks read " << stats.records_in << ", wrote "
                << stats.records_out << ")\n";
      next_report += std::chrono::seconds(2);
    }
  }
  const double seconds =
      std::chrono::duration<double>(checker.last_output() - started).count();
  auto failure = app.failure();
  bool stopped_cleanly = app.stop();
  endpoint.reset();
  if (signals.received() != 0) {
    (*reader)->stop();
    std::error_code ignored;
    std::filesystem::remove_all(state_dir, ignored);
    std::cerr << "demo: stopped on signal " << signals.received() << " after "
              << checker.distinct() << "/" << w.orders << " orders ("
              << (stopped_cleanly ? "final checkpoint written" : "stop failed") << ")\n";
    return 128 + signals.received();
  }

  // Counts: the last count per user must equal the orders each user placed.
  auto expected = w.expected_counts();
  auto deadline_counts = Clock::now() + std::chrono::seconds(10);
  size_t wrong = expected.size();
  while (Clock::now() < deadline_counts) {
    auto counts = checker.counts();
    wrong = 0;
    for (const auto& [user, n] : expected) {
      auto it = counts.find(user);
      if (it == counts.end() || it->second != n) ++wrong;
    }
    if (wrong == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  (*reader)->stop();
  std::error_code ignored;
  std::filesystem::remove_all(state_dir, ignored);

  const bool complete = checker.distinct() == w.orders;
  const bool matched_ok = checker.matched() == w.expected_matched();
  std::cerr << "demo: " << checker.distinct() << " distinct orders in enriched-orders ("
            << checker.duplicates() << " duplicates, " << checker.malformed() << " malformed); "
            << (expected.size() - wrong) << "/" << expected.size()
            << " per-user counts exact\n";
  if (failure) std::cerr << "demo: task failure: " << *failure << "\n";
  if (!complete) std::cerr << "demo: FAILED: not every order reached the output in time\n";
  if (!matched_ok) {
    std::cerr << "demo: FAILED: expected " << w.expected_matched() << " matched orders\n";
  }
  if (wrong != 0) std::cerr << "demo: FAILED: " << wrong << " per-user counts are wrong\n";
  if (checker.duplicates() != 0) std::cerr << "demo: FAILED: duplicates in the output\n";

  char line[256];
  std::snprintf(line, sizeof line,
                R"({"orders": %lld, "enriched": %lld, "unmatched": %lld, "seconds": %.2f, )"
                R"("records_per_second": %.0f})",
                static_cast<long long>(w.orders), static_cast<long long>(checker.matched()),
                static_cast<long long>(checker.unmatched()), seconds,
                seconds > 0 ? static_cast<double>(checker.distinct()) / seconds : 0.0);
  std::cout << line << std::endl;
  const bool ok = complete && matched_ok && wrong == 0 && checker.duplicates() == 0 &&
                  stopped_cleanly && !failure;
  return ok ? 0 : 1;
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "demo", "Run orders LEFT JOIN users with per-user counts on an embedded broker");
  struct Options {
    int partitions = 8;
    int64_t users = 10000;
    int64_t orders = 200000;
    int timeout = 120;
    std::string http;
    bool cluster = false;
    int nodes = 3;
    int stream_seconds = 20;
  };
  auto opts = std::make_shared<Options>();
  cmd->add_option("--partitions", opts->partitions, "Partitions per topic")->check(CLI::Range(1, 64));
  cmd->add_option("--users", opts->users, "Users in the table")->check(CLI::Range(1, 10000000));
  cmd->add_option("--orders", opts->orders, "Orders in the stream")->check(CLI::Range(1, 10000000));
  cmd->add_option("--timeout", opts->timeout, "Seconds to wait for the output");
  cmd->add_option("--http", opts->http,
                  "Serve /metrics /health /tasks on HOST:PORT while running (port 0: any)");
  cmd->add_flag("--cluster", opts->cluster,
                "The cluster story: broker, coordinator and --nodes nodes as processes; one more "
                "node joins and one is killed while the orders stream in");
  cmd->add_option("--nodes", opts->nodes, "With --cluster: nodes at the start")
      ->check(CLI::Range(2, 8));
  cmd->add_option("--stream-seconds", opts->stream_seconds,
                  "With --cluster: seconds over which the last three quarters of the orders arrive")
      ->check(CLI::Range(4, 600));
  cmd->callback([opts] {
    if (opts->cluster) {
      ClusterDemoOptions o;
      o.partitions = opts->partitions;
      o.users = opts->users;
      o.orders = opts->orders;
      o.timeout_s = std::max(opts->timeout, opts->stream_seconds + 60);
      o.nodes = opts->nodes;
      o.stream_seconds = opts->stream_seconds;
      exit_code = run_cluster_demo(o);
      return;
    }
    exit_code = run_demo(opts->partitions, opts->users, opts->orders, opts->timeout,
                         opts->http);
  });
}

}  // namespace rivulet::cli
