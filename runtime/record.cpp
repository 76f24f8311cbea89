#include "runtime/record.hpp"

#include <mutex>
#include <unordered_set>

namespace rivulet {

namespace {

struct Interned {
  std::mutex mutex;
  // Node-based: the strings never move, and are never erased.
  std::unordered_set<std::string> names;
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
  return &*pool.names.emplace(name).first;
}

}  // namespace rivulet
