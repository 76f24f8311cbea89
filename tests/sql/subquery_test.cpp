// Subqueries against tables: plan-time errors (line:column, wording) and
// how lookups are placed (local lookups need no repartition; others re-key
// with the table's key format). Behaviour end to end is in
// data/subquery_cases.json (planner_test.cpp runs it).
#include <catch2/catch.hpp>
#include <string>

#include "sql/planner.hpp"
#include "sql/test_driver.hpp"

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
    auto e = error_of("CREATE STREAM A AS SELECT * FROM TRADES\n"
                      "WHERE SYMBOL IN (SELECT SYMBOL FROM NOPE);");
    CHECK(e.rfind("line 2:", 0) == 0);
    CHECK(e.find("NOPE") != std::string::npos);
    CHECK(e.find("does not exist") != std::string::npos);
  }
  SECTION("a stream is not a table") {
    auto e = error_of("CREATE STREAM A AS SELECT * FROM TRADES WHERE SYMBOL IN "
                      "(SELECT SYMBOL FROM TICKS);");
    CHECK(e.find("line 1:") == 0);
    CHECK(e.find("is a STREAM") != std::string::npos);
  }
  SECTION("IN needs exactly one selected expression") {
    auto e = error_of("CREATE STREAM A AS SELECT * FROM TRADES WHERE SYMBOL IN "
                      "(SELECT SYMBOL, KIND FROM LIMITS);");
    CHECK(e.find("must select exactly one expression") != std::string::npos);
  }
  SECTION("types are checked") {
    auto e = error_of("CREATE STREAM A AS SELECT * FROM TRADES WHERE PRICE IN "
                      "(SELECT KIND FROM LIMITS WHERE SYMBOL = TRADES.SYMBOL);");
    CHECK(e.find("Cannot compare") != std::string::npos);
  }
  SECTION("different lookup keys in one query") {
    auto e = error_of("CREATE STREAM A AS SELECT * FROM TRADES WHERE SYMBOL IN "
                      "(SELECT SYMBOL FROM LIMITS) AND EXISTS (SELECT 1 FROM LIMITS L2 "
                      "WHERE L2.SYMBOL = 'AAPL');");
    CHECK(e.find("look up different keys") != std::string::npos);
  }
  SECTION("subqueries outside WHERE") {
    auto e = error_of("CREATE STREAM A AS SELECT ID, (SELECT MAX_PRICE FROM LIMITS WHERE "
                      "SYMBOL = 'X') AS M FROM TRADES;");
    CHECK(e.find("not supported yet: subqueries outside WHERE") != std::string::npos);
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
