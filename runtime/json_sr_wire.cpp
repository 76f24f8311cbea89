#include "runtime/json_sr_wire.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "runtime/ascii.hpp"
#include "runtime/avro_wire.hpp"

namespace rivulet {

namespace json_schema {

namespace {

// Ordered: properties keep the order they are written in.
using json = nlohmann::ordered_json;

constexpr const char* kConnect = "org.apache.kafka.connect.data.";

// Reads one JSON Schema into a SQL type. `root`: the document, for "$ref";
// `documents`: the schemas its references name (a $ref "customer.json" or
// "customer.json#/definitions/Address" reads that document).
class Reader {
 public:
  Reader(const json& root, const std::map<std::string, json>& documents)
      : root_(&root), documents_(documents) {}

  Expected<DataTypePtr> type(const json& s, const std::string& path, int depth) const {
    if (depth > kMaxValueDepth)
      return refuse(path, "nesting deeper than " + std::to_string(kMaxValueDepth) + " levels");
    if (!s.is_object()) return refuse(path, "a schema that is not an object: " + s.dump());
    if (auto ref = s.find("$ref"); ref != s.end()) {
      if (!ref->is_string()) return refuse(path, "a $ref that is not a string: " + ref->dump());
      const std::string target = ref->get<std::string>();
      const size_t hash = target.find('#');
      const json* document = root_;
      if (hash != 0) {  // another document: one of the schema's references
        auto it = documents_.find(target.substr(0, hash));
        if (it == documents_.end())
          return refuse(path, "a $ref outside the schema and its references: " + ref->dump());
        document = &it->second;
      }
      json::json_pointer p;
      try {
        p = json::json_pointer(hash == std::string::npos ? "" : target.substr(hash + 1));
      } catch (const json::exception&) {
        return refuse(path, "a $ref that is no JSON pointer: " + ref->dump());
      }
      if (!document->contains(p)) return refuse(path, "a $ref to nothing: " + ref->dump());
      // Within that document, "#/..." is that document's.
      const json* outer = root_;
      root_ = document;
      auto t = type(document->at(p), path, depth + 1);
      root_ = outer;
      return t;
    }
    for (const char* combined : {"oneOf", "anyOf"}) {
      auto it = s.find(combined);
      if (it == s.end()) continue;
      if (!it->is_array()) return refuse(path, std::string(combined) + " that is not a list");
      std::vector<const json*> others;
      for (const json& sub : *it)
        if (!(sub.is_object() && sub.value("type", json()) == "null")) others.push_back(&sub);
      if (others.size() != 1)
        return refuse(path, "a " + std::string(combined) + " of " + std::to_string(others.size()) +
                                " types other than null has no SQL type");
      return type(*others.front(), path, depth + 1);
    }
    if (s.contains("enum")) return DataType::of(TypeKind::String);
    auto t = s.find("type");
    if (t == s.end()) return refuse(path, "a schema without a type has no SQL type");
    std::string name;
    if (t->is_array()) {  // ["string", "null"]
      for (const json& n : *t)
        if (n != "null") {
          if (!name.empty() || !n.is_string())
            return refuse(path, "the types " + t->dump() + " have no SQL type");
          name = n.get<std::string>();
        }
      if (name.empty()) return refuse(path, "the types " + t->dump() + " have no SQL type");
    } else if (t->is_string()) {
      name = t->get<std::string>();
    } else {
      return refuse(path, "a type that is not a name: " + t->dump());
    }
    const std::string connect_type = s.value("connect.type", "");
    const std::string title = s.value("title", "");
    if (title == std::string(kConnect) + "Timestamp") return DataType::of(TypeKind::Timestamp);
    if (title == std::string(kConnect) + "Date") return DataType::of(TypeKind::Date);
    if (title == std::string(kConnect) + "Time") return DataType::of(TypeKind::Time);
    if (title == std::string(kConnect) + "Decimal" || (name == "number" && connect_type == "bytes"))
      return decimal(s, path);
    if (name == "boolean") return DataType::of(TypeKind::Boolean);
    if (name == "integer") {
      if (connect_type == "int8" || connect_type == "int16" || connect_type == "int32")
        return DataType::of(TypeKind::Int);
      return DataType::of(TypeKind::BigInt);
    }
    if (name == "number") return DataType::of(TypeKind::Double);
    if (name == "string")
      return DataType::of(connect_type == "bytes" ? TypeKind::Bytes : TypeKind::String);
    if (name == "array") {
      auto items = s.find("items");
      if (items == s.end() || !items->is_object())
        return refuse(path, "an array without one schema for its items has no SQL type");
      if (connect_type == "map")  // Connect's map of non-string keys: [{key, value}, ...]
        return refuse(path, "a map whose keys are not strings has no SQL type");
      auto element = type(*items, path + "[]", depth + 1);
      if (!element) return element;
      return DataType::array(*element);
    }
    if (name == "object") {
      auto props = s.find("properties");
      auto additional = s.find("additionalProperties");
      if ((props == s.end() || (props->is_object() && props->empty())) && additional != s.end() &&
          additional->is_object()) {
        auto v = type(*additional, path + ".value", depth + 1);
        if (!v) return v;
        return DataType::map(*v);
      }
      auto columns = fields(s, path, depth);
      if (!columns) return columns.error();
      std::vector<StructFieldType> out;
      for (Column& c : *columns) out.push_back({std::move(c.name), std::move(c.type)});
      return DataType::structure(std::move(out));
    }
    return refuse(path, "the type '" + name + "' has no SQL type");
  }

