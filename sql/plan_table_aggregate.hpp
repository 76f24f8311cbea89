#pragma once
// GROUP BY over a TABLE: the aggregation of a changelog, with retraction.
//
// Each update of the source table's key k replaces k's old row: the old row
// is subtracted from its group and the new row added to its group: two
// results when the groups differ, one when both rows are in the same group
// (ksqlDB's behaviour). A group whose rows are all gone keeps its results
// (COUNT 0, SUM 0) and HAVING decides whether it is written or deleted.
//
//   rows (key k, value: row or null) -> "<id>-table-group": looks up k's old
//   row in the store "<id>-prior", replaces it, emits (group(old), row,
//   subtract) and (group(new), row, add), or one (group, new row, old row,
//   replace); rows whose group key is NULL are skipped -> repartition "<id>-groupby" ->
//   "<id>-table-aggregate": keeps the accumulators per group in the store "<id>-aggregates" and
//   emits (group key, STRUCT(A0, A1, ...), or the calls' `field` names)
//   like the stream aggregation.
// Functions: COUNT(*), COUNT(x), SUM(x), AVG(x), STDDEV_SAMPLE(x),
// CORRELATION(x, y), ATTR(x), COLLECT_LIST(x), HISTOGRAM(x) (ksqlDB's table
// aggregates), SUM_LIST(x), and MIN, MAX, COUNT_DISTINCT (exact),
// COLLECT_SET, TOPK and TOPKDISTINCT, which ksqlDB refuses over a table:
// they keep each group's values with their row counts, so a row can be
// taken back out. LATEST_BY_OFFSET and EARLIEST_BY_OFFSET (an order of
// arrival a table's rows do not have) are rejected with ksqlDB's message; a
// user-defined aggregate (UDAF) needs an undo.
#include <memory>
#include <string>
#include <vector>

#include "operators/topology.hpp"
#include "runtime/error.hpp"
#include "sql/expression.hpp"
#include "sql/functions.hpp"

namespace rivulet::sql {

struct TableAggregateCall {
  std::string name;                            // COUNT, SUM, AVG, STDDEV_SAMPLE, ...
  std::shared_ptr<const CompiledExpr> input;   // nullptr: COUNT(*) / COUNT()
  std::shared_ptr<const CompiledExpr> input2;  // CORRELATION's second argument
  SourceLocation loc;
  size_t limit = 0;  // COLLECT_LIST, COLLECT_SET: the most values; TOPK(DISTINCT): k
  // A user-defined aggregate (name is its name): its implementation and
  // its arguments; a table needs its undo.
  std::shared_ptr<const AggregateCall> udaf;
  std::shared_ptr<const std::vector<std::shared_ptr<const CompiledExpr>>> args;
  // The result's field for this call: empty for A0, A1, ... by position
  // (the projection names the output's columns), else the output column's
  // name (a projection that passes the result through).
  std::string field;
};

Expected<Topology::NodeId> plan_table_aggregate(
    Topology& topology, Topology::NodeId rows, const std::string& query_id,
    std::vector<std::shared_ptr<const CompiledExpr>> groups, std::vector<TableAggregateCall> calls);

// After an aggregation's projection with HAVING: a group failing HAVING is
// written as a tombstone only when its previous result passed (ksqlDB);
// the groups currently written are kept in the store "<id>-having".
Topology::NodeId add_having_filter(Topology& topology, Topology::NodeId projected,
                                   const std::string& query_id);

}  // namespace rivulet::sql
