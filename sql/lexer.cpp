#include "sql/lexer.hpp"

#include <cctype>
#include <optional>

namespace rivulet::sql {

namespace {

bool is_letter(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_word_char(char c) {
  return is_letter(c) || is_digit(c) || c == '_' || c == '@';
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string printable(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string(1, c);
  static const char* hex = "0123456789ABCDEF";
  return std::string("\\x") + hex[u >> 4] + hex[u & 0xf];
}

class Lexer {
 public:
  explicit Lexer(std::string_view in) : in_(in) {}

  Expected<std::vector<Token>> run() {
    std::vector<Token> out;
    for (;;) {
      if (auto err = skip_space_and_comments()) return std::move(*err);
      if (pos_ >= in_.size()) break;
      auto tok = next();
      if (!tok.ok()) return tok.error();
      out.push_back(std::move(tok.value()));
    }
    Token end;
    end.kind = TokenKind::End;
    end.loc = here();
    end.offset = pos_;
    out.push_back(std::move(end));
    return out;
  }

 private:
  SourceLocation here() const {
    return SourceLocation{line_, static_cast<int>(pos_ - line_start_) + 1};
  }

  char peek(size_t ahead = 0) const { return pos_ + ahead < in_.size() ? in_[pos_ + ahead] : '\0'; }

  // Advances over n bytes, keeping line/column right.
  void advance(size_t n = 1) {
    for (size_t i = 0; i < n && pos_ < in_.size(); ++i) {
      if (in_[pos_] == '\n') {
        ++line_;
        line_start_ = pos_ + 1;
      }
      ++pos_;
    }
  }

  // nullptr-like empty optional when fine; an error for an unterminated comment.
  std::optional<Error> skip_space_and_comments() {
    for (;;) {
      char c = peek();
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
        advance();
      } else if (c == '-' && peek(1) == '-') {
        while (pos_ < in_.size() && in_[pos_] != '\n') advance();
      } else if (c == '/' && peek(1) == '*') {
        SourceLocation start = here();
        advance(2);
        for (;;) {
          if (pos_ >= in_.size()) return sql_error(start, "unterminated comment '/*'");
          if (peek() == '*' && peek(1) == '/') {
            advance(2);
            break;
          }
          advance();
        }
      } else {
        return std::nullopt;
      }
    }
  }

  Token make(TokenKind kind, size_t start, SourceLocation loc, std::string text) {
    Token t;
    t.kind = kind;
    t.text = std::move(text);
    t.raw = std::string(in_.substr(start, pos_ - start));
    t.loc = loc;
    t.offset = start;
    t.length = pos_ - start;
    return t;
  }

  // Length of the longest number at pos_ and its kind (0 when none).
  size_t scan_number(TokenKind& kind) const {
    size_t i = pos_;
    size_t int_digits = 0;
    while (i < in_.size() && is_digit(in_[i])) ++i, ++int_digits;
    kind = TokenKind::Integer;
    size_t frac_digits = 0;
    if (i < in_.size() && in_[i] == '.') {
      size_t j = i + 1;
      while (j < in_.size() && is_digit(in_[j])) ++j, ++frac_digits;
      if (int_digits == 0 && frac_digits == 0) return 0;
      i = j;
      kind = TokenKind::Decimal;
    }
    if (int_digits == 0 && frac_digits == 0) return 0;
    if (i < in_.size() && (in_[i] == 'e' || in_[i] == 'E')) {
      size_t j = i + 1;
      if (j < in_.size() && (in_[j] == '+' || in_[j] == '-')) ++j;
      size_t exp_digits = 0;
      while (j < in_.size() && is_digit(in_[j])) ++j, ++exp_digits;
      if (exp_digits > 0) {
        i = j;
        kind = TokenKind::Float;
      }
    }
    return i - pos_;
  }

  Expected<Token> quoted(char quote, TokenKind kind, const char* what) {
    size_t start = pos_;
    SourceLocation loc = here();
    advance();
    std::string text;
    for (;;) {
      if (pos_ >= in_.size()) return sql_error(loc, std::string("unterminated ") + what);
      char c = in_[pos_];
      if (c == quote) {
        if (peek(1) == quote) {
          text.push_back(quote);
          advance(2);
          continue;
        }
        advance();
        break;
      }
      text.push_back(c);
      advance();
    }
    return make(kind, start, loc, std::move(text));
  }

  Expected<Token> next() {
    size_t start = pos_;
    SourceLocation loc = here();
    char c = peek();
    if (c == '\'') return quoted('\'', TokenKind::String, "string literal");
    if (c == '`') return quoted('`', TokenKind::QuotedIdentifier, "quoted identifier");
    if (c == '"') return quoted('"', TokenKind::QuotedIdentifier, "quoted identifier");
    if (is_letter(c) || c == '_') {
      while (pos_ < in_.size() && is_word_char(in_[pos_])) advance();
      return make(TokenKind::Word, start, loc, upper(in_.substr(start, pos_ - start)));
    }
    if (is_digit(c) || (c == '.' && is_digit(peek(1)))) {
      TokenKind kind = TokenKind::Integer;
      size_t num_len = scan_number(kind);
      // DIGIT_IDENTIFIER: a digit then word characters, when longer than the number.
      size_t word_len = 0;
      if (is_digit(c)) {
        size_t i = pos_;
        while (i < in_.size() && is_word_char(in_[i])) ++i;
        word_len = i - pos_;
      }
      if (word_len > num_len && word_len >= 2) {
        advance(word_len);
        return make(TokenKind::Word, start, loc, upper(in_.substr(start, word_len)));
      }
      advance(num_len);
      return make(kind, start, loc, std::string(in_.substr(start, num_len)));
    }
    auto sym = [&](TokenKind k, size_t n) {
      advance(n);
      return make(k, start, loc, std::string(in_.substr(start, n)));
    };
    char d = peek(1);
    switch (c) {
      case '=':
        return d == '>' ? sym(TokenKind::LambdaArrow, 2) : sym(TokenKind::Eq, 1);
      case '<':
        if (d == '>') return sym(TokenKind::Neq, 2);
        if (d == '=') return sym(TokenKind::Lte, 2);
        return sym(TokenKind::Lt, 1);
      case '>':
        return d == '=' ? sym(TokenKind::Gte, 2) : sym(TokenKind::Gt, 1);
      case '!':
        if (d == '=') return sym(TokenKind::Neq, 2);
        break;
      case '+':
        return sym(TokenKind::Plus, 1);
      case '-':
        return d == '>' ? sym(TokenKind::Arrow, 2) : sym(TokenKind::Minus, 1);
      case '*':
        return sym(TokenKind::Star, 1);
      case '/':
        return sym(TokenKind::Slash, 1);
      case '%':
        return sym(TokenKind::Percent, 1);
      case '|':
        if (d == '|') return sym(TokenKind::Concat, 2);
        break;
      case ':':
        if (d == '=') return sym(TokenKind::Assign, 2);
        break;
      case '(':
        return sym(TokenKind::LParen, 1);
      case ')':
        return sym(TokenKind::RParen, 1);
      case '[':
        return sym(TokenKind::LBracket, 1);
      case ']':
        return sym(TokenKind::RBracket, 1);
      case ',':
        return sym(TokenKind::Comma, 1);
      case ';':
        return sym(TokenKind::Semicolon, 1);
      case '.':
        return sym(TokenKind::Dot, 1);
      default:
        break;
    }
    return sql_error(loc, "unexpected character '" + printable(c) + "'");
  }

  std::string_view in_;
  size_t pos_ = 0;
  int line_ = 1;
  size_t line_start_ = 0;
};

}  // namespace

const char* token_kind_name(TokenKind k) {
  switch (k) {
    case TokenKind::End:
      return "<EOF>";
    case TokenKind::Word:
      return "identifier";
    case TokenKind::QuotedIdentifier:
      return "quoted identifier";
    case TokenKind::String:
      return "string";
    case TokenKind::Integer:
      return "integer";
    case TokenKind::Decimal:
      return "decimal";
    case TokenKind::Float:
      return "floating point number";
    case TokenKind::Eq:
      return "'='";
    case TokenKind::Neq:
      return "'<>'";
    case TokenKind::Lt:
      return "'<'";
    case TokenKind::Lte:
      return "'<='";
    case TokenKind::Gt:
      return "'>'";
    case TokenKind::Gte:
      return "'>='";
    case TokenKind::Plus:
      return "'+'";
    case TokenKind::Minus:
      return "'-'";
    case TokenKind::Star:
      return "'*'";
    case TokenKind::Slash:
      return "'/'";
    case TokenKind::Percent:
      return "'%'";
    case TokenKind::Concat:
      return "'||'";
    case TokenKind::Assign:
      return "':='";
    case TokenKind::Arrow:
      return "'->'";
    case TokenKind::LambdaArrow:
      return "'=>'";
    case TokenKind::LParen:
      return "'('";
    case TokenKind::RParen:
      return "')'";
    case TokenKind::LBracket:
      return "'['";
    case TokenKind::RBracket:
      return "']'";
    case TokenKind::Comma:
      return "','";
    case TokenKind::Semicolon:
      return "';'";
    case TokenKind::Dot:
      return "'.'";
  }
  return "?";
}

std::string Token::display() const {
  if (kind == TokenKind::End) return "'<EOF>'";
  std::string shown = raw.size() > 60 ? raw.substr(0, 57) + "..." : raw;
  if (kind == TokenKind::String) return shown;  // already quoted
  return "'" + shown + "'";
}

Expected<std::vector<Token>> tokenize(std::string_view sql) {
  return Lexer(sql).run();
}

}  // namespace rivulet::sql
