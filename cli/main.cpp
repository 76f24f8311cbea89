// Entry point of the `rivulet` command-line tool.
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/udf_libraries.hpp"

namespace rivulet::cli {
int exit_code = 0;
}

int main(int argc, char** argv) {
  CLI::App app{"Rivulet: an actor-based distributed stream processor for Kafka"};
  app.require_subcommand(1);
  rivulet::cli::add_udf_library_option(app);  // before the commands: they inherit fallthrough
  rivulet::cli::add_broker_command(app);
  rivulet::cli::add_schema_registry_command(app);
  rivulet::cli::add_demo_command(app);
  rivulet::cli::add_config_command(app);
  rivulet::cli::add_verify_command(app);
  rivulet::cli::add_qtt_command(app);
  rivulet::cli::add_run_command(app);
  rivulet::cli::add_chaos_command(app);
  rivulet::cli::add_cluster_commands(app);
  rivulet::cli::add_query_command(app);
  rivulet::cli::add_sql_command(app);
  CLI11_PARSE(app, argc, argv);
  return rivulet::cli::exit_code;
}
