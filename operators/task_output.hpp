#pragma once
// What one TaskGraph::process call produces: encoded output records, the
// records that could not be processed (data errors, with their raw bytes so
// the task can dead-letter them), and counters.
//
// Owned by the task (one per task actor); filled by the TaskGraph on the
// task's thread and drained by the task after each run.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/error.hpp"
#include "runtime/record.hpp"

namespace rivulet {

// Why a record was skipped (dropped by design, counted): the `reason` label
// of rivulet_task_records_skipped_total.
enum class SkipReason : uint8_t {
  Tombstone,          // a stream record with a null value in an aggregation or a join
  NegativeTimestamp,  // a windowed aggregation's record before the epoch
  NullKey,            // a table record with a null key
  NullGroupKey,       // a GROUP BY expression is NULL (also a data error: dead-lettered)
  NullJoinKey,        // the join expression is NULL (an inner stream-table join dead-letters it)
};
constexpr size_t kSkipReasons = 5;
// "tombstone", "negative_timestamp", "null_key", "null_group_key", "null_join_key".
inline const char* skip_reason_name(SkipReason r) {
  constexpr const char* names[kSkipReasons] = {"tombstone", "negative_timestamp", "null_key",
                                               "null_group_key", "null_join_key"};
  return names[static_cast<size_t>(r)];
}

// One record that could not be processed: `error` has kind Data and its
// context names the input topic/partition/offset and the failed operation
// ("decode key", "decode value", "filter", "encode value", ...).
struct DataError {
  Error error;
  // The input's key and value bytes as read from Kafka (nullopt: null). When
  // the failing record was made from state rather than read in the current
  // run (a window closing, a buffered join side), they are its text
  // rendering instead and `rendered` is true.
  std::optional<std::string> raw_key;
  std::optional<std::string> raw_value;
  bool rendered = false;
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
  // negative timestamp in a windowed one, a NULL group key, ...), cumulative,
  // in total and by reason.
  uint64_t records_skipped = 0;
  // Records read from a repartition topic and skipped as replay duplicates
  // (operators/replay_marks.hpp), cumulative.
  uint64_t replay_duplicates_skipped = 0;
  // Records written to a repartition topic without `rivulet.seq` (no origin,
  // or out of input order): not checked for duplicates downstream.
  uint64_t repartition_unsequenced = 0;
  // Records a table's sink took into the output cache instead of writing
  // them, or a pre-aggregation combined into a held partial
  // (TaskGraph::set_output_cache), cumulative.
  uint64_t records_cached = 0;
  std::array<uint64_t, kSkipReasons> skipped_by_reason{};
  // Expression evaluations that failed and gave NULL (a SQL function that
  // threw, as ksqlDB's UDFs may), cumulative; the first is logged.
  uint64_t expression_errors = 0;
  // The first skip of each reason, as a line for the log ("tombstone at
  // orders[2]@17 in aggregate"); drained by the task after each run.
  std::vector<std::string> first_skips;

  // Empties the buffers; keeps the counters and the buffers' capacity.
  void clear() {
    records.clear();
    data_errors.clear();
    first_skips.clear();
  }
};

}  // namespace rivulet
