#pragma once
// INSERT INTO s [(c1, c2, ...)] VALUES (v1, v2, ...): one record for the
// topic of stream or table `s` (ksqlDB's INSERT VALUES), with its columns
// encoded in the source's KEY_FORMAT and VALUE_FORMAT exactly as a file or
// memory row of `s` would be (sql/source_rows.hpp): key columns go to the
// key, value columns to the value. Without a column list every column of
// the schema is given, in order; with one, missing columns are NULL.
// `ROWTIME` may be named to set the record's timestamp (BIGINT or
// TIMESTAMP); otherwise the producer's clock sets it. Values are constant
// expressions (literals, arithmetic, function calls), coerced to the
// column's type.
//
// Rejected with line:column and ksqlDB's wording: an unknown source
// ("Cannot insert values into an unknown stream/table: `X`"), an unknown
// or repeated column, as many names as values not matching, a value that
// does not fit its column ("Expected type INTEGER for field `V` but got
// 'x'(STRING)"), a table row without its PRIMARY KEY, a windowed source.
//
// Who writes the record: the `rivulet sql` shell at once, `rivulet run`
// before its queries start (cluster/insert_values.hpp); SqlEngine::execute
// only checks and encodes (SqlEngine::inserts()).
#include <cstdint>
#include <optional>
#include <string>

#include "runtime/error.hpp"
#include "sql/ast.hpp"
#include "sql/catalog.hpp"

namespace rivulet::sql {

struct InsertedRecord {
  std::string target;  // the stream or table
  std::string topic;
  int32_t partitions = 0;          // the source's PARTITIONS (0: not declared)
  std::optional<std::string> key;  // nullopt: no key (a stream without KEY column)
  std::optional<std::string> value;
  std::optional<int64_t> timestamp;  // ROWTIME when given
};

Expected<InsertedRecord> encode_insert_values(const Catalog& catalog, const InsertValues& v);

}  // namespace rivulet::sql
