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
