// The cluster as users run it: a `rivulet broker` child, a `rivulet
// coordinator` child and two or three `rivulet node` children on loopback,
// one SQL application (orders LEFT JOIN users, plus per-user counts) on 8
// partitions, submitted with `rivulet submit`. Real SIGKILL, SIGSTOP and
// SIGCONT, sent by `rivulet chaos --coordinator ... kill|pause|resume`.
// Every order must show up in the output (`rivulet verify`), duplicates may
// only be replays, and per-user counts must be exact, after a SIGKILL too:
// the records a restored task writes again to the GROUP BY's repartition
// topic are skipped by the tasks reading it (docs/checkpoints.md).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "connectors/kafka_producer.hpp"
#include "local_cluster.hpp"
#include "runtime/codec.hpp"
#include "runtime/sanitizer.hpp"
#include "support/child_process.hpp"
#include "support/topic_reader.hpp"

using namespace rivulet;
using rivulet::testing::ChildProcess;
using rivulet::testing::Collector;
using rivulet::testing::ReadRecord;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int32_t kPartitions = 8;
constexpr int kUsers = 300;

const char* kSql = R"sql(
CREATE TABLE USERS (UID STRING PRIMARY KEY, NAME STRING) WITH (kafka_topic='users', value_format='JSON');
CREATE STREAM ORDERS (UID STRING KEY, ORDER_ID BIGINT, AMOUNT DOUBLE) WITH (kafka_topic='orders', value_format='JSON');
CREATE STREAM ENRICHED AS SELECT O.UID AS UID, ORDER_ID, AMOUNT, NAME FROM ORDERS O LEFT JOIN USERS U ON O.UID = U.UID;
CREATE TABLE COUNTS AS SELECT UID, COUNT(*) AS N FROM ORDERS GROUP BY UID;
)sql";

std::string user_of(int64_t order) { return "u" + std::to_string((order * 7919) % kUsers); }

class NullHandler : public connectors::DeliveryHandler {
 public:
  void on_delivery(void*, const std::optional<Error>& e, int32_t, int64_t) override {
    if (e) failures.fetch_add(1);
  }
  std::atomic<int> failures{0};
};

std::unique_ptr<ChildProcess> spawn(const std::vector<std::string>& argv) {
  auto child = ChildProcess::spawn(argv);
  if (!child) return nullptr;
  return std::make_unique<ChildProcess>(std::move(*child));
}

// Runs `rivulet status --watch ...` until its output so far satisfies
// `enough` (or `limit` passes), then sends it SIGINT; returns its exit
// status (-1: it did not exit within 30 s of the signal) and its stdout.
// Waiting for the refreshes rather than a fixed time: on a loaded machine a
// refresh's connection can take seconds, and a fixed 5.5 s once ended a
// watch before its first refresh.
std::pair<int, std::string> watch_until(const std::vector<std::string>& argv,
                                        const std::function<bool(const std::string&)>& enough,
                                        std::chrono::seconds limit) {
  auto child = spawn(argv);
  if (!child) return {-1, ""};
  std::mutex mutex;
  std::string out;
  // Reads until EOF: the child's exit (or its SIGKILL by stop) closes the pipe.
  std::thread reader([&] {
    while (auto line = child->read_line()) {
      std::lock_guard<std::mutex> lock(mutex);
      out += *line + "\n";
    }
  });
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      bool done = false;
      try {
        done = enough(out);
      } catch (const std::exception&) {
        // Judged again on more output; the caller's checks see it all.
      }
      if (done) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const int rc = child->stop(SIGINT, std::chrono::seconds(30));
  reader.join();
  return {rc, out};
}

// The shop pipeline on a LocalCluster (tests/cluster/local_cluster.hpp):
// users and orders with 8 partitions each, the cluster's common settings.
struct Cluster : testing::LocalCluster {
  Cluster() : LocalCluster({"users:8", "orders:8"}) { order_key = user_of; }

  void start_coordinator(const std::string& listen = "127.0.0.1:0") {
    LocalCluster::start_coordinator("", listen);
  }

  // When set (before start_node), each node gets its own configuration file:
  // the common one plus its own state.dir and these lines (for example
  // checkpoint.store=kafka), so that the nodes share no file system.
  std::string node_extra;

