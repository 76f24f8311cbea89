#include "sql/column_use.hpp"

#include "sql/text.hpp"

namespace rivulet::sql {
namespace {

// `nested`: within a subquery, whose qualifiers may name its own sources,
// so its references are kept unqualified (they count for every source).
void add_names(const Query& q, bool nested, ColumnNames& out);

void add_names(const ExprPtr& e, bool nested, ColumnNames& out) {
  if (!e) return;
  if (e->kind == ExprKind::Column) out.refs.emplace_back(nested ? "" : e->qualifier, e->name);
  if (e->subquery) add_names(*e->subquery, true, out);
  for (const auto& a : e->args) add_names(a, nested, out);
}

void add_names(const Query& q, bool nested, ColumnNames& out) {
  for (const SelectItem& s : q.select) {
    if (s.kind == SelectItem::Kind::Expression) {
      add_names(s.expr, nested, out);
    } else if (s.kind == SelectItem::Kind::SourceColumns && !nested) {
      out.all_of.push_back(s.source);
    } else {
      out.all = true;
    }
  }
  for (const Join& j : q.joins) add_names(j.on, nested, out);
  add_names(q.where, nested, out);
  for (const auto& g : q.group_by) add_names(g, nested, out);
  for (const auto& p : q.partition_by) add_names(p, nested, out);
  add_names(q.having, nested, out);
}

}  // namespace

ColumnNames column_names(const Query& q, const QueryAnalysis& a) {
  ColumnNames out;
  add_names(q, false, out);
  for (const OutputColumn& c : a.projection) add_names(c.expr, false, out);
  return out;
}

ColumnNames names_for(const ColumnNames& n, const QueryAnalysis& a, const SourceInfo& s) {
  // Whether `qualifier` names s in the query.
  auto names_s = [&](const std::string& qualifier) {
    for (const AnalyzedSource& source : a.sources)
      if (source.info->name == s.name && iequals(source.qualifier, qualifier)) return true;
    return false;
  };
  ColumnNames out;
  out.all = n.all;
  for (const std::string& q : n.all_of) out.all = out.all || names_s(q);
  for (const auto& ref : n.refs)
    if (ref.first.empty() || names_s(ref.first)) out.refs.push_back(ref);
  return out;
}

std::vector<bool> value_columns_read(const ColumnNames& n, const SourceInfo& s) {
  std::vector<bool> out;
  for (const Column& c : s.schema.columns) {
    if (c.is_key) continue;
    bool read = n.all || (s.timestamp_column && iequals(*s.timestamp_column, c.name));
    for (size_t i = 0; !read && i < n.refs.size(); ++i) read = iequals(n.refs[i].second, c.name);
    out.push_back(read);
  }
  return out;
}

}  // namespace rivulet::sql
