#pragma once
// Brokers for tests, two ways:
//  - start_in_process_broker(): an EmbeddedBroker inside the test process
//    (fast; the test may also reach the mock cluster directly);
//  - BrokerProcess: `rivulet broker` as a child process, as users run it,
//    for tests that must cross a process boundary (topic creation through
//    the control channel, kcat, SIGKILLed nodes).
// Both fail the current Catch2 test loudly instead of hanging: the child's
// bootstrap list is awaited with a deadline.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "connectors/embedded_broker.hpp"
#include "support/child_process.hpp"

namespace rivulet::testing {

inline std::unique_ptr<connectors::EmbeddedBroker> start_in_process_broker(int brokers = 3) {
  connectors::EmbeddedBrokerOptions options;
  options.brokers = brokers;
  auto broker = connectors::EmbeddedBroker::start(options);
  INFO((broker.ok() ? std::string() : broker.error().to_string()));
  REQUIRE(broker.ok());
  return std::move(*broker);
}

// A topic name no other test of this run uses (tests share no broker, but a
// test may create several topics).
inline std::string unique_topic(const std::string& prefix) {
  static int counter = 0;
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

// `rivulet broker` in a child process; killed when the handle goes away.
class BrokerProcess {
 public:
  // Starts `rivulet broker` with `args` (e.g. {"--topic", "orders:8"}) and
  // waits up to `timeout` for its bootstrap list. The list is taken from the
  // --bootstrap-file the fixture passes (bounded wait), then checked against
  // the first line of the child's stdout.
  static std::unique_ptr<BrokerProcess> start(
      std::vector<std::string> args = {},
      std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    char dir[] = "/tmp/rivulet-broker-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    const std::string file = std::string(dir) + "/bootstrap";
    std::vector<std::string> argv{rivulet_binary(), "broker", "--bootstrap-file", file};
    argv.insert(argv.end(), args.begin(), args.end());
    auto child = ChildProcess::spawn(argv);
    REQUIRE(child.has_value());
    std::unique_ptr<BrokerProcess> broker(new BrokerProcess(std::move(*child), dir, file));

    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string from_file;
    while (from_file.empty()) {
      std::ifstream in(file);
      std::getline(in, from_file);
      if (!from_file.empty()) break;
      INFO("rivulet broker wrote no bootstrap list within " << timeout.count() << " ms");
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // The command prints before it writes the file: this read cannot block.
    auto first_line = broker->child_.read_line();
    REQUIRE(first_line.has_value());
    REQUIRE(*first_line == from_file);
    REQUIRE(first_line->rfind("127.0.0.1:", 0) == 0);
    broker->bootstrap_ = *first_line;
    return broker;
  }

  ~BrokerProcess() {
    std::remove(file_.c_str());
    ::rmdir(dir_.c_str());
  }

  const std::string& bootstrap() const { return bootstrap_; }
  pid_t pid() const { return child_.pid(); }
  // Sends `sig` and returns the exit status (-1: did not exit in time).
  int stop(int sig = SIGTERM) { return child_.stop(sig); }

 private:
  BrokerProcess(ChildProcess child, std::string dir, std::string file)
      : child_(std::move(child)), dir_(std::move(dir)), file_(std::move(file)) {}

  ChildProcess child_;
  std::string dir_;
  std::string file_;
  std::string bootstrap_;
};

}  // namespace rivulet::testing
