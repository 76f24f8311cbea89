#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "runtime/codec.hpp"
#include "runtime/msgpack_value.hpp"

using namespace rivulet;

static std::shared_ptr<const Schema> schema_of(std::vector<Column> cols) {
  auto s = std::make_shared<Schema>();
  s->columns = std::move(cols);
  return s;
}

TEST_CASE("schemaless JSON decodes objects into structs in field order", "[runtime][codec]") {
  auto c = make_json_codec();
  auto v = c->decode(R"({"b":1,"a":[true,null,"x"],"d":1.5,"n":{"k":-2}})");
  REQUIRE(v.ok());
  CHECK(v->as_struct()[0].name == "b");
  CHECK(*v->field("b") == Value::int64(1));
  CHECK(v->field("a")->as_array()[2] == Value::string("x"));
  CHECK(*v->field("d") == Value::float64(1.5));
  CHECK(*v->field("n")->field("k") == Value::int64(-2));
  CHECK(c->encode(*v).value() == R"({"b":1,"a":[true,null,"x"],"d":1.5,"n":{"k":-2}})");
}

TEST_CASE("JSON with a schema matches columns case-insensitively and coerces",
          "[runtime][codec]") {
  auto schema = schema_of({{"ID", DataType::of(TypeKind::BigInt), true},
                           {"NAME", DataType::of(TypeKind::String)},
                           {"PRICE", DataType::decimal(6, 2)},
                           {"QTY", DataType::of(TypeKind::Int)},
                           {"MISSING", DataType::of(TypeKind::Double)}});
  auto c = make_json_codec(schema);
  auto v = c->decode(R"({"name":"pen","Price":12.34,"qty":"3"})");
  REQUIRE(v.ok());
  REQUIRE(v->as_struct().size() == 4);  // the key column is not in the value
  CHECK(*v->field("NAME") == Value::string("pen"));
  CHECK(v->field("PRICE")->as_decimal().to_string() == "12.34");
  CHECK(*v->field("QTY") == Value::int32(3));
  CHECK(v->field("MISSING")->is_null());
  auto bad = c->decode(R"({"qty":"three"})");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().kind == ErrorKind::Data);
  CHECK_THAT(bad.error().message, Catch::Contains("QTY"));
}

TEST_CASE("JSON with a schema finds fields in any order and the first of duplicate keys",
          "[runtime][codec]") {
  auto schema = schema_of({{"A", DataType::of(TypeKind::BigInt)},
                           {"B", DataType::of(TypeKind::String)},
                           {"C", DataType::of(TypeKind::BigInt)}});
  auto c = make_json_codec(schema);
  // The codec tries the column after the last match first: documents in
  // another order, with extra fields and repeated keys, decode the same.
  for (const char* doc : {R"({"a":1,"b":"x","c":3})", R"({"c":3,"b":"x","a":1})",
                          R"({"zz":0,"C":3,"a":1,"b":"x"})", R"({"b":"x","c":3,"a":1,"c":9,"A":7})",
                          R"({"b":"x","a":1,"extra":{"a":5},"c":3,"b":"y"})"}) {
    auto v = c->decode(doc);
    INFO(doc);
    REQUIRE(v.ok());
    CHECK(*v->field("A") == Value::int64(1));
    CHECK(*v->field("B") == Value::string("x"));
    CHECK(*v->field("C") == Value::int64(3));
  }
  auto partial = c->decode(R"({"c":3,"d":4})");
  REQUIRE(partial.ok());
  CHECK(partial->field("A")->is_null());
  CHECK(partial->field("B")->is_null());
  CHECK(*partial->field("C") == Value::int64(3));
  // A duplicate key is not checked against the column's type: the first wins.
  CHECK(c->decode(R"({"a":1,"a":"not a number"})").ok());

  // Quoted names equal but for case each read the first field matching
  // either (the fields' names match case-insensitively).
  auto twins = make_json_codec(
      schema_of({{"v", DataType::of(TypeKind::BigInt)}, {"V", DataType::of(TypeKind::BigInt)}}));
  auto t = twins->decode(R"({"V":2,"v":1})");
  REQUIRE(t.ok());
  CHECK(t->as_struct()[0].value == Value::int64(2));
  CHECK(t->as_struct()[1].value == Value::int64(2));
}

