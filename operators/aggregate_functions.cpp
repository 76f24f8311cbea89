#include "operators/aggregate_functions.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "operators/aggregation.hpp"
#include "operators/distinct_sketch.hpp"
#include "runtime/moments.hpp"

namespace rivulet {

namespace aggregates {

Value attr_counts_step(const Value& acc, const Value& v, int64_t n) {
  Array out;
  if (acc.kind() == TypeKind::Array) out = acc.as_array();
  bool found = false;
  for (auto it = out.begin(); it != out.end();) {
    const Array* pair = it->kind() == TypeKind::Array ? &it->as_array() : nullptr;
    if (!pair || pair->size() != 2 || pair->at(1).kind() != TypeKind::BigInt) {
      it = out.erase(it);
      continue;
    }
    if (!found && pair->at(0) == v) {
      found = true;
      const int64_t count = pair->at(1).as_int64() + n;
      if (count <= 0) {
        it = out.erase(it);
        continue;
      }
      *it = Value::array(Array{v, Value::int64(count)});
    }
    ++it;
  }
  if (!found && n > 0) out.push_back(Value::array(Array{v, Value::int64(n)}));
  return Value::array(std::move(out));
}

Value attr_counts_result(const Value& acc) {
  if (acc.kind() != TypeKind::Array || acc.as_array().size() != 1) return Value();
  const Value& pair = acc.as_array()[0];
  if (pair.kind() != TypeKind::Array || pair.as_array().size() != 2) return Value();
  return pair.as_array()[0];
}

Value histogram_step(const Value& acc, const std::string& key, int64_t n) {
  static constexpr size_t kHistogramLimit = 1000;
  MapEntries entries = acc.kind() == TypeKind::Map ? acc.as_map() : MapEntries{};
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    if (it->first != key) continue;
    const int64_t count = (it->second.kind() == TypeKind::BigInt ? it->second.as_int64() : 0) + n;
    if (count <= 0) {
      entries.erase(it);
    } else {
      it->second = Value::int64(count);
    }
    return Value::map(std::move(entries));
  }
  if (n > 0 && entries.size() < kHistogramLimit) entries.emplace_back(key, Value::int64(n));
  return Value::map(std::move(entries));
}

}  // namespace aggregates

namespace {

double number(const Value& v, const char* function) {
  if (!v.is_numeric())
    throw std::invalid_argument(std::string(function) + " needs a number, got " + v.to_string());
  return v.to_double();
}

}  // namespace

AggregateFn AggregateFn::count_distinct(ValueFn input, std::string name) {
  AggregateFn f =
      custom([] { return Value::bytes(distinct_sketch::empty()); },
             [input](const Record& r, const Value& sketch) {
               Value v = input ? input(r) : r.value;
               if (v.is_null()) return sketch;
               std::string s =
                   sketch.kind() == TypeKind::Bytes ? sketch.as_bytes() : distinct_sketch::empty();
               return Value::bytes(distinct_sketch::add(std::move(s), stable_value_hash(v)));
             },
             std::move(name));
  f.input = input;
  f.merger = [](const Value& a, const Value& b) {
    static const std::string kEmpty = distinct_sketch::empty();
    return Value::bytes(
        distinct_sketch::merge(a.kind() == TypeKind::Bytes ? a.as_bytes() : kEmpty,
                               b.kind() == TypeKind::Bytes ? b.as_bytes() : kEmpty));
  };
  f.finisher = [](const Value& sketch) {
    return Value::int64(
        sketch.kind() == TypeKind::Bytes ? distinct_sketch::estimate(sketch.as_bytes()) : 0);
  };
  return f;
}

AggregateFn AggregateFn::stddev_sample(ValueFn input, std::string name) {
  AggregateFn f = custom(
      moments::variance_empty,
      [input](const Record& r, const Value& acc) {
        Value v = input ? input(r) : r.value;
        if (v.is_null()) return acc;
        return moments::variance_step(acc, number(v, "STDDEV_SAMPLE"), false);
      },
      std::move(name));
  f.input = input;
  f.merger = moments::variance_merge;
  f.finisher = moments::stddev_sample_of;
  return f;
}

AggregateFn AggregateFn::correlation(ValueFn x, ValueFn y, std::string name) {
  AggregateFn f = custom(
      moments::covariance_empty,
      [x, y](const Record& r, const Value& acc) {
        Value vx = x(r);
        if (vx.is_null()) return acc;
        Value vy = y(r);
        if (vy.is_null()) return acc;
        return moments::covariance_step(acc, number(vx, "CORRELATION"), number(vy, "CORRELATION"),
                                        false);
      },
      std::move(name));
  f.input = x;
  f.merger = moments::covariance_merge;
  f.finisher = moments::correlation_of;
  return f;
}

AggregateFn AggregateFn::attr(ValueFn input, std::string name) {
  // A stream's rows never leave, so the values seen matter only up to two
  // distinct ones: [], [v] or [v, w] (several: NULL for good).
  auto admit = [](const Value& seen, const Value& v) {
    const Array* a = seen.kind() == TypeKind::Array ? &seen.as_array() : nullptr;
    if (!a || a->empty()) return Value::array(Array{v});
    if (a->size() >= 2 || a->front() == v) return seen;
    return Value::array(Array{a->front(), v});
  };
  AggregateFn f = custom([] { return Value::array(Array{}); },
                         [input, admit](const Record& r, const Value& seen) {
                           return admit(seen, input ? input(r) : r.value);
                         },
                         std::move(name));
  f.input = input;
  f.merger = [admit](const Value& a, const Value& b) {
    Value out = a;
    if (b.kind() == TypeKind::Array)
      for (const Value& v : b.as_array()) out = admit(out, v);
    return out;
  };
  f.finisher = [](const Value& seen) {
    return seen.kind() == TypeKind::Array && seen.as_array().size() == 1 ? seen.as_array()[0]
                                                                         : Value();
  };
  return f;
}

}  // namespace rivulet
