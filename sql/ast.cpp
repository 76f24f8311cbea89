#include "sql/ast.hpp"

#include <algorithm>
#include <cctype>
#include <unordered_set>

#include "sql/text.hpp"
#include "sql/types.hpp"

namespace rivulet::sql {

bool is_comparison(BinaryOp op) {
  return op >= BinaryOp::Eq && op <= BinaryOp::Gte;
}
bool is_arithmetic(BinaryOp op) {
  return op <= BinaryOp::Modulo;
}
bool is_logical(BinaryOp op) {
  return op == BinaryOp::And || op == BinaryOp::Or;
}

const char* binary_op_symbol(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add:
      return "+";
    case BinaryOp::Subtract:
      return "-";
    case BinaryOp::Multiply:
      return "*";
    case BinaryOp::Divide:
      return "/";
    case BinaryOp::Modulo:
      return "%";
    case BinaryOp::Concat:
      return "||";
    case BinaryOp::Eq:
      return "=";
    case BinaryOp::Neq:
      return "<>";
    case BinaryOp::Lt:
      return "<";
    case BinaryOp::Lte:
      return "<=";
    case BinaryOp::Gt:
      return ">";
    case BinaryOp::Gte:
      return ">=";
    case BinaryOp::And:
      return "AND";
    case BinaryOp::Or:
      return "OR";
  }
  return "?";
}

const char* comparison_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Eq:
      return "EQUAL";
    case BinaryOp::Neq:
      return "NOT_EQUAL";
    case BinaryOp::Lt:
      return "LESS_THAN";
    case BinaryOp::Lte:
      return "LESS_THAN_OR_EQUAL";
    case BinaryOp::Gt:
      return "GREATER_THAN";
    case BinaryOp::Gte:
      return "GREATER_THAN_OR_EQUAL";
    default:
      return binary_op_symbol(op);
  }
}

const char* join_type_name(JoinType t) {
  switch (t) {
    case JoinType::Inner:
      return "INNER";
    case JoinType::Left:
      return "LEFT";
    case JoinType::Right:
      return "RIGHT";
    case JoinType::Full:
      return "FULL";
  }
  return "?";
}

const char* window_type_name(WindowType t) {
  switch (t) {
    case WindowType::Tumbling:
      return "TUMBLING";
    case WindowType::Hopping:
      return "HOPPING";
    case WindowType::Session:
      return "SESSION";
  }
  return "?";
}

const char* source_type_name(SourceType t) {
  return t == SourceType::Stream ? "STREAM" : "TABLE";
}

namespace ast {

namespace {

// The height of the tallest expression in a query (0 for none).
int query_height(const Query& q) {
  int h = 0;
  auto add = [&h](const ExprPtr& e) {
    if (e) h = std::max(h, e->height);
  };
  for (const auto& item : q.select) add(item.expr);
  for (const auto& j : q.joins) add(j.on);
  add(q.where);
  for (const auto& g : q.group_by) add(g);
  for (const auto& p : q.partition_by) add(p);
  add(q.having);
  return h;
}

}  // namespace

ExprPtr make(Expr e) {
  int h = e.subquery ? query_height(*e.subquery) : 0;
  for (const auto& a : e.args)
    if (a) h = std::max(h, a->height);
  e.height = h + 1;
  return std::make_shared<const Expr>(std::move(e));
}

ExprPtr literal(Value v, SourceLocation loc) {
  Expr e;
  e.kind = ExprKind::Literal;
  e.value = std::move(v);
  e.loc = loc;
  return make(std::move(e));
}

ExprPtr column(std::string name, std::string qualifier, SourceLocation loc) {
  Expr e;
  e.kind = ExprKind::Column;
  e.name = std::move(name);
  e.qualifier = std::move(qualifier);
  e.loc = loc;
  return make(std::move(e));
}

ExprPtr unary(UnaryOp op, ExprPtr operand, SourceLocation loc) {
  Expr e;
  e.kind = ExprKind::Unary;
  e.unary_op = op;
  e.args.push_back(std::move(operand));
  e.loc = loc;
  return make(std::move(e));
}

ExprPtr binary(BinaryOp op, ExprPtr left, ExprPtr right, SourceLocation loc) {
  Expr e;
  e.kind = ExprKind::Binary;
  e.binary_op = op;
  e.args.push_back(std::move(left));
  e.args.push_back(std::move(right));
  e.loc = loc;
  return make(std::move(e));
}

ExprPtr call(std::string name, std::vector<ExprPtr> args, SourceLocation loc) {
  Expr e;
  e.kind = ExprKind::FunctionCall;
  e.name = to_upper(name);
  e.args = std::move(args);
  e.loc = loc;
  return make(std::move(e));
}

}  // namespace ast