  void start_node(const std::string& name) {
    std::string file = config_file;
    if (!node_extra.empty()) {
      file = dir + "/" + name + ".properties";
      std::ifstream common(config_file);
      std::ofstream(file) << common.rdbuf() << "state.dir=" << dir << "/" << name << "-state\n"
                          << node_extra;
    }
    LocalCluster::start_node(name, file);
  }

  void submit() { LocalCluster::submit(kSql); }

  // Waits until every task runs (reported with its current epoch) on a
  // node in `owners` (any live node when empty); returns the status.
  nlohmann::json wait_all_running(std::chrono::seconds timeout,
                                  const std::set<std::string>& owners = {}) {
    return LocalCluster::wait_all_running(kPartitions, timeout, owners);
  }

  void produce_users() {
    NullHandler handler;
    auto p = connectors::KafkaProducer::create({{"bootstrap.servers", bootstrap}}, &handler);
    REQUIRE(p.ok());
    for (int u = 0; u < kUsers; ++u) {
      if (u % 10 == 9) continue;  // every tenth user has no profile: unmatched orders
      OutputRecord r;
      r.topic = "users";
      r.key = "u" + std::to_string(u);
      r.value = R"({"NAME": "User )" + std::to_string(u) + R"("})";
      REQUIRE((*p)->produce(r, nullptr).ok());
    }
    REQUIRE((*p)->flush(std::chrono::seconds(30)).ok());
    REQUIRE(handler.failures == 0);
  }

  std::map<std::string, int64_t> expected_counts() const {
    std::map<std::string, int64_t> out;
    for (int64_t i = 0; i < produced; ++i) ++out[user_of(i)];
    return out;
  }

  // Reads ENRICHED and COUNTS until every order is out and the counts are
  // exact (or the timeout). With `settle`, the counts must then stay exact
  // that long: a count that is right for a moment could still be pushed
  // too high by replayed records arriving late.
  std::vector<ReadRecord> wait_outputs(std::chrono::seconds timeout,
                                       std::chrono::milliseconds settle = {}) {
    auto expected = expected_counts();
    std::set<int64_t> ids;
    std::map<std::string, int64_t> counts;
    std::optional<Clock::time_point> exact_since;
    size_t cursor = 0;
    auto json = make_json_codec();
    auto records = testing::read_until(
        bootstrap, {"ENRICHED", "COUNTS"}, kPartitions,
        [&](const Collector& c) {
          c.for_each_new(cursor, [&](const ReadRecord& r) {
            if (!r.value) return;
            auto v = json->decode(*r.value);
            if (!v) return;
            if (r.tp.topic == "ENRICHED") {
              ids.insert(v->field("ORDER_ID")->to_int64());
            } else if (r.key) {
              counts[*r.key] = v->field("N")->to_int64();
            }
          });
          if (ids.size() != static_cast<size_t>(produced) || counts != expected) {
            exact_since.reset();
            return false;
          }
          if (!exact_since) exact_since = Clock::now();
          return Clock::now() - *exact_since >= settle;
        },
        timeout + std::chrono::duration_cast<std::chrono::seconds>(settle) + std::chrono::seconds(1));
    INFO("orders out: " << ids.size() << " of " << produced);
    CHECK(ids.size() == static_cast<size_t>(produced));
    std::string off;  // users whose count is off, with the difference
    for (const auto& [user, n] : expected) {
      auto it = counts.find(user);
      const int64_t got = it == counts.end() ? 0 : it->second;
      if (got != n) off += " " + user + ":" + (got > n ? "+" : "") + std::to_string(got - n);
    }
    INFO("counts off (user:difference):" << off);
    CHECK(counts == expected);
    return records;
  }

  // A node fault through the product's own tool, as a user's drill would
  // inject it: `rivulet chaos --coordinator ADDRESS kill|pause|resume NODE`.
  void chaos(const std::string& fault, const std::string& node) {
    auto [rc, out] = testing::run_command(testing::rivulet_binary() + " chaos --coordinator " +
                                              address + " " + fault + " " + node + " 2>&1",
                                          "", 30);
    INFO("rivulet chaos " << fault << " " << node << ": " << out);
    REQUIRE(rc == 0);
  }

