#pragma once
// The analyzer: checks a query against the catalog before anything is
// planned, and records what it resolved, so the planner starts from facts:
//  - its sources (FROM and JOINs) exist; their columns, qualified by alias,
//    form the input Scope (Row slots source by source, as a join row lays
//    them out, plus the pseudo columns);
//  - joins are ones ksqlDB runs: stream-stream (with WITHIN), stream-table,
//    table-table; never table-stream; each ON is an equality between the
//    new source and one joined before; a table on the right is joined on its
//    primary key;
//  - every expression type-checks (WHERE and HAVING are BOOLEAN; no
//    aggregates in WHERE, GROUP BY, PARTITION BY or ON);
//  - aggregations are well-formed: non-aggregate SELECT and HAVING
//    expressions are GROUP BY expressions (or built only from them), no
//    GROUP BY without aggregates, no aggregates without GROUP BY;
//  - the projection: SELECT * expanded, output names derived as ksqlDB does
//    (alias, column name, field name of ->, else KSQL_COL_n), types inferred.
// Errors carry line:column and ksqlDB's wording.
//
// Pure functions over an immutable catalog; any thread.
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "runtime/data_type.hpp"
#include "runtime/error.hpp"
#include "sql/ast.hpp"
#include "sql/catalog.hpp"
#include "sql/expression.hpp"
#include "sql/functions.hpp"

namespace rivulet::sql {

struct AnalyzedSource {
  const SourceInfo* info = nullptr;  // borrowed from the catalog
  std::string qualifier;             // alias, else the source name
  SourceLocation loc;
  size_t first_column = 0;  // Row slot of its first column in the input scope
};

struct AnalyzedJoin {
  enum class Kind : uint8_t { StreamStream, StreamTable, TableTable };
  Kind kind = Kind::StreamStream;
  JoinType type = JoinType::Inner;
  size_t right = 0;  // index into QueryAnalysis::sources
  // The ON equality split by side: left_key refers to sources joined before
  // `right`, right_key to sources[right] only.
  ExprPtr left_key;
  ExprPtr right_key;
  std::optional<JoinWindow> within;
  bool right_key_is_primary_key = false;  // right_key is the right table's key column
  // A table-table step whose left_key is not the key column of a table
  // joined on the first table's key: a foreign-key step (sql/plan_fk_join.hpp).
  bool foreign_key = false;
};

struct OutputColumn {
  std::string name;
  DataTypePtr type;
  ExprPtr expr;
  SourceLocation loc;  // of the SELECT item it comes from
  // A first approximation of the output key: a GROUP BY or PARTITION BY
  // expression, else a plain reference to a key column of a single source.
  bool is_key = false;
  // A PARTITION BY expression `*` does not list, added as a key column
  // (ksqlDB: `SELECT * ... PARTITION BY ID, ROWTIME` is keyed by both).
  bool implicit_key = false;
};

struct QueryAnalysis {
  std::vector<AnalyzedSource> sources;  // FROM, then each JOIN in order
  std::vector<AnalyzedJoin> joins;
  Scope scope;  // the input row: every source's columns + pseudo columns
  std::vector<OutputColumn> projection;
  bool aggregate = false;                // GROUP BY or aggregate calls
  std::vector<ExprPtr> aggregate_calls;  // distinct calls in SELECT and HAVING
  // Distinct table function calls (EXPLODE, ...) in SELECT: each input row
  // becomes as many rows as the longest of their results.
  std::vector<ExprPtr> table_function_calls;
  bool windowed = false;                 // a WINDOW clause or a windowed source
  std::optional<WindowSpec> window;      // the query's WINDOW clause
  SourceType result_type = SourceType::Stream;
};

// The output names a projection gives explicitly (aliases) or by the
// column or struct field an item reads: ksqlDB's generated names
// (KSQL_COL_<n>) skip them.
std::set<std::string> explicit_output_names(const std::vector<SelectItem>& select);

// Table-table joins: per source, whether its key is the result's key (the
// first table's): the first table and each one joined by a primary-key step.
// A table joined by a foreign key keeps its own key.
std::vector<bool> chain_keyed_sources(const QueryAnalysis& a);

Expected<QueryAnalysis> analyze_query(
    const Query& q, const Catalog& catalog,
    const FunctionRegistry& functions = FunctionRegistry::global());

// CREATE STREAM/TABLE ... AS SELECT: checks the result type matches the
// statement and describes the new source (schema from the projection;
// topic, formats and partitions from WITH or the first source).
// `push`: the result of a push query, whose rows go to the client: it may
// name the pseudo columns (ROWTIME, WINDOWSTART, ...) without an alias.
Expected<SourceInfo> describe_create_as(const CreateAsSelect& c, const QueryAnalysis& analysis,
                                        const std::string& statement, bool push = false);

// INSERT INTO: the target exists, is a stream, and the query's schema
// matches its columns.
Expected<const SourceInfo*> check_insert_into(const InsertInto& i, const QueryAnalysis& analysis,
                                              const Catalog& catalog);

}  // namespace rivulet::sql
