#pragma once
// From topics to a verdict: reads the input, output and (optionally) table
// topics with topic_reader.hpp, takes each record's id from a field of its
// JSON value, and runs verify() (verifier.hpp). What `rivulet verify` does,
// as a library call for tests and tools.
//
// The id-extraction functions are pure; verify_topics blocks the calling
// thread while it reads the topics, side by side on threads of its own
// (bounded by the read timeout).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "chaos/topic_reader.hpp"
#include "chaos/verifier.hpp"
#include "runtime/error.hpp"

namespace rivulet::chaos {

// The id of a record: the field `field` of its value decoded as JSON
// (exact name first, then case-insensitive, as Value::field). A string
// field gives its text, any other value its JSON text (42 -> "42").
// Records whose value is null, not a JSON object, or lacks the field (or
// holds null there) yield an Error of kind Data saying which.
Expected<std::string> record_id(const RawBytes& value, const std::string& field);

// rivulet.epoch as an integer; nullopt when missing or not an integer.
std::optional<Epoch> parse_epoch(const std::optional<std::string>& header);

// Verifier inputs from topic records; records without an id go to
// `without_id` with the reason (never silently skipped).
std::vector<InputRecord> input_records(const std::vector<TopicRecord>& records,
                                       const std::string& id_field,
                                       std::vector<Unidentified>& without_id);
std::vector<OutputRecordInfo> output_records(const std::vector<TopicRecord>& records,
                                             const std::string& id_field,
                                             std::vector<Unidentified>& without_id);
std::vector<TableRecord> table_records(const std::vector<TopicRecord>& records);

// Notes on partitions whose oldest records were deleted before the read
// (retention): ids there show up as missing (output) or unexpected (input).
std::vector<std::string> truncation_notes(const TopicContents& contents);

struct TopicVerifyRequest {
  std::string bootstrap;
  std::string input_topic;
  std::string output_topic;
  std::string id_field;
  // Table check: both set, or neither.
  std::optional<std::string> table_topic;
  std::map<std::string, std::string> expected_table;  // parse_expected_table()
  ReadOptions read;
};

struct TopicVerifyResult {
  VerifyReport report;
  std::vector<std::string> notes;  // truncation_notes of every topic read
};

// Errors (kind Fatal) only when a topic could not be read completely; a
// verdict, good or bad, is a result.
Expected<TopicVerifyResult> verify_topics(const TopicVerifyRequest& request);

}  // namespace rivulet::chaos
