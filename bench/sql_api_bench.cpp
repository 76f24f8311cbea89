// bench_sql_api: the cost of SQL over the hand-written C++ API, both run by
// sql::TestDriver (one thread, no broker) on the same input bytes in the
// same process. Two workloads, the demo's:
//
//   join       orders LEFT JOIN users (a KTable of `--users` users), each
//              order written out enriched with the user's name and country;
//   aggregate  orders grouped by user id, counted; every update written.
//
// For each workload the SQL version (planned by sql::plan_script, as
// `rivulet run` does) and the API version (operators/topology.hpp, as
// examples/orders_enrichment.cpp writes it) alternate for `--rounds`
// rounds; the median of each is reported as records per second of wall
// time and per CPU second of this thread (records/s per core), and the
// ratio SQL / API (the issue's goal: at least 0.8). Both versions must
// write the same number of records, or the run fails.
//
// One JSON object on stdout; progress on stderr.
#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/driver_feed.hpp"
#include "examples/orders_enrichment.hpp"
#include "operators/topology.hpp"
#include "sql/app_file.hpp"
#include "sql/test_driver.hpp"

namespace rivulet::bench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct Options {
  int64_t users = 10000;
  int64_t orders = 500000;
  int rounds = 3;
  std::string workload = "both";  // join | aggregate | both
  std::string side = "both";      // sql | api | both (one side: for a profiler)
  std::string table_storage = "decoded";  // the SQL USERS table: decoded | encoded | auto
};

// The demo's records (examples/orders_enrichment.hpp), encoded once.
struct Input {
  struct Rec {
    std::string key, value;
  };
  std::vector<Rec> users, orders;
};

std::string user_id(int64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "u%05lld", static_cast<long long>(n));
  return buf;
}

Input make_input(const Options& o) {
  static const char* const kCountries[] = {"DE", "FR", "US", "JP", "BR", "IN", "NG", "SE"};
  Input in;
  char buf[160];
  for (int64_t u = 0; u < o.users; ++u) {
    auto id = user_id(u);
    std::snprintf(buf, sizeof buf, R"({"user_id":"%s","name":"User %lld","country":"%s"})",
                  id.c_str(), static_cast<long long>(u), kCountries[u % 8]);
    in.users.push_back({id, buf});
  }
  const int64_t space = o.users + o.users / 10;  // a tenth of the orders has no user
  for (int64_t n = 0; n < o.orders; ++n) {
    auto id = user_id((n * 7919) % space);
    const int64_t cents = 100 + (n * 104729) % 50000;
    std::snprintf(buf, sizeof buf, R"({"order_id":%lld,"user_id":"%s","amount":%lld.%02lld})",
                  static_cast<long long>(n), id.c_str(), static_cast<long long>(cents / 100),
                  static_cast<long long>(cents % 100));
    in.orders.push_back({id, buf});
  }
  return in;
}

// The sources, the USERS table kept with `table_storage` (decoded | encoded | auto).
std::string sql_sources(const std::string& table_storage) {
  return "CREATE TABLE USERS (USER_ID STRING PRIMARY KEY, NAME STRING, COUNTRY STRING)\n"
         "  WITH (kafka_topic='users', value_format='JSON', partitions=1, table_storage='" +
         table_storage +
         "');\n"
         "CREATE STREAM ORDERS (USER_ID STRING KEY, ORDER_ID BIGINT, AMOUNT DOUBLE)\n"
         "  WITH (kafka_topic='orders', value_format='JSON', partitions=1);\n";
}

const char* kSqlJoin = R"sql(
CREATE STREAM ENRICHED_ORDERS WITH (kafka_topic='enriched-orders') AS
  SELECT O.USER_ID AS USER_ID, ORDER_ID, AMOUNT, NAME, COUNTRY
  FROM ORDERS O LEFT JOIN USERS U ON O.USER_ID = U.USER_ID;
)sql";

const char* kSqlAggregate = R"sql(
CREATE TABLE ORDER_COUNTS WITH (kafka_topic='order-counts') AS
  SELECT USER_ID, COUNT(*) AS ORDERS FROM ORDERS GROUP BY USER_ID;
)sql";

// The same two queries written with the C++ API, as the demo writes them.
Topology api_join() {
  Topology topo;
  auto users = topo.table("users", codecs::string_json(), "users");
  topo.stream("orders", codecs::string_json())
      .left_join(users, examples::enrich_order)
      .to("enriched-orders", codecs::string_json());
  return topo;
}

Topology api_aggregate() {
  Topology topo;
  topo.stream("orders", codecs::string_json())
      .group_by_key()
      .count("order-counts")
      .to_stream()
      .map_values(examples::order_count_row)
      .to("order-counts", codecs::string_json());
  return topo;
}

struct Run {
  double seconds = 0;
  double cpu = 0;
  int64_t outputs = 0;
  size_t data_errors = 0;
  double table_bytes_per_entry = 0;  // the users table (KTable::bytes_estimate), when it has one
};

// Users first (not timed), then the orders through the driver; outputs are
// counted and dropped every 4096 orders so memory stays flat.
Expected<Run> run_once(const Topology& topology, const Input& in, const char* users_store) {
  auto driver = sql::TestDriver::create(topology);
  if (!driver) return driver.error();
  auto& d = **driver;
  TimestampMs t = 1;
  for (const auto& u : in.users) d.pipe("users", u.key, u.value, t);
  d.clear_outputs();
  Run r;
  if (const KTable* users = d.graph().table(users_store); users && users->size() > 0)
    r.table_bytes_per_entry =
        static_cast<double>(users->bytes_estimate()) / static_cast<double>(users->size());
  const auto start = Clock::now();
  const double cpu0 = thread_cpu_seconds();
  r.outputs = pipe_counted(d, "orders", in.orders, t);
  r.cpu = thread_cpu_seconds() - cpu0;
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.data_errors = d.data_errors().size();
  return r;
}

