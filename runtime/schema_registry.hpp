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

struct RegisteredSchema {
  int id = 0;
  int version = 0;                     // 0 when looked up by id
  std::string schema;                  // the schema's text (Avro, JSON Schema: JSON)
  std::string type = kAvroSchemaType;  // "AVRO", "JSON" or "PROTOBUF"
};

class SchemaRegistry {
 public:
  virtual ~SchemaRegistry() = default;
  // The schema registered under `id` (its version 0).
  virtual Expected<RegisteredSchema> schema_by_id(int id) = 0;
  // The latest version of `subject`.
  virtual Expected<RegisteredSchema> latest(const std::string& subject) = 0;
  // Registers `schema`, of `type`, under `subject` (the registry checks
  // its compatibility) and returns its id; the same schema again returns
  // the same id. (Every override repeats the default.)
  virtual Expected<int> register_schema(const std::string& subject, const std::string& schema,
                                        const std::string& type = kAvroSchemaType) = 0;
  // Where it is, for messages ("http://127.0.0.1:8081").
  virtual std::string where() const = 0;
};

// Caches what never changes (schema by id, the id of a registered schema)
// in front of `inner`: a task asks the registry once per schema id.
std::shared_ptr<SchemaRegistry> cached_schema_registry(std::shared_ptr<SchemaRegistry> inner);

// A registry in memory: ids from 1, versions per subject, no
// compatibility check. For tests and the in-process test driver.
class MemorySchemaRegistry final : public SchemaRegistry {
 public:
  Expected<RegisteredSchema> schema_by_id(int id) override;
  Expected<RegisteredSchema> latest(const std::string& subject) override;
  Expected<int> register_schema(const std::string& subject, const std::string& schema,
                                const std::string& type = kAvroSchemaType) override;
  std::string where() const override { return "memory"; }
  // Registers `schema` under `subject` with the id given (as a registry
  // in import mode does; ksqlDB's test files name their schemas' ids).
  void add(const std::string& subject, int id, const std::string& schema,
           const std::string& type = kAvroSchemaType);
  // The subjects, sorted; `subject`'s versions, in order (empty: unknown);
  // one version of it.
  std::vector<std::string> subjects();
  std::vector<int> versions(const std::string& subject);
  Expected<RegisteredSchema> version(const std::string& subject, int version);

 private:
  std::mutex mutex_;
  struct Stored {
    std::string schema, type;
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
