// libFuzzer target over the record codecs: what a Kafka record's key or
// value may hold is anyone's bytes, and a bad one must be a Data error,
// never a crash, a hang or an exception (runtime/codec.hpp).
//
// The first byte picks the decoder, the rest is its input:
//   0  JSON, schemaless
//   1  JSON with a schema of every column type
//   2  the same, only some columns decoded (the planner's column pruning)
//   3  DELIMITED with that schema's scalar columns
//   4  KAFKA, one primitive type per input (the second byte picks it)
//   5  msgpack (internal topics and checkpoints)
//   6  PRINT's format guesses (connectors/record_formatter.hpp): records
//      of a topic, each a length byte (255: null) then its bytes, shown as
//      keys and as values
//   7  PROTOBUF_NOSR with the value columns of the schema of case 1
//   8  AVRO in the schema registry's wire format (a registry in memory
//      holding the schema ksqlDB would register for those columns): the
//      input follows the 5-byte prefix of that schema's id
//   9  PROTOBUF in the wire format: the input follows the prefix, so it
//      begins with the message indexes
//  10  JSON_SR in the wire format: the input follows the prefix
//
// Besides never crashing, it checks what the codecs promise once a decode
// succeeds: the value goes through msgpack unchanged, it encodes, and that
// encoding reads back to an equal value (JSON, JSON_SR and msgpack
// losslessly; DELIMITED and KAFKA to the same value under the same schema),
// and a column not decoded comes out NULL with the same verdict as a
// decoded one. Avro and protobuf read what a schema allows into the
// columns' types (a proto3 scalar that is absent reads as its default, not
// NULL; a decimal is rounded to the column's scale), so there a decoded
// value need not read back equal; but it encodes, or is refused with a
// Data error (protobuf cannot hold a NULL inside an ARRAY), and what reads
// back from its encoding reads back unchanged through another encode. Built only with Clang (see
// runtime/README.md for how to run it).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/record_formatter.hpp"
#include "runtime/avro_wire.hpp"
#include "runtime/codec.hpp"
#include "runtime/json_sr_wire.hpp"
#include "runtime/msgpack_value.hpp"
#include "runtime/protobuf_wire.hpp"
#include "runtime/schema_registry.hpp"

namespace {

using namespace rivulet;

[[noreturn]] void fail(const char* what, std::string_view input) {
  std::fprintf(stderr, "codec_fuzzer: %s (input of %zu bytes)\n", what, input.size());
  std::abort();
}

std::shared_ptr<const Schema> full_schema() {
  auto s = std::make_shared<Schema>();
  s->columns = {
      {"ID", DataType::of(TypeKind::Int), true},
      {"B", DataType::of(TypeKind::Boolean)},
      {"I", DataType::of(TypeKind::Int)},
      {"L", DataType::of(TypeKind::BigInt)},
      {"D", DataType::of(TypeKind::Double)},
      {"DEC", DataType::decimal(10, 2)},
      {"S", DataType::of(TypeKind::String)},
      {"BY", DataType::of(TypeKind::Bytes)},
      {"TS", DataType::of(TypeKind::Timestamp)},
      {"DT", DataType::of(TypeKind::Date)},
      {"TM", DataType::of(TypeKind::Time)},
      {"A", DataType::array(DataType::of(TypeKind::BigInt))},
      {"M", DataType::map(DataType::of(TypeKind::String))},
      {"ST", DataType::structure({{"X", DataType::of(TypeKind::Int)},
                                  {"Y", DataType::array(DataType::decimal(4, 1))}})},
  };
  return s;
}

std::shared_ptr<const Schema> scalar_schema() {
  auto s = std::make_shared<Schema>();
  s->columns = {
      {"B", DataType::of(TypeKind::Boolean)}, {"I", DataType::of(TypeKind::Int)},
      {"L", DataType::of(TypeKind::BigInt)},  {"D", DataType::of(TypeKind::Double)},
      {"DEC", DataType::decimal(6, 3)},       {"S", DataType::of(TypeKind::String)},
      {"BY", DataType::of(TypeKind::Bytes)},  {"TS", DataType::of(TypeKind::Timestamp)},
      {"DT", DataType::of(TypeKind::Date)},   {"TM", DataType::of(TypeKind::Time)},
  };
  return s;
}

struct Codecs {
  std::unique_ptr<Codec> json = make_json_codec();
  std::unique_ptr<Codec> json_schema = make_json_codec(full_schema());
  // Every other value column decoded: B, L, DEC, BY, DT, A, ST.
  std::unique_ptr<Codec> json_pruned =
      make_json_codec(full_schema(), {true, false, true, false, true, false, true, false, true,
                                      false, true, false, true});
  std::unique_ptr<Codec> delimited = make_delimited_codec(scalar_schema());
  std::vector<std::unique_ptr<Codec>> kafka;
  Codecs() {
    for (auto k : {TypeKind::Int, TypeKind::BigInt, TypeKind::Double, TypeKind::String}) {
      kafka.push_back(make_kafka_codec(DataType::of(k)));
    }
  }
};

// The registry formats over the value columns of full_schema(), their
// schemas registered in a registry in memory when the fuzzer starts.
struct RegistryCodecs {
  std::shared_ptr<const Schema> values = value_columns_of(full_schema());
  std::shared_ptr<MemorySchemaRegistry> registry = std::make_shared<MemorySchemaRegistry>();
  std::unique_ptr<Codec> protobuf_nosr = make_protobuf_nosr_codec(values);
  std::unique_ptr<Codec> avro = make_avro_codec(values, registry, "avro-value");
  std::unique_ptr<Codec> protobuf = make_protobuf_codec(values, registry, "protobuf-value", "");
  std::unique_ptr<Codec> json_sr =
      make_json_sr_codec(make_json_codec(values), registry, "json-value",
                         json_schema::schema_for(values->columns), column_names(*values));
  std::string avro_prefix = prefix(register_value_schema(*registry, "avro-value", *values));
  std::string protobuf_prefix =
      prefix(register_protobuf_schema(*registry, "protobuf-value", *values, false, ""));
  std::string json_sr_prefix = prefix(register_json_value_schema(*registry, "json-value", *values));

