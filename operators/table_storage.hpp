#pragma once
// How a KTable keeps its rows (operators/ktable.hpp has the details).
#include <cstddef>
#include <cstdint>

namespace rivulet {

// Decoded: rows as Values (fastest lookups, 5-8x the raw bytes). Encoded:
// rows as msgpack bytes in an arena (about 1.2-1.6x, decoded at each
// lookup). Auto: Decoded while small, Encoded from kAutoEncodeEntries on.
enum class TableStorage : uint8_t { Decoded, Encoded, Auto };

// TableStorage::Auto's default switch: 10,000 entries, about 3.3 MB
// decoded for rows of 60 raw bytes. Where the SQL join's lookups cost the
// same both ways (docs/benchmarks.md, "Tables encoded once large": decoded
// 8-12% faster at 2,000 and 8,000 rows, encoded 10-15% faster at 16,000
// and 30-40% at 100,000).
inline constexpr size_t kAutoEncodeEntries = 10000;

// A task's AUTO tables' share of a decoded-bytes budget
// (table.decoded.max.bytes): budget / partitions, split evenly among the
// task's `tables`. No node holds more than the budget, whatever the
// assignment.
inline size_t decoded_table_share(uint64_t budget, int32_t partitions, size_t tables) {
  const uint64_t per_task = budget / static_cast<uint64_t>(partitions > 1 ? partitions : 1);
  return static_cast<size_t>(per_task / (tables > 1 ? tables : 1));
}

inline const char* table_storage_name(TableStorage s) {
  switch (s) {
    case TableStorage::Decoded:
      return "decoded";
    case TableStorage::Encoded:
      return "encoded";
    default:
      return "auto";
  }
}

}  // namespace rivulet
