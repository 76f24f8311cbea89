// Exhaustive property tests of the pure assignment function: every task count
// 0..64 against every node count 1..8, several query shapes, and membership
// histories (nodes joining, leaving, coming back; queries added and dropped).
#include "cluster/assignment.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace {

using rivulet::cluster::assign;
using rivulet::cluster::Assignment;
using rivulet::cluster::Move;
using rivulet::cluster::plan_moves;
using rivulet::cluster::TaskKey;

constexpr int kMaxTasks = 64;
constexpr int kMaxNodes = 8;

std::vector<std::string> node_list(int n, int first = 0) {
  std::vector<std::string> nodes;
  for (int i = first; i < first + n; ++i) nodes.push_back("node-" + std::to_string(i));
  return nodes;
}

// Several ways of cutting `total` tasks into queries: one big query, queries of
// 8 partitions (the demo's shape), one partition per query, two uneven
// queries, and queries of growing size.
std::vector<std::vector<TaskKey>> task_shapes(int total) {
  std::vector<std::vector<TaskKey>> shapes;
  auto make = [](const std::vector<int>& sizes) {
    std::vector<TaskKey> tasks;
    for (std::size_t q = 0; q < sizes.size(); ++q) {
      for (int p = 0; p < sizes[q]; ++p) tasks.push_back({"q" + std::to_string(q), p});
    }
    return tasks;
  };
  shapes.push_back(make({total}));
  std::vector<int> eights;
  for (int left = total; left > 0; left -= 8) eights.push_back(std::min(8, left));
  shapes.push_back(make(eights));
  shapes.push_back(make(std::vector<int>(static_cast<std::size_t>(total), 1)));
  shapes.push_back(make({total / 3, total - total / 3}));
  std::vector<int> growing;
  for (int size = 1, left = total; left > 0; ++size) {
    growing.push_back(std::min(size, left));
    left -= growing.back();
  }
  shapes.push_back(make(growing));
  return shapes;
}

std::map<std::string, int> counts_per_node(const Assignment& a,
                                           const std::vector<std::string>& nodes) {
  std::map<std::string, int> counts;
  for (const auto& n : nodes) counts[n] = 0;
  for (const auto& [task, node] : a) ++counts[node];
  return counts;
}

// The checks every result must pass, whatever the history.
void check_valid(const std::vector<TaskKey>& tasks, const std::vector<std::string>& nodes,
                 const Assignment& result) {
  std::set<TaskKey> expected(tasks.begin(), tasks.end());
  REQUIRE(result.size() == expected.size());
  std::set<std::string> live(nodes.begin(), nodes.end());
  for (const auto& [task, node] : result) {
    REQUIRE(expected.count(task) == 1);
    REQUIRE(live.count(node) == 1);
  }
  auto counts = counts_per_node(result, nodes);
  int lo = kMaxTasks + 1, hi = -1;
  for (const auto& [node, c] : counts) {
    lo = std::min(lo, c);
    hi = std::max(hi, c);
  }
  if (!nodes.empty()) REQUIRE(hi - lo <= 1);
}

// The fewest tasks any balanced assignment can keep on their live previous
// owner, computed independently of assign(): every node can keep up to `base`
// tasks, and the `extra` nodes holding the most can keep one more.
std::size_t best_possible_kept(const std::vector<TaskKey>& tasks,
                               const std::vector<std::string>& nodes, const Assignment& previous) {
  std::set<TaskKey> task_set(tasks.begin(), tasks.end());
  std::set<std::string> live(nodes.begin(), nodes.end());
  std::map<std::string, std::size_t> held;
  for (const auto& n : live) held[n] = 0;
  for (const auto& [task, node] : previous) {
    if (task_set.count(task) && live.count(node)) ++held[node];
  }
  const std::size_t base = task_set.size() / live.size();
  const std::size_t extra = task_set.size() % live.size();
  std::size_t kept = 0;
  std::vector<std::size_t> above;
  for (const auto& [node, h] : held) {
    kept += std::min(h, base);
    above.push_back(h > base ? 1 : 0);
  }
  std::sort(above.rbegin(), above.rend());
  for (std::size_t i = 0; i < extra && i < above.size(); ++i) kept += above[i];
  return kept;
}

