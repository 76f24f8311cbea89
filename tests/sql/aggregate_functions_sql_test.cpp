// COUNT_DISTINCT, STDDEV_SAMPLE, CORRELATION and ATTR in SQL: over a stream
// (one phase, two phases with and without the output cache, windows,
// sessions that merge), over a table (rows taken back out), and their
// errors.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <vector>

#include "runtime/codec.hpp"
#include "sql/parser.hpp"
#include "sql/planner.hpp"
#include "sql/test_driver.hpp"
#include "support/statistics.hpp"

namespace rivulet::sql {
namespace {

using nlohmann::json;

std::string key_of(const Value& v) {
  auto bytes = make_kafka_codec(DataType::of(v.kind()))->encode(v);
  REQUIRE(bytes);
  return *bytes;
}

using rivulet::testing::reference_correlation;
using rivulet::testing::reference_stddev;

// Per group: the inputs, to compute what the results must be.
struct Group {
  std::set<std::string> users;
  std::vector<double> xs, pairs_x, pairs_y;
  std::set<std::string> regions;  // ATTR: "" stands for NULL
};

TEST_CASE("sql aggregates: COUNT_DISTINCT, STDDEV_SAMPLE, CORRELATION, ATTR over a stream",
          "[sql][aggregate]") {
  // GROUP BY the stream's key (one phase) and by a column (re-keyed: two
  // phases through the repartition topic) must agree with the inputs.
  const std::string ddl =
      "CREATE STREAM CLICKS (PAGE STRING KEY, SITE STRING, USERID STRING, MS DOUBLE, "
      "BYTES INT, REGION STRING) WITH (kafka_topic='clicks', value_format='JSON');";
  const std::string by_key =
      "CREATE TABLE BY_PAGE AS SELECT PAGE, COUNT_DISTINCT(USERID) AS VISITORS, "
      "STDDEV_SAMPLE(MS) AS SD, CORRELATION(MS, BYTES) AS R, ATTR(REGION) AS REGION, "
      "COUNT(*) AS N FROM CLICKS GROUP BY PAGE;";
  const std::string by_site =
      "CREATE TABLE BY_SITE AS SELECT SITE, COUNT_DISTINCT(USERID) AS VISITORS, "
      "STDDEV_SAMP(MS) AS SD, CORRELATION(MS, BYTES) AS R, ATTR(REGION) AS REGION "
      "FROM CLICKS GROUP BY SITE;";
  SqlEngine engine;
  REQUIRE(engine.execute_script(ddl + by_key + by_site));
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  std::map<std::string, Group> pages, sites;
  for (int i = 0; i < 4000; ++i) {
    const std::string page = "p" + std::to_string(i % 3);
    const std::string site = "s" + std::to_string(i % 2);
    // p0: every click a new visitor (1,334: past the sketch's exact 1,024).
    const std::string user = "u" + std::to_string(page == "p0" ? i : (i * 7) % 40);
    const double ms = (i % 17) * 3.5 + (i % 5);
    const bool no_bytes = i % 11 == 0;
    const int bytes = 100 + 2 * (i % 17) + (i % 3);
    // p0 always "eu"; p1 "eu" then once NULL; p2 two regions.
    std::string region = page == "p2" ? (i % 2 ? "eu" : "us") : "eu";
    if (page == "p1" && i == 2002) region = "";
    json v = {{"SITE", site}, {"USERID", user}, {"MS", ms}, {"REGION", region}};
    if (region.empty()) v["REGION"] = nullptr;
    v["BYTES"] = no_bytes ? json() : json(bytes);
    REQUIRE((*driver)->pipe("clicks", key_of(Value::string(page)), v.dump(), 1000 + i));
    for (auto* g : {&pages[page], &sites[site]}) {
      g->users.insert(user);
      g->xs.push_back(ms);
      if (!no_bytes) {
        g->pairs_x.push_back(ms);
        g->pairs_y.push_back(bytes);
      }
      g->regions.insert(region);
    }
  }
  CHECK((*driver)->data_errors().empty());
  auto last = [&](const std::string& topic) {
    std::map<std::string, json> m;
    for (const auto& r : (*driver)->outputs(topic)) {
      auto k = make_kafka_codec(DataType::of(TypeKind::String))->decode(*r.key);
      REQUIRE(k);
      m[k->as_string()] = json::parse(*r.value);
    }
    return m;
  };
  const auto page_out = last("BY_PAGE");
  const auto site_out = last("BY_SITE");
  REQUIRE(page_out.size() == 3);
  REQUIRE(site_out.size() == 2);
  for (const auto* side : {&page_out, &site_out}) {
    for (const auto& [k, out] : *side) {
      const Group& g = side == &page_out ? pages.at(k) : sites.at(k);
      INFO(k << ": " << out.dump());
      const auto users = static_cast<int64_t>(g.users.size());
      if (users <= 1024) {
        CHECK(out["VISITORS"] == users);  // exact while the sketch is sparse
      } else {
        CHECK(out["VISITORS"].get<double>() == Approx(users).epsilon(0.02));
      }
      CHECK(out["SD"].get<double>() == Approx(reference_stddev(g.xs)).epsilon(1e-9));
      CHECK(out["R"].get<double>() ==
            Approx(reference_correlation(g.pairs_x, g.pairs_y)).epsilon(1e-9));
      if (g.regions.size() == 1) {
        CHECK(out["REGION"] == *g.regions.begin());
      } else {
        CHECK(out["REGION"].is_null());
      }
    }
  }
  CHECK(page_out.at("p0")["VISITORS"].get<int64_t>() > 1024);  // one group went dense
  CHECK(page_out.at("p0")["REGION"] == "eu");
  CHECK(page_out.at("p1")["REGION"].is_null());  // one NULL among the "eu"s
  CHECK(page_out.at("p2")["REGION"].is_null());
  CHECK(site_out.at("s0")["REGION"].is_null());
}

TEST_CASE("sql aggregates: two phases with the output cache give the plain results",
          "[sql][aggregate][two-phase]") {
  const std::string script =
      "CREATE STREAM S (ID INT KEY, K STRING, U INT, X DOUBLE, Y DOUBLE, C STRING) "
      "WITH (kafka_topic='s', value_format='JSON');"
      "CREATE TABLE T AS SELECT K, COUNT_DISTINCT(U) AS D, STDDEV_SAMPLE(X) AS SD, "
      "CORRELATION(X, Y) AS R, ATTR(C) AS A, LATEST_BY_OFFSET(X, 3, FALSE) AS L3, "
      "EARLIEST_BY_OFFSET(X, FALSE) AS E FROM S "
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
  g.note_high_watermark(*input, 0);
  const std::string key = key_of(Value::int32(1));
  for (int i = 0; i < 3000; ++i) {
    json v = {{"K", "k" + std::to_string(i % 4)},
              {"U", (i * 13) % 1700},
              {"X", i % 13 == 0 ? json() : json((i * 37) % 101)},
              {"Y", std::sin(i) * 10},
              {"C", i % 4 == 3 && i % 500 == 7 ? "odd" : "c"}};
    const TimestampMs ts = 1000 * static_cast<TimestampMs>(i / 100);  // 30 s
    REQUIRE((*plain)->pipe("s", key, v.dump(), ts));
    REQUIRE((*cached)->pipe("s", key, v.dump(), ts));
    if (i % 250 == 249) (*cached)->flush_output_cache();
  }
  (*cached)->flush_output_cache();
  auto last = [](const std::vector<OutputRecord>& records) {
    std::map<std::string, json> m;
    for (const auto& r : records) m[r.key.value_or("")] = json::parse(r.value.value_or("null"));
    return m;
  };
  const auto expected = last((*plain)->outputs("T"));
  const auto got = last((*cached)->outputs("T"));
  CHECK(expected.size() == 4 * 3);  // 4 groups, 3 windows
  REQUIRE(got.size() == expected.size());
  for (const auto& [k, e] : expected) {
    const json& o = got.at(k);
    INFO(e.dump() << " against " << o.dump());
    // Sketches merged from partials hold the same registers: the same count.
    CHECK(o["D"] == e["D"]);
    CHECK(o["SD"].get<double>() == Approx(e["SD"].get<double>()).epsilon(1e-9));
    CHECK(o["R"].get<double>() == Approx(e["R"].get<double>()).epsilon(1e-9));
    CHECK(o["A"] == e["A"]);
    CHECK(o["L3"] == e["L3"]);  // partials merge in arrival order
    CHECK(o["E"] == e["E"]);
  }
  CHECK((*cached)->data_errors().empty());
}

TEST_CASE("sql aggregates: session windows merge the sketches and moments",
          "[sql][aggregate][session]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE STREAM S (K STRING KEY, U STRING, X DOUBLE) WITH (kafka_topic='s', "
      "value_format='JSON');"
      "CREATE TABLE T AS SELECT K, COUNT_DISTINCT(U) AS D, STDDEV_SAMPLE(X) AS SD, ATTR(U) AS A "
      "FROM S WINDOW SESSION (20 SECONDS) GROUP BY K;"));
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  auto send = [&](const std::string& u, double x, TimestampMs ts) {
    json v = {{"U", u}, {"X", x}};
    REQUIRE((*driver)->pipe("s", key_of(Value::string("k")), v.dump(), ts));
  };
  send("a", 1, 0);
  send("b", 2, 1000);
  send("a", 3, 30000);  // a second session
  send("c", 4, 31000);
  CHECK(json::parse(*(*driver)->outputs("T").back().value)["D"] == 2);
  send("b", 5, 15000);  // bridges the two: one session of a, b, c
  const json merged = json::parse(*(*driver)->outputs("T").back().value);
  CHECK(merged["D"] == 3);
  CHECK(merged["SD"].get<double>() == Approx(reference_stddev({1, 2, 3, 4, 5})));
  CHECK(merged["A"].is_null());
  CHECK((*driver)->data_errors().empty());
}

