#pragma once
// Table-table joins on primary keys: `FROM l [LEFT | RIGHT | FULL OUTER] JOIN r ON
// l.k = r.k`, where both tables are materialized as the task's KTables
// (co-partitioned: same partition count, same key type and format).
//
// Each side's changelog, after its table is updated, looks the other table
// up by the same key and emits the joined row (l's columns, then r's), or a
// tombstone when the key no longer has a result:
//   INNER: a row when both sides hold k; a tombstone when one side deletes
//          k while the other holds it;
//   LEFT:  a row whenever l holds k (r's columns NULL when r does not); a
//          tombstone when l deletes k;
//   RIGHT: LEFT with the sides' roles swapped (the row keeps l's columns
//          first);
//   FULL:  a row whenever either side holds k; a tombstone when the last
//          side holding k deletes it.
// Rows reach WHERE and the projection keyed by k, with table semantics. An
// absent side's value columns are NULL and its key column holds k (so the
// result of a FULL OUTER join is always keyed).
//
// Multi-way joins (`FROM a JOIN b ON a.k = b.k [LEFT | FULL OUTER] JOIN c ON
// b.k = c.k ...`) run left to right: the result of the steps so far is
// materialized as a KTable keyed by the chain's key, the first table's
// (`<query>-join-stateN`), and joined with the next table like a table, by
// the rules above; tombstones and updates of any input propagate through
// every later step. A step whose ON names the key column of a table joined
// on that key (the first, or one joined on it) is a primary-key step: the
// new table needs the same key type and format and the same partition
// count. Any other step, the first included, is a foreign-key step
// (sql/plan_fk_join.hpp: INNER or LEFT, through two repartition topics): its
// table keeps its own key, so a later step on that table's key column is a
// foreign-key step too.
#include <functional>
#include <string>

#include "operators/topology.hpp"
#include "runtime/error.hpp"
#include "sql/analyzer.hpp"
#include "sql/ast.hpp"

namespace rivulet::sql {

struct TableJoinContext {
  Topology& topology;
  const Query& query;
  const QueryAnalysis& analysis;
  std::function<std::string(const std::string& what)> name;
  // Materializes a table source; returns (store name, node emitting its
  // changelog after each update).
  std::function<Expected<std::pair<std::string, Topology::NodeId>>(const SourceInfo&)> materialize;
};

Expected<Topology::NodeId> plan_table_join(const TableJoinContext& c);

// ksqlDB's message for join inputs whose partition counts differ (planner.cpp).
std::string partition_mismatch(const SourceInfo& left, const SourceInfo& right);

}  // namespace rivulet::sql
