#include "cluster/node_http.hpp"

#include <unistd.h>

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "actors/http_endpoint.hpp"

namespace rivulet::cluster {

Expected<std::unique_ptr<NodeHttp>> NodeHttp::start(const std::string& listen,
                                                    const std::string& node, Apps apps,
                                                    Starting starting, Failed failed) {
  auto http = HttpServer::create(listen);
  if (!http) return http.error();
  std::unique_ptr<NodeHttp> ep(new NodeHttp());
  ep->http_ = std::move(*http);
  auto& server = ep->http_->server();
  server.Get("/metrics", [apps, node](const httplib::Request&, httplib::Response& res) {
    // One rendering over every query's tasks: a metric family's HELP and
    // TYPE lines may appear only once in Prometheus' text format.
    std::vector<TaskMetrics> all;
    std::vector<KafkaClientMetrics> clients;
    for (const auto& app : apps()) {
      auto m = app->task_metrics(true);
      all.insert(all.end(), m.begin(), m.end());
      auto c = kafka_client_metrics(*app);
      clients.insert(clients.end(), c.begin(), c.end());
    }
    res.set_content(render_prometheus(node, all, resident_memory_bytes(), "node", clients),
                    "text/plain; version=0.0.4");
  });
  server.Get("/health", [apps, node, starting, failed](const httplib::Request&,
                                                       httplib::Response& res) {
    size_t tasks = 0;
    nlohmann::json failures = nlohmann::json::array();
    for (const auto& app : apps()) {
      for (const auto& t : app->task_metrics()) {
        ++tasks;
        if (t.state == "failed") failures.push_back({{"task", t.task}, {"error", t.error}});
      }
    }
    if (failed) {
      for (const auto& f : failed()) {
        ++tasks;
        failures.push_back(
            {{"task", f.query + "-" + std::to_string(f.partition)}, {"error", f.error}});
      }
    }
    const size_t pending = starting ? starting() : 0;
    std::string status = !failures.empty() ? "failed" : pending > 0 ? "starting" : "ready";
    res.status = status == "ready" ? 200 : 503;
    nlohmann::json out = {{"status", status},          {"node", node},
                          {"pid", static_cast<int64_t>(::getpid())},
                          {"tasks", tasks},            {"starting_tasks", pending},
                          {"failed_tasks", failures}};
    res.set_content(out.dump(), "application/json");
  });
  server.Get("/tasks", [apps](const httplib::Request&, httplib::Response& res) {
    std::vector<TaskMetrics> all;
    for (const auto& app : apps()) {
      auto m = app->task_metrics(true);
      all.insert(all.end(), m.begin(), m.end());
    }
    res.set_content(render_tasks(all), "application/json");
  });
  if (auto bound = ep->http_->listen(); !bound) return bound.error();
  return ep;
}

NodeHttp::~NodeHttp() = default;

std::string NodeHttp::address() const {
  return http_->host() + ":" + std::to_string(http_->port());
}

}  // namespace rivulet::cluster
