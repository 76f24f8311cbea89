#include "operators/ktable.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <msgpack.hpp>

#include "runtime/msgpack_value.hpp"

namespace rivulet {

namespace {

constexpr uint64_t kEntriesFormatVersion = 1;
constexpr char kMsgpackNil = '\xc0';

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
  return malloc_chunk(16 + sizeof(Vec)) +
         (v.capacity() ? malloc_chunk(v.capacity() * sizeof(typename Vec::value_type)) : 0);
}

// libstdc++'s node of unordered_map<Value, Value, ValueHash>: next pointer,
// the pair, and the cached hash (kept for non-trivial hashers).
constexpr size_t kNodeBytes =
    sizeof(void*) + sizeof(std::pair<const Value, Value>) + sizeof(size_t);

// runtime's packer writes into an sbuffer; `buf` is reused by its owner.
std::string_view encode_into(msgpack::sbuffer& buf, const Value& v) {
  buf.clear();
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pack_value(pk, v);
  return std::string_view(buf.data(), buf.size());
}

// The header of the entries format for `pairs` key/value pairs.
void write_entries_header(msgpack::sbuffer& buf, size_t pairs) {
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(2);
  pk.pack_uint64(kEntriesFormatVersion);
  pk.pack_array(static_cast<uint32_t>(pairs * 2));
}

// Decodes one msgpack element with a reused zone; limits keep a corrupt
// length from allocating more than the element's bytes could hold, and
// allow any depth a value may have (runtime's unpack_limits; a limit of 64
// once refused values the JSON decoder had accepted).
Expected<Value> decode_element(msgpack::zone& zone, std::string_view bytes) {
  try {
    size_t off = 0;
    const msgpack::unpack_limit limit = unpack_limits(bytes.size());
    // Strings and binaries are referenced in place, not copied into the
    // zone: unpack_value copies them into the Value anyway.
    auto by_reference = [](msgpack::type::object_type, std::size_t, void*) { return true; };
    msgpack::object o = msgpack::unpack(zone, bytes.data(), bytes.size(), off, by_reference,
                                        nullptr, limit);
    auto v = unpack_value(o);
    zone.clear();
    return v;
  } catch (const std::exception& e) {
    zone.clear();
    return Error::fatal(std::string("msgpack: ") + e.what());
  }
}

template <typename Bytes>
void put_varint(Bytes& out, size_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

size_t get_varint(const char* p, size_t& pos) {
  size_t v = 0;
  int shift = 0;
  for (;;) {
    auto b = static_cast<uint8_t>(p[pos++]);
    v |= size_t{b & 0x7fu} << shift;
    if (!(b & 0x80)) return v;
    shift += 7;
  }
}

// ---- Key identity of a lazily restored decoded table ---------------------------
// A decoded table matches keys as Values do: INT 1, BIGINT 1 and DOUBLE 1.0
// are one key. Its restored entries that are not decoded yet are matched by
// an identity derived from the key's msgpack bytes that keeps that rule:
//  - strings, binaries, null, booleans, timestamps: their bytes (pack_value
//    writes one encoding per value);
//  - numbers (any msgpack integer width, the INT ext, float, double): 'i' and
//    the int64 of an integral value in range, else 'd' and the double's
//    bits, or 'n' for NaN. The tags are positive fixints, so an identity
//    never equals a string's or a boolean's bytes;
//  - anything else (arrays, structs, maps, decimals): none; such keys are
//    decoded at restore.
// (A BIGINT beyond 2^53 equal to a DOUBLE only after rounding is the one
// equality of Value that this misses.)

std::string_view int_identity(int64_t v, std::string& out) {
  out.assign(1, 'i');
  auto u = static_cast<uint64_t>(v);
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
  return out;
}

std::string_view double_identity(double d, std::string& out) {
  if (std::isnan(d)) {
    out.assign(1, 'n');
    return out;
  }
  if (d == std::trunc(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
    return int_identity(static_cast<int64_t>(d), out);
  }
  uint64_t bits = 0;
  std::memcpy(&bits, &d, sizeof bits);
  out.assign(1, 'd');
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
  return out;
}

uint64_t read_be(const char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// The identity of a key's msgpack bytes (a whole element), written to `out`
// when it is not the bytes themselves; empty when the key has none.
std::string_view key_identity(std::string_view kb, std::string& out) {
  if (kb.empty()) return {};
  const auto b = static_cast<uint8_t>(kb[0]);
  const char* p = kb.data() + 1;
  const size_t n = kb.size() - 1;
  if (b <= 0x7f) return int_identity(b, out);
  if (b >= 0xe0) return int_identity(static_cast<int8_t>(b), out);
  if ((b >= 0xa0 && b <= 0xbf) || b == 0xc0 || b == 0xc2 || b == 0xc3 || (b >= 0xc4 && b <= 0xc6) ||
      (b >= 0xd9 && b <= 0xdb)) {
    return kb;  // str, nil, bool, bin
  }
  switch (b) {
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: {
      size_t w = size_t{1} << (b - 0xcc);
      if (n != w) return {};
      uint64_t u = read_be(p, w);
      if (u > static_cast<uint64_t>(INT64_MAX)) return {};
      return int_identity(static_cast<int64_t>(u), out);
    }
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
      size_t w = size_t{1} << (b - 0xd0);
      if (n != w) return {};
      uint64_t u = read_be(p, w);
      int64_t v = w == 1   ? static_cast<int8_t>(u)
                  : w == 2 ? static_cast<int16_t>(u)
                  : w == 4 ? static_cast<int32_t>(u)
                           : static_cast<int64_t>(u);
      return int_identity(v, out);
    }
    case 0xca: {
      if (n != 4) return {};
      auto u = static_cast<uint32_t>(read_be(p, 4));
      float f = 0;
      std::memcpy(&f, &u, sizeof f);
      return double_identity(f, out);
    }
    case 0xcb: {
      if (n != 8) return {};
      uint64_t u = read_be(p, 8);
      double d = 0;
      std::memcpy(&d, &u, sizeof d);
      return double_identity(d, out);
    }
    case 0xd6:  // fixext 4: INT
      if (n == 5 && p[0] == 4) return int_identity(static_cast<int32_t>(read_be(p + 1, 4)), out);
      return {};
    case 0xd7:  // fixext 8: TIMESTAMP
      if (n == 9 && p[0] == 2) return kb;
      return {};
    default:
      return {};
  }
}

// The identity of a key Value, as key_identity gives for its bytes; empty
// for composite keys (never kept undecoded).
std::string_view value_identity(const Value& key, msgpack::sbuffer& buf, std::string& out) {
  switch (key.kind()) {
    case TypeKind::Int:
      return int_identity(key.as_int32(), out);
    case TypeKind::BigInt:
      return int_identity(key.as_int64(), out);
    case TypeKind::Double:
      return double_identity(key.as_double(), out);
    case TypeKind::Decimal:
      return double_identity(key.as_decimal().to_double(), out);
    case TypeKind::Null:
    case TypeKind::Boolean:
    case TypeKind::String:
    case TypeKind::Bytes:
    case TypeKind::Timestamp:
      return encode_into(buf, key);
    default:
      return {};
  }
}

}  // namespace

// ---- Encoded storage ------------------------------------------------------------

// What a probe of the arena points into: the key's msgpack bytes, or its
// identity.
struct KTable::Scratch {
  msgpack::sbuffer buf{64};
  std::string id;
};

// An append-only arena of entries [live flag][varint key length][varint
// value length][key msgpack][value msgpack] and an open-addressing index of
// 8-byte slots (linear probing): 0 empty, 1 deleted, otherwise a 24-bit hash
// tag over the entry's offset + 2. An update appends a new entry and clears
// the old one's live flag; the arena is compacted when superseded entries
// are more than half of it. Owned by its KTable, under the KTable's lock.
class KTable::Encoded {
 public:
  // `by_identity`: keys are indexed and matched by key_identity() (a lazily
  // restored decoded table, whose keys must match as Values do) instead of
  // their bytes.
  explicit Encoded(bool by_identity = false) : by_identity_(by_identity) {}

  struct Entry {
    std::string_view key;
    std::string_view value;
    size_t size = 0;  // bytes in the arena
    bool live = false;
  };

  size_t size() const { return live_; }
  bool by_identity() const { return by_identity_; }
  size_t bytes() const { return arena_.capacity() + slots_.capacity() * sizeof(uint64_t); }
  size_t arena_bytes() const { return arena_.size(); }

  Entry entry(size_t off) const {
    const char* p = arena_.data();
    size_t pos = off + 1;
    size_t klen = get_varint(p, pos);
    size_t vlen = get_varint(p, pos);
    Entry e;
    e.live = p[off] != 0;
    e.key = std::string_view(p + pos, klen);
    e.value = std::string_view(p + pos + klen, vlen);
    e.size = pos + klen + vlen - off;
    return e;
  }

  // The live entry of `key` (msgpack bytes; by_identity: its identity), if
  // any.
  std::optional<Entry> find(std::string_view key) const { return find(key, hash(key)); }
  // The same with `h`, hash_of(key), computed already.
  static uint64_t hash_of(std::string_view key) { return hash(key); }
  // Hints for a batch of lookups (KTable::find_local_many): the slot where
  // the search for hash `h` starts, then the entry that slot points to.
  void prefetch_slot(uint64_t h) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[h & (slots_.size() - 1)]);
  }
  void prefetch_entry(uint64_t h) const {
    if (slots_.empty()) return;
    const uint64_t s = slots_[h & (slots_.size() - 1)];
    if (s != kEmpty && s != kDeleted && tag_of(s) == tag(h))
      __builtin_prefetch(arena_.data() + offset_of(s));
  }
  std::optional<Entry> find(std::string_view key, uint64_t h) const {
    if (slots_.empty()) return std::nullopt;
    const size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      uint64_t s = slots_[i];
      if (s == kEmpty) return std::nullopt;
      if (s != kDeleted && tag_of(s) == tag(h)) {
        Entry e = entry(offset_of(s));
        if (same_key(e.key, key)) return e;
      }
    }
  }

  // Stores `key` (msgpack bytes) with `value`. by_identity: `id` is the
  // key's identity, `key` the bytes kept (and snapshotted).
  void put(std::string_view key, std::string_view value) { put(key, value, key); }
  void put(std::string_view key, std::string_view value, std::string_view id) {
    if ((live_ + deleted_ + 1) * 4 > slots_.size() * 3) rehash();
    const uint64_t h = hash(id);
    const size_t mask = slots_.size() - 1;
    std::optional<size_t> free_slot;
    size_t i = h & mask;
    for (;; i = (i + 1) & mask) {
      uint64_t s = slots_[i];
      if (s == kEmpty) break;
      if (s == kDeleted) {
        if (!free_slot) free_slot = i;
        continue;
      }
      if (tag_of(s) == tag(h)) {
        size_t old = offset_of(s);
        Entry e = entry(old);
        if (same_key(e.key, id)) {
          if (e.value.size() == value.size()) {
            // A value of the same length (a count, a sum, a row whose
            // fields kept their sizes) overwrites the old one where it
            // is: nothing appended, nothing left to compact. The stored
            // key stays, as below.
            std::memmove(arena_.data() + (e.value.data() - arena_.data()), value.data(),
                         value.size());
            return;
          }
          arena_[old] = 0;
          garbage_ += e.size;
          if (by_identity_ && e.key != key) {
            // An equal key of another kind (INT 1 for BIGINT 1): the stored
            // key stays, as a decoded map keeps its first key. A copy, since
            // appending may move the arena.
            const std::string kept(e.key);
            slots_[i] = slot(h, append(kept, value));
          } else {
            slots_[i] = slot(h, append(key, value));
          }
          maybe_compact();
          return;
        }
      }
    }
    if (free_slot) {
      i = *free_slot;
      --deleted_;
    }
    slots_[i] = slot(h, append(key, value));
    ++live_;
  }

  bool erase(std::string_view key) {
    if (slots_.empty()) return false;
    const uint64_t h = hash(key);
    const size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      uint64_t s = slots_[i];
      if (s == kEmpty) return false;
      if (s == kDeleted || tag_of(s) != tag(h)) continue;
      size_t off = offset_of(s);
      Entry e = entry(off);
      if (!same_key(e.key, key)) continue;
      arena_[off] = 0;
      garbage_ += e.size;
      slots_[i] = kDeleted;
      ++deleted_;
      --live_;
      maybe_compact();
      return true;
    }
  }

  // fn(key bytes, value bytes) for every live entry, in arena order (the
  // first `max` of them).
  template <typename Fn>
  void scan(Fn&& fn, size_t max = SIZE_MAX) const {
    for (size_t off = 0, seen = 0; off < arena_.size() && seen < max;) {
      Entry e = entry(off);
      if (e.live) {
        fn(e.key, e.value);
        ++seen;
      }
      off += e.size;
    }
  }

  void clear() {
    arena_.clear();
    arena_.shrink_to_fit();
    slots_.clear();
    slots_.shrink_to_fit();
    live_ = deleted_ = garbage_ = 0;
  }

  void reserve_arena(size_t bytes) { arena_.reserve(bytes); }

  // Scratch for the owning thread: encoding keys and values, decoding the
  // value find_local() returns.
  msgpack::sbuffer key_buf{64};
  msgpack::sbuffer value_buf{256};
  msgpack::zone zone;
  Value local;
  std::string id_buf;
  KTable::Scratch probe;
  // find_local_many: the batch's probes (one after another), their ends and
  // hashes, and the decoded values it returns.
  std::string many_probes;
  std::vector<size_t> many_ends;
  std::vector<uint64_t> many_hashes;
  std::vector<Value> many_values;

 private:
  static constexpr uint64_t kEmpty = 0;
  static constexpr uint64_t kDeleted = 1;
  static constexpr int kOffsetBits = 40;
  static constexpr uint64_t kOffsetMask = (uint64_t{1} << kOffsetBits) - 1;

  static uint64_t hash(std::string_view key) { return std::hash<std::string_view>{}(key); }
  // The hash of a stored key's bytes: of its identity when by_identity.
  uint64_t stored_hash(std::string_view key) const {
    return hash(by_identity_ ? stored_identity(key) : key);
  }
  bool same_key(std::string_view stored, std::string_view probe) const {
    if (!by_identity_) return stored == probe;
    return stored_identity(stored) == probe;
  }
  // A stored key's identity, in a buffer of the calling thread (readers on
  // other threads search under the shared lock).
  static std::string_view stored_identity(std::string_view key) {
    thread_local std::string buf;
    return key_identity(key, buf);
  }
  static uint64_t tag(uint64_t h) { return h >> kOffsetBits; }
  static uint64_t tag_of(uint64_t s) { return s >> kOffsetBits; }
  static size_t offset_of(uint64_t s) { return static_cast<size_t>((s & kOffsetMask) - 2); }
  static uint64_t slot(uint64_t h, size_t off) { return (tag(h) << kOffsetBits) | (off + 2); }

  size_t append(std::string_view key, std::string_view value) {
    size_t off = arena_.size();
    // Grows by a quarter, not twice over as std::string and push_back do:
    // a grown arena holds at most a fifth of spare bytes. Each byte is
    // copied about four times over the arena's growth.
    const size_t need = off + 21 + key.size() + value.size();
    if (need > arena_.capacity())
      arena_.reserve(std::max(need, arena_.capacity() + arena_.capacity() / 4 + 4096));
    arena_.push_back(1);
    put_varint(arena_, key.size());
    put_varint(arena_, value.size());
    arena_.insert(arena_.end(), key.begin(), key.end());
    arena_.insert(arena_.end(), value.begin(), value.end());
    return off;
  }

  // Rebuilds the index for the live entries at a load of at most 1/2.
  void rehash() {
    size_t cap = 16;
    while (cap < (live_ + 1) * 2) cap *= 2;
    rebuild_index(cap);
  }

  void rebuild_index(size_t cap) {
    slots_.assign(cap, kEmpty);
    deleted_ = 0;
    const size_t mask = cap - 1;
    for (size_t off = 0; off < arena_.size();) {
      Entry e = entry(off);
      if (e.live) {
        uint64_t h = stored_hash(e.key);
        size_t i = h & mask;
        while (slots_[i] != kEmpty) i = (i + 1) & mask;
        slots_[i] = slot(h, off);
      }
      off += e.size;
    }
  }

  void maybe_compact() {
    if (garbage_ < (size_t{1} << 16) || garbage_ * 2 < arena_.size()) return;
    std::vector<char> fresh;
    fresh.reserve(arena_.size() - garbage_ + 64);
    for (size_t off = 0; off < arena_.size();) {
      Entry e = entry(off);
      if (e.live) fresh.insert(fresh.end(), arena_.data() + off, arena_.data() + off + e.size);
      off += e.size;
    }
    arena_.swap(fresh);
    garbage_ = 0;
    size_t cap = 16;
    while (cap < (live_ + 1) * 2) cap *= 2;
    rebuild_index(cap);
  }

  const bool by_identity_;
  std::vector<char> arena_;  // exact reserve(), unlike std::string's
  std::vector<uint64_t> slots_;
  size_t live_ = 0;
  size_t deleted_ = 0;
  size_t garbage_ = 0;
};