// Sticky: exactly as many tasks stay as the best balanced assignment allows,
// and a task only leaves a live owner that had to shed tasks.
void check_sticky(const std::vector<TaskKey>& tasks, const std::vector<std::string>& nodes,
                  const Assignment& previous, const Assignment& result) {
  std::set<std::string> live(nodes.begin(), nodes.end());
  std::map<std::string, int> held;
  for (const auto& [task, node] : previous) {
    if (result.count(task) && live.count(node)) ++held[node];
  }
  auto after = counts_per_node(result, nodes);
  std::size_t kept = 0;
  for (const auto& [task, node] : result) {
    auto prev = previous.find(task);
    if (prev == previous.end() || !live.count(prev->second)) continue;
    if (prev->second == node) {
      ++kept;
    } else {
      INFO("task " << task.to_string() << " left live node " << prev->second);
      REQUIRE(held[prev->second] > after[prev->second]);
    }
  }
  REQUIRE(kept == best_possible_kept(tasks, nodes, previous));
}

// Spread: within each query, the per-node counts differ by at most one.
void check_query_spread(const Assignment& result, const std::vector<std::string>& nodes) {
  std::map<std::string, std::map<std::string, int>> per_query;
  for (const auto& [task, node] : result) ++per_query[task.query][node];
  for (auto& [query, counts] : per_query) {
    int lo = kMaxTasks + 1, hi = -1;
    for (const auto& n : nodes) {
      lo = std::min(lo, counts[n]);
      hi = std::max(hi, counts[n]);
    }
    INFO("query " << query << " over " << nodes.size() << " nodes");
    REQUIRE(hi - lo <= 1);
  }
}

}  // namespace

TEST_CASE("assign: fresh assignments are valid, balanced and spread per query", "[assignment]") {
  for (int total = 0; total <= kMaxTasks; ++total) {
    for (const auto& tasks : task_shapes(total)) {
      for (int n = 1; n <= kMaxNodes; ++n) {
        auto nodes = node_list(n);
        auto result = assign(tasks, nodes, {});
        INFO(total << " tasks, " << n << " nodes");
        check_valid(tasks, nodes, result);
        check_query_spread(result, nodes);
      }
    }
  }
}

TEST_CASE("assign: deterministic, independent of input order and duplicates", "[assignment]") {
  std::mt19937 rng(42);
  for (int total = 0; total <= kMaxTasks; ++total) {
    for (const auto& tasks : task_shapes(total)) {
      for (int n = 1; n <= kMaxNodes; ++n) {
        auto nodes = node_list(n);
        Assignment previous = assign(tasks, node_list(std::max(1, n - 1), 1), {});
        auto first = assign(tasks, nodes, previous);
        REQUIRE(assign(tasks, nodes, previous) == first);

        auto shuffled_tasks = tasks;
        std::shuffle(shuffled_tasks.begin(), shuffled_tasks.end(), rng);
        if (!tasks.empty()) shuffled_tasks.push_back(tasks.front());
        auto shuffled_nodes = nodes;
        std::shuffle(shuffled_nodes.begin(), shuffled_nodes.end(), rng);
        shuffled_nodes.push_back(nodes.back());
        REQUIRE(assign(shuffled_tasks, shuffled_nodes, previous) == first);
      }
    }
  }
}

TEST_CASE("assign: no live node means no assignment", "[assignment]") {
  std::vector<TaskKey> tasks{{"q", 0}, {"q", 1}};
  CHECK(assign(tasks, {}, {}).empty());
  CHECK(assign(tasks, {}, Assignment{{{"q", 0}, "gone"}}).empty());
}

