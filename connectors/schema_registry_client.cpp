#include "connectors/schema_registry_client.hpp"

#include <httplib.h>

#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

namespace rivulet::connectors {

namespace {

constexpr const char* kContentType = "application/vnd.schemaregistry.v1+json";

// "/" and the other reserved characters of a subject, %-escaped for a path.
std::string path_escape(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// "schemaType" of an answer: absent for AVRO.
std::string type_of(const nlohmann::json& j) {
  auto it = j.find("schemaType");
  return it != j.end() && it->is_string() ? it->get<std::string>() : kAvroSchemaType;
}

// "references" of an answer: [{"name", "subject", "version"}, ...].
std::vector<SchemaReference> references_of(const nlohmann::json& j) {
  std::vector<SchemaReference> out;
  auto it = j.find("references");
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& r : *it)
    if (r.is_object())
      out.push_back(
          SchemaReference{r.value("name", ""), r.value("subject", ""), r.value("version", 0)});
  return out;
}

class HttpSchemaRegistry final : public SchemaRegistry {
 public:
  HttpSchemaRegistry(std::string url, int timeout_ms, const std::string& user_info)
      : url_(std::move(url)), client_(url_) {
    if (!user_info.empty()) {
      const size_t colon = user_info.find(':');
      client_.set_basic_auth(user_info.substr(0, colon).c_str(),
                             user_info.substr(colon + 1).c_str());
    }
    const auto timeout = std::chrono::milliseconds(timeout_ms);
    client_.set_connection_timeout(timeout);
    client_.set_read_timeout(timeout);
    client_.set_write_timeout(timeout);
  }

  Expected<RegisteredSchema> schema_by_id(int id) override {
    auto j = call("GET", "/schemas/ids/" + std::to_string(id), "");
    if (!j) return j.error();
    if (!j->contains("schema") || !(*j)["schema"].is_string())
      return Error::fatal("GET /schemas/ids/" + std::to_string(id) + " of " + url_ +
                          ": no schema in the answer");
    return RegisteredSchema{id, 0, (*j)["schema"].get<std::string>(), type_of(*j),
                            references_of(*j)};
  }

  Expected<RegisteredSchema> latest(const std::string& subject) override {
    return subject_version(subject, "latest");
  }

  Expected<RegisteredSchema> version(const std::string& subject, int version) override {
    return subject_version(subject, std::to_string(version));
  }

  Expected<RegisteredSchema> subject_version(const std::string& subject, const std::string& which) {
    const std::string path = "/subjects/" + path_escape(subject) + "/versions/" + which;
    auto j = call("GET", path, "");
    if (!j) return j.error();
    RegisteredSchema out;
    out.id = j->value("id", 0);
    out.version = j->value("version", 0);
    out.schema = j->value("schema", "");
    out.type = type_of(*j);
    out.references = references_of(*j);
    if (out.id == 0 || out.schema.empty())
      return Error::fatal("GET " + path + " of " + url_ + ": no id or schema in the answer");
    return out;
  }

  Expected<int> register_schema(const std::string& subject, const std::string& schema,
                                const std::string& type = kAvroSchemaType) override {
    const std::string path = "/subjects/" + path_escape(subject) + "/versions";
    nlohmann::json body{{"schema", schema}};
    if (type != kAvroSchemaType) body["schemaType"] = type;  // as Confluent's serializers send it
    auto j = call("POST", path, body.dump());
    if (!j) return j.error();
    const int id = j->value("id", 0);
    if (id == 0) return Error::fatal("POST " + path + " of " + url_ + ": no id in the answer");
    return id;
  }

  Expected<std::vector<std::string>> subjects_of(int id) override {
    auto j = list("/schemas/ids/" + std::to_string(id) + "/subjects");
    if (!j) return j.error();
    std::vector<std::string> out;
    for (const auto& e : *j)
      if (e.is_string()) out.push_back(e.get<std::string>());
    return out;
  }

  Expected<std::vector<int>> versions_of(const std::string& subject) override {
    auto j = list("/subjects/" + path_escape(subject) + "/versions");
    if (!j) return j.error();
    std::vector<int> out;
    for (const auto& e : *j)
      if (e.is_number_integer()) out.push_back(e.get<int>());
    return out;
  }

