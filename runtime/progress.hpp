#pragma once
// Progress of a long operation (data loading, restores, benchmarks) on
// stderr: a bar redrawn in place when stderr is a terminal, otherwise one
// plain line at most every `interval` (and one at the end), so that logs and
// CI output stay readable. Debian 12 packages no C++ progress-bar library
// (indicators is not there), hence this small one.
//
//   Progress p("loading", total);
//   for (...) p.update(done);
//   p.finish();
// Not thread-safe: one thread updates it.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace rivulet {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::FILE* out = stderr,
           std::chrono::milliseconds interval = std::chrono::seconds(2));
  // Forces the plain-line form (tests, or output known not to be a terminal).
  void set_terminal(bool terminal) { terminal_ = terminal; }
  void update(int64_t done);
  // Draws 100% (or `done` if given) and ends the line.
  void finish();
  void finish(int64_t done);

  // "[#########           ]  45%  90000/200000 loading" (width: bar cells).
  static std::string render_bar(const std::string& label, int64_t done, int64_t total, int width);

 private:
  void draw(int64_t done, bool final);
  std::string label_;
  int64_t total_;
  std::FILE* out_;
  std::chrono::milliseconds interval_;
  bool terminal_;
  bool finished_ = false;
  int64_t done_ = 0;
  int last_percent_ = -1;
  std::chrono::steady_clock::time_point started_, last_line_;
};

}  // namespace rivulet
