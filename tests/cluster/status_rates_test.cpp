// Rates in the coordinator's status: records/s in and out per task, from
// two of its owner's reports at least a second apart; unknown (-1) until
// then and again after the task moved (a new incarnation's counters start
// from zero).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cluster/coordinator_state.hpp"
#include "cluster/protocol.hpp"

using namespace rivulet::cluster;

namespace {

NodeReport report(const std::string& node, int64_t epoch, uint64_t in, uint64_t out) {
  NodeReport r;
  r.name = node;
  r.pid = 7;
  TaskReport t;
  t.query = "q";
  t.partition = 0;
  t.epoch = epoch;
  t.state = "running";
  t.records_in = in;
  t.records_out = out;
  r.tasks.push_back(t);
  return r;
}

nlohmann::json task0(const CoordinatorState& c, int64_t now) {
  auto j = nlohmann::json::parse(c.status_json(now));
  REQUIRE(j["tasks"].size() == 1);
  return j["tasks"][0];
}

}  // namespace

TEST_CASE("status rates come from two reports a second apart and restart with a new owner",
          "[cluster]") {
  CoordinatorState c(CoordinatorTimes{3000, 1500, 100}, "", 0);
  REQUIRE(c.submit(QueryDef{"q", "CREATE STREAM ...", 1, {}}, "", 0).empty());
  NodeReport empty;
  empty.name = "n1";
  empty.pid = 7;
  auto orders = c.heartbeat(empty, 0);
  REQUIRE(orders.tasks.size() == 1);
  const int64_t epoch = orders.tasks[0].epoch;

  c.heartbeat(report("n1", epoch, 100, 50), 100);
  CHECK(task0(c, 100)["records_in_per_s"] == -1);  // one sample: no rate yet
  c.heartbeat(report("n1", epoch, 400, 150), 600);
  CHECK(task0(c, 600)["records_in_per_s"] == -1);  // window not yet a second
  c.heartbeat(report("n1", epoch, 2100, 1050), 1100);
  auto t = task0(c, 1100);
  CHECK(t["records_in_per_s"].get<double>() == Approx(2000.0));  // 2000 records in 1 s
  CHECK(t["records_out_per_s"].get<double>() == Approx(1000.0));
  CHECK(t["records_in"] == 2100);
  // Idle: the next window measures zero.
  c.heartbeat(report("n1", epoch, 2100, 1050), 2200);
  CHECK(task0(c, 2200)["records_in_per_s"].get<double>() == Approx(0.0));

  // A new incarnation (counters from zero): unknown again, then measured anew.
  c.heartbeat(report("n1", epoch + 5, 10, 10), 2400);
  CHECK(task0(c, 2400)["records_in_per_s"] == -1);
  c.heartbeat(report("n1", epoch + 5, 510, 10), 3400);
  // The coordinator gave the task epoch `epoch`; a report with another epoch
  // is "starting" and shows no rate of the stale copy.
  CHECK(task0(c, 3400)["records_in_per_s"] == -1);
}
