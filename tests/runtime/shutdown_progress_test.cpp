// ShutdownSignals in a forked child process (real signals, real exit
// statuses) and Progress's two renderings.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

#include "runtime/progress.hpp"
#include "runtime/shutdown_signals.hpp"

using namespace rivulet;

namespace {
// Runs `body` in a child process; returns its exit status (128+N: signal N).
template <typename Body>
int in_child(Body body, int first_signal, int second_signal) {
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(ready[0]);
    ::_exit(body(ready[1]));
  }
  ::close(ready[1]);
  char c;
  REQUIRE(::read(ready[0], &c, 1) == 1);  // the child's signals are blocked now
  ::kill(pid, first_signal);
  if (second_signal != 0) {
    REQUIRE(::read(ready[0], &c, 1) == 1);  // the first one was taken
    ::kill(pid, second_signal);
  }
  ::close(ready[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
}  // namespace

TEST_CASE("the first SIGTERM is taken for a graceful stop, a second one exits at once",
          "[runtime][signals]") {
  // One signal: wait() returns it, the "graceful stop" runs to its end.
  CHECK(in_child(
            [](int ready) {
              ShutdownSignals signals("test");
              (void)!::write(ready, "r", 1);
              int sig = signals.wait(std::chrono::seconds(20));
              return sig == SIGTERM && signals.received() == SIGTERM ? 7 : 1;
            },
            SIGTERM, 0) == 7);
  // Two signals: the second one ends a slow stop at once with 128+signal.
  const auto started = std::chrono::steady_clock::now();
  CHECK(in_child(
            [](int ready) {
              ShutdownSignals signals("test");
              (void)!::write(ready, "r", 1);
              if (signals.wait(std::chrono::seconds(20)) != SIGINT) return 1;
              (void)!::write(ready, "s", 1);
              std::this_thread::sleep_for(std::chrono::seconds(30));  // a slow final checkpoint
              return 0;
            },
            SIGINT, SIGTERM) == 128 + SIGTERM);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
  // No signal: wait() times out with 0.
  ShutdownSignals none("test");
  CHECK(none.poll() == 0);
}

TEST_CASE("progress: a bar on a terminal, periodic lines otherwise", "[runtime][progress]") {
  CHECK(Progress::render_bar("loading", 50, 200, 10) == "[##        ]  25%  50/200 loading");
  CHECK(Progress::render_bar("x", 300, 200, 4) == "[####] 100%  300/200 x");
  CHECK(Progress::render_bar("x", 0, 0, 4) == "[####] 100%  0/0 x");

  char* buf = nullptr;
  size_t len = 0;
  std::FILE* out = ::open_memstream(&buf, &len);
  {
    Progress p("loaded", 1000, out, std::chrono::hours(1));
    p.set_terminal(false);
    for (int i = 1; i <= 1000; ++i) p.update(i);  // within the interval: no line
    p.finish();
  }
  std::fclose(out);
  std::string text(buf, len);
  std::free(buf);
  CHECK(text.rfind("loaded: 1000/1000 (100%) after ", 0) == 0);
  CHECK(text.find(", done\n") != std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);

  out = ::open_memstream(&buf, &len);
  {
    Progress p("loaded", 100, out);
    p.set_terminal(true);
    for (int i = 1; i <= 100; ++i) p.update(i);
    p.finish();
  }
  std::fclose(out);
  text.assign(buf, len);
  std::free(buf);
  CHECK(std::count(text.begin(), text.end(), '\r') == 101);  // one redraw per percent, plus the end
  CHECK(text.back() == '\n');
  CHECK(text.find("[##############################] 100%  100/100 loaded") != std::string::npos);
}
