// Runs the SQL test files in tests/sql/data/. Each file is a list of
// records separated by blank lines (see data/README.md for the format):
// parse results, parse errors with line:column, expression values and types
// against a schema and a row, and statements run through the catalog and
// the analyzer.
#include <dirent.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>

#include "sql/analyzer.hpp"
#include "sql/catalog.hpp"
#include "sql/expression.hpp"
#include "sql/parser.hpp"
#include "sql/text.hpp"
#include "sql/types.hpp"
#include "sql_test_util.hpp"

namespace rivulet::sql::testing {
namespace {

std::string where(const Record& r) {
  return r.file + ":" + std::to_string(r.line);
}

// "error 1:15" / "error" -> location text ("1:15" or "").
std::string location_text(const std::string& message) {
  SourceLocation loc = location_of(message);
  if (!loc.known()) return "";
  return std::to_string(loc.line) + ":" + std::to_string(loc.column);
}

void expect_error(const Record& r, const std::string& spec, const Error& error,
                  const std::string& expected_text) {
  INFO(where(r) << ": " << error.message);
  std::string loc = spec;
  if (!loc.empty()) CHECK(location_text(error.message) == loc);
  if (!expected_text.empty()) CHECK(error.message.find(expected_text) != std::string::npos);
}

std::string schema_text(const std::vector<OutputColumn>& cols) {
  std::string out;
  for (const auto& c : cols)
    out += (out.empty() ? "" : ", ") + quote_identifier(c.name) + " " + type_name(c.type) +
           (c.is_key ? " KEY" : "");
  return out;
}

std::string schema_text(const Schema& s) {
  std::string out;
  for (const auto& c : s.columns)
    out += (out.empty() ? "" : ", ") + quote_identifier(c.name) + " " + type_name(c.type) +
           (c.is_key ? " KEY" : "");
  return out;
}

// The session a data file runs in.
class Session {
 public:
  // Runs one statement through the catalog / analyzer. On success returns
  // the schema text of what it produced (created source or projection).
  Expected<std::string> run(const Statement& s) {
    if (std::holds_alternative<CreateSource>(s.body) ||
        std::holds_alternative<DropSource>(s.body)) {
      auto r = catalog_.apply(s);
      if (!r.ok()) return r.error();
      if (const auto* c = std::get_if<CreateSource>(&s.body))
        return schema_text(catalog_.find(c->name)->schema);
      return r.value();
    }
    if (const auto* c = std::get_if<CreateAsSelect>(&s.body)) {
      auto a = analyze_query(*c->query, catalog_);
      if (!a.ok()) return a.error();
      auto info = describe_create_as(*c, a.value(), s.text);
      if (!info.ok()) return info.error();
      std::string text = schema_text(info->schema);
      auto added =
          catalog_.add(std::move(info.value()), c->or_replace, c->if_not_exists, c->name_loc);
      if (!added.ok()) return added.error();
      return text;
    }
    if (const auto* i = std::get_if<InsertInto>(&s.body)) {
      auto a = analyze_query(*i->query, catalog_);
      if (!a.ok()) return a.error();
      auto t = check_insert_into(*i, a.value(), catalog_);
      if (!t.ok()) return t.error();
      return schema_text(a->projection);
    }
    if (const auto* q = std::get_if<SelectStatement>(&s.body)) {
      auto a = analyze_query(*q->query, catalog_);
      if (!a.ok()) return a.error();
      return schema_text(a->projection);
    }
    return std::string("ok");
  }