// ---- Helpers ----------------------------------------------------------------------

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
  write_entries_header(buf, entries.size());
  msgpack::packer<msgpack::sbuffer> pk(buf);
  for (const auto& [k, v] : entries) {
    pack_value(pk, *k);
    pack_value(pk, *v);
  }
  return std::string(buf.data(), buf.size());
}

std::string entries_header(size_t pairs) {
  msgpack::sbuffer buf(16);
  write_entries_header(buf, pairs);
  return std::string(buf.data(), buf.size());
}

std::string encode_entries(const std::vector<std::pair<Value, Value>>& entries) {
  msgpack::sbuffer buf;
  write_entries_header(buf, entries.size());
  msgpack::packer<msgpack::sbuffer> pk(buf);
  for (const auto& [k, v] : entries) {
    pack_value(pk, k);
    pack_value(pk, v);
  }
  return std::string(buf.data(), buf.size());
}

Expected<bool> walk_entries(
    std::string_view bytes,
    const std::function<Expected<bool>(std::string_view key, std::string_view value)>& fn) {
  // [version, [k, v, ...]], read element by element so that a large table is
  // never unpacked as one object tree.
  const char* data = bytes.data();
  const size_t len = bytes.size();
  size_t off = 0;
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
  // The extent of the element at `off` (no allocation, whatever it claims).
  auto element = [&]() -> Expected<std::string_view> {
    size_t start = off;
    msgpack::null_visitor skip;
    bool ok = false;
    try {
      ok = msgpack::parse(data, len, off, skip);
    } catch (const std::exception& e) {
      return Error::fatal("table entries: bad element at byte " + std::to_string(start) + ": " +
                          e.what());
    }
    if (!ok) return Error::fatal("table entries: truncated at byte " + std::to_string(start));
    return std::string_view(data + start, off - start);
  };

  auto outer = array_header();
  if (!outer) return outer.error();
  if (*outer != 2) return Error::fatal("table entries: expected [version, entries]");
  if (off >= len || static_cast<uint8_t>(data[off]) > 0x7f) {
    return Error::fatal("table entries: bad format version");
  }
  uint64_t version = static_cast<uint8_t>(data[off++]);
  if (version != kEntriesFormatVersion) {
    return Error::fatal("table entries: unsupported format version " + std::to_string(version));
  }
  auto count = array_header();
  if (!count) return count.error();
  if (*count % 2 != 0) return Error::fatal("table entries: odd number of keys and values");
  if (*count > len - off) return Error::fatal("table entries: truncated");
  for (uint64_t i = 0; i < *count / 2; ++i) {
    auto k = element();
    if (!k) return k.error();
    auto v = element();
    if (!v) return v.error();
    auto r = fn(*k, *v);
    if (!r) return r.error();
  }
  if (off != len) return Error::fatal("table entries: trailing bytes after the entries");
  return true;
}

