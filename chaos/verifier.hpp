#pragma once
// The verifier behind `rivulet verify`: given the records of an input topic
// and of an output topic, says exactly what was lost and what was
// duplicated, and whether each duplicate is explained as a replay after a
// restore. Pure: no broker, no clock (topic_reader.hpp fetches the records).
//
// Provenance (set by every Rivulet task on every output):
//   rivulet.input  "<topic>:<partition>:<offset>" of the input record
//   rivulet.task   "<application.id>-<partition>"
//   rivulet.epoch  the producing incarnation of the task (grows with every
//                  start or restore)
// A duplicate is a replay when all its copies name the same input record
// and come from different epochs of the same task: a later incarnation
// processed again input whose output an earlier one had already written,
// which at-least-once recovery does by design.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/ids.hpp"

namespace rivulet::chaos {

struct InputRecord {
  std::string id;
  TopicPartition tp;
  int64_t offset = -1;
};

struct OutputRecordInfo {
  std::string id;
  TopicPartition tp;
  int64_t offset = -1;
  std::optional<std::string> input;  // rivulet.input
  std::optional<std::string> task;   // rivulet.task
  std::optional<std::string> epoch;  // rivulet.epoch
};

struct DuplicateReport {
  std::string id;
  std::vector<OutputRecordInfo> copies;
  bool explained = false;
  std::string explanation;
};

struct TableRecord {  // a table (changelog) topic's record, in offset order per partition
  std::string key;
  std::optional<std::string> value;  // null: deleted
};

struct TableCheck {
  bool requested = false;
  std::vector<std::string> mismatched;  // "key: expected X, got Y"
  std::vector<std::string> missing;     // expected, absent
  std::vector<std::string> extra;       // present, not expected
  bool ok() const { return mismatched.empty() && missing.empty() && extra.empty(); }
};

struct VerifyReport {
  int64_t input_records = 0;
  int64_t output_records = 0;
  int64_t distinct_output_ids = 0;
  std::vector<std::string> missing_ids;     // in the input, not in the output
  std::vector<std::string> unexpected_ids;  // in the output, not in the input
  std::vector<DuplicateReport> duplicates;
  int64_t unexplained_duplicates = 0;
  TableCheck table;

  // Nothing lost, nothing unexpected, every duplicate explained (none at all
  // with exactly_once), and the table matched when it was checked.
  bool ok(bool exactly_once) const;
};

VerifyReport verify(const std::vector<InputRecord>& inputs,
                    const std::vector<OutputRecordInfo>& outputs);

// Final value per key of a table topic (last record wins; null deletes)
// against the expected values (JSON text per key, compared as JSON).
TableCheck check_table(const std::vector<TableRecord>& records,
                       const std::map<std::string, std::string>& expected);

}  // namespace rivulet::chaos
