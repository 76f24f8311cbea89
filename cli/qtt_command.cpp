// `rivulet qtt FILE.json...`: runs ksqlDB query-validation test files
// (format and output contract in ../shared/qtt/README.md) through the SQL
// engine and the in-process test driver. One line per case (PASS, FAIL or
// SKIP), then "N passed, N failed, N skipped"; --json prints one object.
//
// SKIP categories (out of scope, documented in sql/README.md):
//  - schema-registry: a CREATE STREAM/TABLE in AVRO, PROTOBUF or JSON_SR
//    without inline columns needs a schema registry to know its columns (a
//    case whose topics give AVRO or PROTOBUF schemas runs with them in a
//    registry in memory: case_registry, with the schemas they reference).
// Everything else passes or fails.
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "runtime/avro_wire.hpp"
#include "runtime/codec.hpp"
#include "runtime/protobuf_wire.hpp"
#include "runtime/schema_registry.hpp"
#include "sql/functions.hpp"
#include "sql/parser.hpp"
#include "sql/planner.hpp"
#include "sql/test_driver.hpp"
#include "sql/text.hpp"

namespace rivulet::cli {
namespace {

using nlohmann::json;

struct CaseResult {
  std::string file;
  std::string name;
  std::string status;  // PASS, FAIL, SKIP
  std::string detail;
};

bool logical_json(const std::string& f) {
  return f == "JSON" || f == "JSON_SR" || f == "AVRO" || f == "PROTOBUF" || f == "PROTOBUF_NOSR";
}

std::string base_name(const std::string& path) {
  auto at = path.find_last_of('/');
  return at == std::string::npos ? path : path.substr(at + 1);
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

// A JSON scalar as a Value (objects and arrays through the JSON codec).
Value from_json(const json& j) {
  if (j.is_null()) return Value();
  if (j.is_boolean()) return Value::boolean(j.get<bool>());
  if (j.is_number_integer()) return Value::int64(j.get<int64_t>());
  if (j.is_number_float()) return Value::float64(j.get<double>());
  if (j.is_string()) return Value::string(j.get<std::string>());
  auto v = make_json_codec()->decode(j.dump());
  return v ? *v : Value();
}

// Encodes a logical key or value the way `format` writes it; `type` is the
// column type for KAFKA.
Expected<std::optional<std::string>> encode(const json& j, const std::string& format,
                                            const DataTypePtr& type) {
  if (j.is_null()) return std::optional<std::string>();
  if (format == "DELIMITED")
    return std::optional<std::string>(j.is_string() ? j.get<std::string>() : j.dump());
  if (logical_json(format) || !type) return std::optional<std::string>(j.dump());
  if (format == "KAFKA") {
    auto v = coerce(from_json(j), *type);
    if (!v) return Error::data("cannot write " + j.dump() + " as " + type->to_string());
    auto bytes = make_kafka_codec(type)->encode(*v);
    if (!bytes) return bytes.error();
    return std::optional<std::string>(*bytes);
  }
  return Error::data("unknown format " + format);
}

// Decodes written bytes into the logical JSON the files use.
json decode(const std::optional<std::string>& bytes, const std::string& format,
            const DataTypePtr& type) {
  if (!bytes) return json();
  if (format == "DELIMITED") return json(*bytes);
  if (logical_json(format) || !type) {
    json j = json::parse(*bytes, nullptr, false);
    return j.is_discarded() ? json(*bytes) : j;
  }
  auto v = make_kafka_codec(type)->decode(*bytes);
  if (!v) return json("<undecodable: " + v.error().message + ">");
  json j = json::parse(to_json(*v), nullptr, false);
  return j.is_discarded() ? json() : j;
}

DataTypePtr key_type(const sql::SourceInfo& s) {
  auto keys = s.schema.key_columns();
  return keys.size() == 1 ? keys[0].type : nullptr;
}

DataTypePtr value_type(const sql::SourceInfo& s) {
  auto values = s.schema.value_columns();
  return values.size() == 1 && s.value_format == "KAFKA" ? values[0].type : nullptr;
}

// `a` expected, `b` what came out. Numbers compare by value (1 == 1.0);
// objects field by field as ksqlDB's test tool compares them
// (ExpectedRecordComparator): as many fields on both sides, each expected
// field looked up by its name, then by its name in upper case, and one not
// found reads as NULL.
bool same_json(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_number_float() || b.is_number_float()) {
      double x = a.get<double>(), y = b.get<double>();
      return x == y;
    }
    return a == b;
  }
  // The files write DECIMAL values as strings ("21.79"), in JSON too.
  if (a.is_string() != b.is_string() && (a.is_number() || b.is_number())) {
    const std::string& text = a.is_string() ? a.get_ref<const std::string&>()
                                            : b.get_ref<const std::string&>();
    double n = a.is_number() ? a.get<double>() : b.get<double>();
    char* end = nullptr;
    double parsed = std::strtod(text.c_str(), &end);
    return !text.empty() && end == text.c_str() + text.size() && parsed == n;
  }
  if (a.is_object() && b.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      auto other = b.find(it.key());
      if (other == b.end()) other = b.find(sql::to_upper(it.key()));
      if (!same_json(*it, other == b.end() ? json() : *other)) return false;
    }
    return true;
  }
  if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!same_json(a[i], b[i])) return false;
    return true;
  }
  return a == b;
}

