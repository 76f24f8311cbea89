// Column use (sql/column_use.hpp): which value columns of a stream a query
// may read. Every clause counts, and so do subqueries and lambdas; what is
// left out is decoded as NULL, so each case here that wrongly said
// "unread" would turn a result NULL.
#include "sql/column_use.hpp"

#include <catch2/catch.hpp>

#include "sql/parser.hpp"
#include "sql_test_util.hpp"

namespace rivulet::sql {
namespace {

using testing::catalog_with;

const char* kSources =
    "CREATE STREAM orders (id BIGINT KEY, user_id INT, amount DECIMAL(10, 2), note STRING) "
    "  WITH (kafka_topic='orders', value_format='JSON');"
    "CREATE STREAM events (id BIGINT KEY, xs ARRAY<INT>, k INT, ts BIGINT, other STRING) "
    "  WITH (kafka_topic='events', value_format='JSON', timestamp='ts');"
    "CREATE TABLE users (id INT PRIMARY KEY, name STRING) WITH (kafka_topic='users', "
    "format='JSON');"
    "CREATE STREAM clicks (id INT KEY, name STRING, n INT) "
    "  WITH (kafka_topic='clicks', value_format='JSON');";

// The value columns of `source` that `sql` may read, as a string of 0/1.
std::string reads(const std::string& sql, const char* source) {
  static const Catalog c = catalog_with(kSources);
  auto s = parse_statement(sql);
  if (!s.ok()) FAIL(s.error().message);
  const Query& q = *std::get<SelectStatement>(s->body).query;
  auto a = analyze_query(q, c);
  if (!a.ok()) FAIL(a.error().message);
  std::string out;
  const SourceInfo& src = *c.find(source);
  for (bool b : value_columns_read(names_for(column_names(q, *a), *a, src), src))
    out += b ? '1' : '0';
  return out;
}

}  // namespace

TEST_CASE("column use: each clause marks what it mentions", "[sql][column_use]") {
  // orders' value columns: USER_ID, AMOUNT, NOTE.
  CHECK(reads("SELECT id, user_id FROM orders EMIT CHANGES;", "ORDERS") == "100");
  CHECK(reads("SELECT id FROM orders WHERE amount > 1 EMIT CHANGES;", "ORDERS") == "010");
  CHECK(reads("SELECT user_id, COUNT(*) FROM orders GROUP BY user_id "
              "HAVING SUM(amount) > 2 EMIT CHANGES;", "ORDERS") == "110");
  CHECK(reads("SELECT id FROM orders PARTITION BY note EMIT CHANGES;", "ORDERS") == "001");
  CHECK(reads("SELECT o.id, u.name FROM orders o JOIN users u ON o.user_id = u.id "
              "EMIT CHANGES;", "ORDERS") == "100");
  CHECK(reads("SELECT id, CASE WHEN note IS NULL THEN 0 ELSE amount END AS x FROM orders "
              "EMIT CHANGES;", "ORDERS") == "011");
  CHECK(reads("SELECT id FROM orders EMIT CHANGES;", "ORDERS") == "000");
}

TEST_CASE("column use: stars, subqueries, lambdas and the timestamp column read more",
          "[sql][column_use]") {
  CHECK(reads("SELECT * FROM orders EMIT CHANGES;", "ORDERS") == "111");
  CHECK(reads("SELECT o.* FROM orders o JOIN users u ON o.user_id = u.id EMIT CHANGES;",
              "ORDERS") == "111");
  CHECK(reads("SELECT id FROM orders WHERE user_id IN (SELECT id FROM users WHERE "
              "name = note) EMIT CHANGES;", "ORDERS") == "101");
  // events' value columns: XS, K, TS, OTHER. TS is the source's TIMESTAMP;
  // the lambda's parameter K is also a column name, which keeps K.
  CHECK(reads("SELECT id, TRANSFORM(xs, k => k + 1) AS ys FROM events EMIT CHANGES;",
              "EVENTS") == "1110");
  CHECK(reads("SELECT id FROM events EMIT CHANGES;", "EVENTS") == "0010");
  CHECK(reads("SELECT id, \"OTHER\" FROM events EMIT CHANGES;", "EVENTS") == "0011");
}

TEST_CASE("column use: a name qualified by another source reads none of this one's columns",
          "[sql][column_use]") {
  // clicks' value columns: NAME, N; users has a NAME too.
  CHECK(reads("SELECT c.id, u.name FROM clicks c JOIN users u ON c.id = u.id EMIT CHANGES;",
              "CLICKS") == "00");
  CHECK(reads("SELECT c.id, u.name AS un, c.name FROM clicks c JOIN users u ON c.id = u.id "
              "EMIT CHANGES;",
              "CLICKS") == "10");
  // Qualified by the source's name when it has no alias, in any case.
  CHECK(reads("SELECT clicks.id, users.name FROM clicks JOIN users ON clicks.id = users.id "
              "WHERE Clicks.n > 1 EMIT CHANGES;",
              "CLICKS") == "01");
  CHECK(reads("SELECT u.name, COUNT(*) FROM clicks c JOIN users u ON c.id = u.id "
              "GROUP BY u.name EMIT CHANGES;",
              "CLICKS") == "00");
  // One stream under two aliases: a name qualified by either is read.
  CHECK(reads("SELECT a.id, b.n FROM clicks a JOIN clicks b WITHIN 1 MINUTE ON a.id = b.id "
              "EMIT CHANGES;",
              "CLICKS") == "01");
  // The other source's columns by source.*: none of this one's.
  CHECK(reads("SELECT c.id, u.* FROM clicks c JOIN users u ON c.id = u.id EMIT CHANGES;",
              "CLICKS") == "00");
  CHECK(reads("SELECT c.*, u.name AS un FROM clicks c JOIN users u ON c.id = u.id EMIT CHANGES;",
              "CLICKS") == "11");
  // Inside a subquery every name counts, whatever its qualifier.
  CHECK(reads("SELECT id FROM clicks WHERE id IN (SELECT u.id FROM users u WHERE "
              "u.name = 'x') EMIT CHANGES;",
              "CLICKS") == "10");
}

}  // namespace rivulet::sql
