#include "cluster/node.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include <caf/io/all.hpp>

#include "actors/application.hpp"
#include "actors/http_endpoint.hpp"
#include "cluster/coordinator.hpp"
#include "cluster/node_control.hpp"
#include "cluster/node_http.hpp"
#include "cluster/protocol.hpp"
#include "cluster/query_plan.hpp"
#include "cluster/source_loading.hpp"
#include "cluster/transport.hpp"
#include "runtime/host_port.hpp"
#include "runtime/log.hpp"
#include "runtime/thread_name.hpp"

namespace rivulet::cluster {

namespace {

int64_t steady_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

enum class Probe { Listening, Refused, Unknown };

// Is anything listening at host:port? A refused connection proves that no
// coordinator runs there right now (so none can be reassigning tasks).
Probe probe(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res) {
    return Probe::Unknown;
  }
  Probe result = Probe::Unknown;
  int fd = ::socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
  if (fd >= 0) {
    timeval tv{0, 300000};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
      result = Probe::Listening;
    } else if (errno == ECONNREFUSED) {
      result = Probe::Refused;
    }
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return result;
}

struct Query {
  QueryDef def;
  // The query's file sources and the configuration to load them with.
  std::vector<sql::SourceInfo> sources;
  Config config;
  // Loads the file sources into their topics while task 0 runs here
  // (Node::run_loaders); null otherwise.
  std::shared_ptr<SourceLoading> loading;
  std::string loading_error;         // why the last start failed ("" if it did not)
  int64_t loading_retry_ms = 0;      // steady ms: no new attempt before
  std::shared_ptr<Application> app;  // null when it could not start
  std::string error;
};

struct TaskId {
  std::string query;
  int32_t partition;
  bool operator<(const TaskId& o) const {
    return query < o.query || (query == o.query && partition < o.partition);
  }
};

class Node {
 public:
  Node(NodeOptions options, Config config)
      : options_(std::move(options)), config_(std::move(config)), times_(cluster_times(config_)) {}

  int run(std::atomic<bool>& stop);

  // Remote faults (node_control.hpp).
  void pause(int64_t max_ms);
  void resume();

 private:
  // Heartbeat thread.
  void heartbeat_loop(caf::actor_system& system, std::atomic<bool>& stop);
  NodeReport build_report(bool leaving);
  void apply_orders(const NodeOrders& orders, int64_t granted_until);
  void extend_valid_leases(int64_t until);
  // Controller thread.
  void controller_loop();
  void reconcile();
  std::shared_ptr<Application> app_for(const QueryDef& def);
  // Starts the file-source loader of each query whose task 0 runs here,
  // stops those of the others (controller thread).
  void run_loaders();
  void stop_loader(const std::string& query);
  void drop_terminated(const NodeOrders& desired);

  // Tasks assigned here (not being released) that cannot run: their query
  // did not plan or start here, or the task did not start. Each is
  // reported as failed (in /health and to the coordinator) until it runs.
  std::vector<NodeHttp::Failure> failed_tasks() {
    std::lock_guard<std::mutex> lock(mutex_);
    return failed_tasks_locked();
  }
  std::vector<NodeHttp::Failure> failed_tasks_locked() {
    std::vector<NodeHttp::Failure> out;
    for (const auto& o : desired_.tasks) {
      if (o.release) continue;
      auto q = queries_.find(o.query);
      auto s = start_errors_.find(TaskId{o.query, o.partition});
      std::string error;
      if (q != queries_.end() && !q->second.app && !q->second.error.empty()) {
        error = "query " + o.query + ": " + q->second.error;
      } else if (s != start_errors_.end()) {
        error = s->second;
      } else {
        continue;
      }
      out.push_back(NodeHttp::Failure{o.query, o.partition, o.epoch, std::move(error)});
    }
    return out;
  }

  // Tasks assigned here (not being released) that do not run yet and have
  // not failed.
  size_t starting_tasks() {
    std::vector<std::pair<std::shared_ptr<Application>, int32_t>> assigned;
    size_t n = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      std::set<TaskId> failed;
      for (const auto& f : failed_tasks_locked()) failed.insert(TaskId{f.query, f.partition});
      for (const auto& o : desired_.tasks) {
        if (o.release || failed.count(TaskId{o.query, o.partition})) continue;
        auto it = queries_.find(o.query);
        if (it == queries_.end() || !it->second.app) {
          ++n;
        } else {
          assigned.emplace_back(it->second.app, o.partition);
        }
      }
    }
    for (const auto& [app, partition] : assigned) {
      auto parts = app->task_partitions();
      if (std::find(parts.begin(), parts.end(), partition) == parts.end()) ++n;
    }
    return n;
  }

