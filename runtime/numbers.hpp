#pragma once
// Addition of SQL numbers as SUM does it (the aggregation operators,
// operators/aggregation.hpp, and scalar subqueries' aggregates,
// sql/subquery.hpp): the result keeps its inputs' kind, INT and BIGINT
// wrap on overflow (as Java does), DOUBLE adds in double, DECIMAL adds
// exactly (precision grows as needed, up to 38 digits). Mixed kinds widen:
// int < bigint < decimal < double.
#include "runtime/decimal.hpp"
#include "runtime/error.hpp"
#include "runtime/value.hpp"

namespace rivulet {

// The sum of two non-null numbers; a Data error for a value that is not a
// number, or a DECIMAL sum past 38 digits.
Expected<Value> add_numbers(const Value& a, const Value& b);

// The smallest precision that holds `d` at its scale, so that repeated
// additions do not run the declared precision up to the 38-digit cap.
Decimal tighten(const Decimal& d);

}  // namespace rivulet
