#include "sql/insert_values.hpp"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "sql/expression.hpp"
#include "sql/functions.hpp"
#include "sql/source_rows.hpp"
#include "sql/sql_error.hpp"
#include "sql/types.hpp"

namespace rivulet::sql {
namespace {

std::string bracketed(const std::vector<std::string>& items) {
  std::string s = "[";
  for (size_t i = 0; i < items.size(); ++i) s += (i ? ", " : "") + items[i];
  return s + "]";
}

}  // namespace

Expected<InsertedRecord> encode_insert_values(const Catalog& catalog, const InsertValues& v) {
  const SourceInfo* src = catalog.find(v.target);
  if (!src)
    return sql_error(v.target_loc,
                     "Cannot insert values into an unknown stream/table: `" + v.target + "`");
  if (src->read_only)  // CREATE SOURCE STREAM|TABLE
    return sql_error(v.target_loc, "Cannot insert values into read-only " +
                                       std::string(src->is_table() ? "table" : "stream") + ": " +
                                       src->name);
  if (src->window)
    return sql_error(v.target_loc, "Cannot insert values into windowed " +
                                       std::string(src->is_table() ? "table" : "stream") + " `" +
                                       src->name + "`");
  const auto is_header = [&](const std::string& name) {
    for (const auto& h : src->header_columns)
      if (h.first == name) return true;
    return false;
  };
  std::vector<std::string> names = v.columns;
  if (names.empty())  // header columns are not the record's to set
    for (const Column& c : src->schema.columns)
      if (!is_header(c.name)) names.push_back(c.name);
  if (names.size() != v.values.size()) {
    std::vector<std::string> values;
    for (const auto& e : v.values) values.push_back(to_sql(*e));
    SourceLocation at = v.values.empty() ? v.target_loc : v.values[0]->loc;
    return sql_error(at, "Expected number columns and values to match: " + bracketed(names) +
                             ", " + bracketed(values));
  }
  Scope empty;
  ExpressionCompiler compiler(empty, FunctionRegistry::global());
  StructFields row;
  std::set<std::string> seen;
  InsertedRecord out;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    const ExprPtr& e = v.values[i];
    if (!seen.insert(name).second)
      return sql_error(e->loc, "Duplicate column name `" + name + "` in INSERT VALUES");
    const bool rowtime = name == "ROWTIME";
    auto index = src->schema.index_of(name);
    if (!rowtime && !index)
      return sql_error(e->loc, "Column name `" + name + "` does not exist in `" + src->name + "`.");
    if (is_header(name))  // ksqlDB's rule: INSERT VALUES writes no headers
      return sql_error(e->loc, "Cannot insert into HEADER columns: `" + name + "`");
    DataTypePtr type = rowtime ? DataType::of(TypeKind::BigInt) : src->schema.columns[*index].type;
    auto compiled = compiler.compile(e);
    if (!compiled) return compiled.error();
    Value value = compiled->evaluate(EvalRow{});
    if (!value.is_null()) {
      auto typed = coerce(value, *type);
      if (!typed && rowtime && value.kind() == TypeKind::Timestamp)
        typed = Value::int64(value.as_timestamp());
      if (!typed)
        return sql_error(e->loc, "Expected type " + type_name(type) + " for field `" + name +
                                     "` but got " + to_sql(*e) + "(" +
                                     type_name(compiled->type()) + ")");
      value = std::move(*typed);
    }
    if (rowtime) {
      if (value.is_null()) return sql_error(e->loc, "ROWTIME cannot be NULL");
      out.timestamp = value.as_int64();
      continue;
    }
    row.push_back(Field{name, std::move(value)});
  }
  if (src->is_table()) {
    std::vector<std::string> missing;
    for (const Column& c : src->schema.key_columns()) {
      bool given = false;
      for (const Field& f : row) given = given || (f.name == c.name && !f.value.is_null());
      if (!given) missing.push_back("`" + c.name + "`");
    }
    if (!missing.empty()) {
      std::string list;
      for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
      return sql_error(v.target_loc, "Failed to insert values into '" + src->name +
                                         "'. Value for primary key column(s) " + list +
                                         " is required for tables");
    }
  }
  // The value holds the value columns alone: header columns are no field.
  SourceInfo written = *src;
  auto& columns = written.schema.columns;
  columns.erase(std::remove_if(columns.begin(), columns.end(),
                               [&](const Column& c) { return is_header(c.name); }),
                columns.end());
  written.header_columns.clear();
  auto codec = SourceRowCodec::create(written);
  if (!codec) return sql_error(v.target_loc, codec.error().message);
  auto encoded = (*codec)->encode_row(Value::structure(std::move(row)));
  if (!encoded)
    return sql_error(v.target_loc, "Failed to insert values into '" + src->name + "'. " +
                                       encoded.error().message);
  out.target = src->name;
  out.topic = src->topic;
  out.partitions = src->partitions;
  out.key = std::move(encoded->key);
  out.value = std::move(encoded->value);
  return out;
}

}  // namespace rivulet::sql