// Windowed keys (Kafka's formats): TimeWindowed keys end with the start,
// SessionWindowed keys with the end and the start (8 big-endian bytes each).
void append_be64(std::string& out, int64_t v) {
  for (int i = 7; i >= 0; --i)
    out.push_back(static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff));
}

int64_t read_be64(const std::string& b, size_t at) {
  uint64_t u = 0;
  for (size_t i = 0; i < 8; ++i) u = (u << 8) | static_cast<unsigned char>(b[at + i]);
  return static_cast<int64_t>(u);
}

bool add_window(std::optional<std::string>& key, const json& window) {
  if (!key || !window.is_object()) return false;
  int64_t start = window.value("start", int64_t{0});
  int64_t end = window.value("end", int64_t{0});
  if (window.value("type", "") == "session") append_be64(*key, end);
  append_be64(*key, start);
  return true;
}

// Splits the window off a windowed sink's key: {"start", "end", "type"}.
json take_window(std::optional<std::string>& key, const sql::SourceInfo& s) {
  if (!s.window || !key) return json();
  bool session = *s.window == sql::WindowType::Session;
  size_t suffix = session ? 16 : 8;
  if (key->size() < suffix) return json("<key shorter than its window>");
  size_t at = key->size() - suffix;
  json w;
  if (session) {
    w = json{{"start", read_be64(*key, at + 8)}, {"end", read_be64(*key, at)}, {"type", "session"}};
  } else {
    int64_t start = read_be64(*key, at);
    w = json{{"start", start}, {"end", start + s.window_size_ms.value_or(0)}, {"type", "time"}};
  }
  key->resize(at);
  return w;
}

// `registry`: the case's topics give their AVRO or PROTOBUF schemas (and
// ids), so its sources in those formats read their columns from them.
std::optional<std::string> skip_reason(const json& test,
                                       const std::vector<sql::Statement>& statements,
                                       bool registry) {
  for (const auto& s : statements) {
    const auto* c = std::get_if<sql::CreateSource>(&s.body);
    if (!c || !c->elements.empty()) continue;
    for (const char* p : {"VALUE_FORMAT", "FORMAT", "KEY_FORMAT"}) {
      auto f = c->properties.text(p);
      if (!f) continue;
      std::string u;
      for (char ch : *f) u += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (((u == "AVRO" || u == "PROTOBUF") && !registry) || u == "JSON_SR")
        return "schema-registry: " + c->name + " in " + u + " declares no columns";
    }
  }
  return std::nullopt;
}

