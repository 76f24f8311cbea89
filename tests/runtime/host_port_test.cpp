// HOST:PORT as every command takes it (--listen, --http, --coordinator,
// rivulet chaos): one parser, strict about the port.
#include "runtime/host_port.hpp"

#include <catch2/catch.hpp>

using namespace rivulet;

TEST_CASE("parse_host_port reads a host and a port", "[unit][host_port]") {
  auto a = parse_host_port("127.0.0.1:8080");
  REQUIRE(a.ok());
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 8080);

  auto any = parse_host_port("localhost:0");
  REQUIRE(any.ok());
  CHECK(any->host == "localhost");
  CHECK(any->port == 0);

  auto top = parse_host_port("node-1.example:65535");
  REQUIRE(top.ok());
  CHECK(top->port == 65535);

  auto v6 = parse_host_port("[::1]:7400");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->port == 7400);
}

TEST_CASE("parse_host_port refuses what is not HOST:PORT, quoting it", "[unit][host_port]") {
  for (const char* text :
       {"nohost", ":80", "host:", "", "[::1]", "[::1]:", "[]:80", "[::1:80", "::1]:80"}) {
    INFO(text);
    auto r = parse_host_port(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find(std::string("'") + text + "'") != std::string::npos);
  }
  // A port that is not a number was read as 0 by the HTTP endpoints,
  // which then listened on any free port instead of refusing.
  for (const char* text :
       {"127.0.0.1:abc", "127.0.0.1:80x", "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1: 80",
        "127.0.0.1:65536", "127.0.0.1:99999", "127.0.0.1:18446744073709551696"}) {
    INFO(text);
    auto r = parse_host_port(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("invalid port") != std::string::npos);
  }
  auto ambiguous = parse_host_port("::1:80");
  REQUIRE_FALSE(ambiguous.ok());
  CHECK(ambiguous.error().message.find("[ADDRESS]:PORT") != std::string::npos);
}
