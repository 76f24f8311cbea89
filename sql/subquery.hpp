#pragma once
// Subqueries against tables: `x [NOT] IN (SELECT c FROM t WHERE ...)`,
// `[NOT] EXISTS (SELECT ... FROM t WHERE ...)` and scalar subqueries
// `(SELECT c FROM t WHERE ...)`, possibly correlated (referring to columns
// of the outer row), evaluated against the live state of table t; in a
// query's WHERE or SELECT (plan_subquery.hpp).
//
// Two ways to evaluate one:
//  - a key lookup, when its WHERE (for IN, together with `c = x`) contains
//    a conjunct `K = e` where K is t's primary key (of one column) and e an
//    expression of the outer row only (a literal, an outer column, ...). At
//    run time e is
//    evaluated on the outer row, t is looked up by that key (at most one
//    row), and the remaining conditions are tested on that row. t is a
//    KTable of the task, co-partitioned with the outer record;
//  - a scan otherwise: every row of t (a global table replica holding all
//    of t's partitions, operators/global_tables.hpp) is tested against the
//    conditions. A scalar subquery then yields NULL for no row, the selected
//    value for one row, and a runtime error for more (ScanError: the outer
//    record is dropped as a data error). A scan whose conditions and
//    selected expression do not read the outer row (uncorrelated, and free
//    of volatile functions) is computed once per change of t (ScanCache);
//    a correlated scan with an equality between t and the outer row caches
//    t's rows indexed by it (index_key) and tests the rows of the record's
//    value; any other correlated scan costs O(|t|) per outer record.
//
// A scalar subquery may select aggregates of t's rows instead of one row's
// value: `(SELECT MAX(P) * 2 FROM t WHERE ...)` with COUNT, COUNT_DISTINCT,
// SUM, AVG, MIN, MAX, STDDEV_SAMPLE, CORRELATION and ATTR. It always scans: every matching row is
// folded (no row: COUNT 0, the others NULL), then the selected expression is computed from the
// results (and the outer row). Cached per version of t like any scan when its conditions and the
// aggregates' arguments read t alone.
//
// An uncorrelated subquery may also GROUP BY t's columns, with HAVING:
// `x IN (SELECT CUSTOMER FROM TICKETS WHERE OPEN GROUP BY CUSTOMER HAVING
// COUNT(*) > 3)`. Its groups are folded once per change of t; IN tests the
// record's value against the kept groups' values, EXISTS whether any group
// is kept, a scalar takes the one kept group's value.
//
// Names inside a subquery resolve to t's columns first (unqualified names
// that t has are t's), then to the outer query's columns.
//
// A subquery's WHERE and selected value may hold nested subqueries, at any
// depth: each reads
// its table's global replica, through the task's NestedSubqueries that the
// EvalRow carries (SubqueryPlan::nested below).
//
// This file is part of the front-end (no operators): the planner
// (plan_subquery.cpp) materializes t and feeds lookups through `Lookup`.
//
// A SubqueryPlan is immutable after analyze_subquery; evaluate() may run on
// any thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "runtime/error.hpp"
#include "sql/ast.hpp"
#include "sql/catalog.hpp"
#include "sql/expression.hpp"
#include "sql/functions.hpp"

