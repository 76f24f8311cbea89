// User-defined scalar functions (sql::register_function): registered for
// the whole process, resolved by every engine planned afterwards, refused
// with a reason when they would clash, and a UDF that throws gives NULL,
// counted as an expression error, as a ksqlDB UDF's exception does.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "runtime/codec.hpp"
#include "sql/functions.hpp"
#include "sql/planner.hpp"
#include "sql/test_driver.hpp"
#include "support/kafka_keys.hpp"

namespace rivulet::sql {
namespace {

using nlohmann::json;

using rivulet::testing::string_key;

// MASK_CARD(STRING) -> STRING: "****" and the last four characters; throws
// on fewer than four.
FunctionDef mask_card() {
  FunctionDef d;
  d.name = "mask_card";  // upper-cased when registered
  d.description = "a card number's last four digits";
  d.resolve = [](const std::vector<DataTypePtr>& args) -> Expected<ScalarCall> {
    if (args.size() != 1 || (args[0]->kind != TypeKind::String && args[0]->kind != TypeKind::Null))
      return no_matching_overload("MASK_CARD", args);
    ScalarCall c;
    c.return_type = DataType::of(TypeKind::String);
    c.body = [](const ArgValues& a) -> Value {
      const std::string& s = a[0].as_string();
      if (s.size() < 4) throw std::invalid_argument("too short: " + s);
      return Value::string("****" + s.substr(s.size() - 4));
    };
    return c;
  };
  return d;
}

void register_once() {
  static const bool registered = [] {
    auto ok = register_function(mask_card());
    REQUIRE(ok);
    return true;
  }();
  (void)registered;
}

}  // namespace

TEST_CASE("udf: a registered function runs in SELECT, WHERE and GROUP BY", "[sql][udf]") {
  register_once();
  REQUIRE(FunctionRegistry::global().find("MASK_CARD"));
  CHECK_FALSE(FunctionRegistry::builtin().find("MASK_CARD"));
  SqlEngine engine;
  auto ran = engine.execute_script(
      "CREATE STREAM PAY (ID STRING KEY, CARD STRING, AMOUNT INT) "
      "WITH (kafka_topic='pay', value_format='JSON');"
      "CREATE STREAM MASKED AS SELECT ID, mask_card(CARD) AS CARD FROM PAY "
      "WHERE MASK_CARD(CARD) <> '****0000';"
      "CREATE TABLE BY_CARD AS SELECT MASK_CARD(CARD) AS CARD, SUM(AMOUNT) AS TOTAL FROM PAY "
      "GROUP BY MASK_CARD(CARD);");
  INFO((ran ? std::string() : ran.error().message));
  REQUIRE(ran);
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  REQUIRE((*driver)->pipe("pay", string_key("p1"),
                          std::string(R"({"CARD":"4111111111111234","AMOUNT":5})"), 1));
  REQUIRE((*driver)->pipe("pay", string_key("p2"),
                          std::string(R"({"CARD":"5500000000000000","AMOUNT":7})"), 2));
  REQUIRE((*driver)->pipe("pay", string_key("p3"),
                          std::string(R"({"CARD":"4000000000001234","AMOUNT":9})"), 3));
  auto masked = (*driver)->outputs("MASKED");
  REQUIRE(masked.size() == 2);
  CHECK(json::parse(*masked[0].value) == json::parse(R"({"CARD":"****1234"})"));
  CHECK(json::parse(*masked[1].value) == json::parse(R"({"CARD":"****1234"})"));
  auto totals = (*driver)->outputs("BY_CARD");
  REQUIRE(totals.size() == 3);
  CHECK(json::parse(*totals[2].value) == json::parse(R"({"TOTAL":14})"));
  CHECK((*driver)->expression_errors() == 0);
}

TEST_CASE("udf: a function that throws gives NULL and counts an expression error", "[sql][udf]") {
  register_once();
  SqlEngine engine;
  auto ran = engine.execute_script(
      "CREATE STREAM PAY (ID STRING KEY, CARD STRING) WITH (kafka_topic='pay', "
      "value_format='JSON');"
      "CREATE STREAM MASKED AS SELECT ID, MASK_CARD(CARD) AS CARD FROM PAY;");
  REQUIRE(ran);
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  REQUIRE((*driver)->pipe("pay", string_key("p1"), std::string(R"({"CARD":"12"})"), 1));
  REQUIRE((*driver)->pipe("pay", string_key("p2"), std::string(R"({"CARD":"98765"})"), 2));
  auto out = (*driver)->outputs("MASKED");
  REQUIRE(out.size() == 2);
  CHECK(json::parse(*out[0].value) == json::parse(R"({"CARD":null})"));
  CHECK(json::parse(*out[1].value) == json::parse(R"({"CARD":"****8765"})"));
  CHECK((*driver)->expression_errors() == 1);
  CHECK((*driver)->data_errors().empty());  // the record went on, as in ksqlDB
  // The log names the failure and the record it was evaluated for.
  REQUIRE((*driver)->first_skips().size() == 1);
  CHECK_THAT((*driver)->first_skips()[0],
             Catch::Contains("MASK_CARD: too short: 12 (record pay[0]@0)"));
}

TEST_CASE("udf: a function not deterministic runs per row, never ahead of time", "[sql][udf]") {
  static const bool registered = [] {
    FunctionDef d;
    d.name = "NEXT_TICKET";
    d.resolve = [](const std::vector<DataTypePtr>& args) -> Expected<ScalarCall> {
      if (!args.empty()) return no_matching_overload("NEXT_TICKET", args);
      auto next = std::make_shared<std::atomic<int64_t>>(0);  // per call site
      ScalarCall c;
      c.return_type = DataType::of(TypeKind::BigInt);
      c.body = [next](const ArgValues&) { return Value::int64(++*next); };
      c.deterministic = false;
      return c;
    };
    REQUIRE(register_function(std::move(d)));
    return true;
  }();
  (void)registered;
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE STREAM PAY (ID STRING KEY, CARD STRING) WITH (kafka_topic='pay', "
      "value_format='JSON');"
      "CREATE STREAM TICKETS AS SELECT ID, NEXT_TICKET() AS T FROM PAY;"));
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  for (const char* id : {"a", "b", "c"})
    REQUIRE((*driver)->pipe("pay", string_key(id), std::string(R"({"CARD":"x"})"), 1));
  auto out = (*driver)->outputs("TICKETS");
  REQUIRE(out.size() == 3);
  for (int i = 0; i < 3; ++i) CHECK(json::parse(*out[i].value)["T"] == i + 1);
}