Expected<std::vector<std::pair<Value, Value>>> decode_entries(std::string_view bytes) {
  std::vector<std::pair<Value, Value>> out;
  msgpack::zone zone;
  auto r = walk_entries(bytes, [&](std::string_view kb, std::string_view vb) -> Expected<bool> {
    auto k = decode_element(zone, kb);
    if (!k) return Error::fatal("table entries: " + k.error().message);
    auto v = decode_element(zone, vb);
    if (!v) return Error::fatal("table entries: " + v.error().message);
    out.emplace_back(std::move(*k), std::move(*v));
    return true;
  });
  if (!r) return r.error();
  return out;
}

// ---- KTable -----------------------------------------------------------------------

KTable::KTable(std::string name, TableStorage storage, size_t encode_at)
    : name_(std::move(name)),
      storage_(storage),
      encode_at_(std::max<size_t>(encode_at, 1)),
      encoded_(storage == TableStorage::Encoded),
      enc_(storage == TableStorage::Encoded ? std::make_unique<Encoded>() : nullptr) {}

KTable::~KTable() = default;

size_t KTable::count_unlocked() const {
  return map_.size() + (enc_ ? enc_->size() : 0) + (lazy_ ? lazy_->size() : 0);
}

void KTable::scan(const std::function<void(const Value&, const Value&)>& fn) const {
  for (const auto& [k, v] : map_) fn(k, v);
  const Encoded* arena = enc_ ? enc_.get() : lazy_.get();
  if (!arena) return;
  msgpack::zone zone;
  arena->scan([&](std::string_view kb, std::string_view vb) {
    auto k = decode_element(zone, kb);
    auto v = decode_element(zone, vb);
    if (k && v) fn(*k, *v);  // validated when stored
  });
}

