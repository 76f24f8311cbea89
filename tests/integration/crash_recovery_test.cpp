// The long SIGKILL crash drill (label `crash`, `make test-crash`): 30,000
// orders, five incarnations killed (the first inside a checkpoint write),
// with both checkpoint stores; killed through `rivulet chaos --http` and
// judged by `rivulet verify` (crash_drill.hpp). crash_short_test.cpp runs
// a short drill in `make test`.
#include "crash_drill.hpp"

TEST_CASE("SIGKILLed again and again, a node loses nothing and its counts stay exact",
          "[integration][crash]") {
  // Both checkpoint stores. With the Kafka store every incarnation gets a
  // fresh state.dir (as if it ran on another machine), and the first one
  // dies between a checkpoint's chunks and its manifest.
  rivulet::testing::CrashDrill drill;
  drill.store = GENERATE(as<std::string>(), "directory", "kafka");
  rivulet::testing::run_crash_drill(drill);
}
