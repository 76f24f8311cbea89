#include "operators/source_node.hpp"

#include <utility>

namespace rivulet {

SourceNode::SourceNode(std::string name, std::string topic, std::unique_ptr<Codec> key_codec,
                       std::unique_ptr<Codec> value_codec,
                       std::shared_ptr<ReplayMarks> replay_marks)
    : Node(std::move(name)),
      topic_(std::move(topic)),
      topic_name_(topic_),
      key_codec_(std::move(key_codec)),
      value_codec_(std::move(value_codec)),
      marks_(std::move(replay_marks)) {}

void SourceNode::process(const RawRecord* begin, const RawRecord* end, ProcessContext& ctx) {
  batch_.clear();
  batch_.reserve(static_cast<size_t>(end - begin));
  const PartitionId partition = ctx.partition();
  for (const RawRecord* raw = begin; raw != end; ++raw) {
    if (marks_ && marks_->admit(raw->headers) == ReplayMarks::Verdict::Duplicate) {
      ++ctx.output().replay_duplicates_skipped;
      continue;
    }
    // Decoded straight into the batch's next record (popped again when a
    // part does not decode).
    Record& r = batch_.emplace_back();
    if (raw->key) {
      auto k = key_codec_->decode(*raw->key);
      if (!k) {
        batch_.pop_back();
        ctx.raw_data_error(topic_, *raw, "decode key", std::move(k.error().message));
        continue;
      }
      r.key = std::move(*k);
    }
    if (raw->value) {
      auto v = value_codec_->decode(*raw->value);
      if (!v) {
        batch_.pop_back();
        ctx.raw_data_error(topic_, *raw, "decode value", std::move(v.error().message));
        continue;
      }
      r.value = std::move(*v);
    }
    r.timestamp = raw->timestamp;
    r.headers = raw->headers;
    r.source.topic = topic_name_;
    r.source.partition = partition;
    r.source.offset = Offset{raw->offset};
  }
  forward(batch_, ctx);
}

}  // namespace rivulet
