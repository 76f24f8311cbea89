#pragma once
// The catalog: the streams and tables a session knows, with their schema,
// key columns, topic, formats and partition count. CREATE and DROP
// statements update it; the analyzer and planner read it.
//
// Names are exact (unquoted identifiers were upper-cased by the lexer);
// lookups that miss suggest a name differing only in case, as ksqlDB does.
//
// Ownership: one Catalog per engine/session, used from one thread (the
// statement executor); copy it to hand a snapshot elsewhere.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "operators/table_storage.hpp"
#include "runtime/data_type.hpp"
#include "runtime/error.hpp"
#include "runtime/schema_registry.hpp"
#include "sql/ast.hpp"

namespace rivulet::sql {

// Where a source's records come from (WITH (SOURCE='...'), sql/plan_source.hpp):
// a Kafka topic (the default), a file loaded into the topic, or rows given
// through the API (memory). All of them are read through `topic`.
enum class SourceKind { Kafka, File, Memory };

struct SourceInfo {
  std::string name;
  SourceType type = SourceType::Stream;
  Schema schema;  // in declaration order; key columns flagged
  std::string topic;
  SourceKind source_kind = SourceKind::Kafka;
  std::string source_path;  // File: the absolute path; Memory: the name
  std::string key_format = "KAFKA";
  std::string value_format;
  int partitions = 0;  // 0: not given (the topic's own count)
  std::optional<std::string> timestamp_column;
  std::optional<std::string> timestamp_format;
  // Windowed sources (their key carries the window): from WINDOW_TYPE and
  // WINDOW_SIZE, or from a windowed aggregation.
  std::optional<WindowType> window;
  std::optional<int64_t> window_size_ms;
  // Tables only: HISTORY_RETENTION keeps this much history so that
  // stream-table joins against the table are temporal (the value valid at
  // each stream record's timestamp).
  std::optional<int64_t> history_retention_ms;
  // Tables only: TABLE_STORAGE, how each task keeps the table's rows
  // (operators/table_storage.hpp). 'DECODED' keeps them as values (the
  // fastest lookups, 5-8 times the raw bytes), 'ENCODED' as msgpack bytes
  // (about 1.2-1.9 times, decoded at each lookup), 'AUTO' (the default)
  // decoded until a task's table holds 10,000 rows, then encoded.
  TableStorage storage = TableStorage::Auto;
  // HEADERS and HEADER('key') columns: value columns of `schema` whose
  // values come from each record's Kafka headers, not from its value
  // (sql/header_columns.hpp). The column's name, then its header key, or
  // nullopt for the HEADERS column (every header, in order).
  std::vector<std::pair<std::string, std::optional<std::string>>> header_columns;
  bool read_only = false;  // CREATE SOURCE ...
  Properties properties;   // every WITH property as written
  std::string statement;   // the statement that created it
  std::string query_id;    // the persistent query writing it ("" for none)

  bool is_stream() const { return type == SourceType::Stream; }
  bool is_table() const { return type == SourceType::Table; }
};

class Catalog {
 public:
  // nullptr when absent.
  const SourceInfo* find(std::string_view name) const;
  // The source or "Source `X` does not exist." at `loc` (with a hint when
  // a name differing only in case exists).
  Expected<const SourceInfo*> resolve(std::string_view name, SourceLocation loc) const;

  // Adds a source. With `or_replace` an existing one of the same type is
  // replaced; with `if_not_exists` an existing one is kept (returns false).
  // Otherwise an existing name is an error.
  Expected<bool> add(SourceInfo info, bool or_replace = false, bool if_not_exists = false,
                     SourceLocation loc = {});
  // Removes a source. A missing one is an error unless `if_exists`; a source
  // of the other type is an error.
  Expected<bool> drop(std::string_view name, SourceType type, bool if_exists,
                      SourceLocation loc = {});

  std::vector<const SourceInfo*> list(SourceType type) const;

  // A SourceInfo from CREATE STREAM/TABLE with columns: checks KEY vs
  // PRIMARY KEY, duplicate and reserved column names, the required
  // KAFKA_TOPIC and format properties, PARTITIONS and TIMESTAMP. Does not
  // add it.
  static Expected<SourceInfo> describe_create(const CreateSource& c, const std::string& statement);

  // Applies CREATE STREAM/TABLE (with columns), DROP and ALTER; other
  // statements are not catalog changes (an error). Returns a one-line
  // message for the user ("Stream created", "Table dropped", "Stream S
  // altered.").
  Expected<std::string> apply(const Statement& s);
  // ALTER STREAM|TABLE name ADD COLUMN ...: value columns added at the end of
  // a source declared with columns (not a query's result); `statement` is
  // appended to its statement. ksqlDB's errors, at line:column.
  Expected<bool> alter(const AlterSource& a, const std::string& statement);

 private:
  std::map<std::string, SourceInfo, std::less<>> sources_;
};

// Column names the engine reserves (pseudo columns): ROWTIME, ROWPARTITION,
// ROWOFFSET, WINDOWSTART, WINDOWEND.
bool is_reserved_column_name(std::string_view upper);

// The columns a registered schema gives in `format` (AVRO, PROTOBUF,
// JSON_SR), as schema inference reads them: a record's (a message's, an
// object's) fields, its references resolved; `key` (or a bare value): a
// schema that is not a record is one column, ROWKEY. `full_name`: the
// PROTOBUF message (empty: the first). Errors: a schema of another type,
// or one without SQL columns.
Expected<std::vector<Column>> registered_schema_columns(SchemaRegistry& registry,
                                                        const std::string& format,
                                                        const RegisteredSchema& schema, bool key,
                                                        const std::string& full_name);

}  // namespace rivulet::sql
