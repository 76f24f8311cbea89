// Codecs against hostile and edge-case input: every bad input is a Data
// error (never a crash or an exception), and what a codec writes it reads
// back.
#include <catch2/catch.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>

#include "runtime/codec.hpp"
#include "runtime/msgpack_value.hpp"

using namespace rivulet;

namespace {

std::shared_ptr<const Schema> schema_of(std::vector<Column> cols) {
  auto s = std::make_shared<Schema>();
  s->columns = std::move(cols);
  return s;
}

std::string random_bytes(std::mt19937& rng, size_t max_len) {
  std::uniform_int_distribution<size_t> len(0, max_len);
  std::string s(len(rng), '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Random bytes biased toward the format's own syntax, which gets much
// deeper into a parser than uniform noise.
std::string random_syntax(std::mt19937& rng, std::string_view alphabet, size_t max_len) {
  std::uniform_int_distribution<size_t> len(0, max_len);
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::string s(len(rng), '\0');
  for (auto& c : s) c = alphabet[pick(rng)];
  return s;
}

void expect_data_error_or_value(const Expected<Value>& r) {
  if (!r.ok()) REQUIRE(r.error().kind == ErrorKind::Data);
}

Value random_value(std::mt19937& rng, int depth) {
  std::uniform_int_distribution<int> kind(0, depth > 3 ? 8 : 11);
  switch (kind(rng)) {
    case 0: return Value();
    case 1: return Value::boolean(rng() % 2 == 0);
    case 2: return Value::int32(static_cast<int32_t>(rng()));
    case 3: return Value::int64(static_cast<int64_t>((uint64_t{rng()} << 32) | rng()));
    case 4: return Value::float64(static_cast<double>(static_cast<int32_t>(rng())) / 64.0);
    case 5: {
      auto d = Decimal::parse(std::to_string(static_cast<int32_t>(rng())) + "." +
                              std::to_string(rng() % 1000));
      return Value::decimal(*d);
    }
    case 6: return Value::string(random_bytes(rng, 12));
    case 7: return Value::bytes(random_bytes(rng, 12));
    case 8: return Value::timestamp(static_cast<int64_t>(rng()) * 1000);
    case 9: {
      Array a;
      for (size_t i = rng() % 4; i > 0; --i) a.push_back(random_value(rng, depth + 1));
      return Value::array(std::move(a));
    }
    case 10: {
      MapEntries m;
      for (size_t i = rng() % 4; i > 0; --i) {
        m.emplace_back("k" + std::to_string(i), random_value(rng, depth + 1));
      }
      return Value::map(std::move(m));
    }
    default: {
      StructFields f;
      for (size_t i = rng() % 4; i > 0; --i) {
        f.push_back(Field{"F" + std::to_string(i), random_value(rng, depth + 1)});
      }
      return Value::structure(std::move(f));
    }
  }
}

}  // namespace

TEST_CASE("JSON decimals come from the digits as written, not from a double",
          "[runtime][codec]") {
  auto schema = schema_of({{"AMOUNT", DataType::decimal(38, 10)},
                           {"PRICE", DataType::decimal(5, 2)},
                           {"BIG", DataType::decimal(25, 0)}});
  auto c = make_json_codec(schema);
  auto v = c->decode(
      R"({"amount": 1234567890123456789012345678.1234567891 , "price":1.005,
          "big": 18446744073709551617})");
  REQUIRE(v.ok());
  CHECK(v->field("AMOUNT")->as_decimal().to_string() == "1234567890123456789012345678.1234567891");
  CHECK(v->field("PRICE")->as_decimal().to_string() == "1.01");  // half up from the text
  CHECK(v->field("BIG")->as_decimal().to_string() == "18446744073709551617");
  auto exp = c->decode(R"({"PRICE": 12.5e-1})");
  REQUIRE(exp.ok());
  CHECK(exp->field("PRICE")->as_decimal().to_string() == "1.25");
  auto strings = c->decode(R"({"PRICE": "3.14159"})");
  REQUIRE(strings.ok());
  CHECK(strings->field("PRICE")->as_decimal().to_string() == "3.14");
  auto too_big = c->decode(R"({"PRICE": 1234.5})");
  REQUIRE_FALSE(too_big.ok());
  CHECK_THAT(too_big.error().message, Catch::Contains("PRICE") && Catch::Contains("DECIMAL(5, 2)"));

  // The digits come from the right field: top level only, first match,
  // escaped keys, strings full of syntax, whitespace everywhere.
  const std::pair<const char*, const char*> cases[] = {
      {R"({"x": {"price": 9.99}, "price": 1.5})", "1.50"},
      {R"({"s": "}{,\"price\": 7.77", "list": [1, {"price": 8.8}], "Price": 2.25})", "2.25"},
      {R"({"price": 1.25, "PRICE": 2.5})", "1.25"},
      {R"({"\u0050RICE": 3.75, "price": 4.5})", "3.75"},
      {R"({"a\"b": [1, "x]"], "price": 0.5})", "0.50"},
      {"{ \"price\"\n :\t -0.125 \r\n}", "-0.13"},
  };
  for (const auto& [doc, expected] : cases) {
    INFO(doc);
    auto r = c->decode(doc);
    REQUIRE(r.ok());
    CHECK(r->field("PRICE")->as_decimal().to_string() == expected);
  }

  auto single = make_json_codec(schema_of({{"V", DataType::decimal(30, 20)}}));
  auto unwrapped = single->decode(" 0.12345678901234567890 ");
  REQUIRE(unwrapped.ok());
  CHECK(unwrapped->field("V")->as_decimal().to_string() == "0.12345678901234567890");
}

