// `rivulet verify` as users run it: a child process against a broker, with a
// planted loss and a planted unexplained duplicate in a copy of an output.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_producer.hpp"
#include "support/child_process.hpp"

using namespace rivulet;
using rivulet::testing::run_command;

namespace {

void produce(connectors::KafkaProducer& p, const std::string& topic, int id,
             std::optional<std::string> epoch) {
  OutputRecord r;
  r.topic = topic;
  r.key = "k" + std::to_string(id % 7);
  r.value = R"({"order_id":)" + std::to_string(id) + "}";
  if (epoch) {
    r.headers = {Header{"rivulet.input", "orders:0:" + std::to_string(id)},
                 Header{"rivulet.task", std::string("app-0")}, Header{"rivulet.epoch", epoch}};
  }
  REQUIRE(p.produce(r, nullptr).ok());
}

}  // namespace

TEST_CASE("rivulet verify reports a planted loss and an unexplained duplicate",
          "[integration][chaos]") {
  auto broker = connectors::EmbeddedBroker::start();
  REQUIRE(broker.ok());
  const std::string b = (*broker)->bootstrap();
  for (const char* t : {"orders", "clean", "broken", "counts"}) {
    REQUIRE((*broker)->create_topic(t, 2).ok());
  }
  auto producer = connectors::KafkaProducer::create({{"bootstrap.servers", b}}, nullptr);
  REQUIRE(producer.ok());
  for (int i = 0; i < 100; ++i) produce(**producer, "orders", i, std::nullopt);
  for (int i = 0; i < 100; ++i) produce(**producer, "clean", i, std::string("1"));
  produce(**producer, "clean", 42, std::string("2"));  // a replay: explained
  for (int i = 0; i < 100; ++i) {
    if (i == 13 || i == 77) continue;                    // planted loss
    produce(**producer, "broken", i, std::string("1"));
  }
  produce(**producer, "broken", 5, std::string("1"));  // same epoch: unexplained
  OutputRecord count;
  count.topic = "counts";
  count.key = "u1";
  count.value = R"({"orders":3})";
  REQUIRE((*producer)->produce(count, nullptr).ok());
  REQUIRE((*producer)->flush(std::chrono::seconds(30)).ok());

  const std::string verify = testing::rivulet_binary() + " verify --bootstrap " + b +
                             " --input orders --id order_id --json --output ";
  auto [clean_rc, clean_out] = run_command(verify + "clean", "");
  CHECK(clean_rc == 0);
  auto clean = nlohmann::json::parse(clean_out);
  CHECK(clean["ok"] == true);
  CHECK(clean["duplicates"]["explained"] == 1);

  auto [rc, out] = run_command(verify + "broken", "");
  CHECK(rc == 1);
  auto j = nlohmann::json::parse(out);
  CHECK(j["ok"] == false);
  CHECK(j["input_records"] == 100);
  CHECK(j["missing"]["count"] == 2);
  CHECK(j["missing"]["ids"] == nlohmann::json::array({"13", "77"}));
  CHECK(j["duplicates"]["unexplained"] == 1);
  CHECK(j["duplicates"]["examples"][0]["id"] == "5");

  // --exactly-once turns even the explained replay into a failure.
  CHECK(run_command(verify + "clean --exactly-once", "").first == 1);

  // The table check.
  std::string expect = std::string(RIVULET_BINARY_DIR) + "/verify_expect.json";
  std::ofstream(expect) << R"({"u1": {"orders": 3}})";
  CHECK(run_command(verify + "clean --table counts --expect " + expect, "").first == 0);
  std::ofstream(expect) << R"({"u1": {"orders": 4}})";
  CHECK(run_command(verify + "clean --table counts --expect " + expect, "").first == 1);

  // A topic that does not exist is an error (2), not a verdict.
  CHECK(run_command(testing::rivulet_binary() + " verify --bootstrap " + b +
                        " --input nope --output clean --id order_id",
                    "")
            .first == 2);
}
