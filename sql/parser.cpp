#include "sql/parser.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <utility>

#include "sql/lexer.hpp"
#include "sql/text.hpp"
#include "sql/variables.hpp"

namespace rivulet::sql {

int64_t time_unit_millis(std::string_view u) {
  if (u == "MILLISECOND" || u == "MILLISECONDS") return 1;
  if (u == "SECOND" || u == "SECONDS") return 1000;
  if (u == "MINUTE" || u == "MINUTES") return 60 * 1000;
  if (u == "HOUR" || u == "HOURS") return 60 * 60 * 1000;
  if (u == "DAY" || u == "DAYS") return 24 * 60 * 60 * 1000;
  return 0;
}

namespace {

// Thrown inside the parser only; the public functions turn it into an Error.
struct ParseFailure {
  Error error;
};

bool is_time_unit_word(const Token& t) {
  return t.kind == TokenKind::Word && time_unit_millis(t.text) != 0;
}

class Parser {
 public:
  Parser(std::string_view src, std::vector<Token> tokens, const TypeRegistry& types)
      : src_(src), toks_(std::move(tokens)), types_(types) {}

  std::vector<Statement> statements() {
    std::vector<Statement> out;
    for (;;) {
      while (accept(TokenKind::Semicolon)) {
      }
      if (at(TokenKind::End)) break;
      out.push_back(statement_with_end());
    }
    return out;
  }

  Statement single_statement() {
    while (accept(TokenKind::Semicolon)) {
    }
    if (at(TokenKind::End)) fail_expecting("a statement");
    Statement s = statement_with_end();
    while (accept(TokenKind::Semicolon)) {
    }
    if (!at(TokenKind::End))
      fail(cur().loc, "extraneous input " + cur().display() + " expecting <EOF>");
    return s;
  }

  ExprPtr single_expression() {
    ExprPtr e = expression();
    if (!at(TokenKind::End))
      fail(cur().loc, "extraneous input " + cur().display() + " expecting <EOF>");
    return e;
  }

  DataTypePtr single_type() {
    DataTypePtr t = type();
    if (!at(TokenKind::End))
      fail(cur().loc, "extraneous input " + cur().display() + " expecting <EOF>");
    return t;
  }

 private:
  // ---- token helpers -------------------------------------------------------

  const Token& cur() const { return toks_[pos_]; }
  const Token& peek(size_t n = 1) const {
    size_t i = pos_ + n;
    return i < toks_.size() ? toks_[i] : toks_.back();
  }
  bool at(TokenKind k) const { return cur().kind == k; }
  bool at_word(std::string_view w) const { return cur().is_word(w); }
  void advance() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  bool accept(TokenKind k) {
    if (!at(k)) return false;
    advance();
    return true;
  }
  bool accept_word(std::string_view w) {
    if (!at_word(w)) return false;
    advance();
    return true;
  }

  [[noreturn]] void fail(SourceLocation loc, const std::string& what) {
    throw ParseFailure{sql_error(loc, what)};
  }
  [[noreturn]] void fail_expecting(const std::string& expected) {
    fail(cur().loc, "mismatched input " + cur().display() + " expecting " + expected);
  }
  const Token& expect(TokenKind k) {
    if (!at(k)) fail_expecting(token_kind_name(k));
    const Token& t = cur();
    advance();
    return t;
  }
  void expect_word(std::string_view w) {
    if (!at_word(w)) fail_expecting(std::string(w));
  }
  void consume_word(std::string_view w) {
    expect_word(w);
    advance();
  }

  // Bounds the recursion depth of the parser.
  class Nest {
   public:
    explicit Nest(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxNesting)
        p_.fail(p_.cur().loc, "nesting too deep: more than " + std::to_string(kMaxNesting) +
                                  " levels of parentheses, types or subqueries");
    }
    ~Nest() { --p_.depth_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;

   private:
    Parser& p_;
  };

  ExprPtr node(Expr e) {
    ExprPtr out = ast::make(std::move(e));
    if (out->height > kMaxExpressionHeight)
      fail(out->loc, "expression too deeply nested: more than " +
                         std::to_string(kMaxExpressionHeight) + " levels");
    return out;
  }

  // ---- identifiers ---------------------------------------------------------

  bool at_identifier() const {
    const Token& t = cur();
    return (t.kind == TokenKind::Word && !is_reserved_word(t.text)) ||
           t.kind == TokenKind::QuotedIdentifier;
  }
  static bool is_identifier(const Token& t) {
    return (t.kind == TokenKind::Word && !is_reserved_word(t.text)) ||
           t.kind == TokenKind::QuotedIdentifier;
  }
  std::string identifier(const char* what = "an identifier") {
    if (!at_identifier()) fail_expecting(what);
    std::string name = cur().text;
    advance();
    return name;
  }

  // A variable's name (DEFINE, UNDEFINE): an unquoted word, any word
  // (`DEFINE format = ...` as in ksqlDB's own example), as written.
  std::string variable_name() {
    const Token& t = cur();
    if (t.kind != TokenKind::Word || !valid_variable_name(t.raw))
      fail_expecting("a variable name (a letter or '_', then letters, digits or '_')");
    std::string name = t.raw;
    advance();
    return name;
  }

  // [IF NOT EXISTS] (CREATE) and [IF EXISTS] (DROP).
  bool accept_if_not_exists() {
    if (!accept_word("IF")) return false;
    consume_word("NOT");
    consume_word("EXISTS");
    return true;
  }
  bool accept_if_exists() {
    if (!accept_word("IF")) return false;
    consume_word("EXISTS");
    return true;
  }

  // ---- statements ----------------------------------------------------------

  Statement statement_with_end() {
    const Token& first = cur();
    size_t start_offset = first.offset;
    Statement s;
    s.loc = first.loc;
    s.body = statement();
    const Token& last = toks_[pos_ > 0 ? pos_ - 1 : 0];
    size_t end_offset = last.offset + last.length;
    if (end_offset > start_offset)
      s.text = std::string(src_.substr(start_offset, end_offset - start_offset));
    if (!accept(TokenKind::Semicolon) && !at(TokenKind::End)) fail_expecting("';'");
    return s;
  }

