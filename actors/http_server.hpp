#pragma once
// The listening half of Rivulet's HTTP endpoints (an Application's, in
// http_endpoint.hpp, and a cluster node's, in cluster/node_http.hpp):
// parses HOST:PORT, binds, serves on its own thread ("rivulet.http") and
// stops when destroyed. Routes are added to server() before listen().
#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "runtime/error.hpp"

namespace httplib {
class Server;
}

namespace rivulet {

class HttpServer {
 public:
  // `listen` is HOST:PORT; port 0 picks a free one. Refuses anything else
  // (a port that is not a number is not read as 0).
  static Expected<std::unique_ptr<HttpServer>> create(const std::string& listen);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  httplib::Server& server() { return *server_; }
  // Binds and starts serving; an error when the address cannot be bound.
  Expected<int> listen();

  const std::string& host() const { return host_; }
  int port() const { return port_; }

 private:
  HttpServer() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> done_{false};
  std::string listen_;
  std::string host_;
  int port_ = 0;
};

}  // namespace rivulet
