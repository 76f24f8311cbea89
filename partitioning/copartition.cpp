#include "partitioning/copartition.hpp"

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

}  // namespace rivulet
