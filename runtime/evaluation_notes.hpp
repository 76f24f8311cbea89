#pragma once
// Failures an expression notes while it evaluates: a SQL function that
// threw (its call is NULL, as a ksqlDB UDF's exception makes it), a value
// of another kind than its column's type. Whoever processes a batch on a
// thread (ProcessContext) collects them there: counted
// (TaskOutput::expression_errors), the first message kept for the log,
// with the position of the record it was evaluated for when known.
#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/record.hpp"

namespace rivulet {

struct EvaluationNotes {
  uint64_t count = 0;
  std::string first;  // the first message, "(record topic[p]@offset)" after it when known
  // `at`: where the record being evaluated was read from; nullptr, or an
  // empty topic, for a row the task made (an aggregate, a table's state).
  void note(std::string_view what, const SourcePosition* at = nullptr) {
    if (count++ != 0) return;
    first = std::string(what);
    if (at != nullptr && !at->topic.empty()) first += " (record " + to_string(*at) + ")";
  }
};

// The notes of the batch being processed on this thread; nullptr outside one.
inline EvaluationNotes*& thread_evaluation_notes() {
  static thread_local EvaluationNotes* notes = nullptr;
  return notes;
}

}  // namespace rivulet
