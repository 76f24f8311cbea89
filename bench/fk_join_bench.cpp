// bench_fk_join: a foreign-key table-table join's cost per left row as one
// right row's fan-out grows, through sql::TestDriver (one thread, no
// broker), as `rivulet run` plans it:
//
//   CREATE TABLE OUT AS SELECT O.OID AS OID, AMT, NAME
//     FROM ORDERS O JOIN CUSTOMERS C ON O.CUST = C.ID;
//
// For each fan-out F, `--orders` orders are spread over orders / F
// customers (loaded first, not timed), order i to customer i mod (orders /
// F): every customer ends with F subscribers. Two timed phases per run:
//   subscribe  the orders arrive (each subscribes to its customer, is
//              answered and joined)
//   update     every customer's row changes once (each answers its F
//              subscribers: `--orders` joined rows in all)
// Reported per fan-out: orders (joined rows) per CPU second of this thread,
// the median of `--rounds` rounds, and its ratio to fan-out 1, the
// baseline of the same run. One JSON object on stdout; progress on stderr.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/driver_feed.hpp"
#include "sql/app_file.hpp"

namespace rivulet::bench {
namespace {

using nlohmann::json;

struct Options {
  int64_t orders = 50000;
  std::vector<int64_t> fanouts{1, 100, 50000};
  int rounds = 3;
};

struct Rec {
  std::string key, value;
};

const char* kSql =
    "CREATE TABLE ORDERS (OID STRING PRIMARY KEY, CUST STRING, AMT INT)\n"
    "  WITH (kafka_topic='orders', value_format='JSON', partitions=1);\n"
    "CREATE TABLE CUSTOMERS (ID STRING PRIMARY KEY, NAME STRING)\n"
    "  WITH (kafka_topic='customers', value_format='JSON', partitions=1);\n"
    "CREATE TABLE OUT AS SELECT O.OID AS OID, AMT, NAME\n"
    "  FROM ORDERS O JOIN CUSTOMERS C ON O.CUST = C.ID;\n";

struct Run {
  double subscribe_cpu = 0, update_cpu = 0;
  int64_t subscribe_outputs = 0, update_outputs = 0;
};

// Pipes `records` into `topic`; returns how many records reached OUT (the
// repartition topics' are dropped with them, every 4096 records).
int64_t pipe_joined(sql::TestDriver& d, const std::string& topic, const std::vector<Rec>& records,
                    TimestampMs& t) {
  int64_t joined = 0;
  auto count = [&] {
    for (const auto& r : d.outputs()) joined += r.topic == "OUT" ? 1 : 0;
    d.clear_outputs();
  };
  for (size_t i = 0; i < records.size(); ++i) {
    d.pipe(topic, records[i].key, records[i].value, ++t);
    if ((i & 4095) == 4095) count();
  }
  count();
  return joined;
}

Expected<Run> run_once(const Topology& topology, const std::vector<Rec>& customers,
                       const std::vector<Rec>& updates, const std::vector<Rec>& orders) {
  auto driver = sql::TestDriver::create(topology);
  if (!driver) return driver.error();
  auto& d = **driver;
  TimestampMs t = 1;
  pipe_joined(d, "customers", customers, t);
  Run r;
  double cpu0 = thread_cpu_seconds();
  r.subscribe_outputs = pipe_joined(d, "orders", orders, t);
  r.subscribe_cpu = thread_cpu_seconds() - cpu0;
  cpu0 = thread_cpu_seconds();
  r.update_outputs = pipe_joined(d, "customers", updates, t);
  r.update_cpu = thread_cpu_seconds() - cpu0;
  if (!d.data_errors().empty())
    return Error::fatal(std::to_string(d.data_errors().size()) + " data errors");
  return r;
}

int run(const Options& o) {
  auto planned = sql::plan_script(kSql);
  if (!planned) {
    std::cerr << "bench_fk_join: " << planned.error().to_string() << "\n";
    return 1;
  }
  std::cerr << "bench_fk_join: " << o.orders << " orders, " << o.rounds << " rounds\n";
  struct Case {
    int64_t fanout = 1, customers = 1;
    std::vector<Rec> rows, updates, orders;
    std::vector<double> subscribe, update;
  };
  std::vector<Case> cases;
  for (int64_t fanout : o.fanouts) {
    Case k;
    k.fanout = fanout;
    k.customers = std::max<int64_t>(1, o.orders / fanout);
    for (int64_t c = 0; c < k.customers; ++c) {
      k.rows.push_back(
          {"c" + std::to_string(c), R"({"NAME":"customer )" + std::to_string(c) + "\"}"});
      k.updates.push_back(
          {"c" + std::to_string(c), R"({"NAME":"renamed )" + std::to_string(c) + "\"}"});
    }
    char buf[96];
    for (int64_t i = 0; i < o.orders; ++i) {
      std::snprintf(buf, sizeof buf, R"({"CUST":"c%lld","AMT":%lld})",
                    static_cast<long long>(i % k.customers), static_cast<long long>(i % 1000));
      k.orders.push_back({"o" + std::to_string(i), buf});
    }
    cases.push_back(std::move(k));
  }
  // The fan-outs alternate within each round, so that the machine's drift
  // and the allocator's warm-up fall on all of them alike.
  for (int round = 0; round < o.rounds; ++round) {
    for (Case& k : cases) {
      auto r = run_once(planned->topology, k.rows, k.updates, k.orders);
      if (!r) {
        std::cerr << "bench_fk_join: fan-out " << k.fanout << ": " << r.error().to_string() << "\n";
        return 1;
      }
      if (r->subscribe_outputs != o.orders || r->update_outputs != o.orders) {
        std::cerr << "bench_fk_join: fan-out " << k.fanout << ": " << r->subscribe_outputs
                  << " and " << r->update_outputs << " joined rows, expected " << o.orders
                  << " each\n";
        return 1;
      }
      k.subscribe.push_back(static_cast<double>(o.orders) / r->subscribe_cpu);
      k.update.push_back(static_cast<double>(r->update_outputs) / r->update_cpu);
      std::cerr << "  round " << round + 1 << " fan-out " << k.fanout << ": "
                << static_cast<int64_t>(k.subscribe.back()) << " orders/CPU s subscribing, "
                << static_cast<int64_t>(k.update.back()) << " joined rows/CPU s on updates\n";
    }
  }
  json result{{"orders", o.orders}, {"rounds", o.rounds}, {"fanouts", json::array()}};
  const double base_subscribe = median(cases.front().subscribe);
  const double base_update = median(cases.front().update);
  for (const Case& k : cases) {
    const double s = median(k.subscribe), u = median(k.update);
    result["fanouts"].push_back({{"fanout", k.fanout},
                                 {"customers", k.customers},
                                 {"subscribe_orders_per_cpu_second", static_cast<int64_t>(s)},
                                 {"subscribe_ratio_to_first", s / base_subscribe},
                                 {"update_rows_per_cpu_second", static_cast<int64_t>(u)},
                                 {"update_ratio_to_first", u / base_update}});
  }
  std::cout << result.dump() << std::endl;
  return 0;
}

}  // namespace
}  // namespace rivulet::bench

int main(int argc, char** argv) {
  rivulet::bench::Options o;
  CLI::App app{
      "bench_fk_join: a foreign-key table join's cost per order as the fan-out of one customer "
      "grows (TestDriver, one thread)"};
  app.add_option("--orders", o.orders, "orders per fan-out and round")->check(CLI::PositiveNumber);
  app.add_option("--fanouts", o.fanouts, "subscribers per customer; the first is the baseline")
      ->delimiter(',');
  app.add_option("--rounds", o.rounds, "rounds per fan-out")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  return rivulet::bench::run(o);
}
