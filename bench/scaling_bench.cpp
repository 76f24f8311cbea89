// bench_scaling: throughput of the demo's pipeline (orders LEFT JOIN users
// and a per-user count, as SQL, exactly as `rivulet demo --cluster` submits
// it) on 1, 2 and 3 cluster nodes, each node capped at the same CPU quota.
//
// The machine has 2 cores shared by every process, so unlimited nodes cannot
// scale: adding a process adds no CPU. Here the node is made the bottleneck
// instead: every `rivulet node` runs in its own cgroup (v1 `cpu` controller)
// with `cpu.cfs_quota_us` = quota x `cpu.cfs_period_us`, all nodes the same,
// while the broker, the coordinator and this program (loader and read-back
// consumer) run outside the quotas on what is left of the 2 cores.
//
// Per node count K, from scratch: `rivulet broker` with the four topics
// (--partitions each), the users and all the orders written before anything
// runs (the generator is idle while measuring), `rivulet coordinator`, K
// `rivulet node`s (each started inside its cgroup by a `sh -c` that moves
// itself there and execs the node), then `rivulet submit` of the demo's SQL.
// A consumer in this process reads enriched-orders and order-counts back.
// Throughput = orders / (last enriched order read - first one read); also
// from submit to the last output. CPU seconds per node are the node process's
// user + system time (/proc/PID/stat) from submit to the end, with the
// cgroup's throttling counters (cpu.stat) as evidence the quota bound it.
//
// When the cgroup cannot be created or written (not root, no cgroup v1 cpu
// controller, a read-only /sys/fs/cgroup), it prints {"skipped": reason} and
// exits 0, unless --no-quota asks for a run without quotas.
//
// Progress on stderr; one JSON object on stdout. Child processes' logs stay
// in a temporary directory, removed when the run succeeded.
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cluster/client.hpp"
#include "connectors/kafka_consumer.hpp"
#include "examples/orders_enrichment.hpp"
#include "runtime/child_process.hpp"
#include "runtime/codec.hpp"

namespace rivulet::bench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

const char* kCgroupRoot = "/sys/fs/cgroup/cpu";

// The SQL `rivulet demo --cluster` submits (cli/demo_cluster.cpp).
const char* kDemoSql = R"sql(-- bench_scaling: the demo's pipeline
CREATE TABLE USERS (USER_ID STRING PRIMARY KEY, NAME STRING, COUNTRY STRING)
  WITH (kafka_topic='users', value_format='JSON');
CREATE STREAM ORDERS (USER_ID STRING KEY, ORDER_ID BIGINT, AMOUNT DOUBLE)
  WITH (kafka_topic='orders', value_format='JSON');
CREATE STREAM ENRICHED_ORDERS WITH (kafka_topic='enriched-orders') AS
  SELECT O.USER_ID AS USER_ID, ORDER_ID, AMOUNT, NAME, COUNTRY
  FROM ORDERS O LEFT JOIN USERS U ON O.USER_ID = U.USER_ID;
CREATE TABLE ORDER_COUNTS WITH (kafka_topic='order-counts') AS
  SELECT USER_ID, COUNT(*) AS ORDERS FROM ORDERS GROUP BY USER_ID;
)sql";

struct Options {
  std::string rivulet;  // empty: `rivulet` next to this program
  std::vector<int> nodes{1, 2, 3};
  int64_t users = 10000;
  int64_t orders = 300000;
  int partitions = 12;
  double quota = 0.4;  // CPUs per node
  // cpu.shares of each node's cgroup: its weight against the other
  // processes on the machine (1024 = one ordinary process).
  int shares = 1024;
  bool no_quota = false;
  int timeout_s = 300;
  int rounds = 1;
};

