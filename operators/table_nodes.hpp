#pragma once
// Nodes around KTables: materialization of a table topic and the
// stream-table join.
//
// Owned by a TaskGraph; run on the task's thread, which is the only writer
// of the task's KTables (so the join reads them without locks).
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "operators/ktable.hpp"
#include "operators/processor.hpp"

namespace rivulet {

// Applies each record to a KTable (upsert; a null value deletes the key)
// and forwards the batch unchanged as the table's changelog. A record with a
// null key cannot be stored: it is a data error and is dropped.
class MaterializeNode final : public Processor {
 public:
  MaterializeNode(std::string name, std::shared_ptr<KTable> table)
      : Processor(std::move(name)), table_(std::move(table)) {}

  const std::shared_ptr<KTable>& table() const { return table_; }

  void process(Batch& batch, ProcessContext& ctx) override {
    size_t kept = 0;
    {
      KTable::Writer w(*table_);
      for (size_t i = 0; i < batch.size(); ++i) {
        Record& r = batch[i];
        if (r.key.is_null()) {
          ctx.data_error(r, "materialize", "table record with a null key");
          continue;
        }
        w.apply(r.key, r.value);
        if (kept != i) batch[kept] = std::move(r);
        ++kept;
      }
    }
    batch.resize(kept);
    forward(batch, ctx);
  }

 private:
  std::shared_ptr<KTable> table_;
};

enum class JoinType { Inner, Left };

// The joiner: the stream record and the table's value for its key (nullptr
// when the key is absent, only ever seen by a left join) -> the output value.
using Joiner = std::function<Value(const Record& stream, const Value* table_value)>;

// Joins each stream record with the table's current value for the record's
// key; the output keeps the stream record's key, timestamp, headers and
// source, with the joiner's result as value. Inner: records without a match
// are dropped. Left: they are joined with nullptr. Records with a null key
// never match: an inner join reports them as data errors (dead-lettered),
// a left join emits them unmatched. Time: correctness "as of the stream record's time" comes from
// the InputMerger applying table updates in timestamp order first.
template <typename Fn = Joiner>
class StreamTableJoinNode final : public Processor {
 public:
  StreamTableJoinNode(std::string name, std::shared_ptr<const KTable> table, JoinType type,
                      Fn joiner)
      : Processor(std::move(name)),
        table_(std::move(table)),
        type_(type),
        joiner_(std::move(joiner)) {}

  void process(Batch& batch, ProcessContext& ctx) override {
    size_t kept = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      Record& r = batch[i];
      if (r.key.is_null() && type_ == JoinType::Inner) {
        // An inner join needs the key: a data error (dead-lettered and
        // counted), not a silent drop. A left join emits it unmatched.
        ctx.data_error(r, "join", "the join key is null");
        continue;
      }
      const Value* match = r.key.is_null() ? nullptr : table_->find_local(r.key);
      if (match == nullptr && type_ == JoinType::Inner) continue;
      if (!guarded(ctx, r, "join", [&] { r.value = joiner_(r, match); })) continue;
      if (kept != i) batch[kept] = std::move(r);
      ++kept;
    }
    batch.resize(kept);
    forward(batch, ctx);
  }

 private:
  std::shared_ptr<const KTable> table_;
  JoinType type_;
  Fn joiner_;
};

}  // namespace rivulet
