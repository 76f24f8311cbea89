#include "operators/window.hpp"

#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>

#include "operators/accumulator_pack.hpp"
#include "operators/partial_aggregate.hpp"
#include "runtime/msgpack_value.hpp"

namespace rivulet {

namespace {

// string_views: comparing against them checks the length first (every
// windowed record's key is checked, per operator).
constexpr std::string_view kKeyField = "\x01window.key";
constexpr std::string_view kStartField = "\x01window.start";
constexpr std::string_view kEndField = "\x01window.end";

bool is_integer(const Value& v) {
  return v.kind() == TypeKind::BigInt || v.kind() == TypeKind::Int;
}

void put_be64(std::string& out, int64_t v) {
  auto u = static_cast<uint64_t>(v);
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
}

int64_t get_be64(std::string_view b) {
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<unsigned char>(b[static_cast<size_t>(i)]);
  return static_cast<int64_t>(u);
}

class WindowedCodec final : public Codec {
 public:
  WindowedCodec(std::unique_ptr<Codec> inner, WindowKind kind, int64_t size_ms)
      : inner_(std::move(inner)), kind_(kind), size_ms_(size_ms) {}

  Expected<Value> decode(std::string_view bytes) const override {
    const size_t suffix = kind_ == WindowKind::Session ? 16 : 8;
    if (bytes.size() < suffix) {
      return Error::data("a windowed key of " + std::to_string(bytes.size()) +
                         " bytes is shorter than its " + std::to_string(suffix) +
                         "-byte window");
    }
    auto inner = inner_->decode(bytes.substr(0, bytes.size() - suffix));
    if (!inner) return inner.error();
    std::string_view tail = bytes.substr(bytes.size() - suffix);
    WindowBounds w;
    if (kind_ == WindowKind::Session) {
      w.end = get_be64(tail.substr(0, 8));
      w.start = get_be64(tail.substr(8, 8));
    } else {
      w.start = get_be64(tail);
      w.end = size_ms_ > 0 ? w.start + size_ms_ : INT64_MAX;
    }
    return windowed_key(std::move(*inner), w);
  }

  Expected<std::string> encode(const Value& v) const override {
    if (!is_windowed_key(v)) return inner_->encode(v);
    auto bytes = inner_->encode(window_inner_key(v));
    if (!bytes) return bytes;
    WindowBounds w = window_of(v);
    if (kind_ == WindowKind::Session) {
      put_be64(*bytes, w.end);
      put_be64(*bytes, w.start);
    } else {
      put_be64(*bytes, w.start);
    }
    return bytes;
  }

