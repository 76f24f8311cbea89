// connectors/schema_registry_client: Confluent's REST API over HTTP against
// the test registry (tests/support/schema_registry_server.hpp), the cache in
// front of it, the refusals and an unreachable registry.
#include "connectors/schema_registry_client.hpp"

#include <httplib.h>

#include <catch2/catch.hpp>

#include "connectors/local_schema_registry.hpp"

using rivulet::connectors::LocalSchemaRegistry;

namespace rivulet::connectors {

TEST_CASE("schema registry client: register then read by subject and by id", "[avro][registry]") {
  auto started_server = LocalSchemaRegistry::start();
  REQUIRE(started_server.ok());
  auto& server = **started_server;
  auto client = http_schema_registry(server.url());
  REQUIRE(client.ok());
  auto& r = **client;
  CHECK(r.where() == server.url());
  const std::string v1 = R"({"type":"record","name":"A","fields":[{"name":"x","type":"int"}]})";
  const std::string v2 = R"({"type":"record","name":"A","fields":[{"name":"y","type":"long"}]})";
  auto id1 = r.register_schema("orders-value", v1);
  REQUIRE(id1.ok());
  CHECK(*r.register_schema("orders-value", v1) == *id1);  // the same schema: the same id
  auto id2 = r.register_schema("orders-value", v2);
  REQUIRE(id2.ok());
  CHECK(*id2 != *id1);
  auto latest = r.latest("orders-value");
  REQUIRE(latest.ok());
  CHECK(latest->id == *id2);
  CHECK(latest->version == 2);
  CHECK(latest->schema == v2);
  CHECK(r.schema_by_id(*id1)->schema == v1);
  // Every character a topic name may hold.
  REQUIRE(r.register_schema("a.Topic_9-x-value", v1).ok());
  CHECK(r.latest("a.Topic_9-x-value")->schema == v1);

  // The registry's refusals, with its message.
  auto missing = r.latest("nope-value");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("HTTP 404: Subject not found.") != std::string::npos);
  auto unknown = r.schema_by_id(999);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message ==
        "GET /schemas/ids/999 of " + server.url() + ": HTTP 404: Schema not found");
  server.refuse_registrations = true;
  auto refused = r.register_schema("orders-value", v1);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("HTTP 409: Schema being registered is incompatible") !=
        std::string::npos);
}

TEST_CASE("schema registry client: schema types travel as schemaType", "[registry][json_sr]") {
  auto started_server = LocalSchemaRegistry::start();
  REQUIRE(started_server.ok());
  auto& server = **started_server;
  auto client = http_schema_registry(server.url());
  REQUIRE(client.ok());
  auto& r = **client;
  const std::string schema = R"({"type":"object","properties":{"X":{"type":"integer"}}})";
  auto json_id = r.register_schema("t-value", schema, "JSON");
  REQUIRE(json_id.ok());
  // The server kept the type it was sent; the client reads it back by id
  // and by subject.
  CHECK(server.registry().schema_by_id(*json_id)->type == "JSON");
  CHECK(r.schema_by_id(*json_id)->type == "JSON");
  CHECK(r.schema_by_id(*json_id)->schema == schema);
  CHECK(r.latest("t-value")->type == "JSON");
  // The same text as another type is another schema; no type is AVRO.
  auto avro_id = r.register_schema("t-value", schema);
  REQUIRE(avro_id.ok());
  CHECK(*avro_id != *json_id);
  CHECK(r.schema_by_id(*avro_id)->type == "AVRO");
  CHECK(r.latest("t-value")->version == 2);
  // The cache keys registrations by type too.
  auto cached = cached_schema_registry(*client);
  CHECK(*cached->register_schema("t-value", schema, "JSON") == *json_id);
  CHECK(*cached->register_schema("t-value", schema) == *avro_id);
  CHECK(cached->schema_by_id(*json_id)->type == "JSON");
  // A type the registry does not know is refused.
  auto bad = r.register_schema("t-value", schema, "XML");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("HTTP 422: Invalid schema type XML") != std::string::npos);
}

