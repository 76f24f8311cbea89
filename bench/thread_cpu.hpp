// CPU time by thread inside a benchmark process. threads_cpu_delta splits
// a phase's CPU by thread family: rdk:mock (the embedded broker: the mock
// cluster of librdkafka runs every broker on one thread of that name, which
// lives as long as the cluster; a phase's process CPU minus it is the CPU
// of everything else, the Application or the baseline, their Kafka clients
// and the benchmark's readers), rdk:broker (the Kafka clients' broker
// threads), caf.multiplexer (CAF's workers: the task actors), rivulet.poll
// (the Application's consumer's poll thread), rivulet.acks (every
// producer's delivery thread), bench.baseline and bench.read (the
// baseline's consumer and the benchmark's readers), and the program's own
// name (its main thread). Rivulet's names: docs/operations.md, "Threads".
// threads_faults_delta splits the phase's minor page faults the same way:
// on a virtual machine each costs a trip through the hypervisor, so a
// thread that keeps touching fresh memory pays in CPU beyond its code.
#pragma once

#include <dirent.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cctype>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace rivulet::bench {

// User + system CPU seconds of the whole process so far.
inline double process_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// User + system CPU seconds of the calling thread so far.
inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// User + system CPU seconds of each live thread of this process, by thread
// id, with its name.
struct ThreadCpu {
  std::string comm;
  double seconds = 0;
  unsigned long long minor_faults = 0;
};
inline std::map<std::string, ThreadCpu> threads_cpu() {
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::map<std::string, ThreadCpu> out;
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return out;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const std::string base = std::string("/proc/self/task/") + entry->d_name;
    std::string name;
    if (!std::getline(std::ifstream(base + "/comm"), name)) continue;
    std::string stat;
    if (!std::getline(std::ifstream(base + "/stat"), stat)) continue;
    // Fields after the parenthesized name: state is field 3, minflt 10,
    // utime 14, stime 15.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    unsigned long long minflt = 0, utime = 0, stime = 0;
    for (int i = 3; i <= 15 && (rest >> field); ++i) {
      if (i == 10) minflt = std::stoull(field);
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
    }
    out[entry->d_name] = ThreadCpu{name, static_cast<double>(utime + stime) / ticks, minflt};
  }
  ::closedir(dir);
  return out;
}

// A thread's family: its name without trailing digits and dashes,
// "rdk:broker1" and "rdk:broker2" are "rdk:broker".
inline std::string thread_family(std::string comm) {
  while (!comm.empty() &&
         (std::isdigit(static_cast<unsigned char>(comm.back())) != 0 || comm.back() == '-'))
    comm.pop_back();
  return comm;
}

// CPU seconds each family of threads used between two threads_cpu()
// readings; threads started in between count from zero, threads that ended
// in between are missing.
inline std::map<std::string, double> threads_cpu_delta(
    const std::map<std::string, ThreadCpu>& before, const std::map<std::string, ThreadCpu>& after) {
  std::map<std::string, double> out;
  for (const auto& [tid, t] : after) {
    auto it = before.find(tid);
    out[thread_family(t.comm)] += t.seconds - (it != before.end() ? it->second.seconds : 0.0);
  }
  return out;
}

// Minor page faults by thread family between two threads_cpu() readings,
// as threads_cpu_delta counts CPU.
inline std::map<std::string, long long> threads_faults_delta(
    const std::map<std::string, ThreadCpu>& before, const std::map<std::string, ThreadCpu>& after) {
  std::map<std::string, long long> out;
  for (const auto& [tid, t] : after) {
    auto it = before.find(tid);
    const unsigned long long base = it != before.end() ? it->second.minor_faults : 0;
    out[thread_family(t.comm)] += static_cast<long long>(t.minor_faults - base);
  }
  return out;
}

}  // namespace rivulet::bench
