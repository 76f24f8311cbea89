// Parses every statement of ksqlDB's query-validation tests
// (../shared/qtt/*.json, when that folder exists) and reports how many
// parse. Statements of cases that expect a rejection may fail to parse;
// statements of cases that must run all have to parse, above a floor.
#include <dirent.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <optional>
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

#include "sql/analyzer.hpp"

namespace rivulet::sql {
namespace {

// Runs a case's statements through the catalog and the analyzer; the first
// error, or nothing when all are accepted.
std::optional<std::string> analyze_case(const nlohmann::json& test, const std::string& format) {
  Catalog catalog;
  for (const auto& s : test["statements"]) {
    std::string text = s.get<std::string>();
    for (size_t at; (at = text.find("{FORMAT}")) != std::string::npos;) text.replace(at, 8, format);
    auto parsed = parse_statements(text);
    if (!parsed.ok()) return parsed.error().message;
    for (const auto& st : parsed.value()) {
      if (std::holds_alternative<CreateSource>(st.body) ||
          std::holds_alternative<DropSource>(st.body)) {
        auto r = catalog.apply(st);
        if (!r.ok()) return r.error().message;
      } else if (const auto* c = std::get_if<CreateAsSelect>(&st.body)) {
        auto a = analyze_query(*c->query, catalog);
        if (!a.ok()) return a.error().message;
        auto info = describe_create_as(*c, a.value(), st.text);
        if (!info.ok()) return info.error().message;
        auto added = catalog.add(std::move(info.value()), c->or_replace, c->if_not_exists, c->name_loc);
        if (!added.ok()) return added.error().message;
      } else if (const auto* i = std::get_if<InsertInto>(&st.body)) {
        auto a = analyze_query(*i->query, catalog);
        if (!a.ok()) return a.error().message;
        auto t = check_insert_into(*i, a.value(), catalog);
        if (!t.ok()) return t.error().message;
      } else if (const auto* q = std::get_if<SelectStatement>(&st.body)) {
        auto a = analyze_query(*q->query, catalog);
        if (!a.ok()) return a.error().message;
      }
    }
  }
  return std::nullopt;
}

}  // namespace

// How far the front-end alone gets through the qtt cases: cases that must
// run should pass the catalog and the analyzer (the planner adds its own
// checks later); cases expecting a rejection are counted when the front-end
// already rejects them. Prints the cases that disagree.
TEST_CASE("qtt: catalog and analyzer census", "[sql][qtt]") {
  auto files = qtt_files();
  if (files.empty()) return;
  size_t must = 0, must_ok = 0, reject = 0, reject_ok = 0;
  std::vector<std::string> wrongly_rejected, accepted;
  for (const auto& f : files) {
    std::ifstream in(qtt_dir() + "/" + f);
    nlohmann::json doc = nlohmann::json::parse(in, nullptr, false);
    for (const auto& test : doc["tests"]) {
      std::string format = "JSON";
      if (test.contains("format") && !test["format"].empty())
        format = test["format"][0].get<std::string>();
      auto error = analyze_case(test, format);
      std::string name = f + " :: " + test["name"].get<std::string>();
      if (test.contains("expectedException")) {
        ++reject;
        if (error) {
          ++reject_ok;
        } else {
          accepted.push_back(name);
        }
      } else {
        ++must;
        if (!error) {
          ++must_ok;
        } else {
          wrongly_rejected.push_back(name + "\n    " + *error);
        }
      }
    }
  }
  std::cout << "qtt cases that must run, accepted by catalog+analyzer: " << must_ok << " of "
            << must << "; cases expecting a rejection, rejected already: " << reject_ok << " of "
            << reject << "\n";
  for (const auto& w : wrongly_rejected) std::cout << "  rejected: " << w << "\n";
  REQUIRE(must > 0);
  CHECK(double(must_ok) / double(must) >= 0.95);
}

}  // namespace rivulet::sql