int run(const Options& o) {
  std::cerr << "bench_sql_api: " << o.users << " users, " << o.orders << " orders, " << o.rounds
            << " rounds\n";
  const Input in = make_input(o);
  struct Workload {
    const char* name;
    const char* sql;
    std::function<Topology()> api;
  };
  const Workload workloads[] = {{"join", kSqlJoin, api_join},
                                {"aggregate", kSqlAggregate, api_aggregate}};
  double raw = 0;
  for (const auto& u : in.users) raw += static_cast<double>(u.key.size() + u.value.size());
  json result{{"users", o.users},
              {"orders", o.orders},
              {"rounds", o.rounds},
              {"table_storage", o.table_storage},
              {"users_raw_bytes_per_entry", in.users.empty() ? 0 : raw / in.users.size()}};
  bool ok = true;
  for (const auto& w : workloads) {
    if (o.workload != "both" && o.workload != w.name) continue;
    auto planned = sql::plan_script(sql_sources(o.table_storage) + w.sql);
    if (!planned) {
      std::cerr << "bench_sql_api: " << w.name << ": " << planned.error().to_string() << "\n";
      return 1;
    }
    const Topology api = w.api();
    std::vector<double> sql_rate, sql_core, api_rate, api_core;
    int64_t sql_outputs = -1, api_outputs = -1;
    double sql_table_bytes = 0, api_table_bytes = 0;
    for (int round = 0; round < o.rounds; ++round) {
      for (int which = 0; which < 2; ++which) {
        if (o.side != "both" && o.side != (which == 0 ? "sql" : "api")) continue;
        auto r = run_once(which == 0 ? planned->topology : api, in, which == 0 ? "USERS" : "users");
        if (!r) {
          std::cerr << "bench_sql_api: " << w.name << ": " << r.error().to_string() << "\n";
          return 1;
        }
        const double n = static_cast<double>(in.orders.size());
        (which == 0 ? sql_rate : api_rate).push_back(n / r->seconds);
        (which == 0 ? sql_core : api_core).push_back(n / r->cpu);
        (which == 0 ? sql_outputs : api_outputs) = r->outputs;
        (which == 0 ? sql_table_bytes : api_table_bytes) = r->table_bytes_per_entry;
        if (r->data_errors != 0) {
          std::cerr << "bench_sql_api: " << w.name << (which == 0 ? " sql" : " api") << ": "
                    << r->data_errors << " data errors\n";
          ok = false;
        }
        std::cerr << "bench_sql_api: " << w.name << (which == 0 ? " sql " : " api ") << "round "
                  << round + 1 << ": " << static_cast<int64_t>(n / r->seconds) << " records/s, "
                  << r->outputs << " outputs\n";
      }
    }
    if (o.side == "both" && sql_outputs != api_outputs) {
      std::cerr << "bench_sql_api: " << w.name << ": SQL wrote " << sql_outputs
                << " records, the API " << api_outputs << "\n";
      ok = false;
    }
    if (o.side != "both") {
      auto& rate = o.side == "sql" ? sql_rate : api_rate;
      auto& core = o.side == "sql" ? sql_core : api_core;
      result[w.name] =
          json{{o.side,
                {{"records_per_second", median(rate)}, {"records_per_cpu_second", median(core)}}},
               {"users_table_bytes_per_entry",
                {{o.side, o.side == "sql" ? sql_table_bytes : api_table_bytes}}}};
      continue;
    }
    const double s = median(sql_rate), a = median(api_rate);
    const double sc = median(sql_core), ac = median(api_core);
    result[w.name] = json{{"sql", {{"records_per_second", s}, {"records_per_cpu_second", sc}}},
                          {"api", {{"records_per_second", a}, {"records_per_cpu_second", ac}}},
                          {"output_records", sql_outputs},
                          {"users_table_bytes_per_entry",
                           {{"sql", sql_table_bytes}, {"api", api_table_bytes}}},
                          {"ratio_sql_to_api", s / a},
                          {"ratio_sql_to_api_per_core", sc / ac}};
  }
  result["ok"] = ok;
  std::cout << result.dump() << std::endl;
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace rivulet::bench

int main(int argc, char** argv) {
  rivulet::bench::Options o;
  CLI::App app{"SQL against the hand-written C++ API, both through the TestDriver"};
  app.add_option("--users", o.users, "Users in the table")->check(CLI::Range(1, 100000000));
  app.add_option("--orders", o.orders, "Orders per run")->check(CLI::Range(1, 1000000000));
  app.add_option("--rounds", o.rounds, "Alternating rounds of SQL and API (median reported)")
      ->check(CLI::Range(1, 100));
  app.add_option("--workload", o.workload, "join, aggregate or both")
      ->check(CLI::IsMember({"join", "aggregate", "both"}));
  app.add_option("--side", o.side, "sql, api or both (one side: to profile it)")
      ->check(CLI::IsMember({"sql", "api", "both"}));
  app.add_option("--table-storage", o.table_storage,
                 "The SQL USERS table's TABLE_STORAGE: decoded (this program's default), "
                 "encoded, or auto (SQL's default: encoded from 10,000 rows on)")
      ->check(CLI::IsMember({"decoded", "encoded", "auto"}));
  CLI11_PARSE(app, argc, argv);
  return rivulet::bench::run(o);
}
