#pragma once
// Keys as a producer writes them, for tests that pipe records.
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

}  // namespace rivulet::testing
