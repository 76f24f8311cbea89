#pragma once
// Internal to the planner (planner.cpp, plan_*.cpp): row functions as
// operator nodes. A row function takes one record and appends 0..n records;
// a reporting one also gets the batch's ProcessContext, to report a data
// error (dead-lettered) or count a record it skips (records_skipped, by
// reason): a planner step never drops a row without one or the other.
//
// Pure functions; the nodes run on their task's thread.
#include <functional>
#include <memory>
#include <utility>

#include "operators/stateless_nodes.hpp"
#include "operators/topology.hpp"

namespace rivulet::sql {

using RowFn = std::function<void(const Record&, Batch&)>;
using ReportingRowFn = std::function<void(const Record&, Batch&, ProcessContext&)>;

// A FlatMapNode over `fn`, one per task.
inline ProcessorFactory flat_map(RowFn fn) {
  return [fn = std::move(fn)](BuildContext& c) -> std::unique_ptr<Processor> {
    return std::make_unique<FlatMapNode<RowFn>>(c.node_name(), fn);
  };
}
inline ProcessorFactory flat_map(ReportingRowFn fn) {
  return [fn = std::move(fn)](BuildContext& c) -> std::unique_ptr<Processor> {
    return std::make_unique<FlatMapNode<ReportingRowFn>>(c.node_name(), fn);
  };
}

}  // namespace rivulet::sql
