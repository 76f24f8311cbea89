#pragma once
// The orders-join-users pipeline, Rivulet's demo and reference workload
// (used by `rivulet demo`, the tests, and the benchmarks):
//
//   users  (table, key user id):   {"user_id": "u00042", "name": "User 42", "country": "DE"}
//   orders (stream, key user id):  {"order_id": 7, "user_id": "u00042", "amount": 12.34}
//   enriched-orders = orders LEFT JOIN users
//                     {"order_id": 7, "user_id": "u00042", "amount": 12.34,
//                      "name": "User 42", "country": "DE"}   (name/country null when unmatched)
//   order-counts    = orders grouped by user id, counted: {"user_id": "u00042", "orders": 17}
//
// Orders are keyed by user id, so both inputs are co-partitioned on the join
// key. Order n goes to user (n * 7919) mod user_space; user ids at or above
// `users` have no profile, so their orders stay unmatched.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "operators/ktable.hpp"
#include "operators/topology.hpp"
#include "runtime/error.hpp"

namespace rivulet::examples {

struct OrdersWorkload {
  int64_t users = 10000;
  int64_t user_space = 11000;  // user ids in orders range over [0, user_space)
  int64_t orders = 200000;
  std::string users_topic = "users";
  std::string orders_topic = "orders";
  std::string enriched_topic = "enriched-orders";
  std::string counts_topic = "order-counts";
  // Storage of the users KTable (operators/ktable.hpp).
  TableStorage users_storage = TableStorage::Auto;

  std::string user_id(int64_t n) const;
  int64_t user_of_order(int64_t order) const { return (order * 7919) % user_space; }
  // Expected results, computed without Rivulet.
  int64_t expected_matched() const;
  std::map<std::string, int64_t> expected_counts() const;
};

// The C++ API topology of the pipeline.
Topology make_orders_topology(const OrdersWorkload& w);
// Its two functions: the order with the user's name and country added (null
// when `user` is null), and a count record as {"user_id", "orders"}.
Value enrich_order(const Record& order, const Value* user);
Value order_count_row(const Record& count);

// Which part of the workload to write, and how fast (`rivulet demo
// --cluster` streams the orders while nodes join and die).
struct LoadOptions {
  bool users = true;         // write the users first
  int64_t first_order = 0;   // orders [first_order, last_order)
  int64_t last_order = -1;   // -1: w.orders
  double orders_per_second = 0;  // 0: as fast as the producer takes them
  const std::atomic<bool>* stop = nullptr;  // set: stop early (an error)
  // How long the producer fills a batch; one batch per partition as long
  // as the orders are written within it.
  int linger_ms = 100;
};

// Writes the users, then the orders, through an idempotent, Java-compatible
// producer. `progress(done, total)` is called now and then.
Expected<bool> produce_orders_workload(const std::string& bootstrap, const OrdersWorkload& w,
                                       const std::function<void(int64_t, int64_t)>& progress,
                                       const LoadOptions& load = {});

}  // namespace rivulet::examples
