#include "sql/catalog.hpp"

#include "runtime/avro_codec.hpp"
#include "runtime/avro_wire.hpp"
#include "runtime/json_sr_wire.hpp"
#include "runtime/protobuf_codec.hpp"
#include "runtime/protobuf_wire.hpp"
#include "runtime/schema_registry.hpp"
#include "sql/format_checks.hpp"
#include "sql/header_columns.hpp"
#include "sql/parser.hpp"
#include "sql/plan_source.hpp"
#include "sql/sql_error.hpp"
#include "sql/text.hpp"
#include "sql/types.hpp"

namespace rivulet::sql {

namespace {

// `NAME`, as ksqlDB writes column names in messages.
std::string backquoted(const std::string& name) {
  std::string out = "`";
  for (char c : name) {
    out.push_back(c);
    if (c == '`') out.push_back('`');
  }
  return out + "`";
}

}  // namespace

bool is_reserved_column_name(std::string_view n) {
  return n == "ROWTIME" || n == "ROWPARTITION" || n == "ROWOFFSET" || n == "WINDOWSTART" ||
         n == "WINDOWEND";
}

const SourceInfo* Catalog::find(std::string_view name) const {
  auto it = sources_.find(name);
  return it == sources_.end() ? nullptr : &it->second;
}

Expected<const SourceInfo*> Catalog::resolve(std::string_view name, SourceLocation loc) const {
  if (const SourceInfo* s = find(name)) return s;
  std::string msg = "Source " + std::string("`") + std::string(name) + "` does not exist.";
  for (const auto& [n, info] : sources_) {
    if (iequals(n, name)) {
      msg += " Did you mean " + quote_identifier(n) + "?";
      break;
    }
  }
  return sql_error(loc, msg);
}

Expected<bool> Catalog::add(SourceInfo info, bool or_replace, bool if_not_exists,
                            SourceLocation loc) {
  auto it = sources_.find(info.name);
  if (it != sources_.end()) {
    if (if_not_exists) return false;
    if (!or_replace)
      return sql_error(loc, std::string("Cannot add ") + (info.is_stream() ? "stream" : "table") +
                                " '" + info.name + "': A " +
                                (it->second.is_stream() ? "stream" : "table") +
                                " with the same name already exists");
    if (it->second.type != info.type)
      return sql_error(loc, "Cannot replace " +
                                std::string(it->second.is_stream() ? "stream" : "table") + " '" +
                                info.name + "' with a " + (info.is_stream() ? "stream" : "table"));
    it->second = std::move(info);
    return true;
  }
  std::string name = info.name;
  sources_.emplace(std::move(name), std::move(info));
  return true;
}

Expected<bool> Catalog::drop(std::string_view name, SourceType type, bool if_exists,
                             SourceLocation loc) {
  auto it = sources_.find(name);
  if (it == sources_.end()) {
    if (if_exists) return false;
    return resolve(name, loc).error();
  }
  if (it->second.type != type)
    return sql_error(loc, std::string("Incompatible data source type is ") +
                              source_type_name(it->second.type) + ", but statement was DROP " +
                              source_type_name(type));
  sources_.erase(it);
  return true;
}

std::vector<const SourceInfo*> Catalog::list(SourceType type) const {
  std::vector<const SourceInfo*> out;
  for (const auto& [n, info] : sources_)
    if (info.type == type) out.push_back(&info);
  return out;
}

namespace {

std::optional<std::string> string_property(const Properties& p, std::string_view name) {
  return p.text(name);
}

}  // namespace

namespace {

// A duration property such as '2 HOURS'; nullopt when absent.
Expected<std::optional<int64_t>> duration_property(const Properties& p, const char* name) {
  const Property* prop = p.find(name);
  if (!prop) return std::optional<int64_t>{};
  std::string text = p.text(name).value_or("");
  auto invalid = [&](const std::string& why) {
    return sql_error(prop->loc, std::string("Configuration ") + name +
                                    " is invalid: Invalid duration: '" + text + "'. " + why);
  };
  size_t space = text.find(' ');
  if (space == std::string::npos) return invalid("Expected a number and a time unit.");
  std::string number = text.substr(0, space), unit = to_upper(text.substr(space + 1));
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  int64_t n = 0;
  for (char ch : number) {
    if (ch < '0' || ch > '9' || n > 1000000000000LL)
      return invalid("Not a number: '" + number + "'.");
    n = n * 10 + (ch - '0');
  }
  int64_t unit_ms = time_unit_millis(unit);
  if (unit_ms == 0) return invalid("Unknown time unit: '" + unit + "'");
  return std::optional<int64_t>{n * unit_ms};
}

}  // namespace

namespace {

// The formats whose columns a schema registry can give, and the type of
// schema each reads.
const char* registry_schema_type(const std::string& format) {
  if (format == "AVRO") return kAvroSchemaType;
  if (format == "JSON_SR") return kJsonSchemaType;
  if (format == "PROTOBUF") return kProtobufSchemaType;
  return nullptr;
}

// The columns of one registered schema (`format`'s): a record's (an
// object's, a message's) fields; a key schema that is not one (a single
// key, unwrapped) one column, ROWKEY. `full_name`: the message of a
// PROTOBUF schema (*_SCHEMA_FULL_NAME; empty: the first).
Expected<std::vector<Column>> columns_of_schema(SchemaRegistry& registry, const std::string& format,
                                                const RegisteredSchema& schema, bool key,
                                                const std::string& full_name) {
  const std::string& text = schema.schema;
  // The schemas its references name: Avro's named types, a .proto's
  // imports, JSON Schema's $refs.
  auto referenced = referenced_schemas(registry, schema.references);
  if (!referenced) return referenced.error();
  if (format == "AVRO") {
    auto whole = avro::with_references(text, *referenced);
    if (!whole) return whole.error();
    return avro::columns_of(key ? avro::as_record(*whole, "ROWKEY") : *whole);
  }
  if (format == "PROTOBUF") return protobuf::columns_of(text, full_name, *referenced);
  if (key) {
    auto type = json_schema::type_of(text, *referenced);
    if (!type) return type.error();
    if ((*type)->kind != TypeKind::Struct)
      return std::vector<Column>{Column{"ROWKEY", *type, false}};
  }
  return json_schema::columns_of(text, *referenced);
}

// The columns the registry gives one side of a topic (KEY_SCHEMA_ID or
// VALUE_SCHEMA_ID when given, else the latest schema of "<topic>-key" or
// "<topic>-value") in `format` (AVRO, JSON_SR, PROTOBUF). nullopt: a key subject the
// registry does not have, with no KEY_SCHEMA_ID (a stream without key).
Expected<std::optional<std::vector<Column>>> registry_columns(SchemaRegistry& registry,
                                                              const CreateSource& c,
                                                              const std::string& topic,
                                                              const std::string& format, bool key) {
  const char* side = key ? "keys" : "values";
  const char* id_property = key ? "KEY_SCHEMA_ID" : "VALUE_SCHEMA_ID";
  const std::string subject = key ? key_subject(topic) : value_subject(topic);
  Expected<RegisteredSchema> schema = Error::fatal("");
  std::string which;
  if (const Property* id = c.properties.find(id_property)) {
    if (id->value.kind() != TypeKind::Int || id->value.as_int32() <= 0)
      return sql_error(id->loc, std::string("Invalid value for ") + id_property +
                                    ": must be a positive integer");
    which = "schema id " + std::to_string(id->value.as_int32());
    schema = registry.schema_by_id(id->value.as_int32());
  } else {
    schema = registry.latest(subject);
    which = "subject " + subject;
    if (!schema && key && c.type == SourceType::Stream) return std::optional<std::vector<Column>>();
  }
  if (!schema)
    return sql_error(c.name_loc, std::string("Schema for message ") + side + " on topic '" + topic +
                                     "' could not be read from the schema registry " +
                                     registry.where() + " (" + which +
                                     "): " + schema.error().message);
  if (schema->type != registry_schema_type(format))
    return sql_error(c.name_loc, std::string("The ") + (key ? "key" : "value") +
                                     " schema of topic '" + topic + "' (" + which + ") is a " +
                                     schema->type + " schema: the " + format + " format reads " +
                                     registry_schema_type(format) + " schemas");
  const auto full_name = c.properties.text(key ? "KEY_SCHEMA_FULL_NAME" : "VALUE_SCHEMA_FULL_NAME");
  auto columns = columns_of_schema(registry, format, *schema, key, full_name.value_or(""));
  if (!columns)
    return sql_error(c.name_loc, std::string("The ") + (key ? "key" : "value") +
                                     " schema of topic '" + topic + "' (" + which +
                                     ") has no SQL columns: " + columns.error().message);
  return std::optional<std::vector<Column>>(std::move(*columns));
}

// Schema inference (ksqlDB's): a CREATE in AVRO, JSON_SR or PROTOBUF (VALUE_FORMAT,
// KEY_FORMAT or FORMAT) that declares no value (key) columns takes them from the
// schema registry (registry_columns). `c` unchanged when that does not
// apply (no registry, another format, the columns declared); refusals at
// the name.
Expected<CreateSource> with_inferred_columns(const CreateSource& c) {
  auto registry = schema_registry();
  if (!registry) return c;
  const Properties& p = c.properties;
  auto topic = p.text("KAFKA_TOPIC");
  if (!topic) return c;
  auto format = p.text("FORMAT");
  auto value_format = p.text("VALUE_FORMAT") ? p.text("VALUE_FORMAT") : format;
  auto key_format = p.text("KEY_FORMAT") ? p.text("KEY_FORMAT") : format;
  bool has_keys = false, has_values = false;
  for (const TableElement& el : c.elements) {
    has_keys = has_keys || el.constraint == ColumnConstraint::Key ||
               el.constraint == ColumnConstraint::PrimaryKey;
    has_values = has_values || el.constraint == ColumnConstraint::None;
  }
  CreateSource out = c;
  auto add = [&](std::vector<Column> columns, ColumnConstraint constraint) {
    for (Column& col : columns) {
      TableElement el;
      el.name = std::move(col.name);
      el.type = std::move(col.type);
      el.constraint = constraint;
      el.loc = c.name_loc;
      out.elements.push_back(std::move(el));
    }
  };
  const std::string keys_in = key_format ? to_upper(*key_format) : "";
  const std::string values_in = value_format ? to_upper(*value_format) : "";
  if (!has_keys && registry_schema_type(keys_in)) {
    auto keys = registry_columns(*registry, c, *topic, keys_in, true);
    if (!keys) return keys.error();
    if (*keys)
      add(std::move(**keys),
          c.type == SourceType::Table ? ColumnConstraint::PrimaryKey : ColumnConstraint::Key);
  }
  if (!has_values && registry_schema_type(values_in)) {
    auto values = registry_columns(*registry, c, *topic, values_in, false);
    if (!values) return values.error();
    add(std::move(**values), ColumnConstraint::None);
  }
  return out;
}

}  // namespace

Expected<SourceInfo> Catalog::describe_create(const CreateSource& given,
                                              const std::string& statement) {
  auto inferred = with_inferred_columns(given);
  if (!inferred) return inferred.error();
  const CreateSource& c = *inferred;
  SourceInfo info;
  info.name = c.name;
  info.type = c.type;
  info.read_only = c.is_source;
  info.properties = c.properties;
  info.statement = statement;
  if (c.elements.empty())
    return sql_error(
        c.name_loc,
        "The statement does not define any columns: reading them from a schema "
        "registry needs VALUE_FORMAT='AVRO', 'JSON_SR' or 'PROTOBUF' and schema.registry.url");
  for (const TableElement& el : c.elements) {
    if (is_reserved_column_name(el.name))
      return sql_error(el.loc, backquoted(el.name) + " is a reserved column name.");
    for (const Column& existing : info.schema.columns)
      if (existing.name == el.name)
        return sql_error(el.loc, "Duplicate column names: " + backquoted(el.name));
    bool key = false;
    switch (el.constraint) {
      case ColumnConstraint::Key:
        if (c.type == SourceType::Table)
          return sql_error(el.loc, "Column " + backquoted(el.name) +
                                       " is a 'KEY' column: please use 'PRIMARY KEY' for tables.");
        key = true;
        break;
      case ColumnConstraint::PrimaryKey:
        if (c.type == SourceType::Stream)
          return sql_error(el.loc, "Column " + backquoted(el.name) +
                                       " is a 'PRIMARY KEY' column: please use 'KEY' for streams.");
        key = true;
        break;
      case ColumnConstraint::Headers:
      case ColumnConstraint::Header: {
        const bool all = el.constraint == ColumnConstraint::Headers;
        std::string what = all ? "HEADERS" : "HEADER('" + el.header_key + "')";
        DataTypePtr expected = all ? headers_column_type() : DataType::of(TypeKind::Bytes);
        if (!el.type || !(*el.type == *expected))
          return sql_error(el.loc, "Invalid type for " + what + " column " + backquoted(el.name) +
                                       ": expected " + expected->to_string() + ", got " +
                                       (el.type ? el.type->to_string() : "none") + ".");
        for (const auto& [column, key] : info.header_columns) {
          const bool same = all ? !key.has_value() : key && *key == el.header_key;
          if (same)
            return sql_error(el.loc, "Schema already contains a " + what +
                                         " column: " + backquoted(column) + ".");
        }
        info.header_columns.emplace_back(
            el.name, all ? std::nullopt : std::optional<std::string>(el.header_key));
        break;
      }
      case ColumnConstraint::None:
        break;
    }
    info.schema.columns.push_back(Column{el.name, el.type, key});
  }
  if (c.type == SourceType::Table && info.schema.key_columns().empty())
    return sql_error(c.name_loc, "Tables require a PRIMARY KEY. Please define the PRIMARY KEY.");

  const Properties& p = c.properties;
  auto source = parse_source(p, info);  // sql/plan_source.hpp
  if (!source) return source.error();
  auto topic = string_property(p, "KAFKA_TOPIC");
  if (!topic && info.source_kind != SourceKind::Kafka) topic = info.name;
  if (!topic && !info.topic.empty()) topic = info.topic;  // SOURCE='kafka://TOPIC'
  if (!topic)
    return sql_error(c.name_loc,
                     "Missing required property \"KAFKA_TOPIC\" which has no default value.");
  info.topic = *topic;
  auto format = string_property(p, "FORMAT");
  auto value_format = string_property(p, "VALUE_FORMAT");
  auto key_format = string_property(p, "KEY_FORMAT");
  if (format && (value_format || key_format))
    return sql_error(c.name_loc,
                     "Cannot supply both 'FORMAT' and 'VALUE_FORMAT' or 'KEY_FORMAT' properties");
  if (format) {
    info.key_format = to_upper(*format);
    info.value_format = to_upper(*format);
  }
  if (value_format) info.value_format = to_upper(*value_format);
  if (key_format) info.key_format = to_upper(*key_format);
  if (info.value_format.empty())
    return sql_error(c.name_loc,
                     "Statement is missing the 'VALUE_FORMAT' property from the WITH clause.");
  if (const Property* parts = p.find("PARTITIONS")) {
    if (parts->value.kind() != TypeKind::Int || parts->value.as_int32() <= 0)
      return sql_error(parts->loc, "Invalid value for PARTITIONS: must be a positive integer");
    info.partitions = parts->value.as_int32();
  }
  if (auto checked = check_source(p, info); !checked) return checked.error();
  if (auto why = header_columns_unsupported(info)) {
    for (const TableElement& el : c.elements)
      if (el.name == info.header_columns.front().first) return sql_error(el.loc, *why);
  }
  if (auto ts = string_property(p, "TIMESTAMP")) {
    std::string name = to_upper(*ts);
    auto idx = info.schema.index_of(name);
    if (!idx)
      return sql_error(
          p.find("TIMESTAMP")->loc,
          "The TIMESTAMP column set in the WITH clause does not exist in the schema: '" + name +
              "'");
    info.timestamp_column = info.schema.columns[*idx].name;
    info.timestamp_format = string_property(p, "TIMESTAMP_FORMAT");
    const DataTypePtr& t = info.schema.columns[*idx].type;
    bool ok = t->kind == TypeKind::BigInt || t->kind == TypeKind::Timestamp ||
              (t->kind == TypeKind::String && info.timestamp_format);
    if (!ok)
      return sql_error(p.find("TIMESTAMP")->loc,
                       "Timestamp column, " + backquoted(name) +
                           ", should be LONG(INT64), TIMESTAMP, or a String with a "
                           "timestamp_format specified.");
  }
  if (const Property* wt = p.find("WINDOW_TYPE")) {
    std::string type = to_upper(p.text("WINDOW_TYPE").value_or(""));
    if (type == "SESSION") {
      info.window = WindowType::Session;
    } else if (type == "TUMBLING") {
      info.window = WindowType::Tumbling;
    } else if (type == "HOPPING") {
      info.window = WindowType::Hopping;
    } else {
      return sql_error(wt->loc, "Invalid value for WINDOW_TYPE: '" + type +
                                    "'. Expected one of SESSION, TUMBLING, HOPPING.");
    }
  }
  auto window_size = duration_property(p, "WINDOW_SIZE");
  if (!window_size) return window_size.error();
  info.window_size_ms = *window_size;
  auto history = duration_property(p, "HISTORY_RETENTION");
  if (!history) return history.error();
  if (*history && c.type != SourceType::Table)
    return sql_error(p.find("HISTORY_RETENTION")->loc,
                     "HISTORY_RETENTION is a property of tables (a stream keeps no versions).");
  info.history_retention_ms = *history;
  if (const Property* storage = p.find("TABLE_STORAGE")) {
    std::string v = to_upper(p.text("TABLE_STORAGE").value_or(""));
    if (c.type != SourceType::Table)
      return sql_error(storage->loc,
                       "TABLE_STORAGE is a property of tables (a stream keeps no rows).");
    if (v == "AUTO") {
      info.storage = TableStorage::Auto;
    } else if (v == "DECODED") {
      info.storage = TableStorage::Decoded;
    } else if (v == "ENCODED") {
      info.storage = TableStorage::Encoded;
    } else {
      return sql_error(storage->loc, "Invalid value for TABLE_STORAGE: '" + v +
                                         "'. Expected one of AUTO, DECODED, ENCODED.");
    }
  }
  if (info.window_size_ms && !info.window)
    return sql_error(p.find("WINDOW_SIZE")->loc, "WINDOW_SIZE requires WINDOW_TYPE.");
  if (info.window == WindowType::Session && info.window_size_ms)
    return sql_error(p.find("WINDOW_SIZE")->loc,
                     "'WINDOW_SIZE' should not be set for SESSION windows.");
  if (info.window && info.window != WindowType::Session && !info.window_size_ms)
    return sql_error(
        p.find("WINDOW_TYPE")->loc,
        "Tumbling and Hopping window types should set WINDOW_SIZE in the WITH clause.");
  return info;
}

Expected<bool> Catalog::alter(const AlterSource& a, const std::string& statement) {
  auto it = sources_.find(a.name);
  if (it == sources_.end()) return resolve(a.name, a.name_loc).error();
  SourceInfo info = it->second;  // changed only once every check passed
  if (info.type != a.type)
    return sql_error(a.name_loc, std::string("Incompatible data source type is ") +
                                     source_type_name(info.type) + ", but statement was ALTER " +
                                     source_type_name(a.type));
  if (!info.query_id.empty())
    return sql_error(a.name_loc, "ALTER command is not supported for CREATE ... AS statements.");
  for (const TableElement& el : a.columns) {
    if (is_reserved_column_name(el.name))
      return sql_error(el.loc, backquoted(el.name) + " is a reserved column name.");
    for (const Column& c : info.schema.columns)
      if (c.name == el.name)
        return sql_error(el.loc, "Cannot add column " + backquoted(el.name) +
                                     " to schema. A column with the same name already exists.");
    info.schema.columns.push_back(Column{el.name, el.type, false});
  }
  // What the formats can hold (a KAFKA value holds one column).
  if (auto formats = check_formats(info); !formats)
    return sql_error(a.columns.front().loc, formats.error().message);
  info.statement += ";\n" + statement;  // DESCRIBE EXTENDED: how it came to be
  it->second = std::move(info);
  return true;
}

Expected<std::string> Catalog::apply(const Statement& s) {
  if (const auto* c = std::get_if<CreateSource>(&s.body)) {
    auto info = describe_create(*c, s.text);
    if (!info.ok()) return info.error();
    const char* what = c->type == SourceType::Stream ? "Stream" : "Table";
    auto added = add(std::move(info.value()), c->or_replace, c->if_not_exists, c->name_loc);
    if (!added.ok()) return added.error();
    return std::string(what) + (added.value() ? " created" : " already exists");
  }
  if (const auto* d = std::get_if<DropSource>(&s.body)) {
    auto dropped = drop(d->name, d->type, d->if_exists, d->name_loc);
    if (!dropped.ok()) return dropped.error();
    std::string what = d->type == SourceType::Stream ? "Stream " : "Table ";
    return what + d->name + (dropped.value() ? " dropped" : " does not exist");
  }
  if (const auto* a = std::get_if<AlterSource>(&s.body)) {
    auto altered = alter(*a, s.text);
    if (!altered.ok()) return altered.error();
    return std::string(a->type == SourceType::Stream ? "Stream " : "Table ") + a->name +
           " altered.";
  }
  return sql_error(s.loc, "not a catalog statement (CREATE with columns, DROP or ALTER)");
}

Expected<std::vector<Column>> registered_schema_columns(SchemaRegistry& registry,
                                                        const std::string& format,
                                                        const RegisteredSchema& schema, bool key,
                                                        const std::string& full_name) {
  const char* type = registry_schema_type(format);
  if (!type || schema.type != type)
    return Error::fatal("a " + schema.type + " schema: the " + format + " format writes " +
                        (type ? type : "no") + " schemas");
  return columns_of_schema(registry, format, schema, key, full_name);
}

}  // namespace rivulet::sql
