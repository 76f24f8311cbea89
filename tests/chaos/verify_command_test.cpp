// The verifier against real topics on the embedded broker: through the
// library (chaos::verify_topics) and as users run it (`rivulet verify` as a
// child process), with a planted loss and a planted unexplained duplicate in
// a copy of an output.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "chaos/topic_verifier.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_producer.hpp"
#include "support/child_process.hpp"

using namespace rivulet;
using rivulet::testing::run_command;

namespace {

constexpr int kOrders = 100;

// Order `id` lives in orders[id % 2] at offset id / 2 (written in id order).
std::string input_position(int id) {
  return "orders:" + std::to_string(id % 2) + ":" + std::to_string(id / 2);
}

void produce(connectors::KafkaProducer& p, const std::string& topic, int id,
             std::optional<std::string> epoch, const std::string& input) {
  OutputRecord r;
  r.topic = topic;
  r.partition = id % 2;
  r.key = "k" + std::to_string(id);
  r.value = R"({"order_id":)" + std::to_string(id) + R"(,"amount":3})";
  if (epoch) {
    r.headers = {Header{"rivulet.input", input},
                 Header{"rivulet.task", std::string("app-") + std::to_string(id % 2)},
                 Header{"rivulet.epoch", epoch}};
  }
  REQUIRE(p.produce(r, nullptr).ok());
}

void produce(connectors::KafkaProducer& p, const std::string& topic, int id,
             std::optional<std::string> epoch) {
  produce(p, topic, id, std::move(epoch), input_position(id));
}

// orders: 100 inputs. clean: every order once (epoch 1), and order 42
// replayed by epoch 2. broken: orders 13 and 77 lost, order 5 written twice
// by epoch 1, order 9 once more without provenance. counts: a table with a
// deleted key; its partition 0 stays empty.
struct Topics {
  std::unique_ptr<connectors::EmbeddedBroker> broker;
  std::string bootstrap;

  Topics() {
    auto b = connectors::EmbeddedBroker::start({1, 1});
    REQUIRE(b.ok());
    broker = std::move(*b);
    bootstrap = broker->bootstrap();
    for (const char* t : {"orders", "clean", "broken", "counts"}) {
      REQUIRE(broker->create_topic(t, 2).ok());
    }
    auto producer = connectors::KafkaProducer::create({{"bootstrap.servers", bootstrap}}, nullptr);
    REQUIRE(producer.ok());
    auto& p = **producer;
    for (int i = 0; i < kOrders; ++i) produce(p, "orders", i, std::nullopt);
    for (int i = 0; i < kOrders; ++i) produce(p, "clean", i, std::string("1"));
    produce(p, "clean", 42, std::string("2"));
    for (int i = 0; i < kOrders; ++i) {
      if (i == 13 || i == 77) continue;
      produce(p, "broken", i, std::string("1"));
    }
    produce(p, "broken", 5, std::string("1"));
    produce(p, "broken", 9, std::nullopt);
    for (auto [key, value] : {std::pair<const char*, const char*>{"u1", R"({"orders":2})"},
                              {"u2", R"({"orders":1})"},
                              {"u1", R"({"orders":3})"},
                              {"u3", R"({"orders":1})"},
                              {"u3", nullptr}}) {
      OutputRecord r;
      r.topic = "counts";
      r.partition = 1;
      r.key = key;
      if (value) r.value = value;
      REQUIRE(p.produce(r, nullptr).ok());
    }
    REQUIRE(p.flush(std::chrono::seconds(30)).ok());
  }

  chaos::TopicVerifyRequest request(const std::string& output) const {
    chaos::TopicVerifyRequest r;
    r.bootstrap = bootstrap;
    r.input_topic = "orders";
    r.output_topic = output;
    r.id_field = "order_id";
    r.read.timeout = std::chrono::seconds(30);
    return r;
  }

