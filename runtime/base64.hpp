#pragma once
// Base64 (RFC 4648), for BYTES values in text formats (JSON, DELIMITED), as
// ksqlDB writes them.
#include <optional>
#include <string>
#include <string_view>

namespace rivulet {

// Standard alphabet with '=' padding.
void append_base64(std::string& out, std::string_view in);
std::string encode_base64(std::string_view in);
// Accepts the standard and the URL-safe alphabet, padding optional;
// nullopt on any other character or an impossible length.
std::optional<std::string> decode_base64(std::string_view in);

}  // namespace rivulet
