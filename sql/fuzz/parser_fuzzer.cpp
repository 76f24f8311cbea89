// libFuzzer target over the SQL front-end: lexer, parser, canonical
// printer, catalog, analyzer and expression compiler/evaluator.
//
// Besides "never crashes, never hangs", it checks one property: a statement
// that parses prints (to_sql) as text that parses back to the same
// canonical text. Built only with Clang (see sql/README.md for how to run).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "sql/analyzer.hpp"
#include "sql/catalog.hpp"
#include "sql/expression.hpp"
#include "sql/parser.hpp"

namespace {

using namespace rivulet;
using namespace rivulet::sql;

const char* kSetup =
    "CREATE STREAM S (ID INT KEY, NAME STRING, AMOUNT DECIMAL(10, 2), X DOUBLE, B BOOLEAN, "
    "  TAGS ARRAY<STRING>, M MAP<STRING, INT>, ST STRUCT<A INT, B STRING>, TS TIMESTAMP) "
    "  WITH (kafka_topic='s', value_format='JSON');"
    "CREATE STREAM S2 (ID INT KEY, V BIGINT) WITH (kafka_topic='s2', value_format='JSON');"
    "CREATE TABLE T (ID INT PRIMARY KEY, V BIGINT, NAME STRING) WITH (kafka_topic='t', "
    "format='JSON');";

Catalog make_catalog() {
  Catalog c;
  auto stmts = parse_statements(kSetup);
  if (!stmts.ok()) abort();
  for (const auto& s : stmts.value())
    if (!c.apply(s).ok()) abort();
  return c;
}

std::vector<Value> sample_row() {
  return {Value::int32(1),
          Value::string("ann"),
          Value::decimal(Decimal(12345, 10, 2)),
          Value::float64(2.5),
          Value::boolean(true),
          Value::array({Value::string("a"), Value()}),
          Value::map({{"k", Value::int32(3)}}),
          Value::structure({Field{"A", Value::int32(1)}, Field{"B", Value()}}),
          Value::timestamp(1000),
          Value::int32(2),
          Value::int64(-7),
          Value::int32(2),
          Value::int64(9),
          Value::string("t")};
}

void run_query(const Query& q, const Catalog& catalog) {
  auto a = analyze_query(q, catalog);
  if (!a.ok()) return;
  std::vector<Value> row = sample_row();
  std::vector<Value> nulls(row.size());
  auto eval = [&](const ExprPtr& e) {
    if (!e) return;
    auto c = ExpressionCompiler(a->scope).compile(e);
    if (!c.ok()) return;
    EvalDiagnostics diag;
    EvalRow r = EvalRow::of(row);
    r.diagnostics = &diag;
    (void)c->evaluate(r);
    (void)c->evaluate(EvalRow::of(nulls));
  };
  for (const auto& col : a->projection) eval(col.expr);
  eval(q.where);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Catalog base = make_catalog();
  std::string text(reinterpret_cast<const char*>(data), size);
  auto stmts = parse_statements(text);
  if (!stmts.ok()) return 0;
  Catalog catalog = base;
  for (const Statement& s : stmts.value()) {
    std::string canonical = to_sql(s);
    auto again = parse_statement(canonical);
    if (!again.ok() || to_sql(again.value()) != canonical) {
      fprintf(stderr, "round trip failed:\n  input: %s\n  canonical: %s\n  %s\n", s.text.c_str(),
              canonical.c_str(),
              again.ok() ? to_sql(again.value()).c_str() : again.error().message.c_str());
      abort();
    }
    if (std::holds_alternative<CreateSource>(s.body) ||
        std::holds_alternative<DropSource>(s.body)) {
      (void)catalog.apply(s);
    } else if (const auto* q = std::get_if<SelectStatement>(&s.body)) {
      run_query(*q->query, catalog);
    } else if (const auto* c = std::get_if<CreateAsSelect>(&s.body)) {
      run_query(*c->query, catalog);
    } else if (const auto* i = std::get_if<InsertInto>(&s.body)) {
      run_query(*i->query, catalog);
    }
  }
  return 0;
}
