// CPU time of the embedded broker inside a benchmark process: the mock
// cluster of librdkafka runs every broker on one thread named "rdk:mock"
// (per embedded cluster), which lives as long as the cluster. A phase's
// process CPU minus what these threads used in it is the CPU of
// everything else in the process: the Application or the baseline, their
// Kafka clients, and the benchmark's own generator and readers.
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace rivulet::bench {

// Summed user + system CPU seconds of this process's threads whose name
// is `comm` (0 when there are none).
inline double threads_cpu_seconds(const std::string& comm = "rdk:mock") {
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  double total = 0;
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return 0;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const std::string base = std::string("/proc/self/task/") + entry->d_name;
    std::string name;
    if (!std::getline(std::ifstream(base + "/comm"), name) || name != comm) continue;
    std::string stat;
    if (!std::getline(std::ifstream(base + "/stat"), stat)) continue;
    // Fields after the parenthesized name: state is field 3, utime 14, stime 15.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && (rest >> field); ++i) {
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
    }
    total += static_cast<double>(utime + stime) / ticks;
  }
  ::closedir(dir);
  return total;
}

}  // namespace rivulet::bench