  StatementBody statement() {
    if (at_word("CREATE")) return create();
    if (at_word("INSERT")) return insert();
    if (at_word("DROP")) return drop();
    if (at_word("ALTER")) return alter();
    if (at_word("ASSERT")) return assert_topic();
    if (at_word("SHOW") || at_word("LIST")) return show();
    if (at_word("DESCRIBE")) return describe();
    if (at_word("SET")) return set();
    if (at_word("UNSET")) return unset();
    if (at_word("TERMINATE")) return terminate();
    if (at_word("PAUSE") || at_word("RESUME")) return pause_resume();
    if (at_word("SELECT")) return SelectStatement{query()};
    if (at_word("EXPLAIN")) return explain();
    if (at_word("PRINT")) return print();
    if (at_word("DEFINE")) {
      advance();
      DefineVariable d;
      d.name_loc = cur().loc;
      d.name = variable_name();
      expect(TokenKind::Eq);
      d.value = expect(TokenKind::String).text;
      return d;
    }
    if (at_word("UNDEFINE")) {
      advance();
      UndefineVariable u;
      u.name_loc = cur().loc;
      u.name = variable_name();
      return u;
    }
    if (at_word("RUN")) {
      advance();
      consume_word("SCRIPT");
      RunScript r;
      r.path_loc = cur().loc;
      r.path = expect(TokenKind::String).text;
      return r;
    }
    fail_expecting(
        "a statement (CREATE, INSERT, DROP, ALTER, ASSERT, SELECT, SHOW, LIST, DESCRIBE, SET, "
        "UNSET, TERMINATE, PAUSE, RESUME, EXPLAIN, PRINT, RUN SCRIPT, DEFINE, UNDEFINE)");
  }

  // A Kafka name that keeps its case (a topic, a schema subject): a quoted
  // string, or an identifier as written (unquoted, not upper-cased).
  std::string case_kept_name(const char* what) {
    std::string name;
    if (at(TokenKind::String)) {
      name = cur().text;
    } else {
      if (!at_identifier()) fail_expecting(what);
      name = cur().kind == TokenKind::Word ? cur().raw : cur().text;
    }
    advance();
    return name;
  }

  // PRINT topic [FROM BEGINNING] [INTERVAL|SAMPLE n] [LIMIT n]. An unquoted
  // name keeps its case (ksqlDB: topic names are case-sensitive).
  StatementBody print() {
    consume_word("PRINT");
    PrintTopic p;
    p.topic_loc = cur().loc;
    p.topic = case_kept_name("a topic name");
    if (accept_word("FROM")) {
      consume_word("BEGINNING");
      p.from_beginning = true;
    }
    if (accept_word("INTERVAL") || accept_word("SAMPLE")) {
      const Token& t = cur();
      if (!at(TokenKind::Integer)) fail_expecting("an integer");
      p.interval = parse_small_integer(t, "INTERVAL");
      if (p.interval < 1) fail(t.loc, "INTERVAL must be at least 1");
      advance();
    }
    if (accept_word("LIMIT")) {
      const Token& t = cur();
      if (!at(TokenKind::Integer)) fail_expecting("an integer");
      p.limit = parse_small_integer(t, "LIMIT");
      advance();
    }
    return p;
  }

  // EXPLAIN CREATE ... AS SELECT | EXPLAIN INSERT INTO ... | EXPLAIN query_id
  StatementBody explain() {
    consume_word("EXPLAIN");
    Explain e;
    // Any statement but EXPLAIN (no nesting, so no unbounded recursion) is
    // parsed, so that one EXPLAIN cannot take (DROP, SHOW, ...) is refused
    // at its position by whoever runs it.
    bool statement_next = false;
    for (const char* w : {"CREATE", "INSERT", "SELECT", "DROP", "SHOW", "LIST", "DESCRIBE", "SET",
                          "UNSET", "TERMINATE"})
      statement_next = statement_next || at_word(w);
    if (statement_next) {
      auto inner = std::make_shared<Statement>();
      const Token& first = cur();
      inner->loc = first.loc;
      inner->body = statement();
      const Token& last = toks_[pos_ - 1];
      inner->text =
          std::string(src_.substr(first.offset, last.offset + last.length - first.offset));
      e.statement = std::move(inner);
      return e;
    }
    e.query_loc = cur().loc;
    e.query_id =
        identifier("a statement to explain (CREATE ... AS SELECT, INSERT INTO) or a query id");
    return e;
  }

  SourceType source_type() {
    if (accept_word("STREAM")) return SourceType::Stream;
    if (accept_word("TABLE")) return SourceType::Table;
    fail_expecting("{STREAM, TABLE}");
  }

  // CREATE TYPE [IF NOT EXISTS] name AS type. The name stands for the type
  // in the statements parsed after this one (the engine's registry holds
  // it across parses, SqlEngine::execute).
  StatementBody create_type() {
    consume_word("TYPE");
    CreateType c;
    c.if_not_exists = accept_if_not_exists();
    c.name_loc = cur().loc;
    c.name = identifier("a type name");
    if (is_builtin_type_name(to_upper(c.name)))
      fail(c.name_loc, "Cannot register custom type '" + c.name + "': " + to_upper(c.name) +
                           " is a built-in type");
    consume_word("AS");
    c.type = type();
    types_.emplace(c.name, c.type);  // an existing one stays: the engine refuses the new one
    return c;
  }

  StatementBody drop_type() {
    consume_word("TYPE");
    DropType d;
    d.if_exists = accept_if_exists();
    d.name_loc = cur().loc;
    d.name = identifier("a type name");
    types_.erase(d.name);
    return d;
  }

  StatementBody create() {
    consume_word("CREATE");
    if (at_word("TYPE")) return create_type();
    bool or_replace = false;
    if (accept_word("OR")) {
      consume_word("REPLACE");
      or_replace = true;
    }
    bool is_source = accept_word("SOURCE");
    SourceType type = source_type();
    const bool if_not_exists = accept_if_not_exists();
    SourceLocation name_loc = cur().loc;
    std::string name = identifier("a source name");
    if (at(TokenKind::LParen)) {
      CreateSource c;
      c.type = type;
      c.or_replace = or_replace;
      c.if_not_exists = if_not_exists;
      c.is_source = is_source;
      c.name = std::move(name);
      c.name_loc = name_loc;
      c.elements = table_elements();
      if (accept_word("WITH")) c.properties = properties();
      return c;
    }
    Properties props;
    if (accept_word("WITH")) props = properties();
    if (at_word("AS")) {
      if (is_source) fail(cur().loc, "mismatched input 'AS': CREATE SOURCE cannot be AS SELECT");
      advance();
      CreateAsSelect c;
      c.type = type;
      c.or_replace = or_replace;
      c.if_not_exists = if_not_exists;
      c.name = std::move(name);
      c.name_loc = name_loc;
      c.properties = std::move(props);
      c.query = query();
      return c;
    }
    CreateSource c;
    c.type = type;
    c.or_replace = or_replace;
    c.if_not_exists = if_not_exists;
    c.is_source = is_source;
    c.name = std::move(name);
    c.name_loc = name_loc;
    c.properties = std::move(props);
    return c;
  }

