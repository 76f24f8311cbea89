#pragma once
// How the actor systems of a process schedule: shared by the Application's
// task system and the cluster's control system.
//
// CAF's work-stealing workers, with nothing to run, spin 100 times, then
// poll 500 times with a 50 us sleep between polls (25 ms), and only then
// wait on a condition variable that an enqueue wakes. A task's timers (the
// commit tick, the merger's wait) and a node's heartbeats wake a worker
// more often than every 25 ms, so idle workers never reached the wait and
// an idle application burnt 6-8% of a core in nanosleep (perf: 41% of its
// samples). With 20 polls a worker waits on the condition variable after
// about 1 ms of idleness; an enqueue still wakes it at once.
#include <caf/actor_system_config.hpp>

namespace rivulet::actors {

inline void configure_scheduler(caf::actor_system_config& cfg) {
  cfg.set("work-stealing.moderate-poll-attempts", size_t{20});
}

}  // namespace rivulet::actors
