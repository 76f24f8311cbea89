#include "operators/sink_node.hpp"

#include <utility>

#include "operators/ktable.hpp"

namespace rivulet {

namespace {

// The memory a cached record holds, for the cache's budget: an estimate.
size_t record_bytes(const Record& r) {
  size_t n = sizeof(Record) + value_heap_bytes(r.key) + value_heap_bytes(r.value) +
             r.source.topic.size();
  for (const auto& h : r.headers) n += sizeof(Header) + h.name.size() + (h.value ? h.value->size() : 0);
  return n;
}

// A key's entry in the cache's index: its copy of the key and the hash node.
size_t index_entry_bytes(const Value& key) {
  return sizeof(Value) + value_heap_bytes(key) + 2 * sizeof(void*) + sizeof(size_t);
}

}  // namespace

SinkNode::SinkNode(std::string name, std::string topic, std::unique_ptr<Codec> key_codec,
                   std::unique_ptr<Codec> value_codec, bool sequenced, bool table)
    : Processor(std::move(name)),
      topic_(std::move(topic)),
      key_codec_(std::move(key_codec)),
      value_codec_(std::move(value_codec)),
      sequenced_(sequenced),
      table_(table) {}

void SinkNode::process(Batch& batch, ProcessContext& ctx) {
  auto& out = ctx.output();
  if (caching_) {
    for (Record& r : batch) {
      if (r.key.is_null()) {
        write(r, ctx);
        continue;
      }
      ++out.records_cached;
      const size_t bytes = record_bytes(r);
      auto [at, inserted] = cache_at_.try_emplace(r.key, cache_.size());
      if (inserted) {
        cache_bytes_ += bytes + index_entry_bytes(r.key);
        cache_.push_back(Cached{std::move(r), bytes});
      } else {
        Cached& c = cache_[at->second];
        cache_bytes_ = cache_bytes_ - c.bytes + bytes;
        c.record = std::move(r);
        c.bytes = bytes;
      }
    }
    return;
  }
  out.records.reserve(out.records.size() + batch.size());
  for (Record& r : batch) write(r, ctx);
}

void SinkNode::flush(ProcessContext& ctx) {
  if (cache_.empty()) return;
  auto& out = ctx.output();
  out.records.reserve(out.records.size() + cache_.size());
  for (Cached& c : cache_) write(c.record, ctx);
  drop_cache();
}

void SinkNode::drop_cache() {
  cache_.clear();
  cache_at_.clear();
  cache_bytes_ = 0;
}

void SinkNode::write(Record& r, ProcessContext& ctx) {
  auto& out = ctx.output();
  std::optional<std::string> key;
  if (!r.key.is_null()) {
    auto k = key_codec_->encode(r.key);
    if (!k) {
      ctx.data_error(r, "encode key", std::move(k.error().message));
      return;
    }
    key = std::move(*k);
  }
  std::optional<std::string> value;
  if (!r.value.is_null()) {
    auto v = value_codec_->encode(r.value);
    if (!v) {
      ctx.data_error(r, "encode value", std::move(v.error().message));
      return;
    }
    value = std::move(*v);
  }
  OutputRecord& o = out.records.emplace_back();
  o.topic = topic_;
  o.key = std::move(key);
  o.value = std::move(value);
  o.timestamp = r.timestamp;
  o.headers = std::move(r.headers);
  // An earlier hop's provenance and sequence number are not ours to keep:
  // this output's input is the record in hand.
  for (auto h = o.headers.begin(); h != o.headers.end();) {
    if (h->name == kSequenceHeader || h->name == kProvenanceHeader) {
      h = o.headers.erase(h);
    } else {
      ++h;
    }
  }
  o.input = r.source;
  if (sequenced_) {
    if (auto seq = sequencer_.next(r.source)) {
      o.headers.push_back(Header{kSequenceHeader, std::to_string(*seq)});
    } else {
      ++out.repartition_unsequenced;
    }
  }
  ++out.records_out;
}

}  // namespace rivulet