  std::vector<TableElement> table_elements() {
    expect(TokenKind::LParen);
    std::vector<TableElement> out;
    do {
      TableElement el;
      el.loc = cur().loc;
      el.name = identifier("a column name");
      el.type = type();
      if (accept_word("PRIMARY")) {
        consume_word("KEY");
        el.constraint = ColumnConstraint::PrimaryKey;
      } else if (accept_word("KEY")) {
        el.constraint = ColumnConstraint::Key;
      } else if (accept_word("HEADERS")) {
        el.constraint = ColumnConstraint::Headers;
      } else if (accept_word("HEADER")) {
        expect(TokenKind::LParen);
        el.header_key = expect(TokenKind::String).text;
        expect(TokenKind::RParen);
        el.constraint = ColumnConstraint::Header;
      }
      out.push_back(std::move(el));
    } while (accept(TokenKind::Comma));
    if (!at(TokenKind::RParen)) fail_expecting("{',', ')'}");
    advance();
    return out;
  }

  Properties properties() {
    expect(TokenKind::LParen);
    Properties out;
    do {
      Property p;
      p.loc = cur().loc;
      if (at(TokenKind::String)) {
        p.name = to_upper(cur().text);
        advance();
      } else {
        p.name = to_upper(identifier("a property name"));
      }
      expect(TokenKind::Eq);
      p.value = literal_value();
      out.items.push_back(std::move(p));
    } while (accept(TokenKind::Comma));
    if (!at(TokenKind::RParen)) fail_expecting("{',', ')'}");
    advance();
    return out;
  }

  // A literal as a property value: string, number (optionally negative),
  // boolean or NULL.
  Value literal_value() {
    if (at(TokenKind::String)) {
      Value v = Value::string(cur().text);
      advance();
      return v;
    }
    if (accept_word("TRUE")) return Value::boolean(true);
    if (accept_word("FALSE")) return Value::boolean(false);
    if (accept_word("NULL")) return Value();
    bool negative = false;
    if (at(TokenKind::Minus) && is_number(peek())) {
      negative = true;
      advance();
    }
    if (is_number(cur())) {
      ExprPtr lit = number_literal(negative, cur().loc);
      return lit->value;
    }
    fail_expecting("a literal");
  }

  StatementBody insert() {
    consume_word("INSERT");
    consume_word("INTO");
    SourceLocation target_loc = cur().loc;
    std::string target = identifier("a source name");
    if (at(TokenKind::LParen) || at_word("VALUES")) {
      InsertValues v;
      v.target = std::move(target);
      v.target_loc = target_loc;
      if (accept(TokenKind::LParen)) {
        do {
          v.columns.push_back(identifier("a column name"));
        } while (accept(TokenKind::Comma));
        expect(TokenKind::RParen);
      }
      consume_word("VALUES");
      expect(TokenKind::LParen);
      if (!at(TokenKind::RParen)) {
        do {
          v.values.push_back(value_expression());
        } while (accept(TokenKind::Comma));
      }
      expect(TokenKind::RParen);
      return v;
    }
    InsertInto i;
    i.target = std::move(target);
    i.target_loc = target_loc;
    if (accept_word("WITH")) i.properties = properties();
    expect_word("SELECT");
    i.query = query();
    return i;
  }

  StatementBody drop() {
    consume_word("DROP");
    if (at_word("TYPE")) return drop_type();
    DropSource d;
    d.type = source_type();
    d.if_exists = accept_if_exists();
    d.name_loc = cur().loc;
    d.name = identifier("a source name");
    if (accept_word("DELETE")) {
      consume_word("TOPIC");
      d.delete_topic = true;
    }
    return d;
  }

  StatementBody assert_topic() {
    consume_word("ASSERT");
    AssertTopic a;
    if (accept_word("NOT")) {
      consume_word("EXISTS");
      a.exists = false;
    }
    if (at_word("SCHEMA")) return assert_schema(a.exists);
    consume_word("TOPIC");
    a.topic_loc = cur().loc;
    a.topic = case_kept_name("a topic name");  // as PRINT's
    if (accept_word("WITH")) a.properties = properties();
    if (accept_word("TIMEOUT")) a.timeout_ms = duration();
    return a;
  }

  // After ASSERT [NOT EXISTS]: SCHEMA [SUBJECT name] [ID n] [TIMEOUT n unit].
  StatementBody assert_schema(bool exists) {
    AssertSchema a;
    a.exists = exists;
    a.loc = cur().loc;
    consume_word("SCHEMA");
    if (accept_word("SUBJECT")) a.subject = case_kept_name("a subject name");
    if (accept_word("ID")) {
      const Token& t = cur();
      if (!at(TokenKind::Integer)) fail_expecting("an integer schema id");
      const int64_t id = parse_small_integer(t, "ID");
      if (id > std::numeric_limits<int32_t>::max()) fail(t.loc, "ID too large: " + t.text);
      a.id = static_cast<int32_t>(id);
      advance();
    }
    if (!a.subject && !a.id)
      fail(a.loc, "ASSERT SCHEMA needs a subject name (SUBJECT name), an id (ID n), or both");
    if (accept_word("TIMEOUT")) a.timeout_ms = duration();
    return a;
  }

  StatementBody alter() {
    consume_word("ALTER");
    AlterSource a;
    a.type = source_type();
    a.name_loc = cur().loc;
    a.name = identifier("a source name");
    do {
      consume_word("ADD");
      accept_word("COLUMN");
      TableElement el;
      el.loc = cur().loc;
      el.name = identifier("a column name");
      el.type = type();
      a.columns.push_back(std::move(el));
    } while (accept(TokenKind::Comma));
    return a;
  }

  StatementBody show() {
    advance();  // SHOW | LIST
    ShowList s;
    if (accept_word("STREAMS")) {
      s.what = ShowList::What::Streams;
    } else if (accept_word("TABLES")) {
      s.what = ShowList::What::Tables;
    } else if (accept_word("QUERIES")) {
      s.what = ShowList::What::Queries;
    } else if (accept_word("PROPERTIES")) {
      s.what = ShowList::What::Properties;
    } else if (accept_word("FUNCTIONS")) {
      s.what = ShowList::What::Functions;
    } else if (accept_word("VARIABLES")) {
      s.what = ShowList::What::Variables;
    } else if (accept_word("TYPES")) {
      s.what = ShowList::What::Types;
    } else {
      s.all = accept_word("ALL");
      if (!accept_word("TOPICS"))
        fail_expecting(
            "{STREAMS, TABLES, QUERIES, TOPICS, PROPERTIES, FUNCTIONS, VARIABLES, TYPES}");
      s.what = ShowList::What::Topics;
    }
    s.extended = accept_word("EXTENDED");
    return s;
  }

