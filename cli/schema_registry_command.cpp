// `rivulet schema-registry [--listen HOST:PORT] [--user-info USER:PASSWORD]`:
// a schema registry on this machine (connectors/local_schema_registry.hpp:
// Confluent's REST API, schemas in memory, no compatibility checks), to
// try VALUE_FORMAT='AVRO' (PROTOBUF, JSON_SR) with the embedded broker, until SIGINT or
// SIGTERM (exit 0). The first line of stdout is its URL, for
// schema.registry.url.
#include <iostream>

#include "cli/commands.hpp"
#include "connectors/local_schema_registry.hpp"
#include "runtime/host_port.hpp"
#include "runtime/shutdown_signals.hpp"

namespace rivulet::cli {

namespace {

int run_schema_registry(const std::string& listen, const std::string& user_info) {
  ShutdownSignals signals("rivulet schema-registry");  // before any thread starts
  auto where = parse_host_port(listen);
  if (!where) {
    std::cerr << "rivulet schema-registry: --listen: " << where.error().message << "\n";
    return 2;
  }
  auto registry = connectors::LocalSchemaRegistry::start(where->host, where->port, user_info);
  if (!registry) {
    std::cerr << "rivulet schema-registry: " << registry.error().message << "\n";
    return 1;
  }
  std::cout << (*registry)->url() << std::endl;
  signals.wait();
  registry->reset();
  std::cerr << "rivulet schema-registry: stopped\n";
  return 0;
}

}  // namespace

void add_schema_registry_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "schema-registry",
      "Run a schema registry (Confluent's REST API, in memory) for trying AVRO, PROTOBUF and "
      "JSON_SR locally; prints its URL first");
  struct Options {
    std::string listen = "127.0.0.1:0";
    std::string user_info;
  };
  auto opts = std::make_shared<Options>();
  cmd->add_option("--listen", opts->listen, "HOST:PORT to listen on (port 0: a free one)")
      ->capture_default_str();
  cmd->add_option("--user-info", opts->user_info,
                  "USER:PASSWORD: require HTTP basic authentication");
  cmd->callback([opts] { exit_code = run_schema_registry(opts->listen, opts->user_info); });
}

}  // namespace rivulet::cli
