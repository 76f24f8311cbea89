#pragma once
// Runs whose outputs are still in the producer when their task goes away.
//
// The producer hands every acknowledgement to the PendingRun its record was
// produced for (the record's opaque pointer). A task stopped at once
// (Application::abandon_task: a stale copy, a crash drill) drops its
// DeliveryTracker while some of its records are still queued or in flight:
// their reports would then write into freed memory. So a task's tracker
// hands its unfinished runs over here when the task ends; they are freed
// once finished (checked whenever more arrive). Nothing is committed for
// them: their task is gone.
//
// Thread-safe (task actors end on any CAF worker).
#include <chrono>
#include <deque>
#include <memory>

#include "actors/delivery_tracker.hpp"

namespace rivulet::actors {

// Keeps `runs` alive until every one of them was acknowledged; frees the
// finished ones kept so far. Returns how many are kept.
size_t adopt_orphan_runs(std::deque<std::unique_ptr<PendingRun>> runs);

// Waits until every run kept so far was acknowledged (each output written or
// failed), at most `timeout`: true when none is left. What a task stopped
// at once had handed to the producer is then in its topics, or never will be.
bool wait_orphan_runs(std::chrono::milliseconds timeout);

}  // namespace rivulet::actors
