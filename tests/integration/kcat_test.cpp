// kcat, an independent Kafka client, writes the input and reads our output;
// the broker runs as `rivulet broker` in its own process, so output topics
// are created through its control channel, as users experience it.
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "actors/application.hpp"
#include "examples/orders_enrichment.hpp"
#include "support/child_process.hpp"

using namespace rivulet;
using rivulet::testing::ChildProcess;
using rivulet::testing::run_command;

namespace {

// kcat with librdkafka's murmur2_random partitioner: the same partition as
// a Java producer (and Rivulet) for the same key; co-partitioning needs it.
std::string kcat_produce(const std::string& bootstrap, const std::string& topic) {
  return "kcat -b " + bootstrap + " -X partitioner=murmur2_random -P -t " + topic + " -K '|'";
}

std::vector<std::pair<std::string, std::string>> kcat_read_all(const std::string& bootstrap,
                                                               const std::string& topic) {
  auto [rc, out] = run_command(
      "kcat -b " + bootstrap + " -C -t " + topic + " -o beginning -e -q -f '%k|%s\\n'", "", 60);
  REQUIRE(rc == 0);
  std::vector<std::pair<std::string, std::string>> records;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    auto bar = line.find('|');
    if (bar == std::string::npos) continue;
    records.emplace_back(line.substr(0, bar), line.substr(bar + 1));
  }
  return records;
}

}  // namespace

TEST_CASE("kcat produces the input, Rivulet joins and counts, kcat reads the output",
          "[integration][kcat]") {
  auto broker = ChildProcess::spawn({testing::rivulet_binary(), "broker", "--topic", "users:4",
                                     "--topic", "orders:4"});
  REQUIRE(broker.has_value());
  auto bootstrap = broker->read_line();
  REQUIRE(bootstrap.has_value());
  REQUIRE(bootstrap->find("127.0.0.1:") == 0);

  examples::OrdersWorkload w;
  w.users = 300;
  w.user_space = 330;
  w.orders = 3000;
  std::string users, orders;
  for (int64_t u = 0; u < w.users; ++u) {
    users += w.user_id(u) + R"(|{"user_id":")" + w.user_id(u) + R"(","name":"User )" +
             std::to_string(u) + "\"}\n";
  }
  for (int64_t o = 0; o < w.orders; ++o) {
    auto user = w.user_id(w.user_of_order(o));
    orders += user + R"(|{"order_id":)" + std::to_string(o) + R"(,"user_id":")" + user +
              R"(","amount":2.50})" + "\n";
  }
  REQUIRE(run_command(kcat_produce(*bootstrap, "users"), users).first == 0);
  REQUIRE(run_command(kcat_produce(*bootstrap, "orders"), orders).first == 0);

  std::string state = (std::filesystem::temp_directory_path() / "rivulet-kcat-XXXXXX").string();
  REQUIRE(::mkdtemp(state.data()) != nullptr);
  auto config = Config::from_map({{"application.id", "kcat-test"},
                                  {"bootstrap.servers", *bootstrap},
                                  {"commit.interval.ms", "100"},
                                  {"state.dir", state}});
  REQUIRE(config.ok());
  Application app(examples::make_orders_topology(w), *config);
  auto started = app.start();
  INFO((started.ok() ? std::string() : started.error().to_string()));
  REQUIRE(started.ok());

  std::vector<std::pair<std::string, std::string>> enriched;
  for (int attempt = 0; attempt < 120; ++attempt) {
    enriched = kcat_read_all(*bootstrap, w.enriched_topic);
    if (enriched.size() >= static_cast<size_t>(w.orders)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  REQUIRE(app.stop());

  REQUIRE(enriched.size() == static_cast<size_t>(w.orders));
  std::set<int64_t> ids;
  int64_t matched = 0;
  for (const auto& [key, value] : enriched) {
    auto v = nlohmann::json::parse(value);
    CHECK(v["user_id"] == key);
    ids.insert(v["order_id"].get<int64_t>());
    if (!v["name"].is_null()) {
      ++matched;
      CHECK(v["name"] == "User " + std::to_string(std::stoll(key.substr(1))));
    }
    CHECK(v["amount"] == 2.5);
  }
  CHECK(ids.size() == static_cast<size_t>(w.orders));
  CHECK(matched == w.expected_matched());

  std::map<std::string, int64_t> counts;
  for (const auto& [key, value] : kcat_read_all(*bootstrap, w.counts_topic)) {
    counts[key] = nlohmann::json::parse(value)["orders"].get<int64_t>();
  }
  CHECK(counts == w.expected_counts());

  // The output topics were created by Rivulet with the inputs' partition
  // count, through the broker process's control channel.
  auto [rc, meta] = run_command("kcat -b " + *bootstrap + " -L -t " + w.enriched_topic, "", 30);
  CHECK(rc == 0);
  CHECK(meta.find("with 4 partitions") != std::string::npos);

  CHECK(broker->stop(SIGTERM) == 0);
  std::filesystem::remove_all(state);
}