  StatementBody describe() {
    consume_word("DESCRIBE");
    Describe d;
    if (accept_word("STREAMS") || accept_word("TABLES")) {
      d.what = toks_[pos_ - 1].text == "STREAMS" ? Describe::What::AllStreams
                                                 : Describe::What::AllTables;
      d.extended = accept_word("EXTENDED");
      return d;
    }
    if (at_word("FUNCTION") && is_identifier(peek())) {
      advance();
      d.what = Describe::What::Function;
      d.name_loc = cur().loc;
      d.name = to_upper(identifier("a function name"));
      return d;
    }
    d.what = Describe::What::Source;
    d.name_loc = cur().loc;
    d.name = identifier("a source name");
    d.extended = accept_word("EXTENDED");
    return d;
  }

  StatementBody set() {
    consume_word("SET");
    SetProperty s;
    s.name = expect(TokenKind::String).text;
    expect(TokenKind::Eq);
    s.value = expect(TokenKind::String).text;
    return s;
  }

  StatementBody unset() {
    consume_word("UNSET");
    UnsetProperty u;
    u.name = expect(TokenKind::String).text;
    return u;
  }

  StatementBody terminate() {
    consume_word("TERMINATE");
    Terminate t;
    if (accept_word("ALL")) {
      t.all = true;
      return t;
    }
    t.query_id = identifier("a query id or ALL");
    return t;
  }

  StatementBody pause_resume() {
    PauseResume p;
    p.resume = at_word("RESUME");
    advance();
    p.query_loc = cur().loc;
    if (accept_word("ALL")) {
      p.all = true;
      return p;
    }
    p.query_id = identifier("a query id or ALL");
    return p;
  }

  // ---- queries -------------------------------------------------------------

  QueryPtr query() {
    Nest nest(*this);
    auto q = std::make_shared<Query>();
    q->loc = cur().loc;
    consume_word("SELECT");
    do {
      q->select.push_back(select_item());
    } while (accept(TokenKind::Comma));
    if (!at_word("FROM"))
      fail_expecting(q->select.back().kind == SelectItem::Kind::Expression ? "{',', FROM, AS}"
                                                                           : "{',', FROM}");
    advance();
    q->from = relation();
    while (at_join()) q->joins.push_back(join());
    if (accept_word("WINDOW")) q->window = window();
    if (accept_word("WHERE")) q->where = expression();
    if (accept_word("GROUP")) {
      consume_word("BY");
      q->group_by = grouping_list();
    }
    if (accept_word("PARTITION")) {
      consume_word("BY");
      const SourceLocation list_loc = cur().loc;
      q->partition_by = grouping_list();
      if (q->partition_by.empty()) fail(list_loc, "PARTITION BY requires at least one expression");
    }
    if (accept_word("HAVING")) q->having = expression();
    if (accept_word("EMIT")) {
      if (accept_word("CHANGES")) {
        q->emit = EmitMode::Changes;
      } else if (accept_word("FINAL")) {
        q->emit = EmitMode::Final;
      } else {
        fail_expecting("{CHANGES, FINAL}");
      }
    }
    if (accept_word("LIMIT")) {
      const Token& t = cur();
      if (!at(TokenKind::Integer)) fail_expecting("an integer");
      q->limit = parse_small_integer(t, "LIMIT");
      advance();
    }
    return q;
  }

  SelectItem select_item() {
    SelectItem item;
    item.loc = cur().loc;
    if (accept(TokenKind::Star)) {
      item.kind = SelectItem::Kind::AllColumns;
      return item;
    }
    if (at_identifier() && peek().is(TokenKind::Dot) && peek(2).is(TokenKind::Star)) {
      item.kind = SelectItem::Kind::SourceColumns;
      item.source = cur().text;
      advance();
      advance();
      advance();
      return item;
    }
    item.kind = SelectItem::Kind::Expression;
    item.expr = expression();
    if (accept_word("AS")) {
      item.alias = identifier("an alias");
    } else if (at_identifier()) {
      item.alias = identifier();
    }
    return item;
  }

  // Words that end a relation: they start the next clause, so they are
  // never taken as an alias without AS.
  bool at_clause_word() const {
    static const char* const kWords[] = {"WINDOW", "WHERE", "GROUP", "PARTITION", "HAVING",
                                         "EMIT",   "LIMIT", "JOIN",  "LEFT",      "RIGHT",
                                         "FULL",   "INNER", "ON",    "WITHIN"};
    for (const char* w : kWords)
      if (at_word(w)) return true;
    return false;
  }

  Relation relation() {
    Relation r;
    r.loc = cur().loc;
    r.name = identifier("a source name");
    if (accept_word("AS")) {
      r.alias = identifier("an alias");
    } else if (at_identifier() && !at_clause_word()) {
      r.alias = identifier();
    }
    return r;
  }

  bool at_join() const {
    return at_word("JOIN") || at_word("INNER") || at_word("LEFT") || at_word("RIGHT") ||
           at_word("FULL");
  }

  Join join() {
    Join j;
    j.loc = cur().loc;
    if (accept_word("INNER")) {
      j.type = JoinType::Inner;
    } else if (accept_word("LEFT")) {
      accept_word("OUTER");
      j.type = JoinType::Left;
    } else if (accept_word("RIGHT")) {
      accept_word("OUTER");
      j.type = JoinType::Right;
    } else if (accept_word("FULL")) {
      accept_word("OUTER");
      j.type = JoinType::Full;
    }
    consume_word("JOIN");
    j.right = relation();
    if (at_word("WITHIN")) {
      JoinWindow w;
      w.loc = cur().loc;
      advance();
      if (accept(TokenKind::LParen)) {
        w.before_ms = duration();
        expect(TokenKind::Comma);
        w.after_ms = duration();
        expect(TokenKind::RParen);
      } else {
        w.before_ms = w.after_ms = duration();
      }
      if (accept_word("GRACE")) {
        consume_word("PERIOD");
        w.grace_ms = duration();
      }
      j.within = w;
    }
    if (!at_word("ON")) fail_expecting(j.within ? "ON" : "{WITHIN, ON}");
    advance();
    j.on = expression();
    return j;
  }

  // n unit, in milliseconds.
  int64_t duration() {
    const Token& num = cur();
    if (!at(TokenKind::Integer)) fail_expecting("an integer duration");
    int64_t n = parse_small_integer(num, "duration");
    advance();
    if (!is_time_unit_word(cur()))
      fail_expecting("a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS)");
    int64_t unit = time_unit_millis(cur().text);
    if (n > std::numeric_limits<int64_t>::max() / unit)
      fail(num.loc, "duration too large: " + num.text + " " + cur().text);
    advance();
    return n * unit;
  }

