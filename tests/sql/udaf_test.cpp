// User-defined aggregate functions (sql::register_function with
// FunctionDef::Kind::Aggregate), as ksqlDB's UDAFs: several arguments,
// partial aggregates merged across a repartition topic, tumbling and
// session windows, a TABLE's updates taken back out with undo (refused
// without it, as ksqlDB refuses a Udaf that is not a TableUdaf), a throw
// failing that row only.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "runtime/codec.hpp"
#include "sql/functions.hpp"
#include "sql/planner.hpp"
#include "sql/test_driver.hpp"
#include "support/kafka_keys.hpp"

namespace rivulet::sql {
namespace {

using nlohmann::json;

using rivulet::testing::string_key;

bool numeric(const DataTypePtr& t) {
  return t->kind == TypeKind::Int || t->kind == TypeKind::BigInt || t->kind == TypeKind::Double ||
         t->kind == TypeKind::Null;
}

// WEIGHTED_AVG(x, w): sum(x * w) / sum(w) over the rows where neither is
// NULL; NULL before the first. The aggregate is [sum(x * w), sum(w)]. A
// negative weight throws (that row fails). Undoable, so tables may use it.
FunctionDef weighted_avg() {
  FunctionDef d;
  d.name = "weighted_avg";
  d.kind = FunctionDef::Kind::Aggregate;
  d.signature = "WEIGHTED_AVG(DOUBLE, INT) -> DOUBLE";
  d.resolve_aggregate = [](const std::vector<DataTypePtr>& args) -> Expected<AggregateCall> {
    if (args.size() != 2 || !numeric(args[0]) || !numeric(args[1]))
      return no_matching_overload("WEIGHTED_AVG", args);
    AggregateCall c;
    c.return_type = DataType::of(TypeKind::Double);
    c.initialize = [] { return Value::array(Array{Value::float64(0), Value::int64(0)}); };
    auto step = [](const ArgValues& a, const Value& agg, int sign) {
      if (a[0].is_null() || a[1].is_null()) return agg;
      const int64_t w = a[1].to_int64();
      if (w < 0) throw std::invalid_argument("negative weight " + std::to_string(w));
      const Array& s = agg.as_array();
      return Value::array(Array{Value::float64(s[0].as_double() + sign * a[0].to_double() * w),
                                Value::int64(s[1].as_int64() + sign * w)});
    };
    c.aggregate = [step](const ArgValues& a, const Value& agg) { return step(a, agg, 1); };
    c.undo = [step](const ArgValues& a, const Value& agg) { return step(a, agg, -1); };
    c.merge = [](const Value& x, const Value& y) {
      const Array& a = x.as_array();
      const Array& b = y.as_array();
      return Value::array(Array{Value::float64(a[0].as_double() + b[0].as_double()),
                                Value::int64(a[1].as_int64() + b[1].as_int64())});
    };
    c.map = [](const Value& agg) {
      const Array& s = agg.as_array();
      if (s[1].as_int64() == 0) return Value();
      return Value::float64(s[0].as_double() / static_cast<double>(s[1].as_int64()));
    };
    return c;
  };
  return d;
}

// LONGEST(s): the longest non-NULL string, the earliest on a tie. Its
// aggregate is its result (no map) and it cannot be undone.
FunctionDef longest() {
  FunctionDef d;
  d.name = "LONGEST";
  d.kind = FunctionDef::Kind::Aggregate;
  d.resolve_aggregate = [](const std::vector<DataTypePtr>& args) -> Expected<AggregateCall> {
    if (args.size() != 1 || args[0]->kind != TypeKind::String)
      return no_matching_overload("LONGEST", args);
    AggregateCall c;
    c.return_type = DataType::of(TypeKind::String);
    c.initialize = [] { return Value(); };
    auto longer = [](const Value& earlier, const Value& later) {
      if (later.is_null()) return earlier;
      if (earlier.is_null()) return later;
      return later.as_string().size() > earlier.as_string().size() ? later : earlier;
    };
    c.aggregate = [longer](const ArgValues& a, const Value& agg) { return longer(agg, a[0]); };
    c.merge = longer;
    return c;
  };
  return d;
}

void register_once() {
  static const bool registered = [] {
    auto a = register_function(weighted_avg());
    auto b = register_function(longest());
    return a && b;
  }();
  REQUIRE(registered);
}

const std::string kPays =
    "CREATE STREAM PAYS (ID STRING KEY, SHOP STRING, NOTE STRING, PRICE DOUBLE, QTY INT) "
    "WITH (kafka_topic='pays', value_format='JSON');";

json last_of(TestDriver& d, const std::string& topic) {
  auto out = d.outputs(topic);
  REQUIRE_FALSE(out.empty());
  REQUIRE(out.back().value);
  return json::parse(*out.back().value);
}

}  // namespace

TEST_CASE("udaf: registered, typed, listed and refused like a built-in", "[sql][udf][udaf]") {
  register_once();
  const FunctionDef* d = FunctionRegistry::global().find("WEIGHTED_AVG");
  REQUIRE(d);
  CHECK(d->kind == FunctionDef::Kind::Aggregate);
  CHECK(FunctionRegistry::global().is_aggregate("LONGEST"));
  auto t = FunctionRegistry::global().aggregate_result_type(
      "WEIGHTED_AVG", {DataType::of(TypeKind::Double), DataType::of(TypeKind::Int)});
  REQUIRE(t);
  CHECK((*t)->kind == TypeKind::Double);

  SqlEngine engine;
  auto bad = engine.execute_script(kPays +
                                   "CREATE TABLE T AS SELECT SHOP, WEIGHTED_AVG(NOTE, NOTE) AS A "
                                   "FROM PAYS GROUP BY SHOP;");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find(
            "Function 'WEIGHTED_AVG' does not accept parameters (STRING, STRING).") !=
        std::string::npos);
  CHECK(bad.error().message.find("line 1:") == 0);
  auto star = engine.execute_script(
      "CREATE TABLE T2 AS SELECT SHOP, LONGEST(*) AS L FROM PAYS GROUP BY SHOP;");
  REQUIRE_FALSE(star);
  // Outside GROUP BY, as every aggregate.
  auto row = engine.execute_script("CREATE STREAM S2 AS SELECT ID, LONGEST(NOTE) AS L FROM PAYS;");
  REQUIRE_FALSE(row);

