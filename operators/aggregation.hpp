#pragma once
// Grouped aggregation of a stream: COUNT, SUM, MIN, MAX, AVG and custom
// aggregates (initializer + adder), several at once, per record key (the
// group key). Emits the updated result row per input record, keyed by the
// group key (ksqlDB's EMIT CHANGES on a stream aggregation).
//
// Semantics:
//  - a record with a null key (no group) is a data error (dead-lettered and
//    counted; ksqlDB drops it with a processing-log entry); one with a null
//    value is skipped and counted (skipped_records(), and the task's
//    records_skipped), as Kafka Streams and ksqlDB do;
//  - COUNT with no input counts records; with an input (COUNT(col)) counts
//    non-null inputs; SUM/MIN/MAX/AVG ignore null inputs and are null until
//    the first non-null input;
//  - SUM keeps its input's kind: INT and BIGINT wrap on overflow (as Java
//    does), DOUBLE adds in double, DECIMAL adds exactly (precision grows as
//    needed, up to 38 digits; beyond that the record is a data error). Mixed
//    kinds widen: int < bigint < decimal < double;
//  - AVG is DOUBLE for integer and double inputs and an exact DECIMAL
//    (sum / count with ksqlDB's division scale) for decimal inputs;
//  - MIN/MAX use Value::compare (numbers across kinds by value);
//  - an input of the wrong type (SUM over a string) or a throwing input or
//    adder function is a data error for that record, which changes nothing.
//
// Owned by a TaskGraph; runs on the task's thread. The results can also be
// materialized in a KTable that any thread may query.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "operators/ktable.hpp"
#include "operators/processor.hpp"
#include "operators/state_store.hpp"
#include "operators/stateless_nodes.hpp"
#include "runtime/numbers.hpp"

namespace rivulet {

enum class AggregateKind { Count, Sum, Min, Max, Avg, Custom };

// One aggregate function of a grouped aggregation.
struct AggregateFn {
  AggregateKind kind = AggregateKind::Count;
  std::string name;  // the result's field name when the result is a struct
  // The aggregated input; empty: the record's value (COUNT: count records).
  ValueFn input;
  // Custom only: the aggregate of an empty group, and (record, aggregate) ->
  // new aggregate.
  std::function<Value()> initializer;
  std::function<Value(const Record&, const Value&)> adder;
  // Custom only, optional: combines two aggregates (session windows merge
  // sessions with it; a custom function without one cannot be sessioned).
  std::function<Value(const Value&, const Value&)> merger;
  // Custom only, optional: the result from the aggregate (unset: the
  // aggregate itself), e.g. COUNT_DISTINCT's estimate from its sketch.
  std::function<Value(const Value&)> finisher;
  // SUM only: the result of a group without a non-NULL input (NULL unless
  // set; SQL sets the type's zero, as ksqlDB's SUM starts at 0).
  Value empty_sum;
  // SUM of a DECIMAL only (0: unbounded): the result's declared precision
  // and scale. A sum that no longer fits fails the record that made it, and
  // the group keeps its sum before it (ksqlDB: "Numeric field overflow").
  int sum_precision = 0;
  int sum_scale = 0;

  static AggregateFn count(std::string name = "COUNT");
  static AggregateFn count_non_null(ValueFn input, std::string name = "COUNT");
  static AggregateFn sum(ValueFn input, std::string name = "SUM");
  static AggregateFn min(ValueFn input, std::string name = "MIN");
  static AggregateFn max(ValueFn input, std::string name = "MAX");
  static AggregateFn avg(ValueFn input, std::string name = "AVG");
  static AggregateFn custom(std::function<Value()> initializer,
                            std::function<Value(const Record&, const Value&)> adder,
                            std::string name = "AGG");
  // ksqlDB's TOPK / TOPKDISTINCT: the k largest non-null inputs (distinct
  // ones), largest first, as an array (empty until the first non-null
  // input). A custom function with a merger, so sessions merge it.
  static AggregateFn top_k(ValueFn input, size_t k, bool distinct, std::string name = "TOPK");
  // ksqlDB's statistical and distinct aggregates (operators/aggregate_functions.hpp
  // has their accumulators):
  //  - COUNT_DISTINCT: the number of distinct non-null inputs, exact up to
  //    1,024 of them, then HyperLogLog's estimate (standard error 0.81%),
  //    in at most 16.1 KiB per group (operators/distinct_sketch.hpp);
  //  - STDDEV_SAMPLE: the sample standard deviation of the non-null inputs
  //    (numbers), 0.0 below two of them (as ksqlDB);
  //  - CORRELATION: Pearson's coefficient of the pairs where neither input
  //    is null; NULL while undefined (fewer than two pairs, or either
  //    input constant), where ksqlDB gives NaN;
  //  - ATTR: the input when every input of the group had the same value
  //    (NULL counting as a value), NULL otherwise.
  static AggregateFn count_distinct(ValueFn input, std::string name = "COUNT_DISTINCT");
  static AggregateFn stddev_sample(ValueFn input, std::string name = "STDDEV_SAMPLE");
  static AggregateFn correlation(ValueFn x, ValueFn y, std::string name = "CORRELATION");
  static AggregateFn attr(ValueFn input, std::string name = "ATTR");
};

struct AggregateSpec {
  std::vector<AggregateFn> functions;
  // With one function and as_struct false, the result value is that
  // function's result; otherwise a struct with one field per function.
  bool as_struct = false;
};

// The running state of one function for one group.
struct Accumulator {
  Value value;        // COUNT: unused; SUM/AVG: the sum; MIN/MAX/custom: the aggregate
  int64_t count = 0;  // COUNT: the count; AVG: non-null inputs
};
using AccumulatorRow = std::vector<Accumulator>;

// A row of accumulators in snapshots (aggregate and window stores): an array
// of value, count pairs. Decoding checks the shape against the `n` aggregate
// functions of the store named `store`.
Value encode_accumulators(const AccumulatorRow& row);
Expected<AccumulatorRow> decode_accumulators(const std::string& store, size_t n, const Value& v);

// The accumulators of one aggregation, per group key: the aggregation's
// checkpointed state. Results, when materialized for queries, are derived
// from it (and rebuilt by restore()).
class AggregateStore final : public StateStore {
 public:
  // `results` (optional) receives every group's current result.
  AggregateStore(std::string name, std::shared_ptr<const AggregateSpec> spec,
                 std::shared_ptr<KTable> results);

