#pragma once
// Keys as a producer writes them, for tests that pipe records.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "runtime/codec.hpp"

namespace rivulet::testing {

// A STRING key in the KAFKA format.
inline std::string string_key(const std::string& k) {
  auto bytes = make_kafka_codec(DataType::of(TypeKind::String))->encode(Value::string(k));
  if (!bytes) throw std::runtime_error(bytes.error().message);
  return *bytes;
}

// An INT key in the KAFKA format.
inline std::string int_key(int32_t k) {
  auto bytes = make_kafka_codec(DataType::of(TypeKind::Int))->encode(Value::int32(k));
  if (!bytes) throw std::runtime_error(bytes.error().message);
  return *bytes;
}

}  // namespace rivulet::testing
