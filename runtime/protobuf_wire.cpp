#include "runtime/protobuf_wire.hpp"

#include <cstdint>
#include <cstdio>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime/ascii.hpp"
#include "runtime/avro_wire.hpp"
#include "runtime/protobuf_codec.hpp"

namespace rivulet {

namespace {

// The columns a key codec reads: the key columns, as the value columns a
// Message fills (it skips keys).
std::vector<Column> columns_for(const Schema& schema, bool key) {
  if (!key) return schema.value_columns();
  auto keys = schema.key_columns();
  for (Column& c : keys) c.is_key = false;
  return keys;
}

// Whether the message `full_name` of `schema` has a field for every
// column and reads each as its type: a schema that can write these rows.
bool holds(SchemaRegistry& registry, const RegisteredSchema& schema, const std::string& full_name,
           const std::vector<Column>& columns) {
  if (schema.type != kProtobufSchemaType) return false;
  auto imports = referenced_schemas(registry, schema.references);
  if (!imports) return false;
  const std::string& text = schema.schema;
  auto fields = protobuf::columns_of(text, full_name, *imports);
  if (!fields) return false;
  for (const Column& c : columns) {
    bool found = false;
    for (const Column& f : *fields) found = found || iequals(f.name, c.name);
    if (!found) return false;
  }
  return protobuf::Message::make(text, full_name, columns, *imports).ok();
}

class ProtobufWireCodec final : public Codec {
 public:
  ProtobufWireCodec(std::shared_ptr<const Schema> schema, std::shared_ptr<SchemaRegistry> registry,
                    std::string subject, std::string full_name, bool key, int writer_id)
      : schema_(std::move(schema)),
        registry_(std::move(registry)),
        subject_(std::move(subject)),
        full_name_(std::move(full_name)),
        key_(key),
        columns_(columns_for(*schema_, key)),
        writer_id_(writer_id) {}

  Expected<Value> decode(std::string_view bytes) const override {
    const auto id = wire_schema_id(bytes);
    if (!id) return not_in_wire_format(bytes, "PROTOBUF");
    auto message = message_for(*id);
    if (!message) return message.error();
    std::string_view rest = bytes.substr(kWirePrefixBytes);
    auto indexes = protobuf::decode_message_indexes(rest);
    if (!indexes)
      return Error::data("PROTOBUF (schema id " + std::to_string(*id) +
                         "): message indexes: " + indexes.error().message);
    auto v = (*message)->decode(rest, *indexes);
    if (!v)
      return Error::data("PROTOBUF (schema id " + std::to_string(*id) + "): " + v.error().message);
    if (single_key()) return v->as_struct().front().value;
    return v;
  }

  Expected<std::string> encode(const Value& v) const override {
    const Value row = single_key() ? Value::structure({{columns_.front().name, v}}) : v;
    if (writer_prefix_.empty()) {
      // The schema id given, else the subject's latest schema when it can
      // write the row (for a query's output, what the planner registered or
      // found), else this codec's, registered now.
      if (writer_id_ == 0) {
        if (auto latest = registry_->latest(subject_);
            latest && holds(*registry_, *latest, full_name_, columns_)) {
          auto message = message_for(latest->id);
          if (message && (*message)->encode(row)) writer_id_ = latest->id;
        }
      }
      if (writer_id_ == 0) {
        auto id = register_protobuf_schema(*registry_, subject_, *schema_, key_, full_name_);
        if (!id) return Error::data(id.error().message);
        writer_id_ = *id;
      }
      auto message = message_for(writer_id_);
      if (!message) return message.error();
      writer_prefix_.clear();
      append_wire_prefix(writer_prefix_, writer_id_);
      writer_prefix_ += protobuf::encode_message_indexes((*message)->indexes());
    }
    auto message = message_for(writer_id_);
    if (!message) return message.error();
    auto body = (*message)->encode(row);
    if (!body) return body;
    return writer_prefix_ + *body;
  }

 private:
  bool single_key() const { return key_ && columns_.size() == 1; }

  // The schema `id` compiled for these columns, its message `full_name_`
  // the one encode writes (decode reads the one a record's indexes name).
  Expected<protobuf::Message*> message_for(int id) const {
    if (auto it = messages_.find(id); it != messages_.end()) return it->second.get();
    auto schema = registry_->schema_by_id(id);
    if (!schema)
      return Error::data("schema id " + std::to_string(id) + " (registry " + registry_->where() +
                         "): " + schema.error().message);
    if (schema->type != kProtobufSchemaType)
      return Error::data("schema id " + std::to_string(id) + " is a " + schema->type +
                         " schema, not a PROTOBUF one");
    auto imports = referenced_schemas(*registry_, schema->references);
    if (!imports)
      return Error::data("schema id " + std::to_string(id) + ": " + imports.error().message);
    auto message = protobuf::Message::make(schema->schema, full_name_, columns_, *imports);
    if (!message && !full_name_.empty())  // a writer's schema without that name: its first
      message = protobuf::Message::make(schema->schema, "", columns_, *imports);
    if (!message)
      return Error::data("schema id " + std::to_string(id) + ": " + message.error().message);
    protobuf::Message* raw = message->get();
    messages_.emplace(id, std::move(*message));
    return raw;
  }