TEST_CASE("JSON with a schema matches names in any case and builds every column in order",
          "[runtime][codec]") {
  // Lower-case keys take the byte comparison; others fall back to the
  // case-insensitive one; keys of a column's length that are not its name
  // match nothing.
  auto c = make_json_codec(schema_of({{"EVENT_TYPE", DataType::of(TypeKind::String)},
                                      {"event_time", DataType::of(TypeKind::BigInt)},
                                      {"Ip", DataType::of(TypeKind::String)}}));
  for (const char* doc :
       {R"({"event_type":"view","event_time":5,"ip":"a"})",
        R"({"EVENT_TYPE":"view","EVENT_TIME":5,"IP":"a"})",
        R"({"Event_Type":"view","event_timE":5,"iP":"a"})",
        R"({"event_tipe":"click","event_type":"view","ip_":"b","event_time":5,"ip":"a"})"}) {
    INFO(doc);
    auto v = c->decode(doc);
    REQUIRE(v.ok());
    const StructFields& f = v->as_struct();
    REQUIRE(f.size() == 3);
    CHECK(f[0].name == "EVENT_TYPE");
    CHECK(f[0].value == Value::string("view"));
    CHECK(f[1].name == "event_time");
    CHECK(f[1].value == Value::int64(5));
    CHECK(f[2].name == "Ip");
    CHECK(f[2].value == Value::string("a"));
  }
  // Absent and null fields are NULL columns, still named, still in order.
  auto sparse = c->decode(R"({"ip":null,"other":1})");
  REQUIRE(sparse.ok());
  REQUIRE(sparse->as_struct().size() == 3);
  for (const Field& f : sparse->as_struct()) CHECK(f.value.is_null());
  CHECK(sparse->as_struct()[2].name == "Ip");
}

TEST_CASE("JSON with a schema compares names of every length byte for byte", "[runtime][codec]") {
  // Names are compared in words: 1-3 bytes one by one, 4-7 and 8-16 as two
  // overlapping words, longer ones whole. A key that differs from a
  // column's name in its first, a middle or its last byte is another field.
  for (size_t len : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 40}) {
    std::string name;
    for (size_t i = 0; i < len; ++i) name.push_back(static_cast<char>('a' + i % 26));
    auto c = make_json_codec(schema_of({{name, DataType::of(TypeKind::BigInt)}}));
    INFO("name " << name);
    auto exact = c->decode(R"({")" + name + R"(":7})");
    REQUIRE(exact.ok());
    CHECK(exact->as_struct()[0].value == Value::int64(7));
    for (size_t at : {size_t{0}, len / 2, len - 1}) {
      std::string other = name;
      other[at] = '_';
      INFO("key " << other);
      auto v = c->decode(R"({")" + other + R"(":7})");
      REQUIRE(v.ok());
      CHECK(v->as_struct()[0].value.is_null());
    }
  }
}

TEST_CASE("JSON with a schema reads exact matches directly and converts the rest",
          "[runtime][codec]") {
  auto c = make_json_codec(schema_of({{"S", DataType::of(TypeKind::String)},
                                      {"B", DataType::of(TypeKind::BigInt)},
                                      {"I", DataType::of(TypeKind::Int)},
                                      {"D", DataType::of(TypeKind::Double)},
                                      {"F", DataType::of(TypeKind::Boolean)},
                                      {"T", DataType::of(TypeKind::Timestamp)}}));
  auto v = c->decode(
      R"({"s":"a string longer than fifteen bytes","b":-9007199254740993,"i":-2147483648,)"
      R"("d":0.25,"f":false,"t":1700000000000})");
  REQUIRE(v.ok());
  const StructFields& f = v->as_struct();
  CHECK(f[0].value == Value::string("a string longer than fifteen bytes"));
  CHECK(f[1].value.kind() == TypeKind::BigInt);
  CHECK(f[1].value.as_int64() == -9007199254740993LL);
  CHECK(f[2].value.kind() == TypeKind::Int);
  CHECK(f[2].value.as_int32() == INT32_MIN);
  CHECK(f[3].value.kind() == TypeKind::Double);
  CHECK(f[3].value.as_double() == 0.25);
  CHECK(f[4].value.kind() == TypeKind::Boolean);
  CHECK_FALSE(f[4].value.as_bool());
  CHECK(f[5].value.kind() == TypeKind::Timestamp);
  CHECK(f[5].value.as_timestamp() == 1700000000000);
  // Nulls stay NULL; values of another JSON type go through the conversion.
  auto nulls = c->decode(R"({"s":null,"b":null,"i":null,"d":null,"f":null,"t":null})");
  REQUIRE(nulls.ok());
  for (const Field& field : nulls->as_struct()) CHECK(field.value.is_null());
  auto converted =
      c->decode(R"({"s":12,"b":"34","i":5.0,"d":6,"f":"true","t":"2020-01-01T00:00:00.000"})");
  REQUIRE(converted.ok());
  const StructFields& g = converted->as_struct();
  CHECK(g[0].value == Value::string("12"));
  CHECK(g[1].value == Value::int64(34));
  CHECK(g[2].value == Value::int32(5));
  CHECK(g[3].value.kind() == TypeKind::Double);
  CHECK(g[4].value == Value::boolean(true));
  CHECK(g[5].value.kind() == TypeKind::Timestamp);
  CHECK(g[5].value.as_timestamp() == 1577836800000);
  // An INTEGER out of its range is a data error naming the column.
  auto wide = c->decode(R"({"i":2147483648})");
  REQUIRE_FALSE(wide.ok());
  CHECK(wide.error().kind == ErrorKind::Data);
  CHECK_THAT(wide.error().message, Catch::Contains("column I"));
}

