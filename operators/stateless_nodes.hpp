#pragma once
// Record-at-a-time transformations applied a batch at a time: filter, map,
// map_values (project), select_key (re-key), flat_map, peek.
//
// Each node is a template over its callable so the fluent API's lambdas are
// inlined into the batch loop; the SQL planner instantiates them with the
// std::function aliases below. A callable that throws makes a data error for
// that record (which is dropped); the batch goes on.
//
// Owned by a TaskGraph; runs on the task's thread.
#include <functional>
#include <string>
#include <type_traits>
#include <utility>

#include "operators/processor.hpp"

namespace rivulet {

using FilterFn = std::function<bool(const Record&)>;
using MapFn = std::function<void(Record&)>;                        // rewrites a record in place
using ValueFn = std::function<Value(const Record&)>;               // new value, or new key
using FlatMapFn = std::function<void(const Record&, Batch& out)>;  // appends 0..n records
// The same with the batch's context, to report data errors and skipped records.
using ReportingFlatMapFn = std::function<void(const Record&, Batch& out, ProcessContext&)>;
using PeekFn = std::function<void(const Record&)>;

// Keeps the records for which `pred` is true, in order.
template <typename Pred = FilterFn>
class FilterNode final : public Processor {
 public:
  FilterNode(std::string name, Pred pred) : Processor(std::move(name)), pred_(std::move(pred)) {}

  void process(Batch& batch, ProcessContext& ctx) override {
    size_t kept = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      bool keep = false;
      guarded(ctx, batch[i], "filter", [&] { keep = static_cast<bool>(pred_(batch[i])); });
      if (!keep) continue;
      if (kept != i) batch[kept] = std::move(batch[i]);
      ++kept;
    }
    batch.resize(kept);
    forward(batch, ctx);
  }

 private:
  Pred pred_;
};

// Drops records in place: shared by the nodes whose function may fail.
namespace detail {
template <typename Step>
void rewrite_each(Batch& batch, ProcessContext& ctx, std::string_view operation, Step&& step) {
  size_t kept = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!guarded(ctx, batch[i], operation, [&] { step(batch[i]); })) continue;
    if (kept != i) batch[kept] = std::move(batch[i]);
    ++kept;
  }
  batch.resize(kept);
}
}  // namespace detail

// Rewrites each record in place (key, value, timestamp, headers).
template <typename Fn = MapFn>
class MapNode final : public Processor {
 public:
  MapNode(std::string name, Fn fn) : Processor(std::move(name)), fn_(std::move(fn)) {}

  void process(Batch& batch, ProcessContext& ctx) override {
    detail::rewrite_each(batch, ctx, "map", [&](Record& r) { fn_(r); });
    forward(batch, ctx);
  }

 private:
  Fn fn_;
};

// Replaces each record's value with fn(record): projections.
template <typename Fn = ValueFn>
class MapValuesNode final : public Processor {
 public:
  MapValuesNode(std::string name, Fn fn) : Processor(std::move(name)), fn_(std::move(fn)) {}

  void process(Batch& batch, ProcessContext& ctx) override {
    detail::rewrite_each(batch, ctx, "map values", [&](Record& r) { r.value = fn_(r); });
    forward(batch, ctx);
  }

 private:
  Fn fn_;
};

// Replaces each record's key with fn(record). Downstream state keyed by the
// new key is only correct within a partition if the records go through a
// repartition topic first (the Topology inserts one for group_by).
template <typename Fn = ValueFn>
class SelectKeyNode final : public Processor {
 public:
  SelectKeyNode(std::string name, Fn fn) : Processor(std::move(name)), fn_(std::move(fn)) {}

  void process(Batch& batch, ProcessContext& ctx) override {
    detail::rewrite_each(batch, ctx, "select key", [&](Record& r) { r.key = fn_(r); });
    forward(batch, ctx);
  }

 private:
  Fn fn_;
};

// Replaces each record with the 0..n records fn appends to its output
// batch. A record whose fn throws contributes nothing (what fn appended
// before throwing is discarded).
template <typename Fn = FlatMapFn>
class FlatMapNode final : public Processor {
 public:
  FlatMapNode(std::string name, Fn fn) : Processor(std::move(name)), fn_(std::move(fn)) {}

  void process(Batch& batch, ProcessContext& ctx) override {
    out_.clear();
    for (const Record& r : batch) {
      size_t before = out_.size();
      if (!guarded(ctx, r, "flat map", [&] {
            // A callable may take the context too (to report data errors
            // and skipped records).
            if constexpr (std::is_invocable_v<Fn&, const Record&, Batch&, ProcessContext&>) {
              fn_(r, out_, ctx);
            } else {
              fn_(r, out_);
            }
          }))
        out_.resize(before);
    }
    batch.swap(out_);
    forward(batch, ctx);
  }

 private:
  Fn fn_;
  Batch out_;  // reused across batches
};

// Calls fn for each record and passes the batch on unchanged (observing,
// metrics, tests). A throwing fn makes a data error but keeps the record.
template <typename Fn = PeekFn>
class PeekNode final : public Processor {
 public:
  PeekNode(std::string name, Fn fn) : Processor(std::move(name)), fn_(std::move(fn)) {}

  void process(Batch& batch, ProcessContext& ctx) override {
    for (const Record& r : batch) guarded(ctx, r, "peek", [&] { fn_(r); });
    forward(batch, ctx);
  }

 private:
  Fn fn_;
};

}  // namespace rivulet
