#pragma once
// Helpers for codec tests: hexadecimal text of bytes, and a deep equality
// of values that also compares kinds.
#include <string>
#include <string_view>

#include "runtime/value.hpp"

namespace rivulet::testing {

// "0a1b" -> the bytes 0x0a 0x1b. Lower-case digits only.
inline std::string from_hex(std::string_view hex) {
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
  }
  return out;
}

inline std::string to_hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

// Equal and of the same kinds all the way down (Value's == compares
// numbers across kinds), decimals at the same scale, maps in any order.
inline bool identical(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case TypeKind::Decimal:
      return a.as_decimal().to_string() == b.as_decimal().to_string();
    case TypeKind::Array: {
      const auto& x = a.as_array();
      const auto& y = b.as_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i)
        if (!identical(x[i], y[i])) return false;
      return true;
    }
    case TypeKind::Map: {
      const auto& x = a.as_map();
      if (x.size() != b.as_map().size()) return false;
      for (const auto& [k, v] : x) {
        const Value* w = b.entry(k);
        if (!w || !identical(v, *w)) return false;
      }
      return true;
    }
    case TypeKind::Struct: {
      const auto& x = a.as_struct();
      const auto& y = b.as_struct();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i)
        if (x[i].name != y[i].name || !identical(x[i].value, y[i].value)) return false;
      return true;
    }
    default:
      return a == b;
  }
}

}  // namespace rivulet::testing
