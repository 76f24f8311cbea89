#pragma once
// Reads every record of a topic, all partitions, from the beginning up to
// the high watermarks seen when reading starts: a consistent, finite copy
// for the verifier. Bounded by a timeout; fails loudly (never returns a
// partial copy as if it were whole) when the end is not reached.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "runtime/error.hpp"
#include "runtime/record.hpp"

namespace rivulet::chaos {

struct TopicRecord {
  TopicPartition tp;
  RawRecord record;

  std::optional<std::string> header(const std::string& name) const;
};

struct ReadOptions {
  bool read_committed = false;  // isolation.level=read_committed
  std::chrono::milliseconds timeout{60000};
};

// Records in offset order per partition (partitions one after another).
Expected<std::vector<TopicRecord>> read_topic(const std::string& bootstrap,
                                              const std::string& topic,
                                              const ReadOptions& options = {});

}  // namespace rivulet::chaos
