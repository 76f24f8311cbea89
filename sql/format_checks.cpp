#include "sql/format_checks.hpp"

#include <string>

#include "runtime/protobuf_wire.hpp"
#include "sql/types.hpp"

namespace rivulet::sql {
namespace {

bool contains_map(const DataTypePtr& t) {
  if (!t) return false;
  if (t->kind == TypeKind::Map) return true;
  if (t->element && contains_map(t->element)) return true;
  for (const auto& f : t->fields)
    if (contains_map(f.type)) return true;
  return false;
}

bool is_nested(const DataTypePtr& t) {
  return t && (t->kind == TypeKind::Array || t->kind == TypeKind::Map ||
               t->kind == TypeKind::Struct);
}

const char* nested_name(TypeKind k) {
  return k == TypeKind::Array ? "ARRAY" : k == TypeKind::Map ? "MAP" : "STRUCT";
}

}  // namespace

Expected<bool> check_formats(const SourceInfo& s) {
  for (const Column& c : s.schema.columns) {
    if (c.is_key && contains_map(c.type))
      return Error::fatal(
          "Map keys, including types that contain maps, are not supported as they may lead to "
          "unexpected behavior due to inconsistent serialization. Key column name: `" +
          c.name + "`. Column type: " + type_name(c.type) +
          ". See https://github.com/confluentinc/ksql/issues/6621 for more.");
  }
  for (const Column& c : s.schema.columns) {
    const std::string& format = c.is_key ? s.key_format : s.value_format;
    if ((format == "KAFKA" || format == "DELIMITED") && is_nested(c.type))
      return Error::fatal("The '" + format + "' format does not support type '" +
                          nested_name(c.type->kind) + "', column: `" + c.name + "`");
    if (format == "KAFKA" && c.type && c.type->kind == TypeKind::Decimal)
      return Error::fatal("The 'KAFKA' format does not support type 'DECIMAL', column: `" + c.name +
                          "`");
    // KAFKA holds INT, BIGINT, DOUBLE, STRING and BYTES (ksqlDB's): a
    // temporal column would refuse every record at run time.
    if (format == "KAFKA" && c.type &&
        (c.type->kind == TypeKind::Timestamp || c.type->kind == TypeKind::Date ||
         c.type->kind == TypeKind::Time))
      return Error::fatal("The 'KAFKA' format does not support type '" +
                          std::string(type_kind_name(c.type->kind)) + "', column: `" + c.name +
                          "`");
  }
  // KAFKA holds one key column (ksqlDB: "The 'KAFKA' format only supports
  // a single field"): several would fail every record at run time.
  if (s.key_format == "KAFKA") {
    std::string names;
    int keys = 0;
    for (const Column& c : s.schema.columns) {
      if (!c.is_key) continue;
      names += (keys++ ? ", `" : "`") + c.name + "`";
    }
    if (keys > 1)
      return Error::fatal("The 'KAFKA' key format only supports a single key column, and " +
                          s.name + " has " + std::to_string(keys) + ": " + names +
                          ". Use a key format that holds several, e.g. KEY_FORMAT='JSON' in its "
                          "WITH clause.");
  }
  if (s.value_format == "KAFKA") {  // one value column, as ksqlDB's KAFKA format holds
    std::string fields;
    int values = 0;
    for (const Column& c : s.schema.columns) {
      if (c.is_key) continue;
      fields += (values++ ? ", `" : "`") + c.name + "` " + type_name(c.type);
    }
    if (values > 1)
      return Error::fatal("The 'KAFKA' format only supports a single field. Got: [" + fields + "]");
  }
  if (auto wrap = s.properties.text("WRAP_SINGLE_VALUE")) {
    bool on = *wrap == "true" || *wrap == "TRUE" || *wrap == "True";
    if (on && (s.value_format == "KAFKA" || s.value_format == "DELIMITED"))
      return Error::fatal("Format '" + s.value_format +
                          "' does not support 'WRAP_SINGLE_VALUE' set to 'true'.");
  }
  // Protobuf has no bare values (a message is the top level): ksqlDB's
  // PROTOBUF formats wrap single values and never unwrap them.
  if ((s.value_format == "PROTOBUF" || s.value_format == "PROTOBUF_NOSR") &&
      unwrapped_single_value(s))
    return Error::fatal("Format '" + s.value_format +
                        "' does not support 'WRAP_SINGLE_VALUE' set to 'false'.");
  if (s.value_format == "PROTOBUF_NOSR")
    if (auto ok = check_protobuf_nosr(s.schema, false); !ok) return ok;
  if (s.key_format == "PROTOBUF_NOSR" && !s.schema.key_columns().empty())
    if (auto ok = check_protobuf_nosr(s.schema, true); !ok) return ok;
  return true;
}

bool is_logical_json(const std::string& format) {
  return format == "JSON" || format == "JSON_SR" || format == "AVRO" || format == "PROTOBUF" ||
         format == "PROTOBUF_NOSR";
}

bool values_decode_to_struct(const SourceInfo& s) {
  return is_logical_json(s.value_format) && !unwrapped_single_value(s);
}

bool unwrapped_single_value(const SourceInfo& s) {
  if (s.value_format == "KAFKA") return true;
  if (!is_logical_json(s.value_format)) return false;
  auto wrap = s.properties.text("WRAP_SINGLE_VALUE");
  if (!wrap || (*wrap != "false" && *wrap != "FALSE" && *wrap != "False")) return false;
  int values = 0;
  for (const Column& c : s.schema.columns) values += c.is_key ? 0 : 1;
  return values == 1;
}

}  // namespace rivulet::sql
