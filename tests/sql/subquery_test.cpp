// Subqueries against tables: plan-time errors (line:column, wording) and
// how lookups are placed (local lookups need no repartition; others re-key
// with the table's key format). Behaviour end to end is in
// data/subquery_cases.json (planner_test.cpp runs it).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "sql/planner.hpp"
#include "sql/test_driver.hpp"
#include "sql/types.hpp"

namespace rivulet::sql {
namespace {

const char* kSchema =
    "CREATE TABLE LIMITS (SYMBOL STRING PRIMARY KEY, MAX_PRICE DOUBLE, KIND STRING)"
    " WITH (kafka_topic='limits', value_format='JSON');\n"
    "CREATE STREAM TRADES (ID STRING KEY, SYMBOL STRING, PRICE DOUBLE)"
    " WITH (kafka_topic='trades', value_format='JSON');\n"
    "CREATE STREAM TICKS (SYMBOL STRING KEY, PRICE DOUBLE)"
    " WITH (kafka_topic='ticks', value_format='JSON');\n";

// The error of running `query` after kSchema; "" when it ran.
std::string error_of(const std::string& query, SqlEngine* out = nullptr) {
  SqlEngine local;
  SqlEngine& engine = out ? *out : local;
  REQUIRE(engine.execute_script(kSchema));
  auto r = engine.execute_script(query);
  return r ? std::string() : r.error().message;
}

}  // namespace

TEST_CASE("subquery: plan-time errors name line:column", "[sql][subquery]") {
  SECTION("a missing table") {
    auto e = error_of(
        "CREATE STREAM A AS SELECT * FROM TRADES\n"
        "WHERE SYMBOL IN (SELECT SYMBOL FROM NOPE);");
    CHECK(e.rfind("line 2:", 0) == 0);
    CHECK(e.find("NOPE") != std::string::npos);
    CHECK(e.find("does not exist") != std::string::npos);
  }
  SECTION("a stream is not a table") {
    auto e = error_of(
        "CREATE STREAM A AS SELECT * FROM TRADES WHERE SYMBOL IN "
        "(SELECT SYMBOL FROM TICKS);");
    CHECK(e.find("line 1:") == 0);
    CHECK(e.find("is a STREAM") != std::string::npos);
  }
  SECTION("IN needs exactly one selected expression") {
    auto e = error_of(
        "CREATE STREAM A AS SELECT * FROM TRADES WHERE SYMBOL IN "
        "(SELECT SYMBOL, KIND FROM LIMITS);");
    CHECK(e.find("must select exactly one expression") != std::string::npos);
  }
  SECTION("types are checked") {
    auto e = error_of(
        "CREATE STREAM A AS SELECT * FROM TRADES WHERE PRICE IN "
        "(SELECT KIND FROM LIMITS WHERE SYMBOL = TRADES.SYMBOL);");
    CHECK(e.find("Cannot compare") != std::string::npos);
  }
  SECTION("subqueries outside WHERE, SELECT and HAVING") {
    auto e = error_of(
        "CREATE STREAM A AS SELECT * FROM TRADES PARTITION BY (SELECT KIND FROM "
        "LIMITS WHERE SYMBOL = 'X');");
    CHECK(e.find("not supported yet: subqueries outside WHERE, SELECT and HAVING") !=
          std::string::npos);
  }
  SECTION("an aggregate inside a subquery in the SELECT of an aggregation") {
    auto e = error_of(
        "CREATE TABLE A AS SELECT SYMBOL, COUNT(*) AS N,\n"
        "  (SELECT MAX_PRICE FROM LIMITS L WHERE L.MAX_PRICE < COUNT(*)) AS M\n"
        "  FROM TRADES GROUP BY SYMBOL;");
    CHECK(e.rfind("line 2:", 0) == 0);
    CHECK(e.find("Aggregate functions are not allowed in a subquery's WHERE") !=
          std::string::npos);
  }
  SECTION("nothing is added on error") {
    SqlEngine engine;
    error_of("CREATE STREAM A AS SELECT * FROM TRADES WHERE SYMBOL IN (SELECT SYMBOL FROM NOPE);",
             &engine);
    CHECK(engine.catalog().find("A") == nullptr);
    CHECK(engine.query_count() == 0);
  }
}

TEST_CASE("subquery: a lookup by the stream's own key needs no repartition", "[sql][subquery]") {
  SqlEngine engine;
  CHECK(error_of("CREATE STREAM A AS SELECT * FROM TICKS WHERE PRICE > "
                 "(SELECT MAX_PRICE FROM LIMITS L WHERE L.SYMBOL = TICKS.SYMBOL);",
                 &engine) == "");
  CHECK(engine.topology().repartition_topics().empty());
  auto groups = engine.topology().copartition_groups();
  REQUIRE(groups.size() == 1);
  CHECK(groups[0].size() == 2);  // ticks and limits
}

TEST_CASE("subquery: other lookups re-key through a repartition topic", "[sql][subquery]") {
  SqlEngine engine;
  CHECK(error_of("CREATE STREAM A AS SELECT * FROM TRADES WHERE PRICE > "
                 "(SELECT MAX_PRICE FROM LIMITS L WHERE L.SYMBOL = TRADES.SYMBOL);",
                 &engine) == "");
  auto topics = engine.topology().repartition_topics();
  REQUIRE(topics.size() == 1);
  // The repartition topic is keyed like the table's topic (KAFKA STRING), so
  // a trade lands in the partition holding its symbol.
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  (*driver)->pipe("limits", std::string("AAPL"), std::string(R"({"MAX_PRICE": 1.0})"), 0);
  (*driver)->pipe("trades", std::string("t1"), std::string(R"({"SYMBOL": "AAPL", "PRICE": 2.0})"),
                  5);
  auto re = (*driver)->outputs(topics[0]);
  REQUIRE(re.size() == 1);
  CHECK(re[0].key == std::optional<std::string>("AAPL"));
  auto out = (*driver)->outputs("A");
  REQUIRE(out.size() == 1);
  CHECK(out[0].key == std::optional<std::string>("t1"));
  CHECK(out[0].timestamp == 5);
}

TEST_CASE("subquery: a scan reads a global table: no co-partitioning, no repartition",
          "[sql][subquery]") {
  SqlEngine engine;
  CHECK(error_of("CREATE STREAM A AS SELECT * FROM TRADES WHERE EXISTS "
                 "(SELECT 1 FROM LIMITS WHERE MAX_PRICE > TRADES.PRICE);",
                 &engine) == "");
  const Topology& topo = engine.topology();
  CHECK(topo.repartition_topics().empty());
  CHECK(topo.copartition_groups().empty());
  REQUIRE(topo.global_tables().size() == 1);
  CHECK(topo.global_tables()[0].topic == "limits");
  // The table is not a task input: its topic's partition count is free.
  for (const auto& t : topo.source_topics()) CHECK(t != "limits");
}

TEST_CASE("subquery: a scalar scan matching several rows fails only that record",
          "[sql][subquery]") {
  SqlEngine engine;
  REQUIRE(error_of("CREATE STREAM A AS SELECT * FROM TRADES\n"
                   "  WHERE PRICE > (SELECT MAX_PRICE FROM LIMITS WHERE KIND = 'x');",
                   &engine) == "");
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  auto& d = **driver;
  d.pipe("limits", std::string("A"), std::string(R"({"MAX_PRICE": 1.0, "KIND": "x"})"), 0);
  d.pipe("trades", std::string("t1"), std::string(R"({"SYMBOL": "S", "PRICE": 2.0})"), 1);
  d.pipe("limits", std::string("B"), std::string(R"({"MAX_PRICE": 3.0, "KIND": "x"})"), 2);
  d.pipe("trades", std::string("t2"), std::string(R"({"SYMBOL": "S", "PRICE": 4.0})"), 3);
  d.pipe("limits", std::string("B"), std::nullopt, 4);
  d.pipe("trades", std::string("t3"), std::string(R"({"SYMBOL": "S", "PRICE": 5.0})"), 5);
  auto out = d.outputs("A");
  REQUIRE(out.size() == 2);
  CHECK(out[0].key == std::optional<std::string>("t1"));
  CHECK(out[1].key == std::optional<std::string>("t3"));
  REQUIRE(d.data_errors().size() == 1);
  const auto& e = d.data_errors()[0];
  const std::string text = e.to_string();
  INFO(text);
  CHECK(text.find("line 2:17: the scalar subquery returned more than one row (table LIMITS)") !=
        std::string::npos);
  CHECK(e.error.context.topic == "trades");
  CHECK(e.error.context.offset == 1);  // t2, the second record of trades
  CHECK(e.raw_key == std::optional<std::string>("t2"));
  REQUIRE(d.globals() != nullptr);
  CHECK(d.globals()->table("LIMITS")->size() == 1);
}

TEST_CASE("subquery: an uncorrelated (cached) scan sees every change of the table",
          "[sql][subquery]") {
  SqlEngine engine;
  REQUIRE(error_of("CREATE STREAM A AS SELECT * FROM TRADES WHERE EXISTS "
                   "(SELECT 1 FROM LIMITS WHERE KIND = 'halt');",
                   &engine) == "");
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  auto& d = **driver;
  d.pipe("limits", std::string("H"), std::string(R"({"MAX_PRICE": 1.0, "KIND": "halt"})"), 0);
  for (int i = 0; i < 50; ++i)
    d.pipe("trades", "t" + std::to_string(i), std::string(R"({"SYMBOL": "S", "PRICE": 2.0})"), i);
  CHECK(d.outputs("A").size() == 50);
  d.pipe("limits", std::string("H"), std::nullopt, 60);
  d.pipe("trades", std::string("x"), std::string(R"({"SYMBOL": "S", "PRICE": 2.0})"), 61);
  CHECK(d.outputs("A").size() == 50);  // the delete was seen: the cache was rebuilt
}

}  // namespace rivulet::sql

