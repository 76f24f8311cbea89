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
  if (p.grouped()) out += " grouped by " + p.group_text;
  if (p.aggregated()) {
    std::string names;
    for (const auto& a : p.aggregates) names += (names.empty() ? "" : ", ") + a.name;
    out += " folding " + names;
  }
  if (p.uncorrelated())
    return out + ", computed once per change of the table";
  if (!p.selected_correlated && p.index_key)
    return out + ", its rows cached per change of the table and indexed by " + p.index_text +
           ": each record tests the rows of its value only";
  if (!p.selected_correlated && !p.table_conditions.empty())
    return out + ", the rows its conditions on the table keep cached per change of the table, "
                 "then tested per record";
  return out + ", every row tested per record (correlated)";
}

std::string global_lookup_note(const SubqueryPlan& p) {
  return "key lookup by " + to_sql(*p.key_expr) +
         " in the node's global replica of the table (no repartition)";
}

// Declares `p`'s table a global table of `topology` (one per table name).
std::optional<Error> add_global(Topology& topology, const SubqueryPlan& p) {
  const SourceInfo& t = *p.table;
  if (!t.header_columns.empty())  // the replica reads the topic's values alone
    return sql_error(p.expr->loc,
                     "not supported yet: a subquery that reads the global replica "
                     "of a table with HEADER columns (" +
                         t.name + ")");
  auto serdes = serdes_for(t);
  if (!serdes) return sql_error(p.expr->loc, serdes.error().message);
  topology.add_global_table(global_table_name(t.name), t.topic, std::move(*serdes));
  return std::nullopt;
}

// Declares the tables of `p`'s nested subqueries global tables, and adds
// their EXPLAIN lines.
std::optional<Error> add_nested(Topology& topology, const SubqueryPlan& p,
                                std::vector<std::string>* notes) {
  for (const auto& n : p.nested) {
    if (auto bad = add_global(topology, *n)) return bad;
    if (notes)
      notes->push_back(subquery_note(*n, "nested in line " + std::to_string(p.expr->loc.line) +
                                             ":" + std::to_string(p.expr->loc.column),
                                     n->scan, n->scan ? "" : global_lookup_note(*n)));
  }
  return std::nullopt;
}

// A scan of the replica `t`; its version also moves with `also` (the
// versions of the tables its nested subqueries read), so a cached result
// is recomputed when any of them changes.
TableScan replica_scan(const std::shared_ptr<const KTable>& t, std::function<uint64_t()> also) {
  TableScan scan;
  scan.id = t.get();
  if (also) scan.version = [t, also] { return t->stats().updates_applied + also(); };
  else scan.version = [t] { return t->stats().updates_applied; };
  scan.scan = [t](const std::function<void(const Value&, const Value&)>& visit) {
    // Under the table's shared lock: the feeder waits, the view is consistent.
    (void)t->filter([&](const Value& k, const Value& v) {
      visit(k, v);
      return false;
    });
  };
  return scan;
}

// `plan` evaluated against the replica `t` for one task: a key lookup under
// its shared lock (the value copied into this task's slot: a task
// evaluates one row at a time) or a scan.
ExternalEval replica_eval(std::shared_ptr<const SubqueryPlan> plan,
                          const std::shared_ptr<const KTable>& t, std::function<uint64_t()> also,
                          std::shared_ptr<ScanCache> cache,
                          const std::shared_ptr<std::optional<ScanError>>& failed) {
  if (!plan->scan) {
    auto found = std::make_shared<Value>();
    TableLookup lookup = [t, found](const Value& k) -> const Value* {
      auto v = t->get(k);
      if (!v) return nullptr;
      *found = std::move(*v);
      return found.get();
    };
    return [plan, lookup](const EvalRow& row) { return evaluate_subquery(*plan, lookup, row); };
  }
  TableScan scan = replica_scan(t, std::move(also));
  auto handle = std::make_shared<ScanCacheHandle>();
  handle->cache = std::move(cache);
  return [plan, scan, handle, failed](const EvalRow& row) {
    return evaluate_scan(*plan, scan, row, handle.get(), *failed);
  };
}

// One task's readers of the subqueries nested in `root` (each reads its
// table's global replica), and the sum of those tables' versions.
struct NestedBinding {
  std::shared_ptr<const NestedSubqueries> readers;  // null: none nested
  std::function<uint64_t()> versions;               // null: none nested
};

