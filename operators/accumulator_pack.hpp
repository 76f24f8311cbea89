#pragma once
// Packs an aggregation's accumulators straight into a checkpoint's msgpack,
// for the stores that snapshot them (aggregation.cpp, window.cpp).
#include <msgpack.hpp>

#include "operators/aggregation.hpp"
#include "runtime/msgpack_value.hpp"

namespace rivulet {

// Byte for byte what pack_value(encode_accumulators(row)) writes, without
// building the Value (allocations per row).
inline void pack_accumulators(msgpack::packer<msgpack::sbuffer>& pk, const AccumulatorRow& row) {
  pk.pack_array(static_cast<uint32_t>(row.size() * 2));
  for (const auto& a : row) {
    pack_value(pk, a.value);
    pk.pack_int64(a.count);
  }
}

}  // namespace rivulet
