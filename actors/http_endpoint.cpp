#include "actors/http_endpoint.hpp"

#include <unistd.h>

#include <fstream>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sstream>

namespace rivulet {

namespace {

void metric_header(std::ostringstream& os, const char* name, const char* type, const char* help) {
  os << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
}

template <typename F>
void per_task(std::ostringstream& os, const char* name, const char* type, const char* help,
              const std::vector<TaskMetrics>& tasks, F value) {
  metric_header(os, name, type, help);
  for (const auto& t : tasks) os << name << "{task=\"" << t.task << "\"} " << value(t) << '\n';
}

nlohmann::json tables_json(const TaskMetrics& t) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& tb : t.tables) {
    nlohmann::json j = {
        {"name", tb.name}, {"rows", tb.rows}, {"bytes", tb.bytes}, {"encoded", tb.encoded}};
    if (tb.decoded_max_bytes) j["decoded_max_bytes"] = *tb.decoded_max_bytes;
    out.push_back(std::move(j));
  }
  return out;
}

nlohmann::json skipped_by_reason(const TaskMetrics& t) {
  nlohmann::json out = nlohmann::json::object();
  for (size_t i = 0; i < kSkipReasons; ++i)
    out[skip_reason_name(static_cast<SkipReason>(i))] = t.skipped_by_reason[i];
  return out;
}

}  // namespace

uint64_t resident_memory_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::vector<KafkaClientMetrics> kafka_client_metrics(const Application& app) {
  std::vector<KafkaClientMetrics> out;
  for (auto& [client, stats] : app.kafka_client_stats())
    out.push_back(KafkaClientMetrics{app.application_id(), client, std::move(stats)});
  return out;
}

