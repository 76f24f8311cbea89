#pragma once
// Codecs: bytes <-> Value for the formats of Kafka keys and values.
//  - JSON: objects become structs (schemaless), or the schema's columns,
//    matched case-insensitively and coerced to their types (ksqlDB);
//  - DELIMITED: CSV (RFC 4180 quoting) with a schema;
//  - KAFKA: ksqlDB's KAFKA format for primitives: INT and BIGINT and DOUBLE
//    big-endian, STRING as UTF-8 bytes;
// msgpack (lossless, for internal topics and checkpoints) is in
// msgpack_value.hpp.
//
// A codec instance keeps scratch state (the JSON parser's buffers): use one
// instance from one thread at a time. Bad input is an Error of kind Data
// with the reason (and byte position where it helps); never a crash.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/data_type.hpp"
#include "runtime/error.hpp"
#include "runtime/value.hpp"

namespace rivulet {

enum class Format { Json, Delimited, Kafka };

class Codec {
 public:
  virtual ~Codec() = default;
  virtual Expected<Value> decode(std::string_view bytes) const = 0;
  virtual Expected<std::string> encode(const Value& v) const = 0;
};

// JSON; with a schema, objects read as the schema's value columns.
// `decoded` materializes only some of them: `decoded[i]` for the i-th
// value column (schema order, key columns skipped; missing entries, and
// an empty vector, count as true). A column that is not decoded is
// still checked as if it were (a value that cannot read as its type is the
// same data error), but comes out NULL: no string copied, no value built.
// The SQL planner uses it for the columns of a stream no query reads.
std::unique_ptr<Codec> make_json_codec(std::shared_ptr<const Schema> schema = nullptr,
                                       std::vector<bool> decoded = {});
std::unique_ptr<Codec> make_delimited_codec(std::shared_ptr<const Schema> schema,
                                            char delimiter = ',');
std::unique_ptr<Codec> make_kafka_codec(DataTypePtr type);
// "JSON", "DELIMITED", "KAFKA" (case-insensitive).
Expected<Format> parse_format(std::string_view name);

// JSON text of a value (what the JSON codec writes): structs and maps as
// objects, decimals exact, doubles in shortest round-trip form, bytes as
// base64, timestamps as epoch milliseconds.
void append_json(std::string& out, const Value& v);
std::string to_json(const Value& v);

}  // namespace rivulet
