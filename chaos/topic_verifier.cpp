#include "chaos/topic_verifier.hpp"

#include <charconv>
#include <future>

#include "runtime/codec.hpp"

namespace rivulet::chaos {

namespace {

// One codec per call chain: a codec keeps parser buffers and is not for
// concurrent use (runtime/codec.hpp).
Expected<std::string> id_with(const Codec& json, const RawBytes& value, const std::string& field) {
  if (!value) return Error::data("null value (tombstone)");
  auto decoded = json.decode(*value);
  if (!decoded) return Error::data("value is not JSON: " + decoded.error().message);
  if (decoded->kind() != TypeKind::Struct) {
    return Error::data(std::string("value is a JSON ") + type_kind_name(decoded->kind()) +
                       ", not an object");
  }
  const Value* id = decoded->field(field);
  if (id == nullptr) return Error::data("no field '" + field + "'");
  if (id->is_null()) return Error::data("field '" + field + "' is null");
  if (id->kind() == TypeKind::String) return id->as_string();
  return to_json(*id);
}

}  // namespace

Expected<std::string> record_id(const RawBytes& value, const std::string& field) {
  return id_with(*make_json_codec(), value, field);
}

std::optional<Epoch> parse_epoch(const std::optional<std::string>& header) {
  if (!header || header->empty()) return std::nullopt;
  int64_t v = 0;
  const char* end = header->data() + header->size();
  auto [ptr, ec] = std::from_chars(header->data(), end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return Epoch{v};
}

std::vector<InputRecord> input_records(const std::vector<TopicRecord>& records,
                                       const std::string& id_field,
                                       std::vector<Unidentified>& without_id) {
  auto json = make_json_codec();
  std::vector<InputRecord> out;
  out.reserve(records.size());
  for (const auto& r : records) {
    auto id = id_with(*json, r.record.value, id_field);
    if (!id) {
      without_id.push_back({r.tp, r.record.offset, id.error().message});
      continue;
    }
    out.push_back({std::move(*id), r.tp, r.record.offset});
  }
  return out;
}

std::vector<OutputRecordInfo> output_records(const std::vector<TopicRecord>& records,
                                             const std::string& id_field,
                                             std::vector<Unidentified>& without_id) {
  auto json = make_json_codec();
  std::vector<OutputRecordInfo> out;
  out.reserve(records.size());
  for (const auto& r : records) {
    auto id = id_with(*json, r.record.value, id_field);
    if (!id) {
      without_id.push_back({r.tp, r.record.offset, id.error().message});
      continue;
    }
    out.push_back({std::move(*id), r.tp, r.record.offset, r.header("rivulet.input"),
                   r.header("rivulet.task"), parse_epoch(r.header("rivulet.epoch"))});
  }
  return out;
}

std::vector<TableRecord> table_records(const std::vector<TopicRecord>& records) {
  std::vector<TableRecord> out;
  out.reserve(records.size());
  for (const auto& r : records)
    out.push_back({r.record.key.copy(), r.record.value.copy(), r.tp, r.record.offset});
  return out;
}

std::vector<std::string> truncation_notes(const TopicContents& contents) {
  std::vector<std::string> notes;
  for (const auto& p : contents.partitions) {
    if (p.first_offset <= 0) continue;
    notes.push_back(p.tp.to_string() + " starts at offset " + std::to_string(p.first_offset) +
                    ": older records were deleted (retention) and are not part of the check");
  }
  return notes;
}

Expected<TopicVerifyResult> verify_topics(const TopicVerifyRequest& request) {
  // The topics are read side by side: reading is mostly waiting for
  // fetches, and each read owns its own client.
  auto read = [&request](const std::string& topic) {
    return std::async(std::launch::async, [&request, topic] {
      return read_topic(request.bootstrap, topic, request.read);
    });
  };
  auto pending_input = read(request.input_topic);
  auto pending_output = read(request.output_topic);
  std::optional<std::future<Expected<TopicContents>>> pending_table;
  if (request.table_topic) pending_table = read(*request.table_topic);
  auto input = pending_input.get();
  auto output = pending_output.get();
  std::optional<Expected<TopicContents>> table;
  if (pending_table) table = pending_table->get();
  if (!input) return input.error();
  if (!output) return output.error();
  TopicVerifyResult result;
  VerifyOptions options;
  auto inputs = input_records(input->records, request.id_field, options.inputs_without_id);
  auto outputs = output_records(output->records, request.id_field, options.outputs_without_id);
  for (const TopicContents* topic : {&*input, &*output}) {
    for (auto& note : truncation_notes(*topic)) result.notes.push_back(std::move(note));
  }
  if (table) {
    if (!*table) return table->error();
    for (auto& note : truncation_notes(**table)) result.notes.push_back(std::move(note));
    options.table = TableInput{table_records((*table)->records), request.expected_table};
  }
  result.report = verify(inputs, outputs, options);
  return result;
}

}  // namespace rivulet::chaos