std::optional<std::string_view> KTable::lazy_value(const Value& key) const {
  // Caller holds the lock (shared or exclusive) or is the owner.
  if (!lazy_) return std::nullopt;
  msgpack::sbuffer buf(64);
  std::string id;
  std::string_view kid = value_identity(key, buf, id);
  if (kid.empty()) return std::nullopt;
  auto e = lazy_->find(kid);
  if (!e) return std::nullopt;
  return e->value;
}

std::string_view KTable::enc_probe(const Value& key, Scratch& scratch) const {
  return enc_->by_identity() ? value_identity(key, scratch.buf, scratch.id)
                             : encode_into(scratch.buf, key);
}

std::optional<std::string_view> KTable::enc_value(const Value& key) const {
  Scratch scratch;
  std::string_view probe = enc_probe(key, scratch);
  if (probe.empty()) return std::nullopt;
  auto e = enc_->find(probe);
  if (!e) return std::nullopt;
  return e->value;
}

std::optional<Value> KTable::get(const Value& key) const {
  // The shared lock first: an Auto table's storage changes under the
  // exclusive one.
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (!map_.empty()) {
    auto it = map_.find(key);
    if (it != map_.end()) return it->second;
  }
  // Encoded, or not decoded yet: decode a copy (promotion is the owner's).
  auto vb = enc_ ? enc_value(key) : lazy_value(key);
  if (!vb) return std::nullopt;
  auto v = from_msgpack(*vb);
  if (!v) return std::nullopt;  // validated when stored, or by the checkpoint's checksum
  return std::move(*v);
}

