#pragma once
// Readers on other threads while a KTable's owner writes (the ktable tests,
// run under RIVULET_SANITIZE=thread too).
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "operators/ktable.hpp"

namespace rivulet::test {

// A small struct row, user i's (the ktable tests' values).
inline Value user_row(int64_t i) {
  StructFields f;
  f.push_back(Field{"id", Value::int64(i)});
  f.push_back(Field{"name", Value::string("user " + std::to_string(i))});
  return Value::structure(std::move(f));
}

struct ReadCounts {
  int wrong = 0;
  int64_t reads = 0;
};

// Two threads read `t.get(BIGINT key)` for random keys below `keys` while
// `write` runs on this thread (the table's owner); `ok(key, value)` judges
// each read. The readers are stopped and joined however `write` ends.
inline ReadCounts read_while_writing(
    const KTable& t, int keys, const std::function<bool(int, const std::optional<Value>&)>& ok,
    const std::function<void()>& write) {
  std::atomic<bool> done{false};
  std::atomic<int> wrong{0};
  std::atomic<int64_t> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&, r] {
      std::mt19937 rng(r);
      while (!done.load()) {
        const int i = static_cast<int>(rng() % static_cast<unsigned>(keys));
        if (!ok(i, t.get(Value::int64(i)))) ++wrong;
        ++reads;
      }
    });
  }
  auto stop = [&] {
    done = true;
    for (auto& th : readers) th.join();
  };
  try {
    write();
  } catch (...) {
    stop();
    throw;
  }
  stop();
  return ReadCounts{wrong.load(), reads.load()};
}

}  // namespace rivulet::test
