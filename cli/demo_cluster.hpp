#pragma once
// `rivulet demo --cluster` (demo_cluster.cpp).
#include <cstdint>

#include "runtime/sanitizer.hpp"

namespace rivulet::cli {

struct ClusterDemoOptions {
  int partitions = 8;
  int64_t users = 10000;
  int64_t orders = 200000;
  int timeout_s = 180;
  int nodes = 3;                    // a fourth joins, one of these is killed
  int stream_seconds = 20;          // the orders after the first quarter arrive over this long
  // cluster.failure.timeout.ms; longer in a sanitizer build, where five
  // instrumented processes on two cores miss heartbeats for seconds and a
  // live node would be declared dead.
  int64_t failure_timeout_ms = 3000 * kSanitizerSlowdown;
};

// Runs the story; prints one JSON summary on stdout; the exit status.
int run_cluster_demo(const ClusterDemoOptions& options);

}  // namespace rivulet::cli
