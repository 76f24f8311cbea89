#include "runtime/moments.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace rivulet::moments {

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

}  // namespace rivulet::moments
