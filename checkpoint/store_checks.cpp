#include "checkpoint/store_checks.hpp"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

namespace rivulet::checkpoint {

void fault_point(const char* name) {
  const char* fault = std::getenv("RIVULET_FAULT");
  if (fault != nullptr && std::strcmp(fault, name) == 0) std::raise(SIGKILL);
}

Expected<bool> check_task(const TaskId& task, std::string_view use) {
  const std::string name = task.to_string();
  if (task.query.empty() || task.query.find_first_of(std::string("/\0", 2)) != std::string::npos ||
      name.size() > 200) {
    return Error::fatal("task name '" + name + "' cannot be used as " + std::string(use));
  }
  return true;
}

}  // namespace rivulet::checkpoint
