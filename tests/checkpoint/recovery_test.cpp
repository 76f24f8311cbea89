// The pure decisions of recovery, checked exhaustively over small domains.
#include "checkpoint/recovery.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace {

using rivulet::CheckpointId;
using rivulet::Offset;
using rivulet::PartitionId;
using rivulet::TopicPartition;
using rivulet::checkpoint::CheckpointCandidate;
using rivulet::checkpoint::choose_restore_point;
using rivulet::checkpoint::committable_offsets;
using rivulet::checkpoint::next_checkpoint_id;
using rivulet::checkpoint::offsets_to_commit;
using rivulet::checkpoint::retention_victims;

using OffsetMap = std::map<TopicPartition, Offset>;

const std::vector<TopicPartition> kPartitions{{"orders", PartitionId(0)},
                                              {"orders", PartitionId(1)},
                                              {"users", PartitionId(0)},
                                              {"users", PartitionId(1)}};
constexpr int kOffsetValues = 4;  // offsets 0..3, plus "absent"

// Decodes `code` into one map over kPartitions: each partition is absent or
// holds an offset in 0..kOffsetValues-1.
OffsetMap offsets_from(int code) {
  OffsetMap m;
  for (const auto& tp : kPartitions) {
    const int v = code % (kOffsetValues + 1);
    code /= kOffsetValues + 1;
    if (v > 0) m[tp] = Offset(v - 1);
  }
  return m;
}

int offset_map_count() {
  int n = 1;
  for (std::size_t i = 0; i < kPartitions.size(); ++i) n *= kOffsetValues + 1;
  return n;
}

}  // namespace

TEST_CASE("choose_restore_point: the newest valid checkpoint, for every pattern",
          "[checkpoint][recovery]") {
  for (int n = 0; n <= 7; ++n) {
    for (int mask = 0; mask < (1 << n); ++mask) {
      std::vector<CheckpointCandidate> found;
      std::optional<CheckpointId> expected;
      for (int i = 0; i < n; ++i) {
        const bool valid = (mask >> i) & 1;
        found.push_back({CheckpointId(10 + i), valid});
        if (valid) expected = CheckpointId(10 + i);
      }
      INFO(n << " checkpoints, validity mask " << mask);
      // The order a store lists them in does not matter.
      CHECK(choose_restore_point(found) == expected);
      std::reverse(found.begin(), found.end());
      CHECK(choose_restore_point(found) == expected);
      std::rotate(found.begin(), found.begin() + n / 2, found.end());
      CHECK(choose_restore_point(found) == expected);
    }
  }
}

TEST_CASE("choose_restore_point: an id reported both valid and invalid is not trusted",
          "[checkpoint][recovery]") {
  std::vector<CheckpointCandidate> found{
      {CheckpointId(5), true}, {CheckpointId(6), true}, {CheckpointId(6), false}};
  CHECK(choose_restore_point(found) == CheckpointId(5));
  CHECK_FALSE(choose_restore_point({}).has_value());
}

