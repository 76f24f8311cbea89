// A one-shot client (rivulet status, submit, chaos) that is slow between
// connecting and asking: the coordinator closes a connection that stays
// silent for a third of its cluster.failure.timeout.ms, so the client must
// send heartbeats at the coordinator's pace, not at its own lenient one. A
// client whose heartbeats came every 6 s (a sanitizer build) lost its
// request and waited out the whole request timeout.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include <caf/all.hpp>

#include "cluster/coordinator.hpp"
#include "cluster/transport.hpp"
#include "support/loopback.hpp"

using namespace rivulet;

TEST_CASE("a client idle longer than the coordinator's connection timeout still gets its answer",
          "[cluster]") {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("rivulet-client-idle-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  // A failure timeout of 1.5 s: the coordinator drops a connection silent
  // for 0.5 s, less than a client's own heartbeat interval (1 s; 6 s under
  // a sanitizer).
  auto config = Config::from_map({{"cluster.failure.timeout.ms", "1500"},
                                  {"cluster.heartbeat.interval.ms", "100"},
                                  {"state.dir", dir.string()},
                                  {"log.level", "warn"}});
  REQUIRE(config.ok());
  const int port = testing::free_loopback_port();
  std::atomic<bool> stop{false};
  std::thread coordinator(
      [&] { cluster::run_coordinator("127.0.0.1:" + std::to_string(port), *config, stop); });
  const std::string address = "127.0.0.1:" + std::to_string(port);
  Expected<std::string> answer = Error::fatal("not asked");
  for (int attempt = 0; attempt < 100; ++attempt) {  // until it listens
    answer = cluster::ask_coordinator<std::string>(
        address, *config,
        [&](caf::scoped_actor& self, const cluster::coordinator_actor& c,
            Expected<std::string>& result, caf::actor_system& system) {
          // Slow between connecting and asking: 4 connection timeouts.
          std::this_thread::sleep_for(std::chrono::seconds(2));
          self->request(c, std::chrono::seconds(10), cluster::status_atom::value)
              .receive([&](const std::string& json) { result = json; },
                       [&](caf::error& err) { result = Error::fatal(system.render(err)); });
        });
    if (answer || answer.error().message.find("cannot reach") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop = true;
  coordinator.join();
  std::filesystem::remove_all(dir);
  INFO((answer ? std::string() : answer.error().to_string()));
  REQUIRE(answer.ok());
  CHECK(answer->find("\"nodes\"") != std::string::npos);
}