TEST_CASE("JSON encodes doubles, decimals, bytes and escapes exactly", "[runtime][codec]") {
  CHECK(to_json(Value::float64(100.5)) == "100.5");
  CHECK(to_json(Value::float64(3.0)) == "3.0");
  CHECK(to_json(Value::float64(0.1)) == "0.1");
  CHECK(to_json(Value::decimal(*Decimal::parse("1.50"))) == "1.50");
  CHECK(to_json(Value::bytes("hi!")) == "\"aGkh\"");
  CHECK(to_json(Value::string("a\"b\\c\n\x01")) == R"("a\"b\\c\n\u0001")");
  CHECK(to_json(Value::map({{"k", Value::int32(1)}})) == R"({"k":1})");
}

TEST_CASE("poison JSON is a data error, never a crash", "[runtime][codec]") {
  auto c = make_json_codec();
  for (const char* bad : {"{", "{\"a\":", "[1,2", "nul", "{\"a\":1}}", "\"\xff\xfe\"", ""}) {
    auto r = c->decode(bad);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.error().kind == ErrorKind::Data);
  }
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255), len(0, 64);
  for (int i = 0; i < 3000; ++i) {
    std::string buf(static_cast<size_t>(len(rng)), '\0');
    for (auto& ch : buf) ch = static_cast<char>(byte(rng));
    (void)c->decode(buf);  // must return, whatever it returns
  }
  std::string big = "{\"v\":\"" + std::string(10 * 1024 * 1024, 'x') + "\"}";
  auto r = c->decode(big);
  REQUIRE(r.ok());
  CHECK(r->field("v")->as_string().size() == 10u * 1024 * 1024);
}

TEST_CASE("DELIMITED reads and writes CSV with quoting and nulls", "[runtime][codec]") {
  auto schema = schema_of({{"A", DataType::of(TypeKind::Int)},
                           {"B", DataType::of(TypeKind::String)},
                           {"C", DataType::decimal(4, 1)}});
  auto c = make_delimited_codec(schema);
  auto v = c->decode(R"(1,"x, ""quoted""",2.5)");
  REQUIRE(v.ok());
  CHECK(*v->field("A") == Value::int32(1));
  CHECK(*v->field("B") == Value::string("x, \"quoted\""));
  CHECK(v->field("C")->as_decimal().to_string() == "2.5");
  auto with_null = c->decode("1,,3.0");
  REQUIRE(with_null.ok());
  CHECK(with_null->field("B")->is_null());
  CHECK(c->encode(*v).value() == R"(1,"x, ""quoted""",2.5)");
  CHECK_FALSE(c->decode("1,2").ok());
  CHECK_FALSE(c->decode("x,y,z").ok());
  CHECK_FALSE(c->decode("1,\"open,2").ok());
}

