#include "sql/subquery.hpp"

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <stdexcept>
#include <unordered_set>
#include <utility>

#include "runtime/moments.hpp"
#include "runtime/numbers.hpp"
#include "sql/row_layout.hpp"
#include "sql/text.hpp"
#include "sql/types.hpp"

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

// The subqueries nested in one subquery's WHERE, with their plans.
struct NestedPlan {
  ExprPtr node;
  std::shared_ptr<const SubqueryPlan> plan;
};
using NestedPlans = std::vector<NestedPlan>;

const SubqueryPlan* nested_plan(const Expr& e, const NestedPlans* nested) {
  if (!nested) return nullptr;
  for (const NestedPlan& n : *nested)
    if (same_expr(*n.node, e)) return n.plan.get();
  return nullptr;
}

// Whether the nested subquery `e` reads the table (qualifier `inner`) of
// the subquery it is nested in (`table`), or anything else of its outer
// scope (`!table`).
bool nested_reads(const Expr& e, const NestedPlans* nested, const std::string& inner, bool table) {
  const SubqueryPlan* p = nested_plan(e, nested);
  if (!p) return false;
  for (const std::string& q : p->outer_reads)
    if ((q == inner) == table) return true;
  return false;
}

// True when `e` reads a column of the table (qualifier `inner`), itself or
// through a nested subquery.
bool reads_inner(const Expr& e, const Scope& scope, const std::string& inner,
                 const NestedPlans* nested = nullptr) {
  if (e.kind == ExprKind::Column) {
    auto c = scope.find(e.qualifier, e.name);
    return c.ok() && !(*c)->is_pseudo && (*c)->qualifier == inner;
  }
  if (is_subquery(e) && nested_reads(e, nested, inner, true)) return true;
  for (const ExprPtr& a : e.args)
    if (a && reads_inner(*a, scope, inner, nested)) return true;
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

// Functions whose result changes between calls: a condition calling one is
// evaluated per outer record, never cached.
bool is_volatile(const std::string& name) {
  static const char* names[] = {"RANDOM", "UNIX_TIMESTAMP", "UNIX_DATE", "NOW",
                                "CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME",
                                "UUID"};
  for (const char* n : names)
    if (iequals(name, n)) return true;
  return false;
}

// True when `e` reads the outer row (a column that is not t's, a pseudo
// column), itself or through a nested subquery, or calls a volatile
// function; lambdas count as correlated.
bool reads_outer(const Expr& e, const Scope& scope, const std::string& inner,
                 const NestedPlans* nested = nullptr) {
  if (e.kind == ExprKind::Column) {
    auto c = scope.find(e.qualifier, e.name);
    return !c.ok() || (*c)->is_pseudo || (*c)->qualifier != inner;
  }
  if (e.kind == ExprKind::Lambda) return true;
  if (e.kind == ExprKind::FunctionCall && is_volatile(e.name)) return true;
  if (is_subquery(e) && nested_reads(e, nested, inner, false)) return true;
  for (const ExprPtr& a : e.args)
    if (a && reads_outer(*a, scope, inner, nested)) return true;
  return false;
}

// Adds to `out` the qualifiers of the outer scope's columns `e` reads ("" for
// pseudo columns, volatile functions and lambdas), its nested subqueries'
// included.
void collect_outer_reads(const Expr& e, const Scope& scope, const std::string& inner,
                         const NestedPlans& nested, std::vector<std::string>& out) {
  auto add = [&](const std::string& q) {
    if (q == inner) return;
    for (const std::string& seen : out)
      if (seen == q) return;
    out.push_back(q);
  };
  if (e.kind == ExprKind::Column) {
    auto c = scope.find(e.qualifier, e.name);
    add(!c.ok() || (*c)->is_pseudo ? "" : (*c)->qualifier);
    return;
  }
  if (e.kind == ExprKind::Lambda || (e.kind == ExprKind::FunctionCall && is_volatile(e.name)))
    add("");
  if (is_subquery(e))
    if (const SubqueryPlan* p = nested_plan(e, &nested))
      for (const std::string& q : p->outer_reads) add(q);
  for (const ExprPtr& a : e.args)
    if (a && e.kind != ExprKind::Lambda) collect_outer_reads(*a, scope, inner, nested, out);
}

// Whether SQL's `=` between values of these types is Value equality, so a
// hash index finds exactly the rows the condition accepts: the same scalar
// kind, or two integer kinds. Not DOUBLE or DECIMAL (0.0 = -0.0, scales),
// not containers, not kinds the comparison coerces across (a STRING
// against a TIMESTAMP).
bool indexable(const DataTypePtr& a, const DataTypePtr& b) {
  if (!a || !b) return false;
  auto integer = [](TypeKind k) { return k == TypeKind::Int || k == TypeKind::BigInt; };
  if (integer(a->kind) && integer(b->kind)) return true;
  if (a->kind != b->kind) return false;
  switch (a->kind) {
    case TypeKind::String:
    case TypeKind::Boolean:
    case TypeKind::Date:
    case TypeKind::Time:
    case TypeKind::Timestamp:
    case TypeKind::Bytes:
      return true;
    default:
      return false;
  }
}

// The outermost aggregate calls in `e`, each once (same_expr).
void aggregate_calls(const ExprPtr& e, const FunctionRegistry& fns, std::vector<ExprPtr>& out) {
  if (!e) return;
  if (e->kind == ExprKind::FunctionCall && fns.is_aggregate(e->name)) {
    for (const ExprPtr& seen : out)
      if (same_expr(*seen, *e)) return;
    out.push_back(e);
    return;
  }
  if (e->kind == ExprKind::Lambda) return;
  for (const ExprPtr& a : e->args) aggregate_calls(a, fns, out);
}

// A column of the table outside every aggregate call, or nullptr.
const Expr* inner_outside_aggregates(const Expr& e, const Scope& scope, const std::string& inner,
                                     const FunctionRegistry& fns) {
  if (e.kind == ExprKind::FunctionCall && fns.is_aggregate(e.name)) return nullptr;
  if (e.kind == ExprKind::Column) return reads_inner(e, scope, inner) ? &e : nullptr;
  for (const ExprPtr& a : e.args)
    if (a)
      if (const Expr* c = inner_outside_aggregates(*a, scope, inner, fns)) return c;
  return nullptr;
}

// True when `e` reads anything but aggregate calls' results: a column (of
// the outer row: the table's are refused outside aggregates), a pseudo
// column, a lambda or a volatile function.
bool reads_outside_aggregates(const Expr& e, const FunctionRegistry& fns) {
  if (e.kind == ExprKind::FunctionCall && fns.is_aggregate(e.name)) return false;
  if (e.kind == ExprKind::Column || e.kind == ExprKind::Lambda) return true;
  if (e.kind == ExprKind::FunctionCall && is_volatile(e.name)) return true;
  for (const ExprPtr& a : e.args)
    if (a && reads_outside_aggregates(*a, fns)) return true;
  return false;
}

// A scalar subquery selecting aggregates: compiles each call's argument
// against the subquery's scope and the selected expression against their
// results followed by the outer row.
std::optional<Error> plan_aggregates(SubqueryPlan& plan, const ExprPtr& selected,
                                     const Scope& scope, const Scope& outer,
                                     const std::string& inner, const FunctionRegistry& fns) {
  using Kind = SubqueryPlan::Aggregate::Kind;
  if (const Expr* c = inner_outside_aggregates(*selected, scope, inner, fns))
    return sql_error(c->loc, "The subquery selects aggregates: its column " + to_sql(*c) +
                                 " must be inside an aggregate function");
  std::vector<ExprPtr> calls;
  aggregate_calls(selected, fns, calls);
  CompileOptions options;
  options.allow_aggregates = false;
  options.clause = "subquery";
  ExpressionCompiler compiler(scope, fns, options);
  Scope results;
  for (size_t i = 0; i < calls.size(); ++i) {
    const Expr& call = *calls[i];
    static const std::pair<const char*, Kind> kinds[] = {{"COUNT", Kind::Count},
                                                         {"COUNT_DISTINCT", Kind::CountDistinct},
                                                         {"SUM", Kind::Sum},
                                                         {"AVG", Kind::Avg},
                                                         {"MIN", Kind::Min},
                                                         {"MAX", Kind::Max},
                                                         {"STDDEV_SAMPLE", Kind::StddevSample},
                                                         {"STDDEV_SAMP", Kind::StddevSample},
                                                         {"CORRELATION", Kind::Correlation},
                                                         {"ATTR", Kind::Attr}};
    SubqueryPlan::Aggregate a;
    bool known = false;
    for (const auto& [name, kind] : kinds) {
      if (!iequals(call.name, name)) continue;
      a.kind = kind;
      known = true;
    }
    a.name = to_sql(call);
    const FunctionDef* def = fns.find(call.name);
    if (!known && def && def->resolve_aggregate) {  // a UDAF: every argument, per row
      if (call.star) return sql_error(call.loc, "Function " + call.name + " does not accept *");
      a.kind = Kind::User;
      std::vector<DataTypePtr> types;
      for (const ExprPtr& arg : call.args) {
        if (has_aggregate(*arg, fns))
          return sql_error(arg->loc, "Aggregate functions can not be nested: " + a.name);
        auto compiled = compiler.compile(arg);
        if (!compiled) return compiled.error();
        types.push_back(compiled->type());
        a.args.push_back(std::make_shared<const CompiledExpr>(std::move(*compiled)));
        plan.selected_correlated = plan.selected_correlated || reads_outer(*arg, scope, inner);
      }
      auto resolved = fns.resolve_udaf(call.name, types);
      if (!resolved) return sql_error(call.loc, resolved.error().message);
      a.udaf = std::make_shared<const AggregateCall>(std::move(*resolved));
      a.type = a.udaf->return_type;
      results.bind(calls[i], a.type, Slot{Slot::Origin::Row, static_cast<uint32_t>(i)});
      plan.aggregates.push_back(std::move(a));
      continue;
    }
    if (!known) return unsupported(call.loc, "aggregate function " + call.name + " in subqueries");
    if (!call.star) {
      const size_t arity = a.kind == Kind::Correlation ? 2 : 1;
      if (call.args.size() != arity)
        return sql_error(call.loc, "Function '" + call.name + "' takes " +
                                       (arity == 1 ? "one argument: " : "two arguments: ") +
                                       a.name);
      for (size_t j = 0; j < arity; ++j) {
        if (has_aggregate(*call.args[j], fns))
          return sql_error(call.args[j]->loc, "Aggregate functions can not be nested: " + a.name);
        auto arg = compiler.compile(call.args[j]);
        if (!arg) return arg.error();
        (j == 0 ? a.arg : a.arg2) = std::make_shared<CompiledExpr>(std::move(*arg));
        plan.selected_correlated =
            plan.selected_correlated || reads_outer(*call.args[j], scope, inner);
      }
    } else if (a.kind != Kind::Count) {
      return sql_error(call.loc, call.name + "(*) is not supported: " + call.name +
                                     " needs an argument");
    }
    auto type = ExpressionCompiler(scope, fns).infer_type(calls[i]);
    if (!type) return type.error();
    a.type = *type;
    results.bind(calls[i], a.type, Slot{Slot::Origin::Row, static_cast<uint32_t>(i)});
    plan.aggregates.push_back(std::move(a));
  }
  for (ScopeColumn c : outer.columns()) {
    if (c.slot.origin == Slot::Origin::Row) c.slot.index += static_cast<uint32_t>(calls.size());
    results.add(std::move(c));
  }
  auto compiled = ExpressionCompiler(results, fns, options).compile(selected);
  if (!compiled) return compiled.error();
  plan.selected = std::make_shared<CompiledExpr>(std::move(*compiled));
  plan.result_reads_outer = reads_outside_aggregates(*selected, fns);
  return std::nullopt;
}

// A subquery with GROUP BY: uncorrelated only. Compiles its WHERE and
// grouping against t's columns, its aggregates' arguments likewise, and its
// selected expression and HAVING against the group's values then its
// aggregates.
using Qualify = std::function<ExprPtr(const ExprPtr&)>;

std::optional<Error> plan_grouped(SubqueryPlan& plan, const ExprPtr& e, const Query& q,
                                  const Qualify& qualify, const SelectItem* item,
                                  const Scope& scope, const Scope& outer, const std::string& inner,
                                  const NestedPlans& nested, const FunctionRegistry& fns) {
  auto correlated = [&](const ExprPtr& x) -> std::optional<Error> {
    if (x && reads_outer(*x, scope, inner, &nested))
      return unsupported(x->loc, "correlated subqueries with GROUP BY: " + to_sql(*x));
    return std::nullopt;
  };
  CompileOptions options;
  options.allow_aggregates = false;
  options.clause = "subquery";
  ExpressionCompiler compiler(scope, fns, options);
  std::vector<ExprPtr> conds;
  conjuncts(qualify(q.where), conds);
  for (const ExprPtr& c : conds) {
    if (auto bad = correlated(c)) return bad;
    std::vector<ExprPtr> calls;
    aggregate_calls(c, fns, calls);
    if (!calls.empty())
      return sql_error(calls[0]->loc, "Aggregate functions are not allowed in a subquery's WHERE: " +
                                          to_sql(*c));
    auto compiled = compiler.compile(c);
    if (!compiled) return compiled.error();
    auto shared = std::make_shared<CompiledExpr>(std::move(*compiled));
    plan.conditions.push_back(shared);
    plan.table_conditions.push_back(shared);
  }
  Scope results;  // the group's values, then its aggregates
  std::vector<ExprPtr> groups;
  for (const ExprPtr& g : q.group_by) {
    ExprPtr qualified = qualify(g);
    if (auto bad = correlated(qualified)) return bad;
    if (has_aggregate(*qualified, fns))
      return sql_error(g->loc, "GROUP BY does not support aggregate functions: " + to_sql(*g));
    auto compiled = compiler.compile(qualified);
    if (!compiled) return compiled.error();
    results.bind(qualified, compiled->type(),
                 Slot{Slot::Origin::Row, static_cast<uint32_t>(groups.size())});
    plan.group_text += (plan.group_text.empty() ? "" : ", ") + to_sql(*qualified);
    plan.group_by.push_back(std::make_shared<CompiledExpr>(std::move(*compiled)));
    groups.push_back(std::move(qualified));
  }
  ExprPtr selected = item ? qualify(item->expr) : nullptr;
  ExprPtr having = qualify(q.having);
  if (auto bad = correlated(selected)) return bad;
  if (auto bad = correlated(having)) return bad;
  // The aggregates of the selected expression and HAVING, folded per group.
  std::vector<ExprPtr> calls;
  aggregate_calls(selected, fns, calls);
  aggregate_calls(having, fns, calls);
  for (const ExprPtr& call : calls) {  // each planned as a scalar of that call alone
    SubqueryPlan one;
    if (auto bad = plan_aggregates(one, call, scope, Scope(), inner, fns)) return bad;
    plan.aggregates.push_back(one.aggregates[0]);
    results.bind(call, one.aggregates[0].type,
                 Slot{Slot::Origin::Row,
                      static_cast<uint32_t>(groups.size() + plan.aggregates.size() - 1)});
  }
  // t's columns outside the groups and the aggregates cannot be read.
  std::function<const Expr*(const Expr&)> ungrouped = [&](const Expr& x) -> const Expr* {
    if (x.kind == ExprKind::FunctionCall && fns.is_aggregate(x.name)) return nullptr;
    for (const ExprPtr& g : groups)
      if (same_expr(*g, x)) return nullptr;
    if (x.kind == ExprKind::Column) return reads_inner(x, scope, inner) ? &x : nullptr;
    for (const ExprPtr& a : x.args)
      if (a)
        if (const Expr* c = ungrouped(*a)) return c;
    return nullptr;
  };
  for (const ExprPtr& x : {selected, having})
    if (x)
      if (const Expr* c = ungrouped(*x))
        return sql_error(c->loc, "The subquery's column " + to_sql(*c) +
                                     " must be in its GROUP BY or inside an aggregate function");
  CompileOptions after;
  after.clause = "subquery";
  if (selected) {
    auto compiled = ExpressionCompiler(results, fns, after).compile(selected);
    if (!compiled) return compiled.error();
    plan.selected = std::make_shared<CompiledExpr>(std::move(*compiled));
  }
  if (having) {
    auto compiled = ExpressionCompiler(results, fns, after).compile(having);
    if (!compiled) return compiled.error();
    if (compiled->type() && compiled->type()->kind != TypeKind::Boolean &&
        compiled->type()->kind != TypeKind::Null)
      return sql_error(having->loc, "Type error in subquery HAVING expression: Should evaluate "
                                    "to boolean but is " + to_sql(*having) + " instead.");
    plan.having = std::make_shared<CompiledExpr>(std::move(*compiled));
  }
  if (e->kind == ExprKind::InSubquery) {
    auto operand = ExpressionCompiler(outer, fns, after).compile(e->args[0]);
    if (!operand) return operand.error();
    // SQL's `=` between a group's value and the operand, typed as they are.
    Scope pair;
    pair.add(ScopeColumn{"", "V", plan.selected->type(), Slot{Slot::Origin::Row, 0}, false, false});
    pair.add(ScopeColumn{"", "X", operand->type(), Slot{Slot::Origin::Row, 1}, false, false});
    auto equal = ExpressionCompiler(pair, fns, after)
                     .compile(ast::binary(BinaryOp::Eq, ast::column("V", "", e->args[0]->loc),
                                          ast::column("X", "", e->args[0]->loc), e->args[0]->loc));
    if (!equal)
      return sql_error(e->args[0]->loc, "Cannot compare " + to_sql(*e->args[0]) + " (" +
                                            type_name(operand->type()) +
                                            ") to the values of the subquery's groups (" +
                                            type_name(plan.selected->type()) + ")");
    plan.in_hashed = indexable(plan.selected->type(), operand->type());
    plan.in_operand = std::make_shared<CompiledExpr>(std::move(*operand));
    plan.in_equal = std::make_shared<CompiledExpr>(std::move(*equal));
  }
  plan.type = e->kind == ExprKind::ScalarSubquery ? plan.selected->type()
                                                  : DataType::of(TypeKind::Boolean);
  plan.scan = true;
  return std::nullopt;
}

}  // namespace

