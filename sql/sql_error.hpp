#pragma once
// Where in the SQL text something is, and the errors that name it.
// Every error the lexer, parser and analyzer return starts with
// "line L:C: " (1-based line and column, as ksqlDB prints them), so a user
// can find the offending token in a multi-statement script.
#include <string>

#include "runtime/error.hpp"

namespace rivulet::sql {

struct SourceLocation {
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based, in bytes from the start of the line

  bool known() const { return line > 0; }
  bool operator==(const SourceLocation& o) const { return line == o.line && column == o.column; }
};

// "line 3:14: <what>" as a Fatal error (a rejected statement is not retried).
// With an unknown location the prefix is left out.
Error sql_error(SourceLocation at, const std::string& what);

// The "line L:C" prefix parsed back from a message made by sql_error; an
// unknown location when the message has none. For tests and tools that want
// the position as numbers.
SourceLocation location_of(const std::string& message);

}  // namespace rivulet::sql
