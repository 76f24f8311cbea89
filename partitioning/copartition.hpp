#pragma once
// Co-partitioning: the inputs of a join must have the same number of
// partitions (and the same partitioner) so that partition i of each holds
// the same keys. Checked when an application starts, before any task runs.
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/error.hpp"

namespace rivulet {

struct TopicPartitions {
  std::string name;
  int32_t partitions = 0;
};

// The common partition count, or an error naming every topic and its count
// (ksqlDB's wording for two inputs).
Expected<int32_t> check_copartitioned(const std::vector<TopicPartitions>& inputs);

}  // namespace rivulet
