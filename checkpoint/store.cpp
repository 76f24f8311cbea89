#include "checkpoint/store.hpp"

#include <limits>
#include <map>

#include "checkpoint/recovery.hpp"
#include "runtime/log.hpp"

namespace rivulet::checkpoint {

Expected<std::optional<Snapshot>> CheckpointStore::load_latest_valid(const TaskId& task) {
  auto ids = list(task);
  if (!ids) return ids.error();
  // choose_restore_point's rule (the newest intact one), read lazily: newest
  // first, so older checkpoints are only read when every newer one is
  // damaged. tests/checkpoint check that both agree on every pattern.
  for (const CheckpointId id : *ids) {
    auto snapshot = read(task, id);
    if (snapshot) return std::optional<Snapshot>(std::move(*snapshot));
    if (snapshot.error().kind != ErrorKind::Data) return snapshot.error();
    logger()->warn("task {}: skipping damaged checkpoint {}: {}", task.to_string(), id.value(),
                   snapshot.error().message);
    std::lock_guard<std::mutex> lock(mutex_);
    known_corrupt_.emplace(task, id);
  }
  if (!ids->empty()) {
    logger()->warn(
        "task {}: none of its {} checkpoint(s) is intact; state is rebuilt from the inputs",
        task.to_string(), ids->size());
  }
  return std::optional<Snapshot>();
}

Expected<std::vector<ChainLink>> CheckpointStore::list_links(const TaskId& task) {
  auto ids = list(task);
  if (!ids) return ids.error();
  std::vector<ChainLink> links;
  for (const auto& id : *ids) links.push_back(ChainLink{id, std::nullopt});
  return links;
}

Expected<std::optional<std::vector<Snapshot>>> CheckpointStore::load_latest_chain(
    const TaskId& task) {
  auto links = list_links(task);
  if (!links) return links.error();
  std::map<CheckpointId, std::optional<CheckpointId>> parent_of;
  for (const auto& link : *links) parent_of[link.id] = link.parent;
  // Each link is read at most once, even when several candidates share it.
  std::map<CheckpointId, Snapshot> intact;
  std::map<CheckpointId, std::string> damaged;  // id -> why
  auto read_link = [&](CheckpointId id) -> Expected<bool> {
    if (intact.count(id) != 0) return true;
    if (damaged.count(id) != 0) return false;
    auto snapshot = read(task, id);
    if (!snapshot) {
      if (snapshot.error().kind != ErrorKind::Data) return snapshot.error();
      damaged[id] = snapshot.error().message;
    } else if (snapshot->incremental != parent_of[id].has_value() ||
               (snapshot->incremental && snapshot->base != *parent_of[id])) {
      damaged[id] = "its content does not match its listing as " +
                    (parent_of[id] ? "a delta on top of " + std::to_string(parent_of[id]->value())
                                   : std::string("a full snapshot"));
    } else {
      intact.emplace(id, std::move(*snapshot));
      return true;
    }
    logger()->warn("task {}: skipping damaged checkpoint {}: {}", task.to_string(), id.value(),
                   damaged[id]);
    std::lock_guard<std::mutex> lock(mutex_);
    known_corrupt_.emplace(task, id);
    return false;
  };
  for (const auto& candidate : *links) {
    const auto chain = resolve_chain(*links, candidate.id);
    if (chain.missing) {
      logger()->warn("task {}: skipping checkpoint {}: its chain lacks checkpoint {}",
                     task.to_string(), candidate.id.value(), chain.missing->value());
      continue;
    }
    std::optional<CheckpointId> broken;
    for (auto it = chain.ids.rbegin(); it != chain.ids.rend() && !broken; ++it) {
      auto ok = read_link(*it);
      if (!ok) return ok.error();
      if (!*ok) broken = *it;
    }
    if (broken) {
      if (*broken != candidate.id) {
        logger()->warn("task {}: skipping checkpoint {}: it builds on damaged checkpoint {}",
                       task.to_string(), candidate.id.value(), broken->value());
      }
      continue;
    }
    std::vector<Snapshot> result;
    for (const auto& id : chain.ids) result.push_back(std::move(intact.at(id)));
    return std::optional<std::vector<Snapshot>>(std::move(result));
  }
  if (!links->empty()) {
    logger()->warn(
        "task {}: none of its {} checkpoint(s) restores intact; state is rebuilt from the inputs",
        task.to_string(), links->size());
  }
  return std::optional<std::vector<Snapshot>>();
}

Expected<std::size_t> CheckpointStore::retain(const TaskId& task, std::size_t keep) {
  auto ids = list_links(task);
  if (!ids) return ids.error();
  std::set<CheckpointId> corrupt;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it =
             known_corrupt_.lower_bound({task, CheckpointId(std::numeric_limits<int64_t>::min())});
         it != known_corrupt_.end() && it->first == task; ++it) {
      corrupt.insert(it->second);
    }
  }
  const auto victims = chain_retention_victims(*ids, corrupt, keep);
  for (const CheckpointId id : victims) {
    auto removed = remove(task, id);
    if (!removed) return removed.error();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  for (const CheckpointId id : victims) known_corrupt_.erase({task, id});
  return victims.size();
}

}  // namespace rivulet::checkpoint