std::string render_prometheus(const std::string& scope, const std::vector<TaskMetrics>& tasks,
                              uint64_t resident_bytes, const std::string& scope_label,
                              const std::vector<KafkaClientMetrics>& clients) {
  std::ostringstream os;
  per_task(os, "rivulet_task_records_in_total", "counter", "Input records processed.", tasks,
           [](const TaskMetrics& t) { return t.records_in; });
  per_task(os, "rivulet_task_records_out_total", "counter", "Output records produced.", tasks,
           [](const TaskMetrics& t) { return t.records_out; });
  per_task(os, "rivulet_task_lag_records", "gauge", "Records on the broker not yet read.", tasks,
           [](const TaskMetrics& t) { return t.lag; });
  per_task(os, "rivulet_task_data_errors_total", "counter",
           "Records that failed to decode or evaluate (never skipped silently).", tasks,
           [](const TaskMetrics& t) { return t.data_errors; });
  per_task(os, "rivulet_task_dead_lettered_total", "counter",
           "Records sent to the dead-letter topic.", tasks,
           [](const TaskMetrics& t) { return t.dead_lettered; });
  per_task(os, "rivulet_task_late_records_dropped_total", "counter",
           "Records for windows that had closed.", tasks,
           [](const TaskMetrics& t) { return t.late_records_dropped; });
  metric_header(os, "rivulet_task_records_skipped_total", "counter",
                "Records skipped by design, by reason (tombstone: a stream's null value in an "
                "aggregation or join; negative_timestamp; null_key: a table record without key; "
                "null_group_key and null_join_key, also dead-lettered).");
  for (const auto& t : tasks)
    for (size_t i = 0; i < kSkipReasons; ++i)
      os << "rivulet_task_records_skipped_total{task=\"" << t.task << "\",reason=\""
         << skip_reason_name(static_cast<SkipReason>(i)) << "\"} " << t.skipped_by_reason[i]
         << '\n';
  per_task(os, "rivulet_task_expression_errors_total", "counter",
           "Expression evaluations that failed and gave NULL (a SQL function that threw, as a "
           "ksqlDB UDF may).",
           tasks, [](const TaskMetrics& t) { return t.expression_errors; });
  per_task(os, "rivulet_task_replay_duplicates_skipped_total", "counter",
           "Repartition records skipped as replay duplicates (applied before a restore).", tasks,
           [](const TaskMetrics& t) { return t.replay_duplicates_skipped; });
  per_task(os, "rivulet_task_repartition_unsequenced_total", "counter",
           "Repartition records written without rivulet.seq (not checked for replays).", tasks,
           [](const TaskMetrics& t) { return t.repartition_unsequenced; });
  per_task(os, "rivulet_task_checkpoints_total", "counter", "Durable checkpoints written.", tasks,
           [](const TaskMetrics& t) { return t.checkpoints; });
  per_task(os, "rivulet_task_checkpoints_skipped_total", "counter",
           "Checkpoints not taken: the task's state unchanged since the newest durable one.", tasks,
           [](const TaskMetrics& t) { return t.checkpoints_skipped; });
  per_task(os, "rivulet_task_checkpoint_bytes", "gauge", "Size of the last checkpoint.", tasks,
           [](const TaskMetrics& t) { return t.checkpoint_bytes; });
  per_task(os, "rivulet_task_checkpoint_pause_seconds", "gauge",
           "How long taking the last checkpoint paused the task.", tasks,
           [](const TaskMetrics& t) { return static_cast<double>(t.checkpoint_pause_us) / 1e6; });
  per_task(os, "rivulet_task_checkpoint_duration_seconds", "gauge",
           "How long the last checkpoint took from its snapshot to being durable.", tasks,
           [](const TaskMetrics& t) { return static_cast<double>(t.checkpoint_duration_us) / 1e6; });
  per_task(os, "rivulet_task_checkpoint_write_seconds", "gauge",
           "How long writing the last checkpoint took: serializing what the task left to the writer, "
           "encode, write, fsync, rename, removing old ones (on the checkpoint writer's thread "
           "unless checkpoint.write.async=false).",
           tasks,
           [](const TaskMetrics& t) { return static_cast<double>(t.checkpoint_write_us) / 1e6; });
  per_task(os, "rivulet_task_restores_total", "counter", "Restores from a checkpoint.", tasks,
           [](const TaskMetrics& t) { return t.restores; });
  per_task(os, "rivulet_task_transactions_committed_total", "counter",
           "exactly_once_v2: transactions committed.", tasks,
           [](const TaskMetrics& t) { return t.transactions_committed; });
  per_task(os, "rivulet_task_transactions_aborted_total", "counter",
           "exactly_once_v2: transactions aborted (each rewound the task to its last committed "
           "checkpoint).",
           tasks, [](const TaskMetrics& t) { return t.transactions_aborted; });
  per_task(os, "rivulet_task_failed", "gauge", "1 when the task stopped with an error.", tasks,
           [](const TaskMetrics& t) { return t.state == "failed" ? 1 : 0; });
  per_task(os, "rivulet_task_inbox_batches", "gauge",
           "Batches waiting in the task's inboxes (its mailbox of input).", tasks,
           [](const TaskMetrics& t) { return t.inbox_batches; });
  per_task(os, "rivulet_task_input_pauses_total", "counter",
           "Times the task's input partitions were paused because its inboxes were full "
           "(backpressure).",
           tasks, [](const TaskMetrics& t) { return t.input_pauses; });
  per_task(os, "rivulet_task_mailbox_messages", "gauge",
           "Messages waiting in the task actor's mailbox (sampled every commit interval).", tasks,
           [](const TaskMetrics& t) { return t.mailbox_messages; });

  // Per task and table; the table label is its store name.
  auto per_table = [&](const char* name, const char* help, auto value) {
    metric_header(os, name, "gauge", help);
    for (const auto& t : tasks)
      for (const auto& tb : t.tables)
        os << name << "{task=\"" << t.task << "\",table=\"" << tb.name << "\"} " << value(tb)
           << '\n';
  };
  per_table("rivulet_task_table_rows", "Rows in the task's part of a table.",
            [](const TableMetrics& tb) { return tb.rows; });
  per_table("rivulet_task_table_bytes",
            "Heap bytes of the task's part of a table (estimated from 1,024 rows when larger and "
            "decoded).",
            [](const TableMetrics& tb) { return tb.bytes; });
  per_table("rivulet_task_table_encoded",
            "1 when the task keeps the table's rows encoded (table_storage ENCODED, or AUTO past "
            "table.auto.encode.rows rows or its share of table.decoded.max.bytes).",
            [](const TableMetrics& tb) { return tb.encoded ? 1 : 0; });

  const char* hist = "rivulet_task_processing_seconds";
  metric_header(os, hist, "histogram", "Time to process one run of input records.");
  for (const auto& t : tasks) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < t.latency_buckets.size(); ++i) {
      cumulative += t.latency_buckets[i];
      os << hist << "_bucket{task=\"" << t.task << "\",le=\"";
      if (i < t.latency_bucket_bounds_us.size()) {
        os << static_cast<double>(t.latency_bucket_bounds_us[i]) / 1e6;
      } else {
        os << "+Inf";
      }
      os << "\"} " << cumulative << '\n';
    }
    os << hist << "_sum{task=\"" << t.task << "\"} " << static_cast<double>(t.latency_sum_us) / 1e6
       << '\n';
    os << hist << "_count{task=\"" << t.task << "\"} " << t.latency_count << '\n';
  }
  metric_header(os, "rivulet_node_resident_memory_bytes", "gauge", "Resident memory of the node.");
  os << "rivulet_node_resident_memory_bytes{" << scope_label << "=\"" << scope << "\"} "
     << resident_bytes << '\n';
  metric_header(os, "rivulet_node_tasks", "gauge", "Tasks running on the node.");
  os << "rivulet_node_tasks{" << scope_label << "=\"" << scope << "\"} " << tasks.size() << '\n';

  // The Kafka clients, as of their last statistics report. One application:
  // labelled by it; a node: by the node and each client's application.
  const auto client_labels = [&](const KafkaClientMetrics& c) {
    std::string labels = scope_label + "=\"" + scope + "\",";
    if (scope_label != "application") labels += "application=\"" + c.application + "\",";
    return labels + "client=\"" + c.client + "\"";
  };
  metric_header(os, "rivulet_kafka_requests_total", "counter",
                "Requests a Kafka client sent, by type (librdkafka's statistics, reported every "
                "statistics.interval.ms).");
  for (const auto& c : clients)
    for (const auto& [type, n] : c.stats.requests)
      os << "rivulet_kafka_requests_total{" << client_labels(c) << ",request=\"" << type << "\"} "
         << n << '\n';
  metric_header(os, "rivulet_kafka_bytes_total", "counter",
                "Bytes a Kafka client sent to and received from its brokers.");
  for (const auto& c : clients) {
    os << "rivulet_kafka_bytes_total{" << client_labels(c) << ",direction=\"sent\"} "
       << c.stats.tx_bytes << '\n';
    os << "rivulet_kafka_bytes_total{" << client_labels(c) << ",direction=\"received\"} "
       << c.stats.rx_bytes << '\n';
  }
  return os.str();
}