  std::shared_ptr<const Schema> schema_;
  std::shared_ptr<SchemaRegistry> registry_;
  std::string subject_;
  std::string full_name_;
  bool key_;
  std::vector<Column> columns_;
  // Per codec instance (one per task and thread, as every codec).
  mutable std::unordered_map<int, std::unique_ptr<protobuf::Message>> messages_;
  mutable int writer_id_;              // 0 until the first encode chooses, unless given
  mutable std::string writer_prefix_;  // the prefix and message indexes encode writes
};

// PROTOBUF_NOSR's message: the one of the schema ksqlDB derives from the
// value (`key`: key) columns.
Expected<std::unique_ptr<protobuf::Message>> nosr_message(const Schema& schema, bool key) {
  auto columns = columns_for(schema, key);
  const std::string text = protobuf::schema_for(columns);
  return protobuf::Message::make(text, "", std::move(columns));
}

// PROTOBUF_NOSR: the message of the columns' own schema, nothing around it.
class ProtobufNoSrCodec final : public Codec {
 public:
  ProtobufNoSrCodec(const Schema& schema, bool key) : key_(key) {
    const auto keys = schema.key_columns();
    if (key && keys.size() == 1) single_name_ = keys.front().name;
    auto message = nosr_message(schema, key);
    if (message)
      message_ = std::move(*message);
    else
      error_ = message.error().message;
  }

  Expected<Value> decode(std::string_view bytes) const override {
    if (!message_) return Error::data(error_);
    auto v = message_->decode(bytes);
    if (!v) return Error::data(side() + v.error().message);
    if (!single_name_.empty()) return v->as_struct().front().value;
    return v;
  }

  Expected<std::string> encode(const Value& v) const override {
    if (!message_) return Error::data(error_);
    auto bytes = message_->encode(single_name_.empty() ? v : Value::structure({{single_name_, v}}));
    if (!bytes) return Error::data(side() + bytes.error().message);
    return bytes;
  }

 private:
  std::string side() const { return key_ ? "PROTOBUF_NOSR key: " : "PROTOBUF_NOSR: "; }

  bool key_;
  std::string single_name_;  // the key column, when the key is one column
  std::unique_ptr<protobuf::Message> message_;
  std::string error_;  // why there is no message (check_protobuf_nosr refuses such columns)
};

}  // namespace

std::unique_ptr<Codec> make_protobuf_nosr_codec(std::shared_ptr<const Schema> schema) {
  return std::make_unique<ProtobufNoSrCodec>(*schema, false);
}

std::unique_ptr<Codec> make_protobuf_nosr_key_codec(std::shared_ptr<const Schema> schema) {
  return std::make_unique<ProtobufNoSrCodec>(*schema, true);
}

Expected<bool> check_protobuf_nosr(const Schema& schema, bool key) {
  auto ok = nosr_message(schema, key);
  if (!ok)
    return Error::fatal(std::string("the PROTOBUF_NOSR ") + (key ? "key " : "") +
                        "format cannot hold these columns: " + ok.error().message);
  return true;
}

std::unique_ptr<Codec> make_protobuf_codec(std::shared_ptr<const Schema> schema,
                                           std::shared_ptr<SchemaRegistry> registry,
                                           std::string subject, std::string full_name,
                                           int writer_id) {
  return std::make_unique<ProtobufWireCodec>(std::move(schema), std::move(registry),
                                             std::move(subject), std::move(full_name), false,
                                             writer_id);
}

std::unique_ptr<Codec> make_protobuf_key_codec(std::shared_ptr<const Schema> schema,
                                               std::shared_ptr<SchemaRegistry> registry,
                                               std::string subject, std::string full_name,
                                               int writer_id) {
  return std::make_unique<ProtobufWireCodec>(std::move(schema), std::move(registry),
                                             std::move(subject), std::move(full_name), true,
                                             writer_id);
}

Expected<int> register_protobuf_schema(SchemaRegistry& registry, const std::string& subject,
                                       const Schema& schema, bool key,
                                       const std::string& full_name) {
  const auto columns = columns_for(schema, key);
  const char* side = key ? "key " : "";
  if (auto latest = registry.latest(subject);
      latest && holds(registry, *latest, full_name, columns))
    return latest->id;
  const std::string text = protobuf::schema_for(columns, full_name);
  // A column name that is no protobuf identifier, a type protobuf cannot
  // nest: refused when planned, not on every record.
  if (auto ok = protobuf::Message::make(text, full_name, columns); !ok)
    return Error::fatal("the PROTOBUF " + std::string(side) + "schema of subject '" + subject +
                        "' is not valid: " + ok.error().message);
  auto id = registry.register_schema(subject, text, kProtobufSchemaType);
  if (!id)
    return Error::fatal("could not register the PROTOBUF " + std::string(side) +
                        "schema of subject '" + subject + "' with the schema registry " +
                        registry.where() + ": " + id.error().message);
  return id;
}

}  // namespace rivulet
