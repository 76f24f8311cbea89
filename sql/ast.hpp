#pragma once
// The syntax tree of ksqlDB-dialect SQL, as the parser builds it and the
// analyzer, expression compiler and planner read it.
//
// Expressions are immutable and shared (ExprPtr = shared_ptr<const Expr>):
// a rewrite (the planner replacing an aggregate call by a column) builds new
// nodes around the old subtrees instead of copying them. One node type with
// a kind tag keeps traversal, structural equality and printing in one place;
// which fields a kind uses is listed at ExprKind.
//
// Names: unquoted identifiers are upper-cased by the lexer, quoted ones keep
// their case; the AST stores the resulting name, so name comparison is exact
// (ksqlDB's rule). Function names are upper-cased always.
//
// Ownership: a Statement owns its tree; trees are never mutated after the
// parser returns them, so they may be read from any thread.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "runtime/data_type.hpp"
#include "runtime/value.hpp"
#include "sql/sql_error.hpp"

namespace rivulet::sql {

struct Query;
struct Expr;
using ExprPtr = std::shared_ptr<const Expr>;
using QueryPtr = std::shared_ptr<const Query>;

enum class ExprKind : uint8_t {
  Literal,            // value: Null, Boolean, Int, BigInt, Double, Decimal or String
  Column,             // name; qualifier = source name or alias ("" when unqualified)
  Dereference,        // args[0]->name (struct field)
  Subscript,          // args[0][args[1]] (array index, 1-based; negative from the end; map key)
  Unary,              // unary_op args[0]
  Binary,             // args[0] binary_op args[1]
  Between,            // args[0] [NOT] BETWEEN args[1] AND args[2]; negated
  InList,             // args[0] [NOT] IN (args[1], ...); negated
  InSubquery,         // args[0] [NOT] IN (subquery); negated
  Exists,             // EXISTS (subquery)
  ScalarSubquery,     // (subquery) used as a value
  Like,               // args[0] [NOT] LIKE args[1] [ESCAPE escape]; negated
  IsNull,             // args[0] IS [NOT] NULL; negated = IS NOT NULL
  IsDistinctFrom,     // args[0] IS [NOT] DISTINCT FROM args[1]; negated = IS NOT DISTINCT FROM
  Case,               // see case_* accessors: [operand] (when then)+ [else]
  Cast,               // CAST(args[0] AS type)
  FunctionCall,       // name(args...), or name(*) with star = true (COUNT(*))
  ArrayConstructor,   // ARRAY[args...]
  MapConstructor,     // MAP(args[0] := args[1], args[2] := args[3], ...)
  StructConstructor,  // STRUCT(names[i] := args[i], ...)
  Lambda,             // (names...) => args[0]
  TimeUnit,           // a time unit written as a function argument (SECONDS); name
};

enum class UnaryOp : uint8_t { Minus, Plus, Not };

enum class BinaryOp : uint8_t {
  Add,
  Subtract,
  Multiply,
  Divide,
  Modulo,  // arithmetic (+ also concatenates strings)
  Concat,  // ||
  Eq,
  Neq,
  Lt,
  Lte,
  Gt,
  Gte,  // comparison
  And,
  Or,  // logical
};

bool is_comparison(BinaryOp op);
bool is_arithmetic(BinaryOp op);
bool is_logical(BinaryOp op);
// "+", "=", "AND", ...
const char* binary_op_symbol(BinaryOp op);
// ksqlDB's names in messages: "EQUAL", "GREATER_THAN_OR_EQUAL", ...
const char* comparison_name(BinaryOp op);

struct Expr {
  ExprKind kind = ExprKind::Literal;
  SourceLocation loc;
  Value value;            // Literal
  std::string name;       // Column, Dereference, FunctionCall, TimeUnit
  std::string qualifier;  // Column
  UnaryOp unary_op = UnaryOp::Minus;
  BinaryOp binary_op = BinaryOp::Add;
  bool negated = false;            // Between, InList, InSubquery, Like, IsNull, IsDistinctFrom
  bool star = false;               // FunctionCall
  bool has_operand = false;        // Case: simple CASE x WHEN ...
  bool has_else = false;           // Case
  std::optional<char> escape;      // Like
  DataTypePtr type;                // Cast target
  std::vector<std::string> names;  // StructConstructor fields, Lambda parameters
  std::vector<ExprPtr> args;
  QueryPtr subquery;  // InSubquery, Exists, ScalarSubquery
  int height = 1;     // 1 + the greatest height of args (bounded by the parser)