TEST_CASE("retention_victims: keeps the newest K not known corrupt, for every pattern",
          "[checkpoint][recovery]") {
  for (int n = 0; n <= 7; ++n) {
    std::vector<CheckpointId> existing;
    for (int i = 0; i < n; ++i) existing.push_back(CheckpointId(i + 1));
    for (int corrupt_mask = 0; corrupt_mask < (1 << n); ++corrupt_mask) {
      std::set<CheckpointId> corrupt;
      for (int i = 0; i < n; ++i) {
        if ((corrupt_mask >> i) & 1) corrupt.insert(CheckpointId(i + 1));
      }
      for (std::size_t keep = 0; keep <= 4; ++keep) {
        auto victims = retention_victims(existing, corrupt, keep);
        INFO(n << " checkpoints, corrupt mask " << corrupt_mask << ", keep " << keep);
        REQUIRE(std::is_sorted(victims.begin(), victims.end()));
        std::set<CheckpointId> gone(victims.begin(), victims.end());
        REQUIRE(gone.size() == victims.size());
        // The good ones that survive: the newest min(keep, good) exactly,
        // unless keep is 0 (delete nothing).
        std::vector<CheckpointId> good_left, good_all;
        for (const auto& id : existing) {
          if (corrupt.count(id)) continue;
          good_all.push_back(id);
          if (!gone.count(id)) good_left.push_back(id);
        }
        if (keep == 0) {
          REQUIRE(victims.empty());
          continue;
        }
        const std::size_t want = std::min(keep, good_all.size());
        REQUIRE(good_left.size() == want);
        REQUIRE(std::equal(good_left.begin(), good_left.end(), good_all.end() - want));
        // Nothing newer than the oldest kept good checkpoint is deleted, and
        // everything older is.
        for (const auto& id : existing) {
          const bool older = !good_left.empty() && id < good_left.front();
          REQUIRE(gone.count(id) == (older ? 1u : 0u));
        }
      }
    }
  }
}

TEST_CASE("retention_victims: unsorted input and duplicates", "[checkpoint][recovery]") {
  std::vector<CheckpointId> existing{CheckpointId(3), CheckpointId(1), CheckpointId(4),
                                     CheckpointId(1), CheckpointId(2)};
  CHECK(retention_victims(existing, {}, 2) ==
        std::vector<CheckpointId>{CheckpointId(1), CheckpointId(2)});
  // The newest is known corrupt: it does not count against the two kept.
  CHECK(retention_victims(existing, {CheckpointId(4)}, 2) ==
        std::vector<CheckpointId>{CheckpointId(1)});
}

TEST_CASE("next_checkpoint_id: above every existing id, corrupt ones included",
          "[checkpoint][recovery]") {
  CHECK(next_checkpoint_id({}) == CheckpointId(1));
  CHECK(next_checkpoint_id({CheckpointId(7), CheckpointId(9), CheckpointId(8)}) ==
        CheckpointId(10));
}

TEST_CASE("committable_offsets: never ahead of the checkpoint or the acknowledged output",
          "[checkpoint][recovery]") {
  const int count = offset_map_count();
  for (int c = 0; c < count; ++c) {
    const OffsetMap checkpointed = offsets_from(c);
    for (int a = 0; a < count; ++a) {
      const OffsetMap acknowledged = offsets_from(a);
      const OffsetMap result = committable_offsets(checkpointed, acknowledged);
      for (const auto& tp : kPartitions) {
        auto ck = checkpointed.find(tp);
        auto ack = acknowledged.find(tp);
        auto got = result.find(tp);
        if (ck == checkpointed.end() || ack == acknowledged.end()) {
          REQUIRE(got == result.end());
          continue;
        }
        REQUIRE(got != result.end());
        REQUIRE(got->second <= ck->second);
        REQUIRE(got->second <= ack->second);
        // And as far as both allow: the minimum, not anything lower.
        REQUIRE((got->second == ck->second || got->second == ack->second));
      }
      REQUIRE(result.size() <= kPartitions.size());
    }
  }
}

TEST_CASE("offsets_to_commit: only forward, for every pair", "[checkpoint][recovery]") {
  const int count = offset_map_count();
  for (int c = 0; c < count; ++c) {
    const OffsetMap committable = offsets_from(c);
    for (int d = 0; d < count; d += 3) {
      const OffsetMap done = offsets_from(d);
      const OffsetMap result = offsets_to_commit(committable, done);
      for (const auto& tp : kPartitions) {
        auto want = committable.find(tp);
        auto had = done.find(tp);
        const bool advances =
            want != committable.end() && (had == done.end() || had->second < want->second);
        REQUIRE(result.count(tp) == (advances ? 1u : 0u));
        if (advances) REQUIRE(result.at(tp) == want->second);
      }
    }
  }
}