  WindowSpec window() {
    WindowSpec w;
    w.loc = cur().loc;
    // Optional window name (ignored), as ksqlDB's grammar allows.
    if (at_identifier() && !at_word("TUMBLING") && !at_word("HOPPING") && !at_word("SESSION") &&
        (peek().is_word("TUMBLING") || peek().is_word("HOPPING") || peek().is_word("SESSION")))
      advance();
    if (accept_word("TUMBLING")) {
      w.type = WindowType::Tumbling;
      expect(TokenKind::LParen);
      consume_word("SIZE");
      w.size_ms = duration();
    } else if (accept_word("HOPPING")) {
      w.type = WindowType::Hopping;
      expect(TokenKind::LParen);
      consume_word("SIZE");
      w.size_ms = duration();
      expect(TokenKind::Comma);
      consume_word("ADVANCE");
      consume_word("BY");
      w.advance_ms = duration();
    } else if (accept_word("SESSION")) {
      w.type = WindowType::Session;
      expect(TokenKind::LParen);
      w.size_ms = duration();
    } else {
      fail_expecting("{TUMBLING, HOPPING, SESSION}");
    }
    while (accept(TokenKind::Comma)) {
      if (accept_word("RETENTION")) {
        if (w.retention_ms || w.grace_ms)
          fail(toks_[pos_ - 1].loc, "RETENTION must come once, before GRACE PERIOD");
        w.retention_ms = duration();
      } else if (accept_word("GRACE")) {
        consume_word("PERIOD");
        if (w.grace_ms) fail(toks_[pos_ - 1].loc, "GRACE PERIOD given twice");
        w.grace_ms = duration();
      } else {
        fail_expecting("{RETENTION, GRACE}");
      }
    }
    expect(TokenKind::RParen);
    return w;
  }

  // GROUP BY / PARTITION BY: value expressions, or one parenthesised list
  // "(a, b)" standing for the whole list.
  std::vector<ExprPtr> grouping_list() {
    std::vector<ExprPtr> out;
    if (at(TokenKind::LParen) && parenthesised_list_ahead()) {
      advance();
      if (!at(TokenKind::RParen)) {
        do {
          out.push_back(value_expression());
        } while (accept(TokenKind::Comma));
      }
      expect(TokenKind::RParen);
      return out;
    }
    do {
      out.push_back(value_expression());
    } while (accept(TokenKind::Comma));
    return out;
  }

  // At '(' : is this "( )" or "(a, b, ...)" closed by a ')' that ends the list?
  bool parenthesised_list_ahead() const {
    int depth = 0;
    bool comma = false;
    size_t i = pos_;
    for (; i < toks_.size(); ++i) {
      TokenKind k = toks_[i].kind;
      if (k == TokenKind::LParen || k == TokenKind::LBracket) {
        ++depth;
      } else if (k == TokenKind::RParen || k == TokenKind::RBracket) {
        if (--depth == 0) break;
      } else if (k == TokenKind::Comma && depth == 1) {
        comma = true;
      } else if (k == TokenKind::End || k == TokenKind::Semicolon) {
        return false;
      }
    }
    if (i >= toks_.size()) return false;
    bool empty = i == pos_ + 1;
    const Token& after = i + 1 < toks_.size() ? toks_[i + 1] : toks_.back();
    bool ends = after.is(TokenKind::End) || after.is(TokenKind::Semicolon) ||
                after.is(TokenKind::RParen) || after.is_word("PARTITION") ||
                after.is_word("HAVING") || after.is_word("EMIT") || after.is_word("LIMIT");
    return (comma || empty) && ends;
  }

  // ---- expressions ---------------------------------------------------------

  ExprPtr expression() {
    Nest nest(*this);
    return or_expression();
  }

  ExprPtr or_expression() {
    ExprPtr left = and_expression();
    while (at_word("OR")) {
      SourceLocation loc = cur().loc;
      advance();
      ExprPtr right = and_expression();
      left = binary(BinaryOp::Or, std::move(left), std::move(right), loc);
    }
    return left;
  }

  ExprPtr and_expression() {
    ExprPtr left = not_expression();
    while (at_word("AND")) {
      SourceLocation loc = cur().loc;
      advance();
      ExprPtr right = not_expression();
      left = binary(BinaryOp::And, std::move(left), std::move(right), loc);
    }
    return left;
  }

  ExprPtr not_expression() {
    if (at_word("NOT")) {
      Nest nest(*this);
      SourceLocation loc = cur().loc;
      advance();
      ExprPtr operand = not_expression();
      Expr e;
      e.kind = ExprKind::Unary;
      e.unary_op = UnaryOp::Not;
      e.loc = loc;
      e.args.push_back(std::move(operand));
      return node(std::move(e));
    }
    return predicated();
  }

  ExprPtr binary(BinaryOp op, ExprPtr l, ExprPtr r, SourceLocation loc) {
    Expr e;
    e.kind = ExprKind::Binary;
    e.binary_op = op;
    e.loc = loc;
    e.args.push_back(std::move(l));
    e.args.push_back(std::move(r));
    return node(std::move(e));
  }

  std::optional<BinaryOp> comparison_op() const {
    switch (cur().kind) {
      case TokenKind::Eq:
        return BinaryOp::Eq;
      case TokenKind::Neq:
        return BinaryOp::Neq;
      case TokenKind::Lt:
        return BinaryOp::Lt;
      case TokenKind::Lte:
        return BinaryOp::Lte;
      case TokenKind::Gt:
        return BinaryOp::Gt;
      case TokenKind::Gte:
        return BinaryOp::Gte;
      default:
        return std::nullopt;
    }
  }

  ExprPtr predicated() {
    ExprPtr value = value_expression();
    SourceLocation loc = cur().loc;
    if (auto op = comparison_op()) {
      advance();
      ExprPtr right = value_expression();
      return binary(*op, std::move(value), std::move(right), loc);
    }
    bool negated = false;
    if (at_word("NOT") &&
        (peek().is_word("BETWEEN") || peek().is_word("IN") || peek().is_word("LIKE"))) {
      negated = true;
      advance();
    }
    if (accept_word("BETWEEN")) {
      Expr e;
      e.kind = ExprKind::Between;
      e.loc = loc;
      e.negated = negated;
      e.args.push_back(std::move(value));
      e.args.push_back(value_expression());
      consume_word("AND");
      e.args.push_back(value_expression());
      return node(std::move(e));
    }
    if (accept_word("IN")) {
      Nest nest(*this);
      expect(TokenKind::LParen);
      Expr e;
      e.loc = loc;
      e.negated = negated;
      e.args.push_back(std::move(value));
      if (at_word("SELECT")) {
        e.kind = ExprKind::InSubquery;
        e.subquery = query();
      } else {
        e.kind = ExprKind::InList;
        do {
          e.args.push_back(expression());
        } while (accept(TokenKind::Comma));
      }
      expect(TokenKind::RParen);
      return node(std::move(e));
    }
    if (accept_word("LIKE")) {
      Expr e;
      e.kind = ExprKind::Like;
      e.loc = loc;
      e.negated = negated;
      e.args.push_back(std::move(value));
      e.args.push_back(value_expression());
      if (accept_word("ESCAPE")) {
        const Token& t = cur();
        if (!at(TokenKind::String)) fail_expecting("a string");
        if (t.text.size() != 1)
          fail(t.loc, "ESCAPE must be a single character, got " + t.display());
        e.escape = t.text[0];
        advance();
      }
      return node(std::move(e));
    }
    if (negated) fail_expecting("{BETWEEN, IN, LIKE}");
    if (accept_word("IS")) {
      bool is_not = accept_word("NOT");
      if (accept_word("NULL")) {
        Expr e;
        e.kind = ExprKind::IsNull;
        e.loc = loc;
        e.negated = is_not;
        e.args.push_back(std::move(value));
        return node(std::move(e));
      }
      if (accept_word("DISTINCT")) {
        consume_word("FROM");
        Expr e;
        e.kind = ExprKind::IsDistinctFrom;
        e.loc = loc;
        e.negated = is_not;
        e.args.push_back(std::move(value));
        e.args.push_back(value_expression());
        return node(std::move(e));
      }
      fail_expecting(is_not ? "{NULL, DISTINCT}" : "{NOT, NULL, DISTINCT}");
    }
    return value;
  }

