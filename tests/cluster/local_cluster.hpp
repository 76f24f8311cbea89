#pragma once
// A small cluster of real processes for the query, remote-fault, scenario
// and TLS tests: a `rivulet broker` child, a `rivulet coordinator` child and
// `rivulet node` children on loopback, configured by one properties file.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "connectors/kafka_producer.hpp"
#include "support/child_process.hpp"

namespace rivulet::testing {

// A helper thread (an order producer) that is joined when the test leaves
// its scope, also when a REQUIRE fails first: a joinable std::thread's
// destructor would call std::terminate, skip the cluster's destructor and
// leave its processes running (holding ctest's output pipe open).
class JoiningThread {
 public:
  template <typename Fn>
  explicit JoiningThread(Fn&& fn) : thread_(std::forward<Fn>(fn)) {}
  JoiningThread(const JoiningThread&) = delete;
  JoiningThread& operator=(const JoiningThread&) = delete;
  ~JoiningThread() { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::thread thread_;
};

class LocalCluster {
 public:
  using Clock = std::chrono::steady_clock;

  // `topics`: "name:partitions" for the broker; `extra_config`: more lines
  // for the properties file.
  explicit LocalCluster(const std::vector<std::string>& topics, const std::string& extra_config = "") {
    std::vector<std::string> argv{rivulet_binary(), "broker"};
    for (const auto& t : topics) {
      argv.push_back("--topic");
      argv.push_back(t);
    }
    broker = spawn(argv);
    REQUIRE(broker);
    auto line = broker->read_line();
    REQUIRE(line.has_value());
    bootstrap = *line;
    dir = (std::filesystem::temp_directory_path() / "rivulet-lc-XXXXXX").string();
    REQUIRE(::mkdtemp(dir.data()) != nullptr);
    config_file = dir + "/cluster.properties";
    // A secret of this cluster's own: ctest runs two clusters at once, and
    // a node whose coordinator was killed keeps calling its address, which
    // the other cluster's coordinator may have been given meanwhile (both
    // listen on port 0). With one secret for all, such a node joined the
    // other cluster under its name (n2 heard there after it was killed or
    // stopped here); with its own, its hello is refused.
    secret = "s3cret-" + std::filesystem::path(dir).filename().string();
    std::ofstream(config_file) << "bootstrap.servers=" << bootstrap << "\n"
                               << "state.dir=" << dir << "/state\n"
                               << "checkpoint.interval.ms=300\n"
                               << "commit.interval.ms=100\n"
                               << "cluster.secret=" << secret << "\n"
                               << "cluster.failure.timeout.ms=3000\n"
                               << "log.level=info\n"
                               << extra_config;
  }