TEST_CASE("schema registry client: references travel and resolve by subject and version",
          "[registry][protobuf]") {
  auto started_server = LocalSchemaRegistry::start();
  REQUIRE(started_server.ok());
  auto& server = **started_server;
  auto client = http_schema_registry(server.url());
  REQUIRE(client.ok());
  auto& r = **client;
  // common.proto imports money.proto; order.proto imports common.proto.
  auto& memory = server.registry();
  REQUIRE(
      memory.register_schema("money.proto", "syntax = \"proto3\"; message M {}", "PROTOBUF").ok());
  REQUIRE(memory
              .register_with_references("common.proto",
                                        "syntax = \"proto3\"; import \"money.proto\"; message C {}",
                                        "PROTOBUF", {{"money.proto", "money.proto", 1}})
              .ok());
  auto order = memory.register_with_references(
      "orders-value", "syntax = \"proto3\"; import \"common.proto\"; message O {}", "PROTOBUF",
      {{"common.proto", "common.proto", 1}});
  REQUIRE(order.ok());
  // The client reads the references by id, latest and version.
  auto by_id = r.schema_by_id(*order);
  REQUIRE(by_id.ok());
  REQUIRE(by_id->references.size() == 1);
  CHECK(by_id->references[0] == SchemaReference{"common.proto", "common.proto", 1});
  CHECK(r.latest("orders-value")->references == by_id->references);
  auto common = r.version("common.proto", 1);
  REQUIRE(common.ok());
  CHECK(common->references == std::vector<SchemaReference>{{"money.proto", "money.proto", 1}});
  CHECK(common->type == "PROTOBUF");
  CHECK_FALSE(r.version("common.proto", 2).ok());
  // A subject named as an import path, with a '/' (escaped in the URL).
  REQUIRE(memory.register_schema("shop/buyer.proto", "syntax = \"proto3\";", "PROTOBUF").ok());
  CHECK(r.version("shop/buyer.proto", 1)->schema == "syntax = \"proto3\";");
  CHECK(r.latest("shop/buyer.proto")->version == 1);
  // Resolved depth first: an import's imports before it.
  auto files = referenced_schemas(r, by_id->references);
  REQUIRE(files.ok());
  REQUIRE(files->size() == 2);
  CHECK((*files)[0].first == "money.proto");
  CHECK((*files)[1].first == "common.proto");
  CHECK((*files)[1].second == common->schema);
  // A reference to nothing, and a cycle: errors naming the reference.
  auto missing = referenced_schemas(r, {{"x.proto", "nope", 1}});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.rfind("schema reference 'x.proto' (subject nope, version 1): ",
                                      0) == 0);
  memory.add("a.proto", 90, "syntax = \"proto3\";", "PROTOBUF", {{"b.proto", "b.proto", 1}});
  memory.add("b.proto", 91, "syntax = \"proto3\";", "PROTOBUF", {{"a.proto", "a.proto", 1}});
  auto cycle = referenced_schemas(r, {{"a.proto", "a.proto", 1}});
  REQUIRE_FALSE(cycle.ok());
  CHECK(cycle.error().message == "schema references form a cycle at 'a.proto'");
  // The server refuses a registration whose reference it does not have.
  httplib::Client raw(server.url());
  auto refused = raw.Post("/subjects/z-value/versions",
                          R"({"schema":"x","schemaType":"PROTOBUF",
                              "references":[{"name":"q.proto","subject":"q","version":3}]})",
                          "application/json");
  REQUIRE(refused);
  CHECK(refused->status == 422);
  CHECK(refused->body.find("reference q.proto not found") != std::string::npos);
}

TEST_CASE("schema registry client: the cache asks once per id and per registered schema",
          "[avro][registry]") {
  auto started_server = LocalSchemaRegistry::start();
  REQUIRE(started_server.ok());
  auto& server = **started_server;
  auto client = http_schema_registry(server.url());
  REQUIRE(client.ok());
  auto cached = cached_schema_registry(*client);
  const std::string s = R"({"type":"record","name":"B","fields":[]})";
  auto id = cached->register_schema("b-value", s);
  REQUIRE(id.ok());
  CHECK(*cached->register_schema("b-value", s) == *id);
  CHECK(cached->schema_by_id(*id)->schema == s);  // known from the registration
  CHECK(server.requests == 1);
  auto other = server.registry().register_schema("c-value", R"({"type":"string"})");
  CHECK(cached->schema_by_id(*other)->schema == R"({"type":"string"})");
  CHECK(cached->schema_by_id(*other)->schema == R"({"type":"string"})");
  CHECK(server.requests == 2);
  // latest is never cached: a subject's schema evolves.
  CHECK(cached->latest("b-value")->id == *id);
  CHECK(cached->latest("b-value")->id == *id);
  CHECK(server.requests == 4);
}

