#pragma once
// The protocol of the actors subsystem, in one place: atoms, message types
// and the typed interface of every actor in actors/. Records never travel as
// actor messages: batches go through TaskInbox (lock-free), and an actor
// message only says "there is work" or asks for control actions.
#include <cstdint>
#include <string>

#include <caf/all.hpp>

namespace rivulet::actors {

using wake_atom = caf::atom_constant<caf::atom("wake")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using commit_atom = caf::atom_constant<caf::atom("commit")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using checkpoint_atom = caf::atom_constant<caf::atom("ckpt")>;
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;

// The most bytes of rows one task's answer to a table scan holds (a bound on
// the answer's memory and on the control plane's message).
constexpr size_t kScanMaxBytes = size_t{16} << 20;

// A task's state as reported to status and health queries.
struct TaskStatus {
  std::string task;        // "<application.id>-<partition>"
  std::string state;       // "running", "draining", "stopped", "failed"
  std::string error;       // why it failed, when it did
  uint64_t records_in = 0;
  uint64_t records_out = 0;
  uint64_t data_errors = 0;
  int64_t stream_time = -1;
  uint64_t runs_in_flight = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, TaskStatus& x) {
  return f(caf::meta::type_name("rivulet::actors::TaskStatus"), x.task, x.state, x.error,
           x.records_in, x.records_out, x.data_errors, x.stream_time, x.runs_in_flight);
}

// One partition task: owns its KTables and operator chain.
using task_actor = caf::typed_actor<
    // New batches wait in the task's inbox: drain and process them.
    caf::reacts_to<wake_atom>,
    // Periodic (commit.interval.ms): commit acknowledged progress, re-check
    // inputs that were being waited for.
    caf::reacts_to<tick_atom>,
    // Periodic (checkpoint.interval.ms): snapshot the task's state; it is
    // written once the outputs it reflects are acknowledged.
    caf::reacts_to<checkpoint_atom>,
    // Shutdown step 1: process everything buffered, waiting for nothing.
    caf::replies_to<drain_atom>::with<bool>,
    // Shutdown step 2 (after the producer flushed): commit everything
    // acknowledged; replies false when a delivery failed.
    caf::replies_to<commit_atom>::with<bool>,
    // Current status.
    caf::replies_to<status_atom>::with<TaskStatus>,
    // Interactive query (rivulet query): the value of a key (msgpack bytes,
    // codecs::msgpack) in one of the task's KTables, read between two runs
    // of records. Replies (found, value as msgpack bytes); an unknown table
    // is (false, "no table NAME"). An empty key asks for the whole table (a
    // pull query's scan): (true, a msgpack array of [key, value] arrays),
    // or (false, why) past kScanMaxBytes.
    caf::replies_to<lookup_atom, std::string, std::string>::with<bool, std::string>>;

}  // namespace rivulet::actors
