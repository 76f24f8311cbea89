// The planner and the test driver: SQL cases from data/planner_cases.json run
// end to end (codecs included), and unsupported constructs rejected with
// line:column.
#include "sql/planner.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "operators/ktable.hpp"
#include "runtime/codec.hpp"
#include "runtime/msgpack_value.hpp"
#include "sql/app_file.hpp"
#include "sql/parser.hpp"
#include "sql/test_driver.hpp"
#include "support/kafka_keys.hpp"

namespace rivulet::sql {
namespace {

using nlohmann::json;

DataTypePtr key_type(const SourceInfo& s) {
  auto keys = s.schema.key_columns();
  return keys.empty() ? nullptr : keys[0].type;
}

std::optional<std::string> encode_key(const json& j, const SourceInfo& s) {
  if (j.is_null()) return std::nullopt;
  Value v = j.is_string() ? Value::string(j.get<std::string>()) : Value::int64(j.get<int64_t>());
  auto c = coerce(v, *key_type(s));
  REQUIRE(c);
  auto bytes = make_kafka_codec(key_type(s))->encode(*c);
  REQUIRE(bytes);
  return *bytes;
}

json decode_key(const std::optional<std::string>& bytes, const SourceInfo& s) {
  if (!bytes || !key_type(s)) return json();
  auto v = make_kafka_codec(key_type(s))->decode(*bytes);
  REQUIRE(v);
  return json::parse(to_json(*v));
}

using rivulet::testing::string_key;

const SourceInfo* by_topic(const Catalog& c, const std::string& topic) {
  for (auto type : {SourceType::Stream, SourceType::Table})
    for (const auto* s : c.list(type))
      if (s->topic == topic) return s;
  return nullptr;
}

}  // namespace

// Each case runs twice: as written, and with every CREATE TABLE's rows kept
// encoded (TABLE_STORAGE='ENCODED': lookups decode at each read), which
// must not change a result.
TEST_CASE("planner: SQL cases run through the test driver", "[sql][planner]") {
  for (bool encoded : {false, true})
  for (const char* file : {"planner_cases.json", "subquery_cases.json", "subquery_scan_cases.json"}) {
  std::ifstream in(std::string(RIVULET_SOURCE_DIR) + "/tests/sql/data/" + file);
  REQUIRE(in);
  json doc = json::parse(in);
  REQUIRE(doc["cases"].size() >= 5);
  for (const auto& c : doc["cases"]) {
    std::string name = c["name"].get<std::string>();
    INFO(file << ": " << name << (encoded ? " (tables encoded)" : ""));
    SqlEngine engine;
    std::string script;
    for (const auto& s : c["sql"]) {
      std::string statement = s.get<std::string>();
      const size_t with = statement.find(" WITH (");
      if (encoded && statement.rfind("CREATE TABLE ", 0) == 0 && with != std::string::npos &&
          statement.find(" AS SELECT ") == std::string::npos)
        statement.insert(with + 7, "table_storage='ENCODED', ");
      script += statement + "\n";
    }
    auto ran = engine.execute_script(script);
    INFO((ran ? std::string() : ran.error().message));
    if (c.contains("error")) {
      REQUIRE_FALSE(ran);
      CHECK(ran.error().message.find(c["error"].get<std::string>()) != std::string::npos);
      CHECK(location_of(ran.error().message).line > 0);
      continue;
    }
    REQUIRE(ran);
    auto driver = TestDriver::create(engine.topology());
    REQUIRE(driver);
    for (const auto& r : c["inputs"]) {
      const SourceInfo* s = by_topic(engine.catalog(), r["topic"].get<std::string>());
      REQUIRE(s);
      std::optional<std::string> value;  // a null value is a tombstone
      if (!r["value"].is_null()) value = r["value"].dump();
      REQUIRE((*driver)->pipe(s->topic, encode_key(r["key"], *s), value,
                              r.value("timestamp", int64_t{0})));
    }
    // Records a case expects to be refused (dead-lettered): "data_errors": N.
    CHECK((*driver)->data_errors().size() == c.value("data_errors", size_t{0}));
    // Records a case expects to be skipped and counted: "skipped": {"reason": N}.
    for (size_t i = 0; i < kSkipReasons; ++i) {
      auto reason = static_cast<SkipReason>(i);
      INFO("records skipped, reason " << skip_reason_name(reason));
      CHECK((*driver)->skipped(reason) ==
            c.value("skipped", json::object()).value(skip_reason_name(reason), uint64_t{0}));
    }
    std::map<std::string, size_t> seen;
    for (const auto& want : c["outputs"]) {
      std::string topic = want["topic"].get<std::string>();
      auto got = (*driver)->outputs(topic);
      size_t i = seen[topic]++;
      INFO(topic << " #" << i + 1 << " expected " << want.dump());
      REQUIRE(i < got.size());
      const SourceInfo* sink = by_topic(engine.catalog(), topic);
      REQUIRE(sink);
      CHECK(decode_key(got[i].key, *sink) == (want.contains("key") ? want["key"] : json()));
      if (want["value"].is_null()) {
        CHECK_FALSE(got[i].value);
        continue;
      }
      REQUIRE(got[i].value);
      CHECK(json::parse(*got[i].value) == want["value"]);
      if (want.contains("timestamp")) CHECK(got[i].timestamp == want["timestamp"].get<int64_t>());
    }
    for (const auto& [topic, n] : seen) CHECK((*driver)->outputs(topic).size() == n);
  }
  }
}

TEST_CASE("planner: unsupported constructs name line:column", "[sql][planner]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE STREAM S (ID INT KEY, K STRING, V INT) WITH (kafka_topic='s', value_format='JSON');"));
  auto s = parse_statement(
      "CREATE TABLE T AS\n  SELECT K, COUNT(*) AS H FROM S "
      "WINDOW TUMBLING (SIZE 1 SECOND) GROUP BY K LIMIT 5;");
  REQUIRE(s);
  auto r = engine.execute(*s);
  REQUIRE_FALSE(r);
  CHECK(location_of(r.error().message).line == 2);
  CHECK(r.error().message.find("not supported yet: LIMIT") != std::string::npos);
  CHECK(engine.catalog().find("T") == nullptr);
  CHECK(engine.query_count() == 0);
}

TEST_CASE("planner: a query's output read by another query is fed back", "[sql][planner]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE STREAM S (ID INT KEY, V INT) WITH (kafka_topic='s', value_format='JSON');"
      "CREATE STREAM S2 AS SELECT ID, V + 1 AS V FROM S;"
      "CREATE STREAM S3 AS SELECT ID, V * 10 AS V FROM S2 WHERE V > 2;"));
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  auto key = make_kafka_codec(DataType::of(TypeKind::Int))->encode(Value::int32(7));
  REQUIRE(key);
  (*driver)->pipe("s", *key, std::string(R"({"V": 1})"), 0);
  (*driver)->pipe("s", *key, std::string(R"({"V": 2})"), 0);
  auto out = (*driver)->outputs("S3");
  REQUIRE(out.size() == 1);
  CHECK(json::parse(*out[0].value) == json::parse(R"({"V": 30})"));
  CHECK((*driver)->outputs("S2").size() == 2);
  CHECK_FALSE((*driver)->pipe("nobody-reads-this", std::nullopt, std::nullopt, 0));
}

TEST_CASE("planner: a table's results go to a table's sink, which the output cache may hold",
          "[sql][planner]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE STREAM S (ID INT KEY, V INT) WITH (kafka_topic='s', value_format='JSON');"
      "CREATE STREAM S2 AS SELECT ID, V + 1 AS V FROM S;"));
  auto streams_only = engine.topology().instantiate(PartitionId{0});
  REQUIRE(streams_only);
  CHECK_FALSE(streams_only->has_table_sinks());
  REQUIRE(engine.execute_script("CREATE TABLE T AS SELECT ID, COUNT(*) AS N FROM S GROUP BY ID;"));
  auto g = engine.topology().instantiate(PartitionId{0});
  REQUIRE(g);
  CHECK(g->has_table_sinks());
  g->set_output_cache(true);
  auto key = make_kafka_codec(DataType::of(TypeKind::Int))->encode(Value::int32(7));
  REQUIRE(key);
  std::vector<RawRecord> in;
  for (int64_t i = 0; i < 3; ++i) {
    RawRecord r;
    r.offset = i;
    r.key = *key;
    r.value = std::string(R"({"V": 1})");
    in.push_back(std::move(r));
  }
  TaskOutput out;
  REQUIRE(g->process("s", in.data(), in.data() + in.size(), out));
  size_t s2 = 0, t = 0;
  for (const auto& o : out.records) (o.topic == "T" ? t : s2) += 1;
  CHECK(s2 == 3);  // a stream's sink writes every record
  CHECK(t == 0);   // the table's waits for the flush
  out.clear();
  g->flush_output_cache(out);
  REQUIRE(out.records.size() == 1);
  CHECK(out.records[0].topic == "T");
  CHECK(json::parse(*out.records[0].value) == json::parse(R"({"N": 3})"));
}

}  // namespace rivulet::sql

namespace rivulet::sql {

TEST_CASE("planner: a stream-stream join's state survives a restart through its store",
          "[sql][planner]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE STREAM L (ID STRING KEY, A INT) WITH (kafka_topic='l', value_format='JSON');"
      "CREATE STREAM R (ID STRING KEY, B INT) WITH (kafka_topic='r', value_format='JSON');"
      "CREATE STREAM OUT AS SELECT L.ID AS ID, A, B FROM L LEFT JOIN R "
      "WITHIN 10 MILLISECONDS GRACE PERIOD 0 MILLISECONDS ON L.ID = R.ID;"));
  auto key = [](const char* k) { return std::optional<std::string>(k); };
  auto values = [](const std::vector<OutputRecord>& out) {
    std::vector<std::string> v;
    for (const auto& r : out) v.push_back(nlohmann::json::parse(r.value.value_or("null")).dump());
    return v;
  };
  // Before the restart: a and b held, b matched.
  auto first = TestDriver::create(engine.topology());
  REQUIRE(first);
  REQUIRE((*first)->pipe("l", key("a"), std::string(R"({"A": 1})"), 100));
  REQUIRE((*first)->pipe("l", key("b"), std::string(R"({"A": 2})"), 101));
  REQUIRE((*first)->pipe("r", key("b"), std::string(R"({"B": 20})"), 102));
  CHECK(values((*first)->outputs("OUT")) == std::vector<std::string>{R"({"A":2,"B":20})"});
  std::map<std::string, std::string> saved;
  for (auto* s : (*first)->graph().stores()) saved[s->name()] = s->serialize();
  REQUIRE(saved.size() == 1);

  // After it: a new task restored from the snapshot; a right record for a
  // joins it, and a later one closes b's window (b matched: nothing).
  auto second = TestDriver::create(engine.topology());
  REQUIRE(second);
  for (auto* s : (*second)->graph().stores()) REQUIRE(s->restore(saved.at(s->name())));
  REQUIRE((*second)->pipe("r", key("a"), std::string(R"({"B": 10})"), 105));
  REQUIRE((*second)->pipe("l", key("c"), std::string(R"({"A": 3})"), 200));
  REQUIRE((*second)->pipe("r", key("z"), std::string(R"({"B": 0})"), 300));
  CHECK(values((*second)->outputs("OUT")) ==
        std::vector<std::string>{R"({"A":1,"B":10})", R"({"A":3,"B":null})"});
}

}  // namespace rivulet::sql

