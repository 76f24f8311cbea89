#include "sql/analyzer.hpp"
#include "sql/subquery.hpp"

#include <algorithm>
#include <functional>
#include <set>

#include "sql/sql_error.hpp"
#include "sql/text.hpp"
#include "sql/types.hpp"

namespace rivulet::sql {

namespace {

struct AnalysisFailure {
  Error error;
};

[[noreturn]] void fail(SourceLocation loc, const std::string& what) {
  throw AnalysisFailure{sql_error(loc, what)};
}

// Re-raises `e` (a "line L:C: msg" error) with `prefix` before msg.
[[noreturn]] void fail_in(const Error& e, const std::string& prefix) {
  SourceLocation loc = location_of(e.message);
  std::string rest = e.message;
  if (loc.known()) {
    size_t p = rest.find(": ");
    if (p != std::string::npos) rest = rest.substr(p + 2);
  }
  throw AnalysisFailure{sql_error(loc, prefix + rest)};
}

// Calls visit(node, lambda_params) for every node, pre-order; visit returns
// false to skip the node's children.
void walk(const Expr& e, std::vector<std::string>& lambda_params,
          const std::function<bool(const Expr&, const std::vector<std::string>&)>& visit) {
  if (!visit(e, lambda_params)) return;
  if (e.kind == ExprKind::Lambda) {
    size_t before = lambda_params.size();
    lambda_params.insert(lambda_params.end(), e.names.begin(), e.names.end());
    for (const auto& a : e.args)
      if (a) walk(*a, lambda_params, visit);
    lambda_params.resize(before);
    return;
  }
  for (const auto& a : e.args)
    if (a) walk(*a, lambda_params, visit);
}

void walk(const Expr& e,
          const std::function<bool(const Expr&, const std::vector<std::string>&)>& visit) {
  std::vector<std::string> params;
  walk(e, params, visit);
}

bool is_lambda_param(const Expr& col, const std::vector<std::string>& params) {
  if (!col.qualifier.empty()) return false;
  for (const auto& p : params)
    if (p == col.name || iequals(p, col.name)) return true;
  return false;
}

void add_unique(std::vector<ExprPtr>& out, const ExprPtr& e) {
  for (const auto& x : out)
    if (same_expr(*x, *e)) return;
  out.push_back(e);
}

// The distinct calls in `e` of functions of `kind` (not descending into them).
void collect_calls(const ExprPtr& e, const FunctionRegistry& fns, FunctionDef::Kind kind,
                   std::vector<ExprPtr>& out) {
  std::function<void(const ExprPtr&)> rec = [&](const ExprPtr& x) {
    if (!x) return;
    if (x->kind == ExprKind::FunctionCall) {
      const FunctionDef* def = fns.find(x->name);
      if (def && def->kind == kind) {
        add_unique(out, x);
        return;
      }
    }
    for (const auto& a : x->args) rec(a);
  };
  rec(e);
}

void collect_aggregates(const ExprPtr& e, const FunctionRegistry& fns, std::vector<ExprPtr>& out) {
  collect_calls(e, fns, FunctionDef::Kind::Aggregate, out);
}

const Expr* first_aggregate(const Expr& e, const FunctionRegistry& fns) {
  const Expr* found = nullptr;
  walk(e, [&](const Expr& x, const std::vector<std::string>&) {
    if (found) return false;
    if (x.kind == ExprKind::FunctionCall && fns.is_aggregate(x.name)) {
      found = &x;
      return false;
    }
    return true;
  });
  return found;
}

std::string join_text(JoinType t) {
  switch (t) {
    case JoinType::Inner:
      return "[INNER] JOIN";
    case JoinType::Left:
      return "LEFT [OUTER] JOIN";
    case JoinType::Right:
      return "RIGHT [OUTER] JOIN";
    case JoinType::Full:
      return "[FULL] OUTER JOIN";
  }
  return "JOIN";
}

std::string schema_text(const std::vector<Column>& columns) {
  std::string out;
  auto add = [&](const Column& c) {
    if (!out.empty()) out += ", ";
    out += "`" + c.name + "` " + type_name(c.type) + (c.is_key ? " KEY" : "");
  };
  for (const auto& c : columns)
    if (c.is_key) add(c);
  for (const auto& c : columns)
    if (!c.is_key) add(c);
  return out;
}

class Analyzer {
 public:
  Analyzer(const Query& q, const Catalog& catalog, const FunctionRegistry& fns)
      : q_(q), catalog_(catalog), fns_(fns) {}

  QueryAnalysis run() {
    resolve_sources();
    build_scope();
    check_joins();
    check_where();
    check_grouping();
    expand_projection();
    check_having();
    check_aggregation();
    finish();
    return std::move(a_);
  }

 private:
  // ---- sources -------------------------------------------------------------