TEST_CASE("DATE and TIME read from numbers or ISO text and write as ksqlDB's numbers",
          "[runtime][codec]") {
  auto schema = schema_of({{"D", DataType::of(TypeKind::Date)},
                           {"T", DataType::of(TypeKind::Time)}});
  auto json = make_json_codec(schema);
  auto a = json->decode(R"({"D": 18690, "T": 18367089})");
  REQUIRE(a.ok());
  CHECK(*a->field("D") == Value::date(18690));
  CHECK(*a->field("T") == Value::time(18367089));
  auto b = json->decode(R"({"D": "2021-03-04", "T": "05:06:07.089"})");
  REQUIRE(b.ok());
  CHECK(*b == *a);
  CHECK(json->encode(*a).value() == R"({"D":18690,"T":18367089})");
  CHECK(json->decode(R"({"D": -1, "T": 0})")->field("D")->as_date() == -1);
  // A time outside the day, a date that is no date, a date with a time: refused.
  for (const char* bad : {R"({"D": 1, "T": 86400000})", R"({"D": 1, "T": -1})",
                          R"({"D": "2021-02-30", "T": 0})", R"({"D": "2021-03-04T00:00", "T": 0})",
                          R"({"D": 1, "T": "25:00"})", R"({"D": 1.5e12, "T": 0})"}) {
    INFO(bad);
    CHECK_FALSE(json->decode(bad).ok());
  }
  auto csv = make_delimited_codec(schema);
  auto c = csv->decode("18690,18367089");
  REQUIRE(c.ok());
  CHECK(*c == *a);
  CHECK(*csv->decode("2021-03-04,05:06:07.089") == *a);
  CHECK(csv->encode(*a).value() == "18690,18367089");
}

// ksqlDB writes DELIMITED with Apache Commons CSV's minimal quoting; the
// same bytes come out here (ksqlDB's query tests compare them).
TEST_CASE("DELIMITED quotes what ksqlDB's CSV writer quotes", "[runtime][codec]") {
  auto schema = schema_of({{"A", DataType::of(TypeKind::String)},
                           {"B", DataType::of(TypeKind::String)},
                           {"N", DataType::of(TypeKind::Int)}});
  auto c = make_delimited_codec(schema);
  auto row = [](std::string a, std::string b, int n) {
    return Value::structure({{"A", Value::string(std::move(a))},
                             {"B", Value::string(std::move(b))},
                             {"N", Value::int32(n)}});
  };
  // At the start of a record anything but a letter or digit is quoted.
  CHECK(c->encode(row("-1", "-1", -1)).value() == R"("-1",-1,-1)");
  CHECK(c->encode(row("a b", "x", 1)).value() == "a b,x,1");
  CHECK(c->encode(row(".5", "é", 1)).value() == "\".5\",é,1");
  // Anywhere: a first character up to '#', a last one up to ' '.
  CHECK(c->encode(row("a", " x", 1)).value() == R"(a," x",1)");
  CHECK(c->encode(row("a", "x\t", 1)).value() == "a,\"x\t\",1");
  CHECK(c->encode(row("a", "#x", 1)).value() == R"(a,"#x",1)");
  CHECK(c->encode(row("a", "$x", 1)).value() == "a,$x,1");
  // An empty string is quoted at the start of a record only.
  CHECK(c->encode(row("", "", 1)).value() == R"("",,1)");
  // Doubles as Java writes them, and read back.
  auto doubles = make_delimited_codec(schema_of({{"D", DataType::of(TypeKind::Double)},
                                                 {"E", DataType::of(TypeKind::Double)},
                                                 {"F", DataType::of(TypeKind::Double)}}));
  Value ds = Value::structure(
      {{"D", Value::float64(1e10)}, {"E", Value::float64(4.9e-324)}, {"F", Value::float64(100.0)}});
  CHECK(doubles->encode(ds).value() == "1.0E10,4.9E-324,100.0");
  CHECK(doubles->decode("1.0E10,4.9E-324,100.0").value() == ds);
  // Whatever is quoted reads back the same.
  for (const auto& r : {row("-1", " x", -1), row(".5", "#x", 2), row("a", "x\t", 3)})
    CHECK(c->decode(c->encode(r).value()).value() == r);
}

TEST_CASE("KAFKA format is big-endian primitives and UTF-8 strings", "[runtime][codec]") {
  auto ints = make_kafka_codec(DataType::of(TypeKind::Int));
  CHECK(ints->encode(Value::int32(258)).value() == std::string("\0\0\x01\x02", 4));
  CHECK(ints->decode(std::string("\xff\xff\xff\xfe", 4)).value() == Value::int32(-2));
  CHECK_FALSE(ints->decode("abc").ok());
  auto longs = make_kafka_codec(DataType::of(TypeKind::BigInt));
  CHECK(longs->decode(longs->encode(Value::int64(-5000000000LL)).value()).value() ==
        Value::int64(-5000000000LL));
  auto doubles = make_kafka_codec(DataType::of(TypeKind::Double));
  CHECK(doubles->decode(doubles->encode(Value::float64(2.5)).value()).value() ==
        Value::float64(2.5));
  auto strings = make_kafka_codec(DataType::of(TypeKind::String));
  CHECK(strings->encode(Value::string("k1")).value() == "k1");
  CHECK(strings->decode("k1").value() == Value::string("k1"));
  CHECK(parse_format("json").value() == Format::Json);
  CHECK_FALSE(parse_format("AVRO").ok());
}

TEST_CASE("msgpack round-trips every value kind losslessly", "[runtime][codec]") {
  Value v = Value::structure({
      {"null", Value()},
      {"bool", Value::boolean(true)},
      {"int", Value::int32(-7)},
      {"big", Value::int64(1LL << 50)},
      {"dbl", Value::float64(0.25)},
      {"dec", Value::decimal(*Decimal::parse("-12345678901234567890.123"))},
      {"str", Value::string("s")},
      {"bytes", Value::bytes(std::string("\0\1", 2))},
      {"ts", Value::timestamp(1700000000000)},
      {"date", Value::date(-719162)},
      {"time", Value::time(86399999)},
      {"arr", Value::array({Value::int32(1), Value::string("x")})},
      {"map", Value::map({{"k", Value::int64(2)}})},
  });
  auto back = from_msgpack(to_msgpack(v));
  REQUIRE(back.ok());
  CHECK(*back == v);
  CHECK(back->field("int")->kind() == TypeKind::Int);
  CHECK(back->field("dec")->as_decimal().scale() == 3);
  CHECK(back->field("map")->kind() == TypeKind::Map);
  CHECK(back->field("ts")->kind() == TypeKind::Timestamp);
  CHECK(back->field("date")->kind() == TypeKind::Date);
  CHECK(back->field("time")->kind() == TypeKind::Time);
  // A TIME outside the day is refused on the way back in: fixext 4, type 6.
  CHECK_FALSE(from_msgpack(std::string("\xd6\x06\x05\x26\x5c\x00", 6)).ok());
  CHECK(*from_msgpack(std::string("\xd6\x06\x05\x26\x5b\xff", 6)) == Value::time(86399999));
  CHECK_FALSE(from_msgpack("\xc1").ok());
  std::string bytes = to_msgpack(v);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    CHECK_FALSE(from_msgpack(std::string_view(bytes).substr(0, cut)).ok());
  }
}