namespace {

bool same_type(const DataTypePtr& a, const DataTypePtr& b) {
  if (!a || !b) return a == b;
  return *a == *b;
}

bool same_literal(const Value& a, const Value& b) {
  // Literals of different kinds are different expressions (1 vs 1.0).
  return a.kind() == b.kind() && a == b;
}

}  // namespace

bool same_expr(const Expr& a, const Expr& b) {
  if (a.kind != b.kind || a.args.size() != b.args.size()) return false;
  switch (a.kind) {
    case ExprKind::Literal:
      if (!same_literal(a.value, b.value)) return false;
      break;
    case ExprKind::Column:
      if (a.name != b.name || a.qualifier != b.qualifier) return false;
      break;
    case ExprKind::Dereference:
    case ExprKind::FunctionCall:
    case ExprKind::TimeUnit:
      if (a.name != b.name || a.star != b.star) return false;
      break;
    case ExprKind::Unary:
      if (a.unary_op != b.unary_op) return false;
      break;
    case ExprKind::Binary:
      if (a.binary_op != b.binary_op) return false;
      break;
    case ExprKind::Like:
      if (a.escape != b.escape || a.negated != b.negated) return false;
      break;
    case ExprKind::Between:
    case ExprKind::InList:
    case ExprKind::IsNull:
    case ExprKind::IsDistinctFrom:
      if (a.negated != b.negated) return false;
      break;
    case ExprKind::InSubquery:
    case ExprKind::Exists:
    case ExprKind::ScalarSubquery:
      if (a.negated != b.negated) return false;
      if (a.subquery != b.subquery &&
          (!a.subquery || !b.subquery || to_sql(*a.subquery) != to_sql(*b.subquery)))
        return false;
      break;
    case ExprKind::Case:
      if (a.has_operand != b.has_operand || a.has_else != b.has_else) return false;
      break;
    case ExprKind::Cast:
      if (!same_type(a.type, b.type)) return false;
      break;
    case ExprKind::StructConstructor:
    case ExprKind::Lambda:
      if (a.names != b.names) return false;
      break;
    case ExprKind::ArrayConstructor:
    case ExprKind::MapConstructor:
    case ExprKind::Subscript:
      break;
  }
  for (size_t i = 0; i < a.args.size(); ++i) {
    if (!a.args[i] || !b.args[i]) {
      if (a.args[i] != b.args[i]) return false;
      continue;
    }
    if (!same_expr(*a.args[i], *b.args[i])) return false;
  }
  return true;
}

