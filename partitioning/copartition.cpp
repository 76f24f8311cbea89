#include "partitioning/copartition.hpp"

#include <algorithm>

namespace rivulet {

Expected<int32_t> check_copartitioned(const std::vector<TopicPartitions>& inputs) {
  if (inputs.empty()) return Error::fatal("no input topics");
  for (const auto& t : inputs) {
    if (t.partitions <= 0) {
      return Error::fatal("topic " + t.name + " has no partitions");
    }
  }
  bool same = true;
  for (const auto& t : inputs) same = same && t.partitions == inputs.front().partitions;
  if (same) return inputs.front().partitions;
  if (inputs.size() == 2) {
    const auto& a = inputs[0];
    const auto& b = inputs[1];
    return Error::fatal("Can't join " + a.name + " with " + b.name +
                        " since the number of partitions don't match. " + a.name +
                        " partitions = " + std::to_string(a.partitions) + "; " + b.name +
                        " partitions = " + std::to_string(b.partitions) +
                        ". Please repartition either one so that the number of partitions match.");
  }
  std::string names, counts;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i) {
      names += i + 1 == inputs.size() ? " and " : ", ";
      counts += "; ";
    }
    names += inputs[i].name;
    counts += inputs[i].name + " partitions = " + std::to_string(inputs[i].partitions);
  }
  return Error::fatal("Can't join " + names + " since the number of partitions don't match. " +
                      counts +
                      ". Please repartition the inputs so that the number of partitions match.");
}

int32_t PartitionPlan::of(const std::string& topic) const {
  auto it = topics.find(topic);
  return it == topics.end() ? tasks : it->second;
}

bool PartitionPlan::uniform() const {
  return std::all_of(topics.begin(), topics.end(),
                     [&](const auto& t) { return t.second == tasks; });
}

Expected<PartitionPlan> plan_partitions(const std::vector<TopicPartitions>& inputs,
                                        const std::vector<std::vector<std::string>>& groups,
                                        const std::vector<std::string>& internal) {
  if (inputs.empty()) return Error::fatal("no input topics");
  PartitionPlan plan;
  for (const auto& t : inputs) {
    if (t.partitions <= 0) return Error::fatal("topic " + t.name + " has no partitions");
    plan.topics[t.name] = t.partitions;
    plan.tasks = std::max(plan.tasks, t.partitions);
  }
  auto is_internal = [&](const std::string& topic) {
    return std::find(internal.begin(), internal.end(), topic) != internal.end();
  };
  for (const auto& group : groups) {
    std::vector<TopicPartitions> external;
    for (const auto& topic : group) {
      if (is_internal(topic)) continue;
      auto it = plan.topics.find(topic);
      if (it != plan.topics.end()) external.push_back(TopicPartitions{topic, it->second});
    }
    int32_t count = plan.tasks;
    if (!external.empty()) {
      auto common = check_copartitioned(external);
      if (!common) return common.error();
      count = *common;
    }
    for (const auto& topic : group) {
      if (is_internal(topic)) plan.topics[topic] = count;
    }
  }
  for (const auto& topic : internal) plan.topics.emplace(topic, plan.tasks);
  return plan;
}

}  // namespace rivulet
