#pragma once
// Avro: the binary encoding of one datum (no container file, no header: what
// the Confluent wire format carries after its 5-byte prefix) <-> Value, on
// Apache Avro C (libavro). The SQL side follows ksqlDB: the columns an Avro
// record schema maps to, and the schema ksqlDB registers for a result.
//
// avro-c 1.11 drops logicalType from its compiled schemas, so the schema's
// JSON is read alongside (with nlohmann::json) for decimals, dates, times and
// timestamps. Bytes are checked against the schema (every length, count,
// union branch and enum index within bounds, nesting at most
// kMaxValueDepth) before avro-c reads them: bad input is a data error, never
// a crash.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/data_type.hpp"
#include "runtime/error.hpp"
#include "runtime/value.hpp"

namespace rivulet::avro {

// The value columns an Avro record schema (JSON text) maps to, ksqlDB's way:
// field names upper-cased; boolean->BOOLEAN, int->INT, long->BIGINT, float
// and double->DOUBLE, string and enum->STRING, bytes and fixed->BYTES,
// bytes/fixed with logicalType decimal->DECIMAL(precision, scale),
// int+date->DATE, int+time-millis->TIME, long+timestamp-millis->TIMESTAMP,
// long+timestamp-micros->TIMESTAMP (millis), long+time-micros->TIME,
// array->ARRAY, map->MAP (string keys), record->STRUCT (field names
// upper-cased too), a union of "null" and one other type -> that type
// (nullable). Any other union, a "null" field, a recursive record, a decimal
// of more than 38 digits, two fields equal but for case, or a non-record top
// level is a Fatal error naming the field path and the Avro type, e.g.
// `field ADDRESS.ZIP: Avro union ["int","string"] has no SQL type`.
Expected<std::vector<Column>> columns_of(std::string_view avro_schema_json);

// The Avro schema (JSON text) ksqlDB registers for a result with these value
// columns (key columns, if any, are skipped):
// {"type":"record","name":"KsqlDataSourceSchema","namespace":"io.confluent.ksql.avro_schemas",
//  "fields":[...]}, each field {"name":"<COLUMN>","type":["null",<T>],"default":null}.
// A STRUCT column's record is named "KsqlDataSourceSchema_<COLUMN>" (nested:
// "KsqlDataSourceSchema_<COLUMN>_<FIELD>"; a STRUCT inside an ARRAY or MAP
// takes the name of the column or field holding the container), its fields
// nullable the same way; ARRAY -> {"type":"array","items":["null",T]};
// MAP -> {"type":"map","values":["null",T]};
// DECIMAL(p,s) -> {"type":"bytes","logicalType":"decimal","precision":p,"scale":s};
// TIMESTAMP -> {"type":"long","logicalType":"timestamp-millis"};
// DATE -> {"type":"int","logicalType":"date"}; TIME -> {"type":"int","logicalType":"time-millis"};
// BYTES -> "bytes"; DOUBLE -> "double"; INT -> "int"; BIGINT -> "long";
// BOOLEAN -> "boolean"; STRING -> "string".
std::string schema_for(const std::vector<Column>& value_columns);

// A schema that is not a record (a key written bare, "long": ksqlDB's
// single key) as a record of that one field, named `field`, which Avro
// encodes in the same bytes; a record (or text that is not JSON) as it is.
// `wrapped`, when given, says which.
std::string as_record(std::string_view schema_json, const std::string& field,
                      bool* wrapped = nullptr);

// A schema that uses named types defined in other schemas (Confluent's
// schema references: `referenced`, the texts runtime/schema_registry's
// referenced_schemas gives, each one named type, those it uses before it),
// made whole: each referenced type's definition put in place of its first
// use, as Avro's Java parser reads such a schema after its references. A
// use by full name ("shop.Address") or by a name relative to the enclosing
// namespace ("Address" inside namespace shop) is found; a referenced type
// without a namespace used inside a namespace keeps its own (null)
// namespace. A referenced text that is not a named type, or not JSON, is a
// Fatal error. Without references, the schema as it is.
Expected<std::string> with_references(
    std::string_view schema_json,
    const std::vector<std::pair<std::string, std::string>>& referenced);

// One Avro writer schema compiled once, converting its binary encoding to
// and from Values. Owned by one codec; not thread-safe (it keeps avro-c's
// scratch value, reader and writer): one instance per thread, like the
// other codecs.
class Datum {
 public:
  // `writer_schema_json`: the schema the bytes were (or will be) written
  // with; its top level must be a record.
  // `columns`: the value columns the engine wants (key columns are skipped).
  // Decode fills them by name, case-insensitively, from the record's fields
  // (a nested STRUCT's fields likewise); a column the record lacks is NULL;
  // a field no column names is skipped. Values are converted to the
  // column's type (rivulet::coerce where the kinds differ; a value it
  // cannot convert is a data error).
  // Encode writes the columns' values into the writer schema's fields by
  // name; a field with no column, or a NULL value, is written as null where
  // the field's type is a union with null, else it is a data error naming
  // the field.
  // Fatal errors: a schema avro-c or this reader refuses, a top level that
  // is not a record, a column whose field can never be read as its type (a
  // STRUCT column from an Avro string, an INT column from an Avro array).
  static Expected<std::unique_ptr<Datum>> make(std::string_view writer_schema_json,
                                               std::vector<Column> columns);
  ~Datum();
  Datum(const Datum&) = delete;
  Datum& operator=(const Datum&) = delete;

  // A STRUCT with one field per value column, in column order, named as the
  // column (the JSON codec's shape). Bad bytes: a data error.
  Expected<Value> decode(std::string_view avro_binary) const;
  // `row`: a STRUCT of the value columns (as decode returns).
  Expected<std::string> encode(const Value& row) const;

 private:
  struct Impl;
  explicit Datum(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rivulet::avro
