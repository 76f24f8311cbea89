#include "operators/distinct_sketch.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace rivulet {

namespace {

constexpr char kSparse = 'S';
constexpr char kDense = 'D';
// The dense form: the tag, the registers, then how many registers hold
// each rank 0..kMaxRank (two bytes each, little-endian), kept with the
// registers so an estimate sums kMaxRank + 1 terms, not 2^14.
using distinct_sketch::kMaxRank;
constexpr size_t kHistogram = 1 + distinct_sketch::kRegisters;
constexpr size_t kDenseSize = distinct_sketch::kDenseBytes;

uint64_t load(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void store(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint32_t rank_count(const std::string& dense, int rank) {
  const size_t at = kHistogram + 2 * static_cast<size_t>(rank);
  return static_cast<unsigned char>(dense[at]) |
         (static_cast<uint32_t>(static_cast<unsigned char>(dense[at + 1])) << 8);
}

void set_rank_count(std::string& dense, int rank, uint32_t n) {
  const size_t at = kHistogram + 2 * static_cast<size_t>(rank);
  dense[at] = static_cast<char>(n & 0xff);
  dense[at + 1] = static_cast<char>((n >> 8) & 0xff);
}

bool is_sparse(const std::string& s) {
  return !s.empty() && s[0] == kSparse && (s.size() - 1) % 8 == 0 &&
         (s.size() - 1) / 8 <= distinct_sketch::kSparseMax;
}

bool is_dense(const std::string& s) {
  return s.size() == kDenseSize && s[0] == kDense;
}

size_t sparse_count(const std::string& s) {
  return (s.size() - 1) / 8;
}

// The register of `h` and its rank: leading zeros of the bits after the
// index, plus one (64 - 14 bits: at most 51).
void place(uint64_t h, size_t& index, uint8_t& rank) {
  using distinct_sketch::kPrecision;
  index = static_cast<size_t>(h >> (64 - kPrecision));
  const uint64_t rest = h << kPrecision;
  int zeros = 0;
  if (rest == 0) {
    zeros = 64 - kPrecision;
  } else {
    while (!(rest & (uint64_t{1} << (63 - zeros)))) ++zeros;
  }
  rank = static_cast<uint8_t>(zeros + 1);
}

// Register `index` raised to `rank` if below it, the histogram kept.
void raise_to(std::string& dense, size_t index, uint8_t rank) {
  auto& reg = reinterpret_cast<unsigned char&>(dense[1 + index]);
  if (rank <= reg || rank > kMaxRank) return;
  if (reg <= kMaxRank) {
    const uint32_t n = rank_count(dense, reg);
    if (n > 0) set_rank_count(dense, reg, n - 1);
  }
  reg = rank;
  set_rank_count(dense, rank, rank_count(dense, rank) + 1);
}

void raise(std::string& dense, uint64_t h) {
  size_t index;
  uint8_t rank;
  place(h, index, rank);
  raise_to(dense, index, rank);
}

std::string empty_dense() {
  std::string dense(kDenseSize, '\0');
  dense[0] = kDense;
  set_rank_count(dense, 0, static_cast<uint32_t>(distinct_sketch::kRegisters));
  return dense;
}

std::string to_dense(const std::string& sparse) {
  std::string dense = empty_dense();
  if (is_sparse(sparse))
    for (size_t i = 0; i < sparse_count(sparse); ++i) raise(dense, load(sparse.data() + 1 + 8 * i));
  return dense;
}

}  // namespace

namespace distinct_sketch {

std::string empty() {
  return std::string(1, kSparse);
}

bool valid(const std::string& sketch) {
  if (is_dense(sketch)) {
    std::vector<uint32_t> counts(kMaxRank + 1, 0);
    for (size_t i = 1; i < kHistogram; ++i) {
      const unsigned char r = static_cast<unsigned char>(sketch[i]);
      if (r > kMaxRank) return false;
      ++counts[r];
    }
    for (int r = 0; r <= kMaxRank; ++r)
      if (rank_count(sketch, r) != counts[static_cast<size_t>(r)]) return false;
    return true;
  }
  if (!is_sparse(sketch)) return false;
  for (size_t i = 1; i < sparse_count(sketch); ++i)
    if (load(sketch.data() + 1 + 8 * (i - 1)) >= load(sketch.data() + 1 + 8 * i)) return false;
  return true;
}

std::string add(std::string sketch, uint64_t h) {
  if (is_dense(sketch)) {
    raise(sketch, h);
    return sketch;
  }
  if (!is_sparse(sketch)) sketch = empty();
  // Binary search in the sorted hashes.
  size_t lo = 0, hi = sparse_count(sketch);
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (load(sketch.data() + 1 + 8 * mid) < h) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo < sparse_count(sketch) && load(sketch.data() + 1 + 8 * lo) == h) return sketch;
  if (sparse_count(sketch) == kSparseMax) {
    std::string dense = to_dense(sketch);
    raise(dense, h);
    return dense;
  }
  char bytes[8];
  store(bytes, h);
  sketch.insert(1 + 8 * lo, bytes, 8);
  return sketch;
}

std::string merge(const std::string& a, const std::string& b) {
  if (is_dense(a) || is_dense(b)) {
    std::string out = is_dense(a) ? a : to_dense(a);
    if (is_dense(b)) {
      for (size_t i = 0; i < kRegisters; ++i)
        raise_to(out, i, static_cast<unsigned char>(b[1 + i]));
    } else if (is_sparse(b)) {
      for (size_t i = 0; i < sparse_count(b); ++i) raise(out, load(b.data() + 1 + 8 * i));
    }
    return out;
  }
  std::vector<uint64_t> hashes;
  for (const std::string* s : {&a, &b})
    if (is_sparse(*s))
      for (size_t i = 0; i < sparse_count(*s); ++i) hashes.push_back(load(s->data() + 1 + 8 * i));
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
  std::string out = empty();
  if (hashes.size() > kSparseMax) {
    out = empty_dense();
    for (uint64_t h : hashes) raise(out, h);
    return out;
  }
  out.resize(1 + 8 * hashes.size());
  for (size_t i = 0; i < hashes.size(); ++i) store(out.data() + 1 + 8 * i, hashes[i]);
  return out;
}

int64_t estimate(const std::string& sketch) {
  if (is_sparse(sketch)) return static_cast<int64_t>(sparse_count(sketch));
  if (!is_dense(sketch)) return 0;
  const double m = static_cast<double>(kRegisters);
  double sum = 0;
  for (int r = 0; r <= kMaxRank; ++r)
    sum += std::ldexp(static_cast<double>(rank_count(sketch, r)), -r);
  const uint32_t zeros = rank_count(sketch, 0);
  if (!(sum > 0)) return 0;
  const double alpha = 0.7213 / (1.0 + 1.079 / m);
  double e = alpha * m * m / sum;
  if (e <= 2.5 * m && zeros > 0) e = m * std::log(m / static_cast<double>(zeros));
  return std::max<int64_t>(0, static_cast<int64_t>(std::llround(e)));  // a corrupt histogram
}

}  // namespace distinct_sketch

uint64_t stable_value_hash(const Value& v) {
  // One seed per family of kinds that compare equal as SQL values.
  auto of_int = [](int64_t i, uint64_t seed) {
    char b[8];
    store(b, static_cast<uint64_t>(i));
    return XXH3_64bits_withSeed(b, 8, seed);
  };
  switch (v.kind()) {
    case TypeKind::Null:
      return 0;
    case TypeKind::Boolean:
      return of_int(v.as_bool() ? 1 : 0, 1);
    case TypeKind::Int:
    case TypeKind::BigInt:
      return of_int(v.to_int64(), 2);
    case TypeKind::Double: {
      double d = v.as_double();
      if (d == 0) d = 0;  // -0.0 as 0.0
      uint64_t bits;
      std::memcpy(&bits, &d, 8);
      return of_int(static_cast<int64_t>(bits), 3);
    }
    case TypeKind::String:
      return XXH3_64bits_withSeed(v.as_string().data(), v.as_string().size(), 4);
    case TypeKind::Bytes:
      return XXH3_64bits_withSeed(v.as_bytes().data(), v.as_bytes().size(), 5);
    case TypeKind::Timestamp:
      return of_int(v.as_timestamp(), 6);
    case TypeKind::Date:
      return of_int(v.as_date(), 7);
    case TypeKind::Time:
      return of_int(v.as_time(), 8);
    default: {
      // DECIMAL, ARRAY, MAP, STRUCT: by their text, which is deterministic.
      const std::string text = v.to_string();
      return XXH3_64bits_withSeed(text.data(), text.size(), 9 + static_cast<uint64_t>(v.kind()));
    }
  }
}

}  // namespace rivulet
