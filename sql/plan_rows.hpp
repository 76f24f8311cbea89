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
#include <string>
#include <utility>

#include "operators/stateless_nodes.hpp"
#include "operators/topology.hpp"

namespace rivulet::sql {

using RowFn = std::function<void(const Record&, Batch&)>;
using ReportingRowFn = std::function<void(const Record&, Batch&, ProcessContext&)>;
// One record in, at most one out, rewritten in place (its key, headers and
// source are not copied): false drops it, after reporting or counting it.
// A function that throws must leave the record as it was (the data error
// reports it).
using RewriteRowFn = std::function<bool(Record&, ProcessContext&)>;

// The node running a RewriteRowFn over each record of a batch, in order.
class RewriteNode final : public Processor {
 public:
  RewriteNode(std::string name, RewriteRowFn fn) : Processor(std::move(name)), fn_(std::move(fn)) {}

  void process(Batch& batch, ProcessContext& ctx) override {
    size_t kept = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      bool keep = false;
      if (!guarded(ctx, batch[i], "flat map", [&] { keep = fn_(batch[i], ctx); }) || !keep)
        continue;
      if (kept != i) batch[kept] = std::move(batch[i]);
      ++kept;
    }
    batch.resize(kept);
    forward(batch, ctx);
  }

 private:
  RewriteRowFn fn_;
};

inline ProcessorFactory rewrite(RewriteRowFn fn) {
  return [fn = std::move(fn)](BuildContext& c) -> std::unique_ptr<Processor> {
    return std::make_unique<RewriteNode>(c.node_name(), fn);
  };
}

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
