#pragma once
// A node's HTTP endpoint: the renderings of actors/http_endpoint.* over
// every query (Application) the node runs.
//   GET /metrics  Prometheus text, per query
//   GET /health   {"status": "ready"|"starting"|"failed", "node": ..., "tasks": N,
//                  "starting_tasks": M, "failed_tasks": [{"task", "error"}]}:
//                 ready (HTTP 200) once every task assigned to the node is
//                 restored and running and none failed; failed (503) when a
//                 task stopped with an error or an assigned task cannot run
//                 (its query did not plan or start here), with the reason;
//                 starting (503) otherwise
//   GET /tasks    JSON array of the node's tasks
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/application.hpp"
#include "actors/http_server.hpp"
#include "runtime/error.hpp"

namespace rivulet::cluster {

class NodeHttp {
 public:
  using Apps = std::function<std::vector<std::shared_ptr<Application>>()>;
  // Tasks assigned to the node that do not run yet (being restored).
  using Starting = std::function<size_t()>;
  // A task assigned to the node that cannot run (its query did not plan or
  // start here, or the task did not start), and why.
  struct Failure {
    std::string query;
    int32_t partition = 0;
    int64_t epoch = 0;
    std::string error;
  };
  using Failed = std::function<std::vector<Failure>()>;
  // `listen` is HOST:PORT (port 0: any free port).
  static Expected<std::unique_ptr<NodeHttp>> start(const std::string& listen,
                                                   const std::string& node, Apps apps,
                                                   Starting starting = {}, Failed failed = {});
  ~NodeHttp();
  NodeHttp(const NodeHttp&) = delete;
  NodeHttp& operator=(const NodeHttp&) = delete;
  // HOST:PORT it listens on.
  std::string address() const;

 private:
  NodeHttp() = default;
  std::unique_ptr<HttpServer> http_;
};

}  // namespace rivulet::cluster
