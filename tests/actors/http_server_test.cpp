// The listening half of the HTTP endpoints (actors/http_server.hpp).
#include "actors/http_server.hpp"

#include <httplib.h>

#include <catch2/catch.hpp>

using namespace rivulet;

TEST_CASE("an HTTP server refuses an address whose port is not a number", "[unit][http]") {
  for (const char* text : {"127.0.0.1:abc", "127.0.0.1:8o8o", "127.0.0.1:70000", "127.0.0.1"}) {
    INFO(text);
    auto s = HttpServer::create(text);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message.find(text) != std::string::npos);
  }
}

TEST_CASE("an HTTP server serves its routes on the port it was given or picked", "[unit][http]") {
  auto s = HttpServer::create("127.0.0.1:0");
  REQUIRE(s.ok());
  (*s)->server().Get("/hello", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("hi", "text/plain");
  });
  auto port = (*s)->listen();
  REQUIRE(port.ok());
  CHECK(*port > 0);
  CHECK((*s)->port() == *port);
  CHECK((*s)->host() == "127.0.0.1");
  httplib::Client client("127.0.0.1", *port);
  auto res = client.Get("/hello");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == "hi");

  // The same port again is taken: a clear error. (httplib's default
  // SO_REUSEPORT let a second server bind it and share its connections.)
  auto again = HttpServer::create("127.0.0.1:" + std::to_string(*port));
  REQUIRE(again.ok());
  auto taken = (*again)->listen();
  REQUIRE_FALSE(taken.ok());
  CHECK(taken.error().message == "cannot listen on 127.0.0.1:" + std::to_string(*port));
}

TEST_CASE("an HTTP server destroyed right after it starts listening stops", "[unit][http]") {
  // httplib's stop() is a no-op until its serving thread has begun: a
  // server destroyed at once used to keep serving, and its destructor to
  // wait on that thread for ever. 200 rounds make that race likely.
  for (int i = 0; i < 200; ++i) {
    auto s = HttpServer::create("127.0.0.1:0");
    REQUIRE(s.ok());
    REQUIRE((*s)->listen().ok());
  }
  // Never listened: nothing to stop.
  auto idle = HttpServer::create("127.0.0.1:0");
  REQUIRE(idle.ok());
}
