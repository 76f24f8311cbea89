#pragma once
// The verifier behind `rivulet verify`: given the records of an input topic
// and of an output topic, says exactly which ids were lost and which were
// duplicated, and whether each duplicate is explained as a replay after a
// restore; optionally checks a table topic's final values against an
// expectation. Pure: no broker, no clock, no I/O (topic_reader.hpp fetches
// the records, record_ids.hpp turns them into the inputs below).
//
// Provenance, set by every Rivulet task on every output record:
//   rivulet.input  "<topic>:<partition>:<offset>" of the input record
//   rivulet.task   "<application.id>-<partition>"
//   rivulet.epoch  the producing incarnation of the task (an integer that
//                  grows with every start or restore of the task)
// A duplicate is *explained* (a replay) when all its copies name the same
// input record and task and come from pairwise different epochs: a later
// incarnation processed again input whose output an earlier one had already
// written, which at-least-once recovery does by design. Anything else
// (copies without provenance, with an unknown epoch, from one epoch, from
// different input records or tasks) is unexplained, with the reason.
//
// The verifier assumes a one-to-one pipeline: every input id must show up
// in the output at least once, and ids are unique in the input.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "runtime/error.hpp"
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
  std::optional<Epoch> epoch;        // rivulet.epoch; nullopt: missing or not an integer
};

// A record whose id could not be read (no such field, not JSON, null value).
// Such records are counted and listed, and make the verdict not ok: the
// verifier cannot account for them.
struct Unidentified {
  TopicPartition tp;
  int64_t offset = -1;
  std::string reason;
};

struct DuplicateReport {
  std::string id;
  std::vector<OutputRecordInfo> copies;  // in the order the output held them
  bool explained = false;
  std::string explanation;
};

// A record of a table (changelog) topic.
struct TableRecord {
  std::optional<std::string> key;    // nullopt: a record without a key (counted, not ok)
  std::optional<std::string> value;  // nullopt: a tombstone (the key is deleted)
  TopicPartition tp;
  int64_t offset = -1;
};

struct TableInput {
  std::vector<TableRecord> records;
  // Key -> expected value as JSON text (see parse_expected_table).
  std::map<std::string, std::string> expected;
};

struct TableCheck {
  int64_t records = 0;
  int64_t live_keys = 0;                // keys whose last record is not a tombstone
  std::vector<std::string> mismatched;  // "key: expected X, got Y"
  std::vector<std::string> missing;     // expected keys that are absent or deleted
  std::vector<std::string> extra;       // live keys the expectation does not list
  std::vector<std::string> split_keys;  // keys found in more than one partition
  std::vector<Unidentified> without_key;
  bool ok() const {
    return mismatched.empty() && missing.empty() && extra.empty() && split_keys.empty() &&
           without_key.empty();
  }
};

struct VerifyOptions {
  // Records the caller could not identify (record_ids.hpp).
  std::vector<Unidentified> inputs_without_id;
  std::vector<Unidentified> outputs_without_id;
  // Check a table topic's final values too.
  std::optional<TableInput> table;
};

struct VerifyReport {
  int64_t input_records = 0;   // all input records, identified or not
  int64_t output_records = 0;  // all output records, identified or not
  int64_t distinct_output_ids = 0;
  std::vector<std::string> missing_ids;         // in the input, not in the output (input order)
  std::vector<std::string> unexpected_ids;      // in the output, not in the input (output order)
  std::vector<std::string> repeated_input_ids;  // ids the input itself holds more than once
  std::vector<DuplicateReport> duplicates;      // ids the output holds more than once
  int64_t explained_duplicates = 0;
  int64_t unexplained_duplicates = 0;
  std::vector<Unidentified> inputs_without_id;
  std::vector<Unidentified> outputs_without_id;
  std::optional<TableCheck> table;  // when a table check was asked for

  // Nothing missing, nothing unexpected or unidentified, every duplicate
  // explained (no duplicate at all with exactly_once), and the table, when
  // checked, as expected.
  bool ok(bool exactly_once) const;
  // Why ok() is false, one short reason per failed rule; empty when ok.
  std::vector<std::string> failures(bool exactly_once) const;
};

VerifyReport verify(const std::vector<InputRecord>& inputs,
                    const std::vector<OutputRecordInfo>& outputs,
                    const VerifyOptions& options = {});

// Why a duplicated id's copies are (or are not) a replay; see above.
DuplicateReport judge_duplicate(const std::string& id, std::vector<OutputRecordInfo> copies);

// The final value per key of a table topic: the last record per key in
// offset order within its partition (a null value deletes the key), against
// the expectation. Values compare as JSON when both sides parse (spacing and
// key order do not matter); a value that is not JSON matches an expected
// JSON string with the same text.
TableCheck check_table(const TableInput& table);

// The expected-values file of `--expect`: one JSON object {"key": value, ...}
// listing every key that must be live at the end with its final value (any
// JSON value). Anything else is an error naming what is wrong.
Expected<std::map<std::string, std::string>> parse_expected_table(const std::string& text);

// "<topic>:<partition>:<offset>", the form of rivulet.input.
std::string position_text(const TopicPartition& tp, int64_t offset);

// The report as one JSON object (the `--json` output of `rivulet verify`);
// id lists and duplicate examples hold at most `max_listed` entries each.
nlohmann::json report_json(const VerifyReport& report, bool exactly_once, size_t max_listed);

}  // namespace rivulet::chaos
