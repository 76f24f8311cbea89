#pragma once
// Helpers shared by the operators tests: a tiny codec with known behaviour,
// record builders, and struct values.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "operators/processor.hpp"
#include "operators/serdes.hpp"
#include "operators/stateless_nodes.hpp"
#include "runtime/codec.hpp"

namespace rivulet::test {

// Strings as their UTF-8 bytes. Decoding "BAD" fails; encoding anything but
// a string or a number fails. Counts its instances (codec ownership tests).
class TextCodec final : public Codec {
 public:
  static inline int instances = 0;
  TextCodec() { ++instances; }
  ~TextCodec() override { --instances; }
  Expected<Value> decode(std::string_view bytes) const override {
    if (bytes == "BAD") return Error::data("undecodable text");
    return Value::string(std::string(bytes));
  }
  Expected<std::string> encode(const Value& v) const override {
    if (v.kind() == TypeKind::String) return v.as_string();
    if (v.is_numeric()) return v.to_string();
    return Error::data(std::string("cannot encode a ") + type_kind_name(v.kind()) + " as text");
  }
};

inline CodecFactory text_codec() {
  return [] { return std::unique_ptr<Codec>(std::make_unique<TextCodec>()); };
}
inline Serdes text_serdes() {
  return Serdes{text_codec(), text_codec()};
}

inline Value S(std::string s) {
  return Value::string(std::move(s));
}
inline Value I(int64_t v) {
  return Value::int64(v);
}
inline Value D(const char* text) {
  return Value::decimal(*Decimal::parse(text));
}

// A struct record's field (NULL when absent), as an aggregate's input.
inline ValueFn field(const char* name) {
  return [name](const Record& r) {
    const Value* v = r.value.field(name);
    return v ? *v : Value();
  };
}

inline Value row(std::vector<std::pair<std::string, Value>> fields) {
  StructFields f;
  for (auto& [n, v] : fields) f.push_back(Field{n, std::move(v)});
  return Value::structure(std::move(f));
}

inline Record record(Value key, Value value, TimestampMs ts = 0, int64_t offset = 0,
                     std::string topic = "in") {
  Record r;
  r.key = std::move(key);
  r.value = std::move(value);
  r.timestamp = ts;
  r.source.topic = std::move(topic);
  r.source.partition = PartitionId{0};
  r.source.offset = Offset{offset};
  return r;
}

inline RawRecord raw(int64_t offset, std::optional<std::string> key,
                     std::optional<std::string> value, TimestampMs ts = 0) {
  RawRecord r;
  r.offset = offset;
  r.timestamp = ts;
  r.key = std::move(key);
  r.value = std::move(value);
  return r;
}

// A processor that keeps every batch it receives (the end of a test DAG).
class Collect final : public Processor {
 public:
  Collect() : Processor("collect") {}
  void process(Batch& batch, ProcessContext&) override {
    for (auto& r : batch) records.push_back(r);
    ++batches;
  }
  std::vector<Record> records;
  int batches = 0;
};

}  // namespace rivulet::test