bool KTable::contains(const Value& key) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (!map_.empty() && map_.find(key) != map_.end()) return true;
  return (enc_ ? enc_value(key) : lazy_value(key)).has_value();
}

const Value* KTable::find_local(const Value& key) const {
  if (!enc_) {
    auto it = map_.find(key);
    if (it != map_.end()) return &it->second;
    if (!lazy_) return nullptr;
    return promote(key, nullptr);
  }
  if (!map_.empty()) {  // an Auto table's keys without an identity
    auto it = map_.find(key);
    if (it != map_.end()) return &it->second;
  }
  std::string_view probe = enc_probe(key, enc_->probe);
  if (probe.empty()) return nullptr;
  auto e = enc_->find(probe);
  if (!e) return nullptr;
  auto v = decode_element(enc_->zone, e->value);
  if (!v) return nullptr;  // validated when stored
  enc_->local = std::move(*v);
  return &enc_->local;
}

void KTable::find_encoded_many(const Value* const* keys, size_t n, const Value** out) const {
  // As for the decoded map (below), in chunks and three passes: each key's
  // probe and hash, its first slot prefetched; the entry that slot points
  // to prefetched; then the lookups and decodes, which find both in cache.
  Encoded& e = *enc_;
  if (e.many_values.size() < n) e.many_values.resize(n);
  constexpr size_t kChunk = 16;
  for (size_t start = 0; start < n; start += kChunk) {
    const size_t m = std::min(kChunk, n - start);
    const Value* const* k = keys + start;
    e.many_probes.clear();
    e.many_ends.clear();
    e.many_hashes.clear();
    for (size_t i = 0; i < m; ++i) {
      uint64_t h = 0;
      if (k[i] != nullptr) {
        std::string_view p = enc_probe(*k[i], e.probe);
        if (!p.empty()) {
          e.many_probes.append(p.data(), p.size());
          h = Encoded::hash_of(p);
          e.prefetch_slot(h);
        }
      }
      e.many_ends.push_back(e.many_probes.size());
      e.many_hashes.push_back(h);
    }
    for (size_t i = 0; i < m; ++i) e.prefetch_entry(e.many_hashes[i]);
    size_t begin = 0;
    for (size_t i = 0; i < m; ++i) {
      const size_t end = e.many_ends[i];
      const std::string_view probe(e.many_probes.data() + begin, end - begin);
      begin = end;
      out[start + i] = nullptr;
      if (k[i] == nullptr) continue;
      if (!map_.empty()) {  // an Auto table's keys without an identity
        auto it = map_.find(*k[i]);
        if (it != map_.end()) {
          out[start + i] = &it->second;
          continue;
        }
      }
      if (probe.empty()) continue;
      auto entry = e.find(probe, e.many_hashes[i]);
      if (!entry) continue;
      auto v = decode_element(e.zone, entry->value);
      if (!v) continue;  // validated when stored
      e.many_values[start + i] = std::move(*v);
      out[start + i] = &e.many_values[start + i];
    }
  }
}

