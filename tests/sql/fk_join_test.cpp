// Foreign-key steps in multi-way table-table joins: chained foreign keys
// (order -> customer -> region), a primary-key step after foreign-key
// steps and before one, INNER, LEFT, RIGHT and FULL OUTER steps. Each query's
// result table, read back from its outputs, must equal the join recomputed
// from the input tables after every one of a few hundred random updates.
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "runtime/codec.hpp"
#include "sql/planner.hpp"
#include "sql/test_driver.hpp"
#include "support/kafka_keys.hpp"

namespace rivulet::sql {
namespace {

using nlohmann::json;
using rivulet::testing::int_key;
using rivulet::testing::string_key;

// A result table as its output topic leaves it: the last value of each key,
// a tombstone deleting it.
std::map<int, json> table_of(const std::vector<OutputRecord>& outputs) {
  std::map<int, json> out;
  for (const auto& r : outputs) {
    REQUIRE(r.key);
    auto k = make_kafka_codec(DataType::of(TypeKind::Int))->decode(*r.key);
    REQUIRE(k);
    if (r.value) {
      out[k->as_int32()] = json::parse(*r.value);
    } else {
      out.erase(k->as_int32());
    }
  }
  return out;
}

const char* kTables =
    "CREATE TABLE ORDERS (OID INT PRIMARY KEY, CUST INT, AMT INT) "
    "WITH (kafka_topic='orders', value_format='JSON', partitions=4);"
    "CREATE TABLE CUSTOMERS (ID INT PRIMARY KEY, NAME STRING, REGION STRING) "
    "WITH (kafka_topic='customers', value_format='JSON', partitions=4);"
    "CREATE TABLE REGIONS (RID STRING PRIMARY KEY, MANAGER STRING) "
    "WITH (kafka_topic='regions', value_format='JSON', partitions=4);"
    "CREATE TABLE SHIPMENTS (OID INT PRIMARY KEY, CARRIER STRING) "
    "WITH (kafka_topic='shipments', value_format='JSON', partitions=4);";

}  // namespace

TEST_CASE("table joins: foreign-key steps in multi-way joins follow every input's changes",
          "[sql][join][fk]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      std::string(kTables) +
      // Chained foreign keys, then a primary-key step on the first table's key.
      "CREATE TABLE CHAIN AS SELECT O.OID AS OID, O.AMT AS AMT, C.NAME AS NAME, "
      "R.MANAGER AS MANAGER, S.CARRIER AS CARRIER FROM ORDERS O "
      "JOIN CUSTOMERS C ON O.CUST = C.ID LEFT JOIN REGIONS R ON C.REGION = R.RID "
      "LEFT JOIN SHIPMENTS S ON O.OID = S.OID;"
      // A FULL OUTER primary-key step, then a foreign key of the first table.
      "CREATE TABLE EITHER AS SELECT O.OID AS OID, O.AMT AS AMT, S.CARRIER AS CARRIER, "
      "C.NAME AS NAME FROM ORDERS O FULL OUTER JOIN SHIPMENTS S ON O.OID = S.OID "
      "LEFT JOIN CUSTOMERS C ON O.CUST = C.ID;"
      // A foreign-key step, then a RIGHT primary-key step.
      "CREATE TABLE SHIPPED AS SELECT S.OID AS OID, O.OID AS ORDER_ID, O.AMT AS AMT, "
      "C.ID AS CID, C.NAME AS NAME, S.CARRIER AS CARRIER FROM ORDERS O "
      "JOIN CUSTOMERS C ON O.CUST = C.ID RIGHT JOIN SHIPMENTS S ON O.OID = S.OID;"));
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);

  struct Order {
    std::optional<int> cust;
    int amt = 0;
  };
  struct Customer {
    std::string name;
    std::optional<std::string> region;
  };
  std::map<int, Order> orders;
  std::map<int, Customer> customers;
  std::map<std::string, std::string> regions;  // RID -> MANAGER
  std::map<int, std::string> shipments;        // OID -> CARRIER
  auto opt = [](const auto& m, const auto& k) -> json {
    auto it = m.find(k);
    return it == m.end() ? json() : json(it->second);
  };

  auto expected_chain = [&] {
    std::map<int, json> out;
    for (const auto& [oid, o] : orders) {
      if (!o.cust || !customers.count(*o.cust)) continue;
      const Customer& c = customers.at(*o.cust);
      out[oid] = {{"AMT", o.amt},
                  {"NAME", c.name},
                  {"MANAGER", c.region ? opt(regions, *c.region) : json()},
                  {"CARRIER", opt(shipments, oid)}};
    }
    return out;
  };
  auto expected_either = [&] {
    std::map<int, json> out;
    for (const auto& [oid, o] : orders) {
      json name;
      if (o.cust && customers.count(*o.cust)) name = customers.at(*o.cust).name;
      out[oid] = {{"AMT", o.amt}, {"CARRIER", opt(shipments, oid)}, {"NAME", name}};
    }
    for (const auto& [oid, carrier] : shipments)
      if (!orders.count(oid))
        out[oid] = {{"AMT", nullptr}, {"CARRIER", carrier}, {"NAME", nullptr}};
    return out;
  };
  auto expected_shipped = [&] {
    std::map<int, json> out;
    for (const auto& [oid, carrier] : shipments) {
      // The order's key column holds the key even without a left row (the
      // chain's key); the customer's, a foreign key's table, is NULL.
      json row = {{"ORDER_ID", oid},
                  {"AMT", nullptr},
                  {"CID", nullptr},
                  {"NAME", nullptr},
                  {"CARRIER", carrier}};
      auto o = orders.find(oid);
      if (o != orders.end() && o->second.cust && customers.count(*o->second.cust)) {
        row["AMT"] = o->second.amt;
        row["CID"] = *o->second.cust;
        row["NAME"] = customers.at(*o->second.cust).name;
      }
      out[oid] = row;
    }
    return out;
  };

  uint64_t seed = 7;
  auto next = [&seed](uint64_t n) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<int>((seed >> 33) % n);
  };
  const std::vector<std::string> rids = {"north", "south", "east"};
  for (int step = 0; step < 400; ++step) {
    const int table = next(4);
    const bool remove = next(5) == 0;
    const int64_t ts = step;
    INFO("step " << step << ", table " << table << (remove ? ", delete" : ""));
    if (table == 0) {  // an order: moves between customers, or loses its customer
      const int oid = next(10);
      if (remove) {
        orders.erase(oid);
        REQUIRE((*driver)->pipe("orders", int_key(oid), std::nullopt, ts));
      } else {
        Order o;
        if (next(6) != 0) o.cust = next(6);
        o.amt = next(100);
        orders[oid] = o;
        json v = {{"CUST", o.cust ? json(*o.cust) : json()}, {"AMT", o.amt}};
        REQUIRE((*driver)->pipe("orders", int_key(oid), v.dump(), ts));
      }
    } else if (table == 1) {  // a customer: renamed, or moved to another region
      const int id = next(6);
      if (remove) {
        customers.erase(id);
        REQUIRE((*driver)->pipe("customers", int_key(id), std::nullopt, ts));
      } else {
        Customer c;
        c.name = "c" + std::to_string(id) + "v" + std::to_string(step);
        if (next(5) != 0) c.region = rids[next(3)];
        customers[id] = c;
        json v = {{"NAME", c.name}, {"REGION", c.region ? json(*c.region) : json()}};
        REQUIRE((*driver)->pipe("customers", int_key(id), v.dump(), ts));
      }
    } else if (table == 2) {
      const std::string rid = rids[next(3)];
      if (remove) {
        regions.erase(rid);
        REQUIRE((*driver)->pipe("regions", string_key(rid), std::nullopt, ts));
      } else {
        regions[rid] = "m" + std::to_string(step);
        REQUIRE((*driver)->pipe("regions", string_key(rid), json{{"MANAGER", regions[rid]}}.dump(),
                                ts));
      }
    } else {
      const int oid = next(10);
      if (remove) {
        shipments.erase(oid);
        REQUIRE((*driver)->pipe("shipments", int_key(oid), std::nullopt, ts));
      } else {
        shipments[oid] = "k" + std::to_string(step);
        REQUIRE((*driver)->pipe("shipments", int_key(oid), json{{"CARRIER", shipments[oid]}}.dump(),
                                ts));
      }
    }
    REQUIRE(table_of((*driver)->outputs("CHAIN")) == expected_chain());
    REQUIRE(table_of((*driver)->outputs("EITHER")) == expected_either());
    REQUIRE(table_of((*driver)->outputs("SHIPPED")) == expected_shipped());
  }
  CHECK((*driver)->data_errors().empty());
  CHECK(!expected_chain().empty());
  CHECK(!expected_shipped().empty());
}

