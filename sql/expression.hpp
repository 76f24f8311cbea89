#pragma once
// The expression compiler: type-checks an expression AST against the columns
// in scope, infers its result type with ksqlDB's rules, and compiles it into
// a tree of evaluation nodes with every column reference resolved to a slot
// (a position in the row) at compile time: evaluating a row does no name
// lookups.
//
// Scope: what an expression can see. Each column has a name, an optional
// qualifier (the source alias in a join), a type and a Slot saying where its
// value is when a row is evaluated: a position in a flat row of Values, the
// record key (or one field of a multi-column key), a field of the record's
// value struct, or the record's metadata (ROWTIME, ROWPARTITION, ROWOFFSET,
// WINDOWSTART, WINDOWEND). Names resolve exactly first, then
// case-insensitively; an unqualified name two sources share is ambiguous.
// A whole expression may also be bound to a slot (Scope::bind): the compiler
// then reads the slot wherever an equal expression appears. That is how the
// planner feeds GROUP BY keys and aggregate results into SELECT and HAVING.
// Scope::bind_external binds an expression to a callback instead (the
// planner's subqueries and lookups against table state).
//
// Semantics (ksqlDB's, checked against its query-validation tests):
//  - any comparison (=, <>, <, <=, >, >=, BETWEEN, IN, LIKE) with a NULL
//    operand is FALSE, never NULL; IS [NOT] DISTINCT FROM treats NULLs as
//    equal values; NOT BETWEEN / NOT IN / NOT LIKE are NOT of the positive
//    form;
//  - AND, OR and NOT over NULL booleans follow SQL's three-valued logic;
//    a WHERE keeps a row only when the condition is TRUE (CompiledExpr::test);
//  - arithmetic with a NULL operand is NULL; INT and BIGINT wrap around on
//    overflow (Java); integer division or modulo by zero is NULL (ksqlDB
//    logs the error and emits NULL); DOUBLE division by zero is +-Infinity
//    or NaN; DECIMAL arithmetic is exact with decimal.hpp's precision and
//    scale, NULL on overflow or division by zero;
//  - a failed CAST, a bad argument to a function, an array index out of
//    range: NULL.
// Runtime problems never throw; they give NULL and, when the row carries an
// EvalDiagnostics, are counted there with the first message kept (the
// processing log).
//
// Threads: a CompiledExpr is immutable after compile(); evaluate() may run
// concurrently on any number of threads.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/data_type.hpp"
#include "runtime/error.hpp"
#include "runtime/evaluation_notes.hpp"
#include "runtime/value.hpp"
#include "sql/ast.hpp"
#include "sql/functions.hpp"

namespace rivulet::sql {

// Where a column's value is found when a row is evaluated.
struct Slot {
  enum class Origin : uint8_t {
    Row,           // row.columns[index]
    Key,           // *row.key: the whole key (one key column)
    KeyField,      // field `index` of the struct *row.key (one of several key columns)
    ValueField,    // field `index` of the struct *row.value
    RowTime,       // row.rowtime (BIGINT)
    RowPartition,  // row.partition (INT)
    RowOffset,     // row.offset (BIGINT)
    WindowStart,   // row.window_start (BIGINT)
    WindowEnd,     // row.window_end (BIGINT)
    External,      // the scope's external binding `index` (Scope::bind_external)
    Lambda,        // lambda parameter `index` (set by FILTER / TRANSFORM / REDUCE)
  };
  Origin origin = Origin::Row;
  uint32_t index = 0;
};

// Runtime problems met while evaluating (a function that threw, a value of
// the wrong kind). Owned by the caller; one per thread. A row without one
// notes them to the batch its thread processes (runtime/evaluation_notes.hpp).
using EvalDiagnostics = EvaluationNotes;

// One row as the evaluator sees it. Fill what the Scope's slots refer to;
// pointers are borrowed for the duration of the call.
struct NestedSubqueries;  // sql/subquery.hpp

struct EvalRow {
  const Value* columns = nullptr;  // Row slots
  size_t column_count = 0;
  const Value* key = nullptr;    // Key / KeyField slots
  const Value* value = nullptr;  // ValueField slots: a struct
  int64_t rowtime = 0;
  int32_t partition = -1;
  int64_t offset = -1;
  int64_t window_start = 0;
  int64_t window_end = 0;
  EvalDiagnostics* diagnostics = nullptr;  // optional
  // Where the record was read from, named by the first failure's message;
  // optional.
  const SourcePosition* source = nullptr;
  const Value* lambda_args = nullptr;      // set by the evaluator for lambda bodies
  // Set while a subquery with subqueries in its WHERE is evaluated: how its
  // task reads their tables (sql/subquery.hpp).
  const NestedSubqueries* nested = nullptr;

  static EvalRow of(const std::vector<Value>& row) {
    EvalRow r;
    r.columns = row.data();
    r.column_count = row.size();
    return r;
  }
};

using ExternalEval = std::function<Value(const EvalRow& row)>;

struct ScopeColumn {
  std::string qualifier;  // source name or alias; "" when the column has none
  std::string name;
  DataTypePtr type;
  Slot slot;
  bool is_key = false;
  bool is_pseudo = false;  // ROWTIME and friends: not part of SELECT *
};

// The columns an expression may refer to. Built by the analyzer / planner;
// immutable while expressions are compiled against it.
class Scope {
 public:
  Scope() = default;

