// Runs the built `rivulet qtt` over ../shared/qtt when that folder exists:
// over select.json it must complete and print the closing summary line; over
// every file, no case may fail unless tests/sql/qtt_known_failures.txt
// lists it.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/child_process.hpp"

namespace {

// `rivulet qtt ARGS`: its exit status (-1: it did not exit) and its
// output, stderr with stdout unless left out.
std::pair<int, std::string> qtt(const std::string& args, bool with_stderr = true) {
  return rivulet::testing::run_command(rivulet::testing::rivulet_binary() + " qtt " + args +
                                           (with_stderr ? " 2>&1" : " 2>/dev/null"),
                                       "", 600);
}

std::string last_line(const std::string& out) {
  auto end = out.size() > 0 && out.back() == '\n' ? out.size() - 1 : out.size();
  auto start = out.rfind('\n', end == 0 ? 0 : end - 1);
  return out.substr(start == std::string::npos ? 0 : start + 1);
}

}  // namespace

TEST_CASE("qtt: the runner completes over select.json", "[sql][qtt]") {
  std::string file = std::string(RIVULET_SOURCE_DIR) + "/../shared/qtt/select.json";
  struct stat st;
  if (stat(file.c_str(), &st) != 0) {
    WARN("no " << file << ": skipped");
    return;
  }
  auto [status, out] = qtt(file);
  INFO(out);
  CHECK((status == 0 || status == 1));  // 1: some case failed; not a crash
  CHECK(std::regex_match(last_line(out), std::regex(R"(\d+ passed, \d+ failed, \d+ skipped\n)")));
  CHECK(out.find("select.json :: ") != std::string::npos);
}

// A directory or a missing file is a failed case with its reason, not a
// crash (a directory used to throw out of the JSON parser).
TEST_CASE("qtt: a directory or a missing file is reported and the run goes on", "[sql][qtt]") {
  auto [status, out] = qtt(std::string(RIVULET_BINARY_DIR) + " /nonexistent/x.json");
  INFO(out);
  CHECK(status == 1);
  CHECK(out.find("not a test file (*.json): " + std::string(RIVULET_BINARY_DIR)) !=
        std::string::npos);
  CHECK(out.find("not a test file (*.json): /nonexistent/x.json") != std::string::npos);
  CHECK(out.find("0 passed, 2 failed, 0 skipped") != std::string::npos);
}

// Outputs compare as ksqlDB's test tool compares them: an expected field is
// looked up by its name, then in upper case; one not found reads as NULL;
// both sides have as many fields.
TEST_CASE("qtt: expected fields match by name, then in upper case, absent ones as NULL",
          "[sql][qtt]") {
  const std::string file = std::string(RIVULET_BINARY_DIR) + "/qtt-compare-test.json";
  {
    std::ofstream f(file);
    const char* statements = R"(["CREATE STREAM I (K STRING KEY, A INT, B INT) WITH (kafka_topic='i', value_format='JSON');", "CREATE STREAM O AS SELECT K, A AS VAL, B AS NOTHING FROM I;"])";
    auto test_case = [&](const char* name, const char* value) {
      return std::string(R"({"name": ")") + name + R"(", "statements": )" + statements +
             R"(, "inputs": [{"topic": "i", "key": "k", "value": {"A": 1, "B": null}}],)" +
             R"( "outputs": [{"topic": "O", "key": "k", "value": )" + value + "}]}";
    };
    f << R"({"tests": [)" << test_case("lower case", R"({"val": 1, "NOTHING": null})") << ", "
      << test_case("absent as null", R"({"VAL": 1, "OTHER": null})") << ", "
      << test_case("absent but not null", R"({"VAL": 1, "OTHER": 2})") << ", "
      << test_case("a field too many", R"({"VAL": 1, "NOTHING": null, "X": null})") << ", "
      << test_case("wrong value", R"({"val": 2, "NOTHING": null})") << "]}";
  }
  auto [status, out] = qtt(file);
  INFO(out);
  CHECK(status == 1);
  CHECK(out.find("PASS  qtt-compare-test.json :: lower case") != std::string::npos);
  CHECK(out.find("PASS  qtt-compare-test.json :: absent as null") != std::string::npos);
  CHECK(out.find("FAIL  qtt-compare-test.json :: absent but not null") != std::string::npos);
  CHECK(out.find("FAIL  qtt-compare-test.json :: a field too many") != std::string::npos);
  CHECK(out.find("FAIL  qtt-compare-test.json :: wrong value") != std::string::npos);
  CHECK(out.find("2 passed, 3 failed, 0 skipped") != std::string::npos);
  std::remove(file.c_str());
}

// A case whose topics give AVRO schemas with their ids runs with them in a
// schema registry in memory: the columns come from it (a bare "long" key is
// ROWKEY), inputs and outputs go through the registry's wire format. The
// same case without the schemas is skipped, as before.
TEST_CASE("qtt: AVRO sources read their columns from the case's topic schemas",
          "[sql][qtt][avro]") {
  const std::string file = std::string(RIVULET_BINARY_DIR) + "/qtt-avro-test.json";
  {
    std::ofstream f(file);
    const char* topics = R"([{"name": "t", "keyFormat": "AVRO", "keySchemaId": 7,
        "keySchema": {"type": "long"}, "valueFormat": "AVRO", "valueSchemaId": 8,
        "valueSchema": {"type": "record", "name": "V", "fields": [
          {"name": "a", "type": "int"}, {"name": "s", "type": ["null", "string"]}]}}])";
    auto test_case = [&](const char* name, bool with_topics, const char* value) {
      return std::string(R"({"name": ")") + name +
             R"(", "statements": ["CREATE STREAM I WITH (kafka_topic='t', format='AVRO', VALUE_SCHEMA_ID=8);",)" +
             R"( "CREATE STREAM O AS SELECT ROWKEY, A * 2 AS D, UCASE(S) AS U FROM I;"],)" +
             (with_topics ? std::string(R"( "topics": )") + topics + "," : std::string()) +
             R"( "inputs": [{"topic": "t", "key": 5, "value": {"a": 3, "s": "x"}}],)" +
             R"( "outputs": [{"topic": "O", "key": 5, "value": )" + value + "}]}";
    };
    f << R"({"tests": [)" << test_case("columns from the topics", true, R"({"D": 6, "U": "X"})")
      << ", " << test_case("a wrong value", true, R"({"D": 7, "U": "X"})") << ", "
      << test_case("no schemas given", false, R"({"D": 6, "U": "X"})") << "]}";
  }
  auto [status, out] = qtt(file);
  INFO(out);
  CHECK(status == 1);
  CHECK(out.find("PASS  qtt-avro-test.json :: columns from the topics") != std::string::npos);
  CHECK(out.find("FAIL  qtt-avro-test.json :: a wrong value") != std::string::npos);
  CHECK(out.find("SKIP  qtt-avro-test.json :: no schemas given  -- schema-registry: I in AVRO "
                 "declares no columns") != std::string::npos);
  CHECK(out.find("1 passed, 1 failed, 1 skipped") != std::string::npos);
  std::remove(file.c_str());
}

