#pragma once
// A SQL application file planned for running: the step `rivulet run` and
// `rivulet node` share. The file's statements are executed in order by a
// SqlEngine (sql/planner.hpp); its persistent queries (CREATE ... AS SELECT,
// INSERT INTO ... SELECT) form one Topology, run by rivulet::Application.
//
//   auto app = rivulet::sql::plan_file("shop.sql");
//   if (!app) { std::cerr << app.error().message; ... }   // "shop.sql: line 3:14: ..."
//   auto config = rivulet::sql::app_config(*app, "node.properties", {"state.dir=/tmp/x"});
//   rivulet::Application running(app->topology, *config);
//
// Configuration, lowest precedence first: defaults, the properties file,
// the environment (RIVULET_*), the file's `SET 'key' = 'value'` statements
// for Rivulet's keys (`rivulet config`; 'ksql.streams.auto.offset.reset'
// too) and kafka.consumer.* / kafka.producer.* keys, then --set overrides.
// Other SET keys (ksqlDB's own) are accepted and listed in `ignored`.
//
// Pure functions; any thread.
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "operators/topology.hpp"
#include "runtime/config.hpp"
#include "runtime/error.hpp"
#include "sql/catalog.hpp"
#include "sql/insert_values.hpp"
#include "sql/variables.hpp"

namespace rivulet::sql {

struct PlannedApp {
  std::string source;  // the file's path ("" for a script)
  Topology topology;
  int queries = 0;
  std::vector<std::pair<std::string, std::string>> properties;  // SET statements
  std::vector<std::string> ignored;  // SET keys that are not configuration keys
  std::vector<std::string>
      sinks;  // topics written (repartition topics unscoped: Topology::scoped_to)
  // SqlEngine::explain() of its queries, run as application `application_id`.
  std::function<std::string(const std::string& application_id)> explain;
  // The file and memory sources the queries read (WITH (SOURCE='file://...'));
  // a loader writes them into their topics (cluster/source_loading.hpp).
  std::vector<SourceInfo> external_sources;
  // The Kafka sources the queries read that were declared with
  // WITH (PARTITIONS=n): their topics are created when missing, as ksqlDB's
  // CREATE STREAM/TABLE does (cluster/query_plan.hpp, create_declared_topics).
  std::vector<SourceInfo> declared_topics;
  // INSERT INTO ... VALUES rows, in order: written before the queries start
  // (cluster/insert_values.hpp).
  std::vector<InsertedRecord> inserts;
};

// Plans a script. Errors are the statement's ("line L:C: ..."); a script
// without a persistent query is an error too.
// `variables`: bound before the first statement (`--define`), as DEFINE.
Expected<PlannedApp> plan_script(std::string_view sql, const Variables& variables = {});
// The file and memory sources of `catalog` whose topics `topology` reads
// (PlannedApp::external_sources; the `rivulet sql` shell per query).
std::vector<SourceInfo> external_sources(const Catalog& catalog, const Topology& topology);
// The Kafka sources of `catalog` declared with `partitions` (CREATE
// STREAM/TABLE, not a query's result) whose topics `topology` reads and
// does not write (PlannedApp::declared_topics).
std::vector<SourceInfo> declared_topics(const Catalog& catalog, const Topology& topology);

// Reads and plans a file; errors start with the path ("app.sql: line 2:7: ...").
Expected<PlannedApp> plan_file(const std::string& path, const Variables& variables = {});

// With 'auto.offset.reset' = 'latest': what `app` writes before its
// queries start and its streams therefore do not read (its INSERT INTO ...
// VALUES rows, the first load of its file sources), as a warning's words;
// "" when it writes nothing.
std::string unread_at_latest(const PlannedApp& app);

// Applies one of a file's SET statements to `config`: Rivulet's keys and
// kafka.consumer.* / kafka.producer.* keys as they are, ksqlDB's
// 'auto.offset.reset' spellings (is_offset_reset_key) to Rivulet's key.
// False, and nothing set, for another key; an error for a bad value.
Expected<bool> apply_set(Config& config, const std::string& key, const std::string& value);

// The configuration to run `app` with (see the header comment).
Expected<Config> app_config(const PlannedApp& app, const std::string& properties_file,
                            const std::vector<std::string>& set_overrides);

}  // namespace rivulet::sql