// msgpack-c's pack_double writes a double with an integral value as an
// integer, which read back as a BIGINT (found by runtime/fuzz/codec_fuzzer).
TEST_CASE("msgpack keeps integral doubles DOUBLE and the sign of zero", "[runtime][codec]") {
  for (double d : {3.0, 0.0, -7.0, 5496681529344.0, 1e300, -1e19, 18446744073709551616.0}) {
    const std::string bytes = to_msgpack(Value::float64(d));
    CHECK(bytes.size() == 9);
    CHECK(static_cast<unsigned char>(bytes[0]) == 0xcb);
    auto back = from_msgpack(bytes);
    REQUIRE(back.ok());
    CHECK(back->kind() == TypeKind::Double);
    CHECK(back->as_double() == d);
  }
  auto negative_zero = from_msgpack(to_msgpack(Value::float64(-0.0)));
  REQUIRE(negative_zero.ok());
  REQUIRE(negative_zero->kind() == TypeKind::Double);
  CHECK(std::signbit(negative_zero->as_double()));
  // Inside containers too: a row's DOUBLE column restored from a checkpoint.
  Value row = Value::structure({{"PRICE", Value::float64(10.0)}, {"N", Value::int64(10)}});
  auto restored = from_msgpack(to_msgpack(row));
  REQUIRE(restored.ok());
  CHECK(restored->field("PRICE")->kind() == TypeKind::Double);
  CHECK(restored->field("N")->kind() == TypeKind::BigInt);
  CHECK(to_json(*restored) == R"({"PRICE":10.0,"N":10})");
}
