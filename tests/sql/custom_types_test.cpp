// Custom types (CREATE TYPE name AS type, DROP TYPE, ksqlDB's type
// aliases): the parser resolves a registered name wherever a type is
// written (columns, nested types, CAST), within one script and across the
// engine's later statements; the refusals in ksqlDB's words.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "sql/app_file.hpp"
#include "sql/parser.hpp"
#include "sql/planner.hpp"
#include "sql/test_driver.hpp"
#include "support/kafka_keys.hpp"

namespace rivulet::sql {
namespace {

using nlohmann::json;
using rivulet::testing::string_key;

// What the engine answers one statement, parsed with its types: its
// message, or its error.
std::string answer(SqlEngine& engine, const std::string& statement) {
  auto parsed = parse_statement(statement, engine.types());
  if (!parsed) return parsed.error().message;
  auto r = engine.execute(*parsed);
  return r ? *r : r.error().message;
}

std::string error_of(const Expected<bool>& r) {
  return r ? std::string("accepted") : r.error().message;
}

TEST_CASE("custom types: a registered name stands for its type in columns and CASTs",
          "[sql][types]") {
  SqlEngine engine;
  // One script, parsed at once: the CREATE TYPE applies to the statements
  // after it.
  auto ran = engine.execute_script(
      "CREATE TYPE ADDRESS AS STRUCT<number INTEGER, street VARCHAR, city VARCHAR>;\n"
      "CREATE TYPE person AS STRUCT<name VARCHAR, home ADDRESS>;\n"
      "CREATE STREAM PEOPLE (ID STRING KEY, P PERSON, OLD ARRAY<ADDRESS>,\n"
      "  BY_KIND MAP<STRING, ADDRESS>) WITH (kafka_topic='people', value_format='JSON');\n");
  INFO((ran ? std::string() : ran.error().message));
  REQUIRE(ran);
  REQUIRE(engine.types().size() == 2);
  const DataTypePtr address = engine.types().at("ADDRESS");
  CHECK(address->to_string() == "STRUCT<NUMBER INTEGER, STREET STRING, CITY STRING>");
  const SourceInfo* people = engine.catalog().find("PEOPLE");
  REQUIRE(people);
  CHECK(people->schema.columns[1].type->to_string() ==
        "STRUCT<NAME STRING, HOME STRUCT<NUMBER INTEGER, STREET STRING, CITY STRING>>");
  CHECK(people->schema.columns[2].type->to_string() ==
        "ARRAY<STRUCT<NUMBER INTEGER, STREET STRING, CITY STRING>>");
  CHECK(people->schema.columns[3].type->to_string() ==
        "MAP<STRING, STRUCT<NUMBER INTEGER, STREET STRING, CITY STRING>>");

  // A later script of the same engine sees them (the shell's next line).
  auto query = engine.execute_script(
      "CREATE STREAM CITIES AS SELECT ID, P->HOME->CITY AS CITY, P->HOME AS HOME,\n"
      "  CAST(NULL AS ADDRESS) AS NOWHERE FROM PEOPLE;\n");
  INFO((query ? std::string() : query.error().message));
  REQUIRE(query);
  const SourceInfo* cities = engine.catalog().find("CITIES");
  REQUIRE(cities);
  CHECK(cities->schema.columns[2].type->to_string() == address->to_string());
  CHECK(cities->schema.columns[3].type->to_string() == address->to_string());

  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  REQUIRE((*driver)->pipe(
      "people", string_key("p1"),
      std::string(R"({"P":{"NAME":"Ann","HOME":{"NUMBER":7,"STREET":"Elm","CITY":"Oslo"}}})"), 1));
  auto out = (*driver)->outputs("CITIES");
  REQUIRE(out.size() == 1);
  CHECK(json::parse(*out[0].value) ==
        json{{"CITY", "Oslo"},
             {"HOME", {{"NUMBER", 7}, {"STREET", "Elm"}, {"CITY", "Oslo"}}},
             {"NOWHERE", nullptr}});

  // A forked engine (the shell's per-query planner) keeps them.
  SqlEngine fork = engine.fork();
  CHECK(fork.types().count("PERSON") == 1);
}

TEST_CASE("custom types: duplicates, drops, built-in names and quoted names", "[sql][types]") {
  SqlEngine engine;
  CHECK(answer(engine, "CREATE TYPE MONEY AS DECIMAL(10, 2)") == "Type MONEY created");

  // Registered twice: refused in ksqlDB's words, at the name; IF NOT EXISTS
  // keeps the first.
  CHECK(error_of(engine.execute_script("CREATE TYPE MONEY AS STRUCT<X INT>;")) ==
        "line 1:13: Cannot register custom type 'MONEY' since it is already registered with "
        "type: DECIMAL(10, 2)");
  CHECK(answer(engine, "CREATE TYPE IF NOT EXISTS money AS STRING") == "Type MONEY already exists");
  REQUIRE(
      engine.execute_script("CREATE STREAM PAY (ID STRING KEY, AMOUNT money)\n"
                            "  WITH (kafka_topic='pay', value_format='JSON');"));
  CHECK(engine.catalog().find("PAY")->schema.columns[1].type->to_string() == "DECIMAL(10, 2)");

  // A quoted name keeps its case: `Money` is another type.
  REQUIRE(engine.execute_script("CREATE TYPE `Money` AS BIGINT;"));
  CHECK(engine.types().size() == 2);
  REQUIRE(
      engine.execute_script("CREATE STREAM PAY2 (ID STRING KEY, A `Money`, B MONEY)\n"
                            "  WITH (kafka_topic='pay2', value_format='JSON');"));
  CHECK(engine.catalog().find("PAY2")->schema.columns[1].type->to_string() == "BIGINT");
  CHECK(engine.catalog().find("PAY2")->schema.columns[2].type->to_string() == "DECIMAL(10, 2)");

  // Dropped: the name is unknown to the statements after it; sources
  // declared with it keep their columns (ksqlDB's rule).
  CHECK(answer(engine, "DROP TYPE MONEY") == "Type MONEY dropped");
  CHECK(engine.catalog().find("PAY")->schema.columns[1].type->to_string() == "DECIMAL(10, 2)");
  CHECK(error_of(engine.execute_script("CREATE STREAM PAY3 (ID STRING KEY, AMOUNT MONEY)\n"
                                       "  WITH (kafka_topic='pay3', value_format='JSON');")) ==
        "line 1:43: Unknown type: MONEY");
  CHECK(error_of(engine.execute_script("\n  DROP TYPE MONEY;")) ==
        "line 2:13: Type MONEY does not exist.");
  CHECK(answer(engine, "DROP TYPE IF EXISTS MONEY") == "Type MONEY does not exist");

  // A built-in type's name is refused at parse.
  CHECK(error_of(engine.execute_script("CREATE TYPE varchar AS INT;")) ==
        "line 1:13: Cannot register custom type 'VARCHAR': VARCHAR is a built-in type");

  // A statement by statement script (variables substituted) resolves them too.
  engine.define("T", "AMOUNTS");
  REQUIRE(engine.execute_script(
      "CREATE TYPE ${T} AS ARRAY<DOUBLE>;\n"
      "CREATE STREAM S (ID STRING KEY, V ${T}) WITH (kafka_topic='s', value_format='JSON');"));
  CHECK(engine.catalog().find("S")->schema.columns[1].type->to_string() == "ARRAY<DOUBLE>");
}

TEST_CASE("custom types: a rivulet run file registers its own", "[sql][types]") {
  auto app = plan_script(
      "CREATE TYPE ITEM AS STRUCT<SKU STRING, QTY INT>;\n"
      "CREATE STREAM ORDERS (ID STRING KEY, ITEMS ARRAY<ITEM>)\n"
      "  WITH (kafka_topic='orders', value_format='JSON');\n"
      "CREATE STREAM FIRST_ITEMS AS SELECT ID, ITEMS[1] AS FIRST FROM ORDERS;\n",
      {});
  INFO((app ? std::string() : app.error().message));
  REQUIRE(app);
  auto driver = TestDriver::create(app->topology);
  REQUIRE(driver);
  REQUIRE((*driver)->pipe("orders", string_key("o1"),
                          std::string(R"({"ITEMS":[{"SKU":"a","QTY":2},{"SKU":"b","QTY":1}]})"),
                          1));
  auto out = (*driver)->outputs("FIRST_ITEMS");
  REQUIRE(out.size() == 1);
  CHECK(json::parse(*out[0].value) == json{{"FIRST", {{"SKU", "a"}, {"QTY", 2}}}});
}

}  // namespace
}  // namespace rivulet::sql
