#pragma once
// A consumer group's committed progress on a topic, read as any Kafka
// client would: the sum of its committed offsets over the partitions.
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "connectors/kafka_consumer.hpp"

namespace rivulet::testing {

class CommittedProgress {
 public:
  CommittedProgress(const std::string& bootstrap, const std::string& group,
                    const std::string& topic, int32_t partitions) {
    auto consumer =
        connectors::KafkaConsumer::create({{"bootstrap.servers", bootstrap}, {"group.id", group}});
    REQUIRE(consumer.ok());
    consumer_ = std::move(*consumer);
    for (int32_t p = 0; p < partitions; ++p)
      partitions_.push_back(TopicPartition{topic, PartitionId{p}});
  }
  // The committed offset of each partition that has one.
  auto offsets() const { return consumer_->committed(partitions_, std::chrono::seconds(5)); }
  // Records committed over all partitions; -1 when the broker did not say.
  int64_t total() const {
    auto committed = offsets();
    if (!committed) return -1;
    int64_t sum = 0;
    for (const auto& [tp, offset] : *committed) sum += offset.value();
    return sum;
  }

 private:
  std::unique_ptr<connectors::KafkaConsumer> consumer_;
  std::vector<TopicPartition> partitions_;
};

}  // namespace rivulet::testing
