#pragma once
// The checkpoint store a configuration names: `checkpoint.store=directory`
// (a DirectoryStore under `state.dir`) or `checkpoint.store=kafka` (a
// KafkaStore on `checkpoint.topic`, default `<application.id>-checkpoints`,
// reached through `bootstrap.servers` and the kafka.consumer./kafka.producer.
// pass-through properties).
#include <memory>
#include <string>

#include "checkpoint/store.hpp"
#include "runtime/config.hpp"

namespace rivulet::checkpoint {

// The topic `checkpoint.store=kafka` uses.
std::string checkpoint_topic(const Config& config);

Expected<std::unique_ptr<CheckpointStore>> open_checkpoint_store(const Config& config);

}  // namespace rivulet::checkpoint