bool KTable::find_local_many(const Value* const* keys, size_t n, const Value** out) const {
  if (enc_) {
    find_encoded_many(keys, n, out);
    return true;
  }
  // In chunks of kChunk keys, passes that each start the cache misses of
  // every key of the chunk before any waits for one (so many are in flight
  // at once): bucket numbers (hashes of the keys, which are in cache), then
  // each bucket's slot, then the node the slot points to (libstdc++ keeps
  // the node before a bucket's first, whose next pointer find reads), then
  // the first node, then, where that node is another key's, the next node,
  // then the lookups proper, which find what they touch in cache. Chunks
  // keep what the first passes bring in within L1. The passes before the
  // lookups are hints only: the last is find_local's.
  constexpr size_t kChunk = 32;
  buckets_scratch_.resize(2 * kChunk);
  size_t* buckets = buckets_scratch_.data();
  size_t* hashes = buckets + kChunk;
  for (size_t start = 0; start < n; start += kChunk) {
    const size_t m = std::min(kChunk, n - start);
    const Value* const* k = keys + start;
    if (m > 1 && map_.bucket_count() > 0) {
      // A bucket is the hash modulo the bucket count (libstdc++'s policy;
      // a hint, like what follows, so another library's only costs time).
      const size_t count = map_.bucket_count();
      for (size_t i = 0; i < m; ++i) {
        hashes[i] = k[i] != nullptr ? ValueHash{}(*k[i]) : 0;
        buckets[i] = hashes[i] % count;
      }
#if defined(__GLIBCXX__)
      // libstdc++'s table begins with its bucket array and the bucket
      // count: the array is used only where the count is found beside it.
      // Read for each chunk: the lookups of the chunk before may have
      // grown the table (a lazy table decodes what it finds into the map),
      // which moves the array.
      const void* const* slots = nullptr;
      {
        const void* first;
        size_t second;
        std::memcpy(&first, &map_, sizeof first);
        std::memcpy(&second, reinterpret_cast<const char*>(&map_) + sizeof first, sizeof second);
        if (second == count) slots = static_cast<const void* const*>(first);
      }
      if (slots != nullptr) {
        for (size_t i = 0; i < m; ++i) __builtin_prefetch(slots + buckets[i]);
        for (size_t i = 0; i < m; ++i) {
          if (k[i] != nullptr && slots[buckets[i]] != nullptr)
            __builtin_prefetch(slots[buckets[i]]);
        }
      }
#endif
      for (size_t i = 0; i < m; ++i) {
        if (k[i] == nullptr) continue;
        auto it = map_.cbegin(buckets[i]);
        if (it == map_.cend(buckets[i])) continue;
        // The entry, and just past it, where libstdc++ keeps the node's
        // cached hash code (the first thing find compares).
        const char* entry = reinterpret_cast<const char*>(&*it);
        __builtin_prefetch(entry);
        __builtin_prefetch(entry + sizeof(Map::value_type));
      }
#if defined(__GLIBCXX__)
      // A bucket's first node of another key (a collision, or a key not in
      // the table): find goes on to the next node of the table's one list,
      // whose cached hash tells whether it is still in the bucket, a miss of
      // its own. libstdc++'s node is the pointer to the next, the entry,
      // then the hash code.
      for (size_t i = 0; i < m; ++i) {
        if (k[i] == nullptr) continue;
        auto it = map_.cbegin(buckets[i]);
        if (it == map_.cend(buckets[i])) continue;
        const char* entry = reinterpret_cast<const char*>(&*it);
        size_t code;
        std::memcpy(&code, entry + sizeof(Map::value_type), sizeof code);
        if (code == hashes[i]) continue;
        const char* next;
        std::memcpy(&next, entry - sizeof(void*), sizeof next);
        if (next != nullptr) __builtin_prefetch(next + sizeof(void*) + sizeof(Map::value_type));
      }
#endif
    }
    for (size_t i = 0; i < m; ++i) out[start + i] = k[i] != nullptr ? find_local(*k[i]) : nullptr;
    // The join reads the rows it found next, and a decoded row keeps its
    // fields two pointers from the node: the shared vector, then its
    // elements, each a miss of its own in a table out of cache. Two more
    // passes bring them in, one level each, with the misses of the chunk's
    // rows in flight together.
    if (m > 1) {
      for (size_t i = 0; i < m; ++i) {
        const Value* v = out[start + i];
        if (v != nullptr && v->kind() == TypeKind::Struct) __builtin_prefetch(&v->as_struct());
      }
      for (size_t i = 0; i < m; ++i) {
        const Value* v = out[start + i];
        if (v == nullptr || v->kind() != TypeKind::Struct) continue;
        const StructFields& fields = v->as_struct();
        const char* data = reinterpret_cast<const char*>(fields.data());
        // Up to four fields' worth (the rows of most tables), every line
        // they touch.
        const size_t bytes = std::min<size_t>(fields.size() * sizeof(Field), 4 * sizeof(Field));
        if (bytes == 0) continue;
        for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(data + off);
        __builtin_prefetch(data + bytes - 1);
      }
    }
  }
  return true;
}

Value* KTable::promote(const Value& key, Value* replacement) const {
  // The owner only; lazy_ is set. Decodes the key's undecoded entry (the
  // stored key, so that its kind is the one written) and moves it into
  // map_, with `replacement` as its value when given (an overwrite decodes
  // no value). Readers on other threads hold the shared lock while they
  // search: the move takes the exclusive one, unless a Writer of this
  // thread holds it already.
  std::string_view kid = value_identity(key, lazy_->key_buf, lazy_->id_buf);
  if (kid.empty()) return nullptr;
  auto e = lazy_->find(kid);
  if (!e) return nullptr;
  auto k = decode_element(lazy_->zone, e->key);
  std::optional<Value> v;
  if (replacement == nullptr) {
    auto decoded = decode_element(lazy_->zone, e->value);
    if (decoded) v = std::move(*decoded);
  }
  std::unique_lock<std::shared_mutex> lock(mu_, std::defer_lock);
  if (!writing_) lock.lock();
  lazy_->erase(kid);
  Value* out = nullptr;
  if (k && (replacement != nullptr || v)) {
    auto [it, inserted] = map_.emplace(
        std::move(*k), replacement != nullptr ? std::move(*replacement) : std::move(*v));
    (void)inserted;
    out = &it->second;
  } else {
    // Undecodable bytes (the checkpoint's checksum vouched for them): the
    // key reads as absent, and is counted.
    ++undecodable_;
  }
  if (lazy_->size() == 0) lazy_.reset();
  return out;
}

std::vector<Value> KTable::keys() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<Value> out;
  out.reserve(count_unlocked());
  scan([&](const Value& k, const Value&) { out.push_back(k); });
  return out;
}

KTable::Map KTable::snapshot() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (!enc_ && !lazy_) return map_;
  Map out;
  out.reserve(count_unlocked());
  scan([&](const Value& k, const Value& v) { out.emplace(k, v); });
  return out;
}

KTableStats KTable::stats() const {
  KTableStats s;
  s.size = size();
  s.updates_applied = updates_.load(std::memory_order_relaxed);
  int64_t last = last_update_.load(std::memory_order_relaxed);
  if (last >= 0) s.last_update = last;
  return s;
}

size_t KTable::undecoded() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return lazy_ ? lazy_->size() : 0;
}

bool KTable::wait_for_keys(size_t n, std::chrono::milliseconds timeout) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (count_unlocked() >= n) return true;
  waiters_.fetch_add(1);
  bool ok = cv_.wait_for(lock, timeout, [&] { return count_unlocked() >= n; });
  waiters_.fetch_sub(1);
  return ok;
}

