// The opt-in tier of exactly_once_v2: end-to-end exactly-once output on a
// real Kafka cluster (2.5 or later), which the embedded broker cannot show
// (it neither hides aborted records nor keeps transactional offsets).
//
//   RIVULET_TEST_KAFKA=host:port ctest -R real_kafka_eos --output-on-failure
//
// Without RIVULET_TEST_KAFKA the program prints why and exits 77, which
// ctest reports as "Skipped" (SKIP_RETURN_CODE), never as passed. Topics and
// the application id carry a unique suffix, so runs do not disturb each
// other; they are left on the cluster afterwards (delete `eos-*-<suffix>`).
//
// The test re-runs this program as the node (`--node ...`): the node runs
// the orders pipeline with processing.guarantee=exactly_once_v2 and is
// SIGKILLed twice mid-stream, then a last incarnation consumes the rest and
// stops gracefully. `rivulet verify --exactly-once --read-committed` must
// then find every order exactly once in the committed output, and the
// per-user counts must be exact.
#define CATCH_CONFIG_RUNNER
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "actors/application.hpp"
#include "chaos/topic_reader.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/topic_admin.hpp"
#include "examples/orders_enrichment.hpp"
#include "runtime/codec.hpp"
#include "runtime/shutdown_signals.hpp"
#include "support/child_process.hpp"

using namespace rivulet;
using rivulet::testing::ChildProcess;

namespace {

constexpr int kSkip = 77;
constexpr int32_t kPartitions = 4;

std::string self_path;

examples::OrdersWorkload workload(const std::string& suffix) {
  examples::OrdersWorkload w;
  w.users = 1000;
  w.user_space = 1100;
  w.orders = 20000;
  w.users_topic = "eos-users-" + suffix;
  w.orders_topic = "eos-orders-" + suffix;
  w.enriched_topic = "eos-enriched-" + suffix;
  w.counts_topic = "eos-counts-" + suffix;
  return w;
}

// --node BOOTSTRAP SUFFIX STATE_DIR: runs the pipeline until SIGTERM.
int run_node(const std::string& bootstrap, const std::string& suffix, const std::string& state) {
  ShutdownSignals signals("real_kafka_eos node");
  auto w = workload(suffix);
  auto config = Config::from_map({{"application.id", "eos-app-" + suffix},
                                  {"bootstrap.servers", bootstrap},
                                  {"processing.guarantee", "exactly_once_v2"},
                                  {"state.dir", state},
                                  {"log.level", "warn"}});
  if (!config) return 2;
  Application app(examples::make_orders_topology(w), *config);
  if (auto started = app.start(); !started) {
    std::fprintf(stderr, "cannot start: %s\n", started.error().to_string().c_str());
    return 1;
  }
  std::printf("started\n");
  std::fflush(stdout);
  signals.wait();
  return app.stop() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  self_path = argv[0];
  if (argc == 5 && std::string(argv[1]) == "--node") return run_node(argv[2], argv[3], argv[4]);
  const char* kafka = std::getenv("RIVULET_TEST_KAFKA");
  if (kafka == nullptr || *kafka == '\0') {
    std::printf(
        "SKIPPED: RIVULET_TEST_KAFKA is not set. These tests need a real Kafka cluster (2.5 or "
        "later; the embedded broker does not hide aborted transactions). Run them with "
        "RIVULET_TEST_KAFKA=host:port ctest -R real_kafka_eos (docs/exactly-once.md).\n");
    return kSkip;
  }
  return Catch::Session().run(argc, argv);
}

TEST_CASE("real Kafka: exactly_once_v2 output is exactly once across SIGKILLs",
          "[kafka][exactly-once]") {
  const std::string bootstrap = std::getenv("RIVULET_TEST_KAFKA");
  const std::string suffix = std::to_string(::getpid()) + "-" +
                             std::to_string(std::chrono::system_clock::now().time_since_epoch() /
                                            std::chrono::seconds(1));
  auto w = workload(suffix);
  {
    auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", bootstrap}});
    REQUIRE(admin.ok());
    for (const auto& t : {w.users_topic, w.orders_topic, w.enriched_topic, w.counts_topic}) {
      auto made = (*admin)->ensure_topic(t, kPartitions);
      INFO(t << ": " << (made.ok() ? std::string() : made.error().to_string()));
      REQUIRE(made.ok());
    }
  }
  REQUIRE(examples::produce_orders_workload(bootstrap, w, nullptr).ok());
  std::string state = (std::filesystem::temp_directory_path() / "rivulet-real-eos-XXXXXX").string();
  REQUIRE(::mkdtemp(state.data()) != nullptr);

  auto group = connectors::KafkaConsumer::create(
      {{"bootstrap.servers", bootstrap}, {"group.id", "eos-app-" + suffix},
       {"isolation.level", "read_committed"}});
  REQUIRE(group.ok());
  std::vector<TopicPartition> tps;
  for (int32_t p = 0; p < kPartitions; ++p) tps.push_back({w.orders_topic, PartitionId{p}});
  auto committed_total = [&]() -> int64_t {
    auto committed = (*group)->committed(tps, std::chrono::seconds(10));
    if (!committed) return -1;
    int64_t total = 0;
    for (const auto& [tp, o] : *committed) total += o.value();
    return total;
  };
  auto node = [&] {
    auto child = ChildProcess::spawn({self_path, "--node", bootstrap, suffix, state});
    REQUIRE(child.has_value());
    return std::move(*child);
  };

  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> extra_ms(0, 300);
  int64_t progress = 0;
  for (int round = 0; round < 2; ++round) {
    auto child = node();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (committed_total() <= progress && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(extra_ms(rng)));
    CHECK(child.stop(SIGKILL) == 128 + SIGKILL);
    progress = std::max(progress, committed_total());
  }
  auto last = node();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
  while (committed_total() < w.orders && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  REQUIRE(committed_total() == w.orders);
  CHECK(last.read_first_line(std::chrono::seconds(30)) == std::optional<std::string>("started"));
  CHECK(last.stop(SIGTERM, std::chrono::seconds(60)) == 0);

  // The product's verifier, reading committed records only, finds every
  // order exactly once.
  auto [rc, report] = testing::run_command(
      testing::rivulet_binary() + " verify --bootstrap " + bootstrap + " --input " +
          w.orders_topic + " --output " + w.enriched_topic +
          " --id order_id --exactly-once --read-committed --json",
      "", 300);
  INFO(report);
  CHECK(rc == 0);

  // Exact state: the last committed count per user.
  auto contents = chaos::read_topic(bootstrap, w.counts_topic, {true, std::chrono::seconds(120), {}});
  REQUIRE(contents.ok());
  auto json = make_json_codec();
  std::map<std::string, int64_t> counts;
  for (const auto& r : contents->records) {
    auto v = json->decode(*r.record.value);
    REQUIRE(v.ok());
    counts[v->field("user_id")->as_string()] = v->field("orders")->to_int64();
  }
  CHECK(counts == w.expected_counts());
  std::filesystem::remove_all(state);
}