// The schema registry of a case whose topics give AVRO or PROTOBUF schemas
// with their ids ("keySchema"/"keySchemaId", "valueSchema"/"valueSchemaId"):
// a registry in memory holding them under "<topic>-key" and
// "<topic>-value"; nullptr when no topic does. While it is the process's
// registry, AVRO and PROTOBUF are the registry's wire format: the inputs
// are written in it and the outputs read back from it (binary_encode,
// binary_decode).
std::shared_ptr<MemorySchemaRegistry> case_registry(const json& test) {
  if (!test.contains("topics") || !test["topics"].is_array()) return nullptr;
  std::shared_ptr<MemorySchemaRegistry> registry;
  // Schemas with their ids first; then those without, registered in the
  // order given (ids from 1 after those, as ksqlDB's runner numbers them).
  for (const bool with_id : {true, false}) {
    for (const auto& t : test["topics"]) {
      for (const char* side : {"key", "value"}) {
        const std::string s(side);
        const std::string format = t.value(s + "Format", "");
        if ((format != "AVRO" && format != "PROTOBUF") || !t.contains(s + "Schema")) continue;
        const bool has_id = t.contains(s + "SchemaId") && t[s + "SchemaId"].is_number_integer();
        if (has_id != with_id) continue;
        if (!registry) registry = std::make_shared<MemorySchemaRegistry>();
        const json& schema = t[s + "Schema"];  // Avro's JSON; a .proto's text
        const std::string text =
            schema.is_string() && format == "PROTOBUF" ? schema.get<std::string>() : schema.dump();
        const std::string subject = t.value("name", "") + "-" + s;
        const char* type = format == "PROTOBUF" ? kProtobufSchemaType : kAvroSchemaType;
        // Schemas it imports: each registered under its import name, as
        // Confluent's serializers register references by default.
        std::vector<SchemaReference> references;
        if (auto refs = t.find(s + "SchemaReferences"); refs != t.end() && refs->is_array())
          for (const auto& r : *refs) {
            const std::string name = r.value("name", "");
            const json& ref_schema = r.contains("schema") ? r["schema"] : json();
            const std::string ref_text =
                ref_schema.is_string() ? ref_schema.get<std::string>() : ref_schema.dump();
            if (!registry->register_schema(name, ref_text, type)) continue;
            references.push_back(SchemaReference{name, name, registry->versions(name).back()});
          }
        if (has_id)
          registry->add(subject, t[s + "SchemaId"].get<int>(), text, type, references);
        else
          (void)registry->register_with_references(subject, text, type, references);
      }
    }
  }
  return registry;
}

// Whether `format`'s bytes are binary: written by binary_encode and read
// by binary_decode rather than as JSON text. `registry`: the case has a
// schema registry (AVRO and PROTOBUF are then the registry's wire format).
bool binary_format(const std::string& format, bool registry) {
  return (registry && (format == "AVRO" || format == "PROTOBUF")) || format == "PROTOBUF_NOSR";
}

// Protobuf message keys, even of one column: PROTOBUF and PROTOBUF_NOSR.
bool message_keys(const std::string& key_format) {
  return key_format == "PROTOBUF" || key_format == "PROTOBUF_NOSR";
}

// The codec of an AVRO or PROTOBUF key or value of source `s` in the
// registry's wire format, or of a PROTOBUF_NOSR one.
std::unique_ptr<Codec> binary_codec(const sql::SourceInfo& s, bool key) {
  auto schema = std::make_shared<Schema>(s.schema);
  const std::string& format = key ? s.key_format : s.value_format;
  if (format == "PROTOBUF_NOSR")
    return key ? make_protobuf_nosr_key_codec(schema) : make_protobuf_nosr_codec(schema);
  auto registry = schema_registry();
  if (format == "PROTOBUF") {
    const auto name =
        s.properties.text(key ? "KEY_SCHEMA_FULL_NAME" : "VALUE_SCHEMA_FULL_NAME").value_or("");
    return key ? make_protobuf_key_codec(schema, registry, key_subject(s.topic), name)
               : make_protobuf_codec(schema, registry, value_subject(s.topic), name);
  }
  return key ? make_avro_key_codec(schema, registry, key_subject(s.topic))
             : make_avro_codec(schema, registry, value_subject(s.topic));
}

// The key columns as value columns (the JSON codec reads value columns).
std::shared_ptr<Schema> key_as_values(const sql::SourceInfo& s) {
  auto keys = std::make_shared<Schema>();
  keys->columns = s.schema.key_columns();
  for (Column& c : keys->columns) c.is_key = false;
  return keys;
}

