#include "cluster/coordinator.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include <caf/io/all.hpp>

#include "cluster/coordinator_state.hpp"
#include "cluster/protocol.hpp"
#include "cluster/transport.hpp"
#include "runtime/host_port.hpp"
#include "runtime/log.hpp"

namespace rivulet::cluster {

ClusterTimes cluster_times(const Config& config) {
  ClusterTimes t;
  t.failure_timeout_ms = config.get_int("cluster.failure.timeout.ms");
  t.heartbeat_ms = config.get_int("cluster.heartbeat.interval.ms");
  t.lease_ms = t.failure_timeout_ms / 2;
  return t;
}

namespace {

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

// <state.dir>/cluster/coordinator.json: the submitted queries, those being
// terminated, and the epoch counter, so that a restarted coordinator
// neither forgets a query, nor runs a terminated one again, nor hands out
// an epoch twice.
class StateFile {
 public:
  explicit StateFile(const std::string& state_dir)
      : path_(std::filesystem::path(state_dir) / "cluster" / "coordinator.json") {}

  bool load(std::vector<QueryDef>& queries, std::vector<QueryDef>& terminating, int64_t& epoch,
            std::string& error) {
    std::ifstream in(path_);
    if (!in) return true;  // first start
    try {
      auto j = nlohmann::json::parse(in);
      epoch = j.value("epoch", int64_t{0});
      auto read = [](const nlohmann::json& q) {
        QueryDef def{q.at("name").get<std::string>(),
                     q.at("sql").get<std::string>(),
                     q.at("partitions").get<int32_t>(),
                     {}};
        if (q.contains("smaller_inputs"))
          def.smaller_inputs = q.at("smaller_inputs").get<std::map<std::string, int32_t>>();
        def.paused = q.value("paused", false);
        return def;
      };
      for (const auto& q : j.at("queries")) queries.push_back(read(q));
      if (j.contains("terminating"))
        for (const auto& q : j.at("terminating")) terminating.push_back(read(q));
    } catch (const std::exception& e) {
      error = "cannot read " + path_.string() + ": " + e.what();
      return false;
    }
    return true;
  }

  void save(const std::vector<QueryDef>& queries, const std::vector<QueryDef>& terminating,
            int64_t epoch) {
    nlohmann::json j;
    j["epoch"] = epoch;
    for (const char* list : {"queries", "terminating"}) {
      j[list] = nlohmann::json::array();
      for (const auto& q : std::string(list) == "queries" ? queries : terminating) {
        nlohmann::json one{{"name", q.name}, {"sql", q.sql}, {"partitions", q.partitions}};
        if (!q.smaller_inputs.empty()) one["smaller_inputs"] = q.smaller_inputs;
        if (q.paused) one["paused"] = true;
        j[list].push_back(std::move(one));
      }
    }
    std::error_code ec;
    std::filesystem::create_directories(path_.parent_path(), ec);
    auto tmp = path_;
    tmp += ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << j.dump(2) << "\n";
      out.flush();
      if (!out) {
        logger()->error("coordinator: cannot write {}", tmp.string());
        return;
      }
    }
    std::filesystem::rename(tmp, path_, ec);
    if (ec) logger()->error("coordinator: cannot replace {}: {}", path_.string(), ec.message());
  }

 private:
  std::filesystem::path path_;
};

struct CoordinatorActorState {
  static inline const char* name = "rivulet.coordinator";
  std::shared_ptr<CoordinatorState> core;
  std::unique_ptr<StateFile> file;
  std::string secret;
  int64_t saved_epoch = -1;
  size_t saved_queries = 0, saved_terminating = 0;
  std::string saved_paused;  // the paused queries' names
  // Connections of nodes (the proxies of their heartbeat senders).
  std::map<caf::actor_addr, std::string> node_of;
  // The nodes' control actors (interactive queries, remote faults), by name.
  std::map<std::string, caf::actor> control_of;

