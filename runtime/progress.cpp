#include "runtime/progress.hpp"

#include <unistd.h>

#include <algorithm>

namespace rivulet {

Progress::Progress(std::string label, int64_t total, std::FILE* out,
                   std::chrono::milliseconds interval)
    : label_(std::move(label)), total_(std::max<int64_t>(total, 0)), out_(out),
      interval_(interval), terminal_(::isatty(::fileno(out)) == 1),
      started_(std::chrono::steady_clock::now()), last_line_(started_) {}

std::string Progress::render_bar(const std::string& label, int64_t done, int64_t total,
                                 int width) {
  const double fraction =
      total > 0 ? std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0) : 1.0;
  const int filled = static_cast<int>(fraction * width);
  std::string bar = "[" + std::string(static_cast<size_t>(filled), '#') +
                    std::string(static_cast<size_t>(width - filled), ' ') + "]";
  char tail[96];
  std::snprintf(tail, sizeof tail, " %3d%%  %lld/%lld ", static_cast<int>(fraction * 100),
                static_cast<long long>(done), static_cast<long long>(total));
  return bar + tail + label;
}

void Progress::update(int64_t done) {
  if (finished_) return;
  done_ = done;
  draw(done, false);
}

void Progress::finish() { finish(std::max(done_, total_)); }

void Progress::finish(int64_t done) {
  if (finished_) return;
  draw(done, true);
  finished_ = true;
}

void Progress::draw(int64_t done, bool final) {
  const auto now = std::chrono::steady_clock::now();
  if (terminal_) {
    const int percent = total_ > 0 ? static_cast<int>(done * 100 / std::max<int64_t>(total_, 1)) : 100;
    if (!final && percent == last_percent_) return;  // redraw only on change
    last_percent_ = percent;
    std::fprintf(out_, "\r%s%s", render_bar(label_, done, total_, 30).c_str(), final ? "\n" : "");
    std::fflush(out_);
    return;
  }
  if (!final && now - last_line_ < interval_) return;
  last_line_ = now;
  const double secs = std::chrono::duration<double>(now - started_).count();
  std::fprintf(out_, "%s: %lld/%lld (%d%%) after %.1f s%s\n", label_.c_str(),
               static_cast<long long>(done), static_cast<long long>(total_),
               total_ > 0 ? static_cast<int>(done * 100 / total_) : 100, secs,
               final ? ", done" : "");
  std::fflush(out_);
}

}  // namespace rivulet
