#include "checkpoint/configured_store.hpp"

#include "checkpoint/directory_store.hpp"
#include "checkpoint/kafka_store.hpp"

namespace rivulet::checkpoint {

std::string checkpoint_topic(const Config& config) {
  std::string topic = config.get("checkpoint.topic");
  return topic.empty() ? config.get("application.id") + "-checkpoints" : topic;
}

Expected<std::unique_ptr<CheckpointStore>> open_checkpoint_store(const Config& config) {
  if (config.get("checkpoint.store") == "kafka") {
    KafkaStoreOptions options;
    options.topic = checkpoint_topic(config);
    options.partitions = static_cast<int32_t>(config.get_int("checkpoint.topic.partitions"));
    options.chunk_bytes = static_cast<std::size_t>(config.get_int("checkpoint.chunk.bytes"));
    options.producer = config.kafka_properties("producer");
    options.consumer = config.kafka_properties("consumer");
    options.producer["bootstrap.servers"] = config.get("bootstrap.servers");
    options.consumer["bootstrap.servers"] = config.get("bootstrap.servers");
    auto store = KafkaStore::open(std::move(options));
    if (!store) return store.error();
    return std::unique_ptr<CheckpointStore>(std::move(*store));
  }
  auto store = DirectoryStore::open(config.get("state.dir"));
  if (!store) return store.error();
  return std::unique_ptr<CheckpointStore>(std::move(*store));
}

}  // namespace rivulet::checkpoint
