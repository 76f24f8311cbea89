// Variable substitution (sql/variables.hpp), DEFINE and UNDEFINE in the
// parser and the engine, and the statement splitter files are split with.
#include "sql/variables.hpp"

#include <catch2/catch.hpp>

#include "sql/parser.hpp"
#include "sql/planner.hpp"
#include "sql/statement_splitter.hpp"

using namespace rivulet;
using namespace rivulet::sql;

TEST_CASE("variables: references are replaced in text and quotes, not in comments",
          "[sql][variables]") {
  const Variables vars{{"FMT", "JSON"}, {"N", "10"}, {"T", "'orders'"}};
  struct Case {
    const char* in;
    const char* out;
  };
  for (const Case& c : {
           Case{"SELECT * FROM S WHERE X > ${n};", "SELECT * FROM S WHERE X > 10;"},
           Case{"WITH (value_format='${fmt}')", "WITH (value_format='JSON')"},
           Case{"kafka_topic=${T}", "kafka_topic='orders'"},
           Case{"${N}${N}", "1010"},
           Case{"'$${n}' and $${n}", "'${n}' and ${n}"},  // escaped
           Case{"-- ${nope}\nX ${n}", "-- ${nope}\nX 10"},
           Case{"/* ${nope}\n */ ${n}", "/* ${nope}\n */ 10"},
           Case{"'--' ${n}", "'--' 10"},                        // a string, not a comment
           Case{"$ {n} ${} ${1x} ${n", "$ {n} ${} ${1x} ${n"},  // not references
           Case{"no references", "no references"},
       }) {
    INFO(c.in);
    auto r = substitute_variables(c.in, vars);
    REQUIRE(r);
    CHECK(*r == c.out);
  }
  // An undefined variable is an error at its line:column.
  auto missing = substitute_variables("SELECT 1\n  FROM ${nope};", vars);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message.rfind("line 2:8: Variable 'nope' is not defined", 0) == 0);

  CHECK(valid_variable_name("_a1"));
  CHECK(valid_variable_name("Format"));
  CHECK_FALSE(valid_variable_name("1a"));
  CHECK_FALSE(valid_variable_name("a-b"));
  CHECK_FALSE(valid_variable_name(""));
}

TEST_CASE("variables: DEFINE and UNDEFINE parse and print back", "[sql][variables]") {
  auto d = parse_statement("DEFINE topicName = '''my_topic''';");
  REQUIRE(d);
  const auto* def = std::get_if<DefineVariable>(&d->body);
  REQUIRE(def);
  CHECK(def->name == "topicName");
  CHECK(def->value == "'my_topic'");  // ksqlDB's example: the quotes escaped
  CHECK(to_sql(*d) == "DEFINE topicName = '''my_topic'''");
  auto u = parse_statement("UNDEFINE format;");
  REQUIRE(u);
  REQUIRE(std::get_if<UndefineVariable>(&u->body));
  CHECK(std::get<UndefineVariable>(u->body).name == "format");
  auto show = parse_statement("SHOW VARIABLES;");
  REQUIRE(show);
  CHECK(std::get<ShowList>(show->body).what == ShowList::What::Variables);
  auto bad = parse_statement("DEFINE 1x = 'a';");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("a variable name") != std::string::npos);
  CHECK_FALSE(parse_statement("DEFINE x = 3;"));  // the value is a string
}

TEST_CASE("variables: a script's DEFINEs bind the statements after them", "[sql][variables]") {
  SqlEngine engine;
  auto ran = engine.execute_script(
      "DEFINE input = 'orders'; DEFINE Out = 'BIG';\n"
      "CREATE STREAM O (UID STRING KEY, AMOUNT DOUBLE)\n"
      "  WITH (kafka_topic='${INPUT}', value_format='JSON');\n"
      "-- ${not_defined} in a comment\n"
      "CREATE STREAM ${out} AS SELECT * FROM O WHERE AMOUNT > 40;\n"
      "UNDEFINE out;");
  INFO((ran ? std::string() : ran.error().message));
  REQUIRE(ran);
  const SourceInfo* big = engine.catalog().find("BIG");
  REQUIRE(big);
  CHECK(engine.catalog().find("O")->topic == "orders");
  CHECK(big->statement.find("CREATE STREAM BIG AS") == 0);  // the substituted text
  CHECK(engine.variables().size() == 1);
  CHECK(engine.variables().at("INPUT") == "orders");
  CHECK(engine.fork().variables().size() == 1);

  // A reference before its DEFINE: the error names the input's line:column.
  SqlEngine early;
  auto refused = early.execute_script(
      "CREATE STREAM O (UID STRING KEY) WITH (kafka_topic='o', value_format='JSON');\n"
      "CREATE STREAM ${out} AS SELECT * FROM O;\nDEFINE out = 'X';");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.rfind("line 2:15: Variable 'out' is not defined", 0) == 0);

  // Substitution off: the reference reaches the lexer as it is.
  SqlEngine off;
  auto r = off.execute_script(
      "SET 'ksql.variable.substitution.enable' = 'false'; DEFINE t = 'x';\n"
      "CREATE STREAM O (UID STRING KEY) WITH (kafka_topic='${t}', value_format='JSON');");
  REQUIRE(r);
  CHECK(off.catalog().find("O")->topic == "${t}");
  auto invalid = off.execute_script("SET 'ksql.variable.substitution.enable' = 'maybe';");
  REQUIRE_FALSE(invalid);
  CHECK(invalid.error().message.find("Expected value to be either true or false") !=
        std::string::npos);
}

TEST_CASE("variables: the splitter cuts statements at semicolons outside quotes and comments",
          "[sql][variables]") {
  auto chunks = split_statements(
      "SELECT ';' FROM A; -- a; comment\n"
      "  /* x; */ SELECT `a;b` FROM \"B;\";\n\nSHOW STREAMS");
  REQUIRE(chunks.size() == 3);
  CHECK(chunks[0].text == "SELECT ';' FROM A;");
  CHECK(chunks[0].line == 1);
  CHECK(chunks[0].column == 1);
  CHECK(chunks[1].line == 2);
  CHECK(chunks[1].text.find("SELECT `a;b` FROM \"B;\";") != std::string::npos);
  CHECK(chunks[2].text == "SHOW STREAMS");  // the last one without its ';'
  CHECK(chunks[2].line == 4);
  CHECK(split_statements("  -- nothing\n\n").empty());
}