namespace rivulet::sql {

class RowLayout;
struct ScanCache;

struct SubqueryPlan {
  ExprPtr expr;                      // the InSubquery / Exists / ScalarSubquery node
  // Borrowed from the catalog: valid only while the script is planned.
  // What runs later (task factories, record evaluation) uses table_name.
  const SourceInfo* table = nullptr;
  std::string table_name;
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
  // Scans (no key conjunct): `key` is null.
  bool scan = false;
  // The conditions that read the outer row (or call volatile functions);
  // the others (`conditions` minus these) depend on t alone.
  std::vector<std::shared_ptr<const CompiledExpr>> correlated_conditions;
  std::vector<std::shared_ptr<const CompiledExpr>> table_conditions;
  bool selected_correlated = false;  // scalar: the selected expression reads the outer row
  // A correlated conjunct `C = e` with C of t's columns alone and e of the
  // outer row alone: a scan's cached rows are indexed by C once per version
  // of t, and each outer record probes that index with e instead of testing
  // every row (the other conditions are still tested on the rows found).
  std::shared_ptr<const CompiledExpr> index_key;    // C
  std::shared_ptr<const CompiledExpr> index_probe;  // e
  std::string index_text;                           // "L.KIND = T.CLASS", for EXPLAIN
  // A scalar subquery selecting aggregates: one per distinct call, folded
  // over the matching rows. `selected` is then compiled against their
  // results (Row slots 0..n-1) followed by the outer row, and
  // `selected_correlated` says whether an aggregate's argument reads the
  // outer row.
  struct Aggregate {
    enum class Kind : uint8_t {
      Count,
      CountDistinct,
      Sum,
      Avg,
      Min,
      Max,
      StddevSample,
      Correlation,
      Attr,
      User,  // a user-defined aggregate (UDAF): `udaf` over `args`
    };
    Kind kind = Kind::Count;
    std::string name;                          // as written, for messages
    std::shared_ptr<const CompiledExpr> arg;   // null: COUNT(*)
    std::shared_ptr<const CompiledExpr> arg2;  // CORRELATION's second
    DataTypePtr type;                         // the result's
    std::shared_ptr<const AggregateCall> udaf;              // User
    std::vector<std::shared_ptr<const CompiledExpr>> args;  // User: every argument
  };
  std::vector<Aggregate> aggregates;
  bool aggregated() const { return !aggregates.empty(); }
  // GROUP BY (uncorrelated subqueries only): the matching rows folded per
  // group, once per version of t; `selected` and `having` then read the
  // group's values (Row slots 0..g-1) and its aggregates (g..g+k-1).
  std::vector<std::shared_ptr<const CompiledExpr>> group_by;
  std::shared_ptr<const CompiledExpr> having;
  std::string group_text;  // "T.CUSTOMER", for EXPLAIN
  // A grouped IN: its operand over the outer row, and SQL's `=` between a
  // group's value (Row 0) and the operand (Row 1); `in_hashed` when that is
  // Value equality, so the groups' values are a hash set.
  std::shared_ptr<const CompiledExpr> in_operand;
  std::shared_ptr<const CompiledExpr> in_equal;
  bool in_hashed = false;
  bool grouped() const { return !group_by.empty(); }
  // Aggregated: the selected expression reads the outer row outside its
  // aggregates (`(SELECT MAX(P) FROM t) - T.X`); else only the results.
  bool result_reads_outer = false;
  // True when the whole result depends on t alone (cacheable per version of t).
  bool uncorrelated() const { return correlated_conditions.empty() && !selected_correlated; }