  std::vector<std::shared_ptr<Application>> apps() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::shared_ptr<Application>> out;
    for (auto& [name, q] : queries_) {
      if (q.app) out.push_back(q.app);
    }
    return out;
  }

  NodeOptions options_;
  Config config_;
  ClusterTimes times_;
  std::string host_;
  uint16_t port_ = 0;
  std::string report_host_;
  std::string fatal_;  // set when the coordinator refused us

  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Query> queries_;
  NodeOrders desired_;
  int64_t granted_until_ = 0;
  uint64_t desired_version_ = 0;
  std::set<TaskId> releasing_;
  std::map<TaskId, std::string> start_errors_;  // tasks whose add_task failed, why
  bool controller_stop_ = false;
  std::atomic<int64_t> last_orders_ms_{0};
  caf::actor control_;  // our control actor, handed to every coordinator we join
  std::atomic<bool> paused_{false};
  std::atomic<int64_t> paused_until_{0};
};

void Node::pause(int64_t max_ms) {
  paused_until_ = steady_ms() + max_ms;
  paused_ = true;
  // Hold still at once, as a stopped process would: no task writes until a
  // coordinator grants new leases after the resume.
  for (auto& app : apps()) app->revoke_leases();
}

void Node::resume() { paused_ = false; }

NodeReport Node::build_report(bool leaving) {
  NodeReport r;
  r.name = options_.name;
  r.secret = config_.get("cluster.secret");
  r.pid = ::getpid();
  r.host = report_host_;
  r.http = options_.http;
  r.leaving = leaving;
  std::set<TaskId> releasing;
  std::vector<std::pair<std::string, std::shared_ptr<Application>>> running;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Tasks that cannot run here: failed, with the reason (rivulet status).
    for (auto& f : failed_tasks_locked()) {
      TaskReport t;
      t.query = f.query;
      t.partition = f.partition;
      t.epoch = f.epoch;
      t.state = "failed";
      t.error = std::move(f.error);
      r.tasks.push_back(std::move(t));
    }
    releasing = releasing_;
    for (auto& [name, q] : queries_) {
      if (q.app) running.emplace_back(name, q.app);
    }
  }
  const int64_t now = wall_ms();
  for (auto& [name, app] : running) {
    for (const auto& m : app->task_metrics()) {
      TaskReport t;
      t.query = name;
      t.partition = m.partition;
      t.epoch = m.epoch;
      t.state = m.state;
      if (releasing.count(TaskId{name, m.partition}) &&
          (m.state == "running" || m.state == "paused"))
        t.state = "releasing";
      t.lag = m.lag;
      t.checkpoint_age_ms = m.last_checkpoint_ms > 0 ? now - m.last_checkpoint_ms : -1;
      t.records_in = m.records_in;
      t.records_out = m.records_out;
      t.error = m.error;
      if (t.error.empty() && m.partition == 0) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto q = queries_.find(name);
        if (q != queries_.end() && !q->second.loading_error.empty())
          t.error = "its file sources cannot be loaded: " + q->second.loading_error;
      }
      r.tasks.push_back(std::move(t));
    }
  }
  return r;
}

void Node::apply_orders(const NodeOrders& orders, int64_t granted_until) {
  // Leases first (fast, on this thread): only tasks listed with the epoch
  // they run as. Anything else stays fenced and is abandoned below.
  std::map<std::string, std::shared_ptr<Application>> running;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [name, q] : queries_) {
      if (q.app) running[name] = q.app;
    }
  }
  for (const auto& o : orders.tasks) {
    auto it = running.find(o.query);
    if (it != running.end()) it->second->extend_lease(o.partition, o.epoch, granted_until);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  desired_ = orders;
  granted_until_ = granted_until;
  ++desired_version_;
  changed_.notify_all();
}

void Node::extend_valid_leases(int64_t until) {
  // Only leases still running: a node that was stopped (SIGSTOP) past its
  // leases does not revive them on its own.
  const int64_t now = steady_ms();
  std::lock_guard<std::mutex> lock(mutex_);
  if (granted_until_ <= now) return;
  for (const auto& o : desired_.tasks) {
    auto it = queries_.find(o.query);
    if (it != queries_.end() && it->second.app) {
      it->second.app->extend_lease(o.partition, o.epoch, until);
    }
  }
  granted_until_ = std::max(granted_until_, until);
}

