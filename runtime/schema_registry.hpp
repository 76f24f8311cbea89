#pragma once
// A schema registry as Confluent's serializers use one: schemas by id,
// the latest schema of a subject ("<topic>-value"), and registration of
// a writer's schema under a subject. The AVRO and JSON_SR formats read and
// write the registry's wire format (runtime/avro_wire.hpp,
// runtime/json_sr_wire.hpp) through it. Schemas have a type, as in
// Confluent's registry: "AVRO" (its default), "JSON" (JSON Schema) or
// "PROTOBUF".
//
// The process has at most one (schema.registry.url, set at start by the
// command-line tools: connectors/schema_registry_client.hpp); with none,
// AVRO values are read and written as JSON, as before. Implementations
// are thread-safe: the tasks' codecs ask from their own threads.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "runtime/error.hpp"

namespace rivulet {

inline constexpr const char* kAvroSchemaType = "AVRO";

// A schema's reference to another (a .proto's import): the name it is
// imported by, and the subject and version the registry keeps it under.
struct SchemaReference {
  std::string name;  // "event.proto"
  std::string subject;
  int version = 0;
  bool operator==(const SchemaReference& o) const {
    return name == o.name && subject == o.subject && version == o.version;
  }
};

struct RegisteredSchema {
  int id = 0;
  int version = 0;                     // 0 when looked up by id
  std::string schema;                  // the schema's text (Avro, JSON Schema: JSON)
  std::string type = kAvroSchemaType;  // "AVRO", "JSON" or "PROTOBUF"
  std::vector<SchemaReference> references;
};

class SchemaRegistry {
 public:
  virtual ~SchemaRegistry() = default;
  // The schema registered under `id` (its version 0).
  virtual Expected<RegisteredSchema> schema_by_id(int id) = 0;
  // The latest version of `subject`; one version of it.
  virtual Expected<RegisteredSchema> latest(const std::string& subject) = 0;
  virtual Expected<RegisteredSchema> version(const std::string& subject, int version) = 0;
  // Registers `schema`, of `type`, under `subject` (the registry checks
  // its compatibility) and returns its id; the same schema again returns
  // the same id. (Every override repeats the default.)
  virtual Expected<int> register_schema(const std::string& subject, const std::string& schema,
                                        const std::string& type = kAvroSchemaType) = 0;
  // What ASSERT SCHEMA asks: the subjects `id` is registered under
  // (Confluent's GET /schemas/ids/{id}/subjects) and `subject`'s versions
  // (GET /subjects/{subject}/versions), each empty when the registry does
  // not know the id (subject); an error only when it cannot say.
  virtual Expected<std::vector<std::string>> subjects_of(int id) = 0;
  virtual Expected<std::vector<int>> versions_of(const std::string& subject) = 0;
  // Where it is, for messages ("http://127.0.0.1:8081").
  virtual std::string where() const = 0;
};

// The texts of the schemas `references` name and of theirs in turn, by the
// names they are imported by (a .proto file's imports), each asked of the
// registry by subject and version. At most 64 in all; a cycle is an error.
Expected<std::vector<std::pair<std::string, std::string>>> referenced_schemas(
    SchemaRegistry& registry, const std::vector<SchemaReference>& references);

// Caches what never changes (schema by id, the id of a registered schema)
// in front of `inner`: a task asks the registry once per schema id.
std::shared_ptr<SchemaRegistry> cached_schema_registry(std::shared_ptr<SchemaRegistry> inner);

// A registry in memory: ids from 1, versions per subject, no
// compatibility check. For tests and the in-process test driver.
class MemorySchemaRegistry final : public SchemaRegistry {
 public:
  Expected<RegisteredSchema> schema_by_id(int id) override;
  Expected<RegisteredSchema> latest(const std::string& subject) override;
  Expected<RegisteredSchema> version(const std::string& subject, int version) override;
  Expected<int> register_schema(const std::string& subject, const std::string& schema,
                                const std::string& type = kAvroSchemaType) override;
  Expected<std::vector<std::string>> subjects_of(int id) override;
  Expected<std::vector<int>> versions_of(const std::string& subject) override {
    return versions(subject);
  }
  std::string where() const override { return "memory"; }
  // Registers a schema that references others (the same text, type and
  // references again: the same id).
  Expected<int> register_with_references(const std::string& subject, const std::string& schema,
                                         const std::string& type,
                                         std::vector<SchemaReference> references);
  // Registers `schema` under `subject` with the id given (as a registry
  // in import mode does; ksqlDB's test files name their schemas' ids).
  void add(const std::string& subject, int id, const std::string& schema,
           const std::string& type = kAvroSchemaType, std::vector<SchemaReference> references = {});
  // The subjects, sorted; `subject`'s versions, in order (empty: unknown).
  std::vector<std::string> subjects();
  std::vector<int> versions(const std::string& subject);

 private:
  std::mutex mutex_;
  struct Stored {
    std::string schema, type;
    std::vector<SchemaReference> references;
  };
  RegisteredSchema entry(int id, int version) const;  // under mutex_
  std::map<int, Stored> by_id_;
  std::map<std::string, std::map<int, int>> versions_;  // subject -> version -> id
};

// The process's registry; nullptr when none is configured.
std::shared_ptr<SchemaRegistry> schema_registry();
// Sets (or, with nullptr, clears) the process's registry.
void set_schema_registry(std::shared_ptr<SchemaRegistry> registry);

}  // namespace rivulet