  void add_source(const Relation& r) {
    auto s = catalog_.resolve(r.name, r.loc);
    if (!s.ok()) throw AnalysisFailure{s.error()};
    AnalyzedSource src;
    src.info = s.value();
    src.qualifier = r.qualifier();
    src.loc = r.loc;
    for (const auto& existing : a_.sources) {
      if (existing.qualifier == src.qualifier)
        fail(r.loc,
             "N-way joins do not support multiple occurrences of the same source. Source: '" +
                 src.qualifier + "'. Use a distinct alias for each occurrence.");
    }
    a_.sources.push_back(src);
  }

  void resolve_sources() {
    add_source(q_.from);
    for (const Join& j : q_.joins) add_source(j.right);
  }

  void build_scope() {
    uint32_t slot = 0;
    for (AnalyzedSource& s : a_.sources) {
      s.first_column = slot;
      for (const Column& c : s.info->schema.columns)
        a_.scope.add(ScopeColumn{s.qualifier, c.name, c.type, Slot{Slot::Origin::Row, slot++},
                                 c.is_key, false});
      if (s.info->window) a_.windowed = true;
    }
    if (q_.window) {
      a_.windowed = true;
      a_.window = q_.window;
    }
    a_.scope.add_pseudo_columns(a_.windowed);
  }

  Expected<DataTypePtr> type_of(const ExprPtr& e, bool allow_aggregates,
                                const std::string& clause = "") {
    CompileOptions o;
    o.allow_aggregates = allow_aggregates;
    o.allow_table_functions = clause == "SELECT";  // refused later unless over a stream
    o.clause = clause;
    return ExpressionCompiler(a_.scope, fns_, o).infer_type(e);
  }

  // Index of the source a column reference belongs to; nullopt for pseudo
  // columns and lambda parameters.
  std::optional<size_t> source_of(const Expr& col) {
    auto c = a_.scope.find(col.qualifier, col.name);
    if (!c.ok() || c.value()->is_pseudo) return std::nullopt;
    for (size_t i = 0; i < a_.sources.size(); ++i)
      if (a_.sources[i].qualifier == c.value()->qualifier) return i;
    return std::nullopt;
  }

  std::set<size_t> sources_in(const Expr& e) {
    std::set<size_t> out;
    walk(e, [&](const Expr& x, const std::vector<std::string>& params) {
      if (x.kind == ExprKind::Column && !is_lambda_param(x, params)) {
        if (auto s = source_of(x)) out.insert(*s);
      }
      return true;
    });
    return out;
  }

  // "TEST_STREAM.ID1" for a column reference, qualified by its source.
  std::string qualified(const Expr& e) {
    if (e.kind == ExprKind::Column) {
      if (auto s = source_of(e))
        return quote_identifier(a_.sources[*s].qualifier) + "." + quote_identifier(e.name);
    }
    return to_sql(e);
  }

  // ---- joins ---------------------------------------------------------------

  void check_joins() {
    bool left_is_stream = a_.sources[0].info->is_stream();
    for (size_t i = 0; i < q_.joins.size(); ++i) {
      const Join& j = q_.joins[i];
      const size_t right = i + 1;
      const AnalyzedSource& rs = a_.sources[right];
      const std::string left_name = a_.sources[i].qualifier;
      const bool right_is_stream = rs.info->is_stream();
      const std::string got =
          "Got " + left_name + " " + join_text(j.type) + " " + rs.qualifier + ".";
      AnalyzedJoin aj;
      aj.type = j.type;
      aj.right = right;
      aj.within = j.within;
      if (!left_is_stream && right_is_stream)
        fail(j.loc,
             "Invalid join order: table-stream joins are not supported; only stream-table "
             "joins. " +
                 got);
      if (left_is_stream && right_is_stream) {
        aj.kind = AnalyzedJoin::Kind::StreamStream;
        if (!j.within)
          fail(j.loc,
               "Stream-Stream joins must have a WITHIN clause specified. None was provided.");
      } else if (left_is_stream) {
        aj.kind = AnalyzedJoin::Kind::StreamTable;
        if (j.type == JoinType::Full || j.type == JoinType::Right)
          fail(j.loc, std::string("Invalid join type: ") +
                          (j.type == JoinType::Full ? "full-outer" : "right") +
                          " join not supported for stream-table join. " + got);
        if (j.within)
          fail(j.within->loc,
               "A window definition was provided for a Stream-Table join. These joins are not "
               "windowed. Please drop the window definition (ie. the WITHIN clause) and try to "
               "execute your join again.");
      } else {
        aj.kind = AnalyzedJoin::Kind::TableTable;
        if (j.within)
          fail(j.within->loc,
               "A window definition was provided for a Table-Table join. These joins are not "
               "windowed. Please drop the window definition (ie. the WITHIN clause) and try to "
               "execute your join again.");
      }
      check_join_criteria(j, right, aj);
      if (aj.kind == AnalyzedJoin::Kind::TableTable) aj.foreign_key = !on_chain_key(aj);
      a_.joins.push_back(aj);
      left_is_stream = left_is_stream || right_is_stream;
    }
  }