void Node::heartbeat_loop(caf::actor_system& system, std::atomic<bool>& stop) {
  caf::scoped_actor self{system};
  coordinator_actor coordinator;
  bool told_unreachable = false;
  int64_t leave_started = 0;
  bool left = false;
  while (!left) {
    if (paused_.load()) {
      // A remote "pause": no heartbeat, no lease, until resumed (bounded).
      if (steady_ms() < paused_until_.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      paused_ = false;
      logger()->warn("node {}: pause bound reached: resuming", options_.name);
    }
    const int64_t sent = steady_ms();
    const bool leaving = stop.load();
    if (leaving && leave_started == 0) {
      leave_started = sent;
      logger()->info("node {}: leaving: handing every task over", options_.name);
    }
    if (!coordinator) {
      Probe p = probe(host_, port_);
      if (p == Probe::Refused) {
        extend_valid_leases(sent + times_.lease_ms);
        if (!told_unreachable) {
          logger()->warn("node {}: coordinator {} is down; tasks keep running", options_.name,
                         options_.coordinator);
          told_unreachable = true;
        }
      } else if (p == Probe::Listening) {
        auto handle = connect_coordinator(system, host_, port_);
        if (!handle) {
          std::string why = system.render(handle.error());
          if (why.find("interface") != std::string::npos) {
            fatal_ = "protocol mismatch with the coordinator at " + options_.coordinator + ": " +
                     why + " (run the same rivulet release on every process)";
            break;
          }
          logger()->warn("node {}: cannot reach the coordinator at {}: {}", options_.name,
                         options_.coordinator, why);
        } else {
          std::string refusal;
          bool answered = false;
          self->request(*handle, std::chrono::milliseconds(times_.lease_ms), hello_atom::value,
                        kProtocolVersion, protocol_type_names(), config_.get("cluster.secret"))
              .receive(
                  [&](const std::string& why) {
                    refusal = why;
                    answered = true;
                  },
                  [&](caf::error& err) {
                    logger()->warn("node {}: hello failed: {}", options_.name, system.render(err));
                  });
          if (answered && !refusal.empty()) {
            fatal_ = "the coordinator at " + options_.coordinator + " refused this node: " + refusal;
            break;
          }
          if (answered && control_) {
            // Our control channel (interactive queries, remote faults).
            self->request(*handle, std::chrono::milliseconds(times_.lease_ms), attach_atom::value,
                          options_.name, config_.get("cluster.secret"), control_)
                .receive(
                    [&](const std::string& why) {
                      if (!why.empty()) {
                        logger()->warn("node {}: control channel refused: {}", options_.name, why);
                      }
                    },
                    [&](caf::error& err) {
                      logger()->warn("node {}: attach failed: {}", options_.name,
                                     system.render(err));
                    });
          }
          if (answered) {
            coordinator = *handle;
            told_unreachable = false;
            logger()->info("node {}: joined the coordinator at {}", options_.name,
                           options_.coordinator);
          }
        }
      }
    }
    if (coordinator) {
      auto report = build_report(leaving);
      bool ok = false;
      NodeOrders orders;
      self->request(coordinator, std::chrono::milliseconds(std::max<int64_t>(times_.heartbeat_ms * 2, 500)),
                    heartbeat_atom::value, report)
          .receive(
              [&](NodeOrders& o) {
                orders = std::move(o);
                ok = true;
              },
              [&](caf::error& err) {
                logger()->warn("node {}: heartbeat failed: {}", options_.name, system.render(err));
              });
      if (ok && !orders.error.empty()) {
        fatal_ = orders.error;
        break;
      }
      if (ok) {
        last_orders_ms_ = steady_ms();
        apply_orders(orders, sent + times_.lease_ms);
        if (leaving && orders.tasks.empty() && report.tasks.empty()) {
          self->request(coordinator, std::chrono::seconds(2), leave_atom::value, options_.name)
              .receive([](bool) {}, [](caf::error&) {});
          left = true;
        }
      } else {
        coordinator = nullptr;
      }
    }
    if (leaving && !left && (sent - leave_started > 60000 || (!coordinator && sent - leave_started > 2000))) {
      logger()->warn("node {}: leaving without the coordinator's hand-over", options_.name);
      break;
    }
    auto wake = sent + times_.heartbeat_ms;
    while (!left && steady_ms() < wake && (stop.load() == leaving)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

std::shared_ptr<Application> Node::app_for(const QueryDef& def) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = queries_.find(def.name);
    if (it != queries_.end()) return it->second.app;
  }
  Query q;
  q.def = def;
  auto planned = sql::plan_script(def.sql);
  // Its name is its application.id (a coordinator from before the rule may
  // hold a name that cannot be one).
  auto named = check_application_id(def.name);
  if (!planned || !named) {
    q.error = planned ? named.error().to_string() : planned.error().to_string();
    logger()->error("node {}: query {} cannot be planned: {}", options_.name, def.name, q.error);
  } else {
    Config c = config_;
    // The file's SET statements, then the query's name as its application.id.
    for (const auto& [k, v] : planned->properties) {
      if (auto r = sql::apply_set(c, k, v); !r) {
        logger()->warn("node {}: query {}: SET '{}': {}", options_.name, def.name, k,
                       r.error().to_string());
      }
    }
    (void)c.set("application.id", def.name);  // checked above
    // File sources are loaded by the node running task 0 (run_loaders);
    // their topics exist (rivulet submit created them and wrote the first
    // load). Memory sources and INSERT INTO ... VALUES rows: submit wrote
    // the rows, once.
    q.sources = file_sources(*planned);
    q.config = c;
    auto app = std::make_shared<Application>(std::move(planned->topology), c);
    app->use_leases();
    if (def.paused) app->pause();  // submitted, then paused before this node ran it
    auto started = app->start({}, 1);
    if (!started) {
      q.error = started.error().to_string();
      logger()->error("node {}: query {} cannot start: {}", options_.name, def.name, q.error);
    } else {
      q.app = std::move(app);
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = queries_[def.name];
  slot = std::move(q);
  return slot.app;
}

void Node::reconcile() {
  NodeOrders desired;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    desired = desired_;
  }
  std::map<TaskId, const TaskOrder*> wanted;
  for (const auto& o : desired.tasks) wanted[TaskId{o.query, o.partition}] = &o;
  // 0. PAUSE / RESUME of the queries run here (a query started later
  //    starts paused or not: app_for).
  for (const auto& def : desired.queries) {
    std::shared_ptr<Application> app;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = queries_.find(def.name);
      if (it != queries_.end()) app = it->second.app;
    }
    if (!app || app->paused() == def.paused) continue;
    if (def.paused) {
      app->pause();
    } else {
      app->resume();
    }
    logger()->info("node {}: query {} {}", options_.name, def.name,
                   def.paused ? "paused" : "resumed");
  }
  // 1. Stale tasks (not ours any more, or another incarnation): stop them
  //    without writing. Their leases were not extended, so they are fenced.
  std::vector<std::pair<std::string, std::shared_ptr<Application>>> running;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [name, q] : queries_) {
      if (q.app) running.emplace_back(name, q.app);
    }
  }
  for (auto& [name, app] : running) {
    for (const auto& m : app->task_metrics()) {
      auto it = wanted.find(TaskId{name, m.partition});
      if (it == wanted.end() || it->second->epoch != m.epoch) {
        logger()->warn("node {}: task {}-{} (epoch {}) is no longer ours: stopping it unwritten",
                       options_.name, name, m.partition, m.epoch);
        app->abandon_task(m.partition);
      }
    }
  }
  // 2. Hand-overs: checkpoint, commit, stop.
  for (const auto& o : desired.tasks) {
    if (!o.release) continue;
    std::shared_ptr<Application> app;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = queries_.find(o.query);
      if (it != queries_.end()) app = it->second.app;
    }
    if (!app) continue;
    auto parts = app->task_partitions();
    if (std::find(parts.begin(), parts.end(), o.partition) == parts.end()) continue;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      releasing_.insert(TaskId{o.query, o.partition});
    }
    // The loader stops before task 0 is reported gone, so that the next
    // owner's loader starts after this one's last write.
    if (o.partition == 0) stop_loader(o.query);
    auto begin = steady_ms();
    auto r = app->remove_task(o.partition);
    if (!r) {
      logger()->error("node {}: hand-over of {}-{}: {}", options_.name, o.query, o.partition,
                      r.error().to_string());
    } else {
      logger()->info("node {}: handed {}-{} over in {} ms", options_.name, o.query, o.partition,
                     steady_ms() - begin);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    releasing_.erase(TaskId{o.query, o.partition});
  }
  // 3. New tasks: restore from the shared checkpoint store and run.
  for (const auto& o : desired.tasks) {
    if (o.release) continue;
    const QueryDef* def = nullptr;
    for (const auto& q : desired.queries) {
      if (q.name == o.query) def = &q;
    }
    if (!def) continue;
    auto app = app_for(*def);
    if (!app) continue;
    auto parts = app->task_partitions();
    if (std::find(parts.begin(), parts.end(), o.partition) != parts.end()) continue;
    auto begin = steady_ms();
    auto r = app->add_task(o.partition, o.epoch);
    if (!r) {
      logger()->error("node {}: starting {}-{}: {}", options_.name, o.query, o.partition,
                      r.error().to_string());
      std::lock_guard<std::mutex> lock(mutex_);
      start_errors_[TaskId{o.query, o.partition}] = "starting the task: " + r.error().to_string();
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      start_errors_.erase(TaskId{o.query, o.partition});
    }
    // The lease granted with these orders (unless newer orders dropped it).
    int64_t until = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& now_wanted : desired_.tasks) {
        if (now_wanted.query == o.query && now_wanted.partition == o.partition &&
            now_wanted.epoch == o.epoch && !now_wanted.release) {
          until = granted_until_;
        }
      }
    }
    if (until > 0 && !paused_.load()) app->extend_lease(o.partition, o.epoch, until);
    logger()->info("node {}: task {}-{} started (epoch {}) in {} ms", options_.name, o.query,
                   o.partition, o.epoch, steady_ms() - begin);
  }
  drop_terminated(desired);
  run_loaders();
}