std::optional<NestedBinding> bind_nested(BuildContext& b, const SubqueryPlan& root,
                                         const std::shared_ptr<std::optional<ScanError>>& failed) {
  NestedBinding out;
  if (root.nested.empty()) return out;
  std::vector<std::shared_ptr<const KTable>> tables;
  for (const auto& n : root.nested) {
    auto t = b.global_table(global_table_name(n->table_name));
    if (!t) return std::nullopt;
    tables.push_back(std::move(t));
  }
  out.versions = [tables] {
    uint64_t sum = 0;
    for (const auto& t : tables) sum += t->stats().updates_applied;
    return sum;
  };
  auto readers = std::make_shared<NestedSubqueries>();
  for (size_t i = 0; i < root.nested.size(); ++i) {
    const auto& n = root.nested[i];
    readers->evals.push_back(replica_eval(n, tables[i], out.versions, n->nested_cache, failed));
  }
  out.readers = std::move(readers);
  return out;
}

// `eval` with the EvalRow's `nested` set to the task's readers of the
// nested subqueries.
ExternalEval with_nested(ExternalEval eval, std::shared_ptr<const NestedSubqueries> readers) {
  if (!readers) return eval;
  return [eval = std::move(eval), readers](const EvalRow& row) {
    EvalRow r = row;
    r.nested = readers.get();
    return eval(r);
  };
}

Expected<GlobalSubqueries> plan_global_subqueries(Topology& topology, const Catalog& catalog,
                                                  const ExprPtr& e, const Scope& outer,
                                                  const std::string& clause,
                                                  std::vector<std::string>* notes) {
  GlobalSubqueries out;
  for (const ExprPtr& s : find_subqueries(e)) {
    auto p = analyze_subquery(s, outer, catalog);
    if (!p) return p.error();
    if (notes)
      notes->push_back(subquery_note(**p, clause, (*p)->scan,
                                     (*p)->scan ? "" : global_lookup_note(**p)));
    if (auto bad = add_global(topology, **p)) return *bad;
    if (auto bad = add_nested(topology, **p, notes)) return *bad;
    out.plans.push_back(*p);
    out.caches.push_back(std::make_shared<ScanCache>());
  }
  return out;
}

bool bind_global_subqueries(BuildContext& b, const GlobalSubqueries& global, Scope& scope,
                            const std::shared_ptr<std::optional<ScanError>>& failed) {
  for (size_t i = 0; i < global.plans.size(); ++i) {
    auto plan = global.plans[i];
    std::shared_ptr<const KTable> t = b.global_table(global_table_name(plan->table_name));
    if (!t) return false;
    auto nested = bind_nested(b, *plan, failed);
    if (!nested) return false;
    scope.bind_external(plan->expr, plan->type,
                        with_nested(replica_eval(plan, t, nested->versions, global.caches[i], failed),
                                    nested->readers));
  }
  return true;
}

