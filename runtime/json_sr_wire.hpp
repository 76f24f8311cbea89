#pragma once
// The JSON_SR format with a schema registry: Confluent's wire format (a
// zero byte, the schema id in 4 bytes big-endian) followed by the value's
// JSON text, as Confluent's KafkaJsonSchemaSerializer and ksqlDB write it.
//
// The JSON after the prefix is read and written by the JSON codec, so a
// JSON_SR column reads exactly as a JSON one (names matched
// case-insensitively, values coerced to the column's type). Decoding needs
// no schema: the prefix is checked and skipped, as ksqlDB's deserializer
// does. Encoding writes the id of the subject's latest JSON schema when its
// properties name every column, else the id of the schema ksqlDB registers
// for the columns (json_schema::schema_for), registered then. The planner
// registers a query's output schema when it plans it, so that a refusal is
// a planning error (register_json_value_schema).
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/codec.hpp"
#include "runtime/data_type.hpp"
#include "runtime/error.hpp"
#include "runtime/schema_registry.hpp"

namespace rivulet {

inline constexpr const char* kJsonSchemaType = "JSON";

namespace json_schema {

// The columns a JSON Schema (its JSON text) of an object maps to, as
// Confluent's JsonSchemaData and ksqlDB read it: property names
// upper-cased, in "connect.index" order when the properties carry it, else
// as written; "integer" -> BIGINT ("connect.type" int8, int16, int32 ->
// INT); "number" -> DOUBLE; "connect.type" bytes on a number, or the title
// org.apache.kafka.connect.data.Decimal -> DECIMAL (precision and scale
// from "connect.parameters", "connect.decimal.precision" and "scale");
// the titles org.apache.kafka.connect.data.Timestamp, .Date and .Time ->
// TIMESTAMP, DATE, TIME; "string" -> STRING ("connect.type" bytes ->
// BYTES); "enum" -> STRING; "boolean" -> BOOLEAN; "array" -> ARRAY (of
// its "items"); an object with "additionalProperties" and no properties ->
// MAP (string keys; Connect's array of key-value entries, a map of other
// keys, is refused); an object with properties -> STRUCT; a "oneOf" (or
// "anyOf", or a "type" list) of "null" and one other schema -> that
// schema's type; "$ref" to "#/..." within the document, or to a referenced
// document (below), followed. Anything
// else (another union, an array without items, a schema with no type, a
// top level that is not an object, nesting deeper than kMaxValueDepth, two
// properties equal but for case) is a Fatal error naming the property path,
// e.g. `property ADDRESS.ZIP: a oneOf of 2 types other than null has no
// SQL type`.
// `referenced`: the schemas the schema's references name (Confluent's JSON
// Schema references: runtime/schema_registry's referenced_schemas), by the
// names a "$ref" uses: "customer.json" reads that document,
// "customer.json#/definitions/Address" a part of it (and a "#/..." within
// it, its own).
using References = std::vector<std::pair<std::string, std::string>>;
Expected<std::vector<Column>> columns_of(std::string_view schema_json,
                                         const References& referenced = {});

// The type of one JSON Schema (a single key written bare, "integer").
Expected<DataTypePtr> type_of(std::string_view schema_json, const References& referenced = {});

// The JSON Schema ksqlDB registers for these value columns (key columns
// skipped), Confluent's JsonSchemaData's shape: {"type":"object",
// "properties":{"<COLUMN>":{"connect.index":i,"oneOf":[{"type":"null"},T]}}}
// with T: BIGINT {"type":"integer","connect.type":"int64"}, INT ... int32,
// DOUBLE {"type":"number","connect.type":"float64"}, BOOLEAN
// {"type":"boolean"}, STRING {"type":"string"}, BYTES {"type":"string",
// "connect.type":"bytes"}, DECIMAL {"type":"number","title":
// "org.apache.kafka.connect.data.Decimal","connect.version":1,
// "connect.type":"bytes","connect.parameters":{"scale":"s",
// "connect.decimal.precision":"p"}}, TIMESTAMP/DATE/TIME {"type":"integer",
// "title":"org.apache.kafka.connect.data.Timestamp"|"...Date"|"...Time",
// "connect.version":1,"connect.type":"int64"|"int32"}, ARRAY {"type":
// "array","items":<element, nullable>}, MAP {"type":"object",
// "additionalProperties":<value, nullable>,"connect.type":"map"}, STRUCT an
// object as the top level.
std::string schema_for(const std::vector<Column>& value_columns);

// The schema of a key (or of a value written bare, WRAP_SINGLE_VALUE=false):
// one column's type alone (nullable), as ksqlDB writes a single key;
// several columns as an object.
std::string key_schema_for(const std::vector<Column>& key_columns);

}  // namespace json_schema

// A codec of the wire format around `json` (the JSON codec that reads and
// writes the text after the prefix). `schema`: the JSON Schema this codec
// registers when it writes and the subject's latest cannot serve;
// `columns`: the names the latest must hold (empty for a bare value or
// key). `writer_id`: a schema id to label the records with (ksqlDB's
// VALUE_SCHEMA_ID / KEY_SCHEMA_ID); 0: as above.
std::unique_ptr<Codec> make_json_sr_codec(std::unique_ptr<Codec> json,
                                          std::shared_ptr<SchemaRegistry> registry,
                                          std::string subject, std::string schema,
                                          std::vector<std::string> columns, int writer_id = 0);

// Registers the JSON Schema of `values` (of `schema`'s key columns) under
// `subject` (`bare`: the one value column written bare,
// WRAP_SINGLE_VALUE=false): its id, or the registry's refusal. When the
// subject's latest JSON schema already declares the columns with their
// types (a producer's, for INSERT INTO its topic), nothing is registered
// and that schema's id is returned: a registry checking compatibility is
// not asked to take a second shape of the same rows.
Expected<int> register_json_value_schema(SchemaRegistry& registry, const std::string& subject,
                                         const Schema& values, bool bare = false);
Expected<int> register_json_key_schema(SchemaRegistry& registry, const std::string& subject,
                                       const Schema& schema);

}  // namespace rivulet
