// bench_subquery: what a subquery against a table costs per record, next to
// a plain filter over the same records in the same process. Each query
// reads `--trades` trades against a LIMITS table of `--limits` rows, through
// sql::TestDriver (one thread, no broker), as `rivulet run` plans it:
//
//   filter       WHERE PRICE > 50 (the baseline: no subquery)
//   lookup       WHERE PRICE > (SELECT MAX_PRICE FROM LIMITS L
//                               WHERE L.SYMBOL = T.SYMBOL): a key lookup
//                in the task's KTable (the trades are keyed by symbol: local)
//   cached_avg   WHERE PRICE > (SELECT AVG(MAX_PRICE) FROM LIMITS
//                               WHERE KIND = 'k0'): an uncorrelated scan
//                with an aggregate, folded once per change of the table
//   select       SELECT ..., PRICE - (SELECT MAX_PRICE FROM LIMITS L
//                WHERE L.SYMBOL = T.SYMBOL) AS OVER_BY: the lookup as a
//                value of the SELECT, every trade written
//   correlated   WHERE PRICE > (SELECT MAX(MAX_PRICE) FROM LIMITS L
//                               WHERE L.KIND = T.CLASS): a correlated scan
//                by an equality: LIMITS' rows cached and indexed by KIND,
//                each trade folds the rows of its CLASS (a tenth of them)
//   nested       the lookup, AND L.KIND IN (SELECT M.KIND FROM LIMITS M
//                WHERE M.MAX_PRICE > 55): a subquery nested in the
//                lookup's WHERE, an indexed probe of the replica's cached
//                rows by L.KIND per trade
//   correlated_range  WHERE PRICE > (SELECT COUNT(*) FROM LIMITS L
//                               WHERE L.MAX_PRICE > T.PRICE): a correlated
//                scan without an equality, every row of LIMITS tested for
//                every trade (O(--limits))
//
// The queries alternate for `--rounds` rounds; the median of each is
// reported as trades per CPU second of this thread, and as its ratio to the
// filter's. One JSON object on stdout; progress on stderr.
#include <CLI/CLI.hpp>
#include <algorithm>
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
  int64_t trades = 100000;
  int64_t limits = 100;
  int rounds = 3;
};

struct Rec {
  std::string key, value;
};

const char* kSources =
    "CREATE TABLE LIMITS (SYMBOL STRING PRIMARY KEY, MAX_PRICE DOUBLE, KIND STRING)\n"
    "  WITH (kafka_topic='limits', value_format='JSON', partitions=1);\n"
    "CREATE STREAM TRADES (SYMBOL STRING KEY, ID BIGINT, CLASS STRING, PRICE DOUBLE)\n"
    "  WITH (kafka_topic='trades', value_format='JSON', partitions=1);\n";

struct Query {
  const char* name;
  const char* sql;
};

const Query kQueries[] = {
    {"filter", "CREATE STREAM OUT AS SELECT * FROM TRADES T WHERE PRICE > 50;"},
    {"lookup",
     "CREATE STREAM OUT AS SELECT * FROM TRADES T\n"
     "  WHERE PRICE > (SELECT MAX_PRICE FROM LIMITS L WHERE L.SYMBOL = T.SYMBOL);"},
    {"cached_avg",
     "CREATE STREAM OUT AS SELECT * FROM TRADES T\n"
     "  WHERE PRICE > (SELECT AVG(MAX_PRICE) FROM LIMITS WHERE KIND = 'k0');"},
    {"select",
     "CREATE STREAM OUT AS SELECT SYMBOL, ID, PRICE,\n"
     "  PRICE - (SELECT MAX_PRICE FROM LIMITS L WHERE L.SYMBOL = T.SYMBOL) AS OVER_BY\n"
     "  FROM TRADES T;"},
    {"correlated",
     "CREATE STREAM OUT AS SELECT * FROM TRADES T\n"
     "  WHERE PRICE > (SELECT MAX(MAX_PRICE) FROM LIMITS L WHERE L.KIND = T.CLASS);"},
    {"nested",
     "CREATE STREAM OUT AS SELECT * FROM TRADES T\n"
     "  WHERE PRICE > (SELECT MAX_PRICE FROM LIMITS L WHERE L.SYMBOL = T.SYMBOL\n"
     "                   AND L.KIND IN (SELECT M.KIND FROM LIMITS M WHERE M.MAX_PRICE > 55));"},
    {"correlated_range",
     "CREATE STREAM OUT AS SELECT * FROM TRADES T\n"
     "  WHERE PRICE > (SELECT COUNT(*) FROM LIMITS L WHERE L.MAX_PRICE > T.PRICE);"},
};

