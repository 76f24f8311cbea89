// `rivulet run APP.sql [--bootstrap LIST] [--config FILE] [--set key=value]...
// [--define NAME=VALUE]... [--http HOST:PORT] [--explain]`: plans the SQL file (sql::plan_file) and
// runs its persistent queries with rivulet::Application on this node (after loading its file and
// memory sources and writing its INSERT INTO ... VALUES rows) until SIGINT or SIGTERM, then stops
// gracefully (drain, flush, final commit and checkpoint) and exits 0; a second signal exits at once
// (130 or 143). A bad file exits 2 with "FILE: line L:C: ..."; a failed start or a failed task
// exits 1.
//
// --explain prints the plan (sql::SqlEngine::explain, with the repartition
// topics named by the configured application.id) to stdout and exits 0
// without a broker. stdout: one line once running: "running N queries from FILE
// (application.id=ID, P partitions)"; then, with --http, "http HOST:PORT".
// Everything else goes to stderr.
#include <chrono>
#include <iostream>
#include <memory>

#include "actors/application.hpp"
#include "actors/http_endpoint.hpp"
#include "cli/commands.hpp"
#include "cluster/insert_values.hpp"
#include "cluster/query_plan.hpp"
#include "cluster/source_loading.hpp"
#include "connectors/schema_registry_client.hpp"
#include "runtime/config.hpp"
#include "runtime/shutdown_signals.hpp"
#include "sql/app_file.hpp"

