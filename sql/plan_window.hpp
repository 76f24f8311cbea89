#pragma once
// The planner's window pieces (planner.cpp calls them): WINDOW clauses as
// operators/ window specs, windowed key codecs of windowed sources and
// sinks, window bounds of a row, and event times from timestamp columns
// with ksqlDB's semantics.
//
// Windowed keys: a windowed aggregation's result rows and a windowed
// source's records are keyed by rivulet::windowed_key (the group key and
// its window); sinks write them as Kafka's TimeWindowed (key bytes, then
// the start as 8 big-endian bytes) or SessionWindowed (key bytes, then the
// end and the start) keys, as ksqlDB does. WINDOWSTART and WINDOWEND read
// the bounds of the row's key.
#include <optional>
#include <string>
#include <vector>

#include "operators/serdes.hpp"
#include "operators/topology.hpp"
#include "operators/window.hpp"
#include "sql/ast.hpp"
#include "sql/catalog.hpp"
#include "sql/expression.hpp"

namespace rivulet::sql {

rivulet::WindowKind window_kind(WindowType t);

// The aggregation's window of a WINDOW clause and EMIT mode (EMIT FINAL
// with ksqlDB's exact emission rules, see operators/window.hpp).
rivulet::WindowSpec window_spec(const WindowSpec& w, EmitMode emit);

// ksqlDB's rule for a windowed aggregation: WINDOWSTART and WINDOWEND may
// appear in its SELECT only outside aggregate calls (not in their
// arguments, not in HAVING). The error, or nullopt.
std::optional<Error> check_window_bounds(const Query& q, const std::vector<ExprPtr>& aggregate_calls);

// A sink with a `timestamp` property: each output record's time becomes
// that column's value (key or value column); a record without a usable one
// (NULL, negative, unparsable with the sink's timestamp_format) is dropped.
ProcessorFactory sink_timestamp(const SourceInfo& sink);

// The key codec of a windowed source or sink (unchanged when not windowed).
CodecFactory windowed_key_codec(CodecFactory inner, const SourceInfo& s);

// Points `row` at the group key inside a windowed key and sets its window
// bounds; a key that is not windowed is used as it is.
void bind_window(const Value& key, EvalRow& row);

// `key` wrapped in the window of `input_key` when that one is windowed.
Value with_window_of(const Value& input_key, Value key);

// The event time a record's timestamp column gives: BIGINT or TIMESTAMP as
// it is, a STRING parsed with `format` (a Java date pattern). Throws the
// record's data error when there is none (NULL, unparsable, negative):
// ksqlDB skips such records; Rivulet counts them as data errors.
int64_t record_time(const Value& column, const std::optional<std::string>& format);

}  // namespace rivulet::sql
