#pragma once
// KTable: the materialized view of a table topic partition (or of an
// aggregation's results): the latest value per key. Upserts; a null value
// (tombstone) deletes the key.
//
// Ownership and threads: owned by a TaskGraph (through a shared_ptr, so a
// query handle may outlive the task). Written by the owning task's thread
// only; read by any thread while it updates. Readers take a shared lock and
// copy what they return (a Value copy shares its immutable containers), so
// a reader never sees a half-applied update. The writer takes the exclusive
// lock once per batch (Writer), keeping the write path cheap; the owning
// thread may also read without any lock (find_local), since no one else
// writes. std::shared_mutex on glibc prefers readers: a crowd of readers
// that never pauses can hold a writer back (queries are expected to be
// occasional next to the task's updates).
//
// Storage (chosen at construction):
//  - Decoded: an unordered_map<Value, Value>. Lookups return the stored
//    Value: the fastest joins, but 2.3x (large strings) to 8x (small
//    structs) the raw bytes of keys and values (README.md).
//  - Encoded: keys and values as msgpack bytes in one arena with an
//    open-addressing index (a new value of the same length overwrites the
//    old one in place; others are appended): about 1.2-1.6x the raw bytes, snapshots
//    and restores are near memory speed (the arena already holds the
//    snapshot format), but every lookup decodes its value, and keys match
//    by their encoded bytes (an INT key and a DOUBLE key of equal value do
//    not). The arena is compacted when more than half of it is superseded
//    entries (a pause proportional to the live data, amortized).
//  - Auto: Decoded while the table is small, Encoded once it holds
//    `encode_at` entries (kAutoEncodeEntries by default) or its decoded
//    rows pass a byte bound (set_auto_switch: the Application gives each
//    task its share of table.decoded.max.bytes): small tables keep
//    the fastest lookups and stay in cache, large ones take 1.05-1.4x their
//    raw bytes instead of 5-8x (and no longer fit in cache either way). The
//    switch is one pass under the exclusive lock; the table stays encoded
//    after it (clear() and restore() decide again). Unlike Encoded, keys
//    keep matching as Values do (INT 1 = BIGINT 1 = DOUBLE 1.0): the arena
//    is indexed by key_identity, and the keys without one (composite,
//    DECIMAL) stay decoded beside it.
//
// Restore of Decoded storage is lazy: the snapshot's entries go into an
// arena like the Encoded storage's (its bytes, undecoded), and the owning
// task decodes a key on its first read (find_local) or overwrite, moving it
// into the map ("promotion", under the exclusive lock unless a Writer holds
// it already); readers on other threads decode a copy without promoting.
// Undecoded keys match as Values do (INT 1 = BIGINT 1 = DOUBLE 1.0): see
// key_identity in ktable.cpp; composite and DECIMAL keys are decoded at
// restore. Snapshots write both parts in the same format, so checkpoints
// are unchanged; the arena is freed when its last key is promoted.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "operators/state_store.hpp"
#include "operators/table_storage.hpp"
#include "runtime/ids.hpp"
#include "runtime/value.hpp"

namespace rivulet {

struct KTableStats {
  size_t size = 0;
  uint64_t updates_applied = 0;            // upserts and deletes applied since creation
  std::optional<TimestampMs> last_update;  // wall clock of the last applied batch
};

class KTable final : public StateStore {
 public:
  using Map = std::unordered_map<Value, Value, ValueHash>;

  // `encode_at`: TableStorage::Auto's switch to the encoded storage, in
  // entries (ignored by the other storages).
  explicit KTable(std::string name, TableStorage storage = TableStorage::Decoded,
                  size_t encode_at = kAutoEncodeEntries);
  ~KTable() override;

  // The storage asked for at construction.
  TableStorage storage() const { return storage_; }
  // TableStorage::Auto's switch: at `rows` entries, or once the decoded
  // rows take an estimated `decoded_bytes` (SIZE_MAX: no byte bound; 0:
  // encoded from the first row). The estimate samples the bytes of up to
  // 64 rows each time the table doubles (bytes_estimate's accounting), so
  // it follows the rows' size without walking the table. The owner, before
  // the table is written or restored (a later call takes effect at the
  // next new key, restore or clear).
  void set_auto_switch(size_t rows, size_t decoded_bytes);
  size_t auto_switch_bytes() const { return encode_bytes_; }
  // Whether the rows are kept encoded now: always for Encoded, never for
  // Decoded, from the switch on for Auto.
  bool encoded() const { return encoded_.load(std::memory_order_acquire); }