  // An object's properties as columns (names upper-cased).
  Expected<std::vector<Column>> fields(const json& s, const std::string& path, int depth) const {
    auto props = s.find("properties");
    if (props == s.end() || !props->is_object())
      return refuse(path, "an object without properties has no SQL columns");
    std::vector<std::pair<const std::string*, const json*>> ordered;
    for (auto it = props->begin(); it != props->end(); ++it)
      ordered.emplace_back(&it.key(), &it.value());
    // "connect.index" (written by Connect and ksqlDB) gives the columns'
    // order, else the order they are written in.
    auto index = [](const json* p) {
      return p->is_object() ? p->value("connect.index", INT32_MAX) : INT32_MAX;
    };
    std::stable_sort(ordered.begin(), ordered.end(), [&](const auto& a, const auto& b) {
      return index(a.second) < index(b.second);
    });
    std::vector<Column> out;
    for (const auto& [key, schema] : ordered) {
      const std::string name = ascii_upper(*key);
      const std::string at = path.empty() ? name : path + "." + name;
      for (const Column& c : out)
        if (c.name == name) return refuse(at, "two properties named " + name + " but for case");
      auto t = type(*schema, at, depth + 1);
      if (!t) return t.error();
      out.push_back(Column{name, *t, false});
    }
    return out;
  }

 private:
  static Error refuse(const std::string& path, const std::string& why) {
    return Error::fatal((path.empty() ? std::string("the schema") : "property " + path) + ": " +
                        why);
  }

  static Expected<DataTypePtr> decimal(const json& s, const std::string& path) {
    auto params = s.find("connect.parameters");
    auto number = [&](const char* key) -> std::optional<int> {
      if (params == s.end() || !params->is_object() || !params->contains(key)) return std::nullopt;
      const json& v = (*params)[key];
      try {
        return v.is_string()
                   ? std::stoi(v.get<std::string>())
                   : (v.is_number_integer() ? std::optional<int>(v.get<int>()) : std::nullopt);
      } catch (const std::exception&) {
        return std::nullopt;
      }
    };
    const auto precision = number("connect.decimal.precision");
    const auto scale = number("scale");
    if (!precision || !scale || *precision < 1 || *precision > 38 || *scale < 0 ||
        *scale > *precision)
      return refuse(path,
                    "a decimal without a precision (1 to 38) and a scale in "
                    "connect.parameters has no SQL type");
    return DataType::decimal(*precision, *scale);
  }

