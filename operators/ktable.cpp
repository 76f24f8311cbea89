#include "operators/ktable.hpp"

#include <msgpack.hpp>

#include "runtime/msgpack_value.hpp"

namespace rivulet {

namespace {

constexpr uint64_t kEntriesFormatVersion = 1;

int64_t wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// glibc malloc: a request of n bytes takes a chunk of max(32, n + 8 rounded
// up to 16) bytes.
size_t malloc_chunk(size_t n) {
  size_t c = (n + 8 + 15) & ~size_t{15};
  return c < 32 ? 32 : c;
}

size_t string_heap(const std::string& s) {
  // libstdc++'s small-string buffer holds 15 characters in place.
  return s.capacity() > 15 ? malloc_chunk(s.capacity() + 1) : 0;
}

// A shared_ptr<const Container> made by make_shared: one chunk with the
// control block (16 bytes) and the vector, then the vector's buffer.
template <typename Vec>
size_t container_heap(const Vec& v) {
  return malloc_chunk(16 + sizeof(Vec)) + (v.capacity() ? malloc_chunk(v.capacity() * sizeof(typename Vec::value_type)) : 0);
}

// libstdc++'s node of unordered_map<Value, Value, ValueHash>: next pointer,
// the pair, and the cached hash (kept for non-trivial hashers).
constexpr size_t kNodeBytes = sizeof(void*) + sizeof(std::pair<const Value, Value>) + sizeof(size_t);

}  // namespace

size_t value_heap_bytes(const Value& v) {
  switch (v.kind()) {
    case TypeKind::String:
      return string_heap(v.as_string());
    case TypeKind::Bytes:
      return string_heap(v.as_bytes());
    case TypeKind::Array: {
      const Array& a = v.as_array();
      size_t n = container_heap(a);
      for (const Value& e : a) n += value_heap_bytes(e);
      return n;
    }
    case TypeKind::Map: {
      const MapEntries& m = v.as_map();
      size_t n = container_heap(m);
      for (const auto& [k, e] : m) n += string_heap(k) + value_heap_bytes(e);
      return n;
    }
    case TypeKind::Struct: {
      const StructFields& f = v.as_struct();
      size_t n = container_heap(f);
      for (const Field& e : f) n += string_heap(e.name) + value_heap_bytes(e.value);
      return n;
    }
    default:
      return 0;
  }
}

std::string encode_entries(const std::vector<std::pair<const Value*, const Value*>>& entries) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(2);
  pk.pack_uint64(kEntriesFormatVersion);
  pk.pack_array(static_cast<uint32_t>(entries.size() * 2));
  for (const auto& [k, v] : entries) {
    pack_value(pk, *k);
    pack_value(pk, *v);
  }
  return std::string(buf.data(), buf.size());
}

Expected<std::vector<std::pair<Value, Value>>> decode_entries(std::string_view bytes) {
  // Header: [version, [k, v, ...]]. Elements are parsed one at a time so a
  // large table is never unpacked as one object tree.
  const char* data = bytes.data();
  size_t len = bytes.size();
  size_t off = 0;
  auto header = [&](const char* what) -> Expected<uint64_t> {
    try {
      msgpack::object_handle h = msgpack::unpack(data, len, off);  // a small integer
      if (h.get().type != msgpack::type::POSITIVE_INTEGER) {
        return Error::fatal(std::string("table entries: ") + what + " is not an integer");
      }
      return h.get().via.u64;
    } catch (const std::exception& e) {
      return Error::fatal(std::string("table entries: bad ") + what + ": " + e.what());
    }
  };
  auto array_header = [&]() -> Expected<uint64_t> {
    if (off >= len) return Error::fatal("table entries: truncated");
    auto b = static_cast<uint8_t>(data[off]);
    if ((b & 0xf0) == 0x90) {
      off += 1;
      return uint64_t{b & 0x0fu};
    }
    if (b == 0xdc && off + 3 <= len) {
      auto n = (uint64_t{static_cast<uint8_t>(data[off + 1])} << 8) |
               static_cast<uint8_t>(data[off + 2]);
      off += 3;
      return n;
    }
    if (b == 0xdd && off + 5 <= len) {
      uint64_t n = 0;
      for (int i = 1; i <= 4; ++i) n = (n << 8) | static_cast<uint8_t>(data[off + i]);
      off += 5;
      return n;
    }
    return Error::fatal("table entries: expected an array");
  };
  auto outer = array_header();
  if (!outer) return outer.error();
  if (*outer != 2) return Error::fatal("table entries: expected [version, entries]");
  auto version = header("version");
  if (!version) return version.error();
  if (*version != kEntriesFormatVersion) {
    return Error::fatal("table entries: unsupported format version " + std::to_string(*version));
  }
  auto count = array_header();
  if (!count) return count.error();
  if (*count % 2 != 0) return Error::fatal("table entries: odd number of keys and values");
  if (*count > len - off) return Error::fatal("table entries: truncated");
  std::vector<std::pair<Value, Value>> out;
  out.reserve(*count / 2);
  // One zone for many elements (a zone per element would cost a malloc
  // each), cleared now and then; limits keep a corrupt length from
  // allocating more than the input could hold.
  msgpack::zone zone;
  size_t in_zone = 0;
  auto next = [&]() -> Expected<Value> {
    size_t start = off;
    try {
      size_t remaining = len - off;
      msgpack::unpack_limit limit(remaining, remaining, remaining, remaining, remaining, 64);
      msgpack::object o = msgpack::unpack(zone, data, len, off, nullptr, nullptr, limit);
      auto v = unpack_value(o);
      if (++in_zone == 1024) {
        zone.clear();
        in_zone = 0;
      }
      if (!v) return Error::fatal("table entries: " + v.error().message);
      return v;
    } catch (const std::exception& e) {
      return Error::fatal("table entries: bad entry at byte " + std::to_string(start) + ": " +
                          e.what());
    }
  };
  for (uint64_t i = 0; i < *count / 2; ++i) {
    auto k = next();
    if (!k) return k.error();
    auto v = next();
    if (!v) return v.error();
    out.emplace_back(std::move(*k), std::move(*v));
  }
  if (off != len) return Error::fatal("table entries: trailing bytes after the entries");
  return out;
}

