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
                   std::unique_ptr<Codec> value_codec, bool sequenced)
    : Processor(std::move(name)),
      topic_(std::move(topic)),
      key_codec_(std::move(key_codec)),
      value_codec_(std::move(value_codec)),
      sequenced_(sequenced) {}

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
    for (auto h = o.headers.begin(); h != o.headers.end();) {
      if (h->name == kSequenceHeader) {  // an earlier hop's: not ours to keep
        h = o.headers.erase(h);
        continue;
      }
      if (h->name == kProvenanceHeader) {
        h->value = provenance(r.source);
        replaced = true;
      }
      ++h;
    }
    if (!replaced) o.headers.push_back(Header{kProvenanceHeader, provenance(r.source)});
    if (sequenced_) {
      if (auto seq = sequencer_.next(r.source)) {
        o.headers.push_back(Header{kSequenceHeader, std::to_string(*seq)});
      } else {
        ++out.repartition_unsequenced;
      }
    }
    ++out.records_out;
  }
}

}  // namespace rivulet