  // A resolver that leaves out merge is refused when the query is planned.
  FunctionDef partial = longest();
  partial.name = "NO_MERGE_AGG";
  partial.resolve_aggregate = [](const std::vector<DataTypePtr>&) -> Expected<AggregateCall> {
    AggregateCall c;
    c.return_type = DataType::of(TypeKind::BigInt);
    c.initialize = [] { return Value::int64(0); };
    c.aggregate = [](const ArgValues&, const Value& agg) { return agg; };
    return c;
  };
  REQUIRE(register_function(std::move(partial)));
  auto no_merge = engine.execute_script(
      "CREATE TABLE T3 AS SELECT SHOP, NO_MERGE_AGG(QTY) AS N FROM PAYS GROUP BY SHOP;");
  REQUIRE_FALSE(no_merge);
  CHECK(no_merge.error().message.find("aggregate function NO_MERGE_AGG resolved without merge") !=
        std::string::npos);

  FunctionDef lambda = longest();
  lambda.name = "MY_LAMBDA";
  lambda.kind = FunctionDef::Kind::Lambda;
  auto refused = register_function(std::move(lambda));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find(
            "only scalar, aggregate and table functions can be user-defined") != std::string::npos);
  FunctionDef unresolved;
  unresolved.name = "NO_RESOLVER_AGG";
  unresolved.kind = FunctionDef::Kind::Aggregate;
  auto none = register_function(std::move(unresolved));
  REQUIRE_FALSE(none);
  CHECK(none.error().message.find("it has no resolver") != std::string::npos);
}

