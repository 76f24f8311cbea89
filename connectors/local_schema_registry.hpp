#pragma once
// A schema registry on this machine: Confluent's REST API over a
// MemorySchemaRegistry, for trying the AVRO format (and testing it) with
// the embedded broker, as `rivulet schema-registry` runs it. The calls
// Rivulet's client, Confluent's serializers and Kafka Connect make:
//   GET  /schemas/ids/{id}
//   GET  /schemas/ids/{id}/subjects
//   GET  /subjects
//   GET  /subjects/{subject}/versions
//   GET  /subjects/{subject}/versions/{version|latest}
//   POST /subjects/{subject}/versions   {"schema", "schemaType"?, "references"?} -> {"id": n}
// with the registry's error bodies ({"error_code": 40401, "message":
// "Subject not found."}). Schemas live in memory: gone when it stops. It
// checks no compatibility (every schema is accepted, the same schema again
// keeps its id) and keeps each schema's type ("AVRO" when none is given,
// "JSON", "PROTOBUF") and references (refusing one to a subject version it
// does not have); subjects may hold '/' (an import path, %2F in the URL); `refuse_registrations`
// answers registrations with 409 as an incompatible schema would (drills and tests). With
// `user_info`
// ("USER:PASSWORD") a request without those credentials gets 401.
#include <atomic>
#include <memory>
#include <string>

#include "runtime/error.hpp"
#include "runtime/schema_registry.hpp"

namespace rivulet::connectors {

class LocalSchemaRegistry {
 public:
  // Listens on `host`:`port` (0: a free port).
  static Expected<std::unique_ptr<LocalSchemaRegistry>> start(const std::string& host = "127.0.0.1",
                                                              int port = 0,
                                                              const std::string& user_info = "");
  ~LocalSchemaRegistry();
  LocalSchemaRegistry(const LocalSchemaRegistry&) = delete;
  LocalSchemaRegistry& operator=(const LocalSchemaRegistry&) = delete;

  // "http://host:port".
  std::string url() const;
  MemorySchemaRegistry& registry() { return registry_; }

  std::atomic<bool> refuse_registrations{false};
  std::atomic<int> requests{0};

 private:
  LocalSchemaRegistry() = default;
  struct Server;
  MemorySchemaRegistry registry_;
  std::unique_ptr<Server> server_;
};

}  // namespace rivulet::connectors