void Node::drop_terminated(const NodeOrders& desired) {
  // A query the coordinator no longer lists (terminated) is dropped here
  // once none of its tasks runs here: its loader and Application stop.
  std::set<std::string> listed;
  for (const auto& q : desired.queries) listed.insert(q.name);
  for (const auto& o : desired.tasks) listed.insert(o.query);
  std::vector<std::pair<std::string, std::shared_ptr<Application>>> candidates;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [name, q] : queries_)
      if (!listed.count(name)) candidates.emplace_back(name, q.app);
  }
  for (auto& [name, app] : candidates) {
    if (app && !app->task_partitions().empty()) continue;
    Query gone;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = queries_.find(name);
      if (it == queries_.end()) continue;
      gone = std::move(it->second);
      queries_.erase(it);
      for (auto e = start_errors_.begin(); e != start_errors_.end();)
        e = e->first.query == name ? start_errors_.erase(e) : std::next(e);
    }
    // The Application stops when its last holder lets it go (here, or a
    // thread reporting on it right now).
    if (gone.loading) gone.loading->stop();
    gone.app.reset();
    logger()->info("node {}: query {} terminated: no longer run here", options_.name, name);
  }
}

void Node::stop_loader(const std::string& query) {
  std::shared_ptr<SourceLoading> loading;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = queries_.find(query);
    if (it == queries_.end() || !it->second.loading) return;
    loading = std::move(it->second.loading);
  }
  loading->stop();  // writes what it polled, while the lease still runs
  logger()->info("node {}: query {}: file sources no longer loaded here", options_.name, query);
}

