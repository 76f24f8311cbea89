#include "checkpoint/recovery.hpp"

#include <algorithm>

namespace rivulet::checkpoint {

std::optional<CheckpointId> choose_restore_point(const std::vector<CheckpointCandidate>& found) {
  std::set<CheckpointId> invalid;
  for (const auto& c : found) {
    if (!c.valid) invalid.insert(c.id);
  }
  std::optional<CheckpointId> best;
  for (const auto& c : found) {
    if (c.valid && invalid.count(c.id) == 0 && (!best || *best < c.id)) best = c.id;
  }
  return best;
}

std::vector<CheckpointId> retention_victims(const std::vector<CheckpointId>& existing,
                                            const std::set<CheckpointId>& known_corrupt,
                                            std::size_t keep) {
  if (keep == 0) return {};
  std::set<CheckpointId> ids(existing.begin(), existing.end());
  std::vector<CheckpointId> kept;
  for (auto it = ids.rbegin(); it != ids.rend() && kept.size() < keep; ++it) {
    if (known_corrupt.count(*it) == 0) kept.push_back(*it);
  }
  std::vector<CheckpointId> victims;
  if (kept.empty()) return victims;  // nothing good to keep: delete nothing
  const CheckpointId oldest_kept = kept.back();
  for (const auto& id : ids) {
    if (id < oldest_kept) victims.push_back(id);
  }
  return victims;
}

CheckpointId next_checkpoint_id(const std::vector<CheckpointId>& existing) {
  CheckpointId highest(0);
  for (const auto& id : existing) highest = std::max(highest, id);
  return CheckpointId(highest.value() + 1);
}

std::map<TopicPartition, Offset> committable_offsets(
    const std::map<TopicPartition, Offset>& checkpointed,
    const std::map<TopicPartition, Offset>& acknowledged) {
  std::map<TopicPartition, Offset> result;
  for (const auto& [tp, durable_state] : checkpointed) {
    auto acked = acknowledged.find(tp);
    if (acked == acknowledged.end()) continue;
    result.emplace(tp, std::min(durable_state, acked->second));
  }
  return result;
}

std::map<TopicPartition, Offset> offsets_to_commit(
    const std::map<TopicPartition, Offset>& committable,
    const std::map<TopicPartition, Offset>& already_committed) {
  std::map<TopicPartition, Offset> result;
  for (const auto& [tp, offset] : committable) {
    auto done = already_committed.find(tp);
    if (done == already_committed.end() || done->second < offset) result.emplace(tp, offset);
  }
  return result;
}

}  // namespace rivulet::checkpoint