 private:
  std::unique_ptr<Codec> inner_;
  WindowKind kind_;
  int64_t size_ms_;
};

}  // namespace

// ---- WindowSpec -----------------------------------------------------------------

WindowSpec WindowSpec::tumbling(int64_t size_ms, int64_t grace_ms) {
  WindowSpec w;
  w.kind = WindowKind::Tumbling;
  w.size_ms = size_ms;
  w.advance_ms = size_ms;
  w.grace_ms = grace_ms;
  return w;
}

WindowSpec WindowSpec::hopping(int64_t size_ms, int64_t advance_ms, int64_t grace_ms) {
  WindowSpec w = tumbling(size_ms, grace_ms);
  w.kind = WindowKind::Hopping;
  w.advance_ms = advance_ms;
  return w;
}

WindowSpec WindowSpec::session(int64_t gap_ms, int64_t grace_ms) {
  WindowSpec w;
  w.kind = WindowKind::Session;
  w.size_ms = gap_ms;
  w.grace_ms = grace_ms;
  return w;
}

int64_t WindowSpec::retention() const {
  int64_t min = size_ms + grace_ms;
  return retention_ms < 0 ? min : std::max(retention_ms, min);
}

Expected<bool> WindowSpec::validate() const {
  if (size_ms <= 0)
    return Error::fatal(kind == WindowKind::Session ? "a session window's gap must be positive"
                                                    : "a window's size must be positive");
  if (grace_ms < 0) return Error::fatal("a window's grace period must not be negative");
  if (kind == WindowKind::Hopping && (advance_ms <= 0 || advance_ms > size_ms))
    return Error::fatal("a hopping window's advance must be positive and at most its size");
  if (kind == WindowKind::Tumbling && advance_ms != size_ms)
    return Error::fatal("a tumbling window advances by its size");
  return true;
}

// ---- Windowed keys ----------------------------------------------------------------

Value windowed_key(Value key, WindowBounds w) {
  StructFields f;
  f.reserve(3);
  f.push_back(Field{std::string(kKeyField), std::move(key)});
  f.push_back(Field{std::string(kStartField), Value::int64(w.start)});
  f.push_back(Field{std::string(kEndField), Value::int64(w.end)});
  return Value::structure(std::move(f));
}

bool is_windowed_key(const Value& v) {
  if (v.kind() != TypeKind::Struct) return false;
  const StructFields& f = v.as_struct();
  return f.size() == 3 && f[0].name == kKeyField && f[1].name == kStartField &&
         f[2].name == kEndField;
}

const Value& window_inner_key(const Value& v) {
  return is_windowed_key(v) ? v.as_struct()[0].value : v;
}

WindowBounds window_of(const Value& v) {
  if (!is_windowed_key(v)) return {};
  const StructFields& f = v.as_struct();
  return WindowBounds{f[1].value.to_int64(), f[2].value.to_int64()};
}

namespace codecs {
CodecFactory windowed(CodecFactory inner, WindowKind kind, int64_t size_ms) {
  return [inner = std::move(inner), kind, size_ms]() -> std::unique_ptr<Codec> {
    auto c = inner();
    if (!c) return nullptr;
    return std::make_unique<WindowedCodec>(std::move(c), kind, size_ms);
  };
}
}  // namespace codecs

// ---- WindowStore ------------------------------------------------------------------

WindowStore::WindowStore(std::string name, std::shared_ptr<const AggregateSpec> spec,
                         std::shared_ptr<const WindowSpec> window)
    : name_(std::move(name)), spec_(std::move(spec)), window_(std::move(window)) {}

size_t WindowStore::size() const {
  size_t n = 0;
  for (const auto& [start, keys] : windows_) n += keys.size();
  for (const auto& [key, sessions] : sessions_) n += sessions.size();
  return n;
}

std::string WindowStore::serialize() const {
  // [1, stream time, [[key, start, end, max timestamp, accumulators], ...]],
  // packed directly: no Value is built per entry.
  msgpack::sbuffer buf(64 + size() * 32);
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(3);
  pk.pack_int64(1);
  pk.pack_int64(stream_time_);
  pk.pack_array(static_cast<uint32_t>(size()));
  auto entry = [&](const Value& key, int64_t start, int64_t end, const Entry& e) {
    pk.pack_array(5);
    pack_value(pk, key);
    pk.pack_int64(start);
    pk.pack_int64(end);
    pk.pack_int64(e.max_timestamp);
    pack_accumulators(pk, e.row);
  };
  for (const auto& [start, keys] : windows_)
    for (const auto& [key, e] : keys) entry(key, start, start + window_->size_ms, e);
  for (const auto& [key, sessions] : sessions_)
    for (const auto& [start, s] : sessions) entry(key, start, s.end, s.entry);
  return std::string(buf.data(), buf.size());
}

Expected<bool> WindowStore::restore(std::string_view bytes) {
  windows_.clear();
  sessions_.clear();
  session_ends_.clear();
  stream_time_ = -1;
  idle_base_.reset();
  auto fail = [&](const std::string& why) -> Error {
    windows_.clear();
    sessions_.clear();
    session_ends_.clear();
    stream_time_ = -1;
    return Error::fatal("window store " + name_ + ": " + why);
  };
  auto v = from_msgpack(bytes);
  if (!v) return fail(v.error().message);
  if (v->kind() != TypeKind::Array || v->as_array().size() != 3)
    return fail("not a window store snapshot");
  const Array& top = v->as_array();
  if (!is_integer(top[0]) || top[0].to_int64() != 1)
    return fail("unknown snapshot version " + top[0].to_string());
  if (!is_integer(top[1]) || top[2].kind() != TypeKind::Array)
    return fail("not a window store snapshot");
  int64_t stream_time = top[1].to_int64();
  const size_t n = spec_->functions.size();
  for (const Value& item : top[2].as_array()) {
    if (item.kind() != TypeKind::Array || item.as_array().size() != 5)
      return fail("an entry is not [key, start, end, max_timestamp, row]");
    const Array& a = item.as_array();
    if (!is_integer(a[1]) || !is_integer(a[2]) || !is_integer(a[3]))
      return fail("an entry's window is not integers");
    auto row = decode_accumulators(name_, n, a[4]);
    if (!row) return fail(row.error().message);
    Entry e{std::move(*row), a[3].to_int64()};
    int64_t start = a[1].to_int64(), end = a[2].to_int64();
    if (window_->kind == WindowKind::Session) {
      sessions_[a[0]][start] = Session{end, std::move(e)};
      session_ends_.emplace(end, std::make_pair(a[0], start));
    } else {
      windows_[start][a[0]] = std::move(e);
    }
  }
  stream_time_ = stream_time;
  return true;
}

// ---- WindowedAggregateNode ----------------------------------------------------------

WindowedAggregateNode::WindowedAggregateNode(std::string name, std::shared_ptr<WindowStore> store,
                                             bool merges_partials)
    : Processor(std::move(name)), store_(std::move(store)), merges_partials_(merges_partials) {}

void WindowedAggregateNode::late(ProcessContext& ctx, int64_t records) {
  late_ += static_cast<uint64_t>(records);
  ctx.output().late_records_dropped += static_cast<uint64_t>(records);
}

Record WindowedAggregateNode::result_record(const Value& key, WindowBounds w,
                                            const WindowStore::Entry& e,
                                            int64_t timestamp) const {
  Record o;
  o.key = windowed_key(key, w);
  o.value = aggregate_result(store_->spec(), e.row);
  o.timestamp = timestamp;
  return o;
}

void WindowedAggregateNode::process(Batch& batch, ProcessContext& ctx) {
  Batch out;
  out.reserve(batch.size());
  const bool session = store_->window().kind == WindowKind::Session;
  for (Record& r : batch) {
    if (r.key.is_null()) {
      ctx.null_key(r, SkipReason::NullGroupKey, "windowed aggregate",
                   "the group key (GROUP BY) is null");
      continue;
    }
    if (r.value.is_null() || r.timestamp < 0) {
      ++skipped_;
      ctx.skipped(r, r.value.is_null() ? SkipReason::Tombstone : SkipReason::NegativeTimestamp,
                  "windowed aggregate");
      continue;
    }
    store_->stream_time_ = std::max(store_->stream_time_, r.timestamp);
    store_->idle_base_.reset();
    size_t first = out.size();
    if (session) {
      process_session(r, out, ctx);
    } else {
      process_time(r, out, ctx);
    }
    for (size_t i = first; i < out.size(); ++i) {
      out[i].source = r.source;
      out[i].headers = r.headers;
    }
  }
  batch.swap(out);
  forward(batch, ctx);
}

bool WindowedAggregateNode::advance_idle(int64_t idle_ms, ProcessContext& ctx) {
  WindowStore& s = *store_;
  if (!advance_stream_time_idle(s.stream_time_, s.idle_base_, idle_ms)) return false;
  const WindowSpec& w = s.window();
  const bool final = w.emit == WindowEmit::Final;
  const size_t held = s.size();
  Batch out;
  if (w.kind == WindowKind::Session) {
    expire_sessions(out, final);
  } else {
    // Closed windows are emitted before retention drops anything: an
    // advance moves in steps of a commit interval, and `expire_unemitted`
    // (ksqlDB's large jump) would otherwise drop every window the step
    // passes both ends of.
    if (final) emit_closed_time(out);
    if (w.emit == WindowEmit::Changes || w.expire_unemitted) drop_past_retention();
  }
  // Results of closed windows carry no input record's position.
  if (!out.empty()) forward(out, ctx);
  return s.size() != held;
}

void WindowedAggregateNode::drop_past_retention() {
  WindowStore& s = *store_;
  auto& windows = s.windows_;
  while (!windows.empty() && windows.begin()->first + s.window().retention() < s.stream_time_)
    windows.erase(windows.begin());
}

void WindowedAggregateNode::expire_time(Batch& out, bool emit) {
  const WindowSpec& w = store_->window();
  // Past retention: gone (with expire_unemitted, before they are emitted).
  if (w.emit == WindowEmit::Changes || w.expire_unemitted) drop_past_retention();
  if (emit) emit_closed_time(out);
}

// Closed: one final result each, in window order, keys in value order.
void WindowedAggregateNode::emit_closed_time(Batch& out) {
  WindowStore& s = *store_;
  const WindowSpec& w = s.window();
  auto& windows = s.windows_;
  while (!windows.empty() && windows.begin()->first + w.size_ms + w.grace_ms <= s.stream_time_) {
    auto& [start, keys] = *windows.begin();
    std::vector<const Value*> order;
    order.reserve(keys.size());
    for (const auto& kv : keys) order.push_back(&kv.first);
    std::sort(order.begin(), order.end(),
              [](const Value* a, const Value* b) { return Value::compare(*a, *b) < 0; });
    for (const Value* k : order) {
      const auto& e = keys.at(*k);
      out.push_back(result_record(*k, {start, start + w.size_ms}, e, e.max_timestamp));
    }
    windows.erase(windows.begin());
  }
}

void WindowedAggregateNode::process_time(Record& r, Batch& out, ProcessContext& ctx) {
  WindowStore& s = *store_;
  const WindowSpec& w = s.window();
  const bool changes = w.emit == WindowEmit::Changes;
  expire_time(out, false);
  const auto& fns = s.spec().functions;
  const size_t n = fns.size();
  scratch_.resize(n);
  const int64_t t = r.timestamp;
  std::optional<PartialAggregate> part;
  if (merges_partials_) {
    auto p = decode_partial(s.name(), n, r.value);
    if (!p) {
      ctx.data_error(r, "windowed aggregate", std::move(p.error().message));
      return;
    }
    part = std::move(*p);
  }
  int64_t start = std::max<int64_t>(0, t - w.size_ms + w.advance_ms) / w.advance_ms * w.advance_ms;
  for (; start <= t; start += w.advance_ms) {
    const int64_t end = start + w.size_ms;
    if (end + w.grace_ms <= s.stream_time_) {
      late(ctx, part ? part->records : 1);
      continue;
    }
    auto& keys = s.windows_[start];
    auto it = keys.find(r.key);
    WindowStore::Entry* old = it == keys.end() ? nullptr : &it->second;
    bool ok = guarded(ctx, r, "windowed aggregate", [&] {
      for (size_t f = 0; f < n; ++f) {
        if (!part) {
          aggregate_step(fns[f], old ? &old->row[f] : nullptr, r, scratch_[f]);
        } else {
          scratch_[f] = old ? aggregate_merge(fns[f], old->row[f], part->row[f]) : part->row[f];
        }
      }
    });
    if (!ok) {
      if (keys.empty()) s.windows_.erase(start);
      break;  // one data error per record, whatever its windows
    }
    WindowStore::Entry& e = old ? *old : keys[r.key];
    if (!old) {
      e.row.resize(n);
      e.max_timestamp = t;
    }
    for (size_t f = 0; f < n; ++f) e.row[f] = std::move(scratch_[f]);
    e.max_timestamp = std::max(e.max_timestamp, t);
    if (changes) out.push_back(result_record(r.key, {start, end}, e, e.max_timestamp));
  }
  if (!changes) expire_time(out, true);
}

void WindowedAggregateNode::erase_session(const Value& key, int64_t start, int64_t end) {
  WindowStore& s = *store_;
  auto range = s.session_ends_.equal_range(end);
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second.second == start && it->second.first == key) {
      s.session_ends_.erase(it);
      break;
    }
  }
  auto k = s.sessions_.find(key);
  if (k == s.sessions_.end()) return;
  k->second.erase(start);
  if (k->second.empty()) s.sessions_.erase(k);
}