// Grouped by a column that is not the key: rows are aggregated into partials
// before the repartition topic and the partials merged after it.
TEST_CASE("udaf: a stream GROUP BY through a repartition topic merges partials",
          "[sql][udf][udaf]") {
  register_once();
  SqlEngine engine;
  auto ran = engine.execute_script(
      kPays +
      "CREATE TABLE BY_SHOP AS SELECT SHOP, WEIGHTED_AVG(PRICE, QTY) AS AVG_PRICE, "
      "LONGEST(NOTE) AS NOTE, COUNT(*) AS N FROM PAYS GROUP BY SHOP;");
  INFO((ran ? std::string() : ran.error().message));
  REQUIRE(ran);
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  auto pay = [&](const std::string& id, const json& v, TimestampMs ts) {
    REQUIRE((*driver)->pipe("pays", string_key(id), v.dump(), ts));
  };
  pay("p1", {{"SHOP", "north"}, {"NOTE", "ok"}, {"PRICE", 10.0}, {"QTY", 1}}, 1);
  CHECK(last_of(**driver, "BY_SHOP") == json::parse(R"({"AVG_PRICE":10.0,"NOTE":"ok","N":1})"));
  pay("p2", {{"SHOP", "north"}, {"NOTE", "gift wrap"}, {"PRICE", 20.0}, {"QTY", 3}}, 2);
  CHECK(last_of(**driver, "BY_SHOP") ==
        json::parse(R"({"AVG_PRICE":17.5,"NOTE":"gift wrap","N":2})"));
  // NULL arguments reach the function, which skips them.
  pay("p3", {{"SHOP", "north"}, {"NOTE", nullptr}, {"PRICE", nullptr}, {"QTY", 5}}, 3);
  CHECK(last_of(**driver, "BY_SHOP") ==
        json::parse(R"({"AVG_PRICE":17.5,"NOTE":"gift wrap","N":3})"));
  pay("p4", {{"SHOP", "south"}, {"NOTE", "x"}, {"PRICE", 4.0}, {"QTY", 2}}, 4);
  CHECK(last_of(**driver, "BY_SHOP") == json::parse(R"({"AVG_PRICE":4.0,"NOTE":"x","N":1})"));
  // A throw fails that row: a data error, its group unchanged.
  pay("p5", {{"SHOP", "north"}, {"NOTE", "refund!"}, {"PRICE", 99.0}, {"QTY", -1}}, 5);
  REQUIRE((*driver)->data_errors().size() == 1);
  CHECK((*driver)->data_errors()[0].error.message.find("negative weight -1") != std::string::npos);
  pay("p6", {{"SHOP", "north"}, {"NOTE", "a"}, {"PRICE", 30.0}, {"QTY", 4}}, 6);
  CHECK(last_of(**driver, "BY_SHOP") ==
        json::parse(R"({"AVG_PRICE":23.75,"NOTE":"gift wrap","N":4})"));
  CHECK((*driver)->expression_errors() == 0);
}

TEST_CASE("udaf: tumbling and session windows", "[sql][udf][udaf]") {
  register_once();
  SqlEngine engine;
  auto ran = engine.execute_script(
      kPays +
      "CREATE TABLE PER_MINUTE AS SELECT ID, WEIGHTED_AVG(PRICE, QTY) AS A FROM PAYS "
      "WINDOW TUMBLING (SIZE 60 SECONDS) GROUP BY ID;"
      "CREATE TABLE VISITS AS SELECT ID, WEIGHTED_AVG(PRICE, QTY) AS A, LONGEST(NOTE) AS L "
      "FROM PAYS WINDOW SESSION (20 SECONDS) GROUP BY ID;");
  INFO((ran ? std::string() : ran.error().message));
  REQUIRE(ran);
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  auto pay = [&](const std::string& note, double price, int qty, TimestampMs ts) {
    json v = {{"SHOP", "s"}, {"NOTE", note}, {"PRICE", price}, {"QTY", qty}};
    REQUIRE((*driver)->pipe("pays", string_key("u1"), v.dump(), ts));
  };
  pay("a", 2.0, 1, 0);
  pay("bbb", 4.0, 1, 1000);
  CHECK(last_of(**driver, "PER_MINUTE")["A"] == 3.0);
  pay("cc", 10.0, 2, 30000);  // the same minute; a session of its own
  CHECK(last_of(**driver, "PER_MINUTE")["A"] == 6.5);
  CHECK(last_of(**driver, "VISITS") == json::parse(R"({"A":10.0,"L":"cc"})"));
  // Within 20 s of both sessions ([0, 1000] and [30000]): one session, the
  // two aggregates merged (merge) and this row added.
  pay("d", 1.0, 0, 15000);
  CHECK(last_of(**driver, "VISITS") == json::parse(R"({"A":6.5,"L":"bbb"})"));
  pay("e", 8.0, 1, 61000);  // the next minute, and a new session
  CHECK(last_of(**driver, "PER_MINUTE")["A"] == 8.0);
  CHECK(last_of(**driver, "VISITS") == json::parse(R"({"A":8.0,"L":"e"})"));
  CHECK((*driver)->data_errors().empty());
}