namespace rivulet::sql {
namespace {

// Pipes trades keyed t<i> with `price` and returns the keys A has written.
std::vector<std::string> kept(TestDriver& d) {
  std::vector<std::string> out;
  for (const auto& r : d.outputs("A")) out.push_back(r.key.value_or("<null>"));
  return out;
}

// What `topic` got, as "key=value" ("<null>" for a tombstone).
std::vector<std::string> rows_of(TestDriver& d, const std::string& topic) {
  std::vector<std::string> rows;
  for (const auto& r : d.outputs(topic))
    rows.push_back(r.key.value_or("?") + "=" + r.value.value_or("<null>"));
  return rows;
}

void trade(TestDriver& d, const std::string& id, double price, const std::string& symbol = "S") {
  d.pipe("trades", id,
         std::string(R"({"SYMBOL": ")") + symbol + R"(", "PRICE": )" + std::to_string(price) + "}",
         0);
}

void limit(TestDriver& d, const std::string& symbol, std::optional<std::string> value) {
  d.pipe("limits", symbol, std::move(value), 0);
}

// The driver of `query` planned after kSchema into `engine` (the test stops
// when it does not plan).
std::unique_ptr<TestDriver> driver_of(const std::string& query, SqlEngine& engine) {
  const std::string error = error_of(query, &engine);
  INFO(error);
  REQUIRE(error.empty());
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  return std::move(*driver);
}

}  // namespace

TEST_CASE("subquery: a scalar subquery may aggregate the rows it matches", "[sql][subquery]") {
  SECTION("uncorrelated AVG, recomputed on every change of the table") {
    SqlEngine engine;
    auto driver = driver_of(
        "CREATE STREAM A AS SELECT * FROM TRADES\n"
        "  WHERE PRICE > (SELECT AVG(MAX_PRICE) FROM LIMITS WHERE KIND = 'cap');",
        engine);
    auto& d = *driver;
    trade(d, "t0", 1.0);  // no row: AVG is NULL, the comparison is not true
    limit(d, "A", R"({"MAX_PRICE": 1.0, "KIND": "cap"})");
    limit(d, "B", R"({"MAX_PRICE": 3.0, "KIND": "cap"})");
    limit(d, "C", R"({"MAX_PRICE": 100.0, "KIND": "other"})");
    trade(d, "t1", 2.5);  // > 2.0
    trade(d, "t2", 1.5);
    limit(d, "B", R"({"MAX_PRICE": 5.0, "KIND": "cap"})");
    trade(d, "t3", 2.5);  // not > 3.0
    limit(d, "A", std::nullopt);
    trade(d, "t4", 4.0);  // not > 5.0
    trade(d, "t5", 6.0);
    CHECK(kept(d) == std::vector<std::string>{"t1", "t5"});
  }
  SECTION("correlated COUNT(*), and an expression of several aggregates") {
    SqlEngine engine;
    auto driver = driver_of(
        "CREATE STREAM A AS SELECT * FROM TRADES T\n"
        "  WHERE (SELECT COUNT(*) FROM LIMITS L WHERE L.KIND = T.SYMBOL) >= 2\n"
        "    AND PRICE < (SELECT MAX(MAX_PRICE) - MIN(MAX_PRICE) FROM LIMITS);",
        engine);
    auto& d = *driver;
    limit(d, "A", R"({"MAX_PRICE": 1.0, "KIND": "x"})");
    limit(d, "B", R"({"MAX_PRICE": 11.0, "KIND": "x"})");
    limit(d, "C", R"({"MAX_PRICE": 5.0, "KIND": "y"})");
    trade(d, "t1", 9.0, "x");   // 2 rows of kind x, 9 < 11 - 1
    trade(d, "t2", 9.0, "y");   // one row of kind y
    trade(d, "t3", 10.0, "x");  // not < 10
    limit(d, "D", R"({"MAX_PRICE": 0.0, "KIND": "y"})");
    trade(d, "t4", 10.5, "y");  // 2 rows of kind y now, 10.5 < 11 - 0
    CHECK(kept(d) == std::vector<std::string>{"t1", "t4"});
  }
  SECTION("the outer row outside the aggregates, over a cached result") {
    SqlEngine engine;
    auto driver = driver_of(
        "CREATE STREAM A AS SELECT * FROM TRADES T\n"
        "  WHERE 0 < (SELECT MAX(MAX_PRICE) - T.PRICE FROM LIMITS);",
        engine);
    auto& d = *driver;
    limit(d, "A", R"({"MAX_PRICE": 4.0, "KIND": "x"})");
    trade(d, "t1", 3.0);
    trade(d, "t2", 5.0);
    trade(d, "t3", 1.0);
    CHECK(kept(d) == std::vector<std::string>{"t1", "t3"});
  }
  SECTION("SUM and COUNT_DISTINCT: exact values, 0 and NULL for no row") {
    SqlEngine engine;
    auto driver = driver_of(
        "CREATE STREAM A AS SELECT * FROM TRADES\n"
        "  WHERE PRICE = (SELECT SUM(MAX_PRICE) FROM LIMITS WHERE KIND = TRADES.SYMBOL)\n"
        "     OR PRICE = (SELECT COUNT_DISTINCT(KIND) * 100 FROM LIMITS);",
        engine);
    auto& d = *driver;
    trade(d, "t0", 0.0);  // SUM of no row is NULL, COUNT_DISTINCT 0
    limit(d, "A", R"({"MAX_PRICE": 1.5, "KIND": "x"})");
    limit(d, "B", R"({"MAX_PRICE": 2.0, "KIND": "x"})");
    limit(d, "C", R"({"MAX_PRICE": null, "KIND": "y"})");
    limit(d, "D", R"({"MAX_PRICE": 7.0, "KIND": "x"})");
    trade(d, "t1", 10.5, "x");   // 1.5 + 2 + 7
    trade(d, "t2", 0.0, "y");    // rows whose inputs are all NULL sum to 0
    trade(d, "t3", 200.0, "z");  // two kinds
    trade(d, "t4", 10.0, "x");
    CHECK(kept(d) == std::vector<std::string>{"t0", "t1", "t2", "t3"});
  }
  SECTION("STDDEV_SAMPLE, CORRELATION and ATTR over the rows matched") {
    SqlEngine engine;
    auto driver = driver_of(
        "CREATE STREAM A AS SELECT ID,\n"
        "  (SELECT STDDEV_SAMPLE(MAX_PRICE) FROM LIMITS WHERE KIND = TRADES.SYMBOL) AS SD,\n"
        "  (SELECT CORRELATION(MAX_PRICE, LEN(KIND)) FROM LIMITS) AS R,\n"
        "  (SELECT ATTR(KIND) FROM LIMITS WHERE MAX_PRICE > TRADES.PRICE) AS ONLY_KIND\n"
        "  FROM TRADES;",
        engine);
    auto& d = *driver;
    auto row = [&](const std::string& id, double price, const std::string& symbol) {
      trade(d, id, price, symbol);
      REQUIRE(d.outputs("A").back().value);
      return *d.outputs("A").back().value;
    };
    // No row: NULL for all three.
    CHECK(row("t0", 1.0, "x") == R"({"SD":null,"R":null,"ONLY_KIND":null})");
    limit(d, "A", R"({"MAX_PRICE": 2.0, "KIND": "x"})");
    limit(d, "B", R"({"MAX_PRICE": 4.0, "KIND": "x"})");
    limit(d, "C", R"({"MAX_PRICE": 9.0, "KIND": "yyy"})");
    // x's prices 2 and 4: sqrt(2); prices against kind lengths (1, 1, 3):
    // correlated; above 3.0, kinds x and yyy: NULL; above 5.0, only yyy.
    const std::string both = row("t1", 3.0, "x");
    CHECK(both.find(R"("SD":1.4142135623)") != std::string::npos);
    CHECK(both.find(R"("R":0.9)") != std::string::npos);
    CHECK(both.find(R"("ONLY_KIND":null)") != std::string::npos);
    CHECK(row("t2", 5.0, "yyy").find(R"("SD":0.0,)") != std::string::npos);  // one row
    CHECK(row("t3", 5.0, "x").find(R"("ONLY_KIND":"yyy")") != std::string::npos);
    CHECK(d.data_errors().empty());
  }
}

TEST_CASE("subquery: scalar subqueries in SELECT, looked up, scanned and aggregated",
          "[sql][subquery]") {
  SqlEngine engine;
  REQUIRE(
      error_of("CREATE STREAM A AS SELECT ID, PRICE,\n"
               "  PRICE - (SELECT MAX_PRICE FROM LIMITS L WHERE L.SYMBOL = T.SYMBOL) AS OVER_BY,\n"
               "  (SELECT COUNT(*) FROM LIMITS WHERE KIND = 'cap') AS CAPS,\n"
               "  EXISTS (SELECT 1 FROM LIMITS L2 WHERE L2.KIND = T.SYMBOL) AS IS_KIND\n"
               "  FROM TRADES T\n"
               "  WHERE PRICE > (SELECT MAX_PRICE FROM LIMITS L WHERE L.SYMBOL = T.SYMBOL);",
               &engine) == "");
  // EXPLAIN says how each is evaluated.
  const std::string explained = engine.explain("app");
  INFO(explained);
  CHECK(explained.find("CSAS_A_0  line 2:11  SELECT  LIMITS: key lookup by T.SYMBOL in the task's "
                       "table, the input re-keyed by it through a repartition topic\n") !=
        std::string::npos);
  CHECK(explained.find("CSAS_A_0  line 3:3  SELECT  LIMITS: scan of the global table folding "
                       "COUNT(*), computed once per change of the table\n") != std::string::npos);
  CHECK(explained.find("CSAS_A_0  line 4:3  SELECT  LIMITS: scan of the global table, its rows "
                       "cached per change of the table and indexed by L2.KIND = T.SYMBOL: each "
                       "record tests the rows of its value only\n") != std::string::npos);
  CHECK(explained.find("CSAS_A_0  line 6:17  WHERE  LIMITS: key lookup by T.SYMBOL") !=
        std::string::npos);
  const SourceInfo* sink = engine.catalog().find("A");
  REQUIRE(sink != nullptr);
  REQUIRE(sink->schema.columns.size() == 5);
  CHECK(sink->schema.columns[2].name == "OVER_BY");
  CHECK(type_name(sink->schema.columns[2].type) == "DOUBLE");
  CHECK(type_name(sink->schema.columns[3].type) == "BIGINT");
  CHECK(type_name(sink->schema.columns[4].type) == "BOOLEAN");
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  auto& d = **driver;
  limit(d, "S", R"({"MAX_PRICE": 10.0, "KIND": "cap"})");
  limit(d, "x", R"({"MAX_PRICE": 1.0, "KIND": "S"})");
  trade(d, "t1", 12.5, "S");
  trade(d, "t2", 9.0, "S");  // not above its limit: no row
  trade(d, "t3", 2.0, "x");
  auto out = d.outputs("A");
  REQUIRE(out.size() == 2);
  CHECK(out[0].key == std::optional<std::string>("t1"));
  CHECK(nlohmann::json::parse(*out[0].value) ==
        nlohmann::json::parse(R"({"PRICE": 12.5, "OVER_BY": 2.5, "CAPS": 1, "IS_KIND": true})"));
  CHECK(nlohmann::json::parse(*out[1].value) ==
        nlohmann::json::parse(R"({"PRICE": 2.0, "OVER_BY": 1.0, "CAPS": 1, "IS_KIND": false})"));
}

TEST_CASE("subquery: a SELECT subquery after a join, reading a column nothing else reads",
          "[sql][subquery]") {
  SqlEngine engine;
  auto driver = driver_of(
      "CREATE TABLE NAMES (ID STRING PRIMARY KEY, NAME STRING)\n"
      "  WITH (kafka_topic='names', value_format='JSON');\n"
      "CREATE STREAM A AS SELECT T.ID AS ID, NAME,\n"
      "  (SELECT MAX_PRICE FROM LIMITS L WHERE L.SYMBOL = T.SYMBOL) AS LIMIT_PRICE\n"
      "  FROM TRADES T LEFT JOIN NAMES N ON T.ID = N.ID;",
      engine);
  auto& d = *driver;
  limit(d, "S", R"({"MAX_PRICE": 10.0, "KIND": "cap"})");
  d.pipe("names", std::string("t1"), std::string(R"({"NAME": "first"})"), 0);
  trade(d, "t1", 1.0, "S");
  trade(d, "t2", 1.0, "U");
  auto out = d.outputs("A");
  REQUIRE(out.size() == 2);
  CHECK(out[0].key == std::optional<std::string>("t1"));
  CHECK(nlohmann::json::parse(*out[0].value) ==
        nlohmann::json::parse(R"({"NAME": "first", "LIMIT_PRICE": 10.0})"));
  CHECK(out[1].key == std::optional<std::string>("t2"));
  CHECK(nlohmann::json::parse(*out[1].value) ==
        nlohmann::json::parse(R"({"NAME": null, "LIMIT_PRICE": null})"));
}

TEST_CASE("subquery: a SELECT subquery without WHERE, over a TABLE", "[sql][subquery]") {
  SqlEngine engine;
  auto driver = driver_of(
      "CREATE TABLE PRICES (SYMBOL STRING PRIMARY KEY, PRICE DOUBLE)\n"
      "  WITH (kafka_topic='prices', value_format='JSON');\n"
      "CREATE TABLE HEADROOM AS SELECT SYMBOL,\n"
      "  (SELECT MAX_PRICE FROM LIMITS L WHERE L.SYMBOL = PRICES.SYMBOL) - PRICE AS ROOM\n"
      "  FROM PRICES;",
      engine);
  auto& d = *driver;
  limit(d, "S", R"({"MAX_PRICE": 10.0, "KIND": "cap"})");
  d.pipe("prices", std::string("S"), std::string(R"({"PRICE": 4.0})"), 0);
  d.pipe("prices", std::string("U"), std::string(R"({"PRICE": 4.0})"), 0);
  d.pipe("prices", std::string("S"), std::nullopt, 0);
  auto out = d.outputs("HEADROOM");
  REQUIRE(out.size() == 3);
  CHECK(out[0].key == std::optional<std::string>("S"));
  CHECK(nlohmann::json::parse(*out[0].value) == nlohmann::json::parse(R"({"ROOM": 6.0})"));
  CHECK(nlohmann::json::parse(*out[1].value) == nlohmann::json::parse(R"({"ROOM": null})"));
  CHECK(out[2].key == std::optional<std::string>("S"));
  CHECK(!out[2].value.has_value());
}

TEST_CASE("subquery: HAVING reads a threshold from a table", "[sql][subquery]") {
  SqlEngine engine;
  REQUIRE(error_of("CREATE TABLE THRESHOLDS (NAME STRING PRIMARY KEY, N BIGINT)\n"
                   "  WITH (kafka_topic='thresholds', value_format='JSON');\n"
                   "CREATE TABLE BUSY AS SELECT SYMBOL, COUNT(*) AS TRADES FROM TRADES\n"
                   "  GROUP BY SYMBOL\n"
                   "  HAVING COUNT(*) >= (SELECT N FROM THRESHOLDS WHERE NAME = 'busy')\n"
                   "     AND NOT EXISTS (SELECT 1 FROM THRESHOLDS T WHERE T.NAME = TRADES.SYMBOL);",
                   &engine) == "");
  CHECK(engine.topology().global_tables().size() == 1);
  const std::string explained = engine.explain("app");
  INFO(explained);
  CHECK(explained.find("  HAVING  THRESHOLDS: key lookup by 'busy' in the node's global replica "
                       "of the table (no repartition)\n") != std::string::npos);
  CHECK(explained.find("  HAVING  THRESHOLDS: key lookup by TRADES.SYMBOL in the node's global "
                       "replica of the table (no repartition)\n") != std::string::npos);
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  auto& d = **driver;
  d.pipe("thresholds", std::string("busy"), std::string(R"({"N": 3})"), 0);
  d.pipe("thresholds", std::string("S3"), std::string(R"({"N": 0})"), 0);  // S3 is exempt
  for (int i = 0; i < 3; ++i) trade(d, "a" + std::to_string(i), 1.0, "S1");
  trade(d, "b0", 1.0, "S2");
  d.pipe("thresholds", std::string("busy"), std::string(R"({"N": 2})"), 0);
  trade(d, "b1", 1.0, "S2");
  for (int i = 0; i < 3; ++i) trade(d, "c" + std::to_string(i), 1.0, "S3");
  CHECK(rows_of(d, "BUSY") == std::vector<std::string>{R"(S1={"TRADES":3})", R"(S2={"TRADES":2})"});
}

TEST_CASE("subquery: subqueries in the SELECT of an aggregation, on each group update",
          "[sql][subquery]") {
  SqlEngine engine;
  auto driver = driver_of(
      "CREATE TABLE A AS SELECT SYMBOL, COUNT(*) AS N,\n"
      "  (SELECT MAX_PRICE FROM LIMITS L WHERE L.SYMBOL = TRADES.SYMBOL) AS CAP,\n"
      "  EXISTS (SELECT 1 FROM LIMITS L WHERE L.KIND = 'halt') AS HALTS,\n"
      "  SUM(PRICE) / (SELECT COUNT(*) FROM LIMITS) AS PER_LIMIT\n"
      "  FROM TRADES GROUP BY SYMBOL HAVING COUNT(*) < 3;",
      engine);
  const std::string explained = engine.explain("app");
  INFO(explained);
  CHECK(explained.find("line 2:3  SELECT  LIMITS: key lookup by TRADES.SYMBOL in the node's "
                       "global replica of the table (no repartition)\n") != std::string::npos);
  CHECK(explained.find("line 3:3  SELECT  LIMITS: scan of the global table, computed once per "
                       "change of the table\n") != std::string::npos);
  auto& d = *driver;
  limit(d, "AAPL", R"({"MAX_PRICE": 10.0, "KIND": "cap"})");
  trade(d, "t1", 4.0, "AAPL");
  trade(d, "t2", 3.0, "XOM");
  limit(d, "AAPL", R"({"MAX_PRICE": 20.0, "KIND": "cap"})");  // emits nothing by itself
  limit(d, "H", R"({"MAX_PRICE": 0.0, "KIND": "halt"})");
  trade(d, "t3", 4.0, "AAPL");
  trade(d, "t4", 1.0, "AAPL");  // a third: HAVING drops the group
  CHECK(rows_of(d, "A") ==
        std::vector<std::string>{
            R"(AAPL={"N":1,"CAP":10.0,"HALTS":false,"PER_LIMIT":4.0})",
            R"(XOM={"N":1,"CAP":null,"HALTS":false,"PER_LIMIT":3.0})",
            R"(AAPL={"N":2,"CAP":20.0,"HALTS":true,"PER_LIMIT":4.0})",
            "AAPL=<null>"});
}

TEST_CASE("subquery: a windowed aggregation's SELECT subquery, and its data error",
          "[sql][subquery]") {
  SqlEngine engine;
  auto driver = driver_of(
      "CREATE TABLE A AS SELECT SYMBOL, COUNT(*) AS N,\n"
      "  (SELECT MAX_PRICE FROM LIMITS L WHERE L.KIND = TRADES.SYMBOL) AS CAP\n"
      "  FROM TRADES WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY SYMBOL;",
      engine);
  auto& d = *driver;
  limit(d, "a", R"({"MAX_PRICE": 1.0, "KIND": "S"})");
  trade(d, "t1", 1.0, "S");
  limit(d, "b", R"({"MAX_PRICE": 2.0, "KIND": "S"})");
  trade(d, "t2", 1.0, "S");  // two limits of kind S: that update is dropped
  auto rows = rows_of(d, "A");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].find(R"({"N":1,"CAP":1.0})") != std::string::npos);
  REQUIRE(d.data_errors().size() == 1);
  const std::string text = d.data_errors()[0].to_string();
  INFO(text);
  CHECK(text.find("line 2:3: the scalar subquery returned more than one row (table LIMITS)") !=
        std::string::npos);
}