TEST_CASE("udf: registrations that would clash are refused with the reason", "[sql][udf]") {
  register_once();
  auto refused = [](FunctionDef d, const std::string& why) {
    auto r = register_function(std::move(d));
    REQUIRE_FALSE(r);
    INFO(r.error().message);
    CHECK(r.error().message.find(why) != std::string::npos);
  };
  FunctionDef builtin = mask_card();
  builtin.name = "abs";
  refused(builtin, "cannot register function ABS: a built-in function has that name");
  refused(mask_card(), "cannot register function MASK_CARD: it is registered already");
  FunctionDef bad_name = mask_card();
  bad_name.name = "2FAST";
  refused(bad_name, "a function's name is letters, digits and '_'");
  bad_name.name = "MY-FN";
  refused(bad_name, "a function's name is letters, digits and '_'");
  bad_name.name = "cast";
  refused(bad_name, "cannot register function CAST: a reserved word of the SQL dialect");
  FunctionDef aggregate = mask_card();
  aggregate.name = "MY_SUM";
  aggregate.kind = FunctionDef::Kind::Aggregate;
  // An aggregate needs resolve_aggregate (tests/sql/udaf_test.cpp).
  refused(aggregate, "cannot register function MY_SUM: it has no resolver");
  FunctionDef no_resolver;
  no_resolver.name = "NOTHING";
  refused(no_resolver, "it has no resolver");
  CHECK_FALSE(FunctionRegistry::global().find("NOTHING"));
  // Unknown before registration, known after: engines resolve names when
  // they plan.
  SqlEngine engine;
  const std::string ddl =
      "CREATE STREAM S (ID STRING KEY, V STRING) WITH (kafka_topic='s', value_format='JSON');";
  auto before = engine.execute_script(ddl + "CREATE STREAM O AS SELECT ID, LATE_UDF(V) FROM S;");
  REQUIRE_FALSE(before);
  CHECK(before.error().message.find("Can't find any functions with the name 'LATE_UDF'") !=
        std::string::npos);
  FunctionDef late = mask_card();
  late.name = "LATE_UDF";
  REQUIRE(register_function(std::move(late)));
  SqlEngine again;
  CHECK(again.execute_script(ddl + "CREATE STREAM O AS SELECT ID, LATE_UDF(V) FROM S;"));
}

// Registering while other threads resolve names: each reader sees a whole
// registry (run under ThreadSanitizer by `make test-tsan`).
TEST_CASE("udf: registering is safe while other threads resolve functions", "[sql][udf]") {
  std::atomic<bool> done{false};
  std::atomic<uint64_t> lookups{0};
  std::thread reader([&] {
    while (!done.load()) {
      const FunctionRegistry& r = FunctionRegistry::global();
      auto abs = r.resolve_scalar("ABS", {DataType::of(TypeKind::Int)});
      if (abs && r.find("ABS")) lookups.fetch_add(1);
    }
  });
  // The reader resolves before the first registration (on a busy machine
  // it may start late: without this wait it might read none at all).
  for (int waited = 0; lookups.load() == 0 && waited < 10000; ++waited)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  REQUIRE(lookups.load() > 0);
  for (int i = 0; i < 50; ++i) {
    FunctionDef d = mask_card();
    d.name = "CONCURRENT_UDF_" + std::to_string(i);
    REQUIRE(register_function(std::move(d)));
  }
  done = true;
  reader.join();
  for (int i = 0; i < 50; ++i)
    CHECK(FunctionRegistry::global().find("CONCURRENT_UDF_" + std::to_string(i)));
}

}  // namespace rivulet::sql