  void check_join_criteria(const Join& j, size_t right, AnalyzedJoin& aj) {
    auto t = type_of(j.on, false);
    if (!t.ok()) fail_in(t.error(), "Error in ON expression: ");
    const Expr* on = j.on.get();
    if (on->kind != ExprKind::Binary || on->binary_op != BinaryOp::Eq)
      fail(on->loc, "Unsupported join expression: " + to_sql(*on) +
                        ". Only an equality between a column of each side is supported.");
    const ExprPtr& l = on->args[0];
    const ExprPtr& r = on->args[1];
    std::set<size_t> ls = sources_in(*l), rs = sources_in(*r);
    for (const auto& [side, set] : {std::pair<const Expr*, std::set<size_t>*>{l.get(), &ls},
                                    std::pair<const Expr*, std::set<size_t>*>{r.get(), &rs}}) {
      if (set->size() != 1)
        fail(side->loc, "Invalid comparison expression '" + to_sql(*side) + "' in join '" +
                            to_sql(*on) +
                            "'. Each side of the join comparision must contain references from "
                            "exactly one source.");
      if (*set->begin() > right)
        fail(side->loc, "Invalid join criteria " + to_sql(*on) + ": " + to_sql(*side) +
                            " refers to a source joined later");
    }
    size_t lsrc = *ls.begin(), rsrc = *rs.begin();
    if ((lsrc == right) == (rsrc == right))
      fail(on->loc, "Invalid join criteria " + to_sql(*on) +
                        ". Each side of the join comparison must refer to a different source, one "
                        "of them " +
                        a_.sources[right].qualifier + ".");
    aj.left_key = lsrc == right ? r : l;
    aj.right_key = lsrc == right ? l : r;
    const AnalyzedSource& rsrc_info = a_.sources[right];
    if (rsrc_info.info->is_table()) {
      bool on_key = false;
      if (aj.right_key->kind == ExprKind::Column) {
        auto c = a_.scope.find(aj.right_key->qualifier, aj.right_key->name);
        on_key = c.ok() && c.value()->is_key && rsrc_info.info->schema.key_columns().size() == 1;
      }
      aj.right_key_is_primary_key = on_key;
      if (!on_key) {
        std::string got = "Got " + qualified(*l) + " = " + qualified(*r) + ".";
        if (aj.kind == AnalyzedJoin::Kind::StreamTable)
          fail(on->loc,
               "Invalid join condition: stream-table joins require to join on the "
               "table's primary key. " +
                   got);
        fail(on->loc,
             "Invalid join condition: table-table joins require to join on the primary "
             "key of the right input table. " +
                 got);
      }
    }
  }

  // ---- clauses -------------------------------------------------------------

  void require_boolean(const ExprPtr& e, const char* clause, bool allow_aggregates) {
    auto t = type_of(e, allow_aggregates);
    if (!t.ok()) fail_in(t.error(), std::string("Error in ") + clause + " expression: ");
    if (!is_null_type(t.value()) && t.value()->kind != TypeKind::Boolean)
      fail(e->loc, std::string("Type error in ") + clause +
                       " expression: Should evaluate to boolean but is " + to_sql(*e) + " (" +
                       type_name(t.value()) + ") instead.");
  }

  Expected<DataTypePtr> subquery_typed(const ExprPtr& e) {
    auto scope = scope_with_subquery_types(e, a_.scope, catalog_, fns_);
    if (!scope.ok()) return scope.error();
    CompileOptions o;
    o.clause = "SELECT";
    return ExpressionCompiler(scope.value(), fns_, o).infer_type(e);
  }

  void check_where() {
    if (!q_.where) return;
    if (const Expr* agg = first_aggregate(*q_.where, fns_))
      fail(agg->loc, "WHERE clause can not contain aggregate functions: " + to_sql(*agg));
    if (find_subqueries(q_.where).empty()) {
      require_boolean(q_.where, "WHERE", false);
      return;
    }
    // Subqueries: typed by their plans (sql/subquery.hpp).
    auto scope = scope_with_subquery_types(q_.where, a_.scope, catalog_, fns_);
    if (!scope.ok()) throw AnalysisFailure{scope.error()};
    CompileOptions o;
    o.allow_aggregates = false;
    auto t = ExpressionCompiler(scope.value(), fns_, o).infer_type(q_.where);
    if (!t.ok()) fail_in(t.error(), "Error in WHERE expression: ");
    if (!is_null_type(t.value()) && t.value()->kind != TypeKind::Boolean)
      fail(q_.where->loc, "Type error in WHERE expression: Should evaluate to boolean but is " +
                              to_sql(*q_.where) + " (" + type_name(t.value()) + ") instead.");
  }

