#pragma once
// A schema registry for tests: Confluent's REST API (the calls Rivulet and
// its serializers make: GET /schemas/ids/{id}, GET
// /subjects/{subject}/versions/latest, POST /subjects/{subject}/versions,
// GET /subjects) on 127.0.0.1 at a free port, over a MemorySchemaRegistry.
// It stands in for the external service, as the embedded broker stands in
// for Kafka; `refuse_next` makes the next registration fail with a 409
// (an incompatible schema), `requests` counts what was asked, and a
// server made with `user_info` ("USER:PASSWORD") answers 401 to a request
// without those credentials (HTTP basic authentication).
#include <httplib.h>

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "runtime/base64.hpp"
#include "runtime/schema_registry.hpp"

namespace rivulet::testing {

class SchemaRegistryServer {
 public:
  explicit SchemaRegistryServer(const std::string& user_info = "") {
    auto error = [](httplib::Response& res, int status, int code, const std::string& message) {
      res.status = status;
      res.set_content(nlohmann::json{{"error_code", code}, {"message", message}}.dump(),
                      "application/vnd.schemaregistry.v1+json");
    };
    auto ok = [](httplib::Response& res, const nlohmann::json& j) {
      res.set_content(j.dump(), "application/vnd.schemaregistry.v1+json");
    };
    server_.Get(R"(/schemas/ids/(\d+))",
                [this, error, ok](const httplib::Request& req, httplib::Response& res) {
                  ++requests;
                  auto schema = registry.schema_by_id(std::stoi(req.matches[1].str()));
                  if (!schema) return error(res, 404, 40403, "Schema not found");
                  ok(res, {{"schema", *schema}});
                });
    server_.Get(R"(/subjects/([^/]+)/versions/latest)",
                [this, error, ok](const httplib::Request& req, httplib::Response& res) {
                  ++requests;
                  auto latest = registry.latest(req.matches[1].str());
                  if (!latest) return error(res, 404, 40401, "Subject not found.");
                  ok(res, {{"subject", req.matches[1].str()},
                           {"version", latest->version},
                           {"id", latest->id},
                           {"schema", latest->schema}});
                });
    server_.Post(R"(/subjects/([^/]+)/versions)", [this, error, ok](const httplib::Request& req,
                                                                    httplib::Response& res) {
      ++requests;
      ++registrations;
      if (refuse_next.exchange(false))
        return error(res, 409, 409,
                     "Schema being registered is incompatible with an earlier "
                     "schema for subject \"" +
                         req.matches[1].str() + "\"");
      auto body = nlohmann::json::parse(req.body, nullptr, false);
      if (!body.is_object() || !body.contains("schema") || !body["schema"].is_string())
        return error(res, 422, 42201, "Invalid schema");
      auto id = registry.register_schema(req.matches[1].str(), body["schema"].get<std::string>());
      ok(res, {{"id", *id}});
    });
    if (!user_info.empty()) {
      const std::string expected = "Basic " + encode_base64(user_info);
      server_.set_pre_routing_handler(
          [expected, error](const httplib::Request& req, httplib::Response& res) {
            if (req.get_header_value("Authorization") == expected)
              return httplib::Server::HandlerResponse::Unhandled;
            error(res, 401, 401, "Unauthorized");
            return httplib::Server::HandlerResponse::Handled;
          });
    }
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::yield();
  }
  ~SchemaRegistryServer() {
    server_.stop();
    thread_.join();
  }
  SchemaRegistryServer(const SchemaRegistryServer&) = delete;
  SchemaRegistryServer& operator=(const SchemaRegistryServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  MemorySchemaRegistry registry;
  std::atomic<bool> refuse_next{false};
  std::atomic<int> requests{0};
  std::atomic<int> registrations{0};

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace rivulet::testing
