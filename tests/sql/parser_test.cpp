#include "sql/parser.hpp"

#include <catch2/catch.hpp>

namespace rivulet::sql {
namespace {

ExprPtr expr(const std::string& s) {
  auto e = parse_expression(s);
  if (!e.ok()) FAIL(e.error().message);
  return e.value();
}

Statement stmt(const std::string& s) {
  auto r = parse_statement(s);
  if (!r.ok()) FAIL(r.error().message);
  return r.value();
}

}  // namespace

TEST_CASE("parser: literals are typed as ksqlDB types them", "[sql][parser]") {
  CHECK(expr("1")->value.kind() == TypeKind::Int);
  CHECK(expr("2147483647")->value.kind() == TypeKind::Int);
  CHECK(expr("2147483648")->value.kind() == TypeKind::BigInt);
  CHECK(expr("-2147483648")->value.kind() == TypeKind::Int);
  CHECK(expr("-2147483649")->value.kind() == TypeKind::BigInt);
  CHECK(expr("-9223372036854775808")->value.as_int64() == INT64_MIN);
  auto d = expr("2.345");
  REQUIRE(d->value.kind() == TypeKind::Decimal);
  CHECK(d->value.as_decimal().precision() == 4);
  CHECK(d->value.as_decimal().scale() == 3);
  auto small = expr("0.05");
  CHECK(small->value.as_decimal().precision() == 2);
  CHECK(small->value.as_decimal().scale() == 2);
  CHECK(expr("1e0")->value.kind() == TypeKind::Double);
  CHECK(expr("'x'")->value.kind() == TypeKind::String);
  CHECK(expr("true")->value.as_bool());
  CHECK(expr("null")->value.is_null());
}

TEST_CASE("parser: expression tree shape and locations", "[sql][parser]") {
  auto e = expr("a + b * 2 > c AND NOT d");
  REQUIRE(e->kind == ExprKind::Binary);
  CHECK(e->binary_op == BinaryOp::And);
  CHECK(e->loc == SourceLocation{1, 15});
  const Expr& cmp = *e->args[0];
  CHECK(cmp.binary_op == BinaryOp::Gt);
  const Expr& add = *cmp.args[0];
  CHECK(add.binary_op == BinaryOp::Add);
  CHECK(add.args[1]->binary_op == BinaryOp::Multiply);
  CHECK(add.args[0]->kind == ExprKind::Column);
  CHECK(add.args[0]->name == "A");
  CHECK(add.args[0]->loc == SourceLocation{1, 1});
  const Expr& n = *e->args[1];
  CHECK(n.kind == ExprKind::Unary);
  CHECK(n.unary_op == UnaryOp::Not);
  CHECK(e->height == 5);
}

TEST_CASE("parser: qualified columns, dereference, subscripts", "[sql][parser]") {
  auto e = expr("t.col->f[2]");
  REQUIRE(e->kind == ExprKind::Subscript);
  const Expr& d = *e->args[0];
  REQUIRE(d.kind == ExprKind::Dereference);
  CHECK(d.name == "F");
  CHECK(d.args[0]->kind == ExprKind::Column);
  CHECK(d.args[0]->qualifier == "T");
  CHECK(d.args[0]->name == "COL");
}

TEST_CASE("parser: CASE layout", "[sql][parser]") {
  auto simple = expr("CASE x WHEN 1 THEN 'a' WHEN 2 THEN 'b' ELSE 'c' END");
  CHECK(simple->has_operand);
  CHECK(simple->has_else);
  CHECK(simple->case_when_count() == 2);
  CHECK(simple->case_operand()->name == "X");
  CHECK(simple->case_then(1)->value.as_string() == "b");
  CHECK(simple->case_else()->value.as_string() == "c");
  auto searched = expr("CASE WHEN a THEN 1 END");
  CHECK_FALSE(searched->has_operand);
  CHECK_FALSE(searched->has_else);
  CHECK(searched->case_when_count() == 1);
  CHECK(searched->case_else() == nullptr);
}

TEST_CASE("parser: predicates keep their negation", "[sql][parser]") {
  CHECK(expr("a NOT BETWEEN 1 AND 2")->negated);
  CHECK(expr("a NOT IN (1)")->negated);
  CHECK(expr("a NOT LIKE 'x'")->negated);
  CHECK(expr("a IS NOT NULL")->negated);
  CHECK(expr("a IS NOT DISTINCT FROM b")->negated);
  CHECK_FALSE(expr("a IS DISTINCT FROM b")->negated);
  auto like = expr("a LIKE 'x!_' ESCAPE '!'");
  REQUIRE(like->escape.has_value());
  CHECK(*like->escape == '!');
}

TEST_CASE("parser: subqueries", "[sql][parser]") {
  auto in = expr("id IN (SELECT id FROM vip WHERE level > 1)");
  REQUIRE(in->kind == ExprKind::InSubquery);
  REQUIRE(in->subquery);
  CHECK(in->subquery->from.name == "VIP");
  auto ex = expr("NOT EXISTS (SELECT 1 FROM t WHERE t.k = o.k)");
  REQUIRE(ex->kind == ExprKind::Unary);
  CHECK(ex->args[0]->kind == ExprKind::Exists);
  auto scalar = expr("price > (SELECT max_price FROM limits)");
  CHECK(scalar->args[1]->kind == ExprKind::ScalarSubquery);
}

TEST_CASE("parser: statements carry their text and location", "[sql][parser]") {
  auto all = parse_statements(
      "  SHOW STREAMS ;\n\nCREATE STREAM s (a INT) WITH (kafka_topic='s', value_format='JSON');");
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].text == "SHOW STREAMS");
  CHECK((*all)[0].loc == SourceLocation{1, 3});
  CHECK((*all)[1].loc == SourceLocation{3, 1});
  const auto& c = std::get<CreateSource>((*all)[1].body);
  CHECK(c.name == "S");
  CHECK(c.name_loc == SourceLocation{3, 15});
  REQUIRE(c.elements.size() == 1);
  CHECK(c.elements[0].type->kind == TypeKind::Int);
  CHECK(c.properties.text("KAFKA_TOPIC") == std::optional<std::string>("s"));
  CHECK(c.properties.find("PARTITIONS") == nullptr);
}