TEST_CASE("subquery: a windowed HAVING subquery, and its data error", "[sql][subquery]") {
  SqlEngine engine;
  auto driver = driver_of(
      "CREATE TABLE THRESHOLDS (NAME STRING PRIMARY KEY, N BIGINT)\n"
      "  WITH (kafka_topic='thresholds', value_format='JSON');\n"
      "CREATE TABLE BURSTS AS SELECT SYMBOL, COUNT(*) AS TRADES FROM TRADES\n"
      "  WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY SYMBOL\n"
      "  HAVING COUNT(*) > (SELECT N FROM THRESHOLDS WHERE N >= 0);",
      engine);
  auto& d = *driver;
  d.pipe("thresholds", std::string("x"), std::string(R"({"N": 1})"), 0);
  trade(d, "a0", 1.0, "S1");
  trade(d, "a1", 1.0, "S1");  // 2 > 1
  d.pipe("thresholds", std::string("y"), std::string(R"({"N": 5})"), 0);
  trade(d, "a2", 1.0, "S1");  // two thresholds: the update is a data error
  auto out = d.outputs("BURSTS");
  REQUIRE(out.size() == 1);
  CHECK(out[0].value == std::optional<std::string>(R"({"TRADES":2})"));
  REQUIRE(d.data_errors().size() == 1);
  const std::string text = d.data_errors()[0].to_string();
  INFO(text);
  CHECK(text.find("line 5:21: the scalar subquery returned more than one row (table THRESHOLDS)") !=
        std::string::npos);
}