namespace rivulet::sql {

// INSERT INTO ... VALUES: the record SqlEngine encodes (what `rivulet run`
// and the shell write) read back by queries through the test driver: key
// columns in the key, value columns in the value, ROWTIME as the time.
TEST_CASE("planner: INSERT INTO ... VALUES encodes one record in the source's formats",
          "[sql][planner]") {
  SqlEngine engine;
  auto ran = engine.execute_script(
      "CREATE TABLE USERS (ID BIGINT PRIMARY KEY, NAME STRING, AGE INT)\n"
      "  WITH (kafka_topic='users', value_format='DELIMITED', partitions=2);\n"
      "CREATE STREAM CLICKS (UID BIGINT KEY, URL STRING) WITH (kafka_topic='clicks', "
      "value_format='JSON');\n"
      "CREATE STREAM NAMED WITH (kafka_topic='named', value_format='JSON') AS SELECT C.UID AS "
      "UID, URL, NAME, AGE, C.ROWTIME AS T FROM CLICKS C JOIN USERS U ON C.UID = U.ID;\n"
      "INSERT INTO USERS VALUES (7, 'ann', 30 + 1);\n"
      "INSERT INTO USERS (NAME, ID) VALUES ('bob', 8);\n"
      "INSERT INTO CLICKS (URL, UID, ROWTIME) VALUES ('/a', 7, 1234);\n"
      "INSERT INTO CLICKS (UID, URL) VALUES (8, '/b');\n");
  INFO((ran ? std::string() : ran.error().message));
  REQUIRE(ran);
  const auto& inserts = engine.inserts();
  REQUIRE(inserts.size() == 4);
  CHECK(inserts[0].topic == "users");
  CHECK(inserts[0].partitions == 2);
  CHECK(inserts[0].key == make_kafka_codec(DataType::of(TypeKind::BigInt))->encode(Value::int64(7)).value());
  CHECK(inserts[0].value == std::optional<std::string>("ann,31"));
  CHECK(inserts[1].value == std::optional<std::string>("bob,"));  // AGE not given: NULL
  CHECK_FALSE(inserts[0].timestamp);
  CHECK(inserts[2].timestamp == std::optional<int64_t>(1234));
  REQUIRE(inserts[2].value);
  CHECK(nlohmann::json::parse(*inserts[2].value) == nlohmann::json::parse(R"({"URL":"/a"})"));

  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  for (const auto& r : inserts)
    REQUIRE((*driver)->pipe(r.topic, r.key, r.value, r.timestamp.value_or(5000)));
  auto out = (*driver)->outputs("named");
  REQUIRE(out.size() == 2);
  CHECK(nlohmann::json::parse(*out[0].value) ==
        nlohmann::json::parse(R"({"URL":"/a","NAME":"ann","AGE":31,"T":1234})"));
  CHECK(nlohmann::json::parse(*out[1].value) ==
        nlohmann::json::parse(R"({"URL":"/b","NAME":"bob","AGE":null,"T":5000})"));
}

TEST_CASE("planner: INSERT INTO ... VALUES errors name line:column", "[sql][planner]") {
  const std::string ddl =
      "CREATE TABLE T (ID INT PRIMARY KEY, V INT) WITH (kafka_topic='t', value_format='JSON');\n";
  struct Bad {
    std::string sql;
    std::string where;
    std::string message;
  };
  for (const Bad& b : std::vector<Bad>{
           {"INSERT INTO NOPE VALUES (1);", "2:13", "Cannot insert values into an unknown stream/table: `NOPE`"},
           {"INSERT INTO T (ID, V) VALUES (1);", "2:31", "Expected number columns and values to match: [ID, V], [1]"},
           {"INSERT INTO T VALUES (1, 2, 3);", "2:23", "Expected number columns and values to match: [ID, V], [1, 2, 3]"},
           {"INSERT INTO T (ID, W) VALUES (1, 2);", "2:34", "Column name `W` does not exist in `T`."},
           {"INSERT INTO T (ID, V) VALUES (1,\n 'x');", "3:2", "Expected type INTEGER for field `V` but got 'x'(STRING)"},
           {"INSERT INTO T (V) VALUES (1);", "2:13", "Failed to insert values into 'T'. Value for primary key column(s) `ID` is required for tables"},
           {"INSERT INTO T (ID, ID) VALUES (1, 2);", "2:35", "Duplicate column name `ID`"},
           {"INSERT INTO T (ID, V) VALUES (1, X);", "2:34", "X"},
           {"INSERT INTO T (ID, V) VALUES (1 2);", "2:33", ""},
       }) {
    INFO(b.sql);
    SqlEngine engine;
    auto ran = engine.execute_script(ddl + b.sql);
    REQUIRE_FALSE(ran);
    INFO(ran.error().message);
    CHECK(ran.error().message.rfind("line " + b.where + ": ", 0) == 0);
    CHECK(ran.error().message.find(b.message) != std::string::npos);
    CHECK(engine.inserts().empty());
  }
}

}  // namespace rivulet::sql

namespace rivulet::sql {

// A foreign-key join's task stores (each left key's fk, each fk's
// subscribers) are checkpointed with the tables: after a restore, a right
// row's change still reaches the left rows subscribed before, and a left
// row's move unsubscribes its old fk.
TEST_CASE("planner: a foreign-key table join's subscriptions survive a restart through its stores",
          "[sql][planner]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE TABLE O (OID STRING PRIMARY KEY, CUST STRING) WITH (kafka_topic='o', value_format='JSON');"
      "CREATE TABLE C (ID STRING PRIMARY KEY, NAME STRING) WITH (kafka_topic='c', value_format='JSON');"
      "CREATE TABLE OUT AS SELECT O.OID AS OID, NAME FROM O JOIN C ON O.CUST = C.ID;"));
  auto key = [](const char* k) { return std::optional<std::string>(k); };
  auto rows = [](const std::vector<OutputRecord>& out) {
    std::vector<std::string> v;
    for (const auto& r : out)
      v.push_back(r.key.value_or("") + "=" + nlohmann::json::parse(r.value.value_or("null")).dump());
    return v;
  };
  auto first = TestDriver::create(engine.topology());
  REQUIRE(first);
  REQUIRE((*first)->pipe("c", key("c1"), std::string(R"({"NAME": "ann"})"), 1));
  REQUIRE((*first)->pipe("c", key("c2"), std::string(R"({"NAME": "bob"})"), 2));
  REQUIRE((*first)->pipe("o", key("o1"), std::string(R"({"CUST": "c1"})"), 3));
  CHECK(rows((*first)->outputs("OUT")) == std::vector<std::string>{R"(o1={"NAME":"ann"})"});
  std::map<std::string, std::string> saved;
  for (auto* s : (*first)->graph().stores()) saved[s->name()] = s->serialize();
  CHECK(saved.count("CTAS_OUT_0-fk-prev") == 1);
  CHECK(saved.count("CTAS_OUT_0-fk-subscriptions") == 1);

  auto second = TestDriver::create(engine.topology());
  REQUIRE(second);
  for (auto* s : (*second)->graph().stores()) REQUIRE(s->restore(saved.at(s->name())));
  REQUIRE((*second)->pipe("c", key("c1"), std::string(R"({"NAME": "ann2"})"), 4));
  REQUIRE((*second)->pipe("o", key("o1"), std::string(R"({"CUST": "c2"})"), 5));
  REQUIRE((*second)->pipe("c", key("c1"), std::string(R"({"NAME": "ann3"})"), 6));  // no subscriber
  REQUIRE((*second)->pipe("c", key("c2"), std::string(R"({"NAME": "bobby"})"), 7));
  CHECK(rows((*second)->outputs("OUT")) ==
        std::vector<std::string>{R"(o1={"NAME":"ann2"})", R"(o1={"NAME":"bob"})",
                                 R"(o1={"NAME":"bobby"})"});
}

// The subscriptions are kept per [fk, left key] (one fk's fan-out costs
// nothing per subscription). A checkpoint from before, which held each fk's
// subscribers as one array, restores into them in the same order, and
// incremental snapshots carry single subscriptions.
TEST_CASE("planner: a foreign-key join restores subscriptions saved as one array per fk",
          "[sql][planner]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE TABLE O (OID STRING PRIMARY KEY, CUST STRING) WITH (kafka_topic='o', "
      "value_format='JSON');"
      "CREATE TABLE C (ID STRING PRIMARY KEY, NAME STRING) WITH (kafka_topic='c', "
      "value_format='JSON');"
      "CREATE TABLE OUT AS SELECT O.OID AS OID, NAME FROM O JOIN C ON O.CUST = C.ID;"));
  auto key = [](const char* k) { return std::optional<std::string>(k); };
  auto keys_of = [](const std::vector<OutputRecord>& out) {
    std::vector<std::string> v;
    for (const auto& r : out) v.push_back(r.key.value_or(""));
    return v;
  };
  // What the stores held before: O's rows, each order's fk, and c1's
  // subscribers o2, o1 (in that order) as one array.
  auto first = TestDriver::create(engine.topology());
  REQUIRE(first);
  REQUIRE((*first)->pipe("o", key("o2"), std::string(R"({"CUST": "c1"})"), 1));
  REQUIRE((*first)->pipe("o", key("o1"), std::string(R"({"CUST": "c1"})"), 2));
  std::map<std::string, std::string> saved;
  for (auto* s : (*first)->graph().stores()) saved[s->name()] = s->serialize();
  KTable old("CTAS_OUT_0-fk-subscriptions");
  old.apply(Value::string("c1"), Value::array(Array{Value::string("o2"), Value::string("o1")}));
  saved["CTAS_OUT_0-fk-subscriptions"] = old.serialize();

  auto second = TestDriver::create(engine.topology());
  REQUIRE(second);
  for (auto* s : (*second)->graph().stores()) REQUIRE(s->restore(saved.at(s->name())));
  REQUIRE((*second)->pipe("c", key("c1"), std::string(R"({"NAME": "ann"})"), 3));
  CHECK(keys_of((*second)->outputs("OUT")) == std::vector<std::string>{"o2", "o1"});

  // An incremental snapshot of the subscriptions: o2 moved away, o3 came.
  StateStore* subs = nullptr;
  for (auto* s : (*second)->graph().stores())
    if (s->name() == "CTAS_OUT_0-fk-subscriptions") subs = s;
  REQUIRE(subs);
  REQUIRE(subs->supports_incremental());
  subs->set_change_tracking(true);
  const std::string base = subs->serialize();
  // The first driver's two rows again, at this driver's offsets 0 and 1
  // (it counts from 0, and the restored stores hold those offsets): they
  // change nothing, as a real restore's replay.
  REQUIRE((*second)->pipe("o", key("o2"), std::string(R"({"CUST": "c1"})"), 1));
  REQUIRE((*second)->pipe("o", key("o1"), std::string(R"({"CUST": "c1"})"), 2));
  REQUIRE((*second)->pipe("o", key("o2"), std::string(R"({"CUST": "c9"})"), 4));
  REQUIRE((*second)->pipe("o", key("o3"), std::string(R"({"CUST": "c1"})"), 5));
  const std::string delta = subs->serialize_changes();
  auto third = TestDriver::create(engine.topology());
  REQUIRE(third);
  for (auto* s : (*third)->graph().stores()) {
    if (s->name() == "CTAS_OUT_0-fk-subscriptions") {
      REQUIRE(s->restore(base));
      REQUIRE(s->apply_changes(delta));
    } else {
      REQUIRE(s->restore(saved.at(s->name())));
    }
  }
  // o3's row is not in the restored O table (its store was saved before):
  // the response for o3 is stale and dropped; o1 is answered, o2 not.
  REQUIRE((*third)->pipe("c", key("c1"), std::string(R"({"NAME": "ann2"})"), 6));
  CHECK(keys_of((*third)->outputs("OUT")) == std::vector<std::string>{"o1"});
}

TEST_CASE("planner: a GROUP BY repartition carries partial aggregates instead of rows",
          "[sql][planner]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE STREAM S (ID INT KEY, K STRING, V INT, PAD STRING, W INT) "
      "WITH (kafka_topic='s', value_format='JSON');"
      "CREATE TABLE T AS SELECT K, SUM(V) AS TOTAL, COUNT(*) AS N FROM S GROUP BY K;"));
  auto topics = engine.topology().repartition_topics();
  REQUIRE(topics.size() == 1);
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  auto key = make_kafka_codec(DataType::of(TypeKind::Int))->encode(Value::int32(7));
  REQUIRE(key);
  const std::string pad(200, 'x');
  REQUIRE((*driver)->pipe("s", *key, R"({"K":"a","V":2,"PAD":")" + pad + R"(","W":9})", 10));
  REQUIRE((*driver)->pipe("s", *key, R"({"K":"a","V":5,"PAD":")" + pad + R"(","W":9})", 20));
  auto moved = (*driver)->outputs(*topics.begin());
  REQUIRE(moved.size() == 2);  // no output cache: one pack per record
  int64_t v = 2;
  int64_t ts = 10;
  for (const auto& r : moved) {
    REQUIRE(r.value);
    auto pack = from_msgpack(*r.value);
    REQUIRE(pack);
    INFO(to_json(*pack));
    // [records, [SUM's value, count, COUNT's value, count]], keyed by the
    // group, at the record's time.
    REQUIRE(pack->kind() == TypeKind::Array);
    const Array& p = pack->as_array();
    REQUIRE(p.size() == 2);
    CHECK(p[0].to_int64() == 1);
    const Array& acc = p[1].as_array();
    REQUIRE(acc.size() == 4);
    CHECK(acc[0].to_int64() == v);
    CHECK(acc[3].to_int64() == 1);
    CHECK(r.timestamp == ts);
    REQUIRE(r.key);
    auto k = from_msgpack(*r.key);
    REQUIRE(k);
    CHECK(*k == Value::string("a"));
    CHECK(r.value->size() <= 16);  // not the 200-byte PAD, nor the key again
    v = 5;
    ts = 20;
  }
  auto out = (*driver)->outputs("T");
  REQUIRE(out.size() == 2);
  REQUIRE(out[1].value);
  CHECK(nlohmann::json::parse(*out[1].value) == nlohmann::json::parse(R"({"TOTAL":7,"N":2})"));
}