TEST_CASE("parser: queries record every clause", "[sql][parser]") {
  auto s = stmt(
      "SELECT a, COUNT(*) AS n FROM s x JOIN t ON x.a = t.a "
      "WINDOW HOPPING (SIZE 1 MINUTE, ADVANCE BY 10 SECONDS, RETENTION 1 DAY, GRACE PERIOD 5 "
      "SECONDS) "
      "WHERE a > 0 GROUP BY a HAVING COUNT(*) > 1 EMIT CHANGES LIMIT 5");
  const Query& q = *std::get<SelectStatement>(s.body).query;
  CHECK(q.select.size() == 2);
  CHECK(q.select[1].alias == "N");
  CHECK(q.from.name == "S");
  CHECK(q.from.qualifier() == "X");
  REQUIRE(q.joins.size() == 1);
  CHECK(q.joins[0].type == JoinType::Inner);
  CHECK(q.joins[0].right.qualifier() == "T");
  REQUIRE(q.window.has_value());
  CHECK(q.window->type == WindowType::Hopping);
  CHECK(q.window->size_ms == 60000);
  CHECK(q.window->advance_ms == 10000);
  CHECK(q.window->retention_ms == std::optional<int64_t>(86400000));
  CHECK(q.window->grace_ms == std::optional<int64_t>(5000));
  CHECK(q.where);
  CHECK(q.group_by.size() == 1);
  CHECK(q.having);
  CHECK(q.emit == EmitMode::Changes);
  CHECK(q.limit == std::optional<int64_t>(5));
}

TEST_CASE("parser: types", "[sql][parser]") {
  auto t = parse_type("STRUCT<a ARRAY<MAP<STRING, DECIMAL(4, 2)>>, `b` BIGINT>");
  REQUIRE(t.ok());
  REQUIRE(t.value()->kind == TypeKind::Struct);
  CHECK(t.value()->fields[0].name == "A");
  CHECK(t.value()->fields[1].name == "b");
  const auto& map = t.value()->fields[0].type->element;
  CHECK(map->kind == TypeKind::Map);
  CHECK(map->element->precision == 4);
  CHECK(parse_type("VARCHAR")->get()->kind == TypeKind::String);
  CHECK(parse_type("INTEGER")->get()->kind == TypeKind::Int);
  CHECK(parse_type("DATE")->get()->kind == TypeKind::Date);
  CHECK(parse_type("TIME")->get()->kind == TypeKind::Time);
  CHECK_FALSE(parse_type("DATETIME").ok());
  CHECK_FALSE(parse_type("INT INT").ok());
}

