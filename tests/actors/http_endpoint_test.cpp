// The HTTP endpoint of a running Application: /metrics scraped and parsed as
// Prometheus text, /health and /tasks as JSON.
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <httplib.h>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "actors/http_endpoint.hpp"
#include "connectors/embedded_broker.hpp"
#include "examples/orders_enrichment.hpp"

using namespace rivulet;

namespace {

// "name{labels} value" lines -> value by "name{labels}"; checks the format.
std::map<std::string, double> parse_prometheus(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') {
      if (!line.empty()) {
        CHECK((line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0));
      }
      continue;
    }
    auto space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

}  // namespace

TEST_CASE("the HTTP endpoint serves metrics, health and tasks of a running application",
          "[integration][http]") {
  examples::OrdersWorkload w;
  w.users = 100;
  w.user_space = 110;
  w.orders = 2000;
  auto broker = connectors::EmbeddedBroker::start();
  REQUIRE(broker.ok());
  for (const auto& t : {w.users_topic, w.orders_topic, w.enriched_topic, w.counts_topic}) {
    REQUIRE((*broker)->create_topic(t, 2).ok());
  }
  REQUIRE(examples::produce_orders_workload((*broker)->bootstrap(), w, nullptr).ok());
  std::string state = (std::filesystem::temp_directory_path() / "rivulet-http-XXXXXX").string();
  REQUIRE(::mkdtemp(state.data()) != nullptr);
  auto config = Config::from_map({{"application.id", "http-test"},
                                  {"bootstrap.servers", (*broker)->bootstrap()},
                                  {"checkpoint.interval.ms", "100"},
                                  {"kafka.consumer.statistics.interval.ms", "100"},
                                  {"kafka.producer.statistics.interval.ms", "100"},
                                  {"state.dir", state}});
  REQUIRE(config.ok());
  Application app(examples::make_orders_topology(w), *config);
  REQUIRE(app.start().ok());
  auto endpoint = HttpEndpoint::start("127.0.0.1:0", app);
  REQUIRE(endpoint.ok());
  httplib::Client client("127.0.0.1", (*endpoint)->port());

  // Wait until every order went through and a checkpoint was written.
  std::map<std::string, double> metrics;
  for (int i = 0; i < 1200; ++i) {  // up to a minute (sanitizer builds are slow)
    auto res = client.Get("/metrics");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    metrics = parse_prometheus(res->body);
    double in = metrics["rivulet_task_records_in_total{task=\"http-test-0\"}"] +
                metrics["rivulet_task_records_in_total{task=\"http-test-1\"}"];
    double out = metrics["rivulet_task_records_out_total{task=\"http-test-0\"}"] +
                 metrics["rivulet_task_records_out_total{task=\"http-test-1\"}"];
    double ckpt = metrics["rivulet_task_checkpoints_total{task=\"http-test-0\"}"];
    // The producer's statistics report after the outputs were sent, and the
    // consumer's after the last input was fetched (a report may come between
    // two fetches).
    double produced = metrics
        ["rivulet_kafka_requests_total{application=\"http-test\",client=\"producer\","
         "request=\"Produce\"}"];
    double received = metrics
        ["rivulet_kafka_bytes_total{application=\"http-test\",client=\"consumer\","
         "direction=\"received\"}"];
    if (in >= static_cast<double>(w.users + w.orders) && out >= static_cast<double>(2 * w.orders) &&
        ckpt >= 1 && produced > 0 && received > 40.0 * static_cast<double>(w.users + w.orders)) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(metrics["rivulet_task_records_in_total{task=\"http-test-0\"}"] +
            metrics["rivulet_task_records_in_total{task=\"http-test-1\"}"] ==
        static_cast<double>(w.users + w.orders));
  // Two outputs per order: the enriched order and the updated count.
  CHECK(metrics["rivulet_task_records_out_total{task=\"http-test-0\"}"] +
            metrics["rivulet_task_records_out_total{task=\"http-test-1\"}"] ==
        static_cast<double>(2 * w.orders));
  CHECK(metrics["rivulet_task_checkpoints_total{task=\"http-test-0\"}"] >= 1);
  CHECK(metrics.count("rivulet_task_checkpoints_skipped_total{task=\"http-test-0\"}") == 1);
  CHECK(metrics["rivulet_task_checkpoint_bytes{task=\"http-test-0\"}"] > 0);
  // From the snapshot until it was durable: more than nothing.
  CHECK(metrics["rivulet_task_checkpoint_duration_seconds{task=\"http-test-0\"}"] > 0);
  // Writing it (a file and two fsyncs) takes more than nothing too.
  CHECK(metrics["rivulet_task_checkpoint_write_seconds{task=\"http-test-0\"}"] > 0);
  CHECK(metrics.count("rivulet_task_mailbox_messages{task=\"http-test-0\"}") == 1);
  CHECK(metrics.count("rivulet_task_inbox_batches{task=\"http-test-0\"}") == 1);
  CHECK(metrics.count("rivulet_task_input_pauses_total{task=\"http-test-0\"}") == 1);
  // The users table: every user in one of the two tasks' parts, decoded
  // (100 rows, under the Auto storage's switch), bytes counted.
  CHECK(metrics["rivulet_task_table_rows{task=\"http-test-0\",table=\"users\"}"] +
            metrics["rivulet_task_table_rows{task=\"http-test-1\",table=\"users\"}"] ==
        static_cast<double>(w.users));
  CHECK(metrics["rivulet_task_table_bytes{task=\"http-test-0\",table=\"users\"}"] >
        metrics["rivulet_task_table_rows{task=\"http-test-0\",table=\"users\"}"] * 60);
  CHECK(metrics.count("rivulet_task_table_encoded{task=\"http-test-0\",table=\"users\"}") == 1);
  CHECK(metrics["rivulet_task_table_encoded{task=\"http-test-0\",table=\"users\"}"] == 0);
  // One series per reason, every reason present.
  for (const char* reason :
       {"tombstone", "negative_timestamp", "null_key", "null_group_key", "null_join_key"})
    CHECK(metrics.count(std::string("rivulet_task_records_skipped_total{task=\"http-test-0\",reason=\"") +
                        reason + "\"}") == 1);
  CHECK(metrics["rivulet_task_restores_total{task=\"http-test-0\"}"] == 0);
  CHECK(metrics["rivulet_task_lag_records{task=\"http-test-0\"}"] >= 0);
  CHECK(metrics["rivulet_task_dead_lettered_total{task=\"http-test-0\"}"] == 0);
  CHECK(metrics["rivulet_task_late_records_dropped_total{task=\"http-test-0\"}"] == 0);
  CHECK(metrics["rivulet_task_processing_seconds_count{task=\"http-test-0\"}"] > 0);
  CHECK(metrics["rivulet_task_processing_seconds_bucket{task=\"http-test-0\",le=\"+Inf\"}"] ==
        metrics["rivulet_task_processing_seconds_count{task=\"http-test-0\"}"]);
  CHECK(metrics["rivulet_node_resident_memory_bytes{application=\"http-test\"}"] > 0);
  CHECK(metrics.count("rivulet_task_data_errors_total{task=\"http-test-1\"}") == 1);
  // The Kafka clients' statistics: the consumer fetched the inputs, the
  // producer sent the outputs, and both moved bytes both ways.
  const std::string consumer = "{application=\"http-test\",client=\"consumer\"";
  const std::string producer = "{application=\"http-test\",client=\"producer\"";
  CHECK(metrics["rivulet_kafka_requests_total" + consumer + ",request=\"Fetch\"}"] > 0);
  CHECK(metrics["rivulet_kafka_requests_total" + producer + ",request=\"Produce\"}"] > 0);
  CHECK(metrics.count("rivulet_kafka_requests_total" + consumer + ",request=\"Produce\"}") == 0);
  // 2,100 input records of 40 bytes or more came in through the consumer.
  CHECK(metrics["rivulet_kafka_bytes_total" + consumer + ",direction=\"received\"}"] >
        40.0 * static_cast<double>(w.users + w.orders));
  CHECK(metrics["rivulet_kafka_bytes_total" + producer + ",direction=\"sent\"}"] > 0);

  auto health = client.Get("/health");
  REQUIRE(health);
  CHECK(health->status == 200);
  auto h = nlohmann::json::parse(health->body);
  CHECK(h["status"] == "ready");
  CHECK(h["tasks"] == 2);
  CHECK(h["pid"] == static_cast<int64_t>(::getpid()));  // rivulet chaos --http checks it

  auto tasks = client.Get("/tasks");
  REQUIRE(tasks);
  auto t = nlohmann::json::parse(tasks->body);
  REQUIRE(t.size() == 2);
  CHECK(t[0]["state"] == "running");
  int64_t user_rows = 0;
  for (const auto& task : t)
    for (const auto& table : task["tables"])
      if (table["name"] == "users") user_rows += table["rows"].get<int64_t>();
  CHECK(user_rows == w.users);
  // Each task's share of table.decoded.max.bytes (256 MiB by default) over
  // 2 partitions, its one AUTO table.
  for (const auto& table : t[0]["tables"])
    if (table["name"] == "users") CHECK(table["decoded_max_bytes"] == 134217728);
  // Tables only when asked for (heartbeats and /health do not walk them).
  CHECK(app.task_metrics().front().tables.empty());
  CHECK_FALSE(app.task_metrics(true).front().tables.empty());

  REQUIRE(app.stop());
  auto after = client.Get("/health");
  REQUIRE(after);
  CHECK(after->status == 503);  // stopped: not ready
  std::filesystem::remove_all(state);
}

TEST_CASE("the metrics text carries each task's late records dropped", "[http]") {
  TaskMetrics m;
  m.task = "app-3";
  m.partition = 3;
  m.late_records_dropped = 7;
  auto metrics = parse_prometheus(render_prometheus("app", {m}, 0));
  CHECK(metrics["rivulet_task_late_records_dropped_total{task=\"app-3\"}"] == 7);
}

TEST_CASE("the metrics text and the tasks JSON carry each task's expression errors", "[http]") {
  TaskMetrics m;
  m.task = "app-1";
  m.partition = 1;
  m.expression_errors = 4;
  auto metrics = parse_prometheus(render_prometheus("app", {m}, 0));
  CHECK(metrics["rivulet_task_expression_errors_total{task=\"app-1\"}"] == 4);
  auto tasks = nlohmann::json::parse(render_tasks({m}));
  REQUIRE(tasks.size() == 1);
  CHECK(tasks[0]["expression_errors"] == 4);
}

TEST_CASE("the metrics text and the tasks JSON carry each task's tables", "[http]") {
  TaskMetrics m;
  m.task = "app-2";
  m.partition = 2;
  m.tables = {TableMetrics{"USERS", 25000, 1600000, true, std::nullopt},
              TableMetrics{"ADS", 40, 9000, false, uint64_t{4194304}}};
  auto metrics = parse_prometheus(render_prometheus("app", {m}, 0));
  CHECK(metrics["rivulet_task_table_rows{task=\"app-2\",table=\"USERS\"}"] == 25000);
  CHECK(metrics["rivulet_task_table_bytes{task=\"app-2\",table=\"USERS\"}"] == 1600000);
  CHECK(metrics["rivulet_task_table_encoded{task=\"app-2\",table=\"USERS\"}"] == 1);
  CHECK(metrics["rivulet_task_table_rows{task=\"app-2\",table=\"ADS\"}"] == 40);
  CHECK(metrics["rivulet_task_table_encoded{task=\"app-2\",table=\"ADS\"}"] == 0);
  auto tasks = nlohmann::json::parse(render_tasks({m}));
  REQUIRE(tasks.size() == 1);
  REQUIRE(tasks[0]["tables"].size() == 2);
  CHECK(tasks[0]["tables"][0] ==
        nlohmann::json::parse(R"({"name":"USERS","rows":25000,"bytes":1600000,"encoded":true})"));
  // An AUTO table's share of table.decoded.max.bytes.
  CHECK(
      tasks[0]["tables"][1] ==
      nlohmann::json::parse(
          R"({"name":"ADS","rows":40,"bytes":9000,"encoded":false,"decoded_max_bytes":4194304})"));
}

TEST_CASE("a cluster node's metrics text holds each family once over several queries", "[http]") {
  // A node runs tasks of several queries; Prometheus rejects a text format
  // that repeats a family's HELP or TYPE line.
  TaskMetrics a, b;
  a.task = "orders-0";
  a.records_in = 5;
  b.task = "alerts-1";
  b.partition = 1;
  b.records_in = 9;
  const std::string text = render_prometheus("n1", {a, b}, 4096, "node");
  std::istringstream lines(text);
  std::string line;
  std::map<std::string, int> types;
  while (std::getline(lines, line))
    if (line.rfind("# TYPE ", 0) == 0) ++types[line.substr(7, line.find(' ', 7) - 7)];
  REQUIRE(!types.empty());
  for (const auto& [family, count] : types) CHECK(count == 1);
  auto metrics = parse_prometheus(text);
  CHECK(metrics["rivulet_task_records_in_total{task=\"orders-0\"}"] == 5);
  CHECK(metrics["rivulet_task_records_in_total{task=\"alerts-1\"}"] == 9);
  CHECK(metrics["rivulet_node_resident_memory_bytes{node=\"n1\"}"] == 4096);
  CHECK(metrics["rivulet_node_tasks{node=\"n1\"}"] == 2);
}

TEST_CASE("a node's metrics text carries each query's Kafka clients", "[http]") {
  connectors::KafkaClientStats consumer;
  consumer.requests = {{"Fetch", 120}, {"Metadata", 3}};
  consumer.rx_bytes = 5000;
  consumer.tx_bytes = 900;
  connectors::KafkaClientStats producer;
  producer.requests = {{"Produce", 40}};
  producer.tx_bytes = 7000;
  const std::vector<KafkaClientMetrics> clients = {{"orders", "consumer", consumer},
                                                   {"orders", "producer", producer},
                                                   {"alerts", "consumer", {}}};
  const std::string text = render_prometheus("n1", {}, 0, "node", clients);
  auto metrics = parse_prometheus(text);
  CHECK(
      metrics["rivulet_kafka_requests_total{node=\"n1\",application=\"orders\",client=\"consumer\","
              "request=\"Fetch\"}"] == 120);
  CHECK(
      metrics["rivulet_kafka_requests_total{node=\"n1\",application=\"orders\",client=\"consumer\","
              "request=\"Metadata\"}"] == 3);
  CHECK(
      metrics["rivulet_kafka_requests_total{node=\"n1\",application=\"orders\",client=\"producer\","
              "request=\"Produce\"}"] == 40);
  CHECK(metrics["rivulet_kafka_bytes_total{node=\"n1\",application=\"orders\",client=\"consumer\","
                "direction=\"received\"}"] == 5000);
  CHECK(metrics["rivulet_kafka_bytes_total{node=\"n1\",application=\"orders\",client=\"producer\","
                "direction=\"sent\"}"] == 7000);
  // A client before its first report: its bytes at zero, no request series.
  CHECK(metrics.count("rivulet_kafka_bytes_total{node=\"n1\",application=\"alerts\","
                      "client=\"consumer\",direction=\"sent\"}") == 1);
  CHECK(text.find("application=\"alerts\",client=\"consumer\",request=") == std::string::npos);
  // One application's endpoint labels by the application alone.
  auto single = parse_prometheus(render_prometheus("orders", {}, 0, "application", {clients[0]}));
  CHECK(single["rivulet_kafka_requests_total{application=\"orders\",client=\"consumer\","
               "request=\"Fetch\"}"] == 120);
}