  // Nested subqueries: subqueries in this subquery's WHERE or selected
  // value (not an aggregated or grouped one's), analyzed
  // against its scope (t's columns, then the outer row). They read global
  // replicas (lookups or scans), evaluated through the EvalRow's `nested`
  // (NestedSubqueries), which the task sets before it evaluates the
  // outermost subquery.
  //  - `nested`: on an outermost subquery, every subquery nested in it at
  //    any depth; `nested_id` is a nested one's index there;
  //  - `has_nested`: this subquery's own conditions or selected value
  //    contain subqueries (its
  //    scan then copies t's rows out before testing them, so no table's
  //    lock is held while another table is read);
  //  - `outer_reads`: the qualifiers of its outer scope's columns this
  //    subquery reads, its own nested ones' included ("" for a pseudo
  //    column or a volatile function): it is correlated with its enclosing
  //    subquery's outer row when one of them is not that subquery's table.
  //  - `nested_cache`: a nested subquery's ScanCache, shared by whatever
  //    evaluates it (snapshots are keyed by table and version).
  std::vector<std::shared_ptr<const SubqueryPlan>> nested;
  uint32_t nested_id = 0;
  std::shared_ptr<ScanCache> nested_cache;
  bool has_nested = false;
  std::vector<std::string> outer_reads;
};

// How one task evaluates the subqueries nested in one outermost subquery:
// `evals[i]` evaluates SubqueryPlan::nested[i] against the row of the
// subquery that encloses it.
struct NestedSubqueries {
  std::vector<std::function<Value(const EvalRow&)>> evals;
};

// The table's stored value for `key`, or nullptr.
using TableLookup = std::function<const Value*(const Value& key)>;

// A scan over a table: calls `visit` for every (key, stored value) of one
// consistent view of the table; `version` changes whenever the table does;
// `id` identifies the table (a cache is only valid for the table it read).
struct TableScan {
  std::function<void(const std::function<void(const Value& key, const Value& value)>& visit)> scan;
  std::function<uint64_t()> version;
  const void* id = nullptr;
};

// What an uncorrelated part of a scan computed for one version of a table.
// Immutable once built.
struct ScanSnapshot {
  const void* table = nullptr;
  uint64_t version = 0;
  // When correlated conditions remain (IN with an outer operand): the rows
  // (t's columns) passing the table-only conditions, tested per record.
  std::vector<Array> rows;
  // With the plan's index_key: the rows by its value (NULLs left out).
  std::unordered_multimap<Value, size_t, ValueHash> index;
  size_t matches = 0;  // fully uncorrelated: rows matching (counted up to 2)
  Value first;         // ... and the first one's selected value (scalar)
  Array folded;        // ... or the aggregates' results (aggregated)
  std::string fold_error;  // ... or why they could not be computed
  // Grouped: the groups HAVING keeps are `matches`; for IN their values
  // (non-NULL), as a list and, with in_hashed, a set.
  std::vector<Value> members;
  std::unordered_set<Value, ValueHash> member_set;
};

// The cache of one subquery, shared by the tasks of a node (any thread):
// one snapshot per version of the table, built by the first task that
// needs it. Each task keeps its own reference (`local`), so the mutex is
// only taken when the table changed.
struct ScanCache {
  std::mutex mutex;
  std::shared_ptr<const ScanSnapshot> shared;
};
struct ScanCacheHandle {
  std::shared_ptr<ScanCache> cache;
  std::shared_ptr<const ScanSnapshot> local;
};

// A scan's failure for one outer record (a scalar subquery matched more
// than one row, or its SUM overflowed a DECIMAL); `message` starts with
// the subquery's line:column.
struct ScanError {
  std::string message;
};

// Every subquery node in `e` (outermost ones; the subqueries nested in
// their WHERE are analyzed with them: SubqueryPlan::nested).
std::vector<ExprPtr> find_subqueries(const ExprPtr& e);

// Checks one subquery node against the catalog and the outer query's scope
// and compiles it. Errors carry line:column.
Expected<std::shared_ptr<const SubqueryPlan>> analyze_subquery(
    const ExprPtr& e, const Scope& outer, const Catalog& catalog,
    const FunctionRegistry& functions = FunctionRegistry::global());

// The subquery's value for the outer row `outer` (evaluated against the
// outer scope given to analyze_subquery).
Value evaluate_subquery(const SubqueryPlan& plan, const TableLookup& lookup, const EvalRow& outer);

// The same for a scan (plan.scan). `cache`: used and refreshed when the
// table-only part of the plan is worth caching (nullptr: no caching). On a scalar subquery
// matching more than one row, sets `error` (when it is still empty) and
// returns NULL.
Value evaluate_scan(const SubqueryPlan& plan, const TableScan& table, const EvalRow& outer,
                    ScanCacheHandle* cache, std::optional<ScanError>& error);

// A copy of `scope` with every subquery of `e` bound to a callback that
// returns NULL (typing and plan-time checks; nothing is looked up).
Expected<Scope> scope_with_subquery_types(
    const ExprPtr& e, const Scope& scope, const Catalog& catalog,
    const FunctionRegistry& functions = FunctionRegistry::global());

}  // namespace rivulet::sql
