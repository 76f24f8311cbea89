#pragma once
// The planner: turns statements into operator chains of a rivulet::Topology
// through its low-level add_* API, the same nodes the C++ API builds.
//
// A SqlEngine owns a catalog and one Topology that grows as persistent
// queries are added (CREATE STREAM/TABLE ... AS SELECT, INSERT INTO ...
// SELECT). Every topic is read by one source node, shared by all queries
// reading it.
//
// How a query runs (records between the nodes):
//  1. the source decodes key and value with the source's formats
//     (serdes_for); a "row" node turns each record's value into the
//     analyser's input row (an ARRAY value: the source's columns in schema
//     order, key columns taken from the key), applying TIMESTAMP columns;
//  2. a stream-table join looks the table up by the stream's key (the stream
//     is re-keyed and repartitioned first when the ON expression is not its
//     key) and appends the table's columns to the row;
//  3. WHERE filters rows; compiled expressions read Row slots;
//  4. without aggregation, the projection writes the output key (the key
//     columns, or the PARTITION BY expression) and value (a struct of the
//     value columns); with GROUP BY, the row is re-keyed by the grouping
//     expression, repartitioned, aggregated (COUNT, SUM, MIN, MAX, AVG), and
//     the projection and HAVING read the group key and the aggregates;
//  5. the sink encodes with the new source's formats.
// Anything else is rejected with "line L:C: not supported yet: <construct>".
//
// Formats: JSON, DELIMITED, KAFKA and PROTOBUF_NOSR use their codecs.
// AVRO, PROTOBUF and JSON_SR use the schema registry's wire format when
// the process has a registry (schema_registry()); without one, with
// declared columns, they are run as JSON (logical values).
//
// Ownership: one SqlEngine per session, used from one thread. The Topology
// it builds may be instantiated from any thread once built.
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "operators/serdes.hpp"
#include "operators/stateless_nodes.hpp"
#include "operators/topology.hpp"
#include "runtime/error.hpp"
#include "sql/ast.hpp"
#include "sql/catalog.hpp"
#include "sql/column_use.hpp"
#include "sql/insert_values.hpp"
#include "sql/parser.hpp"
#include "sql/statement_splitter.hpp"
#include "sql/variables.hpp"

namespace rivulet::sql {

// The codecs of a source's key and value (see the header comment).
Expected<Serdes> serdes_for(const SourceInfo& source);

// The KTable in which a CREATE TABLE AS SELECT keeps its current rows for
// interactive queries (`rivulet query`): every task holds the rows of the
// keys it produces, keyed and valued as written to the table's topic (before
// encoding). Not for windowed tables.
std::string queryable_store_name(const std::string& table);

// Why a query whose topics loop (Topology::topic_cycle) is refused, the
// loop named: "Cannot run this query: ...: A -> s -> A".
std::string topic_loop_error(const std::vector<std::string>& loop);

// SET keys the planner itself reads (not configuration keys, not ignored):
// ksql.functions.collect_list.limit, ksql.functions.collect_set.limit.
bool is_planner_property(std::string_view key);
// 'auto.offset.reset' or 'ksql.streams.auto.offset.reset' (any case): the
// SET of ksqlDB's tutorials, which sets Rivulet's `auto.offset.reset`
// (sql::app_config; its value trimmed and in lower case).
bool is_offset_reset_key(std::string_view key);
// Why `value` is not a valid value of the planner property `key`, or of an
// offset reset key (ksqlDB's wording), or nothing; other keys are not
// checked here.
std::optional<std::string> invalid_planner_property(std::string_view key, const std::string& value);

// The id of the query that materializes a CREATE SOURCE TABLE: the
// engine's `n`th query (ksqlDB's CST_ prefix).
std::string source_table_query_id(const std::string& table, int n);

class SqlEngine {
 public:
  SqlEngine();

  // Executes every statement of `sql` in order, each parsed after the
  // variables the DEFINEs before it bind were substituted into it
  // (parse_chunk); stops at the first error.
  Expected<bool> execute_script(std::string_view sql);
  // One statement of a script or of the shell's input (the splitter's
  // chunk), parsed at the input's line:column after the variables defined
  // so far were substituted into it (sql/variables.hpp), unless SET
  // 'ksql.variable.substitution.enable' = 'false'.
  Expected<std::vector<Statement>> parse_chunk(const StatementSplitter::Chunk& chunk) const;
  // DEFINE'd variables (upper-cased names) and their values.
  const Variables& variables() const { return variables_; }
  // DEFINE name = 'value' (name already checked: valid_variable_name).
  void define(const std::string& name, const std::string& value);
  // The custom types registered so far (CREATE TYPE), which every parse
  // through this engine resolves.
  const TypeRegistry& types() const { return types_; }
  // Executes one statement: catalog changes, persistent queries. Returns a
  // one-line message ("Stream created and running").
  Expected<std::string> execute(const Statement& s);