Expected<Topology::NodeId> plan_subquery_where(const SubqueryWhereContext& c,
                                               Topology::NodeId node,
                                               std::vector<DataTypePtr>& selected_types) {
  const QueryAnalysis& a = c.analysis;
  const ExprPtr& where = c.where;
  // The WHERE's subqueries, then the SELECT's.
  std::vector<ExprPtr> subqueries = find_subqueries(where);
  const size_t in_where = subqueries.size();
  subqueries.insert(subqueries.end(), c.selected.begin(), c.selected.end());
  selected_types.clear();
  Plans analyzed;
  for (size_t i = 0; i < subqueries.size(); ++i) {
    auto p = analyze_subquery(subqueries[i], a.scope, c.catalog);
    if (!p) return p.error();
    if (i >= in_where) selected_types.push_back((*p)->type);
    analyzed.push_back(*p);
  }
  // Type errors surface now, not when a task is built.
  if (where) {
    auto scope = scope_with_subquery_types(where, a.scope, c.catalog);
    if (!scope) return scope.error();
    CompileOptions o;
    o.clause = "WHERE";
    auto compiled = ExpressionCompiler(*scope, FunctionRegistry::global(), o).compile(where);
    if (!compiled) return compiled.error();
  }

  // Where each key lookup reads: the task's own KTable when the lookup key
  // is the input's own key (local), or after one re-key of the input
  // through a repartition topic shared by every lookup of the same key; a
  // lookup by a constant, by another key, or in a query over a TABLE (which
  // cannot be re-keyed) reads the node's global replica of the table
  // instead. Scans read the global replica too.
  // Once re-keyed, the input is no longer partitioned by its own key: a
  // lookup by that key is then not local either.
  const bool table = a.sources[0].info->is_table();
  std::shared_ptr<const SubqueryPlan> rekey;
  for (const auto& p : analyzed)
    if (!table && !rekey && !p->scan && !is_local(*p, a, c.query) && !p->key->is_constant())
      rekey = p;
  auto same_key = [&](const SubqueryPlan& p) {
    return same_expr(*rekey->key_expr, *p.key_expr) &&
           rekey->table->key_format == p.table->key_format &&
           type_name(rekey->key_type) == type_name(p.key_type);
  };
  Plans plans;                      // lookups in the task's KTables
  std::vector<std::string> stores;  // those KTables
  GlobalSubqueries global;          // scans and lookups of global tables
  std::vector<std::string> how(analyzed.size());
  for (size_t i = 0; i < analyzed.size(); ++i) {
    const auto& p = analyzed[i];
    bool in_task = false;
    const std::string clause = i < in_where ? "WHERE" : "SELECT";
    if (!p->scan) {
      const std::string by = "key lookup by " + to_sql(*p->key_expr) + " in the task's table";
      if (!rekey && is_local(*p, a, c.query)) {
        in_task = true;
        how[i] = by + " (the input's own key: no repartition)";
      } else if (rekey && same_key(*p)) {
        in_task = true;
        how[i] = by + ", the input re-keyed by it through a repartition topic";
      } else {
        // A constant (a re-key would send every record to one partition),
        // another key than the re-key's, or a query over a TABLE: the
        // replica answers it on every node.
        how[i] = global_lookup_note(*p);
      }
    }
    if (c.notes) c.notes->push_back(subquery_note(*p, clause, p->scan, how[i]));
    if (auto bad = add_nested(c.topology, *p, c.notes)) return *bad;
    if (in_task) {
      auto store = c.materialize(*p->table);
      if (!store) return sql_error(p->expr->loc, store.error().message);
      plans.push_back(p);
      stores.push_back(*store);
    } else {
      if (auto bad = add_global(c.topology, *p)) return *bad;
      global.plans.push_back(p);
      global.caches.push_back(std::make_shared<ScanCache>());
    }
  }
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
  ProcessorFactory factory = [plans, stores, global, scope, where, selected, width, table,
                              restore](BuildContext& b) -> std::unique_ptr<Processor> {
    Scope s = scope;
    // A scalar scan matching several rows fails the record: the error is
    // parked here by the subquery and reported by the WHERE step.
    auto failed = std::make_shared<std::optional<ScanError>>();
    if (!bind_global_subqueries(b, global, s, failed)) return nullptr;
    for (size_t i = 0; i < plans.size(); ++i) {
      std::shared_ptr<KTable> t = b.table(stores[i]);
      if (!t) return nullptr;
      auto plan = plans[i];
      auto nested = bind_nested(b, *plan, failed);
      if (!nested) return nullptr;
      TableLookup lookup = [t](const Value& k) { return t->find_local(k); };
      s.bind_external(plan->expr, plan->type,
                      with_nested([plan, lookup](const EvalRow& row) {
                        return evaluate_subquery(*plan, lookup, row);
                      }, nested->readers));
    }
    CompileOptions o;
    o.clause = "WHERE";
    std::shared_ptr<CompiledExpr> w;
    if (where) {
      auto compiled = ExpressionCompiler(s, FunctionRegistry::global(), o).compile(where);
      if (!compiled) return nullptr;
      w = std::make_shared<CompiledExpr>(std::move(*compiled));
    }
    // The SELECT's subqueries: each compiles to its bound evaluation.
    o.clause = "SELECT";
    auto values = std::make_shared<std::vector<CompiledExpr>>();
    for (const ExprPtr& e : selected) {
      auto compiled = ExpressionCompiler(s, FunctionRegistry::global(), o).compile(e);
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
