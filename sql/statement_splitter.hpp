#pragma once
// Statement boundaries in SQL text, before it is parsed: a statement ends
// at a ';' outside quotes ('...', "...", `...`) and comments (-- and /* */).
// The shell feeds it a line at a time; SqlEngine::execute_script splits a
// whole file with it, so that each statement can have its variables
// substituted (sql/variables.hpp) before it is parsed.
#include <string>
#include <string_view>
#include <vector>

namespace rivulet::sql {

// Splits input lines into statements closed by ';' outside quotes and
// comments. Each statement keeps where it began, so that parser positions
// are those of the input.
class StatementSplitter {
 public:
  struct Chunk {
    std::string text;  // up to and including ';'
    int line = 1;      // of its first character
    int column = 1;
  };
  // Adds one line (without its newline) and returns the statements it
  // completed.
  std::vector<Chunk> add_line(const std::string& line);
  // The unfinished statement at the end of the input (nullptr-like: empty
  // text when nothing but blanks and comments is pending).
  Chunk take_rest();
  // True while a statement has begun (continuation prompt).
  bool pending() const { return has_content_; }
  // Forgets the unfinished statement; with `restart_lines`, the next line
  // is line 1 again (interactive input counts lines per statement).
  void clear(bool restart_lines);

 private:
  std::string text_;
  int line_ = 0;  // lines added so far
  int start_line_ = 1, start_column_ = 1;
  char quote_ = 0;  // inside '...', "..." or `...`
  bool block_comment_ = false;
  bool has_content_ = false;
};

// The statements of a whole text, each with its line:column (the last one
// may omit its ';').
std::vector<StatementSplitter::Chunk> split_statements(std::string_view text);

}  // namespace rivulet::sql