TEST_CASE("parser: nesting is bounded, not a stack overflow", "[sql][parser]") {
  std::string deep(5000, '(');
  deep += "1";
  deep += std::string(5000, ')');
  auto e = parse_expression(deep);
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().message.find("nesting too deep") != std::string::npos);

  std::string nots;
  for (int i = 0; i < 5000; ++i) nots += "NOT ";
  CHECK_FALSE(parse_expression(nots + "a").ok());

  std::string minus;
  for (int i = 0; i < 5000; ++i) minus += "- ";
  auto m = parse_expression(minus + "a");
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().message.find("nesting too deep") != std::string::npos);

  std::string chain = "a";
  for (int i = 0; i < 5000; ++i) chain += " + a";
  auto c = parse_expression(chain);
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().message.find("too deeply nested") != std::string::npos);

  std::string types;
  for (int i = 0; i < 5000; ++i) types += "ARRAY<";
  types += "INT";
  for (int i = 0; i < 5000; ++i) types += ">";
  CHECK_FALSE(parse_type(types).ok());

  std::string queries = "SELECT * FROM s WHERE a IN (";
  for (int i = 0; i < 2000; ++i) queries += "SELECT a FROM s WHERE a IN (";
  CHECK_FALSE(parse_statement(queries).ok());

  // Within the bounds, deep nesting parses.
  std::string ok(50, '(');
  ok += "1";
  ok += std::string(50, ')');
  CHECK(parse_expression(ok).ok());
  std::string long_chain = "a";
  for (int i = 0; i < 150; ++i) long_chain += " + a";
  CHECK(parse_expression(long_chain).ok());
  // Subqueries count with the height of what they contain.
  std::string sub = "x IN (SELECT a FROM t WHERE " + long_chain + " > 1)";
  auto in = parse_expression(sub);
  REQUIRE(in.ok());
  CHECK(in.value()->height > 150);
}

TEST_CASE("parser: same_expr ignores locations and spots differences", "[sql][parser]") {
  CHECK(same_expr(*expr("a + 1"), *expr(" a+1 ")));
  CHECK_FALSE(same_expr(*expr("a + 1"), *expr("1 + a")));
  CHECK_FALSE(same_expr(*expr("1"), *expr("1.0")));
  CHECK_FALSE(same_expr(*expr("f(a)"), *expr("g(a)")));
  CHECK_FALSE(same_expr(*expr("s.a"), *expr("t.a")));
  CHECK(same_expr(*expr("SUBSTRING(x, 0, 2)"), *expr("substring(X, 0, 2)")));
}

}  // namespace rivulet::sql

namespace rivulet::sql {

// Inputs the fuzzer found; each once broke the print/parse round trip.
TEST_CASE("parser: canonical text reads back (fuzzer regressions)", "[sql][parser]") {
  const char* inputs[] = {
      // A quoted function name that is not a plain identifier.
      "SELECT -214748364HOUR8, 9223Qu8`dq\"3oted`, \"\"\"\"\"\"\"\"\"\"\"(c OR dND "
      "\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"(c OR d)\"dq\" FROM S;",
      // A minus before a number literal that is not folded into it ("- -0":
      // minus applied to the literal 0) printed as "-0", which reads back as
      // the literal 0.
      "SELECT NAME ||- -0, - -1.5, -(2), - - 3 FROM S;",
  };
  std::vector<std::string> all(std::begin(inputs), std::end(inputs));
  // Tall trees print with a parenthesis per level; that text must parse too.
  std::string chain = "SELECT -2";
  for (int i = 0; i < 190; ++i) chain += " + +NULL";
  all.push_back(chain + " FROM S");
  std::string nots = "SELECT ";
  for (int i = 0; i < 190; ++i) nots += "NOT ";
  all.push_back(nots + "a FROM S");
  std::string cases = "SELECT ";
  for (int i = 0; i < 60; ++i) cases += "CASE WHEN a IN (1, ";
  cases += "2";
  for (int i = 0; i < 60; ++i) cases += ") THEN 1 END";
  all.push_back(cases + " FROM S");
  for (const std::string& in : all) {
    INFO(in);
    auto s = parse_statement(in);
    REQUIRE(s.ok());
    std::string canonical = to_sql(s.value());
    INFO(canonical);
    auto again = parse_statement(canonical);
    REQUIRE(again.ok());
    CHECK(to_sql(again.value()) == canonical);
  }
}

}  // namespace rivulet::sql
