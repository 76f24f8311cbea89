// `rivulet demo --cluster` as `make demo` runs it, smaller: a broker, a
// coordinator and three nodes as processes; a fourth node joins and one is
// killed with SIGKILL while the orders stream in. The demo itself checks
// every order and every per-user count with an independent consumer; this
// test checks it says so, and that the story happened (tasks moved on the
// join, the killed node's tasks wrote again, duplicates only from them).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime/sanitizer.hpp"
#include "support/child_process.hpp"

using rivulet::testing::rivulet_binary;
using rivulet::testing::run_command;

TEST_CASE("rivulet demo --cluster: a node joins, one is killed, every order once in the counts",
          "[integration][demo][cluster]") {
  // The node is killed half-way through the stream, and its tasks must
  // write again before the stream ends. A sanitizer build scales the
  // failure timeout and the leases by kSanitizerSlowdown (9 s of lease
  // instead of 1.5 s): its stream lasts long enough for that (under a
  // loaded `make test-asan` a 12 s stream ended 3 s before the failover).
  const int stream_seconds = rivulet::kSanitizerSlowdown > 1 ? 36 : 12;
  auto [rc, out] = run_command(rivulet_binary() +
                                   " demo --cluster --orders 40000 --users 2000"
                                   " --stream-seconds " + std::to_string(stream_seconds) +
                                   " 2>&1",
                               "", 240);
  INFO(out);
  REQUIRE(rc == 0);
  // The summary is the last line.
  std::string last, line;
  std::istringstream lines(out);
  while (std::getline(lines, line)) {
    if (!line.empty()) last = line;
  }
  auto j = nlohmann::json::parse(last, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  CHECK(j["orders"] == 40000);
  CHECK(j["enriched"].get<int64_t>() + j["unmatched"].get<int64_t>() == 40000);
  CHECK(j["nodes"] == 4);
  CHECK(j["tasks"] == 8);
  CHECK(j["tasks_moved_on_join"].get<int>() >= 1);
  CHECK(j["tasks_moved_on_join"].get<int>() <= 3);  // its share, not a reshuffle
  REQUIRE(j["failover_seconds"].is_number());
  CHECK(j["failover_seconds"].get<double>() > 0);
  CHECK(j["exactly_once_counts"] == true);
  CHECK(out.find("killing node") != std::string::npos);
  CHECK(out.find("NOT a restored task") == std::string::npos);
}