// Over a TABLE, an update takes the old row out of its group (undo) and adds
// the new one: ksqlDB's TableUdaf.
TEST_CASE("udaf: a table GROUP BY takes updated and deleted rows back out with undo",
          "[sql][udf][udaf]") {
  register_once();
  SqlEngine engine;
  const std::string ddl =
      "CREATE TABLE ITEMS (ID STRING PRIMARY KEY, SHOP STRING, NOTE STRING, PRICE DOUBLE, "
      "QTY INT) WITH (kafka_topic='items', value_format='JSON');";
  auto ran = engine.execute_script(ddl +
                                   "CREATE TABLE STOCK AS SELECT SHOP, WEIGHTED_AVG(PRICE, QTY) "
                                   "AS A, COUNT(*) AS N FROM ITEMS GROUP BY SHOP;");
  INFO((ran ? std::string() : ran.error().message));
  REQUIRE(ran);
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  auto put = [&](const std::string& id, const std::string& shop, double price, int qty) {
    json v = {{"SHOP", shop}, {"NOTE", "n"}, {"PRICE", price}, {"QTY", qty}};
    REQUIRE((*driver)->pipe("items", string_key(id), v.dump(), 0));
  };
  auto value_of = [&](const std::string& shop) {
    json last;
    for (const auto& o : (*driver)->outputs("STOCK")) {
      auto codec = make_kafka_codec(DataType::of(TypeKind::String));
      auto k = codec->decode(*o.key);
      REQUIRE(k);
      if (k->as_string() == shop) last = o.value ? json::parse(*o.value) : json();
    }
    return last;
  };
  put("i1", "north", 10.0, 1);
  put("i2", "north", 20.0, 1);
  CHECK(value_of("north") == json::parse(R"({"A":15.0,"N":2})"));
  put("i2", "north", 40.0, 3);  // replaced in the same group: undo, then aggregate
  CHECK(value_of("north") == json::parse(R"({"A":32.5,"N":2})"));
  put("i2", "south", 40.0, 3);  // moved: out of north, into south
  CHECK(value_of("north") == json::parse(R"({"A":10.0,"N":1})"));
  CHECK(value_of("south") == json::parse(R"({"A":40.0,"N":1})"));
  REQUIRE((*driver)->pipe("items", string_key("i1"), std::nullopt, 0));  // deleted
  CHECK(value_of("north") == json::parse(R"({"A":null,"N":0})"));
  CHECK((*driver)->data_errors().empty());

  // Without undo, refused as ksqlDB refuses it.
  SqlEngine other;
  auto refused = other.execute_script(
      ddl + "CREATE TABLE NOTES AS SELECT SHOP, LONGEST(NOTE) AS L FROM ITEMS GROUP BY SHOP;");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("The aggregation function(s) (LONGEST) cannot be applied to "
                                     "a table source, only to a stream source.") !=
        std::string::npos);
}

namespace {

// ITEMS (a table) and ORDERS (a stream), with `query` reading both.
struct Shops {
  SqlEngine engine;
  std::unique_ptr<TestDriver> driver;

