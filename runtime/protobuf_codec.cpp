// Protobuf binary <-> Value on libprotobuf's DynamicMessage. Four pieces:
//  - `load_schema` parses the .proto text with libprotoc's Parser into a
//    FileDescriptorProto and builds it, and the files it imports, in a
//    DescriptorPool of its own. Before building, every `string` field of
//    the data files becomes `bytes` (the same bytes on the wire) and every
//    map entry message a plain nested message (`repeated XEntry`, again the
//    same bytes): libprotobuf then never checks UTF-8 itself (it logs to
//    stderr when it does) and keeps map entries in their order on the wire;
//    this file checks the text (`Schema::text_fields`) and reads the maps;
//  - `SqlTypes` maps a message to SQL columns (columns_of);
//  - `PlanCompiler` makes a `MessagePlan` once per (message, columns), which
//    `Reader` follows to turn a parsed DynamicMessage into the engine's Values;
//  - `Writer` fills a DynamicMessage from a row, for SerializeToString;
//  and `SchemaWriter` writes the .proto text of schema_for.
#include "runtime/protobuf_codec.hpp"

#include <google/protobuf/compiler/parser.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/stubs/strutil.h>
#include <google/protobuf/unknown_field_set.h>

#include <algorithm>
#include <cfloat>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "runtime/ascii.hpp"

namespace rivulet::protobuf {

namespace {

namespace pb = google::protobuf;
using FD = pb::FieldDescriptor;

// How deep the walks over a schema may go (types nest in a .proto as deep
// as the text says; the walks below recurse over them).
constexpr int kMaxSchemaDepth = 1000;
constexpr int64_t kMillisPerDay = 86'400'000;
// google.protobuf.Timestamp's range, as Java's Timestamps checks it:
// 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
constexpr int64_t kMinTimestampSeconds = -62'135'596'800;
constexpr int64_t kMaxTimestampSeconds = 253'402'300'799;
// confluent/meta.proto's extension number for field_meta (and the others).
constexpr int kMetaExtension = 1088;
const std::string kSchemaFile = "rivulet_schema.proto";

// --- Bundled .proto files ----------------------------------------------------
// Written from their public definitions: Confluent's meta.proto and
// decimal.proto (schema-registry's protobuf-provider), and google.type's
// date.proto and timeofday.proto (googleapis), which libprotobuf does not
// carry.

const char kMetaProto[] = R"(syntax = "proto3";
package confluent;

import "google/protobuf/descriptor.proto";

option go_package = "../confluent";
option java_package = "io.confluent.protobuf";
option java_outer_classname = "MetaProto";

message Meta {
  string doc = 1;
  map<string, string> params = 2;
  repeated string tags = 3;
}

extend google.protobuf.FileOptions { Meta file_meta = 1088; }
extend google.protobuf.MessageOptions { Meta message_meta = 1088; }
extend google.protobuf.FieldOptions { Meta field_meta = 1088; }
extend google.protobuf.EnumOptions { Meta enum_meta = 1088; }
extend google.protobuf.EnumValueOptions { Meta enum_value_meta = 1088; }
)";

const char kDecimalProto[] = R"(syntax = "proto3";
package confluent.type;

option go_package = "../type";
option java_package = "io.confluent.protobuf.type";
option java_outer_classname = "DecimalProto";

// An arbitrary precision decimal: value * 10^-scale.
message Decimal {
  // The unscaled value: big-endian two's complement, as Java's BigInteger.toByteArray.
  bytes value = 1;
  uint32 precision = 2;
  int32 scale = 3;
}
)";

const char kDateProto[] = R"(syntax = "proto3";
package google.type;

option cc_enable_arenas = true;
option go_package = "google.golang.org/genproto/googleapis/type/date;date";
option java_multiple_files = true;
option java_outer_classname = "DateProto";
option java_package = "com.google.type";
option objc_class_prefix = "GTP";

// A whole or partial calendar date (Gregorian).
message Date {
  int32 year = 1;   // 1 to 9999, or 0 for a date without a year
  int32 month = 2;  // 1 to 12, or 0 for a year alone
  int32 day = 3;    // 1 to 31, or 0 for a year and month alone
}
)";

const char kTimeOfDayProto[] = R"(syntax = "proto3";
package google.type;

option cc_enable_arenas = true;
option go_package = "google.golang.org/genproto/googleapis/type/timeofday;timeofday";
option java_multiple_files = true;
option java_outer_classname = "TimeOfDayProto";
option java_package = "com.google.type";
option objc_class_prefix = "GTP";

// A time of day; the date and time zone are either not significant or are
// specified elsewhere.
message TimeOfDay {
  int32 hours = 1;    // 0 to 23 (24 may mean the end of the day)
  int32 minutes = 2;  // 0 to 59
  int32 seconds = 3;  // 0 to 59 (60 may be a leap second)
  int32 nanos = 4;    // 0 to 999,999,999
}
)";

const std::vector<std::pair<std::string, std::string>>& bundled() {
  static const std::vector<std::pair<std::string, std::string>> files = {
      {"confluent/meta.proto", kMetaProto},
      {"confluent/type/decimal.proto", kDecimalProto},
      {"google/type/date.proto", kDateProto},
      {"google/type/timeofday.proto", kTimeOfDayProto},
  };
  return files;
}

const std::string* bundled_text(const std::string& name) {
  for (const auto& [path, text] : bundled()) {
    if (path == name) return &text;
  }
  return nullptr;
}

// Error messages quote a value, but never a megabyte of it.
std::string excerpt(std::string text) {
  if (text.size() > 64) text = text.substr(0, 61) + "...";
  return text;
}

std::string path_prefix(const std::string& path) {
  return path.empty() ? std::string("top level: ") : "field " + path + ": ";
}

std::string join_path(const std::string& path, std::string_view name) {
  return path.empty() ? std::string(name) : path + "." + std::string(name);
}

// Strict UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF), as Java's protobuf runtime checks proto3 strings.
bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += len;
  }
  return true;
}

// --- Loading a schema ---------------------------------------------------------

class ParseErrors : public pb::io::ErrorCollector {
 public:
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    if (++count_ > 3) return;
    if (!text_.empty()) text_ += "; ";
    text_ += "line " + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
  }
  bool any() const { return count_ > 0; }
  const std::string& text() const { return text_; }

 private:
  int count_ = 0;
  std::string text_;
};

class BuildErrors : public pb::DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string& filename, const std::string& element_name,
                const pb::Message* descriptor, ErrorLocation location,
                const std::string& message) override {
    if (++count_ > 3) return;
    if (!text_.empty()) text_ += "; ";
    if (!element_name.empty()) text_ += element_name + ": ";
    text_ += message;
  }
  const std::string& text() const { return text_; }

 private:
  int count_ = 0;
  std::string text_;
};

struct Schema {
  std::unique_ptr<pb::DescriptorPool> pool;
  const pb::FileDescriptor* file = nullptr;
  // The `string` fields built as `bytes`.
  std::unordered_set<const FD*> text_fields;
  // The entry messages of map<K, V> fields, built as plain messages. Not
  // messages of the schema as Confluent counts them (its message indexes
  // skip them: its parser keeps map fields as maps).
  std::unordered_set<const pb::Descriptor*> map_entries;
  // Decimal fields' DECIMAL(p, s) from their field meta (null: none usable),
  // as the writer needs them per value.
  mutable std::unordered_map<const FD*, DataTypePtr> decimal_types;
  // special_of, as the writer needs it per value.
  mutable std::unordered_map<const pb::Descriptor*, uint8_t> specials;

  bool is_text(const FD* f) const {
    return f->type() == FD::TYPE_STRING ||
           (f->type() == FD::TYPE_BYTES && text_fields.count(f) > 0);
  }
};

std::optional<Error> parse_proto(std::string_view text, const std::string& name,
                                 pb::FileDescriptorProto* out) {
  if (text.size() > static_cast<size_t>(INT_MAX)) {
    return Error::fatal("protobuf schema " + name + " is larger than 2 GiB");
  }
  pb::io::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
  ParseErrors errors;
  pb::io::Tokenizer tokenizer(&input, &errors);
  pb::compiler::Parser parser;
  parser.RecordErrorsTo(&errors);
  // The parser logs a missing `syntax` to stderr as well.
  pb::LogSilencer quiet;
  const bool ok = parser.Parse(&tokenizer, out);
  if (!ok || errors.any()) {
    const std::string what = errors.text().empty() ? std::string("cannot parse") : errors.text();
    return Error::fatal("invalid protobuf schema" +
                        (name == kSchemaFile ? std::string() : " " + name) + ": " + what);
  }
  out->set_name(name);
  return std::nullopt;
}

// What transform_message rewrote, by full name.
struct Rewritten {
  std::vector<std::string> text_fields;
  std::vector<std::string> map_entries;
};

// Rewrites a message of a data file (see the top).
void transform_message(pb::DescriptorProto& m, const std::string& scope, Rewritten& rewritten) {
  const std::string full = scope.empty() ? m.name() : scope + "." + m.name();
  if (m.has_options() && m.options().map_entry()) {
    m.mutable_options()->clear_map_entry();
    rewritten.map_entries.push_back(full);
  }
  for (auto& f : *m.mutable_field()) {
    if (f.has_type() && f.type() == pb::FieldDescriptorProto::TYPE_STRING) {
      f.set_type(pb::FieldDescriptorProto::TYPE_BYTES);
      // A bytes default is C-escaped; a string default is not.
      if (f.has_default_value()) f.set_default_value(pb::CEscape(f.default_value()));
      rewritten.text_fields.push_back(full + "." + f.name());
    }
  }
  for (auto& nested : *m.mutable_nested_type()) transform_message(nested, full, rewritten);
}

// Whether an option anywhere in the file is one of Confluent's
// (confluent.field_meta, ...).
bool uses_confluent_options(const pb::RepeatedPtrField<pb::UninterpretedOption>& options) {
  for (const auto& o : options) {
    if (o.name_size() > 0 && o.name(0).is_extension() &&
        o.name(0).name_part().rfind("confluent.", 0) == 0) {
      return true;
    }
  }
  return false;
}

bool uses_confluent_options(const pb::DescriptorProto& m) {
  if (uses_confluent_options(m.options().uninterpreted_option())) return true;
  for (const auto& f : m.field()) {
    if (uses_confluent_options(f.options().uninterpreted_option())) return true;
  }
  for (const auto& e : m.enum_type()) {
    if (uses_confluent_options(e.options().uninterpreted_option())) return true;
    for (const auto& v : e.value()) {
      if (uses_confluent_options(v.options().uninterpreted_option())) return true;
    }
  }
  for (const auto& n : m.nested_type()) {
    if (uses_confluent_options(n)) return true;
  }
  return false;
}

bool uses_confluent_options(const pb::FileDescriptorProto& file) {
  if (uses_confluent_options(file.options().uninterpreted_option())) return true;
  for (const auto& m : file.message_type()) {
    if (uses_confluent_options(m)) return true;
  }
  for (const auto& e : file.enum_type()) {
    if (uses_confluent_options(e.options().uninterpreted_option())) return true;
  }
  return false;
}

