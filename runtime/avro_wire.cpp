#include "runtime/avro_wire.hpp"

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime/avro_codec.hpp"

namespace rivulet {

namespace {

// The writer schema of a key: one key column's type alone, unwrapped, as
// ksqlDB writes a single key (its value schema's field type); several key
// columns as a record, as values are.
std::string key_schema_for(const std::vector<Column>& keys) {
  const std::string record = avro::schema_for(keys);
  if (keys.size() != 1) return record;
  return nlohmann::json::parse(record)["fields"][0]["type"].dump();
}

// The key columns as the value columns a Datum fills (it skips keys).
std::vector<Column> as_value_columns(std::vector<Column> keys) {
  for (Column& c : keys) c.is_key = false;
  return keys;
}

// A codec of the registry's wire format. For values, a STRUCT of the value
// columns. For keys (`key`), what the other key codecs give: one key
// column's value alone, or a STRUCT of several; a writer schema that is
// not a record (an unwrapped single key, Avro "string" or "int") is read
// as a record of that one field, which Avro encodes in the same bytes.
// A bare value (WRAP_SINGLE_VALUE=false) is read and written as a single
// key is.
enum class Part { Value, Key, BareValue };

class AvroWireCodec final : public Codec {
 public:
  AvroWireCodec(std::shared_ptr<const Schema> schema, std::shared_ptr<SchemaRegistry> registry,
                std::string subject, Part part, int writer_id)
      : schema_(std::move(schema)),
        registry_(std::move(registry)),
        subject_(std::move(subject)),
        part_(part),
        columns_(part == Part::Key ? as_value_columns(schema_->key_columns())
                                   : schema_->value_columns()),
        writer_id_(writer_id) {}

  Expected<Value> decode(std::string_view bytes) const override {
    const auto id = wire_schema_id(bytes);
    if (!id) return not_in_wire_format(bytes, "AVRO");
    auto datum = datum_for(*id);
    if (!datum) return datum.error();
    auto v = (*datum)->decode(bytes.substr(kWirePrefixBytes));
    if (!v)
      return Error::data("AVRO (schema id " + std::to_string(*id) + "): " + v.error().message);
    if (single()) return v->as_struct().front().value;
    return v;
  }

  Expected<std::string> encode(const Value& v) const override {
    const Value row = single() ? Value::structure({{columns_.front().name, v}}) : v;
    if (writer_id_ == 0) {
      // The subject's latest schema when it can write the row (the
      // planner registered the output's own schema, so for a query's
      // output this is it; for a key placed as its topic's producers
      // write it, theirs), else this codec's, registered now.
      if (auto latest = registry_->latest(subject_); latest && latest->type == kAvroSchemaType) {
        auto datum = datum_for(latest->id);
        if (datum && (*datum)->encode(row)) writer_id_ = latest->id;
      }
      if (writer_id_ == 0) {
        auto id = part_ == Part::Key ? register_key_schema(*registry_, subject_, *schema_)
                  : part_ == Part::BareValue
                      ? register_bare_value_schema(*registry_, subject_, *schema_)
                      : register_value_schema(*registry_, subject_, *schema_);
        if (!id) return Error::data(id.error().message);
        writer_id_ = *id;
      }
    }
    auto datum = datum_for(writer_id_);
    if (!datum) return datum.error();
    auto body = (*datum)->encode(row);
    if (!body) return body;
    std::string out;
    out.reserve(kWirePrefixBytes + body->size());
    append_wire_prefix(out, writer_id_);
    out += *body;
    return out;
  }

 private:
  // One key column, or a bare value: the value alone, not a STRUCT.
  bool single() const { return part_ != Part::Value && columns_.size() == 1; }

  Expected<avro::Datum*> datum_for(int id) const {
    if (auto it = datums_.find(id); it != datums_.end()) return it->second.get();
    auto schema = registry_->schema_by_id(id);
    if (!schema)
      return Error::data("schema id " + std::to_string(id) + " (registry " + registry_->where() +
                         "): " + schema.error().message);
    if (schema->type != kAvroSchemaType)
      return Error::data("schema id " + std::to_string(id) + " is a " + schema->type +
                         " schema, not an AVRO one");
    std::string text = schema->schema;
    if (!schema->references.empty()) {  // named types defined in other subjects
      auto imports = referenced_schemas(*registry_, schema->references);
      if (!imports)
        return Error::data("schema id " + std::to_string(id) + ": " + imports.error().message);
      auto whole = avro::with_references(text, *imports);
      if (!whole)
        return Error::data("schema id " + std::to_string(id) + ": " + whole.error().message);
      text = std::move(*whole);
    }
    if (part_ != Part::Value) {
      bool wrapped = false;
      text = avro::as_record(text, columns_.front().name, &wrapped);
      if (wrapped && columns_.size() != 1)
        return Error::data("schema id " + std::to_string(id) +
                           ": a key schema that is not a record holds one key column, not " +
                           std::to_string(columns_.size()));
    }
    auto datum = avro::Datum::make(text, columns_);
    if (!datum)
      return Error::data("schema id " + std::to_string(id) + ": " + datum.error().message);
    avro::Datum* raw = datum->get();
    datums_.emplace(id, std::move(*datum));
    return raw;
  }

