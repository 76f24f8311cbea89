// File and memory sources (WITH (SOURCE='file://...' | 'memory://...')):
// plan-time errors with line:column, the CSV and JSON-lines readers, the
// difference of a reloaded table file, a stream file tailed and restarted
// without duplicates, and a file table joined to a memory stream in the
// TestDriver. The live loader on a broker is tests/integration/file_source_test.cpp.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <string>

#include "sql/planner.hpp"
#include "sql/source_feeder.hpp"
#include "sql/source_rows.hpp"
#include "sql/test_driver.hpp"

namespace rivulet::sql {
namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/rivulet-source-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string write(const std::string& name, const std::string& text, bool append = false) const {
    std::string p = path + "/" + name;
    std::ofstream out(p, append ? std::ios::app : std::ios::trunc);
    out << text;
    return p;
  }
};

std::string error_of(const std::string& sql) {
  SqlEngine engine;
  auto r = engine.execute_script(sql);
  return r ? std::string() : r.error().message;
}

std::map<std::string, std::vector<FeedRecord>> poll_all(SourceFeeder& f) {
  std::map<std::string, std::vector<FeedRecord>> out;
  f.poll([&](FeedRecord&& r) { out[r.topic].push_back(std::move(r)); });
  return out;
}

const SourceInfo& source(SqlEngine& e, const char* name) { return *e.catalog().find(name); }

}  // namespace

TEST_CASE("source: plan-time errors name line:column", "[sql][source]") {
  TempDir dir;
  std::string csv = dir.write("users.csv", "1,alice\n");
  CHECK(error_of("CREATE TABLE U (ID STRING PRIMARY KEY, NAME STRING)\n"
                 "  WITH (source='ftp://x', value_format='JSON');")
            .rfind("line 2:", 0) == 0);
  CHECK(error_of("CREATE TABLE U (ID STRING PRIMARY KEY, NAME STRING)\n"
                 "  WITH (source='ftp://x', value_format='JSON');")
            .find("Unknown SOURCE 'ftp://x'") != std::string::npos);
  auto missing = error_of("CREATE TABLE U (ID STRING PRIMARY KEY, NAME STRING) WITH (source='file://" +
                          dir.path + "/nope.csv', value_format='DELIMITED');");
  CHECK(missing.rfind("line 1:", 0) == 0);
  CHECK(missing.find("nope.csv' does not exist") != std::string::npos);
  CHECK(error_of("CREATE TABLE U (ID STRING PRIMARY KEY, NAME STRING) WITH (source='file://" + csv +
                 "', value_format='KAFKA');")
            .find("a file source reads VALUE_FORMAT 'DELIMITED' (CSV) or 'JSON'") !=
        std::string::npos);
  CHECK(error_of("CREATE TABLE U (ID STRING PRIMARY KEY, NAME STRING) WITH "
                 "(source='file://relative.csv', value_format='DELIMITED');")
            .find("absolute path") != std::string::npos);
  // A file or memory source needs no KAFKA_TOPIC: its topic is its name.
  SqlEngine engine;
  REQUIRE(engine.execute_script("CREATE TABLE U (ID STRING PRIMARY KEY, NAME STRING) WITH "
                                "(source='file://" + csv + "', value_format='DELIMITED');"
                                "CREATE STREAM S (ID STRING KEY, X INT) WITH "
                                "(source='memory://s', value_format='JSON', partitions=4);"));
  CHECK(source(engine, "U").topic == "U");
  CHECK(source(engine, "U").source_kind == SourceKind::File);
  CHECK(source(engine, "U").partitions == 1);
  CHECK(source(engine, "S").source_kind == SourceKind::Memory);
  CHECK(source(engine, "S").partitions == 4);
}

