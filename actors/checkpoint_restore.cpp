#include "actors/checkpoint_restore.hpp"

#include "operators/task_graph.hpp"

namespace rivulet::actors {

Expected<bool> apply_checkpoint_chain(TaskGraph& graph,
                                      const std::vector<checkpoint::Snapshot>& chain) {
  for (const auto& snap : chain) {
    const std::string where =
        "checkpoint " + std::to_string(snap.id.value()) + " of task " + snap.task.to_string();
    for (const auto& [name, bytes] : snap.sections) {
      StateStore* target = nullptr;
      for (auto* s : graph.stores()) {
        if (s->name() == name) target = s;
      }
      if (target == nullptr) {
        return Error::fatal(where + " has state '" + name + "' that this topology does not have");
      }
      auto r = snap.incremental && target->supports_incremental() ? target->apply_changes(bytes)
                                                                  : target->restore(bytes);
      if (!r) {
        return Error::fatal("restoring '" + name + "' from " + where + ": " + r.error().message);
      }
    }
  }
  return true;
}

}  // namespace rivulet::actors