void WindowedAggregateNode::expire_sessions(Batch& out, bool emit) {
  WindowStore& s = *store_;
  const WindowSpec& w = s.window();
  // Closed sessions: end < stream time - gap - grace. Final emits them;
  // Changes keeps them until their retention has passed.
  const int64_t horizon =
      emit ? s.stream_time_ - w.size_ms - w.grace_ms : s.stream_time_ - w.retention();
  while (!s.session_ends_.empty() && s.session_ends_.begin()->first < horizon) {
    auto [end, ref] = *s.session_ends_.begin();
    auto k = s.sessions_.find(ref.first);
    if (k != s.sessions_.end()) {
      auto it = k->second.find(ref.second);
      if (it != k->second.end() && emit)
        out.push_back(result_record(ref.first, {ref.second, end}, it->second.entry, end));
    }
    erase_session(ref.first, ref.second, end);
  }
}

void WindowedAggregateNode::process_session(Record& r, Batch& out, ProcessContext& ctx) {
  WindowStore& s = *store_;
  const WindowSpec& w = s.window();
  const bool changes = w.emit == WindowEmit::Changes;
  expire_sessions(out, !changes);
  const auto& fns = s.spec().functions;
  const size_t n = fns.size();
  const int64_t t = r.timestamp;
  const int64_t gap = w.size_ms;

  // The sessions this record touches: start <= t + gap and end >= t - gap.
  std::vector<std::pair<int64_t, const WindowStore::Session*>> touched;
  auto keyed = s.sessions_.find(r.key);
  if (keyed != s.sessions_.end()) {
    auto& m = keyed->second;
    auto it = m.lower_bound(t - gap);
    if (it != m.begin() && std::prev(it)->second.end >= t - gap) --it;
    for (; it != m.end() && it->first <= t + gap; ++it)
      if (it->second.end >= t - gap) touched.emplace_back(it->first, &it->second);
  }
  WindowBounds merged{t, t};
  for (const auto& [start, sess] : touched) {
    merged.start = std::min(merged.start, start);
    merged.end = std::max(merged.end, sess->end);
  }
  if (merged.end < s.stream_time_ - gap - w.grace_ms) {
    late(ctx);
    return;
  }
  WindowStore::Entry next;
  next.max_timestamp = t;
  bool ok = guarded(ctx, r, "windowed aggregate", [&] {
    AccumulatorRow base;
    if (!touched.empty()) {
      base = touched[0].second->entry.row;
      for (size_t i = 1; i < touched.size(); ++i)
        for (size_t f = 0; f < n; ++f)
          base[f] = aggregate_merge(fns[f], base[f], touched[i].second->entry.row[f]);
    }
    next.row.resize(n);
    for (size_t f = 0; f < n; ++f)
      aggregate_step(fns[f], touched.empty() ? nullptr : &base[f], r, next.row[f]);
  });
  if (!ok) return;
  for (const auto& [start, sess] : touched) {
    next.max_timestamp = std::max(next.max_timestamp, sess->entry.max_timestamp);
    int64_t end = sess->end;
    if (changes && (start != merged.start || end != merged.end)) {
      Record tomb;
      tomb.key = windowed_key(r.key, {start, end});
      tomb.timestamp = end;
      out.push_back(std::move(tomb));
    }
  }
  for (const auto& [start, sess] : touched) erase_session(r.key, start, sess->end);
  if (changes) out.push_back(result_record(r.key, merged, next, merged.end));
  s.session_ends_.emplace(merged.end, std::make_pair(r.key, merged.start));
  s.sessions_[r.key][merged.start] = WindowStore::Session{merged.end, std::move(next)};
}

}  // namespace rivulet