  ExprPtr value_expression() { return concat_expression(); }

  ExprPtr concat_expression() {
    ExprPtr left = additive();
    while (at(TokenKind::Concat)) {
      SourceLocation loc = cur().loc;
      advance();
      ExprPtr right = additive();
      left = binary(BinaryOp::Concat, std::move(left), std::move(right), loc);
    }
    return left;
  }

  ExprPtr additive() {
    ExprPtr left = multiplicative();
    for (;;) {
      BinaryOp op;
      if (at(TokenKind::Plus)) {
        op = BinaryOp::Add;
      } else if (at(TokenKind::Minus)) {
        op = BinaryOp::Subtract;
      } else {
        return left;
      }
      SourceLocation loc = cur().loc;
      advance();
      ExprPtr right = multiplicative();
      left = binary(op, std::move(left), std::move(right), loc);
    }
  }

  ExprPtr multiplicative() {
    ExprPtr left = unary();
    for (;;) {
      BinaryOp op;
      if (at(TokenKind::Star)) {
        op = BinaryOp::Multiply;
      } else if (at(TokenKind::Slash)) {
        op = BinaryOp::Divide;
      } else if (at(TokenKind::Percent)) {
        op = BinaryOp::Modulo;
      } else {
        return left;
      }
      SourceLocation loc = cur().loc;
      advance();
      ExprPtr right = unary();
      left = binary(op, std::move(left), std::move(right), loc);
    }
  }

  static bool is_number(const Token& t) {
    return t.kind == TokenKind::Integer || t.kind == TokenKind::Decimal ||
           t.kind == TokenKind::Float;
  }

  ExprPtr unary() {
    if (at(TokenKind::Minus) || at(TokenKind::Plus)) {
      SourceLocation loc = cur().loc;
      bool minus = at(TokenKind::Minus);
      if (minus && is_number(peek())) {
        advance();
        return postfix(number_literal(true, loc));
      }
      Nest nest(*this);
      advance();
      ExprPtr operand = unary();
      Expr e;
      e.kind = ExprKind::Unary;
      e.unary_op = minus ? UnaryOp::Minus : UnaryOp::Plus;
      e.loc = loc;
      e.args.push_back(std::move(operand));
      return node(std::move(e));
    }
    return postfix(primary());
  }

  ExprPtr postfix(ExprPtr base) {
    for (;;) {
      if (at(TokenKind::LBracket)) {
        SourceLocation loc = cur().loc;
        advance();
        ExprPtr index = [&] {
          Nest nest(*this);
          return value_expression();
        }();
        expect(TokenKind::RBracket);
        Expr e;
        e.kind = ExprKind::Subscript;
        e.loc = loc;
        e.args.push_back(std::move(base));
        e.args.push_back(std::move(index));
        base = node(std::move(e));
      } else if (at(TokenKind::Arrow)) {
        SourceLocation loc = cur().loc;
        advance();
        Expr e;
        e.kind = ExprKind::Dereference;
        e.loc = loc;
        e.name = identifier("a field name");
        e.args.push_back(std::move(base));
        base = node(std::move(e));
      } else {
        return base;
      }
    }
  }

  int64_t parse_small_integer(const Token& t, const char* what) {
    int64_t v = 0;
    for (char c : t.text) {
      if (v > (std::numeric_limits<int64_t>::max() - (c - '0')) / 10)
        fail(t.loc, std::string(what) + " too large: " + t.text);
      v = v * 10 + (c - '0');
    }
    return v;
  }

  // The number at cur() (advanced over), negated when `negative`; typed as
  // ksqlDB types literals.
  ExprPtr number_literal(bool negative, SourceLocation loc) {
    const Token& t = cur();
    std::string spelled = (negative ? "-" : "") + t.text;
    Value v;
    if (t.kind == TokenKind::Integer) {
      // Magnitude; anything past 2^63 cannot be a BIGINT either way.
      uint64_t mag = 0;
      bool overflow = false;
      for (char c : t.text) {
        uint64_t digit = static_cast<uint64_t>(c - '0');
        if (mag > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
          overflow = true;
          break;
        }
        mag = mag * 10 + digit;
      }
      const uint64_t max_pos = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
      if (overflow || mag > max_pos + (negative ? 1 : 0))
        fail(loc, "Invalid numeric literal: " + spelled);
      int64_t value = negative ? (mag == max_pos + 1 ? std::numeric_limits<int64_t>::min()
                                                     : -static_cast<int64_t>(mag))
                               : static_cast<int64_t>(mag);
      if (value >= std::numeric_limits<int32_t>::min() &&
          value <= std::numeric_limits<int32_t>::max()) {
        v = Value::int32(static_cast<int32_t>(value));
      } else {
        v = Value::int64(value);
      }
    } else if (t.kind == TokenKind::Decimal) {
      std::string text = t.text;
      if (text.front() == '.') text.insert(text.begin(), '0');
      if (text.back() == '.') text.pop_back();
      auto d = Decimal::parse((negative ? "-" : "") + text);
      if (!d) fail(loc, "Invalid decimal literal (more than 38 digits): " + spelled);
      // DECIMAL(max(precision, scale), scale) as ksqlDB types 0.05 as DECIMAL(2, 2).
      int scale = d->scale();
      int precision = std::max(d->precision(), scale);
      precision = std::max(precision, 1);
      auto fitted = d->rescale(precision, scale);
      v = Value::decimal(fitted ? *fitted : *d);
    } else {
      errno = 0;
      double d = std::strtod(spelled.c_str(), nullptr);
      if (std::isinf(d)) fail(loc, "Number overflows DOUBLE: " + spelled);
      v = Value::float64(d);
    }
    advance();
    Expr e;
    e.kind = ExprKind::Literal;
    e.loc = loc;
    e.value = std::move(v);
    return node(std::move(e));
  }