TEST_CASE("assign: adding a node moves only tasks to the new node", "[assignment]") {
  for (int total = 0; total <= kMaxTasks; ++total) {
    for (const auto& tasks : task_shapes(total)) {
      for (int n = 1; n < kMaxNodes; ++n) {
        auto nodes = node_list(n);
        auto before = assign(tasks, nodes, {});
        auto grown = node_list(n + 1);
        auto after = assign(tasks, grown, before);
        INFO(total << " tasks, " << n << " -> " << n + 1 << " nodes");
        check_valid(tasks, grown, after);
        check_sticky(tasks, grown, before, after);
        const std::string newcomer = grown.back();
        auto moves = plan_moves(before, after);
        for (const auto& m : moves) {
          REQUIRE(m.from.has_value());
          REQUIRE(m.to == newcomer);
        }
        // The newcomer takes exactly its balanced share: total/(n+1), rounded
        // either way.
        REQUIRE(static_cast<int>(moves.size()) >= total / (n + 1));
        REQUIRE(static_cast<int>(moves.size()) <= (total + n) / (n + 1));
      }
    }
  }
}

TEST_CASE("assign: a fourth node joining three takes about a quarter", "[assignment]") {
  std::vector<TaskKey> tasks;
  for (int p = 0; p < 8; ++p) tasks.push_back({"orders_enriched", p});
  for (int p = 0; p < 8; ++p) tasks.push_back({"user_counts", p});
  auto before = assign(tasks, {"a", "b", "c"}, {});
  auto after = assign(tasks, {"a", "b", "c", "d"}, before);
  auto moves = plan_moves(before, after);
  REQUIRE(moves.size() == 4);
  std::map<std::string, int> moved_per_query;
  for (const auto& m : moves) {
    CHECK(m.to == "d");
    ++moved_per_query[m.task.query];
  }
  // The newcomer takes two partitions of each query rather than four of one.
  CHECK(moved_per_query["orders_enriched"] == 2);
  CHECK(moved_per_query["user_counts"] == 2);
}

TEST_CASE("assign: removing a node moves only that node's tasks", "[assignment]") {
  for (int total = 0; total <= kMaxTasks; ++total) {
    for (const auto& tasks : task_shapes(total)) {
      for (int n = 2; n <= kMaxNodes; ++n) {
        auto nodes = node_list(n);
        auto before = assign(tasks, nodes, {});
        for (int gone = 0; gone < n; ++gone) {
          auto remaining = nodes;
          remaining.erase(remaining.begin() + gone);
          auto after = assign(tasks, remaining, before);
          INFO(total << " tasks, " << n << " nodes, removing " << nodes[gone]);
          check_valid(tasks, remaining, after);
          check_sticky(tasks, remaining, before, after);
          for (const auto& m : plan_moves(before, after)) {
            REQUIRE(m.from == nodes[gone]);
          }
        }
      }
    }
  }
}

TEST_CASE("assign: random membership and query histories stay valid and sticky", "[assignment]") {
  std::mt19937 rng(7);
  for (int history = 0; history < 200; ++history) {
    std::set<std::string> live{"node-0"};
    std::map<std::string, int> queries{{"q0", 1 + static_cast<int>(rng() % 8)}};
    int next_node = 1, next_query = 1;
    Assignment current;
    for (int step = 0; step < 30; ++step) {
      switch (rng() % 5) {
        case 0:  // a new node joins
          if (live.size() < kMaxNodes) live.insert("node-" + std::to_string(next_node++));
          break;
        case 1:  // a node leaves or dies
          if (live.size() > 1) {
            auto it = live.begin();
            std::advance(it, rng() % live.size());
            live.erase(it);
          }
          break;
        case 2:  // a node that left comes back under the same name
          live.insert("node-" + std::to_string(rng() % static_cast<unsigned>(next_node)));
          break;
        case 3:  // a query is submitted
          queries["q" + std::to_string(next_query++)] = 1 + static_cast<int>(rng() % 8);
          break;
        default:  // a query is dropped
          if (queries.size() > 1) {
            auto it = queries.begin();
            std::advance(it, rng() % queries.size());
            queries.erase(it);
          }
      }
      std::vector<TaskKey> tasks;
      for (const auto& [q, parts] : queries) {
        for (int p = 0; p < parts; ++p) tasks.push_back({q, p});
      }
      std::vector<std::string> nodes(live.begin(), live.end());
      auto next = assign(tasks, nodes, current);
      INFO("history " << history << " step " << step);
      check_valid(tasks, nodes, next);
      check_sticky(tasks, nodes, current, next);
      REQUIRE(assign(tasks, nodes, current) == next);
      current = next;
    }
  }
}