TEST_CASE("planner: with the output cache a GROUP BY sends combined partials",
          "[sql][planner][two-phase]") {
  const std::string script =
      "CREATE STREAM S (ID INT KEY, K STRING, V INT) WITH (kafka_topic='s', value_format='JSON');"
      "CREATE TABLE T AS SELECT K, COUNT(*) AS N, SUM(V) AS TOTAL, MAX(V) AS TOP, "
      "LATEST_BY_OFFSET(V) AS LAST, EARLIEST_BY_OFFSET(V) AS FIRST, "
      "HISTOGRAM(CAST(V % 3 AS STRING)) AS H, COLLECT_LIST(V % 2) AS L, "
      "COLLECT_SET(V % 4) AS DISTINCT_V FROM S "
      "WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY K;";
  SqlEngine plain_engine, cached_engine;
  REQUIRE(plain_engine.execute_script(script));
  REQUIRE(cached_engine.execute_script(script));
  auto plain = TestDriver::create(plain_engine.topology());
  auto cached = TestDriver::create(cached_engine.topology());
  REQUIRE(plain);
  REQUIRE(cached);
  auto& g = (*cached)->graph();
  REQUIRE(g.has_pre_aggregates());
  g.set_output_cache(true, 1);
  auto input = g.input_index("s");
  REQUIRE(input);
  g.note_high_watermark(*input, 0);  // no replay: combine from the start
  auto key = make_kafka_codec(DataType::of(TypeKind::Int))->encode(Value::int32(1));
  REQUIRE(key);
  for (int i = 0; i < 1000; ++i) {
    // Some NULLs: LATEST_BY_OFFSET and EARLIEST_BY_OFFSET skip them, and
    // their combined partials must merge in order.
    const std::string v = i % 13 == 0 ? "null" : std::to_string((i * 37) % 101);
    const std::string value = R"({"K":"k)" + std::to_string(i % 9) + R"(","V":)" + v + "}";
    const TimestampMs ts = 1000 * static_cast<TimestampMs>(i / 20);  // 50 s of events
    REQUIRE((*plain)->pipe("s", *key, value, ts));
    REQUIRE((*cached)->pipe("s", *key, value, ts));
    if (i % 100 == 99) (*cached)->flush_output_cache();
  }
  (*cached)->flush_output_cache();
  const std::string topic = *cached_engine.topology().repartition_topics().begin();
  CHECK((*plain)->outputs(topic).size() == 1000);
  const size_t moved = (*cached)->outputs(topic).size();
  INFO("packs through the repartition topic: " << moved);
  CHECK(moved <= 10);  // one pack per flush (one destination, one origin)
  auto last = [](const std::vector<OutputRecord>& records) {
    std::map<std::string, std::string> m;
    for (const auto& r : records) m[r.key.value_or("")] = r.value.value_or("");
    return m;
  };
  const auto expected = last((*plain)->outputs("T"));
  CHECK(expected.size() == 9 * 5);  // 9 groups, 5 windows
  CHECK(last((*cached)->outputs("T")) == expected);
  CHECK((*cached)->data_errors().empty());
}

TEST_CASE("planner: GROUP BY the stream's key after a join on that key needs no repartition",
          "[sql][planner]") {
  const std::string ddl =
      "CREATE STREAM E (AD STRING KEY, KIND STRING) WITH (kafka_topic='e', value_format='JSON');"
      "CREATE TABLE ADS (AD STRING PRIMARY KEY, CAMPAIGN STRING) "
      "WITH (kafka_topic='ads', value_format='JSON');";
  auto key = string_key;
  SECTION("grouped by the stream's key: counted in the input's task") {
    SqlEngine engine;
    REQUIRE(engine.execute_script(
        ddl +
        "CREATE TABLE T AS SELECT E.AD AS AD, COUNT(*) AS N FROM E JOIN ADS A ON E.AD = A.AD "
        "WHERE KIND = 'view' GROUP BY E.AD;"));
    CHECK(engine.topology().repartition_topics().empty());
    auto driver = TestDriver::create(engine.topology());
    REQUIRE(driver);
    REQUIRE((*driver)->pipe("ads", key("a1"), std::string(R"({"CAMPAIGN":"c1"})"), 0));
    REQUIRE((*driver)->pipe("e", key("a1"), std::string(R"({"KIND":"view"})"), 1));
    REQUIRE((*driver)->pipe("e", key("a2"), std::string(R"({"KIND":"view"})"), 2));  // no ad
    REQUIRE((*driver)->pipe("e", key("a1"), std::string(R"({"KIND":"click"})"), 3));
    REQUIRE((*driver)->pipe("e", key("a1"), std::string(R"({"KIND":"view"})"), 4));
    auto out = (*driver)->outputs("T");
    REQUIRE(out.size() == 2);
    CHECK(out[1].key == key("a1"));
    REQUIRE(out[1].value);
    CHECK(nlohmann::json::parse(*out[1].value) == nlohmann::json::parse(R"({"N":2})"));
  }
  SECTION("grouped by the table's column, or after a join on another column: repartitioned") {
    for (const char* query :
         {"CREATE TABLE T AS SELECT A.CAMPAIGN AS C, COUNT(*) AS N FROM E JOIN ADS A "
          "ON E.AD = A.AD GROUP BY A.CAMPAIGN;",
          "CREATE TABLE T AS SELECT E.AD AS AD, COUNT(*) AS N FROM E JOIN ADS A "
          "ON E.KIND = A.AD GROUP BY E.AD;"}) {
      INFO(query);
      SqlEngine engine;
      REQUIRE(engine.execute_script(ddl + query));
      CHECK(engine.topology().repartition_topics().size() >= 1);
      bool groupby = false;
      for (const auto& t : engine.topology().repartition_topics())
        groupby = groupby || t.find("groupby") != std::string::npos;
      CHECK(groupby);
    }
  }
}

namespace {
// Two event streams (E with a timestamp column) and an ads table.
constexpr const char* kEventsAndAds =
      "CREATE STREAM E (AD STRING KEY, KIND STRING, N INT, TS BIGINT) "
      "WITH (kafka_topic='e', value_format='JSON', timestamp='TS');"
      "CREATE STREAM E2 (AD STRING KEY, KIND STRING, N INT) "
      "WITH (kafka_topic='e2', value_format='JSON');"
    "CREATE TABLE ADS (AD STRING PRIMARY KEY, CAMPAIGN STRING) "
    "WITH (kafka_topic='ads', value_format='JSON');";

struct PlanCase {
  const char* query;
  bool pushed;  // whether the plan has the node looked for
};

bool has_node(const SqlEngine& engine, const std::string& node) {
  return engine.topology().describe().find(node) != std::string::npos;
}

// Plans `query` as a push query over the statements `ddl`: whether its
// topology has a node whose name contains `node`.
bool push_plan_has(const std::string& ddl, const std::string& query, const std::string& node) {
  SqlEngine engine;
  auto q = parse_statement(query);
  REQUIRE(engine.execute_script(ddl));
  REQUIRE(q);
  auto planned = engine.plan_push(*std::get<SelectStatement>(q->body).query, [](const Record&) {});
  INFO((planned ? std::string() : planned.error().message));
  REQUIRE(planned);
  return has_node(engine, node);
}

// Plans `query` as a push query in `engine`: its schema, and the rows it
// delivers as the engine's topology runs.
struct PushRows {
  SourceInfo info;
  std::shared_ptr<std::vector<Record>> rows;
};
PushRows plan_push_rows(SqlEngine& engine, const std::string& query) {
  auto q = parse_statement(query);
  REQUIRE(q);
  auto rows = std::make_shared<std::vector<Record>>();
  auto planned = engine.plan_push(*std::get<SelectStatement>(q->body).query,
                                  [rows](const Record& r) { rows->push_back(r); });
  INFO((planned ? std::string() : planned.error().message));
  REQUIRE(planned);
  return {*planned, rows};
}

// Six ads, a0..a5, of the campaigns c0..c3, into the table topic "ads".
void pipe_ads(TestDriver& driver) {
  for (int i = 0; i < 6; ++i)
    REQUIRE(driver.pipe("ads", string_key("a" + std::to_string(i)),
                        std::string(R"({"CAMPAIGN":"c)") + std::to_string(i % 4) + "\"}", 0));
}

// What the driver wrote to OUT (key|value|timestamp) and how many records
// it refused.
std::pair<std::vector<std::string>, size_t> out_and_errors(TestDriver& driver) {
  std::vector<std::string> out;
  for (const auto& r : driver.outputs("OUT"))
    out.push_back(r.key.value_or("-") + "|" + r.value.value_or("-") + "|" +
                  std::to_string(r.timestamp));
  return {out, driver.data_errors().size()};
}
}  // namespace

// Predicate pushdown: the conditions of WHERE on the stream's own columns
// that cannot fail run before an inner stream-table join on the stream's
// key. The same query with its WHERE inside a CASE (which is never pushed)
// must give the same outputs and the same data errors on random input:
// missing ads, null keys (dead-lettered by the join), null and other kinds.
TEST_CASE("planner: WHERE conditions on the stream's columns run before an inner join on its key",
          "[sql][planner]") {
  const std::string ddl = kEventsAndAds;
  auto key = string_key;
  SECTION("pushed only where it is safe") {
    for (const PlanCase& c : {
             PlanCase{"SELECT E.AD AS AD, CAMPAIGN FROM E JOIN ADS A ON E.AD = A.AD "
                  "WHERE KIND = 'view' AND N > 2 EMIT CHANGES;", true},
             PlanCase{"SELECT E.AD AS AD, CAMPAIGN FROM E2 E JOIN ADS A ON E.AD = A.AD "
                  "WHERE E.KIND IN ('view', 'click') EMIT CHANGES;", true},  // rows as decoded
             PlanCase{"SELECT E.AD AS AD, CAMPAIGN FROM E LEFT JOIN ADS A ON E.AD = A.AD "
                  "WHERE KIND = 'view' EMIT CHANGES;", false},  // a left join
             PlanCase{"SELECT E.AD AS AD, CAMPAIGN FROM E JOIN ADS A ON E.AD = A.AD "
                  "WHERE N / 2 > 1 EMIT CHANGES;", false},  // arithmetic may fail
             PlanCase{"SELECT E.AD AS AD, CAMPAIGN FROM E JOIN ADS A ON E.AD = A.AD "
                  "WHERE CAMPAIGN = 'c1' EMIT CHANGES;", false},  // the table's column
             PlanCase{"SELECT E.AD AS AD, CAMPAIGN FROM E JOIN ADS A ON E.KIND = A.AD "
                  "WHERE N > 2 EMIT CHANGES;", false},  // not joined on the stream's key
             PlanCase{"SELECT E.AD AS AD, CAMPAIGN FROM E2 E JOIN ADS A ON E.AD = A.AD "
                  "WHERE E.AD = 'a1' EMIT CHANGES;", false},  // a decoded key
             PlanCase{"SELECT E.AD AS AD, CAMPAIGN, X.N AS XN FROM E JOIN ADS A ON E.AD = A.AD "
                  "RIGHT JOIN E2 X WITHIN 1 SECOND ON E.AD = X.AD "
                  "WHERE E.KIND = 'view' EMIT CHANGES;", false},  // a later RIGHT join
         }) {
      INFO(c.query);
      CHECK(push_plan_has(ddl, c.query, "where-before-join") == c.pushed);
    }
  }
  SECTION("the same outputs and data errors as the WHERE after the join") {
    for (const char* stream : {"E", "E2"}) {
      std::string cond = "KIND = 'view' AND N > 2 AND CAMPAIGN <> 'c3'";
      auto run = [&](const std::string& where, bool expect_pushed) {
        SqlEngine engine;
        REQUIRE(engine.execute_script(ddl + "CREATE STREAM OUT AS SELECT X.AD AS AD, CAMPAIGN, "
                                            "N FROM " + stream +
                                      " X JOIN ADS A ON X.AD = A.AD WHERE " + where + ";"));
        CHECK(has_node(engine, "where-before-join") == expect_pushed);
        auto driver = TestDriver::create(engine.topology());
        REQUIRE(driver);
        std::mt19937 rng(11);
        pipe_ads(**driver);
        const char* kinds[] = {"\"view\"", "\"click\"", "null", "\"VIEW\""};
        const std::string topic = std::string(stream) == "E" ? "e" : "e2";
        for (int i = 0; i < 400; ++i) {
          std::optional<std::string> k;
          if (rng() % 10 != 0) k = key("a" + std::to_string(rng() % 8));  // a6, a7: no ad
          std::string v = std::string(R"({"KIND":)") + kinds[rng() % 4] +
                          ",\"N\":" + (rng() % 5 == 0 ? "null" : std::to_string(rng() % 6)) +
                          ",\"TS\":" + std::to_string(i) + "}";
          REQUIRE((*driver)->pipe(topic, k, v, i));
        }
        return out_and_errors(**driver);
      };
      INFO(stream);
      auto with = run(cond, true);
      auto without = run("CASE WHEN TRUE THEN " + cond + " END", false);
      CHECK(with.first.size() > 10);
      CHECK(with.second > 10);  // the null keys, dead-lettered by the join
      CHECK(with.first == without.first);
      CHECK(with.second == without.second);
    }
  }
}

