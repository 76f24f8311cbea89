// `rivulet run APP.sql` on the embedded broker (`rivulet broker` in its own
// process), kcat as the independent producer and consumer: a correlated
// scalar subquery against a table (re-keyed through a repartition topic;
// one table row comes from the file's INSERT INTO ... VALUES),
// subqueries that scan a table whose rows live in other partitions (and a
// topic with another partition count: a global table replica), an update of
// that table seen by later records, a scalar scan matching two rows
// dead-lettered,
// a subquery nested in a key lookup's WHERE, a lookup in an aggregation's
// SELECT, COUNT_DISTINCT, STDDEV_SAMPLE and ATTR grouped over both tasks,
// a graceful stop on SIGTERM (exit 0), and a bad file (exit 2, line:column).
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "support/child_process.hpp"
#include "support/prometheus_text.hpp"

using rivulet::testing::ChildProcess;
using rivulet::testing::run_command;

namespace {

std::string temp_dir(const char* name) {
  std::string dir = (std::filesystem::temp_directory_path() / name).string() + "-XXXXXX";
  REQUIRE(::mkdtemp(dir.data()) != nullptr);
  return dir;
}

std::vector<std::pair<std::string, std::string>> read_topic(const std::string& bootstrap,
                                                            const std::string& topic) {
  auto [rc, out] = run_command(
      "kcat -b " + bootstrap + " -C -t " + topic + " -o beginning -e -q -f '%k|%s\\n'", "", 60);
  std::vector<std::pair<std::string, std::string>> records;
  if (rc != 0) return records;  // the topic may not exist yet
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    auto bar = line.find('|');
    if (bar != std::string::npos) records.emplace_back(line.substr(0, bar), line.substr(bar + 1));
  }
  return records;
}

template <typename Pred>
bool eventually(Pred pred, int tries = 120) {
  for (int i = 0; i < tries; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return false;
}

}  // namespace

