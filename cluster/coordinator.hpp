#pragma once
// The coordinator process (`rivulet coordinator --listen HOST:PORT`): one
// typed CAF actor published on the middleman, holding a CoordinatorState.
// It is not in the data path: nodes keep processing while it is down, and a
// restarted coordinator rebuilds its view from their reports and from
// <state.dir>/cluster/coordinator.json (queries and the epoch counter).
#include <atomic>
#include <string>

#include "runtime/config.hpp"

namespace rivulet::cluster {

// Lease and timing derived from the configuration (cluster.* keys).
struct ClusterTimes {
  int64_t failure_timeout_ms = 3000;
  int64_t heartbeat_ms = 250;
  int64_t lease_ms = 1500;  // failure timeout / 2
};
ClusterTimes cluster_times(const Config& config);

// Runs until `stop` becomes true (the command sets it on SIGTERM/SIGINT).
// Prints "coordinator listening on HOST:PORT" once it accepts nodes.
// Returns the process exit status.
int run_coordinator(const std::string& listen, const Config& config, std::atomic<bool>& stop);

}  // namespace rivulet::cluster