bool is_reserved_word(std::string_view upper) {
  static const std::unordered_set<std::string_view> kReserved = {
      "SELECT",      "FROM",         "AS",       "ALL",     "DISTINCT",  "WHERE",
      "WITHIN",      "WINDOW",       "GROUP",    "BY",      "HAVING",    "LIMIT",
      "AT",          "OR",           "AND",      "IN",      "NOT",       "EXISTS",
      "BETWEEN",     "LIKE",         "IS",       "NULL",    "TRUE",      "FALSE",
      "MILLISECOND", "YEARS",        "MONTHS",   "DAYS",    "HOURS",     "MINUTES",
      "SECONDS",     "MILLISECONDS", "TUMBLING", "HOPPING", "SIZE",      "ADVANCE",
      "RETENTION",   "CASE",         "WHEN",     "THEN",    "ELSE",      "END",
      "JOIN",        "FULL",         "OUTER",    "INNER",   "LEFT",      "RIGHT",
      "ON",          "WITH",         "VALUES",   "CREATE",  "TABLE",     "TOPIC",
      "STREAM",      "STREAMS",      "INSERT",   "DELETE",  "INTO",      "DESCRIBE",
      "EXTENDED",    "PRINT",        "CAST",     "LIST",    "TOPICS",    "QUERY",
      "QUERIES",     "TERMINATE",    "LOAD",     "DROP",    "TO",        "RENAME",
      "UNSET",       "RUN",          "SCRIPT",   "DECIMAL", "CONNECTOR", "CONNECTORS",
      "NAMESPACE",   "MATERIALIZED", "VIEW",     "SAMPLE",  "EXPORT",    "CATALOG",
      "PROPERTIES",  "BEGINNING",
  };
  return kReserved.count(upper) > 0;
}

std::string quote_identifier(const std::string& name) {
  bool plain = !name.empty() && ((name[0] >= 'A' && name[0] <= 'Z') || name[0] == '_');
  for (char c : name) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '@')) {
      plain = false;
      break;
    }
  }
  if (plain && !is_reserved_word(name)) return name;
  std::string out = "`";
  for (char c : name) {
    out.push_back(c);
    if (c == '`') out.push_back('`');
  }
  out.push_back('`');
  return out;
}

namespace {

std::string quote_string(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out.push_back(c);
    if (c == '\'') out.push_back('\'');
  }
  out.push_back('\'');
  return out;
}

std::string literal_sql(const Value& v) {
  switch (v.kind()) {
    case TypeKind::Null:
      return "null";
    case TypeKind::Boolean:
      return v.as_bool() ? "true" : "false";
    case TypeKind::Int:
      return std::to_string(v.as_int32());
    case TypeKind::BigInt:
      return std::to_string(v.as_int64());
    case TypeKind::Double: {
      // With an exponent, so the text reads back as a DOUBLE, not a DECIMAL.
      std::string s = java_double_string(v.as_double());
      if (s.find('E') == std::string::npos && s.find('N') == std::string::npos) s += "E0";
      return s;
    }
    case TypeKind::Decimal: {
      // A point even at scale 0, so the text reads back as a DECIMAL.
      std::string s = v.as_decimal().to_string();
      if (s.find('.') == std::string::npos) s += ".";
      return s;
    }
    case TypeKind::String:
      return quote_string(v.as_string());
    default:
      return v.to_string();
  }
}

void join_args(std::string& out, const std::vector<ExprPtr>& args, size_t from, size_t to) {
  for (size_t i = from; i < to; ++i) {
    if (i > from) out += ", ";
    out += to_sql(*args[i]);
  }
}

}  // namespace