TEST_CASE("sql aggregates: over a table, rows taken back out", "[sql][aggregate][table]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE TABLE USERS (ID STRING PRIMARY KEY, TEAM STRING, AGE INT, SCORE DOUBLE, "
      "CITY STRING) WITH (kafka_topic='users', value_format='JSON');"
      "CREATE TABLE TEAMS AS SELECT TEAM, STDDEV_SAMPLE(AGE) AS SD, "
      "CORRELATION(AGE, SCORE) AS R, ATTR(CITY) AS CITY, COUNT(*) AS N FROM USERS GROUP BY TEAM;"));
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  struct Row {
    std::string team;
    int age;
    double score;
    std::string city;
  };
  std::map<std::string, Row> rows;
  auto put = [&](const std::string& id, const Row& r) {
    json v = {{"TEAM", r.team}, {"AGE", r.age}, {"SCORE", r.score}, {"CITY", r.city}};
    REQUIRE((*driver)->pipe("users", key_of(Value::string(id)), v.dump(), 0));
    rows[id] = r;
  };
  auto remove = [&](const std::string& id) {
    REQUIRE((*driver)->pipe("users", key_of(Value::string(id)), std::nullopt, 0));
    rows.erase(id);
  };
  auto check_team = [&](const std::string& team) {
    std::vector<double> ages, scores;
    std::set<std::string> cities;
    for (const auto& [id, r] : rows)
      if (r.team == team) {
        ages.push_back(r.age);
        scores.push_back(r.score);
        cities.insert(r.city);
      }
    json out;
    for (const auto& r : (*driver)->outputs("TEAMS")) {
      auto k = make_kafka_codec(DataType::of(TypeKind::String))->decode(*r.key);
      REQUIRE(k);
      if (k->as_string() == team) out = r.value ? json::parse(*r.value) : json();
    }
    INFO(team << ": " << out.dump());
    REQUIRE(out.is_object());
    CHECK(out["N"] == ages.size());
    CHECK(out["SD"].get<double>() == Approx(reference_stddev(ages)).margin(1e-9));
    if (ages.size() >= 2) {
      CHECK(out["R"].get<double>() == Approx(reference_correlation(ages, scores)).epsilon(1e-9));
    } else {
      CHECK(out["R"].is_null());
    }
    if (cities.size() == 1) {
      CHECK(out["CITY"] == *cities.begin());
    } else {
      CHECK(out["CITY"].is_null());
    }
  };
  put("u1", {"red", 30, 3.0, "Oslo"});
  put("u2", {"red", 40, 5.5, "Oslo"});
  put("u3", {"red", 35, 4.0, "Oslo"});
  check_team("red");
  put("u4", {"red", 22, 1.0, "Rome"});
  check_team("red");
  CHECK(json::parse(*(*driver)->outputs("TEAMS").back().value)["CITY"].is_null());
  remove("u4");  // Rome leaves: every row in Oslo again
  check_team("red");
  CHECK(json::parse(*(*driver)->outputs("TEAMS").back().value)["CITY"] == "Oslo");
  put("u2", {"blue", 41, 2.0, "Bergen"});  // moves team: out of red, into blue
  check_team("red");
  check_team("blue");
  put("u1", {"red", 31, 3.5, "Oslo"});  // an update within the group
  check_team("red");
  remove("u3");
  check_team("red");
  CHECK(json::parse(*(*driver)->outputs("TEAMS").back().value)["SD"] == 0.0);  // one row left
  CHECK((*driver)->data_errors().empty());
}

