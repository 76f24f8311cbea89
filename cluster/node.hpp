#pragma once
// A cluster node (`rivulet node --coordinator HOST:PORT --name NAME`): runs
// the tasks the coordinator assigns to it, one Application per query (each
// node plans the query's SQL itself), and hands tasks over when told to.
//
// Threads: the heartbeat thread talks to the coordinator (a scoped CAF actor
// over the middleman) and extends the write leases of the tasks its answer
// lists; the controller thread starts, hands over and abandons tasks (the
// slow part), so heartbeats never wait for a hand-over.
//
// Leases (docs/cluster.md): a task writes only while its lease runs. An
// answer to a heartbeat sent at time s extends the leases of the tasks it
// lists to s + lease (cluster.failure.timeout.ms / 2). While the
// coordinator is down (its port refuses connections: no coordinator can be
// reassigning anything), leases that are still valid are extended from the
// moment of the refusal; a node that was itself stopped finds its leases run
// out and stays fenced until a coordinator gives its tasks back.
#include <atomic>
#include <string>

#include "runtime/config.hpp"

namespace rivulet::cluster {

struct NodeOptions {
  std::string coordinator;  // HOST:PORT
  std::string name;
  std::string http;  // HOST:PORT of its HTTP endpoint; empty: none
};

// Runs until `stop` becomes true (SIGTERM: hand every task over, then exit).
int run_node(const NodeOptions& options, const Config& config, std::atomic<bool>& stop);

}  // namespace rivulet::cluster
