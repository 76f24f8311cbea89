#pragma once
// Bounded exponential backoff with jitter for the connectors' blocking
// request loops (metadata, watermarks, topic creation): runtime's
// backoff_delay with a per-thread random source.
#include <chrono>
#include <random>

#include "runtime/retry.hpp"

namespace rivulet::connectors {

// Delay before retry number `attempt` (0-based): base * 2^attempt capped at
// `cap`, minus up to half of it at random, so that many clients retrying
// together spread out. Always within [grown / 2, grown].
inline std::chrono::milliseconds retry_delay(
    int attempt, std::chrono::milliseconds base = std::chrono::milliseconds(20),
    std::chrono::milliseconds cap = std::chrono::milliseconds(1000)) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return backoff_delay(attempt, base, cap, 0.5, rng());
}

}  // namespace rivulet::connectors
