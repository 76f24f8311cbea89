#pragma once
// What one TaskGraph::process call produces: encoded output records, the
// records that could not be processed (data errors, with their raw bytes so
// the task can dead-letter them), and counters.
//
// Owned by the task (one per task actor); filled by the TaskGraph on the
// task's thread and drained by the task after each run.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/error.hpp"
#include "runtime/record.hpp"

namespace rivulet {

// One record that could not be processed: `error` has kind Data and its
// context names the input topic/partition/offset and the failed operation
// ("decode key", "decode value", "filter", "encode value", ...).
struct DataError {
  Error error;
  std::optional<std::string> raw_key;  // the input's bytes when known (decode failures)
  std::optional<std::string> raw_value;
  TimestampMs timestamp = 0;

  std::string to_string() const { return error.to_string(); }
};

struct TaskOutput {
  std::vector<OutputRecord> records;
  std::vector<DataError> data_errors;
  uint64_t records_in = 0;   // input records handed to process(), cumulative
  uint64_t records_out = 0;  // output records appended, cumulative
  // Records dropped because their window had closed (per window), cumulative.
  uint64_t late_records_dropped = 0;
  // Records skipped by design (a null value in a stream aggregation, a
  // negative timestamp in a windowed one), cumulative.
  uint64_t records_skipped = 0;
  // Records read from a repartition topic and skipped as replay duplicates
  // (operators/replay_marks.hpp), cumulative.
  uint64_t replay_duplicates_skipped = 0;
  // Records written to a repartition topic without `rivulet.seq` (no origin,
  // or out of input order): not checked for duplicates downstream.
  uint64_t repartition_unsequenced = 0;

  // Empties the buffers; keeps the counters and the buffers' capacity.
  void clear() {
    records.clear();
    data_errors.clear();
  }
};

}  // namespace rivulet
