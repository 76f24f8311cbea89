#include "operators/serdes.hpp"

#include <utility>

#include "runtime/msgpack_value.hpp"

namespace rivulet::codecs {

namespace {

// Wraps runtime's msgpack helpers as a Codec. Stateless, so instances are
// trivially per-task.
class MsgpackCodec final : public Codec {
 public:
  Expected<Value> decode(std::string_view bytes) const override { return from_msgpack(bytes); }
  Expected<std::string> encode(const Value& v) const override { return to_msgpack(v); }
};

}  // namespace

CodecFactory json(std::shared_ptr<const Schema> schema,
                  std::shared_ptr<const std::vector<bool>> decoded) {
  return [schema = std::move(schema), decoded = std::move(decoded)] {
    return make_json_codec(schema, decoded ? *decoded : std::vector<bool>{});
  };
}

CodecFactory delimited(std::shared_ptr<const Schema> schema, char delimiter) {
  return
      [schema = std::move(schema), delimiter] { return make_delimited_codec(schema, delimiter); };
}

CodecFactory kafka(DataTypePtr type) {
  return [type = std::move(type)] { return make_kafka_codec(type); };
}

CodecFactory kafka_string() {
  return kafka(DataType::of(TypeKind::String));
}

CodecFactory msgpack() {
  return [] { return std::unique_ptr<Codec>(std::make_unique<MsgpackCodec>()); };
}

}  // namespace rivulet::codecs
