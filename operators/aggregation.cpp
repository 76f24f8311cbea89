#include "operators/aggregation.hpp"

#include <optional>
#include <stdexcept>
#include <utility>

#include "operators/accumulator_pack.hpp"
#include "operators/partial_aggregate.hpp"
#include "runtime/msgpack_value.hpp"

namespace rivulet {

namespace {

// A record's input does not fit its aggregate (type error, overflow). Thrown
// only inside AggregateNode::process and caught there per record.
struct AggregateError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void input_of(const AggregateFn& fn, const Record& r, Value& tmp, const Value*& in) {
  if (fn.input) {
    tmp = fn.input(r);
    in = &tmp;
  } else {
    in = &r.value;
  }
}

void check_numeric(const AggregateFn& fn, const Value& v) {
  if (!v.is_numeric()) {
    throw AggregateError(std::string(fn.kind == AggregateKind::Avg ? "AVG" : "SUM") + " of a " +
                         type_kind_name(v.kind()) + " value");
  }
}

void check_sum_fits(const AggregateFn& fn, const Value& sum) {
  if (fn.kind != AggregateKind::Sum || fn.sum_precision <= 0) return;
  if (auto why = decimal_overflow(sum, fn.sum_precision, fn.sum_scale)) throw AggregateError(*why);
}

void update(const AggregateFn& fn, const Accumulator* prev, const Record& r, Accumulator& next) {
  Value tmp;
  const Value* in = nullptr;
  switch (fn.kind) {
    case AggregateKind::Count: {
      next.count = prev ? prev->count : 0;
      if (fn.input) {
        input_of(fn, r, tmp, in);
        if (!in->is_null()) ++next.count;
      } else {
        ++next.count;
      }
      return;
    }
    case AggregateKind::Sum:
    case AggregateKind::Avg: {
      next.value = prev ? prev->value : Value();
      next.count = prev ? prev->count : 0;
      input_of(fn, r, tmp, in);
      if (in->is_null()) return;
      check_numeric(fn, *in);
      if (next.value.is_null()) {
        next.value =
            in->kind() == TypeKind::Decimal ? Value::decimal(tighten(in->as_decimal())) : *in;
      } else {
        auto sum = add_numbers(next.value, *in);
        if (!sum) throw AggregateError(sum.error().message);
        next.value = std::move(*sum);
      }
      check_sum_fits(fn, next.value);
      ++next.count;
      return;
    }
    case AggregateKind::Min:
    case AggregateKind::Max: {
      next.value = prev ? prev->value : Value();
      input_of(fn, r, tmp, in);
      if (in->is_null()) return;
      int c = next.value.is_null() ? 0 : Value::compare(*in, next.value);
      if (next.value.is_null() || (fn.kind == AggregateKind::Min ? c < 0 : c > 0)) {
        next.value = *in;
      }
      return;
    }
    case AggregateKind::Custom: {
      Value base = prev ? prev->value : (fn.initializer ? fn.initializer() : Value());
      if (!fn.adder) throw AggregateError("custom aggregate " + fn.name + " has no adder");
      next.value = fn.adder(r, base);
      return;
    }
  }
}

Value finalize(const AggregateFn& fn, const Accumulator& a) {
  switch (fn.kind) {
    case AggregateKind::Count:
      return Value::int64(a.count);
    case AggregateKind::Avg: {
      if (a.count == 0 || a.value.is_null()) return Value();
      if (a.value.kind() == TypeKind::Decimal) {
        if (auto q = Decimal::divide(a.value.as_decimal(), Decimal::from_int(a.count))) {
          return Value::decimal(*q);
        }
      }
      return Value::float64(a.value.to_double() / static_cast<double>(a.count));
    }
    case AggregateKind::Sum:
      return a.value.is_null() ? fn.empty_sum : a.value;
    case AggregateKind::Custom:
      return fn.finisher ? fn.finisher(a.value) : a.value;
    default:
      return a.value;
  }
}

}  // namespace

std::optional<std::string> decimal_overflow(const Value& v, int precision, int scale) {
  if (v.kind() != TypeKind::Decimal || precision <= 0) return std::nullopt;
  if (v.as_decimal().rescale(precision, scale)) return std::nullopt;
  return "Numeric field overflow: " + v.as_decimal().to_string() + " does not fit DECIMAL(" +
         std::to_string(precision) + ", " + std::to_string(scale) + ")";
}

void aggregate_step(const AggregateFn& fn, const Accumulator* prev, const Record& r,
                    Accumulator& next) {
  update(fn, prev, r, next);
}

Value aggregate_result(const AggregateSpec& spec, const AccumulatorRow& row) {
  const auto& fns = spec.functions;
  if (fns.size() == 1 && !spec.as_struct) return finalize(fns[0], row[0]);
  StructFields fields;
  fields.reserve(fns.size());
  for (size_t i = 0; i < fns.size(); ++i)
    fields.push_back(Field{fns[i].name, finalize(fns[i], row[i])});
  return Value::structure(std::move(fields));
}

Accumulator aggregate_merge(const AggregateFn& fn, const Accumulator& a, const Accumulator& b) {
  Accumulator out;
  out.count = a.count + b.count;
  switch (fn.kind) {
    case AggregateKind::Count:
      return out;
    case AggregateKind::Sum:
    case AggregateKind::Avg: {
      if (a.value.is_null() || b.value.is_null()) {
        out.value = a.value.is_null() ? b.value : a.value;
        return out;
      }
      auto sum = add_numbers(a.value, b.value);
      if (!sum) throw AggregateError(sum.error().message);
      out.value = std::move(*sum);
      check_sum_fits(fn, out.value);
      return out;
    }
    case AggregateKind::Min:
    case AggregateKind::Max: {
      if (a.value.is_null() || b.value.is_null()) {
        out.value = a.value.is_null() ? b.value : a.value;
        return out;
      }
      int c = Value::compare(a.value, b.value);
      out.value = (fn.kind == AggregateKind::Min ? c <= 0 : c >= 0) ? a.value : b.value;
      return out;
    }
    case AggregateKind::Custom:
      if (!fn.merger) throw AggregateError("custom aggregate " + fn.name + " has no merger");
      out.value = fn.merger(a.value, b.value);
      return out;
  }
  return out;
}

AggregateFn AggregateFn::count(std::string name) {
  AggregateFn f;
  f.kind = AggregateKind::Count;
  f.name = std::move(name);
  return f;
}

AggregateFn AggregateFn::count_non_null(ValueFn input, std::string name) {
  AggregateFn f = count(std::move(name));
  f.input = std::move(input);
  return f;
}

namespace {
AggregateFn simple(AggregateKind kind, ValueFn input, std::string name) {
  AggregateFn f;
  f.kind = kind;
  f.input = std::move(input);
  f.name = std::move(name);
  return f;
}
}  // namespace

AggregateFn AggregateFn::sum(ValueFn input, std::string name) {
  return simple(AggregateKind::Sum, std::move(input), std::move(name));
}
AggregateFn AggregateFn::min(ValueFn input, std::string name) {
  return simple(AggregateKind::Min, std::move(input), std::move(name));
}
AggregateFn AggregateFn::max(ValueFn input, std::string name) {
  return simple(AggregateKind::Max, std::move(input), std::move(name));
}
AggregateFn AggregateFn::avg(ValueFn input, std::string name) {
  return simple(AggregateKind::Avg, std::move(input), std::move(name));
}

AggregateFn AggregateFn::custom(std::function<Value()> initializer,
                                std::function<Value(const Record&, const Value&)> adder,
                                std::string name) {
  AggregateFn f;
  f.kind = AggregateKind::Custom;
  f.initializer = std::move(initializer);
  f.adder = std::move(adder);
  f.name = std::move(name);
  return f;
}

namespace {
// Inserts `v` into `top` (largest first, at most k entries).
void top_k_insert(Array& top, const Value& v, size_t k, bool distinct) {
  auto it = top.begin();
  while (it != top.end() && Value::compare(*it, v) > 0) ++it;
  if (distinct && it != top.end() && Value::compare(*it, v) == 0) return;
  if (static_cast<size_t>(it - top.begin()) >= k) return;
  top.insert(it, v);
  if (top.size() > k) top.pop_back();
}
}  // namespace

AggregateFn AggregateFn::top_k(ValueFn input, size_t k, bool distinct, std::string name) {
  AggregateFn f = custom([] { return Value::array(Array{}); },
                         [input, k, distinct](const Record& r, const Value& agg) {
                           Value v = input ? input(r) : r.value;
                           if (v.is_null()) return agg;
                           Array top = agg.kind() == TypeKind::Array ? agg.as_array() : Array{};
                           top_k_insert(top, v, k, distinct);
                           return Value::array(std::move(top));
                         },
                         std::move(name));
  f.input = input;
  f.merger = [k, distinct](const Value& a, const Value& b) {
    Array top = a.kind() == TypeKind::Array ? a.as_array() : Array{};
    if (b.kind() == TypeKind::Array)
      for (const Value& v : b.as_array()) top_k_insert(top, v, k, distinct);
    return Value::array(std::move(top));
  };
  return f;
}

// ---- AggregateStore ----------------------------------------------------------

AggregateStore::AggregateStore(std::string name, std::shared_ptr<const AggregateSpec> spec,
                               std::shared_ptr<KTable> results)
    : name_(std::move(name)), spec_(std::move(spec)), results_(std::move(results)) {}

AccumulatorRow& AggregateStore::row(const Value& key) {
  auto it = groups_.find(key);
  if (it != groups_.end()) return it->second;
  return groups_.emplace(key, AccumulatorRow(spec_->functions.size())).first->second;
}

const AccumulatorRow* AggregateStore::find(const Value& key) const {
  auto it = groups_.find(key);
  return it == groups_.end() ? nullptr : &it->second;
}

AccumulatorRow* AggregateStore::find(const Value& key) {
  auto it = groups_.find(key);
  return it == groups_.end() ? nullptr : &it->second;
}

Value AggregateStore::result(const AccumulatorRow& row) const {
  const auto& fns = spec_->functions;
  if (fns.size() == 1 && !spec_->as_struct) return finalize(fns[0], row[0]);
  StructFields fields;
  fields.reserve(fns.size());
  for (size_t i = 0; i < fns.size(); ++i)
    fields.push_back(Field{fns[i].name, finalize(fns[i], row[i])});
  return Value::structure(std::move(fields));
}

size_t AggregateStore::bytes_estimate() const {
  size_t n = groups_.bucket_count() * sizeof(void*);
  for (const auto& [k, row] : groups_) {
    n += 16 + sizeof(Value) + sizeof(AccumulatorRow) + 16;  // node, rounded
    n += value_heap_bytes(k) + row.capacity() * sizeof(Accumulator) + 16;
    for (const auto& a : row) n += value_heap_bytes(a.value);
  }
  return n;
}

Value encode_accumulators(const AccumulatorRow& row) {
  Array items;
  items.reserve(row.size() * 2);
  for (const auto& a : row) {
    items.push_back(a.value);
    items.push_back(Value::int64(a.count));
  }
  return Value::array(std::move(items));
}

Expected<AccumulatorRow> decode_accumulators(const std::string& store, size_t n, const Value& v) {
  if (v.kind() != TypeKind::Array || v.as_array().size() != 2 * n) {
    return Error::fatal("store " + store + ": a row does not match the " + std::to_string(n) +
                        " aggregate functions");
  }
  const Array& items = v.as_array();
  AccumulatorRow row(n);
  for (size_t i = 0; i < n; ++i) {
    const Value& count = items[2 * i + 1];
    if (count.kind() != TypeKind::BigInt && count.kind() != TypeKind::Int)
      return Error::fatal("store " + store + ": a row's count is not an integer");
    row[i].value = items[2 * i];
    row[i].count = count.to_int64();
  }
  return row;
}

std::string AggregateStore::serialize() const {
  const std::string header = entries_header(groups_.size());
  msgpack::sbuffer buf(header.size() + groups_.size() * 24);
  buf.write(header.data(), header.size());
  msgpack::packer<msgpack::sbuffer> pk(buf);
  for (const auto& [k, row] : groups_) {
    pack_value(pk, k);
    pack_accumulators(pk, row);
  }
  changed_.clear();
  return std::string(buf.data(), buf.size());
}

std::string AggregateStore::serialize_changes() const {
  const std::string header = entries_header(changed_.size());
  msgpack::sbuffer buf(header.size() + changed_.size() * 24);
  buf.write(header.data(), header.size());
  msgpack::packer<msgpack::sbuffer> pk(buf);
  for (const Value& k : changed_) {
    pack_value(pk, k);
    if (const AccumulatorRow* row = find(k)) {
      pack_accumulators(pk, *row);
    } else {
      pk.pack_nil();  // deleted
    }
  }
  changed_.clear();
  return std::string(buf.data(), buf.size());
}

void AggregateStore::set_change_tracking(bool on) {
  track_changes_ = on;
  if (!on) changed_.clear();
}

Expected<bool> AggregateStore::apply_entries(std::string_view bytes, bool replace) {
  auto entries = decode_entries(bytes);
  if (replace) {
    groups_.clear();
    changed_.clear();
    if (results_) results_->clear();
  }
  if (!entries) {
    return Error::fatal("aggregate store " + name_ + ": " + entries.error().message);
  }
  std::optional<KTable::Writer> w;
  if (results_) w.emplace(*results_);
  for (auto& [k, v] : *entries) {
    if (v.is_null()) {
      groups_.erase(k);
      if (w) w->erase(k);
      continue;
    }
    auto row = decode_accumulators(name_, spec_->functions.size(), v);
    if (!row) {
      if (replace) groups_.clear();
      return row.error();
    }
    if (w) w->put(k, result(*row));
    groups_.insert_or_assign(std::move(k), std::move(*row));
  }
  return true;
}

Expected<bool> AggregateStore::restore(std::string_view bytes) {
  return apply_entries(bytes, true);
}

Expected<bool> AggregateStore::apply_changes(std::string_view bytes) {
  return apply_entries(bytes, false);
}

// ---- AggregateNode -----------------------------------------------------------

AggregateNode::AggregateNode(std::string name, std::shared_ptr<AggregateStore> store,
                             bool merges_partials)
    : Processor(std::move(name)), store_(std::move(store)), merges_partials_(merges_partials) {}

void AggregateNode::process(Batch& batch, ProcessContext& ctx) {
  const auto& fns = store_->spec().functions;
  const size_t n = fns.size();
  scratch_.resize(n);
  std::optional<KTable::Writer> results;
  if (store_->results()) results.emplace(*store_->results());
  size_t kept = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    Record& r = batch[i];
    if (r.key.is_null()) {
      // No group to count it in: a data error (dead-lettered and counted),
      // not a silent skip.
      ctx.null_key(r, SkipReason::NullGroupKey, "aggregate", "the group key (GROUP BY) is null");
      continue;
    }
    if (r.value.is_null()) {
      ++skipped_;
      ctx.skipped(r, SkipReason::Tombstone, "aggregate");
      continue;
    }
    AccumulatorRow* old = store_->find(r.key);
    bool ok;
    if (merges_partials_) {
      auto part = decode_partial(store_->name(), n, r.value);
      if (!part) {
        ctx.data_error(r, "aggregate", std::move(part.error().message));
        continue;
      }
      ok = guarded(ctx, r, "aggregate", [&] {
        for (size_t f = 0; f < n; ++f)
          scratch_[f] =
              old ? aggregate_merge(fns[f], (*old)[f], part->row[f]) : std::move(part->row[f]);
      });
    } else {
      ok = guarded(ctx, r, "aggregate", [&] {
        for (size_t f = 0; f < n; ++f) update(fns[f], old ? &(*old)[f] : nullptr, r, scratch_[f]);
      });
    }
    if (!ok) continue;
    AccumulatorRow& row = old ? *old : store_->row(r.key);
    for (size_t f = 0; f < n; ++f) row[f] = std::move(scratch_[f]);
    store_->note_change(r.key);
    r.value = store_->result(row);
    if (results) results->put(r.key, r.value);
    if (kept != i) batch[kept] = std::move(r);
    ++kept;
  }
  batch.resize(kept);
  results.reset();  // publish before the children run
  forward(batch, ctx);
}

}  // namespace rivulet
