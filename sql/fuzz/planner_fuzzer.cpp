// libFuzzer target over the whole SQL engine, beyond the front end that
// parser_fuzzer.cpp covers: planner_harness.hpp runs each input's
// statements through the planner and what they plan through the
// TestDriver.
//
// Property: never crashes, never hangs; planning errors and data errors
// are answers, not failures. Built only with Clang (sql/README.md).
#include <cstddef>
#include <cstdint>
#include <string>

#include "sql/fuzz/planner_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)rivulet::sql::fuzz::run_planner_input(
      std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
