#include "sql/variables.hpp"

#include <cctype>

#include "sql/sql_error.hpp"
#include "sql/text.hpp"

namespace rivulet::sql {
namespace {

bool name_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

}  // namespace

bool valid_variable_name(std::string_view name) {
  if (name.empty() || !name_start(name[0])) return false;
  for (char c : name)
    if (!name_char(c)) return false;
  return true;
}

Expected<std::string> substitute_variables(std::string_view text, const Variables& variables) {
  std::string out;
  out.reserve(text.size());
  int line = 1, column = 1;
  char quote = 0;  // inside '...', "..." or `...`
  bool line_comment = false, block_comment = false;
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    const char next = i + 1 < text.size() ? text[i + 1] : '\0';
    auto copy = [&](size_t n) {
      for (size_t k = 0; k < n && i < text.size(); ++k, ++i) {
        out += text[i];
        if (text[i] == '\n') {
          ++line;
          column = 1;
          line_comment = false;
        } else {
          ++column;
        }
      }
    };
    if (line_comment) {
      copy(1);
      continue;
    }
    if (block_comment) {
      if (c == '*' && next == '/') block_comment = false;
      copy(c == '*' && next == '/' ? 2 : 1);
      continue;
    }
    if (!quote && c == '-' && next == '-') {
      line_comment = true;
      copy(2);
      continue;
    }
    if (!quote && c == '/' && next == '*') {
      block_comment = true;
      copy(2);
      continue;
    }
    if (c == '$' && next == '$' && i + 2 < text.size() && text[i + 2] == '{') {
      out += "${";  // escaped: the text itself
      i += 3;
      column += 3;
      continue;
    }
    if (c == '$' && next == '{') {
      size_t end = i + 2;
      while (end < text.size() && name_char(text[end])) ++end;
      const std::string_view name = text.substr(i + 2, end - i - 2);
      if (end < text.size() && text[end] == '}' && valid_variable_name(name)) {
        auto found = variables.find(to_upper(name));
        if (found == variables.end())
          return sql_error(SourceLocation{line, column},
                           "Variable '" + std::string(name) + "' is not defined (DEFINE " +
                               std::string(name) +
                               " = 'value'; defines it, SHOW VARIABLES lists those defined)");
        out += found->second;
        column += static_cast<int>(end + 1 - i);
        i = end + 1;
        continue;
      }
    }
    if (quote) {
      if (c == quote) quote = 0;  // a doubled quote closes and opens again
    } else if (c == '\'' || c == '"' || c == '`') {
      quote = c;
    }
    copy(1);
  }
  return out;
}

Expected<Variables> parse_definitions(const std::vector<std::string>& definitions) {
  Variables out;
  for (const auto& d : definitions) {
    const auto eq = d.find('=');
    const std::string name = d.substr(0, eq);
    if (eq == std::string::npos) return Error::fatal("--define '" + d + "': expects NAME=VALUE");
    if (!valid_variable_name(name))
      return Error::fatal("--define '" + d + "': invalid variable name '" + name +
                          "': a letter or '_', then letters, digits or '_'");
    out[to_upper(name)] = d.substr(eq + 1);
  }
  return out;
}

std::string define_statements(const Variables& variables) {
  std::string out;
  for (const auto& [name, value] : variables) {
    out += "DEFINE " + name + " = '";
    for (char c : value) out += c == '\'' ? std::string("''") : std::string(1, c);
    out += "'; ";
  }
  return out;
}

}  // namespace rivulet::sql