TEST_CASE("subquery: lookups by another key than the re-key's read the global replica",
          "[sql][subquery]") {
  SqlEngine engine;
  auto driver = driver_of(
      "CREATE STREAM A AS SELECT * FROM TRADES WHERE SYMBOL IN\n"
      "  (SELECT SYMBOL FROM LIMITS) AND EXISTS (SELECT 1 FROM LIMITS L2\n"
      "  WHERE L2.SYMBOL = 'AAPL');",
      engine);
  const std::string explained = engine.explain("app");
  INFO(explained);
  CHECK(explained.find("line 1:54  WHERE  LIMITS: key lookup by TRADES.SYMBOL in the task's "
                       "table, the input re-keyed by it through a repartition topic\n") !=
        std::string::npos);
  CHECK(explained.find("line 2:35  WHERE  LIMITS: key lookup by 'AAPL' in the node's global "
                       "replica of the table (no repartition)\n") != std::string::npos);
  CHECK(engine.topology().repartition_topics().size() == 1);
  REQUIRE(engine.topology().global_tables().size() == 1);
  auto& d = *driver;
  limit(d, "MSFT", R"({"MAX_PRICE": 1.0, "KIND": "x"})");
  trade(d, "t1", 1.0, "MSFT");  // no AAPL yet
  limit(d, "AAPL", R"({"MAX_PRICE": 1.0, "KIND": "x"})");
  trade(d, "t2", 1.0, "MSFT");
  trade(d, "t3", 1.0, "IBM");  // not in LIMITS
  limit(d, "AAPL", std::nullopt);
  trade(d, "t4", 1.0, "MSFT");
  CHECK(kept(d) == std::vector<std::string>{"t2"});
}

