#include "sql/plan_source.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include "sql/format_checks.hpp"
#include "sql/sql_error.hpp"

namespace rivulet::sql {

Expected<bool> parse_source(const Properties& p, SourceInfo& info) {
  const Property* prop = p.find("SOURCE");
  if (!prop) return true;
  std::string uri = p.text("SOURCE").value_or("");
  auto starts = [&](const char* prefix) { return uri.rfind(prefix, 0) == 0; };
  if (starts("kafka://")) {
    info.source_kind = SourceKind::Kafka;
    std::string topic = uri.substr(8);
    auto declared = p.text("KAFKA_TOPIC");
    if (declared && !topic.empty() && *declared != topic)
      return sql_error(prop->loc, "SOURCE '" + uri + "' names another topic than KAFKA_TOPIC '" +
                                      *declared + "'");
    if (!topic.empty()) info.topic = topic;
    return true;
  }
  if (starts("file://")) {
    std::string path = uri.substr(7);
    if (path.empty() || path[0] != '/')
      return sql_error(prop->loc, "SOURCE '" + uri +
                                      "': a file source needs an absolute path, as in "
                                      "'file:///data/users.csv'");
    info.source_kind = SourceKind::File;
    info.source_path = path;
    return true;
  }
  if (starts("memory://")) {
    std::string name = uri.substr(9);
    if (name.empty())
      return sql_error(prop->loc, "SOURCE '" + uri + "': a memory source needs a name, as in "
                                                     "'memory://orders'");
    info.source_kind = SourceKind::Memory;
    info.source_path = name;
    return true;
  }
  return sql_error(prop->loc, "Unknown SOURCE '" + uri +
                                  "': expected 'kafka://TOPIC', 'file:///ABSOLUTE/PATH' or "
                                  "'memory://NAME'");
}

Expected<bool> check_source(const Properties& p, SourceInfo& info) {
  if (info.source_kind == SourceKind::Kafka) return true;
  const Property* prop = p.find("SOURCE");
  SourceLocation loc = prop ? prop->loc : SourceLocation{};
  if (info.partitions == 0) info.partitions = 1;
  if (info.window)
    return sql_error(loc, "a " + std::string(info.source_kind == SourceKind::File ? "file" : "memory") +
                              " source cannot be windowed (WINDOW_TYPE)");
  if (info.source_kind == SourceKind::File) {
    if (info.value_format != "DELIMITED" && info.value_format != "JSON")
      return sql_error(loc, "a file source reads VALUE_FORMAT 'DELIMITED' (CSV) or 'JSON' (one "
                            "object per line), not '" +
                                info.value_format + "'");
    struct stat st{};
    if (::stat(info.source_path.c_str(), &st) != 0)
      return sql_error(loc, "Source file '" + info.source_path + "' does not exist");
    if (!S_ISREG(st.st_mode))
      return sql_error(loc, "Source file '" + info.source_path + "' is not a regular file");
    if (::access(info.source_path.c_str(), R_OK) != 0)
      return sql_error(loc, "Source file '" + info.source_path + "' cannot be read");
  }
  auto formats = check_formats(info);
  if (!formats) return sql_error(loc, formats.error().message);
  return true;
}

std::string source_uri(const SourceInfo& info) {
  switch (info.source_kind) {
    case SourceKind::File:
      return "file://" + info.source_path;
    case SourceKind::Memory:
      return "memory://" + info.source_path;
    case SourceKind::Kafka:
      break;
  }
  return "kafka://" + info.topic;
}

}  // namespace rivulet::sql