  const AggregateSpec& spec() const { return *spec_; }
  const std::shared_ptr<KTable>& results() const { return results_; }
  size_t size() const { return groups_.size(); }

  // The row of `key`, created with initial accumulators when absent.
  AccumulatorRow& row(const Value& key);
  const AccumulatorRow* find(const Value& key) const;
  AccumulatorRow* find(const Value& key);
  // The result value for a row (scalar or struct, per the spec).
  Value result(const AccumulatorRow& row) const;
  void note_change(const Value& key) {
    if (track_changes_) changed_.insert(key);
  }
  size_t bytes_estimate() const;

  std::string name() const override { return name_; }
  // Packs each group's accumulators directly (no Value built per group);
  // packing costs about what copying the groups would, so a deferred
  // serialization (StateStore's default) packs on the task too.
  std::string serialize() const override;
  Expected<bool> restore(std::string_view bytes) override;
  bool supports_incremental() const override { return true; }
  void set_change_tracking(bool on) override;
  std::string serialize_changes() const override;
  Expected<bool> apply_changes(std::string_view bytes) override;

 private:
  Expected<bool> apply_entries(std::string_view bytes, bool replace);

  std::string name_;
  std::shared_ptr<const AggregateSpec> spec_;
  std::shared_ptr<KTable> results_;
  std::unordered_map<Value, AccumulatorRow, ValueHash> groups_;
  bool track_changes_ = false;
  mutable std::unordered_set<Value, ValueHash> changed_;
};

// Updates the store with each record (grouped by the record's key) and
// rewrites the record's value into the group's updated result.
// `merges_partials`: the records are partial aggregates of its functions
// (operators/partial_aggregate.hpp), merged into the group's row instead
// of stepped.
class AggregateNode final : public Processor {
 public:
  AggregateNode(std::string name, std::shared_ptr<AggregateStore> store,
                bool merges_partials = false);

  void process(Batch& batch, ProcessContext& ctx) override;
  uint64_t skipped_records() const { return skipped_; }
  const std::shared_ptr<AggregateStore>& store() const { return store_; }

 private:
  std::shared_ptr<AggregateStore> store_;
  bool merges_partials_;
  AccumulatorRow scratch_;  // the candidate row, committed only if every function succeeded
  uint64_t skipped_ = 0;
};

// The steps AggregateNode takes, for other aggregating nodes (windows):
// one function's next accumulator after record `r` (`prev` null: the
// group's first record); throws std::exception when the record is a data
// error for this function (wrong type, overflow).
void aggregate_step(const AggregateFn& fn, const Accumulator* prev, const Record& r,
                    Accumulator& next);
// The result value of a row (scalar or struct, per the spec).
Value aggregate_result(const AggregateSpec& spec, const AccumulatorRow& row);
// Two accumulators of `fn` combined into one (session windows merging two
// sessions); throws std::exception for a custom function without a merger
// or a decimal overflow.
Accumulator aggregate_merge(const AggregateFn& fn, const Accumulator& a, const Accumulator& b);

// Why the DECIMAL `v` does not fit DECIMAL(precision, scale) ("Numeric field
// overflow: ..."); nullopt when it fits, or is not a DECIMAL, or precision is 0.
std::optional<std::string> decimal_overflow(const Value& v, int precision, int scale);

}  // namespace rivulet
