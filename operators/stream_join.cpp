#include "operators/stream_join.hpp"

#include <algorithm>
#include <utility>

#include "operators/topology.hpp"
#include "runtime/msgpack_value.hpp"

namespace rivulet {

namespace {
bool is_integer(const Value& v) {
  return v.kind() == TypeKind::Int || v.kind() == TypeKind::BigInt;
}
}  // namespace

int64_t StreamJoinSpec::grace() const {
  if (grace_ms >= 0) return grace_ms;
  return std::max<int64_t>(0, kLegacyGraceMs - before_ms - after_ms);
}

Expected<bool> StreamJoinSpec::validate() const {
  if (before_ms < 0 || after_ms < 0) return Error::fatal("join window bounds must not be negative");
  if (before_ms + after_ms < 0) return Error::fatal("join window too large");
  return true;
}

// ---- StreamJoinStore ------------------------------------------------------------------

StreamJoinStore::StreamJoinStore(std::string name, StreamJoinSpec spec)
    : name_(std::move(name)), spec_(spec) {}

void StreamJoinStore::clear() {
  for (Side& s : sides_) {
    s.by_key.clear();
    s.by_time.clear();
    s.size = 0;
  }
  outer_.clear();
  stream_time_ = -1;
  idle_base_.reset();
  next_seq_ = 0;
}

StreamJoinStore::Entry& StreamJoinStore::insert(int side, const Value& key, int64_t t,
                                                Value value) {
  Side& s = sides_[side];
  auto it = s.by_key[key].emplace(t, Entry{std::move(value), next_seq_++, false});
  s.by_time.emplace(t, key);
  ++s.size;
  return it->second;
}

void StreamJoinStore::expire() {
  if (stream_time_ < 0) return;
  const int64_t limit = stream_time_ - spec_.retention();
  for (int side = 0; side < 2; ++side) {
    Side& s = sides_[side];
    while (!s.by_time.empty() && s.by_time.begin()->first < limit) {
      auto [t, key] = *s.by_time.begin();
      s.by_time.erase(s.by_time.begin());
      auto k = s.by_key.find(key);
      if (k == s.by_key.end()) continue;
      auto e = k->second.find(t);
      if (e != k->second.end()) {
        if (e->second.pending) outer_.erase({t, e->second.seq});
        k->second.erase(e);
        --s.size;
      }
      if (k->second.empty()) s.by_key.erase(k);
    }
  }
}

std::string StreamJoinStore::serialize() const {
  Array entries;
  for (int side = 0; side < 2; ++side)
    for (const auto& [key, records] : sides_[side].by_key)
      for (const auto& [t, e] : records)
        entries.push_back(Value::array(Array{Value::int32(side), key, Value::int64(t),
                                             Value::int64(static_cast<int64_t>(e.seq)),
                                             Value::boolean(e.pending), e.value}));
  return to_msgpack(Value::array(Array{Value::int64(1), Value::int64(stream_time_),
                                       Value::int64(static_cast<int64_t>(next_seq_)),
                                       Value::array(std::move(entries))}));
}

Expected<bool> StreamJoinStore::restore(std::string_view bytes) {
  clear();
  auto fail = [&](const std::string& why) -> Error {
    clear();
    return Error::fatal("stream join store " + name_ + ": " + why);
  };
  auto v = from_msgpack(bytes);
  if (!v) return fail(v.error().message);
  if (v->kind() != TypeKind::Array || v->as_array().size() != 4)
    return fail("not a stream join store snapshot");
  const Array& top = v->as_array();
  if (!is_integer(top[0]) || top[0].to_int64() != 1)
    return fail("unknown snapshot version " + top[0].to_string());
  if (!is_integer(top[1]) || !is_integer(top[2]) || top[3].kind() != TypeKind::Array)
    return fail("not a stream join store snapshot");
  for (const Value& item : top[3].as_array()) {
    if (item.kind() != TypeKind::Array || item.as_array().size() != 6)
      return fail("an entry is not [side, key, time, seq, pending, value]");
    const Array& a = item.as_array();
    if (!is_integer(a[0]) || (a[0].to_int64() != 0 && a[0].to_int64() != 1) ||
        !is_integer(a[2]) || !is_integer(a[3]) || a[4].kind() != TypeKind::Boolean)
      return fail("an entry is not [side, key, time, seq, pending, value]");
    int side = static_cast<int>(a[0].to_int64());
    int64_t t = a[2].to_int64();
    Entry& e = insert(side, a[1], t, a[5]);
    e.seq = static_cast<uint64_t>(a[3].to_int64());
    e.pending = a[4].as_bool();
    if (e.pending) outer_[{t, e.seq}] = OuterRef{side, a[1]};
  }
  stream_time_ = top[1].to_int64();
  next_seq_ = static_cast<uint64_t>(top[2].to_int64());
  return true;
}

// ---- StreamJoinNode -------------------------------------------------------------------

StreamJoinNode::StreamJoinNode(std::string name, std::shared_ptr<StreamJoinStore> store, int side,
                               StreamJoiner joiner)
    : Processor(std::move(name)), store_(std::move(store)), side_(side), joiner_(std::move(joiner)) {}

bool StreamJoinNode::join(const Record& r, const Value& key, const Value* left, const Value* right,
                          int64_t ts, Batch& out, ProcessContext& ctx) {
  Record o;
  o.key = key;
  o.timestamp = ts;
  o.headers = r.headers;
  o.source = r.source;
  bool ok = guarded(ctx, r, "stream-stream join", [&] { o.value = joiner_(key, left, right); });
  if (ok) out.push_back(std::move(o));
  return ok;
}

// Emits the pending outer records whose window closed, in time order.
void StreamJoinNode::emit_closed(const Record& current, Batch& out, ProcessContext& ctx) {
  StreamJoinStore& s = *store_;
  const StreamJoinSpec& spec = s.spec_;
  while (!s.outer_.empty()) {
    auto it = s.outer_.begin();
    const int64_t t = it->first.first;
    const int side = it->second.side;
    const int64_t lookback = side == 0 ? spec.after_ms : spec.before_ms;
    if (t + lookback + spec.grace() >= s.stream_time_) break;
    Value key = it->second.key;
    const uint64_t seq = it->first.second;
    s.outer_.erase(it);
    auto records = s.sides_[side].by_key.find(key);
    if (records == s.sides_[side].by_key.end()) continue;
    auto range = records->second.equal_range(t);
    for (auto e = range.first; e != range.second; ++e) {
      if (e->second.seq != seq) continue;
      e->second.pending = false;
      join(current, key, side == 0 ? &e->second.value : nullptr,
           side == 1 ? &e->second.value : nullptr, t, out, ctx);
      break;
    }
  }
}

bool StreamJoinNode::advance_idle(int64_t idle_ms, ProcessContext& ctx) {
  StreamJoinStore& s = *store_;
  // False too when the other side's node moved the shared store already.
  if (!advance_stream_time_idle(s.stream_time_, s.idle_base_, idle_ms)) return false;
  const size_t held = s.size(0) + s.size(1) + s.pending_outer();
  Batch out;
  if (!s.spec_.eager()) emit_closed(Record{}, out, ctx);
  s.expire();
  if (!out.empty()) forward(out, ctx);
  return s.size(0) + s.size(1) + s.pending_outer() != held;
}

void StreamJoinNode::process(Batch& batch, ProcessContext& ctx) {
  StreamJoinStore& s = *store_;
  const StreamJoinSpec& spec = s.spec_;
  const int other = 1 - side_;
  const int64_t before = side_ == 0 ? spec.before_ms : spec.after_ms;
  const int64_t after = side_ == 0 ? spec.after_ms : spec.before_ms;
  const bool outer = side_ == 0 ? spec.left_outer : spec.right_outer;
  Batch out;
  for (Record& r : batch) {
    if (r.key.is_null() || r.value.is_null()) {
      ++skipped_;
      continue;
    }
    const int64_t t = r.timestamp;
    s.stream_time_ = std::max(s.stream_time_, t);
    s.idle_base_.reset();
    if (t + after + spec.grace() < s.stream_time_) {  // its window has closed
      ++late_;
      ++ctx.output().late_records_dropped;
      continue;
    }
    if (!spec.eager() && t == s.stream_time_) emit_closed(r, out, ctx);
    const int64_t from = std::max<int64_t>(0, t - before);
    const int64_t to = std::max<int64_t>(0, t + after);
    bool matched = false;
    auto k = s.sides_[other].by_key.find(r.key);
    if (k != s.sides_[other].by_key.end()) {
      for (auto it = k->second.lower_bound(from); it != k->second.end() && it->first <= to; ++it) {
        matched = true;
        StreamJoinStore::Entry& e = it->second;
        if (e.pending) {
          s.outer_.erase({it->first, e.seq});
          e.pending = false;
        }
        const Value* mine = &r.value;
        join(r, r.key, side_ == 0 ? mine : &e.value, side_ == 0 ? &e.value : mine,
             std::max(t, it->first), out, ctx);
      }
    }
    StreamJoinStore::Entry& mine = s.insert(side_, r.key, t, r.value);
    if (!matched && outer) {
      if (spec.eager() || t + after < s.stream_time_) {
        join(r, r.key, side_ == 0 ? &r.value : nullptr, side_ == 1 ? &r.value : nullptr, t, out,
             ctx);
      } else {
        mine.pending = true;
        s.outer_[{t, mine.seq}] = StreamJoinStore::OuterRef{side_, r.key};
      }
    }
    s.expire();
  }
  batch.swap(out);
  forward(batch, ctx);
}

size_t add_stream_join(Topology& topo, size_t left, size_t right, const std::string& store_name,
                       StreamJoinSpec spec, StreamJoiner joiner) {
  topo.add_state_store(store_name, [store_name, spec]() -> std::shared_ptr<StateStore> {
    return std::make_shared<StreamJoinStore>(store_name, spec);
  });
  auto side = [store_name, joiner](int s) -> ProcessorFactory {
    return [store_name, joiner, s](BuildContext& c) -> std::unique_ptr<Processor> {
      auto store = std::dynamic_pointer_cast<StreamJoinStore>(c.state_store(store_name));
      if (!store) return nullptr;
      return std::make_unique<StreamJoinNode>(c.node_name(), std::move(store), s, joiner);
    };
  };
  size_t ln = topo.add_processor(store_name + "-this", {left}, side(0));
  size_t rn = topo.add_processor(store_name + "-other", {right}, side(1));
  struct Merge final : Processor {
    using Processor::Processor;
    void process(Batch& batch, ProcessContext& ctx) override { forward(batch, ctx); }
  };
  return topo.add_processor(store_name + "-merge", {ln, rn},
                            [](BuildContext& c) -> std::unique_ptr<Processor> {
                              return std::make_unique<Merge>(c.node_name());
                            });
}

}  // namespace rivulet
