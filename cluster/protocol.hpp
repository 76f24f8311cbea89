#pragma once
// The control protocol between the coordinator, the nodes and the command-line
// clients (`rivulet submit`, `rivulet status`), over CAF's middleman. The data
// plane stays on Kafka: these messages only carry membership, assignment,
// reports and status, a few per second.
//
// Every type here is registered through the `rivulet_cluster` type-id block,
// on every process (register_protocol). CAF 0.17 silently turns a message
// of a type the receiver lacks into an empty one, so a node's first message
// (hello) uses built-in types only and carries the protocol version and the
// names of every registered type; the coordinator refuses a mismatch with an
// error saying what differs (check_hello).
//
// Conversation of a node:
//   hello(version, type names, secret)      -> "" (welcome) or the reason for refusal
//   heartbeat(NodeReport), every heartbeat interval -> NodeOrders
//   leave(name)                              -> true (its tasks are then released)
//   attach(name, secret, control actor)      -> "" or the reason for refusal (after
//                                              every hello: the node's control channel)
// Clients: submit(QueryDef, secret) -> "" or an error; terminate(name,
//   secret) and pause(name, paused, secret) -> "" or an error; status() -> JSON text;
//   queries() -> every QueryDef; lookup(query, partition, store, key) -> the
//   owning node's answer (rivulet query); fault(node, kind, max_ms, secret)
//   -> "" or an error (rivulet chaos on a remote node).
//
// A node's control actor (a dynamically typed caf::actor, built-in types
// only; the coordinator forwards to it):
//   lookup(query, partition, epoch, store, key) -> (LookupStatus, payload)
//   fault("kill"|"pause"|"resume", max_ms)     -> "" or an error
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/all.hpp>

namespace rivulet::cluster {

// Grows with every incompatible change to the messages below.
constexpr uint32_t kProtocolVersion = 3;

// A task as a node reports it.
struct TaskReport {
  std::string query;
  int32_t partition = 0;
  int64_t epoch = 0;
  std::string state;  // "running", "paused", "releasing", "failed", "fenced"
  int64_t lag = 0;
  int64_t checkpoint_age_ms = -1;  // -1: no checkpoint yet
  uint64_t records_in = 0;
  uint64_t records_out = 0;
  std::string error;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, TaskReport& x) {
  return f(caf::meta::type_name("rivulet::cluster::TaskReport"), x.query, x.partition, x.epoch,
           x.state, x.lag, x.checkpoint_age_ms, x.records_in, x.records_out, x.error);
}

// What a node says in every heartbeat: who it is and what it runs.
struct NodeReport {
  std::string name;
  std::string secret;
  int64_t pid = 0;
  std::string host;
  std::string http;      // its HTTP endpoint, "" when none
  bool leaving = false;  // SIGTERM: hand everything over, then exit
  std::vector<TaskReport> tasks;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, NodeReport& x) {
  return f(caf::meta::type_name("rivulet::cluster::NodeReport"), x.name, x.secret, x.pid, x.host,
           x.http, x.leaving, x.tasks);
}

// One task the node must run (or, with release, hand over).
struct TaskOrder {
  std::string query;
  int32_t partition = 0;
  int64_t epoch = 0;
  bool release = false;  // checkpoint, commit and stop it: it moves elsewhere
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, TaskOrder& x) {
  return f(caf::meta::type_name("rivulet::cluster::TaskOrder"), x.query, x.partition, x.epoch,
           x.release);
}

// A persistent query: a SQL file registered with `rivulet submit`.
struct QueryDef {
  std::string name;
  std::string sql;
  int32_t partitions = 0;  // its tasks: the partition count of its largest input
  // The inputs with fewer partitions than `partitions` (a task beyond an
  // input's count does not read it), by topic; empty when all have as many
  // (PartitionPlan). Interactive queries place keys with them.
  std::map<std::string, int32_t> smaller_inputs;
  // PAUSE (rivulet pause, the shell's PAUSE of a submitted query): every
  // node holds its tasks still (Application::pause) until RESUME.
  bool paused = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, QueryDef& x) {
  return f(caf::meta::type_name("rivulet::cluster::QueryDef"), x.name, x.sql, x.partitions,
           x.smaller_inputs, x.paused);
}

// The coordinator's answer to a heartbeat: the complete set of tasks the
// node may run (anything else it runs is stale and must stop without
// writing), and the queries they belong to.
struct NodeOrders {
  std::string error;  // non-empty: refused (the node exits with it)
  std::vector<TaskOrder> tasks;
  std::vector<QueryDef> queries;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, NodeOrders& x) {
  return f(caf::meta::type_name("rivulet::cluster::NodeOrders"), x.error, x.tasks, x.queries);
}

}  // namespace rivulet::cluster

