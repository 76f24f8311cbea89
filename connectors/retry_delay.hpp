#pragma once
// Bounded exponential backoff with jitter for the connectors' blocking
// request loops (metadata, watermarks, topic creation).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace rivulet::connectors {

// Delay before retry number `attempt` (0-based): base * 2^attempt capped at
// `cap`, then scaled by a random factor in [0.5, 1] so that many clients
// retrying together spread out.
inline std::chrono::milliseconds retry_delay(int attempt,
                                             std::chrono::milliseconds base = std::chrono::milliseconds(20),
                                             std::chrono::milliseconds cap = std::chrono::milliseconds(1000)) {
  const int shift = std::clamp(attempt, 0, 20);
  const int64_t grown = std::min<int64_t>(cap.count(), base.count() << shift);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<int64_t> jitter(grown / 2, std::max<int64_t>(grown, 1));
  return std::chrono::milliseconds(jitter(rng));
}

}  // namespace rivulet::connectors
