#pragma once
// A child process with its stdout readable line by line: `rivulet demo
// --cluster` runs the broker, the coordinator and the nodes this way, and
// the multi-process tests (tests/support/child_process.hpp) too. A child
// still running when its handle goes away is killed.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace rivulet {

// A running child with its stdout readable line by line.
class ChildProcess {
 public:
  // `stderr_file`: where the child's stderr goes (appended); empty: ours.
  // `with_stdin`: the child's stdin is a pipe fed by write_stdin() (else
  // it inherits ours).
  static std::optional<ChildProcess> spawn(const std::vector<std::string>& argv,
                                           const std::string& stderr_file = "",
                                           bool with_stdin = false) {
    int out[2];
    int in[2] = {-1, -1};
    if (::pipe(out) != 0) return std::nullopt;
    if (with_stdin && ::pipe(in) != 0) return std::nullopt;
    pid_t pid = ::fork();
    if (pid < 0) return std::nullopt;
    if (pid == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      if (with_stdin) {
        ::dup2(in[0], STDIN_FILENO);
        ::close(in[0]);
        ::close(in[1]);
      }
      if (!stderr_file.empty()) {
        int fd = ::open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
          ::dup2(fd, STDERR_FILENO);
          ::close(fd);
        }
      }
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
    if (with_stdin) {
      ::close(in[0]);
      c.in_ = in[1];
    }
    return c;
  }

  ChildProcess(ChildProcess&& o) noexcept : pid_(o.pid_), out_(o.out_), in_(o.in_) {
    o.pid_ = -1;
    o.out_ = nullptr;
    o.in_ = -1;
  }
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess() {
    close_stdin();
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
    if (sig != 0) ::kill(pid_, sig);
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

  // Waits up to `timeout` for the child to exit on its own; its exit status
  // (128 + signal when killed), or -1 while it still runs.
  int wait(std::chrono::milliseconds timeout) { return stop(0, timeout); }

  pid_t pid() const { return pid_; }

  // Writes to the child's stdin (spawned with_stdin); false when it failed.
  bool write_stdin(const std::string& text) {
    size_t done = 0;
    while (in_ >= 0 && done < text.size()) {
      ssize_t n = ::write(in_, text.data() + done, text.size() - done);
      if (n < 0) return false;
      done += static_cast<size_t>(n);
    }
    return in_ >= 0;
  }
  // Closes the child's stdin: it reads EOF.
  void close_stdin() {
    if (in_ >= 0) ::close(in_);
    in_ = -1;
  }

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  int in_ = -1;
};

}  // namespace rivulet