  std::string command(const std::string& args) const {
    return testing::rivulet_binary() + " verify --bootstrap " + bootstrap + " " + args;
  }
};

std::string write_file(const std::string& name, const std::string& text) {
  std::string path = std::string(RIVULET_BINARY_DIR) + "/" + name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE(
    "verify_topics judges real topics: a replay is explained, a planted loss and duplicate "
    "are reported",
    "[integration][chaos]") {
  Topics topics;

  auto clean = chaos::verify_topics(topics.request("clean"));
  REQUIRE(clean.ok());
  const auto& c = clean->report;
  CHECK(c.input_records == kOrders);
  CHECK(c.output_records == kOrders + 1);
  CHECK(c.distinct_output_ids == kOrders);
  CHECK(c.missing_ids.empty());
  REQUIRE(c.duplicates.size() == 1);
  CHECK(c.duplicates[0].id == "42");
  CHECK(c.duplicates[0].explained);
  CHECK_THAT(c.duplicates[0].explanation, Catch::Contains("orders:0:21"));
  CHECK(c.ok(false));
  CHECK_FALSE(c.ok(true));
  CHECK(clean->notes.empty());

  auto broken = chaos::verify_topics(topics.request("broken"));
  REQUIRE(broken.ok());
  const auto& b = broken->report;
  CHECK(b.missing_ids == std::vector<std::string>{"13", "77"});
  CHECK(b.unexplained_duplicates == 2);
  CHECK(b.explained_duplicates == 0);
  std::map<std::string, std::string> why;
  for (const auto& d : b.duplicates) why[d.id] = d.explanation;
  CHECK_THAT(why["5"], Catch::Contains("same epoch 1"));
  CHECK_THAT(why["9"], Catch::Contains("no provenance"));
  CHECK_FALSE(b.ok(false));

  // read_committed reads the same (the embedded broker writes no markers).
  auto committed_request = topics.request("clean");
  committed_request.read.read_committed = true;
  auto committed = chaos::verify_topics(committed_request);
  REQUIRE(committed.ok());
  CHECK(committed->report.output_records == kOrders + 1);
  CHECK(committed->report.ok(false));

  // The table check, with one partition of the table empty.
  auto table_request = topics.request("clean");
  table_request.table_topic = "counts";
  table_request.expected_table = {{"u1", R"({"orders":3})"}, {"u2", R"({"orders":1})"}};
  auto table = chaos::verify_topics(table_request);
  REQUIRE(table.ok());
  REQUIRE(table->report.table.has_value());
  CHECK(table->report.table->records == 5);
  CHECK(table->report.table->ok());

  // A topic that is not there is an error, not a verdict.
  auto absent = chaos::verify_topics(topics.request("no-such-topic"));
  REQUIRE_FALSE(absent.ok());
  CHECK_THAT(absent.error().message, Catch::Contains("does not exist"));
}

TEST_CASE(
    "rivulet verify: exit status and report for a clean output, a planted loss and a planted "
    "unexplained duplicate",
    "[integration][chaos]") {
  Topics topics;
  const std::string base = "--input orders --id order_id --timeout 30 ";

  auto [clean_rc, clean_out] = run_command(topics.command(base + "--output clean --json"), "");
  INFO(clean_out);
  CHECK(clean_rc == 0);
  auto clean = nlohmann::json::parse(clean_out, nullptr, false);
  REQUIRE(clean.is_object());
  CHECK(clean["ok"] == true);
  CHECK(clean["input_records"] == kOrders);
  CHECK(clean["duplicates"]["explained"] == 1);

  auto [rc, out] = run_command(topics.command(base + "--output broken --json"), "");
  INFO(out);
  CHECK(rc == 1);
  auto j = nlohmann::json::parse(out, nullptr, false);
  REQUIRE(j.is_object());
  CHECK(j["ok"] == false);
  CHECK(j["input_records"] == kOrders);
  CHECK(j["output_records"] == kOrders);  // 98 + 2 planted copies
  CHECK(j["distinct_output_ids"] == kOrders - 2);
  CHECK(j["missing"]["count"] == 2);
  CHECK(j["missing"]["ids"] == nlohmann::json::array({"13", "77"}));
  CHECK(j["duplicates"]["unexplained"] == 2);
  CHECK(j["duplicates"]["explained"] == 0);
  std::set<std::string> duplicated;
  for (const auto& e : j["duplicates"]["examples"]) duplicated.insert(e["id"].get<std::string>());
  CHECK(duplicated == std::set<std::string>{"5", "9"});

  // Plain lines when stdout is not a terminal.
  auto [text_rc, text] = run_command(topics.command(base + "--output broken"), "");
  INFO(text);
  CHECK(text_rc == 1);
  CHECK_THAT(text, Catch::Contains("missing_lost: 2\n") && Catch::Contains("missing: 13\n") &&
                       Catch::Contains("missing: 77\n") &&
                       Catch::Contains("duplicate: 5 (2 copies") &&
                       Catch::Contains("result: NOT OK"));

  // --exactly-once turns even the explained replay into a failure.
  CHECK(run_command(topics.command(base + "--output clean --exactly-once"), "").first == 1);
  CHECK(run_command(topics.command(base + "--output clean --read-committed"), "").first == 0);

  // The table check.
  auto good =
      write_file("verify_expect_good.json", R"({"u1": {"orders": 3}, "u2": {"orders": 1}})");
  CHECK(run_command(topics.command(base + "--output clean --table counts --expect " + good), "")
            .first == 0);
  auto bad = write_file("verify_expect_bad.json", R"({"u1": {"orders": 4}, "u3": {"orders": 1}})");
  auto [bad_rc, bad_out] = run_command(
      topics.command(base + "--output clean --json --table counts --expect " + bad), "");
  CHECK(bad_rc == 1);
  auto bj = nlohmann::json::parse(bad_out, nullptr, false);
  REQUIRE(bj.is_object());
  CHECK(bj["table"]["ok"] == false);
  CHECK(bj["table"]["mismatched"]["count"] == 1);
  CHECK(bj["table"]["mismatched"]["items"][0] == R"(u1: expected {"orders":4}, got {"orders":3})");
  CHECK(bj["table"]["missing"]["keys"] == nlohmann::json::array({"u3"}));
  CHECK(bj["table"]["extra"]["keys"] == nlohmann::json::array({"u2"}));
  auto not_json = write_file("verify_expect_broken.json", "{\"u1\": ");
  CHECK(run_command(topics.command(base + "--output clean --table counts --expect " + not_json), "")
            .first == 2);

  // Usage and connection errors: 2, never a verdict.
  CHECK(run_command(topics.command(base + "--output no-such-topic"), "").first == 2);
  CHECK(run_command(topics.command("--input orders --output clean"), "").first == 2);
  // (Repeated options: the last one wins, here --timeout 2.)
  CHECK(run_command(testing::rivulet_binary() + " verify --bootstrap 127.0.0.1:1 " + base +
                        "--output clean --timeout 2",
                    "")
            .first == 2);
}
