#pragma once
// What each serialization format can hold, checked when a source is created
// (CREATE STREAM|TABLE with columns, and the result of ... AS SELECT), with
// ksqlDB's messages:
//  - KAFKA and DELIMITED hold no ARRAY, MAP or STRUCT column
//    ("The 'KAFKA' format does not support type 'STRUCT'");
//  - no key column may be or contain a MAP ("Map keys, including types that
//    contain maps, are not supported ...");
//  - WRAP_SINGLE_VALUE=true is refused by KAFKA and DELIMITED
//    ("Format 'KAFKA' does not support 'WRAP_SINGLE_VALUE' set to 'true'.").
// Errors carry no location; callers add the statement's.
#include "runtime/error.hpp"
#include "sql/catalog.hpp"

namespace rivulet::sql {

Expected<bool> check_formats(const SourceInfo& source);

// True when the value is one column written bare (not in a struct): the
// KAFKA format, or JSON-like formats with WRAP_SINGLE_VALUE=false and one
// value column.
bool unwrapped_single_value(const SourceInfo& source);

// JSON, JSON_SR, AVRO, PROTOBUF, PROTOBUF_NOSR: values of named columns
// (JSON objects, records, messages), decoded into a struct of the value
// columns, and JSON where nothing else reads them (without a schema
// registry; PROTOBUF_NOSR has its own codec).
bool is_logical_json(const std::string& format);
// The value codec decodes a struct of the value columns, named and in
// schema order (the JSON codec with a schema), not one bare value.
bool values_decode_to_struct(const SourceInfo& source);

}  // namespace rivulet::sql