TEST_CASE("subquery: once re-keyed, a lookup by the input's own key reads the replica",
          "[sql][subquery]") {
  SqlEngine engine;
  auto driver = driver_of(
      "CREATE STREAM A AS SELECT * FROM TRADES T\n"
      "  WHERE EXISTS (SELECT 1 FROM LIMITS L WHERE L.SYMBOL = T.ID)\n"
      "    AND PRICE > (SELECT MAX_PRICE FROM LIMITS L2 WHERE L2.SYMBOL = T.SYMBOL);",
      engine);
  const std::string explained = engine.explain("app");
  INFO(explained);
  // After the re-key by SYMBOL a task holds the LIMITS rows of its symbols,
  // not of its trades' ids.
  CHECK(explained.find("line 2:9  WHERE  LIMITS: key lookup by T.ID in the node's global replica "
                       "of the table (no repartition)\n") != std::string::npos);
  CHECK(explained.find("line 3:17  WHERE  LIMITS: key lookup by T.SYMBOL in the task's table, "
                       "the input re-keyed by it through a repartition topic\n") !=
        std::string::npos);
  auto& d = *driver;
  limit(d, "t1", R"({"MAX_PRICE": 0.0, "KIND": "id"})");
  limit(d, "S", R"({"MAX_PRICE": 1.0, "KIND": "x"})");
  trade(d, "t1", 2.0, "S");
  trade(d, "t2", 2.0, "S");  // no LIMITS row keyed t2
  CHECK(kept(d) == std::vector<std::string>{"t1"});
}

TEST_CASE("subquery: a query over a TABLE looks up other keys in the global replica",
          "[sql][subquery]") {
  SqlEngine engine;
  auto driver = driver_of(
      "CREATE TABLE HOLDINGS (ID STRING PRIMARY KEY, SYMBOL STRING, QTY INT)\n"
      "  WITH (kafka_topic='holdings', value_format='JSON');\n"
      "CREATE TABLE EXPOSURE AS SELECT ID, QTY *\n"
      "  (SELECT MAX_PRICE FROM LIMITS L WHERE L.SYMBOL = HOLDINGS.SYMBOL) AS CAP\n"
      "  FROM HOLDINGS;",
      engine);
  CHECK(engine.topology().repartition_topics().empty());
  CHECK(engine.topology().copartition_groups().empty());
  auto& d = *driver;
  limit(d, "AAPL", R"({"MAX_PRICE": 2.5, "KIND": "x"})");
  d.pipe("holdings", std::string("h1"), std::string(R"({"SYMBOL": "AAPL", "QTY": 4})"), 0);
  d.pipe("holdings", std::string("h2"), std::string(R"({"SYMBOL": "IBM", "QTY": 4})"), 0);
  CHECK(rows_of(d, "EXPOSURE") == std::vector<std::string>{R"(h1={"CAP":10.0})", R"(h2={"CAP":null})"});
}

TEST_CASE("subquery: a correlated equality indexes the scan's cached rows", "[sql][subquery]") {
  SqlEngine engine;
  auto driver = driver_of(
      "CREATE TABLE TIERS (ID STRING PRIMARY KEY, LEVEL INT, MIN_PRICE DOUBLE)\n"
      "  WITH (kafka_topic='tiers', value_format='JSON');\n"
      "CREATE STREAM A AS SELECT ID, PRICE FROM TRADES T\n"
      "  WHERE EXISTS (SELECT 1 FROM TIERS X WHERE X.LEVEL = LEN(T.SYMBOL)\n"
      "                  AND X.MIN_PRICE <= T.PRICE)\n"
      "    AND NOT EXISTS (SELECT 1 FROM TIERS Y WHERE Y.MIN_PRICE > T.PRICE * 100);",
      engine);
  const std::string explained = engine.explain("app");
  INFO(explained);
  CHECK(explained.find("line 4:9  WHERE  TIERS: scan of the global table, its rows cached per "
                       "change of the table and indexed by X.LEVEL = LEN(T.SYMBOL): each record "
                       "tests the rows of its value only\n") != std::string::npos);
  CHECK(explained.find("line 6:13  WHERE  TIERS: scan of the global table, every row tested per "
                       "record (correlated)\n") != std::string::npos);
  auto& d = *driver;
  auto tier = [&](const std::string& id, const std::string& value) {
    d.pipe("tiers", id, value, 0);
  };
  tier("a", R"({"LEVEL": 1, "MIN_PRICE": 5.0})");
  tier("b", R"({"LEVEL": 2, "MIN_PRICE": 1.0})");
  tier("c", R"({"LEVEL": 2, "MIN_PRICE": 9.0})");
  tier("n", R"({"LEVEL": null, "MIN_PRICE": 0.0})");  // never equal to anything
  trade(d, "t1", 6.0, "x");    // level 1: 5 <= 6
  trade(d, "t2", 4.0, "x");    // level 1: not 5 <= 4
  trade(d, "t3", 2.0, "xy");   // level 2: b
  trade(d, "t4", 2.0, "xyz");  // level 3: no tier
  tier("a", R"({"LEVEL": 3, "MIN_PRICE": 1.0})");  // moves to level 3: the index is rebuilt
  trade(d, "t5", 6.0, "x");    // level 1: none now
  trade(d, "t6", 2.0, "xyz");  // level 3: a
  CHECK(kept(d) == std::vector<std::string>{"t1", "t3", "t6"});
}

const char* kTickets =
    "CREATE TABLE TICKETS (ID STRING PRIMARY KEY, CUSTOMER STRING, OPEN BOOLEAN, SPENT INT)\n"
    "  WITH (kafka_topic='tickets', value_format='JSON');\n";

TEST_CASE("subquery: IN over the groups an uncorrelated GROUP BY ... HAVING keeps",
          "[sql][subquery]") {
  SqlEngine engine;
  auto driver = driver_of(std::string(kTickets) +
                              "CREATE STREAM A AS SELECT ID, SYMBOL FROM TRADES\n"
                              "  WHERE SYMBOL IN (SELECT CUSTOMER FROM TICKETS WHERE OPEN\n"
                              "                   GROUP BY CUSTOMER HAVING COUNT(*) >= 2);",
                          engine);
  const std::string explained = engine.explain("app");
  INFO(explained);
  CHECK(explained.find("line 4:16  WHERE  TICKETS: scan of the global table grouped by "
                       "TICKETS.CUSTOMER folding COUNT(*), computed once per change of the "
                       "table\n") != std::string::npos);
  auto& d = *driver;
  auto ticket = [&](const std::string& id, const std::optional<std::string>& value) {
    d.pipe("tickets", id, value, 0);
  };
  ticket("k1", R"({"CUSTOMER": "c1", "OPEN": true, "SPENT": 1})");
  ticket("k2", R"({"CUSTOMER": "c1", "OPEN": true, "SPENT": 2})");
  ticket("k3", R"({"CUSTOMER": "c2", "OPEN": true, "SPENT": 3})");
  ticket("k4", R"({"CUSTOMER": "c2", "OPEN": false, "SPENT": 4})");
  ticket("k5", R"({"CUSTOMER": null, "OPEN": true, "SPENT": 5})");
  ticket("k6", R"({"CUSTOMER": null, "OPEN": true, "SPENT": 6})");  // a NULL group: no member
  trade(d, "t1", 1.0, "c1");
  trade(d, "t2", 1.0, "c2");  // one open ticket
  ticket("k7", R"({"CUSTOMER": "c2", "OPEN": true, "SPENT": 7})");
  trade(d, "t3", 1.0, "c2");
  ticket("k1", std::nullopt);
  trade(d, "t4", 1.0, "c1");  // one left
  CHECK(kept(d) == std::vector<std::string>{"t1", "t3"});
}

