#include "runtime/host_port.hpp"

namespace rivulet {

Expected<HostPort> parse_host_port(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return Error::data("expected HOST:PORT, got '" + text + "'");
  }
  HostPort out;
  out.host = text.substr(0, colon);
  if (out.host.front() == '[' || out.host.back() == ']') {
    if (out.host.size() < 3 || out.host.front() != '[' || out.host.back() != ']') {
      return Error::data("expected HOST:PORT, got '" + text + "'");
    }
    out.host = out.host.substr(1, out.host.size() - 2);
  } else if (out.host.find(':') != std::string::npos) {
    // "::1:80" could be read more than one way.
    return Error::data("an IPv6 address takes brackets: [ADDRESS]:PORT, got '" + text + "'");
  }
  uint32_t port = 0;
  const std::string digits = text.substr(colon + 1);
  for (char c : digits) {
    if (c < '0' || c > '9' || port > 65535) {
      return Error::data("invalid port in '" + text + "' (0 to 65535)");
    }
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port > 65535) return Error::data("invalid port in '" + text + "' (0 to 65535)");
  out.port = static_cast<uint16_t>(port);
  return out;
}

}  // namespace rivulet
