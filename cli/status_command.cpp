// `rivulet status --coordinator HOST:PORT [--json] [--watch [--interval SECONDS]]`
// (registered with the other cluster commands in cluster_command.cpp).
//
// Once: the coordinator's status as tables (nodes; tasks with owner, state,
// epoch, lag, records/s in and out, checkpoint age) or, with --json, as one
// JSON object. With --watch it asks again every --interval seconds (2 by
// default): on a terminal the tables are redrawn in place; otherwise (a
// pipe, a log) each refresh is printed after a timestamped header line, and
// with --json each refresh is one JSON line. SIGINT or SIGTERM ends the
// watch with exit status 0 (a second signal exits at once). A coordinator
// that does not answer is reported and asked again at the next refresh.
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "cluster/client.hpp"
#include "runtime/shutdown_signals.hpp"

namespace rivulet::cli {

namespace {

std::string clock_text() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

}  // namespace

int run_status(const StatusOptions& options) {
  if (!options.watch) {
    auto status = cluster::fetch_status(options.coordinator);
    if (!status) {
      std::cerr << "rivulet status: " << status.error().to_string() << "\n";
      return 1;
    }
    std::cout << (options.json ? *status + "\n" : cluster::render_status_table(*status));
    return 0;
  }
  if (!(options.interval_s > 0)) {
    std::cerr << "rivulet status: --interval must be positive\n";
    return 2;
  }
  // Before fetch_status starts any thread: they inherit the signal mask.
  ShutdownSignals signals("rivulet status");
  const bool terminal = ::isatty(STDOUT_FILENO) == 1 && !options.json;
  const auto interval = std::chrono::milliseconds(static_cast<int64_t>(options.interval_s * 1000));
  for (;;) {
    auto status = cluster::fetch_status(options.coordinator);
    std::ostringstream header;
    header << "rivulet status " << options.coordinator << " at " << clock_text() << " (every "
           << options.interval_s << " s)";
    if (options.json) {
      if (status) {
        std::cout << *status << "\n";
      } else {
        std::cerr << "rivulet status: " << status.error().to_string() << "\n";
      }
    } else {
      // On a terminal: home, clear, redraw; elsewhere one block per refresh.
      if (terminal) std::cout << "\033[H\033[2J";
      std::cout << "== " << header.str() << (terminal ? "; Ctrl-C to stop" : "") << "\n";
      if (status) {
        std::cout << cluster::render_status_table(*status);
      } else {
        std::cout << "error: " << status.error().to_string() << "\n";
      }
      if (!terminal) std::cout << "\n";
    }
    std::cout << std::flush;
    if (signals.wait(interval) != 0) return 0;
  }
}

}  // namespace rivulet::cli
