#pragma once
// HttpEndpoint: a node's HTTP face for operators (cpp-httplib):
//   GET /metrics  Prometheus text format: per task records in and out, lag,
//                 processing latency histogram, checkpoint duration and size,
//                 restores, data errors, dead-lettered records; per node
//                 inbox (mailbox) sizes and resident memory; per Kafka
//                 client requests by type and bytes.
//   GET /health   JSON {"status": "ready"|"starting"|"failed", "tasks": N, ...};
//                 HTTP 200 when ready, 503 otherwise.
//   GET /tasks    JSON array of the tasks' figures.
// Owned by whoever runs the Application; serves on its own thread until
// destroyed. Binds to loopback unless told otherwise.
#include <memory>
#include <string>
#include <vector>

#include "actors/application.hpp"
#include "actors/http_server.hpp"
#include "runtime/error.hpp"

namespace rivulet {

class HttpEndpoint {
 public:
  // `listen` is "HOST:PORT" (port 0 picks a free one). The Application must
  // outlive the endpoint.
  static Expected<std::unique_ptr<HttpEndpoint>> start(const std::string& listen,
                                                       const Application& app);
  ~HttpEndpoint();
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  int port() const;
  const std::string& host() const;

 private:
  HttpEndpoint() = default;
  std::unique_ptr<HttpServer> http_;
};

// One Kafka client of an Application, for rivulet_kafka_requests_total and
// rivulet_kafka_bytes_total.
struct KafkaClientMetrics {
  std::string application;
  std::string client;  // "consumer", "producer"
  connectors::KafkaClientStats stats;
};
std::vector<KafkaClientMetrics> kafka_client_metrics(const Application& app);

// The renderings, exposed for tests.
// Node-level gauges carry the label `scope_label="scope"` (the application
// id for one Application; a cluster node passes every query's tasks at once
// with its name and "node", so each metric family appears once), and so do
// the Kafka clients' series (with `application=` too when the scope is a
// node).
std::string render_prometheus(const std::string& scope, const std::vector<TaskMetrics>& tasks,
                              uint64_t resident_bytes,
                              const std::string& scope_label = "application",
                              const std::vector<KafkaClientMetrics>& clients = {});
std::string render_health(const Application& app);
std::string render_tasks(const std::vector<TaskMetrics>& tasks);
// Resident memory of this process (from /proc/self/statm); 0 when unknown.
uint64_t resident_memory_bytes();

}  // namespace rivulet
