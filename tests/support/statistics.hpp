#pragma once
// Two-pass reference figures for the tests of STDDEV_SAMPLE and CORRELATION:
// what the running accumulators must agree with.
#include <cmath>
#include <vector>

namespace rivulet::testing {

// The sample standard deviation; 0.0 below two values (ksqlDB's).
inline double reference_stddev(const std::vector<double>& xs) {
  if (xs.size() < 2) return 0.0;
  double mean = 0;
  for (double x : xs) mean += x;
  mean /= static_cast<double>(xs.size());
  double ss = 0;
  for (double x : xs) ss += (x - mean) * (x - mean);
  return std::sqrt(ss / static_cast<double>(xs.size() - 1));
}

// Pearson's coefficient of the pairs (xs[i], ys[i]).
inline double reference_correlation(const std::vector<double>& xs, const std::vector<double>& ys) {
  double mx = 0, my = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    mx += xs[i];
    my += ys[i];
  }
  mx /= static_cast<double>(xs.size());
  my /= static_cast<double>(ys.size());
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) * (xs[i] - mx);
    syy += (ys[i] - my) * (ys[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

}  // namespace rivulet::testing