// A stream's WHERE on its own value columns also runs on the decoded
// records, before they are built into rows (where-decoded); the whole WHERE
// still runs where it did. The same queries with the WHERE inside a CASE
// (never pushed) must give the same outputs and data errors on random
// input, bad timestamps among the rejected records included.
TEST_CASE("planner: WHERE on a stream's value columns runs before its rows are built",
          "[sql][planner]") {
  const std::string ddl = std::string(kEventsAndAds) +
                          "CREATE STREAM D (AD STRING KEY, KIND STRING, N INT) "
                          "WITH (kafka_topic='d', value_format='DELIMITED');"
                          "CREATE TABLE T (AD STRING PRIMARY KEY, KIND STRING) "
                          "WITH (kafka_topic='t', value_format='JSON');";
  SECTION("where it is safe") {
    for (const PlanCase& c : {
             PlanCase{"SELECT AD, N FROM E WHERE KIND = 'view' EMIT CHANGES;", true},
             PlanCase{"SELECT AD, N FROM E2 WHERE KIND = 'view' AND N / 2 > 1 EMIT CHANGES;",
                      true},  // the comparison alone
             PlanCase{"SELECT E.AD AS AD, CAMPAIGN FROM E2 E JOIN ADS A ON E.AD = A.AD "
                      "WHERE KIND = 'view' EMIT CHANGES;",
                      false},  // before the join instead
             PlanCase{"SELECT E.AD AS AD, CAMPAIGN FROM E JOIN ADS A ON E.AD = A.AD "
                      "WHERE KIND = 'view' EMIT CHANGES;",
                      false},  // the same with a timestamp
             PlanCase{"SELECT E.AD AS AD, CAMPAIGN FROM E LEFT JOIN ADS A ON E.AD = A.AD "
                      "WHERE KIND = 'view' EMIT CHANGES;",
                      true},
             PlanCase{"SELECT AD, N FROM E WHERE N / 2 > 1 EMIT CHANGES;", false},      // may fail
             PlanCase{"SELECT AD, N FROM E WHERE AD = 'a1' EMIT CHANGES;", false},      // the key
             PlanCase{"SELECT AD, N FROM D WHERE KIND = 'view' EMIT CHANGES;", false},  // not JSON
             PlanCase{"SELECT AD, KIND FROM T WHERE KIND = 'view' EMIT CHANGES;",
                      false},  // a table
             PlanCase{"SELECT E.AD AS AD, CAMPAIGN FROM E JOIN ADS A ON E.KIND = A.AD "
                      "WHERE N > 2 EMIT CHANGES;",
                      false},  // NULL KINDs are refused
             PlanCase{"SELECT E.AD AS AD, X.N AS XN FROM E JOIN E2 X WITHIN 1 SECOND "
                      "ON E.AD = X.AD WHERE E.KIND = 'view' EMIT CHANGES;",
                      false},  // windows
         }) {
      INFO(c.query);
      CHECK(push_plan_has(ddl, c.query, "where-decoded") == c.pushed);
    }
  }
  SECTION("the same outputs and data errors as the WHERE on rows") {
    const std::string cond = "KIND = 'view' AND N > 2";
    for (const std::string query :
         {"SELECT AD, N, TS FROM E WHERE {W};",
          "SELECT X.AD AS AD, CAMPAIGN, N FROM E X JOIN ADS A ON X.AD = A.AD WHERE {W};",
          "SELECT AD, COUNT(*) AS C FROM E WINDOW TUMBLING (SIZE 50 MILLISECONDS) "
          "WHERE {W} GROUP BY AD;"}) {
      auto run = [&](const std::string& where, bool expect_pushed) {
        std::string q = query;
        q.replace(q.find("{W}"), 3, where);
        SqlEngine engine;
        const bool table = q.find("GROUP BY") != std::string::npos;
        const std::string create = table ? "CREATE TABLE OUT AS " : "CREATE STREAM OUT AS ";
        REQUIRE(engine.execute_script(ddl + create + q));
        // An inner join on the stream's key tests it on the decoded records
        // before the join instead (its rows are built in the join).
        const bool join = q.find("ADS") != std::string::npos;
        CHECK(has_node(engine, join ? "where-before-join" : "where-decoded") == expect_pushed);
        auto driver = TestDriver::create(engine.topology());
        REQUIRE(driver);
        if (join) pipe_ads(**driver);
        std::mt19937 rng(5);
        const char* kinds[] = {"\"view\"", "\"click\"", "null", "\"VIEW\""};
        for (int i = 0; i < 400; ++i) {
          std::optional<std::string> k;
          if (rng() % 10 != 0) k = string_key("a" + std::to_string(rng() % 8));
          // Every seventh timestamp is missing: a data error, accepted or not.
          const std::string ts = rng() % 7 == 0 ? "null" : std::to_string(i * 3);
          std::string v = std::string(R"({"KIND":)") + kinds[rng() % 4] +
                          ",\"N\":" + (rng() % 5 == 0 ? "null" : std::to_string(rng() % 6)) +
                          ",\"TS\":" + ts + "}";
          if (rng() % 25 == 0) v = "null";  // a tombstone
          REQUIRE((*driver)->pipe("e", k, v == "null" ? std::nullopt : std::optional(v), i));
        }
        return out_and_errors(**driver);
      };
      INFO(query);
      auto with = run(cond, true);
      auto without = run("CASE WHEN TRUE THEN " + cond + " END", false);
      CHECK(with.first.size() > 10);
      CHECK(with.second > 20);  // the missing timestamps, among others
      CHECK(with.first == without.first);
      CHECK(with.second == without.second);
    }
  }
}

// A stream with a timestamp column, joined with a table on its key, is
// built into rows by the join from its decoded records; each record's time
// is read from the column before the join, where a versioned table picks
// the version valid at that time. A LEFT join with a WHERE still builds its
// rows first (where-decoded then rows then join): with the WHERE also
// dropping unmatched records it must give the inner join's outputs and
// data errors, on records whose column times run against their Kafka
// timestamps, with missing and unreadable times, tombstones and keys
// without an ad among them.
TEST_CASE("planner: a stream with a timestamp column is built into rows by its join",
          "[sql][planner]") {
  const std::string ddl =
      "CREATE STREAM E (AD STRING KEY, KIND STRING, N INT, TS BIGINT) "
      "WITH (kafka_topic='e', value_format='JSON', timestamp='TS');"
      "CREATE TABLE ADS (AD STRING PRIMARY KEY, CAMPAIGN STRING) "
      "WITH (kafka_topic='ads', value_format='JSON', history_retention='1 HOUR');";
  auto run = [&](const std::string& query, bool rows_in_join) {
    SqlEngine engine;
    REQUIRE(engine.execute_script(ddl + "CREATE STREAM OUT AS " + query));
    CHECK(has_node(engine, "where-decoded") == !rows_in_join);
    auto driver = TestDriver::create(engine.topology());
    REQUIRE(driver);
    // Each ad changes campaign at times 1000 and 2000 (versions c0, c1, c2).
    for (int version = 0; version < 3; ++version)
      for (int ad = 0; ad < 6; ++ad)
        REQUIRE((*driver)->pipe(
            "ads", string_key("a" + std::to_string(ad)),
            R"({"CAMPAIGN":"c)" + std::to_string(version) + "-" + std::to_string(ad) + "\"}",
            version * 1000));
    std::mt19937 rng(17);
    const char* kinds[] = {"\"view\"", "\"click\""};
    for (int i = 0; i < 600; ++i) {
      // Every record has a key: a LEFT join passes a null key on (which its
      // WHERE drops), where an inner join dead-letters it.
      const std::string k = string_key("a" + std::to_string(rng() % 8));  // a6, a7: no ad
      // The column's time runs down while the Kafka timestamp runs up.
      std::string ts = std::to_string(3000 - i * 5);
      if (rng() % 9 == 0) ts = "null";        // no time: a data error
      if (rng() % 13 == 0) ts = "\"later\"";  // not a BIGINT: a data error
      std::optional<std::string> v = std::string(R"({"KIND":)") + kinds[rng() % 2] +
                                     ",\"N\":" + std::to_string(i) + ",\"TS\":" + ts + "}";
      if (rng() % 25 == 0) v.reset();  // a tombstone
      REQUIRE((*driver)->pipe("e", k, v, 10 * i));
    }
    return out_and_errors(**driver);
  };
  auto inner =
      run("SELECT E.AD AS AD, CAMPAIGN, N, ROWTIME AS T FROM E JOIN ADS A "
          "ON E.AD = A.AD WHERE KIND = 'view';",
          true);
  auto left =
      run("SELECT E.AD AS AD, CAMPAIGN, N, ROWTIME AS T FROM E LEFT JOIN ADS A "
          "ON E.AD = A.AD WHERE KIND = 'view' AND CAMPAIGN IS NOT NULL;",
          false);
  CHECK(inner.first.size() > 100);
  CHECK(inner.second > 50);  // the missing and unreadable times
  CHECK(inner.first == left.first);
  CHECK(inner.second == left.second);
  // Every version was joined, each by the column's time.
  for (const char* version : {"c0-", "c1-", "c2-"}) {
    INFO(version);
    CHECK(std::any_of(inner.first.begin(), inner.first.end(),
                      [&](const std::string& o) { return o.find(version) != std::string::npos; }));
  }
  for (const std::string& o : inner.first) {
    INFO(o);
    const int64_t time = std::stoll(o.substr(o.rfind('|') + 1));
    const std::string version = time < 1000 ? "c0-" : time < 2000 ? "c1-" : "c2-";
    CHECK(o.find(version) != std::string::npos);
    CHECK(o.find("\"T\":" + std::to_string(time)) != std::string::npos);
  }
}

// A stream-table join whose SELECT takes every column as it is from the
// joined row builds its result itself (no row in between); EXPLAIN names
// the projection after it "project-in-join". Anything computed, or a key
// the result wraps, keeps the row and the projection. Both give the same
// records.
TEST_CASE("planner: a join builds the result of a SELECT of its row's columns itself",
          "[sql][planner]") {
  for (const char* key_format : {"KAFKA", "DELIMITED", "JSON"}) {
    INFO("key format " << key_format);
    const std::string with = std::string("value_format='JSON', key_format='") + key_format + "'";
    SqlEngine engine;
    REQUIRE(engine.execute_script(
        "CREATE TABLE U (ID STRING PRIMARY KEY, NAME STRING) WITH (kafka_topic='u', " + with +
        ");"
        "CREATE STREAM O (ID STRING KEY, N INT) WITH (kafka_topic='o', " +
        with +
        ");"
        "CREATE STREAM PLAIN AS SELECT O.ID AS ID, NAME, N FROM O LEFT JOIN U ON O.ID = U.ID;"
        "CREATE STREAM COMPUTED AS SELECT O.ID AS ID, NAME, N + 0 AS N "
        "FROM O LEFT JOIN U ON O.ID = U.ID;"));
    const std::string plan = engine.explain();
    INFO(plan);
    // A DELIMITED result key wraps its column in a struct: the projection builds it.
    const bool wraps_key = std::string(key_format) == "DELIMITED";
    CHECK((plan.find("CSAS_PLAIN_0-project-in-join processor <- left-join-") !=
           std::string::npos) == !wraps_key);
    CHECK(plan.find("CSAS_COMPUTED_1-project processor <- left-join-") != std::string::npos);
    CHECK(plan.find("CSAS_COMPUTED_1-project-in-join") == std::string::npos);

    auto driver = TestDriver::create(engine.topology());
    REQUIRE(driver);
    const std::string ann = std::string(key_format) == "JSON" ? "\"ann\"" : "ann";
    const std::string bob = std::string(key_format) == "JSON" ? "\"bob\"" : "bob";
    REQUIRE((*driver)->pipe("u", ann, std::string(R"({"NAME":"Ann"})"), 0));
    REQUIRE((*driver)->pipe("o", ann, std::string(R"({"N":1})"), 1));
    REQUIRE((*driver)->pipe("o", bob, std::string(R"({"N":2})"), 2));
    REQUIRE((*driver)->pipe("o", ann, std::string("{}"), 3));
    for (const char* topic : {"PLAIN", "COMPUTED"}) {
      INFO(topic);
      auto out = (*driver)->outputs(topic);
      REQUIRE(out.size() == 3);
      CHECK(out[0].key == ann);
      CHECK(json::parse(*out[0].value) == json::parse(R"({"NAME":"Ann","N":1})"));
      CHECK(out[1].key == bob);
      CHECK(json::parse(*out[1].value) == json::parse(R"({"NAME":null,"N":2})"));
      CHECK(out[2].key == ann);
      CHECK(json::parse(*out[2].value) == json::parse(R"({"NAME":"Ann","N":null})"));
    }
  }
}