  std::string where() const override { return url_; }

 private:
  struct Answer {
    int status = 0;
    nlohmann::json body;  // discarded when not JSON
    std::string text;
  };

  // One request, tried again (3 times in all, 200 ms apart) when no answer
  // came: the registry restarting, a connection refused. An answer, with
  // whatever status, is not tried again.
  Expected<Answer> send(const std::string& method, const std::string& path,
                        const std::string& body) {
    std::lock_guard<std::mutex> lock(mutex_);  // one httplib::Client, one request at a time
    const httplib::Headers headers = {{"Accept", kContentType}};
    std::string failure;
    for (int attempt = 1; attempt <= 3; ++attempt) {
      auto res = method == "GET" ? client_.Get(path.c_str(), headers)
                                 : client_.Post(path.c_str(), headers, body, kContentType);
      if (!res) {
        failure = httplib::to_string(res.error());
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      return Answer{res->status, nlohmann::json::parse(res->body, nullptr, false), res->body};
    }
    return Error::retriable(method + " " + path + " of " + url_ + ": no answer (" + failure + ")");
  }

  Error refused(const std::string& method, const std::string& path, const Answer& a) const {
    std::string message = a.body.is_object() ? a.body.value("message", a.text) : a.text;
    return Error::fatal(method + " " + path + " of " + url_ + ": HTTP " + std::to_string(a.status) +
                        ": " + message);
  }

  // A request whose answer is a JSON object with a 2xx status.
  Expected<nlohmann::json> call(const std::string& method, const std::string& path,
                                const std::string& body) {
    auto a = send(method, path, body);
    if (!a) return a.error();
    if (a->status / 100 != 2) return refused(method, path, *a);
    if (!a->body.is_object())
      return Error::fatal(method + " " + path + " of " + url_ +
                          ": not a JSON object: " + a->text.substr(0, 200));
    return std::move(a->body);
  }

  // A GET whose answer is a JSON array; a 404 (an unknown subject or id)
  // is the empty one.
  Expected<nlohmann::json> list(const std::string& path) {
    auto a = send("GET", path, "");
    if (!a) return a.error();
    if (a->status == 404) return nlohmann::json::array();
    if (a->status / 100 != 2) return refused("GET", path, *a);
    if (!a->body.is_array())
      return Error::fatal("GET " + path + " of " + url_ +
                          ": not a JSON array: " + a->text.substr(0, 200));
    return std::move(a->body);
  }

  std::string url_;
  std::mutex mutex_;
  httplib::Client client_;
};

}  // namespace

Expected<std::shared_ptr<SchemaRegistry>> http_schema_registry(const std::string& url,
                                                               int timeout_ms,
                                                               const std::string& user_info) {
  if (!user_info.empty() && user_info.find(':') == std::string::npos)
    return Error::fatal("schema.registry.basic.auth.user.info: expected USER:PASSWORD");
  const bool http = url.rfind("http://", 0) == 0, https = url.rfind("https://", 0) == 0;
  if (!http && !https)
    return Error::fatal("schema.registry.url '" + url + "': expected http://host:port");
  const size_t host = url.find("://") + 3;
  if (url.find('/', host) != std::string::npos && url.find('/', host) != url.size() - 1)
    return Error::fatal("schema.registry.url '" + url + "': a path is not supported");
  std::string base = url.back() == '/' ? url.substr(0, url.size() - 1) : url;
  return std::shared_ptr<SchemaRegistry>(
      std::make_shared<HttpSchemaRegistry>(base, timeout_ms, user_info));
}

Expected<bool> configure_schema_registry(const Config& config) {
  const std::string url = config.get("schema.registry.url");
  if (url.empty()) {
    set_schema_registry(nullptr);
    return true;
  }
  auto registry =
      http_schema_registry(url, static_cast<int>(config.get_int("schema.registry.timeout.ms")),
                           config.get("schema.registry.basic.auth.user.info"));
  if (!registry) return registry.error();
  set_schema_registry(cached_schema_registry(*registry));
  return true;
}

}  // namespace rivulet::connectors