TEST_CASE("source: CSV and JSON lines become the topic's records", "[sql][source]") {
  TempDir dir;
  std::string csv = dir.write("u.csv", "");
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE TABLE U (ID STRING PRIMARY KEY, NAME STRING, AGE INT) WITH (source='file://" + csv +
      "', value_format='DELIMITED');"
      "CREATE TABLE J (ID BIGINT PRIMARY KEY, NAME STRING) WITH (source='file://" + csv +
      "', value_format='JSON', kafka_topic='j');"));
  auto codec = SourceRowCodec::create(source(engine, "U"));
  REQUIRE(codec);
  auto row = (*codec)->encode_line("a1,\"Smith, Alice\",42\r\n");
  REQUIRE(row);
  REQUIRE(*row);
  CHECK((*row)->key == std::optional<std::string>("a1"));
  CHECK((*row)->value == std::optional<std::string>("\"Smith, Alice\",42"));
  CHECK((*codec)->is_header("id, name ,AGE"));
  CHECK_FALSE((*codec)->is_header("a1,alice,3"));
  auto blank = (*codec)->encode_line("  ");
  REQUIRE(blank);
  CHECK_FALSE(*blank);
  auto bad = (*codec)->encode_line("a1,alice,old");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("AGE") != std::string::npos);
  CHECK_FALSE((*codec)->encode_line(",alice,3"));  // a table row without its key

  auto json = SourceRowCodec::create(source(engine, "J"));
  REQUIRE(json);
  auto j = (*json)->encode_line(R"({"name": "bob", "id": 7})");
  REQUIRE(j);
  REQUIRE(*j);
  CHECK((*j)->key == std::optional<std::string>(std::string("\0\0\0\0\0\0\0\7", 8)));
  CHECK((*j)->value == std::optional<std::string>(R"({"NAME":"bob"})"));
  CHECK_FALSE((*json)->encode_line("{not json"));
  auto r = (*json)->encode_row(Value::structure({Field{"id", Value::int32(8)}, Field{"Name", Value::string("c")}}));
  REQUIRE(r);
  CHECK((*r).value == std::optional<std::string>(R"({"NAME":"c"})"));
}

TEST_CASE("source: a reloaded table file yields only its difference", "[sql][source]") {
  std::map<std::string, std::string> before{{"a", "1"}, {"b", "2"}, {"c", "3"}};
  std::map<std::string, std::string> after{{"a", "1"}, {"b", "20"}, {"d", "4"}};
  auto d = diff_tables(before, after);
  REQUIRE(d.size() == 3);
  CHECK((d[0].key == "b" && d[0].value == std::optional<std::string>("20")));
  CHECK((d[1].key == "c" && !d[1].value));
  CHECK((d[2].key == "d" && d[2].value == std::optional<std::string>("4")));
  CHECK(diff_tables(after, after).empty());

  TempDir dir;
  std::string csv = dir.write("u.csv", "id,name\nu1,alice\nu2,bob\nbroken\nu3,carol\n");
  SqlEngine engine;
  REQUIRE(engine.execute_script("CREATE TABLE U (ID STRING PRIMARY KEY, NAME STRING) WITH "
                                "(source='file://" + csv + "', value_format='DELIMITED');"));
  auto feeder = SourceFeeder::create(engine.catalog());
  REQUIRE(feeder);
  auto first = poll_all(**feeder);
  CHECK(first["U"].size() == 3);
  REQUIRE((*feeder)->bad_line_count() == 1);
  CHECK((*feeder)->bad_lines()[0].to_string().rfind(csv + ":4: ", 0) == 0);
  CHECK(poll_all(**feeder).empty());  // unchanged
  dir.write("u.csv", "u1,alice\nu2,bobby\n");  // u2 changed, u3 removed
  auto second = poll_all(**feeder);
  REQUIRE(second["U"].size() == 2);
  CHECK(second["U"][0].key == std::optional<std::string>("u2"));
  CHECK(second["U"][0].value == std::optional<std::string>("bobby"));
  CHECK(second["U"][1].key == std::optional<std::string>("u3"));
  CHECK_FALSE(second["U"][1].value);

  // After a restart the topic's rows are restored: only the difference again.
  auto again = SourceFeeder::create(engine.catalog());
  REQUIRE(again);
  (*again)->restore_table("U", {{"u1", "alice"}, {"u2", "bob"}});
  auto restored = poll_all(**again);
  REQUIRE(restored["U"].size() == 1);
  CHECK(restored["U"][0].value == std::optional<std::string>("bobby"));
}

