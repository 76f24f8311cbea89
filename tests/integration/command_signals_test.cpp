// SIGINT and SIGTERM on the long-running commands that are not applications
// themselves: `rivulet broker` stops with status 0; `rivulet node` (whose
// graceful stop hands its tasks over and can take seconds) stops with 0 on
// one signal and exits at once with 128+signal on a second one, through
// rivulet::ShutdownSignals like `rivulet run` and the demo.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "support/child_process.hpp"
#include "support/loopback.hpp"

using namespace rivulet;
using Clock = std::chrono::steady_clock;

namespace {

bool accepts(const std::string& host_port) {
  auto colon = host_port.rfind(':');
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(host_port.substr(colon + 1))));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::unique_ptr<testing::ChildProcess> node_without_coordinator() {
  ::setenv("RIVULET_BOOTSTRAP_SERVERS", "127.0.0.1:9", 1);  // never contacted: no tasks
  auto node = testing::ChildProcess::spawn(
      {testing::rivulet_binary(), "node", "--coordinator",
       "127.0.0.1:" + std::to_string(testing::free_loopback_port()), "--name", "lonely"});
  ::unsetenv("RIVULET_BOOTSTRAP_SERVERS");
  REQUIRE(node.has_value());
  auto line = node->read_first_line(std::chrono::seconds(20));
  REQUIRE(line.has_value());
  CHECK(line->rfind("node lonely started", 0) == 0);
  return std::make_unique<testing::ChildProcess>(std::move(*node));
}

}  // namespace

TEST_CASE("rivulet broker stops on SIGTERM and on SIGINT with status 0", "[integration][signals]") {
  for (int sig : {SIGTERM, SIGINT}) {
    auto broker = testing::ChildProcess::spawn({testing::rivulet_binary(), "broker", "--brokers",
                                                "1", "--topic", "t:2"});
    REQUIRE(broker.has_value());
    auto bootstrap = broker->read_first_line(std::chrono::seconds(20));
    REQUIRE(bootstrap.has_value());
    const std::string first = bootstrap->substr(0, bootstrap->find(','));
    CHECK(accepts(first));
    CHECK(broker->stop(sig, std::chrono::seconds(10)) == 0);
    CHECK_FALSE(accepts(first));  // its listeners are closed
  }
}

TEST_CASE("rivulet node: one SIGTERM leaves gracefully (0), a second one exits at once (143)",
          "[integration][signals]") {
  {
    // Alone (its coordinator is down) a leaving node waits about 2 s for a
    // hand-over before it gives up and exits 0.
    auto node = node_without_coordinator();
    auto sent = Clock::now();
    CHECK(node->stop(SIGTERM, std::chrono::seconds(15)) == 0);
    CHECK(seconds_since(sent) > 1.0);
  }
  {
    auto node = node_without_coordinator();
    ::kill(node->pid(), SIGTERM);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));  // the stop is under way
    auto sent = Clock::now();
    CHECK(node->stop(SIGTERM, std::chrono::seconds(15)) == 128 + SIGTERM);
    CHECK(seconds_since(sent) < 1.0);
  }
}
