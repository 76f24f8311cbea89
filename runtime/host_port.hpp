#pragma once
// "HOST:PORT", as every command's --listen, --http, --coordinator and
// rivulet chaos's addresses take it. One parser, so that a typo is refused
// the same way everywhere instead of read as port 0 ("any free port").
#include <cstdint>
#include <string>

#include "runtime/error.hpp"

namespace rivulet {

struct HostPort {
  std::string host;  // an IPv6 address without its brackets
  uint16_t port = 0;
};

// "127.0.0.1:8080", "localhost:0", "[::1]:7400". The port is 0 to 65535
// in decimal digits only; the error quotes the text.
Expected<HostPort> parse_host_port(const std::string& text);

}  // namespace rivulet
