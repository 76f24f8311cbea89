#include "operators/processor.hpp"

#include <algorithm>

namespace rivulet {

const RawRecord* ProcessContext::find_raw(const SourcePosition& source) const {
  if (raw_topic_ == nullptr || raw_begin_ == raw_end_ || source.topic != *raw_topic_ ||
      source.partition != partition_)
    return nullptr;
  const int64_t offset = source.offset.value();
  const RawRecord* it = std::lower_bound(
      raw_begin_, raw_end_, offset, [](const RawRecord& r, int64_t o) { return r.offset < o; });
  return it != raw_end_ && it->offset == offset ? it : nullptr;
}

void ProcessContext::data_error(const Record& record, std::string_view operation,
                                std::string reason) {
  DataError e;
  e.error =
      Error::data(std::move(reason))
          .at(record.source.topic, record.source.partition.value(), record.source.offset.value());
  e.error.context.operation = std::string(operation);
  if (!record.key.is_null()) e.error.context.key = record.key.to_string();
  if (const RawRecord* raw = find_raw(record.source)) {
    e.raw_key = raw->key.copy();
    e.raw_value = raw->value.copy();
  } else {
    e.rendered = true;
    e.raw_key = e.error.context.key;
    if (!record.value.is_null()) e.raw_value = record.value.to_string();
  }
  e.timestamp = record.timestamp;
  out_.data_errors.push_back(std::move(e));
}

ProcessContext::~ProcessContext() {
  thread_evaluation_notes() = outer_notes_;
  if (notes_.count == 0) return;
  if (out_.expression_errors == 0)
    out_.first_skips.push_back(
        "first expression that failed (its value is NULL; counted in expression_errors): " +
        notes_.first);
  out_.expression_errors += notes_.count;
}

void ProcessContext::skipped(const Record& record, SkipReason reason, std::string_view operation) {
  ++out_.records_skipped;
  if (++out_.skipped_by_reason[static_cast<size_t>(reason)] == 1) {
    std::string where = record.source.topic.empty() ? std::string("a record made by the task")
                                                    : to_string(record.source);
    out_.first_skips.push_back(std::string("first record skipped (") + skip_reason_name(reason) +
                               ") in " + std::string(operation) + ": " + where);
  }
}

void ProcessContext::raw_data_error(const std::string& topic, const RawRecord& raw,
                                    std::string_view operation, std::string reason) {
  DataError e;
  e.error = Error::data(std::move(reason)).at(topic, partition_.value(), raw.offset);
  e.error.context.operation = std::string(operation);
  e.error.context.key = raw.key.copy();
  e.raw_key = raw.key.copy();
  e.raw_value = raw.value.copy();
  e.timestamp = raw.timestamp;
  out_.data_errors.push_back(std::move(e));
}

void Node::forward(Batch& batch, ProcessContext& ctx) {
  if (children_.empty() || batch.empty()) return;
  for (size_t i = 0; i + 1 < children_.size(); ++i) {
    fan_out_ = batch;  // reuses fan_out_'s capacity
    children_[i]->process(fan_out_, ctx);
  }
  children_.back()->process(batch, ctx);
}

}  // namespace rivulet
