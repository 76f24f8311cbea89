#pragma once
// The parser: SQL text to Statements, by hand-written recursive descent with
// one function per precedence level, following ksqlDB's grammar
// (SqlBase.g4) plus Rivulet's subqueries (IN (SELECT ...), EXISTS (SELECT
// ...), scalar (SELECT ...)).
//
// Precedence, loosest first: OR; AND; NOT; one predicate per operand
// (comparison, [NOT] BETWEEN, [NOT] IN, [NOT] LIKE [ESCAPE], IS [NOT] NULL,
// IS [NOT] DISTINCT FROM); ||; + -; * / %; unary + -; postfix [i] and ->;
// primary. A minus sign directly before a number is part of the literal
// (ksqlDB's rule), so -2147483648 is an INT and -9223372036854775809 is an
// "Invalid numeric literal".
//
// Errors name line:column and what was expected, in ANTLR's words where they
// fit: "line 1:15: mismatched input 'FORM' expecting FROM". Nesting is
// bounded (kMaxNesting levels of recursion, kMaxExpressionHeight levels in an
// expression tree), so no input can exhaust the stack here or in the passes
// that walk the tree later. Pure functions, any thread.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/data_type.hpp"
#include "runtime/error.hpp"
#include "sql/ast.hpp"

namespace rivulet::sql {

// Expression trees taller than this (long operator chains, deep nesting)
// are rejected. A subquery counts as tall as the tallest expression in it.
inline constexpr int kMaxExpressionHeight = 200;
// Recursion of the parser itself (parentheses, NOT, unary signs, calls,
// types, subqueries) is bounded too. The bound leaves room for the canonical
// text (to_sql) of any accepted tree, which adds at most four levels per
// tree level, so whatever parses prints as text that parses again.
inline constexpr int kMaxNesting = 4 * kMaxExpressionHeight + 16;

// Custom types (CREATE TYPE name AS type): name (an identifier's text,
// upper-cased unless quoted) -> the type it stands for. A type written as
// that name is parsed as the type itself (ksqlDB resolves them at parse
// time too), so nothing after the parser knows custom types.
using TypeRegistry = std::map<std::string, DataTypePtr>;

// The names of the built-in types, which a custom type may not take.
bool is_builtin_type_name(std::string_view upper);

// Every statement of a script, each closed by ';' (the last one may omit it).
// Stops at the first error. `types`: the custom types registered before the
// script; a CREATE TYPE or DROP TYPE in it applies to the statements after
// it, as if each were parsed after the one before had run.
Expected<std::vector<Statement>> parse_statements(std::string_view sql,
                                                  const TypeRegistry& types = {});
// Exactly one statement (a closing ';' is optional).
Expected<Statement> parse_statement(std::string_view sql, const TypeRegistry& types = {});
// One expression and nothing after it.
Expected<ExprPtr> parse_expression(std::string_view sql);
// One type: "BIGINT", "DECIMAL(4, 2)", "ARRAY<STRUCT<A INT>>", or a
// custom type's name.
Expected<DataTypePtr> parse_type(std::string_view sql, const TypeRegistry& types = {});

// A duration unit word (SECOND, SECONDS, MILLISECOND, ...) in milliseconds;
// 0 when `upper` is not one.
int64_t time_unit_millis(std::string_view upper);

}  // namespace rivulet::sql