TEST_CASE("table joins: each foreign-key step keeps its own stores and topics", "[sql][join][fk]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      std::string(kTables) +
      "CREATE TABLE OUT AS SELECT O.OID AS OID, NAME, MANAGER FROM ORDERS O "
      "JOIN CUSTOMERS C ON O.CUST = C.ID JOIN REGIONS R ON C.REGION = R.RID;"));
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  std::set<std::string> stores;
  for (auto* s : (*driver)->graph().stores()) stores.insert(s->name());
  for (const char* s : {"CTAS_OUT_0-fk-prev", "CTAS_OUT_0-fk-subscriptions", "CTAS_OUT_0-fk-prev1",
                        "CTAS_OUT_0-fk-subscriptions1", "CTAS_OUT_0-join-state1"})
    CHECK(stores.count(s) == 1);
  std::set<std::string> topics;
  for (const auto& t : engine.topology().repartition_topics()) topics.insert(t);
  CHECK(topics == std::set<std::string>{"CTAS_OUT_0-fk-subscribe-repartition",
                                        "CTAS_OUT_0-fk-response-repartition",
                                        "CTAS_OUT_0-fk-subscribe1-repartition",
                                        "CTAS_OUT_0-fk-response1-repartition"});
}

TEST_CASE(
    "table joins: foreign-key steps refuse RIGHT and FULL OUTER, and primary-key steps still "
    "need co-partitioned tables",
    "[sql][join][fk]") {
  auto error_of = [](const std::string& query) {
    SqlEngine engine;
    REQUIRE(engine.execute_script(kTables));
    auto r = engine.execute_script(query);
    REQUIRE_FALSE(r);
    return r.error().message;
  };
  CHECK(error_of("CREATE TABLE X AS SELECT O.OID AS OID, NAME, MANAGER FROM ORDERS O JOIN "
                 "CUSTOMERS C ON O.CUST = C.ID FULL OUTER JOIN REGIONS R ON C.REGION = R.RID;") ==
        "line 1:102: Invalid join type: full-outer join not supported for foreign-key "
        "table-table join. Got C FULL OUTER JOIN R.");
  CHECK(error_of("CREATE TABLE X AS SELECT O.OID AS OID, NAME, MANAGER FROM ORDERS O JOIN "
                 "CUSTOMERS C ON O.CUST = C.ID RIGHT JOIN REGIONS R ON C.REGION = R.RID;") ==
        "line 1:102: Invalid join type: right join not supported for foreign-key "
        "table-table join. Got C RIGHT OUTER JOIN R.");
  // BRANCHES (3 partitions) joined on the first table's key after a
  // foreign-key step: a primary-key step, checked against the first table.
  const std::string mismatch = error_of(
      "CREATE TABLE BRANCHES (ID INT PRIMARY KEY, CITY STRING) "
      "WITH (kafka_topic='branches', value_format='JSON', partitions=3);"
      "CREATE TABLE X AS SELECT O.OID AS OID, NAME, CITY FROM ORDERS O JOIN CUSTOMERS C ON "
      "O.CUST = C.ID JOIN BRANCHES B ON O.OID = B.ID;");
  CHECK(mismatch.find("Can't join `ORDERS` with `BRANCHES` since the number of partitions don't "
                      "match") != std::string::npos);
}

}  // namespace rivulet::sql