// A case with a "config" list runs once per value, {CONFIG} replaced in its
// properties and statements (as ksqlDB's runner does), and passes only
// when every run does. Before, "{CONFIG}" was SET as it stood.
TEST_CASE("qtt: a case with a config list passes only with each of its values", "[sql][qtt]") {
  const std::string file = std::string(RIVULET_BINARY_DIR) + "/qtt-config-test.json";
  {
    std::ofstream f(file);
    auto test_case = [&](const char* name, const char* config) {
      return std::string(R"({"name": ")") + name + R"(", "config": )" + config +
             R"(, "properties": {"ksql.functions.collect_list.limit": "{CONFIG}"},)" +
             R"( "statements": ["CREATE STREAM I (K STRING KEY, A INT) WITH (kafka_topic='i', value_format='JSON');",)" +
             R"( "CREATE TABLE O AS SELECT K, COLLECT_LIST(A) AS L FROM I GROUP BY K;"],)" +
             R"( "inputs": [{"topic": "i", "key": "k", "value": {"A": 1}}, {"topic": "i", "key": "k", "value": {"A": 2}}],)" +
             R"( "outputs": [{"topic": "O", "key": "k", "value": {"L": [1]}}, {"topic": "O", "key": "k", "value": {"L": [1, 2]}}]})";
    };
    f << R"({"tests": [)" << test_case("every value passes", R"(["2", "5"])") << ", "
      << test_case("one value fails", R"(["5", "1"])") << ", "
      << test_case("not a number", R"(["x"])") << "]}";
  }
  auto [status, out] = qtt(file);
  INFO(out);
  CHECK(status == 1);
  CHECK(out.find("PASS  qtt-config-test.json :: every value passes\n") != std::string::npos);
  CHECK(out.find("FAIL  qtt-config-test.json :: one value fails  -- with {CONFIG} = 1: ") !=
        std::string::npos);
  CHECK(out.find("FAIL  qtt-config-test.json :: not a number  -- with {CONFIG} = x: property "
                 "rejected: line 1:1: Invalid value x for configuration "
                 "ksql.functions.collect_list.limit: Not a number of type INT") !=
        std::string::npos);
  CHECK(out.find("1 passed, 2 failed, 0 skipped") != std::string::npos);
  std::remove(file.c_str());
}

// Every case of ../shared/qtt passes unless it is listed in
// tests/sql/qtt_known_failures.txt: a case that passed before and fails now
// fails `make test`.
TEST_CASE("qtt: no case fails outside the known-failing list", "[sql][qtt]") {
  std::string dir = std::string(RIVULET_SOURCE_DIR) + "/../shared/qtt";
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    WARN("no " << dir << ": skipped");
    return;
  }
  std::set<std::string> known;
  {
    std::ifstream in(std::string(RIVULET_SOURCE_DIR) + "/tests/sql/qtt_known_failures.txt");
    REQUIRE(in);
    std::string line;
    while (std::getline(in, line))
      if (!line.empty() && line[0] != '#') known.insert(line);
  }
  auto [status, out] = qtt(dir + "/*.json", false);
  std::vector<std::string> unexpected, fixed;
  std::set<std::string> failing;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    line += "\n";
    if (line.rfind("FAIL  ", 0) != 0) continue;
    std::string name = line.substr(6, line.find("  -- ") - 6);
    while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
    failing.insert(name);
    if (!known.count(name)) unexpected.push_back(line);
  }
  CHECK((status == 0 || status == 1));
  CHECK(std::regex_match(last_line(out), std::regex(R"(\d+ passed, \d+ failed, \d+ skipped\n)")));
  for (const auto& k : known)
    if (!failing.count(k)) fixed.push_back(k);
  if (!fixed.empty()) {
    std::string list;
    for (const auto& f : fixed) list += "  " + f + "\n";
    WARN(fixed.size() << " known-failing cases now pass: remove them from "
                         "tests/sql/qtt_known_failures.txt:\n" << list);
  }
  std::string list;
  for (const auto& u : unexpected) list += u;
  INFO("cases failing that are not in tests/sql/qtt_known_failures.txt:\n" << list);
  CHECK(unexpected.empty());
}