TEST_CASE("source: a stream file is tailed and resumes without duplicates", "[sql][source]") {
  TempDir dir;
  std::string path = dir.write("events.json", "{\"ID\":\"e1\",\"X\":1}\n{\"ID\":\"e2\",\"X\":2}\n{bad\n");
  SqlEngine engine;
  REQUIRE(engine.execute_script("CREATE STREAM E (ID STRING KEY, X INT) WITH (source='file://" +
                                path + "', value_format='JSON');"));
  auto feeder = SourceFeeder::create(engine.catalog());
  REQUIRE(feeder);
  auto first = poll_all(**feeder);
  REQUIRE(first["E"].size() == 2);
  CHECK(first["E"][1].line == 2);
  CHECK((*feeder)->bad_lines().at(0).line == 3);
  dir.write("events.json", "{\"ID\":\"e4\",\"X\":4}\n{\"ID\":\"e5\"", true);  // the last line is incomplete
  auto second = poll_all(**feeder);
  REQUIRE(second["E"].size() == 1);
  CHECK(second["E"][0].line == 4);
  dir.write("events.json", ",\"X\":5}\n", true);
  auto third = poll_all(**feeder);
  REQUIRE(third["E"].size() == 1);
  CHECK(third["E"][0].line == 5);
  CHECK(third["E"][0].value == std::optional<std::string>(R"({"X":5})"));

  // Restarted: lines 1..3 and 5 are in the topic (or were bad); line 4 was lost.
  auto again = SourceFeeder::create(engine.catalog());
  REQUIRE(again);
  (*again)->restore_stream("E", 3, {5});
  auto resumed = poll_all(**again);
  REQUIRE(resumed["E"].size() == 1);
  CHECK(resumed["E"][0].line == 4);
  CHECK((*again)->bad_line_count() == 0);  // line 3 was reported before the restart
}

TEST_CASE("source: TestDriver joins a memory stream with a file table", "[sql][source]") {
  TempDir dir;
  std::string csv = dir.write("users.csv", "id,name\nu1,alice\nu2,bob\nu3,carol\n");
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE TABLE USERS (ID STRING PRIMARY KEY, NAME STRING) WITH (source='file://" + csv +
      "', value_format='DELIMITED');\n"
      "CREATE STREAM ORDERS (OID STRING KEY, USER_ID STRING, AMOUNT INT) WITH "
      "(source='memory://orders', value_format='JSON');\n"
      "CREATE STREAM ENRICHED WITH (kafka_topic='enriched', value_format='JSON') AS SELECT "
      "O.USER_ID, O.OID, O.AMOUNT, U.NAME FROM ORDERS O LEFT JOIN USERS U ON O.USER_ID = U.ID;"));
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  auto feeder = SourceFeeder::create(engine.catalog(), engine.topology().source_topics());
  REQUIRE(feeder);
  CHECK(pipe_sources(**driver, **feeder, 0) == 3);
  auto order = [](const char* oid, const char* user) {
    return Value::structure({Field{"OID", Value::string(oid)}, Field{"USER_ID", Value::string(user)},
                             Field{"AMOUNT", Value::int32(5)}});
  };
  REQUIRE((*feeder)->insert("ORDERS", order("o1", "u2")));
  REQUIRE((*feeder)->insert_line("ORDERS", R"({"OID": "o2", "USER_ID": "u3", "AMOUNT": 6})"));
  CHECK(pipe_sources(**driver, **feeder, 10) == 2);
  dir.write("users.csv", "id,name\nu1,alice\nu2,bobby\n");  // u2 renamed, u3 removed
  CHECK(pipe_sources(**driver, **feeder, 20) == 2);
  REQUIRE((*feeder)->insert("ORDERS", order("o3", "u2")));
  REQUIRE((*feeder)->insert("ORDERS", order("o4", "u3")));
  pipe_sources(**driver, **feeder, 30);
  auto out = (*driver)->outputs("enriched");
  REQUIRE(out.size() == 4);
  CHECK(out[0].value == std::optional<std::string>(R"({"OID":"o1","AMOUNT":5,"NAME":"bob"})"));
  CHECK(out[1].value == std::optional<std::string>(R"({"OID":"o2","AMOUNT":6,"NAME":"carol"})"));
  CHECK(out[2].value == std::optional<std::string>(R"({"OID":"o3","AMOUNT":5,"NAME":"bobby"})"));
  CHECK(out[3].value == std::optional<std::string>(R"({"OID":"o4","AMOUNT":5,"NAME":null})"));
  CHECK_FALSE((*feeder)->insert("NOPE", order("x", "y")));
}

}  // namespace rivulet::sql