TEST_CASE("JSON decimal digits are found in random documents", "[runtime][codec]") {
  auto c = make_json_codec(schema_of({{"PRICE", DataType::decimal(20, 6)}}));
  std::mt19937 rng(99);
  const char* fillers[] = {R"("k": "v,}{]")",  R"("n": [1, [2, {"price": 0.1}]])",
                           R"("e\"s": {"a": "\\"})", R"("t": true)",
                           R"("z" : null)",     R"("price2": 5.5)"};
  for (int i = 0; i < 2000; ++i) {
    std::string digits = std::to_string(rng() % 100000000) + "." + std::to_string(rng() % 1000000);
    if (rng() % 2) digits = "-" + digits;
    std::vector<std::string> members;
    for (size_t k = rng() % 5; k > 0; --k) members.push_back(fillers[rng() % 6]);
    // An escaped key before the price sends the lookup to simdjson on-demand;
    // both paths must find the same digits.
    members.insert(members.begin() + static_cast<long>(rng() % (members.size() + 1)),
                   std::string(rng() % 2 ? "\"price\"" : "\"PRICE\"") + " : " + digits);
    std::string doc = "{";
    for (size_t k = 0; k < members.size(); ++k) doc += (k ? " ,\n" : "") + members[k];
    doc += "}";
    INFO(doc);
    auto r = c->decode(doc);
    REQUIRE(r.ok());
    REQUIRE(r->field("PRICE")->as_decimal() == *Decimal::parse(digits));
  }
}

TEST_CASE("JSON schema columns: bytes from base64, timestamps from millis or text",
          "[runtime][codec]") {
  auto schema = schema_of({{"B", DataType::of(TypeKind::Bytes)},
                           {"T", DataType::of(TypeKind::Timestamp)},
                           {"OK", DataType::of(TypeKind::Boolean)}});
  auto c = make_json_codec(schema);
  auto v = c->decode(R"({"b":"aGkh","t":1700000000123,"ok":"yes"})");
  REQUIRE(v.ok());
  CHECK(v->field("B")->as_bytes() == "hi!");
  CHECK(*v->field("T") == Value::timestamp(1700000000123));
  CHECK(*v->field("OK") == Value::boolean(true));
  auto text = c->decode(R"({"T":"2023-11-14T22:13:20.123Z"})");
  REQUIRE(text.ok());
  CHECK(*text->field("T") == Value::timestamp(1700000000123));
  CHECK_FALSE(c->decode(R"({"b":"not base64!"})").ok());
  // What the codec writes, it reads back.
  auto back = c->decode(c->encode(*v).value());
  REQUIRE(back.ok());
  CHECK(*back == *v);
}