size_t KTable::bytes_estimate(size_t max_walk) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (enc_ && map_.empty()) return enc_->bytes();
  size_t n = map_.bucket_count() * sizeof(void*) + map_.size() * malloc_chunk(kNodeBytes);
  size_t walked = 0, heap = 0;
  for (auto it = map_.begin(); it != map_.end() && walked < max_walk; ++it, ++walked)
    heap += value_heap_bytes(it->first) + value_heap_bytes(it->second);
  // The entries not walked, at the walked ones' average.
  n += walked == map_.size() ? heap
                             : static_cast<size_t>(static_cast<double>(heap) / walked *
                                                   static_cast<double>(map_.size()));
  if (lazy_) n += lazy_->bytes();
  if (enc_) n += enc_->bytes();
  return n;
}

void KTable::set_auto_switch(size_t rows, size_t decoded_bytes) {
  encode_at_ = std::max<size_t>(rows, 1);
  encode_bytes_ = decoded_bytes;
  next_sample_ = 0;
}

size_t KTable::decoded_estimate(size_t n) {
  if (n >= next_sample_) {
    // Up to 64 rows: the decoded ones first, then (a restore not read
    // yet) the arena's, decoded here to be counted.
    constexpr size_t kSample = 64;
    size_t walked = 0, heap = 0;
    for (auto it = map_.begin(); it != map_.end() && walked < kSample; ++it, ++walked)
      heap += value_heap_bytes(it->first) + value_heap_bytes(it->second);
    if (walked < kSample && lazy_) {
      msgpack::zone zone;
      lazy_->scan(
          [&](std::string_view kb, std::string_view vb) {
            auto k = decode_element(zone, kb);
            auto v = decode_element(zone, vb);
            if (!k || !v) return;
            heap += value_heap_bytes(*k) + value_heap_bytes(*v);
            ++walked;
          },
          kSample - walked);
    }
    if (walked > 0) entry_bytes_ = malloc_chunk(kNodeBytes) + heap / walked;
    next_sample_ = std::max<size_t>(2 * n, kSample);
  }
  // The buckets a decoded map of n entries keeps (load factor 1).
  return std::max(map_.bucket_count(), n) * sizeof(void*) + n * entry_bytes_;
}

void KTable::check_switch() {
  const size_t n = count_unlocked();
  if (n >= encode_at_ ||
      (encode_bytes_ != SIZE_MAX && n > 0 && decoded_estimate(n) >= encode_bytes_)) {
    switch_to_encoded();
  }
}

void KTable::switch_to_encoded() {
  // The restored arena is indexed by identity already: it becomes the
  // storage, and the decoded rows join it.
  std::unique_ptr<Encoded> enc = lazy_ ? std::move(lazy_) : std::make_unique<Encoded>(true);
  Scratch key;
  msgpack::sbuffer value(256);
  for (auto it = map_.begin(); it != map_.end();) {
    std::string_view kb = encode_into(key.buf, it->first);
    std::string_view id = key_identity(kb, key.id);
    if (id.empty()) {  // composite or DECIMAL: stays decoded
      ++it;
      continue;
    }
    enc->put(kb, encode_into(value, it->second), id);
    it = map_.erase(it);
  }
  if (map_.empty()) Map().swap(map_);  // its buckets too
  enc_ = std::move(enc);
  encoded_.store(true, std::memory_order_release);
}

KTable::Writer::Writer(KTable& table) : table_(table), lock_(table.mu_) {
  table_.writing_ = true;
}

KTable::Writer::~Writer() {
  table_.writing_ = false;
  table_.size_.store(table_.count_unlocked(), std::memory_order_release);
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
  Map& map = table_.map_;
  if (auto* enc = table_.enc_.get()) {
    std::string_view kb = encode_into(enc->key_buf, key);
    if (!enc->by_identity()) {
      enc->put(kb, encode_into(enc->value_buf, value));
    } else if (std::string_view id = key_identity(kb, enc->id_buf); !id.empty()) {
      if (!map.empty()) map.erase(key);  // an equal DECIMAL key
      enc->put(kb, encode_into(enc->value_buf, value), id);
    } else {
      // Without an identity (composite, DECIMAL): decoded, in map_. A
      // DECIMAL key may equal an integer one in the arena.
      std::string_view probe = value_identity(key, enc->probe.buf, enc->probe.id);
      auto it = map.find(key);
      std::optional<Encoded::Entry> e;
      if (it == map.end() && !probe.empty()) e = enc->find(probe);
      if (it != map.end()) {
        it->second = std::move(value);
      } else if (e) {
        const std::string kept(e->key);  // the arena may move as it grows
        enc->put(kept, encode_into(enc->value_buf, value), probe);
      } else {
        map.emplace(key, std::move(value));
      }
    }
  } else {
    auto it = map.find(key);
    if (it != map.end()) {
      it->second = std::move(value);
    } else if (!table_.lazy_ || table_.promote(key, &value) == nullptr) {
      map.emplace(key, std::move(value));
      table_.maybe_switch();
    }
  }
  table_.note_change(key);
  ++applied_;
}

