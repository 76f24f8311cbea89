#pragma once
// A Confluent Schema Registry over HTTP (its REST API: GET
// /schemas/ids/{id}, GET /subjects/{subject}/versions/latest, POST
// /subjects/{subject}/versions), behind runtime/schema_registry.hpp's
// interface. Each request has a timeout (schema.registry.timeout.ms) and
// is tried again on a failed connection; the registry's own refusals
// (unknown subject, incompatible schema) are errors with its message.
#include <memory>
#include <string>

#include "runtime/config.hpp"
#include "runtime/schema_registry.hpp"

namespace rivulet::connectors {

// `url`: "http://host:port" or "https://host:port" (no path; https checks
// the registry's certificate against the system's CA certificates).
// `user_info`: "USER:PASSWORD" for HTTP basic authentication, or empty.
// An error for an URL or user info it cannot use.
Expected<std::shared_ptr<SchemaRegistry>> http_schema_registry(const std::string& url,
                                                               int timeout_ms = 10000,
                                                               const std::string& user_info = "");

// Sets the process's registry (rivulet::set_schema_registry) from
// `config`'s schema.registry.url (with schema.registry.basic.auth.user.info
// and schema.registry.timeout.ms), cached (cached_schema_registry); clears
// it when the key is empty. The command-line tools call it at start.
Expected<bool> configure_schema_registry(const Config& config);

}  // namespace rivulet::connectors