  mutable const json* root_;
  const std::map<std::string, json>& documents_;
};

Expected<json> parse(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return Error::fatal("the JSON schema is not JSON");
  return j;
}

json nullable(json t) {
  return json{{"oneOf", json::array({json{{"type", "null"}}, std::move(t)})}};
}

json logical(const char* name, const char* connect_type) {
  return json{{"type", "integer"},
              {"title", std::string(kConnect) + name},
              {"connect.version", 1},
              {"connect.type", connect_type}};
}

json object_of(const std::vector<Column>& columns, bool skip_keys);

json schema_of(const DataType& t) {
  switch (t.kind) {
    case TypeKind::Boolean:
      return json{{"type", "boolean"}};
    case TypeKind::Int:
      return json{{"type", "integer"}, {"connect.type", "int32"}};
    case TypeKind::BigInt:
      return json{{"type", "integer"}, {"connect.type", "int64"}};
    case TypeKind::Double:
      return json{{"type", "number"}, {"connect.type", "float64"}};
    case TypeKind::Decimal:
      return json{{"type", "number"},
                  {"title", std::string(kConnect) + "Decimal"},
                  {"connect.version", 1},
                  {"connect.type", "bytes"},
                  {"connect.parameters",
                   {{"scale", std::to_string(t.scale)},
                    {"connect.decimal.precision", std::to_string(t.precision)}}}};
    case TypeKind::Bytes:
      return json{{"type", "string"}, {"connect.type", "bytes"}};
    case TypeKind::Timestamp:
      return logical("Timestamp", "int64");
    case TypeKind::Date:
      return logical("Date", "int32");
    case TypeKind::Time:
      return logical("Time", "int32");
    case TypeKind::Array:
      return json{{"type", "array"}, {"items", nullable(schema_of(*t.element))}};
    case TypeKind::Map:
      return json{{"type", "object"},
                  {"additionalProperties", nullable(schema_of(*t.element))},
                  {"connect.type", "map"}};
    case TypeKind::Struct: {
      std::vector<Column> fields;
      for (const auto& f : t.fields) fields.push_back(Column{f.name, f.type, false});
      return object_of(fields, false);
    }
    default:
      return json{{"type", "string"}};
  }
}

json object_of(const std::vector<Column>& columns, bool skip_keys) {
  json props = json::object();
  int index = 0;
  for (const Column& c : columns) {
    if (skip_keys && c.is_key) continue;
    json p = nullable(schema_of(*c.type));
    p["connect.index"] = index++;
    props[c.name] = std::move(p);
  }
  return json{{"type", "object"}, {"properties", std::move(props)}};
}

}  // namespace

namespace {

// The referenced schemas parsed, by the names their $refs use.
Expected<std::map<std::string, json>> documents_of(const References& referenced) {
  std::map<std::string, json> out;
  for (const auto& [name, text] : referenced) {
    auto j = json::parse(text, nullptr, false);
    if (j.is_discarded())
      return Error::fatal("the JSON schema reference '" + name + "' is not JSON");
    out.emplace(name, std::move(j));
  }
  return out;
}

}  // namespace

Expected<std::vector<Column>> columns_of(std::string_view schema_json,
                                         const References& referenced) {
  auto j = parse(schema_json);
  if (!j) return j.error();
  auto documents = documents_of(referenced);
  if (!documents) return documents.error();
  Reader reader(*j, *documents);
  auto top = reader.type(*j, "", 0);
  if (!top) return top.error();
  if ((*top)->kind != TypeKind::Struct)
    return Error::fatal("the schema: a top level of SQL type " + (*top)->to_string() +
                        " is not an object with properties");
  std::vector<Column> out;
  for (const auto& f : (*top)->fields) out.push_back(Column{f.name, f.type, false});
  return out;
}

Expected<DataTypePtr> type_of(std::string_view schema_json, const References& referenced) {
  auto j = parse(schema_json);
  if (!j) return j.error();
  auto documents = documents_of(referenced);
  if (!documents) return documents.error();
  return Reader(*j, *documents).type(*j, "", 0);
}

std::string schema_for(const std::vector<Column>& value_columns) {
  return object_of(value_columns, true).dump();
}

std::string key_schema_for(const std::vector<Column>& key_columns) {
  if (key_columns.size() == 1) return nullable(schema_of(*key_columns.front().type)).dump();
  return object_of(key_columns, false).dump();
}

}  // namespace json_schema

namespace {

// Whether the registered JSON schema `text` can label a value with these
// columns: an object whose properties name each (case-insensitively), or,
// for a bare value (no names), any schema but an object's.
bool holds(const std::string& text, const std::vector<std::string>& columns) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return false;
  auto props = j.find("properties");
  const bool object = props != j.end() && props->is_object();
  if (columns.empty()) return !object;
  if (!object) return false;
  for (const std::string& c : columns) {
    bool found = false;
    for (auto it = props->begin(); it != props->end() && !found; ++it) found = iequals(it.key(), c);
    if (!found) return false;
  }
  return true;
}

class JsonSrCodec final : public Codec {
 public:
  JsonSrCodec(std::unique_ptr<Codec> json, std::shared_ptr<SchemaRegistry> registry,
              std::string subject, std::string schema, std::vector<std::string> columns,
              int writer_id)
      : json_(std::move(json)),
        registry_(std::move(registry)),
        subject_(std::move(subject)),
        schema_(std::move(schema)),
        columns_(std::move(columns)),
        writer_id_(writer_id) {}

