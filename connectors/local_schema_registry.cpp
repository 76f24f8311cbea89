#include "connectors/local_schema_registry.hpp"

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "runtime/base64.hpp"

namespace rivulet::connectors {

namespace {

constexpr const char* kContentType = "application/vnd.schemaregistry.v1+json";

void error(httplib::Response& res, int status, int code, const std::string& message) {
  res.status = status;
  res.set_content(nlohmann::json{{"error_code", code}, {"message", message}}.dump(), kContentType);
}

void answer(httplib::Response& res, const nlohmann::json& j) {
  res.set_content(j.dump(), kContentType);
}

// A schema in an answer: its text, and its type unless AVRO (as
// Confluent's registry answers).
nlohmann::json schema_json(const RegisteredSchema& s) {
  nlohmann::json j{{"schema", s.schema}};
  if (s.type != kAvroSchemaType) j["schemaType"] = s.type;
  if (!s.references.empty()) {
    j["references"] = nlohmann::json::array();
    for (const SchemaReference& r : s.references)
      j["references"].push_back({{"name", r.name}, {"subject", r.subject}, {"version", r.version}});
  }
  return j;
}

}  // namespace

struct LocalSchemaRegistry::Server {
  httplib::Server http;
  std::string host;
  int port = 0;
  std::thread thread;
};

Expected<std::unique_ptr<LocalSchemaRegistry>> LocalSchemaRegistry::start(
    const std::string& host, int port, const std::string& user_info) {
  if (!user_info.empty() && user_info.find(':') == std::string::npos)
    return Error::fatal("user info: expected USER:PASSWORD");
  std::unique_ptr<LocalSchemaRegistry> r(new LocalSchemaRegistry());
  r->server_ = std::make_unique<Server>();
  LocalSchemaRegistry* self = r.get();
  httplib::Server& http = r->server_->http;
  http.Get(R"(/schemas/ids/(\d+))", [self](const httplib::Request& req, httplib::Response& res) {
    ++self->requests;
    auto schema = self->registry_.schema_by_id(std::stoi(req.matches[1].str()));
    if (!schema) return error(res, 404, 40403, "Schema not found");
    answer(res, schema_json(*schema));
  });
  http.Get(R"(/schemas/ids/(\d+)/subjects)",
           [self](const httplib::Request& req, httplib::Response& res) {
             ++self->requests;
             auto subjects = self->registry_.subjects_of(std::stoi(req.matches[1].str()));
             if (!subjects || subjects->empty()) return error(res, 404, 40403, "Schema not found");
             answer(res, *subjects);
           });
  http.Get("/subjects", [self](const httplib::Request&, httplib::Response& res) {
    ++self->requests;
    answer(res, self->registry_.subjects());
  });
  http.Get(R"(/subjects/(.+)/versions)",
           [self](const httplib::Request& req, httplib::Response& res) {
             ++self->requests;
             auto versions = self->registry_.versions(req.matches[1].str());
             if (versions.empty()) return error(res, 404, 40401, "Subject not found.");
             answer(res, versions);
           });
  http.Get(R"(/subjects/(.+)/versions/(latest|\d+))",
           [self](const httplib::Request& req, httplib::Response& res) {
             ++self->requests;
             const std::string subject = req.matches[1].str(), which = req.matches[2].str();
             auto found = which == "latest" ? self->registry_.latest(subject)
                                            : self->registry_.version(subject, std::stoi(which));
             if (!found)
               return error(res, 404, which == "latest" ? 40401 : 40402,
                            which == "latest" ? "Subject not found." : "Version not found.");
             nlohmann::json j = schema_json(*found);
             j["subject"] = subject;
             j["version"] = found->version;
             j["id"] = found->id;
             answer(res, j);
           });
  http.Post(
      R"(/subjects/(.+)/versions)", [self](const httplib::Request& req, httplib::Response& res) {
        ++self->requests;
        if (self->refuse_registrations)
          return error(res, 409, 409,
                       "Schema being registered is incompatible with an earlier schema for "
                       "subject \"" +
                           req.matches[1].str() + "\"");
        auto body = nlohmann::json::parse(req.body, nullptr, false);
        if (!body.is_object() || !body.contains("schema") || !body["schema"].is_string())
          return error(res, 422, 42201, "Invalid schema");
        const std::string type = body.value("schemaType", kAvroSchemaType);
        if (type != "AVRO" && type != "JSON" && type != "PROTOBUF")
          return error(res, 422, 42201, "Invalid schema type " + type);
        std::vector<SchemaReference> references;
        if (auto refs = body.find("references"); refs != body.end() && refs->is_array())
          for (const auto& r : *refs) {
            if (!r.is_object()) return error(res, 422, 42201, "Invalid schema references");
            SchemaReference ref{r.value("name", ""), r.value("subject", ""), r.value("version", 0)};
            if (!self->registry_.version(ref.subject, ref.version))
              return error(res, 422, 42201, "Invalid schema: reference " + ref.name + " not found");
            references.push_back(std::move(ref));
          }
        auto id = self->registry_.register_with_references(
            req.matches[1].str(), body["schema"].get<std::string>(), type, std::move(references));
        answer(res, {{"id", *id}});
      });
  if (!user_info.empty()) {
    const std::string expected = "Basic " + encode_base64(user_info);
    http.set_pre_routing_handler([expected](const httplib::Request& req, httplib::Response& res) {
      if (req.get_header_value("Authorization") == expected)
        return httplib::Server::HandlerResponse::Unhandled;
      error(res, 401, 401, "Unauthorized");
      return httplib::Server::HandlerResponse::Handled;
    });
  }
  const int bound = port == 0 ? http.bind_to_any_port(host.c_str())
                              : (http.bind_to_port(host.c_str(), port) ? port : -1);
  if (bound <= 0) return Error::fatal("cannot listen on " + host + ":" + std::to_string(port));
  r->server_->host = host;
  r->server_->port = bound;
  r->server_->thread = std::thread([self] { self->server_->http.listen_after_bind(); });
  while (!http.is_running()) std::this_thread::yield();
  return r;
}

LocalSchemaRegistry::~LocalSchemaRegistry() {
  if (!server_) return;
  server_->http.stop();
  if (server_->thread.joinable()) server_->thread.join();
}

std::string LocalSchemaRegistry::url() const {
  return "http://" + server_->host + ":" + std::to_string(server_->port);
}

}  // namespace rivulet::connectors
