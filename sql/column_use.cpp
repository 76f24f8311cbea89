#include "sql/column_use.hpp"

#include "sql/text.hpp"

namespace rivulet::sql {
namespace {

void add_names(const Query& q, ColumnNames& out);

void add_names(const ExprPtr& e, ColumnNames& out) {
  if (!e) return;
  if (e->kind == ExprKind::Column) out.names.push_back(e->name);
  if (e->subquery) add_names(*e->subquery, out);
  for (const auto& a : e->args) add_names(a, out);
}

void add_names(const Query& q, ColumnNames& out) {
  for (const SelectItem& s : q.select) {
    if (s.kind == SelectItem::Kind::Expression) {
      add_names(s.expr, out);
    } else {
      out.all = true;
    }
  }
  for (const Join& j : q.joins) add_names(j.on, out);
  add_names(q.where, out);
  for (const auto& g : q.group_by) add_names(g, out);
  for (const auto& p : q.partition_by) add_names(p, out);
  add_names(q.having, out);
}

}  // namespace

ColumnNames column_names(const Query& q, const QueryAnalysis& a) {
  ColumnNames out;
  add_names(q, out);
  for (const OutputColumn& c : a.projection) add_names(c.expr, out);
  return out;
}

std::vector<bool> value_columns_read(const ColumnNames& n, const SourceInfo& s) {
  std::vector<bool> out;
  for (const Column& c : s.schema.columns) {
    if (c.is_key) continue;
    bool read = n.all || (s.timestamp_column && iequals(*s.timestamp_column, c.name));
    for (size_t i = 0; !read && i < n.names.size(); ++i) read = iequals(n.names[i], c.name);
    out.push_back(read);
  }
  return out;
}

}  // namespace rivulet::sql