  void check_grouping() {
    for (size_t i = 0; i < q_.group_by.size(); ++i) {
      const ExprPtr& g = q_.group_by[i];
      if (const Expr* agg = first_aggregate(*g, fns_))
        fail(agg->loc, "GROUP BY does not support aggregate functions: " + agg->name +
                           " is an aggregate function.");
      auto t = type_of(g, false);
      if (!t.ok()) fail_in(t.error(), "Error in GROUP BY expression: ");
      for (size_t k = 0; k < i; ++k)
        if (same_expr(*q_.group_by[k], *g))
          fail(g->loc, "Duplicate GROUP BY expression: " + qualified(*g));
    }
    for (const ExprPtr& p : q_.partition_by) {
      if (const Expr* agg = first_aggregate(*p, fns_))
        fail(agg->loc, "PARTITION BY does not support aggregate functions: " + agg->name +
                           " is an aggregate function.");
      auto t = type_of(p, false);
      if (!t.ok()) fail_in(t.error(), "Error in PARTITION BY expression: ");
    }
    if (!q_.partition_by.empty() && !q_.group_by.empty())
      fail(q_.partition_by[0]->loc, "PARTITION BY and GROUP BY cannot be used in the same query.");
  }

  std::string generated_name(std::set<std::string>& used) {
    for (;;) {
      std::string n = "KSQL_COL_" + std::to_string(next_generated_++);
      if (!used.count(n)) return n;
    }
  }

  void expand_projection() {
    // Names given explicitly or by a column come first, so generated names
    // skip them.
    std::set<std::string> used = explicit_output_names(q_.select);
    const bool join = a_.sources.size() > 1;
    std::set<size_t> named_by_column;  // projection entries named after a column reference
    std::vector<std::pair<size_t, std::string>> renamed;
    // `*` lists the key columns first; re-keyed by PARTITION BY, the old key
    // columns move into the value, after the value columns (as in ksqlDB).
    const bool keys_last = !join && !q_.partition_by.empty();
    auto add_source_columns = [&](const AnalyzedSource& s, SourceLocation loc) {
      std::vector<const Column*> ordered;
      for (bool keys : {!keys_last, keys_last})
        for (const Column& c : s.info->schema.columns)
          if (c.is_key == keys) ordered.push_back(&c);
      for (const Column* c : ordered) {
        OutputColumn out;
        out.name = join ? s.qualifier + "_" + c->name : c->name;
        out.type = c->type;
        // Qualified only where another source could claim the name.
        out.expr = ast::column(c->name, join ? s.qualifier : std::string(), loc);
        out.loc = loc;
        a_.projection.push_back(std::move(out));
      }
    };
    for (const SelectItem& item : q_.select) {
      switch (item.kind) {
        case SelectItem::Kind::AllColumns:
          for (const AnalyzedSource& s : a_.sources) add_source_columns(s, item.loc);
          break;
        case SelectItem::Kind::SourceColumns: {
          const AnalyzedSource* found = nullptr;
          for (const AnalyzedSource& s : a_.sources)
            if (s.qualifier == item.source || iequals(s.qualifier, item.source)) found = &s;
          if (!found) fail(item.loc, "Source '" + item.source + "' is not part of this query.");
          add_source_columns(*found, item.loc);
          break;
        }
        case SelectItem::Kind::Expression: {
          // Subqueries in the SELECT are typed by their plans, as in WHERE.
          auto t = find_subqueries(item.expr).empty() ? type_of(item.expr, true, "SELECT")
                                                       : subquery_typed(item.expr);
          if (!t.ok()) throw AnalysisFailure{t.error()};
          if (is_null_type(t.value()))
            fail(item.expr->loc,
                 "Can't infer a type of null. Please explicitly cast it to a required type, e.g. "
                 "CAST(null AS VARCHAR).");
          OutputColumn out;
          out.type = t.value();
          out.expr = item.expr;
          out.loc = item.loc;
          if (!item.alias.empty()) {
            out.name = item.alias;
          } else if (item.expr->kind == ExprKind::Column ||
                     item.expr->kind == ExprKind::Dereference) {
            out.name = item.expr->name;
            if (item.expr->kind == ExprKind::Column) named_by_column.insert(a_.projection.size());
          } else {
            out.name = generated_name(used);
          }
          collect_aggregates(item.expr, fns_, a_.aggregate_calls);
          collect_calls(item.expr, fns_, FunctionDef::Kind::Table, a_.table_function_calls);
          a_.projection.push_back(std::move(out));
          break;
        }
      }
    }
    // In a join, columns named after a column that two sources share (L.K,
    // R.K) are told apart by their source: L_K, R_K.
    // So are columns named after a column that several joined sources
    // have, even when only one is selected (ksqlDB: `SELECT R.K` is R_K).
    if (join) {
      for (size_t i : named_by_column) {
        size_t same = 0;
        for (const auto& c : a_.projection) same += c.name == a_.projection[i].name ? 1 : 0;
        size_t sources_with = 0;
        for (const AnalyzedSource& s : a_.sources)
          sources_with += s.info->schema.index_of(a_.projection[i].expr->name) ? 1 : 0;
        if (same < 2 && sources_with < 2) continue;
        if (auto src = source_of(*a_.projection[i].expr))
          renamed.emplace_back(i, a_.sources[*src].qualifier + "_" + a_.projection[i].expr->name);
      }
      for (const auto& [i, name] : renamed) a_.projection[i].name = name;
    }
    for (size_t i = 0; i < a_.projection.size(); ++i)
      for (size_t k = 0; k < i; ++k)
        if (a_.projection[k].name == a_.projection[i].name)
          fail(a_.projection[i].loc, "Duplicate column name in the projection: " +
                                         quote_identifier(a_.projection[i].name) + " " +
                                         type_name(a_.projection[i].type));
  }