  Expected<Value> decode(std::string_view bytes) const override {
    if (!wire_schema_id(bytes)) return not_in_wire_format(bytes, "JSON_SR", ", then JSON");
    return json_->decode(bytes.substr(kWirePrefixBytes));
  }

  Expected<std::string> encode(const Value& v) const override {
    auto body = json_->encode(v);
    if (!body) return body;
    if (writer_id_ == 0) {
      auto latest = registry_->latest(subject_);
      if (latest && latest->type == kJsonSchemaType && holds(latest->schema, columns_)) {
        writer_id_ = latest->id;
      } else {
        auto id = registry_->register_schema(subject_, schema_, kJsonSchemaType);
        if (!id)
          return Error::data("could not register the JSON schema of subject '" + subject_ +
                             "' with the schema registry " + registry_->where() + ": " +
                             id.error().message);
        writer_id_ = *id;
      }
    }
    std::string out;
    out.reserve(kWirePrefixBytes + body->size());
    append_wire_prefix(out, writer_id_);
    out += *body;
    return out;
  }

 private:
  std::unique_ptr<Codec> json_;
  std::shared_ptr<SchemaRegistry> registry_;
  std::string subject_;
  std::string schema_;
  std::vector<std::string> columns_;
  mutable int writer_id_;  // per codec instance (one per task and thread); 0: not chosen yet
};

// Whether the JSON schema `text` declares these columns with their types:
// an object with a property named exactly as each column (the JSON codec
// writes the column's name, "ID", which a property "id" does not describe)
// that maps to the column's type; or, `bare`, the one column's type alone.
// Such a schema (a producer's) describes the rows a query writes.
bool declares(const std::string& text, const json_schema::References& referenced,
              const std::vector<Column>& columns, bool bare) {
  if (bare) {
    auto type = json_schema::type_of(text, referenced);
    return type && columns.size() == 1 && **type == *columns.front().type;
  }
  auto j = nlohmann::json::parse(text, nullptr, false);
  auto props = j.is_object() ? j.find("properties") : j.end();
  if (props == j.end() || !props->is_object()) return false;
  auto fields = json_schema::columns_of(text, referenced);  // the types (names upper-cased)
  if (!fields) return false;
  for (const Column& c : columns) {
    if (!props->contains(c.name)) return false;
    bool typed = false;
    for (const Column& f : *fields)
      typed = typed || (iequals(f.name, c.name) && *f.type == *c.type);
    if (!typed) return false;
  }
  return true;
}

// Registers `schema` (ksqlDB's for `columns`) under `subject`, unless the
// subject's latest JSON schema already declares the columns: that one's id.
Expected<int> registered(SchemaRegistry& registry, const std::string& subject,
                         const std::string& schema, const std::vector<Column>& columns, bool bare,
                         bool key) {
  if (auto latest = registry.latest(subject); latest && latest->type == kJsonSchemaType) {
    auto referenced = referenced_schemas(registry, latest->references);
    if (referenced && declares(latest->schema, *referenced, columns, bare)) return latest->id;
  }
  auto id = registry.register_schema(subject, schema, kJsonSchemaType);
  if (!id)
    return Error::fatal("could not register the JSON_SR " + std::string(key ? "key " : "") +
                        "schema of subject '" + subject + "' with the schema registry " +
                        registry.where() + ": " + id.error().message);
  return id;
}

}  // namespace

std::unique_ptr<Codec> make_json_sr_codec(std::unique_ptr<Codec> json,
                                          std::shared_ptr<SchemaRegistry> registry,
                                          std::string subject, std::string schema,
                                          std::vector<std::string> columns, int writer_id) {
  return std::make_unique<JsonSrCodec>(std::move(json), std::move(registry), std::move(subject),
                                       std::move(schema), std::move(columns), writer_id);
}

Expected<int> register_json_value_schema(SchemaRegistry& registry, const std::string& subject,
                                         const Schema& values, bool bare) {
  const auto columns = values.value_columns();
  return registered(registry, subject,
                    bare ? json_schema::key_schema_for(columns) : json_schema::schema_for(columns),
                    columns, bare, false);
}

Expected<int> register_json_key_schema(SchemaRegistry& registry, const std::string& subject,
                                       const Schema& schema) {
  const auto keys = schema.key_columns();
  return registered(registry, subject, json_schema::key_schema_for(keys), keys, keys.size() == 1,
                    true);
}

}  // namespace rivulet