CAF_BEGIN_TYPE_ID_BLOCK(rivulet_cluster, caf::first_custom_type_id)
CAF_ADD_TYPE_ID(rivulet_cluster, (rivulet::cluster::TaskReport))
CAF_ADD_TYPE_ID(rivulet_cluster, (std::vector<rivulet::cluster::TaskReport>))
CAF_ADD_TYPE_ID(rivulet_cluster, (rivulet::cluster::NodeReport))
CAF_ADD_TYPE_ID(rivulet_cluster, (rivulet::cluster::TaskOrder))
CAF_ADD_TYPE_ID(rivulet_cluster, (std::vector<rivulet::cluster::TaskOrder>))
CAF_ADD_TYPE_ID(rivulet_cluster, (rivulet::cluster::QueryDef))
CAF_ADD_TYPE_ID(rivulet_cluster, (std::vector<rivulet::cluster::QueryDef>))
CAF_ADD_TYPE_ID(rivulet_cluster, (rivulet::cluster::NodeOrders))
CAF_END_TYPE_ID_BLOCK(rivulet_cluster)

namespace rivulet::cluster {

using hello_atom = caf::atom_constant<caf::atom("hello")>;
using heartbeat_atom = caf::atom_constant<caf::atom("heartbeat")>;
using leave_atom = caf::atom_constant<caf::atom("leave")>;
using submit_atom = caf::atom_constant<caf::atom("submit")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using attach_atom = caf::atom_constant<caf::atom("attach")>;
using queries_atom = caf::atom_constant<caf::atom("queries")>;
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;
using fault_atom = caf::atom_constant<caf::atom("fault")>;
using terminate_atom = caf::atom_constant<caf::atom("terminate")>;
using pause_atom = caf::atom_constant<caf::atom("pausequery")>;

// The status of an interactive query's answer; the payload is the value as
// msgpack bytes (Found), empty (Absent) or an error message (Error).
enum LookupStatus : int32_t { kLookupFound = 0, kLookupAbsent = 1, kLookupError = 2 };

using coordinator_actor = caf::typed_actor<
    caf::replies_to<hello_atom, uint32_t, std::vector<std::string>, std::string>::with<std::string>,
    caf::replies_to<heartbeat_atom, NodeReport>::with<NodeOrders>,
    caf::replies_to<leave_atom, std::string>::with<bool>,
    caf::replies_to<submit_atom, QueryDef, std::string>::with<std::string>,
    // (query name, secret) -> "" or an error: its tasks are released, then
    // the query is forgotten (CoordinatorState::terminate)
    caf::replies_to<terminate_atom, std::string, std::string>::with<std::string>,
    // (query name, paused, secret) -> "" or an error: every node pauses or
    // resumes its tasks (CoordinatorState::set_paused)
    caf::replies_to<pause_atom, std::string, bool, std::string>::with<std::string>,
    caf::replies_to<status_atom>::with<std::string>,
    caf::replies_to<attach_atom, std::string, std::string, caf::actor>::with<std::string>,
    caf::replies_to<queries_atom>::with<std::vector<QueryDef>>,
    // (query, partition, KTable store, key as msgpack) -> (node, LookupStatus, payload);
    // an empty key scans the task's table (actors/messages.hpp, lookup_atom)
    caf::replies_to<lookup_atom, std::string, int32_t, std::string,
                    std::string>::with<std::string, int32_t, std::string>,
    // (node, "kill"|"pause"|"resume", pause bound in ms, secret) -> "" or an error
    caf::replies_to<fault_atom, std::string, std::string, int64_t, std::string>::with<std::string>,
    // The coordinator's own timer (liveness checks); ignored from others.
    caf::reacts_to<tick_atom>>;

// The names of every type of the protocol, in type-id order (what hello sends).
std::vector<std::string> protocol_type_names();

// The coordinator's check of a hello: "" when compatible, otherwise an error
// naming what differs (version, missing or extra types, secret).
std::string check_hello(uint32_t version, const std::vector<std::string>& types,
                        const std::string& secret, const std::string& expected_secret);

// Registers the protocol's types and the middleman settings every cluster
// process needs: heartbeats and a connection timeout, so that a hung peer
// (SIGSTOP: no TCP close) is noticed. Both follow failure_timeout_ms; a peer
// with a shorter one (`peer_failure_timeout_ms`, > 0) closes a connection
// silent for a third of it, so the heartbeats follow the shorter of the two.
void configure_actor_system(caf::actor_system_config& cfg, int64_t failure_timeout_ms,
                            int64_t peer_failure_timeout_ms = 0);

}  // namespace rivulet::cluster
