// The coordinator's decisions with a fake clock: assignment with epochs,
// hand-overs only after release, failover only after the dead node's leases
// ran out, stale nodes fenced, and a restart that adopts without moving.
#include "cluster/coordinator_state.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "cluster/client.hpp"
#include "cluster/protocol.hpp"

using namespace rivulet::cluster;

namespace {

const CoordinatorTimes kTimes{3000, 1500, 100};

QueryDef query(const std::string& name, int32_t partitions) {
  return QueryDef{name, "CREATE STREAM ...", partitions, {}};
}

// A node that runs exactly what it was told (hand-overs complete at once).
struct FakeNode {
  explicit FakeNode(std::string n) : name(std::move(n)) {}
  std::string name;
  std::map<std::pair<std::string, int32_t>, int64_t> running;  // task -> epoch
  bool fenced = false;

  NodeReport report() const {
    NodeReport r;
    r.name = name;
    r.pid = 100;
    for (const auto& [t, e] : running) {
      TaskReport tr;
      tr.query = t.first;
      tr.partition = t.second;
      tr.epoch = e;
      tr.state = fenced ? "fenced" : "running";
      r.tasks.push_back(tr);
    }
    return r;
  }
  // Follows the orders like a node: drops what is not listed (or listed for
  // release), starts what is new.
  NodeOrders beat(CoordinatorState& c, int64_t now) {
    auto orders = c.heartbeat(report(), now);
    std::map<std::pair<std::string, int32_t>, int64_t> next;
    for (const auto& o : orders.tasks) {
      if (!o.release) next[{o.query, o.partition}] = o.epoch;
    }
    running = next;
    fenced = false;
    return orders;
  }
};

std::map<std::string, int> counts(const CoordinatorState& c, const std::string& q, int n) {
  std::map<std::string, int> out;
  for (int p = 0; p < n; ++p) ++out[c.owner(TaskKey{q, p})];
  return out;
}

}  // namespace

TEST_CASE("hello: protocol version, message types and secret are checked", "[cluster]") {
  auto types = protocol_type_names();
  REQUIRE(types.size() == 8);
  CHECK(types.front() == "rivulet::cluster::TaskReport");
  CHECK(check_hello(kProtocolVersion, types, "s", "s").empty());
  CHECK(check_hello(kProtocolVersion + 1, types, "s", "s").find("protocol version mismatch") !=
        std::string::npos);
  auto fewer = types;
  fewer.pop_back();
  auto why = check_hello(kProtocolVersion, fewer, "s", "s");
  CHECK(why.find("the node lacks: rivulet::cluster::NodeOrders") != std::string::npos);
  auto more = types;
  more.push_back("rivulet::cluster::Gossip");
  CHECK(check_hello(kProtocolVersion, more, "s", "s").find("the coordinator lacks: rivulet::cluster::Gossip") !=
        std::string::npos);
  CHECK(check_hello(kProtocolVersion, types, "x", "s").find("cluster.secret") != std::string::npos);
}

TEST_CASE("nodes get balanced tasks with distinct epochs, and a wrong secret is refused",
          "[cluster]") {
  CoordinatorState c(kTimes, "", 0);
  REQUIRE(c.submit(query("q", 8), "", 0).empty());
  CHECK_FALSE(c.submit(query("q", 8), "wrong", 0).empty());
  // A query's name is its application.id: it prefixes topic names.
  CHECK_THAT(c.submit(query("my query", 8), "", 0),
             Catch::Contains("query name 'my query'") && Catch::Contains("application.id"));
  FakeNode a("a"), b("b"), d("c");
  a.beat(c, 10);
  b.beat(c, 10);
  d.beat(c, 10);
  // The first node took everything; the others get theirs by hand-over.
  for (int round = 0; round < 4; ++round) {
    for (auto* n : {&a, &b, &d}) n->beat(c, 20 + round * 10);
  }
  auto per_node = counts(c, "q", 8);
  CHECK(per_node["a"] + per_node["b"] + per_node["c"] == 8);
  for (auto& [n, k] : per_node) CHECK((k == 2 || k == 3));
  std::set<int64_t> epochs;
  for (int p = 0; p < 8; ++p) epochs.insert(c.task_epoch(TaskKey{"q", p}));
  CHECK(epochs.size() == 8);
  NodeReport bad = a.report();
  bad.secret = "guess";
  CHECK(c.heartbeat(bad, 100).error.find("cluster.secret") != std::string::npos);
}