  void check_having() {
    if (!q_.having) return;
    if (q_.group_by.empty()) fail(q_.having->loc, "HAVING clause requires a GROUP BY clause.");
    if (find_subqueries(q_.having).empty()) {
      require_boolean(q_.having, "HAVING", true);
    } else {  // typed by their plans, as in WHERE
      auto scope = scope_with_subquery_types(q_.having, a_.scope, catalog_, fns_);
      if (!scope.ok()) throw AnalysisFailure{scope.error()};
      auto t = ExpressionCompiler(scope.value(), fns_).infer_type(q_.having);
      if (!t.ok()) fail_in(t.error(), "Error in HAVING expression: ");
      if (!is_null_type(t.value()) && t.value()->kind != TypeKind::Boolean)
        fail(q_.having->loc, "Type error in HAVING expression: Should evaluate to boolean but is " +
                                 to_sql(*q_.having) + " (" + type_name(t.value()) + ") instead.");
    }
    collect_aggregates(q_.having, fns_, a_.aggregate_calls);
  }

  // The same expression, or references to one column of the scope however
  // qualified (`A` and `L.A` in a join).
  bool same_column_or_expr(const Expr& a, const Expr& b) const {
    if (same_expr(a, b)) return true;
    if (a.kind != ExprKind::Column || b.kind != ExprKind::Column) return false;
    auto ca = a_.scope.find(a.qualifier, a.name);
    auto cb = a_.scope.find(b.qualifier, b.name);
    return ca.ok() && cb.ok() && ca.value() == cb.value();
  }

  bool is_group_expr(const Expr& e) const {
    for (const auto& g : q_.group_by)
      if (same_expr(*g, e)) return true;
    return false;
  }

  // Column references in `e` that are neither inside a GROUP BY expression
  // nor inside an aggregate call.
  std::vector<const Expr*> ungrouped_columns(const Expr& e) {
    std::vector<const Expr*> out;
    walk(e, [&](const Expr& x, const std::vector<std::string>& params) {
      if (is_group_expr(x)) return false;
      if (x.kind == ExprKind::FunctionCall && fns_.is_aggregate(x.name)) return false;
      if (x.kind == ExprKind::Column && !is_lambda_param(x, params)) {
        auto c = a_.scope.find(x.qualifier, x.name);
        bool window_bound = c.ok() && c.value()->is_pseudo &&
                            (c.value()->slot.origin == Slot::Origin::WindowStart ||
                             c.value()->slot.origin == Slot::Origin::WindowEnd);
        if (!window_bound) out.push_back(&x);
      }
      return true;
    });
    return out;
  }

  // ksqlDB runs table functions over a stream only; an aggregation of
  // their rows is not supported yet.
  void check_table_functions() {
    if (a_.table_function_calls.empty()) return;
    const SourceLocation at = a_.table_function_calls[0]->loc;
    if (a_.sources[0].info->is_table())
      fail(at, "Table source is not supported with table functions");
    if (!q_.group_by.empty() || !a_.aggregate_calls.empty())
      fail(at,
           "not supported yet: table functions in an aggregation (GROUP BY or aggregate "
           "functions)");
  }

