// The long SIGKILL crash drill (label `crash`, `make test-crash`) at issue
// 5's size: 200,000 orders joined with users plus per-user counts on 8
// partitions, checkpointing every second; nine incarnations killed (the first inside a checkpoint
// write, the others at random points through `rivulet chaos --http`), with both checkpoint stores,
// then one runs until the input is consumed. The outputs go to 128 partitions each, so that all
// of them (replay duplicates included) stay within the embedded broker's 5 MiB per partition, and
// `rivulet verify` reads them back after the run (crash_drill.hpp). crash_short_test.cpp runs a
// short drill in `make test`.
#include "crash_drill.hpp"

TEST_CASE("SIGKILLed again and again, a node loses nothing and its counts stay exact",
          "[integration][crash]") {
  // Both checkpoint stores. With the Kafka store every incarnation gets a
  // fresh state.dir (as if it ran on another machine), and the first one
  // dies between a checkpoint's chunks and its manifest.
  rivulet::testing::CrashDrill drill;
  drill.orders = 200000;
  drill.users = 10000;  // the demo's
  drill.rounds = 9;
  drill.output_partitions = 128;
  // Written while the nodes run, so that the kills land all along the input
  // (written up front, it was consumed before the third kill).
  drill.orders_per_second = 4000;
  drill.checkpoint_interval_ms = 1000;  // the "checkpointing every second"
  drill.store = GENERATE(as<std::string>(), "directory", "kafka");
  rivulet::testing::run_crash_drill(drill);
}
