#include "sql/plan_table_aggregate.hpp"

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <utility>

#include "operators/aggregate_functions.hpp"
#include "operators/aggregation.hpp"
#include "operators/stateless_nodes.hpp"
#include "runtime/decimal.hpp"
#include "runtime/moments.hpp"
#include "sql/plan_rows.hpp"
#include "sql/row_layout.hpp"

namespace rivulet::sql {
namespace {

Value negate(const Value& v) {
  switch (v.kind()) {
    case TypeKind::Int:
      return Value::int32(static_cast<int32_t>(0u - static_cast<uint32_t>(v.as_int32())));
    case TypeKind::BigInt:
      return Value::int64(static_cast<int64_t>(0ull - static_cast<uint64_t>(v.as_int64())));
    case TypeKind::Decimal:
      return Value::decimal(v.as_decimal().negate());
    case TypeKind::Double:
      return Value::float64(-v.as_double());
    default:
      throw std::runtime_error(std::string("cannot aggregate ") + type_kind_name(v.kind()));
  }
}

Value plus(const Value& acc, const Value& x, bool subtract) {
  Value d = subtract ? negate(x) : x;
  if (acc.is_null()) return d;
  auto r = add_numbers(acc, d);
  if (!r) throw std::runtime_error(r.error().message);
  return *r;
}

// MIN, MAX, COUNT_DISTINCT, COLLECT_SET, TOPK and TOPKDISTINCT over a table
// keep their group's values with how many of its rows hold each (the
// multiset aggregates::attr_counts_step keeps, in first-seen order): a row
// taken back out takes its value's count down, and the result is read from
// what is left. ksqlDB cannot undo them and refuses them over tables.
bool is_multiset(const std::string& name) {
  return name == "MIN" || name == "MAX" || name == "COUNT_DISTINCT" || name == "COLLECT_SET" ||
         name == "TOPK" || name == "TOPKDISTINCT";
}

// The result of a multiset function from its [value, count] entries.
Value multiset_result(const TableAggregateCall& call, const Value& acc) {
  static const Array kNone;
  const Array& entries = acc.kind() == TypeKind::Array ? acc.as_array() : kNone;
  auto value_of = [](const Value& entry) -> const Value& { return entry.as_array()[0]; };
  auto count_of = [](const Value& entry) { return entry.as_array()[1].as_int64(); };
  if (call.name == "MIN" || call.name == "MAX") {
    const Value* best = nullptr;
    for (const Value& e : entries) {
      const Value& v = value_of(e);
      if (v.is_null()) continue;
      const int c = best ? Value::compare(v, *best) : 0;
      if (!best || (call.name == "MIN" ? c < 0 : c > 0)) best = &v;
    }
    return best ? *best : Value();
  }
  if (call.name == "COUNT_DISTINCT") {
    int64_t n = 0;
    for (const Value& e : entries) n += value_of(e).is_null() ? 0 : 1;
    return Value::int64(n);
  }
  Array out;
  if (call.name == "COLLECT_SET") {  // NULL included, first seen first, up to the limit
    for (const Value& e : entries) {
      if (out.size() >= call.limit) break;
      out.push_back(value_of(e));
    }
    return Value::array(std::move(out));
  }
  // TOPK (each row's value) / TOPKDISTINCT (each value once): the k largest
  // non-NULL values, largest first.
  const bool distinct = call.name == "TOPKDISTINCT";
  for (const Value& e : entries) {
    if (value_of(e).is_null()) continue;
    const int64_t copies =
        distinct ? 1 : std::min<int64_t>(count_of(e), static_cast<int64_t>(call.limit));
    for (int64_t i = 0; i < copies; ++i) out.push_back(value_of(e));
  }
  std::sort(out.begin(), out.end(),
            [](const Value& a, const Value& b) { return Value::compare(a, b) > 0; });
  if (out.size() > call.limit) out.resize(call.limit);
  return Value::array(std::move(out));
}

bool is_statistic(const std::string& name) {
  return name == "STDDEV_SAMPLE" || name == "STDDEV_SAMP" || name == "CORRELATION";
}

Value initial_accumulator(const std::string& name) {
  if (name == "COUNT") return Value::int64(0);
  if (name == "AVG") return Value::array(Array{Value(), Value::int64(0)});
  if (name == "CORRELATION") return moments::covariance_empty();
  if (is_statistic(name)) return moments::variance_empty();
  if (name == "ATTR" || name == "COLLECT_LIST" || is_multiset(name)) return Value::array(Array{});
  if (name == "HISTOGRAM") return Value::map(MapEntries{});
  return Value();  // SUM, SUM_LIST
}

// COLLECT_LIST over a table: `v` appended while the list is under `limit`;
// taken out, its last occurrence removed (ksqlDB's undo; a value the limit
// kept out is not there to remove).
Value collect_step(const Value& acc, const Value& v, bool remove, size_t limit) {
  Array items = acc.kind() == TypeKind::Array ? acc.as_array() : Array{};
  if (!remove) {
    if (items.size() < limit) items.push_back(v);
  } else {
    for (size_t i = items.size(); i-- > 0;)
      if (items[i] == v) {
        items.erase(items.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
  }
  return Value::array(std::move(items));
}

EvalRow row_of(const Array& row, const Record& r) {
  EvalRow e;
  e.columns = row.data();
  e.column_count = row.size();
  e.rowtime = r.timestamp;
  e.partition = r.source.partition.value();
  e.offset = r.source.offset.value();
  e.source = &r.source;
  return e;
}

}  // namespace

namespace {
std::string field_name(const TableAggregateCall& call, size_t i) {
  return call.field.empty() ? "A" + std::to_string(i) : call.field;
}
}  // namespace

Expected<Topology::NodeId> plan_table_aggregate(
    Topology& topology, Topology::NodeId rows, const std::string& id,
    std::vector<std::shared_ptr<const CompiledExpr>> groups, std::vector<TableAggregateCall> calls) {
  for (const auto& c : calls)
    if (c.udaf ? !c.udaf->undo
               : c.name != "COUNT" && c.name != "SUM" && c.name != "AVG" && !is_statistic(c.name) &&
                     c.name != "ATTR" && c.name != "COLLECT_LIST" && c.name != "HISTOGRAM" &&
                     c.name != "SUM_LIST" && !is_multiset(c.name))
      return sql_error(c.loc, "The aggregation function(s) (" + c.name +
                                  ") cannot be applied to a table source, only to a stream "
                                  "source.");
  // 1. Old row out, new row in, keyed by their groups.
  const std::string prior = id + "-prior";
  // The row's group; null when a grouping value is NULL (`*null_at`: which).
  auto group_key = [groups](const Array& row, const Record& r, size_t* null_at) -> Value {
    EvalRow e = row_of(row, r);
    StructFields f;
    for (size_t i = 0; i < groups.size(); ++i) {
      Value v = groups[i]->evaluate(e);
      if (v.is_null()) {
        if (null_at) *null_at = i;
        return Value();
      }
      if (groups.size() == 1) return v;
      f.push_back(Field{"G" + std::to_string(i), std::move(v)});
    }
    return Value::structure(std::move(f));
  };
  std::vector<std::string> group_sql;
  for (const auto& g : groups) group_sql.push_back(to_sql(*g->expr()));
  ProcessorFactory split = [prior, group_key, group_sql](BuildContext& c) -> std::unique_ptr<Processor> {
    std::shared_ptr<KTable> store = c.table(prior);
    if (!store) return nullptr;
    ReportingRowFn fn = [store, group_key, group_sql](const Record& r, Batch& out,
                                                      ProcessContext& ctx) {
      if (r.key.is_null()) {
        ctx.null_key(r, SkipReason::NullKey, "table GROUP BY", "table record with a null key");
        return;
      }
      Value old;
      if (const Value* p = store->find_local(r.key)) old = *p;
      Value now = r.value.kind() == TypeKind::Array ? r.value : Value();
      store->apply(r.key, now);
      // Values: the row, then [the old row,] the mode (0 add, 1 subtract,
      // 2 replace: the old row and the new one are in the same group).
      auto emit = [&](Value key, const Value& row, int32_t mode, const Value* replaced) {
        if (key.is_null()) return;  // an old row whose group was NULL was never counted
        Record o = r;
        o.key = std::move(key);
        Array flagged = row.as_array();
        if (replaced) flagged.push_back(*replaced);
        flagged.push_back(Value::int32(mode));
        o.value = Value::array(std::move(flagged));
        out.push_back(std::move(o));
      };
      Value old_key =
          old.kind() == TypeKind::Array ? group_key(old.as_array(), r, nullptr) : Value();
      size_t null_at = 0;
      Value new_key = now.is_null() ? Value() : group_key(now.as_array(), r, &null_at);
      if (!old_key.is_null() && !new_key.is_null() && old_key == new_key) {
        emit(std::move(new_key), now, 2, &old);
        return;
      }
      if (old.kind() == TypeKind::Array) emit(std::move(old_key), old, 1, nullptr);
      if (now.is_null()) return;
      if (new_key.is_null()) {
        // ksqlDB excludes the row from the table ("Group-by column with
        // index N resolved to null"): a data error (dead-lettered) and a skip.
        std::string which = group_sql.size() == 1
                                ? group_sql[0]
                                : "expression " + std::to_string(null_at + 1) + " of " +
                                      std::to_string(group_sql.size()) + ", " +
                                      group_sql[null_at] + ",";
        ctx.null_key(r, SkipReason::NullGroupKey, "table GROUP BY",
                     "the group key (GROUP BY) is null: " + which + " is NULL");
        return;
      }
      emit(std::move(new_key), now, 0, nullptr);
    };
    return std::make_unique<FlatMapNode<ReportingRowFn>>(c.node_name(), std::move(fn));
  };
  Topology::NodeId node = topology.add_processor(id + "-table-group", {rows}, split);
  // The store is registered through a materialization that never receives
  // a record (the node above writes it itself, record by record).
  auto none = topology.add_processor(id + "-prior-store", {node},
                                     flat_map([](const Record&, Batch&) {}));
  topology.add_table(none, prior);
  node = topology.add_repartition(node, id + "-groupby");

  // 2. Accumulators per group: [COUNT: n | SUM: sum | AVG: [sum, n] |
  // STDDEV_SAMPLE: variance | CORRELATION: covariance | ATTR: value counts |
  // COLLECT_LIST: the values | HISTOGRAM: counts per value]
  // (operators/aggregate_functions.hpp; each can take a row back out).
  const std::string aggregates = id + "-aggregates";
  ProcessorFactory aggregate = [aggregates, calls](BuildContext& c) -> std::unique_ptr<Processor> {
    std::shared_ptr<KTable> store = c.table(aggregates);
    if (!store) return nullptr;
    RowFn fn = [store, calls](const Record& r, Batch& out) {
      if (r.key.is_null() || r.value.kind() != TypeKind::Array || r.value.as_array().empty())
        return;
      const Array& row = r.value.as_array();
      const int32_t mode = row.back().as_int32();
      Array acc;
      if (const Value* p = store->find_local(r.key)) acc = p->as_array();
      if (acc.size() != calls.size()) {
        acc.clear();
        for (const auto& call : calls)
          acc.push_back(call.udaf ? call.udaf->initialize() : initial_accumulator(call.name));
      }
      auto apply = [&](const EvalRow& e, bool subtract) {
        const int64_t step = subtract ? -1 : 1;
        for (size_t i = 0; i < calls.size(); ++i) {
          const auto& call = calls[i];
          if (call.udaf) {  // NULL arguments included: the function decides
            const ArgValues args = evaluate_each(*call.args, e);
            acc[i] = subtract ? call.udaf->undo(args, acc[i]) : call.udaf->aggregate(args, acc[i]);
            continue;
          }
          Value in = call.input ? call.input->evaluate(e) : Value::boolean(true);
          if (call.name == "ATTR") {  // NULL is a value too
            acc[i] = aggregates::attr_counts_step(acc[i], in, step);
            continue;
          }
          if (call.name == "COLLECT_LIST") {  // NULLs included, as on a stream
            acc[i] = collect_step(acc[i], in, subtract, call.limit);
            continue;
          }
          if (call.name == "COLLECT_SET") {  // NULL included, as on a stream
            acc[i] = aggregates::attr_counts_step(acc[i], in, step);
            continue;
          }
          if (in.is_null()) continue;
          if (is_multiset(call.name)) {
            acc[i] = aggregates::attr_counts_step(acc[i], in, step);
            continue;
          }
          if (call.name == "SUM_LIST") {  // the non-NULL elements, added or taken out
            if (in.kind() == TypeKind::Array)
              for (const Value& x : in.as_array())
                if (!x.is_null()) acc[i] = plus(acc[i], x, subtract);
            continue;
          }
          if (call.name == "HISTOGRAM") {
            acc[i] = aggregates::histogram_step(
                acc[i], in.kind() == TypeKind::String ? in.as_string() : in.to_string(), step);
            continue;
          }
          if (call.name == "CORRELATION") {
            Value y = call.input2->evaluate(e);
            if (y.is_null()) continue;
            acc[i] = moments::covariance_step(acc[i], in.to_double(), y.to_double(), subtract);
          } else if (is_statistic(call.name)) {
            acc[i] = moments::variance_step(acc[i], in.to_double(), subtract);
          } else if (call.name == "COUNT") {
            acc[i] = Value::int64(acc[i].as_int64() + step);
          } else if (call.name == "SUM") {
            acc[i] = plus(acc[i], in, subtract);
          } else {
            Array avg = acc[i].as_array();
            avg[0] = plus(avg[0], in, subtract);
            avg[1] = Value::int64(avg[1].as_int64() + step);
            acc[i] = Value::array(std::move(avg));
          }
        }
      };
      if (mode == 2) {
        const Value& old = row[row.size() - 2];
        if (old.kind() == TypeKind::Array) apply(row_of(old.as_array(), r), true);
      }
      EvalRow e = row_of(row, r);
      apply(e, mode == 1);
      // A DECIMAL sum its type cannot hold fails the record's output (ksqlDB:
      // "Numeric field overflow"), but the group keeps the exact sum: a
      // later update or delete retracts what this row added, and the output
      // is right again once the sum fits.
      for (size_t i = 0; i < calls.size(); ++i) {
        const DataTypePtr t = calls[i].name == "SUM" ? calls[i].input->type() : nullptr;
        if (t && t->kind == TypeKind::Decimal)
          if (auto why = decimal_overflow(acc[i], t->precision, t->scale)) {
            store->apply(r.key, Value::array(std::move(acc)));
            throw std::runtime_error(*why);
          }
      }
      StructFields results;
      for (size_t i = 0; i < calls.size(); ++i) {
        Value v = acc[i];
        if (calls[i].udaf) {
          v = calls[i].udaf->result(acc[i], calls[i].name);
          results.push_back(Field{field_name(calls[i], i), std::move(v)});
          continue;
        }
        // ksqlDB's SUM starts at zero: a group whose inputs are all NULL sums to 0.
        if (calls[i].name == "SUM" && v.is_null())
          v = coerce_or_null(Value::int32(0), calls[i].input->type());
        if (calls[i].name == "SUM_LIST" && v.is_null() && calls[i].input->type() &&
            calls[i].input->type()->element)
          v = coerce_or_null(Value::int32(0), calls[i].input->type()->element);
        if (is_multiset(calls[i].name)) v = multiset_result(calls[i], acc[i]);
        if (calls[i].name == "AVG") {
          const Array& avg = acc[i].as_array();
          int64_t n = avg[1].as_int64();
          v = n == 0 || avg[0].is_null() ? Value()
                                         : Value::float64(avg[0].to_double() / static_cast<double>(n));
        } else if (calls[i].name == "CORRELATION") {
          v = moments::correlation_of(acc[i]);
        } else if (is_statistic(calls[i].name)) {
          v = moments::stddev_sample_of(acc[i]);
        } else if (calls[i].name == "ATTR") {
          v = aggregates::attr_counts_result(acc[i]);
        }  // COLLECT_LIST, HISTOGRAM: the accumulator is the result
        results.push_back(Field{field_name(calls[i], i), std::move(v)});
      }
      store->apply(r.key, Value::array(std::move(acc)));
      Record o = r;
      o.value = Value::structure(std::move(results));
      out.push_back(std::move(o));
    };
    return std::make_unique<FlatMapNode<RowFn>>(c.node_name(), std::move(fn));
  };
  node = topology.add_processor(id + "-table-aggregate", {node}, aggregate);
  auto none2 = topology.add_processor(id + "-aggregates-store", {node},
                                      flat_map([](const Record&, Batch&) {}));
  topology.add_table(none2, aggregates);
  return node;
}

Topology::NodeId add_having_filter(Topology& topology, Topology::NodeId projected,
                                   const std::string& id) {
  const std::string written = id + "-having";
  ProcessorFactory filter = [written](BuildContext& c) -> std::unique_ptr<Processor> {
    std::shared_ptr<KTable> store = c.table(written);
    if (!store) return nullptr;
    RowFn fn = [store](const Record& r, Batch& out) {
      if (r.value.is_null()) {
        if (r.key.is_null() || !store->find_local(r.key)) return;  // never written
        store->apply(r.key, Value());
      } else if (!r.key.is_null() && !store->find_local(r.key)) {
        store->apply(r.key, Value::boolean(true));
      }
      out.push_back(r);
    };
    return std::make_unique<FlatMapNode<RowFn>>(c.node_name(), std::move(fn));
  };
  auto node = topology.add_processor(id + "-having", {projected}, filter);
  auto none = topology.add_processor(id + "-having-store", {node},
                                     flat_map([](const Record&, Batch&) {}));
  topology.add_table(none, written);
  return node;
}

}  // namespace rivulet::sql
