#include "operators/aggregation.hpp"

#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <thread>

#include "test_support.hpp"

namespace rivulet {
namespace {

using test::Collect;
using test::D;
using test::field;
using test::I;
using test::record;
using test::S;

struct Harness {
  explicit Harness(AggregateSpec spec, bool queryable = true)
      : results(queryable ? std::make_shared<KTable>("agg") : nullptr),
        store(std::make_shared<AggregateStore>(
            "agg", std::make_shared<const AggregateSpec>(std::move(spec)), results)),
        node("aggregate", store) {
    node.add_child(&collect);
  }
  void run(Batch b) {
    ProcessContext ctx(out, PartitionId{0});
    node.process(b, ctx);
  }
  std::shared_ptr<KTable> results;
  std::shared_ptr<AggregateStore> store;
  AggregateNode node;
  Collect collect;
  TaskOutput out;
};

AggregateSpec one(AggregateFn f) {
  AggregateSpec s;
  s.functions.push_back(std::move(f));
  return s;
}

TEST_CASE("count emits the updated count per input record, keyed by group", "[aggregate]") {
  Harness h(one(AggregateFn::count()));
  h.run({record(S("a"), I(1), 10, 0), record(S("b"), I(1), 11, 1), record(S("a"), I(1), 12, 2),
         record(Value(), I(1), 13, 3), record(S("a"), Value(), 14, 4)});
  REQUIRE(h.collect.records.size() == 3);
  CHECK(h.collect.records[0].key == S("a"));
  CHECK(h.collect.records[0].value == I(1));
  CHECK(h.collect.records[1].value == I(1));
  CHECK(h.collect.records[2].key == S("a"));
  CHECK(h.collect.records[2].value == I(2));
  CHECK(h.collect.records[2].timestamp == 12);
  CHECK(h.collect.records[2].source.offset == Offset{2});
  CHECK(h.node.skipped_records() == 1);  // null value
  CHECK(h.out.records_skipped == 2);  // the null value, and the null key (also a data error)
  CHECK(h.out.skipped_by_reason[static_cast<size_t>(SkipReason::Tombstone)] == 1);
  CHECK(h.out.skipped_by_reason[static_cast<size_t>(SkipReason::NullGroupKey)] == 1);
  REQUIRE(h.out.data_errors.size() == 1);  // null key: no group, a data error
  CHECK(h.out.data_errors[0].error.context.operation == "aggregate");
  CHECK(h.results->get(S("a")) == std::optional<Value>(I(2)));
  CHECK(h.results->get(S("b")) == std::optional<Value>(I(1)));
}

TEST_CASE("sum of decimal 0.1 ten thousand times is exactly 1000.0", "[aggregate]") {
  Harness h(one(AggregateFn::sum({})));
  for (int chunk = 0; chunk < 10; ++chunk) {
    Batch b;
    for (int i = 0; i < 1000; ++i) b.push_back(record(S("k"), D("0.1")));
    h.run(std::move(b));
  }
  Value total = *h.results->get(S("k"));
  REQUIRE(total.kind() == TypeKind::Decimal);
  CHECK(total.as_decimal() == *Decimal::parse("1000.0"));
  CHECK(total.as_decimal().to_string() == "1000.0");
  CHECK(h.collect.records.back().value == total);
  // The same sum in double is not exact: the aggregation did not go through it.
  double d = 0;
  for (int i = 0; i < 10000; ++i) d += 0.1;
  CHECK(d != 1000.0);
}

TEST_CASE("sum keeps its kind, widens across kinds, and wraps ints like Java", "[aggregate]") {
  CHECK(add_numbers(Value::int32(2), Value::int32(3))->kind() == TypeKind::Int);
  CHECK(*add_numbers(Value::int32(INT32_MAX), Value::int32(1)) == Value::int32(INT32_MIN));
  CHECK(*add_numbers(Value::int32(1), I(2)) == I(3));
  CHECK(add_numbers(Value::int32(1), I(2))->kind() == TypeKind::BigInt);
  CHECK(add_numbers(I(1), D("0.5"))->kind() == TypeKind::Decimal);
  CHECK(*add_numbers(I(1), D("0.5")) == D("1.5"));
  CHECK(add_numbers(D("0.5"), Value::float64(0.25))->kind() == TypeKind::Double);
  CHECK(*add_numbers(D("0.5"), Value::float64(0.25)) == Value::float64(0.75));
  CHECK_FALSE(add_numbers(S("x"), I(1)));
  // 38 nines plus one does not fit DECIMAL(38).
  CHECK_FALSE(add_numbers(D("99999999999999999999999999999999999999"), D("1")));
}

TEST_CASE("a DECIMAL sum past its declared precision fails its record and keeps the sum",
          "[aggregate]") {
  AggregateFn fn = AggregateFn::sum(field("amount"));
  fn.sum_precision = 4;  // DECIMAL(4, 1): at most 999.9
  fn.sum_scale = 1;
  Harness h(one(fn));
  h.run({record(S("k"), test::row({{"amount", D("500.9")}}), 0, 0),
         record(S("k"), test::row({{"amount", D("300.8")}}), 0, 1),
         record(S("k"), test::row({{"amount", D("400.8")}}), 0, 2),  // 1202.5: overflow
         record(S("k"), test::row({{"amount", D("-0.7")}}), 0, 3),
         record(S("j"), test::row({{"amount", D("-999.9")}}), 0, 4),
         record(S("j"), test::row({{"amount", D("-0.1")}}), 0, 5)});  // -1000.0: overflow
  REQUIRE(h.out.data_errors.size() == 2);
  CHECK(h.out.data_errors[0].error.context.operation == "aggregate");
  CHECK(h.out.data_errors[0].error.context.offset == 2);
  CHECK_THAT(h.out.data_errors[0].error.message,
             Catch::Contains("Numeric field overflow") && Catch::Contains("1202.5") &&
                 Catch::Contains("DECIMAL(4, 1)"));
  CHECK(h.out.data_errors[1].error.context.offset == 5);
  REQUIRE(h.collect.records.size() == 4);
  CHECK(h.collect.records[1].value == D("801.7"));
  CHECK(h.collect.records[2].value == D("801.0"));  // 801.7 - 0.7: the failed record left no trace
  CHECK(h.results->get(S("k")) == std::optional<Value>(D("801.0")));
  CHECK(h.results->get(S("j")) == std::optional<Value>(D("-999.9")));

  // Merging two sums (sessions, two-phase aggregation) checks the same bound.
  Accumulator a;
  a.value = D("600.0");
  a.count = 1;
  Accumulator b = a;
  CHECK_THROWS_WITH(aggregate_merge(fn, a, b), Catch::Contains("Numeric field overflow"));
  b.value = D("399.9");
  CHECK(aggregate_merge(fn, a, b).value == D("999.9"));
  // Without a declared type (the C++ API's default) sums grow to 38 digits.
  CHECK(aggregate_merge(AggregateFn::sum({}), a, a).value == D("1200.0"));
}

TEST_CASE("a record of the wrong type is a data error and changes nothing", "[aggregate]") {
  Harness h(one(AggregateFn::sum(field("amount"))));
  h.run({record(S("k"), test::row({{"amount", I(5)}}), 0, 0),
         record(S("k"), test::row({{"amount", S("lots")}}), 0, 1),
         record(S("k"), test::row({{"amount", Value()}}), 0, 2),
         record(S("k"), test::row({{"amount", I(7)}}), 0, 3)});
  REQUIRE(h.out.data_errors.size() == 1);
  CHECK(h.out.data_errors[0].error.context.operation == "aggregate");
  CHECK(h.out.data_errors[0].error.context.offset == 1);
  REQUIRE(h.collect.records.size() == 3);
  CHECK(h.collect.records[1].value == I(5));  // a null input leaves the sum as it was
  CHECK(h.collect.records[2].value == I(12));
}

TEST_CASE("min, max, avg and count(col) ignore nulls, avg of decimals is exact", "[aggregate]") {
  AggregateSpec spec;
  spec.functions = {AggregateFn::count(),         AggregateFn::count_non_null(field("x"), "N"),
                    AggregateFn::min(field("x")), AggregateFn::max(field("x")),
                    AggregateFn::avg(field("x")), AggregateFn::sum(field("x"))};
  Harness h(spec);
  h.run({record(S("k"), test::row({{"x", D("0.10")}})), record(S("k"), test::row({{"x", Value()}})),
         record(S("k"), test::row({{"x", D("0.20")}})),
         record(S("k"), test::row({{"x", D("0.06")}}))});
  const Value& r = h.collect.records.back().value;
  CHECK(*r.field("COUNT") == I(4));
  CHECK(*r.field("N") == I(3));
  CHECK(*r.field("MIN") == D("0.06"));
  CHECK(*r.field("MAX") == D("0.20"));
  CHECK(*r.field("SUM") == D("0.36"));
  const Value& avg = *r.field("AVG");
  REQUIRE(avg.kind() == TypeKind::Decimal);
  CHECK(avg.as_decimal() == *Decimal::parse("0.12"));

  Harness ints(one(AggregateFn::avg({})));
  ints.run({record(S("k"), I(1)), record(S("k"), I(2))});
  CHECK(ints.collect.records.back().value == Value::float64(1.5));

  Harness nothing(one(AggregateFn::max(field("x"))));
  nothing.run({record(S("k"), test::row({{"x", Value()}}))});
  CHECK(nothing.collect.records.back().value.is_null());
}

TEST_CASE("custom aggregate with initializer and adder", "[aggregate]") {
  Harness h(one(AggregateFn::custom(
      [] { return S(""); },
      [](const Record& r, const Value& agg) { return S(agg.as_string() + r.value.as_string()); })));
  h.run({record(I(1), S("a")), record(I(2), S("x")), record(I(1), S("b")), record(I(1), I(5))});
  REQUIRE(h.collect.records.size() == 3);  // I(5) makes the adder throw
  CHECK(h.collect.records[2].value == S("ab"));
  CHECK(h.out.data_errors.size() == 1);
}

TEST_CASE("aggregate store snapshots and restores, rebuilding the results table", "[aggregate]") {
  AggregateSpec spec;
  spec.functions = {AggregateFn::count(), AggregateFn::avg({})};
  Harness h(spec);
  h.store->set_change_tracking(true);
  h.run({record(S("a"), D("1.5")), record(S("b"), D("2")), record(S("a"), D("2.5"))});
  std::string bytes = h.store->serialize();
  h.run({record(S("c"), D("1"))});
  std::string delta = h.store->serialize_changes();

  Harness r(spec);
  REQUIRE(r.store->restore(bytes));
  CHECK(r.store->size() == 2);
  CHECK(r.results->size() == 2);
  CHECK(*r.results->get(S("a")) == *h.results->get(S("a")));
  REQUIRE(r.store->apply_changes(delta));
  CHECK(r.results->snapshot() == h.results->snapshot());
  // Continuing after a restore gives what continuing without one gives.
  h.run({record(S("a"), D("3"))});
  r.run({record(S("a"), D("3"))});
  CHECK(r.collect.records.back().value == h.collect.records.back().value);
  CHECK(*r.collect.records.back().value.field("COUNT") == I(3));

  Harness other(one(AggregateFn::count()));
  CHECK_FALSE(other.store->restore(bytes));  // rows of two functions do not fit one
  CHECK(other.store->size() == 0);
}

// Whatever an aggregation accepts restores: TOPK of values as deeply nested
// as a decoder lets in (kMaxValueDepth) went into snapshots and deltas that
// restore then refused (a depth limit of 64 on each entry), leaving every
// later checkpoint of the task unrestorable (found by
// operators/fuzz/store_fuzzer).
TEST_CASE("aggregate store: values nested as deep as a decoder accepts restore", "[aggregate]") {
  Value deep = I(1);
  for (int i = 1; i < kMaxValueDepth; ++i) deep = Value::array({deep});
  AggregateSpec spec;
  spec.functions = {AggregateFn::count(), AggregateFn::top_k(field("v"), 2, false)};
  Harness h(spec);
  h.store->set_change_tracking(true);
  h.run({record(S("a"), test::row({{"v", deep}}))});
  const std::string bytes = h.store->serialize();
  h.run({record(S("b"), test::row({{"v", deep}}))});
  const std::string delta = h.store->serialize_changes();

  Harness r(spec);
  auto restored = r.store->restore(bytes);
  INFO((restored ? std::string() : restored.error().message));
  REQUIRE(restored);
  auto applied = r.store->apply_changes(delta);
  INFO((applied ? std::string() : applied.error().message));
  REQUIRE(applied);
  CHECK(r.results->snapshot() == h.results->snapshot());
}

TEST_CASE("aggregate store: a deferred serialization is the call's content", "[aggregate]") {
  AggregateSpec spec;
  spec.functions = {AggregateFn::count(), AggregateFn::avg({})};
  Harness h(spec);
  h.store->set_change_tracking(true);
  Batch first;
  for (int i = 0; i < 300; ++i) first.push_back(record(S("g" + std::to_string(i % 40)), D("1.5")));
  h.run(first);
  const std::string expected = h.store->serialize();
  std::function<std::string()> later = h.store->serialize_deferred();
  std::string produced;
  std::thread writer([&] { produced = later(); });
  for (int round = 0; round < 20; ++round) {  // the owner goes on meanwhile
    Batch more;
    for (int i = 0; i < 60; ++i) more.push_back(record(S("g" + std::to_string(i)), D("2")));
    h.run(more);
  }
  writer.join();
  CHECK(produced == expected);
  Harness r(spec);
  REQUIRE(r.store->restore(produced));
  CHECK(r.store->size() == 40);
  // The change set restarted at the call: the base plus the delta is now.
  REQUIRE(r.store->apply_changes(h.store->serialize_changes()));
  CHECK(r.results->snapshot() == h.results->snapshot());
  // A change just before the call is in its content, not in the next
  // change set.
  h.run({record(S("between"), D("1"))});
  std::function<std::string()> again = h.store->serialize_deferred();
  auto none = decode_entries(h.store->serialize_changes());
  REQUIRE(none.ok());
  CHECK(none->empty());
  Harness r2(spec);
  REQUIRE(r2.store->restore(again()));
  CHECK(r2.results->snapshot() == h.results->snapshot());
}

}  // namespace
}  // namespace rivulet
