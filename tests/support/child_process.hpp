#pragma once
// Child processes for tests: `rivulet broker` (the embedded broker in its own
// process, as users run it), kcat (an independent Kafka client), and the
// rivulet binary. Everything is bounded in time; a child still running when
// its handle goes away is killed.
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace rivulet::testing {

inline std::string rivulet_binary() { return std::string(RIVULET_BINARY_DIR) + "/bin/rivulet"; }

// A running child with its stdout readable line by line.
class ChildProcess {
 public:
  static std::optional<ChildProcess> spawn(const std::vector<std::string>& argv) {
    int out[2];
    if (::pipe(out) != 0) return std::nullopt;
    pid_t pid = ::fork();
    if (pid < 0) return std::nullopt;
    if (pid == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    ::close(out[1]);
    ChildProcess c;
    c.pid_ = pid;
    c.out_ = ::fdopen(out[0], "r");
    return c;
  }

  ChildProcess(ChildProcess&& o) noexcept : pid_(o.pid_), out_(o.out_) {
    o.pid_ = -1;
    o.out_ = nullptr;
  }
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_) ::fclose(out_);
  }

  // One line of the child's stdout without its newline; nullopt at EOF.
  std::optional<std::string> read_line() {
    char* line = nullptr;
    size_t cap = 0;
    ssize_t n = ::getline(&line, &cap, out_);
    if (n < 0) {
      ::free(line);
      return std::nullopt;
    }
    std::string s(line, static_cast<size_t>(n));
    ::free(line);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  }

  // One line, waiting at most `timeout` for it to begin; nullopt at EOF or
  // when nothing came in time. Only while nothing of the child's output is
  // buffered yet (poll sees the pipe, not stdio's buffer): use it for a
  // child's first line.
  std::optional<std::string> read_first_line(std::chrono::milliseconds timeout) {
    pollfd pfd{::fileno(out_), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    return read_line();
  }

  // Sends `sig` and waits up to `timeout` for the exit status (-1: still
  // running, then killed).
  int stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  pid_t pid() const { return pid_; }

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
};

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
