#pragma once
// The coordinator's decisions, without actors or I/O: membership, task
// ownership with epochs, hand-overs and failover. The coordinator actor
// feeds it heartbeats, connection losses and clock ticks; tests drive it
// directly with a fake clock.
//
// Safety rule (fencing; docs/cluster.md has the argument): a task is given
// to a new owner only when its previous owner cannot write any more, i.e.
//  - the owner released it (reported it gone after a release order: final
//    checkpoint and commit done), or
//  - the owner's write lease has certainly run out. A node's lease for a
//    task is extended by each heartbeat answer that lists the task, up to
//    (the time the node *sent* that heartbeat) + lease_ms, and that send
//    time is before this state's last_heard of the node. So after
//    last_heard + lease_ms + margin_ms nothing the node holds is valid.
//    A node silent for failure_timeout_ms (> lease_ms + margin_ms) is
//    declared dead; a lost connection (process killed) lets it be declared
//    dead as soon as its leases ran out.
// Every new owner gets a new epoch (strictly growing, persisted by the
// caller), written into the task's outputs and checkpoints.
//
// After a restart (restored queries and epoch) the state adopts the tasks
// nodes report, with their epochs, and assigns nothing else for
// failure_timeout_ms, so every live node has reported before anything moves.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cluster/assignment.hpp"
#include "cluster/protocol.hpp"

namespace rivulet::cluster {

struct CoordinatorTimes {
  int64_t failure_timeout_ms = 3000;
  int64_t lease_ms = 1500;
  int64_t margin_ms = 100;
};

class CoordinatorState {
 public:
  CoordinatorState(CoordinatorTimes times, std::string secret, int64_t now_ms);

  // After a restart: the persisted queries and epoch counter, and the
  // queries that were being terminated (their tasks are adopted from the
  // nodes' reports and released, as before the restart). Starts the
  // rebuild window when there are queries.
  void restore(std::vector<QueryDef> queries, int64_t epoch, int64_t now_ms,
               std::vector<QueryDef> terminating = {});

  // A node's heartbeat; the answer lists every task it may run.
  NodeOrders heartbeat(const NodeReport& report, int64_t now_ms);
  // The node's connection was lost (its process probably died).
  void connection_lost(const std::string& node, int64_t now_ms);
  // The node has handed everything over and exits.
  void left(const std::string& node, int64_t now_ms);
  // Registers (or replaces) a query; "" or an error.
  std::string submit(const QueryDef& query, const std::string& secret, int64_t now_ms);
  // Stops a query: each task its owner runs is released (final checkpoint
  // and commit, as in a hand-over) and given to nobody; once no node runs
  // any, the query and its tasks are forgotten. queries() leaves it out at
  // once (so it is not persisted, and nodes start none of its tasks); the
  // status lists it as terminating until then. "" or an error.
  std::string terminate(const std::string& name, const std::string& secret, int64_t now_ms);
  // PAUSE / RESUME: marks the query paused (or not) in the orders every node
  // gets; its tasks keep their owners. Persisted with the query. "" or an
  // error (an unknown or terminating query, a wrong secret).
  std::string set_paused(const std::string& name, bool paused, const std::string& secret);
  // Liveness checks and re-planning; call every ~100 ms.
  void tick(int64_t now_ms);

  // The Kafka bootstrap list clients may use (shown in the status).
  void set_bootstrap(std::string bootstrap) { bootstrap_ = std::move(bootstrap); }
  // `rivulet status --json`.
  std::string status_json(int64_t now_ms) const;

  // For persistence and tests.
  int64_t epoch() const { return epoch_; }
  std::vector<QueryDef> queries() const;
  std::vector<QueryDef> terminating() const;
  bool rebuilding(int64_t now_ms) const { return now_ms < rebuild_until_; }
  // Current owner of a task ("" when none).
  std::string owner(const TaskKey& task) const;
  int64_t task_epoch(const TaskKey& task) const;
  std::string node_state(const std::string& node) const;
  // Events since the last call (for the log).
  std::vector<std::string> take_events();

 private:
  struct Node {
    std::string name;
    int64_t pid = 0;
    std::string host, http;
    std::string state = "alive";  // alive, suspect, dead, left
    bool leaving = false;
    int64_t last_heard = 0;
    int64_t dead_after = 0;  // suspect: declared dead from then on
    std::vector<TaskReport> tasks;
  };
  struct Task {
    std::string owner;
    int64_t epoch = 0;
    bool releasing = false;
    std::string next;
    int64_t owned_since = 0;
  };

  // Rates for the status: records/s in and out per task, from two of its
  // owner's reports at least kRateWindowMs apart (-1: not known yet).
  struct Rate {
    std::string node;
    int64_t epoch = 0;
    int64_t since = 0;
    uint64_t in = 0, out = 0;
    double in_per_s = -1, out_per_s = -1;
  };
  static constexpr int64_t kRateWindowMs = 1000;
  void note_rate(const std::string& node, const TaskReport& r, int64_t now_ms);

  void replan(int64_t now_ms);
  void give(const TaskKey& key, Task& task, std::string node, int64_t now_ms);
  void declare_dead(Node& node, int64_t now_ms, const std::string& why);
  const TaskReport* reported(const std::string& node, const TaskKey& key) const;
  std::vector<TaskKey> all_tasks() const;

  CoordinatorTimes times_;
  std::string secret_;
  std::string bootstrap_;
  int64_t started_ = 0;
  int64_t rebuild_until_ = 0;
  int64_t epoch_ = 0;
  std::map<std::string, Node> nodes_;
  std::map<std::string, QueryDef> queries_;
  std::map<std::string, QueryDef> terminating_;  // out of queries_, tasks still running
  std::map<TaskKey, Task> tasks_;
  std::vector<std::string> events_;
  std::map<TaskKey, Rate> rates_;
};

}  // namespace rivulet::cluster
