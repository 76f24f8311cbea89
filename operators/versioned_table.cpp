#include "operators/versioned_table.hpp"

#include <algorithm>
#include <limits>

#include <msgpack.hpp>

#include "runtime/msgpack_value.hpp"

namespace rivulet {

namespace {
constexpr uint32_t kFormatVersion = 1;
}  // namespace

VersionedTable::VersionedTable(std::string name, int64_t history_retention_ms)
    : name_(std::move(name)), retention_ms_(std::max<int64_t>(0, history_retention_ms)) {}

TimestampMs VersionedTable::cutoff() const {
  if (!observed_) return std::numeric_limits<TimestampMs>::min();
  return *observed_ - retention_ms_;
}

void VersionedTable::prune(std::vector<Version>& vs, TimestampMs c) {
  // Keep the version valid at the cutoff (the last one starting at or
  // before it) and everything newer.
  auto after = std::upper_bound(vs.begin(), vs.end(), c,
                                [](TimestampMs t, const Version& v) { return t < v.from; });
  if (after != vs.begin()) {
    auto valid_at_cutoff = after - 1;
    version_count_ -= static_cast<size_t>(valid_at_cutoff - vs.begin());
    vs.erase(vs.begin(), valid_at_cutoff);
  }
  // A tombstone valid at the cutoff answers like no version at all.
  if (!vs.empty() && vs.front().from <= c && vs.front().value.is_null()) {
    vs.erase(vs.begin());
    --version_count_;
  }
}

VersionedTable::PutResult VersionedTable::put(const Value& key, TimestampMs ts,
                                              const Value& value) {
  if (ts < cutoff()) {
    ++too_old_;
    return PutResult::TooOld;
  }
  if (!observed_ || ts > *observed_) observed_ = ts;
  auto it = versions_.find(key);
  if (it == versions_.end()) {
    if (value.is_null()) return PutResult::Latest;  // deleting an absent key: nothing to keep
    it = versions_.emplace(key, std::vector<Version>{}).first;
  }
  std::vector<Version>& vs = it->second;
  auto pos = std::lower_bound(vs.begin(), vs.end(), ts,
                              [](const Version& v, TimestampMs t) { return v.from < t; });
  bool latest = pos == vs.end() || (pos->from == ts && pos + 1 == vs.end());
  if (pos != vs.end() && pos->from == ts) {
    pos->value = value;
  } else {
    vs.insert(pos, Version{ts, value});
    ++version_count_;
  }
  prune(vs, cutoff());
  if (vs.empty()) versions_.erase(it);
  // Keys that are no longer written keep old versions until swept: sweep
  // everything once per as many puts as there are keys (amortized O(1)).
  if (++puts_since_sweep_ >= std::max<size_t>(1024, versions_.size())) {
    puts_since_sweep_ = 0;
    TimestampMs c = cutoff();
    for (auto k = versions_.begin(); k != versions_.end();) {
      prune(k->second, c);
      k = k->second.empty() ? versions_.erase(k) : std::next(k);
    }
  }
  return latest ? PutResult::Latest : PutResult::History;
}

const Value* VersionedTable::find_as_of(const Value& key, TimestampMs ts) const {
  if (ts < cutoff()) return nullptr;
  auto it = versions_.find(key);
  if (it == versions_.end()) return nullptr;
  const std::vector<Version>& vs = it->second;
  auto after = std::upper_bound(vs.begin(), vs.end(), ts,
                                [](TimestampMs t, const Version& v) { return t < v.from; });
  if (after == vs.begin()) return nullptr;
  const Value& v = (after - 1)->value;
  return v.is_null() ? nullptr : &v;
}

std::vector<VersionedTable::Version> VersionedTable::versions(const Value& key) const {
  auto it = versions_.find(key);
  return it == versions_.end() ? std::vector<Version>{} : it->second;
}

// [format version, retention ms, observed time or nil,
//  [key, [from, value, from, value, ...], key, [...], ...]]
std::string VersionedTable::serialize() const {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(4);
  pk.pack_uint32(kFormatVersion);
  pk.pack_int64(retention_ms_);
  if (observed_) {
    pk.pack_int64(*observed_);
  } else {
    pk.pack_nil();
  }
  pk.pack_array(static_cast<uint32_t>(versions_.size() * 2));
  for (const auto& [key, vs] : versions_) {
    pack_value(pk, key);
    pk.pack_array(static_cast<uint32_t>(vs.size() * 2));
    for (const Version& v : vs) {
      pk.pack_int64(v.from);
      pack_value(pk, v.value);
    }
  }
  return std::string(buf.data(), buf.size());
}

Expected<bool> VersionedTable::restore(std::string_view bytes) {
  versions_.clear();
  version_count_ = 0;
  observed_.reset();
  auto fail = [&](const std::string& why) -> Expected<bool> {
    versions_.clear();
    version_count_ = 0;
    observed_.reset();
    return Error::fatal("versioned table " + name_ + ": " + why);
  };
  try {
    std::size_t off = 0;
    msgpack::object_handle oh = msgpack::unpack(bytes.data(), bytes.size(), off, nullptr,
                                                nullptr, unpack_limits(bytes.size()));
    const msgpack::object& o = oh.get();
    if (o.type != msgpack::type::ARRAY || o.via.array.size != 4) return fail("not a snapshot");
    const msgpack::object* f = o.via.array.ptr;
    if (f[0].as<uint32_t>() != kFormatVersion)
      return fail("unknown format version " + std::to_string(f[0].as<uint32_t>()));
    // The retention configured now wins over the one saved: it is only
    // used to prune, and a shorter one prunes at the next put.
    if (!f[2].is_nil()) observed_ = f[2].as<int64_t>();
    if (f[3].type != msgpack::type::ARRAY || f[3].via.array.size % 2 != 0)
      return fail("bad entries");
    const msgpack::object* e = f[3].via.array.ptr;
    for (uint32_t i = 0; i < f[3].via.array.size; i += 2) {
      auto key = unpack_value(e[i]);
      if (!key) return fail("bad key: " + key.error().message);
      const msgpack::object& list = e[i + 1];
      if (list.type != msgpack::type::ARRAY || list.via.array.size % 2 != 0)
        return fail("bad versions");
      std::vector<Version> vs;
      vs.reserve(list.via.array.size / 2);
      for (uint32_t j = 0; j < list.via.array.size; j += 2) {
        auto value = unpack_value(list.via.array.ptr[j + 1]);
        if (!value) return fail("bad value: " + value.error().message);
        TimestampMs from = list.via.array.ptr[j].as<int64_t>();
        if (!vs.empty() && from <= vs.back().from) return fail("versions out of order");
        vs.push_back(Version{from, std::move(*value)});
      }
      version_count_ += vs.size();
      if (!vs.empty()) versions_.emplace(std::move(*key), std::move(vs));
    }
  } catch (const std::exception& ex) {
    return fail(std::string("undecodable: ") + ex.what());
  }
  return true;
}

}  // namespace rivulet