  // The schema's columns as a flat row: column i at Row slot i.
  static Scope of_row(const Schema& schema, const std::string& qualifier = "");
  // The schema's columns as a record: one key column is the whole key, several
  // are the fields of a struct key in schema order; value columns are the
  // fields of the value struct in schema order.
  static Scope of_record(const Schema& schema, const std::string& qualifier = "");

  Scope& add(ScopeColumn column);
  // ROWTIME BIGINT, ROWPARTITION INT, ROWOFFSET BIGINT, and with `windowed`
  // WINDOWSTART BIGINT and WINDOWEND BIGINT, bound to the row's metadata.
  Scope& add_pseudo_columns(bool windowed);
  // Wherever an expression equal to `e` (same_expr) appears, read `slot`.
  Scope& bind(ExprPtr e, DataTypePtr type, Slot slot);
  // Wherever an expression equal to `e` appears, call `eval`.
  Scope& bind_external(ExprPtr e, DataTypePtr type, ExternalEval eval);

  const std::vector<ScopeColumn>& columns() const { return columns_; }

  // The column `qualifier.name` ("" qualifier: any source). Errors (without
  // location): "column 'X' cannot be resolved", "column 'X' is ambiguous:
  // it could be A.X or B.X".
  Expected<const ScopeColumn*> find(std::string_view qualifier, std::string_view name) const;

  struct Binding {
    ExprPtr expr;
    DataTypePtr type;
    Slot slot;
  };
  const std::vector<Binding>& bindings() const { return bindings_; }
  const std::vector<ExternalEval>& externals() const { return externals_; }

 private:
  std::vector<ScopeColumn> columns_;
  std::vector<Binding> bindings_;
  std::vector<ExternalEval> externals_;
};

// An evaluation node (internal to the compiler; exposed for ownership only).
class EvalNode;

// A compiled, type-checked expression.
class CompiledExpr {
 public:
  CompiledExpr() = default;

  const DataTypePtr& type() const { return type_; }
  const ExprPtr& expr() const { return expr_; }
  // True when the value does not depend on the row (folded at compile time).
  bool is_constant() const { return constant_; }
  // When the expression is a column of the row itself (Slot::Origin::Row,
  // no function or cast around it): its index in EvalRow::columns; else -1.
  // A projection copies such a column straight from the row.
  int64_t row_column() const {
    if (!bare_slot_ || bare_slot_->origin != Slot::Origin::Row) return -1;
    return static_cast<int64_t>(bare_slot_->index);
  }
  // When the expression is a slot, of any origin, as it is (no function or
  // cast around it): that slot. An aggregation's projection passes its
  // result through when every column is one (QueryPlanner::aggregate).
  const std::optional<Slot>& bare_slot() const { return bare_slot_; }

  // The value for `row`; never throws (see the header comment for NULLs).
  Value evaluate(const EvalRow& row) const;
  Value evaluate(const std::vector<Value>& row) const { return evaluate(EvalRow::of(row)); }
  // WHERE / HAVING: true only for a BOOLEAN TRUE.
  bool test(const EvalRow& row) const;

 private:
  friend class ExpressionCompiler;
  std::shared_ptr<const EvalNode> root_;
  DataTypePtr type_;
  ExprPtr expr_;
  bool constant_ = false;
  std::optional<Slot> bare_slot_;
};

struct CompileOptions {
  // Aggregate calls are typed (infer_type) but cannot be evaluated: compile
  // rejects them unless the scope binds them. With false, infer_type
  // rejects them too.
  bool allow_aggregates = true;
  // The clause being compiled, for messages: with "SELECT" an unknown column
  // reads "SELECT column 'X' cannot be resolved." (ksqlDB's wording).
  std::string clause;
  // Table function calls (EXPLODE, ...) are typed (infer_type) when true;
  // compile rejects them unless the scope binds them (the planner's flat
  // map fills their values in). Only a stream's SELECT allows them.
  bool allow_table_functions = false;
};

// Each expression's value for `row`, in order: a call's arguments.
std::vector<Value> evaluate_each(const std::vector<std::shared_ptr<const CompiledExpr>>& exprs,
                                 const EvalRow& row);

// Compiles expressions against one scope. Cheap to construct; holds
// references to the scope and registry, which must outlive it (the compiled
// expressions do not need them).
class ExpressionCompiler {
 public:
  explicit ExpressionCompiler(const Scope& scope,
                              const FunctionRegistry& functions = FunctionRegistry::global(),
                              CompileOptions options = {});

  // Type-checks and compiles. Errors name the expression's line:column:
  // "line 1:8: Cannot compare ID (INTEGER) to 'x' (STRING) with EQUAL."
  Expected<CompiledExpr> compile(const ExprPtr& e) const;
  // Type-checks only (aggregates allowed when the options say so).
  Expected<DataTypePtr> infer_type(const ExprPtr& e) const;

 private:
  const Scope& scope_;
  const FunctionRegistry& functions_;
  CompileOptions options_;
};

}  // namespace rivulet::sql
