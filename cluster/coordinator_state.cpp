#include "cluster/coordinator_state.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "runtime/config.hpp"

namespace rivulet::cluster {

CoordinatorState::CoordinatorState(CoordinatorTimes times, std::string secret, int64_t now_ms)
    : times_(times), secret_(std::move(secret)), started_(now_ms) {}

void CoordinatorState::restore(std::vector<QueryDef> queries, int64_t epoch, int64_t now_ms,
                               std::vector<QueryDef> terminating) {
  epoch_ = std::max(epoch_, epoch);
  for (auto& q : queries) queries_[q.name] = std::move(q);
  for (const auto& key : all_tasks()) tasks_.emplace(key, Task{});
  for (auto& q : terminating) {
    if (queries_.count(q.name)) continue;
    for (int32_t p = 0; p < q.partitions; ++p) tasks_.emplace(TaskKey{q.name, p}, Task{});
    terminating_[q.name] = std::move(q);
  }
  if (!queries_.empty() || !terminating_.empty()) {
    rebuild_until_ = now_ms + times_.failure_timeout_ms;
    events_.push_back("restored " + std::to_string(queries_.size()) +
                      " queries; adopting reported tasks for " +
                      std::to_string(times_.failure_timeout_ms) + " ms before assigning others");
  }
}

std::vector<QueryDef> CoordinatorState::queries() const {
  std::vector<QueryDef> out;
  for (const auto& [name, q] : queries_) out.push_back(q);
  return out;
}

std::vector<QueryDef> CoordinatorState::terminating() const {
  std::vector<QueryDef> out;
  for (const auto& [name, q] : terminating_) out.push_back(q);
  return out;
}

std::vector<TaskKey> CoordinatorState::all_tasks() const {
  std::vector<TaskKey> out;
  for (const auto& [name, q] : queries_) {
    for (int32_t p = 0; p < q.partitions; ++p) out.push_back(TaskKey{name, p});
  }
  return out;
}

std::string CoordinatorState::owner(const TaskKey& task) const {
  auto it = tasks_.find(task);
  return it == tasks_.end() ? "" : it->second.owner;
}

int64_t CoordinatorState::task_epoch(const TaskKey& task) const {
  auto it = tasks_.find(task);
  return it == tasks_.end() ? 0 : it->second.epoch;
}

std::string CoordinatorState::node_state(const std::string& node) const {
  auto it = nodes_.find(node);
  return it == nodes_.end() ? "" : it->second.state;
}

std::vector<std::string> CoordinatorState::take_events() {
  std::vector<std::string> out;
  out.swap(events_);
  return out;
}

const TaskReport* CoordinatorState::reported(const std::string& node, const TaskKey& key) const {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return nullptr;
  for (const auto& t : it->second.tasks) {
    if (t.query == key.query && t.partition == key.partition) return &t;
  }
  return nullptr;
}

std::string CoordinatorState::submit(const QueryDef& query, const std::string& secret,
                                     int64_t now_ms) {
  if (secret != secret_) return "cluster.secret mismatch: submit refused";
  if (query.name.empty()) return "a query needs a name";
  // The name is its application.id on every node.
  if (auto ok = check_application_id(query.name); !ok)
    return "query name '" + query.name + "': " + ok.error().message;
  if (query.partitions <= 0) return "query " + query.name + " has no partitions";
  if (terminating_.count(query.name))
    return "query '" + query.name +
           "' is being terminated: submit it again once `rivulet status` no longer lists it";
  auto it = queries_.find(query.name);
  if (it != queries_.end()) {
    if (it->second.sql == query.sql && it->second.partitions == query.partitions) return "";
    return "query '" + query.name + "' is already registered with a different text";
  }
  queries_[query.name] = query;
  for (int32_t p = 0; p < query.partitions; ++p) tasks_.emplace(TaskKey{query.name, p}, Task{});
  events_.push_back("query " + query.name + " submitted with " +
                    std::to_string(query.partitions) + " tasks");
  replan(now_ms);
  return "";
}

std::string CoordinatorState::terminate(const std::string& name, const std::string& secret,
                                        int64_t now_ms) {
  if (secret != secret_) return "cluster.secret mismatch: terminate refused";
  if (terminating_.count(name)) return "";  // already on its way
  auto it = queries_.find(name);
  if (it == queries_.end()) {
    std::string known;
    for (const auto& [n, q] : queries_) known += (known.empty() ? "" : ", ") + n;
    return "no query named '" + name + "' (submitted: " + (known.empty() ? "none" : known) + ")";
  }
  terminating_[name] = std::move(it->second);
  queries_.erase(it);
  events_.push_back("query " + name + " terminating: its tasks are released and not reassigned");
  replan(now_ms);
  return "";
}

std::string CoordinatorState::set_paused(const std::string& name, bool paused,
                                         const std::string& secret) {
  if (secret != secret_)
    return std::string("cluster.secret mismatch: ") + (paused ? "pause" : "resume") + " refused";
  auto it = queries_.find(name);
  if (it == queries_.end()) {
    if (terminating_.count(name)) return "query '" + name + "' is being terminated";
    std::string known;
    for (const auto& [n, q] : queries_) known += (known.empty() ? "" : ", ") + n;
    return "no query named '" + name + "' (submitted: " + (known.empty() ? "none" : known) + ")";
  }
  if (it->second.paused != paused)
    events_.push_back("query " + name + (paused ? " paused" : " resumed"));
  it->second.paused = paused;
  return "";
}

void CoordinatorState::give(const TaskKey& key, Task& task, std::string node, int64_t now_ms) {
  task.owner = node;
  task.epoch = ++epoch_;
  task.releasing = false;
  task.next.clear();
  task.owned_since = now_ms;
  events_.push_back("task " + key.to_string() + " -> " + node + " (epoch " +
                    std::to_string(task.epoch) + ")");
}

NodeOrders CoordinatorState::heartbeat(const NodeReport& report, int64_t now_ms) {
  NodeOrders orders;
  if (report.secret != secret_) {
    orders.error = "cluster.secret mismatch: node " + report.name + " refused";
    return orders;
  }
  if (report.name.empty()) {
    orders.error = "a node needs a name (--name)";
    return orders;
  }
  Node& node = nodes_[report.name];
  if (node.name.empty() || node.state == "dead" || node.state == "left") {
    events_.push_back("node " + report.name + (node.name.empty() ? " joined" : " rejoined") +
                      " (pid " + std::to_string(report.pid) + ")");
  } else if (node.pid != 0 && node.pid != report.pid) {
    events_.push_back("node " + report.name + " restarted (pid " + std::to_string(node.pid) +
                      " -> " + std::to_string(report.pid) + ")");
  }
  node.name = report.name;
  node.pid = report.pid;
  node.host = report.host;
  node.http = report.http;
  node.state = "alive";
  node.dead_after = 0;
  node.last_heard = now_ms;
  if (report.leaving && !node.leaving) events_.push_back("node " + report.name + " is leaving");
  node.leaving = report.leaving;
  node.tasks = report.tasks;
  for (const auto& r : report.tasks) note_rate(report.name, r, now_ms);

  // Adopt what nobody owns (after a coordinator restart): the highest epoch
  // reported wins; anything older than what this state gave out is stale.
  for (const auto& r : report.tasks) {
    auto it = tasks_.find(TaskKey{r.query, r.partition});
    if (it == tasks_.end()) continue;
    Task& t = it->second;
    // A fenced copy (lease run out) is not adopted: its node was cut off, and
    // the task may have run elsewhere since.
    if (t.owner.empty() && r.epoch >= t.epoch && r.state != "fenced") {
      t.owner = report.name;
      t.epoch = r.epoch;
      t.owned_since = now_ms;
      epoch_ = std::max(epoch_, r.epoch);
      events_.push_back("task " + it->first.to_string() + " adopted from " + report.name +
                        " (epoch " + std::to_string(r.epoch) + ")");
    }
  }
  // Hand-overs this node completed: it no longer runs a task it releases.
  for (auto& [key, t] : tasks_) {
    if (t.owner != report.name || !t.releasing) continue;
    if (reported(report.name, key) != nullptr) continue;
    events_.push_back("task " + key.to_string() + " released by " + report.name);
    t.owner.clear();
    t.releasing = false;
    auto next = nodes_.find(t.next);
    if (next != nodes_.end() && next->second.state == "alive" && !next->second.leaving) {
      give(key, t, t.next, now_ms);
    }
  }
  replan(now_ms);

  for (const auto& [key, t] : tasks_) {
    if (t.owner != report.name) continue;
    orders.tasks.push_back(TaskOrder{key.query, key.partition, t.epoch, t.releasing});
  }
  orders.queries = queries();
  return orders;
}

void CoordinatorState::note_rate(const std::string& node, const TaskReport& r, int64_t now_ms) {
  Rate& rate = rates_[TaskKey{r.query, r.partition}];
  // Counters start again with every incarnation: a new window, rates unknown.
  if (rate.node != node || rate.epoch != r.epoch || r.records_in < rate.in ||
      r.records_out < rate.out) {
    rate = Rate{node, r.epoch, now_ms, r.records_in, r.records_out, -1, -1};
    return;
  }
  if (now_ms - rate.since < kRateWindowMs) return;
  const double seconds = static_cast<double>(now_ms - rate.since) / 1000.0;
  rate.in_per_s = static_cast<double>(r.records_in - rate.in) / seconds;
  rate.out_per_s = static_cast<double>(r.records_out - rate.out) / seconds;
  rate.since = now_ms;
  rate.in = r.records_in;
  rate.out = r.records_out;
}

void CoordinatorState::connection_lost(const std::string& name, int64_t now_ms) {
  auto it = nodes_.find(name);
  if (it == nodes_.end() || it->second.state != "alive") return;
  it->second.state = "suspect";
  // Its leases were granted for heartbeats sent before last_heard.
  it->second.dead_after = it->second.last_heard + times_.lease_ms + times_.margin_ms;
  events_.push_back("node " + name + " lost its connection; dead unless it reports within " +
                    std::to_string(std::max<int64_t>(0, it->second.dead_after - now_ms)) + " ms");
}

void CoordinatorState::left(const std::string& name, int64_t now_ms) {
  auto it = nodes_.find(name);
  if (it == nodes_.end()) return;
  it->second.state = "left";
  it->second.tasks.clear();
  events_.push_back("node " + name + " left");
  // Whatever it still owned was released or never started: replan.
  for (auto& [key, t] : tasks_) {
    if (t.owner == name) {
      t.owner.clear();
      t.releasing = false;
    }
  }
  replan(now_ms);
}

void CoordinatorState::declare_dead(Node& node, int64_t now_ms, const std::string& why) {
  node.state = "dead";
  node.tasks.clear();
  int moved = 0;
  for (auto& [key, t] : tasks_) {
    if (t.owner == node.name) {
      t.owner.clear();
      t.releasing = false;
      ++moved;
    }
    if (t.next == node.name) t.next.clear();
  }
  events_.push_back("node " + node.name + " declared dead (" + why + "); " +
                    std::to_string(moved) + " tasks to reassign");
  (void)now_ms;
}

void CoordinatorState::tick(int64_t now_ms) {
  for (auto& [name, node] : nodes_) {
    if (node.state != "alive" && node.state != "suspect") continue;
    if (now_ms - node.last_heard >= times_.failure_timeout_ms) {
      declare_dead(node, now_ms,
                   "silent for " + std::to_string(now_ms - node.last_heard) + " ms");
    } else if (node.state == "suspect" && now_ms >= node.dead_after) {
      declare_dead(node, now_ms, "connection lost and its leases expired");
    }
  }
  replan(now_ms);
}

void CoordinatorState::replan(int64_t now_ms) {
  std::vector<std::string> live;
  for (const auto& [name, node] : nodes_) {
    if (node.state == "alive" && !node.leaving) live.push_back(name);
  }
  Assignment current;
  for (const auto& [key, t] : tasks_) {
    if (t.owner.empty()) continue;
    // A suspect node keeps its tasks until declared dead; a leaving one
    // is not live, so its tasks are planned elsewhere.
    current[key] = t.owner;
  }
  const bool rebuild = rebuilding(now_ms);
  Assignment target = assign(all_tasks(), live, current);
  std::set<std::string> still_running;  // terminating queries with a task still owned
  for (auto& [key, t] : tasks_) {
    if (terminating_.count(key.query)) {
      // Released by its owner (a suspect one keeps it until it reports
      // again or is declared dead), given to nobody.
      if (t.owner.empty()) continue;
      still_running.insert(key.query);
      t.releasing = true;
      t.next.clear();
      continue;
    }
    auto it = target.find(key);
    if (it == target.end()) {
      // No live node for it: an owner keeps it (even a leaving one, until
      // another node can take it over).
      if (t.releasing) {
        t.releasing = false;
        t.next.clear();
      }
      continue;
    }
    const std::string& to = it->second;
    if (t.owner.empty()) {
      if (!rebuild) give(key, t, to, now_ms);
      continue;
    }
    auto owner = nodes_.find(t.owner);
    if (owner != nodes_.end() && owner->second.state == "suspect") continue;  // wait and see
    if (to == t.owner) {
      if (t.releasing) {
        t.releasing = false;
        t.next.clear();
      }
      continue;
    }
    if (rebuild) continue;  // nothing moves while nodes may still report
    if (!t.releasing) {
      events_.push_back("task " + key.to_string() + ": " + t.owner + " hands it over to " + to);
    }
    t.releasing = true;
    t.next = to;
  }
  // Forgotten once no node holds a task (after a restart, not before every
  // node could report what it runs).
  for (auto q = terminating_.begin(); q != terminating_.end();) {
    if (still_running.count(q->first) || rebuild) {
      ++q;
      continue;
    }
    for (int32_t p = 0; p < q->second.partitions; ++p) {
      tasks_.erase(TaskKey{q->first, p});
      rates_.erase(TaskKey{q->first, p});
    }
    events_.push_back("query " + q->first + " terminated: no node runs its tasks");
    q = terminating_.erase(q);
  }
}

std::string CoordinatorState::status_json(int64_t now_ms) const {
  using nlohmann::json;
  json out;
  out["coordinator"] = {
      {"epoch", epoch_}, {"rebuilding", rebuilding(now_ms)}, {"bootstrap", bootstrap_}};
  out["nodes"] = json::array();
  std::map<std::string, int> owned;
  for (const auto& [key, t] : tasks_) {
    if (!t.owner.empty()) ++owned[t.owner];
  }
  for (const auto& [name, n] : nodes_) {
    out["nodes"].push_back({{"name", name},
                            {"pid", n.pid},
                            {"host", n.host},
                            {"http", n.http},
                            {"state", n.state == "alive" && n.leaving ? "leaving" : n.state},
                            {"tasks", owned[name]},
                            {"last_heard_ms", now_ms - n.last_heard}});
  }
  out["queries"] = json::array();
  for (const auto& [name, q] : queries_) {
    out["queries"].push_back({{"name", name}, {"partitions", q.partitions}, {"paused", q.paused}});
  }
  for (const auto& [name, q] : terminating_) {
    out["queries"].push_back({{"name", name}, {"partitions", q.partitions}, {"terminating", true}});
  }
  out["tasks"] = json::array();
  for (const auto& [key, t] : tasks_) {
    const TaskReport* r = t.owner.empty() ? nullptr : reported(t.owner, key);
    std::string state = "unassigned";
    if (!t.owner.empty()) {
      if (r == nullptr) {
        state = "starting";
      } else if (r->epoch != t.epoch) {
        state = "starting";
      } else {
        state = r->state;
      }
      if (t.releasing) state = "releasing";
    }
    json task = {{"task", key.to_string()},
                 {"query", key.query},
                 {"partition", key.partition},
                 {"owner", t.owner},
                 {"epoch", t.epoch},
                 {"state", state},
                 {"lag", r ? r->lag : 0},
                 {"checkpoint_age_ms", r ? r->checkpoint_age_ms : -1},
                 {"records_in", r ? r->records_in : 0},
                 {"records_out", r ? r->records_out : 0}};
    double in_per_s = -1, out_per_s = -1;
    auto rate = rates_.find(key);
    if (r && rate != rates_.end() && rate->second.node == t.owner &&
        rate->second.epoch == t.epoch) {
      in_per_s = rate->second.in_per_s;
      out_per_s = rate->second.out_per_s;
    }
    task["records_in_per_s"] = in_per_s;
    task["records_out_per_s"] = out_per_s;
    if (t.releasing) task["next_owner"] = t.next;
    if (r && !r->error.empty()) task["error"] = r->error;
    out["tasks"].push_back(std::move(task));
  }
  return out.dump();
}

}  // namespace rivulet::cluster