  explicit Shops(const std::string& query) {
    register_once();
    auto ran = engine.execute_script(
        "CREATE TABLE ITEMS (ID STRING PRIMARY KEY, SHOP STRING, PRICE DOUBLE, QTY INT) "
        "WITH (kafka_topic='items', value_format='JSON');"
        "CREATE STREAM ORDERS (OID STRING KEY, SHOP STRING, PRICE DOUBLE) "
        "WITH (kafka_topic='orders', value_format='JSON');" +
        query);
    INFO((ran ? std::string() : ran.error().message));
    REQUIRE(ran);
    auto created = TestDriver::create(engine.topology());
    REQUIRE(created);
    driver = std::move(*created);
  }
  void item(const std::string& id, const std::string& shop, double price, int qty) {
    json v = {{"SHOP", shop}, {"PRICE", price}, {"QTY", qty}};
    REQUIRE(driver->pipe("items", string_key(id), v.dump(), 0));
  }
  void order(const std::string& id, const std::string& shop, double price = 1.0) {
    json v = {{"SHOP", shop}, {"PRICE", price}};
    REQUIRE(driver->pipe("orders", string_key(id), v.dump(), 0));
  }
};

}  // namespace

// In a scalar subquery against a table, as the built-in aggregates: folded
// over the rows it matches (initialize, aggregate, map); a throw fails the
// outer record as a data error.
TEST_CASE("udaf: in a subquery, folded over the rows matched", "[sql][udf][udaf][subquery]") {
  Shops s(
      "CREATE STREAM PRICED AS SELECT OID, PRICE - (SELECT WEIGHTED_AVG(I.PRICE, I.QTY) "
      "FROM ITEMS I WHERE I.SHOP = ORDERS.SHOP) AS OVER_AVG FROM ORDERS;");
  TestDriver& d = *s.driver;
  s.order("o0", "north", 5.0);  // no row matched: map of the empty aggregate, NULL
  CHECK(last_of(d, "PRICED") == json::parse(R"({"OVER_AVG":null})"));
  s.item("i1", "north", 10.0, 1);
  s.item("i2", "north", 20.0, 3);
  s.item("i3", "south", 99.0, 1);
  s.order("o1", "north", 20.0);  // 20 - 17.5
  CHECK(last_of(d, "PRICED") == json::parse(R"({"OVER_AVG":2.5})"));
  s.item("i2", "north", 20.0, 1);  // the table's current rows: 15
  s.order("o2", "north", 20.0);
  CHECK(last_of(d, "PRICED") == json::parse(R"({"OVER_AVG":5.0})"));
  s.item("i4", "north", 1.0, -2);  // aggregate throws for this row
  s.order("o3", "north", 20.0);
  CHECK(d.outputs("PRICED").size() == 3);
  REQUIRE(d.data_errors().size() == 1);
  INFO(d.data_errors()[0].error.message);
  CHECK(d.data_errors()[0].error.message.find(
            "(table ITEMS): WEIGHTED_AVG(I.PRICE, I.QTY): negative weight -2: the record is "
            "dropped") != std::string::npos);
}

// In a grouped subquery's HAVING: folded per group of the table's rows.
TEST_CASE("udaf: in a grouped subquery's HAVING", "[sql][udf][udaf][subquery]") {
  Shops s(
      "CREATE STREAM PRICEY AS SELECT OID, SHOP FROM ORDERS WHERE SHOP IN (SELECT SHOP FROM "
      "ITEMS GROUP BY SHOP HAVING WEIGHTED_AVG(PRICE, QTY) > 15);");
  s.item("i1", "north", 10.0, 1);
  s.item("i2", "north", 20.0, 3);  // north: 17.5
  s.item("i3", "south", 12.0, 1);  // south: 12
  s.order("o1", "north");
  s.order("o2", "south");
  s.item("i3", "south", 30.0, 1);  // south: 30
  s.order("o3", "south");
  std::vector<std::string> kept;
  for (const auto& o : s.driver->outputs("PRICEY")) kept.push_back(json::parse(*o.value)["SHOP"]);
  CHECK(kept == std::vector<std::string>{"north", "south"});
  CHECK(s.driver->data_errors().empty());
}

}  // namespace rivulet::sql
