// SqlEngine::explain: what EXPLAIN, `rivulet run --explain` and the shell
// print about the queries an engine planned (docs/sql-reference.md,
// "EXPLAIN").
#include <algorithm>
#include <sstream>

#include "sql/planner.hpp"

namespace rivulet::sql {

namespace {

std::string join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

}  // namespace

std::string SqlEngine::explain(const std::string& application_id) const {
  const Topology topology = topology_.scoped_to(application_id);
  std::ostringstream os;
  os << "Sources:\n";
  for (const SourceEntry& e : sources_) {
    const SourceInfo* s = catalog_.find(e.source);
    os << "  " << e.source;
    if (s) {
      os << "  " << (s->is_table() ? "table" : "stream") << "  topic " << e.topic << "  key "
         << s->key_format << "  value " << s->value_format;
      if (s->is_table()) os << "  storage " << table_storage_name(s->storage);
      // Which value columns the source's codec builds (the others are
      // checked and left NULL: sql/column_use.hpp).
      std::vector<std::string> decoded, skipped;
      size_t v = 0;
      for (const Column& c : s->schema.columns) {
        if (c.is_key) continue;
        const bool built = !e.decoded || v >= e.decoded->size() || (*e.decoded)[v];
        (built ? decoded : skipped).push_back(c.name);
        ++v;
      }
      if (skipped.empty()) {
        os << "  decodes every value column (" << v << ")";
      } else {
        os << "  decodes " << (decoded.empty() ? "none" : join(decoded)) << " (" << skipped.size()
           << " of " << v << " value columns checked, not decoded: " << join(skipped) << ")";
      }
    } else {
      os << "  topic " << e.topic;
    }
    os << "\n";
  }
  for (const auto& g : topology.global_tables())
    os << "  " << g.name << "  global table  topic " << g.topic << "\n";
  const auto sinks = topology.sink_topics();
  const auto repartition = topology.repartition_topics();
  std::vector<std::string> outputs;
  for (const auto& t : sinks)
    if (std::find(repartition.begin(), repartition.end(), t) == repartition.end())
      outputs.push_back(t);
  if (!outputs.empty()) {  // a push query has none
    os << "Sink topics:\n";
    for (const auto& t : outputs) os << "  " << t << "\n";
  }
  if (!repartition.empty()) {
    os << "Repartition topics (created when missing):\n";
    for (const auto& t : repartition) os << "  " << t << "\n";
  }
  const auto groups = topology.copartition_groups();
  if (!groups.empty()) {
    os << "Co-partitioned topics (same partition count, checked before the query starts):\n";
    for (const auto& g : groups) os << "  " << join(g) << "\n";
  }
  if (!subquery_notes_.empty()) {
    os << "Subqueries (docs/sql-reference.md, \"Subqueries against tables\"):\n";
    for (const auto& n : subquery_notes_) os << "  " << n << "\n";
  }
  os << "Topology (node kind [topic] <- inputs):\n";
  std::istringstream lines(topology.describe());
  for (std::string line; std::getline(lines, line);) os << "  " << line << "\n";
  return os.str();
}

}  // namespace rivulet::sql
