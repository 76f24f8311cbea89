#pragma once
// Loading a checkpoint chain (a full snapshot and the deltas on top of it,
// checkpoint/store.hpp) into the state stores of a task's TaskGraph.
#include <vector>

#include "checkpoint/snapshot.hpp"
#include "runtime/error.hpp"

namespace rivulet {
class TaskGraph;
}  // namespace rivulet

namespace rivulet::actors {

// Restores `chain` (base first) into `graph`: the base's sections replace
// each store's content, then every delta's sections are applied in order
// (apply_changes for stores with incremental snapshots, restore for the
// others, whose deltas hold their whole content). A section naming a store
// the topology does not have, or bytes a store rejects, is a Fatal error
// naming the task, the checkpoint and the store: running on would silently
// lose state.
Expected<bool> apply_checkpoint_chain(TaskGraph& graph,
                                      const std::vector<checkpoint::Snapshot>& chain);

}  // namespace rivulet::actors
