#include "operators/partial_aggregate.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include "operators/ktable.hpp"
#include "partitioning/murmur2.hpp"
#include "runtime/msgpack_value.hpp"

namespace rivulet {

namespace {

bool is_integer(const Value& v) {
  return v.kind() == TypeKind::BigInt || v.kind() == TypeKind::Int;
}

Value partial_item(const Value& key, TimestampMs timestamp, int64_t records,
                   const AccumulatorRow& row) {
  Array item;
  item.reserve(4);
  item.push_back(key);
  item.push_back(Value::int64(timestamp));
  item.push_back(Value::int64(records));
  item.push_back(encode_accumulators(row));
  return Value::array(std::move(item));
}

}  // namespace

Expected<PartialAggregate> decode_partial(const std::string& store, size_t n, const Value& v) {
  if (v.kind() != TypeKind::Array || v.as_array().size() != 2 || !is_integer(v.as_array()[0]))
    return Error::data("store " + store + ": not a partial aggregate");
  auto row = decode_accumulators(store, n, v.as_array()[1]);
  if (!row) return Error::data(row.error().message);
  return PartialAggregate{v.as_array()[0].to_int64(), std::move(*row)};
}

LookBack::LookBack(const std::string& internal_name)
    : name_("rivulet.look-back/" + internal_name) {}

std::string LookBack::serialize() const {
  Array starts;
  starts.reserve(starts_.size());
  for (int64_t s : starts_) starts.push_back(Value::int64(s));
  Array horizons;
  horizons.reserve(horizons_.size());
  for (const auto& [tp, h] : horizons_) {
    horizons.push_back(Value::array(
        {Value::string(tp.topic), Value::int32(tp.partition.value()), Value::int64(h)}));
  }
  return to_msgpack(
      Value::array({Value::array(std::move(starts)), Value::array(std::move(horizons))}));
}

Expected<bool> LookBack::restore(std::string_view bytes) {
  starts_.clear();
  horizons_.clear();
  restored_ = false;
  auto bad = [&]() -> Expected<bool> {
    starts_.clear();
    horizons_.clear();
    return Error::data(name_ + ": expected [[offset, ...], [[topic, partition, horizon], ...]]");
  };
  auto decoded = from_msgpack(bytes);
  if (!decoded) return decoded.error();
  if (decoded->kind() != TypeKind::Array || decoded->as_array().size() != 2) return bad();
  const Value& starts = decoded->as_array()[0];
  const Value& horizons = decoded->as_array()[1];
  if (starts.kind() != TypeKind::Array || horizons.kind() != TypeKind::Array) return bad();
  for (const Value& v : starts.as_array()) {
    if (!is_integer(v)) return bad();
    starts_.push_back(std::max<int64_t>(-1, v.to_int64()));
  }
  for (const Value& h : horizons.as_array()) {
    if (h.kind() != TypeKind::Array || h.as_array().size() != 3) return bad();
    const Array& f = h.as_array();
    if (f[0].kind() != TypeKind::String || !is_integer(f[1]) || !is_integer(f[2])) return bad();
    horizons_[TopicPartition{f[0].as_string(),
                             PartitionId{static_cast<int32_t>(f[1].to_int64())}}] =
        std::max<int64_t>(0, f[2].to_int64());
  }
  restored_ = true;
  return true;
}

void LookBack::advance(const std::vector<int64_t>& acknowledged) {
  if (starts_.size() < acknowledged.size()) starts_.resize(acknowledged.size(), -1);
  for (size_t p = 0; p < acknowledged.size(); ++p)
    starts_[p] = std::max(starts_[p], acknowledged[p]);
}

std::map<TopicPartition, int64_t> PartialAggregateNode::known_horizons(
    const std::vector<TopicPartition>& inputs) const {
  std::map<TopicPartition, int64_t> out;
  for (const auto& tp : inputs) {
    const int64_t h = from_start_ ? 0 : horizon(tp);
    if (h >= 0) out[tp] = h;
  }
  return out;
}

size_t PartialAggregateNode::SlotHash::operator()(const Slot& s) const {
  size_t h = ValueHash{}(s.key);
  h ^= std::hash<int64_t>{}(s.pane) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h ^= s.origin + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}

PartialAggregateNode::PartialAggregateNode(std::string name,
                                           std::shared_ptr<const AggregateSpec> spec,
                                           int64_t pane_ms, std::unique_ptr<Codec> key_codec)
    : Processor(std::move(name)),
      spec_(std::move(spec)),
      pane_ms_(pane_ms),
      key_codec_(std::move(key_codec)) {}

PartialAggregateNode::Origin& PartialAggregateNode::origin_of(const SourcePosition& source,
                                                              size_t& index) {
  for (size_t i = 0; i < origins_.size(); ++i) {
    if (origins_[i].tp.partition == source.partition && origins_[i].tp.topic == source.topic) {
      index = i;
      return origins_[i];
    }
  }
  index = origins_.size();
  origins_.push_back(Origin{TopicPartition{source.topic, source.partition}});
  return origins_.back();
}

void PartialAggregateNode::note_high_watermark(const TopicPartition& tp, int64_t high_watermark) {
  if (high_watermark < 0) return;
  size_t i = 0;
  Origin& o = origin_of(SourcePosition{tp.topic, tp.partition, Offset{-1}}, i);
  if (o.horizon < 0) o.horizon = high_watermark;
}

void PartialAggregateNode::set_horizon(const TopicPartition& tp, int64_t horizon) {
  size_t i = 0;
  origin_of(SourcePosition{tp.topic, tp.partition, Offset{-1}}, i).horizon =
      std::max<int64_t>(0, horizon);
}

int64_t PartialAggregateNode::horizon(const TopicPartition& tp) const {
  for (const auto& o : origins_)
    if (o.tp == tp) return o.horizon;
  return -1;
}

namespace {

size_t partial_bytes(const Value& key, const AccumulatorRow& row) {
  // The partial, its slot in the index (key copy, hash node) and the heap
  // its values hold.
  size_t n = 160 + 2 * value_heap_bytes(key) + row.size() * sizeof(Accumulator);
  for (const auto& a : row) n += value_heap_bytes(a.value);
  return n;
}

}  // namespace

void PartialAggregateNode::process(Batch& batch, ProcessContext& ctx) {
  const auto& fns = spec_->functions;
  const size_t n = fns.size();
  const char* operation = pane_ms_ > 0 ? "windowed aggregate" : "aggregate";
  Batch out;
  for (Record& r : batch) {
    // The same records are skipped, and counted, as the aggregation itself
    // skips them: here, before the repartition topic.
    if (r.key.is_null()) {
      ctx.null_key(r, SkipReason::NullGroupKey, operation, "the group key (GROUP BY) is null");
      continue;
    }
    if (r.value.is_null() || (pane_ms_ > 0 && r.timestamp < 0)) {
      ctx.skipped(r, r.value.is_null() ? SkipReason::Tombstone : SkipReason::NegativeTimestamp,
                  operation);
      continue;
    }
    AccumulatorRow row(n);
    if (!guarded(ctx, r, operation, [&] {
          for (size_t f = 0; f < n; ++f) aggregate_step(fns[f], nullptr, r, row[f]);
        }))
      continue;
    size_t oi = 0;
    Origin* o = combining() ? &origin_of(r.source, oi) : nullptr;
    if (o == nullptr ||
        (!from_start_ && (o->horizon < 0 || r.source.offset.value() < o->horizon))) {
      // Alone: one record, its own provenance (below the horizon, a replay
      // the reading task judges record by record).
      Record single;
      single.key = r.key;
      single.value = Value::array(Array{Value::int64(1), encode_accumulators(row)});
      single.timestamp = r.timestamp;
      single.headers = std::move(r.headers);
      single.source = std::move(r.source);
      out.push_back(std::move(single));
      continue;
    }
    const int64_t pane = pane_ms_ > 0 ? r.timestamp / pane_ms_ : 0;
    // The key moves into the probe and back: a held group (the common
    // case) costs no copy of it.
    Slot slot{oi, pane, std::move(r.key)};
    auto it = index_.find(slot);
    if (it == index_.end()) {
      auto k = key_codec_->encode(slot.key);
      if (!k) {
        r.key = std::move(slot.key);
        ctx.data_error(r, "encode key", std::move(k.error().message));
        continue;
      }
      Partial p;
      p.origin = oi;
      p.destination = java_partition(*k, partitions_);
      p.key = slot.key;
      p.pane = pane;
      p.timestamp = r.timestamp;
      p.records = 1;
      p.row = std::move(row);
      bytes_ += partial_bytes(p.key, p.row);
      index_.emplace(std::move(slot), partials_.size());
      partials_.push_back(std::move(p));
    } else {
      r.key = std::move(slot.key);
      Partial& p = partials_[it->second];
      scratch_.resize(n);
      if (!guarded(ctx, r, operation, [&] {
            for (size_t f = 0; f < n; ++f) scratch_[f] = aggregate_merge(fns[f], p.row[f], row[f]);
          }))
        continue;
      const size_t before = partial_bytes(p.key, p.row);
      p.row.swap(scratch_);
      bytes_ = bytes_ - before + partial_bytes(p.key, p.row);
      p.timestamp = std::max(p.timestamp, r.timestamp);
      ++p.records;
    }
    o->latest = std::max(o->latest, r.source.offset.value());
    ++ctx.output().records_cached;
  }
  if (!out.empty()) forward(out, ctx);
}

void PartialAggregateNode::flush(ProcessContext& ctx) {
  if (partials_.empty()) return;
  // One pack per (origin, destination), in the order each was first held.
  std::map<std::pair<size_t, int32_t>, size_t> pack_of;
  std::vector<std::vector<const Partial*>> packs;
  for (const Partial& p : partials_) {
    auto [it, added] = pack_of.emplace(std::make_pair(p.origin, p.destination), packs.size());
    if (added) packs.emplace_back();
    packs[it->second].push_back(&p);
  }
  Batch out;
  out.reserve(packs.size());
  for (const auto& parts : packs) {
    const Origin& o = origins_[parts.front()->origin];
    Array items;
    items.reserve(parts.size());
    TimestampMs latest = parts.front()->timestamp;
    for (const Partial* p : parts) {
      items.push_back(partial_item(p->key, p->timestamp, p->records, p->row));
      latest = std::max(latest, p->timestamp);
    }
    Record r;
    r.key = parts.front()->key;
    r.value = Value::array(std::move(items));
    r.timestamp = latest;
    // The origin's latest offset held: every pack of this flush from it
    // carries the same one (the sink numbers them 0, 1, ...).
    r.source = SourcePosition{o.tp.topic, o.tp.partition, Offset{o.latest}};
    out.push_back(std::move(r));
  }
  partials_.clear();
  index_.clear();
  bytes_ = 0;
  forward(out, ctx);
}

void PartialAggregateNode::drop() {
  partials_.clear();
  index_.clear();
  bytes_ = 0;
  origins_.clear();
  from_start_ = false;
}

void UnpackPartialsNode::process(Batch& batch, ProcessContext& ctx) {
  Batch out;
  out.reserve(batch.size());
  for (Record& r : batch) {
    // One record's partial travels as it is, in the record's key and time.
    if (r.value.kind() == TypeKind::Array && r.value.as_array().size() == 2 &&
        is_integer(r.value.as_array()[0])) {
      out.push_back(std::move(r));
      continue;
    }
    bool ok = r.value.kind() == TypeKind::Array && !r.value.as_array().empty();
    if (ok) {
      for (const Value& item : r.value.as_array()) {
        if (item.kind() != TypeKind::Array || item.as_array().size() != 4 ||
            !is_integer(item.as_array()[1]) || !is_integer(item.as_array()[2]) ||
            item.as_array()[0].is_null()) {
          ok = false;
          break;
        }
      }
    }
    if (!ok) {
      ctx.data_error(r, "unpack partial aggregates", "not a pack of partial aggregates");
      continue;
    }
    for (const Value& item : r.value.as_array()) {
      const Array& a = item.as_array();
      Record o;
      o.key = a[0];
      o.timestamp = a[1].to_int64();
      o.value = Value::array(Array{a[2], a[3]});
      o.headers = r.headers;
      o.source = r.source;
      out.push_back(std::move(o));
    }
  }
  forward(out, ctx);
}

}  // namespace rivulet