TEST_CASE("a new node gets only its share, each task after its owner released it",
          "[cluster]") {
  CoordinatorState c(kTimes, "", 0);
  REQUIRE(c.submit(query("q", 8), "", 0).empty());
  FakeNode a("a"), b("b");
  for (int i = 0; i < 4; ++i) {
    a.beat(c, i);
    b.beat(c, i);
  }
  std::map<int, std::string> before;
  for (int p = 0; p < 8; ++p) before[p] = c.owner(TaskKey{"q", p});
  FakeNode n("n");
  auto first = n.beat(c, 100);
  CHECK(first.tasks.empty());  // nothing until released
  // a and b are told to release; until they report the task gone, it stays theirs.
  auto orders_a = c.heartbeat(a.report(), 110);
  int releases = 0;
  for (const auto& o : orders_a.tasks) releases += o.release ? 1 : 0;
  for (int i = 0; i < 3; ++i) {
    a.beat(c, 120 + i);
    b.beat(c, 120 + i);
    n.beat(c, 120 + i);
  }
  int moved = 0;
  for (int p = 0; p < 8; ++p) {
    auto now = c.owner(TaskKey{"q", p});
    if (now != before[p]) {
      ++moved;
      CHECK(now == "n");
    }
  }
  CHECK(moved == 2);  // 8 tasks over 3 nodes: the newcomer takes 2, nothing else moves
  CHECK(releases <= 1);
}

TEST_CASE("a silent node's tasks move after the failure timeout, not before", "[cluster]") {
  CoordinatorState c(kTimes, "", 0);
  REQUIRE(c.submit(query("q", 4), "", 0).empty());
  FakeNode a("a"), b("b");
  for (int i = 0; i < 4; ++i) {
    a.beat(c, i);
    b.beat(c, i);
  }
  REQUIRE(counts(c, "q", 4)["b"] == 2);
  std::map<int, int64_t> epochs;
  for (int p = 0; p < 4; ++p) epochs[p] = c.task_epoch(TaskKey{"q", p});
  // b falls silent at t=3; a keeps reporting.
  for (int64_t t = 250; t < 3003; t += 250) {
    a.beat(c, t);
    c.tick(t);
  }
  CHECK(c.node_state("b") == "alive");
  CHECK(counts(c, "q", 4)["b"] == 2);
  c.tick(3003);
  CHECK(c.node_state("b") == "dead");
  a.beat(c, 3010);
  CHECK(counts(c, "q", 4)["a"] == 4);
  for (int p = 0; p < 4; ++p) CHECK(c.task_epoch(TaskKey{"q", p}) >= epochs[p]);

  // b wakes up (SIGCONT) still holding its old, fenced tasks: they are not
  // adopted, and its orders do not list them.
  b.fenced = true;
  auto orders = c.heartbeat(b.report(), 3500);
  CHECK(orders.tasks.empty());  // nothing to run until a hands tasks back
  CHECK(counts(c, "q", 4)["a"] == 4);
}

TEST_CASE("a lost connection moves tasks once the node's leases ran out", "[cluster]") {
  CoordinatorState c(kTimes, "", 0);
  REQUIRE(c.submit(query("q", 2), "", 0).empty());
  FakeNode a("a"), b("b");
  for (int i = 0; i < 4; ++i) {
    a.beat(c, 1000 + i);
    b.beat(c, 1000 + i);
  }
  c.connection_lost("b", 1100);
  CHECK(c.node_state("b") == "suspect");
  a.beat(c, 2500);
  c.tick(2500);
  CHECK(counts(c, "q", 2)["b"] == 1);  // lease (1500) + margin not over yet
  c.tick(1003 + 1500 + 100);
  CHECK(c.node_state("b") == "dead");
  CHECK(counts(c, "q", 2)["a"] == 2);
}

