#pragma once
// The lexer: SQL text (one or many statements) to tokens, as ksqlDB's
// grammar (SqlBase.g4) defines them.
//
//  - Unquoted identifiers and keywords are one kind of token (Word), their
//    text upper-cased: the parser decides what is a keyword. Back-quoted
//    (`Name`) and double-quoted ("Name") identifiers keep their case and are
//    never keywords. A word may start with a digit when it is longer than any
//    number at the same place ("1R"), as ksqlDB's DIGIT_IDENTIFIER.
//  - String literals use '' for a quote inside; their text is unescaped.
//  - Numbers keep their spelling: Integer (digits), Decimal (with a point),
//    Float (with an exponent). The parser types them (INT / BIGINT / DECIMAL
//    / DOUBLE) once it knows whether a minus sign belongs to the literal.
//  - Comments (-- to the end of the line, /* ... */) and whitespace are
//    dropped.
//
// Every token carries its 1-based line:column and byte offset. A character
// no token can start with, an unterminated string, quoted identifier or
// comment is an error naming line:column. Pure function, any thread.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.hpp"
#include "sql/sql_error.hpp"

namespace rivulet::sql {

enum class TokenKind : uint8_t {
  End,               // end of input; always the last token
  Word,              // unquoted identifier or keyword, upper-cased
  QuotedIdentifier,  // `x` or "x", case kept
  String,            // 'text'
  Integer,           // 123
  Decimal,           // 1.5  .5  1.
  Float,             // 1E5  1.5e-3
  // Symbols.
  Eq,           // =
  Neq,          // <> or !=
  Lt,           // <
  Lte,          // <=
  Gt,           // >
  Gte,          // >=
  Plus,         // +
  Minus,        // -
  Star,         // *
  Slash,        // /
  Percent,      // %
  Concat,       // ||
  Assign,       // :=
  Arrow,        // ->
  LambdaArrow,  // =>
  LParen,       // (
  RParen,       // )
  LBracket,     // [
  RBracket,     // ]
  Comma,        // ,
  Semicolon,    // ;
  Dot,          // .
};

// Name of a token kind for messages: "identifier", "string", "'('".
const char* token_kind_name(TokenKind k);

struct Token {
  TokenKind kind = TokenKind::End;
  // Word: upper-cased; QuotedIdentifier, String: unescaped content; numbers
  // and symbols: their spelling; End: empty.
  std::string text;
  std::string raw;  // the spelling as written (quotes included), for messages
  SourceLocation loc;
  size_t offset = 0;  // byte offset of the first character in the input
  size_t length = 0;  // bytes the token spans in the input (quotes included)

  bool is(TokenKind k) const { return kind == k; }
  // An unquoted word spelled `upper` (which must be upper case).
  bool is_word(std::string_view upper) const { return kind == TokenKind::Word && text == upper; }
  // How the token is quoted in messages, ANTLR style: 'FORM', '<EOF>'.
  // Uses the spelling as written.
  std::string display() const;
};

// Tokenizes all of `sql`. The result ends with an End token.
Expected<std::vector<Token>> tokenize(std::string_view sql);

}  // namespace rivulet::sql