TEST_CASE("subquery: grouped scalars, EXISTS and IN over DOUBLE values", "[sql][subquery]") {
  SqlEngine engine;
  auto driver = driver_of(
      std::string(kTickets) +
          "CREATE STREAM A AS SELECT ID, PRICE,\n"
          "  (SELECT SUM(SPENT) FROM TICKETS WHERE OPEN GROUP BY OPEN) AS OPEN_SPENT,\n"
          "  EXISTS (SELECT CUSTOMER FROM TICKETS GROUP BY CUSTOMER HAVING SUM(SPENT) > 10)\n"
          "    AS HEAVY,\n"
          "  PRICE IN (SELECT AVG(SPENT) FROM TICKETS GROUP BY CUSTOMER) AS AVERAGE\n"
          "  FROM TRADES;\n"
          "CREATE STREAM B AS SELECT ID, PRICE FROM TRADES\n"
          "  WHERE PRICE > (SELECT COUNT(*) FROM TICKETS GROUP BY CUSTOMER);",
      engine);
  auto& d = *driver;
  auto ticket = [&](const std::string& id, const std::string& value) {
    d.pipe("tickets", id, value, 0);
  };
  ticket("k1", R"({"CUSTOMER": "c1", "OPEN": true, "SPENT": 1})");
  ticket("k2", R"({"CUSTOMER": "c1", "OPEN": false, "SPENT": 2})");
  trade(d, "t1", 1.5);  // c1's average: 1.5
  ticket("k3", R"({"CUSTOMER": "c2", "OPEN": true, "SPENT": 11})");
  trade(d, "t2", 2.0);
  std::vector<nlohmann::json> rows;
  for (const auto& r : d.outputs("A")) rows.push_back(nlohmann::json::parse(*r.value));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0] == nlohmann::json::parse(
                       R"({"PRICE": 1.5, "OPEN_SPENT": 1, "HEAVY": false, "AVERAGE": true})"));
  CHECK(rows[1] == nlohmann::json::parse(
                       R"({"PRICE": 2.0, "OPEN_SPENT": 12, "HEAVY": true, "AVERAGE": false})"));
  // B's scalar: one group at t1 (c1's 2 tickets: 1.5 > 2 is false), two at
  // t2: a data error.
  CHECK(d.outputs("B").empty());
  REQUIRE(d.data_errors().size() == 1);
  INFO(d.data_errors()[0].to_string());
  CHECK(d.data_errors()[0].to_string().find(
            "line 10:17: the scalar subquery returned more than one row (table TICKETS)") !=
        std::string::npos);
}

TEST_CASE("subquery: GROUP BY errors name line:column", "[sql][subquery]") {
  const std::string tickets = kTickets;
  CHECK(error_of(tickets +
                 "CREATE STREAM A AS SELECT * FROM TRADES WHERE SYMBOL IN\n"
                 "  (SELECT CUSTOMER FROM TICKETS T WHERE T.SPENT > TRADES.PRICE GROUP BY "
                 "CUSTOMER);") ==
        "line 4:49: not supported yet: correlated subqueries with GROUP BY: (T.SPENT > "
        "TRADES.PRICE)");
  CHECK(error_of(tickets +
                 "CREATE STREAM A AS SELECT * FROM TRADES WHERE SYMBOL IN\n"
                 "  (SELECT ID FROM TICKETS GROUP BY CUSTOMER);") ==
        "line 4:11: The subquery's column TICKETS.ID must be in its GROUP BY or inside an "
        "aggregate function");
  CHECK(error_of(tickets +
                 "CREATE STREAM A AS SELECT * FROM TRADES WHERE PRICE IN\n"
                 "  (SELECT CUSTOMER FROM TICKETS GROUP BY CUSTOMER);") ==
        "line 3:47: Cannot compare PRICE (DOUBLE) to the values of the subquery's groups "
        "(STRING)");
  CHECK(error_of(tickets +
                 "CREATE STREAM A AS SELECT * FROM TRADES WHERE SYMBOL IN\n"
                 "  (SELECT CUSTOMER FROM TICKETS HAVING COUNT(*) > 1);") ==
        "line 4:49: HAVING clause requires a GROUP BY clause.");
}

TEST_CASE("subquery: a table of several key columns is scanned", "[sql][subquery]") {
  SqlEngine engine;
  REQUIRE(error_of("CREATE TABLE PAIRS (A STRING PRIMARY KEY, B STRING PRIMARY KEY, N INT)\n"
                   "  WITH (kafka_topic='pairs', key_format='JSON', value_format='JSON');\n"
                   "CREATE STREAM A AS SELECT * FROM TRADES T\n"
                   "  WHERE EXISTS (SELECT 1 FROM PAIRS P WHERE P.A = T.SYMBOL AND P.B = T.ID)\n"
                   "    AND PRICE < (SELECT SUM(N) FROM PAIRS P2 WHERE P2.A = T.SYMBOL);",
                   &engine) == "");
  CHECK(engine.topology().repartition_topics().empty());
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  auto& d = **driver;
  d.pipe("pairs", std::string(R"({"A": "x", "B": "t1"})"), std::string(R"({"N": 5})"), 0);
  d.pipe("pairs", std::string(R"({"A": "x", "B": "t2"})"), std::string(R"({"N": 1})"), 0);
  d.pipe("pairs", std::string(R"({"A": "y", "B": "t3"})"), std::string(R"({"N": 1})"), 0);
  trade(d, "t1", 5.5, "x");  // (x, t1) is there, 5.5 < 5 + 1
  trade(d, "t2", 6.5, "x");  // not < 6
  trade(d, "t3", 0.5, "x");  // (x, t3) is not there
  trade(d, "t4", 0.5, "y");  // nor (y, t4)
  d.pipe("pairs", std::string(R"({"A": "y", "B": "t4"})"), std::string(R"({"N": 1})"), 0);
  trade(d, "t4", 0.5, "y");  // now it is
  CHECK(kept(d) == std::vector<std::string>{"t1", "t4"});
}

TEST_CASE("subquery: aggregate errors name line:column", "[sql][subquery]") {
  CHECK(error_of("CREATE STREAM A AS SELECT * FROM TRADES\n"
                 "  WHERE PRICE > (SELECT MAX_PRICE + MAX(MAX_PRICE) FROM LIMITS);") ==
        "line 2:25: The subquery selects aggregates: its column LIMITS.MAX_PRICE must be inside "
        "an aggregate function");
  CHECK(error_of("CREATE STREAM A AS SELECT * FROM TRADES\n"
                 "  WHERE SYMBOL IN (SELECT MAX(SYMBOL) FROM LIMITS);") ==
        "line 2:27: not supported yet: aggregate functions in IN subqueries");
  CHECK(error_of("CREATE STREAM A AS SELECT * FROM TRADES\n"
                 "  WHERE PRICE = (SELECT COLLECT_LIST(MAX_PRICE)[1] FROM LIMITS);") ==
        "line 2:25: not supported yet: aggregate function COLLECT_LIST in subqueries");
  CHECK(error_of("CREATE STREAM A AS SELECT * FROM TRADES\n"
                 "  WHERE EXISTS (SELECT COUNT(*) FROM LIMITS);") ==
        "line 2:24: not supported yet: aggregate functions in EXISTS subqueries");
  CHECK(error_of("CREATE STREAM A AS SELECT * FROM TRADES\n"
                 "  WHERE EXISTS (SELECT 1 FROM LIMITS WHERE COUNT(*) > 1);") ==
        "line 2:44: Aggregate functions are not allowed in a subquery's WHERE: (COUNT(*) > 1)");
  const std::string sum_text = error_of(
      "CREATE STREAM A AS SELECT * FROM TRADES\n"
      "  WHERE PRICE > (SELECT SUM(KIND) FROM LIMITS);");
  INFO(sum_text);
  CHECK(sum_text.rfind("line 2:25: ", 0) == 0);
  CHECK(sum_text.find("SUM") != std::string::npos);
}

TEST_CASE("subquery: an aggregate that overflows drops only that record", "[sql][subquery]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE TABLE BIG (ID STRING PRIMARY KEY, D DECIMAL(38, 0))"
      " WITH (kafka_topic='big', value_format='JSON');\n"
      "CREATE STREAM N (ID STRING KEY, V DECIMAL(38, 0))"
      " WITH (kafka_topic='n', value_format='JSON');\n"
      "CREATE STREAM A AS SELECT * FROM N WHERE V < (SELECT SUM(D) FROM BIG);"));
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  auto& d = **driver;
  const std::string nines(38, '9');
  d.pipe("big", std::string("a"), std::string(R"({"D": 1})"), 0);
  d.pipe("n", std::string("n1"), std::string(R"({"V": 0})"), 1);
  d.pipe("big", std::string("b"), R"({"D": )" + nines + "}", 2);
  d.pipe("n", std::string("n2"), std::string(R"({"V": 0})"), 3);
  d.pipe("big", std::string("a"), std::nullopt, 4);
  d.pipe("n", std::string("n3"), std::string(R"({"V": 0})"), 5);
  auto out = d.outputs("A");
  REQUIRE(out.size() == 2);
  CHECK(out[0].key == std::optional<std::string>("n1"));
  CHECK(out[1].key == std::optional<std::string>("n3"));
  REQUIRE(d.data_errors().size() == 1);
  const std::string text = d.data_errors()[0].to_string();
  INFO(text);
  CHECK(text.find("line 3:46: the scalar subquery's aggregate failed (table BIG): SUM(BIG.D): "
                  "decimal overflow adding") != std::string::npos);
  CHECK(d.data_errors()[0].error.context.offset == 1);  // n2
}


