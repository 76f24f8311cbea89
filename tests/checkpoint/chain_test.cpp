// Incremental checkpoints: chains of a full snapshot and deltas. The pure
// decisions (resolve_chain, chain_retention_victims, ChainState) and, on a
// real directory store with real files, writing chains, restoring base +
// deltas in order, falling back past a damaged link to the newest intact
// prefix or to the previous chain, and keeping K chains.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "checkpoint/directory_store.hpp"
#include "checkpoint/recovery.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using rivulet::CheckpointId;
using rivulet::Epoch;
using rivulet::Offset;
using rivulet::PartitionId;
using rivulet::TopicPartition;
using namespace rivulet::checkpoint;

std::vector<CheckpointId> ids(std::initializer_list<int64_t> values) {
  std::vector<CheckpointId> out;
  for (auto v : values) out.push_back(CheckpointId(v));
  return out;
}

ChainLink full(int64_t id) { return ChainLink{CheckpointId(id), std::nullopt}; }
ChainLink delta(int64_t id, int64_t parent) { return ChainLink{CheckpointId(id), CheckpointId(parent)}; }

struct TempDir : rivulet::testing::TempDir {
  TempDir() : rivulet::testing::TempDir("rivulet-chain") {}
};

const TaskId kTask{"q1", PartitionId(3)};

// Checkpoint `id`: a full one holds "base<id>", a delta "+<id>".
Snapshot link_snapshot(int64_t id, std::optional<int64_t> parent) {
  Snapshot s;
  s.task = kTask;
  s.id = CheckpointId(id);
  s.epoch = Epoch(1);
  s.input_offsets[TopicPartition{"orders", kTask.partition}] = Offset(100 * id);
  s.sections.emplace_back("table", (parent ? "+" : "base") + std::to_string(id));
  s.incremental = parent.has_value();
  if (parent) s.base = CheckpointId(*parent);
  return s;
}

std::vector<int64_t> chain_ids(const std::optional<std::vector<Snapshot>>& chain) {
  std::vector<int64_t> out;
  if (!chain) return out;
  for (const auto& s : *chain) out.push_back(s.id.value());
  return out;
}

void damage(const std::string& path) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f);
  f.seekp(20);
  f.put('\x7f');
}

}  // namespace

TEST_CASE("resolve_chain follows parents down to the base", "[checkpoint][chain]") {
  std::vector<ChainLink> links = {delta(5, 4), full(4), delta(3, 2), delta(2, 1), full(1)};
  CHECK(resolve_chain(links, CheckpointId(3)).ids == ids({1, 2, 3}));
  CHECK(resolve_chain(links, CheckpointId(1)).ids == ids({1}));
  CHECK(resolve_chain(links, CheckpointId(5)).ids == ids({4, 5}));
  // A missing link is named; the chain is empty.
  std::vector<ChainLink> gap = {delta(3, 2), full(1)};
  auto r = resolve_chain(gap, CheckpointId(3));
  CHECK(r.ids.empty());
  REQUIRE(r.missing);
  CHECK(r.missing->value() == 2);
  // A parent that is not older is refused (a cycle or a forged name).
  CHECK(resolve_chain({delta(2, 3), delta(3, 2)}, CheckpointId(3)).missing.has_value());
}

TEST_CASE("chain_retention_victims keeps the newest K chains whole", "[checkpoint][chain]") {
  std::vector<ChainLink> links = {delta(8, 7), full(7), delta(6, 5), delta(5, 4),
                                  full(4),     delta(3, 1), delta(2, 1), full(1)};
  CHECK(chain_retention_victims(links, {}, 2) == ids({1, 2, 3}));
  CHECK(chain_retention_victims(links, {}, 1) == ids({1, 2, 3, 4, 5, 6}));
  CHECK(chain_retention_victims(links, {}, 3).empty());
  CHECK(chain_retention_victims(links, {}, 0).empty());
  // A known-corrupt base does not count: the chain before it stays too.
  CHECK(chain_retention_victims(links, {CheckpointId(7)}, 2) == ids({}));
  CHECK(chain_retention_victims(links, {CheckpointId(7)}, 1) == ids({1, 2, 3}));
  // A damaged delta inside a kept chain stays.
  CHECK(chain_retention_victims(links, {CheckpointId(5)}, 2) == ids({1, 2, 3}));
  // An orphan delta (its base is gone) older than the kept bases goes.
  CHECK(chain_retention_victims({full(7), delta(6, 5), full(4), delta(3, 2)}, {}, 2) ==
        ids({3}));
  // Only full snapshots: the same as retention_victims.
  std::vector<ChainLink> fulls = {full(5), full(4), full(3), full(2)};
  CHECK(chain_retention_victims(fulls, {CheckpointId(4)}, 2) ==
        retention_victims(ids({5, 4, 3, 2}), {CheckpointId(4)}, 2));
}

