#include "runtime/avro_wire.hpp"

#include <cstdint>
#include <cstdio>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime/avro_codec.hpp"

namespace rivulet {

namespace {

constexpr size_t kPrefix = 5;  // magic byte 0, then the schema id

class AvroWireCodec final : public Codec {
 public:
  AvroWireCodec(std::shared_ptr<const Schema> values, std::shared_ptr<SchemaRegistry> registry,
                std::string subject)
      : values_(std::move(values)),
        registry_(std::move(registry)),
        subject_(std::move(subject)),
        columns_(values_->value_columns()) {}

  Expected<Value> decode(std::string_view bytes) const override {
    if (bytes.size() < kPrefix || bytes[0] != 0) {
      char first[8];
      std::snprintf(
          first, sizeof first, "0x%02x",
          bytes.empty() ? 0 : static_cast<unsigned>(static_cast<unsigned char>(bytes[0])));
      return Error::data(bytes.empty() ? std::string("empty value: not in the schema registry's "
                                                     "wire format (AVRO)")
                                       : "not in the schema registry's wire format (AVRO): " +
                                             std::to_string(bytes.size()) + " bytes, the first " +
                                             first + " (expected 0x00, then a 4-byte schema id)");
    }
    const int id = read_id(bytes);
    auto datum = datum_for(id);
    if (!datum) return datum.error();
    auto v = (*datum)->decode(bytes.substr(kPrefix));
    if (!v) return Error::data("AVRO (schema id " + std::to_string(id) + "): " + v.error().message);
    return v;
  }

  Expected<std::string> encode(const Value& v) const override {
    if (writer_id_ == 0) {
      auto id = register_value_schema(*registry_, subject_, *values_);
      if (!id) return Error::data(id.error().message);
      writer_id_ = *id;
    }
    auto datum = datum_for(writer_id_);
    if (!datum) return datum.error();
    auto body = (*datum)->encode(v);
    if (!body) return body;
    std::string out;
    out.reserve(kPrefix + body->size());
    out.push_back('\0');
    const auto id = static_cast<uint32_t>(writer_id_);
    for (int shift = 24; shift >= 0; shift -= 8)
      out.push_back(static_cast<char>((id >> shift) & 0xff));
    out += *body;
    return out;
  }

 private:
  static int read_id(std::string_view bytes) {
    uint32_t id = 0;
    for (size_t i = 1; i < kPrefix; ++i) id = (id << 8) | static_cast<unsigned char>(bytes[i]);
    return static_cast<int>(id);
  }

  Expected<avro::Datum*> datum_for(int id) const {
    if (auto it = datums_.find(id); it != datums_.end()) return it->second.get();
    auto schema = registry_->schema_by_id(id);
    if (!schema)
      return Error::data("schema id " + std::to_string(id) + " (registry " + registry_->where() +
                         "): " + schema.error().message);
    auto datum = avro::Datum::make(*schema, columns_);
    if (!datum)
      return Error::data("schema id " + std::to_string(id) + ": " + datum.error().message);
    avro::Datum* raw = datum->get();
    datums_.emplace(id, std::move(*datum));
    return raw;
  }

  std::shared_ptr<const Schema> values_;
  std::shared_ptr<SchemaRegistry> registry_;
  std::string subject_;
  std::vector<Column> columns_;
  // Per codec instance (one per task and thread, as every codec).
  mutable std::unordered_map<int, std::unique_ptr<avro::Datum>> datums_;
  mutable int writer_id_ = 0;
};

}  // namespace

std::string value_subject(std::string_view topic) {
  return std::string(topic) + "-value";
}

std::unique_ptr<Codec> make_avro_codec(std::shared_ptr<const Schema> values,
                                       std::shared_ptr<SchemaRegistry> registry,
                                       std::string subject) {
  return std::make_unique<AvroWireCodec>(std::move(values), std::move(registry),
                                         std::move(subject));
}

Expected<int> register_value_schema(SchemaRegistry& registry, const std::string& subject,
                                    const Schema& values) {
  auto id = registry.register_schema(subject, avro::schema_for(values.value_columns()));
  if (!id)
    return Error::fatal("could not register the AVRO schema of subject '" + subject +
                        "' with the schema registry " + registry.where() + ": " +
                        id.error().message);
  return id;
}

}  // namespace rivulet