  // A new engine with a copy of this one's catalog, SETs, variables and query count
  // and an empty topology: the SQL shell plans each persistent query into a
  // Topology of its own (one Application per query).
  SqlEngine fork() const;
  // A push query (SELECT ... EMIT CHANGES [LIMIT n]): planned into this
  // engine's topology like CREATE STREAM|TABLE AS SELECT, but every result
  // record (key: the key columns as the sink would get them; value: a
  // struct of the value columns, null for a table's deletion) goes to
  // `deliver`, called on the task threads, instead of a topic. Returns the
  // result's schema and type. The catalog is not changed.
  Expected<SourceInfo> plan_push(const Query& q, PeekFn deliver);

  const Catalog& catalog() const { return catalog_; }
  const Topology& topology() const { return topology_; }
  // What the queries planned so far read and write, and how (EXPLAIN,
  // `rivulet run --explain`): each source with its topic, formats and the
  // value columns its codec builds; the sink, repartition and
  // co-partitioned topics; one line per topology node. Multi-line text.
  // Repartition topics are named as the application `application_id` names
  // them (Topology::scoped_to); "" gives the unscoped names.
  std::string explain(const std::string& application_id = "") const;
  int query_count() const { return queries_; }
  // The streams and tables the queries planned so far read (by name).
  std::vector<std::string> sources_read() const;
  // SET 'key' = 'value' statements executed so far (UNSET removes), in
  // order of first setting.
  const std::vector<std::pair<std::string, std::string>>& properties() const { return properties_; }
  // INSERT INTO ... VALUES statements executed so far, checked and encoded
  // (sql/insert_values.hpp): `rivulet run` writes them before its queries start.
  const std::vector<InsertedRecord>& inserts() const { return inserts_; }
  // The id of the last persistent query planned (CSAS_<name>_<n>,
  // INSERTQUERY_<n>, CST_<name>_<n>, or its WITH (QUERY_ID='...')).
  const std::string& last_query_id() const { return last_query_id_; }
  // The shell terminated query `id`: a later WITH (QUERY_ID=...) may take it.
  void forget_query_id(const std::string& id) { query_ids_.erase(id); }

 private:
  Expected<std::string> create_as(const CreateAsSelect& c, const std::string& text);
  // The query's id: WITH (QUERY_ID='...') upper-cased when given (ksqlDB's:
  // letters, digits and '_', unique among the engine's queries), else
  // `generated`.
  Expected<std::string> query_id(const Properties& props, std::string generated) const;
  Expected<std::string> insert_into(const InsertInto& i);
  // What planning a query may change in the engine, saved before and put
  // back when the query is refused half-way: a refused statement leaves no
  // node behind (one that read its own sink's topic made the topology
  // loop on its own output).
  struct PlanningState;
  PlanningState save_planning() const;
  void restore_planning(const PlanningState& saved);
  void set_property(const std::string& name, const std::string& value);
  void unset_property(const std::string& name);
  // The node whose records are the source's: its topic's node, then, for
  // a source with header columns, one that sets them from the records'
  // headers (sql/header_columns.hpp).
  Expected<Topology::NodeId> source_node(const SourceInfo& s, bool as_table = false,
                                         const ColumnNames* reads = nullptr);
  // The topic's source node (one per topic). `reads`: the columns the
  // query reading it as a stream mentions; a JSON stream source decodes
  // only the value columns some query reads (sql/column_use.hpp).
  Expected<Topology::NodeId> topic_node(const SourceInfo& s, bool as_table,
                                        const ColumnNames* reads);
  // The table as a KTable of the task (once per engine): its store's name
  // and the node emitting its changelog once the KTable is updated.
  Expected<std::pair<std::string, Topology::NodeId>> table_node(const SourceInfo& table);

  Catalog catalog_;
  Topology topology_;
  struct SourceEntry {
    std::string topic;
    Topology::NodeId node = 0;
    std::string source;  // the stream or table it was made for
    // Its JSON codec's decoded value columns, widened by each query until
    // the topology is built; null when it decodes them all.
    std::shared_ptr<std::vector<bool>> decoded;
    // That codec's value columns (null for other formats): the first
    // declaration's, then those of other declarations of the topic.
    std::shared_ptr<Schema> schema;
  };
  std::vector<SourceEntry> sources_;
  // Materialized KTables: store name -> the node emitting its changelog.
  std::vector<std::pair<std::string, Topology::NodeId>> tables_;
  std::vector<std::pair<std::string, std::string>> properties_;
  Variables variables_;
  TypeRegistry types_;
  std::vector<InsertedRecord> inserts_;
  std::set<std::string> query_ids_;  // of the queries planned so far
  std::string last_query_id_;
  // EXPLAIN's "Subqueries": per subquery of a planned query, how it is
  // evaluated ("<query id>  line L:C  WHERE  T: key lookup ...").
  std::vector<std::string> subquery_notes_;
  int queries_ = 0;

  friend class QueryPlanner;
};

}  // namespace rivulet::sql
