// The store-independent parts of CheckpointStore (load_latest_valid, retain)
// against an in-memory store, so that every pattern of damaged checkpoints
// can be tried: the lazy restore loop must agree with choose_restore_point.
#include "checkpoint/store.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "checkpoint/recovery.hpp"

namespace {

using rivulet::CheckpointId;
using rivulet::Error;
using rivulet::ErrorKind;
using rivulet::Expected;
using rivulet::PartitionId;
using rivulet::checkpoint::CheckpointCandidate;
using rivulet::checkpoint::CheckpointStore;
using rivulet::checkpoint::choose_restore_point;
using rivulet::checkpoint::decode;
using rivulet::checkpoint::encode;
using rivulet::checkpoint::Snapshot;
using rivulet::checkpoint::TaskId;

// Keeps encoded snapshots in a map; `damaged` ids read back as corrupt and
// `unreadable` ids fail as an I/O error would. Single-threaded test helper.
class MemoryStore final : public CheckpointStore {
 public:
  Expected<uint64_t> write(const Snapshot& s) override {
    files_[{s.task, s.id}] = encode(s);
    return static_cast<uint64_t>(files_[{s.task, s.id}].size());
  }
  Expected<std::vector<CheckpointId>> list(const TaskId& task) override {
    std::vector<CheckpointId> ids;
    for (const auto& [key, bytes] : files_) {
      if (key.first == task) ids.push_back(key.second);
    }
    std::sort(ids.rbegin(), ids.rend());
    return ids;
  }
  Expected<Snapshot> read(const TaskId& task, CheckpointId id) override {
    reads.push_back(id);
    if (unreadable.count(id)) return Error::retriable("memory: device busy");
    auto it = files_.find({task, id});
    if (it == files_.end()) return Error::data("memory: no such checkpoint");
    std::string bytes = it->second;
    if (damaged.count(id)) bytes[bytes.size() / 2] ^= 1;
    return decode(bytes);
  }
  Expected<bool> remove(const TaskId& task, CheckpointId id) override {
    files_.erase({task, id});
    return true;
  }

  std::set<CheckpointId> damaged;
  std::set<CheckpointId> unreadable;
  std::vector<CheckpointId> reads;

 private:
  std::map<std::pair<TaskId, CheckpointId>, std::string> files_;
};

const TaskId kTask{"q", PartitionId(0)};

Snapshot snapshot_for(int64_t id) {
  Snapshot s;
  s.task = kTask;
  s.id = CheckpointId(id);
  s.sections.emplace_back("s", std::to_string(id));
  return s;
}

}  // namespace

TEST_CASE("load_latest_valid agrees with choose_restore_point on every damage pattern",
          "[checkpoint][store]") {
  for (int n = 0; n <= 6; ++n) {
    for (int mask = 0; mask < (1 << n); ++mask) {
      MemoryStore store;
      std::vector<CheckpointCandidate> truth;
      for (int i = 1; i <= n; ++i) {
        REQUIRE(store.write(snapshot_for(i)).ok());
        const bool damaged = (mask >> (i - 1)) & 1;
        if (damaged) store.damaged.insert(CheckpointId(i));
        truth.push_back({CheckpointId(i), !damaged});
      }
      INFO(n << " checkpoints, damage mask " << mask);
      auto loaded = store.load_latest_valid(kTask);
      REQUIRE(loaded.ok());
      const auto expected = choose_restore_point(truth);
      REQUIRE(loaded->has_value() == expected.has_value());
      if (expected) {
        REQUIRE((*loaded)->id == *expected);
        REQUIRE(**loaded == snapshot_for(expected->value()));
        // Lazy: nothing older than the chosen one was read.
        for (const auto& id : store.reads) REQUIRE(id >= *expected);
      }
    }
  }
}

TEST_CASE("load_latest_valid returns an I/O failure instead of falling back",
          "[checkpoint][store]") {
  MemoryStore store;
  for (int i = 1; i <= 3; ++i) REQUIRE(store.write(snapshot_for(i)).ok());
  store.damaged.insert(CheckpointId(3));
  store.unreadable.insert(CheckpointId(2));
  auto loaded = store.load_latest_valid(kTask);
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.error().kind == ErrorKind::Retriable);
  store.unreadable.clear();
  loaded = store.load_latest_valid(kTask);
  REQUIRE(loaded.ok());
  CHECK((*loaded)->id == CheckpointId(2));
}

TEST_CASE("retain does not count checkpoints found corrupt", "[checkpoint][store]") {
  MemoryStore store;
  for (int i = 1; i <= 4; ++i) REQUIRE(store.write(snapshot_for(i)).ok());
  // Before anyone read them, damage is unknown: plain newest-K.
  store.damaged = {CheckpointId(4), CheckpointId(3)};
  MemoryStore untouched;
  for (int i = 1; i <= 4; ++i) REQUIRE(untouched.write(snapshot_for(i)).ok());
  CHECK(*untouched.retain(kTask, 2) == 2);
  CHECK(*untouched.list(kTask) == std::vector<CheckpointId>{CheckpointId(4), CheckpointId(3)});

  // After a restore found 4 and 3 damaged, the two kept good ones are 2 and 1.
  REQUIRE((*store.load_latest_valid(kTask))->id == CheckpointId(2));
  CHECK(*store.retain(kTask, 2) == 0);
  REQUIRE(store.write(snapshot_for(5)).ok());
  CHECK(*store.retain(kTask, 2) == 1);
  CHECK(*store.list(kTask) == std::vector<CheckpointId>{CheckpointId(5), CheckpointId(4),
                                                        CheckpointId(3), CheckpointId(2)});
}