  void check_aggregation() {
    check_table_functions();
    a_.aggregate = !q_.group_by.empty() || !a_.aggregate_calls.empty();
    if (q_.window) {
      const WindowSpec& w = *q_.window;
      if (w.size_ms <= 0)
        fail(w.loc, w.type == WindowType::Session ? "Session window gap must be greater than zero."
                                                  : "Window size must be greater than zero.");
      if (w.type == WindowType::Hopping && (w.advance_ms <= 0 || w.advance_ms > w.size_ms))
        fail(w.loc,
             "Window advancement interval should be more than zero and less than window "
             "duration.");
    }
    if (q_.window && q_.group_by.empty())
      fail(q_.window->loc, "WINDOW clause requires a GROUP BY clause.");
    if (q_.emit == EmitMode::Final && !(q_.window && a_.aggregate))
      fail(q_.loc, "EMIT FINAL is only supported for windowed aggregations.");
    if (!a_.aggregate) return;
    if (q_.group_by.empty()) {
      std::string list;
      for (const auto& c : a_.aggregate_calls) list += (list.empty() ? "" : ", ") + to_sql(*c);
      fail(a_.aggregate_calls[0]->loc,
           "Aggregate functions [" + list + "] require a GROUP BY clause.");
    }
    if (a_.aggregate_calls.empty())
      fail(q_.group_by[0]->loc,
           "GROUP BY requires aggregate functions in either the SELECT or HAVING clause.");
    std::string bad;
    SourceLocation bad_loc;
    for (const OutputColumn& c : a_.projection) {
      if (!ungrouped_columns(*c.expr).empty()) {
        if (bad.empty()) bad_loc = c.loc;
        bad += (bad.empty() ? "" : ", ") + to_sql(*c.expr);
      }
    }
    if (!bad.empty())
      fail(bad_loc, "Non-aggregate SELECT expression(s) not part of GROUP BY: " + bad);
    if (q_.having) {
      auto cols = ungrouped_columns(*q_.having);
      if (!cols.empty()) {
        std::string list;
        for (const Expr* c : cols) list += (list.empty() ? "" : ", ") + to_sql(*c);
        fail(cols[0]->loc, "Non-aggregate HAVING expression not part of GROUP BY: " + list);
      }
    }
  }

  void finish() {
    bool any_stream = false;
    for (const auto& s : a_.sources) any_stream = any_stream || s.info->is_stream();
    a_.result_type = (a_.aggregate || !any_stream) ? SourceType::Table : SourceType::Stream;
    // Table-table joins with a foreign-key step: per source, whether its key
    // is the result's (empty otherwise).
    bool foreign = false;
    for (const AnalyzedJoin& j : a_.joins) foreign = foreign || j.foreign_key;
    const std::vector<bool> fk_keyed = foreign ? chain_keyed_sources(a_) : std::vector<bool>{};
    bool fk_key_taken = false;
    for (OutputColumn& c : a_.projection) {
      if (!q_.group_by.empty()) {
        c.is_key = is_group_expr(*c.expr);
      } else if (!q_.partition_by.empty()) {
        for (const auto& p : q_.partition_by)
          if (same_column_or_expr(*p, *c.expr)) c.is_key = true;
      } else if (a_.sources.size() == 1 && c.expr->kind == ExprKind::Column) {
        auto col = a_.scope.find(c.expr->qualifier, c.expr->name);
        c.is_key = col.ok() && col.value()->is_key;
      } else if (!fk_keyed.empty()) {
        // Table-table joins with a foreign-key step: keyed by the first
        // table's key, which the tables joined on it share; the first such
        // column selected is the key column.
        if (c.expr->kind == ExprKind::Column && !fk_key_taken) {
          auto col = a_.scope.find(c.expr->qualifier, c.expr->name);
          if (col.ok() && col.value()->is_key)
            for (size_t s = 0; s < a_.sources.size(); ++s)
              if (fk_keyed[s] && a_.sources[s].qualifier == col.value()->qualifier)
                c.is_key = fk_key_taken = true;
        }
      } else if (!a_.joins.empty()) {
        // Keyed by the last join's ON expression (rows are re-keyed join
        // by join); a RIGHT join by its right side's.
        const AnalyzedJoin& j = a_.joins.back();
        if (same_expr(j.type == JoinType::Right ? *j.right_key : *j.left_key, *c.expr))
          c.is_key = true;
      }
    }
    // A join whose own side's ON column is not selected is keyed by the other
    // side's, when that is (ksqlDB: either join expression may be the key;
    // `SELECT U.ID AS ID ... FROM O LEFT JOIN U ON O.ID = U.ID`).
    // (A multi-way table-table join picks among all its ON columns below.)
    bool multi_way_tables = a_.joins.size() > 1;
    for (const AnalyzedJoin& j : a_.joins)
      multi_way_tables = multi_way_tables && j.kind == AnalyzedJoin::Kind::TableTable;
    if (!a_.joins.empty() && !multi_way_tables && q_.group_by.empty() && q_.partition_by.empty() &&
        fk_keyed.empty()) {
      bool keyed = false;
      for (const OutputColumn& c : a_.projection) keyed = keyed || c.is_key;
      const AnalyzedJoin& j = a_.joins.back();
      const Expr& other = j.type == JoinType::Right ? *j.left_key : *j.right_key;
      for (OutputColumn& c : a_.projection)
        if (!keyed && same_expr(other, *c.expr)) keyed = c.is_key = true;
    }
    add_implicit_partition_keys();
    // Several GROUP BY expressions: the key's columns come in GROUP BY order
    // (ksqlDB), whatever their order in the projection; the value columns
    // keep their places.
    if (q_.group_by.size() > 1) {
      auto group_index = [&](const Expr& e) {
        for (size_t g = 0; g < q_.group_by.size(); ++g)
          if (same_expr(*q_.group_by[g], e)) return g;
        return q_.group_by.size();
      };
      std::vector<size_t> slots;
      std::vector<OutputColumn> keys;
      for (size_t i = 0; i < a_.projection.size(); ++i)
        if (a_.projection[i].is_key) {
          slots.push_back(i);
          keys.push_back(a_.projection[i]);
        }
      std::stable_sort(keys.begin(), keys.end(), [&](const OutputColumn& x, const OutputColumn& y) {
        return group_index(*x.expr) < group_index(*y.expr);
      });
      for (size_t k = 0; k < slots.size(); ++k) a_.projection[slots[k]] = std::move(keys[k]);
    }
    // A multi-way table-table join: every ON compares primary keys, so each
    // of them is the result's key; the first one selected is its column.
    bool tables_only =
        a_.joins.size() > 1 && q_.group_by.empty() && q_.partition_by.empty() && fk_keyed.empty();
    for (const AnalyzedJoin& j : a_.joins)
      tables_only = tables_only && j.kind == AnalyzedJoin::Kind::TableTable;
    if (!tables_only) return;
    for (const OutputColumn& c : a_.projection)
      if (c.is_key) return;
    for (OutputColumn& c : a_.projection) {
      for (const AnalyzedJoin& j : a_.joins)
        if (same_expr(*j.left_key, *c.expr) || same_expr(*j.right_key, *c.expr)) c.is_key = true;
      if (c.is_key) return;
    }
  }

