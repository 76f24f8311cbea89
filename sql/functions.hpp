#pragma once
// The function registry: ksqlDB's built-in scalar functions by name, with
// type checking and overload selection at compile time, and the names and
// result types of the aggregate functions (whose state machines live with
// the planner's aggregation operators).
//
// A scalar call is resolved once, when an expression is compiled: the
// registry picks the overload for the argument types (a bare NULL argument
// fits any parameter) and hands back the result type and the body to run per
// row. Bodies are pure and thread-safe; input they cannot handle (a bad date
// pattern, a negative pad length) gives NULL, as ksqlDB's UDFs do.
//
// FILTER, TRANSFORM and REDUCE take lambdas; they are listed here (so SHOW
// FUNCTIONS and the docs see them) but compiled by the expression compiler,
// which types the lambda parameters from the collection argument.
//
// The built-in registry is built once and immutable; a copy may be extended
// with add() (tests). User-defined scalar functions (UDFs) are registered
// for the whole process with register_function(), as ksqlDB loads its UDFs
// once at start-up: every engine planned afterwards resolves them through
// global().
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/data_type.hpp"
#include "runtime/error.hpp"
#include "runtime/value.hpp"

namespace rivulet::sql {

using ArgValues = std::vector<Value>;
using ScalarBody = std::function<Value(const ArgValues& args)>;

// A scalar call resolved for its argument types.
struct ScalarCall {
  DataTypePtr return_type;
  ScalarBody body;
  // When true the call is NULL as soon as any argument is NULL, without
  // running the body (most functions); COALESCE, IFNULL, CONCAT, ... set it
  // to false.
  bool null_on_null_arg = true;
  // False for functions whose result changes between calls with the same
  // arguments (RANDOM, UNIX_TIMESTAMP()): they are never constant-folded.
  bool deterministic = true;
};

// Picks the overload for `args` (their types; DataType::of(TypeKind::Null)
// for a bare NULL). The error message says why the types do not fit.
using ScalarResolver = std::function<Expected<ScalarCall>(const std::vector<DataTypePtr>& args)>;
// The result type of an aggregate for its argument types.
using AggregateTyper = std::function<Expected<DataTypePtr>(const std::vector<DataTypePtr>& args)>;

// A user-defined aggregate function (UDAF) resolved for its argument types,
// as ksqlDB's Udaf: the aggregate of an empty group, the aggregate after one
// more row, two aggregates combined, and the result read from an aggregate.
// An aggregate is a Value of any kind (a number, an array, a struct, ...):
// it is stored, checkpointed and sent between tasks like every other value.
struct AggregateCall {
  DataTypePtr return_type;            // the type `map` returns
  std::function<Value()> initialize;  // required: an empty group's aggregate
  // Required: the aggregate after a row whose arguments are `args` (NULLs
  // included: the function decides what a NULL means).
  std::function<Value(const ArgValues& args, const Value& aggregate)> aggregate;
  // Required: `earlier` and `later` combined, each the aggregate of some of
  // a group's rows, `earlier`'s rows read first. Used where rows are
  // aggregated in two places (partial aggregates before a repartition
  // topic) and where session windows merge.
  std::function<Value(const Value& earlier, const Value& later)> merge;
  // Optional: the result from the aggregate; unset, the aggregate itself.
  std::function<Value(const Value& aggregate)> map;
  // Optional: the aggregate without a row aggregated before (the same
  // arguments). Only a function with it aggregates a TABLE, whose updates
  // take the old row back out, as ksqlDB's TableUdaf.
  std::function<Value(const ArgValues& args, const Value& aggregate)> undo;

  // The result for `aggregate`: map's, or the aggregate itself. When map
  // throws, NULL, noted on this thread as an expression error of `name`
  // (runtime/evaluation_notes.hpp), as a scalar UDF's throw is.
  Value result(const Value& aggregate, std::string_view name) const;
};
// Picks the UDAF's implementation for `args` (their types).
using AggregateResolver =
    std::function<Expected<AggregateCall>(const std::vector<DataTypePtr>& args)>;

// A table function (EXPLODE, CUBE_EXPLODE, a UDTF) resolved for its
// argument types, as ksqlDB's: zero or more values per row, each becoming a
// row of the result (the query's other columns repeated).
struct TableCall {
  DataTypePtr return_type;  // of each value
  // The values for a row's arguments (NULLs included: EXPLODE(NULL) gives
  // none). A throw fails the row: a data error.
  std::function<Array(const ArgValues& args)> body;
};
using TableResolver = std::function<Expected<TableCall>(const std::vector<DataTypePtr>& args)>;

struct FunctionDef {
  enum class Kind : uint8_t {
    Scalar,
    Aggregate,
    Lambda,  // FILTER, TRANSFORM, REDUCE: compiled by the expression compiler
    Table,   // EXPLODE, CUBE_EXPLODE, UDTFs: rows per row, in a stream's SELECT
  };
  std::string name;  // upper case
  Kind kind = Kind::Scalar;
  std::string signature;          // for docs: "SUBSTRING(STRING, INT [, INT]) -> STRING"
  std::string description;        // one line
  ScalarResolver resolve;         // Scalar
  AggregateTyper aggregate_type;  // Aggregate
  // A user-defined aggregate (UDAF): its implementation, which also types
  // it (aggregate_type unset). Built-in aggregates leave it unset (the
  // planner builds their state machines).
  AggregateResolver resolve_aggregate;
  TableResolver resolve_table;  // Table
};

class FunctionRegistry {
 public:
  // The built-in functions (shared, immutable, thread-safe to read).
  static const FunctionRegistry& builtin();
  // The built-in functions and the UDFs registered so far: what SQL
  // resolves names against. Immutable once returned (a registration makes
  // a new version; returned ones stay valid for the process's life), so it
  // is thread-safe to read.
  static const FunctionRegistry& global();

