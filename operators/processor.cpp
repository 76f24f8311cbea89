#include "operators/processor.hpp"

namespace rivulet {

void ProcessContext::data_error(const Record& record, std::string_view operation,
                                std::string reason) {
  DataError e;
  e.error =
      Error::data(std::move(reason))
          .at(record.source.topic, record.source.partition.value(), record.source.offset.value());
  e.error.context.operation = std::string(operation);
  if (!record.key.is_null()) {
    e.raw_key = record.key.to_string();
    e.error.context.key = e.raw_key;
  }
  if (!record.value.is_null()) e.raw_value = record.value.to_string();
  e.timestamp = record.timestamp;
  out_.data_errors.push_back(std::move(e));
}

void ProcessContext::raw_data_error(const std::string& topic, const RawRecord& raw,
                                    std::string_view operation, std::string reason) {
  DataError e;
  e.error = Error::data(std::move(reason)).at(topic, partition_.value(), raw.offset);
  e.error.context.operation = std::string(operation);
  e.error.context.key = raw.key;
  e.raw_key = raw.key;
  e.raw_value = raw.value;
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
