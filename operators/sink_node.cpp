#include "operators/sink_node.hpp"

#include <utility>

namespace rivulet {

namespace {

std::string provenance(const SourcePosition& s) {
  std::string out;
  out.reserve(s.topic.size() + 24);
  out += s.topic;
  out += ':';
  out += std::to_string(s.partition.value());
  out += ':';
  out += std::to_string(s.offset.value());
  return out;
}

}  // namespace

SinkNode::SinkNode(std::string name, std::string topic, std::unique_ptr<Codec> key_codec,
                   std::unique_ptr<Codec> value_codec)
    : Processor(std::move(name)),
      topic_(std::move(topic)),
      key_codec_(std::move(key_codec)),
      value_codec_(std::move(value_codec)) {}

void SinkNode::process(Batch& batch, ProcessContext& ctx) {
  auto& out = ctx.output();
  out.records.reserve(out.records.size() + batch.size());
  for (Record& r : batch) {
    std::optional<std::string> key;
    if (!r.key.is_null()) {
      auto k = key_codec_->encode(r.key);
      if (!k) {
        ctx.data_error(r, "encode key", std::move(k.error().message));
        continue;
      }
      key = std::move(*k);
    }
    std::optional<std::string> value;
    if (!r.value.is_null()) {
      auto v = value_codec_->encode(r.value);
      if (!v) {
        ctx.data_error(r, "encode value", std::move(v.error().message));
        continue;
      }
      value = std::move(*v);
    }
    OutputRecord& o = out.records.emplace_back();
    o.topic = topic_;
    o.key = std::move(key);
    o.value = std::move(value);
    o.timestamp = r.timestamp;
    o.headers = std::move(r.headers);
    bool replaced = false;
    for (Header& h : o.headers) {
      if (h.name == kProvenanceHeader) {
        h.value = provenance(r.source);
        replaced = true;
      }
    }
    if (!replaced) o.headers.push_back(Header{kProvenanceHeader, provenance(r.source)});
    ++out.records_out;
  }
}

}  // namespace rivulet
