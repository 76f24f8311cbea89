#pragma once
// What the command-line clients (`rivulet submit`, `rivulet status`) ask
// the coordinator. Each call connects, asks once and disconnects.
#include <chrono>
#include <string>
#include <vector>

#include "cluster/protocol.hpp"
#include "runtime/config.hpp"
#include "runtime/error.hpp"

namespace rivulet::cluster {

// The coordinator's status as JSON text (see CoordinatorState::status_json).
// `config`: the cluster.tls.* settings to connect with; nullptr: those of
// the environment (RIVULET_CLUSTER_TLS_*).
Expected<std::string> fetch_status(const std::string& coordinator,
                                   const Config* config = nullptr);

// Registers `query` (name, SQL text, task count); the coordinator's refusal
// is an error.
Expected<bool> submit_query(const std::string& coordinator, const QueryDef& query,
                            const std::string& secret, const Config* config = nullptr);

// Asks the coordinator to terminate query `name` (CoordinatorState::
// terminate); returns once it accepted, before the tasks have stopped.
Expected<bool> terminate_query(const std::string& coordinator, const std::string& name,
                               const std::string& secret, const Config* config = nullptr);

// Asks the coordinator to pause (or resume) query `name` on every node
// (CoordinatorState::set_paused); returns once it accepted: the nodes
// follow within a heartbeat.
Expected<bool> pause_query(const std::string& coordinator, const std::string& name, bool paused,
                           const std::string& secret, const Config* config = nullptr);

// PAUSE ALL / RESUME ALL: pause_query for every query the coordinator
// lists (not those being terminated), one request each; returns their
// names, in the coordinator's order. A query terminated between the
// listing and its request is left out; any other refusal is an error
// (the queries asked before it keep their new state).
Expected<std::vector<std::string>> pause_all(const std::string& coordinator, bool paused,
                                             const std::string& secret,
                                             const Config* config = nullptr);

// Waits until the coordinator no longer lists query `name`: every task was
// released or its node is gone. After `timeout`, an error names the tasks
// still held and by whom.
Expected<bool> wait_terminated(const std::string& coordinator, const std::string& name,
                               const Config* config, std::chrono::milliseconds timeout);

// The status JSON as tables for people.
std::string render_status_table(const std::string& status_json);

}  // namespace rivulet::cluster