TEST_CASE("a restarted coordinator adopts what nodes report and moves nothing", "[cluster]") {
  CoordinatorState first(kTimes, "", 0);
  REQUIRE(first.submit(query("q", 6), "", 0).empty());
  FakeNode a("a"), b("b"), d("c");
  for (int i = 0; i < 5; ++i) {
    for (auto* n : {&a, &b, &d}) n->beat(first, i);
  }
  std::map<int, std::pair<std::string, int64_t>> before;
  for (int p = 0; p < 6; ++p) before[p] = {first.owner(TaskKey{"q", p}), first.task_epoch(TaskKey{"q", p})};

  CoordinatorState second(kTimes, "", 10000);
  second.restore(first.queries(), first.epoch(), 10000);
  CHECK(second.rebuilding(10000));
  // Only a reports at first: nothing of b's or c's is given away meanwhile.
  a.beat(second, 10100);
  second.tick(10200);
  for (int p = 0; p < 6; ++p) {
    if (before[p].first != "a") CHECK(second.owner(TaskKey{"q", p}).empty());
  }
  b.beat(second, 10300);
  d.beat(second, 10400);
  for (int64_t t = 10500; t < 14000; t += 250) {
    for (auto* n : {&a, &b, &d}) n->beat(second, t);
    second.tick(t);
  }
  CHECK_FALSE(second.rebuilding(14000));
  for (int p = 0; p < 6; ++p) {
    CHECK(second.owner(TaskKey{"q", p}) == before[p].first);
    CHECK(second.task_epoch(TaskKey{"q", p}) == before[p].second);
  }
  CHECK(second.epoch() >= first.epoch());
}

TEST_CASE("a terminated query's tasks are released, given to nobody, then forgotten", "[cluster]") {
  CoordinatorState c(kTimes, "", 0);
  REQUIRE(c.submit(query("q", 4), "", 0).empty());
  REQUIRE(c.submit(query("other", 2), "", 0).empty());
  FakeNode a("a"), b("b");
  for (int i = 0; i < 8; ++i) {  // balanced: hand-overs done
    a.beat(c, i);
    b.beat(c, i);
  }
  REQUIRE(counts(c, "q", 4)[""] == 0);
  const int on_a = counts(c, "q", 4)["a"];
  REQUIRE(on_a > 0);
  REQUIRE(on_a < 4);
  CHECK_THAT(c.terminate("nope", "", 10),
             Catch::Contains("no query named 'nope' (submitted: other, q)"));
  CHECK_THAT(c.terminate("q", "wrong", 10), Catch::Contains("cluster.secret"));
  REQUIRE(c.terminate("q", "", 10).empty());
  CHECK(c.terminate("q", "", 11).empty());  // already on its way
  // Out of the persisted queries at once; listed as terminating until done.
  CHECK(c.queries().size() == 1);
  CHECK(c.status_json(12).find("\"terminating\":true") != std::string::npos);
  const std::string table = render_status_table(c.status_json(12));
  CHECK_THAT(table, Catch::Contains("query q: terminating (its tasks are being released)") &&
                        Catch::Contains("releasing"));
  CHECK_THAT(c.submit(query("q", 4), "", 12), Catch::Contains("is being terminated"));
  // Each owner is told to release q's tasks and keeps them until it
  // reports them gone; nobody gets them. (other's two tasks may now be
  // balanced one per node.)
  auto orders = a.beat(c, 20);
  int released = 0;
  for (const auto& o : orders.tasks) {
    if (o.query == "q") CHECK(o.release);
    released += o.query == "q" && o.release ? 1 : 0;
  }
  CHECK(released == on_a);
  for (const auto& q : orders.queries) CHECK(q.name != "q");
  CHECK(counts(c, "q", 4)["a"] == on_a);
  a.beat(c, 30);  // reports them gone
  CHECK(counts(c, "q", 4)["a"] == 0);
  CHECK(counts(c, "q", 4)["b"] == 4 - on_a);                                   // not moved to b
  CHECK(c.status_json(31).find("\"terminating\":true") != std::string::npos);  // b's
  b.beat(c, 40);
  b.beat(c, 50);
  CHECK(c.status_json(51).find("\"q-") == std::string::npos);
  CHECK(c.status_json(51).find("terminating") == std::string::npos);
  auto events = c.take_events();
  CHECK(std::count(events.begin(), events.end(), "query q terminated: no node runs its tasks") ==
        1);
  // other still runs; q can be submitted again.
  CHECK(counts(c, "other", 2)[""] == 0);
  REQUIRE(c.submit(query("q", 4), "", 60).empty());
  for (int i = 0; i < 4; ++i) {
    a.beat(c, 70 + i);
    b.beat(c, 70 + i);
  }
  CHECK(counts(c, "q", 4)[""] == 0);
}

