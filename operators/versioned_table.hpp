#pragma once
// VersionedTable: the history of a table partition, for temporal joins. For
// each key it keeps the versions of the value with the timestamp from which
// each is valid (a tombstone is a version too: "absent from then on"), so a
// stream record joins the value that was valid at *its* timestamp, even when
// it arrives late or the table ran ahead of the stream.
//
// Semantics (those of Kafka Streams' versioned key-value stores, KIP-889):
//  - put(key, ts, value) inserts a version in timestamp order; a later put
//    with the same key and timestamp replaces that version. A put older than
//    the history retention (observed time - retention) is refused and
//    counted: no lookup may see it any more.
//  - find_as_of(key, ts): the version with the largest timestamp <= ts, or
//    nothing when there is none, it is a tombstone, or ts is older than the
//    retention (history that old is gone).
//  - Versions are dropped once a newer version is valid at the retention
//    cutoff (the one valid at the cutoff is kept), so memory holds only
//    the retention's worth of history plus one version per key.
//
// "Observed time" is the largest timestamp put into this table. A task
// thread owns the store (no locks): it is written by the table's
// materialization and read by the task's joins.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "operators/state_store.hpp"
#include "runtime/ids.hpp"
#include "runtime/value.hpp"

namespace rivulet {

class VersionedTable final : public StateStore {
 public:
  struct Version {
    TimestampMs from = 0;
    Value value;  // null: a tombstone (the key is absent from `from` on)
  };
  enum class PutResult {
    Latest,      // the newest version of its key: the table's current value changed
    History,     // an out-of-order update: inserted into the history only
    TooOld,      // older than the retention: refused (counted)
  };

  VersionedTable(std::string name, int64_t history_retention_ms);

  int64_t history_retention_ms() const { return retention_ms_; }
  std::optional<TimestampMs> observed_time() const { return observed_; }

  // A null `value` is a tombstone.
  PutResult put(const Value& key, TimestampMs ts, const Value& value);
  // nullptr when no version of `key` is valid at `ts` (see above). Valid
  // until the next put().
  const Value* find_as_of(const Value& key, TimestampMs ts) const;
  // The versions of `key`, oldest first (tests, diagnostics).
  std::vector<Version> versions(const Value& key) const;

  size_t keys() const { return versions_.size(); }
  size_t version_count() const { return version_count_; }
  uint64_t too_old_puts() const { return too_old_; }

  // ---- StateStore ----------------------------------------------------------
  std::string name() const override { return name_; }
  std::string serialize() const override;
  Expected<bool> restore(std::string_view bytes) override;

 private:
  TimestampMs cutoff() const;
  void prune(std::vector<Version>& vs, TimestampMs cutoff);

  std::string name_;
  int64_t retention_ms_;
  std::optional<TimestampMs> observed_;
  std::unordered_map<Value, std::vector<Version>, ValueHash> versions_;
  size_t version_count_ = 0;
  uint64_t too_old_ = 0;
  size_t puts_since_sweep_ = 0;
};

}  // namespace rivulet
