#pragma once
// SQL typing rules shared by the expression compiler, the functions and the
// analyzer: ksqlDB's numeric widening, DECIMAL result types, which CASTs are
// allowed, and the common type of several expressions (CASE branches, array
// elements, COALESCE arguments). Pure functions, any thread.
#include <optional>
#include <string>

#include "runtime/data_type.hpp"
#include "sql/ast.hpp"

namespace rivulet::sql {

bool is_numeric(const DataType& t);   // INT, BIGINT, DOUBLE, DECIMAL
bool is_integral(const DataType& t);  // INT, BIGINT
bool is_temporal(const DataType& t);  // TIMESTAMP, DATE, TIME
// Widening order of numeric kinds: INT 1 < BIGINT 2 < DECIMAL 3 < DOUBLE 4; 0 otherwise.
int numeric_rank(TypeKind k);
bool is_null_type(const DataTypePtr& t);

// The DECIMAL an integer type converts to exactly: INT -> DECIMAL(10, 0),
// BIGINT -> DECIMAL(19, 0); a DECIMAL stays as it is.
DataTypePtr as_decimal_type(const DataType& t);

// Result type of `left op right` for + - * / %, as ksqlDB types it:
// INT op INT -> INT, with BIGINT -> BIGINT, with DOUBLE -> DOUBLE, DECIMAL
// with an integer -> DECIMAL (decimal.hpp's precision and scale rules),
// DECIMAL with DOUBLE -> DOUBLE, STRING + STRING -> STRING. A NULL operand
// takes the other operand's type. nullopt when the operation is not defined
// for these types.
std::optional<DataTypePtr> arithmetic_result_type(BinaryOp op, const DataTypePtr& left,
                                                  const DataTypePtr& right);

// The DECIMAL type of `a op b` for DECIMALs (decimal.hpp's rules, capped at
// 38 digits).
DataTypePtr decimal_result_type(BinaryOp op, const DataType& a, const DataType& b);

// Whether values of `a` and `b` may be compared with `op` (ksqlDB: numbers
// with numbers, strings with strings, booleans, timestamps and bytes with
// their own kind; arrays, maps and structs of equal types with = and <>
// only). A NULL type compares with anything.
bool comparable(const DataTypePtr& a, const DataTypePtr& b, BinaryOp op);

// Whether CAST(x AS to) is allowed for x of type `from`.
bool castable(const DataType& from, const DataType& to);

// The type both may be converted to without loss of meaning: equal types;
// NULL with anything; numbers widen (INT < BIGINT < DECIMAL < DOUBLE);
// arrays and maps element-wise; structs field-wise with equal names.
// nullopt when there is none.
std::optional<DataTypePtr> common_type(const DataTypePtr& a, const DataTypePtr& b);

// ksqlDB's spelling of a type in messages ("INTEGER", "DECIMAL(4, 2)",
// "STRUCT<`F0` BIGINT>"); "NULL" for the type of a bare NULL.
std::string type_name(const DataTypePtr& t);

}  // namespace rivulet::sql
