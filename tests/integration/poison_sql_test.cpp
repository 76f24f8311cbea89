// Poison records through `rivulet run` (a SQL join and a GROUP BY on the
// embedded broker): truncated JSON, a wrong type, invalid UTF-8 and a null
// key where the join and the GROUP BY need one all reach the dead-letter
// topic `<application.id>-dlq` with their context in headers; every good
// record is joined and counted; /metrics (scraped with curl and parsed)
// counts every dead letter; SIGTERM leaves a final checkpoint per task and
// exits 0, and a restart restores from it without reprocessing anything.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "connectors/kafka_producer.hpp"
#include "runtime/codec.hpp"
#include "support/child_process.hpp"
#include "support/prometheus_text.hpp"
#include "support/topic_reader.hpp"

using namespace rivulet;
using rivulet::testing::ChildProcess;
using rivulet::testing::Collector;
using rivulet::testing::metric_sum;
using rivulet::testing::ReadRecord;
using rivulet::testing::run_command;

namespace {

constexpr int kUsers = 10;
constexpr int kOrders = 200;

const char* kSql = R"sql(
SET 'application.id' = 'poison-test';
SET 'commit.interval.ms' = '100';
SET 'checkpoint.interval.ms' = '600000';
CREATE TABLE USERS (UID STRING PRIMARY KEY, NAME STRING) WITH (kafka_topic='users', value_format='JSON');
CREATE STREAM ORDERS (UID STRING KEY, ORDER_ID BIGINT, AMOUNT DOUBLE) WITH (kafka_topic='orders', value_format='JSON');
CREATE STREAM ENRICHED AS SELECT O.UID AS UID, ORDER_ID, AMOUNT, NAME FROM ORDERS O JOIN USERS U ON O.UID = U.UID;
CREATE TABLE COUNTS AS SELECT UID, COUNT(*) AS N FROM ORDERS GROUP BY UID;
)sql";

void produce(const std::string& bootstrap, const std::vector<OutputRecord>& records) {
  auto p = connectors::KafkaProducer::create({{"bootstrap.servers", bootstrap}}, nullptr);
  REQUIRE(p.ok());
  for (const auto& r : records) REQUIRE((*p)->produce(r, nullptr).ok());
  REQUIRE((*p)->flush(std::chrono::seconds(30)).ok());
}

OutputRecord record(const std::string& topic, std::optional<std::string> key, std::string value) {
  OutputRecord r;
  r.topic = topic;
  r.key = std::move(key);
  r.value = std::move(value);
  return r;
}

std::string scrape(const std::string& address) {
  auto [rc, out] = run_command("curl -sf http://" + address + "/metrics", "", 10);
  REQUIRE(rc == 0);
  return out;
}

struct Run {
  std::unique_ptr<ChildProcess> process;
  std::string http;
};

Run start_run(const std::string& file, const std::string& bootstrap, const std::string& state) {
  auto child = ChildProcess::spawn({testing::rivulet_binary(), "run", file, "--bootstrap",
                                    bootstrap, "--set", "state.dir=" + state, "--http",
                                    "127.0.0.1:0"});
  REQUIRE(child.has_value());
  Run run{std::make_unique<ChildProcess>(std::move(*child)), ""};
  auto line = run.process->read_line();
  REQUIRE(line.has_value());
  CHECK(line->rfind("running 2 queries", 0) == 0);
  auto http = run.process->read_line();
  REQUIRE(http.has_value());
  REQUIRE(http->rfind("http ", 0) == 0);
  run.http = http->substr(5);
  return run;
}

std::set<std::string> checkpoint_files(const std::string& state) {
  std::set<std::string> out;
  if (!std::filesystem::exists(state)) return out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(state)) {
    auto name = e.path().filename().string();
    if (name.size() > 5 && name.substr(name.size() - 5) == ".ckpt")
      out.insert(e.path().parent_path().filename().string() + "/" + name);
  }
  return out;
}

}  // namespace

