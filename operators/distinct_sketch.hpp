#pragma once
// COUNT_DISTINCT's state: a HyperLogLog sketch of the distinct values seen,
// kept in one BYTES value so it travels as any accumulator does (snapshots,
// changelogs, two-phase partials).
//
// Two forms, chosen by the first byte:
//  - sparse ('S'): the distinct 64-bit hashes themselves, sorted, 8 bytes
//    each (little-endian). The count is exact (up to a collision of 64-bit
//    hashes). Used up to kSparseMax hashes, where it weighs 8 KiB;
//  - dense ('D'): HyperLogLog's 2^14 one-byte registers (16 KiB), as
//    ksqlDB's COUNT_DISTINCT (precision 14: a standard error of 0.81%):
//    register i holds the most leading zeros, plus one, seen after the
//    14 index bits of any hash that falls in it. Then how many registers
//    hold each rank (0 to 51, two bytes each), kept as registers rise, so
//    an estimate sums 52 terms instead of reading 2^14 registers. Estimated
//    with linear counting while registers are empty and the raw estimate
//    is small (up to 2.5 m), the raw estimate beyond; 64-bit hashes need
//    no large-range correction.
// A group's sketch is bounded (at most kDenseBytes, 16,489) whatever the
// number of distinct values.
//
// Values hash by content (runtime: stable_value_hash), the same in every
// process and build, so a sketch restored elsewhere goes on counting the
// same values as the same.
#include <cstdint>
#include <string>

#include "runtime/value.hpp"

namespace rivulet {

namespace distinct_sketch {

inline constexpr int kPrecision = 14;
inline constexpr size_t kRegisters = size_t{1} << kPrecision;
inline constexpr size_t kSparseMax = 1024;
inline constexpr int kMaxRank = 64 - kPrecision + 1;
inline constexpr size_t kDenseBytes = 1 + kRegisters + 2 * (kMaxRank + 1);

// The sketch of no value.
std::string empty();
// `sketch` with the hash `h` added (a sketch not of this format is treated as
// empty: a restored accumulator is checked by decode_accumulators' caller).
std::string add(std::string sketch, uint64_t h);
// The union of two sketches.
std::string merge(const std::string& a, const std::string& b);
// The estimated number of distinct hashes (exact while sparse).
int64_t estimate(const std::string& sketch);
// Whether `sketch` is a well-formed sketch (restores check what they read).
bool valid(const std::string& sketch);

}  // namespace distinct_sketch

// A 64-bit hash of `v`'s content, stable across processes and builds: values
// equal as SQL values of one type hash alike (-0.0 as 0.0; a decimal by its
// digits and scale, normalized).
uint64_t stable_value_hash(const Value& v);

}  // namespace rivulet
