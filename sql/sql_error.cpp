#include "sql/sql_error.hpp"

#include <cctype>

namespace rivulet::sql {

Error sql_error(SourceLocation at, const std::string& what) {
  if (!at.known()) return Error::fatal(what);
  return Error::fatal("line " + std::to_string(at.line) + ":" + std::to_string(at.column) + ": " +
                      what);
}

SourceLocation location_of(const std::string& message) {
  const std::string prefix = "line ";
  if (message.compare(0, prefix.size(), prefix) != 0) return {};
  size_t i = prefix.size();
  auto read_int = [&](int& out) {
    size_t start = i;
    long v = 0;
    while (i < message.size() && std::isdigit(static_cast<unsigned char>(message[i])) &&
           i - start < 9) {
      v = v * 10 + (message[i] - '0');
      ++i;
    }
    out = static_cast<int>(v);
    return i > start;
  };
  SourceLocation loc;
  if (!read_int(loc.line) || i >= message.size() || message[i] != ':') return {};
  ++i;
  if (!read_int(loc.column)) return {};
  return loc;
}

}  // namespace rivulet::sql
