// `rivulet sql --bootstrap B` as a child process on the embedded broker
// (`rivulet broker`), statements written to its stdin one at a time, kcat
// as the independent producer: a CREATE TABLE AS SELECT started from the
// shell, pull queries (a key's current count, a missing key, scans with
// conditions, expressions and LIMIT, a windowed table's rows), a push query
// with LIMIT that prints only rows produced after it started, a file-backed
// table joined with the CTAS's table, INSERT INTO ... VALUES, and SQL errors with line:column that
// do not end the session; pull queries on tables of several key columns,
// and PRINT (from the beginning, from now, INTERVAL, LIMIT, Ctrl-C).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <system_error>
#include <thread>

#include "connectors/local_schema_registry.hpp"
#include "support/child_process.hpp"

using rivulet::testing::ChildProcess;
using rivulet::testing::run_command;

namespace {

// Reads the shell's stdout up to and including a line that starts with
// `last` (a result's closing line).
std::vector<std::string> read_until(ChildProcess& shell, const std::string& last) {
  std::vector<std::string> lines;
  while (auto line = shell.read_line()) {
    lines.push_back(*line);
    if (line->rfind(last, 0) == 0) break;
  }
  return lines;
}

bool has_line(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& l : lines)
    if (l.find(part) != std::string::npos) return true;
  return false;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// `rivulet sql --bootstrap B` as a child, its state and stderr in a fresh
// directory (`pattern`: mkdtemp's; removed with the session), statements
// written to its stdin; `line` counts the lines written (the shell reports
// positions in its input).
struct ShellSession {
  std::string dir, errors;
  std::optional<ChildProcess> shell;
  int line = 0;