  std::shared_ptr<const Schema> schema_;
  std::shared_ptr<SchemaRegistry> registry_;
  std::string subject_;
  Part part_;
  std::vector<Column> columns_;
  // Per codec instance (one per task and thread, as every codec).
  mutable std::unordered_map<int, std::unique_ptr<avro::Datum>> datums_;
  mutable int writer_id_;  // 0 until the first encode chooses, unless given
};

}  // namespace

std::string value_subject(std::string_view topic) {
  return std::string(topic) + "-value";
}

std::optional<int> wire_schema_id(std::string_view bytes) {
  if (bytes.size() < kWirePrefixBytes || bytes[0] != 0) return std::nullopt;
  uint32_t id = 0;
  for (size_t i = 1; i < kWirePrefixBytes; ++i)
    id = (id << 8) | static_cast<unsigned char>(bytes[i]);
  return static_cast<int>(id);
}

void append_wire_prefix(std::string& out, int id) {
  out.push_back('\0');
  const auto u = static_cast<uint32_t>(id);
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((u >> shift) & 0xff));
}

Error not_in_wire_format(std::string_view bytes, std::string_view format, std::string_view then) {
  const std::string where =
      "not in the schema registry's wire format (" + std::string(format) + ")";
  if (bytes.empty()) return Error::data("empty value: " + where);
  char first[8];
  std::snprintf(first, sizeof first, "0x%02x",
                static_cast<unsigned>(static_cast<unsigned char>(bytes[0])));
  return Error::data(where + ": " + std::to_string(bytes.size()) + " bytes, the first " + first +
                     " (expected 0x00, then a 4-byte schema id" + std::string(then) + ")");
}

std::string key_subject(std::string_view topic) {
  return std::string(topic) + "-key";
}

std::unique_ptr<Codec> make_avro_codec(std::shared_ptr<const Schema> values,
                                       std::shared_ptr<SchemaRegistry> registry,
                                       std::string subject, int writer_id) {
  return std::make_unique<AvroWireCodec>(std::move(values), std::move(registry), std::move(subject),
                                         Part::Value, writer_id);
}

std::unique_ptr<Codec> make_avro_bare_value_codec(std::shared_ptr<const Schema> values,
                                                  std::shared_ptr<SchemaRegistry> registry,
                                                  std::string subject, int writer_id) {
  return std::make_unique<AvroWireCodec>(std::move(values), std::move(registry), std::move(subject),
                                         Part::BareValue, writer_id);
}

std::unique_ptr<Codec> make_avro_key_codec(std::shared_ptr<const Schema> schema,
                                           std::shared_ptr<SchemaRegistry> registry,
                                           std::string subject, int writer_id) {
  return std::make_unique<AvroWireCodec>(std::move(schema), std::move(registry), std::move(subject),
                                         Part::Key, writer_id);
}

namespace {

// Whether Avro itself accepts the schema written for `columns` (a quoted
// column name such as `my col` is no Avro name): refused at planning
// rather than on every record. For a single key its record form: the same
// field, wrapped.
std::optional<Error> invalid_avro(const std::vector<Column>& columns, const std::string& subject,
                                  bool key) {
  auto ok = avro::Datum::make(avro::schema_for(columns), columns);
  if (ok) return std::nullopt;
  return Error::fatal("the AVRO " + std::string(key ? "key " : "") + "schema of subject '" +
                      subject + "' is not valid Avro: " + ok.error().message);
}

Error not_registered(const SchemaRegistry& registry, const std::string& subject, bool key,
                     const Error& why) {
  return Error::fatal("could not register the AVRO " + std::string(key ? "key " : "") +
                      "schema of subject '" + subject + "' with the schema registry " +
                      registry.where() + ": " + why.message);
}

}  // namespace

namespace {

// A key's schema, or a bare value's: one column's type alone, several a record.
Expected<int> register_unwrapped(SchemaRegistry& registry, const std::string& subject,
                                 const std::vector<Column>& columns, bool key) {
  if (auto bad = invalid_avro(columns, subject, key)) return *bad;
  auto id = registry.register_schema(subject, key_schema_for(columns));
  if (!id) return not_registered(registry, subject, key, id.error());
  return id;
}

}  // namespace

Expected<int> register_key_schema(SchemaRegistry& registry, const std::string& subject,
                                  const Schema& schema) {
  return register_unwrapped(registry, subject, as_value_columns(schema.key_columns()), true);
}

Expected<int> register_bare_value_schema(SchemaRegistry& registry, const std::string& subject,
                                         const Schema& values) {
  const auto columns = values.value_columns();
  if (columns.size() != 1)
    return Error::fatal("a bare AVRO value (WRAP_SINGLE_VALUE=false) is one column, not " +
                        std::to_string(columns.size()));
  return register_unwrapped(registry, subject, columns, false);
}

Expected<int> register_value_schema(SchemaRegistry& registry, const std::string& subject,
                                    const Schema& values) {
  const auto columns = values.value_columns();
  if (auto bad = invalid_avro(columns, subject, false)) return *bad;
  auto id = registry.register_schema(subject, avro::schema_for(columns));
  if (!id) return not_registered(registry, subject, false, id.error());
  return id;
}

}  // namespace rivulet