TEST_CASE("JSON with a schema reports wrong types by column and never echoes megabytes",
          "[runtime][codec]") {
  auto c = make_json_codec(schema_of({{"N", DataType::of(TypeKind::Int)},
                                      {"S", DataType::of(TypeKind::String)}}));
  auto arr = c->decode(R"({"n":[1,2]})");
  REQUIRE_FALSE(arr.ok());
  CHECK(arr.error().kind == ErrorKind::Data);
  CHECK_THAT(arr.error().message, Catch::Contains("column N"));
  auto huge = c->decode("{\"n\":\"" + std::string(1 << 20, '7') + "\"}");
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.error().message.size() < 300);
  auto not_object = c->decode("[1]");
  REQUIRE_FALSE(not_object.ok());
  CHECK(not_object.error().kind == ErrorKind::Data);
  auto nested = c->decode(R"({"S":{"a":1}})");  // a struct CASTs to STRING as its text
  REQUIRE(nested.ok());
  CHECK(*nested->field("S") == Value::string(R"({"a":1})"));
}

TEST_CASE("JSON rejects truncation at every byte, trailing garbage and bad UTF-8",
          "[runtime][codec]") {
  auto schemaless = make_json_codec();
  auto typed = make_json_codec(schema_of({{"A", DataType::of(TypeKind::BigInt)},
                                          {"B", DataType::decimal(10, 3)}}));
  const std::string doc = R"({"A": 12, "B": 3.25, "C": ["x", {"d": null}], "E": "\u00e9"})";
  REQUIRE(schemaless->decode(doc).ok());
  REQUIRE(typed->decode(doc).ok());
  for (size_t cut = 0; cut < doc.size(); ++cut) {
    INFO("cut at " << cut);
    std::string_view prefix = std::string_view(doc).substr(0, cut);
    auto r = schemaless->decode(prefix);
    // A prefix that is itself a complete document ("{...}" minus nothing)
    // cannot exist here: every proper prefix is truncated.
    REQUIRE_FALSE(r.ok());
    REQUIRE(r.error().kind == ErrorKind::Data);
    REQUIRE_FALSE(typed->decode(prefix).ok());
  }
  for (const char* bad :
       {R"({"A":1} x)", R"({"A":1}{"A":2})", R"({"A":1,})", R"({"A":01})", R"({"A":1.})",
        R"({"A":.5})", R"({A:1})", R"({"A":'x'})", R"({"A":NaN})", "{\"A\":\"\x80\"}",
        "{\"A\":\"\xc3\x28\"}", "{\"A\":\"\xed\xa0\x80\"}", "{\"\xff\":1}", "\xef\xbb\xbf{}",
        "{\"A\":\"\\ud800\"}", "{\"A\":\"tab\there\"}"}) {
    INFO(bad);
    auto r = schemaless->decode(bad);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.error().kind == ErrorKind::Data);
    CHECK_FALSE(typed->decode(bad).ok());
  }
}

