#pragma once
// Reading the Prometheus text a process serves on /metrics, in tests.
#include <sstream>
#include <string>

namespace rivulet::testing {

// Sum of a metric over its labels: the value of every `name{...} value` line.
inline double metric_sum(const std::string& text, const std::string& name) {
  double sum = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + "{", 0) != 0) continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

}  // namespace rivulet::testing
