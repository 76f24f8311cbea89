// Parses every statement of ksqlDB's query-validation tests
// (../shared/qtt/*.json, when that folder exists) and reports how many
// parse. Statements of cases that expect a rejection may fail to parse;
// statements of cases that must run all have to parse, above a floor.
#include <dirent.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sql/parser.hpp"

namespace rivulet::sql {
namespace {

std::string qtt_dir() {
  return std::string(RIVULET_SOURCE_DIR) + "/../shared/qtt";
}

std::vector<std::string> qtt_files() {
  std::vector<std::string> out;
  DIR* dir = opendir(qtt_dir().c_str());
  if (!dir) return out;
  while (dirent* e = readdir(dir)) {
    std::string n = e->d_name;
    if (n.size() > 5 && n.substr(n.size() - 5) == ".json") out.push_back(n);
  }
  closedir(dir);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("qtt: statements of ksqlDB's query-validation tests parse", "[sql][qtt]") {
  auto files = qtt_files();
  if (files.empty()) {
    WARN("no " << qtt_dir() << ": skipped");
    return;
  }
  size_t must = 0, must_ok = 0, may = 0, may_ok = 0;
  std::vector<std::string> failures;
  for (const auto& f : files) {
    std::ifstream in(qtt_dir() + "/" + f);
    nlohmann::json doc = nlohmann::json::parse(in, nullptr, false);
    REQUIRE_FALSE(doc.is_discarded());
    for (const auto& test : doc["tests"]) {
      bool expects_error = test.contains("expectedException");
      std::vector<std::string> formats{""};
      if (test.contains("format")) {
        formats.clear();
        for (const auto& fm : test["format"]) formats.push_back(fm.get<std::string>());
      }
      for (const auto& s : test["statements"]) {
        std::string text = s.get<std::string>();
        size_t at = text.find("{FORMAT}");
        if (at != std::string::npos) text.replace(at, 8, formats[0].empty() ? "JSON" : formats[0]);
        bool ok = parse_statements(text).ok();
        (expects_error ? may : must) += 1;
        (expects_error ? may_ok : must_ok) += ok ? 1 : 0;
        if (!ok && !expects_error)
          failures.push_back(f + " :: " + test["name"].get<std::string>() + " :: " + text +
                             "\n    " + parse_statements(text).error().message);
      }
    }
  }
  std::cout << "qtt statements in cases that must run: " << must_ok << " of " << must
            << " parse; in cases expecting a rejection: " << may_ok << " of " << may << "\n";
  for (const auto& f : failures) std::cout << "  unparsed: " << f << "\n";
  REQUIRE(must > 0);
  CHECK(double(must_ok) / double(must) >= 0.99);
}

TEST_CASE("qtt: canonical forms of the qtt statements read back unchanged", "[sql][qtt]") {
  auto files = qtt_files();
  if (files.empty()) return;
  size_t checked = 0;
  for (const auto& f : files) {
    std::ifstream in(qtt_dir() + "/" + f);
    nlohmann::json doc = nlohmann::json::parse(in, nullptr, false);
    for (const auto& test : doc["tests"]) {
      for (const auto& s : test["statements"]) {
        auto parsed = parse_statements(s.get<std::string>());
        if (!parsed.ok()) continue;
        for (const auto& st : parsed.value()) {
          std::string canonical = to_sql(st);
          auto again = parse_statement(canonical);
          INFO(f << ": " << s.get<std::string>() << "\ncanonical: " << canonical);
          REQUIRE(again.ok());
          CHECK(to_sql(again.value()) == canonical);
          ++checked;
        }
      }
    }
  }
  CHECK(checked > 500);
}

}  // namespace rivulet::sql