  ExprPtr literal(Value v, SourceLocation loc) {
    Expr e;
    e.kind = ExprKind::Literal;
    e.loc = loc;
    e.value = std::move(v);
    return node(std::move(e));
  }

  ExprPtr primary() {
    const Token& t = cur();
    SourceLocation loc = t.loc;
    switch (t.kind) {
      case TokenKind::Integer:
      case TokenKind::Decimal:
      case TokenKind::Float:
        return number_literal(false, loc);
      case TokenKind::String: {
        std::string s = t.text;
        advance();
        return literal(Value::string(std::move(s)), loc);
      }
      case TokenKind::LParen: {
        advance();
        if (at_word("SELECT")) {
          Expr e;
          e.kind = ExprKind::ScalarSubquery;
          e.loc = loc;
          e.subquery = query();
          expect(TokenKind::RParen);
          return node(std::move(e));
        }
        ExprPtr inner = expression();
        expect(TokenKind::RParen);
        return inner;
      }
      case TokenKind::QuotedIdentifier:
        return name_expression();
      case TokenKind::Word:
        break;
      default:
        fail_expecting("an expression");
    }
    // Words.
    if (t.is_word("NULL")) {
      advance();
      return literal(Value(), loc);
    }
    if (t.is_word("TRUE") || t.is_word("FALSE")) {
      bool b = t.is_word("TRUE");
      advance();
      return literal(Value::boolean(b), loc);
    }
    if (t.is_word("CASE")) return case_expression();
    if (t.is_word("CAST")) return cast_expression();
    if (t.is_word("ARRAY") && peek().is(TokenKind::LBracket)) return array_constructor();
    if (t.is_word("MAP") && peek().is(TokenKind::LParen)) return map_constructor();
    if (t.is_word("STRUCT") && peek().is(TokenKind::LParen)) return struct_constructor();
    if (t.is_word("EXISTS") && peek().is(TokenKind::LParen)) {
      Nest nest(*this);
      advance();
      advance();
      Expr e;
      e.kind = ExprKind::Exists;
      e.loc = loc;
      expect_word("SELECT");
      e.subquery = query();
      expect(TokenKind::RParen);
      return node(std::move(e));
    }
    if (!at_identifier()) fail_expecting("an expression");
    return name_expression();
  }

  // identifier: a column, a qualified column, or a function call.
  ExprPtr name_expression() {
    SourceLocation loc = cur().loc;
    std::string name = cur().text;
    advance();
    if (at(TokenKind::LParen)) return function_call(to_upper(name), loc);
    if (at(TokenKind::Dot) && is_identifier(peek())) {
      advance();
      std::string column = cur().text;
      advance();
      Expr e;
      e.kind = ExprKind::Column;
      e.loc = loc;
      e.name = std::move(column);
      e.qualifier = std::move(name);
      return node(std::move(e));
    }
    Expr e;
    e.kind = ExprKind::Column;
    e.loc = loc;
    e.name = std::move(name);
    return node(std::move(e));
  }

  // At '(' or an identifier: is a lambda "x =>" or "(x, y) =>" ahead?
  bool lambda_ahead() const {
    if (is_identifier(cur())) return peek().is(TokenKind::LambdaArrow);
    if (!at(TokenKind::LParen)) return false;
    size_t i = 1;
    for (;;) {
      if (!is_identifier(peek(i))) return false;
      ++i;
      if (peek(i).is(TokenKind::Comma)) {
        ++i;
        continue;
      }
      return peek(i).is(TokenKind::RParen) && peek(i + 1).is(TokenKind::LambdaArrow);
    }
  }

  ExprPtr lambda() {
    Nest nest(*this);
    Expr e;
    e.kind = ExprKind::Lambda;
    e.loc = cur().loc;
    if (accept(TokenKind::LParen)) {
      do {
        e.names.push_back(identifier("a lambda parameter"));
      } while (accept(TokenKind::Comma));
      expect(TokenKind::RParen);
    } else {
      e.names.push_back(identifier("a lambda parameter"));
    }
    expect(TokenKind::LambdaArrow);
    e.args.push_back(expression());
    return node(std::move(e));
  }

  ExprPtr function_call(std::string name, SourceLocation loc) {
    Nest nest(*this);
    expect(TokenKind::LParen);
    Expr e;
    e.kind = ExprKind::FunctionCall;
    e.loc = loc;
    e.name = std::move(name);
    if (at(TokenKind::Star) && peek().is(TokenKind::RParen)) {
      advance();
      advance();
      e.star = true;
      return node(std::move(e));
    }
    if (!at(TokenKind::RParen)) {
      do {
        if (lambda_ahead()) {
          e.args.push_back(lambda());
        } else if (is_time_unit_word(cur()) && is_reserved_word(cur().text) &&
                   (peek().is(TokenKind::Comma) || peek().is(TokenKind::RParen))) {
          Expr unit;
          unit.kind = ExprKind::TimeUnit;
          unit.loc = cur().loc;
          unit.name = cur().text;
          advance();
          e.args.push_back(node(std::move(unit)));
        } else {
          e.args.push_back(expression());
        }
      } while (accept(TokenKind::Comma));
    }
    if (!at(TokenKind::RParen)) fail_expecting("{',', ')'}");
    advance();
    return node(std::move(e));
  }

  ExprPtr case_expression() {
    Nest nest(*this);
    Expr e;
    e.kind = ExprKind::Case;
    e.loc = cur().loc;
    consume_word("CASE");
    if (!at_word("WHEN")) {
      e.has_operand = true;
      e.args.push_back(value_expression());
    }
    if (!at_word("WHEN")) fail_expecting("WHEN");
    while (accept_word("WHEN")) {
      e.args.push_back(expression());
      consume_word("THEN");
      e.args.push_back(expression());
    }
    if (accept_word("ELSE")) {
      e.has_else = true;
      e.args.push_back(expression());
    }
    if (!at_word("END")) fail_expecting(e.has_else ? "END" : "{WHEN, ELSE, END}");
    advance();
    return node(std::move(e));
  }

  ExprPtr cast_expression() {
    Nest nest(*this);
    Expr e;
    e.kind = ExprKind::Cast;
    e.loc = cur().loc;
    consume_word("CAST");
    expect(TokenKind::LParen);
    e.args.push_back(expression());
    consume_word("AS");
    e.type = type();
    expect(TokenKind::RParen);
    return node(std::move(e));
  }