// MIN, MAX, COUNT_DISTINCT, COLLECT_SET, TOPK, TOPKDISTINCT and SUM_LIST over
// a table, which ksqlDB refuses: each keeps its group's values with their
// row counts, so updates and deletes take rows back out. Random updates
// (moves between teams, NULLs, deletes) against results recomputed from the
// table's current rows.
TEST_CASE("sql aggregates: MIN, MAX and the distinct aggregates over a table, rows taken out",
          "[sql][aggregate][table]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE TABLE USERS (ID STRING PRIMARY KEY, TEAM STRING, AGE INT, CITY STRING, "
      "BONUS ARRAY<INT>) WITH (kafka_topic='users', value_format='JSON');"
      "CREATE TABLE TEAMS AS SELECT TEAM, MIN(AGE) AS YOUNGEST, MAX(AGE) AS OLDEST, "
      "COUNT_DISTINCT(CITY) AS CITIES, COLLECT_SET(CITY) AS CITY_SET, TOPK(AGE, 2) AS TOP2, "
      "TOPKDISTINCT(AGE, 2) AS TOP2D, SUM_LIST(BONUS) AS BONUS, COUNT(*) AS N "
      "FROM USERS GROUP BY TEAM;"));
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  struct Row {
    std::string team;
    std::optional<int> age;
    std::optional<std::string> city;
    std::vector<int> bonus;
  };
  std::map<std::string, Row> rows;
  auto latest = [&](const std::string& team) {
    json out;
    for (const auto& r : (*driver)->outputs("TEAMS")) {
      auto k = make_kafka_codec(DataType::of(TypeKind::String))->decode(*r.key);
      REQUIRE(k);
      if (k->as_string() == team) out = r.value ? json::parse(*r.value) : json();
    }
    return out;
  };
  auto check_team = [&](const std::string& team) {
    std::vector<int> ages;
    std::set<int> distinct_ages;
    std::set<std::string> cities;
    bool null_city = false;
    int64_t bonus = 0, n = 0;
    for (const auto& [id, r] : rows) {
      if (r.team != team) continue;
      ++n;
      if (r.age) {
        ages.push_back(*r.age);
        distinct_ages.insert(*r.age);
      }
      if (r.city) cities.insert(*r.city);
      null_city = null_city || !r.city;
      for (int b : r.bonus) bonus += b;
    }
    std::sort(ages.rbegin(), ages.rend());
    const json out = latest(team);
    INFO(team << ": " << out.dump());
    REQUIRE(out.is_object());
    CHECK(out["N"] == n);
    if (ages.empty()) {
      CHECK(out["YOUNGEST"].is_null());
      CHECK(out["OLDEST"].is_null());
    } else {
      CHECK(out["YOUNGEST"] == ages.back());
      CHECK(out["OLDEST"] == ages.front());
    }
    CHECK(out["CITIES"] == cities.size());
    std::set<std::string> set_cities;
    bool set_null = false;
    for (const json& c : out["CITY_SET"]) {
      if (c.is_null()) {
        set_null = true;
      } else {
        set_cities.insert(c.get<std::string>());
      }
    }
    CHECK(set_cities == cities);
    CHECK(set_null == null_city);
    CHECK(out["CITY_SET"].size() == cities.size() + (null_city ? 1 : 0));  // each value once
    std::vector<int> top2(ages.begin(), ages.begin() + std::min<size_t>(2, ages.size()));
    CHECK(out["TOP2"] == json(top2));
    std::vector<int> top2d(distinct_ages.rbegin(), distinct_ages.rend());
    if (top2d.size() > 2) top2d.resize(2);
    CHECK(out["TOP2D"] == json(top2d));
    CHECK(out["BONUS"] == bonus);
  };
  const std::vector<std::string> teams = {"red", "blue", "green"};
  const std::vector<std::string> city_names = {"Oslo", "Rome", "Lima"};
  uint64_t seed = 42;
  auto next = [&seed](uint64_t n) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<size_t>((seed >> 33) % n);
  };
  for (int step = 0; step < 300; ++step) {
    const std::string id = "u" + std::to_string(next(12));
    const std::string old_team = rows.count(id) ? rows[id].team : "";
    if (next(6) == 0 && rows.count(id)) {
      REQUIRE(driver->get()->pipe("users", key_of(Value::string(id)), std::nullopt, 0));
      rows.erase(id);
    } else {
      Row r;
      r.team = teams[next(teams.size())];
      if (next(5) != 0) r.age = static_cast<int>(20 + next(8));  // repeats: TOPK keeps them
      if (next(4) != 0) r.city = city_names[next(city_names.size())];
      for (size_t b = next(3); b > 0; --b) r.bonus.push_back(static_cast<int>(next(10)));
      json v = {{"TEAM", r.team},
                {"AGE", r.age ? json(*r.age) : json()},
                {"CITY", r.city ? json(*r.city) : json()},
                {"BONUS", r.bonus}};
      REQUIRE(driver->get()->pipe("users", key_of(Value::string(id)), v.dump(), 0));
      rows[id] = r;
    }
    if (!old_team.empty()) check_team(old_team);  // the row left it, or changed in it
    if (rows.count(id)) check_team(rows[id].team);
  }
  CHECK(driver->get()->data_errors().empty());
}

