#pragma once
// Planning a WHERE or a SELECT that contains subqueries against tables
// (subquery.hpp says what a subquery may be). Called by the planner for the
// WHERE step, which also computes the SELECT's subqueries: their values are
// appended to each row it keeps, and the projection reads them there.
//
// A key lookup's table is materialized as a KTable the task owns, and the
// WHERE node reads it (Topology::add_processor's reads_tables), so the
// table's topic is co-partitioned with the node's input:
//  - when the subquery looks its table up by the outer source's own key
//    column (same key type and key format as the table's key, no join), the
//    lookup is local: no repartition;
//  - otherwise the outer stream is re-keyed by the lookup key (encoded with
//    the table's key format, so it lands in the partition holding that key),
//    repartitioned, filtered, and its original key restored. One re-key per
//    query: the lookups by that same key expression share it.
// A lookup by yet another key, and any lookup of a query over a TABLE
// (which cannot be re-keyed), reads the node's global replica of the table
// instead (KTable::get under its shared lock), as a subquery that does not
// fix the key scans it: the table is declared a global table of the
// topology (Topology::add_global_table, named like the table), a replica of
// all its partitions shared by the node's tasks, so neither needs
// co-partitioning nor a repartition.
// The WHERE is compiled once per task with each subquery bound to a lookup
// in that task's KTable, or a lookup or scan of the node's replica. A scalar scan
// matching more than one row drops the outer record as a data error
// (dead-lettered, counted in data_errors, logged with topic/partition/offset
// and the subquery's line:column).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "operators/topology.hpp"
#include "runtime/error.hpp"
#include "sql/analyzer.hpp"
#include "sql/ast.hpp"
#include "sql/catalog.hpp"
#include "sql/subquery.hpp"

namespace rivulet::sql {

struct SubqueryWhereContext {
  Topology& topology;
  const Catalog& catalog;
  const Query& query;
  const QueryAnalysis& analysis;
  // A node name for `what` ("<query id>-<what>").
  std::function<std::string(const std::string& what)> name;
  // Materializes a table source as a KTable of the task; returns its name.
  std::function<Expected<std::string>(const SourceInfo& table)> materialize;
  // The WHERE still to apply (null: none; the query's own may have been
  // applied earlier, without its subqueries).
  ExprPtr where;
  // The subqueries of the SELECT (select_subqueries()): their values go
  // into each kept row at Row slots `row_width`, `row_width + 1`, ...
  std::vector<ExprPtr> selected;
  uint32_t row_width = 0;
  // EXPLAIN's line per subquery (how it is evaluated) goes here.
  std::vector<std::string>* notes = nullptr;
};

// The subqueries in the SELECT of `a` (outermost ones, each once).
std::vector<ExprPtr> select_subqueries(const QueryAnalysis& a);

// The number of Row slots of the rows `scope` reads (its largest Row slot
// plus one): where the SELECT's subquery values go.
uint32_t row_width(const Scope& scope);

// The global table a scan of `table` reads.
std::string global_table_name(const std::string& table);

// True when `where` contains a subquery.
bool has_subqueries(const ExprPtr& where);

// Subqueries that read global tables (a replica of the whole table per
// node): scans, and key lookups that are neither local nor reachable by the
// query's one re-key. In HAVING every subquery reads them: its rows are
// groups, keyed by no table's key.
struct GlobalSubqueries {
  std::vector<std::shared_ptr<const SubqueryPlan>> plans;  // scan or key lookup
  std::vector<std::shared_ptr<ScanCache>> caches;         // per plan (scans use theirs)
};

// Plans the subqueries of `e` against `outer` as readers of global tables,
// and declares those tables in `topology`. Errors carry line:column.
Expected<GlobalSubqueries> plan_global_subqueries(Topology& topology, const Catalog& catalog,
                                                  const ExprPtr& e, const Scope& outer,
                                                  const std::string& clause,
                                                  std::vector<std::string>* notes = nullptr);

// Binds each subquery into `scope` for one task (its node's replicas); a
// scalar scan matching several rows parks its error in `failed`. False when
// a global table is missing.
bool bind_global_subqueries(BuildContext& b, const GlobalSubqueries& global, Scope& scope,
                            const std::shared_ptr<std::optional<ScanError>>& failed);

// EXPLAIN's line for one subquery: where it is (`clause`) and how it is
// evaluated: "line 2:17  WHERE  LIMITS: scan of the global table, ...".
// `lookup`: how a key lookup reaches its table (ignored for a scan).
std::string subquery_note(const SubqueryPlan& p, const std::string& clause, bool scan,
                          const std::string& lookup = "");

// Adds the WHERE step (with any re-key and repartition) after `node`; the
// types of the SELECT's subqueries, in `c.selected`'s order, go to
// `selected_types`.
Expected<Topology::NodeId> plan_subquery_where(const SubqueryWhereContext& c, Topology::NodeId node,
                                               std::vector<DataTypePtr>& selected_types);

}  // namespace rivulet::sql
