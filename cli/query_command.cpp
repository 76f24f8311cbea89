// rivulet query --coordinator HOST:PORT TABLE KEY [--json] [--config FILE]
// The current value of KEY in TABLE, from whichever node owns it
// (cluster/query.hpp). Exit status: 0 found, 1 not found or the cluster could
// not answer, 2 unknown (or not queryable) table and usage errors.
#include <unistd.h>

#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "cluster/query.hpp"
#include "connectors/schema_registry_client.hpp"
#include "runtime/config.hpp"

namespace rivulet::cli {

namespace {

struct QueryArgs {
  std::string coordinator, table, key, config;
  bool json = false;
};

int run_query(const QueryArgs& a) {
  auto config = Config::load(a.config, {});
  if (!config) {
    std::cerr << "rivulet query: " << config.error().message << "\n";
    return 2;
  }
  // The submitted files are planned here too: a CREATE in AVRO (PROTOBUF, JSON_SR) without
  // columns reads them from the schema registry.
  if (auto registry = connectors::configure_schema_registry(*config); !registry) {
    std::cerr << "rivulet query: " << registry.error().message << "\n";
    return 2;
  }
  auto queries = cluster::fetch_queries(a.coordinator, *config);
  if (!queries) {
    std::cerr << "rivulet query: " << queries.error().message << "\n";
    return 1;
  }
  cluster::TableTarget target;
  cluster::TableLookupError why;
  if (!cluster::resolve_table(*queries, a.table, target, why)) {
    std::cerr << "rivulet query: " << why.message << "\n";
    std::cerr << "queryable tables:";
    if (why.queryable.empty()) std::cerr << " none";
    for (const auto& t : why.queryable) std::cerr << "\n  " << t;
    std::cerr << "\n";
    return 2;
  }
  if (target.key_columns.size() > 1) {
    std::cerr << "rivulet query: table " << target.table << " has "
              << target.key_columns.size() << " key columns: ask with `rivulet sql --coordinator "
              << a.coordinator << "`, e.g. SELECT * FROM " << target.table << " WHERE ";
    for (size_t i = 0; i < target.key_columns.size(); ++i)
      std::cerr << (i ? " AND " : "") << target.key_columns[i].name << " = ...";
    std::cerr << ";\n";
    return 2;
  }
  if (target.windowed) {
    std::cerr << "rivulet query: table " << target.table
              << " is windowed (a row per key and window): ask with `rivulet sql --coordinator "
              << a.coordinator << "`, e.g. SELECT * FROM " << target.table << " WHERE "
              << target.key_columns.front().name << " = '" << a.key << "';\n";
    return 2;
  }
  auto key = cluster::locate_key(target, a.key);
  if (!key) {
    std::cerr << "rivulet query: " << key.error().message << "\n";
    return 2;
  }
  auto answer = cluster::lookup_key(a.coordinator, *config, target, *key);
  if (!answer) {
    std::cerr << "rivulet query: " << answer.error().message << "\n";
    return 1;
  }
  if (a.json) {
    std::cout << cluster::render_answer_json(target, *key, *answer) << std::endl;
  }
  if (answer->status == cluster::kLookupError) {
    std::cerr << "rivulet query: " << target.table << " at key '" << a.key << "' (task "
              << target.query << "-" << key->partition << "): " << answer->error << "\n";
    return 1;
  }
  if (answer->status == cluster::kLookupAbsent) {
    if (!a.json) {
      std::cerr << "rivulet query: key '" << a.key << "' not found in " << target.table
                << " (task " << target.query << "-" << key->partition << " on node "
                << answer->node << ")\n";
    }
    return 1;
  }
  if (!a.json) std::cout << cluster::render_answer_table(target, *key, *answer) << std::flush;
  return 0;
}

}  // namespace

void add_query_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "query", "The current value of KEY in TABLE, from the cluster node that owns it");
  auto args = std::make_shared<QueryArgs>();
  cmd->add_option("--coordinator", args->coordinator, "HOST:PORT of the coordinator")->required();
  cmd->add_option("table", args->table, "A table of a submitted query (CREATE TABLE source read "
                                        "by a query, or CREATE TABLE AS SELECT)")
      ->required();
  cmd->add_option("key", args->key, "The key (text, converted to the key column's type)")
      ->required();
  cmd->add_flag("--json", args->json, "One JSON object instead of a table");
  cmd->add_option("--config", args->config, "Properties file (cluster.tls.*, schema.registry.url)");
  cmd->footer(
      "Exit status: 0 found, 1 not found (or the cluster could not answer), 2 unknown table\n"
      "(the queryable tables are listed) or usage error.");
  cmd->callback([args] { exit_code = run_query(*args); });
}

}  // namespace rivulet::cli