class Loader {
 public:
  Loader(Schema& schema, const ProtoFiles& imports) : schema_(schema), imports_(imports) {}

  // Builds `file` after its imports. Data files' strings and map entries are
  // rewritten (above); descriptor.proto and meta.proto, which only options
  // use, are built as they are.
  Expected<const pb::FileDescriptor*> build(pb::FileDescriptorProto file, int depth) {
    if (depth > 16) return Error::fatal("protobuf schema: imports nested too deeply");
    for (const auto& dependency : file.dependency()) {
      if (auto e = ensure(dependency, file.name(), depth + 1)) return *e;
    }
    Rewritten rewritten;
    if (file.name() != "google/protobuf/descriptor.proto" &&
        file.name() != "confluent/meta.proto") {
      for (auto& m : *file.mutable_message_type()) transform_message(m, file.package(), rewritten);
    }
    BuildErrors errors;
    const pb::FileDescriptor* built = schema_.pool->BuildFileCollectingErrors(file, &errors);
    if (!built) {
      return Error::fatal("invalid protobuf schema" +
                          (file.name() == kSchemaFile ? std::string() : " " + file.name()) + ": " +
                          (errors.text().empty() ? "cannot build it" : errors.text()));
    }
    for (const auto& name : rewritten.text_fields) {
      if (const FD* f = schema_.pool->FindFieldByName(name)) schema_.text_fields.insert(f);
    }
    for (const auto& name : rewritten.map_entries) {
      if (const pb::Descriptor* d = schema_.pool->FindMessageTypeByName(name)) {
        schema_.map_entries.insert(d);
      }
    }
    return built;
  }

 private:
  std::optional<Error> ensure(const std::string& name, const std::string& importer, int depth) {
    if (schema_.pool->FindFileByName(name)) return std::nullopt;
    pb::FileDescriptorProto file;
    const auto given = std::find_if(imports_.begin(), imports_.end(),
                                    [&](const auto& f) { return f.first == name; });
    if (given != imports_.end()) {  // a schema reference's
      if (auto e = parse_proto(given->second, name, &file)) return e;
    } else if (const std::string* text = bundled_text(name)) {
      if (auto e = parse_proto(*text, name, &file)) return e;
    } else if (const pb::FileDescriptor* generated =
                   pb::DescriptorPool::generated_pool()->FindFileByName(name)) {
      generated->CopyTo(&file);
    } else {
      std::string known;
      for (const auto& [path, text] : bundled()) known += ", " + path;
      return Error::fatal("protobuf schema: import \"" + name + "\"" +
                          (importer == kSchemaFile ? std::string() : " of " + importer) +
                          " is not available (not among the schema's references; the "
                          "other imports known are google/protobuf/*.proto" +
                          known + ")");
    }
    auto built = build(std::move(file), depth);
    if (!built) return built.error();
    return std::nullopt;
  }

  Schema& schema_;
  const ProtoFiles& imports_;
};

Expected<std::unique_ptr<Schema>> load_schema(std::string_view text, const ProtoFiles& imports) {
  auto schema = std::make_unique<Schema>();
  schema->pool = std::make_unique<pb::DescriptorPool>();
  pb::FileDescriptorProto file;
  if (auto e = parse_proto(text, kSchemaFile, &file)) return *e;
  // Confluent's printer writes (confluent.field_meta) options without
  // importing the file that defines them.
  if (uses_confluent_options(file) &&
      std::find(file.dependency().begin(), file.dependency().end(), "confluent/meta.proto") ==
          file.dependency().end()) {
    file.add_dependency("confluent/meta.proto");
  }
  Loader loader(*schema, imports);
  auto built = loader.build(std::move(file), 0);
  if (!built) return built.error();
  schema->file = *built;
  return schema;
}

// The message `full_name` names (with or without the file's package), or
// the file's first message.
Expected<const pb::Descriptor*> find_message(const Schema& schema, std::string_view full_name) {
  const pb::FileDescriptor* file = schema.file;
  if (full_name.empty()) {
    if (file->message_type_count() == 0) {
      return Error::fatal("protobuf schema has no message");
    }
    return file->message_type(0);
  }
  const std::string name(full_name);
  const pb::Descriptor* d = schema.pool->FindMessageTypeByName(name);
  if (!d && !file->package().empty()) {
    d = schema.pool->FindMessageTypeByName(file->package() + "." + name);
  }
  if (!d || d->file() != file) {
    return Error::fatal("protobuf schema has no message \"" + name + "\"");
  }
  return d;
}

// A message's place among its siblings as Confluent counts them: the
// messages declared (map<K, V>'s entries left out).
int confluent_index(const Schema& schema, const pb::Descriptor* d) {
  const pb::Descriptor* parent = d->containing_type();
  if (!parent) return d->index();
  int index = 0;
  for (int i = 0; i < d->index(); ++i) {
    if (!schema.map_entries.count(parent->nested_type(i))) ++index;
  }
  return index;
}

std::vector<int> indexes_of(const Schema& schema, const pb::Descriptor* d) {
  std::vector<int> out;
  for (; d; d = d->containing_type()) out.push_back(confluent_index(schema, d));
  std::reverse(out.begin(), out.end());
  return out;
}

std::string indexes_text(const std::vector<int>& indexes) {
  std::string out = "[";
  for (size_t i = 0; i < indexes.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(indexes[i]);
  }
  return out + "]";
}

Expected<const pb::Descriptor*> message_at(const Schema& schema, const std::vector<int>& indexes) {
  const pb::FileDescriptor* file = schema.file;
  if (indexes.empty()) {
    if (file->message_type_count() == 0) return Error::data("protobuf schema has no message");
    return file->message_type(0);
  }
  const pb::Descriptor* d = nullptr;
  for (const int index : indexes) {
    const pb::Descriptor* next = nullptr;
    if (!d) {
      if (index >= 0 && index < file->message_type_count()) next = file->message_type(index);
    } else {
      int seen = 0;
      for (int i = 0; i < d->nested_type_count() && !next; ++i) {
        const pb::Descriptor* nested = d->nested_type(i);
        if (schema.map_entries.count(nested)) continue;
        if (seen++ == index) next = nested;
      }
    }
    if (!next) {
      return Error::data("message indexes " + indexes_text(indexes) +
                         " locate no message of the schema");
    }
    d = next;
  }
  return d;
}

// --- What a field holds ---------------------------------------------------------

enum class Special : uint8_t { None, Timestamp, Date, TimeOfDay, Decimal, Wrapper };

// Whether m's field `number` is there, singular, of this C++ type.
bool has_field(const pb::Descriptor* m, int number, FD::CppType type) {
  const FD* f = m->FindFieldByNumber(number);
  return f && !f->is_repeated() && f->cpp_type() == type;
}

// The well-known messages ksqlDB reads as SQL scalars, by full name and with
// the fields they should have (a schema may declare a message of the same
// name itself: one of another shape is read as a plain message, since
// reading a field as the wrong type would abort in libprotobuf).
Special special_of(const pb::Descriptor* m) {
  const std::string& n = m->full_name();
  if (n == "google.protobuf.Timestamp") {
    return has_field(m, 1, FD::CPPTYPE_INT64) && has_field(m, 2, FD::CPPTYPE_INT32)
               ? Special::Timestamp
               : Special::None;
  }
  if (n == "google.type.Date") {
    return has_field(m, 1, FD::CPPTYPE_INT32) && has_field(m, 2, FD::CPPTYPE_INT32) &&
                   has_field(m, 3, FD::CPPTYPE_INT32)
               ? Special::Date
               : Special::None;
  }
  if (n == "google.type.TimeOfDay") {
    return has_field(m, 1, FD::CPPTYPE_INT32) && has_field(m, 2, FD::CPPTYPE_INT32) &&
                   has_field(m, 3, FD::CPPTYPE_INT32) && has_field(m, 4, FD::CPPTYPE_INT32)
               ? Special::TimeOfDay
               : Special::None;
  }
  if (n == "confluent.type.Decimal") {
    return has_field(m, 1, FD::CPPTYPE_STRING) && has_field(m, 2, FD::CPPTYPE_UINT32) &&
                   has_field(m, 3, FD::CPPTYPE_INT32)
               ? Special::Decimal
               : Special::None;
  }
  if (n == "google.protobuf.BoolValue" || n == "google.protobuf.Int32Value" ||
      n == "google.protobuf.UInt32Value" || n == "google.protobuf.Int64Value" ||
      n == "google.protobuf.UInt64Value" || n == "google.protobuf.FloatValue" ||
      n == "google.protobuf.DoubleValue" || n == "google.protobuf.StringValue" ||
      n == "google.protobuf.BytesValue") {
    const FD* value = m->FindFieldByNumber(1);
    return value && !value->is_repeated() && value->cpp_type() != FD::CPPTYPE_MESSAGE &&
                   value->cpp_type() != FD::CPPTYPE_ENUM
               ? Special::Wrapper
               : Special::None;
  }
  return Special::None;
}

Special cached_special(const Schema& schema, const pb::Descriptor* m) {
  auto it = schema.specials.find(m);
  if (it == schema.specials.end()) {
    it = schema.specials.emplace(m, static_cast<uint8_t>(special_of(m))).first;
  }
  return static_cast<Special>(it->second);
}

// A map entry, ProtobufData's way: a message named ...Entry holding just
// `key` and `value` (what map<K, V> compiles to, and what Confluent writes
// for a MAP). Unlike ProtobufData, a repeated `value` is allowed (a MAP of
// ARRAYs or of MAPs, which schema_for writes that way).
bool is_map_entry(const pb::Descriptor* m) {
  const std::string& name = m->name();
  return name.size() > 5 && name.compare(name.size() - 5, 5, "Entry") == 0 &&
         m->field_count() == 2 && m->field(0)->name() == "key" && m->field(1)->name() == "value" &&
         !m->field(0)->is_repeated();
}

bool is_map_field(const FD* f) {
  return f->is_repeated() && f->type() == FD::TYPE_MESSAGE && is_map_entry(f->message_type());
}

// A field of a proto3 `optional`: presence kept in a synthetic oneof.
bool is_proto3_optional(const FD* f) {
  return f->containing_oneof() != nullptr && f->real_containing_oneof() == nullptr;
}

std::string type_text(const Schema& schema, const FD* f) {
  switch (f->type()) {
    case FD::TYPE_MESSAGE:
      return "message \"" + f->message_type()->full_name() + "\"";
    case FD::TYPE_GROUP:
      return "group \"" + f->message_type()->full_name() + "\"";
    case FD::TYPE_ENUM:
      return "enum \"" + f->enum_type()->full_name() + "\"";
    default:
      return schema.is_text(f) ? "string" : f->type_name();
  }
}

std::string describe(const Schema& schema, const FD* f) {
  if (is_map_field(f)) {
    const pb::Descriptor* e = f->message_type();
    return "map<" + type_text(schema, e->field(0)) + ", " + describe(schema, e->field(1)) + ">";
  }
  return (f->is_repeated() ? "repeated " : "") + type_text(schema, f);
}

