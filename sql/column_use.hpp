#pragma once
// Column use: which value columns of a stream source the queries over it
// read, so that its JSON codec materializes only those (projection
// pushdown into the deserializer). A column no query reads is still
// checked as it would be decoded (a record whose unread column cannot be
// read as its type is the same data error as before), but comes out NULL:
// no string copied, no Value built, nothing copied into the row.
//
// The answer errs on the side of reading: every column name an expression
// of the query mentions counts, in any clause, in subqueries and lambdas
// (a lambda parameter named like a column keeps that column), matched
// case-insensitively, unless the query qualifies it with another source's
// name or alias (`t.name` in a join does not read the stream's NAME; inside
// a subquery every name counts, qualified or not); SELECT * reads
// everything, source.* everything of that source (in a subquery, of every
// source); the source's TIMESTAMP column is always read.
//
// Pure functions; any thread.
#include <string>
#include <utility>
#include <vector>

#include "sql/analyzer.hpp"
#include "sql/ast.hpp"
#include "sql/catalog.hpp"

namespace rivulet::sql {

struct ColumnNames {
  bool all = false;                 // SELECT *, or source.* in a subquery
  std::vector<std::string> all_of;  // the sources of the query's source.*
  // Every column reference: its qualifier ("" when unqualified, and for
  // every reference in a subquery) and its name.
  std::vector<std::pair<std::string, std::string>> refs;
};

// The column names `q` refers to (with its analysis' projection, where
// SELECT * is expanded).
ColumnNames column_names(const Query& q, const QueryAnalysis& a);

// The references of `n` that may name a column of `s`, one of the sources
// of the query `a` analyzed: the unqualified ones and those qualified by a
// name the query gives `s` (its alias, else its name; a query may read one
// stream under two aliases).
ColumnNames names_for(const ColumnNames& n, const QueryAnalysis& a, const SourceInfo& s);

// Per value column of `s` (schema order, key columns skipped): whether a
// query mentioning `n` may read it.
std::vector<bool> value_columns_read(const ColumnNames& n, const SourceInfo& s);

}  // namespace rivulet::sql
