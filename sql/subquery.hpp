#pragma once
// Subqueries against tables: `x [NOT] IN (SELECT c FROM t WHERE ...)`,
// `[NOT] EXISTS (SELECT ... FROM t WHERE ...)` and scalar subqueries
// `(SELECT c FROM t WHERE ...)`, possibly correlated (referring to columns
// of the outer row), evaluated against the live state of table t.
//
// Every subquery is a key lookup: its WHERE (for IN, together with
// `c = x`) must contain a conjunct `K = e` where K is t's primary key and e
// an expression of the outer row only (a literal, an outer column, ...).
// At run time e is evaluated on the outer row, t is looked up by that key
// (at most one row), and the remaining conditions are tested on that row.
// A subquery that does not fix t's key would scan t; that is rejected
// (a scan needs every partition of t in every task; see
// docs/sql-reference.md), so a scalar subquery never returns more than one
// row.
//
// Names inside a subquery resolve to t's columns first (unqualified names
// that t has are t's), then to the outer query's columns.
//
// This file is part of the front-end (no operators): the planner
// (plan_subquery.cpp) materializes t and feeds lookups through `Lookup`.
//
// A SubqueryPlan is immutable after analyze_subquery; evaluate() may run on
// any thread.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/error.hpp"
#include "sql/ast.hpp"
#include "sql/catalog.hpp"
#include "sql/expression.hpp"
#include "sql/functions.hpp"

namespace rivulet::sql {

class RowLayout;

struct SubqueryPlan {
  ExprPtr expr;                      // the InSubquery / Exists / ScalarSubquery node
  const SourceInfo* table = nullptr;  // borrowed from the catalog
  DataTypePtr type;                  // BOOLEAN for IN / EXISTS; the scalar's type
  ExprPtr key_expr;                  // over the outer scope: the key looked up
  // Compiled against the subquery's scope (t's columns, then the outer row).
  std::shared_ptr<const CompiledExpr> key;
  std::vector<std::shared_ptr<const CompiledExpr>> conditions;
  std::shared_ptr<const CompiledExpr> selected;  // scalar subqueries
  DataTypePtr key_type;
  std::string key_name;
  bool key_wrapped = false;  // DELIMITED key format: a struct of one field
  std::shared_ptr<const RowLayout> layout;
};

// The table's stored value for `key`, or nullptr.
using TableLookup = std::function<const Value*(const Value& key)>;

// Every subquery node in `e` (outermost ones; nested ones are rejected by
// analyze_subquery).
std::vector<ExprPtr> find_subqueries(const ExprPtr& e);

// Checks one subquery node against the catalog and the outer query's scope
// and compiles it. Errors carry line:column.
Expected<std::shared_ptr<const SubqueryPlan>> analyze_subquery(
    const ExprPtr& e, const Scope& outer, const Catalog& catalog,
    const FunctionRegistry& functions = FunctionRegistry::builtin());

// The subquery's value for the outer row `outer` (evaluated against the
// outer scope given to analyze_subquery).
Value evaluate_subquery(const SubqueryPlan& plan, const TableLookup& lookup, const EvalRow& outer);

// A copy of `scope` with every subquery of `e` bound to a callback that
// returns NULL (typing and plan-time checks; nothing is looked up).
Expected<Scope> scope_with_subquery_types(const ExprPtr& e, const Scope& scope,
                                          const Catalog& catalog,
                                          const FunctionRegistry& functions = FunctionRegistry::builtin());

}  // namespace rivulet::sql
