#pragma once
// Graceful stop on SIGINT/SIGTERM, and an immediate exit on a second one.
//
//   int main() {
//     rivulet::ShutdownSignals signals;   // first, before any thread starts
//     ... start threads, the application ...
//     signals.wait();                     // or poll() in a loop
//     app.stop();                         // a second signal now exits at once
//   }
//
// The constructor blocks SIGINT and SIGTERM in the calling thread, so every
// thread started afterwards inherits the mask and the signals are taken only
// through wait()/poll(). Once the first signal was taken, a watcher thread
// waits for another one and then exits the process at once (status 130 for
// SIGINT, 143 for SIGTERM) with a line on stderr: an operator who presses
// Ctrl-C twice, or a supervisor that repeats SIGTERM, is not kept waiting by
// a slow final checkpoint. One object per process; not copyable.
#include <atomic>
#include <chrono>
#include <csignal>
#include <string>
#include <thread>

namespace rivulet {

class ShutdownSignals {
 public:
  // `name` prefixes the stderr lines ("rivulet demo: ...").
  explicit ShutdownSignals(std::string name = "rivulet");
  ~ShutdownSignals();
  ShutdownSignals(const ShutdownSignals&) = delete;
  ShutdownSignals& operator=(const ShutdownSignals&) = delete;

  // Waits up to `timeout` for SIGINT or SIGTERM; the signal, or 0 on timeout.
  // The first signal taken arms the immediate exit on a second one.
  int wait(std::chrono::milliseconds timeout = std::chrono::hours(24 * 365));
  // wait() without waiting.
  int poll() { return wait(std::chrono::milliseconds(0)); }
  // The first signal taken so far (0: none).
  int received() const { return first_.load(); }

 private:
  void arm();
  std::string name_;
  sigset_t set_{};
  sigset_t old_{};
  std::atomic<int> first_{0};
  std::thread watcher_;
};

}  // namespace rivulet
