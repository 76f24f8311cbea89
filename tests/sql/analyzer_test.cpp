#include "sql/analyzer.hpp"

#include <catch2/catch.hpp>

#include "sql/parser.hpp"
#include "sql_test_util.hpp"
#include "sql/types.hpp"

namespace rivulet::sql {
namespace {

using testing::catalog_with;

const char* kSources =
    "CREATE STREAM orders (id BIGINT KEY, user_id INT, amount DECIMAL(10, 2)) "
    "  WITH (kafka_topic='orders', value_format='JSON', partitions=4);"
    "CREATE STREAM clicks (user_id INT KEY, url STRING) WITH (kafka_topic='clicks', "
    "value_format='JSON');"
    "CREATE TABLE users (id INT PRIMARY KEY, name STRING) WITH (kafka_topic='users', "
    "format='JSON');"
    "CREATE TABLE regions (code STRING PRIMARY KEY, id INT) WITH (kafka_topic='regions', "
    "format='JSON');";

QueryAnalysis analyze(const Catalog& c, const std::string& sql) {
  auto s = parse_statement(sql);
  if (!s.ok()) FAIL(s.error().message);
  auto a = analyze_query(*std::get<SelectStatement>(s->body).query, c);
  if (!a.ok()) FAIL(a.error().message);
  return a.value();
}

}  // namespace

TEST_CASE("analyzer: sources and the input scope of a join", "[sql][analyzer]") {
  Catalog c = catalog_with(kSources);
  auto a = analyze(c, "SELECT o.id, u.name FROM orders o LEFT JOIN users u ON o.user_id = u.id");
  REQUIRE(a.sources.size() == 2);
  CHECK(a.sources[0].info->name == "ORDERS");
  CHECK(a.sources[0].qualifier == "O");
  CHECK(a.sources[0].first_column == 0);
  CHECK(a.sources[1].first_column == 3);
  // Join row layout: orders' three columns, then users' two, then pseudo columns.
  auto name = a.scope.find("U", "NAME");
  REQUIRE(name.ok());
  CHECK(name.value()->slot.origin == Slot::Origin::Row);
  CHECK(name.value()->slot.index == 4);
  REQUIRE(a.joins.size() == 1);
  CHECK(a.joins[0].kind == AnalyzedJoin::Kind::StreamTable);
  CHECK(a.joins[0].type == JoinType::Left);
  CHECK(to_sql(*a.joins[0].left_key) == "O.USER_ID");
  CHECK(to_sql(*a.joins[0].right_key) == "U.ID");
  CHECK(a.joins[0].right_key_is_primary_key);
  CHECK(a.result_type == SourceType::Stream);
  REQUIRE(a.projection.size() == 2);
  CHECK(a.projection[1].name == "NAME");
  CHECK(type_name(a.projection[1].type) == "STRING");
}

TEST_CASE("analyzer: ON sides are normalised to (earlier source, new source)", "[sql][analyzer]") {
  Catalog c = catalog_with(kSources);
  auto a = analyze(c, "SELECT * FROM orders JOIN users ON users.id = orders.user_id");
  CHECK(to_sql(*a.joins[0].left_key) == "ORDERS.USER_ID");
  CHECK(to_sql(*a.joins[0].right_key) == "USERS.ID");
  // SELECT * over a join names columns ALIAS_COLUMN.
  REQUIRE(a.projection.size() == 5);
  CHECK(a.projection[0].name == "ORDERS_ID");
  CHECK(a.projection[4].name == "USERS_NAME");
}

TEST_CASE("analyzer: aggregation records its calls and keys", "[sql][analyzer]") {
  Catalog c = catalog_with(kSources);
  auto a = analyze(c,
                   "SELECT user_id, COUNT(*) AS n, SUM(amount) * 2, COUNT(*) + 1 FROM orders "
                   "WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY user_id HAVING SUM(amount) > 10");
  CHECK(a.aggregate);
  CHECK(a.windowed);
  CHECK(a.result_type == SourceType::Table);
  REQUIRE(a.aggregate_calls.size() == 2);  // COUNT(*), SUM(AMOUNT): each once
  CHECK(to_sql(*a.aggregate_calls[0]) == "COUNT(*)");
  CHECK(to_sql(*a.aggregate_calls[1]) == "SUM(AMOUNT)");
  REQUIRE(a.projection.size() == 4);
  CHECK(a.projection[0].is_key);
  CHECK_FALSE(a.projection[1].is_key);
  CHECK(a.projection[2].name == "KSQL_COL_0");
  CHECK(type_name(a.projection[2].type) == "DECIMAL(21, 2)");
  CHECK(a.projection[3].name == "KSQL_COL_1");
  CHECK(type_name(a.projection[3].type) == "BIGINT");
}

TEST_CASE("analyzer: CREATE ... AS SELECT describes the new source", "[sql][analyzer]") {
  Catalog c = catalog_with(kSources);
  auto s = parse_statement(
      "CREATE TABLE per_user WITH (value_format='DELIMITED') AS SELECT user_id, COUNT(*) AS n FROM "
      "orders GROUP BY user_id");
  REQUIRE(s.ok());
  const auto& ctas = std::get<CreateAsSelect>(s->body);
  auto a = analyze_query(*ctas.query, c);
  REQUIRE(a.ok());
  auto info = describe_create_as(ctas, a.value(), s->text);
  REQUIRE(info.ok());
  CHECK(info->name == "PER_USER");
  CHECK(info->topic == "PER_USER");
  CHECK(info->value_format == "DELIMITED");
  CHECK(info->key_format == "KAFKA");
  CHECK(info->partitions == 4);
  REQUIRE(info->schema.columns.size() == 2);
  CHECK(info->schema.columns[0].is_key);
  CHECK(info->schema.columns[1].name == "N");

  auto csas = parse_statement(
      "CREATE STREAM x AS SELECT user_id, COUNT(*) AS n FROM orders GROUP BY user_id");
  auto a2 = analyze_query(*std::get<CreateAsSelect>(csas->body).query, c);
  REQUIRE(a2.ok());
  auto wrong = describe_create_as(std::get<CreateAsSelect>(csas->body), a2.value(), csas->text);
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().message.find("Your SELECT query produces a TABLE") != std::string::npos);
}

