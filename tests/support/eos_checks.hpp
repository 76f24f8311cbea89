#pragma once
// Checks shared by the exactly_once_v2 tests: a task's newest checkpoint
// must describe exactly the offsets its consumer group committed (state and
// offsets agree at a transaction boundary).
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "checkpoint/directory_store.hpp"
#include "connectors/kafka_consumer.hpp"

namespace rivulet::testing {

// For every task `<app>-<p>` (p < partitions): the newest checkpoint's
// offsets for `topic` equal the group's committed offset of that partition.
inline void check_checkpoints_match_committed(const std::string& bootstrap,
                                              const std::string& state_dir,
                                              const std::string& app_id,
                                              const std::string& topic, int32_t partitions) {
  auto store = checkpoint::DirectoryStore::open(state_dir);
  REQUIRE(store.ok());
  auto group = connectors::KafkaConsumer::create(
      {{"bootstrap.servers", bootstrap}, {"group.id", app_id}});
  REQUIRE(group.ok());
  std::vector<TopicPartition> tps;
  for (int32_t p = 0; p < partitions; ++p) tps.push_back(TopicPartition{topic, PartitionId{p}});
  auto committed = (*group)->committed(tps, std::chrono::seconds(10));
  REQUIRE(committed.ok());
  for (int32_t p = 0; p < partitions; ++p) {
    checkpoint::TaskId task{app_id, PartitionId{p}};
    auto chain = (*store)->load_latest_chain(task);
    REQUIRE(chain.ok());
    REQUIRE(chain->has_value());
    const auto& newest = (*chain)->back();
    const TopicPartition tp{topic, PartitionId{p}};
    auto in_checkpoint = newest.input_offsets.find(tp);
    auto in_group = committed->find(tp);
    INFO("task " << task.to_string() << " checkpoint " << newest.id.value());
    REQUIRE(in_checkpoint != newest.input_offsets.end());
    REQUIRE(in_group != committed->end());
    CHECK(in_checkpoint->second == in_group->second);
  }
}

}  // namespace rivulet::testing
