#include "sql/lexer.hpp"

#include <catch2/catch.hpp>

namespace rivulet::sql {
namespace {

std::vector<Token> lex(const std::string& s) {
  auto t = tokenize(s);
  if (!t.ok()) FAIL(t.error().message);
  return t.value();
}

}  // namespace

TEST_CASE("lexer: words are upper-cased, quoted identifiers keep their case", "[sql][lexer]") {
  auto t = lex("select `MiXeD` \"Dq\" _x a@1");
  REQUIRE(t.size() == 6);
  CHECK(t[0].kind == TokenKind::Word);
  CHECK(t[0].text == "SELECT");
  CHECK(t[0].raw == "select");
  CHECK(t[1].kind == TokenKind::QuotedIdentifier);
  CHECK(t[1].text == "MiXeD");
  CHECK(t[2].kind == TokenKind::QuotedIdentifier);
  CHECK(t[2].text == "Dq");
  CHECK(t[3].text == "_X");
  CHECK(t[4].text == "A@1");
  CHECK(t[5].kind == TokenKind::End);
}

TEST_CASE("lexer: strings unescape doubled quotes", "[sql][lexer]") {
  auto t = lex("'it''s' '' 'a\"b' `x``y`");
  CHECK(t[0].kind == TokenKind::String);
  CHECK(t[0].text == "it's");
  CHECK(t[0].raw == "'it''s'");
  CHECK(t[1].text.empty());
  CHECK(t[2].text == "a\"b");
  CHECK(t[3].text == "x`y");
}

TEST_CASE("lexer: numbers keep their spelling and kind", "[sql][lexer]") {
  auto t = lex("12 1.5 .5 1. 1e3 1.5E-2 1e 1ex");
  CHECK(t[0].kind == TokenKind::Integer);
  CHECK(t[1].kind == TokenKind::Decimal);
  CHECK(t[2].kind == TokenKind::Decimal);
  CHECK(t[2].text == ".5");
  CHECK(t[3].kind == TokenKind::Decimal);
  CHECK(t[4].kind == TokenKind::Float);
  CHECK(t[5].kind == TokenKind::Float);
  CHECK(t[5].text == "1.5E-2");
  // "1e" is longer as a word than as the number "1": a digit identifier.
  CHECK(t[6].kind == TokenKind::Word);
  CHECK(t[6].text == "1E");
  CHECK(t[7].kind == TokenKind::Word);
  CHECK(t[7].text == "1EX");
}

TEST_CASE("lexer: operators", "[sql][lexer]") {
  auto t = lex("= <> != < <= > >= + - * / % || := -> => ( ) [ ] , ; .");
  std::vector<TokenKind> want = {
      TokenKind::Eq,     TokenKind::Neq,       TokenKind::Neq,      TokenKind::Lt,
      TokenKind::Lte,    TokenKind::Gt,        TokenKind::Gte,      TokenKind::Plus,
      TokenKind::Minus,  TokenKind::Star,      TokenKind::Slash,    TokenKind::Percent,
      TokenKind::Concat, TokenKind::Assign,    TokenKind::Arrow,    TokenKind::LambdaArrow,
      TokenKind::LParen, TokenKind::RParen,    TokenKind::LBracket, TokenKind::RBracket,
      TokenKind::Comma,  TokenKind::Semicolon, TokenKind::Dot,      TokenKind::End};
  REQUIRE(t.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) CHECK(t[i].kind == want[i]);
}

TEST_CASE("lexer: every token knows its line and column", "[sql][lexer]") {
  auto t = lex("SELECT a,\n  b -- note\n/* c\n d */ FROM\r\n\ts");
  REQUIRE(t.size() == 7);
  CHECK(t[0].loc == SourceLocation{1, 1});
  CHECK(t[1].loc == SourceLocation{1, 8});
  CHECK(t[2].loc == SourceLocation{1, 9});
  CHECK(t[3].loc == SourceLocation{2, 3});
  CHECK(t[4].loc == SourceLocation{4, 7});
  CHECK(t[5].loc == SourceLocation{5, 2});
  CHECK(t[5].offset == 40);
  CHECK(t[6].kind == TokenKind::End);
}

TEST_CASE("lexer: errors name line and column", "[sql][lexer]") {
  auto bad = tokenize("SELECT\n  a ^ b");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "line 2:5: unexpected character '^'");
  auto open = tokenize("x 'abc");
  REQUIRE_FALSE(open.ok());
  CHECK(open.error().message == "line 1:3: unterminated string literal");
  auto comment = tokenize("x /* y");
  REQUIRE_FALSE(comment.ok());
  CHECK(comment.error().message == "line 1:3: unterminated comment '/*'");
  auto nul = tokenize(std::string("a\0b", 3));
  REQUIRE_FALSE(nul.ok());
  CHECK(nul.error().message == "line 1:2: unexpected character '\\x00'");
}

TEST_CASE("lexer: display quotes tokens as ANTLR does", "[sql][lexer]") {
  auto t = lex("form 'x'");
  CHECK(t[0].display() == "'form'");
  CHECK(t[1].display() == "'x'");
  CHECK(t[2].display() == "'<EOF>'");
}

}  // namespace rivulet::sql