  // ---- Queries: any thread -------------------------------------------------

  std::optional<Value> get(const Value& key) const;
  bool contains(const Value& key) const;
  std::vector<Value> keys() const;
  size_t size() const { return size_.load(std::memory_order_acquire); }
  bool empty() const { return size() == 0; }
  // A copy of all entries, consistent as of one moment.
  Map snapshot() const;
  // New plain maps built from one consistent view (not live views). `fn` and
  // `pred` run under the shared lock: they must not write to this table.
  template <typename Fn>
  auto map_values(Fn fn) const
      -> std::unordered_map<Value, std::decay_t<decltype(fn(std::declval<const Value&>()))>,
                            ValueHash>;
  template <typename Pred>
  Map filter(Pred pred) const;  // pred(const Value& key, const Value& value) -> bool
  KTableStats stats() const;
  // Restored keys of a Decoded table not decoded yet (0 for Encoded).
  size_t undecoded() const;
  // Restored entries whose bytes did not decode when promoted: they read as
  // absent (the checkpoint's checksum makes this a bug or a format change).
  uint64_t undecodable() const { return undecodable_.load(std::memory_order_relaxed); }
  // Blocks until size() >= n (true) or the timeout passes (false).
  bool wait_for_keys(size_t n, std::chrono::milliseconds timeout) const;
  // Heap bytes held by the table (Decoded: nodes, buckets, keys, values as
  // glibc's allocator counts them; Encoded: arena and index). A decoded
  // map of more than `max_walk` entries is estimated from its first
  // `max_walk` (metrics: a bounded pause for the writer).
  size_t bytes_estimate(size_t max_walk = SIZE_MAX) const;

  // ---- Updates: the owning task's thread only -------------------------------

  // Holds the exclusive lock for a batch of updates; publishes size, stats
  // and wakes wait_for_keys() waiters when it goes out of scope.
  class Writer {
   public:
    explicit Writer(KTable& table);
    ~Writer();
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    // Upsert, or delete when `value` is null.
    void apply(const Value& key, Value value);
    void put(const Value& key, Value value);
    void erase(const Value& key);

   private:
    KTable& table_;
    std::unique_lock<std::shared_mutex> lock_;
    uint64_t applied_ = 0;
  };
  Writer writer() { return Writer(*this); }
  // One update under its own lock (tests, small tables).
  void apply(const Value& key, Value value);
  void clear();

  // Lookup for the owning (writing) thread, without locking: nullptr when
  // absent. Valid until that thread's next write or find_local call.
  const Value* find_local(const Value& key) const;
  // find_local for many keys at once (a stream-table join's batch):
  // out[i] = find_local(*keys[i]), nullptr for a null `keys[i]`. The
  // lookups of a batch overlap their cache misses (a 100k-key table does
  // not fit in cache: one lookup at a time waits for three dependent misses,
  // its bucket, the node before and the node). The results stay valid
  // until the owning thread's next write or find_local_many call (encoded
  // rows are decoded into a buffer of the table's, one per key). Every
  // storage answers in batches today; a false return would mean "call
  // find_local per key".
  bool find_local_many(const Value* const* keys, size_t n, const Value** out) const;

  // ---- StateStore ----------------------------------------------------------
  std::string name() const override { return name_; }
  std::string serialize() const override;
  // Copies the decoded rows (their Values share nested content, immutable,
  // through atomic reference counts) and any arena's bytes now; the
  // function packs them.
  std::function<std::string()> serialize_deferred() const override;
  Expected<bool> restore(std::string_view bytes) override;
  bool supports_incremental() const override { return true; }
  void set_change_tracking(bool on) override;
  std::string serialize_changes() const override;
  Expected<bool> apply_changes(std::string_view bytes) override;

 private:
  class Encoded;