// An aggregation whose SELECT is its group key and its aggregates, each
// as it is and in its own order, passes its result through: the
// aggregation names the fields as the SELECT does, and EXPLAIN names the
// projection "project-as-aggregated" (a table's aggregation too).
// Anything computed, or HAVING, keeps the projection; a result whose field has
// another kind than its column (a list) takes the projection at run time.
TEST_CASE("planner: an aggregation of its SELECT's bare aggregates passes its result through",
          "[sql][planner]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE STREAM O (ID STRING KEY, U STRING, N INT) WITH (kafka_topic='o', "
      "value_format='JSON');"
      "CREATE TABLE T (ID STRING PRIMARY KEY, N INT) WITH (kafka_topic='t', "
      "value_format='JSON');"
      "CREATE TABLE PLAIN AS SELECT ID, COUNT(*) AS C, SUM(N) AS S FROM O GROUP BY ID;"
      "CREATE TABLE COMPUTED AS SELECT ID, COUNT(*) + 0 AS C, SUM(N) AS S FROM O GROUP BY ID;"
      "CREATE TABLE REGROUPED AS SELECT U, COUNT(*) AS C FROM O GROUP BY U;"
      "CREATE TABLE WINDOWED AS SELECT ID, COUNT(*) AS C FROM O "
      "WINDOW TUMBLING (SIZE 10 MILLISECONDS) GROUP BY ID;"
      "CREATE TABLE LISTS AS SELECT ID, COLLECT_LIST(N) AS L FROM O GROUP BY ID;"
      "CREATE TABLE HAVING_ONE AS SELECT ID, COUNT(*) AS C FROM O GROUP BY ID HAVING COUNT(*) > 1;"
      "CREATE TABLE FROM_TABLE AS SELECT ID, COUNT(*) AS C FROM T GROUP BY ID;"));
  const std::string plan = engine.explain();
  INFO(plan);
  for (const char* q :
       {"CTAS_PLAIN_0", "CTAS_REGROUPED_2", "CTAS_WINDOWED_3", "CTAS_LISTS_4", "CTAS_FROM_TABLE_6"})
    CHECK(plan.find(std::string(q) + "-project-as-aggregated processor") != std::string::npos);
  for (const char* q : {"CTAS_COMPUTED_1", "CTAS_HAVING_ONE_5"}) {
    CHECK(plan.find(std::string(q) + "-project processor") != std::string::npos);
    CHECK(plan.find(std::string(q) + "-project-as-aggregated") == std::string::npos);
  }

  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  REQUIRE((*driver)->pipe("o", std::string("a"), std::string(R"({"U":"x","N":1})"), 1));
  REQUIRE((*driver)->pipe("o", std::string("b"), std::string(R"({"U":"x","N":2})"), 2));
  REQUIRE((*driver)->pipe("o", std::string("a"), std::string(R"({"U":"y","N":null})"), 3));
  REQUIRE((*driver)->pipe("o", std::string("a"), std::string(R"({"U":"x","N":4})"), 15));
  REQUIRE((*driver)->pipe("t", std::string("a"), std::string(R"({"N":1})"), 1));
  REQUIRE((*driver)->pipe("t", std::string("b"), std::string(R"({"N":2})"), 2));
  REQUIRE((*driver)->pipe("t", std::string("a"), std::string(R"({"N":3})"), 3));
  auto values = [&](const char* topic) {
    std::vector<std::pair<std::string, json>> out;
    for (const auto& r : (*driver)->outputs(topic))
      out.emplace_back(r.key.value_or(""), json::parse(r.value.value_or("null")));
    return out;
  };
  const std::vector<std::pair<std::string, json>> counts = {{"a", json::parse(R"({"C":1,"S":1})")},
                                                            {"b", json::parse(R"({"C":1,"S":2})")},
                                                            {"a", json::parse(R"({"C":2,"S":1})")},
                                                            {"a", json::parse(R"({"C":3,"S":5})")}};
  CHECK(values("PLAIN") == counts);
  CHECK(values("COMPUTED") == counts);
  const std::vector<std::pair<std::string, json>> lists = {
      {"a", json::parse(R"({"L":[1]})")},
      {"b", json::parse(R"({"L":[2]})")},
      {"a", json::parse(R"({"L":[1,null]})")},
      {"a", json::parse(R"({"L":[1,null,4]})")}};
  CHECK(values("LISTS") == lists);
  auto latest = [&](const char* topic) {
    std::map<std::string, json> last;
    for (const auto& [k, v] : values(topic)) last[k] = v;
    return last;
  };
  // Through a repartition topic (two phases): the latest count per group.
  CHECK(latest("REGROUPED") == std::map<std::string, json>{{"x", json::parse(R"({"C":3})")},
                                                           {"y", json::parse(R"({"C":1})")}});
  // A table's rows: a's second row replaces its first.
  CHECK(latest("FROM_TABLE") == std::map<std::string, json>{{"a", json::parse(R"({"C":1})")},
                                                            {"b", json::parse(R"({"C":1})")}});
  auto windowed = (*driver)->outputs("WINDOWED");
  REQUIRE(windowed.size() == 4);
  const int64_t starts[] = {0, 0, 0, 10};
  const int64_t windowed_counts[] = {1, 1, 2, 1};
  for (size_t i = 0; i < windowed.size(); ++i) {
    INFO(i);
    // A time window's key: the inner key's bytes, then the start (8 bytes, big-endian).
    const std::string key = windowed[i].key.value_or("");
    REQUIRE(key.size() == 9);
    int64_t start = 0;
    for (size_t b = 1; b < key.size(); ++b)
      start = (start << 8) | static_cast<unsigned char>(key[b]);
    CHECK(key[0] == (i == 1 ? 'b' : 'a'));
    CHECK(start == starts[i]);
    CHECK(json::parse(*windowed[i].value) == json{{"C", windowed_counts[i]}});
  }
}

// Grouped by the stream's own key, a record keeps its key as the group key
// when the key is the column's value as it is; a key format that wraps the
// key (DELIMITED) or types it otherwise still gets the group key from its
// row. Each gives the counts per key.
TEST_CASE("planner: a GROUP BY of the stream's key keeps each record's key", "[sql][planner]") {
  for (const char* key_format : {"KAFKA", "JSON", "DELIMITED"}) {
    INFO("key format " << key_format);
    const bool json_key = std::string(key_format) == "JSON";
    for (const char* type : {"STRING", "INT"}) {
      INFO("key type " << type);
      const bool text = std::string(type) == "STRING";
      SqlEngine engine;
      REQUIRE(
          engine.execute_script(std::string("CREATE STREAM K (ID ") + type +
                                " KEY, N INT) WITH (kafka_topic='k', value_format='JSON', "
                                "key_format='" +
                                key_format +
                                "');"
                                "CREATE TABLE KC AS SELECT ID, COUNT(*) AS C FROM K GROUP BY ID;"));
      auto driver = TestDriver::create(engine.topology());
      REQUIRE(driver);
      // KAFKA INT keys are 4 big-endian bytes; JSON and DELIMITED keys are text.
      auto key = [&](int n) {
        if (text) return json_key ? "\"k" + std::to_string(n) + "\"" : "k" + std::to_string(n);
        if (!json_key && std::string(key_format) == "KAFKA")
          return std::string{0, 0, 0, static_cast<char>(n)};
        return std::to_string(n);
      };
      for (int n : {1, 2, 1, 1})
        REQUIRE((*driver)->pipe("k", key(n), std::string(R"({"N":0})"), 1));
      auto out = (*driver)->outputs("KC");
      REQUIRE(out.size() == 4);
      const int keys[] = {1, 2, 1, 1};
      const int counts[] = {1, 1, 2, 3};
      for (size_t i = 0; i < out.size(); ++i) {
        INFO(i);
        CHECK(out[i].key == key(keys[i]));
        CHECK(json::parse(*out[i].value) == json{{"C", counts[i]}});
      }
    }
  }
}

TEST_CASE("planner: TABLE_STORAGE='ENCODED' keeps a table's rows as bytes", "[sql][planner]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE TABLE ADS (AD STRING PRIMARY KEY, CAMPAIGN STRING) "
      "WITH (kafka_topic='ads', value_format='JSON', table_storage='encoded');"
      "CREATE TABLE PLAIN (AD STRING PRIMARY KEY, X STRING) "
      "WITH (kafka_topic='plain', value_format='JSON');"
      "CREATE STREAM E (AD STRING KEY, KIND STRING) WITH (kafka_topic='e', value_format='JSON');"
      "CREATE STREAM OUT AS SELECT E.AD AS AD, CAMPAIGN, X FROM E JOIN ADS A ON E.AD = A.AD "
      "LEFT JOIN PLAIN P ON E.AD = P.AD;"));
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  REQUIRE((*driver)->graph().table("ADS"));
  CHECK((*driver)->graph().table("ADS")->storage() == TableStorage::Encoded);
  CHECK((*driver)->graph().table("PLAIN")->storage() == TableStorage::Auto);  // the default
  REQUIRE((*driver)->pipe("ads", string_key("a1"), std::string(R"({"CAMPAIGN":"c1"})"), 0));
  REQUIRE((*driver)->pipe("e", string_key("a1"), std::string(R"({"KIND":"view"})"), 1));
  auto out = (*driver)->outputs("OUT");
  REQUIRE(out.size() == 1);
  CHECK(json::parse(*out[0].value) == json::parse(R"({"CAMPAIGN":"c1","X":null})"));

  for (const char* bad :
       {"CREATE STREAM S (K STRING KEY, V STRING) WITH (kafka_topic='s', value_format='JSON', "
        "table_storage='ENCODED');",
        "CREATE TABLE T (K STRING PRIMARY KEY, V STRING) WITH (kafka_topic='t', "
        "value_format='JSON', table_storage='ROWS');"}) {
    INFO(bad);
    SqlEngine e;
    auto r = e.execute_script(bad);
    REQUIRE_FALSE(r);
    CHECK(location_of(r.error().message).line == 1);
    CHECK(r.error().message.find("TABLE_STORAGE") != std::string::npos);
  }
}

// The default TABLE_STORAGE, AUTO: a task's table is decoded until it
// holds kAutoEncodeEntries rows, then encoded, at most twice the raw bytes
// of its keys and values; joins answer the same on both sides of the
// switch, updates and deletes included.
TEST_CASE("planner: a table of the default storage is encoded once large, and joins as before",
          "[sql][planner]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE TABLE USERS (ID STRING PRIMARY KEY, NAME STRING, REGION STRING) "
      "WITH (kafka_topic='users', value_format='JSON');"
      "CREATE STREAM ORDERS (ID STRING KEY, AMOUNT INT) "
      "WITH (kafka_topic='orders', value_format='JSON');"
      "CREATE STREAM OUT AS SELECT O.ID AS ID, NAME, AMOUNT FROM ORDERS O "
      "LEFT JOIN USERS U ON O.ID = U.ID;"));
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  const KTable* users = (*driver)->graph().table("USERS");
  REQUIRE(users);
  CHECK(users->storage() == TableStorage::Auto);
  auto user = [](int i) {
    return std::string(R"({"NAME":"user )") + std::to_string(i) + R"(","REGION":"region )" +
           std::to_string(i % 50) + R"("})";
  };
  const int n = static_cast<int>(kAutoEncodeEntries) + 1000;
  size_t raw = 0;
  int64_t ts = 0;
  auto order = [&](const std::string& id, int amount) {
    REQUIRE((*driver)->pipe("orders", string_key(id),
                            std::string(R"({"AMOUNT":)") + std::to_string(amount) + "}", ++ts));
  };
  for (int i = 0; i < n; ++i) {
    const std::string id = "u" + std::to_string(i);
    raw += id.size() + user(i).size();
    REQUIRE((*driver)->pipe("users", string_key(id), user(i), ++ts));
    if (i == 10) order("u3", 1);  // decoded
    if (i + 1 == static_cast<int>(kAutoEncodeEntries) - 1) CHECK_FALSE(users->encoded());
  }
  CHECK(users->encoded());
  CHECK(users->size() == static_cast<size_t>(n));
  const double per_entry = static_cast<double>(users->bytes_estimate()) / n;
  INFO("bytes per entry " << per_entry << ", raw " << static_cast<double>(raw) / n);
  CHECK(per_entry <= 2.0 * static_cast<double>(raw) / n);
  order("u3", 2);  // encoded from here on
  order("u" + std::to_string(n - 1), 3);
  order("nobody", 4);
  REQUIRE((*driver)->pipe("users", string_key("u3"), std::string(R"({"NAME":"renamed"})"), ++ts));
  order("u3", 5);
  REQUIRE((*driver)->pipe("users", string_key("u3"), std::nullopt, ++ts));  // a tombstone
  order("u3", 6);
  auto out = (*driver)->outputs("OUT");
  REQUIRE(out.size() == 6);
  const std::string last = R"({"NAME":"user )" + std::to_string(n - 1) + R"(","AMOUNT":3})";
  const std::string expected[] = {R"({"NAME":"user 3","AMOUNT":1})",
                                  R"({"NAME":"user 3","AMOUNT":2})",
                                  last,
                                  R"({"NAME":null,"AMOUNT":4})",
                                  R"({"NAME":"renamed","AMOUNT":5})",
                                  R"({"NAME":null,"AMOUNT":6})"};
  for (size_t i = 0; i < out.size(); ++i) {
    INFO(i);
    CHECK(json::parse(*out[i].value) == json::parse(expected[i]));
  }
  CHECK(users->size() == static_cast<size_t>(n - 1));
}

// EXPLAIN (SqlEngine::explain): the columns each stream source decodes,
// the filter placed before the join, the repartition, sink and
// co-partitioned topics, and one line per node.
TEST_CASE("planner: explain names the decoded columns, the pushed filter and the topics",
          "[sql][planner]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE STREAM EV (AD STRING KEY, USER_ID STRING, KIND STRING, TS BIGINT, IP STRING) "
      "WITH (kafka_topic='ev', value_format='JSON', timestamp='TS');"
      "CREATE TABLE ADS (AD STRING PRIMARY KEY, CAMPAIGN STRING) "
      "WITH (kafka_topic='ads', value_format='JSON', table_storage='ENCODED');"
      "CREATE TABLE C AS SELECT A.CAMPAIGN AS CAMPAIGN, COUNT(*) AS N "
      "FROM EV E JOIN ADS A ON E.AD = A.AD WINDOW TUMBLING (SIZE 10 SECONDS) "
      "WHERE E.KIND = 'view' GROUP BY A.CAMPAIGN;"));
  const std::string plan = engine.explain();
  INFO(plan);
  CHECK(plan.find("  EV  stream  topic ev  key KAFKA  value JSON  decodes KIND, TS (2 of 4 value "
                  "columns checked, not decoded: USER_ID, IP)\n") != std::string::npos);
  CHECK(plan.find("  ADS  table  topic ads  key KAFKA  value JSON  storage encoded  decodes every "
                  "value column (1)\n") != std::string::npos);
  CHECK(plan.find("Sink topics:\n  C\n") != std::string::npos);
  CHECK(plan.find("Repartition topics (created when missing):\n  "
                  "CTAS_C_0-groupby-repartition\n") != std::string::npos);
  CHECK(plan.find("Co-partitioned topics (same partition count, checked before the query "
                  "starts):\n  ads, ev\n") != std::string::npos);
  CHECK(plan.find("CTAS_C_0-where-before-join processor <- CTAS_C_0-rows\n") != std::string::npos);
  // One line per node after the heading.
  const auto topology = plan.substr(plan.find("Topology (node kind [topic] <- inputs):\n"));
  const std::string nodes = engine.topology().describe();
  CHECK(std::count(topology.begin(), topology.end(), '\n') ==
        1 + std::count(nodes.begin(), nodes.end(), '\n'));
  // As the application "shop" runs it: its repartition topic, written and
  // read, carries the application id.
  const std::string scoped = engine.explain("shop");
  INFO(scoped);
  CHECK(scoped.find("Repartition topics (created when missing):\n  "
                    "shop-CTAS_C_0-groupby-repartition\n") != std::string::npos);
  CHECK(scoped.find(" sink shop-CTAS_C_0-groupby-repartition <- ") != std::string::npos);
  CHECK(scoped.find(" source shop-CTAS_C_0-groupby-repartition\n") != std::string::npos);

  // A second query reading every column of EV widens what its source decodes.
  REQUIRE(engine.execute_script("CREATE STREAM ALL_EV AS SELECT * FROM EV;"));
  CHECK(engine.explain().find("  EV  stream  topic ev  key KAFKA  value JSON  decodes every value "
                              "column (4)\n") != std::string::npos);
}

