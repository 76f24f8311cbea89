#pragma once
// Co-partitioning: the inputs of a join must have the same number of
// partitions (and the same partitioner) so that partition i of each holds
// the same keys. Checked when an application starts, before any task runs.
#include <cstdint>
#include <map>
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

// How an application's tasks cover its inputs. Task i reads partition i of
// every input that has one, so inputs that no join ties together may have
// different partition counts: the application runs as many tasks as its
// largest input has partitions.
struct PartitionPlan {
  int32_t tasks = 0;
  // Every topic read, internal (repartition) topics included.
  std::map<std::string, int32_t> topics;
  // A topic's count; `tasks` for a topic the plan does not hold.
  int32_t of(const std::string& topic) const;
  // True when every topic has `tasks` partitions.
  bool uniform() const;
};

// `inputs`: the external inputs with their counts (each must have at least
// one partition). `groups`: sets of topics that must be co-partitioned
// (Topology::copartition_groups), internal ones among them. `internal`: the
// repartition topics, which the application creates: one in a group gets
// the count of the group's external inputs (so that its records, partitioned
// by key, meet the table or stream they join in the same task), any other
// the task count. A group whose external inputs disagree is an error
// (check_copartitioned's).
Expected<PartitionPlan> plan_partitions(const std::vector<TopicPartitions>& inputs,
                                        const std::vector<std::vector<std::string>>& groups,
                                        const std::vector<std::string>& internal);

}  // namespace rivulet
