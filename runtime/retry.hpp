#pragma once
// Bounded exponential backoff with jitter, as a pure function: the caller
// supplies the randomness, so tests (and deterministic simulations) get
// exact delays, and every retry loop in Rivulet spreads out the same way.
#include <algorithm>
#include <chrono>
#include <cstdint>

namespace rivulet {

// Delay before retry number `attempt` (0 = first retry):
//   grown = min(max, base * 2^attempt)
//   delay = grown * (1 - jitter_fraction * u),  u = random / 2^64 in [0, 1)
// so the delay lies in (grown * (1 - jitter_fraction), grown]. Jitter
// subtracts rather than adds so that `max` is a true upper bound.
// jitter_fraction is clamped to [0, 1]; negative attempts count as 0;
// base <= 0 gives 0.
inline std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base,
                                               std::chrono::milliseconds max,
                                               double jitter_fraction, uint64_t random) {
  const int64_t b = base.count();
  const int64_t cap = std::max<int64_t>(max.count(), 0);
  if (b <= 0 || cap == 0) return std::chrono::milliseconds(0);
  // Doubling stops at the cap, so it never overflows.
  int64_t grown = std::min(b, cap);
  for (int i = 0; i < attempt && grown < cap; ++i) grown = grown > cap / 2 ? cap : grown * 2;
  const double fraction = std::clamp(jitter_fraction, 0.0, 1.0);
  const double u = static_cast<double>(random >> 11) * 0x1.0p-53;  // [0, 1)
  const auto jitter = static_cast<int64_t>(static_cast<double>(grown) * fraction * u);
  return std::chrono::milliseconds(grown - jitter);
}

}  // namespace rivulet