std::string to_sql(const Expr& e) {
  switch (e.kind) {
    case ExprKind::Literal:
      return literal_sql(e.value);
    case ExprKind::Column:
      return e.qualifier.empty() ? quote_identifier(e.name)
                                 : quote_identifier(e.qualifier) + "." + quote_identifier(e.name);
    case ExprKind::Dereference:
      return to_sql(*e.args[0]) + "->" + quote_identifier(e.name);
    case ExprKind::Subscript:
      return to_sql(*e.args[0]) + "[" + to_sql(*e.args[1]) + "]";
    case ExprKind::Unary:
      switch (e.unary_op) {
        case UnaryOp::Not:
          return "(NOT " + to_sql(*e.args[0]) + ")";
        case UnaryOp::Minus:
        case UnaryOp::Plus: {
          // A space keeps "- -x" from reading back as a "--" comment.
          std::string operand = to_sql(*e.args[0]);
          const char* sign = e.unary_op == UnaryOp::Minus ? "-" : "+";
          // A minus before an unsigned number literal would read back as one
          // negative literal ("- -0" parses as minus applied to the literal
          // 0): parentheses keep it an operator.
          if (e.unary_op == UnaryOp::Minus && e.args[0]->kind == ExprKind::Literal &&
              !operand.empty() && (std::isdigit(static_cast<unsigned char>(operand[0])) != 0 ||
                                   operand[0] == '.'))
            return "-(" + operand + ")";
          return sign + std::string(operand[0] == '-' || operand[0] == '+' ? " " : "") + operand;
        }
      }
      return "?";
    case ExprKind::Binary:
      return "(" + to_sql(*e.args[0]) + " " + binary_op_symbol(e.binary_op) + " " +
             to_sql(*e.args[1]) + ")";
    case ExprKind::Between:
      return "(" + to_sql(*e.args[0]) + (e.negated ? " NOT" : "") + " BETWEEN " +
             to_sql(*e.args[1]) + " AND " + to_sql(*e.args[2]) + ")";
    case ExprKind::InList: {
      std::string out = "(" + to_sql(*e.args[0]) + (e.negated ? " NOT IN (" : " IN (");
      join_args(out, e.args, 1, e.args.size());
      return out + "))";
    }
    case ExprKind::InSubquery:
      return "(" + to_sql(*e.args[0]) + (e.negated ? " NOT IN (" : " IN (") +
             (e.subquery ? to_sql(*e.subquery) : "") + "))";
    case ExprKind::Exists:
      return std::string("(EXISTS (") + (e.subquery ? to_sql(*e.subquery) : "") + "))";
    case ExprKind::ScalarSubquery:
      return "(" + (e.subquery ? to_sql(*e.subquery) : std::string()) + ")";
    case ExprKind::Like: {
      std::string out =
          "(" + to_sql(*e.args[0]) + (e.negated ? " NOT LIKE " : " LIKE ") + to_sql(*e.args[1]);
      if (e.escape) out += " ESCAPE " + quote_string(std::string(1, *e.escape));
      return out + ")";
    }
    case ExprKind::IsNull:
      return "(" + to_sql(*e.args[0]) + (e.negated ? " IS NOT NULL)" : " IS NULL)");
    case ExprKind::IsDistinctFrom:
      return "(" + to_sql(*e.args[0]) +
             (e.negated ? " IS NOT DISTINCT FROM " : " IS DISTINCT FROM ") + to_sql(*e.args[1]) +
             ")";
    case ExprKind::Case: {
      std::string out = "(CASE";
      if (e.has_operand) out += " " + to_sql(*e.args[0]);
      for (size_t i = 0; i < e.case_when_count(); ++i)
        out += " WHEN " + to_sql(*e.case_when(i)) + " THEN " + to_sql(*e.case_then(i));
      if (e.has_else) out += " ELSE " + to_sql(*e.args.back());
      return out + " END)";
    }
    case ExprKind::Cast:
      return "CAST(" + to_sql(*e.args[0]) + " AS " + type_name(e.type) + ")";
    case ExprKind::FunctionCall: {
      std::string out = quote_identifier(e.name) + "(";
      if (e.star) {
        out += "*";
      } else {
        join_args(out, e.args, 0, e.args.size());
      }
      return out + ")";
    }
    case ExprKind::ArrayConstructor: {
      std::string out = "ARRAY[";
      join_args(out, e.args, 0, e.args.size());
      return out + "]";
    }
    case ExprKind::MapConstructor: {
      std::string out = "MAP(";
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        if (i > 0) out += ", ";
        out += to_sql(*e.args[i]) + ":=" + to_sql(*e.args[i + 1]);
      }
      return out + ")";
    }
    case ExprKind::StructConstructor: {
      std::string out = "STRUCT(";
      for (size_t i = 0; i < e.args.size() && i < e.names.size(); ++i) {
        if (i > 0) out += ", ";
        out += quote_identifier(e.names[i]) + ":=" + to_sql(*e.args[i]);
      }
      return out + ")";
    }
    case ExprKind::Lambda: {
      std::string out = "(";
      for (size_t i = 0; i < e.names.size(); ++i) {
        if (i > 0) out += ", ";
        out += quote_identifier(e.names[i]);
      }
      return out + ") => " + to_sql(*e.args[0]);
    }
    case ExprKind::TimeUnit:
      return e.name;
  }
  return "?";
}

