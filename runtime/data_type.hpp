#pragma once
// DataType: a SQL type (with DECIMAL precision/scale and element types), and
// Schema: the named, typed columns of a stream or table.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/value.hpp"

namespace rivulet {

struct Column;
struct DataType;
using DataTypePtr = std::shared_ptr<const DataType>;

struct StructFieldType {
  std::string name;
  DataTypePtr type;
};

struct DataType {
  TypeKind kind = TypeKind::Null;
  int precision = 0;                    // DECIMAL only
  int scale = 0;                        // DECIMAL only
  DataTypePtr element;                  // ARRAY element, MAP value
  std::vector<StructFieldType> fields;  // STRUCT

  static DataTypePtr of(TypeKind k);
  // One shared instance of what of(k) makes (no DECIMAL parameters, no
  // element or fields), for conversions that need a type without
  // allocating one.
  static const DataType& plain(TypeKind k);
  static DataTypePtr decimal(int precision, int scale);
  static DataTypePtr array(DataTypePtr element);
  static DataTypePtr map(DataTypePtr value);
  static DataTypePtr structure(std::vector<StructFieldType> fields);
  // STRUCT of the columns' names and types (is_key is not kept).
  static DataTypePtr structure_of(const std::vector<Column>& columns);

  // SQL spelling: "BIGINT", "DECIMAL(4, 2)", "ARRAY<STRING>", "STRUCT<A INT, B STRING>".
  std::string to_string() const;
  bool operator==(const DataType& o) const;
};

struct Column {
  std::string name;
  DataTypePtr type;
  bool is_key = false;  // KEY / PRIMARY KEY column
};

struct Schema {
  std::vector<Column> columns;

  // Index of a column by name, case-insensitive; nullopt when absent.
  std::optional<size_t> index_of(std::string_view name) const;
  std::vector<Column> key_columns() const;
  std::vector<Column> value_columns() const;
};

// Converts v to type t the way SQL CAST does (numbers, strings, booleans,
// decimals, timestamps; element-wise for containers). nullopt when it cannot.
std::optional<Value> coerce(const Value& v, const DataType& t);

}  // namespace rivulet
