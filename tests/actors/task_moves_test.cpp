// Moving tasks between two Applications while they run (what a cluster node
// does on scale-out, scale-in and failover), and the write lease that fences
// a stale owner. Embedded broker in the test process; both Applications
// share one checkpoint directory, as the nodes of a one-machine cluster do.
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "actors/application.hpp"
#include "connectors/embedded_broker.hpp"
#include "examples/orders_enrichment.hpp"
#include "runtime/codec.hpp"
#include "support/temp_dir.hpp"
#include "support/topic_reader.hpp"

using namespace rivulet;
using rivulet::testing::Collector;
using rivulet::testing::read_until;
using rivulet::testing::ReadRecord;

namespace {

std::string fresh_dir() { return rivulet::testing::scratch_dir("rivulet-moves"); }

Config config_for(const std::string& bootstrap, const std::string& state_dir,
                  std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> values = {{"application.id", "moves"},
                                               {"bootstrap.servers", bootstrap},
                                               {"commit.interval.ms", "50"},
                                               {"checkpoint.interval.ms", "100"},
                                               {"consumer.batch.max.records", "200"},
                                               {"log.level", "warn"},
                                               {"state.dir", state_dir}};
  for (auto& [k, v] : extra) values[k] = v;
  auto c = Config::from_map(values);
  REQUIRE(c.ok());
  return *c;
}

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE("tasks move between running applications: every order out, counts exact",
          "[integration][application][moves]") {
  // Also with the output cache, under both guarantees: a task handed over
  // writes what it cached before its final commit.
  const auto [guarantee, cache] = GENERATE(table<std::string, std::string>(
      {{"at_least_once", "0"}, {"at_least_once", "16777216"}, {"exactly_once_v2", "16777216"}}));
  INFO("processing.guarantee=" << guarantee << " statestore.cache.max.bytes=" << cache);
  const std::map<std::string, std::string> settings = {
      {"processing.guarantee", guarantee}, {"statestore.cache.max.bytes", cache}};
  examples::OrdersWorkload w;
  w.users = 500;
  w.user_space = 550;
  w.orders = 30000;
  auto broker = connectors::EmbeddedBroker::start();
  REQUIRE(broker.ok());
  for (const auto& t : {w.users_topic, w.orders_topic, w.enriched_topic, w.counts_topic}) {
    REQUIRE((*broker)->create_topic(t, 4).ok());
  }
  const std::string bootstrap = (*broker)->bootstrap();
  REQUIRE(examples::produce_orders_workload(bootstrap, w, nullptr).ok());
  const std::string state = fresh_dir();

  Application a(examples::make_orders_topology(w), config_for(bootstrap, state, settings));
  Application b(examples::make_orders_topology(w), config_for(bootstrap, state, settings));
  REQUIRE(a.start({0, 1}, 10).ok());
  REQUIRE(b.start({2, 3}, 10).ok());
  CHECK(a.task_partitions() == std::vector<int32_t>{0, 1});
  CHECK(b.task_partitions() == std::vector<int32_t>{2, 3});

  // Move 1 to b and 3 to a while everything runs; then 1 back to a.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto removed = a.remove_task(1);
  INFO((removed.ok() ? std::string() : removed.error().to_string()));
  REQUIRE(removed.ok());
  REQUIRE(b.add_task(1, 11).ok());
  REQUIRE(b.remove_task(3).ok());
  REQUIRE(a.add_task(3, 11).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  REQUIRE(b.remove_task(1).ok());
  REQUIRE(a.add_task(1, 12).ok());
  CHECK(a.task_partitions() == std::vector<int32_t>{0, 1, 3});
  CHECK(b.task_partitions() == std::vector<int32_t>{2});

  auto expected = w.expected_counts();
  std::set<int64_t> ids;
  std::map<std::string, int64_t> counts;
  size_t cursor = 0;
  auto json = make_json_codec();
  auto records = read_until(
      bootstrap, {w.enriched_topic, w.counts_topic}, 4,
      [&](const Collector& c) {
        c.for_each_new(cursor, [&](const ReadRecord& r) {
          if (!r.value) return;
          auto v = json->decode(*r.value);
          if (!v) return;
          if (r.tp.topic == w.enriched_topic) {
            ids.insert(v->field("order_id")->to_int64());
          } else {
            counts[v->field("user_id")->as_string()] = v->field("orders")->to_int64();
          }
        });
        return ids.size() == static_cast<size_t>(w.orders) && counts == expected;
      },
      std::chrono::seconds(60));
  REQUIRE(a.stop());
  REQUIRE(b.stop());
  CHECK(ids.size() == static_cast<size_t>(w.orders));
  CHECK(counts == expected);
  // Every duplicate is a replay: same input, different incarnations.
  std::map<std::string, std::set<std::string>> epochs_per_input;
  std::map<std::string, int> copies;
  for (const auto& r : records) {
    if (r.tp.topic != w.enriched_topic) continue;
    auto in = r.header("rivulet.input").value_or("");
    ++copies[in];
    epochs_per_input[in].insert(r.header("rivulet.epoch").value_or(""));
  }
  for (const auto& [in, n] : copies) {
    INFO("input " << in);
    CHECK(epochs_per_input[in].size() == static_cast<size_t>(n));
  }
}

TEST_CASE("a task whose write lease ran out produces and commits nothing until it is extended",
          "[integration][application][lease]") {
  examples::OrdersWorkload w;
  w.users = 100;
  w.user_space = 110;
  w.orders = 2000;
  auto broker = connectors::EmbeddedBroker::start();
  REQUIRE(broker.ok());
  for (const auto& t : {w.users_topic, w.orders_topic, w.enriched_topic, w.counts_topic}) {
    REQUIRE((*broker)->create_topic(t, 2).ok());
  }
  const std::string bootstrap = (*broker)->bootstrap();
  REQUIRE(examples::produce_orders_workload(bootstrap, w, nullptr).ok());

  Application app(examples::make_orders_topology(w), config_for(bootstrap, fresh_dir()));
  app.use_leases();  // tasks start with an expired lease
  REQUIRE(app.start({0, 1}, 5).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(app.stats().records_out == 0);
  auto nothing = read_until(bootstrap, {w.enriched_topic}, 2,
                            [&](const Collector& c) { return c.count(w.enriched_topic) > 0; },
                            std::chrono::seconds(1));
  CHECK(nothing.empty());

  for (const auto& m : app.task_metrics()) CHECK(m.state == "fenced");
  CHECK_FALSE(app.extend_lease(0, 4, steady_ms() + 60000));  // another incarnation's lease
  CHECK(app.extend_lease(0, 5, steady_ms() + 60000));
  CHECK(app.extend_lease(1, 5, steady_ms() + 60000));
  auto all = read_until(bootstrap, {w.enriched_topic}, 2, [&](const Collector& c) {
    return c.count(w.enriched_topic) >= static_cast<size_t>(w.orders);
  });
  CHECK(all.size() == static_cast<size_t>(w.orders));
  REQUIRE(app.stop());
}