namespace rivulet::cli {

namespace {

struct RunOptions {
  std::string file;
  std::string bootstrap;
  std::string config;
  std::vector<std::string> sets;
  std::vector<std::string> defines;  // NAME=VALUE
  std::string http;
  bool explain = false;
};

int run_sql(const RunOptions& o) {
  // Before any thread starts: SIGINT/SIGTERM stop gracefully, a second one
  // exits at once (a slow final checkpoint does not keep an operator waiting).
  ShutdownSignals signals("rivulet run");

  auto variables = sql::parse_definitions(o.defines);
  if (!variables) {
    std::cerr << "rivulet run: " << variables.error().message << "\n";
    return 2;
  }
  {  // AVRO, PROTOBUF, JSON_SR with a schema registry: known before the file is planned
    auto config = Config::load(o.config, o.sets);
    auto registry =
        config ? connectors::configure_schema_registry(*config) : Expected<bool>(config.error());
    if (!registry) {
      std::cerr << "rivulet run: " << registry.error().message << "\n";
      return 2;
    }
  }
  auto app = sql::plan_file(o.file, *variables);
  if (!app) {
    std::cerr << "rivulet run: " << app.error().message << "\n";
    return 2;
  }
  for (const auto& k : app->ignored)
    std::cerr << "rivulet run: SET '" << k << "' is not a Rivulet configuration key; ignored\n";
  std::vector<std::string> sets;
  if (!o.bootstrap.empty()) sets.push_back("bootstrap.servers=" + o.bootstrap);
  sets.insert(sets.end(), o.sets.begin(), o.sets.end());
  auto config = sql::app_config(*app, o.config, sets);
  if (!config) {
    std::cerr << "rivulet run: " << config.error().message << "\n";
    return 2;
  }
  if (o.explain) {  // the plan only: no broker needed, nothing started
    std::cout << app->queries << (app->queries == 1 ? " query" : " queries") << " from " << o.file
              << "\n"
              << app->explain(config->get("application.id")) << std::flush;
    return 0;
  }
  if (config->get("bootstrap.servers").empty()) {
    std::cerr << "rivulet run: no bootstrap.servers: pass --bootstrap LIST, --set "
                 "bootstrap.servers=LIST, a --config file or RIVULET_BOOTSTRAP_SERVERS\n";
    return 2;
  }
  if (config->get("auto.offset.reset") == "latest")
    if (auto unread = sql::unread_at_latest(*app); !unread.empty())
      std::cerr << "rivulet run: warning: " << unread << "\n";
  // Sources declared with PARTITIONS: their topics are created when missing.
  if (auto declared = cluster::create_declared_topics(app->declared_topics, *config); !declared) {
    std::cerr << "rivulet run: " << declared.error().to_string() << "\n";
    return 1;
  }
  // File and memory sources: their topics are created and loaded first.
  auto loading = cluster::SourceLoading::start(*app, *config);
  if (!loading) {
    std::cerr << "rivulet run: " << loading.error().to_string() << "\n";
    return 1;
  }
  // INSERT INTO ... VALUES rows: written before the queries start.
  auto inserted = cluster::write_inserts(app->inserts, *config);
  if (!inserted) {
    std::cerr << "rivulet run: " << inserted.error().to_string() << "\n";
    if (*loading) (*loading)->stop();
    return 1;
  }
  Application running(app->topology, *config);
  auto started = running.start();
  if (!started) {
    std::cerr << "rivulet run: " << started.error().to_string() << "\n";
    return 1;
  }
  std::unique_ptr<HttpEndpoint> http;
  if (!o.http.empty()) {
    auto endpoint = HttpEndpoint::start(o.http, running);
    if (!endpoint) {
      std::cerr << "rivulet run: --http " << o.http << ": " << endpoint.error().to_string() << "\n";
      running.stop();
      return 1;
    }
    http = std::move(*endpoint);
  }
  std::cout << "running " << app->queries << (app->queries == 1 ? " query" : " queries")
            << " from " << o.file << " (application.id=" << running.application_id() << ", "
            << running.partitions() << " partitions)" << std::endl;
  if (http) std::cout << "http " << http->host() << ":" << http->port() << std::endl;

  int exit = 0;
  while (true) {
    if (signals.wait(std::chrono::milliseconds(200)) != 0) break;  // logs the signal
    if (auto failure = running.failure()) {
      std::cerr << "rivulet run: a task failed: " << *failure << "\n";
      exit = 1;
      break;
    }
    if (*loading) {
      if (auto failure = (*loading)->failure()) {
        std::cerr << "rivulet run: a file source failed: " << *failure << "\n";
        exit = 1;
        break;
      }
    }
  }
  if (*loading) (*loading)->stop();
  http.reset();
  if (!running.stop()) exit = 1;
  auto stats = running.stats();
  std::cerr << "rivulet run: stopped; records in " << stats.records_in << ", out "
            << stats.records_out << ", data errors " << stats.data_errors;
  if (*loading)
    std::cerr << "; file sources: records written " << (*loading)->records_written()
              << ", bad lines " << (*loading)->bad_lines();
  std::cerr << "\n";
  return exit;
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "Run the persistent queries of a SQL file until SIGINT/SIGTERM");
  auto o = std::make_shared<RunOptions>();
  cmd->add_option("file", o->file, "The SQL file (CREATE STREAM/TABLE, ... AS SELECT, INSERT INTO)")
      ->required();
  cmd->add_option("--bootstrap", o->bootstrap, "Kafka bootstrap list (sets bootstrap.servers)");
  cmd->add_option("--config", o->config, "A properties file (see `rivulet config`)");
  cmd->add_option("--set", o->sets, "Override a configuration key: --set key=value");
  cmd->add_option("--http", o->http, "Serve /metrics, /health and /tasks on HOST:PORT");
  cmd->add_option("--define", o->defines,
                  "Define a variable before the file's first statement: --define NAME=VALUE, as "
                  "DEFINE NAME = 'VALUE'; (referenced as ${NAME})");
  cmd->add_flag("--explain", o->explain,
                "Print the queries' plan (sources and the columns decoded, sink, repartition and "
                "co-partitioned topics, topology) and exit without running them");
  cmd->callback([o] { exit_code = run_sql(*o); });
}

}  // namespace rivulet::cli