// An AVRO or PROTOBUF key or value of source `s` in the registry's wire
// format, or a PROTOBUF_NOSR one: the logical JSON read as the source's
// columns, then written with the subject's latest schema (the case's own,
// when it holds the row; PROTOBUF_NOSR: the columns' own). A PROTOBUF key is
// a message even for one column: the test files give it as an object,
// {"K": "a"}.
Expected<std::optional<std::string>> binary_encode(const json& j, const sql::SourceInfo& s,
                                                   bool key) {
  if (j.is_null()) return std::optional<std::string>();
  Value row;
  if (key) {
    auto keys = key_as_values(s);
    if (j.is_object() && message_keys(s.key_format)) {
      auto v = make_json_codec(keys)->decode(j.dump());
      if (!v) return v.error();
      row = keys->columns.size() == 1 ? v->as_struct().front().value : *v;
    } else {
      if (keys->columns.size() != 1)
        return Error::data(s.key_format + " keys of several columns in a test input");
      auto v = coerce(from_json(j), *keys->columns[0].type);
      if (!v)
        return Error::data("cannot write " + j.dump() + " as " +
                           keys->columns[0].type->to_string());
      row = *v;
    }
  } else {
    auto values = std::make_shared<Schema>();
    values->columns = s.schema.value_columns();
    auto v = make_json_codec(values)->decode(j.dump());
    if (!v) return v.error();
    row = *v;
  }
  auto bytes = binary_codec(s, key)->encode(row);
  if (!bytes) return bytes.error();
  return std::optional<std::string>(*bytes);
}

json binary_decode(const std::optional<std::string>& bytes, const sql::SourceInfo& s, bool key) {
  if (!bytes) return json();
  auto v = binary_codec(s, key)->decode(*bytes);
  if (!v) return json("<undecodable: " + v.error().message + ">");
  Value shown = *v;
  if (key && message_keys(s.key_format) && s.schema.key_columns().size() == 1)
    shown = Value::structure({{s.schema.key_columns().front().name, *v}});
  json j = json::parse(to_json(shown), nullptr, false);
  return j.is_discarded() ? json() : j;
}

// The process's registry for one case, cleared after it.
struct CaseRegistry {
  explicit CaseRegistry(std::shared_ptr<SchemaRegistry> r) : on(r != nullptr) {
    if (on) set_schema_registry(std::move(r));
  }
  ~CaseRegistry() {
    if (on) set_schema_registry(nullptr);
  }
  bool on;
};

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n') c = ' ';
  return s;
}

