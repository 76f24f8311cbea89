#pragma once
// A task metric summed over a running Application's tasks.
#include <cstdint>

#include "actors/application.hpp"

namespace rivulet::testing {

// `field` is a pointer to a TaskMetrics member: &TaskMetrics::records_out.
template <typename Field>
uint64_t task_total(const Application& app, Field field) {
  uint64_t n = 0;
  for (const auto& t : app.task_metrics()) n += static_cast<uint64_t>(t.*field);
  return n;
}

}  // namespace rivulet::testing
