#pragma once
// The AVRO value format with a schema registry: Confluent's wire format,
// a zero byte, the writer schema's id (4 bytes, big-endian), then the
// Avro binary datum (runtime/avro_codec.hpp).
//
// Decode looks the writer's schema up by its id (once per id and codec:
// the registry caches it for the process) and reads its fields into the
// value columns by name, so records written with older or newer schemas
// of the subject read alike. Encode writes with the subject's latest
// schema when that can hold the first row it writes, else with the schema
// ksqlDB registers for the columns (avro::schema_for), registered then.
// The planner registers a query's output schema when it plans it (so that
// a refusal is a planning error: register_value_schema), so a query's
// output is written with its own schema, and a key placed for a lookup
// with its topic's producers' latest.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/codec.hpp"
#include "runtime/data_type.hpp"
#include "runtime/schema_registry.hpp"

namespace rivulet {

// The wire format's prefix: a zero byte, then the schema id.
inline constexpr size_t kWirePrefixBytes = 5;
// The schema id of bytes in the wire format; nullopt for bytes that are
// not (shorter than the prefix, or a first byte other than 0).
std::optional<int> wire_schema_id(std::string_view bytes);
// Appends the prefix of schema `id`: a zero byte, the id big-endian.
void append_wire_prefix(std::string& out, int id);
// The data error for bytes that are not in the wire format: "not in the
// schema registry's wire format (AVRO): 18 bytes, the first 0x7b (expected
// 0x00, then a 4-byte schema id)"; `then` names what follows the id
// (", then JSON").
Error not_in_wire_format(std::string_view bytes, std::string_view format,
                         std::string_view then = "");

// `writer_id` (the codecs below): a schema id to write with, as ksqlDB writes
// with a source's VALUE_SCHEMA_ID / KEY_SCHEMA_ID; 0: the subject's latest
// when it holds the row, else the codec's own schema, registered.

// "<topic>-value": the subject of a topic's value schemas (Confluent's
// TopicNameStrategy).
std::string value_subject(std::string_view topic);

std::unique_ptr<Codec> make_avro_codec(std::shared_ptr<const Schema> values,
                                       std::shared_ptr<SchemaRegistry> registry,
                                       std::string subject, int writer_id = 0);

// WRAP_SINGLE_VALUE=false: the one value column of `values` alone, written
// as its bare Avro type (["null", "long"]), as a single key is; a writer
// schema that is a record is read as a key's is (its field of the column's
// name).
std::unique_ptr<Codec> make_avro_bare_value_codec(std::shared_ptr<const Schema> values,
                                                  std::shared_ptr<SchemaRegistry> registry,
                                                  std::string subject, int writer_id = 0);

// "<topic>-key".
std::string key_subject(std::string_view topic);

// KEY_FORMAT='AVRO': the key columns of `schema` (one: its value alone, as
// the other key codecs give it, written with the column's type unwrapped,
// ksqlDB's single key; several: a STRUCT, written as a record). A writer
// schema that is not a record is read as the one key column's type.
std::unique_ptr<Codec> make_avro_key_codec(std::shared_ptr<const Schema> schema,
                                           std::shared_ptr<SchemaRegistry> registry,
                                           std::string subject, int writer_id = 0);

// Registers the key schema of `schema`'s key columns under `subject`.
Expected<int> register_key_schema(SchemaRegistry& registry, const std::string& subject,
                                  const Schema& schema);

// Registers the bare Avro type of `values`' one value column under
// `subject` (WRAP_SINGLE_VALUE=false).
Expected<int> register_bare_value_schema(SchemaRegistry& registry, const std::string& subject,
                                         const Schema& values);

// Registers the schema of `values` under `subject`: its id, or the
// registry's refusal (an incompatible schema, the registry unreachable).
Expected<int> register_value_schema(SchemaRegistry& registry, const std::string& subject,
                                    const Schema& values);

}  // namespace rivulet
