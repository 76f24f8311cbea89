// COUNT_DISTINCT's sketch, the moments behind STDDEV_SAMPLE and CORRELATION
// (added, taken back out, merged), ATTR, and their AggregateFns through an
// aggregation's store, snapshot and restore included.
#include "operators/aggregate_functions.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "operators/aggregation.hpp"
#include "operators/distinct_sketch.hpp"
#include "runtime/moments.hpp"
#include "support/statistics.hpp"
#include "test_support.hpp"

namespace rivulet {
namespace {

using test::Collect;
using test::field;
using test::I;
using test::record;
using test::S;

std::string sketch_of(int64_t from, int64_t to) {
  std::string s = distinct_sketch::empty();
  for (int64_t i = from; i < to; ++i)
    s = distinct_sketch::add(std::move(s), stable_value_hash(Value::int64(i)));
  return s;
}

Value F(double d) {
  return Value::float64(d);
}

double relative_error(int64_t estimate, int64_t truth) {
  return std::abs(static_cast<double>(estimate - truth)) / static_cast<double>(truth);
}

TEST_CASE("distinct sketch: exact while sparse, then within HyperLogLog's error",
          "[aggregate][sketch]") {
  CHECK(distinct_sketch::estimate(distinct_sketch::empty()) == 0);
  // Duplicates do not count; exact up to the sparse bound.
  std::string s = distinct_sketch::empty();
  for (int round = 0; round < 3; ++round)
    for (int i = 0; i < 1024; ++i)
      s = distinct_sketch::add(std::move(s),
                               stable_value_hash(Value::string("user-" + std::to_string(i))));
  CHECK(distinct_sketch::estimate(s) == 1024);
  CHECK(s.size() == 1 + 8 * 1024);
  CHECK(distinct_sketch::valid(s));
  // One more: dense (16 KiB of registers and their histogram), still close.
  s = distinct_sketch::add(std::move(s), stable_value_hash(Value::string("user-1024")));
  CHECK(s.size() == distinct_sketch::kDenseBytes);
  CHECK(distinct_sketch::valid(s));
  CHECK(relative_error(distinct_sketch::estimate(s), 1025) < 0.02);
  // Accuracy at several cardinalities (the hash is fixed, so these are
  // exact figures of this sketch, not a sample: 0.81% is the standard error).
  for (int64_t n : {2000, 10000, 50000, 200000, 1000000}) {
    INFO(n << " distinct values");
    CHECK(relative_error(distinct_sketch::estimate(sketch_of(0, n)), n) < 0.025);
  }
}

TEST_CASE("distinct sketch: merges are unions, in any form", "[aggregate][sketch]") {
  // sparse + sparse within the bound: exact, shared values once.
  CHECK(distinct_sketch::estimate(
            distinct_sketch::merge(sketch_of(0, 600), sketch_of(400, 1000))) == 1000);
  // sparse + sparse past the bound: dense, equal to adding everything.
  const std::string both = distinct_sketch::merge(sketch_of(0, 900), sketch_of(500, 1500));
  CHECK(both.size() == distinct_sketch::kDenseBytes);
  CHECK(both == sketch_of(0, 1500));
  CHECK(distinct_sketch::valid(both));
  // dense + sparse, sparse + dense, dense + dense: the registers of all.
  const std::string big = sketch_of(0, 5000);
  CHECK(distinct_sketch::merge(big, sketch_of(4000, 4500)) == sketch_of(0, 5000));
  CHECK(distinct_sketch::merge(sketch_of(6000, 6100), big) ==
        distinct_sketch::merge(big, sketch_of(6000, 6100)));
  CHECK(distinct_sketch::merge(big, sketch_of(5000, 20000)) == sketch_of(0, 20000));
  CHECK(distinct_sketch::valid(distinct_sketch::merge(big, sketch_of(5000, 20000))));
  CHECK(distinct_sketch::valid(distinct_sketch::merge(sketch_of(6000, 6100), big)));
  CHECK(relative_error(
            distinct_sketch::estimate(distinct_sketch::merge(big, sketch_of(5000, 20000))), 20000) <
        0.025);
}

TEST_CASE("distinct sketch: malformed bytes are refused, or read as empty", "[aggregate][sketch]") {
  CHECK_FALSE(distinct_sketch::valid(""));
  CHECK_FALSE(distinct_sketch::valid("X"));
  CHECK_FALSE(distinct_sketch::valid("S1234567"));  // not a whole hash
  std::string unsorted = distinct_sketch::add(distinct_sketch::empty(), 5);
  unsorted = distinct_sketch::add(std::move(unsorted), 9);
  std::swap(unsorted[1], unsorted[9]);  // 9 before 5
  CHECK_FALSE(distinct_sketch::valid(unsorted));
  std::string dense = sketch_of(0, 2000);
  dense[7] = static_cast<char>(60);  // no 64-bit hash ranks past 51
  CHECK_FALSE(distinct_sketch::valid(dense));
  dense = sketch_of(0, 2000);
  dense[7] = static_cast<char>(dense[7] + 1);  // the histogram no longer matches
  CHECK_FALSE(distinct_sketch::valid(dense));
  // A corrupt dense sketch merges and adds without reading out of bounds.
  std::string corrupt = sketch_of(0, 2000);
  for (size_t i = 1; i < 200; ++i) corrupt[i] = static_cast<char>(200);
  CHECK(distinct_sketch::estimate(distinct_sketch::merge(sketch_of(0, 3000), corrupt)) > 0);
  CHECK(distinct_sketch::estimate(distinct_sketch::add(corrupt, 12345)) >= 0);
  CHECK(distinct_sketch::estimate("nonsense") == 0);
  CHECK(distinct_sketch::estimate(distinct_sketch::add("nonsense", 7)) == 1);
}

TEST_CASE("stable value hash: by content, equal SQL values alike", "[aggregate][sketch]") {
  CHECK(stable_value_hash(Value::int32(7)) == stable_value_hash(Value::int64(7)));
  CHECK(stable_value_hash(Value::float64(0.0)) == stable_value_hash(Value::float64(-0.0)));
  CHECK(stable_value_hash(Value::string("7")) != stable_value_hash(Value::int64(7)));
  CHECK(stable_value_hash(Value::string("a")) != stable_value_hash(Value::bytes("a")));
  CHECK(stable_value_hash(Value::array({I(1), S("x")})) ==
        stable_value_hash(Value::array({I(1), S("x")})));
  // Fixed across builds and processes, so a restored sketch keeps counting
  // the same values as the same: XXH3 of an integer's 8 little-endian bytes
  // with seed 2, of a string's bytes with seed 4 (a change here breaks every
  // sketch in a checkpoint).
  CHECK(stable_value_hash(Value::int64(1)) == 4678170435044338961ull);
  CHECK(stable_value_hash(Value::string("user-1")) == 7484425169140143041ull);
}

// Two-pass reference figures.
struct Reference {
  std::vector<double> xs, ys;
  double stddev() const { return rivulet::testing::reference_stddev(xs); }
  double correlation() const { return rivulet::testing::reference_correlation(xs, ys); }
};

TEST_CASE("moments: added, taken back out and merged, against two passes", "[aggregate][stats]") {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> value(-1000.0, 1000.0);
  Value var = moments::variance_empty();
  Value cov = moments::covariance_empty();
  Reference ref;
  CHECK(moments::stddev_sample_of(var) == F(0.0));
  CHECK(moments::correlation_of(cov).is_null());
  for (int step = 0; step < 3000; ++step) {
    const bool remove = !ref.xs.empty() && rng() % 3 == 0;
    if (remove) {
      const size_t i = rng() % ref.xs.size();
      var = moments::variance_step(var, ref.xs[i], true);
      cov = moments::covariance_step(cov, ref.xs[i], ref.ys[i], true);
      ref.xs.erase(ref.xs.begin() + static_cast<long>(i));
      ref.ys.erase(ref.ys.begin() + static_cast<long>(i));
    } else {
      const double x = value(rng);
      const double y = 0.5 * x + value(rng) / 4 + 10000;  // correlated, far from 0
      var = moments::variance_step(var, x, false);
      cov = moments::covariance_step(cov, x, y, false);
      ref.xs.push_back(x);
      ref.ys.push_back(y);
    }
    if (step % 97 == 0 && ref.xs.size() > 2) {
      INFO("step " << step << ", " << ref.xs.size() << " values");
      CHECK(moments::stddev_sample_of(var).as_double() == Approx(ref.stddev()).epsilon(1e-9));
      CHECK(moments::correlation_of(cov).as_double() == Approx(ref.correlation()).epsilon(1e-9));
    }
  }
  // Everything out again: the empty accumulators' results.
  while (!ref.xs.empty()) {
    var = moments::variance_step(var, ref.xs.back(), true);
    cov = moments::covariance_step(cov, ref.xs.back(), ref.ys.back(), true);
    ref.xs.pop_back();
    ref.ys.pop_back();
  }
  CHECK(moments::stddev_sample_of(var) == F(0.0));
  CHECK(moments::correlation_of(cov).is_null());

  // Merging halves gives the whole.
  Reference all;
  Value va = moments::variance_empty(), vb = va;
  Value ca = moments::covariance_empty(), cb = ca;
  for (int i = 0; i < 500; ++i) {
    const double x = value(rng), y = x * x / 1000 - x;
    (i % 3 ? va : vb) = moments::variance_step(i % 3 ? va : vb, x, false);
    (i % 3 ? ca : cb) = moments::covariance_step(i % 3 ? ca : cb, x, y, false);
    all.xs.push_back(x);
    all.ys.push_back(y);
  }
  CHECK(moments::stddev_sample_of(moments::variance_merge(va, vb)).as_double() ==
        Approx(all.stddev()).epsilon(1e-9));
  CHECK(moments::correlation_of(moments::covariance_merge(ca, cb)).as_double() ==
        Approx(all.correlation()).epsilon(1e-9));
  CHECK(moments::variance_merge(va, moments::variance_empty()) == va);
  CHECK(moments::variance_merge(moments::variance_empty(), vb) == vb);
}

TEST_CASE("moments: the undefined cases", "[aggregate][stats]") {
  Value var = moments::variance_step(moments::variance_empty(), 3.0, false);
  CHECK(moments::stddev_sample_of(var) == F(0.0));  // one value: ksqlDB's 0.0
  var = moments::variance_step(var, 5.0, false);
  CHECK(moments::stddev_sample_of(var).as_double() == Approx(std::sqrt(2.0)));
  // A constant side: no correlation (ksqlDB divides 0 by 0, NaN).
  Value cov = moments::covariance_empty();
  for (double x : {1.0, 2.0, 3.0}) cov = moments::covariance_step(cov, x, 7.0, false);
  CHECK(moments::correlation_of(cov).is_null());
  cov = moments::covariance_empty();
  for (double x : {1.0, 2.0, 3.0}) cov = moments::covariance_step(cov, x, -2 * x, false);
  CHECK(moments::correlation_of(cov) == F(-1.0));
  // Not an accumulator: read as empty.
  CHECK(moments::stddev_sample_of(S("x")) == F(0.0));
  CHECK(moments::variance_step(Value::array({I(2), F(1)}), 4.0, false) ==
        moments::variance_step(moments::variance_empty(), 4.0, false));
}

TEST_CASE("attr counts: one value held, or NULL", "[aggregate][stats]") {
  Value acc = Value::array({});
  CHECK(aggregates::attr_counts_result(acc).is_null());
  acc = aggregates::attr_counts_step(acc, S("a"), 1);
  acc = aggregates::attr_counts_step(acc, S("a"), 1);
  CHECK(aggregates::attr_counts_result(acc) == S("a"));
  acc = aggregates::attr_counts_step(acc, Value(), 1);  // NULL is a value
  CHECK(aggregates::attr_counts_result(acc).is_null());
  acc = aggregates::attr_counts_step(acc, Value(), -1);
  CHECK(aggregates::attr_counts_result(acc) == S("a"));
  acc = aggregates::attr_counts_step(acc, S("b"), 1);
  acc = aggregates::attr_counts_step(acc, S("a"), -1);
  CHECK(aggregates::attr_counts_result(acc).is_null());  // one "a" row left
  acc = aggregates::attr_counts_step(acc, S("a"), -1);
  CHECK(aggregates::attr_counts_result(acc) == S("b"));
  acc = aggregates::attr_counts_step(acc, S("b"), -1);
  CHECK(acc == Value::array({}));
}

struct Harness {
  explicit Harness(AggregateSpec spec)
      : store(std::make_shared<AggregateStore>(
            "agg", std::make_shared<const AggregateSpec>(std::move(spec)), nullptr)),
        node("aggregate", store) {
    node.add_child(&collect);
  }
  void run(Batch b) {
    ProcessContext ctx(out, PartitionId{0});
    node.process(b, ctx);
  }
  std::shared_ptr<AggregateStore> store;
  AggregateNode node;
  Collect collect;
  TaskOutput out;
};

AggregateSpec all_four() {
  AggregateSpec spec;
  spec.as_struct = true;
  spec.functions.push_back(AggregateFn::count_distinct(field("U"), "D"));
  spec.functions.push_back(AggregateFn::stddev_sample(field("X"), "SD"));
  spec.functions.push_back(AggregateFn::correlation(field("X"), field("Y"), "R"));
  spec.functions.push_back(AggregateFn::attr(field("C"), "A"));
  return spec;
}

Value row(int64_t user, Value x, Value y, Value c) {
  return Value::structure({Field{"U", I(user)}, Field{"X", std::move(x)}, Field{"Y", std::move(y)},
                           Field{"C", std::move(c)}});
}

TEST_CASE("COUNT_DISTINCT, STDDEV_SAMPLE, CORRELATION, ATTR in an aggregation, restored",
          "[aggregate][stats]") {
  Harness h(all_four());
  Batch b;
  for (int i = 0; i < 3000; ++i)
    b.push_back(
        record(S("g"), row(i % 1500, F(i % 10), F(2.0 * (i % 10) + 1), S("same")), 10 + i, i));
  h.run(b);
  REQUIRE(h.collect.records.size() == 3000);
  const Value& last = h.collect.records.back().value;
  CHECK(last.field("D")->as_int64() == Approx(1500).epsilon(0.025));
  Reference ref;
  for (int i = 0; i < 3000; ++i) ref.xs.push_back(i % 10);
  CHECK(last.field("SD")->as_double() == Approx(ref.stddev()).epsilon(1e-9));
  CHECK(last.field("R")->as_double() == Approx(1.0));
  CHECK(*last.field("A") == S("same"));

  // Snapshot and restore elsewhere: the same values count as seen.
  const std::string bytes = h.store->serialize();
  Harness r(all_four());
  REQUIRE(r.store->restore(bytes));
  Batch more;
  more.push_back(record(S("g"), row(7, F(1), Value(), Value()), 5000, 5000));  // 7 seen before
  h.run(more);
  r.run(more);
  REQUIRE(r.collect.records.size() == 1);
  CHECK(r.collect.records[0].value == h.collect.records.back().value);
  CHECK(r.collect.records[0].value.field("D")->as_int64() == last.field("D")->as_int64());
  CHECK(r.collect.records[0].value.field("A")->is_null());  // NULL differs from "same"
}

TEST_CASE("the four functions merge partials as their inputs would aggregate",
          "[aggregate][stats]") {
  const AggregateSpec spec = all_four();
  std::vector<Accumulator> whole(4), left(4), right(4);
  std::vector<bool> started(4, false), lstarted(4, false), rstarted(4, false);
  for (int i = 0; i < 400; ++i) {
    Record rec =
        record(S("g"), row(i % 300, F(i * 0.5), F(std::sin(i)), S(i < 399 ? "c" : "d")), i, i);
    auto& part = i % 2 ? left : right;
    auto& ps = i % 2 ? lstarted : rstarted;
    for (size_t f = 0; f < 4; ++f) {
      Accumulator next;
      aggregate_step(spec.functions[f], started[f] ? &whole[f] : nullptr, rec, next);
      whole[f] = next;
      started[f] = true;
      Accumulator pnext;
      aggregate_step(spec.functions[f], ps[f] ? &part[f] : nullptr, rec, pnext);
      part[f] = pnext;
      ps[f] = true;
    }
  }
  AccumulatorRow merged;
  for (size_t f = 0; f < 4; ++f)
    merged.push_back(aggregate_merge(spec.functions[f], left[f], right[f]));
  const Value a = aggregate_result(spec, whole);
  const Value m = aggregate_result(spec, merged);
  CHECK(*m.field("D") == *a.field("D"));
  CHECK(m.field("D")->as_int64() == 300);
  CHECK(m.field("SD")->as_double() == Approx(a.field("SD")->as_double()).epsilon(1e-12));
  CHECK(m.field("R")->as_double() == Approx(a.field("R")->as_double()).epsilon(1e-12));
  CHECK(m.field("A")->is_null());  // "c" and "d"
}

}  // namespace
}  // namespace rivulet