  ~LocalCluster() {
    for (auto& [name, node] : nodes) {
      if (node) {
        ::kill(node->pid(), SIGCONT);
        node->stop(SIGKILL, std::chrono::seconds(5));
      }
    }
    if (coordinator) coordinator->stop(SIGKILL, std::chrono::seconds(5));
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  static std::unique_ptr<ChildProcess> spawn(const std::vector<std::string>& argv) {
    auto child = ChildProcess::spawn(argv);
    if (!child) return nullptr;
    return std::make_unique<ChildProcess>(std::move(*child));
  }

  // `listen`: a fixed address to restart a coordinator where it was.
  void start_coordinator(const std::string& config = "",
                         const std::string& listen = "127.0.0.1:0") {
    coordinator = spawn({rivulet_binary(), "coordinator", "--listen", listen, "--config",
                         config.empty() ? config_file : config});
    REQUIRE(coordinator);
    auto line = coordinator->read_line();
    REQUIRE(line.has_value());
    const std::string prefix = "coordinator listening on ";
    REQUIRE(line->rfind(prefix, 0) == 0);
    address = line->substr(prefix.size());
    address = address.substr(0, address.find(' '));
  }

  void start_node(const std::string& name, const std::string& config = "") {
    nodes[name] = spawn({rivulet_binary(), "node", "--coordinator", address, "--name", name,
                         "--config", config.empty() ? config_file : config});
    REQUIRE(nodes[name]);
    auto line = nodes[name]->read_line();
    REQUIRE(line.has_value());
  }

  // `rivulet ARGS` with the cluster's config in the environment; (exit status, stdout+stderr).
  std::pair<int, std::string> rivulet(const std::string& args, int timeout_s = 60) {
    return run_command(rivulet_binary() + " " + args + " 2>&1", "", timeout_s);
  }

  void submit(const std::string& sql, const std::string& name = "shop") {
    std::ofstream(dir + "/" + name + ".sql") << sql;
    auto [status, out] = rivulet("submit " + dir + "/" + name + ".sql --coordinator " + address +
                                 " --config " + config_file);
    INFO(out);
    REQUIRE(status == 0);
  }

  nlohmann::json status() {
    auto [rc, out] = run_command(rivulet_binary() + " status --json --coordinator " + address, "", 20);
    if (rc != 0) return nlohmann::json();
    auto j = nlohmann::json::parse(out, nullptr, false);
    return j.is_discarded() ? nlohmann::json() : j;
  }

  // Every task of `tasks` running, on a node of `owners` (any when empty).
  nlohmann::json wait_all_running(size_t tasks, std::chrono::seconds timeout,
                                  const std::set<std::string>& owners = {}) {
    auto deadline = Clock::now() + timeout;
    nlohmann::json last;
    while (Clock::now() < deadline) {
      last = status();
      if (!last.is_null() && last["tasks"].size() == tasks) {
        bool all = true;
        for (const auto& t : last["tasks"]) {
          if (t["state"] != "running") all = false;
          if (!owners.empty() && !owners.count(t["owner"].get<std::string>())) all = false;
        }
        if (all) return last;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("tasks not all running within the timeout; last status: " << last.dump());
    return last;
  }

  // As wait_all_running, and every node of `nodes` joined and owns its
  // share of the tasks (tasks / nodes, rounded either way): a node whose
  // first hello timed out (a slow machine, a sanitizer build) joins later,
  // and the tasks are balanced only then.
  nlohmann::json wait_balanced(size_t tasks, const std::set<std::string>& nodes,
                               std::chrono::seconds timeout) {
    auto deadline = Clock::now() + timeout;
    nlohmann::json last;
    const size_t low = tasks / nodes.size();
    const size_t high = (tasks + nodes.size() - 1) / nodes.size();
    while (Clock::now() < deadline) {
      last = status();
      if (!last.is_null() && last["tasks"].size() == tasks) {
        std::map<std::string, size_t> owned;
        bool all = true;
        for (const auto& t : last["tasks"]) {
          if (t["state"] != "running") all = false;
          ++owned[t["owner"].get<std::string>()];
        }
        for (const auto& n : nodes) {
          if (owned[n] < low || owned[n] > high) all = false;
        }
        if (all && owned.size() == nodes.size()) return last;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("tasks not all running and balanced within the timeout; last status: " << last.dump());
    return last;
  }

  std::string node_state(const std::string& name) {
    auto s = status();
    if (s.is_null()) return "";
    for (const auto& n : s["nodes"]) {
      if (n["name"] == name) return n["state"].get<std::string>();
    }
    return "";
  }

  // kcat with the Java partitioner (as Rivulet's producers): "key|value" lines.
  void kcat_produce(const std::string& topic, const std::string& lines) {
    auto [rc, out] = run_command("kcat -b " + bootstrap +
                                     " -X partitioner=murmur2_random -P -t " + topic + " -K '|'",
                                 lines, 30);
    INFO(out);
    REQUIRE(rc == 0);
  }

  // The key of order `id`: its user.
  std::function<std::string(int64_t)> order_key = [](int64_t id) {
    return "u" + std::to_string(id % 50);
  };

  // Orders [produced, produced + n) keyed by order_key, JSON values
  // {"ORDER_ID": id, "AMOUNT": 1.5}, at about `per_second`. Returns what
  // failed, or "". Safe on a helper thread: it makes no Catch assertion
  // (Catch is not thread-safe: ThreadSanitizer reported the race); the
  // caller checks the result once it has joined the thread.
  std::string try_produce_orders(int64_t n, int per_second) {
    struct Handler : connectors::DeliveryHandler {
      void on_delivery(void*, const std::optional<Error>& e, int32_t, int64_t) override {
        if (e) failures.fetch_add(1);
      }
      std::atomic<int> failures{0};
    } handler;
    auto p = connectors::KafkaProducer::create({{"bootstrap.servers", bootstrap}}, &handler);
    if (!p.ok()) return "producer: " + p.error().to_string();
    auto start = Clock::now();
    for (int64_t i = 0; i < n; ++i) {
      int64_t id = produced + i;
      OutputRecord r;
      r.topic = "orders";
      r.key = order_key(id);
      r.value = R"({"ORDER_ID": )" + std::to_string(id) + R"(, "AMOUNT": 1.5})";
      auto sent = (*p)->produce(r, nullptr);
      if (!sent.ok()) return "produce order " + std::to_string(id) + ": " + sent.error().to_string();
      if (i % 100 == 99) {
        std::this_thread::sleep_until(start + std::chrono::microseconds((i + 1) * 1000000 / per_second));
      }
    }
    auto flushed = (*p)->flush(std::chrono::seconds(30));
    if (!flushed.ok()) return "flush: " + flushed.error().to_string();
    if (handler.failures > 0) return std::to_string(handler.failures.load()) + " orders not delivered";
    produced += n;
    return "";
  }
  void produce_orders(int64_t n, int per_second) {
    const std::string failed = try_produce_orders(n, per_second);
    INFO(failed);
    REQUIRE(failed.empty());
  }

  // `rivulet verify` of orders -> ENRICHED by ORDER_ID, retried until it
  // passes or the timeout (the pipeline may still be catching up).
  bool verify_orders(std::chrono::seconds timeout, std::string* report = nullptr) {
    auto deadline = Clock::now() + timeout;
    std::pair<int, std::string> r;
    do {
      r = rivulet("verify --bootstrap " + bootstrap + " --input orders --output ENRICHED --id ORDER_ID", 90);
      if (r.first == 0) break;
      std::this_thread::sleep_for(std::chrono::seconds(1));
    } while (Clock::now() < deadline);
    if (report) *report = r.second;
    return r.first == 0;
  }

  std::unique_ptr<ChildProcess> broker;
  std::string bootstrap, dir, config_file, secret;
  int64_t produced = 0;
  std::unique_ptr<ChildProcess> coordinator;
  std::string address;  // 127.0.0.1:PORT
  std::map<std::string, std::unique_ptr<ChildProcess>> nodes;
};

}  // namespace rivulet::testing
