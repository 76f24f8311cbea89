#pragma once
// The PROTOBUF format with a schema registry: Confluent's wire format, a
// zero byte, the writer schema's id (4 bytes, big-endian), the message
// indexes (which message of the schema's file; [0], the first, is one zero
// byte), then the protobuf message (runtime/protobuf_codec.hpp).
//
// Decode looks the writer's schema up by its id (once per id and codec)
// and reads the message the indexes locate into the columns by name, so
// records written with older or newer schemas of the subject read alike.
// Encode writes with the subject's latest PROTOBUF schema when it can hold
// the first row it writes, else with the schema ksqlDB registers for the
// columns (protobuf::schema_for), registered then. The planner registers
// a query's output schema when it plans it (register_protobuf_schema), so
// that a refusal is a planning error.
//
// Keys: ksqlDB's PROTOBUF keys are messages with one field per key column,
// even for one key column (whose codec gives and takes the value alone, as
// the other key codecs do).
#include <memory>
#include <string>

#include "runtime/codec.hpp"
#include "runtime/data_type.hpp"
#include "runtime/schema_registry.hpp"

namespace rivulet {

inline constexpr const char* kProtobufSchemaType = "PROTOBUF";

// `full_name`: the message to write (ksqlDB's VALUE_SCHEMA_FULL_NAME or
// KEY_SCHEMA_FULL_NAME; empty: the schema's first message), and the name
// of the top message of the schema registered for the columns.
// `writer_id`: a schema id to write with (ksqlDB's VALUE_SCHEMA_ID /
// KEY_SCHEMA_ID); 0: as above.
std::unique_ptr<Codec> make_protobuf_codec(std::shared_ptr<const Schema> schema,
                                           std::shared_ptr<SchemaRegistry> registry,
                                           std::string subject, std::string full_name,
                                           int writer_id = 0);
std::unique_ptr<Codec> make_protobuf_key_codec(std::shared_ptr<const Schema> schema,
                                               std::shared_ptr<SchemaRegistry> registry,
                                               std::string subject, std::string full_name,
                                               int writer_id = 0);

// PROTOBUF_NOSR: the protobuf message alone, no registry, no prefix, no
// message indexes. The schema is the one ksqlDB derives from the declared
// columns (protobuf::schema_for: message ConnectDefault1, fields numbered by
// column position from 1), both to read and to write, so only the columns'
// order and types say how bytes are read: a producer must write field n as
// the n-th value column (key column for a key). Keys are messages, as for
// PROTOBUF; a codec of one key column gives and takes the value alone.
std::unique_ptr<Codec> make_protobuf_nosr_codec(std::shared_ptr<const Schema> schema);
std::unique_ptr<Codec> make_protobuf_nosr_key_codec(std::shared_ptr<const Schema> schema);
// Whether PROTOBUF_NOSR can carry `schema`'s value (`key`: key) columns: a
// Fatal error naming the column protobuf cannot take (a name that is not a
// protobuf identifier, an ARRAY of ARRAYs or MAPs).
Expected<bool> check_protobuf_nosr(const Schema& schema, bool key);

// Registers the schema of `schema`'s value (`key`: key) columns under
// `subject`, unless the subject's latest PROTOBUF schema already holds
// them (a producer's, named by `full_name`): its id, or the registry's
// refusal.
Expected<int> register_protobuf_schema(SchemaRegistry& registry, const std::string& subject,
                                       const Schema& schema, bool key,
                                       const std::string& full_name);

}  // namespace rivulet