TEST_CASE("catalog: create, replace, drop", "[sql][analyzer]") {
  Catalog c = catalog_with(kSources);
  CHECK(c.list(SourceType::Stream).size() == 2);
  CHECK(c.list(SourceType::Table).size() == 2);
  const SourceInfo* users = c.find("USERS");
  REQUIRE(users);
  CHECK(users->key_format == "JSON");
  CHECK(users->value_format == "JSON");
  auto again = parse_statement(
      "CREATE TABLE users (id INT PRIMARY KEY, x INT) WITH (kafka_topic='u', format='JSON')");
  auto dup = c.apply(again.value());
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().message.find("already exists") != std::string::npos);
  auto replace = parse_statement(
      "CREATE OR REPLACE TABLE users (id INT PRIMARY KEY, x INT) WITH (kafka_topic='u', "
      "format='JSON')");
  REQUIRE(c.apply(replace.value()).ok());
  CHECK(c.find("USERS")->schema.columns[1].name == "X");
  auto drop_wrong = c.apply(parse_statement("DROP STREAM users").value());
  REQUIRE_FALSE(drop_wrong.ok());
  CHECK(drop_wrong.error().message.find("Incompatible data source type is TABLE") !=
        std::string::npos);
  REQUIRE(c.apply(parse_statement("DROP TABLE users").value()).ok());
  CHECK(c.find("USERS") == nullptr);
  CHECK(c.apply(parse_statement("DROP TABLE IF EXISTS users").value()).ok());
  auto missing = c.resolve("users", SourceLocation{2, 13});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message == "line 2:13: Source `users` does not exist.");
}

}  // namespace rivulet::sql