TEST_CASE("schema registry client: the subjects of an id and the versions of a subject",
          "[registry]") {
  auto started_server = LocalSchemaRegistry::start();
  REQUIRE(started_server.ok());
  auto& server = **started_server;
  auto client = http_schema_registry(server.url());
  REQUIRE(client.ok());
  // Through the cache, as the process's registry is used: neither answer
  // is cached (both change as schemas are registered).
  auto r = cached_schema_registry(std::move(*client));
  CHECK(r->subjects_of(1)->empty());  // 404: none
  CHECK(r->versions_of("a-value")->empty());
  auto id = r->register_schema("a-value", R"("string")");
  REQUIRE(id.ok());
  REQUIRE(r->register_schema("b-value", R"("string")").ok());  // the same schema, the same id
  REQUIRE(r->register_schema("a-value", R"("long")").ok());
  CHECK(*r->subjects_of(*id) == std::vector<std::string>{"a-value", "b-value"});
  CHECK(*r->versions_of("a-value") == std::vector<int>{1, 2});
  CHECK(r->subjects_of(99)->empty());

  auto gone = http_schema_registry("http://127.0.0.1:1", 500);
  REQUIRE(gone.ok());
  auto unreachable = (*gone)->subjects_of(1);
  REQUIRE_FALSE(unreachable.ok());
  CHECK(unreachable.error().kind == ErrorKind::Retriable);
  CHECK_FALSE((*gone)->versions_of("a-value").ok());
}

TEST_CASE("schema registry client: an unreachable registry and bad URLs are errors",
          "[avro][registry]") {
  auto client = http_schema_registry("http://127.0.0.1:1", 500);
  REQUIRE(client.ok());
  auto r = (*client)->schema_by_id(1);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == ErrorKind::Retriable);
  CHECK(r.error().message.rfind("GET /schemas/ids/1 of http://127.0.0.1:1: no answer (", 0) == 0);

  CHECK_FALSE(http_schema_registry("127.0.0.1:8081").ok());
  CHECK(http_schema_registry("127.0.0.1:8081").error().message ==
        "schema.registry.url '127.0.0.1:8081': expected http://host:port");
  CHECK_FALSE(http_schema_registry("http://host:8081/path").ok());
  CHECK(http_schema_registry("http://host:8081/").ok());

  // configure_schema_registry: the process's registry from the configuration.
  auto with = Config::load("", {"schema.registry.url=http://127.0.0.1:1"});
  REQUIRE(with.ok());
  REQUIRE(configure_schema_registry(*with).ok());
  REQUIRE(schema_registry() != nullptr);
  CHECK(schema_registry()->where() == "http://127.0.0.1:1");
  auto without = Config::load("", {});
  REQUIRE(without.ok());
  REQUIRE(configure_schema_registry(*without).ok());
  CHECK(schema_registry() == nullptr);
  auto bad = Config::load("", {"schema.registry.url=localhost"});
  REQUIRE(bad.ok());
  CHECK_FALSE(configure_schema_registry(*bad).ok());
}

TEST_CASE("schema registry client: HTTP basic authentication", "[avro][registry]") {
  auto started_server = LocalSchemaRegistry::start("127.0.0.1", 0, "key:s3cret:x");
  REQUIRE(started_server.ok());
  auto& server = **started_server;  // a password may hold ':'
  const std::string s = R"({"type":"string"})";
  auto with = http_schema_registry(server.url(), 10000, "key:s3cret:x");
  REQUIRE(with.ok());
  auto id = (*with)->register_schema("a-value", s);
  REQUIRE(id.ok());
  CHECK((*with)->schema_by_id(*id)->schema == s);
  auto without = http_schema_registry(server.url());
  REQUIRE(without.ok());
  auto refused = (*without)->schema_by_id(*id);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message == "GET /schemas/ids/" + std::to_string(*id) + " of " +
                                       server.url() + ": HTTP 401: Unauthorized");
  auto wrong = http_schema_registry(server.url(), 10000, "key:other");
  CHECK_FALSE((*wrong)->schema_by_id(*id).ok());
  CHECK(http_schema_registry(server.url(), 10000, "no-colon").error().message ==
        "schema.registry.basic.auth.user.info: expected USER:PASSWORD");
  // From the configuration, as the command-line tools set it.
  auto config = Config::load("", {"schema.registry.url=" + server.url(),
                                  "schema.registry.basic.auth.user.info=key:s3cret:x"});
  REQUIRE(config.ok());
  REQUIRE(configure_schema_registry(*config).ok());
  CHECK(schema_registry()->schema_by_id(*id)->schema == s);
  set_schema_registry(nullptr);
}

}  // namespace rivulet::connectors