TEST_CASE("JSON survives deep nesting and random input", "[runtime][codec]") {
  auto schemaless = make_json_codec();
  auto typed = make_json_codec(schema_of({{"A", DataType::array(DataType::of(TypeKind::Int))},
                                          {"B", DataType::decimal(6, 2)},
                                          {"C", DataType::of(TypeKind::String)}}));
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK_FALSE(schemaless->decode(deep).ok());  // beyond the parser's depth limit: an error
  // As deep as kMaxValueDepth containers is a value; one level more is a
  // data error that says so, so that whatever is accepted can go through
  // msgpack and a checkpoint and come back (runtime/value.hpp).
  const size_t max = kMaxValueDepth;
  std::string ok_deep = std::string(max, '[') + std::string(max, ']');
  CHECK(schemaless->decode(ok_deep).ok());
  // (simdjson counts an object with members one level deeper than an array.)
  auto object =
      schemaless->decode(std::string(max - 2, '[') + "{\"a\":1}" + std::string(max - 2, ']'));
  REQUIRE(object.ok());
  CHECK(from_msgpack(to_msgpack(*object)).value() == *object);
  std::string too_deep = std::string(max + 1, '[') + std::string(max + 1, ']');
  auto refused = schemaless->decode(too_deep);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == ErrorKind::Data);
  CHECK_THAT(refused.error().message, Catch::Contains("200"));
  CHECK_FALSE(typed->decode("{\"A\":" + too_deep + "}").ok());

  std::mt19937 rng(2024);
  for (int i = 0; i < 3000; ++i) {
    std::string noise = random_bytes(rng, 80);
    expect_data_error_or_value(schemaless->decode(noise));
    expect_data_error_or_value(typed->decode(noise));
    std::string syntax = random_syntax(rng, "{}[]\":,0123456789.-+eEabcABtrufalsn \\", 60);
    expect_data_error_or_value(schemaless->decode(syntax));
    expect_data_error_or_value(typed->decode("{\"A\":" + syntax + "}"));
    expect_data_error_or_value(typed->decode("{\"B\":" + syntax + "}"));
  }
}

TEST_CASE("JSON round-trips random values and a 10 MB value", "[runtime][codec]") {
  auto c = make_json_codec();
  std::mt19937 rng(5);
  for (int i = 0; i < 500; ++i) {
    // Strings of random bytes are not always UTF-8; keep them ASCII here.
    std::string s = random_syntax(rng, "abc \"\\\n\t\x01/xyz", 20);
    Value v = Value::structure({{"s", Value::string(s)},
                                {"i", Value::int64(static_cast<int32_t>(rng()))},
                                {"d", Value::float64(std::ldexp(static_cast<double>(rng()), -20))},
                                {"a", Value::array({Value::boolean(true), Value()})}});
    auto back = c->decode(c->encode(v).value());
    REQUIRE(back.ok());
    REQUIRE(*back == v);
  }
  std::string big(10 * 1024 * 1024, 'x');
  big[5] = '"';
  big[6] = '\n';
  Value v = Value::structure({{"payload", Value::string(big)}});
  auto encoded = c->encode(v);
  REQUIRE(encoded.ok());
  auto back = c->decode(*encoded);
  REQUIRE(back.ok());
  CHECK(back->field("payload")->as_string() == big);
}

TEST_CASE("JSON writes invalid UTF-8 in strings as U+FFFD, so the output stays JSON",
          "[runtime][codec]") {
  auto c = make_json_codec();
  const std::string replacement = "\xEF\xBF\xBD";
  CHECK(to_json(Value::string("a\xff" "b")) == "\"a" + replacement + "b\"");
  CHECK(to_json(Value::string("\xc3\xa9")) == "\"\xc3\xa9\"");  // valid: kept
  CHECK(to_json(Value::string("\xed\xa0\x80")) ==
        "\"" + replacement + replacement + replacement + "\"");  // a surrogate
  CHECK(to_json(Value::string("\xf0\x9f\x98")) ==
        "\"" + replacement + replacement + replacement + "\"");  // truncated emoji
  // ASCII is checked eight bytes at a time: a bad byte in a word or in the
  // tail after the words, and ASCII of whole words, kept as it is.
  CHECK(to_json(Value::string("abcdefghij\xffklmnopq")) ==
        "\"abcdefghij" + replacement + "klmnopq\"");
  CHECK(to_json(Value::string("abcdefghijklmnopq\xc3")) ==
        "\"abcdefghijklmnopq" + replacement + "\"");
  CHECK(to_json(Value::string("abcdefghijklmnop")) == "\"abcdefghijklmnop\"");
  CHECK(to_json(Value::string("abcdefgh\xc3\xa9")) == "\"abcdefgh\xc3\xa9\"");
  std::mt19937 rng(3);
  for (int i = 0; i < 2000; ++i) {
    Value v = Value::structure({{random_bytes(rng, 6), Value::string(random_bytes(rng, 16))}});
    auto back = c->decode(c->encode(v).value());
    REQUIRE(back.ok());  // whatever the bytes were, the JSON is valid
  }
}

