#pragma once
// The accumulators of STDDEV_SAMPLE, CORRELATION and ATTR, shared by the
// stream aggregations (AggregateFn's factories) and the aggregation of a
// TABLE (sql/plan_table_aggregate.cpp), which also takes rows back out.
//
// Each is a Value, so it is snapshotted, changelogged and sent as a
// two-phase partial like any accumulator:
//  - variance: [n BIGINT, mean DOUBLE, m2 DOUBLE], Welford's running mean
//    and sum of squared deviations; a row taken out inverts the step, and
//    two accumulators combine by Chan's formula;
//  - covariance: [n, mean x, mean y, m2 x, m2 y, co-moment], the same for
//    pairs;
//  - attr counts (tables): [[value, count], ...], each distinct value with
//    the number of rows holding it (NULL is a value, as in ksqlDB's ATTR).
// A value that is not such an accumulator (never written by these
// functions) reads as the empty one.
#include <cstdint>

#include "runtime/value.hpp"

namespace rivulet::aggregates {

Value variance_empty();
// `acc` with `x` added (remove: taken back out).
Value variance_step(const Value& acc, double x, bool remove);
Value variance_merge(const Value& a, const Value& b);
// The sample standard deviation; 0.0 below two inputs (ksqlDB).
Value stddev_sample_of(const Value& acc);

Value covariance_empty();
Value covariance_step(const Value& acc, double x, double y, bool remove);
Value covariance_merge(const Value& a, const Value& b);
// Pearson's coefficient; NULL below two pairs or with either side constant.
Value correlation_of(const Value& acc);

// `acc` with `n` more rows holding `v` (n < 0: rows taken out).
Value attr_counts_step(const Value& acc, const Value& v, int64_t n);
// The one value held by rows, or NULL when none or several are.
Value attr_counts_result(const Value& acc);

}  // namespace rivulet::aggregates
