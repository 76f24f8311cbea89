#include "cluster/assignment.hpp"

#include <algorithm>
#include <set>
#include <tuple>

namespace rivulet::cluster {

std::string TaskKey::to_string() const {
  return query + "-" + std::to_string(partition);
}

namespace {

// Working state of one node while assign() runs.
struct NodeLoad {
  std::string name;
  std::vector<TaskKey> tasks;            // tasks it keeps or receives
  std::map<std::string, int> per_query;  // query -> number of its tasks here
  std::size_t target = 0;                // how many tasks it ends up with

  void add(const TaskKey& t) {
    tasks.push_back(t);
    ++per_query[t.query];
  }
  int count_of(const std::string& query) const {
    auto it = per_query.find(query);
    return it == per_query.end() ? 0 : it->second;
  }
};

// Removes and returns the task whose query is most concentrated on this node,
// so that shedding improves the spread of queries. Ties go to the
// lexicographically larger task, which keeps the choice deterministic.
TaskKey shed_one(NodeLoad& node) {
  auto best = node.tasks.begin();
  for (auto it = node.tasks.begin(); it != node.tasks.end(); ++it) {
    auto key = std::make_tuple(node.count_of(it->query), *it);
    auto best_key = std::make_tuple(node.count_of(best->query), *best);
    if (best_key < key) best = it;
  }
  TaskKey shed = *best;
  node.tasks.erase(best);
  if (--node.per_query[shed.query] == 0) node.per_query.erase(shed.query);
  return shed;
}

}  // namespace

Assignment assign(const std::vector<TaskKey>& tasks, const std::vector<std::string>& live_nodes,
                  const Assignment& previous) {
  const std::set<std::string> node_names(live_nodes.begin(), live_nodes.end());
  const std::set<TaskKey> task_set(tasks.begin(), tasks.end());
  if (node_names.empty() || task_set.empty()) return {};

  std::vector<NodeLoad> nodes;
  std::map<std::string, std::size_t> index;
  for (const auto& name : node_names) {
    index.emplace(name, nodes.size());
    nodes.push_back(NodeLoad{name, {}, {}, 0});
  }

  // Tasks whose previous owner is still live start on that owner; the rest
  // are free. Iterating the ordered set keeps everything deterministic.
  std::vector<TaskKey> free_tasks;
  for (const auto& task : task_set) {
    auto prev = previous.find(task);
    auto owner = prev == previous.end() ? index.end() : index.find(prev->second);
    if (owner == index.end()) {
      free_tasks.push_back(task);
    } else {
      nodes[owner->second].add(task);
    }
  }

  // Balanced targets: every node gets base tasks, `extra` nodes get one more.
  // The extra slots go to the nodes that already hold the most tasks: that
  // choice maximises the number of tasks that stay where they are.
  const std::size_t base = task_set.size() / nodes.size();
  const std::size_t extra = task_set.size() % nodes.size();
  std::vector<std::size_t> by_load(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) by_load[i] = i;
  std::stable_sort(by_load.begin(), by_load.end(), [&](std::size_t a, std::size_t b) {
    return nodes[a].tasks.size() > nodes[b].tasks.size();  // ties keep name order
  });
  for (std::size_t rank = 0; rank < by_load.size(); ++rank) {
    nodes[by_load[rank]].target = base + (rank < extra ? 1 : 0);
  }

  // Nodes above their target shed just enough tasks.
  for (auto& node : nodes) {
    while (node.tasks.size() > node.target) free_tasks.push_back(shed_one(node));
  }

  // Place free tasks query by query: each goes to a node with room that holds
  // the fewest tasks of its query, then the fewest tasks, then by name.
  std::sort(free_tasks.begin(), free_tasks.end());
  for (const auto& task : free_tasks) {
    NodeLoad* best = nullptr;
    for (auto& node : nodes) {
      if (node.tasks.size() >= node.target) continue;
      if (best == nullptr || std::make_tuple(node.count_of(task.query), node.tasks.size()) <
                                 std::make_tuple(best->count_of(task.query), best->tasks.size())) {
        best = &node;
      }
    }
    // Targets sum to the number of tasks, so a node with room always exists.
    best->add(task);
  }

  Assignment result;
  for (const auto& node : nodes) {
    for (const auto& task : node.tasks) result.emplace(task, node.name);
  }
  return result;
}

std::vector<Move> plan_moves(const Assignment& before, const Assignment& after) {
  std::vector<Move> moves;
  for (const auto& [task, to] : after) {
    auto prev = before.find(task);
    if (prev == before.end()) {
      moves.push_back(Move{task, std::nullopt, to});
    } else if (prev->second != to) {
      moves.push_back(Move{task, prev->second, to});
    }
  }
  return moves;
}

}  // namespace rivulet::cluster
