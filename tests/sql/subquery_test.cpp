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
  SECTION("a scalar subquery that could return several rows") {
    auto e = error_of("CREATE STREAM A AS SELECT * FROM TRADES\n"
                      "  WHERE PRICE > (SELECT MAX_PRICE FROM LIMITS WHERE KIND = 'x');");
    CHECK(e.rfind("line 2:17: A scalar subquery must return at most one row", 0) == 0);
    CHECK(e.find("LIMITS.SYMBOL = <an expression of the outer row>") != std::string::npos);
  }
  SECTION("a scan (the key is not fixed) is rejected") {
    auto e = error_of("CREATE STREAM A AS SELECT * FROM TRADES WHERE EXISTS "
                      "(SELECT 1 FROM LIMITS WHERE MAX_PRICE > TRADES.PRICE);");
    CHECK(e.find("not supported yet: a subquery that scans table LIMITS") != std::string::npos);
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

}  // namespace rivulet::sql
