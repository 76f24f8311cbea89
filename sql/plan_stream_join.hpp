#pragma once
// Stream-stream joins: `FROM l [INNER | LEFT | RIGHT | FULL OUTER] JOIN r
// WITHIN n unit | WITHIN (before, after) [GRACE PERIOD g] ON a = b`, run by
// operators/stream_join.hpp (both sides in window stores, retention window
// + grace; outer non-matches emitted when the window closes when a GRACE
// PERIOD is given, at once otherwise, as ksqlDB does).
//
// Rows: the left input's row (every source joined so far, then the
// tombstone flag) and the right source's row are joined into the cumulated
// row (left columns, right columns, flag); an absent side's columns are
// NULL. Co-partitioning: a side not keyed by its ON expression is re-keyed
// by it and repartitioned (the key takes the keyed side's type and key
// format when one side is keyed); when both are keyed their partition
// counts must match (ksqlDB's message otherwise). The joined rows are keyed
// by the join key.
#include <functional>
#include <string>

#include "operators/topology.hpp"
#include "runtime/error.hpp"
#include "sql/analyzer.hpp"
#include "sql/ast.hpp"

namespace rivulet::sql {

struct StreamJoinContext {
  Topology& topology;
  const Query& query;
  const QueryAnalysis& analysis;
  std::function<std::string(const std::string& what)> name;
  // The rows of a stream source (its columns in schema order, then the
  // tombstone flag; null values dropped).
  std::function<Expected<Topology::NodeId>(const SourceInfo&)> rows;
};

// Joins `left` (the rows of the sources before join `index`) with the
// source of join `index`. `left_keyed`: the left rows are keyed by the
// join's left ON expression already; `left_info`: the source whose key
// format and partitions those keys have (nullptr: an internal topic).
Expected<Topology::NodeId> plan_stream_join(const StreamJoinContext& c, size_t index,
                                            Topology::NodeId left, bool left_keyed,
                                            const SourceInfo* left_info);

}  // namespace rivulet::sql
