#pragma once
// Writes the records of INSERT INTO ... VALUES statements
// (sql/insert_values.hpp) to their topics and waits until the broker has
// them: `rivulet run` before its queries start, the `rivulet sql` shell at
// once. A missing topic is created with the source's PARTITIONS (1 when not
// declared), as ksqlDB's CREATE with PARTITIONS would have; an existing
// topic is written as it is. Records are
// partitioned by their key bytes with Java's murmur2, like every producer
// of Rivulet, so a keyed row lands where the source's readers expect it.
//
// Threads: any; blocking (bounded by `timeout`).
#include <chrono>
#include <vector>

#include "runtime/config.hpp"
#include "runtime/error.hpp"
#include "sql/insert_values.hpp"

namespace rivulet::cluster {

// The number of records written; an Error names the topic of the first
// record that could not be written.
Expected<size_t> write_inserts(const std::vector<sql::InsertedRecord>& records,
                               const Config& config,
                               std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace rivulet::cluster