  // The verdict of `rivulet verify`: every order in ENRICHED, duplicates
  // only replays, and COUNTS' final value per user exact (--table --expect).
  // Run after wait_outputs, which waits for the pipeline to catch up (verify
  // reads the topics once, as they are).
  void verify() {
    nlohmann::json expected = nlohmann::json::object();
    for (const auto& [user, n] : expected_counts()) expected[user] = {{"N", n}};
    const std::string expect_file = dir + "/expected-counts.json";
    std::ofstream(expect_file) << expected.dump();
    auto [rc, out] = testing::run_command(testing::rivulet_binary() + " verify --bootstrap " +
                                              bootstrap + " --input orders --output ENRICHED --id ORDER_ID" +
                                              " --table COUNTS --expect " + expect_file,
                                          "", 90);
    INFO(out);
    CHECK(rc == 0);
  }
};

std::map<std::string, std::pair<std::string, int64_t>> owners_of(const nlohmann::json& status) {
  std::map<std::string, std::pair<std::string, int64_t>> out;
  for (const auto& t : status["tasks"]) {
    out[t["task"].get<std::string>()] = {t["owner"].get<std::string>(), t["epoch"].get<int64_t>()};
  }
  return out;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

TEST_CASE("a node killed with SIGKILL mid-stream: its tasks resume elsewhere, nothing lost, counts exact",
          "[integration][cluster]") {
  Cluster c;
  c.produce_users();
  c.start_coordinator();
  for (const auto* n : {"n1", "n2", "n3"}) c.start_node(n);
  c.submit();
  auto before = c.wait_balanced(kPartitions, {"n1", "n2", "n3"}, std::chrono::seconds(30));
  auto status_json = before.dump();
  INFO(status_json);
  CHECK(before["nodes"].size() == 3);
  for (const auto& n : before["nodes"]) {
    CHECK(n["state"] == "alive");
    CHECK(n["pid"].get<int64_t>() > 0);
    CHECK(n["host"] == "127.0.0.1");
    CHECK((n["tasks"] == 2 || n["tasks"] == 3));
  }

  std::string produce_failed;
  testing::JoiningThread producer([&] { produce_failed = c.try_produce_orders(12000, 4000); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  // Timed from the kill: `rivulet chaos` first asks the coordinator for
  // n2's pid (`rivulet status`, whose requests may time out and be asked
  // again on loaded cores: tests/README.md). In a clean clone's `make test`
  // beside a sanitizer build (2026-12-07) the coordinator, its timers on
  // time, heard of n2's lost connection 18 s after chaos was asked.
  const auto asked = Clock::now();
  c.chaos("kill", "n2");
  REQUIRE(c.nodes["n2"]->stop(SIGKILL) == 128 + SIGKILL);  // reaps it: chaos killed it already
  auto killed = Clock::now();
  const double chaos_seconds = std::chrono::duration<double>(killed - asked).count();
  // Detection: n2 shows as dead; recovery: every task runs on n1 or n3.
  // Under a sanitizer the detector's timers run late: seen on 2026-12-04
  // under ASan, the coordinator heard of the lost connection more than
  // 10 s after the kill.
  double detected = -1;
  while (seconds_since(killed) < 10 * kSanitizerSlowdown) {
    auto s = c.status();
    for (const auto& n : s["nodes"]) {
      if (n["name"] == "n2" && n["state"] == "dead") detected = seconds_since(killed);
    }
    if (detected >= 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  c.wait_all_running(std::chrono::seconds(20), {"n1", "n3"});
  double recovered = seconds_since(killed);
  WARN("SIGKILL: declared dead after " << detected << " s, all tasks running again after "
                                       << recovered << " s (rivulet chaos took " << chaos_seconds
                                       << " s)");
  // Declared dead within the loop's 10 s (60 s under a sanitizer); how
  // soon (about the 3 s failure timeout when the machine is quiet) is a
  // measurement, printed above, not an assertion: under load the
  // detector's timers run late.
  CHECK(detected >= 0);
  producer.join();
  INFO(produce_failed);
  REQUIRE(produce_failed.empty());
  c.wait_outputs(std::chrono::seconds(40), std::chrono::seconds(2));
  c.verify();
}

TEST_CASE("a node joining takes only its share, and the moved tasks continue exactly",
          "[integration][cluster]") {
  Cluster c;
  c.produce_users();
  c.start_coordinator();
  c.start_node("n1");
  c.start_node("n2");
  c.submit();
  auto before = owners_of(c.wait_all_running(std::chrono::seconds(30)));
  std::string produce_failed;
  testing::JoiningThread producer([&] { produce_failed = c.try_produce_orders(10000, 4000); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  c.start_node("n3");
  auto after_status = c.wait_all_running(std::chrono::seconds(20));
  // Wait for the hand-overs to finish: n3 owns its share.
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    int on_n3 = 0;
    for (const auto& t : after_status["tasks"]) on_n3 += t["owner"] == "n3" ? 1 : 0;
    if (on_n3 >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    after_status = c.wait_all_running(std::chrono::seconds(20));
  }
  auto after = owners_of(after_status);
  int moved = 0;
  for (const auto& [task, owner] : before) {
    if (after[task].first != owner.first) {
      ++moved;
      CHECK(after[task].first == "n3");   // only to the newcomer
      CHECK(after[task].second > owner.second);  // a new incarnation
    } else {
      CHECK(after[task].second == owner.second);  // untouched: same incarnation
    }
  }
  CHECK(moved == 2);  // 8 tasks, 3 nodes: the newcomer takes 2
  producer.join();
  INFO(produce_failed);
  REQUIRE(produce_failed.empty());
  c.wait_outputs(std::chrono::seconds(40));
  c.verify();
}

TEST_CASE("a node stopped with SIGSTOP past the failure timeout is fenced: no output after SIGCONT",
          "[integration][cluster]") {
  Cluster c;
  c.produce_users();
  c.start_coordinator();
  c.start_node("n1");
  c.start_node("n2");
  c.submit();
  c.wait_all_running(std::chrono::seconds(30));
  c.produce_orders(3000, 6000);
  c.wait_outputs(std::chrono::seconds(30));
  auto before = owners_of(c.status());
  std::set<std::string> lost;  // "task epoch" pairs n2 ran
  for (const auto& [task, owner] : before) {
    if (owner.first == "n2") lost.insert(task + " " + std::to_string(owner.second));
  }
  REQUIRE(lost.size() == 4);

  auto stopped = Clock::now();
  c.chaos("pause", "n2");
  c.wait_all_running(std::chrono::seconds(20), {"n1"});
  WARN("SIGSTOP: all tasks running on n1 again after " << seconds_since(stopped) << " s");
  // More input while n2 sleeps: n1 processes it.
  c.produce_orders(3000, 6000);
  auto mid = c.wait_outputs(std::chrono::seconds(30));
  auto stale_outputs = [&](const std::vector<ReadRecord>& records) {
    size_t n = 0;
    for (const auto& r : records) {
      auto key = r.header("rivulet.task").value_or("") + " " + r.header("rivulet.epoch").value_or("");
      if (lost.count(key)) ++n;
    }
    return n;
  };
  size_t stale_before = stale_outputs(mid);

  c.chaos("resume", "n2");
  // n2 rejoins and gets its share back as new incarnations.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  c.wait_all_running(std::chrono::seconds(20));
  c.produce_orders(2000, 6000);
  auto after = c.wait_outputs(std::chrono::seconds(30), std::chrono::seconds(2));
  CHECK(stale_outputs(after) == stale_before);  // nothing written under the lost epochs
  c.verify();
}

TEST_CASE("the coordinator killed and restarted: nodes keep processing and no task moves",
          "[integration][cluster]") {
  Cluster c;
  c.produce_users();
  c.start_coordinator();
  c.start_node("n1");
  c.start_node("n2");
  c.submit();
  auto before = owners_of(c.wait_all_running(std::chrono::seconds(30)));
  const std::string address = c.address;
  // SIGKILL through the product's tool: the coordinator is found by the
  // socket it listens on.
  c.chaos("kill", "coordinator");
  REQUIRE(c.coordinator->stop(SIGKILL) == 128 + SIGKILL);  // reaps it: chaos killed it already
  c.coordinator.reset();
  // Without a coordinator the nodes go on.
  c.produce_orders(4000, 5000);
  c.wait_outputs(std::chrono::seconds(30));
  c.start_coordinator(address);
  auto after_status = c.wait_all_running(std::chrono::seconds(20));
  // Past the rebuild window: still nothing moved.
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  after_status = c.wait_all_running(std::chrono::seconds(10));
  CHECK(owners_of(after_status) == before);
  c.produce_orders(2000, 5000);
  c.wait_outputs(std::chrono::seconds(30));
  c.verify();

  // `rivulet pause` survives a restart too (coordinator.json): the
  // restarted coordinator's orders still hold the query's tasks still.
  auto [pause_rc, pause_out] =
      c.rivulet("pause shop --coordinator " + address + " --config " + c.config_file);
  INFO(pause_out);
  REQUIRE(pause_rc == 0);
  CHECK(pause_out.find("query shop paused") != std::string::npos);
  c.chaos("kill", "coordinator");
  REQUIRE(c.coordinator->stop(SIGKILL) == 128 + SIGKILL);
  c.coordinator.reset();
  c.start_coordinator(address);
  nlohmann::json restarted;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    restarted = c.status();
    size_t paused = 0;
    if (restarted.is_object())
      for (const auto& t : restarted["tasks"]) paused += t.value("state", "") == "paused" ? 1 : 0;
    if (paused == 8) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  INFO(restarted.dump());
  REQUIRE(restarted.is_object());
  CHECK(restarted["queries"][0]["paused"] == true);
  for (const auto& t : restarted["tasks"]) CHECK(t["state"] == "paused");
  REQUIRE(c.rivulet("resume shop --coordinator " + address + " --config " + c.config_file).first ==
          0);
  c.produce_orders(1000, 5000);
  c.wait_outputs(std::chrono::seconds(30));
  c.verify();
}

TEST_CASE("checkpoint.store=kafka: nodes with separate state directories hand over and fail over through the checkpoint topic",
          "[integration][cluster][checkpoint]") {
  Cluster c;
  c.node_extra = "checkpoint.store=kafka\ncheckpoint.topic.partitions=4\n";
  c.produce_users();
  c.start_coordinator();
  c.start_node("n1");
  c.start_node("n2");
  c.submit();
  c.wait_all_running(std::chrono::seconds(30));
  std::string produce_failed;
  testing::JoiningThread producer([&] { produce_failed = c.try_produce_orders(6000, 4000); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  // Hand-over: the newcomer restores the moved tasks from the topic (it
  // cannot see the others' state directories); counts continue exactly.
  c.start_node("n3");
  auto deadline = Clock::now() + std::chrono::seconds(30);
  int on_n3 = 0;
  while (Clock::now() < deadline && on_n3 < 2) {
    on_n3 = 0;
    const auto status = c.wait_all_running(std::chrono::seconds(20));
    for (const auto& t : status["tasks"]) on_n3 += t["owner"] == "n3" ? 1 : 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  CHECK(on_n3 == 2);
  producer.join();
  INFO(produce_failed);
  REQUIRE(produce_failed.empty());
  c.wait_outputs(std::chrono::seconds(40));
  // Fail-over: n1 dies; its tasks restore on n2 and n3 from the topic.
  c.chaos("kill", "n1");
  REQUIRE(c.nodes["n1"]->stop(SIGKILL) == 128 + SIGKILL);
  c.wait_all_running(std::chrono::seconds(30), {"n2", "n3"});
  c.produce_orders(3000, 6000);
  c.wait_outputs(std::chrono::seconds(40), std::chrono::seconds(2));
  c.verify();
  // Nothing was checkpointed into the nodes' directories.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(c.dir)) {
    CHECK(entry.path().extension() != ".ckpt");
  }
}

TEST_CASE("rivulet status shows records/s per task, and --watch refreshes until SIGINT",
          "[integration][cluster]") {
  Cluster c;
  c.produce_users();
  c.start_coordinator();
  c.start_node("n1");
  c.submit();
  c.wait_all_running(std::chrono::seconds(30));
  // A sanitizer build starts each `rivulet status` several times slower:
  // the watches last longer, and the orders flow for as long.
#ifdef RIVULET_SANITIZED
  const int slow = 4;
#else
  const int slow = 1;
#endif
  std::string produce_failed;
  // 12 s of orders: the watches below end once they have seen the rates.
  testing::JoiningThread producer(
      [&] { produce_failed = c.try_produce_orders(48000 * slow, 4000); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));

  // --watch on a pipe: one block per refresh after a "== rivulet status" line,
  // no terminal escapes; SIGINT ends it with status 0. Each refresh
  // connects anew.
  const std::string header = "== rivulet status " + c.address;
  // Refreshes begun, the best input rate of a task row, and what is wrong
  // in the text so far.
  struct Seen {
    size_t refreshes = 0;
    double best_in = 0;
    std::vector<std::string> wrong;
  };
  auto read_watch = [&header](const std::string& text) {
    Seen seen;
    std::istringstream lines(text);
    bool in_tasks = false;
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind(header, 0) == 0) ++seen.refreshes;
      if (line.rfind("TASK ", 0) == 0) {
        in_tasks = true;
        if (line.find("IN/S") == std::string::npos || line.find("OUT/S") == std::string::npos)
          seen.wrong.push_back("no IN/S and OUT/S columns: " + line);
        continue;
      }
      if (line.empty()) in_tasks = false;
      if (!in_tasks || line.rfind("    ", 0) == 0) continue;
      // TASK OWNER STATE EPOCH LAG IN/S OUT/S CHECKPOINT-AGE...
      std::istringstream cols(line);
      std::string task, owner, state, epoch, lag, in_rate, out_rate;
      cols >> task >> owner >> state >> epoch >> lag >> in_rate >> out_rate;
      if (owner != "n1") seen.wrong.push_back("owner is not n1: " + line);
      if (in_rate == "-") continue;  // no rate yet
      char* end = nullptr;
      const double rate = std::strtod(in_rate.c_str(), &end);
      if (in_rate.empty() || *end != '\0') {
        seen.wrong.push_back("IN/S is not a number: " + line);
      } else {
        seen.best_in = std::max(seen.best_in, rate);
      }
    }
    return seen;
  };
  // Watched until three refreshes have begun (two whole blocks) and a task
  // shows an input rate.
  auto [rc, out] = watch_until(
      {testing::rivulet_binary(), "status", "--watch", "--interval", "1", "--coordinator",
       c.address},
      [&](const std::string& text) {
        const Seen seen = read_watch(text);
        return seen.refreshes >= 3 && seen.best_in > 0;
      },
      std::chrono::seconds(30 * slow));
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find('\033') == std::string::npos);
  const Seen seen = read_watch(out);
  CHECK(seen.wrong.empty());
  CHECK(seen.refreshes >= 3);
  CHECK(seen.best_in > 0);  // orders flow in at about 4000/s over 8 tasks

  // --json --watch: one JSON object per line, with the rates; watched until
  // two objects have come and a task shows both rates.
  struct Objects {
    size_t count = 0;
    double in = 0, out = 0;
    std::vector<std::string> wrong;
  };
  auto read_objects = [](const std::string& text) {
    Objects seen;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("tasks")) {
        seen.wrong.push_back("not a status object: " + line);
        continue;
      }
      ++seen.count;
      for (const auto& t : j["tasks"]) {
        if (!t.is_object() || !t.contains("records_in_per_s") ||
            !t["records_in_per_s"].is_number() || !t.contains("records_out_per_s") ||
            !t["records_out_per_s"].is_number()) {
          seen.wrong.push_back("a task without both rates: " + t.dump());
          continue;
        }
        seen.in = std::max(seen.in, t["records_in_per_s"].get<double>());
        seen.out = std::max(seen.out, t["records_out_per_s"].get<double>());
      }
    }
    return seen;
  };
  auto [rc2, out2] = watch_until(
      {testing::rivulet_binary(), "status", "--watch", "--json", "--interval", "1", "--coordinator",
       c.address},
      [&](const std::string& text) {
        const Objects seen = read_objects(text);
        return seen.count >= 2 && seen.in > 0 && seen.out > 0;
      },
      std::chrono::seconds(30 * slow));
  INFO(out2);
  CHECK(rc2 == 0);
  const Objects objects = read_objects(out2);
  CHECK(objects.wrong.empty());
  CHECK(objects.count >= 2);
  CHECK(objects.in > 0);
  CHECK(objects.out > 0);
  producer.join();
  INFO(produce_failed);
  REQUIRE(produce_failed.empty());
  c.wait_outputs(std::chrono::seconds(40 * slow));
}

TEST_CASE("a node whose query cannot start reports failed with the reason in /health and rivulet status, "
          "not starting forever",
          "[cluster][process][health]") {
  Cluster c;
  c.start_coordinator();
  // The node's state.dir lies under a regular file: the query's
  // Application cannot open its checkpoint store on this node.
  std::ofstream(c.dir + "/not-a-directory") << "x";
  const std::string file = c.dir + "/bad.properties";
  {
    std::ifstream common(c.config_file);
    std::ofstream out(file);
    for (std::string line; std::getline(common, line);)
      if (line.rfind("state.dir=", 0) != 0) out << line << "\n";
    out << "state.dir=" << c.dir << "/not-a-directory/state\n";
  }
  c.nodes["bad"] = spawn({testing::rivulet_binary(), "node", "--coordinator", c.address, "--name",
                          "bad", "--config", file, "--http", "127.0.0.1:0"});
  REQUIRE(c.nodes["bad"]);
  auto line = c.nodes["bad"]->read_line();
  REQUIRE(line.has_value());
  REQUIRE(line->find(", http ") != std::string::npos);
  const std::string http = line->substr(line->find(", http ") + 7);
  c.submit();

  nlohmann::json health;
  std::string code;
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    auto [rc, out] = testing::run_command(
        "curl -s -w '\\n%{http_code}' http://" + http + "/health", "", 10);
    auto nl = out.rfind('\n');
    if (rc == 0 && nl != std::string::npos) {
      health = nlohmann::json::parse(out.substr(0, nl), nullptr, false);
      code = out.substr(nl + 1);
      if (!health.is_discarded() && health["status"] == "failed" &&
          health["failed_tasks"].size() == static_cast<size_t>(kPartitions))
        break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  INFO(health.dump());
  CHECK(code == "503");
  REQUIRE(health["status"] == "failed");
  CHECK(health["starting_tasks"] == 0);
  REQUIRE(health["failed_tasks"].size() == static_cast<size_t>(kPartitions));
  CHECK_THAT(health["failed_tasks"][0]["error"].get<std::string>(),
             Catch::Contains("not-a-directory"));

  // rivulet status: each task failed, with the reason.
  nlohmann::json status;
  deadline = Clock::now() + std::chrono::seconds(20);
  size_t failed = 0;
  while (Clock::now() < deadline) {
    status = c.status();
    failed = 0;
    if (!status.is_null())
      for (const auto& t : status["tasks"])
        if (t["state"] == "failed" &&
            t.value("error", std::string()).find("not-a-directory") != std::string::npos)
          ++failed;
    if (failed == static_cast<size_t>(kPartitions)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  INFO(status.dump());
  CHECK(failed == static_cast<size_t>(kPartitions));
}

// `rivulet terminate`: every node releases the query's tasks as in a
// hand-over (final checkpoint and commit), nobody takes them, and the
// coordinator forgets the query; its outputs stop while input still
// arrives. Submitted again under its name, it continues from where it
// stopped: every order out once, counts exact.
TEST_CASE("rivulet terminate stops a query on every node, and submitted again it continues exactly",
          "[integration][cluster]") {
  Cluster c;
  c.produce_users();
  c.start_coordinator();
  c.start_node("n1");
  c.start_node("n2");
  c.submit();
  c.wait_all_running(std::chrono::seconds(30));
  std::string produce_failed;
  testing::JoiningThread producer([&] { produce_failed = c.try_produce_orders(8000, 2000); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));

  auto [rc, out] =
      c.rivulet("terminate shop --coordinator " + c.address + " --config " + c.config_file);
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(out.find("query shop terminated") != std::string::npos);
  auto status = c.status();
  CHECK(status["queries"].empty());
  CHECK(status["tasks"].empty());
  // Nothing more is written while orders still arrive.
  auto enriched = [&] {
    auto [krc, kout] =
        testing::run_command("kcat -b " + c.bootstrap + " -C -t ENRICHED -e -q -f 'x\\n'", "", 30);
    return std::count(kout.begin(), kout.end(), 'x');
  };
  const int64_t stopped_at = enriched();
  CHECK(stopped_at > 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  CHECK(enriched() == stopped_at);
  auto [nope_rc, nope] =
      c.rivulet("terminate nope --coordinator " + c.address + " --config " + c.config_file);
  CHECK(nope_rc == 1);
  CHECK(nope.find("no query named 'nope' (submitted: none)") != std::string::npos);

  producer.join();
  INFO(produce_failed);
  REQUIRE(produce_failed.empty());
  c.submit();
  c.wait_outputs(std::chrono::seconds(60));
  // The release wrote a final checkpoint and committed: the resubmitted
  // query read on from there, so no order was processed twice.
  auto [vrc, verdict] =
      testing::run_command(testing::rivulet_binary() + " verify --bootstrap " + c.bootstrap +
                               " --input orders --output ENRICHED --id ORDER_ID --exactly-once",
                           "", 90);
  INFO(verdict);
  CHECK(vrc == 0);
}
