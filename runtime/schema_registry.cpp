#include "runtime/schema_registry.hpp"

#include <algorithm>
#include <functional>
#include <optional>
#include <unordered_map>

namespace rivulet {

namespace {

class CachedSchemaRegistry final : public SchemaRegistry {
 public:
  explicit CachedSchemaRegistry(std::shared_ptr<SchemaRegistry> inner) : inner_(std::move(inner)) {}

  Expected<RegisteredSchema> schema_by_id(int id) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (auto it = by_id_.find(id); it != by_id_.end()) return it->second;
    }
    auto schema = inner_->schema_by_id(id);  // not under the lock: a slow registry
    if (!schema) return schema;
    std::lock_guard<std::mutex> lock(mutex_);
    by_id_.emplace(id, *schema);
    return schema;
  }

  Expected<RegisteredSchema> latest(const std::string& subject) override {
    return inner_->latest(subject);  // changes as schemas evolve: never cached
  }

  Expected<RegisteredSchema> version(const std::string& subject, int version) override {
    const std::string key = subject + '\n' + std::to_string(version);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (auto it = versions_.find(key); it != versions_.end()) return it->second;
    }
    auto found = inner_->version(subject, version);  // a version never changes
    if (!found) return found;
    std::lock_guard<std::mutex> lock(mutex_);
    versions_.emplace(key, *found);
    return found;
  }

  Expected<int> register_schema(const std::string& subject, const std::string& schema,
                                const std::string& type = kAvroSchemaType) override {
    const std::string key = subject + '\n' + type + '\n' + schema;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (auto it = ids_.find(key); it != ids_.end()) return it->second;
    }
    auto id = inner_->register_schema(subject, schema, type);
    if (!id) return id;
    std::lock_guard<std::mutex> lock(mutex_);
    ids_.emplace(key, *id);
    by_id_.emplace(*id, RegisteredSchema{*id, 0, schema, type, {}});
    return id;
  }

  // Both change as schemas are registered: never cached.
  Expected<std::vector<std::string>> subjects_of(int id) override {
    return inner_->subjects_of(id);
  }
  Expected<std::vector<int>> versions_of(const std::string& subject) override {
    return inner_->versions_of(subject);
  }

  std::string where() const override { return inner_->where(); }

 private:
  std::shared_ptr<SchemaRegistry> inner_;
  std::mutex mutex_;
  std::unordered_map<int, RegisteredSchema> by_id_;
  std::unordered_map<std::string, RegisteredSchema> versions_;  // "subject\nversion"
  std::unordered_map<std::string, int> ids_;
};

std::mutex& process_mutex() {
  static std::mutex m;
  return m;
}

std::shared_ptr<SchemaRegistry>& process_registry() {
  static std::shared_ptr<SchemaRegistry> r;
  return r;
}

}  // namespace

std::shared_ptr<SchemaRegistry> cached_schema_registry(std::shared_ptr<SchemaRegistry> inner) {
  return std::make_shared<CachedSchemaRegistry>(std::move(inner));
}

RegisteredSchema MemorySchemaRegistry::entry(int id, int version) const {
  const Stored& s = by_id_.at(id);
  return RegisteredSchema{id, version, s.schema, s.type, s.references};
}

Expected<RegisteredSchema> MemorySchemaRegistry::schema_by_id(int id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!by_id_.count(id))
    return Error::fatal("schema " + std::to_string(id) + " not found (registry: memory)");
  return entry(id, 0);
}

Expected<RegisteredSchema> MemorySchemaRegistry::latest(const std::string& subject) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = versions_.find(subject);
  if (it == versions_.end() || it->second.empty())
    return Error::fatal("subject '" + subject + "' not found (registry: memory)");
  const auto& [version, id] = *it->second.rbegin();
  return entry(id, version);
}

Expected<int> MemorySchemaRegistry::register_schema(const std::string& subject,
                                                    const std::string& schema,
                                                    const std::string& type) {
  return register_with_references(subject, schema, type, {});
}

