// HEADERS and HEADER('key') columns (sql/header_columns.hpp), as ksqlDB
// declares them: read from each record's Kafka headers by every query of the
// source (a stream, a table, a join), refused where they cannot be read,
// and kept out of INSERT VALUES. FROM_BYTES and TO_BYTES, which read them.
#include "sql/header_columns.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "runtime/base64.hpp"
#include "sql/functions.hpp"
#include "sql/insert_values.hpp"
#include "sql/planner.hpp"
#include "sql/test_driver.hpp"
#include "support/kafka_keys.hpp"

namespace rivulet::sql {
namespace {

using nlohmann::json;
using rivulet::testing::string_key;

const std::string kClicks =
    "CREATE STREAM CLICKS (ID STRING KEY, URL STRING, TRACE BYTES HEADER('trace'),\n"
    "  HS ARRAY<STRUCT<KEY STRING, VALUE BYTES>> HEADERS)\n"
    "  WITH (kafka_topic='clicks', value_format='JSON');\n";

std::string planning_error(const std::string& script) {
  SqlEngine engine;
  auto ran = engine.execute_script(script);
  return ran ? std::string("planned") : ran.error().message;
}

TEST_CASE("header columns: a stream's columns read from the record's headers",
          "[sql][planner][headers]") {
  SqlEngine engine;
  auto ran = engine.execute_script(
      kClicks +
      "CREATE STREAM OUT AS SELECT ID, URL, FROM_BYTES(TRACE, 'utf8') AS T,\n"
      "  ARRAY_LENGTH(HS) AS N, HS[1]->KEY AS FIRST_KEY FROM CLICKS;\n"
      "CREATE STREAM ALL_OF_IT AS SELECT * FROM CLICKS WHERE TRACE IS NOT NULL;\n");
  INFO((ran ? std::string() : ran.error().message));
  REQUIRE(ran);
  const SourceInfo* clicks = engine.catalog().find("CLICKS");
  REQUIRE(clicks);
  CHECK(clicks->header_columns == std::vector<std::pair<std::string, std::optional<std::string>>>{
                                      {"TRACE", "trace"}, {"HS", std::nullopt}});
  // The result holds them as value columns, and no header columns.
  const SourceInfo* all = engine.catalog().find("ALL_OF_IT");
  REQUIRE(all);
  CHECK(all->header_columns.empty());
  CHECK(all->schema.index_of("TRACE"));
  CHECK(all->schema.index_of("HS"));

  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  // Two headers of the key: the last one counts. A header without a value.
  REQUIRE((*driver)->pipe(
      "clicks", string_key("c1"), std::string(R"({"URL":"/a"})"), 1,
      {{"trace", std::string("t-1")}, {"other", std::nullopt}, {"trace", std::string("t-2")}}));
  // No headers: NULL, and an empty HEADERS array. A value field named like
  // a header column does not set it.
  REQUIRE((*driver)->pipe("clicks", string_key("c2"), std::string(R"({"URL":"/b","TRACE":"eA=="})"),
                          2));
  auto out = (*driver)->outputs("OUT");
  REQUIRE(out.size() == 2);
  CHECK(json::parse(*out[0].value) ==
        json{{"URL", "/a"}, {"T", "t-2"}, {"N", 3}, {"FIRST_KEY", "trace"}});
  CHECK(json::parse(*out[1].value) ==
        json{{"URL", "/b"}, {"T", nullptr}, {"N", 0}, {"FIRST_KEY", nullptr}});
  // SELECT *: BYTES in JSON are base64; the HEADERS array's structs.
  auto star = (*driver)->outputs("ALL_OF_IT");
  REQUIRE(star.size() == 1);
  CHECK(json::parse(*star[0].value) ==
        json{{"URL", "/a"},
             {"TRACE", encode_base64("t-2")},
             {"HS", json::array({json{{"KEY", "trace"}, {"VALUE", encode_base64("t-1")}},
                                 json{{"KEY", "other"}, {"VALUE", nullptr}},
                                 json{{"KEY", "trace"}, {"VALUE", encode_base64("t-2")}}})}});
}

TEST_CASE("header columns: a table keeps them in its rows, a join reads them",
          "[sql][planner][headers]") {
  SqlEngine engine;
  auto ran = engine.execute_script(
      "CREATE TABLE USERS (UID STRING PRIMARY KEY, NAME STRING, SRC BYTES HEADER('src'))\n"
      "  WITH (kafka_topic='users', value_format='JSON');\n"
      "CREATE STREAM ORDERS (OID STRING KEY, UID STRING) WITH (kafka_topic='orders',\n"
      "  value_format='JSON');\n"
      "CREATE TABLE USERS_COPY AS SELECT UID, NAME, FROM_BYTES(SRC, 'hex') AS SRC_HEX FROM USERS;\n"
      "CREATE STREAM ENRICHED AS SELECT O.UID AS UID, O.OID AS OID,\n"
      "  FROM_BYTES(U.SRC, 'ascii') AS SRC FROM ORDERS O JOIN USERS U ON O.UID = U.UID;\n");
  INFO((ran ? std::string() : ran.error().message));
  REQUIRE(ran);
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  REQUIRE((*driver)->pipe("users", string_key("u1"), std::string(R"({"NAME":"ann"})"), 1,
                          {{"src", std::string("crm")}}));
  REQUIRE((*driver)->pipe("orders", string_key("o1"), std::string(R"({"UID":"u1"})"), 2));
  REQUIRE((*driver)->pipe("users", string_key("u1"), std::string(R"({"NAME":"ann"})"), 3));
  REQUIRE((*driver)->pipe("orders", string_key("o2"), std::string(R"({"UID":"u1"})"), 4));
  auto copy = (*driver)->outputs("USERS_COPY");
  REQUIRE(copy.size() == 2);
  CHECK(json::parse(*copy[0].value) == json{{"NAME", "ann"}, {"SRC_HEX", "63726d"}});
  CHECK(json::parse(*copy[1].value) == json{{"NAME", "ann"}, {"SRC_HEX", nullptr}});
  // The join reads the table row as its last record left it.
  auto joined = (*driver)->outputs("ENRICHED");
  REQUIRE(joined.size() == 2);
  CHECK(json::parse(*joined[0].value)["SRC"] == "crm");
  CHECK(json::parse(*joined[1].value)["SRC"] == nullptr);
}

TEST_CASE("header columns: refused where they cannot be read, with the column",
          "[sql][planner][headers]") {
  CHECK(planning_error("CREATE STREAM S (ID STRING KEY,\n  H STRING HEADER('h'))\n"
                       "  WITH (kafka_topic='s', value_format='JSON');") ==
        "line 2:3: Invalid type for HEADER('h') column `H`: expected BYTES, got STRING.");
  CHECK(planning_error("CREATE STREAM S (ID STRING KEY, HS ARRAY<BYTES> HEADERS)\n"
                       "  WITH (kafka_topic='s', value_format='JSON');") ==
        "line 1:33: Invalid type for HEADERS column `HS`: expected "
        "ARRAY<STRUCT<KEY STRING, VALUE BYTES>>, got ARRAY<BYTES>.");
  CHECK(planning_error("CREATE STREAM S (A BYTES HEADER('h'), B BYTES HEADER('h'))\n"
                       "  WITH (kafka_topic='s', value_format='JSON');") ==
        "line 1:39: Schema already contains a HEADER('h') column: `A`.");
  CHECK(planning_error("CREATE STREAM S (A ARRAY<STRUCT<KEY STRING, VALUE BYTES>> HEADERS,\n"
                       "  B ARRAY<STRUCT<KEY STRING, VALUE BYTES>> HEADERS)\n"
                       "  WITH (kafka_topic='s', value_format='JSON');") ==
        "line 2:3: Schema already contains a HEADERS column: `A`.");
  CHECK(planning_error("CREATE STREAM S (ID STRING KEY, V STRING, H BYTES HEADER('h'))\n"
                       "  WITH (kafka_topic='s', value_format='KAFKA');") ==
        "line 1:43: not supported yet: HEADER columns with VALUE_FORMAT='KAFKA' (a value format "
        "of named fields, such as JSON, holds them)");
  CHECK(planning_error("CREATE STREAM S (ID STRING KEY, V STRING, H BYTES HEADER('h'))\n"
                       "  WITH (kafka_topic='s', value_format='JSON', source='memory://s');") ==
        "line 1:43: a memory source has no Kafka headers for HEADER columns to read");
  // A global replica reads the table's topic itself, without the headers
  // (a subquery's table read in the task, as a join's, has them).
  CHECK(planning_error(
            "CREATE TABLE L (SYMBOL STRING PRIMARY KEY, MAX_PRICE DOUBLE, W BYTES HEADER('w'))\n"
            "  WITH (kafka_topic='l', value_format='JSON');\n"
            "CREATE STREAM T (ID STRING KEY, SYMBOL STRING, PRICE DOUBLE)\n"
            "  WITH (kafka_topic='t', value_format='JSON');\n"
            "CREATE STREAM A AS SELECT ID, PRICE FROM T\n"
            "  WHERE PRICE > (SELECT MAX_PRICE FROM L WHERE L.SYMBOL = 'AAPL');") ==
        "line 6:17: not supported yet: a subquery that reads the global replica of a table "
        "with HEADER columns (L)");
}

TEST_CASE("header columns: INSERT VALUES leaves them out and refuses to set them",
          "[sql][planner][headers]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(kClicks));
  // No column list: every column but the header columns.
  REQUIRE(engine.execute_script("INSERT INTO CLICKS VALUES ('c1', '/a');"));
  REQUIRE(engine.inserts().size() == 1);
  CHECK(json::parse(*engine.inserts()[0].value) == json{{"URL", "/a"}});
  auto refused = engine.execute_script(
      "INSERT INTO CLICKS (ID, URL, TRACE) VALUES ('c1', '/a', TO_BYTES('x', 'utf8'));");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message == "line 1:57: Cannot insert into HEADER columns: `TRACE`");
}

TEST_CASE("FROM_BYTES and TO_BYTES: hex, utf8, ascii and base64", "[sql][functions][headers]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE STREAM S (ID STRING KEY, V STRING) WITH (kafka_topic='s', value_format='JSON');\n"
      "CREATE STREAM OUT AS SELECT ID,\n"
      "  FROM_BYTES(TO_BYTES(V, 'utf8'), 'HEX') AS HEX,\n"
      "  FROM_BYTES(TO_BYTES(V, 'utf8'), 'base64') AS B64,\n"
      "  FROM_BYTES(TO_BYTES('6869', 'hex'), 'ascii') AS HI,\n"
      "  FROM_BYTES(TO_BYTES('aGk=', 'Base64'), 'utf8') AS HI2,\n"
      "  TO_BYTES(V, 'hex') AS BAD_HEX,\n"
      "  FROM_BYTES(TO_BYTES(V, 'utf8'), 'ebcdic') AS BAD_ENCODING,\n"
      "  FROM_BYTES(CAST(NULL AS BYTES), 'hex') AS NOTHING FROM S;\n"));
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  REQUIRE((*driver)->pipe("s", string_key("k"), std::string(R"({"V":"\u00e9!"})"), 1));
  auto out = (*driver)->outputs("OUT");
  REQUIRE(out.size() == 1);
  CHECK(json::parse(*out[0].value) == json{{"HEX", "c3a921"},
                                           {"B64", "w6kh"},
                                           {"HI", "hi"},
                                           {"HI2", "hi"},
                                           {"BAD_HEX", nullptr},
                                           {"BAD_ENCODING", nullptr},
                                           {"NOTHING", nullptr}});
  CHECK((*driver)->expression_errors() == 2);  // not hex; no such encoding
}

}  // namespace
}  // namespace rivulet::sql