namespace {

const char* kKinds =
    "CREATE TABLE KINDS (KIND STRING PRIMARY KEY, ACTIVE BOOLEAN, OWNER STRING)\n"
    "  WITH (kafka_topic='kinds', value_format='JSON');\n";

void kind(TestDriver& d, const std::string& k, std::optional<std::string> value) {
  d.pipe("kinds", k, std::move(value), 0);
}

}  // namespace

TEST_CASE("subquery: a lookup nested in a lookup reads the nested table's replica",
          "[sql][subquery][nested]") {
  SqlEngine engine;
  auto driver = driver_of(std::string(kKinds) +
                              "CREATE STREAM A AS SELECT ID, PRICE FROM TRADES\n"
                              "  WHERE SYMBOL IN (SELECT SYMBOL FROM LIMITS\n"
                              "                   WHERE KIND IN (SELECT KIND FROM KINDS WHERE ACTIVE));",
                          engine);
  const std::string explained = engine.explain("app");
  INFO(explained);
  CHECK(explained.find("line 4:16  WHERE  LIMITS: key lookup by TRADES.SYMBOL in the task's "
                       "table, the input re-keyed by it") != std::string::npos);
  CHECK(explained.find("line 5:31  nested in line 4:16  KINDS: key lookup by LIMITS.KIND in the "
                       "node's global replica of the table (no repartition)\n") !=
        std::string::npos);
  auto& d = *driver;
  limit(d, "AAPL", R"({"MAX_PRICE": 1.0, "KIND": "tech"})");
  limit(d, "XOM", R"({"MAX_PRICE": 1.0, "KIND": "oil"})");
  limit(d, "GME", R"({"MAX_PRICE": 1.0, "KIND": null})");
  kind(d, "tech", R"({"ACTIVE": true})");
  kind(d, "oil", R"({"ACTIVE": false})");
  trade(d, "t1", 1.0, "AAPL");
  trade(d, "t2", 1.0, "XOM");  // its kind is not active
  trade(d, "t3", 1.0, "GME");  // no kind
  trade(d, "t4", 1.0, "IBM");  // no limit
  kind(d, "oil", R"({"ACTIVE": true})");
  trade(d, "t5", 1.0, "XOM");  // now it is
  kind(d, "tech", std::nullopt);
  trade(d, "t6", 1.0, "AAPL");  // its kind is gone
  CHECK(kept(d) == std::vector<std::string>{"t1", "t5"});
}

TEST_CASE("subquery: an uncorrelated scan with a nested subquery is cached until either table "
          "changes",
          "[sql][subquery][nested]") {
  SqlEngine engine;
  auto driver = driver_of(std::string(kKinds) +
                              "CREATE STREAM A AS SELECT ID, PRICE FROM TRADES\n"
                              "  WHERE EXISTS (SELECT 1 FROM LIMITS WHERE MAX_PRICE > 100\n"
                              "                AND KIND IN (SELECT KIND FROM KINDS WHERE NOT ACTIVE));",
                          engine);
  const std::string explained = engine.explain("app");
  INFO(explained);
  CHECK(explained.find("line 4:9  WHERE  LIMITS: scan of the global table, computed once per "
                       "change of the table\n") != std::string::npos);
  auto& d = *driver;
  limit(d, "AAPL", R"({"MAX_PRICE": 500.0, "KIND": "tech"})");
  limit(d, "XOM", R"({"MAX_PRICE": 50.0, "KIND": "oil"})");
  trade(d, "t1", 1.0);  // no kind is inactive
  kind(d, "oil", R"({"ACTIVE": false})");
  trade(d, "t2", 1.0);  // oil is, but XOM's limit is 50
  kind(d, "tech", R"({"ACTIVE": false})");
  trade(d, "t3", 1.0);  // a change of KINDS alone: AAPL matches now
  trade(d, "t4", 1.0);  // from the cache
  kind(d, "tech", R"({"ACTIVE": true})");
  trade(d, "t5", 1.0);
  limit(d, "XOM", R"({"MAX_PRICE": 150.0, "KIND": "oil"})");
  trade(d, "t6", 1.0);  // a change of LIMITS alone
  CHECK(kept(d) == std::vector<std::string>{"t3", "t4", "t6"});
}

TEST_CASE("subquery: a nested subquery may read the outermost row, and names resolve to the "
          "nearest table",
          "[sql][subquery][nested]") {
  SqlEngine engine;
  // KIND in the nested WHERE is the KINDS' own; SYMBOL is LIMITS' (TRADES
  // has one too); ID is only TRADES'.
  auto driver = driver_of(std::string(kKinds) +
                              "CREATE STREAM A AS SELECT ID, PRICE FROM TRADES T\n"
                              "  WHERE EXISTS (SELECT 1 FROM LIMITS L\n"
                              "                WHERE L.KIND IN (SELECT KIND FROM KINDS\n"
                              "                                 WHERE OWNER = ID AND ACTIVE\n"
                              "                                   AND KIND <> SYMBOL));",
                          engine);
  const std::string explained = engine.explain("app");
  INFO(explained);
  CHECK(explained.find("line 4:9  WHERE  LIMITS: scan of the global table, every row tested "
                       "per record (correlated)\n") != std::string::npos);
  auto& d = *driver;
  limit(d, "AAPL", R"({"MAX_PRICE": 1.0, "KIND": "tech"})");
  limit(d, "oil", R"({"MAX_PRICE": 1.0, "KIND": "oil"})");  // its symbol is its kind
  kind(d, "tech", R"({"ACTIVE": true, "OWNER": "t1"})");
  kind(d, "oil", R"({"ACTIVE": true, "OWNER": "t2"})");
  trade(d, "t1", 1.0, "oil");  // owns tech, AAPL's kind; TRADES' SYMBOL is not read
  trade(d, "t2", 1.0, "x");    // owns oil: only the limit whose symbol is oil has it
  trade(d, "t3", 1.0, "x");    // owns nothing
  CHECK(kept(d) == std::vector<std::string>{"t1"});
}

TEST_CASE("subquery: nested subqueries at three levels, aggregated, against the same table",
          "[sql][subquery][nested]") {
  SqlEngine engine;
  auto driver = driver_of(
      std::string(kKinds) +
          "CREATE STREAM A AS SELECT ID, PRICE FROM TRADES T\n"
          "  WHERE PRICE > (SELECT MAX(L.MAX_PRICE) FROM LIMITS L\n"
          "                 WHERE L.KIND IN (SELECT KIND FROM KINDS K WHERE K.ACTIVE\n"
          "                                    AND EXISTS (SELECT 1 FROM LIMITS M\n"
          "                                                WHERE M.KIND = K.KIND\n"
          "                                                  AND M.SYMBOL = T.SYMBOL)));",
      engine);
  auto& d = *driver;
  limit(d, "AAPL", R"({"MAX_PRICE": 10.0, "KIND": "tech"})");
  limit(d, "MSFT", R"({"MAX_PRICE": 20.0, "KIND": "tech"})");
  limit(d, "XOM", R"({"MAX_PRICE": 5.0, "KIND": "oil"})");
  kind(d, "tech", R"({"ACTIVE": true})");
  kind(d, "oil", R"({"ACTIVE": true})");
  // A trade's symbol picks its kind; the cap is that kind's highest limit.
  trade(d, "t1", 15.0, "AAPL");  // tech: 20
  trade(d, "t2", 25.0, "AAPL");
  trade(d, "t3", 6.0, "XOM");    // oil: 5
  trade(d, "t4", 6.0, "IBM");    // no kind: MAX of no row is NULL
  kind(d, "oil", R"({"ACTIVE": false})");
  trade(d, "t5", 6.0, "XOM");
  CHECK(kept(d) == std::vector<std::string>{"t2", "t3"});
}

