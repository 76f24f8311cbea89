#pragma once
// Serdes: how a topic's keys and values are encoded, as a pair of codec
// *factories*. Codecs keep per-instance scratch state and are not shared
// across threads, so a Topology stores factories and every TaskGraph makes
// its own codec instances when it is instantiated.
//
//   Serdes{codecs::kafka_string(), codecs::json()}
//   Serdes{codecs::kafka(DataType::of(TypeKind::BigInt)), codecs::delimited(schema)}
#include <functional>
#include <memory>

#include "runtime/codec.hpp"
#include "runtime/data_type.hpp"

namespace rivulet {

using CodecFactory = std::function<std::unique_ptr<Codec>()>;

struct Serdes {
  CodecFactory key;
  CodecFactory value;
};

namespace codecs {

// JSON (with a schema: the value's columns, coerced to their types).
// `decoded`, when given, marks the value columns to materialize (see
// make_json_codec). It is read when the factory makes a codec (a TaskGraph
// being built), so its owner may widen it until then: the SQL engine does,
// query by query.
CodecFactory json(std::shared_ptr<const Schema> schema = nullptr,
                  std::shared_ptr<const std::vector<bool>> decoded = nullptr);
// DELIMITED (CSV) with the schema's columns.
CodecFactory delimited(std::shared_ptr<const Schema> schema, char delimiter = ',');
// ksqlDB's KAFKA format for keys: INT/BIGINT/DOUBLE big-endian, STRING UTF-8.
CodecFactory kafka(DataTypePtr type);
CodecFactory kafka_string();
// msgpack of any Value, losslessly (decimals, nested values): the default
// for internal topics such as repartition topics.
CodecFactory msgpack();

// Serdes shorthands.
inline Serdes string_json(std::shared_ptr<const Schema> value_schema = nullptr) {
  return Serdes{kafka_string(), json(std::move(value_schema))};
}
inline Serdes internal() {
  return Serdes{msgpack(), msgpack()};
}

}  // namespace codecs

}  // namespace rivulet