std::string render_tasks(const std::vector<TaskMetrics>& tasks) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& t : tasks) {
    out.push_back({{"task", t.task},
                   {"partition", t.partition},
                   {"state", t.state},
                   {"error", t.error},
                   {"records_in", t.records_in},
                   {"records_out", t.records_out},
                   {"lag", t.lag},
                   {"data_errors", t.data_errors},
                   {"dead_lettered", t.dead_lettered},
                   {"late_records_dropped", t.late_records_dropped},
                   {"records_skipped", t.records_skipped},
                   {"replay_duplicates_skipped", t.replay_duplicates_skipped},
                   {"records_skipped_by_reason", skipped_by_reason(t)},
                   {"expression_errors", t.expression_errors},
                   {"stream_time", t.stream_time},
                   {"checkpoints", t.checkpoints},
                   {"checkpoints_skipped", t.checkpoints_skipped},
                   {"checkpoint_bytes", t.checkpoint_bytes},
                   {"checkpoint_duration_ms", static_cast<double>(t.checkpoint_duration_us) / 1e3},
                   {"checkpoint_write_ms", static_cast<double>(t.checkpoint_write_us) / 1e3},
                   {"last_checkpoint_ms", t.last_checkpoint_ms},
                   {"restores", t.restores},
                   {"inbox_batches", t.inbox_batches},
                   {"mailbox_messages", t.mailbox_messages},
                   {"transactions_committed", t.transactions_committed},
                   {"transactions_aborted", t.transactions_aborted},
                   {"tables", tables_json(t)}});
  }
  return out.dump();
}

std::string render_health(const Application& app) {
  auto tasks = app.task_metrics();
  size_t failed = 0;
  nlohmann::json failures = nlohmann::json::array();
  for (const auto& t : tasks) {
    if (t.state == "failed") {
      ++failed;
      failures.push_back({{"task", t.task}, {"error", t.error}});
    }
  }
  std::string status = failed ? "failed" : (app.ready() ? "ready" : "starting");
  nlohmann::json out = {{"status", status},
                        {"application", app.application_id()},
                        {"pid", static_cast<int64_t>(::getpid())},
                        {"tasks", tasks.size()},
                        {"failed_tasks", failures}};
  return out.dump();
}

Expected<std::unique_ptr<HttpEndpoint>> HttpEndpoint::start(const std::string& listen,
                                                            const Application& app) {
  auto http = HttpServer::create(listen);
  if (!http) return http.error();
  std::unique_ptr<HttpEndpoint> ep(new HttpEndpoint());
  ep->http_ = std::move(*http);
  auto& server = ep->http_->server();
  const Application* a = &app;
  server.Get("/metrics", [a](const httplib::Request&, httplib::Response& res) {
    res.set_content(
        render_prometheus(a->application_id(), a->task_metrics(true), resident_memory_bytes(),
                          "application", kafka_client_metrics(*a)),
        "text/plain; version=0.0.4");
  });
  server.Get("/health", [a](const httplib::Request&, httplib::Response& res) {
    res.status = a->ready() ? 200 : 503;
    res.set_content(render_health(*a), "application/json");
  });
  server.Get("/tasks", [a](const httplib::Request&, httplib::Response& res) {
    res.set_content(render_tasks(a->task_metrics(true)), "application/json");
  });
  if (auto bound = ep->http_->listen(); !bound) return bound.error();
  return ep;
}

HttpEndpoint::~HttpEndpoint() = default;

int HttpEndpoint::port() const {
  return http_->port();
}
const std::string& HttpEndpoint::host() const {
  return http_->host();
}

}  // namespace rivulet
