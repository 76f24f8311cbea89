#include "runtime/record.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace rivulet {

namespace {

struct Interned {
  std::mutex mutex;
  // Each name owned once and never erased; the key views the owned copy,
  // so looking a known name up allocates nothing.
  std::unordered_map<std::string_view, std::unique_ptr<const std::string>> names;
};

Interned& interned() {
  static auto* pool = new Interned();  // never destroyed: records may outlive statics
  return *pool;
}

}  // namespace

const std::string* TopicName::intern(std::string_view name) {
  if (name.empty()) return &empty_name();
  Interned& pool = interned();
  std::lock_guard<std::mutex> lock(pool.mutex);
  auto it = pool.names.find(name);
  if (it == pool.names.end()) {
    auto owned = std::make_unique<const std::string>(name);
    const std::string_view key = *owned;
    it = pool.names.emplace(key, std::move(owned)).first;
  }
  return it->second.get();
}

void ByteArena::reserve(size_t bytes) {
  if (bytes <= left_) return;
  chunks_.emplace_back(new char[bytes]);  // not make_unique: no zeroing, every byte is copied over
  next_ = chunks_.back().get();
  left_ = bytes;
  allocated_ += bytes;
}

std::string_view ByteArena::copy(const void* data, size_t size) {
  if (size == 0) return std::string_view();
  // Bytes past the reservation go to a new chunk of at least 4 KiB, so that
  // a run of small unreserved copies still allocates rarely.
  if (size > left_) reserve(std::max<size_t>(size, 4096));
  char* at = next_;
  std::memcpy(at, data, size);
  next_ += size;
  left_ -= size;
  return std::string_view(at, size);
}

size_t write_input_text(const SourcePosition& at, char* out) {
  const std::string& topic = at.topic.str();
  std::memcpy(out, topic.data(), topic.size());
  char* p = out + topic.size();
  *p = ':';
  p = std::to_chars(p + 1, p + 12, at.partition.value()).ptr;
  *p = ':';
  p = std::to_chars(p + 1, p + 21, at.offset.value()).ptr;
  return static_cast<size_t>(p - out);
}

std::string input_text(const SourcePosition& at) {
  std::string text(at.topic.size() + kInputTextExtra, '\0');
  text.resize(write_input_text(at, text.data()));
  return text;
}

Headers sent_headers(const OutputRecord& o) {
  Headers all;
  all.reserve(o.headers.size() + (o.input ? 1 : 0));
  if (o.input) all.push_back(Header{kInputHeader, input_text(*o.input)});
  all.insert(all.end(), o.headers.begin(), o.headers.end());
  return all;
}

}  // namespace rivulet