  void after_change() {
    for (const auto& e : core->take_events()) logger()->info("coordinator: {}", e);
    auto queries = core->queries();
    auto terminating = core->terminating();
    std::string paused;
    for (const auto& q : queries)
      if (q.paused) paused += q.name + '\n';
    if (core->epoch() != saved_epoch || queries.size() != saved_queries ||
        terminating.size() != saved_terminating || paused != saved_paused) {
      file->save(queries, terminating, core->epoch());
      saved_epoch = core->epoch();
      saved_queries = queries.size();
      saved_terminating = terminating.size();
      saved_paused = paused;
    }
  }
};

using coordinator_pointer = coordinator_actor::stateful_pointer<CoordinatorActorState>;

// rivulet query: the owner of (query, partition) looks the key up in its
// task, as the incarnation the coordinator knows (a stale copy does not answer).
caf::result<std::string, int32_t, std::string> forward_lookup(coordinator_pointer self,
                                                              const std::string& query,
                                                              int32_t partition,
                                                              const std::string& store,
                                                              const std::string& key) {
  auto& st = self->state;
  const TaskKey task{query, partition};
  const std::string owner = st.core->owner(task);
  if (owner.empty()) {
    return caf::result<std::string, int32_t, std::string>(
        std::string(), int32_t{kLookupError},
        "task " + task.to_string() + " has no owner right now (no live node, or not submitted)");
  }
  auto it = st.control_of.find(owner);
  if (it == st.control_of.end()) {
    return caf::result<std::string, int32_t, std::string>(
        owner, int32_t{kLookupError},
        "node " + owner + " (owner of task " + task.to_string() +
            ") has no control connection to the coordinator");
  }
  const int64_t epoch = st.core->task_epoch(task);
  auto rp = self->make_response_promise<std::string, int32_t, std::string>();
  self->request(it->second, std::chrono::seconds(5), lookup_atom::value, query, partition, epoch,
                store, key)
      .then(
          [=](int32_t status, std::string& payload) mutable {
            rp.deliver(owner, status, std::move(payload));
          },
          [=](caf::error& err) mutable {
            rp.deliver(owner, int32_t{kLookupError},
                       "node " + owner + " did not answer: " + self->system().render(err));
          });
  return rp;
}

// rivulet chaos on a node that is not on the chaos tool's machine.
caf::result<std::string> forward_fault(coordinator_pointer self, const std::string& node,
                                       const std::string& kind, int64_t max_ms,
                                       const std::string& secret) {
  auto& st = self->state;
  if (secret != st.secret) {
    return std::string("cluster.secret mismatch: a fault request needs the cluster's secret");
  }
  auto it = st.control_of.find(node);
  if (it == st.control_of.end()) {
    std::string known;
    for (const auto& [name, actor] : st.control_of) known += (known.empty() ? "" : ", ") + name;
    return "node " + node + " is not connected to the coordinator (connected: " +
           (known.empty() ? std::string("none") : known) + ")";
  }
  logger()->warn("coordinator: fault request: {} node {}", kind, node);
  auto rp = self->make_response_promise<std::string>();
  self->request(it->second, std::chrono::seconds(5), fault_atom::value, kind, max_ms)
      .then([=](std::string& answer) mutable { rp.deliver(std::move(answer)); },
            [=](caf::error& err) mutable {
              rp.deliver("node " + node + " did not answer the fault request: " +
                         self->system().render(err));
            });
  return rp;
}

coordinator_actor::behavior_type coordinator_behavior(coordinator_pointer self,
                                                      std::shared_ptr<CoordinatorState> seed,
                                                      std::string state_dir, std::string secret) {
  self->state.core = std::move(seed);
  self->state.secret = std::move(secret);
  self->state.file = std::make_unique<StateFile>(state_dir);
  self->set_down_handler([=](const caf::down_msg& msg) {
    auto& st = self->state;
    for (auto c = st.control_of.begin(); c != st.control_of.end(); ++c) {
      if (c->second.address() == msg.source) {
        st.control_of.erase(c);
        break;
      }
    }
    auto it = st.node_of.find(msg.source);
    if (it == st.node_of.end()) return;
    st.core->connection_lost(it->second, now_ms());
    st.node_of.erase(it);
    st.after_change();
  });
  self->send(self, tick_atom::value);
  return {
      [=](hello_atom, uint32_t version, const std::vector<std::string>& types,
          const std::string& secret) -> std::string {
        auto why = check_hello(version, types, secret, self->state.secret);
        if (!why.empty()) logger()->warn("coordinator: refused a node: {}", why);
        return why;
      },
      [=](heartbeat_atom, const NodeReport& report) -> NodeOrders {
        auto& st = self->state;
        auto orders = st.core->heartbeat(report, now_ms());
        if (orders.error.empty()) {
          auto sender = caf::actor_cast<caf::actor>(self->current_sender());
          if (sender && !st.node_of.count(sender.address())) {
            self->monitor(sender);
            st.node_of[sender.address()] = report.name;
          }
        }
        st.after_change();
        return orders;
      },
      [=](leave_atom, const std::string& name) -> bool {
        self->state.core->left(name, now_ms());
        self->state.after_change();
        return true;
      },
      [=](submit_atom, const QueryDef& query, const std::string& secret) -> std::string {
        auto r = self->state.core->submit(query, secret, now_ms());
        self->state.after_change();
        return r;
      },
      [=](terminate_atom, const std::string& name, const std::string& secret) -> std::string {
        auto r = self->state.core->terminate(name, secret, now_ms());
        self->state.after_change();
        return r;
      },
      [=](pause_atom, const std::string& name, bool paused,
          const std::string& secret) -> std::string {
        auto r = self->state.core->set_paused(name, paused, secret);
        self->state.after_change();
        return r;
      },
      [=](status_atom) -> std::string { return self->state.core->status_json(now_ms()); },
      [=](attach_atom, const std::string& name, const std::string& secret,
          const caf::actor& control) -> std::string {
        auto& st = self->state;
        if (secret != st.secret) return "cluster.secret mismatch";
        if (!control) return "no control actor";
        auto& slot = st.control_of[name];
        if (slot != control) {
          slot = control;
          self->monitor(control);
        }
        return "";
      },
      [=](queries_atom) -> std::vector<QueryDef> { return self->state.core->queries(); },
      [=](lookup_atom, const std::string& query, int32_t partition, const std::string& store,
          const std::string& key) -> caf::result<std::string, int32_t, std::string> {
        return forward_lookup(self, query, partition, store, key);
      },
      [=](fault_atom, const std::string& node, const std::string& kind, int64_t max_ms,
          const std::string& secret) -> caf::result<std::string> {
        return forward_fault(self, node, kind, max_ms, secret);
      },
      [=](tick_atom) {
        auto& st = self->state;
        st.core->tick(now_ms());
        st.after_change();
        // Only our own timer re-arms itself (a tick from elsewhere adds no timer).
        if (self->current_sender() != caf::actor_cast<caf::strong_actor_ptr>(self)) return;
        self->delayed_send(self, std::chrono::milliseconds(100), tick_atom::value);
      },
  };
}

}  // namespace