  // Calls fn for every entry; the caller holds the lock (or is the owner).
  void scan(const std::function<void(const Value&, const Value&)>& fn) const;
  size_t count_unlocked() const;
  void publish(uint64_t applied);
  // The undecoded value bytes of `key` (caller holds the lock or owns).
  std::optional<std::string_view> lazy_value(const Value& key) const;
  // Owner only: moves `key`'s undecoded entry into map_ (with `replacement`
  // as its value when given); nullptr when it has none.
  Value* promote(const Value& key, Value* replacement) const;
  void note_change(const Value& key) {
    if (track_changes_) changed_.insert(key);
  }
  // The probe of `key` in enc_: its msgpack bytes, or its identity when enc_
  // is indexed by identity (Auto); empty when the arena cannot hold it
  // (the key lives in map_). `scratch` holds what the view points into.
  struct Scratch;
  std::string_view enc_probe(const Value& key, Scratch& scratch) const;
  // The value bytes `key` has in enc_ (caller holds the lock or owns).
  std::optional<std::string_view> enc_value(const Value& key) const;
  // find_local_many for the encoded storage.
  void find_encoded_many(const Value* const* keys, size_t n, const Value** out) const;
  // Auto: moves the rows into an arena indexed by identity (those of keys
  // without one stay in map_). The owner, holding the exclusive lock.
  void switch_to_encoded();
  void maybe_switch() {
    if (storage_ == TableStorage::Auto && !enc_) check_switch();
  }
  void check_switch();
  // The decoded rows' bytes if all `n` entries were decoded, from the
  // sampled bytes per entry (resampled when n reaches next_sample_).
  size_t decoded_estimate(size_t n);

  const std::string name_;
  const TableStorage storage_;
  size_t encode_at_;
  size_t encode_bytes_ = SIZE_MAX;
  size_t entry_bytes_ = 0;  // sampled decoded bytes per entry (owner only)
  size_t next_sample_ = 0;
  std::atomic<bool> encoded_{false};
  mutable std::shared_mutex mu_;
  // Decoded storage: map_, and lazy_ for restored keys not decoded yet
  // (mutable: find_local promotes).
  mutable Map map_;
  mutable std::unique_ptr<Encoded> lazy_;
  bool writing_ = false;  // a Writer of the owning thread holds mu_
  mutable std::atomic<uint64_t> undecodable_{0};
  // Encoded storage, and Auto's past its switch (then map_ keeps the keys
  // without an identity). Never set together with lazy_.
  std::unique_ptr<Encoded> enc_;
  std::atomic<size_t> size_{0};
  std::atomic<uint64_t> updates_{0};
  std::atomic<int64_t> last_update_{-1};
  // wait_for_keys: waiters sleep on cv_ holding mu_ shared; the writer only
  // notifies when someone waits.
  mutable std::condition_variable_any cv_;
  mutable std::atomic<int> waiters_{0};
  // Change tracking for incremental snapshots (owning thread only).
  bool track_changes_ = false;
  mutable std::unordered_set<Value, ValueHash> changed_;
  mutable std::vector<size_t> buckets_scratch_;  // find_local_many, owner only
};

// Heap bytes a Value holds beyond its own sizeof (long strings, containers),
// as glibc's allocator would count them (16-byte chunks, 8-byte header).
size_t value_heap_bytes(const Value& v);

// Table serialization shared by the state stores: a msgpack array
// [format version, [key, value, key, value, ...]]; a null value marks a
// deleted key in a change set.
std::string encode_entries(const std::vector<std::pair<const Value*, const Value*>>& entries);
std::string encode_entries(const std::vector<std::pair<Value, Value>>& entries);
// The format's header for `pairs` pairs, for a store that packs its pairs
// itself after it.
std::string entries_header(size_t pairs);
Expected<std::vector<std::pair<Value, Value>>> decode_entries(std::string_view bytes);
// The same format element by element, undecoded: `fn` gets each key's and
// value's msgpack bytes; an error from fn stops the walk.
Expected<bool> walk_entries(
    std::string_view bytes,
    const std::function<Expected<bool>(std::string_view key, std::string_view value)>& fn);

template <typename Fn>
auto KTable::map_values(Fn fn) const
    -> std::unordered_map<Value, std::decay_t<decltype(fn(std::declval<const Value&>()))>,
                          ValueHash> {
  std::unordered_map<Value, std::decay_t<decltype(fn(std::declval<const Value&>()))>, ValueHash>
      out;
  std::shared_lock<std::shared_mutex> lock(mu_);
  out.reserve(count_unlocked());
  scan([&](const Value& k, const Value& v) { out.emplace(k, fn(v)); });
  return out;
}

template <typename Pred>
KTable::Map KTable::filter(Pred pred) const {
  Map out;
  std::shared_lock<std::shared_mutex> lock(mu_);
  scan([&](const Value& k, const Value& v) {
    if (pred(k, v)) out.emplace(k, v);
  });
  return out;
}

}  // namespace rivulet
