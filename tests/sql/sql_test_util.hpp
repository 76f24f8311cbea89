#pragma once
// Helpers shared by the SQL tests: a canonical text rendering of values for
// expectations, a scope built from a column list, and the reader of the
// data-driven test files in tests/sql/data/.
#include <string>
#include <vector>

#include "runtime/value.hpp"
#include "sql/ast.hpp"
#include "sql/catalog.hpp"
#include "sql/expression.hpp"

namespace rivulet::sql::testing {

// NULL, TRUE, 3, 1.5, 1.0E10, 1.50 (decimals keep their scale), 'text',
// [1, 2], {'k': 1}, {A: 1}, TIMESTAMP '1970-01-01T00:00:00.000'.
std::string render(const Value& v);

// Columns written as in CREATE STREAM: "A INT, B STRING KEY". Throws
// std::runtime_error on a bad list (test setup error).
Schema schema_of(const std::string& columns);

// A catalog after the CREATE statements of `script`. Throws
// std::runtime_error with the parser's or catalog's message.
Catalog catalog_with(const std::string& script);

// Evaluates a constant SQL expression ("1.5", "ARRAY[1, 2]").
Value constant(const std::string& sql);

// Splits "a, f(b, c), 'x,y'" at top-level commas.
std::vector<std::string> split_top_level(const std::string& s);

struct Record {
  std::string directive;              // first line
  std::vector<std::string> body;      // lines before ----
  std::vector<std::string> expected;  // lines after ----
  bool has_expected = false;
  std::string file;
  int line = 0;  // of the directive
};

// Records separated by blank lines; lines starting with '#' are comments.
std::vector<Record> read_records(const std::string& path);

std::string data_dir();
std::string join(const std::vector<std::string>& lines, const std::string& sep);

}  // namespace rivulet::sql::testing