  ShellSession(const std::string& bootstrap, const std::string& pattern)
      : dir(make_dir(pattern)),
        errors(dir + "/stderr.log"),
        shell(ChildProcess::spawn({rivulet::testing::rivulet_binary(), "sql", "--bootstrap",
                                   bootstrap, "--set", "state.dir=" + dir + "/state", "--set",
                                   "commit.interval.ms=100"},
                                  errors, true)) {
    REQUIRE(shell.has_value());
  }
  ~ShellSession() {
    shell.reset();  // killed, if it still runs, before its directory goes
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  static std::string make_dir(const std::string& pattern) {
    std::string dir = (std::filesystem::temp_directory_path() / pattern).string();
    REQUIRE(::mkdtemp(dir.data()) != nullptr);
    return dir;
  }
  void send(const std::string& text) {
    line += static_cast<int>(std::count(text.begin(), text.end(), '\n'));
    REQUIRE(shell->write_stdin(text));
  }
};

// Sends the pull query `query` until its result has a line containing
// `want` (a running query's table catches up), for up to 30 s; the last
// result.
std::vector<std::string> pull_until(ShellSession& session, const std::string& query,
                                    const std::string& want) {
  std::vector<std::string> result;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    session.send(query);
    result = read_until(*session.shell, "(");
    if (has_line(result, want)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return result;
}

}  // namespace

TEST_CASE("rivulet sql: DDL, CTAS, pull and push queries, errors that do not end the session",
          "[integration][sql]") {
  ::signal(SIGPIPE, SIG_IGN);  // a shell that died fails the checks, not the test binary
  auto broker =
      ChildProcess::spawn({rivulet::testing::rivulet_binary(), "broker", "--topic", "sh_orders:2"});
  REQUIRE(broker.has_value());
  auto bootstrap = broker->read_line();
  REQUIRE(bootstrap.has_value());
  const std::string produce =
      "kcat -b " + *bootstrap + " -X partitioner=murmur2_random -P -K '|' -t sh_orders";
  REQUIRE(run_command(produce,
                      "u1|{\"AMOUNT\": 1.5}\nu2|{\"AMOUNT\": 2}\nu1|{\"AMOUNT\": 3}\n"
                      "u1|{\"AMOUNT\": 4}\nu2|{\"AMOUNT\": 5}\n")
              .first == 0);

  ShellSession session(*bootstrap, "rivulet-sql-shell-XXXXXX");
  auto& shell = session.shell;
  const std::string& dir = session.dir;
  const std::string& errors = session.errors;
  const int& line = session.line;
  auto send = [&](const std::string& text) { session.send(text); };

  send("CREATE STREAM ORDERS (UID STRING KEY, AMOUNT DOUBLE)\n"
       "  WITH (kafka_topic='sh_orders', value_format='JSON');\n");
  auto created = shell->read_line();
  REQUIRE(created.has_value());
  CHECK(*created == "Stream created");
  send("CREATE TABLE COUNTS AS\n  SELECT UID, COUNT(*) AS N, SUM(AMOUNT) AS TOTAL\n"
       "  FROM ORDERS GROUP BY UID;\n");
  auto running = shell->read_line();
  REQUIRE(running.has_value());
  INFO(slurp(errors));
  CHECK(running->rfind("Table created and running (query CTAS_COUNTS_", 0) == 0);

  // EXPLAIN of the running query: its application and plan (the sink's
  // node is the last line).
  send("EXPLAIN ctas_counts_0;\n");
  auto plan = read_until(*shell, "  sink-");
  INFO(slurp(errors));
  REQUIRE(!plan.empty());
  CHECK(plan[0] == "Query ID             : CTAS_COUNTS_0");
  CHECK(has_line(plan, "Running              : yes (application.id="));
  CHECK(has_line(plan,
                 "  ORDERS  stream  topic sh_orders  key KAFKA  value JSON  decodes every "
                 "value column (1)"));
  CHECK(has_line(plan, "Sink topics:"));
  CHECK(plan.back().find(" sink COUNTS <- ") != std::string::npos);
  // SHOW QUERIES EXTENDED: each running query's plan, as EXPLAIN prints it.
  send("SHOW QUERIES EXTENDED;\n");
  auto extended = read_until(*shell, "  sink-");
  CHECK(has_line(extended, "Query ID             : CTAS_COUNTS_0"));
  CHECK(extended.back().find(" sink COUNTS <- ") != std::string::npos);

  // Pull: the key's current row, from the task that owns it.
  auto result =
      pull_until(session, "SELECT * FROM COUNTS WHERE UID = 'u1';\n", "| u1  | 3 | 8.5   |");
  INFO(slurp(errors));
  REQUIRE(has_line(result, "| UID | N | TOTAL |"));
  REQUIRE(has_line(result, "| u1  | 3 | 8.5   |"));
  CHECK(result.back() == "(1 row)");
  // CREATE SOURCE TABLE: materialized at once by a query of its own, so
  // that a pull query reads the latest value of each key; read-only;
  // dropping it stops its query.
  send(
      "CREATE SOURCE TABLE LAST_AMOUNT (UID STRING PRIMARY KEY, AMOUNT DOUBLE)\n"
      "  WITH (kafka_topic='sh_orders', value_format='JSON');\n");
  auto materialized = shell->read_line();
  REQUIRE(materialized.has_value());
  CHECK(materialized->rfind("Table created and materialized (query CST_LAST_AMOUNT_1, ", 0) == 0);
  result = pull_until(session, "SELECT AMOUNT FROM LAST_AMOUNT WHERE UID = 'u1';\n", "| 4.0    |");
  CHECK(has_line(result, "| 4.0    |"));
  send("INSERT INTO LAST_AMOUNT (UID, AMOUNT) VALUES ('u1', 1);\n");
  send("SHOW QUERIES;\n");
  result = read_until(*shell, "+--");
  result = read_until(*shell, "+--");
  result = read_until(*shell, "+--");
  CHECK(has_line(result, "| CST_LAST_AMOUNT_1 "));
  send("DROP TABLE LAST_AMOUNT;\nSHOW QUERIES;\n");
  auto dropped = shell->read_line();
  REQUIRE(dropped.has_value());
  CHECK(*dropped == "Table LAST_AMOUNT dropped");
  result = read_until(*shell, "+--");
  result = read_until(*shell, "+--");
  result = read_until(*shell, "+--");
  CHECK_FALSE(has_line(result, "CST_LAST_AMOUNT_1"));
  CHECK(slurp(errors).find("Cannot insert values into read-only table: LAST_AMOUNT") !=
        std::string::npos);
  // Declared with PARTITIONS: its topic is created first, as for any CREATE.
  send(
      "CREATE SOURCE TABLE FRESH_SRC (K STRING PRIMARY KEY, V INT)\n"
      "  WITH (kafka_topic='sh_fresh_src', value_format='JSON', partitions=3);\n");
  auto fresh_src = shell->read_line();
  REQUIRE(fresh_src.has_value());
  CHECK(fresh_src->rfind("Table created and materialized (query CST_FRESH_SRC_2, ", 0) == 0);
  CHECK(fresh_src->find(", 3 partitions)") != std::string::npos);
  auto [src_rc, src_listing] = run_command("kcat -b " + *bootstrap + " -L -t sh_fresh_src", "", 30);
  CHECK(src_rc == 0);
  CHECK(src_listing.find("with 3 partitions") != std::string::npos);
  // DROP STREAM of it is refused, and its query keeps running; DROP TABLE
  // stops it.
  send("DROP STREAM FRESH_SRC;\nSHOW QUERIES;\n");
  result = read_until(*shell, "+--");
  result = read_until(*shell, "+--");
  result = read_until(*shell, "+--");
  CHECK(has_line(result, "| CST_FRESH_SRC_2 "));
  send("DROP TABLE FRESH_SRC;\n");
  CHECK(shell->read_line() == std::optional<std::string>("Table FRESH_SRC dropped"));

  // DESCRIBE ... EXTENDED: the statement, the topic's partitions, the
  // running query that reads the stream and its figures.
  send("DESCRIBE ORDERS EXTENDED;\n");
  auto described = read_until(*shell, "(Statistics");
  CHECK(has_line(described, "Statement            : CREATE STREAM ORDERS (UID STRING KEY"));
  CHECK(has_line(described, "Timestamp field      : Not set - using <ROWTIME>"));
  CHECK(has_line(described, "Partitions           : 2"));
  CHECK(has_line(described, "CTAS_COUNTS_0 (RUNNING) : CREATE TABLE COUNTS AS"));
  CHECK(has_line(described, "CTAS_COUNTS_0: records-in "));
  CHECK(described.back() == "(Statistics of this shell's queries on topic sh_orders)");
  send("SELECT TOTAL, N FROM COUNTS WHERE 'u2' = UID;\n");
  result = read_until(*shell, "(");
  CHECK(has_line(result, "| TOTAL | N |"));
  CHECK(has_line(result, "| 7.0   | 2 |"));
  // A missing key: no row.
  send("SELECT N FROM COUNTS WHERE UID = 'nobody';\n");
  result = read_until(*shell, "(");
  CHECK(result.back() == "(0 rows)");
  // The key's row fails the rest of the condition: no row.
  send("SELECT * FROM COUNTS WHERE UID = 'u1' AND N > 5;\n");
  result = read_until(*shell, "(");
  CHECK(result.back() == "(0 rows)");

  // Scans: no key condition, every task's rows (two partitions), filtered
  // and projected with expressions.
  send("SELECT UID, N * 10 AS TENS, UCASE(UID) FROM COUNTS WHERE N >= 2 AND TOTAL < 100;\n");
  result = read_until(*shell, "(");
  CHECK(has_line(result, "| UID | TENS | KSQL_COL_0 |"));
  CHECK(has_line(result, "| u1  | 30   | U1         |"));
  CHECK(has_line(result, "| u2  | 20   | U2         |"));
  CHECK(result.back() == "(2 rows)");
  send("SELECT * FROM COUNTS WHERE N = 3;\n");
  result = read_until(*shell, "(");
  CHECK(has_line(result, "| u1  | 3 | 8.5   |"));
  CHECK(result.back() == "(1 row)");
  send("SELECT UID FROM COUNTS LIMIT 1;\n");
  result = read_until(*shell, "(");
  CHECK(result.back() == "(1 row)");
  auto limit = shell->read_line();
  CHECK(limit == std::optional<std::string>("Limit Reached"));
  // A windowed table: a row per key and window, WINDOWSTART and WINDOWEND
  // after the key (windows of 1000 days: the orders' times, now, share one).
  send("CREATE TABLE PER_WINDOW AS SELECT UID, COUNT(*) AS N FROM ORDERS\n"
       "  WINDOW TUMBLING (SIZE 1000 DAYS) GROUP BY UID;\n");
  auto windowed = shell->read_line();
  REQUIRE(windowed.has_value());
  CHECK(windowed->rfind("Table created and running (query CTAS_PER_WINDOW_", 0) == 0);
  result = pull_until(session,
                      "SELECT UID, N, WINDOWEND - WINDOWSTART AS SPAN FROM PER_WINDOW WHERE UID = "
                      "'u1';\n",
                      "| u1  | 3 | 86400000000 |");
  INFO(slurp(errors));
  CHECK(has_line(result, "| UID | N | SPAN        |"));
  CHECK(has_line(result, "| u1  | 3 | 86400000000 |"));
  CHECK(result.back() == "(1 row)");
  send("SELECT * FROM PER_WINDOW WHERE WINDOWSTART >= 0 AND N = 2;\n");
  result = read_until(*shell, "(");
  CHECK(has_line(result, "| UID | WINDOWSTART "));
  CHECK(has_line(result, " | WINDOWEND "));
  CHECK(has_line(result, " | N |"));
  CHECK(has_line(result, "| u2  | "));
  CHECK(result.back() == "(1 row)");
  send("SELECT * FROM PER_WINDOW WHERE UID = 'u1' AND WINDOWSTART < 0;\n");
  result = read_until(*shell, "(");
  CHECK(result.back() == "(0 rows)");

  // ksqlDB's switch turns scans off; key lookups still run.
  send("SET 'ksql.query.pull.table.scan.enabled' = 'false';\n");
  auto set = shell->read_line();
  CHECK(set.has_value());
  send("SELECT * FROM COUNTS WHERE N > 0;\n");
  const int scans_off_line = line;
  send("SELECT N FROM COUNTS WHERE UID = 'u1';\n");
  result = read_until(*shell, "(");
  CHECK(has_line(result, "| 3 |"));
  send("UNSET 'ksql.query.pull.table.scan.enabled';\n");
  auto unset = shell->read_line();
  CHECK(unset.has_value());

  // Errors name line:column of the input and the session goes on.
  send("SELECT * FROM\n   NOPE WHERE UID = 'u1';\n");
  const int nope_line = line;
  // A pull query on a stream: its records up to the end at the start,
  // filtered and projected, pseudo columns included.
  send("SELECT UID, AMOUNT, ROWOFFSET < 5 AS EARLY FROM ORDERS WHERE UID = 'u1';\n");
  result = read_until(*shell, "(");
  CHECK(has_line(result, "| UID | AMOUNT | EARLY |"));
  CHECK(has_line(result, "| u1  | 1.5    | true  |"));
  CHECK(has_line(result, "| u1  | 3.0    | true  |"));
  CHECK(has_line(result, "| u1  | 4.0    | true  |"));
  CHECK(result.back() == "(3 rows)");
  send("SELECT * FROM ORDERS WHERE AMOUNT > 100;\n");
  result = read_until(*shell, "(");
  CHECK(has_line(result, "| UID | AMOUNT |"));
  CHECK(result.back() == "(0 rows)");
  send("SELECT * FROM COUNTS WHERE NOPE = 3;\n");
  const int unknown_line = line;
  send("SELECT * FROM COUNTS WHERE TOTAL;\n");
  const int boolean_line = line;
  send("SELECT UID FROM COUNTS WHERE UID IN (SELECT UID FROM COUNTS);\n");
  const int subquery_line = line;
  // A stream declared with PARTITIONS on a missing topic: created (kcat
  // sees its 3 partitions); on an existing topic with another count: refused.
  send("CREATE STREAM FRESH (K STRING KEY, V INT)\n"
       "  WITH (kafka_topic='sh_fresh', value_format='JSON', partitions=3);\n");
  auto fresh = shell->read_line();
  REQUIRE(fresh.has_value());
  CHECK(*fresh == "Stream created");
  auto [lrc, listing] = run_command("kcat -b " + *bootstrap + " -L -t sh_fresh", "", 30);
  CHECK(lrc == 0);
  CHECK(listing.find("with 3 partitions") != std::string::npos);
  send("CREATE STREAM CLASH (UID STRING KEY, AMOUNT DOUBLE)\n"
       "  WITH (kafka_topic='sh_orders', value_format='JSON', partitions=4);\n");
  const int clash_line = line - 1;
  send("SHOW TABLES;\n");
  result = read_until(*shell, "+--");  // top rule
  auto rest = read_until(*shell, "+--");  // under the header
  rest = read_until(*shell, "+--");       // closing rule
  CHECK(has_line(rest, "| COUNTS "));

  // Push: only rows produced after it started, LIMIT 2.
  send("SELECT UID, AMOUNT FROM ORDERS WHERE AMOUNT > 5 EMIT CHANGES LIMIT 2;\n");
  auto header = read_until(*shell, "+--");
  header = read_until(*shell, "+--");
  CHECK(has_line(header, "| UID "));
  CHECK(has_line(header, "| AMOUNT "));
  // A key longer than its column (12) wraps onto a second line.
  REQUIRE(run_command(produce,
                      "u7|{\"AMOUNT\": 6.5}\nu8|{\"AMOUNT\": 1}\n"
                      "u9-with-a-long-id|{\"AMOUNT\": 9}\n")
              .first == 0);
  auto rows = read_until(*shell, "+--");
  auto end = shell->read_line();
  INFO(slurp(errors));
  REQUIRE(rows.size() == 4);
  // Two partitions: the rows may come in either order.
  const bool u7_first = rows[0].find("| u7 ") == 0;
  const std::string& u7 = u7_first ? rows[0] : rows[2];
  const std::string& u9 = u7_first ? rows[1] : rows[0];
  const std::string& u9_rest = u7_first ? rows[2] : rows[1];
  CHECK(u7 == "| u7           | 6.5          |");
  CHECK(u9 == "| u9-with-a-lo | 9.0          |");
  CHECK(u9_rest == "| ng-id        |              |");
  REQUIRE(end.has_value());
  CHECK(*end == "Limit Reached");

  // A windowed push query: its columns in the projection's order, the
  // pseudo column WINDOWSTART named without an alias (as ksqlDB allows in
  // a push query), an epoch in milliseconds and a TIMESTAMP unwrapped.
  send(
      "SELECT COUNT(*) AS N, UID, WINDOWSTART, FROM_UNIXTIME(WINDOWSTART) AS WS FROM ORDERS\n"
      "  WINDOW TUMBLING (SIZE 1000 DAYS) WHERE UID = 'u5' GROUP BY UID EMIT CHANGES LIMIT 1;\n");
  header = read_until(*shell, "+--");
  header = read_until(*shell, "+--");
  REQUIRE(header.size() == 2);
  CHECK(header[0] ==
        "| N              | UID          | WINDOWSTART    | WS                      |");
  REQUIRE(run_command(produce, "u5|{\"AMOUNT\": 2}\n").first == 0);
  rows = read_until(*shell, "+--");
  end = shell->read_line();
  REQUIRE(rows.size() == 2);
  CHECK(std::regex_match(
      rows[0],
      std::regex(R"(\| 1 +\| u5 +\| [0-9]{13} +\| [0-9]{4}-[0-9]{2}-[0-9]{2}T00:00:00\.000 \|)")));
  REQUIRE(end.has_value());
  CHECK(*end == "Limit Reached");

  // A file-backed table, loaded by the shell as `rivulet run` loads it,
  // joined table-table with COUNTS by a query started from the shell.
  {
    std::ofstream users(dir + "/users.csv");
    users << "UID,NAME\nu1,Ann\nu2,Bob\n";
  }
  send("CREATE TABLE USERS (UID STRING PRIMARY KEY, NAME STRING)\n  WITH (source='file://" + dir +
       "/users.csv', value_format='DELIMITED', partitions=2);\n");
  created = shell->read_line();
  REQUIRE(created.has_value());
  CHECK(*created == "Table created");
  send("CREATE TABLE NAMED AS SELECT COUNTS.UID AS UID, NAME, N\n"
       "  FROM COUNTS JOIN USERS ON COUNTS.UID = USERS.UID;\n");
  running = shell->read_line();
  REQUIRE(running.has_value());
  INFO(slurp(errors));
  CHECK(running->rfind("Table created and running (query CTAS_NAMED_", 0) == 0);
  result = pull_until(session, "SELECT NAME, N FROM NAMED WHERE UID = 'u2';\n", "| Bob  | 2 |");
  INFO(slurp(errors));
  CHECK(has_line(result, "| Bob  | 2 |"));

  // INSERT INTO ... VALUES writes one record to ORDERS' topic: COUNTS and
  // the join after it see it. A bad column names line:column.
  send("INSERT INTO ORDERS (UID, NOPE) VALUES ('u2', 1);\n");
  const int insert_line = line;
  send("INSERT INTO ORDERS (AMOUNT, UID, ROWTIME) VALUES (10, 'u2', 1000);\n");
  auto inserted = shell->read_line();
  REQUIRE(inserted.has_value());
  CHECK(*inserted == "Row inserted into ORDERS.");
  result = pull_until(session, "SELECT NAME, N FROM NAMED WHERE UID = 'u2';\n", "| Bob  | 3 |");
  INFO(slurp(errors));
  CHECK(has_line(result, "| Bob  | 3 |"));

  // Each query runs as an application of its own: a loop through the
  // running ones (ORDERS -> COUNTS by CTAS_COUNTS_0, then COUNTS back into
  // ORDERS) is refused as one in a file would be, and nothing starts.
  send(
      "CREATE STREAM COUNT_CHANGES (UID STRING KEY, N BIGINT, TOTAL DOUBLE)\n"
      "  WITH (kafka_topic='COUNTS', value_format='JSON');\n");
  auto changes = shell->read_line();
  CHECK(changes == std::optional<std::string>("Stream created"));
  const int loop_line = line + 1;  // the next line sent
  send("INSERT INTO ORDERS SELECT UID, TOTAL AS AMOUNT FROM COUNT_CHANGES;\n");
  send("SHOW QUERIES;\n");
  (void)read_until(*shell, "+--");         // top rule
  (void)read_until(*shell, "+--");         // under the header
  auto shown = read_until(*shell, "+--");  // the rows, then the closing rule
  CHECK(has_line(shown, "CTAS_COUNTS_0"));
  CHECK_FALSE(has_line(shown, "INSERTQUERY_"));

  // Still alive after the push query; EOF ends it, non-zero: statements failed.
  send("TERMINATE CTAS_COUNTS_0;\n");
  auto terminated = shell->read_line();
  CHECK(terminated == std::optional<std::string>("Query terminated."));
  shell->close_stdin();
  CHECK(shell->wait(std::chrono::seconds(30)) == 1);

  const std::string err = slurp(errors);
  INFO(err);
  CHECK(err.find("line " + std::to_string(nope_line) + ":4: Source `NOPE` does not exist") !=
        std::string::npos);
  CHECK(err.find("line " + std::to_string(scans_off_line) +
                 ":28: table scans are off ('ksql.query.pull.table.scan.enabled' is 'false'): "
                 "ask for one key, WHERE UID = <literal>") != std::string::npos);
  CHECK(err.find("line " + std::to_string(unknown_line) +
                 ":28: WHERE column 'NOPE' cannot be resolved") != std::string::npos);
  CHECK(err.find("line " + std::to_string(boolean_line) +
                 ":28: Type error in WHERE expression: Should evaluate to boolean but is TOTAL "
                 "(DOUBLE) instead.") != std::string::npos);
  CHECK(err.find("line " + std::to_string(subquery_line) +
                 ":34: Pull queries don't support subqueries (a persistent query may use them: "
                 "CREATE STREAM ... AS SELECT ... WHERE x IN (SELECT ...))") != std::string::npos);
  CHECK(err.find("line " + std::to_string(clash_line) +
                 ":15: stream CLASH (PARTITIONS=4): topic 'sh_orders' exists with 2 partitions, "
                 "but 4 were requested") != std::string::npos);
  CHECK(err.find("line " + std::to_string(insert_line) +
                 ":46: Column name `NOPE` does not exist in `ORDERS`.") != std::string::npos);
  CHECK(err.find("line " + std::to_string(loop_line) +
                 ":1: Cannot run this query: it writes a topic it reads again, so every record "
                 "would go round for ever: COUNTS -> sh_orders -> COUNTS") != std::string::npos);
  CHECK(broker->stop(SIGTERM) == 0);
}

TEST_CASE("rivulet sql: tables of several key columns in pull queries, and PRINT of a topic",
          "[integration][sql]") {
  ::signal(SIGPIPE, SIG_IGN);
  auto broker = ChildProcess::spawn({rivulet::testing::rivulet_binary(), "broker", "--topic",
                                     "mk_orders:4", "--topic", "mk_acc:4", "--topic", "mk_hdr:1"});
  REQUIRE(broker.has_value());
  auto bootstrap = broker->read_line();
  REQUIRE(bootstrap.has_value());
  // Nine (user, region) groups over four partitions, and a table keyed by
  // (A, B) whose keys kcat writes as compact JSON.
  std::string orders;
  const std::vector<std::pair<std::string, std::string>> groups{
      {"u1", "eu"}, {"u1", "us"}, {"u2", "us"}, {"u3", "eu"}, {"u4", "ap"},
      {"u5", "eu"}, {"u6", "us"}, {"u7", "eu"}, {"u8", "ap"}};
  for (const auto& [uid, region] : groups)
    orders += uid + "|{\"REGION\": \"" + region + "\", \"AMOUNT\": 1}\n";
  orders += "u1|{\"REGION\": \"eu\", \"AMOUNT\": 1}\n";  // (u1, eu) counts 2
  REQUIRE(run_command("kcat -b " + *bootstrap +
                          " -X partitioner=murmur2_random -P -K '|' -t mk_orders",
                      orders)
              .first == 0);
  std::string acc;
  for (int a = 1; a <= 8; ++a)
    acc += "{\"A\":" + std::to_string(a) + ",\"B\":\"" + (a % 2 ? "x" : "y") + "\"}|{\"V\":" +
           std::to_string(a * 10) + "}\n";
  REQUIRE(run_command("kcat -b " + *bootstrap +
                          " -X partitioner=murmur2_random -P -K '|' -t mk_acc",
                      acc)
              .first == 0);

  ShellSession session(*bootstrap, "rivulet-sql-keys-XXXXXX");
  auto& shell = session.shell;
  const std::string& errors = session.errors;
  const int& line = session.line;
  auto send = [&](const std::string& text) { session.send(text); };
  send("SET 'auto.offset.reset'='earliest';\n"
       "CREATE STREAM ORDERS (UID STRING KEY, REGION STRING, AMOUNT DOUBLE)\n"
       "  WITH (kafka_topic='mk_orders', value_format='JSON');\n"
       "CREATE TABLE BYREG WITH (KEY_FORMAT='JSON') AS\n"
       "  SELECT REGION, UID, COUNT(*) AS N FROM ORDERS GROUP BY UID, REGION;\n"
       "CREATE TABLE HOURLY WITH (KEY_FORMAT='JSON') AS\n"
       "  SELECT UID, REGION, COUNT(*) AS N FROM ORDERS WINDOW TUMBLING (SIZE 1 HOUR)\n"
       "  GROUP BY UID, REGION;\n"
       "CREATE TABLE ACC (A INT PRIMARY KEY, B STRING PRIMARY KEY, V INT)\n"
       "  WITH (kafka_topic='mk_acc', key_format='JSON', value_format='JSON');\n"
       "CREATE TABLE ACCQ AS SELECT * FROM ACC;\n");
  auto started = read_until(*shell, "Table created and running (query CTAS_ACCQ");
  INFO(slurp(errors));
  REQUIRE(has_line(started, "Table created and running (query CTAS_ACCQ"));

  // A scan: every group, its key columns in GROUP BY order (ksqlDB's).
  std::vector<std::string> result;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    send("SELECT * FROM BYREG;\n");
    result = read_until(*shell, "(");
    if (has_line(result, "(9 rows)") && has_line(result, "| u1  | eu     | 2 |")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  INFO(slurp(errors));
  REQUIRE(has_line(result, "| UID | REGION | N |"));
  REQUIRE(has_line(result, "(9 rows)"));
  // Every group found by the lookup of its whole key (either order of the
  // conjuncts): the key is placed in the task that holds it, or the
  // lookup would answer no row.
  for (const auto& [uid, region] : groups) {
    send("SELECT UID, REGION, N FROM BYREG WHERE REGION = '" + region + "' AND UID = '" + uid +
         "';\n");
    result = read_until(*shell, "(");
    INFO(uid << " " << region);
    CHECK(has_line(result, "| " + uid + "  | " + region + "     | " +
                               (uid == "u1" && region == "eu" ? "2" : "1") + " |"));
    CHECK(result.back() == "(1 row)");
  }
  send("SELECT * FROM BYREG WHERE UID = 'u2' AND REGION = 'eu';\n");  // no such group
  result = read_until(*shell, "(");
  CHECK(result.back() == "(0 rows)");
  // One key column of two: a scan, filtered.
  send("SELECT REGION FROM BYREG WHERE UID = 'u1';\n");
  result = read_until(*shell, "(");
  CHECK(has_line(result, "| eu     |"));
  CHECK(has_line(result, "| us     |"));
  CHECK(result.back() == "(2 rows)");

  // A windowed table of two key columns: the key's window.
  result = pull_until(session,
                      "SELECT UID, REGION, N, WINDOWEND - WINDOWSTART AS SPAN FROM HOURLY\n"
                      "  WHERE UID = 'u1' AND REGION = 'eu';\n",
                      "| u1  | eu     | 2 | 3600000 |");
  CHECK(has_line(result, "| u1  | eu     | 2 | 3600000 |"));
  CHECK(result.back() == "(1 row)");
  // The same topic read as a windowed stream: every update, each with the
  // window its key carries.
  send("CREATE STREAM HOURLY_CHANGES (UID STRING KEY, REGION STRING KEY, N BIGINT)\n"
       "  WITH (kafka_topic='HOURLY', key_format='JSON', value_format='JSON',\n"
       "  window_type='TUMBLING', window_size='1 HOUR');\n");
  CHECK(has_line(read_until(*shell, "Stream created"), "Stream created"));
  send("SELECT UID, REGION, N, WINDOWEND - WINDOWSTART AS SPAN FROM HOURLY_CHANGES\n"
       "  WHERE UID = 'u1' AND REGION = 'eu' AND N = 2;\n");
  result = read_until(*shell, "(");
  CHECK(has_line(result, "| u1  | eu     | 2 | 3600000 |"));
  CHECK(result.back() == "(1 row)");
  send("SELECT * FROM HOURLY_CHANGES WHERE WINDOWSTART > 0 LIMIT 1;\n");
  result = read_until(*shell, "(");
  CHECK(has_line(result, "| UID | REGION | WINDOWSTART "));
  CHECK(result.back() == "(1 row)");
  CHECK(shell->read_line() == std::optional<std::string>("Limit Reached"));

  // A source table keyed by (A, B) through a CTAS: each key looked up.
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    send("SELECT * FROM ACCQ;\n");
    result = read_until(*shell, "(");
    if (has_line(result, "(8 rows)")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  REQUIRE(has_line(result, "(8 rows)"));
  for (int a = 1; a <= 8; ++a) {
    const std::string b = a % 2 ? "x" : "y";
    send("SELECT * FROM ACCQ WHERE A = " + std::to_string(a) + " AND B = '" + b + "';\n");
    result = read_until(*shell, "(");
    INFO(a);
    CHECK(has_line(result, "| " + std::to_string(a) + " | " + b + " | " + std::to_string(a * 10) +
                               " |"));
    CHECK(result.back() == "(1 row)");
  }

  // SHOW TOPICS leaves out internal topics (the GROUP BY's repartition
  // topic, the embedded broker's control topic); SHOW ALL TOPICS lists them.
  auto topics_listed = [&](const std::string& statement) {
    send(statement);
    std::vector<std::string> lines;
    int rules = 0;
    while (rules < 3) {
      auto l = shell->read_line();
      if (!l) break;
      lines.push_back(*l);
      if (l->rfind("+", 0) == 0) ++rules;
    }
    return lines;
  };
  auto listed = topics_listed("SHOW TOPICS;\n");
  CHECK(has_line(listed, "| mk_orders "));
  CHECK(has_line(listed, "| BYREG "));
  CHECK_FALSE(has_line(listed, "-repartition "));
  CHECK_FALSE(has_line(listed, "| __rivulet_broker_control "));
  listed = topics_listed("SHOW ALL TOPICS;\n");
  CHECK(has_line(listed, "| mk_orders "));
  CHECK(has_line(listed, "-repartition "));
  CHECK(has_line(listed, "| __rivulet_broker_control "));

  // PRINT: the orders as kcat wrote them, their formats guessed first.
  send("PRINT mk_orders FROM BEGINNING LIMIT 3;\n");
  auto printed = read_until(*shell, "Topic printing ceased");
  REQUIRE(printed.size() == 6);
  CHECK(printed[0] == "Key format: KAFKA_STRING");
  CHECK(printed[1] == "Value format: JSON or KAFKA_STRING");
  const std::regex order_line(
      R"(rowtime: \d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{3} Z, key: u\d, )"
      R"(value: \{"REGION": "[a-z]+", "AMOUNT": 1\}, partition: [0-3])");
  for (size_t i = 2; i < 5; ++i) {
    INFO(printed[i]);
    CHECK(std::regex_match(printed[i], order_line));
  }
  // A windowed sink: JSON keys in Kafka's time-windowed format; every
  // second record.
  send("PRINT 'HOURLY' FROM BEGINNING INTERVAL 2 LIMIT 2;\n");
  printed = read_until(*shell, "Topic printing ceased");
  REQUIRE(printed.size() == 5);
  CHECK(printed[0].rfind("Key format: HOPPING(JSON) or TUMBLING(JSON)", 0) == 0);
  CHECK(printed[1] == "Value format: JSON or KAFKA_STRING");
  const std::regex window_line(
      R"(rowtime: .* Z, key: \[\{"UID":"u\d","REGION":"[a-z]+"\}@\d{13}/-\], )"
      R"(value: \{"N":\d\}, partition: [0-3])");
  for (size_t i = 2; i < 4; ++i) {
    INFO(printed[i]);
    CHECK(std::regex_match(printed[i], window_line));
  }
  // --output json: one object per record.
  auto [json_rc, json_out] = run_command(
      rivulet::testing::rivulet_binary() + " sql --output json --bootstrap " + *bootstrap +
          " -e \"PRINT mk_orders FROM BEGINNING LIMIT 1;\"",
      "", 30);
  CHECK(json_rc == 0);
  auto record = nlohmann::json::parse(json_out, nullptr, false);
  INFO(json_out);
  REQUIRE(record.is_object());
  CHECK(record["rowtime"].get<int64_t>() > 1700000000000);
  CHECK(record["partition"].get<int>() < 4);
  CHECK(record["offset"] == 0);
  CHECK(record["key"].get<std::string>().rfind("u", 0) == 0);
  CHECK(nlohmann::json::parse(record["value"].get<std::string>())["AMOUNT"] == 1);
  // Two sessions of one configured application.id: each push query from
  // the earliest reads the orders again (its consumer group is its own).
  for (int session_no = 1; session_no <= 2; ++session_no) {
    auto [push_rc, push_out] = run_command(
        rivulet::testing::rivulet_binary() + " sql --bootstrap " + *bootstrap +
            " --set application.id=same-app -e \"CREATE STREAM O (UID STRING KEY, REGION STRING) "
            "WITH (kafka_topic='mk_orders', value_format='JSON'); SET 'auto.offset.reset'="
            "'earliest'; SELECT UID FROM O EMIT CHANGES LIMIT 2;\" 2>&1",
        "", 60);
    INFO("session " << session_no << ": " << push_out);
    CHECK(push_rc == 0);
    CHECK(push_out.find("Limit Reached") != std::string::npos);
  }
  // Without FROM BEGINNING: only records produced after it started.
  send("PRINT mk_orders LIMIT 1;\n");
  std::atomic<bool> seen{false};
  std::thread late([&] {
    while (!seen)  {
      run_command("kcat -b " + *bootstrap + " -P -K '|' -t mk_orders", "late|{\"REGION\": \"zz\"}\n");
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  });
  printed = read_until(*shell, "Topic printing ceased");
  seen = true;
  late.join();
  REQUIRE(printed.size() == 4);
  INFO(printed[2]);
  CHECK(printed[2].find(", key: late, value: {\"REGION\": \"zz\"}, partition: ") !=
        std::string::npos);
  // A pull query on the stream: a record it cannot read is skipped, counted
  // and named on stderr (topic/partition@offset); LIMIT ends it.
  REQUIRE(run_command("kcat -b " + *bootstrap + " -P -K '|' -t mk_orders -p 2",
                      "bad|not json\n").first == 0);
  send("SELECT UID, REGION FROM ORDERS WHERE UID = 'late';\n");
  result = read_until(*shell, "(");
  CHECK(has_line(result, "| late | zz     |"));
  send("SELECT UID FROM ORDERS WHERE UID = 'u1' LIMIT 2;\n");  // u1 has 3
  result = read_until(*shell, "(");
  CHECK(result.back() == "(2 rows)");
  CHECK(shell->read_line() == std::optional<std::string>("Limit Reached"));
  // SET 'auto.offset.reset' = 'latest': a persistent query started now
  // reads only the orders written after it started.
  send("SET 'auto.offset.reset' = 'latest';\n");
  CHECK(has_line(read_until(*shell, "Successfully"), "Successfully"));
  send("CREATE STREAM FRESH WITH (kafka_topic='mk_fresh') AS SELECT UID, REGION FROM ORDERS;\n");
  CHECK(has_line(read_until(*shell, "Stream created"), "Stream created and running"));
  REQUIRE(run_command("kcat -b " + *bootstrap + " -P -K '|' -t mk_orders",
                      "fresh|{\"REGION\": \"nn\", \"AMOUNT\": 1}\n")
              .first == 0);
  std::string fresh;
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline && fresh.empty()) {
    fresh = run_command("kcat -b " + *bootstrap + " -C -t mk_fresh -o beginning -e -q -f '%k\\n'",
                        "", 30)
                .second;
    if (fresh.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  CHECK(fresh == "fresh\n");
  send("UNSET 'auto.offset.reset';\n");
  CHECK(has_line(read_until(*shell, "Successfully"), "Successfully"));
  // HEADER and HEADERS columns, written by kcat as record headers: read by
  // a pull query (the shell reads the topic) and a push query (a running
  // query), and named by DESCRIBE.
  REQUIRE(run_command(
              "kcat -b " + *bootstrap + " -P -K '|' -t mk_hdr -H trace=abc -H src=web -H trace=xyz",
              "h1|{\"URL\": \"/a\"}\n")
              .first == 0);
  send(
      "CREATE STREAM HDR (ID STRING KEY, URL STRING, TRACE BYTES HEADER('trace'),\n"
      "  HS ARRAY<STRUCT<KEY STRING, VALUE BYTES>> HEADERS)\n"
      "  WITH (kafka_topic='mk_hdr', value_format='JSON');\n");
  CHECK(has_line(read_until(*shell, "Stream created"), "Stream created"));
  send(
      "SELECT ID, FROM_BYTES(TRACE, 'utf8') AS T, ARRAY_LENGTH(HS) AS N,\n"
      "  FROM_BYTES(HS[2]->VALUE, 'utf8') AS SRC FROM HDR;\n");
  result = read_until(*shell, "(");
  CHECK(has_line(result, "| h1 | xyz | 3 | web |"));
  CHECK(result.back() == "(1 row)");
  send("SET 'auto.offset.reset' = 'earliest';\n");
  CHECK(has_line(read_until(*shell, "Successfully"), "Successfully"));
  send("SELECT ID, FROM_BYTES(TRACE, 'utf8') AS T FROM HDR EMIT CHANGES LIMIT 1;\n");
  result = read_until(*shell, "Limit Reached");
  INFO(slurp(errors));
  CHECK(
      std::regex_search(result.size() > 4 ? result[3] : "", std::regex(R"(^\| h1 +\| xyz +\|$)")));
  send("UNSET 'auto.offset.reset';\n");
  CHECK(has_line(read_until(*shell, "Successfully"), "Successfully"));
  send("DESCRIBE HDR;\n");
  result = read_until(*shell, "+--");
  result = read_until(*shell, "+--");
  result = read_until(*shell, "+--");
  CHECK(has_line(result, "| TRACE | BYTES  (header('trace'))"));
  CHECK(has_line(result, "| HS    | ARRAY<STRUCT<KEY STRING, VALUE BYTES>>  (headers)"));
  // Ctrl-C ends a PRINT without LIMIT, not the session.
  send("PRINT mk_orders;\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ::kill(shell->pid(), SIGINT);
  CHECK(read_until(*shell, "Topic printing ceased").back() == "Topic printing ceased");
  send("PRINT MK_ORDERS;\n");
  const int missing_topic_line = line;

  // Scans off: the whole key is still one lookup; less is refused.
  send("SET 'ksql.query.pull.table.scan.enabled'='false';\n");
  CHECK(has_line(read_until(*shell, "Successfully"), "Successfully"));
  send("SELECT N FROM BYREG WHERE UID = 'u1' AND REGION = 'us';\n");
  result = read_until(*shell, "(");
  CHECK(has_line(result, "| 1 |"));
  send("SELECT N FROM BYREG WHERE UID = 'u1';\n");
  const int refused_line = line;
  shell->close_stdin();
  CHECK(shell->wait(std::chrono::seconds(30)) == 1);
  const std::string err = slurp(errors);
  INFO(err);
  CHECK(err.find("warning: 1 record of ORDERS could not be read and was skipped (the first, "
                 "mk_orders/2@") != std::string::npos);
  CHECK(err.find("line " + std::to_string(missing_topic_line) +
                 ":7: Could not find topic 'MK_ORDERS'. Topic names are case-sensitive "
                 "(did you mean 'mk_orders'?)") != std::string::npos);
  CHECK(err.find("line " + std::to_string(refused_line) + ":27: table scans are off ('ksql.query.pull.table.scan.enabled' is "
                 "'false'): ask for one key, WHERE UID = <literal> AND REGION = <literal>") !=
        std::string::npos);
  CHECK(broker->stop(SIGTERM) == 0);
}

// ASSERT TOPIC, as a script waiting for its topics uses it: a topic created
// while it waits (by INSERT INTO ... VALUES in another session) is found; a
// PARTITIONS mismatch fails at once; NOT EXISTS; a timeout is an error at
// the topic's line:column and the script goes on.
TEST_CASE("rivulet sql: ASSERT TOPIC waits for a topic, within its timeout", "[integration][sql]") {
  auto broker = ChildProcess::spawn({rivulet::testing::rivulet_binary(), "broker"});
  REQUIRE(broker.has_value());
  auto bootstrap = broker->read_line();
  REQUIRE(bootstrap.has_value());
  const std::string sql = rivulet::testing::rivulet_binary() + " sql --bootstrap " + *bootstrap;
  std::thread creator([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    run_command(sql +
                    " -e \"CREATE STREAM L (K STRING KEY, V INT) WITH (kafka_topic='later', "
                    "value_format='JSON', partitions=2); INSERT INTO L VALUES ('a', 1);\"",
                "", 60);
  });
  auto [rc, out] = run_command(sql + " 2>&1",
                               "ASSERT NOT EXISTS TOPIC later;\n"
                               "ASSERT TOPIC later WITH (PARTITIONS=2) TIMEOUT 30 SECONDS;\n"
                               "ASSERT TOPIC 'later' WITH (PARTITIONS=3);\n"
                               "ASSERT TOPIC never TIMEOUT 300 MILLISECONDS;\n"
                               "ASSERT NOT EXISTS TOPIC later;\n",
                               90);
  creator.join();
  INFO(out);
  CHECK(rc == 1);
  CHECK(out.find("Topic later does not exist.\nTopic later exists.\n") != std::string::npos);
  CHECK(out.find("line 3:14: Mismatched configuration for topic later: For config partitions, "
                 "expected 3 got 2") != std::string::npos);
  CHECK(out.find("line 4:14: Topic never does not exist.") != std::string::npos);
  CHECK(out.find("line 5:25: Topic later exists.") != std::string::npos);
  CHECK(broker->stop(SIGTERM) == 0);
}

// ASSERT SCHEMA against `rivulet schema-registry`'s registry (in this
// process): a subject registered while it waits is found; an id; an id
// under a subject, and not under another (an error at SCHEMA's
// line:column after the timeout); NOT EXISTS. Without a registry it is
// refused.
TEST_CASE("rivulet sql: ASSERT SCHEMA waits for a subject or an id", "[integration][sql]") {
  auto started = rivulet::connectors::LocalSchemaRegistry::start();
  REQUIRE(started.ok());
  auto& registry = **started;
  auto broker = ChildProcess::spawn({rivulet::testing::rivulet_binary(), "broker"});
  REQUIRE(broker.has_value());
  auto bootstrap = broker->read_line();
  REQUIRE(bootstrap.has_value());
  const std::string sql = rivulet::testing::rivulet_binary() + " sql --bootstrap " + *bootstrap;
  bool registered = false;
  std::thread registrar([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    registered = registry.registry().register_schema("later-value", R"("string")").ok();
  });
  auto [rc, out] =
      run_command(sql + " --set schema.registry.url=" + registry.url() + " 2>&1",
                  "ASSERT SCHEMA SUBJECT 'later-value' TIMEOUT 30 SECONDS;\n"
                  "ASSERT SCHEMA ID 1;\n"
                  "ASSERT SCHEMA SUBJECT 'later-value' ID 1;\n"
                  "ASSERT SCHEMA SUBJECT 'other-value' ID 1 TIMEOUT 300 MILLISECONDS;\n"
                  "ASSERT NOT EXISTS SCHEMA ID 2;\n"
                  "ASSERT NOT EXISTS SCHEMA SUBJECT 'later-value';\n",
                  90);
  registrar.join();
  REQUIRE(registered);
  INFO(out);
  CHECK(rc == 1);
  CHECK(out.find("Schema with subject later-value exists.\nSchema with id 1 exists.\n"
                 "Schema with subject later-value id 1 exists.\n") != std::string::npos);
  CHECK(out.find("line 4:8: Schema with subject name other-value id 1 does not exist") !=
        std::string::npos);
  CHECK(out.find("Schema with id 2 does not exist.") != std::string::npos);
  CHECK(out.find("line 6:19: Schema with subject name later-value exists") != std::string::npos);

  auto [no_rc, no_out] = run_command(sql + " 2>&1", "ASSERT SCHEMA ID 1;\n", 60);
  INFO(no_out);
  CHECK(no_rc == 1);
  CHECK(no_out.find("line 1:8: ASSERT SCHEMA needs a schema registry: set schema.registry.url") !=
        std::string::npos);
  CHECK(broker->stop(SIGTERM) == 0);
}

// PAUSE and RESUME (ksqlDB's): a paused query's table keeps its rows and
// does not change while records arrive; SHOW QUERIES says PAUSED; after
// RESUME it catches up. Unknown ids are refused at their line:column.
TEST_CASE("rivulet sql: PAUSE and RESUME a persistent query", "[integration][sql]") {
  ::signal(SIGPIPE, SIG_IGN);
  auto broker =
      ChildProcess::spawn({rivulet::testing::rivulet_binary(), "broker", "--topic", "pr_orders:2"});
  REQUIRE(broker.has_value());
  auto bootstrap = broker->read_line();
  REQUIRE(bootstrap.has_value());
  const std::string produce =
      "kcat -b " + *bootstrap + " -X partitioner=murmur2_random -P -K '|' -t pr_orders";
  REQUIRE(run_command(produce, "u1|{\"AMOUNT\": 1}\nu1|{\"AMOUNT\": 2}\n").first == 0);

  ShellSession session(*bootstrap, "rivulet-sql-pause-XXXXXX");
  auto& shell = session.shell;
  session.send(
      "CREATE STREAM ORDERS (UID STRING KEY, AMOUNT DOUBLE)\n"
      "  WITH (kafka_topic='pr_orders', value_format='JSON');\n"
      "CREATE TABLE COUNTS AS SELECT UID, COUNT(*) AS N FROM ORDERS GROUP BY UID;\n");
  REQUIRE(read_until(*shell, "Table created and running").size() == 2);
  auto result = pull_until(session, "SELECT N FROM COUNTS WHERE UID = 'u1';\n", "| 2 |");
  INFO(slurp(session.errors));
  REQUIRE(has_line(result, "| 2 |"));

  session.send("PAUSE ctas_counts_0;\n");
  auto paused = shell->read_line();
  REQUIRE(paused.has_value());
  CHECK(*paused == "Query CTAS_COUNTS_0 paused.");
  REQUIRE(run_command(produce, "u1|{\"AMOUNT\": 3}\nu1|{\"AMOUNT\": 4}\n").first == 0);
  session.send("SHOW QUERIES;\n");
  result = read_until(*shell, "+--");
  result = read_until(*shell, "+--");
  result = read_until(*shell, "+--");
  CHECK(has_line(result, "| CTAS_COUNTS_0 | PAUSED "));
  // Well past the commit interval (100 ms) and the consumer's waits: still 2.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  session.send("SELECT N FROM COUNTS WHERE UID = 'u1';\n");
  result = read_until(*shell, "(");
  CHECK(has_line(result, "| 2 |"));

  session.send("RESUME ALL;\n");
  auto resumed = shell->read_line();
  REQUIRE(resumed.has_value());
  CHECK(*resumed == "1 query resumed.");
  result = pull_until(session, "SELECT N FROM COUNTS WHERE UID = 'u1';\n", "| 4 |");
  CHECK(has_line(result, "| 4 |"));
  session.send("SHOW QUERIES;\n");
  result = read_until(*shell, "+--");
  result = read_until(*shell, "+--");
  result = read_until(*shell, "+--");
  CHECK(has_line(result, "| CTAS_COUNTS_0 | RUNNING "));

  // WITH (QUERY_ID=...) names a query; PAUSE and TERMINATE take that name,
  // and once terminated the name may be given again.
  session.send(
      "CREATE TABLE TOTALS WITH (QUERY_ID='totals') AS\n"
      "  SELECT UID, SUM(AMOUNT) AS T FROM ORDERS GROUP BY UID;\n");
  auto named = shell->read_line();
  REQUIRE(named.has_value());
  CHECK(named->rfind("Table created and running (query TOTALS, application.id=", 0) == 0);
  CHECK(named->find("-totals, 2 partitions)") != std::string::npos);
  session.send(
      "PAUSE totals;\nTERMINATE TOTALS;\nDROP TABLE TOTALS;\n"
      "CREATE TABLE TOTALS WITH (QUERY_ID='totals') AS\n"
      "  SELECT UID, SUM(AMOUNT) AS T FROM ORDERS GROUP BY UID;\n");
  auto named_paused = shell->read_line();
  REQUIRE(named_paused.has_value());
  CHECK(*named_paused == "Query TOTALS paused.");
  auto terminated = shell->read_line();
  REQUIRE(terminated.has_value());
  CHECK(*terminated == "Query terminated.");
  REQUIRE(read_until(*shell, "Table created and running (query TOTALS,").size() == 2);
  result = pull_until(session, "SELECT T FROM TOTALS WHERE UID = 'u1';\n", "| 10.0 |");
  CHECK(has_line(result, "| 10.0 |"));

  session.send("\n  RESUME NOPE;\n");
  const int nope_line = session.line;
  shell->close_stdin();
  CHECK(shell->wait(std::chrono::seconds(30)) == 1);  // a statement failed
  CHECK(slurp(session.errors)
            .find("line " + std::to_string(nope_line) +
                  ":10: Unknown queryId: NOPE (SHOW QUERIES lists them)") != std::string::npos);
  CHECK(broker->stop(SIGTERM) == 0);
}

TEST_CASE("rivulet sql -e and scripts: DDL without Kafka, errors with line:column, exit status",
          "[integration][sql]") {
  const std::string bin = rivulet::testing::rivulet_binary();
  // DDL and SHOW need no broker; two statements on one line, one over two.
  auto [ok_rc, ok_out] = run_command(
      bin + " sql -e \"CREATE STREAM S (K STRING KEY, V INT) WITH (kafka_topic='s', "
            "value_format='JSON'); SHOW STREAMS;\"",
      "", 30);
  INFO(ok_out);
  CHECK(ok_rc == 0);
  CHECK(ok_out.find("Stream created") != std::string::npos);
  CHECK(ok_out.find("| S           | s           | KAFKA      | JSON ") != std::string::npos);
  // A script on stdin: the error's position is the input's; the statements
  // after it still run; the exit status says something failed.
  auto [bad_rc, bad_out] = run_command(
      bin + " sql 2>&1",
      "CREATE TABLE T (K STRING PRIMARY KEY, V INT)\n  WITH (kafka_topic='t', value_format='JSON');\n"
      "DESCRIBE T; SELECT *\n  FROM; SELECT V FROM T WHERE K = 'a';\nDESCRIBE NOPE;\nSHOW TABLES",
      30);
  INFO(bad_out);
  CHECK(bad_rc == 1);
  CHECK(bad_out.find("line 4:7: mismatched input ';' expecting a source name") != std::string::npos);
  CHECK(bad_out.find("line 4:23: table T is not materialized by a running query") !=
        std::string::npos);
  CHECK(bad_out.find("line 5:10: Source `NOPE` does not exist") != std::string::npos);
  CHECK(bad_out.find("| V     | INTEGER ") != std::string::npos);
  CHECK(bad_out.find("| T          | t ") != std::string::npos);  // the last statement, without ';'

  // RUN SCRIPT: a file's statements in the session (the last without ';'),
  // a script that runs another; the first error names the file's
  // line:column and stops that script only.
  const auto scripts = std::filesystem::temp_directory_path() /
                       ("rivulet-run-script-" + std::to_string(::getpid()));
  std::filesystem::create_directories(scripts);
  const std::string inner = (scripts / "inner.sql").string();
  const std::string outer = (scripts / "outer.sql").string();
  const std::string broken = (scripts / "broken.sql").string();
  std::ofstream(inner) << "-- the table\nCREATE TABLE INNER_T (K STRING PRIMARY KEY, V INT)\n"
                          "  WITH (kafka_topic='it', value_format='JSON')";
  std::ofstream(outer) << "CREATE STREAM OUTER_S (K STRING KEY, V INT) WITH (kafka_topic='os', "
                          "value_format='JSON');\nRUN SCRIPT '" << inner << "';\n";
  std::ofstream(broken) << "CREATE STREAM B2 (K STRING KEY) WITH (kafka_topic='b2', "
                           "value_format='JSON');\n\n  DESCRIBE NOPE;\nCREATE STREAM NEVER (K "
                           "STRING KEY) WITH (kafka_topic='n', value_format='JSON');\n";
  auto [script_rc, script_out] = run_command(
      bin + " sql 2>&1",
      "RUN SCRIPT '" + outer + "';\nSHOW TABLES;\nSHOW STREAMS;\n  RUN SCRIPT '" + broken +
          "';\nDESCRIBE NEVER;\nRUN SCRIPT '/nonexistent/x.sql';\n",
      30);
  INFO(script_out);
  CHECK(script_rc == 1);
  CHECK(script_out.find("| INNER_T ") != std::string::npos);
  CHECK(script_out.find("| OUTER_S ") != std::string::npos);
  CHECK(script_out.find(broken + ": line 3:12: Source `NOPE` does not exist") !=
        std::string::npos);
  CHECK(script_out.find("line 4:14: script '" + broken + "' stopped at its first error") !=
        std::string::npos);
  CHECK(script_out.find("line 5:10: Source `NEVER` does not exist") != std::string::npos);
  CHECK(script_out.find("line 6:12: cannot read script '/nonexistent/x.sql'") !=
        std::string::npos);
  std::filesystem::remove_all(scripts);

  // The catalog of functions, and DESCRIBE of every stream and of a
  // windowed source, without a broker.
  auto [fn_rc, fn_out] = run_command(
      bin + " sql 2>&1",
      "SHOW FUNCTIONS;\nDESCRIBE FUNCTION substring;\nDESCRIBE FUNCTION nope;\n"
      "CREATE STREAM A1 (K STRING KEY, V INT) WITH (kafka_topic='a1', value_format='JSON');\n"
      "CREATE STREAM B1 (K STRING KEY, W INT) WITH (kafka_topic='b1', value_format='JSON');\n"
      "CREATE TABLE WIN (K STRING PRIMARY KEY, N BIGINT) WITH (kafka_topic='win', "
      "value_format='JSON', window_type='TUMBLING', window_size='10 SECONDS');\n"
      "DESCRIBE STREAMS;\nDESCRIBE WIN;\n",
      30);
  INFO(fn_out);
  CHECK(fn_rc == 1);  // the unknown function
  CHECK(fn_out.find("| Function Name ") != std::string::npos);
  CHECK(fn_out.find("| SUBSTRING ") != std::string::npos);
  CHECK(fn_out.find("| COUNT ") != std::string::npos);
  CHECK(fn_out.find("| AGGREGATE ") != std::string::npos);
  CHECK(fn_out.find("Name                 : SUBSTRING\nType                 : SCALAR\n"
                    "Signature            : SUBSTRING(") != std::string::npos);
  CHECK(fn_out.find("line 3:19: Can't find any functions with the name 'NOPE'") !=
        std::string::npos);
  CHECK(fn_out.find("Name                 : A1\n") != std::string::npos);
  CHECK(fn_out.find("Name                 : B1\n") != std::string::npos);
  CHECK(fn_out.find("| W     | INTEGER ") != std::string::npos);
  CHECK(fn_out.find("Name                 : WIN\nType                 : TABLE\n"
                    "Kafka topic          : win (key KAFKA, value JSON)\n"
                    "Windowed             : TUMBLING (size 10000 ms)\n") != std::string::npos);

  // EXPLAIN plans a persistent query without a broker and without starting
  // it: the session's catalog is unchanged afterwards.
  const std::string ddl =
      "CREATE STREAM EV (AD STRING KEY, KIND STRING, N INT) WITH (kafka_topic='ev', "
      "value_format='JSON');\n"
      "CREATE TABLE ADS (AD STRING PRIMARY KEY, CAMPAIGN STRING) WITH (kafka_topic='ads', "
      "value_format='JSON');\n";
  const std::string query =
      "CREATE STREAM VIEWS AS SELECT E.AD AS AD, CAMPAIGN FROM EV E JOIN ADS A ON E.AD = A.AD "
      "WHERE KIND = 'view';";
  auto [ex_rc, ex_out] = run_command(
      bin + " sql 2>&1",
      ddl + "EXPLAIN " + query +
          "\nSHOW STREAMS;\nEXPLAIN NOPE;\n"
          "EXPLAIN DROP STREAM EV;\nEXPLAIN SELECT N FROM EV WHERE N > 1 EMIT CHANGES;\n"
          "EXPLAIN SELECT * FROM ADS WHERE AD = 'a';\n",
      30);
  INFO(ex_out);
  CHECK(ex_rc == 1);  // the unknown query id
  CHECK(ex_out.find("Query ID             : CSAS_VIEWS_0\n") != std::string::npos);
  CHECK(ex_out.find("Running              : no (EXPLAIN does not start it)\n") !=
        std::string::npos);
  CHECK(ex_out.find("  EV  stream  topic ev  key KAFKA  value JSON  decodes KIND (1 of 2 value "
                    "columns checked, not decoded: N)\n") != std::string::npos);
  CHECK(ex_out.find("CSAS_VIEWS_0-where-before-join") != std::string::npos);
  CHECK(ex_out.find("| VIEWS") == std::string::npos);  // not created
  CHECK(ex_out.find("line 5:9: Unknown queryId: NOPE") != std::string::npos);
  CHECK(ex_out.find("line 6:9: EXPLAIN takes CREATE STREAM|TABLE ... AS SELECT, INSERT INTO ... "
                    "SELECT, a push query") != std::string::npos);
  // A push query is planned too (not started); a pull query has no plan.
  CHECK(ex_out.find("Query ID             : (push query)\n") != std::string::npos);
  CHECK(ex_out.find("  EV  stream  topic ev  key KAFKA  value JSON  decodes N (1 of 2 value "
                    "columns checked, not decoded: KIND)\n") != std::string::npos);
  CHECK(ex_out.find("line 8:9: EXPLAIN takes") != std::string::npos);

  // --output json: one object per EXPLAIN.
  auto [json_rc, json_out] =
      run_command(bin + " sql --output json 2>&1", ddl + "EXPLAIN " + query + "\n", 30);
  INFO(json_out);
  CHECK(json_rc == 0);
  CHECK(json_out.find("{\"plan\":\"Sources:\\n  EV  stream  topic ev") != std::string::npos);
  CHECK(json_out.find("\"queryId\":\"CSAS_VIEWS_0\"") != std::string::npos);
  // DESCRIBE ... EXTENDED with --output json: one object, columns included
  // (no Kafka here: no partitions, no running query).
  auto [described_rc, described_out] =
      run_command(bin + " sql --output json", ddl + "DESCRIBE EV EXTENDED;\n", 30);
  INFO(described_out);
  CHECK(described_rc == 0);
  // After the DDL's {"message": ...} lines, the description.
  const size_t last_line = described_out.rfind('\n', described_out.size() - 2);
  auto described = nlohmann::json::parse(
      described_out.substr(last_line == std::string::npos ? 0 : last_line + 1), nullptr, false);
  REQUIRE(described.is_object());
  CHECK(described["name"] == "EV");
  CHECK(described["type"] == "STREAM");
  CHECK(described["fields"] ==
        nlohmann::json::parse(R"([{"name": "AD", "type": "STRING", "key": true},
                                  {"name": "KIND", "type": "STRING", "key": false},
                                  {"name": "N", "type": "INTEGER", "key": false}])"));
  CHECK(described["statement"].get<std::string>().rfind("CREATE STREAM EV (AD STRING KEY", 0) == 0);
  CHECK(described["timestamp"] == "Not set - using <ROWTIME>");
  CHECK(described["partitions"].is_null());
  CHECK(described["readQueries"] == nlohmann::json::array());
  CHECK(described["statistics"] == nlohmann::json::object());

  // SHOW PROPERTIES: what a query started now runs with, each value's
  // origin, secrets hidden; then EXIT on a line of its own ends the script
  // (the SHOW after it never runs).
  auto [props_rc, props_out] = run_command(
      bin + " sql --set cluster.secret=hunter2 --set commit.interval.ms=250 2>&1",
      "SET 'ksql.functions.collect_list.limit' = '7';\nSET 'checkpoint.interval.ms' = '900';\n"
      "SET 'ksql.streams.auto.offset.reset' = 'latest';\n"
      "SHOW PROPERTIES;\nexit\nSHOW STREAMS;\n",
      30);
  INFO(props_out);
  CHECK(props_rc == 0);
  CHECK(props_out.find("| Property ") != std::string::npos);
  CHECK(props_out.find("| Set by ") != std::string::npos);
  CHECK(std::regex_search(props_out,
                          std::regex(R"(\| cluster\.secret +\| \[hidden\] +\| --set +\|)")));
  CHECK(props_out.find("hunter2") == std::string::npos);
  CHECK(
      std::regex_search(props_out, std::regex(R"(\| commit\.interval\.ms +\| 250 +\| --set +\|)")));
  CHECK(std::regex_search(props_out,
                          std::regex(R"(\| checkpoint\.interval\.ms +\| 900 +\| SET +\|)")));
  CHECK(std::regex_search(
      props_out, std::regex(R"(\| ksql\.functions\.collect_list\.limit +\| 7 +\| SET +\|)")));
  CHECK(std::regex_search(
      props_out, std::regex(R"(\| processing\.guarantee +\| at_least_once +\| default +\|)")));
  // ksqlDB's spelling sets Rivulet's key, shown once.
  CHECK(
      std::regex_search(props_out, std::regex(R"(\| auto\.offset\.reset +\| latest +\| SET +\|)")));
  CHECK(props_out.find("| ksql.streams.auto.offset.reset") == std::string::npos);
  // Each query's own application.id, and the shell's quieter logs.
  CHECK(std::regex_search(
      props_out,
      std::regex(R"(\| application\.id +\| rivulet-sql-[0-9]+-query_id +\| shell +\|)")));
  CHECK(std::regex_search(props_out, std::regex(R"(\| log\.level +\| warn +\| shell +\|)")));
  CHECK(props_out.find("Stream Name") == std::string::npos);  // after EXIT

  // ALTER STREAM ... ADD COLUMN: DESCRIBE shows the column, a second ADD
  // of it is refused at its line:column, and the session goes on.
  auto [alter_rc, alter_out] = run_command(
      bin + " sql 2>&1",
      "CREATE STREAM SA (K STRING KEY, W INT) WITH (kafka_topic='sa', value_format='JSON');\n"
      "ALTER STREAM SA ADD COLUMN EXTRA ARRAY<STRING>;\n"
      "ALTER STREAM SA\n  ADD COLUMN W BIGINT;\n"
      "DESCRIBE SA;\n",
      30);
  INFO(alter_out);
  CHECK(alter_rc == 1);
  CHECK(alter_out.find("Stream SA altered.") != std::string::npos);
  CHECK(alter_out.find("line 4:14: Cannot add column `W` to schema. A column with the same name "
                       "already exists.") != std::string::npos);
  CHECK(alter_out.find("| EXTRA | ARRAY<STRING> |") != std::string::npos);

  // CREATE TYPE: a name for a type, in the lines typed after it; SHOW
  // TYPES lists them; a second one of a name is refused at its line:column
  // in ksqlDB's words; DROP TYPE forgets it.
  auto [types_rc, types_out] =
      run_command(bin + " sql 2>&1",
                  "CREATE TYPE ADDRESS AS STRUCT<STREET STRING, CITY STRING>;\n"
                  "CREATE STREAM ST (K STRING KEY, HOME ADDRESS, PAST ARRAY<ADDRESS>)\n"
                  "  WITH (kafka_topic='st', value_format='JSON');\n"
                  "SHOW TYPES;\nDESCRIBE ST;\n"
                  "CREATE TYPE ADDRESS AS STRING;\n"
                  "DROP TYPE ADDRESS;\nLIST TYPES;\n"
                  "CREATE STREAM SU (K STRING KEY, HOME ADDRESS) WITH (kafka_topic='su', "
                  "value_format='JSON');\n",
                  30);
  INFO(types_out);
  CHECK(types_rc == 1);
  CHECK(types_out.find("Type ADDRESS created") != std::string::npos);
  CHECK(types_out.find("| Type Name | Schema ") != std::string::npos);
  CHECK(types_out.find("| ADDRESS   | STRUCT<STREET STRING, CITY STRING> |") != std::string::npos);
  CHECK(types_out.find("| HOME  | STRUCT<STREET STRING, CITY STRING>        |") !=
        std::string::npos);
  CHECK(types_out.find("| PAST  | ARRAY<STRUCT<STREET STRING, CITY STRING>> |") !=
        std::string::npos);
  CHECK(types_out.find("line 6:13: Cannot register custom type 'ADDRESS' since it is already "
                       "registered with type: STRUCT<`STREET` STRING, `CITY` STRING>") !=
        std::string::npos);
  CHECK(types_out.find("Type ADDRESS dropped") != std::string::npos);
  // LIST TYPES after the drop: the header only.
  CHECK(types_out.find("| Type Name | Schema |") != std::string::npos);
  CHECK(types_out.find("line 9:38: Unknown type: ADDRESS") != std::string::npos);

  // DESCRIBE TABLES, and SHOW STREAMS EXTENDED as ksqlDB's DESCRIBE STREAMS
  // EXTENDED: each source described.
  auto [all_rc, all_out] = run_command(
      bin + " sql 2>&1",
      "CREATE TABLE TA (K STRING PRIMARY KEY, V INT) WITH (kafka_topic='ta', "
      "value_format='JSON');\n"
      "CREATE STREAM SA (K STRING KEY, W INT) WITH (kafka_topic='sa', value_format='JSON');\n"
      "DESCRIBE TABLES;\nSHOW STREAMS EXTENDED;\n",
      30);
  INFO(all_out);
  CHECK(all_rc == 0);
  CHECK(all_out.find("Name                 : TA\nType                 : TABLE\n") !=
        std::string::npos);
  CHECK(all_out.find("Name                 : SA\nType                 : STREAM\n") !=
        std::string::npos);
  CHECK(all_out.find("Statement            : CREATE STREAM SA (") != std::string::npos);
  CHECK(all_out.find("Statement            : CREATE TABLE TA (") == std::string::npos);

  // Variables: --define and DEFINE, substituted in later statements (in
  // quotes too); an undefined one is refused at its line:column; UNDEFINE
  // of an unknown one warns.
  auto [vars_rc, vars_out] = run_command(
      bin + " sql --define t=tt 2>&1",
      "DEFINE fmt = 'JSON';\nCREATE STREAM V (K STRING KEY, N INT) WITH (kafka_topic='${t}', "
      "value_format='${FMT}');\nDESCRIBE V;\nSHOW VARIABLES;\nSELECT ${nope} FROM V;\n"
      "UNDEFINE nope;\n",
      30);
  INFO(vars_out);
  CHECK(vars_rc == 1);  // the undefined variable
  CHECK(vars_out.find("Kafka topic          : tt (key KAFKA, value JSON)") != std::string::npos);
  CHECK(vars_out.find("| Variable Name | Value |") != std::string::npos);
  CHECK(vars_out.find("| FMT           | JSON  |") != std::string::npos);
  CHECK(vars_out.find("| T             | tt    |") != std::string::npos);
  CHECK(vars_out.find("line 5:8: Variable 'nope' is not defined") != std::string::npos);
  CHECK(vars_out.find("Cannot undefine variable 'nope' which was never defined") !=
        std::string::npos);
  auto [bad_define_rc, bad_define_out] = run_command(bin + " sql --define 'a b=1' 2>&1", "", 30);
  INFO(bad_define_out);
  CHECK(bad_define_rc == 2);
  CHECK(bad_define_out.find("invalid variable name 'a b'") != std::string::npos);

  // rivulet run --explain: the same plan for a file, no broker, exit 0.
  const std::string file = std::filesystem::temp_directory_path() /
                           ("rivulet-explain-" + std::to_string(::getpid()) + ".sql");
  {
    std::ofstream f(file);
    f << ddl << query << "\n";
  }
  auto [run_rc, run_out] = run_command(bin + " run --explain " + file + " 2>&1", "", 30);
  INFO(run_out);
  CHECK(run_rc == 0);
  CHECK(run_out.rfind("1 query from " + file + "\nSources:\n", 0) == 0);
  CHECK(run_out.find("decodes KIND (1 of 2 value columns checked, not decoded: N)") !=
        std::string::npos);
  CHECK(run_out.find("Co-partitioned topics (same partition count, checked before the query "
                     "starts):\n  ads, ev\n") != std::string::npos);

  // rivulet run --define: variables bound before the file's first line; a
  // variable the file uses and nobody defines is refused at its line:column.
  {
    std::ofstream f(file);
    f << "CREATE STREAM EV (AD STRING KEY, N INT) WITH (kafka_topic='${input}', "
         "value_format='JSON');\nCREATE STREAM ${out} AS SELECT * FROM EV WHERE N > ${min};\n";
  }
  auto [def_rc, def_out] =
      run_command(bin + " run --explain " + file +
                      " --define input=ev_topic --define out=BIG --define min=3 2>&1",
                  "", 30);
  INFO(def_out);
  CHECK(def_rc == 0);
  CHECK(def_out.find("  EV  stream  topic ev_topic ") != std::string::npos);
  CHECK(def_out.find("Sink topics:\n  BIG\n") != std::string::npos);
  auto [undef_rc, undef_out] =
      run_command(bin + " run --explain " + file + " --define input=ev_topic 2>&1", "", 30);
  INFO(undef_out);
  CHECK(undef_rc == 2);
  CHECK(undef_out.find(file + ": line 2:15: Variable 'out' is not defined") != std::string::npos);
  std::filesystem::remove(file);
}