std::vector<ExprPtr> find_subqueries(const ExprPtr& e) {
  std::vector<ExprPtr> out;
  collect(e, out);
  return out;
}

namespace {

// What a nested subquery's analysis needs of the subqueries enclosing it.
struct Enclosing {
  // Their tables, nearest first: an unqualified name resolves to the
  // nearest table that has the column, then to the outermost query.
  std::vector<std::pair<const Schema*, std::string>> tables;
  // The outermost subquery's list of every nested subquery.
  std::vector<std::shared_ptr<const SubqueryPlan>>* flat = nullptr;
};

Expected<std::shared_ptr<const SubqueryPlan>> analyze(const ExprPtr& e, const Scope& outer,
                                                      const Catalog& catalog,
                                                      const FunctionRegistry& functions,
                                                      const Enclosing& enclosing) {
  const Query& q = *e->subquery;
  const SourceLocation at = q.from.loc;
  if (!q.joins.empty()) return unsupported(q.joins[0].loc, "joins in subqueries");
  if (q.window) return unsupported(q.window->loc, "WINDOW in subqueries");
  if (q.having && q.group_by.empty())
    return sql_error(q.having->loc, "HAVING clause requires a GROUP BY clause.");
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
  const std::string inner = q.from.qualifier();
  for (const ScopeColumn& c : outer.columns())
    if (!c.is_pseudo && c.qualifier == inner)
      return sql_error(at, "The subquery's table needs an alias distinct from the outer query's "
                           "sources: `" + inner + "` is both");

  bool needs_value = e->kind != ExprKind::Exists;
  if (!needs_value && q.group_by.empty())
    for (const SelectItem& s : q.select)
      if (s.expr && has_aggregate(*s.expr, functions))
        return unsupported(s.expr->loc, "aggregate functions in EXISTS subqueries");
  const SelectItem* item = nullptr;
  if (needs_value) {
    if (q.select.size() != 1 || q.select[0].kind != SelectItem::Kind::Expression)
      return sql_error(q.loc, std::string(e->kind == ExprKind::InSubquery ? "A subquery used with IN"
                                                                          : "A scalar subquery") +
                                  " must select exactly one expression");
    item = &q.select[0];
  }
  // The selected value may hold subqueries (a chain of lookups), unless it
  // aggregates or groups (its value is then computed from folded results).
  for (const SelectItem& s : q.select)
    if (const Expr* nested = first_subquery(s.expr))
      if (!q.group_by.empty() || has_aggregate(*s.expr, functions))
        return unsupported(nested->loc,
                           "subqueries in the SELECT of a subquery with aggregates or GROUP BY");
  if (const Expr* nested = first_subquery(q.having))
    return unsupported(nested->loc, "subqueries in a subquery's HAVING");
  for (const ExprPtr& g : q.group_by)
    if (const Expr* nested = first_subquery(g))
      return unsupported(nested->loc, "subqueries in a subquery's GROUP BY");

  // Unqualified names: t's columns, then the enclosing subqueries' tables'
  // (nearest first), then the outermost query's.
  const Qualify qualify = [&](const ExprPtr& x) {
    ExprPtr out = qualify_inner(x, t.schema, inner);
    for (const auto& [schema, qualifier] : enclosing.tables) out = qualify_inner(out, *schema, qualifier);
    return out;
  };

  // The subquery's scope: t's columns at Row 0..n-1, then the outer row.
  auto plan = std::make_shared<SubqueryPlan>();
  plan->expr = e;
  plan->table = &t;
  plan->table_name = t.name;
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

  // Subqueries nested in the WHERE and the selected value: analyzed against
  // this scope, read from global replicas through the EvalRow's
  // NestedSubqueries.
  std::vector<std::shared_ptr<const SubqueryPlan>> own_flat;
  Enclosing deeper;
  deeper.flat = enclosing.flat ? enclosing.flat : &own_flat;
  deeper.tables.emplace_back(&t.schema, inner);
  deeper.tables.insert(deeper.tables.end(), enclosing.tables.begin(), enclosing.tables.end());
  NestedPlans nested;
  const ExprPtr where = qualify(q.where);
  std::vector<ExprPtr> found = find_subqueries(where);
  if (item)
    for (const ExprPtr& n : find_subqueries(qualify(item->expr))) found.push_back(n);
  for (const ExprPtr& n : found) {
    bool seen = false;
    for (const NestedPlan& o : nested) seen = seen || same_expr(*o.node, *n);
    if (seen) continue;
    const auto id = static_cast<uint32_t>(deeper.flat->size());
    deeper.flat->push_back(nullptr);
    auto analyzed = analyze(n, scope, catalog, functions, deeper);
    if (!analyzed) return analyzed.error();
    auto p = std::const_pointer_cast<SubqueryPlan>(*analyzed);
    p->nested_id = id;
    p->nested_cache = std::make_shared<ScanCache>();
    (*deeper.flat)[id] = p;
    nested.push_back(NestedPlan{n, p});
    scope.bind_external(n, p->type, [id](const EvalRow& row) -> Value {
      if (!row.nested || id >= row.nested->evals.size())
        throw std::logic_error("a nested subquery was evaluated without its tables");
      return row.nested->evals[id](row);
    });
  }
  plan->has_nested = !nested.empty();

  CompileOptions options;
  options.allow_aggregates = false;
  options.clause = "subquery";
  ExpressionCompiler compiler(scope, functions, options);

  // What this subquery reads of its outer scope, for an enclosing one's
  // classification of its conditions.
  auto outer_reads = [&](std::initializer_list<ExprPtr> exprs) {
    for (const ExprPtr& x : exprs)
      if (x) collect_outer_reads(*x, scope, inner, nested, plan->outer_reads);
    if (e->kind == ExprKind::InSubquery)
      collect_outer_reads(*qualify_outer(e->args[0], outer), scope, inner, nested,
                          plan->outer_reads);
  };
  auto finished = [&]() -> std::shared_ptr<const SubqueryPlan> {
    if (!enclosing.flat) plan->nested = std::move(own_flat);
    return plan;
  };

  if (!q.group_by.empty()) {
    if (auto bad = plan_grouped(*plan, e, q, qualify, item, scope, outer, inner, nested, functions))
      return *bad;
    outer_reads({where, item ? qualify(item->expr) : nullptr, qualify(q.having)});
    for (const ExprPtr& g : q.group_by) outer_reads({qualify(g)});
    return finished();
  }

  std::vector<ExprPtr> conds;
  conjuncts(where, conds);
  ExprPtr selected;
  bool aggregated = false;
  if (item) {
    aggregated = has_aggregate(*item->expr, functions);
    if (aggregated && e->kind != ExprKind::ScalarSubquery)
      return unsupported(item->expr->loc, "aggregate functions in IN subqueries");
    selected = qualify(item->expr);
    if (e->kind == ExprKind::InSubquery)
      conds.push_back(ast::binary(BinaryOp::Eq, selected, qualify_outer(e->args[0], outer),
                                  e->args[0]->loc));
  }
  outer_reads({where, selected});
  for (const ExprPtr& c : conds) {
    std::vector<ExprPtr> calls;
    aggregate_calls(c, functions, calls);
    if (!calls.empty())
      return sql_error(calls[0]->loc, "Aggregate functions are not allowed in a subquery's WHERE: " +
                                          to_sql(*c));
    auto compiled = compiler.compile(c);
    if (!compiled) return compiled.error();
    if (compiled->type() && compiled->type()->kind != TypeKind::Boolean &&
        compiled->type()->kind != TypeKind::Null)
      return sql_error(c->loc, "Type error in subquery WHERE expression: Should evaluate to "
                               "boolean but is " + to_sql(*c) + " instead.");
    auto shared = std::make_shared<CompiledExpr>(std::move(*compiled));
    plan->conditions.push_back(shared);
    const bool correlated = reads_outer(*c, scope, inner, &nested);
    (correlated ? plan->correlated_conditions : plan->table_conditions).push_back(shared);
    // The first `C = e` between t alone and the outer row alone indexes a
    // scan's cached rows.
    if (correlated && !plan->index_key && c->kind == ExprKind::Binary &&
        c->binary_op == BinaryOp::Eq) {
      for (int side = 0; side < 2 && !plan->index_key; ++side) {
        const ExprPtr& key = c->args[side];
        const ExprPtr& probe = c->args[1 - side];
        if (!reads_inner(*key, scope, inner, &nested) || reads_outer(*key, scope, inner, &nested) ||
            reads_inner(*probe, scope, inner, &nested))
          continue;
        auto k = compiler.compile(key);
        auto p = compiler.compile(probe);
        if (!k || !p || !indexable(k->type(), p->type())) continue;
        plan->index_key = std::make_shared<CompiledExpr>(std::move(*k));
        plan->index_probe = std::make_shared<CompiledExpr>(std::move(*p));
        plan->index_text = to_sql(*key) + " = " + to_sql(*probe);
      }
    }
  }
  if (aggregated) {
    if (auto bad = plan_aggregates(*plan, selected, scope, outer, inner, functions)) return *bad;
  } else if (selected) {
    auto compiled = compiler.compile(selected);
    if (!compiled) return compiled.error();
    plan->selected = std::make_shared<CompiledExpr>(std::move(*compiled));
    plan->selected_correlated =
        e->kind == ExprKind::ScalarSubquery && reads_outer(*selected, scope, inner, &nested);
  }
  plan->type = e->kind == ExprKind::ScalarSubquery ? plan->selected->type()
                                                   : DataType::of(TypeKind::Boolean);

  // The key conjunct: `K = e` (or `e = K`) with e free of t's columns. A
  // table of several key columns (a struct key) and an aggregated subquery
  // always scan.
  const bool lookups = keys.size() == 1 && !aggregated;
  for (const ExprPtr& c : lookups ? conds : std::vector<ExprPtr>{}) {
    if (c->kind != ExprKind::Binary || c->binary_op != BinaryOp::Eq) continue;
    for (int side = 0; side < 2 && !plan->key; ++side) {
      const Expr& k = *c->args[side];
      const ExprPtr& other = c->args[1 - side];
      if (k.kind != ExprKind::Column) continue;
      auto col = scope.find(k.qualifier, k.name);
      if (!col.ok() || (*col)->qualifier != inner || !(*col)->is_key) continue;
      // A key computed by a subquery is not looked up (a re-key evaluates
      // the key where no table is bound): the condition is scanned.
      if (reads_inner(*other, scope, inner, &nested) || first_subquery(other)) continue;
      auto compiled = compiler.compile(other);
      if (!compiled) return compiled.error();
      plan->key = std::make_shared<CompiledExpr>(std::move(*compiled));
      plan->key_expr = other;
    }
    if (plan->key) break;
  }
  // No key conjunct: a scan of a global replica of t.
  plan->scan = !plan->key;
  if (plan->key) {
    plan->key_type = keys[0].type;
    plan->key_name = keys[0].name;
    plan->key_wrapped = t.key_format == "DELIMITED";
  }
  return finished();
}

}  // namespace

