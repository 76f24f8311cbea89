#include "actors/http_server.hpp"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>

#include "runtime/host_port.hpp"
#include "runtime/thread_name.hpp"

namespace rivulet {

Expected<std::unique_ptr<HttpServer>> HttpServer::create(const std::string& listen) {
  auto address = parse_host_port(listen);
  if (!address) return Error::fatal(address.error().message);
  std::unique_ptr<HttpServer> s(new HttpServer());
  s->server_ = std::make_unique<httplib::Server>();
  // httplib's default options add SO_REUSEPORT, with which a second
  // process binds the same port and the kernel splits the connections
  // between the two: one node's /health could answer for another. Only
  // SO_REUSEADDR (a restarted process rebinds past TIME_WAIT).
  s->server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  s->listen_ = listen;
  s->host_ = address->host;
  s->port_ = address->port;
  return s;
}

Expected<int> HttpServer::listen() {
  if (port_ == 0) {
    const int port = server_->bind_to_any_port(host_);
    if (port < 0) return Error::fatal("cannot listen on " + listen_);
    port_ = port;
  } else if (!server_->bind_to_port(host_, port_)) {
    return Error::fatal("cannot listen on " + listen_);
  }
  auto* server = server_.get();
  thread_ = std::thread([server, this] {
    set_thread_name("rivulet.http");
    server->listen_after_bind();
    done_ = true;
  });
  return port_;
}

HttpServer::~HttpServer() {
  if (!thread_.joinable()) return;
  // httplib's stop() does nothing until listen_after_bind() runs: one
  // destroyed right after listen() would leave its thread serving, and
  // the join below waiting for ever. So wait for it to run (or to have
  // failed), then stop it once.
  while (!done_) {
    if (server_->is_running()) {
      server_->stop();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  thread_.join();
}

}  // namespace rivulet