TEST_CASE("subquery: a nested scalar lookup by the outermost row (sql-reference's example)",
          "[sql][subquery][nested]") {
  SqlEngine engine;
  auto driver = driver_of(
      "CREATE STREAM A AS SELECT ID, PRICE FROM TRADES T\n"
      "  WHERE PRICE > (SELECT MAX(L.MAX_PRICE) FROM LIMITS L\n"
      "                 WHERE L.KIND = (SELECT M.KIND FROM LIMITS M WHERE M.SYMBOL = T.SYMBOL));",
      engine);
  const std::string explained = engine.explain("app");
  INFO(explained);
  // The nested lookup reads the trade alone: it probes the index of L.KIND.
  CHECK(explained.find("line 2:17  WHERE  LIMITS: scan of the global table folding "
                       "MAX(L.MAX_PRICE), its rows cached per change of the table and indexed by "
                       "L.KIND = (SELECT M.KIND FROM LIMITS M WHERE (M.SYMBOL = T.SYMBOL)): each "
                       "record tests the rows of its value only\n") != std::string::npos);
  CHECK(explained.find("line 3:33  nested in line 2:17  LIMITS: key lookup by T.SYMBOL in the "
                       "node's global replica of the table (no repartition)\n") !=
        std::string::npos);
  auto& d = *driver;
  limit(d, "AAPL", R"({"MAX_PRICE": 10.0, "KIND": "tech"})");
  limit(d, "MSFT", R"({"MAX_PRICE": 20.0, "KIND": "tech"})");
  limit(d, "XOM", R"({"MAX_PRICE": 5.0, "KIND": "oil"})");
  trade(d, "t1", 15.0, "AAPL");  // tech: 20
  trade(d, "t2", 25.0, "AAPL");
  trade(d, "t3", 6.0, "XOM");   // oil: 5
  trade(d, "t4", 6.0, "IBM");   // no limit: NULL
  CHECK(kept(d) == std::vector<std::string>{"t2", "t3"});
}

TEST_CASE("subquery: a nested scalar matching several rows drops the outer record",
          "[sql][subquery][nested]") {
  SqlEngine engine;
  auto driver = driver_of(std::string(kKinds) +
                              "CREATE STREAM A AS SELECT ID, PRICE FROM TRADES\n"
                              "  WHERE EXISTS (SELECT 1 FROM LIMITS\n"
                              "    WHERE KIND = (SELECT KIND FROM KINDS WHERE ACTIVE));",
                          engine);
  auto& d = *driver;
  limit(d, "AAPL", R"({"MAX_PRICE": 1.0, "KIND": "tech"})");
  kind(d, "tech", R"({"ACTIVE": true})");
  trade(d, "t1", 1.0);
  kind(d, "oil", R"({"ACTIVE": true})");
  trade(d, "t2", 1.0);  // two active kinds
  kind(d, "oil", std::nullopt);
  trade(d, "t3", 1.0);
  CHECK(kept(d) == std::vector<std::string>{"t1", "t3"});
  REQUIRE(d.data_errors().size() == 1);
  const std::string text = d.data_errors()[0].to_string();
  INFO(text);
  CHECK(text.find("line 5:18: the scalar subquery returned more than one row (table KINDS)") !=
        std::string::npos);
  CHECK(d.data_errors()[0].error.context.offset == 1);  // t2
}

TEST_CASE("subquery: nested subqueries in HAVING and in SELECT", "[sql][subquery][nested]") {
  SqlEngine engine;
  auto driver = driver_of(
      std::string(kKinds) +
          "CREATE STREAM A AS SELECT ID,\n"
          "  EXISTS (SELECT 1 FROM LIMITS L WHERE L.SYMBOL = T.SYMBOL\n"
          "            AND L.KIND IN (SELECT KIND FROM KINDS WHERE ACTIVE)) AS LIVE\n"
          "  FROM TRADES T;\n"
          "CREATE TABLE B AS SELECT SYMBOL, COUNT(*) AS N FROM TRADES GROUP BY SYMBOL\n"
          "  HAVING COUNT(*) >= (SELECT COUNT(*) FROM LIMITS L\n"
          "                       WHERE L.KIND IN (SELECT KIND FROM KINDS WHERE ACTIVE));",
      engine);
  auto& d = *driver;
  limit(d, "AAPL", R"({"MAX_PRICE": 1.0, "KIND": "tech"})");
  limit(d, "MSFT", R"({"MAX_PRICE": 1.0, "KIND": "tech"})");
  kind(d, "tech", R"({"ACTIVE": true})");
  trade(d, "t1", 1.0, "AAPL");  // 2 live limits: a count of 1 is not enough
  trade(d, "t2", 1.0, "AAPL");
  kind(d, "tech", R"({"ACTIVE": false})");
  trade(d, "t3", 1.0, "XOM");  // none live: any count
  CHECK(rows_of(d, "A") == std::vector<std::string>{R"(t1={"LIVE":true})", R"(t2={"LIVE":true})",
                                                    R"(t3={"LIVE":false})"});
  CHECK(rows_of(d, "B") == std::vector<std::string>{R"(AAPL={"N":2})", R"(XOM={"N":1})"});
}

TEST_CASE("subquery: a chain of lookups: a subquery's selected value looks up another table",
          "[sql][subquery][nested]") {
  SqlEngine engine;
  auto driver = driver_of(
      std::string(kKinds) +
          "CREATE STREAM A AS SELECT ID,\n"
          "  (SELECT (SELECT OWNER FROM KINDS K WHERE K.KIND = L.KIND) FROM LIMITS L\n"
          "     WHERE L.SYMBOL = T.SYMBOL) AS OWNER\n"
          "  FROM TRADES T\n"
          "  WHERE 'o2' <> (SELECT (SELECT OWNER FROM KINDS K WHERE K.KIND = L.KIND) FROM LIMITS L\n"
          "                  WHERE L.SYMBOL = T.SYMBOL);",
      engine);
  const std::string explained = engine.explain("app");
  INFO(explained);
  CHECK(explained.find("line 4:11  nested in line 4:3  KINDS: key lookup by L.KIND in the node's "
                       "global replica of the table (no repartition)\n") != std::string::npos);
  auto& d = *driver;
  limit(d, "AAPL", R"({"MAX_PRICE": 1.0, "KIND": "tech"})");
  limit(d, "XOM", R"({"MAX_PRICE": 1.0, "KIND": "oil"})");
  limit(d, "GME", R"({"MAX_PRICE": 1.0, "KIND": "meme"})");
  kind(d, "tech", R"({"ACTIVE": true, "OWNER": "o1"})");
  kind(d, "oil", R"({"ACTIVE": true, "OWNER": "o2"})");
  trade(d, "t1", 1.0, "AAPL");
  trade(d, "t2", 1.0, "XOM");  // owned by o2: filtered out
  trade(d, "t3", 1.0, "GME");  // no such kind: NULL, and NULL <> 'o2' is not TRUE
  kind(d, "meme", R"({"ACTIVE": true, "OWNER": "o3"})");
  trade(d, "t4", 1.0, "GME");
  CHECK(rows_of(d, "A") ==
        std::vector<std::string>{R"(t1={"OWNER":"o1"})", R"(t4={"OWNER":"o3"})"});
}

TEST_CASE("subquery: nested subqueries' errors name line:column", "[sql][subquery][nested]") {
  const std::string schema = kKinds;
  auto e = error_of(schema +
                    "CREATE STREAM A AS SELECT * FROM TRADES WHERE PRICE > (SELECT\n"
                    "  MAX(MAX_PRICE) + (SELECT 1 FROM KINDS) FROM LIMITS);");
  CHECK(e == "line 4:20: not supported yet: subqueries in the SELECT of a subquery with "
             "aggregates or GROUP BY");
  e = error_of(schema +
               "CREATE STREAM A AS SELECT * FROM TRADES WHERE EXISTS (SELECT 1 FROM LIMITS\n"
               "  WHERE KIND IN (SELECT KIND FROM TICKS));");
  CHECK(e.rfind("line 4:", 0) == 0);
  CHECK(e.find("is a STREAM") != std::string::npos);
  e = error_of(schema +
               "CREATE STREAM A AS SELECT * FROM TRADES WHERE EXISTS (SELECT 1 FROM LIMITS\n"
               "  WHERE KIND IN (SELECT ACTIVE FROM KINDS));");
  CHECK(e.rfind("line 4:", 0) == 0);
  CHECK(e.find("Cannot compare") != std::string::npos);
  e = error_of(schema +
               "CREATE STREAM A AS SELECT * FROM TRADES WHERE EXISTS (SELECT 1 FROM LIMITS\n"
               "  WHERE KIND IN (SELECT KIND FROM LIMITS));");
  CHECK(e.find("needs an alias distinct") != std::string::npos);
}

}  // namespace rivulet::sql
