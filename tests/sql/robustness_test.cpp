// No input crashes the lexer, parser, analyzer or expression compiler:
// random bytes, random token soup, and mutations of real statements all end
// in a value or an error. (The libFuzzer target in sql/fuzz/ does the same
// with coverage guidance; this is the deterministic smoke version that runs
// in every build.)
#include <catch2/catch.hpp>
#include <random>

#include "sql/analyzer.hpp"
#include "sql/expression.hpp"
#include "sql/parser.hpp"

namespace rivulet::sql {
namespace {

const char* kSeeds[] = {
    "CREATE STREAM s (id INT KEY, name STRING, tags ARRAY<STRING>, m MAP<STRING, DOUBLE>, "
    "st STRUCT<a INT, b DECIMAL(4, 2)>) WITH (kafka_topic='s', value_format='JSON');",
    "CREATE TABLE t (id INT PRIMARY KEY, v BIGINT) WITH (kafka_topic='t', format='JSON');",
    "SELECT id, CASE WHEN name LIKE 'a%' THEN UCASE(name) ELSE 'x' END AS c, tags[1], m['k'], "
    "st->a * 2 FROM s WHERE id BETWEEN 1 AND 10 AND name IS NOT NULL EMIT CHANGES;",
    "SELECT s.id, COUNT(*), SUM(t.v) FROM s JOIN t ON s.id = t.id WINDOW TUMBLING (SIZE 1 "
    "MINUTE) GROUP BY s.id HAVING COUNT(*) > 1;",
    "SELECT * FROM s WHERE id IN (SELECT id FROM t WHERE v > 1) OR EXISTS (SELECT 1 FROM t);",
    "SELECT FILTER(tags, x => LEN(x) > 2), TRANSFORM(m, (k, v) => k, (k, v) => v + 1) FROM s;",
    "INSERT INTO s SELECT * FROM s; DROP TABLE IF EXISTS t DELETE TOPIC; SET 'a'='b';",
    "SELECT CAST(st AS STRING), -id, NOT (id = 1), 1.5e3, 0.05, 'it''s' FROM s;",
};

const char* kTokens[] = {
    "SELECT", "FROM",     "WHERE",   "(",       ")",       "[",         "]",     ",",     "'x'",
    "1",      "1.5",      "1e3",     "a",       "s",       "t",         "+",     "-",     "*",
    "/",      "=",        "<",       "AND",     "OR",      "NOT",       "CASE",  "WHEN",  "THEN",
    "END",    "CAST",     "AS",      "INT",     "ARRAY",   "<",         ">",     "MAP",   "STRUCT",
    ":=",     "->",       "=>",      "IN",      "EXISTS",  "JOIN",      "ON",    "GROUP", "BY",
    "WINDOW", "TUMBLING", "SIZE",    "SECONDS", ";",       "NULL",      "IS",    "LIKE",  "BETWEEN",
    "COUNT",  "*",        "CREATE",  "STREAM",  "TABLE",   "WITH",      "`q`",   "--",    "/*",
    "*/",     "\n",       "DECIMAL", "EMIT",    "CHANGES", "PARTITION", "HAVING"};

// Parses, then runs what parsed through the catalog, the analyzer and the
// expression compiler; everything must return.
void exercise(const std::string& input) {
  auto stmts = parse_statements(input);
  if (!stmts.ok()) {
    CHECK_FALSE(stmts.error().message.empty());
    return;
  }
  Catalog catalog;
  (void)catalog.apply(parse_statement(kSeeds[0]).value());
  (void)catalog.apply(parse_statement(kSeeds[1]).value());
  for (const auto& s : stmts.value()) {
    (void)to_sql(s);
    if (std::holds_alternative<CreateSource>(s.body) ||
        std::holds_alternative<DropSource>(s.body)) {
      (void)catalog.apply(s);
    } else if (const auto* q = std::get_if<SelectStatement>(&s.body)) {
      auto a = analyze_query(*q->query, catalog);
      if (a.ok()) {
        for (const auto& col : a->projection) {
          auto c = ExpressionCompiler(a->scope).compile(col.expr);
          if (c.ok()) {
            std::vector<Value> row(16);
            (void)c->evaluate(row);
          }
        }
      }
    }
  }
}

}  // namespace

TEST_CASE("robustness: random bytes", "[sql][robustness]") {
  std::mt19937 rng(42);
  for (int i = 0; i < 3000; ++i) {
    std::string s(rng() % 64, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    exercise(s);
  }
}

TEST_CASE("robustness: token soup", "[sql][robustness]") {
  std::mt19937 rng(7);
  const size_t n = sizeof(kTokens) / sizeof(kTokens[0]);
  for (int i = 0; i < 3000; ++i) {
    std::string s;
    size_t len = rng() % 40;
    for (size_t k = 0; k < len; ++k) s += std::string(kTokens[rng() % n]) + " ";
    exercise(s);
  }
}

TEST_CASE("robustness: mutated statements", "[sql][robustness]") {
  std::mt19937 rng(1234);
  const size_t n = sizeof(kSeeds) / sizeof(kSeeds[0]);
  for (size_t k = 0; k < n; ++k) exercise(kSeeds[k]);
  for (int i = 0; i < 4000; ++i) {
    std::string s = kSeeds[rng() % n];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      size_t at = rng() % s.size();
      switch (rng() % 4) {
        case 0:
          s.erase(at, 1 + rng() % 8);
          break;
        case 1:
          s.insert(at, kTokens[rng() % (sizeof(kTokens) / sizeof(kTokens[0]))]);
          break;
        case 2:
          s[at] = static_cast<char>(rng() % 128);
          break;
        case 3:
          s.insert(at, s.substr(rng() % s.size(), rng() % 16));
          break;
      }
    }
    exercise(s);
  }
}

}  // namespace rivulet::sql
