#pragma once
// Reads one header of the records in ranges of a topic's partitions: a
// bounded look back at what was written, without a consumer group (no
// offsets committed, nothing joined). Aborted transactional records are
// read too (read_uncommitted): the caller wants everything that was
// written, whether or not a reader of committed data would see it.
//
// Used by Application to find how far a lost run of a task got through a
// repartition topic (docs/architecture.md, "Two-phase aggregation").
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/kafka_config.hpp"
#include "runtime/error.hpp"

namespace rivulet::connectors {

// Offsets [begin, end) of one partition.
struct ScanRange {
  int32_t partition = 0;
  int64_t begin = 0;
  int64_t end = 0;
};

// Calls fn(partition, offset, value) for every record of `ranges` that
// carries header `header` (its first such header; value empty for a null
// one), in offset order within each partition. Stops at each range's end
// or at its partition's end, whichever comes first. Returns how many records
// were read. An Error (retriable) when the ranges were not read within
// `timeout`, or the topic could not be read.
Expected<uint64_t> scan_header(
    const KafkaProperties& base, const std::string& topic, const std::vector<ScanRange>& ranges,
    const std::string& header,
    const std::function<void(int32_t partition, int64_t offset, std::string_view value)>& fn,
    std::chrono::milliseconds timeout);

}  // namespace rivulet::connectors
