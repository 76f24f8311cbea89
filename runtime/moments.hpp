#pragma once
// The running moments behind STDDEV_SAMPLE and CORRELATION, shared by the
// stream aggregations (operators/aggregate_functions.cpp), the aggregation
// of a TABLE (sql/plan_table_aggregate.cpp), which also takes rows back
// out, and the scalar subqueries' folds (sql/subquery.cpp).
//
// Each accumulator is a Value, so it is snapshotted, changelogged and sent
// as a two-phase partial like any other:
//  - variance: [n BIGINT, mean DOUBLE, m2 DOUBLE], Welford's running mean
//    and sum of squared deviations, accurate for values far from 0 where
//    sums of squares lose their digits; a value taken out inverts the
//    step, and two accumulators combine by Chan's formula;
//  - covariance: [n, mean x, mean y, m2 x, m2 y, co-moment], the same for
//    pairs.
// A value that is not such an accumulator (NULL, or never written by these
// functions) reads as the empty one.
#include <cstdint>

#include "runtime/value.hpp"

namespace rivulet::moments {

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

}  // namespace rivulet::moments