// A stream column named like a table column is decoded only when the query
// reads the stream's (`e.name`, or `name` unqualified), not when it names
// only the table's (`u.name`, `u.*`): the results are the same either way.
TEST_CASE("planner: a column named only through the other side of a join is not decoded",
          "[sql][planner]") {
  const std::string ddl =
      "CREATE STREAM EV (ID STRING KEY, NAME STRING, X INT) "
      "WITH (kafka_topic='ev', value_format='JSON');"
      "CREATE TABLE U (ID STRING PRIMARY KEY, NAME STRING) "
      "WITH (kafka_topic='u', value_format='JSON');";
  struct Case {
    const char* query;
    const char* decodes;
    json first, second;
  };
  const Case cases[] = {
      {"CREATE STREAM O AS SELECT E.ID AS ID, U.NAME AS UN, E.X AS X FROM EV E JOIN U ON "
       "E.ID = U.ID;",
       "decodes X (1 of 2 value columns checked, not decoded: NAME)",
       {{"UN", "user a"}, {"X", 1}},
       {{"UN", nullptr}, {"X", 2}}},
      {"CREATE STREAM O AS SELECT E.ID AS ID, U.NAME AS UN, E.NAME AS EN, X FROM EV E LEFT JOIN "
       "U ON E.ID = U.ID;",
       "decodes every value column (2)",
       {{"UN", "user a"}, {"EN", "ev a"}, {"X", 1}},
       {{"UN", nullptr}, {"EN", "ev b"}, {"X", 2}}},
      {"CREATE STREAM O AS SELECT E.ID AS ID, E.X AS X, U.* FROM EV E JOIN U ON E.ID = U.ID;",
       "decodes X (1 of 2 value columns checked, not decoded: NAME)",
       {{"X", 1}, {"U_ID", "a"}, {"U_NAME", "user a"}},
       {{"X", 2}, {"U_ID", "b"}, {"U_NAME", nullptr}}},
      {"CREATE STREAM O AS SELECT EV.ID AS ID, U.NAME AS UN FROM EV JOIN U ON EV.ID = U.ID "
       "WHERE EV.NAME IS NOT NULL;",
       "decodes NAME (1 of 2 value columns checked, not decoded: X)",
       {{"UN", "user a"}},
       {{"UN", nullptr}}},
  };
  for (const Case& c : cases) {
    INFO(c.query);
    SqlEngine engine;
    REQUIRE(engine.execute_script(ddl + c.query));
    const std::string plan = engine.explain();
    INFO(plan);
    CHECK(plan.find(std::string("  EV  stream  topic ev  key KAFKA  value JSON  ") + c.decodes +
                    "\n") != std::string::npos);
    auto driver = TestDriver::create(engine.topology());
    REQUIRE(driver);
    REQUIRE((*driver)->pipe("u", string_key("a"), std::string(R"({"NAME":"user a"})"), 1));
    REQUIRE((*driver)->pipe("u", string_key("b"), std::string(R"({"NAME":null})"), 2));
    REQUIRE((*driver)->pipe("ev", string_key("a"), std::string(R"({"NAME":"ev a","X":1})"), 3));
    REQUIRE((*driver)->pipe("ev", string_key("b"), std::string(R"({"NAME":"ev b","X":2})"), 4));
    auto out = (*driver)->outputs("O");
    REQUIRE(out.size() == 2);
    CHECK(json::parse(*out[0].value) == c.first);
    CHECK(json::parse(*out[1].value) == c.second);
  }
}

// ksqlDB requires a persistent query's key in its projection, not a push
// query's: its rows go to the client.
TEST_CASE("planner: a push query's projection need not hold the key", "[sql][planner]") {
  const std::string ddl =
      "CREATE STREAM EV (AD STRING KEY, KIND STRING, N INT) "
      "WITH (kafka_topic='ev', value_format='JSON');";
  for (const char* query : {"SELECT N FROM EV WHERE N > 1 EMIT CHANGES;",
                            "SELECT N FROM EV PARTITION BY KIND, AD EMIT CHANGES;",
                            "SELECT COUNT(*) AS C FROM EV GROUP BY KIND EMIT CHANGES;"}) {
    INFO(query);
    SqlEngine engine;
    REQUIRE(engine.execute_script(ddl));
    auto [info, rows] = plan_push_rows(engine, query);
    CHECK(info.schema.key_columns().empty());
    auto driver = TestDriver::create(engine.topology());
    REQUIRE(driver);
    REQUIRE((*driver)->pipe("ev", string_key("a1"), std::string(R"({"KIND":"x","N":5})"), 1));
    REQUIRE((*driver)->pipe("ev", string_key("a2"), std::string(R"({"KIND":"x","N":7})"), 2));
    REQUIRE(rows->size() == 2);
    const bool count = std::string(query).find("COUNT") != std::string::npos;
    const Value* last = rows->back().value.field(count ? "C" : "N");
    REQUIRE(last);
    CHECK(*last == (count ? Value::int64(2) : Value::int32(7)));
  }
  // The key alone: its rows are keys with an empty value.
  {
    SqlEngine engine;
    REQUIRE(engine.execute_script(ddl));
    auto [info, rows] = plan_push_rows(engine, "SELECT AD FROM EV EMIT CHANGES;");
    CHECK(info.schema.value_columns().empty());
    auto driver = TestDriver::create(engine.topology());
    REQUIRE(driver);
    REQUIRE((*driver)->pipe("ev", string_key("a1"), std::string(R"({"KIND":"x","N":5})"), 1));
    REQUIRE(rows->size() == 1);
    CHECK(rows->front().key == Value::string("a1"));
    auto persistent = engine.execute_script("CREATE STREAM KEYS AS SELECT AD FROM EV;");
    REQUIRE_FALSE(persistent);
    CHECK(persistent.error().message == "line 1:15: The projection contains no value columns.");
  }
  // The same projection in a persistent query is refused, as in ksqlDB.
  SqlEngine engine;
  auto r = engine.execute_script(ddl + "CREATE STREAM OUT AS SELECT N FROM EV;");
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("must include the key column AD in its projection") !=
        std::string::npos);
}

// The KAFKA key format holds one column: a source declared with several
// key columns in it, and a persistent query whose GROUP BY or PARTITION BY
// makes several, are refused where they are named (ksqlDB refuses them
// too); a push query's rows go to the client, its key stays a struct.
TEST_CASE("planner: several key columns need a key format that holds them", "[sql][planner]") {
  const std::string ddl =
      "CREATE STREAM EV (AD STRING KEY, KIND STRING, N INT) "
      "WITH (kafka_topic='ev', value_format='JSON');";
  struct Refused {
    std::string statement, message;
  };
  for (const Refused& c :
       {Refused{"CREATE STREAM TWO (A INT KEY, B INT KEY, C INT) "
                "WITH (kafka_topic='two', value_format='JSON');",
                "line 1:15: The 'KAFKA' key format only supports a single key column, and TWO "
                "has 2: `A`, `B`. Use a key format that holds several, e.g. KEY_FORMAT='JSON'"},
        Refused{"CREATE TABLE C AS SELECT KIND, AD, COUNT(*) AS N FROM EV GROUP BY KIND, AD;",
                "line 1:14: The 'KAFKA' key format only supports a single key column, and C has "
                "2: `KIND`, `AD`."},
        Refused{"CREATE STREAM P AS SELECT * FROM EV PARTITION BY KIND, AD;",
                "line 1:15: The 'KAFKA' key format only supports a single key column, and P has "
                "2: `KIND`, `AD`."}}) {
    INFO(c.statement);
    SqlEngine engine;
    REQUIRE(engine.execute_script(ddl));
    auto r = engine.execute_script(c.statement);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find(c.message) != std::string::npos);
    CHECK(engine.catalog().list(SourceType::Stream).size() == 1);  // EV alone
    CHECK(engine.catalog().list(SourceType::Table).empty());
    CHECK(engine.query_count() == 0);
  }
  SqlEngine engine;
  auto ran = engine.execute_script(
      ddl +
      "CREATE STREAM TWO (A INT KEY, B INT KEY, C INT) "
      "WITH (kafka_topic='two', key_format='JSON', value_format='JSON');"
      "CREATE TABLE C WITH (KEY_FORMAT='JSON') AS SELECT KIND, AD, COUNT(*) AS N FROM EV "
      "GROUP BY KIND, AD;");
  INFO((ran ? std::string() : ran.error().message));
  REQUIRE(ran);
  CHECK(engine.query_count() == 1);

  // A push query: the same GROUP BY, each row's key a struct of both.
  SqlEngine push;
  REQUIRE(push.execute_script(ddl));
  auto [info, rows] = plan_push_rows(
      push, "SELECT KIND, AD, COUNT(*) AS C FROM EV GROUP BY KIND, AD EMIT CHANGES;");
  CHECK(info.schema.key_columns().size() == 2);
  auto driver = TestDriver::create(push.topology());
  REQUIRE(driver);
  REQUIRE((*driver)->pipe("ev", string_key("a1"), std::string(R"({"KIND":"x","N":5})"), 1));
  REQUIRE((*driver)->pipe("ev", string_key("a1"), std::string(R"({"KIND":"x","N":7})"), 2));
  REQUIRE(rows->size() == 2);
  const Record& last = rows->back();
  REQUIRE(last.key.kind() == TypeKind::Struct);
  REQUIRE(last.key.field("KIND"));
  REQUIRE(last.key.field("AD"));
  CHECK(*last.key.field("KIND") == Value::string("x"));
  CHECK(*last.key.field("AD") == Value::string("a1"));
  REQUIRE(last.value.field("C"));
  CHECK(*last.value.field("C") == Value::int64(2));
}

// A push query may name the pseudo columns without an alias (its rows go
// to the client); a persistent query may not, as in ksqlDB.
TEST_CASE("planner: a push query may project WINDOWSTART and ROWTIME without an alias",
          "[sql][planner]") {
  const std::string ddl =
      "CREATE STREAM EV (AD STRING KEY, KIND STRING, N INT) "
      "WITH (kafka_topic='ev', value_format='JSON');";
  SqlEngine engine;
  REQUIRE(engine.execute_script(ddl));
  auto rows = plan_push_rows(engine,
                             "SELECT AD, WINDOWSTART, WINDOWEND, COUNT(*) AS C FROM EV WINDOW "
                             "TUMBLING (SIZE 10 SECONDS) GROUP BY AD EMIT CHANGES;")
                  .rows;
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  REQUIRE((*driver)->pipe("ev", string_key("a1"), std::string(R"({"KIND":"x","N":5})"), 12345));
  REQUIRE(rows->size() == 1);
  REQUIRE(rows->back().value.field("WINDOWSTART"));
  CHECK(*rows->back().value.field("WINDOWSTART") == Value::int64(10000));
  CHECK(*rows->back().value.field("WINDOWEND") == Value::int64(20000));

  SqlEngine rowtime;
  REQUIRE(rowtime.execute_script(ddl));
  auto r = parse_statement("SELECT ROWTIME, N FROM EV EMIT CHANGES;");
  REQUIRE(r);
  CHECK(rowtime.plan_push(*std::get<SelectStatement>(r->body).query, [](const Record&) {}));

  SqlEngine persistent;
  auto refused = persistent.execute_script(
      ddl +
      "CREATE TABLE W AS SELECT AD, WINDOWSTART, COUNT(*) AS C FROM EV WINDOW TUMBLING "
      "(SIZE 10 SECONDS) GROUP BY AD;");
  REQUIRE_FALSE(refused);
  INFO(refused.error().message);
  CHECK(refused.error().message.find("WINDOWSTART is a reserved column name") != std::string::npos);
}

