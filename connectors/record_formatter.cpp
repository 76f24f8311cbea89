#include "connectors/record_formatter.hpp"

#include <simdjson.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>

#include "runtime/avro_codec.hpp"
#include "runtime/avro_wire.hpp"
#include "runtime/codec.hpp"
#include "runtime/json_sr_wire.hpp"
#include "runtime/protobuf_codec.hpp"
#include "runtime/protobuf_wire.hpp"
#include "runtime/schema_registry.hpp"

namespace rivulet::connectors {

namespace {

// clang-format off
const char* const kBaseNames[] = {"AVRO", "PROTOBUF", "JSON_SR", "JSON", "KAFKA_STRING",
                                  "KAFKA_INT", "KAFKA_BIGINT", "KAFKA_DOUBLE"};
// clang-format on
constexpr int kBases = 8;
constexpr int kAvro = 0;
constexpr int kProtobuf = 1;
constexpr int kJsonSr = 2;
constexpr int kRegistryBases = 3;  // AVRO, PROTOBUF, JSON_SR: only with a registry
const char* const kWindowNames[] = {"", "SESSION", "HOPPING", "TUMBLING"};

// Window times this formatter believes: from the epoch to 2100-01-01.
constexpr int64_t kLatestPlausibleMs = 4102444800000LL;

bool utf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

uint64_t big_endian(const char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

// AVRO, PROTOBUF and JSON_SR: the schema registry's wire format, each writer schema
// asked of the process's registry once and kept; a value shown as JSON.
struct RecordFormatter::RegistryReader {
  std::shared_ptr<SchemaRegistry> registry;
  std::map<int, std::unique_ptr<avro::Datum>> datums;  // nullptr: not readable
  std::map<int, bool> wrapped;                         // a schema that is not a record

  std::optional<std::string> read(std::string_view b) {
    const auto id = wire_schema_id(b);
    if (!id) return std::nullopt;
    auto it = datums.find(*id);
    if (it == datums.end()) it = datums.emplace(*id, compile(*id)).first;
    if (!it->second) return std::nullopt;
    auto v = it->second->decode(b.substr(kWirePrefixBytes));
    if (!v) return std::nullopt;
    return to_json(wrapped[*id] ? v->as_struct().front().value : *v);
  }

  // JSON_SR: the prefix, a JSON schema's id, then JSON text (shown as
  // written).
  std::optional<std::string> read_json(std::string_view b) {
    const auto id = wire_schema_id(b);
    if (!id) return std::nullopt;
    auto it = json_ids.find(*id);
    if (it == json_ids.end()) {
      auto schema = registry->schema_by_id(*id);
      it = json_ids.emplace(*id, schema && schema->type == kJsonSchemaType).first;
    }
    const std::string_view text = b.substr(kWirePrefixBytes);
    if (!it->second || text.empty() || !utf8(text) || !nlohmann::json::accept(text))
      return std::nullopt;
    return std::string(text);
  }
  std::map<int, bool> json_ids;  // schema id -> a JSON schema's

  // PROTOBUF: the prefix, a PROTOBUF schema's id, the message indexes,
  // then the message they locate, read into all its fields.
  std::optional<std::string> read_protobuf(std::string_view b) {
    const auto id = wire_schema_id(b);
    if (!id) return std::nullopt;
    std::string_view rest = b.substr(kWirePrefixBytes);
    auto indexes = protobuf::decode_message_indexes(rest);
    if (!indexes) return std::nullopt;
    const std::string key = std::to_string(*id) + "/" + protobuf::encode_message_indexes(*indexes);
    auto it = messages.find(key);
    if (it == messages.end()) it = messages.emplace(key, compile_protobuf(*id, *indexes)).first;
    if (!it->second) return std::nullopt;
    auto v = it->second->decode(rest, *indexes);
    if (!v) return std::nullopt;
    return to_json(*v);
  }
  // "<id>/<indexes>" -> the message read (nullptr: not readable).
  std::map<std::string, std::unique_ptr<protobuf::Message>> messages;

  std::unique_ptr<protobuf::Message> compile_protobuf(int id, const std::vector<int>& indexes) {
    auto schema = registry->schema_by_id(id);
    if (!schema || schema->type != kProtobufSchemaType) return nullptr;
    auto imports = referenced_schemas(*registry, schema->references);
    if (!imports) return nullptr;
    auto name = protobuf::message_name(schema->schema, indexes, *imports);
    if (!name) return nullptr;
    auto columns = protobuf::columns_of(schema->schema, *name, *imports);
    if (!columns) return nullptr;
    auto message = protobuf::Message::make(schema->schema, *name, *columns, *imports);
    return message ? std::move(*message) : nullptr;
  }

  std::unique_ptr<avro::Datum> compile(int id) {
    auto schema = registry->schema_by_id(id);
    if (!schema || schema->type != kAvroSchemaType) return nullptr;
    bool bare = false;
    const std::string text = avro::as_record(schema->schema, "V", &bare);
    wrapped[id] = bare;
    auto columns = avro::columns_of(text);
    if (!columns) return nullptr;
    auto datum = avro::Datum::make(text, *columns);
    return datum ? std::move(*datum) : nullptr;
  }
};

namespace {

// The bytes read in base format `base`, or nullopt when they cannot be.
std::optional<std::string> read_base(int base, std::string_view b,
                                     RecordFormatter::RegistryReader* registry) {
  switch (base) {
    case kAvro:
      return registry ? registry->read(b) : std::nullopt;
    case kProtobuf:
      return registry ? registry->read_protobuf(b) : std::nullopt;
    case kJsonSr:
      return registry ? registry->read_json(b) : std::nullopt;
    case 3: {  // JSON: text that parses (shown as written)
      if (b.empty() || !utf8(b) || !nlohmann::json::accept(b)) return std::nullopt;
      return std::string(b);
    }
    case 4:  // KAFKA_STRING: UTF-8 text without control characters but tab and newlines
      if (b.empty() || !utf8(b)) return std::nullopt;
      for (char ch : b) {
        const auto u = static_cast<unsigned char>(ch);
        if ((u < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || u == 0x7f) return std::nullopt;
      }
      return std::string(b);
    case 5:  // KAFKA_INT
      if (b.size() != 4) return std::nullopt;
      return std::to_string(static_cast<int32_t>(static_cast<uint32_t>(big_endian(b.data(), 4))));
    case 6:  // KAFKA_BIGINT
      if (b.size() != 8) return std::nullopt;
      return std::to_string(static_cast<int64_t>(big_endian(b.data(), 8)));
    default: {  // KAFKA_DOUBLE
      if (b.size() != 8) return std::nullopt;
      const uint64_t bits = big_endian(b.data(), 8);
      double d;
      std::memcpy(&d, &bits, sizeof d);
      return nlohmann::json(d).dump();
    }
  }
}

bool plausible(int64_t ms) { return ms >= 0 && ms <= kLatestPlausibleMs; }

std::optional<std::string> read(int base, int window, std::string_view b,
                                RecordFormatter::RegistryReader* registry) {
  if (window == 0) return read_base(base, b, registry);
  if (window == 1) {  // SESSION: inner, end, start
    if (b.size() < 17) return std::nullopt;
    const auto end = static_cast<int64_t>(big_endian(b.data() + b.size() - 16, 8));
    const auto start = static_cast<int64_t>(big_endian(b.data() + b.size() - 8, 8));
    if (!plausible(start) || !plausible(end) || end < start) return std::nullopt;
    auto inner = read_base(base, b.substr(0, b.size() - 16), registry);
    if (!inner) return std::nullopt;
    return "[" + *inner + "@" + std::to_string(start) + "/" + std::to_string(end) + "]";
  }
  // HOPPING, TUMBLING: inner, start
  if (b.size() < 9) return std::nullopt;
  const auto start = static_cast<int64_t>(big_endian(b.data() + b.size() - 8, 8));
  if (!plausible(start)) return std::nullopt;
  auto inner = read_base(base, b.substr(0, b.size() - 8), registry);
  if (!inner) return std::nullopt;
  return "[" + *inner + "@" + std::to_string(start) + "/-]";
}

}  // namespace

RecordFormatter::RecordFormatter(Part part) {
  if (auto registry = schema_registry()) {
    registry_ = std::make_unique<RegistryReader>();
    registry_->registry = std::move(registry);
  }
  for (int base = registry_ ? 0 : kRegistryBases; base < kBases; ++base) {
    if (part == Part::Key) {
      for (int w = 1; w <= 3; ++w)
        candidates_.push_back(
            Candidate{std::string(kWindowNames[w]) + "(" + kBaseNames[base] + ")", base, w});
    }
    candidates_.push_back(Candidate{kBaseNames[base], base, 0});
  }
}

std::string RecordFormatter::format(std::optional<std::string_view> bytes) {
  if (!bytes) return "<null>";
  seen_ = true;
  std::optional<std::string> first;
  std::vector<Candidate> left;
  for (const Candidate& c : candidates_) {
    auto text = read(c.base, c.window, *bytes, registry_.get());
    if (!text) continue;
    if (!first) first = std::move(text);
    left.push_back(c);
  }
  if (!first) {  // as Kafka's Bytes prints them: printable ASCII, else \xNN
    std::string out;
    for (char ch : *bytes) {
      const auto u = static_cast<unsigned char>(ch);
      if (u >= 0x20 && u < 0x7f && ch != '\\') {
        out += ch;
      } else {
        char hex[5];
        std::snprintf(hex, sizeof hex, "\\x%02X", u);
        out += hex;
      }
    }
    return out;
  }
  candidates_ = std::move(left);
  return *first;
}

std::vector<std::string> RecordFormatter::possible_formats() const {
  std::vector<std::string> out;
  if (!seen_) return out;
  for (const Candidate& c : candidates_) out.push_back(c.name);
  return out;
}

std::string RecordFormatter::describe() const {
  if (!seen_) return "no data processed";
  std::string out;
  for (const Candidate& c : candidates_) out += (out.empty() ? "" : " or ") + c.name;
  return out;
}

RecordFormatter::~RecordFormatter() = default;

std::string format_rowtime(int64_t timestamp_ms) {
  if (timestamp_ms < 0) return "N/A";
  const std::time_t seconds = static_cast<std::time_t>(timestamp_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  std::strftime(text, sizeof text, "%Y/%m/%d %H:%M:%S", &utc);
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03d Z", static_cast<int>(timestamp_ms % 1000));
  return std::string(text) + millis;
}

}  // namespace rivulet::connectors