// Runs one case with `format` substituted for {FORMAT} and `config` for
// {CONFIG} (a value of its "config" list, which ksqlDB's runner runs the
// case once per); returns "" on success, else why.
CaseResult run_case(const json& test, const std::string& format, const std::string& config) {
  CaseResult r;
  r.status = "FAIL";
  bool expects_error = test.contains("expectedException");
  std::vector<sql::Statement> statements;
  if (!test.contains("statements") || !test["statements"].is_array()) {
    r.detail = "no statements";
    return r;
  }
  sql::TypeRegistry types;  // CREATE TYPE in one statement, its name in the next
  for (const auto& st : test["statements"]) {
    if (!st.is_string()) continue;
    std::string text = st.get<std::string>();
    replace_all(text, "{FORMAT}", format.empty() ? "JSON" : format);
    replace_all(text, "{CONFIG}", config);
    auto parsed = sql::parse_statements(text, types);
    if (!parsed) {
      if (expects_error) {
        r.status = "PASS";
      } else {
        r.detail = "statement rejected: " + one_line(parsed.error().message);
      }
      return r;
    }
    for (auto& s : *parsed) {
      if (const auto* c = std::get_if<sql::CreateType>(&s.body)) types.emplace(c->name, c->type);
      if (const auto* d = std::get_if<sql::DropType>(&s.body)) types.erase(d->name);
      statements.push_back(std::move(s));
    }
  }
  CaseRegistry registry(case_registry(test));
  if (auto why = skip_reason(test, statements, registry.on)) {
    r.status = "SKIP";
    r.detail = *why;
    return r;
  }
  sql::SqlEngine engine;
  // The case's engine settings, as a SET before its statements would.
  if (test.contains("properties") && test["properties"].is_object())
    for (const auto& [k, v] : test["properties"].items())
      if (v.is_string()) {
        std::string value = v.get<std::string>(), key = k;
        replace_all(value, "{CONFIG}", config);
        replace_all(value, "'", "''");
        replace_all(key, "'", "''");
        if (auto set = engine.execute_script("SET '" + key + "' = '" + value + "';"); !set) {
          r.detail = "property rejected: " + one_line(set.error().message);
          return r;
        }
      }
  for (const auto& s : statements) {
    auto done = engine.execute(s);
    if (!done) {
      if (expects_error) {
        r.status = "PASS";
      } else {
        r.detail = "statement rejected: " + one_line(done.error().message);
      }
      return r;
    }
  }
  // A runtime error (an expectedException with inputs): a record of the
  // inputs must fail (a data error).
  const bool runtime_error =
      expects_error && test.contains("inputs") && !test["inputs"].empty();
  if (expects_error && !runtime_error) {
    std::string msg;
    if (test["expectedException"].is_object() && test["expectedException"].contains("message"))
      msg = test["expectedException"]["message"].dump();
    r.detail = "expected an error " + msg + ", got none";
    return r;
  }
  auto driver = sql::TestDriver::create(engine.topology());
  if (!driver) {
    r.detail = "topology: " + one_line(driver.error().message);
    return r;
  }
  // Sources by topic (the last one created wins, like a fresh ksqlDB).
  std::map<std::string, const sql::SourceInfo*> by_topic;
  for (auto type : {sql::SourceType::Stream, sql::SourceType::Table})
    for (const auto* s : engine.catalog().list(type)) by_topic[s->topic] = s;

  if (test.contains("inputs")) {
    for (const auto& in : test["inputs"]) {
      std::string topic = in.value("topic", "");
      auto src = by_topic.find(topic);
      if (src == by_topic.end()) {
        r.detail = "no source reads topic " + topic;
        return r;
      }
      const sql::SourceInfo& s = *src->second;
      json key = in.contains("key") ? in["key"] : json();
      json value = in.contains("value") ? in["value"] : json();
      const bool binary_key = binary_format(s.key_format, registry.on);
      const bool binary_value = binary_format(s.value_format, registry.on);
      auto k = binary_key ? binary_encode(key, s, true) : encode(key, s.key_format, key_type(s));
      auto v = binary_value ? binary_encode(value, s, false)
                            : encode(value, s.value_format, value_type(s));
      if (!k || !v) {
        r.detail = "input: " + (!k ? k.error().message : v.error().message);
        return r;
      }
      if (in.contains("window") && !add_window(*k, in["window"])) {
        r.detail = "input: a windowed record needs a key and a window";
        return r;
      }
      int64_t ts = in.contains("timestamp") && in["timestamp"].is_number_integer()
                       ? in["timestamp"].get<int64_t>()
                       : 0;
      (*driver)->pipe(topic, *k, *v, ts);
    }
  }
  if (runtime_error) {
    if (!(*driver)->data_errors().empty()) {
      r.status = "PASS";
    } else {
      r.detail = "expected a record to fail, none did";
    }
    return r;
  }
  std::map<std::string, std::vector<json>> expected;
  std::vector<std::string> order;
  if (test.contains("outputs")) {
    for (const auto& out : test["outputs"]) {
      std::string topic = out.value("topic", "");
      if (!expected.count(topic)) order.push_back(topic);
      expected[topic].push_back(out);
    }
  }
  // Every query's result topic is checked (none listed: no records), except
  // an intermediate result that another query reads while the case lists
  // outputs of other topics (ksqlDB checks the topics its cases list).
  std::set<std::string> read;
  for (const auto& t : engine.topology().source_topics()) read.insert(t);
  auto unlisted = [&](const sql::SourceInfo* s) {
    return !s->query_id.empty() && !expected.count(s->topic) &&
           (expected.empty() || !read.count(s->topic));
  };
  for (const auto& s : engine.catalog().list(sql::SourceType::Stream))
    if (unlisted(s)) order.push_back(s->topic), expected[s->topic];
  for (const auto& s : engine.catalog().list(sql::SourceType::Table))
    if (unlisted(s)) order.push_back(s->topic), expected[s->topic];

  for (const auto& topic : order) {
    const auto& want = expected[topic];
    auto got = (*driver)->outputs(topic);
    auto sink = by_topic.find(topic);
    for (size_t i = 0; i < std::max(want.size(), got.size()); ++i) {
      std::string where = topic + " #" + std::to_string(i + 1);
      if (i >= got.size()) {
        r.detail = "expected " + where + " " + want[i].dump() + ", got nothing";
        if (!(*driver)->data_errors().empty())
          r.detail += " (first data error: " + one_line((*driver)->data_errors()[0].to_string()) + ")";
        return r;
      }
      json gk, gv, gw;
      if (sink != by_topic.end()) {
        auto key = got[i].key;
        const sql::SourceInfo& out = *sink->second;
        gw = take_window(key, out);
        gk = binary_format(out.key_format, registry.on)
                 ? binary_decode(key, out, true)
                 : decode(key, out.key_format, key_type(out));
        gv = binary_format(out.value_format, registry.on)
                 ? binary_decode(got[i].value, out, false)
                 : decode(got[i].value, out.value_format, value_type(out));
      } else {
        gk = decode(got[i].key, "JSON", nullptr);
        gv = decode(got[i].value, "JSON", nullptr);
      }
      json actual{{"key", gk}, {"value", gv}, {"timestamp", got[i].timestamp}};
      if (!gw.is_null()) actual["window"] = gw;
      if (i >= want.size()) {
        r.detail = "expected no " + where + ", got " + actual.dump();
        return r;
      }
      const json& w = want[i];
      json wk = w.contains("key") ? w["key"] : json();
      json wv = w.contains("value") ? w["value"] : json();
      bool ok = same_json(wk, gk) && same_json(wv, gv);
      if (w.contains("timestamp") && w["timestamp"].is_number_integer() &&
          w["timestamp"].get<int64_t>() != got[i].timestamp)
        ok = false;
      if (w.contains("window") != !gw.is_null() || (!gw.is_null() && !same_json(w["window"], gw)))
        ok = false;
      if (!ok) {
        json exp{{"key", wk}, {"value", wv}};
        if (w.contains("timestamp")) exp["timestamp"] = w["timestamp"];
        if (w.contains("window")) exp["window"] = w["window"];
        r.detail = "expected " + where + " " + exp.dump() + ", got " + actual.dump();
        return r;
      }
    }
  }
  r.status = "PASS";
  return r;
}