// CREATE SOURCE STREAM|TABLE (ksqlDB's read-only sources): a source table
// is materialized at once by a query of its own, so that pull queries can
// read it and a file of it alone runs; neither can be written to.
TEST_CASE("planner: a source table is materialized by its own query and sources are read-only",
          "[sql][planner]") {
  const std::string ddl =
      "CREATE SOURCE TABLE USERS (ID STRING PRIMARY KEY, NAME STRING) "
      "WITH (kafka_topic='users', value_format='JSON');"
      "CREATE SOURCE STREAM CLICKS (ID STRING KEY, URL STRING) "
      "WITH (kafka_topic='clicks', value_format='JSON');";
  SqlEngine engine;
  auto created = engine.execute(
      *parse_statement("CREATE SOURCE TABLE USERS (ID STRING PRIMARY KEY, NAME STRING) "
                       "WITH (kafka_topic='users', value_format='JSON');"));
  REQUIRE(created);
  CHECK(*created == "Table created and materialized (query CST_USERS_0)");
  CHECK(engine.query_count() == 1);
  // Again, IF NOT EXISTS: no second query.
  auto again = engine.execute(*parse_statement(
      "CREATE SOURCE TABLE IF NOT EXISTS USERS (ID STRING PRIMARY KEY, NAME STRING) "
      "WITH (kafka_topic='users', value_format='JSON');"));
  REQUIRE(again);
  CHECK(engine.query_count() == 1);
  CHECK(engine.topology().describe().find("table USERS <- ") != std::string::npos);
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  REQUIRE((*driver)->pipe("users", string_key("u1"), std::string(R"({"NAME":"Ann"})"), 1));
  REQUIRE((*driver)->pipe("users", string_key("u1"), std::string(R"({"NAME":"Bea"})"), 2));
  KTable* users = (*driver)->graph().table("USERS");
  REQUIRE(users);
  auto row = users->get(Value::string("u1"));
  REQUIRE(row);
  REQUIRE(row->field("NAME"));
  CHECK(*row->field("NAME") == Value::string("Bea"));

  // A file of a source table alone is an application to run.
  auto planned = plan_script(ddl);
  INFO((planned ? std::string() : planned.error().message));
  REQUIRE(planned);

  // Read-only: INSERT ... VALUES into either, INSERT INTO ... SELECT into
  // the stream.
  for (const auto& [statement, message] : std::vector<std::pair<std::string, std::string>>{
           {"INSERT INTO USERS (ID, NAME) VALUES ('u2', 'x');",
            "Cannot insert values into read-only table: USERS"},
           {"INSERT INTO CLICKS (ID, URL) VALUES ('c', 'x');",
            "Cannot insert values into read-only stream: CLICKS"},
           {"CREATE STREAM MORE (ID STRING KEY, URL STRING) WITH (kafka_topic='more', "
            "value_format='JSON'); INSERT INTO CLICKS SELECT * FROM MORE;",
            "Cannot insert into read-only stream: CLICKS"}}) {
    INFO(statement);
    SqlEngine e;
    REQUIRE(e.execute_script(ddl));
    auto r = e.execute_script(statement);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find(message) != std::string::npos);
  }
  // A query reading them is planned as usual.
  SqlEngine reader;
  auto joined = reader.execute_script(
      ddl +
      "CREATE STREAM NAMED AS SELECT C.ID AS ID, URL, NAME FROM CLICKS C JOIN USERS U "
      "ON C.ID = U.ID;");
  INFO((joined ? std::string() : joined.error().message));
  REQUIRE(joined);
  CHECK(reader.query_count() == 2);  // CST_USERS_0 and the join
}

// SET keys a file's application does not use are listed as ignored (and
// `rivulet run` says so). ksqlDB's two spellings of 'auto.offset.reset'
// (its tutorials start with one) set Rivulet's key, the last one winning.
TEST_CASE("planner: plan_script lists the SET keys it ignores", "[sql][planner]") {
  const std::string query =
      "CREATE STREAM EV (AD STRING KEY, N INT) WITH (kafka_topic='ev', value_format='JSON');"
      "CREATE STREAM OUT AS SELECT * FROM EV;";
  auto earliest = plan_script(
      "SET 'auto.offset.reset' = ' Latest ';"
      "SET 'ksql.streams.auto.offset.reset' = 'earliest';"
      "SET 'commit.interval.ms' = '100';" +
      query);
  REQUIRE(earliest);
  CHECK(earliest->ignored.empty());
  auto config = app_config(*earliest, "", {});
  REQUIRE(config);
  CHECK(config->get("auto.offset.reset") == "earliest");
  CHECK(config->get("commit.interval.ms") == "100");
  auto others = plan_script("SET 'AUTO.OFFSET.RESET' = ' Latest '; SET 'foo.bar' = '1';" + query);
  REQUIRE(others);
  CHECK(others->ignored == std::vector<std::string>{"foo.bar"});
  config = app_config(*others, "", {});
  REQUIRE(config);
  CHECK(config->get("auto.offset.reset") == "latest");
  CHECK_FALSE(plan_script("SET 'auto.offset.reset' = 'newest';" + query));
}

// With ksqlDB's new query planner a persistent query over a stream may
// leave out the key: its result is keyless.
TEST_CASE("planner: 'ksql.new.query.planner.enabled' lets a stream drop its key",
          "[sql][planner]") {
  SqlEngine engine;
  auto ran = engine.execute_script(
      "SET 'ksql.new.query.planner.enabled' = 'true';"
      "CREATE STREAM EV (AD STRING KEY, N INT) WITH (kafka_topic='ev', value_format='JSON');"
      "CREATE STREAM OUT AS SELECT N FROM EV;");
  INFO((ran ? std::string() : ran.error().message));
  REQUIRE(ran);
  const SourceInfo* out = by_topic(engine.catalog(), "OUT");
  REQUIRE(out);
  CHECK(out->schema.key_columns().empty());
  CHECK(is_planner_property("ksql.new.query.planner.enabled"));
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  REQUIRE((*driver)->pipe("ev", string_key("a1"), std::string(R"({"N":5})"), 1));
  auto got = (*driver)->outputs("OUT");
  REQUIRE(got.size() == 1);
  CHECK_FALSE(got[0].key);
  REQUIRE(got[0].value);
  CHECK(json::parse(*got[0].value) == json::parse(R"({"N":5})"));
}

// SELECT * re-keyed by several PARTITION BY expressions: those `*` does not
// list become key columns (ksqlDB's partition-by.json, "multiple columns
// including ROWTIME"); with an explicit projection they must be listed.
TEST_CASE("planner: SELECT * with several PARTITION BY expressions keys by all of them",
          "[sql][planner]") {
  const std::string ddl =
      "CREATE STREAM INPUT (K STRING KEY, ID BIGINT, AGE INT) "
      "WITH (kafka_topic='input', format='JSON');";
  SqlEngine engine;
  auto ran = engine.execute_script(
      ddl + "CREATE STREAM OUTPUT AS SELECT * FROM INPUT PARTITION BY ID, ROWTIME, AGE + 1;");
  INFO((ran ? std::string() : ran.error().message));
  REQUIRE(ran);
  const SourceInfo* out = by_topic(engine.catalog(), "OUTPUT");
  REQUIRE(out);
  std::vector<std::string> keys;
  for (const Column& c : out->schema.key_columns()) keys.push_back(c.name);
  CHECK(keys == std::vector<std::string>{"ID", "ROWTIME", "KSQL_COL_0"});
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  const std::string k = R"("k1")";
  REQUIRE((*driver)->pipe("input", k, std::string(R"({"ID":22,"AGE":40})"), 10));
  REQUIRE((*driver)->pipe("input", k, std::string(R"({"ID":null,"AGE":null})"), 11));
  REQUIRE((*driver)->pipe("input", k, std::nullopt, 12));
  auto got = (*driver)->outputs("OUTPUT");
  REQUIRE(got.size() == 3);
  auto key = [](const OutputRecord& o) { return json::parse(o.key.value_or("null")); };
  CHECK(key(got[0]) == json::parse(R"({"ID":22,"ROWTIME":10,"KSQL_COL_0":41})"));
  CHECK(json::parse(got[0].value.value_or("null")) == json::parse(R"({"AGE":40,"K":"k1"})"));
  CHECK(key(got[1]) == json::parse(R"({"ID":null,"ROWTIME":11,"KSQL_COL_0":null})"));
  // A null value: ksqlDB reads ROWTIME from the value, so it is NULL too.
  CHECK(key(got[2]) == json::parse(R"({"ID":null,"ROWTIME":null,"KSQL_COL_0":null})"));
  CHECK_FALSE(got[2].value);

  SqlEngine explicit_list;
  auto refused = explicit_list.execute_script(
      ddl + "CREATE STREAM OUTPUT AS SELECT ID, K FROM INPUT PARTITION BY ID, AGE;");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message ==
        "line 1:159: The query used to build `OUTPUT` must include the partitioning "
        "expressions ID and AGE in its projection (eg, SELECT ID, AGE...).");
}

// HISTOGRAM keeps at most 1000 distinct values, as ksqlDB's: a new one past
// the limit is ignored, one already counted still counts.
TEST_CASE("planner: HISTOGRAM stops adding values at 1000 distinct", "[sql][planner]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE STREAM S (K STRING KEY, V STRING) WITH (kafka_topic='s', value_format='JSON');"
      "CREATE TABLE T AS SELECT K, HISTOGRAM(V) AS H FROM S GROUP BY K;"));
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  auto send = [&](const std::string& v) {
    REQUIRE((*driver)->pipe("s", string_key("k"), R"({"V":")" + v + R"("})", 0));
  };
  for (int i = 0; i < 1001; ++i) send("v" + std::to_string(i));
  send("v0");
  auto out = (*driver)->outputs("T");
  REQUIRE(out.size() == 1002);
  auto h = json::parse(*out.back().value)["H"];
  CHECK(h.size() == 1000);
  CHECK(h["v0"] == 2);
  CHECK_FALSE(h.contains("v1000"));
}

// The SET keys the planner reads are checked as ksqlDB checks them: a
// COLLECT_LIST limit that is not an INT used to be taken as the default
// (1000) without a word.
TEST_CASE("planner: a SET value the planner reads is checked as ksqlDB checks it",
          "[sql][planner]") {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"ksql.functions.collect_list.limit", "abc"},
      {"ksql.functions.collect_list.limit", "12x"},
      {"ksql.functions.collect_set.limit", "3000000000"},
      {"KSQL.FUNCTIONS.COLLECT_SET.LIMIT", ""},
      {"ksql.functions.collect_set.limit", "+-5"},
      {"ksql.new.query.planner.enabled", "yes"},
      {"auto.offset.reset", "newest"},
      {"ksql.streams.auto.offset.reset", "none"},
  };
  for (const auto& [key, value] : bad) {
    INFO(key << " = '" << value << "'");
    SqlEngine engine;
    auto ran = engine.execute_script(
        "CREATE STREAM EV (AD STRING KEY, N INT) "
        "WITH (kafka_topic='ev', value_format='JSON');\n"
        "  SET '" +
        key + "' = '" + value + "';");
    REQUIRE_FALSE(ran);
    CHECK_THAT(ran.error().message, Catch::StartsWith("line 2:3: Invalid value " + value +
                                                      " for configuration " + key + ": "));
  }
  // Java's reading: trimmed, a sign, any case for a boolean.
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"ksql.functions.collect_list.limit", " 7 "},
           {"ksql.functions.collect_list.limit", "-1"},
           {"ksql.functions.collect_set.limit", "+2"},
           {"ksql.new.query.planner.enabled", " FALSE"},
           {"auto.offset.reset", " Latest"},
           {"KSQL.STREAMS.AUTO.OFFSET.RESET", "EARLIEST"}}) {
    INFO(key << " = '" << value << "'");
    SqlEngine engine;
    auto ran = engine.execute_script("SET '" + key + "' = '" + value + "';");
    INFO((ran ? std::string() : ran.error().message));
    CHECK(ran);
  }
  CHECK(invalid_planner_property("ksql.functions.collect_list.limit", "2147483647") ==
        std::nullopt);
  CHECK(invalid_planner_property("ksql.functions.collect_list.limit", "2147483648") ==
        "Invalid value 2147483648 for configuration ksql.functions.collect_list.limit: Not a "
        "number of type INT");
  CHECK(invalid_planner_property("auto.offset.reset", "anything") ==
        "Invalid value anything for configuration auto.offset.reset: String must be one of: "
        "earliest, latest");
  CHECK(invalid_planner_property("foo.bar", "anything") == std::nullopt);
}

TEST_CASE("planner: a trimmed COLLECT_LIST limit is the limit", "[sql][planner]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "SET 'ksql.functions.collect_list.limit' = ' 2 ';"
      "CREATE STREAM EV (AD STRING KEY, N INT) WITH (kafka_topic='ev', value_format='JSON');"
      "CREATE TABLE T AS SELECT AD, COLLECT_LIST(N) AS NS FROM EV GROUP BY AD;"));
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  for (int n = 1; n <= 3; ++n) {
    REQUIRE((*driver)->pipe("ev", string_key("a"), "{\"N\":" + std::to_string(n) + "}", n));
  }
  auto got = (*driver)->outputs("T");
  REQUIRE(got.size() == 3);
  REQUIRE(got.back().value);
  CHECK(json::parse(*got.back().value)["NS"] == json({1, 2}));
}

}  // namespace rivulet::sql