Expected<int> MemorySchemaRegistry::register_with_references(
    const std::string& subject, const std::string& schema, const std::string& type,
    std::vector<SchemaReference> references) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto same = [&](int id) {
    const Stored& s = by_id_.at(id);
    return s.schema == schema && s.type == type && s.references == references;
  };
  auto& versions = versions_[subject];
  for (const auto& [version, id] : versions)
    if (same(id)) return id;
  int id = 0;
  for (const auto& [known, stored] : by_id_)
    if (same(known)) id = known;  // the same schema under another subject keeps its id
  if (id == 0) {
    id = by_id_.empty() ? 1 : by_id_.rbegin()->first + 1;
    by_id_.emplace(id, Stored{schema, type, std::move(references)});
  }
  versions.emplace(versions.empty() ? 1 : versions.rbegin()->first + 1, id);
  return id;
}

void MemorySchemaRegistry::add(const std::string& subject, int id, const std::string& schema,
                               const std::string& type, std::vector<SchemaReference> references) {
  std::lock_guard<std::mutex> lock(mutex_);
  by_id_[id] = Stored{schema, type, std::move(references)};
  auto& versions = versions_[subject];
  versions.emplace(versions.empty() ? 1 : versions.rbegin()->first + 1, id);
}

std::vector<std::string> MemorySchemaRegistry::subjects() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [subject, versions] : versions_)
    if (!versions.empty()) out.push_back(subject);
  return out;
}

Expected<std::vector<std::string>> MemorySchemaRegistry::subjects_of(int id) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [subject, versions] : versions_) {
    bool found = false;
    for (const auto& [version, known] : versions) found = found || known == id;
    if (found) out.push_back(subject);
  }
  return out;
}

std::vector<int> MemorySchemaRegistry::versions(const std::string& subject) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<int> out;
  if (auto it = versions_.find(subject); it != versions_.end())
    for (const auto& [version, id] : it->second) out.push_back(version);
  return out;
}

Expected<RegisteredSchema> MemorySchemaRegistry::version(const std::string& subject, int version) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = versions_.find(subject);
  if (it == versions_.end() || !it->second.count(version))
    return Error::fatal("subject '" + subject + "' has no version " + std::to_string(version) +
                        " (registry: memory)");
  return entry(it->second.at(version), version);
}

Expected<std::vector<std::pair<std::string, std::string>>> referenced_schemas(
    SchemaRegistry& registry, const std::vector<SchemaReference>& references) {
  std::vector<std::pair<std::string, std::string>> out;
  // Depth first, each name once: an import's own imports before it.
  std::vector<std::string> path;
  std::function<std::optional<Error>(const std::vector<SchemaReference>&)> visit =
      [&](const std::vector<SchemaReference>& refs) -> std::optional<Error> {
    for (const SchemaReference& r : refs) {
      if (std::find(path.begin(), path.end(), r.name) != path.end())
        return Error::fatal("schema references form a cycle at '" + r.name + "'");
      bool known = false;
      for (const auto& [name, text] : out) known = known || name == r.name;
      if (known) continue;
      if (out.size() >= 64) return Error::fatal("more than 64 schema references");
      auto found = registry.version(r.subject, r.version);
      if (!found)
        return Error::fatal("schema reference '" + r.name + "' (subject " + r.subject +
                            ", version " + std::to_string(r.version) +
                            "): " + found.error().message);
      path.push_back(r.name);
      if (auto e = visit(found->references)) return e;
      path.pop_back();
      out.emplace_back(r.name, found->schema);
    }
    return std::nullopt;
  };
  if (auto e = visit(references)) return *e;
  return out;
}

std::shared_ptr<SchemaRegistry> schema_registry() {
  std::lock_guard<std::mutex> lock(process_mutex());
  return process_registry();
}

void set_schema_registry(std::shared_ptr<SchemaRegistry> registry) {
  std::lock_guard<std::mutex> lock(process_mutex());
  process_registry() = std::move(registry);
}

}  // namespace rivulet