void Node::run_loaders() {
  struct Loaded {
    std::string query;
    std::shared_ptr<Application> app;
    bool loading = false;
  };
  std::vector<Loaded> queries;
  const int64_t now = steady_ms();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [name, q] : queries_) {
      if (q.sources.empty() || !q.app) continue;
      if (!q.loading && now < q.loading_retry_ms) continue;
      queries.push_back({name, q.app, q.loading != nullptr});
    }
  }
  for (const Loaded& l : queries) {
    auto parts = l.app->task_partitions();
    bool here = std::find(parts.begin(), parts.end(), 0) != parts.end();
    std::vector<sql::SourceInfo> sources;
    Config config;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      here = here && releasing_.count(TaskId{l.query, 0}) == 0;
      if (here && !l.loading) {
        const Query& q = queries_.at(l.query);
        sources = q.sources;
        config = q.config;
      }
    }
    if (!here) {
      if (l.loading) stop_loader(l.query);
      continue;
    }
    if (l.loading) continue;
    // Task 0 runs here: load its query's files, writing only while its
    // lease runs. start() restores what the topics hold first, so what
    // the previous loader (another node, or rivulet submit) wrote is not
    // written again.
    auto app = l.app;
    auto started = SourceLoading::start(sources, config, [app] { return app->may_write(0); });
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = queries_.find(l.query);
    if (it == queries_.end()) continue;
    Query& q = it->second;
    if (!started) {
      const std::string why = started.error().to_string();
      if (why != q.loading_error)
        logger()->error("node {}: query {}: its file sources cannot be loaded: {}", options_.name,
                        l.query, why);
      q.loading_error = why;
      q.loading_retry_ms = steady_ms() + 2000;
      continue;
    }
    q.loading_error.clear();
    q.loading = std::move(*started);
    logger()->info("node {}: query {}: loading its file sources (task 0 runs here)", options_.name,
                   l.query);
  }
}

