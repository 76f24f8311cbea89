#include "sql/header_columns.hpp"

#include "sql/format_checks.hpp"

namespace rivulet::sql {

DataTypePtr headers_column_type() {
  static const DataTypePtr type = DataType::array(DataType::structure(
      {{"KEY", DataType::of(TypeKind::String)}, {"VALUE", DataType::of(TypeKind::Bytes)}}));
  return type;
}

namespace {

Value header_value(const std::optional<std::string>& key, const Headers& headers) {
  if (!key) {
    Array all;
    all.reserve(headers.size());
    for (const Header& h : headers)
      all.push_back(Value::structure(
          {{"KEY", Value::string(h.name)}, {"VALUE", h.value ? Value::bytes(*h.value) : Value()}}));
    return Value::array(std::move(all));
  }
  for (auto it = headers.rbegin(); it != headers.rend(); ++it)  // the last one of the key
    if (it->name == *key) return it->value ? Value::bytes(*it->value) : Value();
  return Value();
}

}  // namespace

Value with_header_columns(const SourceInfo& source, Value value, const Headers& headers) {
  if (source.header_columns.empty() || value.kind() != TypeKind::Struct) return value;
  StructFields fields = value.as_struct();
  for (const auto& [column, key] : source.header_columns) {
    Value v = header_value(key, headers);
    bool set = false;
    for (Field& f : fields) {
      if (f.name != column) continue;
      f.value = std::move(v);
      set = true;
      break;
    }
    if (!set) fields.push_back(Field{column, std::move(v)});
  }
  return Value::structure(std::move(fields));
}

std::optional<std::string> header_columns_unsupported(const SourceInfo& source) {
  if (source.header_columns.empty()) return std::nullopt;
  if (source.source_kind != SourceKind::Kafka)
    return std::string("a ") + (source.source_kind == SourceKind::File ? "file" : "memory") +
           " source has no Kafka headers for HEADER columns to read";
  if (!values_decode_to_struct(source))
    return "not supported yet: HEADER columns with VALUE_FORMAT='" + source.value_format +
           "' (a value format of named fields, such as JSON, holds them)";
  return std::nullopt;
}

}  // namespace rivulet::sql