int run_coordinator(const std::string& listen, const Config& config, std::atomic<bool>& stop) {
  auto address = parse_host_port(listen);
  if (!address) {
    std::cerr << "rivulet coordinator: --listen: " << address.error().message << "\n";
    return 2;
  }
  const std::string host = address->host;
  const uint16_t port = address->port;
  set_log_level(config.get("log.level"));
  auto times = cluster_times(config);
  if (times.heartbeat_ms * 3 > times.lease_ms) {
    std::cerr << "rivulet coordinator: cluster.heartbeat.interval.ms (" << times.heartbeat_ms
              << ") must be at most a sixth of cluster.failure.timeout.ms ("
              << times.failure_timeout_ms << ")\n";
    return 2;
  }
  StateFile file(config.get("state.dir"));
  std::vector<QueryDef> queries, terminating;
  int64_t epoch = 0;
  std::string error;
  if (!file.load(queries, terminating, epoch, error)) {
    std::cerr << "rivulet coordinator: " << error << "\n";
    return 1;
  }

  auto tls = tls_settings(config);
  if (auto why = check_tls(tls); !why.empty()) {
    std::cerr << "rivulet coordinator: " << why << "\n";
    return 2;
  }
  caf::actor_system_config cfg;
  configure_cluster_system(cfg, times.failure_timeout_ms, tls);
  caf::actor_system system{cfg};
  CoordinatorTimes ct{times.failure_timeout_ms, times.lease_ms, 100};
  auto core = std::make_shared<CoordinatorState>(ct, config.get("cluster.secret"), now_ms());
  core->restore(queries, epoch, now_ms(), terminating);
  core->set_bootstrap(config.get("bootstrap.servers"));
  auto coordinator =
      system.spawn(coordinator_behavior, core, config.get("state.dir"), config.get("cluster.secret"));
  auto bound = publish_coordinator(system, coordinator, port, host);
  if (!bound) {
    std::cerr << "rivulet coordinator: cannot listen on " << listen << ": "
              << system.render(bound.error()) << "\n";
    caf::anon_send_exit(coordinator, caf::exit_reason::user_shutdown);
    return 1;
  }
  std::cout << "coordinator listening on " << host << ":" << *bound << (tls.enabled() ? " (TLS)" : "")
            << std::endl;
  logger()->info("coordinator: listening on {}:{} (failure timeout {} ms, lease {} ms, heartbeat {} ms)",
                 host, *bound, times.failure_timeout_ms, times.lease_ms, times.heartbeat_ms);
  while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  logger()->info("coordinator: stopping");
  caf::anon_send_exit(coordinator, caf::exit_reason::user_shutdown);
  return 0;
}

}  // namespace rivulet::cluster
