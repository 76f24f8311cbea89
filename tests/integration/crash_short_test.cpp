// A short SIGKILL crash drill in `make test` (the long one is
// crash_recovery_test.cpp, `make test-crash`): 4,000 orders on 8 partitions,
// one incarnation dies inside a checkpoint write (RIVULET_FAULT), one is
// killed mid-stream with `rivulet chaos --http ... kill`, then the last
// consumes the rest; `rivulet verify` judges (nothing lost, duplicates only
// replays, exact per-user counts). Its outputs have 16 partitions: an
// existing output topic is taken with its own partition count.
#include "crash_drill.hpp"

TEST_CASE("a short crash drill: killed inside a checkpoint write and mid-stream, nothing lost, counts exact",
          "[integration][crash]") {
  rivulet::testing::CrashDrill drill;
  drill.orders = 4000;
  drill.users = 400;
  drill.rounds = 2;
  // Outputs on more partitions than the input's 8 (taken as they are, the
  // records partitioned by key), as the long drill does.
  drill.output_partitions = 16;
  rivulet::testing::run_crash_drill(drill);
}

// The same with the output cache on (statestore.cache.max.bytes): the
// counts leave once per user and commit, so a kill loses whatever a task
// held cached. Its commits never pass the input of a cached count, so the
// restarted task counts that input again and writes it: the final counts
// are still exact.
TEST_CASE("a short crash drill with the output cache: killed while counts are cached, counts exact",
          "[integration][crash]") {
  rivulet::testing::CrashDrill drill;
  drill.orders = 4000;
  drill.users = 40;  // many updates per user between two commits
  drill.rounds = 3;
  drill.output_partitions = 16;
  // Written while the nodes run, so the kills land while counts are cached.
  drill.orders_per_second = 1000;
  // Large enough that only the commits (every 300 ms) and the tasks
  // catching up flush it.
  drill.env = {"RIVULET_STATESTORE_CACHE_MAX_BYTES=16777216", "RIVULET_COMMIT_INTERVAL_MS=300"};
  // Without the cache every order writes a count (4,000 and the replays');
  // with it, about one per user and commit.
  drill.max_count_records = drill.orders / 2;
  rivulet::testing::run_crash_drill(drill);
}