KTable::KTable(std::string name) : name_(std::move(name)) {}

KTable::~KTable() = default;

std::optional<Value> KTable::get(const Value& key) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

bool KTable::contains(const Value& key) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return map_.find(key) != map_.end();
}

std::vector<Value> KTable::keys() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<Value> out;
  out.reserve(map_.size());
  for (const auto& kv : map_) out.push_back(kv.first);
  return out;
}

KTable::Map KTable::snapshot() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return map_;
}

KTableStats KTable::stats() const {
  KTableStats s;
  s.size = size();
  s.updates_applied = updates_.load(std::memory_order_relaxed);
  int64_t last = last_update_.load(std::memory_order_relaxed);
  if (last >= 0) s.last_update = last;
  return s;
}

bool KTable::wait_for_keys(size_t n, std::chrono::milliseconds timeout) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (map_.size() >= n) return true;
  waiters_.fetch_add(1);
  bool ok = cv_.wait_for(lock, timeout, [&] { return map_.size() >= n; });
  waiters_.fetch_sub(1);
  return ok;
}

size_t KTable::bytes_estimate() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  size_t n = map_.bucket_count() * sizeof(void*) + map_.size() * malloc_chunk(kNodeBytes);
  for (const auto& [k, v] : map_) n += value_heap_bytes(k) + value_heap_bytes(v);
  return n;
}

KTable::Writer::Writer(KTable& table) : table_(table), lock_(table.mu_) {}

KTable::Writer::~Writer() {
  table_.size_.store(table_.map_.size(), std::memory_order_release);
  lock_.unlock();
  table_.publish(applied_);
}

void KTable::Writer::apply(const Value& key, Value value) {
  if (value.is_null()) {
    erase(key);
  } else {
    put(key, std::move(value));
  }
}

void KTable::Writer::put(const Value& key, Value value) {
  auto it = table_.map_.find(key);
  if (it == table_.map_.end()) {
    table_.map_.emplace(key, std::move(value));
  } else {
    it->second = std::move(value);
  }
  table_.note_change(key);
  ++applied_;
}

void KTable::Writer::erase(const Value& key) {
  table_.map_.erase(key);
  table_.note_change(key);
  ++applied_;
}

void KTable::publish(uint64_t applied) {
  if (applied > 0) {
    updates_.fetch_add(applied, std::memory_order_relaxed);
    last_update_.store(wall_clock_ms(), std::memory_order_relaxed);
  }
  if (waiters_.load() > 0) cv_.notify_all();
}

void KTable::apply(const Value& key, Value value) { writer().apply(key, std::move(value)); }

void KTable::clear() {
  Writer w(*this);
  for (const auto& kv : map_) note_change(kv.first);
  map_.clear();
}

void KTable::set_change_tracking(bool on) {
  track_changes_ = on;
  if (!on) changed_.clear();
}

std::string KTable::serialize() const {
  // The owning thread is the only writer, so reading without the lock is
  // safe here; readers on other threads only share.
  std::vector<std::pair<const Value*, const Value*>> entries;
  entries.reserve(map_.size());
  for (const auto& [k, v] : map_) entries.emplace_back(&k, &v);
  changed_.clear();
  return encode_entries(entries);
}

std::string KTable::serialize_changes() const {
  static const Value kDeleted;
  std::vector<std::pair<const Value*, const Value*>> entries;
  entries.reserve(changed_.size());
  for (const Value& k : changed_) {
    auto it = map_.find(k);
    entries.emplace_back(&k, it == map_.end() ? &kDeleted : &it->second);
  }
  std::string out = encode_entries(entries);
  changed_.clear();
  return out;
}

Expected<bool> KTable::restore(std::string_view bytes) {
  auto entries = decode_entries(bytes);
  Writer w(*this);
  map_.clear();
  changed_.clear();
  if (!entries) return Error::fatal("restore of table " + name_ + ": " + entries.error().message);
  map_.reserve(entries->size());
  for (auto& [k, v] : *entries) {
    if (!v.is_null()) map_.insert_or_assign(std::move(k), std::move(v));
  }
  return true;
}

Expected<bool> KTable::apply_changes(std::string_view bytes) {
  auto entries = decode_entries(bytes);
  if (!entries) {
    return Error::fatal("changes to table " + name_ + ": " + entries.error().message);
  }
  Writer w(*this);
  for (auto& [k, v] : *entries) w.apply(k, std::move(v));
  return true;
}

}  // namespace rivulet