// ksqlDB's functional tests run with test UDFs on their classpath
// (ksqldb-functional-tests' io.confluent.ksql.function.udf package); a few
// cases call them. The same functions, registered as UDFs of this process:
//  - BAD_UDF(INT) -> STRING throws; BAD_UDF(BOOLEAN) -> INT throws when its
//    argument is true, else 0; BAD_UDF(STRING) -> STRING is NULL on every
//    other call, starting with the first (per call site, as ksqlDB makes
//    one instance of a UDF per call).
//  - WHENCONDITION(BOOLEAN v, BOOLEAN ok) -> BOOLEAN and WHENRESULT(INT v,
//    BOOLEAN ok) -> INT return v, and throw when ok is false: a CASE that
//    evaluates a branch it should not gets NULL.
void register_ksqldb_test_functions() {
  using sql::FunctionDef;
  using sql::ScalarCall;
  auto kind = [](const DataTypePtr& t) { return t ? t->kind : TypeKind::Null; };
  auto call = [](TypeKind ret, sql::ScalarBody body) {
    ScalarCall c;
    c.return_type = DataType::of(ret);
    c.body = std::move(body);
    c.deterministic = false;  // throws or keeps state: never evaluated ahead of time
    return c;
  };
  FunctionDef bad;
  bad.name = "BAD_UDF";
  bad.signature = "BAD_UDF(INT) -> STRING | BAD_UDF(BOOLEAN) -> INT | BAD_UDF(STRING) -> STRING";
  bad.description = "ksqlDB's test UDF: throws, or returns NULL on every other call";
  bad.resolve = [kind, call](const std::vector<DataTypePtr>& args) -> Expected<ScalarCall> {
    if (args.size() == 1 && kind(args[0]) == TypeKind::Int)
      return call(TypeKind::String,
                  [](const sql::ArgValues&) -> Value { throw std::runtime_error("boom!"); });
    if (args.size() == 1 && kind(args[0]) == TypeKind::Boolean)
      return call(TypeKind::Int, [](const sql::ArgValues& a) -> Value {
        if (a[0].as_bool()) throw std::runtime_error("You asked me to throw...");
        return Value::int32(0);
      });
    if (args.size() == 1 && kind(args[0]) == TypeKind::String) {
      auto calls = std::make_shared<std::atomic<uint64_t>>(0);
      return call(TypeKind::String, [calls](const sql::ArgValues& a) -> Value {
        return (*calls)++ % 2 == 0 ? Value() : a[0];
      });
    }
    return sql::no_matching_overload("BAD_UDF", args);
  };
  for (auto [name, type] :
       {std::pair{"WHENCONDITION", TypeKind::Boolean}, std::pair{"WHENRESULT", TypeKind::Int}}) {
    FunctionDef d;
    d.name = name;
    d.signature = std::string(name) + "(" + (type == TypeKind::Int ? "INT" : "BOOLEAN") +
                  ", BOOLEAN) -> " + (type == TypeKind::Int ? "INT" : "BOOLEAN");
    d.description = "ksqlDB's test UDF: its first argument; throws when the second is false";
    const std::string n = name;
    d.resolve = [kind, call, type = type,
                 n](const std::vector<DataTypePtr>& args) -> Expected<ScalarCall> {
      if (args.size() != 2 || kind(args[0]) != type || kind(args[1]) != TypeKind::Boolean)
        return sql::no_matching_overload(n, args);
      return call(type, [n](const sql::ArgValues& a) -> Value {
        if (!a[1].as_bool()) throw std::runtime_error(n + ": this should not be evaluated");
        return a[0];
      });
    };
    (void)sql::register_function(std::move(d));
  }
  (void)sql::register_function(std::move(bad));
}

