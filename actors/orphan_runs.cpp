#include "actors/orphan_runs.hpp"

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

namespace rivulet::actors {

namespace {

struct Orphanage {
  std::mutex mutex;
  std::vector<std::unique_ptr<PendingRun>> runs;
};

Orphanage& orphanage() {
  // Never destroyed: a producer's delivery thread may still report into a
  // kept run while the process exits.
  static Orphanage* o = new Orphanage();
  return *o;
}

}  // namespace

size_t adopt_orphan_runs(std::deque<std::unique_ptr<PendingRun>> runs) {
  Orphanage& o = orphanage();
  std::lock_guard<std::mutex> lock(o.mutex);
  o.runs.erase(std::remove_if(o.runs.begin(), o.runs.end(),
                              [](const std::unique_ptr<PendingRun>& r) { return r->done(); }),
               o.runs.end());
  for (auto& r : runs) {
    if (!r->done()) o.runs.push_back(std::move(r));
  }
  return o.runs.size();
}

bool wait_orphan_runs(std::chrono::milliseconds timeout) {
  Orphanage& o = orphanage();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(o.mutex);
      o.runs.erase(std::remove_if(o.runs.begin(), o.runs.end(),
                                  [](const std::unique_ptr<PendingRun>& r) { return r->done(); }),
                   o.runs.end());
      if (o.runs.empty()) return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace rivulet::actors
