#pragma once
// Which node runs which task: a pure function of the tasks, the live nodes and
// the previous assignment. The coordinator calls it on every membership or
// query change and turns the difference into moves (checkpoint, stop,
// restore). Pure and deterministic so that it can be tested exhaustively and
// so that a restarted coordinator recomputes the same answer.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rivulet::cluster {

// One task: partition `partition` of persistent query `query`. The task owns
// that partition of every co-partitioned input of the query.
struct TaskKey {
  std::string query;
  int32_t partition = 0;

  bool operator==(const TaskKey& o) const { return partition == o.partition && query == o.query; }
  bool operator!=(const TaskKey& o) const { return !(*this == o); }
  bool operator<(const TaskKey& o) const {
    return query < o.query || (query == o.query && partition < o.partition);
  }
  // "q1-3", the same spelling as checkpoint::TaskId.
  std::string to_string() const;
};

// Task -> name of the node that runs it.
using Assignment = std::map<TaskKey, std::string>;

// Assigns every task in `tasks` to one of `live_nodes`.
//
// Guarantees (for any input; the order of `tasks` and `live_nodes` and
// duplicates in them do not matter):
//  - deterministic;
//  - every task goes to a live node; with no live node the result is empty;
//  - balanced: task counts per live node differ by at most 1;
//  - sticky: the fewest tasks move that a balanced result allows. A task keeps
//    its previous owner if that node is live and does not have to shed tasks
//    for balance. When `previous` was itself balanced, adding a node moves
//    only tasks to the new node, and removing a node moves only its tasks;
//  - spread: tasks that must be placed go to the node holding the fewest
//    tasks of the same query, so the partitions of one query do not pile up on
//    one node (a fresh assignment spreads each query evenly).
// Entries of `previous` for tasks not in `tasks` are ignored.
Assignment assign(const std::vector<TaskKey>& tasks, const std::vector<std::string>& live_nodes,
                  const Assignment& previous);

// A task that starts on `to`; `from` is its previous owner, if it had one.
struct Move {
  TaskKey task;
  std::optional<std::string> from;
  std::string to;

  bool operator==(const Move& o) const { return task == o.task && from == o.from && to == o.to; }
};

// The tasks whose owner differs between `before` and `after`, in task order.
// Tasks only in `before` are not moves (their query was dropped: they stop).
std::vector<Move> plan_moves(const Assignment& before, const Assignment& after);

}  // namespace rivulet::cluster

namespace std {
template <>
struct hash<rivulet::cluster::TaskKey> {
  size_t operator()(const rivulet::cluster::TaskKey& t) const noexcept {
    return std::hash<std::string>{}(t.query) * 31 + std::hash<int32_t>{}(t.partition);
  }
};
}  // namespace std