// The (key, value) params of a field's (confluent.field_meta), read from
// the field options' unknown fields: meta.proto is built in this file's
// pool, not linked in, so its extension is not known to FieldOptions.
std::map<std::string, std::string> field_params(const FD* f) {
  std::map<std::string, std::string> out;
  const pb::FieldOptions& options = f->options();
  const pb::UnknownFieldSet& unknown = options.GetReflection()->GetUnknownFields(options);
  for (int i = 0; i < unknown.field_count(); ++i) {
    const pb::UnknownField& meta_field = unknown.field(i);
    if (meta_field.number() != kMetaExtension ||
        meta_field.type() != pb::UnknownField::TYPE_LENGTH_DELIMITED) {
      continue;
    }
    pb::UnknownFieldSet meta;
    if (!meta.ParseFromString(meta_field.length_delimited())) continue;
    for (int j = 0; j < meta.field_count(); ++j) {
      const pb::UnknownField& param = meta.field(j);
      if (param.number() != 2 || param.type() != pb::UnknownField::TYPE_LENGTH_DELIMITED) {
        continue;
      }
      pb::UnknownFieldSet entry;
      if (!entry.ParseFromString(param.length_delimited())) continue;
      std::string key;
      std::string value;
      for (int k = 0; k < entry.field_count(); ++k) {
        const pb::UnknownField& part = entry.field(k);
        if (part.type() != pb::UnknownField::TYPE_LENGTH_DELIMITED) continue;
        if (part.number() == 1) key = part.length_delimited();
        if (part.number() == 2) value = part.length_delimited();
      }
      out[key] = value;
    }
  }
  return out;
}