TEST_CASE("assign: a failed node's tasks go where their query is not yet", "[assignment]") {
  // a and b each hold two partitions of a different query; c dies holding the
  // third partition of both. Filling by load alone would give each query all
  // three of its partitions on one node.
  std::vector<TaskKey> tasks{{"q0", 0}, {"q0", 1}, {"q0", 2}, {"q1", 0}, {"q1", 1}, {"q1", 2}};
  Assignment previous{{{"q0", 0}, "a"}, {{"q0", 1}, "a"}, {{"q0", 2}, "c"},
                      {{"q1", 0}, "b"}, {{"q1", 1}, "b"}, {{"q1", 2}, "c"}};
  auto result = assign(tasks, {"a", "b"}, previous);
  check_valid(tasks, {"a", "b"}, result);
  check_sticky(tasks, {"a", "b"}, previous, result);
  CHECK(result.at({"q0", 2}) == "b");
  CHECK(result.at({"q1", 2}) == "a");
}

TEST_CASE("assign: an unbalanced previous assignment is rebalanced with fewest moves",
          "[assignment]") {
  std::vector<TaskKey> tasks;
  for (int p = 0; p < 12; ++p) tasks.push_back({"q", p});
  Assignment piled;
  for (const auto& t : tasks) piled[t] = "a";
  auto result = assign(tasks, {"a", "b", "c"}, piled);
  check_valid(tasks, {"a", "b", "c"}, result);
  check_sticky(tasks, {"a", "b", "c"}, piled, result);
  CHECK(plan_moves(piled, result).size() == 8);
}

TEST_CASE("plan_moves: lists new, moved tasks and ignores unchanged and dropped ones",
          "[assignment]") {
  Assignment before{{{"q", 0}, "a"}, {{"q", 1}, "b"}, {{"old", 0}, "a"}};
  Assignment after{{{"q", 0}, "a"}, {{"q", 1}, "c"}, {{"new", 0}, "b"}};
  auto moves = plan_moves(before, after);
  REQUIRE(moves.size() == 2);
  const Move added{TaskKey{"new", 0}, std::nullopt, "b"};
  const Move moved{TaskKey{"q", 1}, std::string("b"), "c"};
  CHECK(moves[0] == added);
  CHECK(moves[1] == moved);
  CHECK(plan_moves(after, after).empty());
  CHECK(plan_moves({}, {}).empty());
}

TEST_CASE("plan_moves: applying the moves to the old assignment gives the new one",
          "[assignment]") {
  for (int total = 0; total <= kMaxTasks; total += 7) {
    auto tasks = task_shapes(total)[1];
    for (int n = 1; n <= kMaxNodes; ++n) {
      auto before = assign(tasks, node_list(n), {});
      auto after = assign(tasks, node_list(n, 1), before);
      Assignment applied = before;
      for (const auto& m : plan_moves(before, after)) {
        if (m.from) REQUIRE(applied.at(m.task) == *m.from);
        applied[m.task] = m.to;
      }
      REQUIRE(applied == after);
    }
  }
}

TEST_CASE("TaskKey: ordered, hashable, printable", "[assignment]") {
  TaskKey a{"q1", 3}, b{"q1", 10}, c{"q2", 0};
  CHECK(a < b);
  CHECK(b < c);
  CHECK_FALSE(a < a);
  CHECK(a.to_string() == "q1-3");
  CHECK(std::hash<TaskKey>{}(a) == std::hash<TaskKey>{}(TaskKey{"q1", 3}));
  CHECK(a != b);
}
