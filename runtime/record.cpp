#include "runtime/record.hpp"

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

const std::string& TopicName::empty_name() {
  static const auto* empty = new std::string();
  return *empty;
}

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

}  // namespace rivulet