namespace rivulet::sql {

// A statement the engine refuses leaves its topology as it was. The
// planner fuzzer found a query whose CREATE failed ("a stream with the
// same name already exists") after it had added nodes reading the
// existing stream's topic and writing it again: the topology read its own
// output, and the TestDriver looped for ever.
TEST_CASE("planner: a refused CREATE AS SELECT leaves the topology as it was", "[sql][planner]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE STREAM S (ID STRING KEY, NAME STRING) WITH (kafka_topic='s', value_format='JSON');"
      "CREATE STREAM CS AS SELECT ID, NAME AS A FROM S EMIT CHANGES;"));
  const std::string before = engine.topology().describe();
  const auto sources_before = engine.topology().source_topics();
  auto again =
      parse_statements("CREATE STREAM CS AS SELECT * FROM CS WHERE A LIKE '1%' EMIT CHANGES;");
  REQUIRE(again);
  auto refused = engine.execute(again->front());
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message, Catch::Contains("already exists"));
  CHECK(engine.topology().source_topics() == sources_before);
  CHECK(engine.topology().describe() == before);
}

}  // namespace rivulet::sql

namespace rivulet::sql {

// A query writing a topic it reads again (itself, or through the file's
// other queries) would process every record again for ever; the planner
// fuzzer's harness hung on one. Refused when planned, with the loop named;
// the engine is left as it was.
TEST_CASE("planner: a query that reads its own output again is refused", "[sql][planner]") {
  const std::string source =
      "CREATE STREAM S (ID STRING KEY, NAME STRING) WITH (kafka_topic='s', value_format='JSON');";
  struct Case {
    std::string sql;  // after `source`; its last statement is refused
    std::string loop;
    std::string at;  // the refused statement's line:column
  };
  const std::vector<Case> cases = {
      {"\nINSERT INTO S SELECT * FROM S;", "s -> s", "line 2:1"},
      {"\nCREATE STREAM A WITH (kafka_topic='s') AS SELECT * FROM S;", "s -> s", "line 2:1"},
      {"\nCREATE STREAM A AS SELECT * FROM S;\nINSERT INTO S SELECT * FROM A WHERE NAME = 'x';",
       "A -> s -> A", "line 3:1"},
      {"\nCREATE TABLE C AS SELECT NAME, COUNT(*) AS N FROM S GROUP BY NAME;\n"
       "CREATE STREAM CS (NAME STRING KEY, N BIGINT) WITH (kafka_topic='C', value_format='JSON');\n"
       "INSERT INTO S SELECT CAST(N AS STRING) AS ID, NAME FROM CS PARTITION BY CAST(N AS STRING);",
       "", "line 4:1"},
  };
  for (const auto& c : cases) {
    INFO(c.sql);
    SqlEngine engine;
    auto ran = engine.execute_script(source + c.sql);
    REQUIRE_FALSE(ran);
    CHECK_THAT(ran.error().message,
               Catch::StartsWith(c.at + ": Cannot run this query: it writes a topic it reads "
                                        "again, so every record would go round for ever: "));
    if (!c.loop.empty()) CHECK_THAT(ran.error().message, Catch::EndsWith(": " + c.loop));
    // Nothing of the refused query stayed: the engine plans on.
    const int queries = engine.query_count();
    const std::string plan = engine.topology().describe();
    CHECK(engine.topology().topic_cycle().empty());
    REQUIRE(engine.execute_script("CREATE STREAM OK AS SELECT * FROM S;"));
    CHECK(engine.query_count() == queries + 1);
    CHECK(engine.topology().describe().size() > plan.size());
  }
  // A chain that does not come back is planned.
  SqlEngine chain;
  REQUIRE(
      chain.execute_script(source +
                           "CREATE STREAM A AS SELECT * FROM S;"
                           "CREATE STREAM B AS SELECT * FROM A;"
                           "CREATE TABLE T (ID STRING PRIMARY KEY, V INT) "
                           "WITH (kafka_topic='t', value_format='JSON');"
                           "CREATE STREAM J AS SELECT S.ID, T.V FROM S JOIN T ON S.ID = T.ID;"));
  CHECK(chain.topology().topic_cycle().empty());
}

}  // namespace rivulet::sql

namespace rivulet::sql {
namespace {

// Two streams declared over one topic with different columns (a raw one
// and a typed one, or one before and after an ALTER) share its source node
// in one application: each query must still read its own columns, not
// NULL for those the first declaration lacked.
TEST_CASE("planner: sources of different columns over one topic each read their columns",
          "[sql][planner]") {
  SqlEngine engine;
  auto ran = engine.execute_script(
      "CREATE STREAM RAW (ID STRING KEY, A INT) WITH (kafka_topic='one', value_format='JSON');\n"
      "CREATE STREAM TYPED (ID STRING KEY, A INT, B STRING) WITH (kafka_topic='one',\n"
      "  value_format='JSON');\n"
      "CREATE STREAM FIRST_OUT AS SELECT ID, A FROM RAW;\n"
      "CREATE STREAM SECOND_OUT AS SELECT ID, B, A FROM TYPED;\n"
      "CREATE TABLE BY_B AS SELECT B, COUNT(*) AS N FROM TYPED GROUP BY B;\n");
  INFO((ran ? std::string() : ran.error().message));
  REQUIRE(ran);
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  REQUIRE((*driver)->pipe("one", string_key("k"), std::string(R"({"A":1,"B":"x"})"), 1));
  auto first = (*driver)->outputs("FIRST_OUT");
  REQUIRE(first.size() == 1);
  CHECK(json::parse(*first[0].value) == json{{"A", 1}});
  auto second = (*driver)->outputs("SECOND_OUT");
  REQUIRE(second.size() == 1);
  CHECK(json::parse(*second[0].value) == json{{"B", "x"}, {"A", 1}});
  auto counts = (*driver)->outputs("BY_B");
  REQUIRE(counts.size() == 1);
  CHECK(counts[0].key == std::optional<std::string>("x"));
}

// ALTER STREAM|TABLE ... ADD COLUMN (ksqlDB's schema evolution): queries
// planned after it read the new columns, queries before it keep theirs (in
// one application they share the source), INSERT VALUES writes them; the
// refusals in ksqlDB's words.
TEST_CASE("planner: ALTER ADD COLUMN adds value columns for the queries after it",
          "[sql][planner]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE STREAM A (ID STRING KEY, C1 INT) WITH (kafka_topic='a', value_format='JSON');\n"
      "CREATE STREAM BEFORE_ALTER AS SELECT * FROM A;\n"));
  auto altered = engine.execute_script("ALTER STREAM A ADD COLUMN C2 STRING, ADD C3 BIGINT;");
  INFO((altered ? std::string() : altered.error().message));
  REQUIRE(altered);
  const SourceInfo* a = engine.catalog().find("A");
  REQUIRE(a);
  REQUIRE(a->schema.columns.size() == 4);
  CHECK(a->schema.columns[2].name == "C2");
  CHECK_FALSE(a->schema.columns[3].is_key);
  CHECK(a->statement.find("ALTER STREAM A ADD COLUMN C2 STRING") != std::string::npos);
  REQUIRE(
      engine.execute_script("CREATE STREAM AFTER_ALTER AS SELECT ID, C2, C3 FROM A;\n"
                            "INSERT INTO A (ID, C1, C2, C3) VALUES ('k', 1, 'two', 3);\n"));
  REQUIRE(engine.inserts().size() == 1);
  CHECK(json::parse(*engine.inserts()[0].value) == json{{"C1", 1}, {"C2", "two"}, {"C3", 3}});
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  REQUIRE((*driver)->pipe("a", string_key("k"), std::string(R"({"C1":1,"C2":"two","C3":3})"), 1));
  auto before = (*driver)->outputs("BEFORE_ALTER");
  REQUIRE(before.size() == 1);
  CHECK(json::parse(*before[0].value) == json{{"C1", 1}});
  auto after = (*driver)->outputs("AFTER_ALTER");
  REQUIRE(after.size() == 1);
  CHECK(json::parse(*after[0].value) == json{{"C2", "two"}, {"C3", 3}});

  // The message, then the refusals.
  SqlEngine other;
  REQUIRE(other.execute_script(
      "CREATE TABLE T (ID STRING PRIMARY KEY, V INT) WITH (kafka_topic='t', value_format='JSON');\n"
      "CREATE STREAM K (ID STRING KEY, V STRING) WITH (kafka_topic='k', value_format='KAFKA');\n"
      "CREATE TABLE TC AS SELECT * FROM T;"));
  auto alter_t = parse_statement("ALTER TABLE T ADD COLUMN W INT");
  REQUIRE(alter_t);
  auto message = other.execute(*alter_t);
  REQUIRE(message);
  CHECK(*message == "Table T altered.");
  auto refused = [&](const std::string& statement) {
    auto r = other.execute_script(statement);
    return r ? std::string("accepted") : r.error().message;
  };
  CHECK(refused("ALTER STREAM NOPE ADD COLUMN X INT;") ==
        "line 1:14: Source `NOPE` does not exist.");
  CHECK(refused("ALTER STREAM T ADD COLUMN X INT;") ==
        "line 1:14: Incompatible data source type is TABLE, but statement was ALTER STREAM");
  CHECK(refused("ALTER TABLE TC ADD COLUMN X INT;") ==
        "line 1:13: ALTER command is not supported for CREATE ... AS statements.");
  CHECK(refused("ALTER TABLE T ADD COLUMN X INT, ADD COLUMN V STRING;") ==
        "line 1:44: Cannot add column `V` to schema. A column with the same name already exists.");
  CHECK(refused("ALTER TABLE T ADD COLUMN ROWTIME BIGINT;") ==
        "line 1:26: `ROWTIME` is a reserved column name.");
  CHECK(refused("ALTER STREAM K ADD COLUMN X INT;") ==
        "line 1:27: The 'KAFKA' format only supports a single field. Got: [`V` STRING, `X` "
        "INTEGER]");
  // CREATE refuses it too (it failed every record before).
  CHECK(refused("CREATE STREAM K2 (ID STRING KEY, A INT, B INT)\n"
                "  WITH (kafka_topic='k2', value_format='KAFKA');") ==
        "line 1:15: The 'KAFKA' format only supports a single field. Got: [`A` INTEGER, `B` "
        "INTEGER]");
  // Nothing of a refused ALTER stays.
  CHECK(other.catalog().find("T")->schema.columns.size() == 3);  // ID, V, W
  CHECK(other.catalog().find("K")->schema.columns.size() == 2);
}

// WITH (QUERY_ID='...') of CREATE ... AS SELECT and INSERT INTO (ksqlDB's):
// the query's id, upper-cased, in its nodes' names; unique among the
// engine's queries until forgotten (the shell's TERMINATE); refused at the
// property's line:column when invalid or taken.
TEST_CASE("planner: WITH (QUERY_ID) names a query", "[sql][planner]") {
  SqlEngine engine;
  auto ran = engine.execute_script(
      "CREATE STREAM O (UID STRING KEY, AMOUNT DOUBLE) WITH (kafka_topic='o', "
      "value_format='JSON');\n"
      "CREATE STREAM BIG WITH (QUERY_ID='big_orders') AS SELECT * FROM O WHERE AMOUNT > 10;\n");
  INFO((ran ? std::string() : ran.error().message));
  REQUIRE(ran);
  CHECK(engine.last_query_id() == "BIG_ORDERS");
  CHECK(engine.catalog().find("BIG")->query_id == "BIG_ORDERS");
  CHECK(engine.explain().find("BIG_ORDERS-where processor") != std::string::npos);
  REQUIRE(engine.execute_script("INSERT INTO BIG WITH (QUERY_ID='More_1') SELECT * FROM O;"));
  CHECK(engine.last_query_id() == "MORE_1");
  // Without one: the generated id.
  REQUIRE(engine.execute_script("CREATE STREAM ALL_O AS SELECT * FROM O;"));
  CHECK(engine.last_query_id() == "CSAS_ALL_O_2");
  // A CREATE TABLE AS SELECT of any id keeps its rows for pull queries.
  REQUIRE(engine.execute_script(
      "CREATE TABLE TOTALS WITH (QUERY_ID='totals') AS SELECT UID, SUM(AMOUNT) AS T FROM O "
      "GROUP BY UID;"));
  CHECK(engine.topology().store_origin(queryable_store_name("TOTALS")).has_value());

  auto refused = [&](SqlEngine& e, const std::string& statement) {
    auto r = e.execute_script(statement);
    return r ? std::string("accepted") : r.error().message;
  };
  CHECK(refused(engine, "CREATE STREAM B2 WITH (QUERY_ID='BIG_ORDERS') AS SELECT * FROM O;") ==
        "line 1:24: Query ID 'BIG_ORDERS' already exists.");
  CHECK(refused(engine, "INSERT INTO BIG WITH (query_id='more_1') SELECT * FROM O;") ==
        "line 1:23: Query ID 'MORE_1' already exists.");
  CHECK(refused(engine, "CREATE STREAM B3 WITH (QUERY_ID='big-orders') AS SELECT * FROM O;") ==
        "line 1:24: Invalid QUERY_ID 'big-orders': a query id takes letters, digits and '_' only");
  CHECK(engine.catalog().find("B2") == nullptr);  // nothing of a refused query stays
  // A fork (the shell's planner of one query) knows the ids; once one is
  // forgotten (terminated) it may be taken again.
  SqlEngine fork = engine.fork();
  CHECK(refused(fork, "CREATE STREAM B4 WITH (QUERY_ID='big_orders') AS SELECT * FROM O;") ==
        "line 1:24: Query ID 'BIG_ORDERS' already exists.");
  fork.forget_query_id("BIG_ORDERS");
  CHECK(refused(fork, "CREATE STREAM B4 WITH (QUERY_ID='big_orders') AS SELECT * FROM O;") ==
        "accepted");
}

}  // namespace
}  // namespace rivulet::sql
