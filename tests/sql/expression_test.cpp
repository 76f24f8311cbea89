#include "sql/expression.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <stdexcept>
#include <thread>

#include "sql/parser.hpp"
#include "sql/types.hpp"
#include "sql_test_util.hpp"

namespace rivulet::sql {
namespace {

using testing::render;
using testing::schema_of;

CompiledExpr compile(const Scope& scope, const std::string& text) {
  auto e = parse_expression(text);
  if (!e.ok()) FAIL(e.error().message);
  auto c = ExpressionCompiler(scope).compile(e.value());
  if (!c.ok()) FAIL(c.error().message);
  return c.value();
}

Error compile_error(const Scope& scope, const std::string& text) {
  auto e = parse_expression(text);
  REQUIRE(e.ok());
  auto c = ExpressionCompiler(scope).compile(e.value());
  REQUIRE_FALSE(c.ok());
  return c.error();
}

}  // namespace

TEST_CASE("expression: flat rows resolve columns to positions", "[sql][expression]") {
  Scope scope = Scope::of_row(schema_of("A INT, B STRING"));
  auto c = compile(scope, "b || CAST(a * 2 AS STRING)");
  CHECK(type_name(c.type()) == "STRING");
  std::vector<Value> row{Value::int32(21), Value::string("x")};
  CHECK(render(c.evaluate(row)) == "'x42'");
  // Columns past the end of a short row read as NULL, not out of bounds.
  std::vector<Value> short_row{Value::int32(1)};
  CHECK(c.evaluate(short_row).is_null());
}

TEST_CASE("expression: a bare row column names its position for a projection's copy",
          "[sql][expression]") {
  Scope scope = Scope::of_row(schema_of("A INT, B STRING, C DOUBLE"));
  scope.add_pseudo_columns(false);
  CHECK(compile(scope, "a").row_column() == 0);
  CHECK(compile(scope, "C").row_column() == 2);
  CHECK(compile(scope, "(b)").row_column() == 1);
  // Anything computed, cast or read from the record's metadata is evaluated.
  CHECK(compile(scope, "a + 1").row_column() == -1);
  CHECK(compile(scope, "CAST(a AS BIGINT)").row_column() == -1);
  CHECK(compile(scope, "UCASE(b)").row_column() == -1);
  CHECK(compile(scope, "ROWTIME").row_column() == -1);
  CHECK(compile(scope, "'b'").row_column() == -1);
  // A record's value columns are read from its struct, not from a row.
  Scope record = Scope::of_record(schema_of("ID INT KEY, NAME STRING"));
  CHECK(compile(record, "name").row_column() == -1);
  CHECK(compile(record, "id").row_column() == -1);
}

TEST_CASE("expression: records read key and value struct by position", "[sql][expression]") {
  Schema schema = schema_of("ID INT KEY, NAME STRING, AGE INT");
  Scope scope = Scope::of_record(schema, "P");
  scope.add_pseudo_columns(false);
  auto c = compile(scope,
                   "CAST(p.id AS STRING) + ':' + name + ':' + CAST(age + 1 AS STRING) + '@' + "
                   "CAST(ROWTIME AS STRING)");
  Value key = Value::int32(7);
  Value value =
      Value::structure({Field{"NAME", Value::string("ann")}, Field{"AGE", Value::int32(40)}});
  EvalRow row;
  row.key = &key;
  row.value = &value;
  row.rowtime = 99;
  CHECK(render(c.evaluate(row)) == "'7:ann:41@99'");
  // A tombstone (no value) reads value columns as NULL.
  EvalRow tomb;
  tomb.key = &key;
  CHECK(c.evaluate(tomb).is_null());
}

TEST_CASE("expression: several key columns come from a struct key", "[sql][expression]") {
  Scope scope = Scope::of_record(schema_of("K1 INT KEY, K2 STRING KEY, V INT"));
  auto c = compile(scope, "K2 + CAST(K1 AS STRING)");
  Value key = Value::structure({Field{"K1", Value::int32(1)}, Field{"K2", Value::string("b")}});
  Value value = Value::structure({Field{"V", Value::int32(0)}});
  EvalRow row;
  row.key = &key;
  row.value = &value;
  CHECK(render(c.evaluate(row)) == "'b1'");
  CHECK(scope.columns()[2].slot.origin == Slot::Origin::ValueField);
}

TEST_CASE("expression: names resolve exactly, then case-insensitively, ambiguity is an error",
          "[sql][expression]") {
  Scope scope;
  scope.add(ScopeColumn{"L", "ID", DataType::of(TypeKind::Int), Slot{Slot::Origin::Row, 0}});
  scope.add(ScopeColumn{"R", "ID", DataType::of(TypeKind::Int), Slot{Slot::Origin::Row, 1}});
  scope.add(ScopeColumn{"R", "name", DataType::of(TypeKind::String), Slot{Slot::Origin::Row, 2}});
  std::vector<Value> row{Value::int32(1), Value::int32(2), Value::string("n")};
  CHECK(render(compile(scope, "r.id").evaluate(row)) == "2");
  CHECK(render(compile(scope, "NAME").evaluate(row)) == "'n'");
  CHECK(render(compile(scope, "`name`").evaluate(row)) == "'n'");
  Error amb = compile_error(scope, "id + 1");
  CHECK(amb.message == "line 1:1: Column 'ID' is ambiguous. Could be L.ID or R.ID.");
  Error unknown = compile_error(scope, "x.id");
  CHECK(unknown.message == "line 1:1: Column 'X.ID' cannot be resolved.");
}

TEST_CASE("expression: bound expressions read their slot", "[sql][expression]") {
  Scope scope = Scope::of_row(schema_of("A INT, B INT"));
  // As the planner binds GROUP BY keys and aggregate results.
  scope.bind(parse_expression("SUM(a)").value(), DataType::of(TypeKind::Int),
             Slot{Slot::Origin::Row, 2});
  scope.bind(parse_expression("a + b").value(), DataType::of(TypeKind::Int),
             Slot{Slot::Origin::Row, 3});
  auto c = compile(scope, "(A + B) * 10 + sum(a)");
  std::vector<Value> row{Value::int32(1), Value::int32(1), Value::int32(5), Value::int32(7)};
  CHECK(render(c.evaluate(row)) == "75");
}

TEST_CASE("expression: external bindings call back (subqueries, lookups)", "[sql][expression]") {
  Scope scope = Scope::of_row(schema_of("PRICE INT"));
  auto sub = parse_expression("(SELECT max_price FROM limits)").value();
  scope.bind_external(sub, DataType::of(TypeKind::Int),
                      [](const EvalRow&) { return Value::int32(100); });
  auto c = compile(scope, "price > (SELECT max_price FROM limits)");
  std::vector<Value> cheap{Value::int32(50)}, dear{Value::int32(150)};
  CHECK_FALSE(c.test(EvalRow::of(cheap)));
  CHECK(c.test(EvalRow::of(dear)));
  // Unbound subqueries are the planner's business.
  Scope bare = Scope::of_row(schema_of("PRICE INT"));
  CHECK(compile_error(bare, "price > (SELECT m FROM t)").message.find("subqueries outside WHERE") !=
        std::string::npos);
  // A throwing callback yields NULL and a diagnostic, never an exception.
  Scope throwing = Scope::of_row(schema_of("PRICE INT"));
  throwing.bind_external(sub, DataType::of(TypeKind::Int),
                         [](const EvalRow&) -> Value { throw std::runtime_error("table gone"); });
  auto t = compile(throwing, "(SELECT max_price FROM limits)");
  EvalDiagnostics diag;
  EvalRow row = EvalRow::of(cheap);
  row.diagnostics = &diag;
  CHECK(t.evaluate(row).is_null());
  CHECK(diag.count == 1);
  CHECK(diag.first == "table gone");
}

TEST_CASE("expression: runtime problems are counted in diagnostics", "[sql][expression]") {
  Scope scope = Scope::of_row(schema_of("A INT, S STRING"));
  auto c = compile(scope, "a / 0");
  auto cast = compile(scope, "CAST(s AS INT)");
  std::vector<Value> values{Value::int32(1), Value::string("nope")};
  EvalDiagnostics diag;
  EvalRow row = EvalRow::of(values);
  row.diagnostics = &diag;
  CHECK(c.evaluate(row).is_null());
  CHECK(cast.evaluate(row).is_null());
  CHECK(diag.count == 2);
  CHECK(diag.first == "division by zero");
}

TEST_CASE("expression: constants fold at compile time", "[sql][expression]") {
  Scope scope = Scope::of_row(schema_of("A INT"));
  CHECK(compile(scope, "1 + 2 * 3").is_constant());
  CHECK(compile(scope, "UCASE('x') || 'y'").is_constant());
  CHECK_FALSE(compile(scope, "a + 1").is_constant());
  CHECK_FALSE(compile(scope, "RANDOM()").is_constant());
}

TEST_CASE("expression: aggregates type-check but do not evaluate unbound", "[sql][expression]") {
  Scope scope = Scope::of_row(schema_of("A INT, D DOUBLE"));
  ExpressionCompiler compiler(scope);
  auto t = compiler.infer_type(parse_expression("SUM(a) + AVG(d)").value());
  REQUIRE(t.ok());
  CHECK(type_name(t.value()) == "DOUBLE");
  auto c = compiler.compile(parse_expression("SUM(a)").value());
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().message.find("cannot be evaluated here") != std::string::npos);
  auto nested = compiler.infer_type(parse_expression("SUM(COUNT(a))").value());
  REQUIRE_FALSE(nested.ok());
  CHECK(nested.error().message.find("Aggregate functions can not be nested: SUM(COUNT(A))") !=
        std::string::npos);
  CompileOptions no_aggs;
  no_aggs.allow_aggregates = false;
  auto where = ExpressionCompiler(scope, FunctionRegistry::builtin(), no_aggs)
                   .infer_type(parse_expression("COUNT(*) > 1").value());
  REQUIRE_FALSE(where.ok());
}

