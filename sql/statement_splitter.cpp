#include "sql/statement_splitter.hpp"

#include <cctype>

namespace rivulet::sql {

std::vector<StatementSplitter::Chunk> StatementSplitter::add_line(const std::string& line) {
  std::vector<Chunk> out;
  ++line_;
  if (!text_.empty()) text_ += '\n';
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (text_.empty() || (!has_content_ && !quote_ && !block_comment_ &&
                          text_.find_first_not_of(" \t\r\n") == std::string::npos)) {
      if (text_.empty()) {
        start_line_ = line_;
        start_column_ = static_cast<int>(i) + 1;
      }
    }
    text_ += c;
    if (quote_) {
      if (c == quote_) {
        if (i + 1 < line.size() && line[i + 1] == quote_) {
          text_ += line[++i];  // '' inside a string
        } else {
          quote_ = 0;
        }
      }
      continue;
    }
    if (block_comment_) {
      if (c == '*' && i + 1 < line.size() && line[i + 1] == '/') {
        text_ += line[++i];
        block_comment_ = false;
      }
      continue;
    }
    if (c == '-' && i + 1 < line.size() && line[i + 1] == '-') {
      text_ += line.substr(i + 1);  // a comment to the end of the line
      break;
    }
    if (c == '/' && i + 1 < line.size() && line[i + 1] == '*') {
      text_ += line[++i];
      block_comment_ = true;
      continue;
    }
    if (c == '\'' || c == '"' || c == '`') {
      quote_ = c;
      has_content_ = true;
      continue;
    }
    if (c == ';') {
      if (has_content_) out.push_back(Chunk{text_, start_line_, start_column_});
      text_.clear();
      has_content_ = false;
      continue;
    }
    if (!std::isspace(static_cast<unsigned char>(c))) has_content_ = true;
  }
  if (!has_content_ && !quote_ && !block_comment_) text_.clear();  // blanks, comments
  return out;
}

StatementSplitter::Chunk StatementSplitter::take_rest() {
  Chunk c;
  if (has_content_) c = Chunk{text_, start_line_, start_column_};
  text_.clear();
  has_content_ = false;
  quote_ = 0;
  block_comment_ = false;
  return c;
}

void StatementSplitter::clear(bool restart_lines) {
  text_.clear();
  has_content_ = false;
  quote_ = 0;
  block_comment_ = false;
  if (restart_lines) line_ = 0;
}

std::vector<StatementSplitter::Chunk> split_statements(std::string_view text) {
  StatementSplitter splitter;
  std::vector<StatementSplitter::Chunk> out;
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    for (auto& c : splitter.add_line(std::string(text.substr(begin, end - begin))))
      out.push_back(std::move(c));
    begin = end + 1;
  }
  auto rest = splitter.take_rest();
  if (!rest.text.empty()) out.push_back(std::move(rest));
  return out;
}

}  // namespace rivulet::sql