  // `SELECT *` re-keyed by several PARTITION BY expressions: those `*`
  // does not list (ROWTIME, an expression) become key columns too, named
  // after their column or generated (KSQL_COL_n), as in ksqlDB. One
  // expression needs no column: the key is its value.
  void add_implicit_partition_keys() {
    if (q_.partition_by.size() < 2) return;
    bool star = false;
    for (const SelectItem& item : q_.select)
      star = star || item.kind != SelectItem::Kind::Expression;
    if (!star) return;
    std::set<std::string> used;
    for (const OutputColumn& c : a_.projection) used.insert(c.name);
    for (const ExprPtr& p : q_.partition_by) {
      bool listed = false;
      for (const OutputColumn& c : a_.projection)
        listed = listed || (c.is_key && same_column_or_expr(*p, *c.expr));
      if (listed) continue;
      OutputColumn out;
      out.name =
          p->kind == ExprKind::Column && !used.count(p->name) ? p->name : generated_name(used);
      used.insert(out.name);
      auto t = type_of(p, false);
      if (!t.ok()) fail_in(t.error(), "Error in PARTITION BY expression: ");
      out.type = t.value();
      out.expr = p;
      out.loc = p->loc;
      out.is_key = true;
      out.implicit_key = true;
      a_.projection.push_back(std::move(out));
    }
  }

  // Whether a table-table step's ON names the key column of a table whose
  // key is the chain's (the first table's; sources before `j.right`).
  bool on_chain_key(const AnalyzedJoin& j) const {
    const Expr& k = *j.left_key;
    if (k.kind != ExprKind::Column) return false;
    auto col = a_.scope.find(k.qualifier, k.name);
    if (!col.ok() || !col.value()->is_key) return false;
    const std::vector<bool> keyed = chain_keyed_sources(a_);
    for (size_t s = 0; s < j.right && s < a_.sources.size(); ++s)
      if (a_.sources[s].qualifier == col.value()->qualifier)
        return keyed[s] && a_.sources[s].info->schema.key_columns().size() == 1;
    return false;
  }