  static std::shared_ptr<const Schema> value_columns_of(std::shared_ptr<const Schema> schema) {
    auto out = std::make_shared<Schema>();
    out->columns = schema->value_columns();
    return out;
  }
  static std::vector<std::string> column_names(const Schema& schema) {
    std::vector<std::string> out;
    for (const Column& c : schema.columns) out.push_back(c.name);
    return out;
  }
  static std::string prefix(const Expected<int>& id) {
    if (!id.ok()) {
      std::fprintf(stderr, "codec_fuzzer: registering a schema: %s\n", id.error().message.c_str());
      std::abort();
    }
    std::string out;
    append_wire_prefix(out, *id);
    return out;
  }
};

const RegistryCodecs& registry_codecs() {
  static const RegistryCodecs c;
  return c;
}

const Codecs& codecs() {
  static const Codecs c;
  return c;
}

// A decode's verdict: a value, or a Data error (anything else is a bug).
bool decoded(const Expected<Value>& r, std::string_view input) {
  if (r.ok()) return true;
  if (r.error().kind != ErrorKind::Data)
    fail("a decode failed with an error not of kind Data", input);
  return false;
}

// Encodes `v` with `codec` and decodes it back: it must come back equal
// (to `expected` when given). A decoded value must also go through msgpack,
// what internal topics and checkpoints hold (a JSON document nested deeper
// than msgpack's readers allow once went in and could not come back).
void round_trip(const Codec& codec, const Value& v, std::string_view input,
                const Value* expected = nullptr) {
  if (expected == nullptr) expected = &v;
  auto packed = from_msgpack(to_msgpack(v));
  if (!packed.ok() || !(*packed == v)) fail("a decoded value does not go through msgpack", input);
  auto bytes = codec.encode(v);
  if (!bytes.ok()) fail("a decoded value does not encode", input);
  auto back = codec.decode(*bytes);
  if (!back.ok()) fail("an encoded value does not decode", input);
  if (!(*back == *expected)) {
    std::fprintf(stderr, "decoded: %s\nencoded: %s\nread back: %s\n", v.to_string().c_str(),
                 bytes->c_str(), back->to_string().c_str());
    fail("a value changed through encode and decode", input);
  }
}

// Avro and protobuf (see the top): `v`, decoded from `input`, encodes or is
// refused with a Data error, and what its encoding reads back as settles:
// it encodes and reads back equal.
void settles(const Codec& codec, const Value& v, std::string_view input) {
  auto packed = from_msgpack(to_msgpack(v));
  if (!packed.ok() || !(*packed == v)) fail("a decoded value does not go through msgpack", input);
  auto bytes = codec.encode(v);
  if (!bytes.ok()) {
    if (bytes.error().kind != ErrorKind::Data)
      fail("an encode failed with an error not of kind Data", input);
    return;
  }
  auto once = codec.decode(*bytes);
  if (!once.ok()) fail("an encoded value does not decode", input);
  round_trip(codec, *once, input);
}

// A registry format's record: `input` after `prefix` (the wire format's
// 5 bytes), decoded by `codec`; then read back equal (`exact`) or settled.
void fuzz_prefixed(const Codec& codec, const std::string& prefix, std::string_view input,
                   bool exact) {
  const std::string bytes = prefix + std::string(input);
  auto v = codec.decode(bytes);
  if (!decoded(v, bytes)) return;
  if (exact)
    round_trip(codec, *v, bytes);
  else
    settles(codec, *v, bytes);
}

// DELIMITED writes an empty string (or empty BYTES) as ksqlDB's writer
// does: an empty field, which reads as NULL, except in the first column,
// where it is quoted. What a decoded row is expected to read back as.
Value delimited_read_back(const Value& row) {
  StructFields fields = row.as_struct();
  for (size_t i = 1; i < fields.size(); ++i) {
    const Value& f = fields[i].value;
    const bool empty = (f.kind() == TypeKind::String && f.as_string().empty()) ||
                       (f.kind() == TypeKind::Bytes && f.as_bytes().empty());
    if (empty) fields[i].value = Value();
  }
  return Value::structure(std::move(fields));
}

void fuzz_json_pruned(const Codecs& c, std::string_view input) {
  auto full = c.json_schema->decode(input);
  auto pruned = c.json_pruned->decode(input);
  const bool full_ok = decoded(full, input);
  if (full_ok != decoded(pruned, input)) {
    fail("pruned and full decodes disagree on whether a record is good", input);
  }
  if (!full_ok) return;
  const auto& a = full->as_struct();
  const auto& b = pruned->as_struct();
  if (a.size() != b.size()) fail("pruned and full decodes have different columns", input);
  for (size_t i = 0; i < a.size(); ++i) {
    const bool kept = i % 2 == 0;
    if (kept ? !(a[i].value == b[i].value) : !b[i].value.is_null()) {
      fail("a pruned column is wrong", input);
    }
  }
}

// PRINT shows a topic's records in the formats every record so far could
// have been written in: whatever the bytes, each is shown (as nothing
// only when empty), and the formats still possible only ever
// lose members, in their order.
void fuzz_print(std::string_view input) {
  using connectors::RecordFormatter;
  RecordFormatter keys(RecordFormatter::Part::Key);
  RecordFormatter values(RecordFormatter::Part::Value);
  std::vector<std::string> key_formats;
  std::vector<std::string> value_formats;
  auto still_possible = [&](const RecordFormatter& f, std::vector<std::string>& before) {
    std::vector<std::string> now = f.possible_formats();
    if (!before.empty()) {
      size_t i = 0;  // `now` must be a subsequence of `before`
      for (const auto& name : now) {
        while (i < before.size() && before[i] != name) ++i;
        if (i == before.size()) fail("a format struck out came back", input);
        ++i;
      }
    }
    if (f.describe().empty()) fail("no description of the formats", input);
    if (!now.empty()) before = std::move(now);
  };
  size_t at = 0;
  while (at < input.size()) {
    const auto length = static_cast<uint8_t>(input[at++]);
    std::optional<std::string_view> bytes;
    if (length != 255) {
      bytes = input.substr(at, length);
      at += bytes->size();
    }
    const std::string as_key = keys.format(bytes);
    const std::string as_value = values.format(bytes);
    if ((as_key.empty() || as_value.empty()) && (!bytes || !bytes->empty()))
      fail("a record shown as nothing", input);
    still_possible(keys, key_formats);
    still_possible(values, value_formats);
    if (bytes && bytes->size() >= 8) {
      int64_t t = 0;
      std::memcpy(&t, bytes->data(), sizeof t);
      if (connectors::format_rowtime(t).empty()) fail("an empty rowtime", input);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Codecs& c = codecs();
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 11) {
    case 0: {
      auto r = c.json->decode(input);
      if (decoded(r, input)) round_trip(*c.json, *r, input);
      break;
    }
    case 1: {
      auto r = c.json_schema->decode(input);
      if (decoded(r, input)) round_trip(*c.json_schema, *r, input);
      break;
    }
    case 2:
      fuzz_json_pruned(c, input);
      break;
    case 3: {
      auto r = c.delimited->decode(input);
      if (decoded(r, input)) {
        const Value expected = delimited_read_back(*r);
        round_trip(*c.delimited, *r, input, &expected);
      }
      break;
    }
    case 4: {
      if (input.empty()) break;
      const Codec& k = *c.kafka[static_cast<uint8_t>(input[0]) % c.kafka.size()];
      const std::string_view bytes = input.substr(1);
      auto r = k.decode(bytes);
      if (decoded(r, bytes)) round_trip(k, *r, bytes);
      break;
    }
    case 6:
      fuzz_print(input);
      break;
    case 7: {
      const RegistryCodecs& r = registry_codecs();
      auto v = r.protobuf_nosr->decode(input);
      if (decoded(v, input)) settles(*r.protobuf_nosr, *v, input);
      break;
    }
    case 8:
      fuzz_prefixed(*registry_codecs().avro, registry_codecs().avro_prefix, input, false);
      break;
    case 9:
      fuzz_prefixed(*registry_codecs().protobuf, registry_codecs().protobuf_prefix, input, false);
      break;
    case 10:
      fuzz_prefixed(*registry_codecs().json_sr, registry_codecs().json_sr_prefix, input, true);
      break;
    default: {
      auto r = from_msgpack(input);
      if (decoded(r, input)) {
        // msgpack is what checkpoints hold: it must be lossless, kinds included.
        auto back = from_msgpack(to_msgpack(*r));
        if (!back.ok() || !(*back == *r) || back->kind() != r->kind()) {
          std::fprintf(stderr, "decoded: %s (%s)\nread back: %s (%s)\n", r->to_string().c_str(),
                       type_kind_name(r->kind()),
                       back.ok() ? back->to_string().c_str() : back.error().message.c_str(),
                       back.ok() ? type_kind_name(back->kind()) : "error");
          fail("msgpack did not round-trip a value it decoded", input);
        }
      }
      break;
    }
  }
  return 0;
}
