#include "runtime/base64.hpp"

#include <cstdint>

namespace rivulet {

namespace {

const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int index_of(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

}  // namespace

void append_base64(std::string& out, std::string_view in) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  size_t i = 0;
  out.reserve(out.size() + (in.size() + 2) / 3 * 4);
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint32_t{p[i]} << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
}

std::string encode_base64(std::string_view in) {
  std::string out;
  append_base64(out, in);
  return out;
}

std::optional<std::string> decode_base64(std::string_view in) {
  size_t padding = 0;
  while (!in.empty() && in.back() == '=' && padding < 2) {
    in.remove_suffix(1);
    ++padding;
  }
  if (in.size() % 4 == 1) return std::nullopt;
  if (padding > 0 && (in.size() + padding) % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    int v = index_of(static_cast<unsigned char>(ch));
    if (v < 0) return std::nullopt;
    acc = ((acc << 6) | static_cast<uint32_t>(v)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

}  // namespace rivulet
