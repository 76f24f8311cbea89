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

ResolvedChain resolve_chain(const std::vector<ChainLink>& existing, CheckpointId id) {
  std::map<CheckpointId, std::optional<CheckpointId>> parent_of;
  for (const auto& link : existing) parent_of[link.id] = link.parent;
  ResolvedChain result;
  std::optional<CheckpointId> at = id;
  std::set<CheckpointId> seen;
  while (at) {
    auto it = parent_of.find(*at);
    // A parent must be older; anything else is a cycle or garbage.
    if (it == parent_of.end() || !seen.insert(*at).second ||
        (it->second && !(*it->second < *at))) {
      result.ids.clear();
      result.missing = *at;
      return result;
    }
    result.ids.push_back(*at);
    at = it->second;
  }
  std::reverse(result.ids.begin(), result.ids.end());
  return result;
}

std::vector<CheckpointId> chain_retention_victims(const std::vector<ChainLink>& existing,
                                                  const std::set<CheckpointId>& known_corrupt,
                                                  std::size_t keep) {
  if (keep == 0) return {};
  std::vector<CheckpointId> bases;
  std::set<CheckpointId> corrupt_bases;
  for (const auto& link : existing) {
    if (link.parent) continue;
    bases.push_back(link.id);
    if (known_corrupt.count(link.id) != 0) corrupt_bases.insert(link.id);
  }
  const auto base_victims = retention_victims(bases, corrupt_bases, keep);
  const std::set<CheckpointId> dead(base_victims.begin(), base_victims.end());
  std::optional<CheckpointId> oldest_kept;
  for (const auto& b : bases) {
    if (dead.count(b) == 0 && (!oldest_kept || b < *oldest_kept)) oldest_kept = b;
  }
  std::set<CheckpointId> victims(dead.begin(), dead.end());
  for (const auto& link : existing) {
    if (!link.parent) continue;
    auto chain = resolve_chain(existing, link.id);
    if (!chain.ids.empty()) {
      if (dead.count(chain.ids.front()) != 0) victims.insert(link.id);
    } else if (oldest_kept && link.id < *oldest_kept) {
      victims.insert(link.id);  // an orphan older than everything kept
    }
  }
  return std::vector<CheckpointId>(victims.begin(), victims.end());
}

bool ChainState::next_is_full() const {
  if (!open_ || policy_.max_deltas == 0 || deltas_ >= policy_.max_deltas) return true;
  return delta_bytes_ * 100 > base_bytes_ * policy_.max_delta_percent;
}

void ChainState::written(CheckpointId id, bool incremental, uint64_t bytes) {
  last_ = id;
  open_ = true;
  if (incremental) {
    ++deltas_;
    delta_bytes_ += bytes;
  } else {
    deltas_ = 0;
    delta_bytes_ = 0;
    base_bytes_ = bytes;
  }
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
