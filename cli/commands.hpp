#pragma once
// The `rivulet` command-line tool: one file per subcommand, each registering
// itself on the CLI11 app. A subcommand's callback stores its exit status in
// `exit_code`.
#include <CLI/CLI.hpp>

namespace rivulet::cli {

extern int exit_code;

void add_broker_command(CLI::App& app);  // broker_command.cpp: the embedded Kafka broker
// schema_registry_command.cpp: a schema registry in memory (AVRO locally)
void add_schema_registry_command(CLI::App& app);
void add_demo_command(CLI::App& app);    // demo_command.cpp: orders LEFT JOIN users demo
void add_config_command(CLI::App& app);  // config_command.cpp: configuration keys and checks
void add_verify_command(CLI::App& app);  // verify_command.cpp: lost and duplicated records
void add_qtt_command(CLI::App& app);     // qtt_command.cpp: ksqlDB query-validation tests
void add_run_command(CLI::App& app);     // run_command.cpp: run a SQL file's queries
void add_chaos_command(CLI::App& app);   // chaos_command.cpp: fault injection
void add_cluster_commands(CLI::App& app);  // cluster_command.cpp: coordinator, node, submit, status
void add_query_command(CLI::App& app);     // query_command.cpp: a key's value from the cluster
void add_sql_command(CLI::App& app);       // sql_command.cpp: the interactive SQL shell

// status_command.cpp: `rivulet status` once or, with watch, until SIGINT/SIGTERM;
// returns the exit status.
struct StatusOptions {
  std::string coordinator;
  bool json = false;
  bool watch = false;
  double interval_s = 2.0;
};
int run_status(const StatusOptions& options);

}  // namespace rivulet::cli
