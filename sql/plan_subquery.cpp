#include "sql/plan_subquery.hpp"

#include <algorithm>
#include <iterator>
#include <memory>
#include <utility>
#include <vector>

#include "operators/stateless_nodes.hpp"
#include "sql/expression.hpp"
#include "sql/planner.hpp"
#include "sql/row_layout.hpp"
#include "sql/subquery.hpp"
#include "sql/types.hpp"
#include "sql/plan_rows.hpp"

namespace rivulet::sql {
namespace {

using Plans = std::vector<std::shared_ptr<const SubqueryPlan>>;

Error unsupported(SourceLocation at, const std::string& what) {
  return sql_error(at, "not supported yet: " + what);
}

// The key the plan looks up for an outer row (coerced, wrapped as stored).
Value lookup_key(const SubqueryPlan& p, const EvalRow& outer) {
  const size_t width = p.layout->width();
  Array row(width);
  for (size_t i = 0; i < outer.column_count; ++i) row.push_back(outer.columns[i]);
  EvalRow e = outer;
  e.columns = row.data();
  e.column_count = row.size();
  Value key = coerce_or_null(p.key->evaluate(e), p.key_type);
  if (!key.is_null() && p.key_wrapped)
    key = Value::structure(StructFields{Field{p.key_name, key}});
  return key;
}

// The lookup reads the outer source's own key: no repartition needed.
bool is_local(const SubqueryPlan& p, const QueryAnalysis& a, const Query& q) {
  if (!q.joins.empty() || p.key_expr->kind != ExprKind::Column) return false;
  const SourceInfo& outer = *a.sources[0].info;
  auto keys = outer.schema.key_columns();
  if (keys.size() != 1) return false;
  auto c = a.scope.find(p.key_expr->qualifier, p.key_expr->name);
  if (!c.ok() || !(*c)->is_key || (*c)->qualifier != a.sources[0].qualifier) return false;
  return outer.key_format == p.table->key_format &&
         type_name(keys[0].type) == type_name(p.key_type);
}

}  // namespace

std::string global_table_name(const std::string& table) { return table; }

std::vector<ExprPtr> select_subqueries(const QueryAnalysis& a) {
  std::vector<ExprPtr> out;
  for (const OutputColumn& c : a.projection) {
    for (const ExprPtr& s : find_subqueries(c.expr)) {
      bool seen = false;
      for (const ExprPtr& o : out) seen = seen || same_expr(*o, *s);
      if (!seen) out.push_back(s);
    }
  }
  return out;
}

uint32_t row_width(const Scope& scope) {
  uint32_t width = 0;
  for (const ScopeColumn& c : scope.columns())
    if (c.slot.origin == Slot::Origin::Row && c.slot.index + 1 > width) width = c.slot.index + 1;
  return width;
}

bool has_subqueries(const ExprPtr& where) {
  return !find_subqueries(where).empty();
}

std::string subquery_note(const SubqueryPlan& p, const std::string& clause, bool scan,
                          const std::string& lookup) {
  std::string out = "line " + std::to_string(p.expr->loc.line) + ":" +
                    std::to_string(p.expr->loc.column) + "  " + clause + "  " + p.table_name +
                    ": ";
  if (!scan) return out + lookup;
  out += "scan of the global table";
  if (p.aggregated()) {
    std::string names;
    for (const auto& a : p.aggregates) names += (names.empty() ? "" : ", ") + a.name;
    out += " folding " + names;
  }
  if (p.uncorrelated())
    return out + ", computed once per change of the table";
  if (!p.selected_correlated && !p.table_conditions.empty())
    return out + ", the rows its conditions on the table keep cached per change of the table, "
                 "then tested per record";
  return out + ", every row tested per record (correlated)";
}

Expected<SubqueryScans> plan_subquery_scans(Topology& topology, const Catalog& catalog,
                                            const ExprPtr& e, const Scope& outer,
                                            const std::string& clause,
                                            std::vector<std::string>* notes) {
  SubqueryScans out;
  for (const ExprPtr& s : find_subqueries(e)) {
    auto p = analyze_subquery(s, outer, catalog);
    if (!p) return p.error();
    if (notes) notes->push_back(subquery_note(**p, clause, true));
    const SourceInfo& t = *(*p)->table;
    auto serdes = serdes_for(t);
    if (!serdes) return sql_error(s->loc, serdes.error().message);
    topology.add_global_table(global_table_name(t.name), t.topic, std::move(*serdes));
    out.plans.push_back(*p);
    out.caches.push_back(std::make_shared<ScanCache>());
  }
  return out;
}

bool bind_subquery_scans(BuildContext& b, const SubqueryScans& scans, Scope& scope,
                         const std::shared_ptr<std::optional<ScanError>>& failed) {
  for (size_t i = 0; i < scans.plans.size(); ++i) {
    auto plan = scans.plans[i];
    std::shared_ptr<const KTable> t = b.global_table(global_table_name(plan->table_name));
    if (!t) return false;
    TableScan scan;
    scan.id = t.get();
    scan.version = [t] { return t->stats().updates_applied; };
    scan.scan = [t](const std::function<void(const Value&, const Value&)>& visit) {
      // Under the table's shared lock: the feeder waits, the view is consistent.
      (void)t->filter([&](const Value& k, const Value& v) {
        visit(k, v);
        return false;
      });
    };
    auto handle = std::make_shared<ScanCacheHandle>();
    handle->cache = scans.caches[i];
    scope.bind_external(plan->expr, plan->type, [plan, scan, handle, failed](const EvalRow& row) {
      return evaluate_scan(*plan, scan, row, handle.get(), *failed);
    });
  }
  return true;
}

Expected<Topology::NodeId> plan_subquery_where(const SubqueryWhereContext& c,
                                               Topology::NodeId node,
                                               std::vector<DataTypePtr>& selected_types) {
  const QueryAnalysis& a = c.analysis;
  const ExprPtr& where = c.where;
  Plans plans;                // key lookups
  std::vector<std::string> stores;  // their task KTables
  SubqueryScans scans;        // scans of global tables
  // The WHERE's subqueries, then the SELECT's.
  std::vector<ExprPtr> subqueries = find_subqueries(where);
  const size_t in_where = subqueries.size();
  subqueries.insert(subqueries.end(), c.selected.begin(), c.selected.end());
  selected_types.clear();
  for (size_t i = 0; i < subqueries.size(); ++i) {
    const ExprPtr& s = subqueries[i];
    auto p = analyze_subquery(s, a.scope, c.catalog);
    if (!p) return p.error();
    if (i >= in_where) selected_types.push_back((*p)->type);
    if ((*p)->scan) {
      const SourceInfo& t = *(*p)->table;
      auto serdes = serdes_for(t);
      if (!serdes) return sql_error(s->loc, serdes.error().message);
      c.topology.add_global_table(global_table_name(t.name), t.topic, std::move(*serdes));
      scans.plans.push_back(*p);
      scans.caches.push_back(std::make_shared<ScanCache>());
      continue;
    }
    auto store = c.materialize(*(*p)->table);
    if (!store) return sql_error(s->loc, store.error().message);
    plans.push_back(*p);
    stores.push_back(*store);
  }
  // Type errors surface now, not when a task is built.
  if (where) {
    auto scope = scope_with_subquery_types(where, a.scope, c.catalog);
    if (!scope) return scope.error();
    CompileOptions o;
    o.clause = "WHERE";
    auto compiled = ExpressionCompiler(*scope, FunctionRegistry::builtin(), o).compile(where);
    if (!compiled) return compiled.error();
  }

  // Co-location: local lookups, or one re-key shared by every subquery.
  std::shared_ptr<const SubqueryPlan> rekey;
  for (const auto& p : plans) {
    if (is_local(*p, a, c.query)) continue;
    if (!rekey) {
      rekey = p;
      continue;
    }
    if (!same_expr(*rekey->key_expr, *p->key_expr) ||
        rekey->table->key_format != p->table->key_format ||
        type_name(rekey->key_type) != type_name(p->key_type))
      return unsupported(p->expr->loc,
                         "subqueries that look up different keys in one query (" +
                             to_sql(*rekey->key_expr) + " and " + to_sql(*p->key_expr) + ")");
  }
  if (c.notes) {
    for (size_t i = 0; i < subqueries.size(); ++i) {
      const ExprPtr& e = subqueries[i];
      const char* clause = i < in_where ? "WHERE" : "SELECT";
      for (const auto& p : scans.plans)
        if (p->expr == e) c.notes->push_back(subquery_note(*p, clause, true));
      for (const auto& p : plans) {
        if (p->expr != e) continue;
        const std::string by = "key lookup by " + to_sql(*p->key_expr) + " in the task's table";
        c.notes->push_back(subquery_note(
            *p, clause, false,
            is_local(*p, a, c.query)
                ? by + " (the input's own key: no repartition)"
                : by + ", the input re-keyed by it through a repartition topic"));
      }
    }
  }
  const bool table = a.sources[0].info->is_table();
  if (rekey && table)
    return unsupported(rekey->expr->loc,
                       "a subquery in a query over TABLE " + a.sources[0].info->name +
                           " must look up by that table's own key (with the same key type and "
                           "format), not by " + to_sql(*rekey->key_expr));
  if (rekey) {
    // Re-key by the lookup key; the original key rides in the row, just
    // before the tombstone flag.
    auto plan = rekey;
    RowFn fn = [plan](const Record& r, Batch& out) {
      if (is_tombstone(r)) return;  // WHERE drops a stream's null values
      Record o = r;
      o.key = lookup_key(*plan, eval_row(r));
      Array row = r.value.as_array();
      row.insert(row.end() - 1, r.key);
      o.value = Value::array(std::move(row));
      out.push_back(std::move(o));
    };
    node = c.topology.add_processor(c.name("subquery-key"), {node},
                                    [fn](BuildContext& b) -> std::unique_ptr<Processor> {
                                      return std::make_unique<FlatMapNode<RowFn>>(b.node_name(), fn);
                                    });
    auto serdes = serdes_for(*plan->table);
    if (!serdes) return sql_error(plan->expr->loc, serdes.error().message);
    node = c.topology.add_repartition(node, c.name("subquery"),
                                      Serdes{serdes->key, codecs::internal().value});
  }

  const bool restore = rekey != nullptr;
  Scope scope = a.scope;
  const std::vector<ExprPtr> selected = c.selected;
  const uint32_t width = c.row_width;
  ProcessorFactory factory = [plans, stores, scans, scope, where, selected, width, table,
                              restore](BuildContext& b) -> std::unique_ptr<Processor> {
    Scope s = scope;
    // A scalar scan matching several rows fails the record: the error is
    // parked here by the subquery and reported by the WHERE step.
    auto failed = std::make_shared<std::optional<ScanError>>();
    if (!bind_subquery_scans(b, scans, s, failed)) return nullptr;
    for (size_t i = 0; i < plans.size(); ++i) {
      std::shared_ptr<KTable> t = b.table(stores[i]);
      if (!t) return nullptr;
      auto plan = plans[i];
      TableLookup lookup = [t](const Value& k) { return t->find_local(k); };
      s.bind_external(plan->expr, plan->type, [plan, lookup](const EvalRow& row) {
        return evaluate_subquery(*plan, lookup, row);
      });
    }
    CompileOptions o;
    o.clause = "WHERE";
    std::shared_ptr<CompiledExpr> w;
    if (where) {
      auto compiled = ExpressionCompiler(s, FunctionRegistry::builtin(), o).compile(where);
      if (!compiled) return nullptr;
      w = std::make_shared<CompiledExpr>(std::move(*compiled));
    }
    // The SELECT's subqueries: each compiles to its bound evaluation.
    o.clause = "SELECT";
    auto values = std::make_shared<std::vector<CompiledExpr>>();
    for (const ExprPtr& e : selected) {
      auto compiled = ExpressionCompiler(s, FunctionRegistry::builtin(), o).compile(e);
      if (!compiled) return nullptr;
      values->push_back(std::move(*compiled));
    }
    ReportingRowFn fn = [w, values, width, table, restore, failed](const Record& r, Batch& out,
                                                                   ProcessContext& ctx) {
      if (is_row_tombstone(r, table)) {
        if (table) out.push_back(r);
        return;
      }
      const EvalRow row_in = eval_row(r);
      const bool kept = !w || w->test(row_in);
      Array extra;
      if (kept) {
        extra.reserve(values->size());
        for (const CompiledExpr& v : *values) extra.push_back(v.evaluate(row_in));
      }
      if (*failed) {
        // Dead-lettered and counted as a data error (the task logs it with
        // topic/partition/offset); the record goes no further.
        ctx.data_error(r, "subquery", std::move((*failed)->message));
        failed->reset();
        return;
      }
      if (kept) {
        if (!restore && extra.empty()) {
          out.push_back(r);
          return;
        }
        Record o = r;
        Array row = r.value.as_array();
        if (restore) {
          o.key = row[row.size() - 2];
          row.erase(row.end() - 2);
        }
        if (!extra.empty()) {  // the SELECT's subquery values, from Row slot `width` on
          const auto at = static_cast<std::ptrdiff_t>(std::min<size_t>(width, row.size()));
          row.insert(row.begin() + at, std::make_move_iterator(extra.begin()),
                     std::make_move_iterator(extra.end()));
        }
        o.value = Value::array(std::move(row));
        out.push_back(std::move(o));
      } else if (table) {
        Record o = r;  // a table row that no longer matches is deleted
        o.value = Value();
        out.push_back(std::move(o));
      }
    };
    return std::make_unique<FlatMapNode<ReportingRowFn>>(b.node_name(), std::move(fn));
  };
  return c.topology.add_processor(c.name("where"), {node}, std::move(factory), stores);
}

}  // namespace rivulet::sql
