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
//
// Workers: CAF starts as many as the cores, at least 4. The Application's
// tasks share the cores with the Kafka clients' threads (and, on the
// embedded broker, the broker's), so on a machine of 2 cores 4 workers
// only preempt each other and those threads: task_threads() gives the
// Application as many as the cores (task.threads overrides it).
#include <algorithm>
#include <thread>

#include <caf/actor_system_config.hpp>

namespace rivulet::actors {

// `max_threads` 0 keeps CAF's count of workers.
inline void configure_scheduler(caf::actor_system_config& cfg, size_t max_threads = 0) {
  cfg.set("work-stealing.moderate-poll-attempts", size_t{20});
  if (max_threads > 0) cfg.set("scheduler.max-threads", max_threads);
}

// The task workers for a task.threads setting: itself when positive,
// otherwise the machine's cores, at least 2.
inline size_t task_threads(int64_t configured) {
  if (configured > 0) return static_cast<size_t>(configured);
  return std::max<size_t>(2, std::thread::hardware_concurrency());
}

}  // namespace rivulet::actors