int run(const std::vector<std::string>& files, bool as_json) {
  register_ksqldb_test_functions();
  std::vector<CaseResult> results;
  size_t passed = 0, failed = 0, skipped = 0;
  auto report = [&](CaseResult r) {
    (r.status == "PASS" ? passed : r.status == "SKIP" ? skipped : failed) += 1;
    if (!as_json) {
      std::cout << r.status << "  " << r.file << " :: " << r.name;
      if (!r.detail.empty() && r.status != "PASS") std::cout << "  -- " << r.detail;
      std::cout << "\n" << std::flush;
    }
    results.push_back(std::move(r));
  };
  for (const auto& path : files) {
    std::string file = base_name(path);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {  // a directory would throw in parse
      report(CaseResult{file, "(file)", "FAIL", "not a test file (*.json): " + path});
      continue;
    }
    std::ifstream in(path);
    json doc = in ? json::parse(in, nullptr, false) : json();
    if (!in || doc.is_discarded() || !doc.contains("tests") || !doc["tests"].is_array()) {
      report(CaseResult{file, "(file)", "FAIL", "cannot read a test file at " + path});
      continue;
    }
    for (const auto& test : doc["tests"]) {
      std::string name = test.value("name", "(unnamed)");
      std::vector<std::string> formats{""};
      if (test.contains("format") && test["format"].is_array() && !test["format"].empty()) {
        formats.clear();
        for (const auto& f : test["format"]) formats.push_back(f.is_string() ? f.get<std::string>() : "");
      }
      // A case with a "config" list passes when it passes with each value.
      std::vector<std::string> configs;
      if (test.contains("config") && test["config"].is_array())
        for (const auto& c : test["config"])
          if (c.is_string()) configs.push_back(c.get<std::string>());
      for (const auto& f : formats) {
        CaseResult r;
        if (configs.empty()) {
          r = run_case(test, f, "");
        } else {
          for (const auto& c : configs) {
            r = run_case(test, f, c);
            if (r.status == "FAIL") {
              r.detail = "with {CONFIG} = " + c + ": " + r.detail;
              break;
            }
          }
        }
        r.file = file;
        r.name = formats.size() > 1 || !f.empty() ? name + " - " + f : name;
        report(std::move(r));
      }
    }
  }
  if (as_json) {
    json out{{"passed", passed}, {"failed", failed}, {"skipped", skipped}, {"cases", json::array()}};
    for (const auto& r : results)
      out["cases"].push_back(
          json{{"file", r.file}, {"name", r.name}, {"status", r.status}, {"detail", r.detail}});
    std::cout << out.dump() << "\n";
  } else {
    std::cout << passed << " passed, " << failed << " failed, " << skipped << " skipped\n";
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

void add_qtt_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("qtt", "Run ksqlDB query-validation test files (qtt JSON)");
  auto files = std::make_shared<std::vector<std::string>>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("files", *files, "Test files (*.json)")->required();
  cmd->add_flag("--json", *as_json, "Print one JSON object instead of lines");
  cmd->callback([files, as_json] { exit_code = run(*files, *as_json); });
}

}  // namespace rivulet::cli
