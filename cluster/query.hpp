#pragma once
// `rivulet query --coordinator HOST:PORT TABLE KEY [--json]`: the current
// value of KEY in TABLE, from whichever node owns it.
//
// Steps (all on the client but the lookup itself):
//  1. the coordinator's submitted queries (their SQL) are planned here to
//     find TABLE: a CREATE TABLE source that a query materializes (a join's
//     table) or a CREATE TABLE AS SELECT result (planner.hpp:
//     queryable_store_name);
//  2. KEY (text) becomes a value of the table's key column type (SQL CAST
//     rules), and its partition is computed as the producer of the task's
//     input computes it: the Java client's murmur2 over the key's bytes in
//     that input's key format (the table's topic for a source table; the
//     repartition topic for a GROUP BY);
//  3. the coordinator forwards (query, partition, store, key) to the task's
//     owner, whose task actor looks the key up between two runs of records.
#include <functional>
#include <string>
#include <vector>

#include "cluster/protocol.hpp"
#include "operators/serdes.hpp"
#include "partitioning/copartition.hpp"
#include "runtime/config.hpp"
#include "runtime/data_type.hpp"
#include "runtime/error.hpp"
#include "runtime/value.hpp"
#include "sql/planner.hpp"

namespace rivulet::cluster {

// A table found in the submitted queries, ready to be asked.
struct TableTarget {
  std::string table;  // its SQL name
  std::string query;  // the submitted query holding it
  std::string store;  // the KTable of its tasks
  int32_t partitions = 0;
  std::vector<Column> key_columns;
  std::vector<Column> value_columns;
  bool struct_key = false;       // the stored key is a struct of the key column (DELIMITED)
  std::string origin_topic;      // the input whose partitioning places the key
  CodecFactory origin_key;       // that input's key format
  bool origin_repartition = false;  // a GROUP BY's repartition topic (bare group key)
  // Its rows are keyed by windowed keys (operators/window.hpp): a key has a
  // row per window, found by a scan of the key's task, not a lookup.
  bool windowed = false;
};

// A table of one query's engine: queryable (materialized by its topology)
// or not, and why not. A table of several key columns is asked by scans
// only (locate_key places one key column).
struct TableCandidate {
  TableTarget target;
  bool queryable = false;
  std::string why_not;
};
// Every table in `engine`'s catalog as a target of `query` (planned by
// `engine`, run with the partition counts of `plan`: a key's task is its
// partition of the table's origin topic). The SQL shell asks its own
// running queries this way.
std::vector<TableCandidate> table_candidates(const sql::SqlEngine& engine, const std::string& query,
                                             const PartitionPlan& plan);

// Why a table cannot be asked: unknown (exit 2) or known but not queryable.
struct TableLookupError {
  std::string message;
  std::vector<std::string> queryable;  // "TABLE (query)" of every table that can be asked
};

// Finds `table` (exact name, then upper-cased as SQL does) in `queries`.
// On failure, the error's message and the list of queryable tables.
bool resolve_table(const std::vector<QueryDef>& queries, const std::string& table,
                   TableTarget& target, TableLookupError& error);

// KEY's value (as stored), its msgpack bytes and its task (partition).
struct KeyTarget {
  Value key;
  std::string key_bytes;
  int32_t partition = 0;
};
Expected<KeyTarget> locate_key(const TableTarget& target, const std::string& key_text);
// The same for a key of one text per key column, in the table's order (a
// table of several key columns: a struct of them).
Expected<KeyTarget> locate_key(const TableTarget& target, const std::vector<std::string>& key_texts);

struct QueryAnswer {
  std::string node;       // who answered (the task's owner)
  int32_t status = kLookupError;
  Value value;            // Found: the row's value columns (a struct); a scan's
                          // array of [key, value] arrays
  std::string error;      // Error: why
};

// The found row: the key column, then the value columns in the table's order.
std::vector<std::pair<std::string, Value>> answer_row(const TableTarget& target,
                                                      const KeyTarget& key,
                                                      const QueryAnswer& answer);

// The coordinator's queries (their SQL and task counts).
Expected<std::vector<QueryDef>> fetch_queries(const std::string& coordinator, const Config& config);
// Asks the owner of the key's task through the coordinator. A KeyTarget
// with empty key_bytes asks for every row of its partition's task (a scan).
Expected<QueryAnswer> lookup_key(const std::string& coordinator, const Config& config,
                                 const TableTarget& target, const KeyTarget& key);
// Asks for each of `keys` in turn over one connection to the coordinator (a
// scan of every task pays the client's set-up once, not once per task), and
// hands each answer to `on_answer(index, answer)`; it returns false to stop
// asking (a LIMIT that is reached). One answer at a time is held: a scan's
// memory is one task's answer, not the table's.
Expected<bool> lookup_keys(const std::string& coordinator, const Config& config,
                           const TableTarget& target, const std::vector<KeyTarget>& keys,
                           const std::function<bool(size_t, QueryAnswer&)>& on_answer);

// The answer as one JSON object / as a row table for people:
//   {"table": "COUNTS", "key": "u1", "found": true, "row": {"UID": "u1", "N": 5},
//    "query": "shop", "task": "shop-3", "partition": 3, "node": "n2"}
std::string render_answer_json(const TableTarget& target, const KeyTarget& key,
                               const QueryAnswer& answer);
std::string render_answer_table(const TableTarget& target, const KeyTarget& key,
                                const QueryAnswer& answer);

}  // namespace rivulet::cluster