  ExprPtr array_constructor() {
    Nest nest(*this);
    Expr e;
    e.kind = ExprKind::ArrayConstructor;
    e.loc = cur().loc;
    advance();
    expect(TokenKind::LBracket);
    if (!at(TokenKind::RBracket)) {
      do {
        e.args.push_back(expression());
      } while (accept(TokenKind::Comma));
    }
    if (!at(TokenKind::RBracket)) fail_expecting("{',', ']'}");
    advance();
    return node(std::move(e));
  }

  ExprPtr map_constructor() {
    Nest nest(*this);
    Expr e;
    e.kind = ExprKind::MapConstructor;
    e.loc = cur().loc;
    advance();
    expect(TokenKind::LParen);
    if (!at(TokenKind::RParen)) {
      do {
        e.args.push_back(expression());
        expect(TokenKind::Assign);
        e.args.push_back(expression());
      } while (accept(TokenKind::Comma));
    }
    if (!at(TokenKind::RParen)) fail_expecting("{',', ')'}");
    advance();
    return node(std::move(e));
  }

  ExprPtr struct_constructor() {
    Nest nest(*this);
    Expr e;
    e.kind = ExprKind::StructConstructor;
    e.loc = cur().loc;
    advance();
    expect(TokenKind::LParen);
    if (!at(TokenKind::RParen)) {
      do {
        e.names.push_back(identifier("a field name"));
        expect(TokenKind::Assign);
        e.args.push_back(expression());
      } while (accept(TokenKind::Comma));
    }
    if (!at(TokenKind::RParen)) fail_expecting("{',', ')'}");
    advance();
    return node(std::move(e));
  }

  // ---- types ---------------------------------------------------------------

  DataTypePtr type() {
    Nest nest(*this);
    const Token& t = cur();
    SourceLocation loc = t.loc;
    if (t.is_word("ARRAY") && peek().is(TokenKind::Lt)) {
      advance();
      advance();
      DataTypePtr element = type();
      expect(TokenKind::Gt);
      return DataType::array(std::move(element));
    }
    if (t.is_word("MAP") && peek().is(TokenKind::Lt)) {
      advance();
      advance();
      SourceLocation key_loc = cur().loc;
      DataTypePtr key = type();
      expect(TokenKind::Comma);
      DataTypePtr value = type();
      expect(TokenKind::Gt);
      if (key->kind != TypeKind::String)
        fail(key_loc, "MAP keys must be STRING, got " + key->to_string());
      return DataType::map(std::move(value));
    }
    if (t.is_word("STRUCT") && peek().is(TokenKind::Lt)) {
      advance();
      advance();
      std::vector<StructFieldType> fields;
      if (!at(TokenKind::Gt)) {
        do {
          StructFieldType f;
          f.name = identifier("a field name");
          f.type = type();
          fields.push_back(std::move(f));
        } while (accept(TokenKind::Comma));
      }
      expect(TokenKind::Gt);
      return DataType::structure(std::move(fields));
    }
    if (t.is_word("DECIMAL")) {
      advance();
      expect(TokenKind::LParen);
      const Token& p = expect(TokenKind::Integer);
      int64_t precision = parse_small_integer(p, "precision");
      expect(TokenKind::Comma);
      const Token& s = expect(TokenKind::Integer);
      int64_t scale = parse_small_integer(s, "scale");
      expect(TokenKind::RParen);
      if (precision < 1 || precision > Decimal::kMaxPrecision)
        fail(p.loc, "DECIMAL precision must be between 1 and 38, got " + p.text);
      if (scale > precision)
        fail(s.loc, "DECIMAL scale must not exceed its precision, got DECIMAL(" + p.text + ", " +
                        s.text + ")");
      return DataType::decimal(static_cast<int>(precision), static_cast<int>(scale));
    }
    if (!at_identifier()) fail_expecting("a type");
    if (auto custom = types_.find(cur().text); custom != types_.end()) {
      advance();
      return custom->second;
    }
    std::string name = to_upper(cur().text);
    advance();
    // VARCHAR(n) and similar parameters are accepted and ignored, as ksqlDB does.
    if (at(TokenKind::LParen) && (name == "VARCHAR" || name == "STRING")) {
      advance();
      do {
        if (!accept(TokenKind::Integer)) fail_expecting("an integer");
      } while (accept(TokenKind::Comma));
      expect(TokenKind::RParen);
    }
    if (name == "BOOLEAN") return DataType::of(TypeKind::Boolean);
    if (name == "INT" || name == "INTEGER") return DataType::of(TypeKind::Int);
    if (name == "BIGINT") return DataType::of(TypeKind::BigInt);
    if (name == "DOUBLE") return DataType::of(TypeKind::Double);
    if (name == "STRING" || name == "VARCHAR") return DataType::of(TypeKind::String);
    if (name == "BYTES") return DataType::of(TypeKind::Bytes);
    if (name == "TIMESTAMP") return DataType::of(TypeKind::Timestamp);
    if (name == "DATE") return DataType::of(TypeKind::Date);
    if (name == "TIME") return DataType::of(TypeKind::Time);
    fail(loc, "Unknown type: " + name);
  }

  std::string_view src_;
  std::vector<Token> toks_;
  TypeRegistry types_;  // the caller's, then this input's CREATE TYPE and DROP TYPE
  size_t pos_ = 0;
  int depth_ = 0;
};

template <typename T, typename Fn>
Expected<T> run(std::string_view sql, const TypeRegistry& types, Fn&& fn) {
  auto tokens = tokenize(sql);
  if (!tokens.ok()) return tokens.error();
  Parser parser(sql, std::move(tokens.value()), types);
  try {
    return fn(parser);
  } catch (ParseFailure& f) {
    return std::move(f.error);
  }
}

}  // namespace

bool is_builtin_type_name(std::string_view upper) {
  for (const char* name :
       {"BOOLEAN", "INT", "INTEGER", "BIGINT", "DOUBLE", "STRING", "VARCHAR", "BYTES", "TIMESTAMP",
        "DATE", "TIME", "DECIMAL", "ARRAY", "MAP", "STRUCT"})
    if (upper == name) return true;
  return false;
}

Expected<std::vector<Statement>> parse_statements(std::string_view sql, const TypeRegistry& types) {
  return run<std::vector<Statement>>(sql, types, [](Parser& p) { return p.statements(); });
}

Expected<Statement> parse_statement(std::string_view sql, const TypeRegistry& types) {
  return run<Statement>(sql, types, [](Parser& p) { return p.single_statement(); });
}

Expected<ExprPtr> parse_expression(std::string_view sql) {
  return run<ExprPtr>(sql, TypeRegistry{}, [](Parser& p) { return p.single_expression(); });
}

Expected<DataTypePtr> parse_type(std::string_view sql, const TypeRegistry& types) {
  return run<DataTypePtr>(sql, types, [](Parser& p) { return p.single_type(); });
}

}  // namespace rivulet::sql
