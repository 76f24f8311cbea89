#pragma once
// The planner fuzzer's harness (planner_fuzzer.cpp), shared with the test
// that replays its seed corpus in `make test` (tests/sql/planner_fuzz_corpus_test.cpp):
// statements executed by an SqlEngine over a fixed catalog (CREATE ... AS
// SELECT and INSERT INTO planned into operator chains), then the planned
// topology run in the TestDriver over a few records of every source
// (repeated and new keys, a tombstone, a record that does not decode,
// timestamps out of order and one far ahead, closing windows), its output
// cache flushed at the end.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "sql/parser.hpp"
#include "sql/planner.hpp"
#include "sql/statement_splitter.hpp"
#include "sql/test_driver.hpp"

namespace rivulet::sql::fuzz {

// STRING keys in the KAFKA format (the key bytes are the string), JSON
// values: the records below need no encoder.
inline const char* const kSetup =
    "CREATE STREAM S (ID STRING KEY, NAME STRING, AMOUNT DECIMAL(10, 2), X DOUBLE, B BOOLEAN, "
    "  TAGS ARRAY<STRING>, M MAP<STRING, INT>, ST STRUCT<A INT, B STRING>, TS BIGINT) "
    "  WITH (kafka_topic='s', value_format='JSON');"
    "CREATE STREAM S2 (ID STRING KEY, V BIGINT, NAME STRING) "
    "  WITH (kafka_topic='s2', value_format='JSON');"
    "CREATE TABLE T (ID STRING PRIMARY KEY, V BIGINT, NAME STRING) "
    "  WITH (kafka_topic='t', value_format='JSON');"
    "CREATE TABLE T2 (K STRING PRIMARY KEY, ID STRING, W INT) "
    "  WITH (kafka_topic='t2', value_format='JSON');";

inline const SqlEngine& base_engine() {
  static const SqlEngine engine = [] {
    SqlEngine e;
    if (!e.execute_script(kSetup)) abort();
    return e;
  }();
  return engine;
}

struct Input {
  const char* topic;
  const char* key;    // nullptr: no key
  const char* value;  // nullptr: a tombstone
  TimestampMs ts;
  const char* trace = nullptr;  // a 'trace' header's value (HEADER columns)
};

// Tables first, so that the streams' records find rows to join.
inline const Input kInputs[] = {
    {"t", "a", R"({"V": 1, "NAME": "ann"})", 1000},
    {"t", "b", R"({"V": 2, "NAME": null})", 1500},
    {"t2", "k1", R"({"ID": "a", "W": 3})", 1000},
    {"t2", "k2", R"({"ID": "b", "W": -4})", 2000},
    {"s", "a",
     R"({"NAME": "ann", "AMOUNT": 12.5, "X": 2.5, "B": true, "TAGS": ["x", null],)"
     R"( "M": {"k": 3}, "ST": {"A": 1, "B": "b"}, "TS": 1000})",
     1000},
    {"s", "b",
     R"({"NAME": null, "AMOUNT": -0.01, "X": -1e300, "B": false, "TAGS": [],)"
     R"( "M": {}, "ST": null, "TS": 2000})",
     2000},
    {"s", "a", R"({"NAME": "bob", "X": 0, "TS": 500})", 500, "t-1"},  // out of order
    {"s", nullptr, R"({"NAME": "nokey"})", 2500},
    {"s", "c", "not json", 2600},  // a data error
    {"s2", "a", R"({"V": 10, "NAME": "ann"})", 1200},
    {"s2", "c", R"({"V": null})", 3000},
    {"t", "a", nullptr, 3000},  // a tombstone
    {"t2", "k1", R"({"ID": "b", "W": 5})", 3100},
    {"s", "b", R"({"NAME": "late", "AMOUNT": 1, "TS": 100000000})", 100000000},  // far ahead
    {"s2", "b", R"({"V": 7, "NAME": "x"})", 100000001},
};

// What one input came to.
struct PlannerRun {
  bool planned = false;  // a persistent query was planned and its topology ran
  size_t outputs = 0;    // records written (repartition topics included)
  size_t data_errors = 0;
};

// Executes `text`'s statements over the catalog above and runs what they
// planned over kInputs.
inline PlannerRun run_planner_input(const std::string& text) {
  PlannerRun run;
  SqlEngine engine = base_engine().fork();
  // Statement by statement, as a file is run: variables substituted, a
  // statement that does not parse or is refused skipped.
  for (const auto& chunk : split_statements(text)) {
    auto statements = engine.parse_chunk(chunk);
    if (!statements.ok()) continue;
    for (const Statement& s : statements.value()) (void)engine.execute(s);
  }
  if (engine.query_count() == base_engine().query_count()) return run;
  (void)engine.explain("fuzz");
  auto driver = TestDriver::create(engine.topology());
  if (!driver.ok()) return run;
  for (const Input& in : kInputs) {
    std::optional<std::string> key, value;
    if (in.key) key = in.key;
    if (in.value) value = in.value;
    Headers headers;
    if (in.trace) headers.push_back(Header{"trace", std::string(in.trace)});
    (void)(*driver)->pipe(in.topic, key, value, in.ts, std::move(headers));
  }
  (*driver)->flush_output_cache();
  run.planned = true;
  run.outputs = (*driver)->outputs().size();
  run.data_errors = (*driver)->data_errors().size();
  return run;
}

}  // namespace rivulet::sql::fuzz
