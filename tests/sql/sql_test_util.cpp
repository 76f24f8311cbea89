#include "sql_test_util.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "runtime/timestamp.hpp"
#include "sql/parser.hpp"
#include "sql/text.hpp"

namespace rivulet::sql::testing {

std::string render(const Value& v) {
  switch (v.kind()) {
    case TypeKind::Null:
      return "NULL";
    case TypeKind::Boolean:
      return v.as_bool() ? "TRUE" : "FALSE";
    case TypeKind::Int:
      return std::to_string(v.as_int32());
    case TypeKind::BigInt:
      return std::to_string(v.as_int64());
    case TypeKind::Double:
      return java_double_string(v.as_double());
    case TypeKind::Decimal:
      return v.as_decimal().to_string();
    case TypeKind::String: {
      std::string out = "'";
      for (char c : v.as_string()) {
        out.push_back(c);
        if (c == '\'') out.push_back('\'');
      }
      return out + "'";
    }
    case TypeKind::Bytes: {
      static const char* hex = "0123456789ABCDEF";
      std::string out = "X'";
      for (unsigned char c : v.as_bytes()) {
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 15]);
      }
      return out + "'";
    }
    case TypeKind::Timestamp:
      return "TIMESTAMP '" + format_timestamp(v.as_timestamp()) + "'";
    case TypeKind::Date:
      return "DATE '" + format_date(v.as_date()) + "'";
    case TypeKind::Time:
      return "TIME '" + format_time_of_day(v.as_time()) + "'";
    case TypeKind::Array: {
      std::string out = "[";
      for (size_t i = 0; i < v.as_array().size(); ++i)
        out += (i ? ", " : "") + render(v.as_array()[i]);
      return out + "]";
    }
    case TypeKind::Map: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, e] : v.as_map()) {
        out += (first ? "'" : ", '") + k + "': " + render(e);
        first = false;
      }
      return out + "}";
    }
    case TypeKind::Struct: {
      std::string out = "{";
      bool first = true;
      for (const auto& f : v.as_struct()) {
        out += (first ? "" : ", ") + f.name + ": " + render(f.value);
        first = false;
      }
      return out + "}";
    }
  }
  return "?";
}

Catalog catalog_with(const std::string& script) {
  Catalog c;
  auto stmts = parse_statements(script);
  if (!stmts.ok()) throw std::runtime_error(stmts.error().message);
  for (const auto& s : stmts.value()) {
    auto r = c.apply(s);
    if (!r.ok()) throw std::runtime_error(r.error().message);
  }
  return c;
}

Schema schema_of(const std::string& columns) {
  auto s = parse_statement("CREATE STREAM T (" + columns +
                           ") WITH (kafka_topic='t', value_format='JSON')");
  if (!s.ok()) throw std::runtime_error("bad schema '" + columns + "': " + s.error().message);
  const auto& c = std::get<CreateSource>(s->body);
  Schema schema;
  for (const auto& el : c.elements)
    schema.columns.push_back(Column{el.name, el.type, el.constraint != ColumnConstraint::None});
  return schema;
}

Value constant(const std::string& sql) {
  auto e = parse_expression(sql);
  if (!e.ok()) throw std::runtime_error("bad constant '" + sql + "': " + e.error().message);
  Scope empty;
  auto c = ExpressionCompiler(empty).compile(e.value());
  if (!c.ok()) throw std::runtime_error("bad constant '" + sql + "': " + c.error().message);
  return c->evaluate(EvalRow{});
}

std::vector<std::string> split_top_level(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  bool quoted = false;
  for (char c : s) {
    if (quoted) {
      cur.push_back(c);
      if (c == '\'') quoted = false;
      continue;
    }
    if (c == '\'') quoted = true;
    if (c == '(' || c == '[') ++depth;
    if (c == ')' || c == ']') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(cur);
      cur.clear();
      continue;
    }
    cur.push_back(c);
  }
  if (!cur.empty() || !out.empty()) out.push_back(cur);
  for (auto& x : out) {
    while (!x.empty() && x.front() == ' ') x.erase(x.begin());
    while (!x.empty() && x.back() == ' ') x.pop_back();
  }
  return out;
}

std::vector<Record> read_records(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<Record> out;
  std::string line;
  int n = 0;
  Record cur;
  bool open = false, after = false;
  auto close = [&] {
    if (open) out.push_back(cur);
    cur = Record{};
    open = after = false;
  };
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line[0] == '#') continue;
    if (line.find_first_not_of(" \t") == std::string::npos) {
      close();
      continue;
    }
    if (!open) {
      cur.directive = line;
      cur.file = path;
      cur.line = n;
      open = true;
      continue;
    }
    if (line == "----") {
      after = true;
      cur.has_expected = true;
      continue;
    }
    (after ? cur.expected : cur.body).push_back(line);
  }
  close();
  return out;
}

std::string data_dir() {
  return std::string(RIVULET_SOURCE_DIR) + "/tests/sql/data";
}

std::string join(const std::vector<std::string>& lines, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) out += (i ? sep : "") + lines[i];
  return out;
}

}  // namespace rivulet::sql::testing