namespace {

std::string duration_sql(int64_t ms) {
  if (ms % 1000 != 0 || ms == 0) return std::to_string(ms) + " MILLISECONDS";
  return std::to_string(ms / 1000) + " SECONDS";
}

}  // namespace

std::string to_sql(const Query& q) {
  std::string out = "SELECT ";
  for (size_t i = 0; i < q.select.size(); ++i) {
    if (i > 0) out += ", ";
    const SelectItem& item = q.select[i];
    switch (item.kind) {
      case SelectItem::Kind::AllColumns:
        out += "*";
        break;
      case SelectItem::Kind::SourceColumns:
        out += quote_identifier(item.source) + ".*";
        break;
      case SelectItem::Kind::Expression:
        out += to_sql(*item.expr);
        if (!item.alias.empty()) out += " AS " + quote_identifier(item.alias);
        break;
    }
  }
  auto relation = [](const Relation& r) {
    std::string s = quote_identifier(r.name);
    if (!r.alias.empty()) s += " " + quote_identifier(r.alias);
    return s;
  };
  out += " FROM " + relation(q.from);
  for (const Join& j : q.joins) {
    out += std::string(" ") + join_type_name(j.type) + " JOIN " + relation(j.right);
    if (j.within) {
      if (j.within->before_ms == j.within->after_ms) {
        out += " WITHIN " + duration_sql(j.within->before_ms);
      } else {
        out += " WITHIN (" + duration_sql(j.within->before_ms) + ", " +
               duration_sql(j.within->after_ms) + ")";
      }
      if (j.within->grace_ms) out += " GRACE PERIOD " + duration_sql(*j.within->grace_ms);
    }
    if (j.on) out += " ON " + to_sql(*j.on);
  }
  if (q.window) {
    const WindowSpec& w = *q.window;
    out += std::string(" WINDOW ") + window_type_name(w.type) + " (";
    if (w.type == WindowType::Session) {
      out += duration_sql(w.size_ms);
    } else {
      out += "SIZE " + duration_sql(w.size_ms);
      if (w.type == WindowType::Hopping) out += ", ADVANCE BY " + duration_sql(w.advance_ms);
    }
    if (w.retention_ms) out += ", RETENTION " + duration_sql(*w.retention_ms);
    if (w.grace_ms) out += ", GRACE PERIOD " + duration_sql(*w.grace_ms);
    out += ")";
  }
  if (q.where) out += " WHERE " + to_sql(*q.where);
  auto list = [](const std::vector<ExprPtr>& xs) {
    std::string s;
    for (size_t i = 0; i < xs.size(); ++i) {
      if (i > 0) s += ", ";
      s += to_sql(*xs[i]);
    }
    return s;
  };
  if (!q.group_by.empty()) out += " GROUP BY " + list(q.group_by);
  if (!q.partition_by.empty()) out += " PARTITION BY " + list(q.partition_by);
  if (q.having) out += " HAVING " + to_sql(*q.having);
  if (q.emit == EmitMode::Changes) out += " EMIT CHANGES";
  if (q.emit == EmitMode::Final) out += " EMIT FINAL";
  if (q.limit) out += " LIMIT " + std::to_string(*q.limit);
  return out;
}

const Property* Properties::find(std::string_view upper_name) const {
  for (const Property& p : items)
    if (p.name == upper_name) return &p;
  return nullptr;
}

