#include "operators/aggregate_functions.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

#include "operators/aggregation.hpp"
#include "operators/distinct_sketch.hpp"

namespace rivulet {

namespace aggregates {

namespace {

// The n numbers of a moments accumulator ([count, then doubles]); zeros
// when `acc` is not one.
template <size_t N>
std::array<double, N> read(const Value& acc, int64_t& count) {
  std::array<double, N> out{};
  count = 0;
  if (acc.kind() != TypeKind::Array) return out;
  const Array& a = acc.as_array();
  if (a.size() != N + 1 || a[0].kind() != TypeKind::BigInt) return out;
  for (size_t i = 0; i < N; ++i)
    if (a[i + 1].kind() != TypeKind::Double) return out;
  count = a[0].as_int64();
  if (count <= 0) {
    count = 0;
    return out;
  }
  for (size_t i = 0; i < N; ++i) out[i] = a[i + 1].as_double();
  return out;
}

template <size_t N>
Value write(int64_t count, const std::array<double, N>& v) {
  Array a;
  a.reserve(N + 1);
  a.push_back(Value::int64(count));
  for (double d : v) a.push_back(Value::float64(count > 0 ? d : 0.0));
  return Value::array(std::move(a));
}

}  // namespace

Value variance_empty() {
  return write<2>(0, {});
}

Value variance_step(const Value& acc, double x, bool remove) {
  int64_t n;
  auto [mean, m2] = read<2>(acc, n);
  if (remove) {
    if (n <= 1) return variance_empty();
    const double n1 = static_cast<double>(n - 1);
    const double mean1 = (static_cast<double>(n) * mean - x) / n1;
    const double m2_1 = std::max(0.0, m2 - (x - mean1) * (x - mean));
    return write<2>(n - 1, {mean1, m2_1});
  }
  const double d = x - mean;
  const double mean1 = mean + d / static_cast<double>(n + 1);
  return write<2>(n + 1, {mean1, m2 + d * (x - mean1)});
}

Value variance_merge(const Value& a, const Value& b) {
  int64_t na, nb;
  auto [ma, m2a] = read<2>(a, na);
  auto [mb, m2b] = read<2>(b, nb);
  if (nb == 0) return write<2>(na, {ma, m2a});
  if (na == 0) return write<2>(nb, {mb, m2b});
  const double n = static_cast<double>(na + nb);
  const double d = mb - ma;
  const double w = static_cast<double>(na) * static_cast<double>(nb) / n;
  return write<2>(na + nb, {ma + d * static_cast<double>(nb) / n, m2a + m2b + d * d * w});
}

Value stddev_sample_of(const Value& acc) {
  int64_t n;
  auto [mean, m2] = read<2>(acc, n);
  (void)mean;
  if (n < 2) return Value::float64(0.0);
  return Value::float64(std::sqrt(std::max(0.0, m2) / static_cast<double>(n - 1)));
}

Value covariance_empty() {
  return write<5>(0, {});
}

Value covariance_step(const Value& acc, double x, double y, bool remove) {
  int64_t n;
  auto [mx, my, m2x, m2y, cxy] = read<5>(acc, n);
  if (remove) {
    if (n <= 1) return covariance_empty();
    const double nn = static_cast<double>(n);
    const double n1 = static_cast<double>(n - 1);
    const double mx1 = (nn * mx - x) / n1;
    const double my1 = (nn * my - y) / n1;
    return write<5>(n - 1, {mx1, my1, std::max(0.0, m2x - (x - mx1) * (x - mx)),
                            std::max(0.0, m2y - (y - my1) * (y - my)), cxy - (x - mx1) * (y - my)});
  }
  const double n1 = static_cast<double>(n + 1);
  const double dx = x - mx;
  const double dy = y - my;
  const double mx1 = mx + dx / n1;
  const double my1 = my + dy / n1;
  return write<5>(n + 1,
                  {mx1, my1, m2x + dx * (x - mx1), m2y + dy * (y - my1), cxy + dx * (y - my1)});
}

Value covariance_merge(const Value& a, const Value& b) {
  int64_t na, nb;
  const auto va = read<5>(a, na);
  const auto vb = read<5>(b, nb);
  if (nb == 0) return write<5>(na, va);
  if (na == 0) return write<5>(nb, vb);
  const double n = static_cast<double>(na + nb);
  const double dx = vb[0] - va[0];
  const double dy = vb[1] - va[1];
  const double w = static_cast<double>(na) * static_cast<double>(nb) / n;
  const double f = static_cast<double>(nb) / n;
  return write<5>(na + nb, {va[0] + dx * f, va[1] + dy * f, va[2] + vb[2] + dx * dx * w,
                            va[3] + vb[3] + dy * dy * w, va[4] + vb[4] + dx * dy * w});
}

Value correlation_of(const Value& acc) {
  int64_t n;
  auto [mx, my, m2x, m2y, cxy] = read<5>(acc, n);
  (void)mx;
  (void)my;
  if (n < 2) return Value();
  const double denominator = std::sqrt(m2x * m2y);
  if (!(denominator > 0) || !std::isfinite(denominator)) return Value();
  return Value::float64(std::clamp(cxy / denominator, -1.0, 1.0));
}

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
      aggregates::variance_empty,
      [input](const Record& r, const Value& acc) {
        Value v = input ? input(r) : r.value;
        if (v.is_null()) return acc;
        return aggregates::variance_step(acc, number(v, "STDDEV_SAMPLE"), false);
      },
      std::move(name));
  f.input = input;
  f.merger = aggregates::variance_merge;
  f.finisher = aggregates::stddev_sample_of;
  return f;
}

AggregateFn AggregateFn::correlation(ValueFn x, ValueFn y, std::string name) {
  AggregateFn f = custom(
      aggregates::covariance_empty,
      [x, y](const Record& r, const Value& acc) {
        Value vx = x(r);
        if (vx.is_null()) return acc;
        Value vy = y(r);
        if (vy.is_null()) return acc;
        return aggregates::covariance_step(acc, number(vx, "CORRELATION"),
                                           number(vy, "CORRELATION"), false);
      },
      std::move(name));
  f.input = x;
  f.merger = aggregates::covariance_merge;
  f.finisher = aggregates::correlation_of;
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
