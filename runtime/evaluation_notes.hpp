#pragma once
// Failures an expression notes while it evaluates: a SQL function that
// threw (its call is NULL, as a ksqlDB UDF's exception makes it), a value
// of another kind than its column's type. Whoever processes a batch on a
// thread (ProcessContext) collects them there: counted
// (TaskOutput::expression_errors), the first message kept for the log.
#include <cstdint>
#include <string>
#include <string_view>

namespace rivulet {

struct EvaluationNotes {
  uint64_t count = 0;
  std::string first;  // the first message
  void note(std::string_view what) {
    if (count++ == 0) first = std::string(what);
  }
};

// The notes of the batch being processed on this thread; nullptr outside one.
inline EvaluationNotes*& thread_evaluation_notes() {
  static thread_local EvaluationNotes* notes = nullptr;
  return notes;
}

}  // namespace rivulet
