#pragma once
// Checks and hooks shared by the checkpoint stores (directory_store.cpp,
// kafka_store.cpp). Internal to checkpoint/.
//
// Pure functions (fault_point may end the process); any thread.
#include <string_view>

#include "checkpoint/snapshot.hpp"
#include "runtime/error.hpp"

namespace rivulet::checkpoint {

// The crash-test hook: when the environment variable RIVULET_FAULT equals
// `name`, the process dies with SIGKILL, the way a power cut or an OOM kill
// would, with no chance to clean up.
void fault_point(const char* name);

// A task's name (TaskId::to_string()) keys its checkpoints: a directory
// name, a record key. Refuses names that are empty, contain '/' or NUL
// (they would escape the state directory) or are longer than 200 bytes;
// the error says the name "cannot be used as <use>".
Expected<bool> check_task(const TaskId& task, std::string_view use);

}  // namespace rivulet::checkpoint
