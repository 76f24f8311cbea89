// Table functions in a stream's SELECT (ksqlDB's EXPLODE, CUBE_EXPLODE and
// user-defined table functions): each row becomes as many rows as the
// longest result, the other columns repeated, shorter results padded with
// NULL; refused outside a stream's SELECT.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "runtime/codec.hpp"
#include "sql/functions.hpp"
#include "sql/planner.hpp"
#include "sql/test_driver.hpp"
#include "support/kafka_keys.hpp"

namespace rivulet::sql {
namespace {

using nlohmann::json;

using rivulet::testing::string_key;

std::string key_text(const OutputRecord& o) {
  REQUIRE(o.key);
  auto k = make_kafka_codec(DataType::of(TypeKind::String))->decode(*o.key);
  REQUIRE(k);
  return k->as_string();
}

std::vector<json> values_of(TestDriver& d, const std::string& topic) {
  std::vector<json> out;
  for (const auto& o : d.outputs(topic)) out.push_back(o.value ? json::parse(*o.value) : json());
  return out;
}

const std::string kReadings =
    "CREATE STREAM READINGS (SENSOR STRING KEY, AREA STRING, R ARRAY<INT>, T ARRAY<STRING>) "
    "WITH (kafka_topic='readings', value_format='JSON');";

std::unique_ptr<TestDriver> driver_for(SqlEngine& engine, const std::string& script) {
  auto ran = engine.execute_script(script);
  INFO((ran ? std::string() : ran.error().message));
  REQUIRE(ran);
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  return std::move(*driver);
}

std::string refusal(const std::string& script) {
  SqlEngine engine;
  auto ran = engine.execute_script(script);
  REQUIRE_FALSE(ran);
  return ran.error().message;
}

// SPLIT_WORDS(STRING) -> STRING: the words between spaces; throws on "!".
FunctionDef split_words() {
  FunctionDef d;
  d.name = "split_words";
  d.kind = FunctionDef::Kind::Table;
  d.resolve_table = [](const std::vector<DataTypePtr>& args) -> Expected<TableCall> {
    if (args.size() != 1 || args[0]->kind != TypeKind::String)
      return no_matching_overload("SPLIT_WORDS", args);
    TableCall c;
    c.return_type = DataType::of(TypeKind::String);
    c.body = [](const ArgValues& a) {
      Array words;
      if (a[0].is_null()) return words;
      if (a[0].as_string() == "!") throw std::invalid_argument("no words in '!'");
      std::istringstream in(a[0].as_string());
      std::string w;
      while (in >> w) words.push_back(Value::string(w));
      return words;
    };
    return c;
  };
  return d;
}

}  // namespace

TEST_CASE("table functions: EXPLODE repeats the other columns per element", "[sql][udtf]") {
  SqlEngine engine;
  auto driver = driver_for(engine, kReadings +
                                       "CREATE STREAM EACH AS SELECT SENSOR, AREA, EXPLODE(R) AS "
                                       "READING, EXPLODE(R) * 2 AS TWICE FROM READINGS;");
  REQUIRE(driver->pipe("readings", string_key("s1"), R"({"AREA":"n","R":[23,56,3]})", 1));
  REQUIRE(driver->pipe("readings", string_key("s2"), R"({"AREA":"s","R":[]})", 2));
  REQUIRE(driver->pipe("readings", string_key("s3"), R"({"AREA":"e","R":null})", 3));
  REQUIRE(driver->pipe("readings", string_key("s4"), R"({"AREA":"w","R":[12,null]})", 4));
  auto out = driver->outputs("EACH");
  REQUIRE(out.size() == 5);  // none for an empty or NULL array
  CHECK(key_text(out[0]) == "s1");
  CHECK(key_text(out[2]) == "s1");
  CHECK(key_text(out[3]) == "s4");
  CHECK(out[1].timestamp == 1);
  auto values = values_of(*driver, "EACH");
  CHECK(values[0] == json::parse(R"({"AREA":"n","READING":23,"TWICE":46})"));
  CHECK(values[1] == json::parse(R"({"AREA":"n","READING":56,"TWICE":112})"));
  CHECK(values[2] == json::parse(R"({"AREA":"n","READING":3,"TWICE":6})"));
  CHECK(values[3] == json::parse(R"({"AREA":"w","READING":12,"TWICE":24})"));
  CHECK(values[4] == json::parse(R"({"AREA":"w","READING":null,"TWICE":null})"));
  // A stream's null value has no rows to explode: skipped and counted.
  REQUIRE(driver->pipe("readings", string_key("s5"), std::nullopt, 5));
  CHECK(driver->outputs("EACH").size() == 5);
  CHECK(driver->skipped(SkipReason::Tombstone) == 1);
  CHECK(driver->data_errors().empty());
}

TEST_CASE("table functions: several zip, the shorter padded with NULL", "[sql][udtf]") {
  SqlEngine engine;
  auto driver = driver_for(
      engine, kReadings +
                  "CREATE STREAM PAIRS AS SELECT SENSOR, EXPLODE(R) AS A, EXPLODE(T) AS B, AREA "
                  "FROM READINGS WHERE AREA <> 'skip';");
  REQUIRE(driver->pipe("readings", string_key("s1"), R"({"AREA":"n","R":[1,2,3],"T":["x"]})", 1));
  REQUIRE(driver->pipe("readings", string_key("s2"), R"({"AREA":"skip","R":[9],"T":["y"]})", 2));
  auto values = values_of(*driver, "PAIRS");
  REQUIRE(values.size() == 3);
  CHECK(values[0] == json::parse(R"({"A":1,"B":"x","AREA":"n"})"));
  CHECK(values[1] == json::parse(R"({"A":2,"B":null,"AREA":"n"})"));
  CHECK(values[2] == json::parse(R"({"A":3,"B":null,"AREA":"n"})"));
}

TEST_CASE("table functions: beside SELECT *, unnamed, over an expression", "[sql][udtf]") {
  SqlEngine engine;
  auto driver = driver_for(
      engine, kReadings +
                  "CREATE STREAM STARRED AS SELECT *, EXPLODE(T) VAL FROM READINGS;"
                  "CREATE STREAM UNNAMED AS SELECT SENSOR, EXPLODE(R), EXPLODE(T) FROM READINGS;"
                  "CREATE STREAM BUILT AS SELECT SENSOR, EXPLODE(ARRAY[ABS(R[1] + R[2]), "
                  "R[2] * 10]) FROM READINGS;");
  REQUIRE(driver->pipe("readings", string_key("s1"), R"({"AREA":"n","R":[-5,2],"T":["x"]})", 1));
  auto starred = values_of(*driver, "STARRED");
  REQUIRE(starred.size() == 1);
  CHECK(starred[0] == json::parse(R"({"AREA":"n","R":[-5,2],"T":["x"],"VAL":"x"})"));
  auto unnamed = values_of(*driver, "UNNAMED");
  REQUIRE(unnamed.size() == 2);  // named as ksqlDB names them
  CHECK(unnamed[0] == json::parse(R"({"KSQL_COL_0":-5,"KSQL_COL_1":"x"})"));
  CHECK(unnamed[1] == json::parse(R"({"KSQL_COL_0":2,"KSQL_COL_1":null})"));
  auto built = values_of(*driver, "BUILT");
  REQUIRE(built.size() == 2);
  CHECK(built[0] == json::parse(R"({"KSQL_COL_0":3})"));
  CHECK(built[1] == json::parse(R"({"KSQL_COL_0":20})"));
}

TEST_CASE("table functions: CUBE_EXPLODE gives every combination once", "[sql][udtf]") {
  SqlEngine engine;
  auto driver =
      driver_for(engine, kReadings +
                             "CREATE STREAM CUBES AS SELECT SENSOR, CUBE_EXPLODE(T) AS C FROM "
                             "READINGS;");
  REQUIRE(driver->pipe("readings", string_key("s1"), R"({"T":["a","b"]})", 1));
  auto values = values_of(*driver, "CUBES");
  REQUIRE(values.size() == 4);  // as ksqlDB orders them
  CHECK(values[0]["C"] == json::parse(R"([null,null])"));
  CHECK(values[1]["C"] == json::parse(R"([null,"b"])"));
  CHECK(values[2]["C"] == json::parse(R"(["a",null])"));
  CHECK(values[3]["C"] == json::parse(R"(["a","b"])"));
  // A NULL element is NULL in every combination: no duplicates.
  REQUIRE(driver->pipe("readings", string_key("s2"), R"({"T":["a",null]})", 2));
  values = values_of(*driver, "CUBES");
  REQUIRE(values.size() == 6);
  CHECK(values[4]["C"] == json::parse(R"([null,null])"));
  CHECK(values[5]["C"] == json::parse(R"(["a",null])"));
  // More than 20 elements would be over a million rows: the row fails.
  json many = json::array();
  for (int i = 0; i < 21; ++i) many.push_back(std::to_string(i));
  REQUIRE(driver->pipe("readings", string_key("s3"), json{{"T", many}}.dump(), 3));
  CHECK(driver->outputs("CUBES").size() == 6);
  REQUIRE(driver->data_errors().size() == 1);
  CHECK(driver->data_errors()[0].error.message.find(
            "CUBE_EXPLODE: CUBE_EXPLODE input size (21) exceeds the maximum of 20") !=
        std::string::npos);
  CHECK(driver->data_errors()[0].error.context.offset == 2);  // the record read
}

// After a stream-table join the joined row is exploded, the table's columns
// repeated.
TEST_CASE("table functions: over a stream-table join", "[sql][udtf]") {
  SqlEngine engine;
  auto driver = driver_for(
      engine,
      "CREATE STREAM ORDERS (UID STRING KEY, ITEMS ARRAY<STRING>) WITH (kafka_topic='orders', "
      "value_format='JSON', partitions=2);"
      "CREATE TABLE USERS (UID STRING PRIMARY KEY, NAME STRING) WITH (kafka_topic='users', "
      "value_format='JSON', partitions=2);"
      "CREATE STREAM LINES AS SELECT O.UID AS UID, U.NAME AS NAME, EXPLODE(O.ITEMS) AS ITEM "
      "FROM ORDERS O JOIN USERS U ON O.UID = U.UID;");
  REQUIRE(driver->pipe("users", string_key("u1"), R"({"NAME":"Ada"})", 1));
  REQUIRE(driver->pipe("orders", string_key("u1"), R"({"ITEMS":["pen","ink"]})", 2));
  auto values = values_of(*driver, "LINES");
  REQUIRE(values.size() == 2);
  CHECK(values[0] == json::parse(R"({"NAME":"Ada","ITEM":"pen"})"));
  CHECK(values[1] == json::parse(R"({"NAME":"Ada","ITEM":"ink"})"));
}

TEST_CASE("table functions: refused outside a stream's SELECT", "[sql][udtf]") {
  CHECK(refusal("CREATE TABLE TT (ID STRING PRIMARY KEY, R ARRAY<INT>) WITH (kafka_topic='tt', "
                "value_format='JSON');"
                "CREATE TABLE O AS SELECT ID, EXPLODE(R) AS X FROM TT;")
            .find("Table source is not supported with table functions") != std::string::npos);
  std::string where =
      refusal(kReadings + "CREATE STREAM O AS SELECT SENSOR FROM READINGS WHERE EXPLODE(R) > 1;");
  INFO(where);
  CHECK(where.find("Error in WHERE expression: Table function EXPLODE(R) is not allowed here: "
                   "table functions are supported only in the SELECT of a query over a "
                   "stream") != std::string::npos);
  CHECK(refusal(kReadings +
                "CREATE STREAM O AS SELECT SENSOR, EXPLODE(EXPLODE(R)) AS X FROM READINGS;")
            .find("Table functions cannot be nested: EXPLODE(R)") != std::string::npos);
  CHECK(refusal(kReadings + "CREATE TABLE O AS SELECT AREA, EXPLODE(R) AS X, COUNT(*) AS N "
                            "FROM READINGS GROUP BY AREA;")
            .find("not supported yet: table functions in an aggregation") != std::string::npos);
  CHECK(refusal(kReadings + "CREATE STREAM O AS SELECT SENSOR, EXPLODE(AREA) AS X FROM READINGS;")
            .find("Function 'EXPLODE' does not accept parameters (STRING).") != std::string::npos);
  CHECK(refusal(kReadings +
                "CREATE STREAM O AS SELECT SENSOR, AREA FROM READINGS PARTITION BY EXPLODE(R);")
            .find("Error in PARTITION BY expression: Table function EXPLODE(R) is not allowed") !=
        std::string::npos);
}

TEST_CASE("table functions: user-defined (UDTF)", "[sql][udtf][udf]") {
  static const bool registered = [] { return bool(register_function(split_words())); }();
  REQUIRE(registered);
  const FunctionDef* d = FunctionRegistry::global().find("SPLIT_WORDS");
  REQUIRE(d);
  CHECK(FunctionRegistry::global().is_table_function("SPLIT_WORDS"));
  CHECK(FunctionRegistry::builtin().is_table_function("EXPLODE"));
  SqlEngine engine;
  auto driver = driver_for(
      engine,
      kReadings + "CREATE STREAM WORDS AS SELECT SENSOR, SPLIT_WORDS(AREA) AS W FROM READINGS;");
  REQUIRE(driver->pipe("readings", string_key("s1"), R"({"AREA":"north  east"})", 1));
  REQUIRE(driver->pipe("readings", string_key("s2"), R"({"AREA":"!"})", 2));
  REQUIRE(driver->pipe("readings", string_key("s3"), R"({"AREA":"west"})", 3));
  auto values = values_of(*driver, "WORDS");
  REQUIRE(values.size() == 3);
  CHECK(values[0]["W"] == "north");
  CHECK(values[1]["W"] == "east");
  CHECK(values[2]["W"] == "west");
  // A throw fails its row: a data error with the record's position.
  REQUIRE(driver->data_errors().size() == 1);
  CHECK(driver->data_errors()[0].error.message.find("SPLIT_WORDS: no words in '!'") !=
        std::string::npos);
  CHECK(driver->data_errors()[0].error.context.offset == 1);
  CHECK(driver->data_errors()[0].error.context.operation == "table function");
}

}  // namespace rivulet::sql
