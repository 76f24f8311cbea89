#pragma once
// Lossless msgpack encoding of Values, for internal topics and checkpoints.
// Decimals, timestamps and bytes keep their types (msgpack ext types);
// structs and maps stay distinguishable.
#include <string>
#include <string_view>

#include <msgpack.hpp>

#include "runtime/error.hpp"
#include "runtime/value.hpp"

namespace rivulet {

void pack_value(msgpack::packer<msgpack::sbuffer>& pk, const Value& v);
Expected<Value> unpack_value(const msgpack::object& o);

std::string to_msgpack(const Value& v);
// msgpack::unpack's limits for `bytes` bytes of untrusted input: no
// container longer than the buffer (each element takes at least a byte),
// so that a forged length is refused instead of allocated. Every unpack of
// bytes read back (checkpoints, internal topics) passes them.
msgpack::unpack_limit unpack_limits(size_t bytes);
Expected<Value> from_msgpack(std::string_view bytes);

}  // namespace rivulet