  const Query& q_;
  const Catalog& catalog_;
  const FunctionRegistry& fns_;
  QueryAnalysis a_;
  int next_generated_ = 0;
};

}  // namespace

std::vector<bool> chain_keyed_sources(const QueryAnalysis& a) {
  std::vector<bool> keyed(a.sources.size(), false);
  if (!keyed.empty()) keyed[0] = true;
  for (const AnalyzedJoin& j : a.joins)
    if (j.kind == AnalyzedJoin::Kind::TableTable && !j.foreign_key && j.right < keyed.size())
      keyed[j.right] = true;
  return keyed;
}

std::set<std::string> explicit_output_names(const std::vector<SelectItem>& select) {
  std::set<std::string> used;
  for (const SelectItem& item : select) {
    if (item.kind != SelectItem::Kind::Expression) continue;
    if (!item.alias.empty())
      used.insert(item.alias);
    else if (item.expr->kind == ExprKind::Column || item.expr->kind == ExprKind::Dereference)
      used.insert(item.expr->name);
  }
  return used;
}

Expected<QueryAnalysis> analyze_query(const Query& q, const Catalog& catalog,
                                      const FunctionRegistry& functions) {
  try {
    return Analyzer(q, catalog, functions).run();
  } catch (AnalysisFailure& f) {
    return std::move(f.error);
  }
}

Expected<SourceInfo> describe_create_as(const CreateAsSelect& c, const QueryAnalysis& a,
                                        const std::string& statement, bool push) {
  if (c.type == SourceType::Stream && a.result_type == SourceType::Table)
    return sql_error(c.name_loc,
                     "Invalid result type. Your SELECT query produces a TABLE. Please "
                     "use CREATE TABLE AS SELECT statement instead.");
  if (c.type == SourceType::Table && a.result_type == SourceType::Stream)
    return sql_error(c.name_loc,
                     "Invalid result type. Your SELECT query produces a STREAM. Please "
                     "use CREATE STREAM AS SELECT statement instead.");
  SourceInfo info;
  info.name = c.name;
  info.type = c.type;
  info.properties = c.properties;
  info.statement = statement;
  bool any_value = false;
  for (const OutputColumn& col : a.projection) {
    if (is_reserved_column_name(col.name) && !col.implicit_key && !push)
      return sql_error(col.loc.known() ? col.loc : c.name_loc,
                       quote_identifier(col.name) +
                           " is a reserved column name. You cannot use it "
                           "as an alias for a column.");
    info.schema.columns.push_back(Column{col.name, col.type, col.is_key});
    any_value = any_value || !col.is_key;
  }
  if (!any_value && !push)  // a push query writes no topic: its keys alone are rows
    return sql_error(c.name_loc, "The projection contains no value columns.");
  const SourceInfo* first = a.sources.empty() ? nullptr : a.sources[0].info;
  const Properties& p = c.properties;
  info.topic = p.text("KAFKA_TOPIC").value_or(c.name);
  if (first) {
    info.key_format = first->key_format;
    info.value_format = first->value_format;
    info.partitions = first->partitions;
  }
  if (auto f = p.text("FORMAT")) info.key_format = info.value_format = to_upper(*f);
  if (auto f = p.text("VALUE_FORMAT")) info.value_format = to_upper(*f);
  if (auto f = p.text("KEY_FORMAT")) info.key_format = to_upper(*f);
  if (const Property* kf = p.find("KEY_FORMAT");
      kf && c.type == SourceType::Stream && info.schema.key_columns().empty())
    return sql_error(kf->loc, "Key format specified for stream without key columns.");
  if (const Property* parts = p.find("PARTITIONS")) {
    if (parts->value.kind() != TypeKind::Int || parts->value.as_int32() <= 0)
      return sql_error(parts->loc, "Invalid value for PARTITIONS: must be a positive integer");
    info.partitions = parts->value.as_int32();
  }
  if (auto ts = p.text("TIMESTAMP")) {
    auto idx = info.schema.index_of(to_upper(*ts));
    if (!idx)
      return sql_error(
          p.find("TIMESTAMP")->loc,
          "The TIMESTAMP column set in the WITH clause does not exist in the schema: '" +
              to_upper(*ts) + "'");
    info.timestamp_column = info.schema.columns[*idx].name;
    info.timestamp_format = p.text("TIMESTAMP_FORMAT");
  }
  if (a.window && a.aggregate) {
    info.window = a.window->type;
    if (a.window->type != WindowType::Session) info.window_size_ms = a.window->size_ms;
  } else if (a.sources.size() == 1 && a.sources[0].info->window) {
    // A stream or table read from a windowed source stays windowed.
    info.window = a.sources[0].info->window;
    info.window_size_ms = a.sources[0].info->window_size_ms;
  }
  return info;
}

Expected<const SourceInfo*> check_insert_into(const InsertInto& i, const QueryAnalysis& a,
                                              const Catalog& catalog) {
  auto target = catalog.resolve(i.target, i.target_loc);
  if (!target.ok()) return target.error();
  const SourceInfo* t = target.value();
  if (t->is_table())
    return sql_error(i.target_loc, "INSERT INTO can only be used to insert into a stream. " +
                                       t->name + " is a table.");
  if (t->read_only)  // CREATE SOURCE STREAM
    return sql_error(i.target_loc, "Cannot insert into read-only stream: " + t->name);
  std::vector<Column> result;
  for (const OutputColumn& c : a.projection) result.push_back(Column{c.name, c.type, c.is_key});
  // Column types must match, except that a number may widen into the sink's
  // type (INT into BIGINT or DECIMAL, ...): ksqlDB casts those implicitly.
  auto assignable = [](const DataTypePtr& from, const DataTypePtr& to) {
    if (*from == *to) return true;
    return is_numeric(*from) && is_numeric(*to) &&
           numeric_rank(to->kind) >= numeric_rank(from->kind);
  };
  bool same = result.size() == t->schema.columns.size();
  if (same) {
    for (const Column& rc : result) {
      auto idx = t->schema.index_of(rc.name);
      if (!idx || t->schema.columns[*idx].name != rc.name ||
          !assignable(rc.type, t->schema.columns[*idx].type) ||
          t->schema.columns[*idx].is_key != rc.is_key) {
        same = false;
        break;
      }
    }
  }
  if (!same)
    return sql_error(i.target_loc,
                     "Incompatible schema between results and sink. Result schema is " +
                         schema_text(result) + " Sink schema is " + schema_text(t->schema.columns));
  return t;
}

}  // namespace rivulet::sql
