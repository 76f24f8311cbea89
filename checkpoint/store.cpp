#include "checkpoint/store.hpp"

#include <limits>

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

Expected<std::size_t> CheckpointStore::retain(const TaskId& task, std::size_t keep) {
  auto ids = list(task);
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
  const auto victims = retention_victims(*ids, corrupt, keep);
  for (const CheckpointId id : victims) {
    auto removed = remove(task, id);
    if (!removed) return removed.error();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  for (const CheckpointId id : victims) known_corrupt_.erase({task, id});
  return victims.size();
}

}  // namespace rivulet::checkpoint