TEST_CASE("sql aggregates: COLLECT_LIST and HISTOGRAM over a table, rows taken back out",
          "[sql][aggregate][table]") {
  SqlEngine engine;
  REQUIRE(
      engine.execute_script("SET 'ksql.functions.collect_list.limit' = '4';"
                            "CREATE TABLE USERS (ID STRING PRIMARY KEY, TEAM STRING, CITY STRING) "
                            "WITH (kafka_topic='users', value_format='JSON');"
                            "CREATE TABLE TEAMS AS SELECT TEAM, COLLECT_LIST(CITY) AS CITIES, "
                            "HISTOGRAM(CITY) AS BY_CITY FROM USERS GROUP BY TEAM;"));
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  auto put = [&](const std::string& id, const std::string& team, const json& city) {
    json v = {{"TEAM", team}, {"CITY", city}};
    REQUIRE((*driver)->pipe("users", key_of(Value::string(id)), v.dump(), 0));
  };
  auto last = [&] { return json::parse(*(*driver)->outputs("TEAMS").back().value); };
  put("u1", "red", "Oslo");
  put("u2", "red", "Rome");
  put("u3", "red", "Oslo");
  CHECK(last()["CITIES"] == json({"Oslo", "Rome", "Oslo"}));
  CHECK(last()["BY_CITY"] == json({{"Oslo", 2}, {"Rome", 1}}));
  put("u4", "red", nullptr);  // NULL is listed, not counted
  CHECK(last()["CITIES"] == json({"Oslo", "Rome", "Oslo", nullptr}));
  CHECK(last()["BY_CITY"] == json({{"Oslo", 2}, {"Rome", 1}}));
  put("u5", "red", "Lima");  // past the limit of 4: not listed, still counted
  CHECK(last()["CITIES"] == json({"Oslo", "Rome", "Oslo", nullptr}));
  CHECK(last()["BY_CITY"] == json({{"Oslo", 2}, {"Rome", 1}, {"Lima", 1}}));
  REQUIRE((*driver)->pipe("users", key_of(Value::string("u2")), std::nullopt, 0));
  CHECK(last()["CITIES"] == json({"Oslo", "Oslo", nullptr}));  // Rome's row deleted
  CHECK(last()["BY_CITY"] == json({{"Oslo", 2}, {"Lima", 1}}));
  put("u1", "red", "Bern");  // an update within the group: the last Oslo out, Bern in
  CHECK(last()["CITIES"] == json({"Oslo", nullptr, "Bern"}));
  CHECK(last()["BY_CITY"] == json({{"Oslo", 1}, {"Lima", 1}, {"Bern", 1}}));
  put("u3", "blue", "Oslo");  // moves team
  CHECK(last()["CITIES"] == json({"Oslo"}));
  auto outputs = (*driver)->outputs("TEAMS");
  const json red = json::parse(*outputs[outputs.size() - 2].value);
  CHECK(red["CITIES"] == json({nullptr, "Bern"}));
  CHECK(red["BY_CITY"] == json({{"Lima", 1}, {"Bern", 1}}));
  CHECK((*driver)->data_errors().empty());
}