TEST_CASE("expression: a compiled expression is shared by threads", "[sql][expression]") {
  Scope scope = Scope::of_row(schema_of("A INT, S STRING"));
  auto c =
      compile(scope, "CASE WHEN a % 2 = 0 THEN UCASE(s) ELSE CONCAT(s, CAST(a AS STRING)) END");
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) {
        std::vector<Value> row{Value::int32(i + t), Value::string("x")};
        Value v = c.evaluate(row);
        std::string want = (i + t) % 2 == 0 ? "X" : "x" + std::to_string(i + t);
        if (v.kind() != TypeKind::String || v.as_string() != want) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(wrong == 0);
}

}  // namespace rivulet::sql

namespace rivulet::sql {

// A decoder may hand over a value of another kind than the column's type;
// evaluation then gives NULL (or FALSE for predicates), never an exception.
TEST_CASE("expression: values of the wrong kind do not throw", "[sql][expression]") {
  Scope scope = Scope::of_row(testing::schema_of(
      "S STRING, I INT, D DECIMAL(4, 2), ARR ARRAY<INT>, M MAP<STRING, INT>, ST STRUCT<A INT>"));
  std::vector<Value> wrong{Value::int32(1),      Value::string("x"), Value::float64(1.5),
                           Value::string("arr"), Value::int32(2),    Value::boolean(true)};
  const char* exprs[] = {"UCASE(s)",
                         "s || 'x'",
                         "s < 'b'",
                         "i + 1",
                         "-i",
                         "d * 2",
                         "arr[1]",
                         "m['k']",
                         "st->a",
                         "LEN(s)",
                         "SUBSTRING(s, 1)",
                         "CAST(i AS STRING)",
                         "FILTER(arr, x => x > 1)",
                         "ARRAY_LENGTH(arr)",
                         "s LIKE 'x%'",
                         "CASE WHEN i > 0 THEN s END",
                         "ABS(i)",
                         "ROUND(d, 1)"};
  for (const char* text : exprs) {
    INFO(text);
    auto c = ExpressionCompiler(scope).compile(parse_expression(text).value());
    REQUIRE(c.ok());
    EvalDiagnostics diag;
    EvalRow row = EvalRow::of(wrong);
    row.diagnostics = &diag;
    Value v;
    REQUIRE_NOTHROW(v = c->evaluate(row));
  }
}

}  // namespace rivulet::sql