Expected<std::shared_ptr<const SubqueryPlan>> analyze_subquery(const ExprPtr& e,
                                                               const Scope& outer,
                                                               const Catalog& catalog,
                                                               const FunctionRegistry& functions) {
  return analyze(e, outer, catalog, functions, Enclosing{});
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

namespace {

// Copies the table row (key, stored value) into the first `width` slots.
void load_inner(const SubqueryPlan& plan, const Value& key, const Value& value, Array& scratch,
                Array& row) {
  scratch.clear();
  plan.layout->append(key, &value, scratch);
  for (size_t i = 0; i < scratch.size() && i < row.size(); ++i) row[i] = std::move(scratch[i]);
}

bool all_true(const std::vector<std::shared_ptr<const CompiledExpr>>& conds, const EvalRow& e) {
  for (const auto& c : conds)
    if (!c->test(e)) return false;
  return true;
}

// Fails the outer record for `plan` (the first failure of the record is
// the one reported): "line L:C: <what> (table T)<detail>: the record is
// dropped".
void fail_record(const SubqueryPlan& plan, const std::string& what, const std::string& detail,
                 std::optional<ScanError>& error) {
  if (error) return;
  error = ScanError{"line " + std::to_string(plan.expr->loc.line) + ":" +
                    std::to_string(plan.expr->loc.column) + ": " + what + " (table " +
                    plan.table_name + ")" + detail + ": the record is dropped"};
}

Value result_of(const SubqueryPlan& plan, size_t matches, Value first,
                std::optional<ScanError>& error) {
  switch (plan.expr->kind) {
    case ExprKind::Exists:
      return Value::boolean(matches > 0);
    case ExprKind::InSubquery:
      return Value::boolean(plan.expr->negated ? matches == 0 : matches > 0);
    default:
      if (matches > 1) {
        fail_record(plan, "the scalar subquery returned more than one row", "", error);
        return Value();
      }
      return matches == 1 ? std::move(first) : Value();
  }
}

}  // namespace

namespace {

// The aggregates of an aggregated scalar subquery, folded over the rows it
// matches (`add` with t's columns then the outer row).
class Folds {
 public:
  explicit Folds(const SubqueryPlan& plan) : plan_(plan), acc_(plan.aggregates.size()) {
    for (size_t i = 0; i < acc_.size(); ++i)
      if (plan.aggregates[i].udaf)
        user_step(i, [&] { acc_[i].value = plan.aggregates[i].udaf->initialize(); });
  }

  void add(const EvalRow& e) {
    using Kind = SubqueryPlan::Aggregate::Kind;
    ++rows_;
    for (size_t i = 0; i < acc_.size(); ++i) {
      const SubqueryPlan::Aggregate& a = plan_.aggregates[i];
      if (a.udaf) {  // every argument, NULLs included: the function decides
        const ArgValues args = evaluate_each(a.args, e);
        user_step(i, [&] { acc_[i].value = a.udaf->aggregate(args, acc_[i].value); });
        continue;
      }
      if (!a.arg) continue;  // COUNT(*): the rows
      Value v = a.arg->evaluate(e);
      Acc& acc = acc_[i];
      if (a.kind == Kind::Attr) {  // NULL is a value too
        if (!acc.seen) {
          acc.value = std::move(v);
          acc.seen = true;
        } else if (!(acc.value == v)) {
          acc.several = true;
        }
        continue;
      }
      if (v.is_null()) continue;
      if (a.kind == Kind::Correlation) {
        Value y = a.arg2->evaluate(e);
        if (y.is_null()) continue;
        if (!v.is_numeric() || !y.is_numeric()) continue;  // typed numeric at plan time
        acc.value = moments::covariance_step(acc.value, v.to_double(), y.to_double(), false);
        continue;
      }
      ++acc.count;
      switch (a.kind) {
        case Kind::StddevSample:
          if (v.is_numeric()) acc.value = moments::variance_step(acc.value, v.to_double(), false);
          break;
        case Kind::Count:
        case Kind::Correlation:
        case Kind::Attr:
        case Kind::User:  // folded above
          break;
        case Kind::CountDistinct:
          acc.distinct.insert(std::move(v));
          break;
        case Kind::Sum:
        case Kind::Avg: {
          if (acc.value.is_null()) {
            acc.value = std::move(v);
            break;
          }
          auto sum = add_numbers(acc.value, v);
          if (sum) acc.value = std::move(*sum);
          else if (failure_.empty()) failure_ = a.name + ": " + sum.error().message;
          break;
        }
        case Kind::Min:
        case Kind::Max: {
          const int c = acc.value.is_null() ? 0 : Value::compare(v, acc.value);
          if (acc.value.is_null() || (a.kind == Kind::Min ? c < 0 : c > 0)) acc.value = std::move(v);
          break;
        }
      }
    }
  }

  // Each aggregate's result: COUNT of no row 0, the others NULL; SUM of
  // rows whose inputs are all NULL 0 (ksqlDB's SUM starts at 0).
  Array results() const {
    using Kind = SubqueryPlan::Aggregate::Kind;
    Array out;
    out.reserve(acc_.size());
    for (size_t i = 0; i < acc_.size(); ++i) {
      const SubqueryPlan::Aggregate& a = plan_.aggregates[i];
      const Acc& acc = acc_[i];
      switch (a.kind) {
        case Kind::Count:
          out.push_back(Value::int64(a.arg ? acc.count : rows_));
          break;
        case Kind::CountDistinct:
          out.push_back(Value::int64(static_cast<int64_t>(acc.distinct.size())));
          break;
        case Kind::Sum:
          out.push_back(rows_ == 0 ? Value()
                        : acc.value.is_null() ? coerce_or_null(Value::int32(0), a.type)
                                              : acc.value);
          break;
        case Kind::Avg:
          out.push_back(acc.count == 0 ? Value()
                                       : Value::float64(acc.value.to_double() /
                                                        static_cast<double>(acc.count)));
          break;
        // No row: NULL, as every aggregate but COUNT (one row: 0.0, as a
        // GROUP BY's STDDEV_SAMPLE).
        case Kind::StddevSample:
          out.push_back(rows_ == 0 ? Value() : moments::stddev_sample_of(acc.value));
          break;
        case Kind::Correlation:
          out.push_back(moments::correlation_of(acc.value));
          break;
        case Kind::Attr:
          out.push_back(acc.several ? Value() : acc.value);
          break;
        case Kind::User:
          out.push_back(a.udaf->result(acc.value, a.name));
          break;
        default:
          out.push_back(acc.value);
      }
    }
    return out;
  }
  const std::string& failure() const { return failure_; }

 private:
  // A UDAF's initialize or aggregate: a throw fails the fold (the record,
  // as a sum that overflows does), keeping the first message.
  template <typename Fn>
  void user_step(size_t i, Fn&& fn) {
    try {
      fn();
    } catch (const std::exception& ex) {
      if (failure_.empty()) failure_ = plan_.aggregates[i].name + ": " + ex.what();
    } catch (...) {
      if (failure_.empty()) failure_ = plan_.aggregates[i].name + ": unknown exception";
    }
  }

  struct Acc {
    Value value;        // SUM, AVG: the sum; MIN, MAX, ATTR: the value; moments
    int64_t count = 0;  // non-NULL inputs
    bool seen = false;  // ATTR: a row was folded
    bool several = false;  // ATTR: rows differ
    std::unordered_set<Value, ValueHash> distinct;
  };
  const SubqueryPlan& plan_;
  std::vector<Acc> acc_;
  int64_t rows_ = 0;
  std::string failure_;
};

// The selected expression of an aggregated subquery for the outer row, from
// the aggregates' results (or the error that drops the outer record).
Value finish(const SubqueryPlan& plan, const Array& folded, const std::string& failure,
             const EvalRow& outer, std::optional<ScanError>& error) {
  if (!failure.empty()) {
    fail_record(plan, "the scalar subquery's aggregate failed", ": " + failure, error);
    return Value();
  }
  EvalRow e = outer;
  if (!plan.result_reads_outer) {  // the results alone: no copy of the outer row
    e.columns = folded.data();
    e.column_count = folded.size();
    return plan.selected->evaluate(e);
  }
  Array row = folded;
  row.reserve(folded.size() + outer.column_count);
  for (size_t i = 0; i < outer.column_count; ++i) row.push_back(outer.columns[i]);
  e.columns = row.data();
  e.column_count = row.size();
  return plan.selected->evaluate(e);
}

// The cache's snapshot for the table's current version: the task's own if
// fresh, else the node's shared one if fresh, else one built now by
// `build` (and shared).
template <class Build>
const ScanSnapshot& fresh_snapshot(const TableScan& table, ScanCacheHandle& cache, Build&& build) {
  const uint64_t version = table.version();
  auto fresh = [&](const std::shared_ptr<const ScanSnapshot>& s) {
    return s && s->table == table.id && s->version == version;
  };
  if (fresh(cache.local)) return *cache.local;
  {
    std::lock_guard<std::mutex> lock(cache.cache->mutex);
    cache.local = cache.cache->shared;
  }
  if (fresh(cache.local)) return *cache.local;
  auto snap = std::make_shared<ScanSnapshot>();
  snap->table = table.id;
  snap->version = version;  // read before the scan: a later change rebuilds
  build(*snap);
  cache.local = snap;
  std::lock_guard<std::mutex> lock(cache.cache->mutex);
  if (!cache.cache->shared || cache.cache->shared->table != table.id ||
      cache.cache->shared->version < version)
    cache.cache->shared = snap;
  return *cache.local;
}

// The scan a plan's conditions are tested in: `table` itself, or, when
// they contain nested subqueries, a copy of its rows taken first, so no
// table's lock is held while a nested subquery reads another table (or
// the same one).
const TableScan& scan_for(const SubqueryPlan& plan, const TableScan& table, TableScan& copied) {
  if (!plan.has_nested) return table;
  copied.id = table.id;
  copied.version = table.version;
  copied.scan = [&table](const std::function<void(const Value&, const Value&)>& visit) {
    std::vector<std::pair<Value, Value>> rows;
    table.scan([&](const Value& k, const Value& v) { rows.emplace_back(k, v); });
    for (const auto& [k, v] : rows) visit(k, v);
  };
  return copied;
}

// A grouped subquery's groups for the table's current rows: folded, kept
// by HAVING, and (IN) their values.
void build_groups(const SubqueryPlan& plan, const TableScan& table, ScanSnapshot& built) {
  const size_t width = plan.layout->width();
  Array row(width);
  Array scratch;
  EvalRow e;
  e.columns = row.data();
  e.column_count = row.size();
  std::unordered_map<Value, size_t, ValueHash> index;  // group values -> its slot
  std::vector<std::pair<Array, Folds>> groups;
  table.scan([&](const Value& k, const Value& v) {
    load_inner(plan, k, v, scratch, row);
    if (!all_true(plan.table_conditions, e)) return;
    Array values;
    values.reserve(plan.group_by.size());
    for (const auto& g : plan.group_by) values.push_back(g->evaluate(e));
    Value key = Value::array(values);
    auto [at, fresh] = index.emplace(std::move(key), groups.size());
    if (fresh) groups.emplace_back(std::move(values), Folds(plan));
    groups[at->second].second.add(e);
  });
  for (auto& [values, folds] : groups) {
    if (!folds.failure().empty()) {
      if (built.fold_error.empty()) built.fold_error = folds.failure();
      continue;
    }
    Array result = values;
    for (Value& r : folds.results()) result.push_back(std::move(r));
    EvalRow g;
    g.columns = result.data();
    g.column_count = result.size();
    if (plan.having && !plan.having->test(g)) continue;
    ++built.matches;
    if (plan.expr->kind == ExprKind::InSubquery) {
      Value member = plan.selected->evaluate(g);
      if (member.is_null()) continue;  // `x = NULL` is never true
      if (plan.in_hashed) built.member_set.insert(member);
      built.members.push_back(std::move(member));
    } else if (plan.expr->kind == ExprKind::ScalarSubquery && built.matches == 1) {
      built.first = plan.selected->evaluate(g);
    }
  }
}

// A grouped (uncorrelated) subquery for the outer row: from the groups of
// the table's current version.
Value evaluate_grouped(const SubqueryPlan& plan, const TableScan& rows, const EvalRow& outer,
                       ScanCacheHandle* cache, std::optional<ScanError>& error) {
  TableScan copied;
  const TableScan& table = scan_for(plan, rows, copied);
  ScanSnapshot local;
  const ScanSnapshot* snap = &local;
  if (cache) {
    snap = &fresh_snapshot(table, *cache, [&](ScanSnapshot& built) { build_groups(plan, table, built); });
  } else {
    build_groups(plan, table, local);
  }
  if (!snap->fold_error.empty()) {
    fail_record(plan, "the subquery's aggregate failed", ": " + snap->fold_error, error);
    return Value();
  }
  if (plan.expr->kind != ExprKind::InSubquery) return result_of(plan, snap->matches, snap->first, error);
  const Value x = plan.in_operand->evaluate(outer);
  bool found = false;
  if (!x.is_null()) {
    if (plan.in_hashed) {
      found = snap->member_set.count(x) > 0;
    } else {
      Array pair(2);
      EvalRow p;
      p.columns = pair.data();
      p.column_count = pair.size();
      pair[1] = x;
      for (const Value& m : snap->members) {
        pair[0] = m;
        if ((found = plan.in_equal->test(p))) break;
      }
    }
  }
  return Value::boolean(plan.expr->negated ? !found : found);
}

}  // namespace

Value evaluate_scan(const SubqueryPlan& plan, const TableScan& rows, const EvalRow& outer,
                    ScanCacheHandle* cache, std::optional<ScanError>& error) {
  if (plan.grouped()) return evaluate_grouped(plan, rows, outer, cache, error);
  TableScan copied;
  const TableScan& table = scan_for(plan, rows, copied);
  const size_t width = plan.layout->width();
  const bool scalar = plan.expr->kind == ExprKind::ScalarSubquery;
  const bool aggregated = plan.aggregated();
  // A scalar stops at its second match; EXISTS and IN at their first; an
  // aggregated scalar folds every match.
  const size_t enough = aggregated ? SIZE_MAX : scalar ? 2 : 1;
  Array row(width);
  row.reserve(width + outer.column_count);
  for (size_t i = 0; i < outer.column_count; ++i) row.push_back(outer.columns[i]);
  EvalRow e = outer;
  e.columns = row.data();
  e.column_count = row.size();
  Array scratch;
  scratch.reserve(width);
  size_t matches = 0;
  Value first;
  Folds folds(plan);
  auto matched = [&] {
    if (aggregated) folds.add(e);
    else if (++matches == 1 && scalar) first = plan.selected->evaluate(e);
  };

  // Worth caching: a result of t alone, or t's rows narrowed by table-only
  // conditions (IN with an outer operand and a filter on t), or indexed by
  // a correlated equality.
  const bool cacheable =
      cache && (plan.uncorrelated() ||
                (!plan.selected_correlated &&
                 (!plan.table_conditions.empty() || plan.index_key)));
  if (cacheable) {
    const ScanSnapshot& snap = fresh_snapshot(table, *cache, [&](ScanSnapshot& built) {
      const bool keep_rows = !plan.uncorrelated();
      table.scan([&](const Value& k, const Value& v) {
        if (!keep_rows && built.matches >= enough) return;
        load_inner(plan, k, v, scratch, row);
        if (!all_true(plan.table_conditions, e)) return;
        if (keep_rows) {
          if (plan.index_key) {
            Value key = plan.index_key->evaluate(e);
            if (key.is_null()) return;  // `C = e` is never true for it
            built.index.emplace(std::move(key), built.rows.size());
          }
          built.rows.emplace_back(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(width));
          return;
        }
        if (aggregated) folds.add(e);
        else if (++built.matches == 1 && scalar) built.first = plan.selected->evaluate(e);
      });
      if (aggregated && !keep_rows) {
        built.folded = folds.results();
        built.fold_error = folds.failure();
      }
    });
    if (plan.uncorrelated()) {
      if (aggregated) return finish(plan, snap.folded, snap.fold_error, outer, error);
      return result_of(plan, snap.matches, snap.first, error);
    }
    auto test = [&](const Array& cached) {
      for (size_t i = 0; i < width; ++i) row[i] = cached[i];
      if (!all_true(plan.correlated_conditions, e)) return true;
      matched();
      return matches < enough;
    };
    if (plan.index_key) {  // the rows whose C equals the record's e
      const Value probe = plan.index_probe->evaluate(e);
      if (!probe.is_null()) {
        auto [from, to] = snap.index.equal_range(probe);
        for (auto it = from; it != to; ++it)
          if (!test(snap.rows[it->second])) break;
      }
    } else {
      for (const Array& cached : snap.rows)
        if (!test(cached)) break;
    }
  } else {
    table.scan([&](const Value& k, const Value& v) {
      if (matches >= enough) return;
      load_inner(plan, k, v, scratch, row);
      if (!all_true(plan.conditions, e)) return;
      matched();
    });
  }
  if (aggregated) return finish(plan, folds.results(), folds.failure(), outer, error);
  return result_of(plan, matches, std::move(first), error);
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