  // Case layout helpers.
  const Expr* case_operand() const { return has_operand ? args[0].get() : nullptr; }
  size_t case_when_count() const {
    return (args.size() - (has_operand ? 1 : 0) - (has_else ? 1 : 0)) / 2;
  }
  const ExprPtr& case_when(size_t i) const { return args[(has_operand ? 1 : 0) + 2 * i]; }
  const ExprPtr& case_then(size_t i) const { return args[(has_operand ? 1 : 0) + 2 * i + 1]; }
  const Expr* case_else() const { return has_else ? args.back().get() : nullptr; }
};

// Builders (they compute height).
namespace ast {
ExprPtr literal(Value v, SourceLocation loc = {});
ExprPtr column(std::string name, std::string qualifier = {}, SourceLocation loc = {});
ExprPtr unary(UnaryOp op, ExprPtr operand, SourceLocation loc = {});
ExprPtr binary(BinaryOp op, ExprPtr left, ExprPtr right, SourceLocation loc = {});
ExprPtr call(std::string name, std::vector<ExprPtr> args, SourceLocation loc = {});
// Any node: fills height from args.
ExprPtr make(Expr e);
}  // namespace ast

// Structural equality, ignoring source locations (GROUP BY matching, tests).
bool same_expr(const Expr& a, const Expr& b);
// ksqlDB's rendering (ExpressionFormatter): "(A + 1)", "SUBSTRING(S, 1, 2)",
// "'text'", "CAST(X AS INTEGER)", "A->B". Names that would not read back as
// the same identifier are back-quoted.
std::string to_sql(const Expr& e);
// An identifier as it must be written to mean `name`: NAME, `name`, `SELECT`.
std::string quote_identifier(const std::string& name);
// True for words that cannot be unquoted identifiers (SELECT, FROM, ...).
bool is_reserved_word(std::string_view upper);

// ---------------------------------------------------------------------------
// Queries

struct SelectItem {
  enum class Kind : uint8_t {
    Expression,     // expr [AS alias]
    AllColumns,     // *
    SourceColumns,  // source.*
  };
  Kind kind = Kind::Expression;
  ExprPtr expr;        // Expression
  std::string alias;   // Expression: "" when none was given
  std::string source;  // SourceColumns
  SourceLocation loc;
};

struct Relation {
  std::string name;   // the stream or table
  std::string alias;  // "" when none was given
  SourceLocation loc;
  // The name its columns are qualified with: the alias, else the name.
  const std::string& qualifier() const { return alias.empty() ? name : alias; }
};

enum class JoinType : uint8_t { Inner, Left, Right, Full };
const char* join_type_name(JoinType t);  // "INNER", "LEFT", "RIGHT", "FULL"

// WITHIN n unit | WITHIN (before unit, after unit) [GRACE PERIOD n unit].
struct JoinWindow {
  int64_t before_ms = 0;
  int64_t after_ms = 0;
  std::optional<int64_t> grace_ms;
  SourceLocation loc;
};

struct Join {
  JoinType type = JoinType::Inner;
  Relation right;
  std::optional<JoinWindow> within;
  ExprPtr on;
  SourceLocation loc;  // of the JOIN keyword (or of LEFT/RIGHT/FULL/INNER)
};

enum class WindowType : uint8_t { Tumbling, Hopping, Session };
const char* window_type_name(WindowType t);  // "TUMBLING", ...

struct WindowSpec {
  WindowType type = WindowType::Tumbling;
  int64_t size_ms = 0;     // TUMBLING, HOPPING SIZE; SESSION gap
  int64_t advance_ms = 0;  // HOPPING ADVANCE BY
  std::optional<int64_t> retention_ms;
  std::optional<int64_t> grace_ms;
  SourceLocation loc;
};

enum class EmitMode : uint8_t { Unspecified, Changes, Final };

struct Query {
  std::vector<SelectItem> select;
  Relation from;
  std::vector<Join> joins;  // left-deep: ((from JOIN joins[0]) JOIN joins[1]) ...
  std::optional<WindowSpec> window;
  ExprPtr where;
  std::vector<ExprPtr> group_by;
  std::vector<ExprPtr> partition_by;
  ExprPtr having;
  EmitMode emit = EmitMode::Unspecified;
  std::optional<int64_t> limit;
  SourceLocation loc;  // of SELECT
};

// "SELECT A, B FROM S WHERE (A > 1) EMIT CHANGES", in canonical spelling.
std::string to_sql(const Query& q);

// ---------------------------------------------------------------------------
// Statements

enum class SourceType : uint8_t { Stream, Table };
const char* source_type_name(SourceType t);  // "STREAM" / "TABLE"

enum class ColumnConstraint : uint8_t { None, Key, PrimaryKey, Headers, Header };

struct TableElement {
  std::string name;
  DataTypePtr type;
  ColumnConstraint constraint = ColumnConstraint::None;
  std::string header_key;  // HEADER('key')
  SourceLocation loc;
};

// WITH (name = literal, ...). Names are upper-cased whether written as
// identifiers or strings; values are literals (strings, numbers, booleans).
struct Property {
  std::string name;
  Value value;
  SourceLocation loc;
};

struct Properties {
  std::vector<Property> items;
  // By upper-case name; nullptr when absent.
  const Property* find(std::string_view upper_name) const;
  // The value as text: strings as is, numbers and booleans rendered;
  // nullopt when absent or null.
  std::optional<std::string> text(std::string_view upper_name) const;
};

// CREATE [OR REPLACE] [SOURCE] STREAM|TABLE [IF NOT EXISTS] name (elements) WITH (...)
struct CreateSource {
  SourceType type = SourceType::Stream;
  bool or_replace = false;
  bool if_not_exists = false;
  bool is_source = false;  // CREATE SOURCE TABLE: read-only
  std::string name;
  SourceLocation name_loc;
  std::vector<TableElement> elements;  // empty when no column list was given
  Properties properties;
};

// CREATE [OR REPLACE] STREAM|TABLE [IF NOT EXISTS] name [WITH (...)] AS query
struct CreateAsSelect {
  SourceType type = SourceType::Stream;
  bool or_replace = false;
  bool if_not_exists = false;
  std::string name;
  SourceLocation name_loc;
  Properties properties;
  QueryPtr query;
};

// INSERT INTO name [WITH (...)] query
struct InsertInto {
  std::string target;
  SourceLocation target_loc;
  Properties properties;
  QueryPtr query;
};

// INSERT INTO name [(columns)] VALUES (exprs)
struct InsertValues {
  std::string target;
  SourceLocation target_loc;
  std::vector<std::string> columns;  // empty: all columns in schema order
  std::vector<ExprPtr> values;
};

// DROP STREAM|TABLE [IF EXISTS] name [DELETE TOPIC]
struct DropSource {
  SourceType type = SourceType::Stream;
  bool if_exists = false;
  std::string name;
  SourceLocation name_loc;
  bool delete_topic = false;
};

// ALTER STREAM|TABLE name ADD [COLUMN] name type [, ADD [COLUMN] name type ...]
// (ksqlDB's schema evolution of a source declared with columns).
struct AlterSource {
  SourceType type = SourceType::Stream;
  std::string name;
  SourceLocation name_loc;
  std::vector<TableElement> columns;  // value columns, in order
};

// ASSERT [NOT EXISTS] TOPIC name [WITH (PARTITIONS=n, REPLICAS=n)] [TIMEOUT n unit]
// (ksqlDB's, for scripts that must wait for a topic): the shell waits until
// it holds, at most the timeout.
struct AssertTopic {
  std::string topic;
  SourceLocation topic_loc;
  bool exists = true;                 // false: NOT EXISTS
  Properties properties;              // PARTITIONS, REPLICAS
  std::optional<int64_t> timeout_ms;  // TIMEOUT; none: the default
};

// ASSERT [NOT EXISTS] SCHEMA [SUBJECT name] [ID n] [TIMEOUT n unit]
// (ksqlDB's): the shell asks the schema registry until the subject has a
// version, the id exists, or (both given) the id is registered under the
// subject; or, NOT EXISTS, until it does not. At least one of SUBJECT, ID.
struct AssertSchema {
  std::optional<std::string> subject;  // keeps its case
  std::optional<int32_t> id;
  SourceLocation loc;  // of SCHEMA
  bool exists = true;  // false: NOT EXISTS
  std::optional<int64_t> timeout_ms;
};

// CREATE TYPE [IF NOT EXISTS] name AS type (ksqlDB's custom types: a name
// for a type, usable wherever a type is written after it; the parser
// resolves it, sql/parser.hpp).
struct CreateType {
  std::string name;
  SourceLocation name_loc;
  bool if_not_exists = false;
  DataTypePtr type;
};

// DROP TYPE [IF EXISTS] name
struct DropType {
  std::string name;
  SourceLocation name_loc;
  bool if_exists = false;
};

// SHOW|LIST STREAMS|TABLES|QUERIES|[ALL] TOPICS|PROPERTIES|FUNCTIONS|VARIABLES|TYPES [EXTENDED]
struct ShowList {
  enum class What : uint8_t {
    Streams,
    Tables,
    Queries,
    Topics,
    Properties,
    Functions,
    Variables,
    Types
  };
  What what = What::Streams;
  bool all = false;  // SHOW ALL TOPICS: internal topics too
  bool extended = false;
};

// DESCRIBE name [EXTENDED] | DESCRIBE FUNCTION name | DESCRIBE STREAMS|TABLES [EXTENDED]
struct Describe {
  enum class What : uint8_t { Source, Function, AllStreams, AllTables };
  What what = What::Source;
  std::string name;
  SourceLocation name_loc;
  bool extended = false;
};

// SET 'name' = 'value'
struct SetProperty {
  std::string name;
  std::string value;
};

// UNSET 'name'
struct UnsetProperty {
  std::string name;
};

// DEFINE name = 'value' (sql/variables.hpp)
struct DefineVariable {
  std::string name;  // as written
  SourceLocation name_loc;
  std::string value;
};

// UNDEFINE name
struct UndefineVariable {
  std::string name;
  SourceLocation name_loc;
};

// TERMINATE query_id | TERMINATE ALL
struct Terminate {
  std::string query_id;  // "" with all
  bool all = false;
};

// PAUSE query_id | PAUSE ALL | RESUME query_id | RESUME ALL (ksqlDB's, for
// the shell's persistent queries)
struct PauseResume {
  bool resume = false;  // false: PAUSE
  bool all = false;
  std::string query_id;  // "" with all
  SourceLocation query_loc;
};

// A bare SELECT: a push query (EMIT CHANGES) or a pull query against a table.
struct SelectStatement {
  QueryPtr query;
};

// PRINT topic [FROM BEGINNING] [INTERVAL|SAMPLE n] [LIMIT n]: a topic's
// records as text (the shell; the topic name keeps its case, as in ksqlDB).
struct PrintTopic {
  std::string topic;
  SourceLocation topic_loc;
  bool from_beginning = false;
  int64_t interval = 1;  // every n-th record
  std::optional<int64_t> limit;
};

// RUN SCRIPT 'path': the statements of a file, in this session (the shell).
struct RunScript {
  std::string path;
  SourceLocation path_loc;
};

struct Statement;

// EXPLAIN statement (CREATE ... AS SELECT, INSERT INTO ... SELECT) | EXPLAIN query_id
struct Explain {
  std::shared_ptr<const Statement> statement;  // null: a running query's id
  std::string query_id;
  SourceLocation query_loc;
};

using StatementBody =
    std::variant<CreateSource, CreateAsSelect, InsertInto, InsertValues, DropSource, AlterSource,
                 AssertTopic, AssertSchema, CreateType, DropType, ShowList, Describe, SetProperty,
                 UnsetProperty, Terminate, PauseResume, SelectStatement, Explain, PrintTopic,
                 RunScript, DefineVariable, UndefineVariable>;

struct Statement {
  StatementBody body;
  SourceLocation loc;  // of the first token
  std::string text;    // the statement as written, without the closing ';'
};

// The statement in canonical spelling (upper-case keywords, quoted names
// where needed, expressions fully parenthesised), without ';'. Parsing the
// result gives the same tree.
std::string to_sql(const Statement& s);

}  // namespace rivulet::sql