std::optional<std::string> Properties::text(std::string_view upper_name) const {
  const Property* p = find(upper_name);
  if (!p || p->value.is_null()) return std::nullopt;
  if (p->value.kind() == TypeKind::String) return p->value.as_string();
  return literal_sql(p->value);
}

}  // namespace rivulet::sql

namespace rivulet::sql {

namespace {

std::string properties_sql(const Properties& p) {
  if (p.items.empty()) return "";
  std::string out = " WITH (";
  for (size_t i = 0; i < p.items.size(); ++i) {
    if (i > 0) out += ", ";
    out += quote_identifier(p.items[i].name) + "=" + literal_sql(p.items[i].value);
  }
  return out + ")";
}

struct StatementPrinter {
  std::string operator()(const CreateSource& c) const {
    std::string out = "CREATE ";
    if (c.or_replace) out += "OR REPLACE ";
    if (c.is_source) out += "SOURCE ";
    out += source_type_name(c.type);
    if (c.if_not_exists) out += " IF NOT EXISTS";
    out += " " + quote_identifier(c.name);
    if (!c.elements.empty()) {
      out += " (";
      for (size_t i = 0; i < c.elements.size(); ++i) {
        const TableElement& el = c.elements[i];
        if (i > 0) out += ", ";
        out += quote_identifier(el.name) + " " + type_name(el.type);
        switch (el.constraint) {
          case ColumnConstraint::Key:
            out += " KEY";
            break;
          case ColumnConstraint::PrimaryKey:
            out += " PRIMARY KEY";
            break;
          case ColumnConstraint::Headers:
            out += " HEADERS";
            break;
          case ColumnConstraint::Header:
            out += " HEADER(" + quote_string(el.header_key) + ")";
            break;
          case ColumnConstraint::None:
            break;
        }
      }
      out += ")";
    }
    return out + properties_sql(c.properties);
  }
  std::string operator()(const CreateAsSelect& c) const {
    std::string out = "CREATE ";
    if (c.or_replace) out += "OR REPLACE ";
    out += source_type_name(c.type);
    if (c.if_not_exists) out += " IF NOT EXISTS";
    out += " " + quote_identifier(c.name) + properties_sql(c.properties) + " AS " +
           (c.query ? to_sql(*c.query) : "");
    return out;
  }
  std::string operator()(const InsertInto& i) const {
    return "INSERT INTO " + quote_identifier(i.target) + properties_sql(i.properties) + " " +
           (i.query ? to_sql(*i.query) : "");
  }
  std::string operator()(const InsertValues& v) const {
    std::string out = "INSERT INTO " + quote_identifier(v.target);
    if (!v.columns.empty()) {
      out += " (";
      for (size_t i = 0; i < v.columns.size(); ++i)
        out += (i ? ", " : "") + quote_identifier(v.columns[i]);
      out += ")";
    }
    out += " VALUES (";
    for (size_t i = 0; i < v.values.size(); ++i) out += (i ? ", " : "") + to_sql(*v.values[i]);
    return out + ")";
  }
  std::string operator()(const DropSource& d) const {
    return std::string("DROP ") + source_type_name(d.type) + (d.if_exists ? " IF EXISTS " : " ") +
           quote_identifier(d.name) + (d.delete_topic ? " DELETE TOPIC" : "");
  }
  std::string operator()(const AssertTopic& a) const {
    std::string out = std::string("ASSERT ") + (a.exists ? "" : "NOT EXISTS ") + "TOPIC " +
                      quote_string(a.topic) + properties_sql(a.properties);
    if (a.timeout_ms) out += " TIMEOUT " + std::to_string(*a.timeout_ms) + " MILLISECONDS";
    return out;
  }
  std::string operator()(const AssertSchema& a) const {
    std::string out = std::string("ASSERT ") + (a.exists ? "" : "NOT EXISTS ") + "SCHEMA";
    if (a.subject) out += " SUBJECT " + quote_string(*a.subject);
    if (a.id) out += " ID " + std::to_string(*a.id);
    if (a.timeout_ms) out += " TIMEOUT " + std::to_string(*a.timeout_ms) + " MILLISECONDS";
    return out;
  }
  std::string operator()(const AlterSource& a) const {
    std::string out =
        std::string("ALTER ") + source_type_name(a.type) + " " + quote_identifier(a.name);
    for (size_t i = 0; i < a.columns.size(); ++i)
      out += std::string(i ? ", " : " ") + "ADD COLUMN " + quote_identifier(a.columns[i].name) +
             " " + type_name(a.columns[i].type);
    return out;
  }
  std::string operator()(const CreateType& c) const {
    return std::string("CREATE TYPE ") + (c.if_not_exists ? "IF NOT EXISTS " : "") +
           quote_identifier(c.name) + " AS " + type_name(c.type);
  }
  std::string operator()(const DropType& d) const {
    return std::string("DROP TYPE ") + (d.if_exists ? "IF EXISTS " : "") + quote_identifier(d.name);
  }
  std::string operator()(const ShowList& s) const {
    static const char* const kWhat[] = {"STREAMS",    "TABLES",    "QUERIES",   "TOPICS",
                                        "PROPERTIES", "FUNCTIONS", "VARIABLES", "TYPES"};
    return std::string("SHOW ") + (s.all ? "ALL " : "") + kWhat[static_cast<int>(s.what)] +
           (s.extended ? " EXTENDED" : "");
  }
  std::string operator()(const Describe& d) const {
    switch (d.what) {
      case Describe::What::AllStreams:
        return std::string("DESCRIBE STREAMS") + (d.extended ? " EXTENDED" : "");
      case Describe::What::AllTables:
        return std::string("DESCRIBE TABLES") + (d.extended ? " EXTENDED" : "");
      case Describe::What::Function:
        return "DESCRIBE FUNCTION " + quote_identifier(d.name);
      case Describe::What::Source:
        break;
    }
    return "DESCRIBE " + quote_identifier(d.name) + (d.extended ? " EXTENDED" : "");
  }
  std::string operator()(const SetProperty& s) const {
    return "SET " + quote_string(s.name) + "=" + quote_string(s.value);
  }
  std::string operator()(const UnsetProperty& u) const { return "UNSET " + quote_string(u.name); }
  std::string operator()(const Terminate& t) const {
    return t.all ? "TERMINATE ALL" : "TERMINATE " + quote_identifier(t.query_id);
  }
  std::string operator()(const PauseResume& p) const {
    return std::string(p.resume ? "RESUME " : "PAUSE ") +
           (p.all ? std::string("ALL") : quote_identifier(p.query_id));
  }
  std::string operator()(const SelectStatement& s) const { return s.query ? to_sql(*s.query) : ""; }
  std::string operator()(const RunScript& r) const { return "RUN SCRIPT " + quote_string(r.path); }
  std::string operator()(const DefineVariable& d) const {
    return "DEFINE " + d.name + " = " + quote_string(d.value);
  }
  std::string operator()(const UndefineVariable& u) const { return "UNDEFINE " + u.name; }
  std::string operator()(const PrintTopic& p) const {
    std::string out = "PRINT " + quote_string(p.topic);
    if (p.from_beginning) out += " FROM BEGINNING";
    if (p.interval != 1) out += " INTERVAL " + std::to_string(p.interval);
    if (p.limit) out += " LIMIT " + std::to_string(*p.limit);
    return out;
  }
  std::string operator()(const Explain& e) const {
    return "EXPLAIN " + (e.statement ? to_sql(*e.statement) : quote_identifier(e.query_id));
  }
};

}  // namespace

std::string to_sql(const Statement& s) {
  return std::visit(StatementPrinter{}, s.body);
}

}  // namespace rivulet::sql