TEST_CASE("rivulet run: poison records are dead-lettered with context, good ones all processed, "
          "and SIGTERM leaves a final checkpoint",
          "[integration][poison]") {
  auto broker = ChildProcess::spawn({testing::rivulet_binary(), "broker", "--topic", "users:2",
                                     "--topic", "orders:2", "--topic", "poison-test-dlq:1"});
  REQUIRE(broker.has_value());
  auto bootstrap_line = broker->read_line();
  REQUIRE(bootstrap_line.has_value());
  const std::string bootstrap = *bootstrap_line;
  std::string dir = (std::filesystem::temp_directory_path() / "rivulet-poison-XXXXXX").string();
  REQUIRE(::mkdtemp(dir.data()) != nullptr);
  const std::string file = dir + "/shop.sql";
  const std::string state = dir + "/state";
  std::ofstream(file) << kSql;

  std::vector<OutputRecord> users;
  for (int u = 0; u < kUsers; ++u)
    users.push_back(record("users", "u" + std::to_string(u),
                           R"({"NAME": "User )" + std::to_string(u) + R"("})"));
  produce(bootstrap, users);

  const std::string truncated = R"({"ORDER_ID": 100000, "AMOU)";
  const std::string wrong_type = R"({"ORDER_ID": "one hundred", "AMOUNT": 1.5})";
  const std::string bad_utf8 = "{\"ORDER_ID\": 100001, \"AMOUNT\": \"\xff\xfe\"}";
  const std::string null_key_value = R"({"ORDER_ID": 100002, "AMOUNT": 2.5})";
  std::vector<OutputRecord> orders;
  for (int i = 0; i < kOrders; ++i) {
    orders.push_back(record("orders", "u" + std::to_string(i % kUsers),
                            R"({"ORDER_ID": )" + std::to_string(i) + R"(, "AMOUNT": 1.5})"));
    if (i == 50) orders.push_back(record("orders", "u1", truncated));
    if (i == 90) orders.push_back(record("orders", "u2", wrong_type));
    if (i == 130) orders.push_back(record("orders", "u3", bad_utf8));
    if (i == 170) orders.push_back(record("orders", std::nullopt, null_key_value));
  }
  produce(bootstrap, orders);

  Run run = start_run(file, bootstrap, state);
  // Every good order joined, every user counted exactly.
  auto json = make_json_codec();
  std::set<int64_t> ids;
  std::map<std::string, int64_t> counts;
  size_t cursor = 0;
  testing::read_until(
      bootstrap, {"ENRICHED", "COUNTS"}, 2,
      [&](const Collector& c) {
        c.for_each_new(cursor, [&](const ReadRecord& r) {
          if (!r.value) return;
          auto v = json->decode(*r.value);
          if (!v) return;
          if (r.tp.topic == "ENRICHED") ids.insert(v->field("ORDER_ID")->to_int64());
          if (r.tp.topic == "COUNTS" && r.key) counts[*r.key] = v->field("N")->to_int64();
        });
        if (ids.size() != static_cast<size_t>(kOrders)) return false;
        for (int u = 0; u < kUsers; ++u)
          if (counts["u" + std::to_string(u)] != kOrders / kUsers) return false;
        return true;
      },
      std::chrono::seconds(60));
  CHECK(ids.size() == static_cast<size_t>(kOrders));
  CHECK(*ids.rbegin() == kOrders - 1);
  for (int u = 0; u < kUsers; ++u) CHECK(counts["u" + std::to_string(u)] == kOrders / kUsers);
  CHECK(counts.size() == static_cast<size_t>(kUsers));  // no group for the null key

  // The dead letters: original bytes for the undecodable ones, the join's
  // and the GROUP BY's refusal of the null key, each with its context.
  auto dlq_done = [&](const Collector& c) {
    std::set<std::string> seen;
    for (const auto& r : c.records()) {
      std::string error = r.header("rivulet.error").value_or("");
      if (r.value && (*r.value == truncated || *r.value == wrong_type || *r.value == bad_utf8))
        seen.insert(*r.value);
      if (error.find("join key is null") != std::string::npos) seen.insert("join");
      if (error.find("group key (GROUP BY) is null") != std::string::npos) seen.insert("group");
    }
    return seen.size() == 5;
  };
  auto dlq = testing::read_until(bootstrap, {"poison-test-dlq"}, 1, dlq_done,
                                 std::chrono::seconds(30));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // nothing more arrives
  dlq = testing::read_until(bootstrap, {"poison-test-dlq"}, 1, dlq_done, std::chrono::seconds(30));
  std::set<std::string> kinds;
  for (const auto& r : dlq) {
    INFO("dead letter: " << r.header("rivulet.error").value_or("?"));
    CHECK(r.header("rivulet.error.kind") == std::optional<std::string>("data"));
    CHECK_FALSE(r.header("rivulet.error.operation").value_or("").empty());
    CHECK_FALSE(r.header("rivulet.source.topic").value_or("").empty());
    CHECK(r.header("rivulet.source.partition").has_value());
    CHECK(std::stoll(r.header("rivulet.source.offset").value_or("-1")) >= 0);
    CHECK(r.header("rivulet.task").value_or("").rfind("poison-test-", 0) == 0);
    CHECK(r.header("rivulet.error.id").value_or("").rfind(r.header("rivulet.task").value_or("?") + "/", 0) == 0);
    std::string error = r.header("rivulet.error").value_or("");
    if (r.value && *r.value == truncated) kinds.insert("truncated");
    if (r.value && *r.value == wrong_type) {
      kinds.insert("wrong type");
      CHECK(error.find("ORDER_ID") != std::string::npos);
    }
    if (r.value && *r.value == bad_utf8) kinds.insert("invalid utf-8");
    if (error.find("join key is null") != std::string::npos) {
      kinds.insert("null join key");
      CHECK(r.header("rivulet.source.topic") == std::optional<std::string>("orders"));
      CHECK_FALSE(r.key.has_value());
      CHECK(r.value == std::optional<std::string>(null_key_value));  // the bytes read
      CHECK(r.header("rivulet.error.payload") == std::optional<std::string>("original"));
    }
    if (error.find("group key (GROUP BY) is null") != std::string::npos) {
      kinds.insert("null group key");
      // Found at the GROUP BY's re-keying, before the repartition topic.
      CHECK(r.header("rivulet.source.topic") == std::optional<std::string>("orders"));
      CHECK(r.value == std::optional<std::string>(null_key_value));
    }
  }
  CHECK(kinds == std::set<std::string>{"truncated", "wrong type", "invalid utf-8", "null join key",
                                       "null group key"});

  // /metrics counts every dead letter and data error; nothing skipped uncounted.
  std::string metrics = scrape(run.http);
  INFO(metrics);
  CHECK(metric_sum(metrics, "rivulet_task_dead_lettered_total") == static_cast<double>(dlq.size()));
  CHECK(metric_sum(metrics, "rivulet_task_data_errors_total") == static_cast<double>(dlq.size()));
  CHECK(metric_sum(metrics, "rivulet_task_failed") == 0);
  CHECK(metrics.find("rivulet_task_checkpoint_duration_seconds{") != std::string::npos);
  CHECK(metrics.find("rivulet_task_mailbox_messages{") != std::string::npos);
  CHECK(metrics.find("rivulet_task_records_skipped_total{") != std::string::npos);

  // SIGTERM: exit 0 and a final checkpoint per task (the interval is 10
  // minutes, so these can only be the final ones).
  CHECK(checkpoint_files(state).empty());
  CHECK(run.process->stop(SIGTERM, std::chrono::seconds(30)) == 0);
  auto files = checkpoint_files(state);
  INFO("checkpoints: " << files.size());
  CHECK(files.size() == 2);
  std::set<std::string> tasks;
  for (const auto& f : files) tasks.insert(f.substr(0, f.find('/')));
  CHECK(tasks == std::set<std::string>{"poison-test-0", "poison-test-1"});

  // A restart restores those checkpoints and has nothing left to process.
  Run again = start_run(file, bootstrap, state);
  std::string restored;
  for (int i = 0; i < 100; ++i) {
    restored = scrape(again.http);
    if (metric_sum(restored, "rivulet_task_restores_total") >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(metric_sum(restored, "rivulet_task_restores_total") == 2);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  CHECK(metric_sum(scrape(again.http), "rivulet_task_records_out_total") == 0);
  CHECK(again.process->stop(SIGTERM, std::chrono::seconds(30)) == 0);
  CHECK(broker->stop(SIGTERM) == 0);
  std::filesystem::remove_all(dir);
}