// What JSON's grammar asks of a string's bytes, one at a time: the oracle
// for the writer, which copies eight bytes at a time where it can.
std::string escaped_by_hand(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

TEST_CASE("JSON writes each byte that needs escaping at every place in a word",
          "[runtime][codec]") {
  // Every byte below 0x20, the quote, the backslash and a two-byte
  // character, at each position of strings of 0 to 33 plain bytes.
  std::vector<std::string> specials = {"\"", "\\", "\xc3\xa9"};
  for (int c = 0; c < 0x20; ++c) specials.push_back(std::string(1, static_cast<char>(c)));
  for (size_t len = 0; len <= 33; ++len) {
    const std::string plain(len, 'a');
    CHECK(to_json(Value::string(plain)) == escaped_by_hand(plain));
    for (size_t at = 0; at <= len; ++at) {
      for (const auto& special : specials) {
        std::string s = plain;
        s.insert(at, special);
        INFO("length " << len << ", at " << at << ", byte " << int(uint8_t(special[0])));
        REQUIRE(to_json(Value::string(s)) == escaped_by_hand(s));
      }
    }
  }
  // The bytes around the quote, the backslash and the space (0x21, 0x5b,
  // 0x5d, 0x1f, 0x7f) are told apart in a word.
  const std::string near =
      "!#[]^_`\x7f~ \x1f"
      "abcdefgh!#[]^_`\x7f";
  CHECK(to_json(Value::string(near)) == escaped_by_hand(near));
  // Random strings of those bytes.
  std::mt19937 rng(11);
  const std::string alphabet = "ab \"\\\n\t\x01\x1f\x7f!#[]";
  for (int i = 0; i < 3000; ++i) {
    std::string s(rng() % 40, 'x');
    for (auto& ch : s) ch = alphabet[rng() % alphabet.size()];
    REQUIRE(to_json(Value::string(s)) == escaped_by_hand(s));
  }
}

TEST_CASE("JSON output grows past its first guess and follows what was there", "[runtime][codec]") {
  auto c = make_json_codec();
  // A small record first sets the codec's size hint low; a large one
  // after it grows, a small one after that is whole again.
  Value small = Value::structure({{"a", Value::int32(1)}});
  CHECK(c->encode(small).value() == R"({"a":1})");
  StructFields many;
  std::string expected = "{";
  for (int i = 0; i < 300; ++i) {
    std::string name = "field_" + std::to_string(i);
    many.push_back(Field{name, Value::string(std::string(static_cast<size_t>(i % 50), '\n'))});
    expected += (i ? "," : "") + escaped_by_hand(name) + ":" +
                escaped_by_hand(std::string(static_cast<size_t>(i % 50), '\n'));
  }
  expected += "}";
  CHECK(c->encode(Value::structure(many)).value() == expected);
  CHECK(c->encode(small).value() == R"({"a":1})");
  // append_json writes after what the string holds and keeps it.
  std::string out = "prefix:";
  append_json(out, Value::array({Value::int64(INT64_MIN), Value::float64(1e300),
                                 Value::float64(-0.0), Value::float64(2.0),
                                 Value::float64(std::nan("")), Value::boolean(false), Value()}));
  CHECK(out == R"(prefix:[-9223372036854775808,1e+300,-0.0,2.0,"NaN",false,null])");
}

// What the JSON writer wrote for every double before its short path:
// std::to_chars's shortest form, with ".0" after a whole number.
std::string double_by_to_chars(double d) {
  char buf[64];
  std::string text(buf, static_cast<size_t>(std::to_chars(buf, buf + sizeof buf, d).ptr - buf));
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

TEST_CASE("JSON writes doubles as to_chars does, on its short path and off it",
          "[runtime][codec]") {
  std::vector<double> values = {1.0,
                                -1.0,
                                123.45,
                                0.001,
                                0.005,
                                0.0099,
                                0.1,
                                0.3,
                                0.1 + 0.2,
                                1e-3,
                                9.99e-4,
                                1e15,
                                1e15 - 1,
                                999999999999999.9,
                                100000,
                                10000,
                                120000,
                                1234500000,
                                1e14,
                                5e14,
                                2.5,
                                -0.75,
                                0.0,
                                -0.0,
                                1e300,
                                5e-324,
                                4503599627370497.0};
  // Powers of ten, and the doubles on either side of them.
  for (int e = -5; e <= 16; ++e) {
    const double p = std::pow(10.0, e);
    values.insert(values.end(), {p, std::nextafter(p, 0.0), std::nextafter(p, 1e300)});
  }
  std::mt19937_64 rng(7);
  // Few decimals (m / 10^k, as prices and measures are), and their neighbours.
  for (int i = 0; i < 200000; ++i) {
    const int digits = 1 + static_cast<int>(rng() % 16);
    const auto m = static_cast<double>(rng() % static_cast<uint64_t>(std::pow(10.0, digits)));
    const double d = m / std::pow(10.0, static_cast<double>(rng() % 18));
    values.push_back(i % 2 ? -d : d);
    if (i % 7 == 0) values.push_back(std::nextafter(d, 1e300));
  }
  // Any bits at all, and whole numbers with trailing zeros.
  for (int i = 0; i < 100000; ++i) {
    const uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (std::isfinite(d)) values.push_back(d);
    values.push_back(static_cast<double>(rng() % 100000) *
                     std::pow(10.0, static_cast<double>(rng() % 12)));
  }
  auto c = make_json_codec();
  for (double d : values) {
    INFO("the double " << double_by_to_chars(d));
    REQUIRE(c->encode(Value::float64(d)).value() == double_by_to_chars(d));
  }
}

TEST_CASE("DELIMITED: empty strings, bytes, timestamps and line ends", "[runtime][codec]") {
  auto schema = schema_of({{"S", DataType::of(TypeKind::String)},
                           {"B", DataType::of(TypeKind::Bytes)},
                           {"T", DataType::of(TypeKind::Timestamp)},
                           {"D", DataType::of(TypeKind::Double)},
                           {"K", DataType::of(TypeKind::BigInt), true}});
  auto c = make_delimited_codec(schema);
  Value row = Value::structure({{"S", Value::string("")},
                                {"B", Value::bytes(std::string("\0\xff", 2))},
                                {"T", Value::timestamp(1700000000123)},
                                {"D", Value::float64(0.1)}});
  auto text = c->encode(row);
  REQUIRE(text.ok());
  CHECK(*text == R"("",AP8=,1700000000123,0.1)");
  auto back = c->decode(*text);
  REQUIRE(back.ok());
  CHECK(*back == row);
  CHECK(back->field("S")->kind() == TypeKind::String);  // "" is not null
  auto crlf = c->decode("x,,2023-11-14T22:13:20.123,1.5\r\n");
  REQUIRE(crlf.ok());
  CHECK(*crlf->field("D") == Value::float64(1.5));
  CHECK(*crlf->field("T") == Value::timestamp(1700000000123));
  CHECK(crlf->field("B")->is_null());
  auto multiline = c->decode("\"a\nb\",,,");
  REQUIRE(multiline.ok());
  CHECK(*multiline->field("S") == Value::string("a\nb"));
  auto pipes = make_delimited_codec(schema, '|');
  auto p = pipes->decode("a,b|||2");
  REQUIRE(p.ok());
  CHECK(*p->field("S") == Value::string("a,b"));
  CHECK(pipes->encode(*p).value() == "a,b|||2.0");
  auto wrong = c->decode("a,b,c,d");
  REQUIRE_FALSE(wrong.ok());
  CHECK_THAT(wrong.error().message, Catch::Contains("column B"));
}

TEST_CASE("DELIMITED and KAFKA survive random input", "[runtime][codec]") {
  auto csv = make_delimited_codec(schema_of({{"A", DataType::of(TypeKind::Int)},
                                             {"B", DataType::of(TypeKind::String)},
                                             {"C", DataType::decimal(8, 2)}}));
  std::vector<std::unique_ptr<Codec>> kafka;
  for (auto k : {TypeKind::Int, TypeKind::BigInt, TypeKind::Double, TypeKind::String}) {
    kafka.push_back(make_kafka_codec(DataType::of(k)));
  }
  std::mt19937 rng(77);
  for (int i = 0; i < 3000; ++i) {
    expect_data_error_or_value(csv->decode(random_bytes(rng, 40)));
    expect_data_error_or_value(csv->decode(random_syntax(rng, ",\"\r\n12.ab ", 30)));
    std::string raw = random_bytes(rng, 10);
    for (const auto& k : kafka) expect_data_error_or_value(k->decode(raw));
  }
  std::string big(10 * 1024 * 1024, 'y');
  auto r = csv->decode("1,\"" + big + "\",2.50");
  REQUIRE(r.ok());
  CHECK(r->field("B")->as_string().size() == big.size());
  CHECK(kafka[3]->decode(big).value().as_string().size() == big.size());
}

TEST_CASE("KAFKA: wrong lengths, null, single-column key rows", "[runtime][codec]") {
  auto ints = make_kafka_codec(DataType::of(TypeKind::Int));
  auto longs = make_kafka_codec(DataType::of(TypeKind::BigInt));
  auto doubles = make_kafka_codec(DataType::of(TypeKind::Double));
  for (size_t n : {0, 3, 5, 8}) CHECK_FALSE(ints->decode(std::string(n, 'a')).ok());
  for (size_t n : {0, 4, 7, 9}) CHECK_FALSE(longs->decode(std::string(n, 'a')).ok());
  CHECK(longs->encode(Value::int64(1)).value() == std::string("\0\0\0\0\0\0\0\x01", 8));
  CHECK(doubles->encode(Value::float64(1.0)).value() == std::string("\x3f\xf0\0\0\0\0\0\0", 8));
  CHECK(ints->encode(Value::int64(7)).value() == std::string("\0\0\0\x07", 4));  // coerced
  CHECK_FALSE(ints->encode(Value::int64(1LL << 40)).ok());
  auto null_key = ints->encode(Value());
  REQUIRE_FALSE(null_key.ok());
  CHECK(null_key.error().kind == ErrorKind::Data);
  CHECK(ints->encode(Value::structure({{"ID", Value::int32(258)}})).value() ==
        std::string("\0\0\x01\x02", 4));
  CHECK_FALSE(ints->encode(Value::structure({{"A", Value::int32(1)}, {"B", Value::int32(2)}}))
                  .ok());
  auto structs = make_kafka_codec(DataType::structure({}));
  CHECK_FALSE(structs->decode("x").ok());
  CHECK_FALSE(structs->encode(Value::int32(1)).ok());
}

TEST_CASE("msgpack round-trips random nested values and rejects random bytes",
          "[runtime][codec]") {
  std::mt19937 rng(11);
  for (int i = 0; i < 2000; ++i) {
    Value v = random_value(rng, 0);
    std::string bytes = to_msgpack(v);
    auto back = from_msgpack(bytes);
    REQUIRE(back.ok());
    REQUIRE(*back == v);
    REQUIRE(back->kind() == v.kind());
    REQUIRE(to_msgpack(*back) == bytes);  // kinds survive all the way down
  }
  for (int i = 0; i < 5000; ++i) expect_data_error_or_value(from_msgpack(random_bytes(rng, 64)));
  // A forged array header claiming 2^32-1 elements in a 5-byte buffer.
  auto forged = from_msgpack(std::string("\xdd\xff\xff\xff\xff", 5));
  CHECK_FALSE(forged.ok());
  // Nesting far beyond any real value is an error, not a stack overflow.
  std::string deep(100000, '\x91');
  deep += '\xc0';
  CHECK_FALSE(from_msgpack(deep).ok());
  std::string big(10 * 1024 * 1024, 'z');
  auto b = from_msgpack(to_msgpack(Value::bytes(big)));
  REQUIRE(b.ok());
  CHECK(b->as_bytes() == big);
}

// Columns a query does not read (make_json_codec's `decoded`): NULL in the
// result, but checked like decoded ones, so that a record is refused for
// the same reasons whether or not a query reads the bad column. The same
// random documents go through a codec decoding everything.
TEST_CASE("json: columns not decoded come out NULL and are still checked", "[codec][json]") {
  auto schema = schema_of({{"A", DataType::of(TypeKind::String)},
                           {"N", DataType::of(TypeKind::Int)},
                           {"D", DataType::decimal(6, 2)},
                           {"L", DataType::array(DataType::of(TypeKind::BigInt))},
                           {"S", DataType::of(TypeKind::String)}});
  auto all = make_json_codec(schema);
  auto some = make_json_codec(schema, {true, false, false, false});  // S: missing entry, decoded
  auto r = some->decode(R"({"a":"x","n":7,"d":1.25,"l":[1,2],"s":"y","extra":1})");
  REQUIRE(r);
  const auto& f = r->as_struct();
  REQUIRE(f.size() == 5);
  CHECK(f[0].value == Value::string("x"));
  CHECK(f[1].value.is_null());
  CHECK(f[2].value.is_null());
  CHECK(f[3].value.is_null());
  CHECK(f[4].value == Value::string("y"));
  for (const char* bad : {R"({"a":"x","n":"seven"})", R"({"a":"x","n":4294967296})",
                          R"({"a":"x","d":12345.678})", R"({"a":"x","l":{"k":1}})",
                          R"({"a":"x","l":["z"]})"}) {
    INFO(bad);
    auto full = all->decode(bad);
    auto pruned = some->decode(bad);
    REQUIRE_FALSE(full);
    REQUIRE_FALSE(pruned);
    CHECK(pruned.error().kind == ErrorKind::Data);
    CHECK(pruned.error().message == full.error().message);
  }
  std::mt19937 rng(7);
  const std::vector<std::string> values = {"1", "-3", "2.5", "1e3", "\"t\"", "\"12\"", "true",
                                           "null", "[1,2]", "[\"q\"]", "{}", "99999999999"};
  std::uniform_int_distribution<size_t> pick(0, values.size() - 1);
  for (int i = 0; i < 2000; ++i) {
    std::string doc = "{";
    for (const char* name : {"a", "n", "d", "l", "s"}) {
      if (rng() % 4 == 0) continue;
      if (doc.size() > 1) doc += ",";
      doc += std::string("\"") + name + "\":" + values[pick(rng)];
    }
    doc += "}";
    INFO(doc);
    auto full = all->decode(doc);
    auto pruned = some->decode(doc);
    REQUIRE(full.ok() == pruned.ok());
    if (!full) continue;
    const auto& a = full->as_struct();
    const auto& b = pruned->as_struct();
    REQUIRE(a.size() == b.size());
    CHECK(a[0].value == b[0].value);
    CHECK(a[4].value == b[4].value);
    for (size_t c = 1; c <= 3; ++c) CHECK(b[c].value.is_null());
  }
}