std::string symbol(int64_t n) {
  return "s" + std::to_string(n);
}

struct Run {
  double cpu = 0;
  int64_t outputs = 0;
  size_t data_errors = 0;
};

// The limits first (not timed), then the trades.
Expected<Run> run_once(const Topology& topology, const std::vector<Rec>& limits,
                       const std::vector<Rec>& trades) {
  auto driver = sql::TestDriver::create(topology);
  if (!driver) return driver.error();
  auto& d = **driver;
  TimestampMs t = 1;
  pipe_counted(d, "limits", limits, t);
  Run r;
  const double cpu0 = thread_cpu_seconds();
  r.outputs = pipe_counted(d, "trades", trades, t);
  r.cpu = thread_cpu_seconds() - cpu0;
  r.data_errors = d.data_errors().size();
  return r;
}

int run(const Options& o) {
  std::cerr << "bench_subquery: " << o.trades << " trades, " << o.limits << " limits, " << o.rounds
            << " rounds\n";
  std::vector<Rec> limits, trades;
  char buf[160];
  for (int64_t s = 0; s < o.limits; ++s) {
    std::snprintf(buf, sizeof buf, R"({"MAX_PRICE":%lld.5,"KIND":"k%lld"})",
                  static_cast<long long>(40 + s % 21), static_cast<long long>(s % 10));
    limits.push_back({symbol(s), buf});
  }
  for (int64_t n = 0; n < o.trades; ++n) {
    std::snprintf(buf, sizeof buf, R"({"ID":%lld,"CLASS":"k%lld","PRICE":%lld.25})",
                  static_cast<long long>(n), static_cast<long long>(n % 10),
                  static_cast<long long>(30 + (n * 7919) % 41));
    trades.push_back({symbol((n * 104729) % o.limits), buf});
  }
  std::map<std::string, Topology> topologies;
  for (const Query& q : kQueries) {
    auto planned = sql::plan_script(std::string(kSources) + q.sql);
    if (!planned) {
      std::cerr << "bench_subquery: " << q.name << ": " << planned.error().to_string() << "\n";
      return 1;
    }
    topologies.emplace(q.name, std::move(planned->topology));
  }
  std::map<std::string, std::vector<double>> rates;
  std::map<std::string, Run> last;
  for (int round = 0; round < o.rounds; ++round) {
    for (const Query& q : kQueries) {
      auto r = run_once(topologies.at(q.name), limits, trades);
      if (!r) {
        std::cerr << "bench_subquery: " << q.name << ": " << r.error().to_string() << "\n";
        return 1;
      }
      if (r->data_errors > 0) {
        std::cerr << "bench_subquery: " << q.name << ": " << r->data_errors << " data errors\n";
        return 1;
      }
      rates[q.name].push_back(static_cast<double>(o.trades) / r->cpu);
      last[q.name] = *r;
      std::cerr << "  round " << round + 1 << " " << q.name << ": "
                << static_cast<int64_t>(rates[q.name].back()) << " trades per CPU second, "
                << r->outputs << " written\n";
    }
  }
  const double baseline = median(rates.at("filter"));
  json result{{"trades", o.trades}, {"limits", o.limits}, {"rounds", o.rounds}};
  for (const Query& q : kQueries) {
    const double rate = median(rates.at(q.name));
    result[q.name] = {{"trades_per_cpu_second", static_cast<int64_t>(rate)},
                      {"ratio_to_filter", rate / baseline},
                      {"outputs", last.at(q.name).outputs}};
  }
  std::cout << result.dump() << std::endl;
  return 0;
}

}  // namespace
}  // namespace rivulet::bench

int main(int argc, char** argv) {
  rivulet::bench::Options o;
  CLI::App app{
      "bench_subquery: the per-record cost of subqueries against a table, next to a "
      "plain filter (TestDriver, one thread)"};
  app.add_option("--trades", o.trades, "trades per query and round")->check(CLI::PositiveNumber);
  app.add_option("--limits", o.limits, "rows of the LIMITS table")->check(CLI::PositiveNumber);
  app.add_option("--rounds", o.rounds, "rounds (each query once per round)")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  return rivulet::bench::run(o);
}