  // Adds or replaces a function.
  void add(FunctionDef def);
  // By upper-case name; nullptr when unknown.
  const FunctionDef* find(std::string_view upper_name) const;
  bool is_aggregate(std::string_view upper_name) const;
  bool is_table_function(std::string_view upper_name) const;
  // Sorted by name.
  std::vector<const FunctionDef*> all() const;

  // Resolves a scalar call. Errors, in ksqlDB's words: "Can't find any
  // functions with the name 'X'", "Function 'X' does not accept parameters
  // (INTEGER, STRING)."
  Expected<ScalarCall> resolve_scalar(std::string_view upper_name,
                                      const std::vector<DataTypePtr>& args) const;
  // The result type of an aggregate call: COUNT -> BIGINT, SUM(INT) -> INT,
  // AVG -> DOUBLE, MIN/MAX -> the argument's type, ...
  Expected<DataTypePtr> aggregate_result_type(std::string_view upper_name,
                                              const std::vector<DataTypePtr>& args) const;
  // A UDAF's implementation for its argument types; an error for an
  // unknown name, a built-in aggregate or an implementation that lacks
  // initialize, aggregate or merge.
  Expected<AggregateCall> resolve_udaf(std::string_view upper_name,
                                       const std::vector<DataTypePtr>& args) const;
  // A table function's implementation for its argument types.
  Expected<TableCall> resolve_table(std::string_view upper_name,
                                    const std::vector<DataTypePtr>& args) const;

 private:
  std::map<std::string, FunctionDef, std::less<>> defs_;
};

// Registers a user-defined function for every SQL engine of the process
// (FunctionRegistry::global()), from then on.
//
// A scalar function (UDF): `def.kind` Scalar with a `resolve` that picks
// the overload for the argument types and returns the result type and the
// body (ScalarCall). The body runs on
// the task threads, concurrently: it must be thread-safe. A body that
// throws gives NULL for that call, as a ksqlDB UDF's exception does; each
// such failure counts in `rivulet_task_expression_errors_total` and the
// task logs the first. Set `deterministic` to false in the ScalarCall when
// the result may differ between calls with the same arguments (the planner
// then never evaluates the call ahead of time).
//
// An aggregate function (UDAF): `def.kind` Aggregate with a
// `resolve_aggregate` that returns the AggregateCall for the argument
// types. Its functions run on the task threads, concurrently, each call on
// one aggregate: they must be thread-safe and should not mutate shared
// state. A throw in `aggregate` or `undo` fails that row: a data error
// (dead-lettered where configured), its group unchanged. GROUP BY over a
// TABLE needs `undo`.
//
// A table function (UDTF): `def.kind` Table with a `resolve_table` that
// returns the TableCall for the argument types: the values one row gives,
// each a row of the result. Used in the SELECT of a query over a stream.
//
// Refused with an error: a name that is not an identifier (letters, digits,
// `_`, not starting with a digit; it is upper-cased), a reserved word
// (SELECT, CAST, ...), a built-in function's name, a name already
// registered, a lambda kind, no resolver for its kind.
Expected<bool> register_function(FunctionDef def);

// "Function 'NAME' does not accept parameters (INTEGER, STRING)."
Error no_matching_overload(std::string_view name, const std::vector<DataTypePtr>& args);

// Java DateTimeFormatter-style patterns (the common letters: y M d H h m s S
// a E X Z x and 'quoted' text) over milliseconds since the epoch. The zone
// is "UTC" / "GMT" / "Z" or a fixed offset ("+02:00", "GMT+2"); other zone
// names are not supported (nullopt). Used by the timestamp functions.
std::optional<std::string> format_time(int64_t millis, std::string_view pattern,
                                       std::string_view zone = "UTC");
std::optional<int64_t> parse_time(std::string_view text, std::string_view pattern,
                                  std::string_view zone = "UTC");

// Whether the function's first argument is a time unit word (TIMESTAMPADD,
// TIMESTAMPSUB, DATEADD, DATESUB, TIMEADD, TIMESUB): the expression compiler
// passes it on as the unit's milliseconds, a BIGINT.
bool takes_time_unit(std::string_view function);

}  // namespace rivulet::sql
