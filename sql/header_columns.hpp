#pragma once
// HEADERS and HEADER('key') columns (ksqlDB's, since 0.24): value columns
// of a stream or table read from each Kafka record's headers instead of its
// value.
//
//   CREATE STREAM CLICKS (ID STRING KEY, URL STRING,
//                         TRACE BYTES HEADER('trace-id'),
//                         ALL_HEADERS ARRAY<STRUCT<KEY STRING, VALUE BYTES>> HEADERS)
//     WITH (kafka_topic='clicks', value_format='JSON');
//
// A HEADER('key') column holds the value of the record's last header of
// that key (NULL when it has none); the HEADERS column every header, in
// order (an empty array when there is none). Their values are set after
// the value is decoded (SqlEngine::source_node; the shell's pull queries on
// streams), so every query of the source sees them as ordinary columns; a
// query's result holds them as value columns, and writes no headers.
//
// Pure functions; any thread.
#include "runtime/data_type.hpp"
#include "runtime/record.hpp"
#include "runtime/value.hpp"
#include "sql/catalog.hpp"

namespace rivulet::sql {

// ARRAY<STRUCT<KEY STRING, VALUE BYTES>>: the type of a HEADERS column.
DataTypePtr headers_column_type();

// `value` (a decoded struct of the source's value columns) with its header
// columns set from `headers`; any other value (NULL: a tombstone) as it is.
Value with_header_columns(const SourceInfo& source, Value value, const Headers& headers);

// Why the source's header columns cannot be read, or nothing: they need a
// Kafka topic (file and memory sources have no headers) and a value format
// of named fields (JSON, AVRO, PROTOBUF and their _SR forms, with wrapped
// single values).
std::optional<std::string> header_columns_unsupported(const SourceInfo& source);

}  // namespace rivulet::sql