TEST_CASE("rivulet run: a SQL file with a subquery on the embedded broker",
          "[integration][sql]") {
  auto broker = ChildProcess::spawn(
      {rivulet::testing::rivulet_binary(), "broker", "--topic", "limits:2", "--topic", "trades:2",
       "--topic", "watch:3"});
  REQUIRE(broker.has_value());
  auto bootstrap = broker->read_line();
  REQUIRE(bootstrap.has_value());
  const std::string produce =
      "kcat -b " + *bootstrap + " -X partitioner=murmur2_random -P -K '|' -t ";

  std::string limits;
  for (int s = 0; s < 10; ++s)
    limits += "S" + std::to_string(s) + R"(|{"MAX_PRICE": )" + std::to_string(100 + s) +
              R"(, "SECTOR": "x)" + std::to_string(s % 3) + "\"}\n";
  // Sector x2 has no row yet: its limits' accounts have no desk (LEFT).
  REQUIRE(
      run_command(produce + "jsectors", "x0|{\"DESK\": \"d0\"}\nx1|{\"DESK\": \"d1\"}\n").first ==
      0);
  REQUIRE(run_command(produce + "limits", limits).first == 0);
  // The watch list, spread over watch's 3 partitions (trades has 2): S9 is
  // watched twice, S2 is listed but inactive.
  std::map<std::string, std::string> watch_rows = {
      {"w1", "S1"}, {"w3", "S3"}, {"w5", "S5"}, {"w8", "S9"}, {"w9", "S9"}};
  std::string watch;
  for (const auto& [id, symbol] : watch_rows)
    watch += id + R"(|{"SYMBOL": ")" + symbol + R"(", "ACTIVE": true})" + "\n";
  watch += R"(w2|{"SYMBOL": "S2", "ACTIVE": false})" "\n";
  REQUIRE(run_command(produce + "watch", watch).first == 0);

  std::string dir = temp_dir("rivulet-sql-run");
  std::string app = dir + "/alerts.sql";
  {
    std::ofstream out(app);
    out << "-- Trades above their symbol's limit.\n"
           "SET 'application.id' = 'sql-run-test';\n"
           "SET 'commit.interval.ms' = '100';\n"
           "SET 'auto.offset.reset' = 'earliest';\n"
           "CREATE TABLE LIMITS (SYMBOL STRING PRIMARY KEY, MAX_PRICE DOUBLE, SECTOR STRING)\n"
           "  WITH (kafka_topic='limits', value_format='JSON');\n"
           "CREATE STREAM TRADES (ID STRING KEY, SYMBOL STRING, PRICE DOUBLE)\n"
           "  WITH (kafka_topic='trades', value_format='JSON');\n"
           "CREATE TABLE LIMITS_SEEN WITH (kafka_topic='limits-seen') AS\n"
           "  SELECT SYMBOL, MAX_PRICE FROM LIMITS;\n"
           "CREATE STREAM ALERTS WITH (kafka_topic='alerts') AS\n"
           "  SELECT ID, SYMBOL, PRICE,\n"
           "    PRICE - (SELECT MAX_PRICE FROM LIMITS L WHERE L.SYMBOL = TRADES.SYMBOL) AS "
           "OVER_BY\n"
           "  FROM TRADES\n"
           "  WHERE PRICE > (SELECT MAX_PRICE FROM LIMITS L WHERE L.SYMBOL = TRADES.SYMBOL);\n"
           "CREATE TABLE WATCH (WID STRING PRIMARY KEY, SYMBOL STRING, ACTIVE BOOLEAN)\n"
           "  WITH (kafka_topic='watch', value_format='JSON');\n"
           "CREATE STREAM WATCHED WITH (kafka_topic='watched') AS\n"
           "  SELECT ID, SYMBOL, (SELECT SYMBOL FROM WATCH W WHERE W.WID = 'w1') AS W1_SYMBOL\n"
           "  FROM TRADES\n"
           "  WHERE SYMBOL IN (SELECT SYMBOL FROM WATCH WHERE ACTIVE);\n"
           "CREATE STREAM WATCH_IDS WITH (kafka_topic='watch-ids') AS\n"
           "  SELECT ID, SYMBOL FROM TRADES\n"
           "  WHERE (SELECT WID FROM WATCH W WHERE W.SYMBOL = TRADES.SYMBOL) IS NOT NULL;\n"
           "CREATE TABLE HOT WITH (kafka_topic='hot') AS\n"
           "  SELECT SYMBOL, COUNT(*) AS N,\n"
           "    (SELECT MAX_PRICE FROM LIMITS L WHERE L.SYMBOL = TRADES.SYMBOL) AS CAP\n"
           "  FROM TRADES GROUP BY SYMBOL\n"
           "  HAVING COUNT(*) >= (SELECT COUNT(*) FROM WATCH WHERE ACTIVE);\n"
           "CREATE STREAM TWICE WITH (kafka_topic='twice') AS\n"
           "  SELECT ID, SYMBOL, SYMBOL IN (SELECT SYMBOL FROM WATCH WHERE ACTIVE\n"
           "    GROUP BY SYMBOL HAVING COUNT(*) >= 2) AS GROUPED FROM TRADES\n"
           "  WHERE (SELECT COUNT(*) FROM WATCH W WHERE W.ACTIVE AND W.SYMBOL = TRADES.SYMBOL) = "
           "2;\n"
           "CREATE STREAM WATCHED_LOW WITH (kafka_topic='watched-low') AS\n"
           "  SELECT ID, SYMBOL FROM TRADES\n"
           "  WHERE SYMBOL IN (SELECT SYMBOL FROM LIMITS L WHERE L.MAX_PRICE < 104\n"
           "                   AND L.SYMBOL IN (SELECT SYMBOL FROM WATCH WHERE ACTIVE));\n"
           "CREATE TABLE PRICE_STATS WITH (kafka_topic='price-stats') AS\n"
           "  SELECT SYMBOL, COUNT(*) AS N, COUNT_DISTINCT(PRICE) AS PRICES,\n"
           "    STDDEV_SAMPLE(PRICE) AS SD, ATTR(ID) AS ONLY_ID\n"
           "  FROM TRADES GROUP BY SYMBOL;\n"
           "-- Written to the topic 'limits' before the queries start.\n"
           "INSERT INTO LIMITS (MAX_PRICE, SYMBOL) VALUES (CAST(50 AS DOUBLE) / 2 * 2, 'S10');\n";
  }
  auto run = ChildProcess::spawn({rivulet::testing::rivulet_binary(), "run", app, "--bootstrap",
                                  *bootstrap, "--set", "state.dir=" + dir + "/state"});
  REQUIRE(run.has_value());
  auto line = run->read_line();
  REQUIRE(line.has_value());
  CHECK(line->rfind("running 8 queries from " + app, 0) == 0);
  CHECK(line->find("application.id=sql-run-test") != std::string::npos);
  // Every limit is in the table before a trade arrives.
  REQUIRE(eventually([&] { return read_topic(*bootstrap, "limits-seen").size() >= 11; }));

  std::string trades;
  std::set<std::string> expected;
  for (int i = 0; i < 60; ++i) {
    int symbol = i % 12;  // S11 has no limit: never an alert
    double price = 90 + (i * 7) % 25;
    std::string id = "t" + std::to_string(i);
    trades += id + R"(|{"SYMBOL": "S)" + std::to_string(symbol) + R"(", "PRICE": )" +
              std::to_string(price) + "}\n";
    // S10's limit (50) comes from the file's INSERT INTO ... VALUES.
    if ((symbol < 10 && price > 100 + symbol) || symbol == 10) expected.insert(id);
  }
  REQUIRE(expected.size() > 5);
  REQUIRE(run_command(produce + "trades", trades).first == 0);

  std::vector<std::pair<std::string, std::string>> alerts;
  eventually([&] {
    alerts = read_topic(*bootstrap, "alerts");
    return alerts.size() >= expected.size();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // nothing more arrives
  alerts = read_topic(*bootstrap, "alerts");
  std::set<std::string> got;
  for (const auto& [key, value] : alerts) {
    got.insert(key);
    auto v = nlohmann::json::parse(value);
    int symbol = std::stoi(v["SYMBOL"].get<std::string>().substr(1));
    const double limit = symbol == 10 ? 50 : 100 + symbol;
    CHECK(v["PRICE"].get<double>() > limit);
    CHECK(v["OVER_BY"].get<double>() == Approx(v["PRICE"].get<double>() - limit));
  }
  CHECK(alerts.size() == expected.size());
  CHECK(got == expected);

  // Scans: IN over the watch list (every node holds all of it, whatever
  // partition a trade is in), and a scalar scan that fails for S9.
  std::set<std::string> want_watched, want_ids, want_dead;
  for (int i = 0; i < 60; ++i) {
    int symbol = i % 12;
    std::string id = "t" + std::to_string(i);
    if (symbol == 1 || symbol == 3 || symbol == 5 || symbol == 9) want_watched.insert(id);
    if (symbol == 1 || symbol == 3 || symbol == 5 || symbol == 2) want_ids.insert(id);
    if (symbol == 9) want_dead.insert(id);
  }
  auto keys_of = [&](const std::string& topic) {
    std::multiset<std::string> keys;
    for (const auto& [key, value] : read_topic(*bootstrap, topic)) keys.insert(key);
    return keys;
  };
  std::multiset<std::string> watched, ids;
  eventually([&] {
    watched = keys_of("watched");
    ids = keys_of("watch-ids");
    return watched.size() >= want_watched.size() && ids.size() >= want_ids.size();
  });
  CHECK(std::set<std::string>(watched.begin(), watched.end()) == want_watched);
  // A lookup by a constant key reads WATCH's global replica (no re-key).
  for (const auto& [key, value] : read_topic(*bootstrap, "watched"))
    CHECK(nlohmann::json::parse(value)["W1_SYMBOL"] == "S1");
  CHECK(watched.size() == want_watched.size());
  CHECK(std::set<std::string>(ids.begin(), ids.end()) == want_ids);
  CHECK(ids.size() == want_ids.size());
  // A subquery nested in a key lookup: the limits under 104 (S0 to S3, and
  // S10) whose symbol is on the active watch list (S1, S3, S5, S9).
  std::set<std::string> want_low;
  for (int i = 0; i < 60; ++i)
    if (i % 12 == 1 || i % 12 == 3) want_low.insert("t" + std::to_string(i));
  std::multiset<std::string> low;
  eventually([&] {
    low = keys_of("watched-low");
    return low.size() >= want_low.size();
  });
  CHECK(std::set<std::string>(low.begin(), low.end()) == want_low);
  CHECK(low.size() == want_low.size());
  // An aggregate over the watch list: only S9 is watched twice (the whole
  // list, whatever partitions of watch hold it, is in the node's replica).
  std::multiset<std::string> twice;
  eventually([&] {
    twice = keys_of("twice");
    return twice.size() >= want_dead.size();
  });
  CHECK(std::set<std::string>(twice.begin(), twice.end()) == want_dead);
  CHECK(twice.size() == want_dead.size());
  // The same through a grouped subquery: S9 is the one group of two.
  for (const auto& [key, value] : read_topic(*bootstrap, "twice"))
    CHECK(nlohmann::json::parse(value)["GROUPED"] == true);
  // HAVING against the watch list's size (5 active rows): each symbol's
  // count passes it at its fifth trade, and only then.
  // Its SELECT looks each group's limit up in LIMITS' replica.
  std::map<std::string, std::vector<int>> hot;
  std::map<std::string, nlohmann::json> caps;
  eventually([&] {
    hot.clear();
    for (const auto& [key, value] : read_topic(*bootstrap, "hot")) {
      auto v = nlohmann::json::parse(value);
      hot[key].push_back(v["N"].get<int>());
      caps[key] = v["CAP"];
    }
    return hot.size() >= 12;
  });
  CHECK(hot.size() == 12);
  for (const auto& [symbol, counts] : hot) {
    INFO(symbol);
    CHECK(counts == std::vector<int>{5});
    const int s = std::stoi(symbol.substr(1));
    if (s == 11) CHECK(caps[symbol].is_null());
    else CHECK(caps[symbol] == (s == 10 ? 50.0 : 100.0 + s));
  }
  // Statistics per symbol, re-keyed by SYMBOL over both tasks (two phases
  // through the repartition topic): each symbol's five trades.
  std::map<std::string, std::vector<double>> prices;
  for (int i = 0; i < 60; ++i) prices["S" + std::to_string(i % 12)].push_back(90 + (i * 7) % 25);
  std::map<std::string, nlohmann::json> stats;
  eventually([&] {
    stats.clear();
    for (const auto& [key, value] : read_topic(*bootstrap, "price-stats"))
      stats[key] = nlohmann::json::parse(value);
    if (stats.size() < 12) return false;
    for (const auto& [symbol, v] : stats)
      if (v["N"] != 5) return false;
    return true;
  });
  REQUIRE(stats.size() == 12);
  for (const auto& [symbol, v] : stats) {
    INFO(symbol << ": " << v.dump());
    const std::vector<double>& ps = prices[symbol];
    CHECK(v["N"] == 5);
    CHECK(v["PRICES"] == std::set<double>(ps.begin(), ps.end()).size());
    double mean = 0, ss = 0;
    for (double p : ps) mean += p / 5;
    for (double p : ps) ss += (p - mean) * (p - mean);
    CHECK(v["SD"].get<double>() == Approx(std::sqrt(ss / 4)));
    CHECK(v["ONLY_ID"].is_null());  // five trades, five IDs
  }
  // The S9 trades of WATCH_IDS are data errors: dead-lettered, not lost.
  std::multiset<std::string> dead;
  eventually([&] {
    dead = keys_of("sql-run-test-dlq");
    return dead.size() >= want_dead.size();
  });
  CHECK(std::set<std::string>(dead.begin(), dead.end()) == want_dead);

  // A table update is seen by later records: S7 becomes watched.
  REQUIRE(run_command(produce + "watch", R"(w7|{"SYMBOL": "S7", "ACTIVE": true})" "\n").first ==
          0);
  bool seen = false;
  for (int i = 0; i < 40 && !seen; ++i) {
    std::string id = "u" + std::to_string(i);
    REQUIRE(run_command(produce + "trades", id + R"(|{"SYMBOL": "S7", "PRICE": 1.0})" "\n")
                .first == 0);
    seen = eventually([&] { return keys_of("watched").count(id) > 0; }, 4);
  }
  CHECK(seen);

  CHECK(run->stop(SIGTERM, std::chrono::seconds(30)) == 0);
  CHECK(broker->stop(SIGTERM) == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE(
    "rivulet run: a stream-table join on a non-key column finds every table row across partitions, "
    "and foreign-key table joins",
    "[integration][sql]") {
  // The stream is re-keyed by SYMBOL through a repartition topic; the
  // repartitioned record must land in the partition that holds its table
  // row, so the repartition topic's key must be written in the table's key
  // format (here KAFKA strings) before Java's partitioner hashes it.
  auto broker = ChildProcess::spawn({rivulet::testing::rivulet_binary(), "broker", "--topic",
                                     "jlimits:4", "--topic", "jtrades:4", "--topic", "jaccounts:4",
                                     "--topic", "jsectors:4"});
  REQUIRE(broker.has_value());
  auto bootstrap = broker->read_line();
  REQUIRE(bootstrap.has_value());
  const std::string produce =
      "kcat -b " + *bootstrap + " -X partitioner=murmur2_random -P -K '|' -t ";

  std::string limits;
  for (int s = 0; s < 20; ++s)
    limits += "S" + std::to_string(s) + R"(|{"MAX_PRICE": )" + std::to_string(100 + s) +
              R"(, "SECTOR": "x)" + std::to_string(s % 3) + "\"}\n";
  // Sector x2 has no row yet: its limits' accounts have no desk (LEFT).
  REQUIRE(
      run_command(produce + "jsectors", "x0|{\"DESK\": \"d0\"}\nx1|{\"DESK\": \"d1\"}\n").first ==
      0);
  REQUIRE(run_command(produce + "jlimits", limits).first == 0);

  std::string dir = temp_dir("rivulet-sql-join");
  std::string app = dir + "/join.sql";
  {
    std::ofstream out(app);
    out << "SET 'application.id' = 'sql-join-test';\n"
           "SET 'commit.interval.ms' = '100';\n"
           "CREATE TABLE LIMITS (SYMBOL STRING PRIMARY KEY, MAX_PRICE DOUBLE, SECTOR STRING)\n"
           "  WITH (kafka_topic='jlimits', value_format='JSON');\n"
           "CREATE STREAM TRADES (ID STRING KEY, SYMBOL STRING, PRICE DOUBLE)\n"
           "  WITH (kafka_topic='jtrades', value_format='JSON');\n"
           "CREATE TABLE LIMITS_SEEN WITH (kafka_topic='jlimits-seen') AS\n"
           "  SELECT SYMBOL, MAX_PRICE FROM LIMITS;\n"
           "CREATE STREAM ENRICHED WITH (kafka_topic='jenriched') AS\n"
           "  SELECT T.SYMBOL AS SYMBOL, T.ID AS ID, L.MAX_PRICE AS MAX_PRICE\n"
           "  FROM TRADES T JOIN LIMITS L ON T.SYMBOL = L.SYMBOL;\n"
           "CREATE TABLE ACCOUNTS (AID STRING PRIMARY KEY, SYMBOL STRING)\n"
           "  WITH (kafka_topic='jaccounts', value_format='JSON');\n"
           "CREATE TABLE ACCOUNT_LIMITS WITH (kafka_topic='jaccount-limits') AS\n"
           "  SELECT A.AID AS AID, A.SYMBOL AS SYMBOL, L.MAX_PRICE AS MAX_PRICE\n"
           "  FROM ACCOUNTS A JOIN LIMITS L ON A.SYMBOL = L.SYMBOL;\n"
           "CREATE TABLE SECTORS (SECTOR STRING PRIMARY KEY, DESK STRING)\n"
           "  WITH (kafka_topic='jsectors', value_format='JSON');\n"
           "CREATE TABLE ACCOUNT_DESKS WITH (kafka_topic='jaccount-desks') AS\n"
           "  SELECT A.AID AS AID, L.MAX_PRICE AS MAX_PRICE, S.DESK AS DESK\n"
           "  FROM ACCOUNTS A JOIN LIMITS L ON A.SYMBOL = L.SYMBOL\n"
           "  LEFT JOIN SECTORS S ON L.SECTOR = S.SECTOR;\n";
  }
  auto run = ChildProcess::spawn({rivulet::testing::rivulet_binary(), "run", app, "--bootstrap",
                                  *bootstrap, "--set", "state.dir=" + dir + "/state"});
  REQUIRE(run.has_value());
  REQUIRE(run->read_line().has_value());
  REQUIRE(eventually([&] { return read_topic(*bootstrap, "jlimits-seen").size() >= 20; }));

  std::string trades;
  std::set<std::string> expected;
  for (int i = 0; i < 80; ++i) {
    int symbol = i % 20;
    std::string id = "t" + std::to_string(i);
    trades += id + R"(|{"SYMBOL": "S)" + std::to_string(symbol) + R"(", "PRICE": 1.5})" + "\n";
    expected.insert(id);
  }
  REQUIRE(run_command(produce + "jtrades", trades).first == 0);

  std::vector<std::pair<std::string, std::string>> enriched;
  eventually([&] {
    enriched = read_topic(*bootstrap, "jenriched");
    return enriched.size() >= expected.size();
  });
  std::set<std::string> got;
  for (const auto& [key, value] : enriched) {
    auto v = nlohmann::json::parse(value);
    got.insert(v["ID"].get<std::string>());
    CHECK(v["MAX_PRICE"].get<double>() == 100 + std::stoi(key.substr(1)));
  }
  CHECK(enriched.size() == expected.size());
  CHECK(got == expected);

  // A foreign-key table-table join (ACCOUNTS.SYMBOL -> LIMITS' key): the
  // account's and the limit's rows live in different partitions; the
  // result (keyed by AID) follows changes of either side.
  std::map<std::string, int> symbol_of;
  std::string accounts;
  for (int a = 0; a < 40; ++a) {
    symbol_of["a" + std::to_string(a)] = a % 20;
    accounts += "a" + std::to_string(a) + R"(|{"SYMBOL": "S)" + std::to_string(a % 20) + "\"}\n";
  }
  REQUIRE(run_command(produce + "jaccounts", accounts).first == 0);
  std::map<int, double> limit_of;
  for (int s = 0; s < 20; ++s) limit_of[s] = 100 + s;
  auto latest = [&] {  // AID -> MAX_PRICE, the last record of each key
    std::map<std::string, double> out;
    for (const auto& [key, value] : read_topic(*bootstrap, "jaccount-limits")) {
      if (value.empty()) {
        out.erase(key);
      } else {
        out[key] = nlohmann::json::parse(value)["MAX_PRICE"].get<double>();
      }
    }
    return out;
  };
  auto wanted = [&] {
    std::map<std::string, double> out;
    for (const auto& [aid, s] : symbol_of) out[aid] = limit_of[s];
    return out;
  };
  // A foreign key of the foreign-key join's right table (LIMITS.SECTOR ->
  // SECTORS' key): a three-table chain, keyed by AID, each table in its own
  // partitions. AID -> "MAX_PRICE/DESK".
  std::map<std::string, std::string> desk_of = {{"x0", "d0"}, {"x1", "d1"}};
  auto latest_desks = [&] {
    std::map<std::string, std::string> out;
    for (const auto& [key, value] : read_topic(*bootstrap, "jaccount-desks")) {
      if (value.empty()) {
        out.erase(key);
      } else {
        auto v = nlohmann::json::parse(value);
        out[key] = std::to_string(v["MAX_PRICE"].get<int>()) + "/" +
                   (v["DESK"].is_null() ? "null" : v["DESK"].get<std::string>());
      }
    }
    return out;
  };
  auto wanted_desks = [&] {
    std::map<std::string, std::string> out;
    for (const auto& [aid, s] : symbol_of) {
      auto d = desk_of.find("x" + std::to_string(s % 3));
      out[aid] = std::to_string(static_cast<int>(limit_of[s])) + "/" +
                 (d == desk_of.end() ? "null" : d->second);
    }
    return out;
  };
  std::map<std::string, double> joined;
  CHECK(eventually([&] { return (joined = latest()) == wanted(); }));
  CHECK(joined.size() == 40);
  std::map<std::string, std::string> desks;
  CHECK(eventually([&] { return (desks = latest_desks()) == wanted_desks(); }));
  CHECK(desks.size() == 40);
  // Ten accounts move to another symbol, one limit changes, one account goes.
  accounts.clear();
  for (int a = 0; a < 10; ++a) {
    symbol_of["a" + std::to_string(a)] = (a + 5) % 20;
    accounts += "a" + std::to_string(a) + R"(|{"SYMBOL": "S)" + std::to_string((a + 5) % 20) + "\"}\n";
  }
  accounts += "a39|\n";
  symbol_of.erase("a39");
  REQUIRE(run_command(produce + "jaccounts -Z", accounts).first == 0);
  REQUIRE(run_command(produce + "jlimits", R"(S7|{"MAX_PRICE": 500, "SECTOR": "x1"})"
                                           "\n")
              .first == 0);
  limit_of[7] = 500;
  // Sector x2 gets a desk, x0 another one.
  REQUIRE(
      run_command(produce + "jsectors", "x2|{\"DESK\": \"d2\"}\nx0|{\"DESK\": \"d0b\"}\n").first ==
      0);
  desk_of["x2"] = "d2";
  desk_of["x0"] = "d0b";
  CHECK(eventually([&] { return (joined = latest()) == wanted(); }));
  CHECK(joined.size() == 39);
  CHECK(eventually([&] { return (desks = latest_desks()) == wanted_desks(); }));
  CHECK(desks.size() == 39);

  CHECK(run->stop(SIGTERM, std::chrono::seconds(30)) == 0);
  CHECK(broker->stop(SIGTERM) == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("rivulet run: a bad file names line:column and exits 2", "[integration][sql]") {
  std::string dir = temp_dir("rivulet-sql-bad");
  std::string app = dir + "/bad.sql";
  {
    std::ofstream out(app);
    out << "CREATE STREAM S (ID INT KEY, V INT) WITH (kafka_topic='s', value_format='JSON');\n"
           "CREATE STREAM T AS SELECT ID, W FROM S;\n";
  }
  auto [rc, out] = run_command(rivulet::testing::rivulet_binary() + " run " + app +
                                   " --bootstrap 127.0.0.1:1 2>&1",
                               "", 30);
  CHECK(rc == 2);
  CHECK(out.find(app + ": line 2:") != std::string::npos);
  auto [rc2, out2] = run_command(
      rivulet::testing::rivulet_binary() + " run " + dir + "/missing.sql 2>&1", "", 30);
  CHECK(rc2 == 2);
  CHECK(out2.find("cannot read") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("rivulet run: a source declared with PARTITIONS has its topic created, as in ksqlDB",
          "[integration][sql]") {
  auto broker = ChildProcess::spawn({rivulet::testing::rivulet_binary(), "broker"});
  REQUIRE(broker.has_value());
  auto bootstrap = broker->read_line();
  REQUIRE(bootstrap.has_value());
  std::string dir = temp_dir("rivulet-sql-declared");
  auto write_app = [&](const std::string& path, int partitions) {
    std::ofstream out(path);
    out << "SET 'application.id' = 'sql-declared-" << partitions << "';\n"
        << "SET 'commit.interval.ms' = '100';\n"
        << "CREATE STREAM EV (K STRING KEY, V INT)\n"
        << "  WITH (kafka_topic='declared_ev', value_format='JSON', partitions=" << partitions
        << ");\n"
        << "CREATE STREAM BIG WITH (kafka_topic='declared_big') AS SELECT K, V FROM EV WHERE V > 1;\n";
  };
  const std::string app = dir + "/declared.sql";
  write_app(app, 3);
  auto run = ChildProcess::spawn({rivulet::testing::rivulet_binary(), "run", app, "--bootstrap",
                                  *bootstrap, "--set", "state.dir=" + dir + "/state"});
  REQUIRE(run.has_value());
  auto line = run->read_line();
  REQUIRE(line.has_value());
  CHECK(line->rfind("running 1 query from " + app, 0) == 0);
  CHECK(line->find(", 3 partitions)") != std::string::npos);
  // kcat, an independent client, sees the topic with its 3 partitions.
  auto [lrc, listing] = run_command("kcat -b " + *bootstrap + " -L -t declared_ev", "", 30);
  CHECK(lrc == 0);
  CHECK(listing.find("with 3 partitions") != std::string::npos);
  REQUIRE(run_command("kcat -b " + *bootstrap + " -P -K '|' -t declared_ev",
                      "a|{\"V\": 1}\nb|{\"V\": 2}\nc|{\"V\": 3}\n")
              .first == 0);
  std::vector<std::pair<std::string, std::string>> big;
  eventually([&] {
    big = read_topic(*bootstrap, "declared_big");
    return big.size() >= 2;
  });
  std::set<std::string> keys;
  for (const auto& [k, v] : big) keys.insert(k);
  CHECK(keys == std::set<std::string>{"b", "c"});
  CHECK(run->stop(SIGTERM, std::chrono::seconds(30)) == 0);

  // Declared with another count than the topic has: refused before any
  // query starts, naming both counts.
  const std::string other = dir + "/other.sql";
  write_app(other, 5);
  auto [rc, out] = run_command(rivulet::testing::rivulet_binary() + " run " + other +
                                   " --bootstrap " + *bootstrap + " --set state.dir=" + dir +
                                   "/state2 2>&1",
                               "", 60);
  INFO(out);
  CHECK(rc == 1);
  CHECK(out.find("stream EV (PARTITIONS=5): topic 'declared_ev' exists with 3 partitions, but 5 "
                 "were requested") != std::string::npos);
  CHECK(broker->stop(SIGTERM) == 0);
  std::filesystem::remove_all(dir);
}

// `rivulet run --udf-library`: a library of user-defined functions
// (examples/udf/mask_card_udf.cpp) loaded before the file is planned; a
// call that throws gives NULL, the record goes on and
// rivulet_task_expression_errors_total counts it; its aggregate function
// (WEIGHTED_AVG) groups through a repartition topic. A library that cannot
// be loaded stops the command with exit status 2.
TEST_CASE("rivulet run: user-defined functions from --udf-library", "[integration][sql][udf]") {
  auto broker =
      ChildProcess::spawn({rivulet::testing::rivulet_binary(), "broker", "--topic", "pay:2"});
  REQUIRE(broker.has_value());
  auto bootstrap = broker->read_line();
  REQUIRE(bootstrap.has_value());
  std::string dir = temp_dir("rivulet-sql-udf");
  const std::string app = dir + "/udf.sql";
  std::ofstream(app) << "SET 'application.id' = 'sql-udf';\n"
                     << "SET 'commit.interval.ms' = '100';\n"
                     << "CREATE STREAM PAY (ID STRING KEY, CARD STRING, AMOUNT DOUBLE, QTY INT)\n"
                     << "  WITH (kafka_topic='pay', value_format='JSON');\n"
                     << "CREATE STREAM MASKED AS SELECT ID, MASK_CARD(CARD) AS CARD,\n"
                     << "  luhn_valid(CARD) AS OK FROM PAY;\n"
                     << "CREATE TABLE BY_PREFIX AS SELECT SUBSTRING(ID, 1, 1) AS P,\n"
                     << "  WEIGHTED_AVG(AMOUNT, QTY) AS AVG_AMOUNT, COUNT(*) AS N\n"
                     << "  FROM PAY GROUP BY SUBSTRING(ID, 1, 1);\n";
  const std::string library = RIVULET_EXAMPLE_UDF_LIBRARY;

  // Without the library the file does not plan.
  auto [brc, bout] =
      run_command(rivulet::testing::rivulet_binary() + " run " + app + " --explain 2>&1", "", 60);
  INFO(bout);
  CHECK(brc == 2);
  CHECK(bout.find("line 5:36: Can't find any functions with the name 'MASK_CARD'") !=
        std::string::npos);
  auto [mrc, mout] = run_command(rivulet::testing::rivulet_binary() + " run " + app +
                                     " --udf-library " + dir + "/missing.so --explain 2>&1",
                                 "", 60);
  CHECK(mrc == 2);
  CHECK(mout.find("rivulet: cannot load UDF library " + dir + "/missing.so") != std::string::npos);

  auto run = ChildProcess::spawn({rivulet::testing::rivulet_binary(), "run", app, "--udf-library",
                                  library, "--bootstrap", *bootstrap, "--set",
                                  "state.dir=" + dir + "/state", "--http", "127.0.0.1:0"});
  REQUIRE(run.has_value());
  auto line = run->read_line();
  REQUIRE(line.has_value());
  CHECK(line->rfind("running 2 queries from " + app, 0) == 0);
  auto http = run->read_line();
  REQUIRE(http.has_value());
  REQUIRE(http->rfind("http ", 0) == 0);
  REQUIRE(run_command("kcat -b " + *bootstrap + " -P -K '|' -t pay",
                      "p1|{\"CARD\": \"4111111111111111\", \"AMOUNT\": 10, \"QTY\": 1}\n"
                      "p2|{\"CARD\": \"12\", \"AMOUNT\": 4, \"QTY\": 2}\n"
                      "p3|{\"CARD\": \"4111111111111112\", \"AMOUNT\": 7, \"QTY\": 2}\n")
              .first == 0);
  std::vector<std::pair<std::string, std::string>> masked;
  eventually([&] {
    masked = read_topic(*bootstrap, "MASKED");
    return masked.size() >= 3;
  });
  std::map<std::string, nlohmann::json> by_id;
  for (const auto& [k, v] : masked) by_id[k] = nlohmann::json::parse(v);
  REQUIRE(by_id.size() == 3);
  CHECK(by_id["p1"] == nlohmann::json::parse(R"({"CARD":"****1111","OK":true})"));
  CHECK(by_id["p2"] == nlohmann::json::parse(R"({"CARD":null,"OK":false})"));
  CHECK(by_id["p3"] == nlohmann::json::parse(R"({"CARD":"****1112","OK":false})"));
  // The aggregate of all three (partials merged after the repartition topic):
  // (10 * 1 + 4 * 2 + 7 * 2) / 5.
  nlohmann::json average;
  eventually([&] {
    for (const auto& [k, v] : read_topic(*bootstrap, "BY_PREFIX"))
      if (k == "p") average = nlohmann::json::parse(v);
    return average.value("N", 0) == 3;
  });
  CHECK(average == nlohmann::json::parse(R"({"AVG_AMOUNT":6.4,"N":3})"));
  // The one failed call, counted (metrics are refreshed after each run).
  double errors = -1;
  eventually([&] {
    auto [rc, text] = run_command("curl -sf http://" + http->substr(5) + "/metrics", "", 10);
    if (rc != 0) return false;
    errors = rivulet::testing::metric_sum(text, "rivulet_task_expression_errors_total");
    return errors == 1;
  });
  CHECK(errors == 1);
  CHECK(run->stop(SIGTERM, std::chrono::seconds(30)) == 0);
  CHECK(broker->stop(SIGTERM) == 0);
  std::filesystem::remove_all(dir);
}

// One file, inputs of 2, 3, 4 and 5 partitions: only the inputs of a join
// must agree; and a query reading another's result, whose topic the start
// creates first. The application runs 5 tasks, task i reading partition i of
// the inputs that have one; each repartition topic takes the count of what
// it is joined with (a re-keyed stream: its table's; a foreign-key join's
// subscriptions: the right table's, its responses: the left table's), a
// GROUP BY's the task count. A repartition topic with the task count
// instead would place most re-keyed rows in a task without their table row.
TEST_CASE("rivulet run: inputs no join ties may have different partition counts",
          "[integration][sql]") {
  auto broker = ChildProcess::spawn({rivulet::testing::rivulet_binary(), "broker"});
  REQUIRE(broker.has_value());
  auto bootstrap = broker->read_line();
  REQUIRE(bootstrap.has_value());
  std::string dir = temp_dir("rivulet-sql-mixed");
  const std::string app = dir + "/mixed.sql";
  {
    std::ofstream out(app);
    out << "SET 'application.id' = 'mixed';\n"
           "SET 'commit.interval.ms' = '100';\n"
           "CREATE STREAM CLICKS (USER_ID STRING KEY, PAGE STRING)\n"
           "  WITH (kafka_topic='mixed_clicks', value_format='JSON', partitions=2);\n"
           "CREATE TABLE CUSTOMERS (ID STRING PRIMARY KEY, NAME STRING)\n"
           "  WITH (kafka_topic='mixed_customers', value_format='JSON', partitions=3);\n"
           "CREATE STREAM PAYMENTS (ID STRING KEY, CUSTOMER_ID STRING, AMOUNT INT)\n"
           "  WITH (kafka_topic='mixed_payments', value_format='JSON', partitions=4);\n"
           "CREATE TABLE ORDERS (ID STRING PRIMARY KEY, CUSTOMER_ID STRING, AMOUNT INT)\n"
           "  WITH (kafka_topic='mixed_orders', value_format='JSON', partitions=5);\n"
           "CREATE TABLE PAGE_COUNTS WITH (kafka_topic='mixed_page_counts') AS\n"
           "  SELECT PAGE, COUNT(*) AS N FROM CLICKS GROUP BY PAGE;\n"
           "CREATE STREAM PAID WITH (kafka_topic='mixed_paid') AS\n"
           "  SELECT P.CUSTOMER_ID AS CUSTOMER_ID, P.ID AS PAYMENT, C.NAME AS NAME\n"
           "  FROM PAYMENTS P JOIN CUSTOMERS C ON P.CUSTOMER_ID = C.ID;\n"
           "CREATE TABLE ORDER_NAMES WITH (kafka_topic='mixed_order_names') AS\n"
           "  SELECT O.ID AS ID, C.NAME AS NAME, O.AMOUNT AS AMOUNT\n"
           "  FROM ORDERS O JOIN CUSTOMERS C ON O.CUSTOMER_ID = C.ID;\n"
           // A result another query of the file reads: created first, with
           // its PARTITIONS; the next one like its first source.
           "CREATE STREAM BIG_PAYMENTS WITH (kafka_topic='mixed_big', partitions=2) AS\n"
           "  SELECT * FROM PAYMENTS WHERE AMOUNT > 40;\n"
           "CREATE STREAM HUGE_PAYMENTS WITH (kafka_topic='mixed_huge') AS\n"
           "  SELECT * FROM BIG_PAYMENTS WHERE AMOUNT > 45;\n";
  }
  const std::string produce =
      "kcat -b " + *bootstrap + " -X partitioner=murmur2_random -P -K '|' -t ";
  auto run = ChildProcess::spawn({rivulet::testing::rivulet_binary(), "run", app, "--bootstrap",
                                  *bootstrap, "--set", "state.dir=" + dir + "/state"});
  REQUIRE(run.has_value());
  auto line = run->read_line();
  REQUIRE(line.has_value());
  CHECK(line->find(", 5 partitions)") != std::string::npos);

  const int customers = 24;
  std::string rows;
  for (int c = 0; c < customers; ++c)
    rows += "c" + std::to_string(c) + R"(|{"NAME": "n)" + std::to_string(c) + "\"}\n";
  REQUIRE(run_command(produce + "mixed_customers", rows).first == 0);
  std::string clicks;
  for (int i = 0; i < 30; ++i)
    clicks += "u" + std::to_string(i) + R"(|{"PAGE": "p)" + std::to_string(i % 3) + "\"}\n";
  REQUIRE(run_command(produce + "mixed_clicks", clicks).first == 0);
  // The customers are in before the payments and orders join them.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  std::string payments, orders;
  for (int i = 0; i < 48; ++i) {
    const std::string c = "c" + std::to_string(i % customers);
    payments += "pay" + std::to_string(i) + R"(|{"CUSTOMER_ID": ")" + c + R"(", "AMOUNT": )" +
                std::to_string(i) + "}\n";
    orders += "o" + std::to_string(i) + R"(|{"CUSTOMER_ID": ")" + c + R"(", "AMOUNT": )" +
              std::to_string(i) + "}\n";
  }
  REQUIRE(run_command(produce + "mixed_payments", payments).first == 0);
  REQUIRE(run_command(produce + "mixed_orders", orders).first == 0);

  // Every payment joined with its customer's name (keyed by the customer).
  std::map<std::string, std::pair<std::string, std::string>> paid;  // payment -> key, name
  eventually([&] {
    paid.clear();
    for (const auto& [k, v] : read_topic(*bootstrap, "mixed_paid")) {
      auto j = nlohmann::json::parse(v);
      paid[j["PAYMENT"].get<std::string>()] = {k, j["NAME"].get<std::string>()};
    }
    return paid.size() >= 48;
  });
  CHECK(paid.size() == 48);
  for (int i = 0; i < 48; ++i) {
    auto it = paid.find("pay" + std::to_string(i));
    REQUIRE(it != paid.end());
    CHECK(it->second.first == "c" + std::to_string(i % customers));
    CHECK(it->second.second == "n" + std::to_string(i % customers));
  }
  // Every order with its customer's name; then a renamed customer reaches
  // its two orders (the foreign-key join's right side).
  auto order_names = [&] {
    std::map<std::string, std::string> latest;
    for (const auto& [k, v] : read_topic(*bootstrap, "mixed_order_names")) latest[k] = v;
    return latest;
  };
  std::map<std::string, std::string> named;
  eventually([&] {
    named = order_names();
    return named.size() >= 48;
  });
  CHECK(named.size() == 48);
  for (const auto& [k, v] : named) {
    const int i = std::stoi(k.substr(1));
    CHECK(nlohmann::json::parse(v)["NAME"] == "n" + std::to_string(i % customers));
  }
  REQUIRE(run_command(produce + "mixed_customers", "c5|{\"NAME\": \"renamed\"}\n").first == 0);
  CHECK(eventually([&] {
    named = order_names();
    return named.count("o5") && named.count("o29") &&
           nlohmann::json::parse(named["o5"])["NAME"] == "renamed" &&
           nlohmann::json::parse(named["o29"])["NAME"] == "renamed";
  }));
  // Clicks counted per page over the 2-partition stream.
  std::map<std::string, int64_t> counts;
  eventually([&] {
    counts.clear();
    for (const auto& [k, v] : read_topic(*bootstrap, "mixed_page_counts"))
      counts[k] = nlohmann::json::parse(v)["N"].get<int64_t>();
    return counts == std::map<std::string, int64_t>{{"p0", 10}, {"p1", 10}, {"p2", 10}};
  });
  CHECK(counts == std::map<std::string, int64_t>{{"p0", 10}, {"p1", 10}, {"p2", 10}});

  // The chained results: 41-47 through BIG_PAYMENTS, 46 and 47 on.
  std::set<std::string> big, huge;
  eventually([&] {
    big.clear();
    huge.clear();
    for (const auto& [k, v] : read_topic(*bootstrap, "mixed_big")) big.insert(k);
    for (const auto& [k, v] : read_topic(*bootstrap, "mixed_huge")) huge.insert(k);
    return big.size() >= 7 && huge.size() >= 2;
  });
  CHECK(big ==
        std::set<std::string>{"pay41", "pay42", "pay43", "pay44", "pay45", "pay46", "pay47"});
  CHECK(huge == std::set<std::string>{"pay46", "pay47"});

  // kcat sees the topics with the counts they were given: repartition
  // topics as what they join (a GROUP BY's: the task count), results as
  // ksqlDB creates them (WITH PARTITIONS, else their first source's).
  auto [lrc, listing] = run_command("kcat -b " + *bootstrap + " -L", "", 30);
  REQUIRE(lrc == 0);
  auto count_of = [&](const std::string& part) {
    std::istringstream in(listing);
    std::string l;
    while (std::getline(in, l)) {
      if (l.find("topic \"mixed") == std::string::npos || l.find(part) == std::string::npos)
        continue;
      auto with = l.find("with ");
      if (with != std::string::npos) return std::stoi(l.substr(with + 5));
    }
    return -1;
  };
  INFO(listing);
  CHECK(count_of("fk-subscribe-repartition") == 3);
  CHECK(count_of("fk-response-repartition") == 5);
  CHECK(count_of("CSAS_PAID_") == 3);
  CHECK(count_of("groupby-repartition") == 5);
  CHECK(count_of("\"mixed_paid\"") == 4);
  CHECK(count_of("\"mixed_page_counts\"") == 2);
  CHECK(count_of("\"mixed_order_names\"") == 5);
  CHECK(count_of("\"mixed_big\"") == 2);
  CHECK(count_of("\"mixed_huge\"") == 2);
  CHECK(run->stop(SIGTERM, std::chrono::seconds(30)) == 0);

  // A join whose inputs differ is still refused at start, naming both.
  const std::string bad = dir + "/bad.sql";
  {
    std::ofstream out(bad);
    out << "SET 'application.id' = 'mixed-bad';\n"
           "CREATE STREAM CLICKS (USER_ID STRING KEY, PAGE STRING)\n"
           "  WITH (kafka_topic='mixed_clicks', value_format='JSON');\n"
           "CREATE TABLE CUSTOMERS (ID STRING PRIMARY KEY, NAME STRING)\n"
           "  WITH (kafka_topic='mixed_customers', value_format='JSON');\n"
           "CREATE STREAM SEEN AS SELECT K.USER_ID AS USER_ID, C.NAME AS NAME\n"
           "  FROM CLICKS K JOIN CUSTOMERS C ON K.USER_ID = C.ID;\n";
  }
  auto [rc, out] =
      run_command(rivulet::testing::rivulet_binary() + " run " + bad + " --bootstrap " +
                      *bootstrap + " --set state.dir=" + dir + "/state2 2>&1",
                  "", 60);
  INFO(out);
  CHECK(rc == 1);
  CHECK(out.find("mixed_clicks partitions = 2") != std::string::npos);
  CHECK(out.find("mixed_customers partitions = 3") != std::string::npos);
  CHECK(broker->stop(SIGTERM) == 0);
  std::filesystem::remove_all(dir);
}

// SET 'auto.offset.reset' = 'latest' (ksqlDB's spelling with its
// 'ksql.streams.' prefix, trimmed, any case): a new application's stream
// starts at its end, while the table it joins and the application's own
// repartition topic are read from their beginning. Restarted, it resumes
// from its committed offsets: what was written while it was down is read.
TEST_CASE("rivulet run: SET auto.offset.reset latest reads a stream from its end and tables whole",
          "[integration][sql]") {
  auto broker = ChildProcess::spawn({rivulet::testing::rivulet_binary(), "broker", "--topic",
                                     "lt_users:2", "--topic", "lt_orders:2"});
  REQUIRE(broker.has_value());
  auto bootstrap = broker->read_line();
  REQUIRE(bootstrap.has_value());
  const std::string produce =
      "kcat -b " + *bootstrap + " -X partitioner=murmur2_random -P -K '|' -t ";
  REQUIRE(run_command(produce + "lt_users",
                      "u1|{\"REGION\": \"north\"}\nu2|{\"REGION\": \"south\"}\n"
                      "u3|{\"REGION\": \"east\"}\n")
              .first == 0);
  // Written before the application first starts: never read.
  REQUIRE(run_command(produce + "lt_orders",
                      "o1|{\"UID\": \"u1\", \"AMOUNT\": 1}\no0|{\"UID\": \"u3\", \"AMOUNT\": 0}\n")
              .first == 0);

  std::string dir = temp_dir("rivulet-sql-latest");
  const std::string app = dir + "/latest.sql";
  {
    std::ofstream out(app);
    out << "SET 'application.id' = 'sql-latest';\n"
           "SET 'commit.interval.ms' = '100';\n"
           "SET 'ksql.streams.auto.offset.reset' = ' Latest ';\n"
           "CREATE TABLE USERS (UID STRING PRIMARY KEY, REGION STRING)\n"
           "  WITH (kafka_topic='lt_users', value_format='JSON');\n"
           "CREATE STREAM ORDERS (OID STRING KEY, UID STRING, AMOUNT INT)\n"
           "  WITH (kafka_topic='lt_orders', value_format='JSON');\n"
           "-- Re-keyed by UID through a repartition topic to meet USERS.\n"
           "CREATE STREAM ENRICHED WITH (kafka_topic='lt_enriched') AS\n"
           "  SELECT O.UID AS UID, O.OID AS OID, U.REGION AS REGION\n"
           "  FROM ORDERS O JOIN USERS U ON O.UID = U.UID;\n"
           "-- Written before the queries start: not read, and said so.\n"
           "INSERT INTO ORDERS (OID, UID, AMOUNT) VALUES ('o9', 'u1', 9);\n";
  }
  const std::string errors = dir + "/run.err";
  auto start = [&] {
    auto run = ChildProcess::spawn({rivulet::testing::rivulet_binary(), "run", app, "--bootstrap",
                                    *bootstrap, "--set", "state.dir=" + dir + "/state"},
                                   errors);
    REQUIRE(run.has_value());
    auto line = run->read_line();  // printed once every task is assigned
    REQUIRE(line.has_value());
    CHECK(line->rfind("running 1 query from " + app, 0) == 0);
    return std::move(*run);
  };
  auto enriched = [&](size_t expected) {
    std::map<std::string, std::string> by_order;  // OID -> REGION
    std::vector<std::pair<std::string, std::string>> records;
    eventually([&] {
      records = read_topic(*bootstrap, "lt_enriched");
      return records.size() >= expected;
    });
    for (const auto& [k, v] : records) {
      auto row = nlohmann::json::parse(v);
      by_order[row.at("OID").get<std::string>()] = row.at("REGION").get<std::string>();
    }
    CHECK(records.size() == expected);
    return by_order;
  };

  auto run = start();
  REQUIRE(run_command(produce + "lt_orders",
                      "o2|{\"UID\": \"u2\", \"AMOUNT\": 2}\no3|{\"UID\": \"u3\", \"AMOUNT\": 3}\n")
              .first == 0);
  // The table's rows, all written before the start, are joined.
  CHECK(enriched(2) == std::map<std::string, std::string>{{"o2", "south"}, {"o3", "east"}});
  CHECK(run.stop(SIGTERM, std::chrono::seconds(30)) == 0);

  // Down: o4 waits. Restarted: the committed offsets win over 'latest', so
  // o4 is read, and so is o9, which this run of the file wrote again.
  REQUIRE(run_command(produce + "lt_orders", "o4|{\"UID\": \"u1\", \"AMOUNT\": 4}\n").first == 0);
  auto again = start();
  CHECK(enriched(4) == std::map<std::string, std::string>{
                           {"o2", "south"}, {"o3", "east"}, {"o4", "north"}, {"o9", "north"}});
  CHECK(again.stop(SIGTERM, std::chrono::seconds(30)) == 0);
  std::ifstream err(errors);
  std::string logged((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  INFO(logged);
  CHECK(logged.find("ignored") == std::string::npos);  // a configuration key now
  CHECK(
      logged.find("rivulet run: warning: 'auto.offset.reset' is 'latest': its 1 INSERT INTO "
                  "... VALUES row is written before its queries start, so its streams begin after "
                  "it") != std::string::npos);
  CHECK(broker->stop(SIGTERM) == 0);
  std::filesystem::remove_all(dir);
}
