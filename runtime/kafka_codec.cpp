// ksqlDB's KAFKA format: the primitive serializers of the Kafka clients.
#include <cstring>

#include "runtime/codec.hpp"

namespace rivulet {

namespace {

template <typename T>
T read_big_endian(std::string_view b) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v = (v << 8) | static_cast<unsigned char>(b[i]);
  T out;
  if constexpr (sizeof(T) == 4) {
    auto v32 = static_cast<uint32_t>(v);
    std::memcpy(&out, &v32, 4);
  } else {
    std::memcpy(&out, &v, 8);
  }
  return out;
}

template <typename T>
void write_big_endian(std::string& out, T value) {
  uint64_t v = 0;
  if constexpr (sizeof(T) == 4) {
    uint32_t v32;
    std::memcpy(&v32, &value, 4);
    v = v32;
  } else {
    std::memcpy(&v, &value, 8);
  }
  for (int i = static_cast<int>(sizeof(T)) - 1; i >= 0; --i) {
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

class KafkaCodec final : public Codec {
 public:
  explicit KafkaCodec(DataTypePtr type) : type_(std::move(type)) {}

  Expected<Value> decode(std::string_view bytes) const override {
    switch (type_->kind) {
      case TypeKind::Int:
        if (bytes.size() != 4) return size_error(bytes, 4);
        return Value::int32(read_big_endian<int32_t>(bytes));
      case TypeKind::BigInt:
        if (bytes.size() != 8) return size_error(bytes, 8);
        return Value::int64(read_big_endian<int64_t>(bytes));
      case TypeKind::Double:
        if (bytes.size() != 8) return size_error(bytes, 8);
        return Value::float64(read_big_endian<double>(bytes));
      case TypeKind::String:
        return Value::string(std::string(bytes));
      case TypeKind::Bytes:
        return Value::bytes(std::string(bytes));
      default:
        return Error::data("the KAFKA format does not support " + type_->to_string());
    }
  }

  Expected<std::string> encode(const Value& value) const override {
    // A key row of one column (a struct with one field) is written as that
    // column's value: KAFKA keys are single primitives.
    const Value& v = value.kind() == TypeKind::Struct && value.as_struct().size() == 1
                         ? value.as_struct().front().value
                         : value;
    if (v.is_null()) {
      // A null key or value is the absence of bytes, which the record
      // carries (std::nullopt), not something a codec can write.
      return Error::data("the KAFKA format cannot write null as bytes");
    }
    // A value already of the column's type is written as is (no coerced
    // copy first): the common case.
    if (v.kind() == type_->kind) {
      switch (type_->kind) {
        case TypeKind::String: return v.as_string();
        case TypeKind::Bytes: return v.as_bytes();
        default: break;
      }
    }
    std::string out;
    switch (type_->kind) {
      case TypeKind::Int:
      case TypeKind::BigInt:
      case TypeKind::Double:
      case TypeKind::String:
      case TypeKind::Bytes: {
        auto c = coerce(v, *type_);
        if (!c) {
          return Error::data("cannot write " + v.to_string() + " as KAFKA " + type_->to_string());
        }
        if (type_->kind == TypeKind::Int) write_big_endian(out, c->as_int32());
        if (type_->kind == TypeKind::BigInt) write_big_endian(out, c->as_int64());
        if (type_->kind == TypeKind::Double) write_big_endian(out, c->as_double());
        if (type_->kind == TypeKind::String) out = c->as_string();
        if (type_->kind == TypeKind::Bytes) out = c->as_bytes();
        return out;
      }
      default:
        return Error::data("the KAFKA format does not support " + type_->to_string());
    }
  }

 private:
  static Error size_error(std::string_view bytes, size_t expected) {
    return Error::data("KAFKA format: expected " + std::to_string(expected) + " bytes, got " +
                       std::to_string(bytes.size()));
  }
  DataTypePtr type_;
};

}  // namespace

std::unique_ptr<Codec> make_kafka_codec(DataTypePtr type) {
  return std::make_unique<KafkaCodec>(std::move(type));
}

}  // namespace rivulet
