#pragma once
// Child processes for tests: `rivulet broker` (the embedded broker in its own
// process, as users run it), kcat (an independent Kafka client), and the
// rivulet binary (ChildProcess is runtime/child_process.hpp, which `rivulet
// demo --cluster` uses too). Everything is bounded in time.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "runtime/child_process.hpp"

namespace rivulet::testing {

inline std::string rivulet_binary() { return std::string(RIVULET_BINARY_DIR) + "/bin/rivulet"; }

using rivulet::ChildProcess;

// Runs a command to completion, feeding `input` to its stdin, and returns
// its exit status and stdout (bounded by `timeout` seconds via timeout(1),
// which follows its SIGTERM with a SIGKILL 10 s later: a command that
// ignores or mishandles SIGTERM cannot hold the test forever).
inline std::pair<int, std::string> run_command(const std::string& command,
                                               const std::string& input, int timeout_s = 60) {
  char path[] = "/tmp/rivulet-test-input-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) return {-1, ""};
  FILE* f = ::fdopen(fd, "w");
  std::fwrite(input.data(), 1, input.size(), f);
  std::fclose(f);
  std::string full = "timeout -k 10 " + std::to_string(timeout_s) + " " + command + " < " + path;
  FILE* p = ::popen(full.c_str(), "r");
  std::string out;
  char buf[65536];
  size_t n;
  while (p && (n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = p ? ::pclose(p) : -1;
  ::unlink(path);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace rivulet::testing