// PAUSE / RESUME of a submitted query: the orders say it, the tasks keep
// their owners and epochs, a restarted coordinator remembers it.
TEST_CASE("a paused query keeps its tasks where they are and tells every node", "[cluster]") {
  CoordinatorState c(kTimes, "", 0);
  REQUIRE(c.submit(query("q", 4), "", 0).empty());
  FakeNode a("a"), b("b");
  for (int i = 0; i < 8; ++i) {
    a.beat(c, i);
    b.beat(c, i);
  }
  std::vector<std::string> owners;
  std::vector<int64_t> epochs;
  for (int32_t p = 0; p < 4; ++p) {
    owners.push_back(c.owner(TaskKey{"q", p}));
    epochs.push_back(c.task_epoch(TaskKey{"q", p}));
  }
  CHECK_THAT(c.set_paused("q", true, "wrong"), Catch::Contains("cluster.secret mismatch: pause"));
  CHECK_THAT(c.set_paused("nope", true, ""),
             Catch::Contains("no query named 'nope' (submitted: q)"));
  REQUIRE(c.set_paused("q", true, "").empty());
  CHECK(c.set_paused("q", true, "").empty());  // again: nothing changes
  auto orders = a.beat(c, 20);
  REQUIRE(orders.queries.size() == 1);
  CHECK(orders.queries[0].paused);
  b.beat(c, 20);
  for (int32_t p = 0; p < 4; ++p) {
    CHECK(c.owner(TaskKey{"q", p}) == owners[p]);
    CHECK(c.task_epoch(TaskKey{"q", p}) == epochs[p]);
  }
  CHECK(c.status_json(21).find("\"paused\":true") != std::string::npos);
  CHECK_THAT(render_status_table(c.status_json(21)), Catch::Contains("query q: paused"));
  auto events = c.take_events();
  CHECK(std::count(events.begin(), events.end(), "query q paused") == 1);
  // Persisted: a restarted coordinator's orders still say paused.
  CoordinatorState restarted(kTimes, "", 100);
  restarted.restore(c.queries(), c.epoch(), 100);
  CHECK(restarted.queries()[0].paused);
  REQUIRE(c.set_paused("q", false, "").empty());
  CHECK_FALSE(a.beat(c, 30).queries[0].paused);
  // A terminating query cannot be paused.
  REQUIRE(c.terminate("q", "", 40).empty());
  CHECK_THAT(c.set_paused("q", true, ""), Catch::Contains("is being terminated"));
}

TEST_CASE("a terminated query whose node died is forgotten once the node is declared dead",
          "[cluster]") {
  CoordinatorState c(kTimes, "", 0);
  REQUIRE(c.submit(query("q", 2), "", 0).empty());
  FakeNode a("a");
  for (int i = 0; i < 3; ++i) a.beat(c, i);
  REQUIRE(counts(c, "q", 2)["a"] == 2);
  c.connection_lost("a", 100);
  REQUIRE(c.terminate("q", "", 110).empty());
  c.tick(200);
  CHECK(c.status_json(200).find("\"terminating\":true") != std::string::npos);  // leases run
  c.tick(2 + 1500 + 100);
  CHECK(c.node_state("a") == "dead");
  CHECK(c.status_json(1700).find("\"name\":\"q\"") == std::string::npos);
}

TEST_CASE("a coordinator restarted during a termination finishes it: tasks adopted, then released",
          "[cluster]") {
  CoordinatorState first(kTimes, "", 0);
  REQUIRE(first.submit(query("q", 4), "", 0).empty());
  FakeNode a("a"), b("b");
  for (int i = 0; i < 8; ++i) {
    a.beat(first, i);
    b.beat(first, i);
  }
  REQUIRE(first.terminate("q", "", 10).empty());
  REQUIRE(first.terminating().size() == 1);
  REQUIRE(first.queries().empty());
  // The coordinator dies before any node released anything.
  CoordinatorState second(kTimes, "", 10000);
  second.restore(first.queries(), first.epoch(), 10000, first.terminating());
  CHECK(second.rebuilding(10000));
  // Only a reports at first: q is not forgotten while b may still run its part.
  NodeOrders orders = second.heartbeat(a.report(), 10100);
  second.tick(10200);
  CHECK(second.status_json(10200).find("\"terminating\":true") != std::string::npos);
  // a's adopted tasks are released (not abandoned: they are in its orders).
  REQUIRE_FALSE(orders.tasks.empty());
  for (const auto& o : orders.tasks) CHECK(o.release);
  for (int64_t t = 10300; t < 14000; t += 250) {
    a.beat(second, t);
    b.beat(second, t);
    second.tick(t);
  }
  CHECK(a.running.empty());
  CHECK(b.running.empty());
  CHECK(second.status_json(14000).find("\"name\":\"q\"") == std::string::npos);
  CHECK(second.terminating().empty());
}