TEST_CASE("ChainState: a base, then deltas until the count or the size says a new base",
          "[checkpoint][chain]") {
  ChainState chain(ChainPolicy{3, 50});
  CHECK(chain.next_is_full());  // nothing written yet
  chain.written(CheckpointId(1), false, 1000);
  CHECK_FALSE(chain.next_is_full());
  CHECK(chain.parent().value() == 1);
  chain.written(CheckpointId(2), true, 100);
  chain.written(CheckpointId(3), true, 100);
  CHECK_FALSE(chain.next_is_full());
  CHECK(chain.parent().value() == 3);
  chain.written(CheckpointId(4), true, 100);
  CHECK(chain.next_is_full());  // three deltas
  chain.written(CheckpointId(5), false, 1000);
  chain.written(CheckpointId(6), true, 501);
  CHECK(chain.next_is_full());  // deltas above 50% of the base
  chain.written(CheckpointId(7), false, 1000);
  CHECK_FALSE(chain.next_is_full());
  chain.broken();  // a taken delta was lost
  CHECK(chain.next_is_full());
  ChainState never(ChainPolicy{0, 50});
  never.written(CheckpointId(1), false, 10);
  CHECK(never.next_is_full());
}

TEST_CASE("a directory store restores base and deltas in order and falls back past damage",
          "[checkpoint][chain]") {
  TempDir dir;
  auto store = DirectoryStore::open(dir.path());
  REQUIRE(store.ok());
  auto& s = **store;
  // Chain 1: 1 <- 2 <- 3; chain 2: 4 <- 5 <- 6 <- 7.
  for (auto [id, parent] : std::vector<std::pair<int64_t, std::optional<int64_t>>>{
           {1, {}}, {2, 1}, {3, 2}, {4, {}}, {5, 4}, {6, 5}, {7, 6}}) {
    REQUIRE(s.write(link_snapshot(id, parent)).ok());
  }
  CHECK(fs::exists(s.task_dir(kTask) + "/00000000000000000005.delta-00000000000000000004.ckpt"));
  auto links = s.list_links(kTask);
  REQUIRE(links.ok());
  CHECK(links->front() == delta(7, 6));
  CHECK(links->back() == full(1));
  auto listed = s.list(kTask);
  REQUIRE(listed.ok());
  CHECK(*listed == ids({7, 6, 5, 4, 3, 2, 1}));
  auto one = s.read(kTask, CheckpointId(6));
  REQUIRE(one.ok());
  CHECK(one->sections.front().second == "+6");

  SECTION("intact: the whole newest chain, base first") {
    auto chain = s.load_latest_chain(kTask);
    REQUIRE(chain.ok());
    CHECK(chain_ids(*chain) == std::vector<int64_t>{4, 5, 6, 7});
    CHECK((**chain)[0].sections.front().second == "base4");
    CHECK((**chain)[3].sections.front().second == "+7");
  }
  SECTION("a damaged delta: the newest intact prefix") {
    damage(s.file_path(kTask, delta(6, 5)));
    auto chain = s.load_latest_chain(kTask);
    REQUIRE(chain.ok());
    CHECK(chain_ids(*chain) == std::vector<int64_t>{4, 5});
    // Retention counts the damaged chain and keeps the damaged file.
    auto removed = s.retain(kTask, 1);
    REQUIRE(removed.ok());
    CHECK(*s.list(kTask) == ids({7, 6, 5, 4}));
  }
  SECTION("a damaged base: the previous chain") {
    damage(s.file_path(kTask, CheckpointId(4)));
    auto chain = s.load_latest_chain(kTask);
    REQUIRE(chain.ok());
    CHECK(chain_ids(*chain) == std::vector<int64_t>{1, 2, 3});
    // The damaged base does not count: both chains stay with keep 1.
    auto removed = s.retain(kTask, 1);
    REQUIRE(removed.ok());
    CHECK(*removed == 0);
  }
  SECTION("a missing delta: the prefix before the gap") {
    REQUIRE(s.remove(kTask, CheckpointId(5)).ok());
    auto chain = s.load_latest_chain(kTask);
    REQUIRE(chain.ok());
    CHECK(chain_ids(*chain) == std::vector<int64_t>{4});
  }
  SECTION("a delta file renamed onto another parent is refused") {
    fs::rename(s.file_path(kTask, delta(7, 6)), s.file_path(kTask, delta(7, 5)));
    auto chain = s.load_latest_chain(kTask);
    REQUIRE(chain.ok());
    CHECK(chain_ids(*chain) == std::vector<int64_t>{4, 5, 6});
  }
  SECTION("keep K counts chains") {
    REQUIRE(s.write(link_snapshot(8, std::nullopt)).ok());
    auto removed = s.retain(kTask, 2);
    REQUIRE(removed.ok());
    CHECK(*removed == 3);
    CHECK(*s.list(kTask) == ids({8, 7, 6, 5, 4}));
    REQUIRE(s.retain(kTask, 1).ok());
    CHECK(*s.list(kTask) == ids({8}));
  }
}
