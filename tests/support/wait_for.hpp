#pragma once
// Waiting in tests for something another thread or process does.
#include <chrono>
#include <functional>
#include <thread>

namespace rivulet::testing {

// Polls `condition` every 10 ms until it holds (true) or `timeout` has
// passed (false).
inline bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace rivulet::testing