// Parses all of `text` as an integer of type T.
template <typename T>
std::optional<T> parse_whole(const std::string& text) {
  T v{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

// A decimal field's DECIMAL(precision, scale) from its field meta: nullopt
// without a precision; an error for one the engine cannot hold.
Expected<std::optional<std::pair<int, int>>> decimal_params(const FD* f, const std::string& path) {
  const auto params = field_params(f);
  auto p = params.find("precision");
  if (p == params.end()) return std::optional<std::pair<int, int>>();
  const auto precision = parse_whole<int>(p->second);
  if (!precision) return std::optional<std::pair<int, int>>();  // ProtobufData ignores it
  int scale = 0;
  auto s = params.find("scale");
  if (s != params.end()) {
    if (auto parsed = parse_whole<int>(s->second)) scale = *parsed;
  }
  if (*precision > Decimal::kMaxPrecision) {
    return Error::fatal(path_prefix(path) + "confluent.type.Decimal has precision " +
                        std::to_string(*precision) + ", more than DECIMAL's " +
                        std::to_string(Decimal::kMaxPrecision) + " digits");
  }
  if (*precision < 1 || scale < 0 || scale > *precision) {
    return Error::fatal(path_prefix(path) + "confluent.type.Decimal has an invalid precision " +
                        std::to_string(*precision) + " and scale " + std::to_string(scale));
  }
  return std::optional<std::pair<int, int>>(std::pair{*precision, scale});
}

// decimal_params as a DECIMAL type, cached; null without usable params.
const DataType* decimal_type(const Schema& schema, const FD* f) {
  auto it = schema.decimal_types.find(f);
  if (it == schema.decimal_types.end()) {
    DataTypePtr type;
    auto params = decimal_params(f, "");
    if (params && *params) type = DataType::decimal((*params)->first, (*params)->second);
    it = schema.decimal_types.emplace(f, std::move(type)).first;
  }
  return it->second.get();
}

// --- columns_of ------------------------------------------------------------------

class SqlTypes {
 public:
  explicit SqlTypes(const Schema& schema) : schema_(schema) {}

  Expected<std::vector<Column>> columns(const pb::Descriptor* root) {
    if (root->field_count() == 0) {
      return Error::fatal("top level: protobuf message \"" + root->full_name() +
                          "\" has no fields");
    }
    open_.insert(root);
    return fields_of(root, "", 0);
  }

 private:
  // A field, with its label: ARRAY of a repeated field, MAP of a map field.
  Expected<DataTypePtr> field_type(const FD* f, const std::string& path, int depth) {
    if (depth > kMaxSchemaDepth) return Error::fatal(path_prefix(path) + "types nested too deeply");
    if (is_map_field(f)) {
      const pb::Descriptor* entry = f->message_type();
      const FD* key = entry->field(0);
      if (!key_type_ok(key)) {
        return Error::fatal(path_prefix(path) + "protobuf " + describe(schema_, f) +
                            " has no SQL type: a map key must be a bool, an integer or a string");
      }
      auto value = field_type(entry->field(1), path, depth + 1);
      if (!value) return value.error();
      return DataType::map(*value);
    }
    auto element = element_type(f, path, depth);
    if (!element) return element.error();
    if (f->is_repeated()) return DataType::array(*element);
    return element;
  }

  bool key_type_ok(const FD* key) const {
    switch (key->type()) {
      case FD::TYPE_BOOL:
      case FD::TYPE_INT32:
      case FD::TYPE_SINT32:
      case FD::TYPE_SFIXED32:
      case FD::TYPE_UINT32:
      case FD::TYPE_FIXED32:
      case FD::TYPE_INT64:
      case FD::TYPE_SINT64:
      case FD::TYPE_SFIXED64:
      case FD::TYPE_UINT64:
      case FD::TYPE_FIXED64:
      case FD::TYPE_STRING:
      case FD::TYPE_ENUM:
        return true;
      case FD::TYPE_BYTES:
        return schema_.is_text(key);
      default:
        return false;
    }
  }

  // One value of the field (an element, for a repeated one).
  Expected<DataTypePtr> element_type(const FD* f, const std::string& path, int depth) {
    switch (f->type()) {
      case FD::TYPE_BOOL:
        return DataType::of(TypeKind::Boolean);
      case FD::TYPE_INT32:
      case FD::TYPE_SINT32:
      case FD::TYPE_SFIXED32:
        return DataType::of(TypeKind::Int);
      case FD::TYPE_UINT32:
      case FD::TYPE_FIXED32:
      case FD::TYPE_INT64:
      case FD::TYPE_SINT64:
      case FD::TYPE_SFIXED64:
      case FD::TYPE_UINT64:
      case FD::TYPE_FIXED64:
        return DataType::of(TypeKind::BigInt);
      case FD::TYPE_FLOAT:
      case FD::TYPE_DOUBLE:
        return DataType::of(TypeKind::Double);
      case FD::TYPE_STRING:
      case FD::TYPE_ENUM:
        return DataType::of(TypeKind::String);
      case FD::TYPE_BYTES:
        return DataType::of(schema_.is_text(f) ? TypeKind::String : TypeKind::Bytes);
      case FD::TYPE_GROUP:
        return Error::fatal(path_prefix(path) + "protobuf " + type_text(schema_, f) +
                            " has no SQL type");
      case FD::TYPE_MESSAGE:
        break;
    }
    const pb::Descriptor* m = f->message_type();
    switch (special_of(m)) {
      case Special::Timestamp:
        return DataType::of(TypeKind::Timestamp);
      case Special::Date:
        return DataType::of(TypeKind::Date);
      case Special::TimeOfDay:
        return DataType::of(TypeKind::Time);
      case Special::Decimal: {
        auto params = decimal_params(f, path);
        if (!params) return params.error();
        if (!*params) {
          return Error::fatal(path_prefix(path) +
                              "confluent.type.Decimal without a precision in its "
                              "(confluent.field_meta) params has no SQL type here; declare "
                              "the column's DECIMAL type");
        }
        return DataType::decimal((*params)->first, (*params)->second);
      }
      case Special::Wrapper:
        return element_type(m->FindFieldByNumber(1), path, depth + 1);
      case Special::None:
        break;
    }
    if (!open_.insert(m).second) {
      return Error::fatal(path_prefix(path) + "recursive protobuf message \"" + m->full_name() +
                          "\" has no SQL type");
    }
    auto fields = fields_of(m, path, depth + 1);
    open_.erase(m);
    if (!fields) return fields.error();
    return DataType::structure_of(*fields);
  }

  // ProtobufData's layout: the oneofs (as STRUCTs) first, then the other fields.
  Expected<std::vector<Column>> fields_of(const pb::Descriptor* m, const std::string& path,
                                          int depth) {
    std::vector<Column> out;
    auto add = [&](std::string name, DataTypePtr type, const std::string& field_path) {
      for (const auto& c : out) {
        if (c.name == name) {
          return std::optional<Error>(
              Error::fatal(path_prefix(field_path) + "two fields of protobuf message \"" +
                           m->full_name() + "\" have this name but for case"));
        }
      }
      out.push_back(Column{std::move(name), std::move(type), false});
      return std::optional<Error>();
    };
    for (int i = 0; i < m->real_oneof_decl_count(); ++i) {
      const pb::OneofDescriptor* o = m->oneof_decl(i);
      const std::string name = ascii_upper(o->name() + "_" + std::to_string(o->index()));
      const std::string oneof_path = join_path(path, name);
      std::vector<StructFieldType> members;
      for (int k = 0; k < o->field_count(); ++k) {
        const FD* f = o->field(k);
        std::string member = ascii_upper(f->name());
        const std::string member_path = join_path(oneof_path, member);
        for (const auto& existing : members) {
          if (existing.name == member) {
            return Error::fatal(path_prefix(member_path) + "two fields of protobuf oneof \"" +
                                o->full_name() + "\" have this name but for case");
          }
        }
        auto t = field_type(f, member_path, depth + 1);
        if (!t) return t.error();
        members.push_back(StructFieldType{std::move(member), std::move(*t)});
      }
      if (auto e = add(name, DataType::structure(std::move(members)), oneof_path)) return *e;
    }
    for (int i = 0; i < m->field_count(); ++i) {
      const FD* f = m->field(i);
      if (f->real_containing_oneof()) continue;
      std::string name = ascii_upper(f->name());
      const std::string field_path = join_path(path, name);
      auto t = field_type(f, field_path, depth + 1);
      if (!t) return t.error();
      if (auto e = add(std::move(name), std::move(*t), field_path)) return *e;
    }
    return out;
  }

  const Schema& schema_;
  std::set<const pb::Descriptor*> open_;  // the messages being mapped, outermost first
};

// --- schema_for -------------------------------------------------------------------

// One message's text, built as ProtobufData.fromConnectSchema builds it:
// its fields, then the messages nested in it.
struct MessageText {
  std::string name;
  std::vector<std::string> fields;
  std::vector<MessageText> nested;

  void write(std::string& out, int indent) const {
    const std::string pad(static_cast<size_t>(indent) * 2, ' ');
    out += pad + "message " + name + " {\n";
    for (const auto& f : fields) out += pad + "  " + f + "\n";
    if (!nested.empty()) {
      out += "\n";
      for (const auto& n : nested) n.write(out, indent + 1);
    }
    out += pad + "}\n";
  }
};

class SchemaWriter {
 public:
  std::string schema(const std::vector<Column>& columns, std::string_view full_name) {
    std::string package;
    std::string name;
    if (full_name.empty()) {
      name = next_name();
    } else {
      const size_t dot = full_name.rfind('.');
      if (dot != std::string_view::npos) package = std::string(full_name.substr(0, dot));
      name = std::string(full_name.substr(dot == std::string_view::npos ? 0 : dot + 1));
    }
    MessageText top{name, {}, {}};
    int tag = 1;
    for (const auto& c : columns) {
      if (c.is_key || !c.type || c.type->kind == TypeKind::Null) continue;
      top.fields.push_back(field(top, *c.type, c.name, tag++));
    }
    std::string out = "syntax = \"proto3\";\n";
    if (!package.empty()) out += "package " + package + ";\n";
    if (!imports_.empty()) {
      out += "\n";
      for (const auto& i : imports_) out += "import \"" + i + "\";\n";
    }
    out += "\n";
    top.write(out, 0);
    return out;
  }

 private:
  std::string next_name() { return "ConnectDefault" + std::to_string(++default_names_); }

  // The field's line; the messages its type needs are added to `parent`.
  std::string field(MessageText& parent, const DataType& type, const std::string& name, int tag) {
    std::string label;
    const DataType* t = &type;
    if (t->kind == TypeKind::Array) {
      label = "repeated ";
      // Protobuf cannot repeat a repeated field: an ARRAY of ARRAYs is
      // written as its innermost element, repeated (Message::make refuses the
      // column).
      while (t->kind == TypeKind::Array && t->element) t = t->element.get();
    } else if (t->kind == TypeKind::Map) {
      label = "repeated ";
    }
    std::string options;
    std::string type_name = data_type(*t, name, &options);
    if (t->kind == TypeKind::Struct) {
      MessageText m{type_name, {}, {}};
      int field_tag = 1;
      for (const auto& f : t->fields) {
        if (!f.type || f.type->kind == TypeKind::Null) continue;
        m.fields.push_back(field(m, *f.type, f.name, field_tag++));
      }
      parent.nested.push_back(std::move(m));
    } else if (t->kind == TypeKind::Map) {
      MessageText entry{type_name, {}, {}};
      entry.fields.push_back("string key = 1;");
      static const DataTypePtr kString = DataType::of(TypeKind::String);
      const DataType& value = t->element ? *t->element : *kString;
      entry.fields.push_back(field(entry, value, "value", 2));
      parent.nested.push_back(std::move(entry));
    }
    return label + type_name + " " + name + " = " + std::to_string(tag) + options + ";";
  }

  std::string data_type(const DataType& t, const std::string& field_name, std::string* options) {
    switch (t.kind) {
      case TypeKind::Decimal:
        imports_.insert("confluent/meta.proto");
        imports_.insert("confluent/type/decimal.proto");
        *options = " [(confluent.field_meta) = { params: [ { key: \"precision\", value: \"" +
                   std::to_string(t.precision) + "\" }, { key: \"scale\", value: \"" +
                   std::to_string(t.scale) + "\" } ] }]";
        return "confluent.type.Decimal";
      case TypeKind::Date:
        imports_.insert("google/type/date.proto");
        return "google.type.Date";
      case TypeKind::Time:
        imports_.insert("google/type/timeofday.proto");
        return "google.type.TimeOfDay";
      case TypeKind::Timestamp:
        imports_.insert("google/protobuf/timestamp.proto");
        return "google.protobuf.Timestamp";
      case TypeKind::Boolean:
        return "bool";
      case TypeKind::Int:
        return "int32";
      case TypeKind::BigInt:
        return "int64";
      case TypeKind::Double:
        return "double";
      case TypeKind::String:
        return "string";
      case TypeKind::Bytes:
      case TypeKind::Null:
        return "bytes";
      case TypeKind::Map:
        return next_name() + "Entry";
      case TypeKind::Struct: {
        std::string name = next_name();
        if (name == field_name) name += "Message";
        return name;
      }
      case TypeKind::Array:  // only an ARRAY without an element type gets here
        return "bytes";
    }
    return "bytes";
  }

  int default_names_ = 0;
  std::set<std::string> imports_;  // sorted, as Confluent's printer lists them
};

// --- Reading: DynamicMessage -> Value --------------------------------------------

struct MessagePlan;

// How one field (with its label) becomes one SQL value.
struct FieldPlan {
  enum class Mode : uint8_t { Singular, Array, Map };
  const FD* field = nullptr;
  const DataType* target = nullptr;   // the field's SQL type
  const DataType* element = nullptr;  // one element's (ARRAY element; target when singular)
  std::string path;                   // "ADDRESS.ZIP", for messages
  Mode mode = Mode::Singular;
  bool null_when_absent = false;  // singular message fields, proto3 optional
  bool text = false;              // a string field (bytes on the wire here)
  bool wrapped_text = false;      // a StringValue
  Special special = Special::None;
  std::unique_ptr<MessagePlan> message;  // an element read as a STRUCT
  // Map: the entry's key field and its value field's plan.
  const FD* key = nullptr;
  bool key_text = false;
  std::unique_ptr<FieldPlan> value;
};

// A message read as a STRUCT: per target field, the message field or oneof
// it comes from (neither: NULL).
struct MessagePlan {
  struct Slot {
    std::unique_ptr<FieldPlan> field;
    const pb::OneofDescriptor* oneof = nullptr;
    const DataType* oneof_type = nullptr;
    std::vector<std::unique_ptr<FieldPlan>> members;  // per oneof_type field
  };
  const pb::Descriptor* descriptor = nullptr;
  const DataType* target = nullptr;
  std::string path;  // of the STRUCT, for messages
  std::vector<Slot> slots;
};

// The field (outside the real oneofs) or real oneof a SQL name means: the
// same name first, then the first equal but for case.
struct Source {
  const FD* field = nullptr;
  const pb::OneofDescriptor* oneof = nullptr;
};

std::string oneof_column(const pb::OneofDescriptor* o) {
  return o->name() + "_" + std::to_string(o->index());
}

Source find_source(const pb::Descriptor* m, std::string_view name) {
  for (int pass = 0; pass < 2; ++pass) {
    auto same = [&](std::string_view candidate) {
      return pass == 0 ? candidate == name : iequals(candidate, name);
    };
    for (int i = 0; i < m->field_count(); ++i) {
      const FD* f = m->field(i);
      if (!f->real_containing_oneof() && same(f->name())) return Source{f, nullptr};
    }
    for (int i = 0; i < m->real_oneof_decl_count(); ++i) {
      const pb::OneofDescriptor* o = m->oneof_decl(i);
      if (same(oneof_column(o))) return Source{nullptr, o};
    }
  }
  // A member of a oneof by its own name: its value when it is the one set.
  for (int pass = 0; pass < 2; ++pass) {
    for (int i = 0; i < m->field_count(); ++i) {
      const FD* f = m->field(i);
      if (f->real_containing_oneof() &&
          (pass == 0 ? f->name() == name : iequals(f->name(), name))) {
        return Source{f, nullptr};
      }
    }
  }
  return Source{};
}

const FD* find_member(const pb::OneofDescriptor* o, std::string_view name) {
  for (int pass = 0; pass < 2; ++pass) {
    for (int i = 0; i < o->field_count(); ++i) {
      const FD* f = o->field(i);
      if (pass == 0 ? f->name() == name : iequals(f->name(), name)) return f;
    }
  }
  return nullptr;
}

class PlanCompiler {
 public:
  explicit PlanCompiler(const Schema& schema) : schema_(schema) {}

  Expected<std::unique_ptr<MessagePlan>> message(const pb::Descriptor* m, const DataType& target,
                                                 const std::string& path, int depth) {
    if (depth > kMaxSchemaDepth) return Error::fatal(path_prefix(path) + "types nested too deeply");
    auto plan = std::make_unique<MessagePlan>();
    plan->descriptor = m;
    plan->target = &target;
    plan->path = path;
    for (const auto& tf : target.fields) {
      MessagePlan::Slot slot;
      const std::string field_path = join_path(path, tf.name);
      const Source source = find_source(m, tf.name);
      if (!tf.type || tf.type->kind == TypeKind::Null) {
        // NULL whatever the message holds.
      } else if (source.field) {
        auto f = field(source.field, *tf.type, field_path, depth + 1);
        if (!f) return f.error();
        slot.field = std::move(*f);
      } else if (source.oneof) {
        if (tf.type->kind != TypeKind::Struct) {
          return Error::fatal(path_prefix(field_path) + "protobuf oneof \"" +
                              source.oneof->full_name() + "\" cannot be read as " +
                              tf.type->to_string());
        }
        slot.oneof = source.oneof;
        slot.oneof_type = tf.type.get();
        for (const auto& member : tf.type->fields) {
          const FD* f = find_member(source.oneof, member.name);
          if (!f || !member.type || member.type->kind == TypeKind::Null) {
            slot.members.emplace_back();
            continue;
          }
          auto p = field(f, *member.type, join_path(field_path, member.name), depth + 2);
          if (!p) return p.error();
          slot.members.push_back(std::move(*p));
        }
      }
      plan->slots.push_back(std::move(slot));
    }
    return plan;
  }

  Expected<std::unique_ptr<FieldPlan>> field(const FD* f, const DataType& target,
                                             const std::string& path, int depth) {
    if (depth > kMaxSchemaDepth) return Error::fatal(path_prefix(path) + "types nested too deeply");
    auto plan = std::make_unique<FieldPlan>();
    plan->field = f;
    plan->target = &target;
    plan->path = path;
    auto incompatible = [&] {
      return Error::fatal(path_prefix(path) + "protobuf " + describe(schema_, f) +
                          " cannot be read as " + target.to_string());
    };
    if (f->type() == FD::TYPE_GROUP) {
      return Error::fatal(path_prefix(path) + "protobuf " + type_text(schema_, f) +
                          " has no SQL type");
    }
    if (target.kind == TypeKind::Null) return plan;
    // A map read as an ARRAY (of STRUCTs): its entries, as the messages they are.
    if (is_map_field(f) && target.kind != TypeKind::Array) {
      if (target.kind != TypeKind::Map || !target.element) return incompatible();
      const pb::Descriptor* entry = f->message_type();
      const FD* key = entry->field(0);
      switch (key->type()) {
        case FD::TYPE_DOUBLE:
        case FD::TYPE_FLOAT:
        case FD::TYPE_MESSAGE:
        case FD::TYPE_GROUP:
          return Error::fatal(path_prefix(path) + "protobuf " + describe(schema_, f) +
                              " has no SQL type: a map key must be a bool, an integer or a string");
        case FD::TYPE_BYTES:
          if (!schema_.is_text(key)) {
            return Error::fatal(path_prefix(path) + "protobuf " + describe(schema_, f) +
                                " has no SQL type: a map key must be a bool, an integer or a "
                                "string");
          }
          break;
        default:
          break;
      }
      plan->mode = FieldPlan::Mode::Map;
      plan->key = key;
      plan->key_text = schema_.is_text(key);
      auto value = field(entry->field(1), *target.element, path, depth + 1);
      if (!value) return value.error();
      // An entry without its value holds the default (for a message, the
      // empty one: Java's getField gives its default instance).
      (*value)->null_when_absent = false;
      plan->value = std::move(*value);
      return plan;
    }
    if (f->is_repeated()) {
      if (target.kind != TypeKind::Array || !target.element) return incompatible();
      plan->mode = FieldPlan::Mode::Array;
      plan->element = target.element.get();
    } else {
      plan->element = &target;
      plan->null_when_absent = f->type() == FD::TYPE_MESSAGE || is_proto3_optional(f) ||
                               f->real_containing_oneof() != nullptr;
    }
    const DataType& element = *plan->element;
    plan->text = schema_.is_text(f);
    if (f->type() == FD::TYPE_MESSAGE) {
      const pb::Descriptor* m = f->message_type();
      plan->special = special_of(m);
      if (plan->special == Special::Wrapper) {
        plan->wrapped_text = schema_.is_text(m->FindFieldByNumber(1));
      }
      if (element.kind == TypeKind::Struct) {
        // A message (even a Timestamp or a wrapper) read field by field.
        plan->special = Special::None;
        auto sub = message(m, element, path, depth + 1);
        if (!sub) return sub.error();
        plan->message = std::move(*sub);
        return plan;
      }
      if (plan->special == Special::None) return incompatible();
    }
    if (element.kind == TypeKind::Struct || element.kind == TypeKind::Array ||
        element.kind == TypeKind::Map) {
      return incompatible();
    }
    return plan;
  }

 private:
  const Schema& schema_;
};

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civil_from_days(int64_t z, int64_t& y, int64_t& m, int64_t& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = yoe + era * 400 + (m <= 2 ? 1 : 0);
}

int days_in_month(int64_t y, int64_t m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return kDays[m - 1];
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::string enum_name(const pb::EnumDescriptor* e, int number) {
  if (const pb::EnumValueDescriptor* v = e->FindValueByNumber(number)) return v->name();
  return "UNKNOWN_ENUM_VALUE_" + e->name() + "_" + std::to_string(number);
}

// The wire type a field is written with (a repeated number's packed form,
// LENGTH_DELIMITED, aside).
pb::UnknownField::Type wire_type_of(const FD* f) {
  switch (f->type()) {
    case FD::TYPE_FIXED64:
    case FD::TYPE_SFIXED64:
    case FD::TYPE_DOUBLE:
      return pb::UnknownField::TYPE_FIXED64;
    case FD::TYPE_FIXED32:
    case FD::TYPE_SFIXED32:
    case FD::TYPE_FLOAT:
      return pb::UnknownField::TYPE_FIXED32;
    case FD::TYPE_STRING:
    case FD::TYPE_BYTES:
    case FD::TYPE_MESSAGE:
      return pb::UnknownField::TYPE_LENGTH_DELIMITED;
    case FD::TYPE_GROUP:
      return pb::UnknownField::TYPE_GROUP;
    default:
      return pb::UnknownField::TYPE_VARINT;
  }
}

const char* wire_type_name(pb::UnknownField::Type t) {
  switch (t) {
    case pb::UnknownField::TYPE_VARINT:
      return "varint";
    case pb::UnknownField::TYPE_FIXED32:
      return "32-bit";
    case pb::UnknownField::TYPE_FIXED64:
      return "64-bit";
    case pb::UnknownField::TYPE_LENGTH_DELIMITED:
      return "length-delimited";
    case pb::UnknownField::TYPE_GROUP:
      return "group";
  }
  return "unknown";
}

class Reader {
 public:
  explicit Reader(const Schema& schema) : schema_(schema) {}

  Expected<Value> message(const MessagePlan& plan, const pb::Message& m) {
    const pb::Reflection* r = m.GetReflection();
    if (auto e = wire_type_mismatch(m, plan.path)) return *e;
    StructFields out;
    out.reserve(plan.slots.size());
    for (size_t i = 0; i < plan.slots.size(); ++i) {
      const auto& slot = plan.slots[i];
      const std::string& name = plan.target->fields[i].name;
      if (slot.field) {
        auto v = field(*slot.field, m);
        if (!v) return v.error();
        out.push_back(Field{name, std::move(*v)});
      } else if (slot.oneof) {
        const FD* set = r->GetOneofFieldDescriptor(m, slot.oneof);
        if (!set) {
          out.push_back(Field{name, Value()});
          continue;
        }
        StructFields members;
        members.reserve(slot.members.size());
        for (size_t k = 0; k < slot.members.size(); ++k) {
          const std::string& member = slot.oneof_type->fields[k].name;
          const FieldPlan* p = slot.members[k].get();
          if (!p || p->field != set) {
            members.push_back(Field{member, Value()});
            continue;
          }
          auto v = field(*p, m);
          if (!v) return v.error();
          members.push_back(Field{member, std::move(*v)});
        }
        out.push_back(Field{name, Value::structure(std::move(members))});
      } else {
        out.push_back(Field{name, Value()});
      }
    }
    return Value::structure(std::move(out));
  }

  Expected<Value> field(const FieldPlan& p, const pb::Message& m) {
    if (p.target->kind == TypeKind::Null) return Value();
    const pb::Reflection* r = m.GetReflection();
    switch (p.mode) {
      case FieldPlan::Mode::Singular:
        if (p.null_when_absent && !r->HasField(m, p.field)) return Value();
        return element(p, m, -1);
      case FieldPlan::Mode::Array: {
        const int n = r->FieldSize(m, p.field);
        Array items;
        items.reserve(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) {
          auto v = element(p, m, i);
          if (!v) return v.error();
          items.push_back(std::move(*v));
        }
        return Value::array(std::move(items));
      }
      case FieldPlan::Mode::Map: {
        const int n = r->FieldSize(m, p.field);
        MapEntries entries;
        entries.reserve(static_cast<size_t>(n));
        std::unordered_map<std::string, size_t> seen;
        if (n > 1) seen.reserve(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) {
          const pb::Message& entry = r->GetRepeatedMessage(m, p.field, i);
          if (auto e = wire_type_mismatch(entry, p.path)) return *e;
          auto key = key_text(p, entry);
          if (!key) return key.error();
          auto v = field(*p.value, entry);
          if (!v) return v.error();
          // A key met again replaces the value (the last one wins, as in
          // protobuf's maps), where the key first stood.
          if (n == 1) {
            entries.emplace_back(std::move(*key), std::move(*v));
            continue;
          }
          auto [it, added] = seen.emplace(*key, entries.size());
          if (added) {
            entries.emplace_back(std::move(*key), std::move(*v));
          } else {
            entries[it->second].second = std::move(*v);
          }
        }
        return Value::map(std::move(entries));
      }
    }
    return Value();
  }

 private:
  Error data_error(const FieldPlan& p, const std::string& what) {
    return Error::data(path_prefix(p.path) + what);
  }

  // Protobuf's parsers keep a field written with another wire type than its
  // own aside, as an unknown field, and the field reads as its default;
  // here it is what it is, bad bytes. (A closed enum's unknown number is
  // kept aside too, with the right wire type: that one is fine.)
  std::optional<Error> wire_type_mismatch(const pb::Message& m, const std::string& path) const {
    const pb::UnknownFieldSet& unknown = m.GetReflection()->GetUnknownFields(m);
    for (int i = 0; i < unknown.field_count(); ++i) {
      const pb::UnknownField& u = unknown.field(i);
      const FD* f = m.GetDescriptor()->FindFieldByNumber(u.number());
      if (!f || u.type() == wire_type_of(f)) continue;
      if (f->is_repeated() && f->is_packable() &&
          u.type() == pb::UnknownField::TYPE_LENGTH_DELIMITED) {
        continue;
      }
      return Error::data(path_prefix(join_path(path, f->name())) + "protobuf field " +
                         std::to_string(f->number()) + " written as a " + wire_type_name(u.type()) +
                         " value, not as its type " + type_text(schema_, f));
    }
    return std::nullopt;
  }

  Expected<std::string> key_text(const FieldPlan& p, const pb::Message& entry) {
    const pb::Reflection* r = entry.GetReflection();
    const FD* k = p.key;
    switch (k->cpp_type()) {
      case FD::CPPTYPE_BOOL:
        return std::string(r->GetBool(entry, k) ? "true" : "false");
      case FD::CPPTYPE_INT32:
        return std::to_string(r->GetInt32(entry, k));
      case FD::CPPTYPE_UINT32:
        return std::to_string(r->GetUInt32(entry, k));
      case FD::CPPTYPE_INT64:
        return std::to_string(r->GetInt64(entry, k));
      case FD::CPPTYPE_UINT64:
        return std::to_string(static_cast<int64_t>(r->GetUInt64(entry, k)));
      case FD::CPPTYPE_ENUM:
        return enum_name(k->enum_type(), r->GetEnumValue(entry, k));
      case FD::CPPTYPE_STRING: {
        std::string key = r->GetString(entry, k);
        if (!valid_utf8(key)) return data_error(p, "a map key is not valid UTF-8");
        return key;
      }
      default:
        return data_error(p, "unexpected map key type");
    }
  }

  Expected<Value> element(const FieldPlan& p, const pb::Message& m, int index) {
    const pb::Reflection* r = m.GetReflection();
    const DataType& target = *p.element;
    if (target.kind == TypeKind::Null) return Value();
    if (p.message) {
      const pb::Message& sub =
          index < 0 ? r->GetMessage(m, p.field) : r->GetRepeatedMessage(m, p.field, index);
      return message(*p.message, sub);
    }
    auto natural = natural_value(p, m, index);
    if (!natural) return natural;
    if (natural->kind() == target.kind && target.kind != TypeKind::Decimal) return natural;
    auto converted = coerce(*natural, target);
    if (!converted) {
      return data_error(p, "cannot read protobuf " + type_text_of(p) + " value " +
                               excerpt(natural->to_string()) + " as " + target.to_string());
    }
    return std::move(*converted);
  }

  static std::string type_text_of(const FieldPlan& p) {
    if (p.field->type() == FD::TYPE_MESSAGE) return p.field->message_type()->full_name();
    if (p.field->type() == FD::TYPE_ENUM) return p.field->enum_type()->full_name();
    return p.text ? "string" : p.field->type_name();
  }

  // The value of one scalar (field f of m; index < 0: singular) as the
  // Value of its own SQL type.
  Expected<Value> scalar(const FieldPlan& p, const pb::Message& m, const FD* f, int index,
                         bool text) {
    const pb::Reflection* r = m.GetReflection();
    const bool one = index < 0;
    switch (f->cpp_type()) {
      case FD::CPPTYPE_BOOL:
        return Value::boolean(one ? r->GetBool(m, f) : r->GetRepeatedBool(m, f, index));
      case FD::CPPTYPE_INT32:
        return Value::int32(one ? r->GetInt32(m, f) : r->GetRepeatedInt32(m, f, index));
      case FD::CPPTYPE_UINT32:
        return Value::int64(one ? r->GetUInt32(m, f) : r->GetRepeatedUInt32(m, f, index));
      case FD::CPPTYPE_INT64:
        return Value::int64(one ? r->GetInt64(m, f) : r->GetRepeatedInt64(m, f, index));
      case FD::CPPTYPE_UINT64:
        return Value::int64(
            static_cast<int64_t>(one ? r->GetUInt64(m, f) : r->GetRepeatedUInt64(m, f, index)));
      case FD::CPPTYPE_FLOAT:
        return Value::float64(
            static_cast<double>(one ? r->GetFloat(m, f) : r->GetRepeatedFloat(m, f, index)));
      case FD::CPPTYPE_DOUBLE:
        return Value::float64(one ? r->GetDouble(m, f) : r->GetRepeatedDouble(m, f, index));
      case FD::CPPTYPE_ENUM:
        return Value::string(enum_name(
            f->enum_type(), one ? r->GetEnumValue(m, f) : r->GetRepeatedEnumValue(m, f, index)));
      case FD::CPPTYPE_STRING: {
        std::string scratch;
        const std::string& s = one ? r->GetStringReference(m, f, &scratch)
                                   : r->GetRepeatedStringReference(m, f, index, &scratch);
        if (!text) return Value::bytes(s);
        if (!valid_utf8(s)) {
          return data_error(
              p, "protobuf string of " + std::to_string(s.size()) + " bytes is not valid UTF-8");
        }
        return Value::string(s);
      }
      default:
        return data_error(p, "unexpected protobuf " + type_text_of(p));
    }
  }

  Expected<Value> natural_value(const FieldPlan& p, const pb::Message& m, int index) {
    if (p.field->type() != FD::TYPE_MESSAGE) return scalar(p, m, p.field, index, p.text);
    const pb::Reflection* r = m.GetReflection();
    const pb::Message& sub =
        index < 0 ? r->GetMessage(m, p.field) : r->GetRepeatedMessage(m, p.field, index);
    const pb::Descriptor* d = sub.GetDescriptor();
    const pb::Reflection* sr = sub.GetReflection();
    if (auto e = wire_type_mismatch(sub, p.path)) return *e;
    auto int32_of = [&](int number) {
      const FD* f = d->FindFieldByNumber(number);
      return f ? sr->GetInt32(sub, f) : 0;
    };
    switch (p.special) {
      case Special::Timestamp: {
        const FD* seconds_field = d->FindFieldByNumber(1);
        const int64_t seconds = seconds_field ? sr->GetInt64(sub, seconds_field) : 0;
        const int32_t nanos = int32_of(2);
        if (seconds < kMinTimestampSeconds || seconds > kMaxTimestampSeconds || nanos < 0 ||
            nanos > 999'999'999) {
          return data_error(p, "google.protobuf.Timestamp {seconds: " + std::to_string(seconds) +
                                   ", nanos: " + std::to_string(nanos) + "} is out of range");
        }
        return Value::timestamp(seconds * 1000 + nanos / 1'000'000);
      }
      case Special::Date: {
        const int64_t year = int32_of(1);
        const int64_t month = int32_of(2);
        const int64_t day = int32_of(3);
        if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) {
          return data_error(p, "google.type.Date {year: " + std::to_string(year) +
                                   ", month: " + std::to_string(month) +
                                   ", day: " + std::to_string(day) + "} is not a date");
        }
        const int64_t days = days_from_civil(year, month, day);
        if (days > INT32_MAX) {
          return data_error(
              p, "google.type.Date year " + std::to_string(year) + " is out of DATE's range");
        }
        return Value::date(static_cast<int32_t>(days));
      }
      case Special::TimeOfDay: {
        const int64_t hours = int32_of(1);
        const int64_t minutes = int32_of(2);
        const int64_t seconds = int32_of(3);
        const int64_t nanos = int32_of(4);
        if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59 || seconds < 0 || seconds > 59 ||
            nanos < 0 || nanos > 999'999'999) {
          return data_error(p, "google.type.TimeOfDay {hours: " + std::to_string(hours) +
                                   ", minutes: " + std::to_string(minutes) +
                                   ", seconds: " + std::to_string(seconds) +
                                   ", nanos: " + std::to_string(nanos) + "} is not a time of day");
        }
        return Value::time(static_cast<int32_t>(((hours * 60 + minutes) * 60 + seconds) * 1000 +
                                                nanos / 1'000'000));
      }
      case Special::Decimal: {
        const FD* value_field = d->FindFieldByNumber(1);
        std::string scratch;
        const std::string& bytes =
            value_field ? sr->GetStringReference(sub, value_field, &scratch) : scratch;
        int64_t scale = int32_of(3);
        auto unscaled = i128_from_twos_complement(bytes);
        // A negative scale (BigDecimal's 1E+3) multiplies the unscaled value.
        while (unscaled && scale < 0) {
          if (__builtin_mul_overflow(*unscaled, static_cast<Int128>(10), &*unscaled)) {
            unscaled.reset();
          }
          ++scale;
        }
        if (!unscaled || scale > Decimal::kMaxPrecision ||
            digits_i128(*unscaled) > Decimal::kMaxPrecision) {
          return data_error(p, "confluent.type.Decimal of " + std::to_string(bytes.size()) +
                                   " bytes at scale " + std::to_string(int32_of(3)) +
                                   " is not a DECIMAL of at most " +
                                   std::to_string(Decimal::kMaxPrecision) + " digits");
        }
        const int precision = std::max({digits_i128(*unscaled), static_cast<int>(scale), 1});
        return Value::decimal(Decimal(*unscaled, precision, static_cast<int>(scale)));
      }
      case Special::Wrapper: {
        const FD* value_field = d->FindFieldByNumber(1);
        if (!value_field) return data_error(p, "protobuf wrapper without a value field");
        return scalar(p, sub, value_field, -1, p.wrapped_text);
      }
      case Special::None:
        break;
    }
    return data_error(p, "protobuf message \"" + d->full_name() + "\" is not a scalar");
  }

  const Schema& schema_;
};

// --- Writing: Value -> DynamicMessage ----------------------------------------------

// Where a value is written, for messages: built only when one is needed.
struct PathLink {
  const PathLink* parent;
  std::string_view name;
  std::string to_string() const {
    std::string head = parent ? parent->to_string() : std::string();
    if (name.empty()) return head;
    return head.empty() ? std::string(name) : head + "." + std::string(name);
  }
};

// Where a message field's value usually is in a STRUCT: at `index`, named `name`.
struct Hint {
  int index;
  std::string_view name;
};

class Writer {
 public:
  explicit Writer(const Schema& schema) : schema_(schema) {}

  // Writes the STRUCT v into m. `hints`, when given: per field of m's
  // message, where in v's fields its value usually is, under which name
  // (a message's fields are looked up by name, case-insensitively, when
  // not there).
  bool message(pb::Message* m, const Value& v, const PathLink& path,
               const std::vector<Hint>* hints = nullptr) {
    const pb::Descriptor* d = m->GetDescriptor();
    const StructFields& fields = v.as_struct();
    for (int i = 0; i < d->field_count(); ++i) {
      const FD* f = d->field(i);
      if (f->real_containing_oneof()) continue;
      const Hint hint = hints ? (*hints)[static_cast<size_t>(i)] : Hint{i, f->name()};
      const Value* fv = nullptr;
      if (hint.index >= 0 && static_cast<size_t>(hint.index) < fields.size() &&
          fields[static_cast<size_t>(hint.index)].name == hint.name) {
        fv = &fields[static_cast<size_t>(hint.index)].value;
      } else {
        fv = v.field(f->name());
      }
      if (!fv || fv->is_null()) continue;
      if (!field(m, f, *fv, PathLink{&path, f->name()})) return false;
    }
    for (int i = 0; i < d->real_oneof_decl_count(); ++i) {
      const pb::OneofDescriptor* o = d->oneof_decl(i);
      const std::string column = oneof_column(o);
      const Value* ov = v.field(column);
      if (ov && !ov->is_null()) {
        const PathLink oneof_path{&path, column};
        if (ov->kind() != TypeKind::Struct) {
          return fail(oneof_path, std::string("cannot write ") + type_kind_name(ov->kind()) +
                                      " value " + excerpt(ov->to_string()) +
                                      " as protobuf oneof \"" + o->full_name() + "\"");
        }
        if (!oneof(m, o, *ov, oneof_path)) return false;
      } else if (!ov) {
        // No "<oneof>_<index>" STRUCT: the members may be there by their own names.
        if (!oneof(m, o, v, path)) return false;
      }
    }
    return true;
  }

  const std::string& error() const { return error_; }

 private:
  // The first member of o with a value in `holder` is the one set
  // (ProtobufData's rule); none: the oneof is left unset.
  bool oneof(pb::Message* m, const pb::OneofDescriptor* o, const Value& holder,
             const PathLink& path) {
    for (int k = 0; k < o->field_count(); ++k) {
      const FD* f = o->field(k);
      const Value* mv = holder.field(f->name());
      if (!mv || mv->is_null()) continue;
      return field(m, f, *mv, PathLink{&path, f->name()});
    }
    return true;
  }

  bool fail(const PathLink& path, const std::string& what) {
    error_ = path_prefix(path.to_string()) + what;
    return false;
  }
  bool mismatch(const FD* f, const Value& v, const PathLink& path) {
    return fail(path, std::string("cannot write ") + type_kind_name(v.kind()) + " value " +
                          excerpt(v.to_string()) + " as protobuf " + type_text(schema_, f));
  }

  // v (not NULL) into field f of m.
  bool field(pb::Message* m, const FD* f, const Value& v, const PathLink& path) {
    const pb::Reflection* r = m->GetReflection();
    // A map written from an ARRAY (of STRUCTs): its entries, as the messages they are.
    if (is_map_field(f) && v.kind() != TypeKind::Array) {
      if (v.kind() != TypeKind::Map) return mismatch(f, v, path);
      const pb::Descriptor* entry_type = f->message_type();
      const FD* key_field = entry_type->field(0);
      const FD* value_field = entry_type->field(1);
      for (const auto& [key, item] : v.as_map()) {
        if (item.is_null()) {
          return fail(path, "NULL as the value of key \"" + excerpt(key) +
                                "\": a protobuf map holds no nulls");
        }
        pb::Message* entry = r->AddMessage(m, f);
        if (!map_key(entry, key_field, key, path)) return false;
        if (!field(entry, value_field, item, path)) return false;
      }
      return true;
    }
    if (f->is_repeated()) {
      if (v.kind() != TypeKind::Array) return mismatch(f, v, path);
      for (const Value& item : v.as_array()) {
        if (item.is_null()) {
          return fail(path, "NULL in an ARRAY: a protobuf repeated field holds no nulls");
        }
        if (!element(m, f, item, true, path)) return false;
      }
      return true;
    }
    return element(m, f, v, false, path);
  }

  bool map_key(pb::Message* entry, const FD* k, const std::string& key, const PathLink& path) {
    const pb::Reflection* r = entry->GetReflection();
    auto bad = [&](const char* what) {
      return fail(path, "map key \"" + excerpt(key) + "\" is not " + what);
    };
    switch (k->cpp_type()) {
      case FD::CPPTYPE_BOOL:
        if (iequals(key, "true")) {
          r->SetBool(entry, k, true);
        } else if (iequals(key, "false")) {
          r->SetBool(entry, k, false);
        } else {
          return bad("a bool");
        }
        return true;
      case FD::CPPTYPE_INT32: {
        auto x = parse_whole<int32_t>(key);
        if (!x) return bad("a 32-bit integer");
        r->SetInt32(entry, k, *x);
        return true;
      }
      case FD::CPPTYPE_UINT32: {
        auto x = parse_whole<uint32_t>(key);
        if (!x) return bad("an unsigned 32-bit integer");
        r->SetUInt32(entry, k, *x);
        return true;
      }
      case FD::CPPTYPE_INT64: {
        auto x = parse_whole<int64_t>(key);
        if (!x) return bad("a 64-bit integer");
        r->SetInt64(entry, k, *x);
        return true;
      }
      case FD::CPPTYPE_UINT64: {
        // As read: the BIGINT of the same 64 bits, or the unsigned number.
        if (auto x = parse_whole<int64_t>(key)) {
          r->SetUInt64(entry, k, static_cast<uint64_t>(*x));
          return true;
        }
        auto u = parse_whole<uint64_t>(key);
        if (!u) return bad("a 64-bit integer");
        r->SetUInt64(entry, k, *u);
        return true;
      }
      case FD::CPPTYPE_ENUM: {
        auto number = enum_number(k->enum_type(), key);
        if (!number) return bad(("a value of enum " + k->enum_type()->full_name()).c_str());
        r->SetEnumValue(entry, k, *number);
        return true;
      }
      case FD::CPPTYPE_STRING:
        if (!valid_utf8(key)) return fail(path, "a map key is not valid UTF-8");
        r->SetString(entry, k, key);
        return true;
      default:
        return fail(path, "unexpected map key type");
    }
  }

  // The number of an enum value's name; an open (proto3) enum also takes
  // the name a number it does not define reads as.
  static std::optional<int> enum_number(const pb::EnumDescriptor* e, const std::string& name) {
    if (const pb::EnumValueDescriptor* v = e->FindValueByName(name)) return v->number();
    if (e->file()->syntax() != pb::FileDescriptor::SYNTAX_PROTO3) return std::nullopt;
    const std::string prefix = "UNKNOWN_ENUM_VALUE_" + e->name() + "_";
    if (name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
    return parse_whole<int32_t>(name.substr(prefix.size()));
  }

  // v as a value of `type`, or nullopt (with the error set).
  std::optional<Value> as(const DataType& type, const FD* f, const Value& v, const PathLink& path) {
    if (v.kind() == type.kind && type.kind != TypeKind::Decimal) return v;
    auto c = coerce(v, type);
    if (!c) mismatch(f, v, path);
    return c;
  }

  // One element (the value of a singular field, or one more of a repeated one).
  bool element(pb::Message* m, const FD* f, const Value& v, bool add, const PathLink& path) {
    const pb::Reflection* r = m->GetReflection();
    if (f->type() == FD::TYPE_MESSAGE) {
      pb::Message* sub = add ? r->AddMessage(m, f) : r->MutableMessage(m, f);
      if (v.kind() == TypeKind::Struct) return message(sub, v, path);
      switch (cached_special(schema_, f->message_type())) {
        case Special::Timestamp:
          return timestamp(sub, f, v, path);
        case Special::Date:
          return date(sub, f, v, path);
        case Special::TimeOfDay:
          return time_of_day(sub, f, v, path);
        case Special::Decimal:
          return decimal(sub, f, v, path);
        case Special::Wrapper: {
          const FD* value_field = sub->GetDescriptor()->FindFieldByNumber(1);
          if (!value_field) return mismatch(f, v, path);
          return scalar(sub, value_field, v, false, path);
        }
        case Special::None:
          return mismatch(f, v, path);
      }
      return mismatch(f, v, path);
    }
    if (f->type() == FD::TYPE_GROUP) return mismatch(f, v, path);
    return scalar(m, f, v, add, path);
  }

  bool scalar(pb::Message* m, const FD* f, const Value& v, bool add, const PathLink& path) {
    const pb::Reflection* r = m->GetReflection();
    switch (f->cpp_type()) {
      case FD::CPPTYPE_BOOL: {
        auto b = as(DataType::plain(TypeKind::Boolean), f, v, path);
        if (!b) return false;
        add ? r->AddBool(m, f, b->as_bool()) : r->SetBool(m, f, b->as_bool());
        return true;
      }
      case FD::CPPTYPE_INT32: {
        auto x = as(DataType::plain(TypeKind::Int), f, v, path);
        if (!x) return false;
        add ? r->AddInt32(m, f, x->as_int32()) : r->SetInt32(m, f, x->as_int32());
        return true;
      }
      case FD::CPPTYPE_UINT32: {
        auto x = as(DataType::plain(TypeKind::BigInt), f, v, path);
        if (!x) return false;
        const int64_t l = x->as_int64();
        if (l < 0 || l > static_cast<int64_t>(UINT32_MAX)) {
          return fail(path, "BIGINT " + std::to_string(l) + " is out of range for protobuf " +
                                type_text(schema_, f));
        }
        const auto u = static_cast<uint32_t>(l);
        add ? r->AddUInt32(m, f, u) : r->SetUInt32(m, f, u);
        return true;
      }
      case FD::CPPTYPE_INT64: {
        auto x = as(DataType::plain(TypeKind::BigInt), f, v, path);
        if (!x) return false;
        add ? r->AddInt64(m, f, x->as_int64()) : r->SetInt64(m, f, x->as_int64());
        return true;
      }
      case FD::CPPTYPE_UINT64: {
        // A negative BIGINT is written as the same 64 bits (Java's long).
        auto x = as(DataType::plain(TypeKind::BigInt), f, v, path);
        if (!x) return false;
        const auto u = static_cast<uint64_t>(x->as_int64());
        add ? r->AddUInt64(m, f, u) : r->SetUInt64(m, f, u);
        return true;
      }
      case FD::CPPTYPE_FLOAT: {
        auto d = as(DataType::plain(TypeKind::Double), f, v, path);
        if (!d) return false;
        const double x = d->as_double();
        // Rounded to the nearest float, as Java's (float) cast does: past
        // the midpoint between FLT_MAX and 2^128, infinity (a plain C++
        // cast of a double beyond float's range is undefined).
        constexpr double kFloatOverflow = 3.4028235677973366e38;
        float fl = 0;
        if (std::isnan(x)) {
          fl = std::numeric_limits<float>::quiet_NaN();
        } else if (x >= kFloatOverflow) {
          fl = std::numeric_limits<float>::infinity();
        } else if (x <= -kFloatOverflow) {
          fl = -std::numeric_limits<float>::infinity();
        } else if (x > static_cast<double>(FLT_MAX)) {
          fl = FLT_MAX;
        } else if (x < -static_cast<double>(FLT_MAX)) {
          fl = -FLT_MAX;
        } else {
          fl = static_cast<float>(x);
        }
        add ? r->AddFloat(m, f, fl) : r->SetFloat(m, f, fl);
        return true;
      }
      case FD::CPPTYPE_DOUBLE: {
        auto d = as(DataType::plain(TypeKind::Double), f, v, path);
        if (!d) return false;
        add ? r->AddDouble(m, f, d->as_double()) : r->SetDouble(m, f, d->as_double());
        return true;
      }
      case FD::CPPTYPE_ENUM: {
        auto s = as(DataType::plain(TypeKind::String), f, v, path);
        if (!s) return false;
        auto number = enum_number(f->enum_type(), s->as_string());
        if (!number) {
          return fail(path, excerpt(s->to_string()) + " is not a value of protobuf enum \"" +
                                f->enum_type()->full_name() + "\"");
        }
        add ? r->AddEnumValue(m, f, *number) : r->SetEnumValue(m, f, *number);
        return true;
      }
      case FD::CPPTYPE_STRING: {
        if (!schema_.is_text(f)) {
          auto b = as(DataType::plain(TypeKind::Bytes), f, v, path);
          if (!b) return false;
          add ? r->AddString(m, f, b->as_bytes()) : r->SetString(m, f, b->as_bytes());
          return true;
        }
        auto s = as(DataType::plain(TypeKind::String), f, v, path);
        if (!s) return false;
        if (!valid_utf8(s->as_string())) {
          return fail(path,
                      "a STRING that is not valid UTF-8 cannot be written as protobuf "
                      "string");
        }
        add ? r->AddString(m, f, s->as_string()) : r->SetString(m, f, s->as_string());
        return true;
      }
      default:
        return mismatch(f, v, path);
    }
  }

  static bool set_int32(pb::Message* m, int number, int32_t value) {
    const FD* f = m->GetDescriptor()->FindFieldByNumber(number);
    if (!f || f->cpp_type() != FD::CPPTYPE_INT32) return false;
    m->GetReflection()->SetInt32(m, f, value);
    return true;
  }

  bool timestamp(pb::Message* sub, const FD* f, const Value& v, const PathLink& path) {
    auto t = as(DataType::plain(TypeKind::Timestamp), f, v, path);
    if (!t) return false;
    const int64_t ms = t->as_timestamp();
    const int64_t seconds = floor_div(ms, 1000);
    const auto nanos = static_cast<int32_t>((ms - seconds * 1000) * 1'000'000);
    if (seconds < kMinTimestampSeconds || seconds > kMaxTimestampSeconds) {
      return fail(path, "TIMESTAMP " + std::to_string(ms) +
                            " is out of google.protobuf.Timestamp's range (years 1 to 9999)");
    }
    const FD* seconds_field = sub->GetDescriptor()->FindFieldByNumber(1);
    if (!seconds_field || seconds_field->cpp_type() != FD::CPPTYPE_INT64 ||
        !set_int32(sub, 2, nanos)) {
      return mismatch(f, v, path);
    }
    sub->GetReflection()->SetInt64(sub, seconds_field, seconds);
    return true;
  }

  bool date(pb::Message* sub, const FD* f, const Value& v, const PathLink& path) {
    auto d = as(DataType::plain(TypeKind::Date), f, v, path);
    if (!d) return false;
    int64_t year = 0;
    int64_t month = 0;
    int64_t day = 0;
    civil_from_days(d->as_date(), year, month, day);
    if (year < 1 || year > INT32_MAX) {
      return fail(path, "DATE " + std::to_string(d->as_date()) +
                            " is before year 1, which google.type.Date cannot hold");
    }
    if (!set_int32(sub, 1, static_cast<int32_t>(year)) ||
        !set_int32(sub, 2, static_cast<int32_t>(month)) ||
        !set_int32(sub, 3, static_cast<int32_t>(day))) {
      return mismatch(f, v, path);
    }
    return true;
  }

  bool time_of_day(pb::Message* sub, const FD* f, const Value& v, const PathLink& path) {
    auto t = as(DataType::plain(TypeKind::Time), f, v, path);
    if (!t) return false;
    const int64_t ms = t->as_time();
    if (ms < 0 || ms >= kMillisPerDay) {
      return fail(path, "TIME " + std::to_string(ms) + " is not a time of day");
    }
    if (!set_int32(sub, 1, static_cast<int32_t>(ms / 3'600'000)) ||
        !set_int32(sub, 2, static_cast<int32_t>(ms / 60'000 % 60)) ||
        !set_int32(sub, 3, static_cast<int32_t>(ms / 1000 % 60)) ||
        !set_int32(sub, 4, static_cast<int32_t>(ms % 1000 * 1'000'000))) {
      return mismatch(f, v, path);
    }
    return true;
  }

  bool decimal(pb::Message* sub, const FD* f, const Value& v, const PathLink& path) {
    // The field's DECIMAL(p, s) when its field meta says; else the value's own.
    std::optional<Value> d;
    if (const DataType* type = decimal_type(schema_, f)) {
      d = as(*type, f, v, path);
    } else if (v.kind() == TypeKind::Decimal) {
      d = v;
    } else if (v.kind() == TypeKind::Int || v.kind() == TypeKind::BigInt) {
      d = Value::decimal(Decimal::from_int(v.to_int64()));
    } else if (v.kind() == TypeKind::String) {
      if (auto parsed = Decimal::parse(v.as_string())) d = Value::decimal(*parsed);
      if (!d) mismatch(f, v, path);
    } else {
      mismatch(f, v, path);
    }
    if (!d) return false;
    const Decimal& dec = d->as_decimal();
    const pb::Descriptor* desc = sub->GetDescriptor();
    const pb::Reflection* r = sub->GetReflection();
    const FD* value_field = desc->FindFieldByNumber(1);
    const FD* precision_field = desc->FindFieldByNumber(2);
    if (!value_field || value_field->cpp_type() != FD::CPPTYPE_STRING || !precision_field ||
        precision_field->cpp_type() != FD::CPPTYPE_UINT32 || !set_int32(sub, 3, dec.scale())) {
      return mismatch(f, v, path);
    }
    r->SetString(sub, value_field, i128_to_twos_complement(dec.unscaled()));
    // BigDecimal.precision(): the digits of the unscaled value.
    r->SetUInt32(sub, precision_field, static_cast<uint32_t>(digits_i128(dec.unscaled())));
    return true;
  }

  const Schema& schema_;
  std::string error_;
};

}  // namespace

// --- Public functions ------------------------------------------------------------

Expected<std::vector<Column>> columns_of(std::string_view proto_text, std::string_view full_name,
                                         const ProtoFiles& imports) {
  auto schema = load_schema(proto_text, imports);
  if (!schema) return schema.error();
  auto root = find_message(**schema, full_name);
  if (!root) return root.error();
  SqlTypes types(**schema);
  return types.columns(*root);
}

std::string schema_for(const std::vector<Column>& value_columns, std::string_view full_name) {
  SchemaWriter writer;
  return writer.schema(value_columns, full_name);
}

std::string encode_message_indexes(const std::vector<int>& indexes) {
  if (indexes.empty() || (indexes.size() == 1 && indexes[0] == 0)) return std::string(1, '\0');
  std::string out;
  auto varint = [&](int v) {
    // Zigzag, then 7 bits a byte, low first.
    uint32_t u = (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31);
    while (u >= 0x80) {
      out.push_back(static_cast<char>((u & 0x7f) | 0x80));
      u >>= 7;
    }
    out.push_back(static_cast<char>(u));
  };
  varint(static_cast<int>(indexes.size()));
  for (int i : indexes) varint(i);
  return out;
}

Expected<std::vector<int>> decode_message_indexes(std::string_view& bytes) {
  std::string_view in = bytes;
  auto varint = [&](const char* what) -> Expected<int> {
    uint32_t u = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      if (in.empty()) {
        return Error::data(std::string("protobuf message indexes: the input ends inside ") + what);
      }
      const auto b = static_cast<unsigned char>(in.front());
      in.remove_prefix(1);
      if (shift == 28 && b > 0x0f) {
        return Error::data(std::string("protobuf message indexes: ") + what +
                           " is longer than 32 bits");
      }
      u |= static_cast<uint32_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return static_cast<int>((u >> 1) ^ (~(u & 1) + 1));
    }
    return Error::data(std::string("protobuf message indexes: ") + what +
                       " is longer than 32 bits");
  };
  auto count = varint("the count");
  if (!count) return count.error();
  if (*count == 0) {
    bytes = in;
    return std::vector<int>{0};
  }
  if (*count < 0 || static_cast<size_t>(*count) > in.size()) {
    return Error::data("protobuf message indexes: a count of " + std::to_string(*count) + " with " +
                       std::to_string(in.size()) + " bytes left");
  }
  std::vector<int> out;
  out.reserve(static_cast<size_t>(*count));
  for (int i = 0; i < *count; ++i) {
    auto index = varint("an index");
    if (!index) return index.error();
    if (*index < 0) {
      return Error::data("protobuf message indexes: index " + std::to_string(*index) +
                         " is negative");
    }
    out.push_back(*index);
  }
  bytes = in;
  return out;
}

Expected<std::vector<int>> message_indexes(std::string_view proto_text, std::string_view full_name,
                                           const ProtoFiles& imports) {
  auto schema = load_schema(proto_text, imports);
  if (!schema) return schema.error();
  auto d = find_message(**schema, full_name);
  if (!d) return d.error();
  return indexes_of(**schema, *d);
}

Expected<std::string> message_name(std::string_view proto_text, const std::vector<int>& indexes,
                                   const ProtoFiles& imports) {
  auto schema = load_schema(proto_text, imports);
  if (!schema) return schema.error();
  auto d = message_at(**schema, indexes);
  if (!d) return d.error();
  return (*d)->full_name();
}

const std::vector<std::pair<std::string, std::string>>& bundled_files() {
  return bundled();
}

// One message of the schema read as the columns: its plan (or why it
// cannot be), and the scratch message parsed into.
struct ReadTarget {
  std::unique_ptr<MessagePlan> plan;
  std::optional<Error> error;
  std::unique_ptr<pb::Message> scratch;
};

struct Message::Impl {
  std::unique_ptr<Schema> schema;
  std::unique_ptr<pb::DynamicMessageFactory> factory;
  const pb::Descriptor* descriptor = nullptr;  // make's message
  std::string full_name;
  std::vector<int> indexes;
  std::vector<Column> columns;  // value columns only
  DataTypePtr row_type;         // STRUCT of the columns
  // Per field of make's message: the position and name of the column
  // holding it in the rows encode gets ({-1, ""}: none).
  std::vector<Hint> hints;
  std::map<const pb::Descriptor*, ReadTarget> targets;
  std::unique_ptr<pb::Message> encode_scratch;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    // The messages before the factory that made them.
    targets.clear();
    encode_scratch.reset();
    factory.reset();
  }

  ReadTarget& target(const pb::Descriptor* d) {
    auto it = targets.find(d);
    if (it != targets.end()) return it->second;
    ReadTarget& t = targets[d];
    PlanCompiler compiler(*schema);
    auto plan = compiler.message(d, *row_type, "", 0);
    if (plan) {
      t.plan = std::move(*plan);
      t.scratch.reset(factory->GetPrototype(d)->New());
    } else {
      t.error = plan.error();
    }
    return t;
  }

  Expected<Value> decode(std::string_view bytes, const pb::Descriptor* d) {
    ReadTarget& t = target(d);
    if (!t.plan) {
      return Error::data(
          "protobuf message \"" + d->full_name() +
          "\" (the record's message indexes) cannot be read as the columns: " + t.error->message);
    }
    if (bytes.size() > static_cast<size_t>(INT_MAX)) {
      return Error::data("protobuf message larger than 2 GiB");
    }
    pb::Message& m = *t.scratch;
    // Partial: ParseFromArray logs to stderr when required fields are missing.
    if (!m.ParsePartialFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return Error::data("invalid protobuf message \"" + d->full_name() + "\" of " +
                         std::to_string(bytes.size()) + " bytes");
    }
    if (!m.IsInitialized()) {
      return Error::data("protobuf message \"" + d->full_name() + "\": missing required fields " +
                         excerpt(m.InitializationErrorString()));
    }
    Reader reader(*schema);
    return reader.message(*t.plan, m);
  }
};

Message::Message(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Message::~Message() = default;

Expected<std::unique_ptr<Message>> Message::make(std::string_view proto_text,
                                                 std::string_view full_name,
                                                 std::vector<Column> columns,
                                                 const ProtoFiles& imports) {
  auto impl = std::make_unique<Impl>();
  auto schema = load_schema(proto_text, imports);
  if (!schema) return schema.error();
  impl->schema = std::move(*schema);
  auto d = find_message(*impl->schema, full_name);
  if (!d) return d.error();
  impl->descriptor = *d;
  impl->full_name = (*d)->full_name();
  impl->indexes = indexes_of(*impl->schema, *d);
  impl->factory = std::make_unique<pb::DynamicMessageFactory>(impl->schema->pool.get());

  for (auto& c : columns) {
    if (c.is_key) continue;
    if (!c.type) c.type = DataType::of(TypeKind::Null);
    impl->columns.push_back(std::move(c));
  }
  impl->row_type = DataType::structure_of(impl->columns);
  ReadTarget& t = impl->target(*d);
  if (!t.plan) return *t.error;

  for (int i = 0; i < (*d)->field_count(); ++i) {
    int column = -1;
    const std::string& name = (*d)->field(i)->name();
    for (size_t k = 0; k < impl->columns.size() && column < 0; ++k) {
      if (impl->columns[k].name == name) column = static_cast<int>(k);
    }
    for (size_t k = 0; k < impl->columns.size() && column < 0; ++k) {
      if (iequals(impl->columns[k].name, name)) column = static_cast<int>(k);
    }
    impl->hints.push_back(
        column < 0 ? Hint{-1, {}} : Hint{column, impl->columns[static_cast<size_t>(column)].name});
  }
  impl->encode_scratch.reset(impl->factory->GetPrototype(*d)->New());
  return std::unique_ptr<Message>(new Message(std::move(impl)));
}

Expected<Value> Message::decode(std::string_view message_bytes,
                                const std::vector<int>& indexes) const {
  auto d = message_at(*impl_->schema, indexes);
  if (!d) return d.error();
  return impl_->decode(message_bytes, *d);
}

Expected<Value> Message::decode(std::string_view message_bytes) const {
  return impl_->decode(message_bytes, impl_->descriptor);
}

Expected<std::string> Message::encode(const Value& row) const {
  Impl& im = *impl_;
  if (row.kind() != TypeKind::Struct) {
    return Error::data(std::string("protobuf encode expects a STRUCT of the value columns, got ") +
                       type_kind_name(row.kind()));
  }
  pb::Message& m = *im.encode_scratch;
  m.Clear();
  Writer writer(*im.schema);
  if (!writer.message(&m, row, PathLink{nullptr, ""}, &im.hints)) {
    return Error::data(writer.error());
  }
  if (!m.IsInitialized()) {
    return Error::data("protobuf message \"" + im.full_name + "\": missing required fields " +
                       excerpt(m.InitializationErrorString()));
  }
  std::string out;
  if (!m.SerializePartialToString(&out)) {
    return Error::data("protobuf message \"" + im.full_name + "\" cannot be serialized");
  }
  return out;
}

std::vector<int> Message::indexes() const {
  return impl_->indexes;
}

const std::string& Message::full_name() const {
  return impl_->full_name;
}

}  // namespace rivulet::protobuf
