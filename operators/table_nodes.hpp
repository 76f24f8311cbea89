#pragma once
// Nodes around KTables: materialization of a table topic and the
// stream-table join.
//
// Owned by a TaskGraph; run on the task's thread, which is the only writer
// of the task's KTables (so the join reads them without locks).
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "operators/ktable.hpp"
#include "operators/processor.hpp"
#include "operators/versioned_table.hpp"
#include "operators/window.hpp"

namespace rivulet {

// Applies each record to a KTable (upsert; a null value deletes the key)
// and forwards the batch unchanged as the table's changelog. A record with a
// null key cannot be stored: it is a data error and is dropped.
//
// With a VersionedTable (a table keeping history for temporal joins), each
// record is first put into the history at its timestamp. Only a record that
// becomes its key's newest version updates the KTable and is forwarded; an
// out-of-order update (older than the key's newest version) only enters the
// history, and one older than the history retention is dropped and counted
// as a late record (Kafka Streams' versioned-table semantics).
//
// keep_windows(ms): a table of windowed rows (a windowed aggregation's
// results, keyed by windowed keys) deletes each window's row once the
// newest record's timestamp passes the window's end by more than `ms`, so
// that it holds what its windows' retention keeps, not every window ever.
// The windows are indexed by end; after a restore the index is rebuilt from
// the table's keys at the first batch.
class MaterializeNode final : public Processor {
 public:
  MaterializeNode(std::string name, std::shared_ptr<KTable> table,
                  std::shared_ptr<VersionedTable> versions = nullptr)
      : Processor(std::move(name)), table_(std::move(table)), versions_(std::move(versions)) {}

  const std::shared_ptr<KTable>& table() const { return table_; }
  void keep_windows(int64_t ms) { keep_ms_ = ms; }
  // Windows deleted for their age so far (keep_windows).
  uint64_t windows_expired() const { return expired_; }

  void process(Batch& batch, ProcessContext& ctx) override {
    if (keep_ms_ >= 0 && !indexed_) index_table();
    size_t kept = 0;
    {
      KTable::Writer w(*table_);
      for (size_t i = 0; i < batch.size(); ++i) {
        Record& r = batch[i];
        if (r.key.is_null()) {
          ctx.null_key(r, SkipReason::NullKey, "materialize", "table record with a null key");
          continue;
        }
        if (versions_) {
          auto put = versions_->put(r.key, r.timestamp, r.value);
          if (put == VersionedTable::PutResult::TooOld) ++ctx.output().late_records_dropped;
          if (put != VersionedTable::PutResult::Latest) continue;
        }
        w.apply(r.key, r.value);
        if (keep_ms_ >= 0) {
          if (!r.value.is_null() && is_windowed_key(r.key))
            by_end_[window_of(r.key).end].insert(r.key);
          if (r.timestamp > newest_) newest_ = r.timestamp;
        }
        if (kept != i) batch[kept] = std::move(r);
        ++kept;
      }
      if (keep_ms_ >= 0) {
        // Past their time: gone from the table (not forwarded; the sink
        // reads the parent, and a windowed topic keeps its own retention).
        while (!by_end_.empty() && by_end_.begin()->first + keep_ms_ < newest_) {
          for (const Value& key : by_end_.begin()->second) {
            if (table_->find_local(key) == nullptr) continue;  // deleted since
            w.erase(key);
            ++expired_;
          }
          by_end_.erase(by_end_.begin());
        }
      }
    }
    batch.resize(kept);
    forward(batch, ctx);
  }

 private:
  void index_table() {
    for (const Value& key : table_->keys())
      if (is_windowed_key(key)) by_end_[window_of(key).end].insert(key);
    indexed_ = true;
  }

  std::shared_ptr<KTable> table_;
  std::shared_ptr<VersionedTable> versions_;
  int64_t keep_ms_ = -1;
  bool indexed_ = false;
  int64_t newest_ = std::numeric_limits<int64_t>::min();
  std::map<int64_t, std::unordered_set<Value, ValueHash>> by_end_;
  uint64_t expired_ = 0;
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
// the InputMerger applying table updates in timestamp order first; with a
// VersionedTable (a temporal join) the record is joined with the version
// valid at its timestamp even when it is late or the table ran ahead.
template <typename Fn = Joiner>
class StreamTableJoinNode final : public Processor {
 public:
  StreamTableJoinNode(std::string name, std::shared_ptr<const KTable> table, JoinType type,
                      Fn joiner, std::shared_ptr<const VersionedTable> versions = nullptr)
      : Processor(std::move(name)),
        table_(std::move(table)),
        versions_(std::move(versions)),
        type_(type),
        joiner_(std::move(joiner)) {}

  void process(Batch& batch, ProcessContext& ctx) override {
    // A chunk's lookups first, when the table can (their cache misses
    // overlap: KTable::find_local_many), then that chunk's joins, while
    // what the lookups brought in (the rows, their fields) is still in
    // cache: a whole batch's rows would not stay there.
    constexpr size_t kChunk = 64;
    const bool many = !versions_ && batch.size() > 1;
    if (many) {
      keys_.resize(std::min(kChunk, batch.size()));
      matches_.resize(keys_.size());
    }
    size_t kept = 0;
    for (size_t start = 0; start < batch.size(); start += kChunk) {
      const size_t end = std::min(batch.size(), start + kChunk);
      bool looked_up = false;
      if (many) {
        for (size_t i = start; i < end; ++i) {
          keys_[i - start] = batch[i].key.is_null() ? nullptr : &batch[i].key;
        }
        looked_up = table_->find_local_many(keys_.data(), end - start, matches_.data());
      }
      for (size_t i = start; i < end; ++i) {
        Record& r = batch[i];
        if (r.key.is_null() && type_ == JoinType::Inner) {
          // An inner join needs the key: a data error (dead-lettered and
          // counted), not a silent drop. A left join emits it unmatched.
          ctx.null_key(r, SkipReason::NullJoinKey, "join", "the join key is null");
          continue;
        }
        const Value* match = looked_up         ? matches_[i - start]
                             : r.key.is_null() ? nullptr
                             : versions_       ? versions_->find_as_of(r.key, r.timestamp)
                                               : table_->find_local(r.key);
        if (match == nullptr && type_ == JoinType::Inner) continue;
        if (!guarded(ctx, r, "join", [&] { r.value = joiner_(r, match); })) continue;
        if (kept != i) batch[kept] = std::move(r);
        ++kept;
      }
    }
    batch.resize(kept);
    forward(batch, ctx);
  }

 private:
  std::shared_ptr<const KTable> table_;
  std::shared_ptr<const VersionedTable> versions_;
  JoinType type_;
  Fn joiner_;
  std::vector<const Value*> keys_;     // scratch: the batch's keys
  std::vector<const Value*> matches_;  // scratch: their table values
};

}  // namespace rivulet