TEST_CASE("sql aggregates: LATEST_BY_OFFSET and EARLIEST_BY_OFFSET with n and ignoreNulls",
          "[sql][aggregate]") {
  SqlEngine engine;
  REQUIRE(engine.execute_script(
      "CREATE STREAM S (K STRING KEY, V INT) WITH (kafka_topic='s', value_format='JSON');"
      "CREATE TABLE T AS SELECT K, LATEST_BY_OFFSET(V, 3) AS L3, EARLIEST_BY_OFFSET(V, 2) AS E2, "
      "LATEST_BY_OFFSET(V, FALSE) AS L_NULLS, EARLIEST_BY_OFFSET(V, FALSE) AS E_NULLS, "
      "LATEST_BY_OFFSET(V, 2, FALSE) AS L2_NULLS, LATEST_BY_OFFSET(V, TRUE) AS L "
      "FROM S GROUP BY K;"));
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver);
  auto send = [&](const json& v) {
    REQUIRE((*driver)->pipe("s", key_of(Value::string("k")), json{{"V", v}}.dump(), 0));
    return json::parse(*(*driver)->outputs("T").back().value);
  };
  json out = send(nullptr);  // a NULL first
  CHECK(out["L3"] == json::array());
  CHECK(out["E2"] == json::array());
  CHECK(out["L_NULLS"].is_null());
  CHECK(out["E_NULLS"].is_null());
  CHECK(out["L2_NULLS"] == json({nullptr}));
  CHECK(out["L"].is_null());
  out = send(1);
  CHECK(out["E_NULLS"].is_null());  // the earliest record's value was NULL
  CHECK(out["L_NULLS"] == 1);
  for (int v : {2, 3, 4}) out = send(v);
  CHECK(out["L3"] == json({2, 3, 4}));  // oldest first
  CHECK(out["E2"] == json({1, 2}));
  out = send(nullptr);
  CHECK(out["L3"] == json({2, 3, 4}));  // NULLs ignored by default
  CHECK(out["L"] == 4);
  CHECK(out["L_NULLS"].is_null());  // the latest record's value
  CHECK(out["L2_NULLS"] == json({4, nullptr}));
  CHECK(out["E_NULLS"].is_null());
  CHECK((*driver)->data_errors().empty());
}

