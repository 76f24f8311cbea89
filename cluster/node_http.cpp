#include "cluster/node_http.hpp"

#include <unistd.h>

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "actors/http_endpoint.hpp"
#include "runtime/thread_name.hpp"

namespace rivulet::cluster {

Expected<std::unique_ptr<NodeHttp>> NodeHttp::start(const std::string& listen,
                                                    const std::string& node, Apps apps,
                                                    Starting starting, Failed failed) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return Error::fatal("expected HOST:PORT, got '" + listen + "'");
  std::unique_ptr<NodeHttp> ep(new NodeHttp());
  ep->host_ = listen.substr(0, colon);
  int port = std::atoi(listen.c_str() + colon + 1);
  ep->server_ = std::make_unique<httplib::Server>();
  ep->server_->Get("/metrics", [apps, node](const httplib::Request&, httplib::Response& res) {
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
  ep->server_->Get("/health", [apps, node, starting, failed](const httplib::Request&,
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
  ep->server_->Get("/tasks", [apps](const httplib::Request&, httplib::Response& res) {
    std::vector<TaskMetrics> all;
    for (const auto& app : apps()) {
      auto m = app->task_metrics(true);
      all.insert(all.end(), m.begin(), m.end());
    }
    res.set_content(render_tasks(all), "application/json");
  });
  if (port == 0) {
    ep->port_ = ep->server_->bind_to_any_port(ep->host_);
    if (ep->port_ < 0) return Error::fatal("cannot listen on " + listen);
  } else {
    if (!ep->server_->bind_to_port(ep->host_, port)) {
      return Error::fatal("cannot listen on " + listen);
    }
    ep->port_ = port;
  }
  auto* server = ep->server_.get();
  ep->thread_ = std::thread([server] {
    set_thread_name("rivulet.http");
    server->listen_after_bind();
  });
  return ep;
}

NodeHttp::~NodeHttp() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace rivulet::cluster
