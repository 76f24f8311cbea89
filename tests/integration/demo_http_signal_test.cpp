// `rivulet demo --http HOST:PORT` as users run it: /health, /metrics and
// /tasks answer while the pipeline runs (read with curl, an independent
// client), and SIGINT stops it early and gracefully (exit 128+SIGINT).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "support/child_process.hpp"
#include "support/loopback.hpp"

using namespace rivulet;

TEST_CASE("rivulet demo serves metrics while it runs and stops gracefully on SIGINT",
          "[integration][demo]") {
  const std::string listen = "127.0.0.1:" + std::to_string(testing::free_loopback_port());
  auto demo = testing::ChildProcess::spawn({testing::rivulet_binary(), "demo", "--partitions", "16",
                                            "--users", "2000", "--orders", "400000", "--http",
                                            listen, "--timeout", "120"});
  REQUIRE(demo.has_value());
  std::string metrics;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (std::chrono::steady_clock::now() < deadline) {
    auto [rc, out] = testing::run_command("curl -s http://" + listen + "/metrics", "", 5);
    if (rc == 0 && out.find("rivulet_task_records_in_total") != std::string::npos) {
      metrics = out;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO(metrics);
  REQUIRE_FALSE(metrics.empty());
  CHECK(metrics.find("rivulet_node_resident_memory_bytes") != std::string::npos);
  auto [hrc, health] = testing::run_command("curl -s http://" + listen + "/health", "", 5);
  CHECK(hrc == 0);
  CHECK(health.find("\"status\"") != std::string::npos);
  auto [trc, tasks] = testing::run_command("curl -s http://" + listen + "/tasks", "", 5);
  CHECK(trc == 0);
  CHECK(tasks.rfind("[", 0) == 0);
  // Stopped early: a graceful stop, reported as 128 + SIGINT. (A demo that
  // already finished would exit 0: the data is sized so that it cannot.)
  CHECK(demo->stop(SIGINT, std::chrono::seconds(60)) == 128 + SIGINT);
}