  Catalog catalog_;
};

void run_parse(const Record& r, const std::string& sql) {
  INFO(where(r) << ": " << sql);
  auto s = parse_statement(sql);
  REQUIRE(s.ok());
  std::string canonical = to_sql(s.value());
  if (r.has_expected) CHECK(canonical == join(r.expected, " "));
  // The canonical form reads back as the same statement.
  auto again = parse_statement(canonical);
  INFO("canonical: " << canonical);
  REQUIRE(again.ok());
  CHECK(to_sql(again.value()) == canonical);
}

struct EvalState {
  Schema schema;
  std::vector<Value> row;
};

void run_eval_line(const Record& r, const std::string& line, const EvalState& st) {
  INFO(where(r) << ": " << line);
  size_t arrow = line.rfind(" ==> ");
  if (arrow == std::string::npos) {
    FAIL_CHECK("no ' ==> ' in the line");
    return;
  }
  std::string expr_text = line.substr(0, arrow);
  std::string expected = line.substr(arrow + 5);
  Scope scope = Scope::of_row(st.schema);
  scope.add_pseudo_columns(true);
  auto e = parse_expression(expr_text);
  Expected<CompiledExpr> c =
      e.ok() ? ExpressionCompiler(scope).compile(e.value()) : Expected<CompiledExpr>(e.error());
  if (expected.compare(0, 5, "error") == 0) {
    if (c.ok()) {
      FAIL_CHECK("compiled, but an error was expected");
      return;
    }
    std::string spec = expected.substr(5);
    while (!spec.empty() && spec.front() == ' ') spec.erase(spec.begin());
    std::string loc = spec.substr(0, spec.find(' '));
    std::string msg = spec.find(' ') == std::string::npos ? "" : spec.substr(spec.find(' ') + 1);
    expect_error(r, loc, c.error(), msg);
    return;
  }
  if (!c.ok()) {
    FAIL_CHECK(c.error().message);
    return;
  }
  size_t colons = expected.rfind(" :: ");
  if (colons == std::string::npos) {
    FAIL_CHECK("no ' :: TYPE' in the expectation");
    return;
  }
  std::string want_value = expected.substr(0, colons);
  std::string want_type = expected.substr(colons + 4);
  EvalRow row = EvalRow::of(st.row);
  row.rowtime = 1000;
  row.partition = 3;
  row.offset = 42;
  row.window_start = 2000;
  row.window_end = 3000;
  EvalDiagnostics diag;
  row.diagnostics = &diag;
  Value v = c->evaluate(row);
  CHECK(render(v) == want_value);
  CHECK(type_name(c->type()) == want_type);
  // WHERE keeps exactly the rows whose condition is TRUE.
  if (c->type()->kind == TypeKind::Boolean) CHECK(c->test(row) == (render(v) == "TRUE"));
}

void run_file(const std::string& name) {
  auto records = read_records(data_dir() + "/" + name);
  REQUIRE(!records.empty());
  Session session;
  EvalState eval;
  for (const Record& r : records) {
    const std::string& d = r.directive;
    std::string sql = join(r.body, "\n");
    if (d == "parse") {
      run_parse(r, sql);
    } else if (d.compare(0, 11, "parse error") == 0) {
      INFO(where(r) << ": " << sql);
      auto s = parse_statements(sql);
      REQUIRE_FALSE(s.ok());
      std::string loc = d.size() > 12 ? d.substr(12) : "";
      expect_error(r, loc, s.error(), join(r.expected, "\n"));
    } else if (d.compare(0, 7, "schema ") == 0 || d.compare(0, 4, "row ") == 0) {
      // A schema line may be followed directly by its row line.
      std::vector<std::string> lines{d};
      lines.insert(lines.end(), r.body.begin(), r.body.end());
      for (const auto& line : lines) {
        INFO(where(r) << ": " << line);
        if (line.compare(0, 7, "schema ") == 0) {
          eval.schema = schema_of(line.substr(7));
          eval.row.assign(eval.schema.columns.size(), Value());
          continue;
        }
        REQUIRE(line.compare(0, 4, "row ") == 0);
        auto values = split_top_level(line.substr(4));
        REQUIRE(values.size() == eval.schema.columns.size());
        for (size_t i = 0; i < values.size(); ++i) {
          Value v = constant(values[i]);
          auto coerced = coerce(v, *eval.schema.columns[i].type);
          REQUIRE(coerced.has_value());
          eval.row[i] = *coerced;
        }
      }
    } else if (d == "eval") {
      for (const auto& line : r.body) run_eval_line(r, line, eval);
    } else if (d == "statement ok" || d.compare(0, 15, "statement error") == 0) {
      INFO(where(r) << ": " << sql);
      auto parsed = parse_statements(sql);
      bool want_ok = d == "statement ok";
      if (!parsed.ok()) {
        if (want_ok) FAIL(parsed.error().message);
        expect_error(r, d.size() > 16 ? d.substr(16) : "", parsed.error(), join(r.expected, "\n"));
        continue;
      }
      Expected<std::string> result = std::string();
      for (const Statement& s : parsed.value()) {
        result = session.run(s);
        if (!result.ok()) break;
      }
      if (want_ok) {
        if (!result.ok()) FAIL(result.error().message);
        if (r.has_expected) CHECK(result.value() == join(r.expected, " "));
      } else {
        REQUIRE_FALSE(result.ok());
        expect_error(r, d.size() > 16 ? d.substr(16) : "", result.error(), join(r.expected, "\n"));
      }
    } else if (d == "reset") {
      session = Session();
    } else {
      FAIL(where(r) << ": unknown directive '" << d << "'");
    }
  }
}

const std::vector<std::string> kFiles = {
    "parse_statements.txt", "parse_expressions.txt", "parse_errors.txt", "lexer.txt",
    "expressions.txt",      "null_logic.txt",        "decimals.txt",     "functions.txt",
    "analyzer.txt",
};

}  // namespace

TEST_CASE("sql data: every file in tests/sql/data is run", "[sql][data]") {
  std::set<std::string> on_disk;
  DIR* dir = opendir(data_dir().c_str());
  REQUIRE(dir != nullptr);
  while (dirent* e = readdir(dir)) {
    std::string n = e->d_name;
    if (n.size() > 4 && n.substr(n.size() - 4) == ".txt") on_disk.insert(n);
  }
  closedir(dir);
  std::set<std::string> listed(kFiles.begin(), kFiles.end());
  CHECK(on_disk == listed);
}

TEST_CASE("sql data: parse_statements.txt", "[sql][data]") {
  run_file("parse_statements.txt");
}
TEST_CASE("sql data: parse_expressions.txt", "[sql][data]") {
  run_file("parse_expressions.txt");
}
TEST_CASE("sql data: parse_errors.txt", "[sql][data]") {
  run_file("parse_errors.txt");
}
TEST_CASE("sql data: lexer.txt", "[sql][data]") {
  run_file("lexer.txt");
}
TEST_CASE("sql data: expressions.txt", "[sql][data]") {
  run_file("expressions.txt");
}
TEST_CASE("sql data: null_logic.txt", "[sql][data]") {
  run_file("null_logic.txt");
}
TEST_CASE("sql data: decimals.txt", "[sql][data]") {
  run_file("decimals.txt");
}
TEST_CASE("sql data: functions.txt", "[sql][data]") {
  run_file("functions.txt");
}
TEST_CASE("sql data: analyzer.txt", "[sql][data]") {
  run_file("analyzer.txt");
}

// Every scalar function in the registry is exercised by functions.txt
// (table functions by table_function_test.cpp).
TEST_CASE("sql data: functions.txt covers every scalar function", "[sql][data]") {
  auto records = read_records(data_dir() + "/functions.txt");
  std::string all;
  for (const auto& r : records)
    for (const auto& l : r.body) all += to_upper(l) + "\n";
  for (const FunctionDef* f : FunctionRegistry::builtin().all()) {
    if (f->kind == FunctionDef::Kind::Aggregate || f->kind == FunctionDef::Kind::Table) continue;
    INFO(f->name);
    CHECK(all.find(f->name + "(") != std::string::npos);
  }
}

}  // namespace rivulet::sql::testing
