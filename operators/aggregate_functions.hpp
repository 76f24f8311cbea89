#pragma once
// ATTR's accumulator over a TABLE (sql/plan_table_aggregate.cpp), which
// takes rows back out: [[value, count], ...], each distinct value with the
// number of rows holding it (NULL is a value, as in ksqlDB's ATTR); and
// HISTOGRAM's step, shared by streams and tables. A value that is not such
// an accumulator reads as the empty one.
// STDDEV_SAMPLE's and CORRELATION's moments are runtime/moments.hpp's (the
// SQL front-end's subqueries fold them too); the AggregateFn factories of
// the four functions are declared in aggregation.hpp.
#include <cstdint>
#include <string>

#include "runtime/value.hpp"

namespace rivulet::aggregates {

// `acc` with `n` more rows holding `v` (n < 0: rows taken out).
Value attr_counts_step(const Value& acc, const Value& v, int64_t n);
// The one value held by rows, or NULL when none or several are.
Value attr_counts_result(const Value& acc);

// HISTOGRAM's map with the count of `key` moved by `n` (a stream's records
// and partials add; a table's rows taken out subtract): an entry whose count
// reaches 0 is dropped, and a new key past 1000 distinct ones is ignored,
// as in ksqlDB (counted keys still count).
Value histogram_step(const Value& acc, const std::string& key, int64_t n);

}  // namespace rivulet::aggregates