TEST_CASE("sql aggregates: errors name the call", "[sql][aggregate]") {
  SqlEngine engine;
  REQUIRE(
      engine.execute_script("CREATE STREAM S (K STRING KEY, U STRING, X DOUBLE) WITH "
                            "(kafka_topic='s', value_format='JSON');"
                            "CREATE TABLE TT (K STRING PRIMARY KEY, U STRING) WITH "
                            "(kafka_topic='t', value_format='JSON');"));
  auto fails = [&](const std::string& sql, const std::string& message) {
    auto r = engine.execute_script(sql);
    REQUIRE_FALSE(r);
    INFO(r.error().message);
    CHECK(r.error().message.find(message) != std::string::npos);
  };
  fails("CREATE TABLE A AS SELECT K,\n  STDDEV_SAMPLE(U) AS X FROM S GROUP BY K;", "line 2:3");
  fails("CREATE TABLE A AS SELECT K, STDDEV_SAMPLE(U) AS X FROM S GROUP BY K;", "STDDEV_SAMPLE");
  fails("CREATE TABLE A AS SELECT K, CORRELATION(X) AS X FROM S GROUP BY K;", "CORRELATION");
  fails("CREATE TABLE A AS SELECT U, LATEST_BY_OFFSET(K) AS X FROM TT GROUP BY U;",
        "The aggregation function(s) (LATEST_BY_OFFSET) cannot be applied to a table source, "
        "only to a stream source.");
  fails("CREATE TABLE A AS SELECT K, LATEST_BY_OFFSET(X, 0) AS L FROM S GROUP BY K;",
        "line 1:49: LATEST_BY_OFFSET's n must be 1 or greater");
  fails("CREATE TABLE A AS SELECT K, EARLIEST_BY_OFFSET(X, 2, 3) AS L FROM S GROUP BY K;",
        "EARLIEST_BY_OFFSET takes (column [, ignoreNulls]) or (column, n [, ignoreNulls])");
  fails("CREATE TABLE A AS SELECT U, EARLIEST_BY_OFFSET(K) AS X FROM TT GROUP BY U;",
        "The aggregation function(s) (EARLIEST_BY_OFFSET) cannot be applied to a table source");
  CHECK(engine.catalog().find("A") == nullptr);
}

}  // namespace
}  // namespace rivulet::sql