void Node::controller_loop() {
  uint64_t seen = 0;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait_for(lock, std::chrono::milliseconds(200),
                        [&] { return controller_stop_ || desired_version_ != seen; });
      if (controller_stop_) return;
      seen = desired_version_;
    }
    reconcile();
  }
}

int Node::run(std::atomic<bool>& stop) {
  auto coordinator = parse_host_port(options_.coordinator);
  if (!coordinator) {
    std::cerr << "rivulet node: --coordinator: " << coordinator.error().message << "\n";
    return 2;
  }
  host_ = coordinator->host;
  port_ = coordinator->port;
  if (options_.name.empty()) {
    std::cerr << "rivulet node: --name must not be empty\n";
    return 2;
  }
  if (config_.get("bootstrap.servers").empty()) {
    std::cerr << "rivulet node: bootstrap.servers is not set (--config FILE or "
                 "RIVULET_BOOTSTRAP_SERVERS)\n";
    return 2;
  }
  set_log_level(config_.get("log.level"));
  report_host_ = (host_ == "127.0.0.1" || host_ == "localhost" || host_ == "::1") ? "127.0.0.1" : host_;
  if (report_host_ != "127.0.0.1") {
    char name[256] = {0};
    if (::gethostname(name, sizeof name - 1) == 0) report_host_ = name;
  }
  auto tls = tls_settings(config_);
  if (auto why = check_tls(tls); !why.empty()) {
    std::cerr << "rivulet node: " << why << "\n";
    return 2;
  }
  std::unique_ptr<NodeHttp> http;
  if (!options_.http.empty()) {
    auto started = NodeHttp::start(
        options_.http, options_.name, [this] { return apps(); },
        [this] { return starting_tasks(); }, [this] { return failed_tasks(); });
    if (!started) {
      std::cerr << "rivulet node: --http: " << started.error().to_string() << "\n";
      return 2;
    }
    http = std::move(*started);
    options_.http = http->address();
  }
  std::thread controller([this] {
    set_thread_name("rivulet.node");
    controller_loop();
  });
  {
    caf::actor_system_config cfg;
    configure_cluster_system(cfg, times_.failure_timeout_ms, tls);
    caf::actor_system system{cfg};
    NodeControlHooks hooks;
    hooks.name = options_.name;
    hooks.app = [this](const std::string& query) -> std::shared_ptr<Application> {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = queries_.find(query);
      return it == queries_.end() ? nullptr : it->second.app;
    };
    hooks.pause = [this](int64_t max_ms) { pause(max_ms); };
    hooks.resume = [this] { resume(); };
    control_ = spawn_node_control(system, std::move(hooks));
    std::cout << "node " << options_.name << " started (pid " << ::getpid() << ")"
              << (options_.http.empty() ? "" : ", http " + options_.http) << std::endl;
    heartbeat_loop(system, stop);
    caf::anon_send_exit(control_, caf::exit_reason::user_shutdown);
    control_ = nullptr;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    controller_stop_ = true;
    changed_.notify_all();
  }
  controller.join();
  http.reset();
  bool ok = true;
  for (auto& app : apps()) ok = app->stop() && ok;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queries_.clear();
  }
  if (!fatal_.empty()) {
    std::cerr << "rivulet node " << options_.name << ": " << fatal_ << "\n";
    logger()->error("node {}: {}", options_.name, fatal_);
    return 3;
  }
  logger()->info("node {}: stopped", options_.name);
  return ok ? 0 : 1;
}

}  // namespace

int run_node(const NodeOptions& options, const Config& config, std::atomic<bool>& stop) {
  Node node(options, config);
  return node.run(stop);
}

}  // namespace rivulet::cluster