bool write_file(const std::string& path, const std::string& text, std::string* error) {
  std::ofstream f(path);
  f << text;
  f.flush();
  if (!f) {
    if (error) *error = "cannot write '" + text + "' to " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// One node's cgroup: created with its quota, removed (after its processes
// exited) by the destructor.
class CpuCgroup {
 public:
  static std::optional<CpuCgroup> create(const std::string& name, double cpus, int shares,
                                         std::string* error) {
    const std::string path = std::string(kCgroupRoot) + "/" + name;
    std::error_code ec;
    if (!std::filesystem::is_directory(kCgroupRoot, ec)) {
      *error = std::string(kCgroupRoot) + " is not there (no cgroup v1 cpu controller)";
      return std::nullopt;
    }
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
      *error = "cannot create " + path + ": " + std::strerror(errno);
      return std::nullopt;
    }
    CpuCgroup g(path);
    const std::string period_text = read_file(path + "/cpu.cfs_period_us");
    const long period = period_text.empty() ? 100000 : std::atol(period_text.c_str());
    const long quota = static_cast<long>(cpus * static_cast<double>(period));
    if (!write_file(path + "/cpu.cfs_quota_us", std::to_string(quota), error)) return std::nullopt;
    if (!write_file(path + "/cpu.shares", std::to_string(shares), error)) return std::nullopt;
    g.period_us_ = period;
    g.quota_us_ = quota;
    return g;
  }
  CpuCgroup(CpuCgroup&& o) noexcept
      : path_(std::move(o.path_)), period_us_(o.period_us_), quota_us_(o.quota_us_) {
    o.path_.clear();
  }
  CpuCgroup& operator=(CpuCgroup&&) = delete;
  ~CpuCgroup() {
    if (path_.empty()) return;
    // The node processes have exited (reaped) by now; rmdir fails while a
    // task is still inside, so retry briefly.
    for (int i = 0; i < 50 && ::rmdir(path_.c_str()) != 0 && errno == EBUSY; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  const std::string& path() const { return path_; }
  long period_us() const { return period_us_; }
  long quota_us() const { return quota_us_; }
  // cpu.stat: nr_periods, nr_throttled, throttled_time (ns).
  json stat() const {
    json j = json::object();
    std::istringstream in(read_file(path_ + "/cpu.stat"));
    std::string key;
    long long value = 0;
    while (in >> key >> value) j[key] = value;
    return j;
  }

 private:
  explicit CpuCgroup(std::string path) : path_(std::move(path)) {}
  std::string path_;
  long period_us_ = 0, quota_us_ = 0;
};

// User + system CPU seconds of a process (all its threads); -1 when gone.
double process_cpu_seconds(pid_t pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  // Fields after the command: state(3) ... utime(14) stime(15).
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The 1, 5 and 15 minute load averages: what else ran on the machine.
std::string loadavg() {
  std::istringstream in(read_file("/proc/loadavg"));
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

double self_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Reads the outputs back on the consumer's poll thread: distinct orders in
// enriched-orders (by ORDER_ID), when the first and the last arrived.
class Outputs : public connectors::BatchSink {
 public:
  explicit Outputs(int64_t orders)
      : seen_(static_cast<size_t>(orders), 0), json_(make_json_codec()) {}
  bool offer(RawBatch&& batch) override {
    if (batch.records.empty()) return true;
    if (batch.tp.topic != "enriched-orders") {
      counts_.fetch_add(static_cast<int64_t>(batch.records.size()));
      return true;
    }
    const auto now = Clock::now();
    for (const auto& rec : batch.records) {
      if (!rec.value) continue;
      auto v = json_->decode(*rec.value);
      const Value* id = v && v->kind() == TypeKind::Struct ? v->field("ORDER_ID") : nullptr;
      if (id == nullptr || !id->is_numeric() || id->to_int64() < 0 ||
          id->to_int64() >= static_cast<int64_t>(seen_.size())) {
        malformed_.fetch_add(1);
        continue;
      }
      auto& slot = seen_[static_cast<size_t>(id->to_int64())];
      if (slot != 0) {
        duplicates_.fetch_add(1);
        continue;
      }
      slot = 1;
      if (distinct_.fetch_add(1) == 0) first_ = now;
      last_ = now;
    }
    return true;
  }
  int64_t distinct() const { return distinct_.load(); }
  int64_t duplicates() const { return duplicates_.load(); }
  int64_t malformed() const { return malformed_.load(); }
  int64_t counts() const { return counts_.load(); }
  Clock::time_point first() const { return first_.load(); }
  Clock::time_point last() const { return last_.load(); }

 private:
  std::vector<uint8_t> seen_;  // poll thread only
  std::unique_ptr<Codec> json_;
  std::atomic<int64_t> distinct_{0}, duplicates_{0}, malformed_{0}, counts_{0};
  std::atomic<Clock::time_point> first_{Clock::now()}, last_{Clock::now()};
};

std::unique_ptr<ChildProcess> spawn(const std::vector<std::string>& argv, const std::string& log) {
  auto child = ChildProcess::spawn(argv, log);
  if (!child) return nullptr;
  return std::make_unique<ChildProcess>(std::move(*child));
}

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// One run with `k` nodes. Everything it starts stops before it returns.
json run_nodes(const Options& o, int k, const std::string& rivulet, bool quotas) {
  json r{{"nodes", k}};
  std::string dir = (std::filesystem::temp_directory_path() / "rivulet-scaling-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) {
    r["error"] = "cannot create a directory under /tmp";
    return r;
  }
  auto fail = [&](const std::string& why) {
    r["error"] = why + " (logs in " + dir + ")";
    std::cerr << "bench_scaling: " << k << " nodes FAILED: " << why << " (logs in " << dir
              << ")\n";
    return r;
  };
  // Declared first, destroyed last: the cgroups go after their processes.
  std::vector<CpuCgroup> groups;
  std::unique_ptr<ChildProcess> broker, coordinator;
  std::vector<std::unique_ptr<ChildProcess>> nodes;
  struct StopAll {
    std::unique_ptr<ChildProcess>& broker;
    std::unique_ptr<ChildProcess>& coordinator;
    std::vector<std::unique_ptr<ChildProcess>>& nodes;
    ~StopAll() {
      for (auto& n : nodes) {
        if (n) n->stop(SIGTERM, std::chrono::seconds(20));
        n.reset();
      }
      if (coordinator) coordinator->stop(SIGTERM, std::chrono::seconds(10));
      coordinator.reset();
      if (broker) broker->stop(SIGTERM, std::chrono::seconds(10));
      broker.reset();
    }
  } stop_all{broker, coordinator, nodes};

  examples::OrdersWorkload w;
  w.users = o.users;
  w.user_space = o.users + o.users / 10;
  w.orders = o.orders;
  const auto deadline = Clock::now() + std::chrono::seconds(o.timeout_s);

  std::vector<std::string> argv{rivulet, "broker"};
  for (const auto& topic : {w.users_topic, w.orders_topic, w.enriched_topic, w.counts_topic}) {
    argv.push_back("--topic");
    argv.push_back(topic + ":" + std::to_string(o.partitions));
  }
  broker = spawn(argv, dir + "/broker.log");
  auto bootstrap_line = broker ? broker->read_first_line(std::chrono::seconds(30)) : std::nullopt;
  if (!bootstrap_line || bootstrap_line->empty()) return fail("the broker did not start");
  const std::string bootstrap = *bootstrap_line;

  std::cerr << "bench_scaling: " << k << " nodes: loading " << w.users << " users and "
            << w.orders << " orders into " << o.partitions << " partitions\n";
  const auto load_start = Clock::now();
  if (auto loaded = examples::produce_orders_workload(bootstrap, w, nullptr); !loaded) {
    return fail(loaded.error().to_string());
  }
  r["load_seconds"] = seconds_between(load_start, Clock::now());

  std::random_device rd;
  const std::string config = dir + "/cluster.properties";
  // The demo's settings (cli/demo_cluster.cpp), with a longer failure
  // timeout: nothing is killed here, and a throttled node must not be
  // declared dead.
  std::ofstream(config) << "bootstrap.servers=" << bootstrap << "\n"
                        << "state.dir=" << dir << "/state\n"
                        << "checkpoint.interval.ms=1000\n"
                        << "commit.interval.ms=200\n"
                        << "cluster.secret=bench-" << rd() << rd() << "\n"
                        << "cluster.failure.timeout.ms=10000\n";
  coordinator = spawn({rivulet, "coordinator", "--listen", "127.0.0.1:0", "--config", config},
                      dir + "/coordinator.log");
  auto line = coordinator ? coordinator->read_first_line(std::chrono::seconds(30)) : std::nullopt;
  const std::string prefix = "coordinator listening on ";
  if (!line || line->rfind(prefix, 0) != 0) return fail("the coordinator did not start");
  std::string address = line->substr(prefix.size());
  address = address.substr(0, address.find(' '));

  for (int i = 1; i <= k; ++i) {
    const std::string name = "n" + std::to_string(i);
    std::vector<std::string> node_argv{rivulet, "node", "--coordinator", address, "--name", name,
                                       "--config", config};
    if (quotas) {
      std::string error;
      auto g = CpuCgroup::create("rivulet-scaling-" + std::to_string(::getpid()) + "-" + name,
                                 o.quota, o.shares, &error);
      if (!g) return fail(error);
      groups.push_back(std::move(*g));
      // The shell moves itself into the cgroup, then becomes the node: every
      // thread the node starts is inside from the beginning.
      node_argv.insert(node_argv.begin(),
                       {"/bin/sh", "-c",
                        "echo $$ > '" + groups.back().path() + "/cgroup.procs' && exec \"$@\"",
                        "sh"});
    }
    nodes.push_back(spawn(node_argv, dir + "/" + name + ".log"));
    if (!nodes.back() || !nodes.back()->read_first_line(std::chrono::seconds(60))) {
      return fail("node " + name + " did not start");
    }
  }
  // Every node registered before the query is submitted, so the first
  // assignment spreads the tasks over all of them.
  while (true) {
    auto status = cluster::fetch_status(address);
    if (status) {
      auto j = json::parse(*status, nullptr, false);
      if (!j.is_discarded() && j["nodes"].size() == static_cast<size_t>(k)) break;
    }
    if (Clock::now() > deadline) return fail("the nodes did not all register");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  Outputs outputs(w.orders);
  connectors::ConsumerOptions reader_options;
  reader_options.thread_name = "bench.read";
  auto reader = connectors::KafkaConsumer::create(
      {{"bootstrap.servers", bootstrap}, {"group.id", "bench-scaling-reader"}},
      std::move(reader_options));
  if (!reader) return fail(reader.error().to_string());
  std::vector<connectors::StartPosition> positions;
  for (int32_t p = 0; p < o.partitions; ++p) {
    for (const auto& topic : {w.enriched_topic, w.counts_topic}) {
      positions.push_back(
          {TopicPartition{topic, PartitionId{p}}, connectors::StartPosition::kBeginning});
    }
  }
  if (auto a = (*reader)->assign(positions); !a) return fail(a.error().to_string());
  (*reader)->start(&outputs);

  std::ofstream(dir + "/demo.sql") << kDemoSql;
  std::vector<double> cpu0;
  for (auto& n : nodes) cpu0.push_back(process_cpu_seconds(n->pid()));
  const double broker_cpu0 = process_cpu_seconds(broker->pid());
  const double self_cpu0 = self_cpu_seconds();
  std::vector<json> stat0;
  for (auto& g : groups) stat0.push_back(g.stat());
  std::cerr << "bench_scaling: " << k << " nodes: submitting the demo's SQL\n";
  const std::string load_at_submit = loadavg();
  const auto submitted = Clock::now();
  {
    auto submit = spawn({rivulet, "submit", dir + "/demo.sql", "--coordinator", address, "--name",
                         "demo", "--config", config},
                        dir + "/submit.log");
    const int rc = submit ? submit->wait(std::chrono::seconds(60)) : -1;
    if (rc != 0) return fail("rivulet submit exited with " + std::to_string(rc));
  }
  auto next_report = Clock::now() + std::chrono::seconds(5);
  // Node CPU when the first output was read, and (below) when the last one
  // was: the CPU of the measured window, to compare with the quota.
  std::vector<double> cpu_first;
  std::vector<json> stat_first;
  while (outputs.distinct() < w.orders && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (cpu_first.empty() && outputs.distinct() > 0) {
      for (auto& n : nodes) cpu_first.push_back(process_cpu_seconds(n->pid()));
      for (auto& g : groups) stat_first.push_back(g.stat());
    }
    if (Clock::now() >= next_report) {
      std::cerr << "bench_scaling: " << k << " nodes: " << outputs.distinct() << "/" << w.orders
                << " orders enriched\n";
      next_report += std::chrono::seconds(5);
    }
  }
  std::vector<double> cpu_last;
  std::vector<json> stat_last;
  for (auto& n : nodes) cpu_last.push_back(process_cpu_seconds(n->pid()));
  for (auto& g : groups) stat_last.push_back(g.stat());
  const std::string load_at_end = loadavg();
  // The count updates trail the enriched orders by a little; give them a
  // moment so the CPU figures cover the whole job.
  const auto counts_deadline = Clock::now() + std::chrono::seconds(5);
  while (outputs.counts() < w.orders && Clock::now() < counts_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto ended = Clock::now();
  json per_node = json::array();
  double node_cpu_total = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const double cpu = process_cpu_seconds(nodes[i]->pid()) - cpu0[i];
    node_cpu_total += cpu;
    json n{{"name", "n" + std::to_string(i + 1)}, {"cpu_seconds", cpu}};
    if (i < cpu_first.size()) {
      // CPUs used between the first and the last output read (quota: the cap).
      const double window = seconds_between(outputs.first(), outputs.last());
      n["cpu_seconds_first_to_last_output"] = cpu_last[i] - cpu_first[i];
      if (window > 0) n["cpus_used_first_to_last_output"] = (cpu_last[i] - cpu_first[i]) / window;
    }
    if (i < stat_first.size() && i < stat_last.size()) {
      const long long periods =
          stat_last[i].value("nr_periods", 0LL) - stat_first[i].value("nr_periods", 0LL);
      const long long throttled =
          stat_last[i].value("nr_throttled", 0LL) - stat_first[i].value("nr_throttled", 0LL);
      if (periods > 0) {
        n["throttled_periods_share_first_to_last_output"] =
            static_cast<double>(throttled) / static_cast<double>(periods);
      }
    }
    if (i < groups.size()) {
      json s = groups[i].stat();
      json d = json::object();
      for (auto& [key, value] : s.items()) {
        d[key] = value.get<long long>() - stat0[i].value(key, 0LL);
      }
      n["cgroup_cpu_stat"] = d;
    }
    per_node.push_back(n);
  }
  const double broker_cpu = process_cpu_seconds(broker->pid()) - broker_cpu0;
  const double self_cpu = self_cpu_seconds() - self_cpu0;
  (*reader)->stop();

  const int64_t distinct = outputs.distinct();
  const double span = seconds_between(outputs.first(), outputs.last());
  const double from_submit = seconds_between(submitted, outputs.last());
  r["orders"] = w.orders;
  r["users"] = w.users;
  r["enriched_distinct"] = distinct;
  r["duplicates"] = outputs.duplicates();
  r["malformed"] = outputs.malformed();
  r["count_updates"] = outputs.counts();
  r["first_to_last_output_seconds"] = span;
  r["submit_to_last_output_seconds"] = from_submit;
  r["orders_per_second"] = span > 0 ? static_cast<double>(distinct) / span : 0;
  r["input_records_per_second_from_submit"] =
      from_submit > 0 ? static_cast<double>(w.users + distinct) / from_submit : 0;
  r["node_cpu"] = per_node;
  r["node_cpu_seconds_total"] = node_cpu_total;
  r["node_cpu_seconds_per_million_orders"] = node_cpu_total * 1e6 / static_cast<double>(w.orders);
  r["broker_cpu_seconds"] = broker_cpu;
  r["bench_process_cpu_seconds"] = self_cpu;
  r["measure_seconds"] = seconds_between(submitted, ended);
  r["loadavg_at_submit"] = load_at_submit;
  r["loadavg_at_last_output"] = load_at_end;
  const bool ok = distinct == w.orders && outputs.malformed() == 0;
  r["ok"] = ok;
  if (!ok) {
    return fail("read back " + std::to_string(distinct) + " of " + std::to_string(w.orders) +
                " orders (" + std::to_string(outputs.malformed()) + " malformed)");
  }
  std::cerr << "bench_scaling: " << k << " nodes: " << w.orders << " orders in " << span
            << " s from first to last output = " << r["orders_per_second"].get<double>()
            << " orders/s; node CPU " << node_cpu_total << " s\n";
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return r;
}

std::string default_rivulet() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("rivulet") : (self.parent_path() / "rivulet").string();
}

int run(const Options& o) {
  const std::string rivulet = o.rivulet.empty() ? default_rivulet() : o.rivulet;
  json out{{"workload",
            {{"users", o.users},
             {"orders", o.orders},
             {"partitions", o.partitions},
             {"tasks", o.partitions},
             {"sql", "rivulet demo --cluster's: orders LEFT JOIN users, COUNT(*) per user"}}},
           {"cpu_quota_per_node", o.no_quota ? json(nullptr) : json(o.quota)},
           {"cpu_shares_per_node", o.no_quota ? json(nullptr) : json(o.shares)},
           {"nproc", std::thread::hardware_concurrency()}};
  if (!o.no_quota) {
    // Can we make and write a cgroup at all? If not, skip cleanly.
    std::string error;
    auto probe = CpuCgroup::create("rivulet-scaling-probe-" + std::to_string(::getpid()), o.quota,
                                   o.shares, &error);
    if (!probe) {
      std::cerr << "bench_scaling: skipped: per-node CPU quotas need a writable cgroup v1 cpu "
                   "controller: "
                << error << "\n";
      out["skipped"] = error;
      std::cout << out.dump() << std::endl;
      return 0;
    }
  }
  // Rounds of every node count in turn, so that a stretch of load from
  // elsewhere on the machine does not fall on one node count only.
  json runs = json::array();
  bool ok = true;
  std::map<int, std::vector<double>> rates;  // node count -> orders/s of its good runs
  for (int round = 1; round <= o.rounds; ++round) {
    double one_node = 0;
    for (int k : o.nodes) {
      std::cerr << "bench_scaling: round " << round << "/" << o.rounds << "\n";
      json r = run_nodes(o, k, rivulet, !o.no_quota);
      r["round"] = round;
      if (!r.value("ok", false)) {
        ok = false;
      } else {
        const double rate = r["orders_per_second"].get<double>();
        rates[k].push_back(rate);
        if (k == 1) one_node = rate;
        if (one_node > 0) r["ratio_to_one_node_same_round"] = rate / one_node;
      }
      runs.push_back(r);
    }
  }
  out["runs"] = runs;
  // Best run per node count (the embedded broker and the other processes on
  // the machine only ever slow a run down), with every run beside it.
  json summary = json::array();
  const double best_one = rates.count(1) ? *std::max_element(rates[1].begin(), rates[1].end()) : 0;
  for (int k : o.nodes) {
    if (!rates.count(k)) continue;
    if (std::any_of(summary.begin(), summary.end(),
                    [k](const json& s) { return s["nodes"] == k; })) {
      continue;
    }
    const double best = *std::max_element(rates[k].begin(), rates[k].end());
    json s{{"nodes", k}, {"best_orders_per_second", best}, {"all_orders_per_second", rates[k]}};
    if (best_one > 0) s["ratio_of_best_to_one_node"] = best / best_one;
    summary.push_back(s);
  }
  out["summary"] = summary;
  std::cout << out.dump() << std::endl;
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace rivulet::bench

int main(int argc, char** argv) {
  rivulet::bench::Options o;
  CLI::App app{"Rivulet scaling benchmark: the demo's SQL on 1, 2, 3 nodes, each under a CPU quota"};
  app.add_option("--rivulet", o.rivulet, "The rivulet binary (default: next to this program)");
  app.add_option("--nodes", o.nodes, "Node counts to run, in order (e.g. 1 2 3)")
      ->delimiter(',')
      ->check(CLI::Range(1, 16));
  app.add_option("--users", o.users, "Users in the table")->check(CLI::Range(1, 10000000));
  app.add_option("--orders", o.orders, "Orders, all written before the query starts")
      ->check(CLI::Range(1, 10000000));
  app.add_option("--partitions", o.partitions, "Partitions per topic (= tasks)")
      ->check(CLI::Range(1, 256));
  app.add_option("--cpu-quota", o.quota, "CPUs per node (cgroup cpu.cfs_quota_us / period)")
      ->check(CLI::Range(0.01, 64.0));
  app.add_option("--rounds", o.rounds, "Rounds of all node counts (best run per count is quoted)")
      ->check(CLI::Range(1, 20));
  app.add_option("--cpu-shares", o.shares,
                 "cpu.shares of each node's cgroup: its weight against every other process "
                 "(1024 = one ordinary process; more lets the node reach its quota on a busy "
                 "machine, the quota still caps it)")
      ->check(CLI::Range(2, 262144));
  app.add_flag("--no-quota", o.no_quota, "Run the nodes without CPU quotas (no cgroups)");
  app.add_option("--timeout", o.timeout_s, "Seconds each node count may take")
      ->check(CLI::Range(10, 3600));
  CLI11_PARSE(app, argc, argv);
  return rivulet::bench::run(o);
}