void KTable::Writer::erase(const Value& key) {
  if (auto* enc = table_.enc_.get()) {
    if (!table_.map_.empty()) table_.map_.erase(key);
    std::string_view probe = table_.enc_probe(key, enc->probe);
    if (!probe.empty()) enc->erase(probe);
  } else if (table_.map_.erase(key) == 0 && table_.lazy_) {
    auto& lazy = *table_.lazy_;
    std::string_view kid = value_identity(key, lazy.key_buf, lazy.id_buf);
    if (!kid.empty()) lazy.erase(kid);
    if (lazy.size() == 0) table_.lazy_.reset();
  }
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

void KTable::apply(const Value& key, Value value) {
  writer().apply(key, std::move(value));
}

void KTable::clear() {
  Writer w(*this);
  if (track_changes_) scan([&](const Value& k, const Value&) { note_change(k); });
  map_.clear();
  lazy_.reset();
  if (enc_) enc_->clear();
  if (storage_ == TableStorage::Auto) {  // small again: decoded until the switch
    next_sample_ = 0;
    enc_.reset();
    encoded_.store(false, std::memory_order_release);
  }
}

void KTable::set_change_tracking(bool on) {
  track_changes_ = on;
  if (!on) changed_.clear();
}

std::string KTable::serialize() const {
  // The owning thread is the only writer, so reading without the lock is
  // safe here; readers on other threads only share.
  changed_.clear();
  const Encoded* arena = enc_ ? enc_.get() : lazy_.get();
  msgpack::sbuffer buf(arena ? 16 : 1024);
  write_entries_header(buf, count_unlocked());
  msgpack::packer<msgpack::sbuffer> pk(buf);
  for (const auto& [k, v] : map_) {
    pack_value(pk, k);
    pack_value(pk, v);
  }
  if (!arena) return std::string(buf.data(), buf.size());
  // An arena holds its entries' bytes already: copy the live ones.
  std::string out;
  out.reserve(buf.size() + arena->arena_bytes());
  out.append(buf.data(), buf.size());
  arena->scan([&](std::string_view k, std::string_view v) {
    out.append(k.data(), k.size());
    out.append(v.data(), v.size());
  });
  return out;
}

std::function<std::string()> KTable::serialize_deferred() const {
  // Only the decoded rows are worth deferring: an arena's bytes are copied
  // as they are, at memcpy's speed, either way.
  if (map_.empty()) return StateStore::serialize_deferred();
  changed_.clear();
  auto rows = std::make_shared<std::vector<std::pair<Value, Value>>>();
  rows->reserve(map_.size());  // one walk of the nodes, not a count first
  for (const auto& kv : map_) rows->emplace_back(kv.first, kv.second);
  const size_t count = count_unlocked();
  std::string arena_bytes;
  if (const Encoded* arena = enc_ ? enc_.get() : lazy_.get()) {
    arena_bytes.reserve(arena->arena_bytes());
    arena->scan([&](std::string_view k, std::string_view v) {
      arena_bytes.append(k.data(), k.size());
      arena_bytes.append(v.data(), v.size());
    });
  }
  // The same bytes as serialize(): the header counts every entry, the
  // decoded rows come first, the arena's after them.
  return [rows = std::move(rows), count, tail = std::move(arena_bytes)]() mutable {
    msgpack::sbuffer buf(1024);
    write_entries_header(buf, count);
    msgpack::packer<msgpack::sbuffer> pk(buf);
    for (const auto& [k, v] : *rows) {
      pack_value(pk, k);
      pack_value(pk, v);
    }
    rows.reset();  // the copies go as soon as they are packed
    std::string out;
    out.reserve(buf.size() + tail.size());
    out.append(buf.data(), buf.size());
    out.append(tail);
    std::string().swap(tail);
    return out;
  };
}

std::string KTable::serialize_changes() const {
  msgpack::sbuffer buf;
  write_entries_header(buf, changed_.size());
  msgpack::packer<msgpack::sbuffer> pk(buf);
  for (const Value& k : changed_) {
    pack_value(pk, k);
    auto it = map_.find(k);
    if (it != map_.end()) {
      pack_value(pk, it->second);
    } else if (auto vb = enc_ ? enc_value(k) : lazy_value(k)) {
      buf.write(vb->data(), vb->size());
    } else {
      pk.pack_nil();
    }
  }
  changed_.clear();
  return std::string(buf.data(), buf.size());
}

Expected<bool> KTable::restore(std::string_view bytes) {
  Writer w(*this);
  map_.clear();
  lazy_.reset();
  changed_.clear();
  if (storage_ == TableStorage::Auto) {  // decides again once restored
    next_sample_ = 0;
    enc_.reset();
    encoded_.store(false, std::memory_order_release);
  }
  // Both storages keep the snapshot's bytes in an arena: the Encoded
  // storage for good, the Decoded one until the owner first reads or
  // overwrites a key (promote); decoding a million values here would
  // dominate the restore. Keys without a byte identity (composite,
  // decimal) are decoded now.
  Encoded* arena = enc_.get();
  if (arena) {
    arena->clear();
  } else {
    lazy_ = std::make_unique<Encoded>(true);
    arena = lazy_.get();
  }
  arena->reserve_arena(bytes.size());
  msgpack::zone zone;
  std::string id;
  auto r = walk_entries(bytes, [&](std::string_view kb, std::string_view vb) -> Expected<bool> {
    if (vb.size() == 1 && vb[0] == kMsgpackNil) return true;  // a deletion
    if (enc_) {
      // walk_entries checked the msgpack structure; the bytes are stored as
      // they are. The checkpoint's checksum vouches for them; a value
      // runtime could still not decode would read as absent.
      enc_->put(kb, vb);
      return true;
    }
    std::string_view kid = key_identity(kb, id);
    if (!kid.empty()) {
      lazy_->put(kb, vb, kid);
      return true;
    }
    auto k = decode_element(zone, kb);
    if (!k) return k.error();
    auto v = decode_element(zone, vb);
    if (!v) return v.error();
    map_.insert_or_assign(std::move(*k), std::move(*v));
    return true;
  });
  if (!r) {
    map_.clear();
    lazy_.reset();
    if (enc_) enc_->clear();
    return Error::fatal("restore of table " + name_ + ": " + r.error().message);
  }
  if (lazy_ && lazy_->size() == 0) lazy_.reset();
  maybe_switch();
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
