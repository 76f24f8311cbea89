#include "runtime/shutdown_signals.hpp"

#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "runtime/thread_name.hpp"

namespace rivulet {

ShutdownSignals::ShutdownSignals(std::string name) : name_(std::move(name)) {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, &old_);
}

ShutdownSignals::~ShutdownSignals() {
  if (watcher_.joinable()) {
    // Nothing can wake a sigwait() portably; the watcher ends with the process.
    watcher_.detach();
  }
}

int ShutdownSignals::wait(std::chrono::milliseconds timeout) {
  if (first_.load() != 0) return first_.load();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timespec ts{static_cast<time_t>(secs.count()),
              static_cast<long>((timeout - secs).count() * 1000000L)};
  int sig;
  do {
    sig = sigtimedwait(&set_, nullptr, &ts);
  } while (sig < 0 && errno == EINTR);
  if (sig <= 0) return 0;
  first_.store(sig);
  std::fprintf(stderr, "%s: stopping on signal %d (again to exit at once)\n", name_.c_str(), sig);
  arm();
  return sig;
}

void ShutdownSignals::arm() {
  // By value: the watcher may outlive this object (it ends with the process).
  watcher_ = std::thread([set = set_, name = name_] {
    set_thread_name("rivulet.signal");
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    std::fprintf(stderr, "%s: second signal %d: exiting at once\n", name.c_str(), sig);
    std::fflush(stderr);
    std::_Exit(128 + sig);
  });
}

}  // namespace rivulet
