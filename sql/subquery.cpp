#include "sql/subquery.hpp"

#include <utility>

#include "sql/row_layout.hpp"
#include "sql/text.hpp"

namespace rivulet::sql {
namespace {

bool is_subquery(const Expr& e) {
  return e.kind == ExprKind::InSubquery || e.kind == ExprKind::Exists ||
         e.kind == ExprKind::ScalarSubquery;
}

void collect(const ExprPtr& e, std::vector<ExprPtr>& out) {
  if (!e) return;
  if (is_subquery(*e)) {
    out.push_back(e);
    return;
  }
  for (const ExprPtr& a : e->args) collect(a, out);
}

const Expr* first_subquery(const ExprPtr& e) {
  if (!e) return nullptr;
  if (is_subquery(*e)) return e.get();
  for (const ExprPtr& a : e->args)
    if (const Expr* s = first_subquery(a)) return s;
  return nullptr;
}

bool names_match(const std::string& a, const std::string& b) {
  return a == b || iequals(a, b);
}

// Unqualified references to the table's columns get the table's qualifier
// (inner names shadow the outer query's).
ExprPtr qualify_inner(const ExprPtr& e, const Schema& schema, const std::string& qualifier) {
  if (!e) return e;
  if (e->kind == ExprKind::Column && e->qualifier.empty()) {
    for (const Column& c : schema.columns) {
      if (names_match(c.name, e->name)) {
        Expr copy = *e;
        copy.qualifier = qualifier;
        return ast::make(std::move(copy));
      }
    }
    return e;
  }
  if (e->kind == ExprKind::Lambda) return e;
  bool changed = false;
  std::vector<ExprPtr> args;
  args.reserve(e->args.size());
  for (const ExprPtr& a : e->args) {
    args.push_back(qualify_inner(a, schema, qualifier));
    changed = changed || args.back() != a;
  }
  if (!changed) return e;
  Expr copy = *e;
  copy.args = std::move(args);
  return ast::make(std::move(copy));
}

// Unqualified references of an outer expression get their outer qualifier,
// so that the table's columns cannot capture them.
ExprPtr qualify_outer(const ExprPtr& e, const Scope& outer) {
  if (!e) return e;
  if (e->kind == ExprKind::Column && e->qualifier.empty()) {
    auto c = outer.find("", e->name);
    if (!c.ok() || (*c)->is_pseudo || (*c)->qualifier.empty()) return e;
    Expr copy = *e;
    copy.qualifier = (*c)->qualifier;
    return ast::make(std::move(copy));
  }
  if (e->kind == ExprKind::Lambda) return e;
  bool changed = false;
  std::vector<ExprPtr> args;
  for (const ExprPtr& a : e->args) {
    args.push_back(qualify_outer(a, outer));
    changed = changed || args.back() != a;
  }
  if (!changed) return e;
  Expr copy = *e;
  copy.args = std::move(args);
  return ast::make(std::move(copy));
}

void conjuncts(const ExprPtr& e, std::vector<ExprPtr>& out) {
  if (!e) return;
  if (e->kind == ExprKind::Binary && e->binary_op == BinaryOp::And) {
    conjuncts(e->args[0], out);
    conjuncts(e->args[1], out);
    return;
  }
  out.push_back(e);
}

// True when `e` reads a column of the table (qualifier `inner`).
bool reads_inner(const Expr& e, const Scope& scope, const std::string& inner) {
  if (e.kind == ExprKind::Column) {
    auto c = scope.find(e.qualifier, e.name);
    return c.ok() && !(*c)->is_pseudo && (*c)->qualifier == inner;
  }
  for (const ExprPtr& a : e.args)
    if (a && reads_inner(*a, scope, inner)) return true;
  return false;
}

bool has_aggregate(const Expr& e, const FunctionRegistry& fns) {
  if (e.kind == ExprKind::FunctionCall && fns.is_aggregate(e.name)) return true;
  for (const ExprPtr& a : e.args)
    if (a && has_aggregate(*a, fns)) return true;
  return false;
}

Error unsupported(SourceLocation at, const std::string& what) {
  return sql_error(at, "not supported yet: " + what);
}

}  // namespace

std::vector<ExprPtr> find_subqueries(const ExprPtr& e) {
  std::vector<ExprPtr> out;
  collect(e, out);
  return out;
}

Expected<std::shared_ptr<const SubqueryPlan>> analyze_subquery(const ExprPtr& e,
                                                               const Scope& outer,
                                                               const Catalog& catalog,
                                                               const FunctionRegistry& functions) {
  const Query& q = *e->subquery;
  const SourceLocation at = q.from.loc;
  if (!q.joins.empty()) return unsupported(q.joins[0].loc, "joins in subqueries");
  if (q.window) return unsupported(q.window->loc, "WINDOW in subqueries");
  if (!q.group_by.empty()) return unsupported(q.group_by[0]->loc, "GROUP BY in subqueries");
  if (q.having) return unsupported(q.having->loc, "HAVING in subqueries");
  if (!q.partition_by.empty())
    return unsupported(q.partition_by[0]->loc, "PARTITION BY in subqueries");
  if (q.limit) return unsupported(q.loc, "LIMIT in subqueries");
  if (q.emit != EmitMode::Unspecified) return unsupported(q.loc, "EMIT in subqueries");

  auto resolved = catalog.resolve(q.from.name, q.from.loc);
  if (!resolved) return resolved.error();
  const SourceInfo& t = **resolved;
  if (!t.is_table())
    return sql_error(at, "Subqueries read tables: `" + t.name +
                             "` is a STREAM (a subquery is evaluated against the live state "
                             "of a TABLE)");
  if (t.window) return unsupported(at, "subqueries against windowed tables");
  auto keys = t.schema.key_columns();
  if (keys.size() != 1) return unsupported(at, "subqueries against tables with several key columns");
  const std::string inner = q.from.qualifier();
  for (const ScopeColumn& c : outer.columns())
    if (!c.is_pseudo && c.qualifier == inner)
      return sql_error(at, "The subquery's table needs an alias distinct from the outer query's "
                           "sources: `" + inner + "` is both");

  bool needs_value = e->kind != ExprKind::Exists;
  const SelectItem* item = nullptr;
  if (needs_value) {
    if (q.select.size() != 1 || q.select[0].kind != SelectItem::Kind::Expression)
      return sql_error(q.loc, std::string(e->kind == ExprKind::InSubquery ? "A subquery used with IN"
                                                                          : "A scalar subquery") +
                                  " must select exactly one expression");
    item = &q.select[0];
  }
  for (const SelectItem& s : q.select)
    if (const Expr* nested = first_subquery(s.expr)) return unsupported(nested->loc, "nested subqueries");
  if (const Expr* nested = first_subquery(q.where)) return unsupported(nested->loc, "nested subqueries");

  // The subquery's scope: t's columns at Row 0..n-1, then the outer row.
  auto plan = std::make_shared<SubqueryPlan>();
  plan->expr = e;
  plan->table = &t;
  plan->layout = std::make_shared<RowLayout>(t);
  const uint32_t width = static_cast<uint32_t>(t.schema.columns.size());
  Scope scope;
  for (uint32_t i = 0; i < width; ++i) {
    const Column& c = t.schema.columns[i];
    scope.add(ScopeColumn{inner, c.name, c.type, Slot{Slot::Origin::Row, i}, c.is_key, false});
  }
  for (ScopeColumn c : outer.columns()) {
    if (c.slot.origin == Slot::Origin::Row) c.slot.index += width;
    scope.add(std::move(c));
  }
  CompileOptions options;
  options.allow_aggregates = false;
  options.clause = "subquery";
  ExpressionCompiler compiler(scope, functions, options);

  std::vector<ExprPtr> conds;
  conjuncts(qualify_inner(q.where, t.schema, inner), conds);
  ExprPtr selected;
  if (item) {
    if (has_aggregate(*item->expr, functions))
      return unsupported(item->expr->loc, "aggregate functions in subqueries");
    selected = qualify_inner(item->expr, t.schema, inner);
    if (e->kind == ExprKind::InSubquery)
      conds.push_back(ast::binary(BinaryOp::Eq, selected, qualify_outer(e->args[0], outer),
                                  e->args[0]->loc));
  }
  for (const ExprPtr& c : conds) {
    if (has_aggregate(*c, functions))
      return unsupported(c->loc, "aggregate functions in subqueries");
    auto compiled = compiler.compile(c);
    if (!compiled) return compiled.error();
    if (compiled->type() && compiled->type()->kind != TypeKind::Boolean &&
        compiled->type()->kind != TypeKind::Null)
      return sql_error(c->loc, "Type error in subquery WHERE expression: Should evaluate to "
                               "boolean but is " + to_sql(*c) + " instead.");
    plan->conditions.push_back(std::make_shared<CompiledExpr>(std::move(*compiled)));
  }
  if (selected) {
    auto compiled = compiler.compile(selected);
    if (!compiled) return compiled.error();
    plan->selected = std::make_shared<CompiledExpr>(std::move(*compiled));
  }
  plan->type = e->kind == ExprKind::ScalarSubquery ? plan->selected->type()
                                                   : DataType::of(TypeKind::Boolean);

  // The key conjunct: `K = e` (or `e = K`) with e free of t's columns.
  const Column& key = keys[0];
  for (const ExprPtr& c : conds) {
    if (c->kind != ExprKind::Binary || c->binary_op != BinaryOp::Eq) continue;
    for (int side = 0; side < 2 && !plan->key; ++side) {
      const Expr& k = *c->args[side];
      const ExprPtr& other = c->args[1 - side];
      if (k.kind != ExprKind::Column) continue;
      auto col = scope.find(k.qualifier, k.name);
      if (!col.ok() || (*col)->qualifier != inner || !(*col)->is_key) continue;
      if (reads_inner(*other, scope, inner)) continue;
      auto compiled = compiler.compile(other);
      if (!compiled) return compiled.error();
      plan->key = std::make_shared<CompiledExpr>(std::move(*compiled));
      plan->key_expr = other;
    }
    if (plan->key) break;
  }
  if (!plan->key) {
    std::string fix = "its WHERE must fix the primary key: " + inner + "." + key.name +
                      " = <an expression of the outer row>";
    if (e->kind == ExprKind::ScalarSubquery)
      return sql_error(e->loc, "A scalar subquery must return at most one row: " + fix +
                                   " (table " + t.name + ")");
    return unsupported(e->loc, "a subquery that scans table " + t.name + ": " + fix +
                                   " (a scan would need every partition of " + t.name +
                                   " in every task)");
  }
  plan->key_type = key.type;
  plan->key_name = key.name;
  plan->key_wrapped = t.key_format == "DELIMITED";
  return std::shared_ptr<const SubqueryPlan>(std::move(plan));
}

Value evaluate_subquery(const SubqueryPlan& plan, const TableLookup& lookup,
                        const EvalRow& outer) {
  const size_t width = plan.layout->width();
  Array row(width);
  row.reserve(width + outer.column_count);
  for (size_t i = 0; i < outer.column_count; ++i) row.push_back(outer.columns[i]);
  EvalRow e = outer;
  e.columns = row.data();
  e.column_count = row.size();
  Value key = coerce_or_null(plan.key->evaluate(e), plan.key_type);
  const Value* stored = nullptr;
  if (!key.is_null()) {
    if (plan.key_wrapped) key = Value::structure(StructFields{Field{plan.key_name, key}});
    stored = lookup(key);
  }
  bool found = stored != nullptr;
  if (found) {
    Array inner;
    inner.reserve(width);
    plan.layout->append(key, stored, inner);
    for (size_t i = 0; i < width; ++i) row[i] = std::move(inner[i]);
    for (const auto& c : plan.conditions) {
      if (!c->test(e)) {
        found = false;
        break;
      }
    }
  }
  switch (plan.expr->kind) {
    case ExprKind::Exists:
      return Value::boolean(found);
    case ExprKind::InSubquery:
      return Value::boolean(plan.expr->negated ? !found : found);
    default:
      return found ? plan.selected->evaluate(e) : Value();
  }
}

Expected<Scope> scope_with_subquery_types(const ExprPtr& e, const Scope& scope,
                                          const Catalog& catalog,
                                          const FunctionRegistry& functions) {
  Scope out = scope;
  for (const ExprPtr& s : find_subqueries(e)) {
    auto plan = analyze_subquery(s, scope, catalog, functions);
    if (!plan) return plan.error();
    out.bind_external(s, (*plan)->type, [](const EvalRow&) { return Value(); });
  }
  return out;
}

}  // namespace rivulet::sql
