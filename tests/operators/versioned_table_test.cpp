// VersionedTable (history for temporal joins) and temporal stream-table
// joins through the Topology.
#include <catch2/catch.hpp>

#include "operators/topology.hpp"
#include "operators/versioned_table.hpp"
#include "test_support.hpp"

namespace rivulet {
namespace {

using test::I;
using test::S;

std::string as_of(const VersionedTable& t, const char* key, TimestampMs ts) {
  const Value* v = t.find_as_of(S(key), ts);
  return v ? v->as_string() : "-";
}

TEST_CASE("versioned table: a lookup sees the version valid at its timestamp", "[versioned]") {
  VersionedTable t("rates.versions", 1000);
  CHECK(t.put(S("EUR"), 100, S("1.10")) == VersionedTable::PutResult::Latest);
  CHECK(t.put(S("EUR"), 200, S("1.20")) == VersionedTable::PutResult::Latest);
  CHECK(t.put(S("EUR"), 300, Value()) == VersionedTable::PutResult::Latest);  // deleted
  CHECK(t.put(S("EUR"), 400, S("1.40")) == VersionedTable::PutResult::Latest);
  CHECK(as_of(t, "EUR", 99) == "-");
  CHECK(as_of(t, "EUR", 100) == "1.10");
  CHECK(as_of(t, "EUR", 199) == "1.10");
  CHECK(as_of(t, "EUR", 200) == "1.20");
  CHECK(as_of(t, "EUR", 350) == "-");  // the tombstone
  CHECK(as_of(t, "EUR", 5000) == "1.40");
  CHECK(as_of(t, "USD", 5000) == "-");
}

TEST_CASE("versioned table: out-of-order updates enter the history, not the latest value",
          "[versioned]") {
  VersionedTable t("t", 1000);
  t.put(S("k"), 100, S("a"));
  t.put(S("k"), 300, S("c"));
  CHECK(t.put(S("k"), 200, S("b")) == VersionedTable::PutResult::History);
  CHECK(as_of(t, "k", 250) == "b");
  CHECK(as_of(t, "k", 300) == "c");
  // Same timestamp: the later update replaces that version.
  CHECK(t.put(S("k"), 200, S("b2")) == VersionedTable::PutResult::History);
  CHECK(t.put(S("k"), 300, S("c2")) == VersionedTable::PutResult::Latest);
  CHECK(as_of(t, "k", 250) == "b2");
  CHECK(as_of(t, "k", 301) == "c2");
  CHECK(t.version_count() == 3);
}

TEST_CASE("versioned table: history older than the retention is pruned and refused",
          "[versioned]") {
  VersionedTable t("t", 100);
  for (int ts = 0; ts <= 1000; ts += 10) t.put(S("k"), ts, I(ts));
  // Observed time 1000, cutoff 900: kept are the version valid at 900 and newer.
  CHECK(t.version_count() == 11);
  CHECK(t.find_as_of(S("k"), 899) == nullptr);  // older than the retention
  REQUIRE(t.find_as_of(S("k"), 905) != nullptr);
  CHECK(t.find_as_of(S("k"), 905)->as_int64() == 900);
  CHECK(t.put(S("k"), 850, I(850)) == VersionedTable::PutResult::TooOld);
  CHECK(t.too_old_puts() == 1);
  // A key no longer written is swept once enough other puts happened.
  t.put(S("idle"), 1000, I(1));
  t.put(S("idle"), 1001, Value());
  for (int i = 0; i < 3000; ++i) t.put(S("busy"), 2000 + i, I(i));
  CHECK(t.versions(S("idle")).empty());
  CHECK(t.keys() == 2);  // k keeps the version valid at the cutoff, busy
}

TEST_CASE("versioned table: snapshot and restore keep every version", "[versioned]") {
  VersionedTable t("t", 1000);
  t.put(S("a"), 10, S("a10"));
  t.put(S("a"), 20, Value());
  t.put(S("a"), 30, S("a30"));
  t.put(S("b"), 15, S("b15"));
  std::string bytes = t.serialize();
  VersionedTable r("t", 1000);
  REQUIRE(r.restore(bytes));
  CHECK(r.keys() == 2);
  CHECK(r.version_count() == 4);
  CHECK(as_of(r, "a", 15) == "a10");
  CHECK(as_of(r, "a", 25) == "-");
  CHECK(as_of(r, "a", 35) == "a30");
  CHECK(as_of(r, "b", 35) == "b15");
  CHECK(r.observed_time() == TimestampMs{30});
  // Damaged bytes are refused with the store's name and leave it empty.
  for (size_t cut : {size_t{0}, size_t{3}, bytes.size() / 2, bytes.size() - 1}) {
    auto bad = r.restore(std::string_view(bytes.data(), cut));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("versioned table t") != std::string::npos);
    CHECK(r.keys() == 0);
  }
  // A forged length (an array of 2^32-1 entries in a few bytes) is refused,
  // not allocated: restore once asked for 64 GiB (operators/fuzz).
  const std::string forged("\x94\x01\xcd\x27\x10\xc0\xdd\xff\xff\xff\xff", 11);
  auto bad = r.restore(forged);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("versioned table t") != std::string::npos);
  CHECK(r.keys() == 0);
}

// rates (a versioned table) and trades joined as of each trade's timestamp.
Topology temporal_topology() {
  Topology topo;
  auto rates = topo.versioned_table("rates", test::text_serdes(), 10'000);
  topo.stream("trades", test::text_serdes())
      .left_join(rates,
                 [](const Record& trade, const Value* rate) {
                   return S(trade.value.as_string() + "@" + (rate ? rate->as_string() : "none"));
                 })
      .to("priced", test::text_serdes());
  return topo;
}

std::vector<std::string> values_of(const TaskOutput& out) {
  std::vector<std::string> v;
  for (const auto& r : out.records) v.push_back(r.value.value_or("<null>"));
  return v;
}

TEST_CASE("temporal join: a late trade joins the rate valid at its time, not the latest",
          "[versioned][topology]") {
  Topology topo = temporal_topology();
  REQUIRE(topo.validate());
  auto g = topo.instantiate(PartitionId{0});
  REQUIRE(g);
  REQUIRE(g->versions("rates"));
  TaskOutput out;
  std::vector<RawRecord> rates = {test::raw(0, "EUR", "1.10", 1000),
                                  test::raw(1, "EUR", "1.20", 2000),
                                  test::raw(2, "EUR", "1.30", 3000)};
  REQUIRE(g->process("rates", rates.data(), rates.data() + rates.size(), out));
  // Trades arrive after all three rates (a lagging or late stream).
  std::vector<RawRecord> trades = {test::raw(0, "EUR", "t1", 1500),
                                   test::raw(1, "EUR", "t2", 2500),
                                   test::raw(2, "EUR", "t3", 3500),
                                   test::raw(3, "EUR", "t0", 500)};
  REQUIRE(g->process("trades", trades.data(), trades.data() + trades.size(), out));
  CHECK(values_of(out) ==
        std::vector<std::string>{"t1@1.10", "t2@1.20", "t3@1.30", "t0@none"});
  // The KTable holds the latest value; an out-of-order rate update only
  // enters the history (and is not forwarded or applied as the latest).
  out.clear();
  std::vector<RawRecord> late_rate = {test::raw(3, "EUR", "1.15", 1800)};
  REQUIRE(g->process("rates", late_rate.data(), late_rate.data() + 1, out));
  CHECK(g->table("rates")->get(S("EUR"))->as_string() == "1.30");
  std::vector<RawRecord> again = {test::raw(4, "EUR", "t1b", 1900)};
  REQUIRE(g->process("trades", again.data(), again.data() + 1, out));
  CHECK(values_of(out) == std::vector<std::string>{"t1b@1.15"});
}

TEST_CASE("temporal join: the history survives a checkpoint (stores() includes it)",
          "[versioned][topology]") {
  Topology topo = temporal_topology();
  auto g = topo.instantiate(PartitionId{0});
  REQUIRE(g);
  TaskOutput out;
  std::vector<RawRecord> rates = {test::raw(0, "EUR", "1.10", 1000),
                                  test::raw(1, "EUR", "1.20", 2000)};
  g->process("rates", rates.data(), rates.data() + rates.size(), out);

  auto h = topo.instantiate(PartitionId{0});
  REQUIRE(h);
  auto from = g->stores(), to = h->stores();
  REQUIRE(from.size() == to.size());
  bool has_history = false;
  for (size_t i = 0; i < from.size(); ++i) {
    REQUIRE(from[i]->name() == to[i]->name());
    has_history = has_history || from[i]->name() == "rates.versions";
    REQUIRE(to[i]->restore(from[i]->serialize()));
  }
  CHECK(has_history);
  out.clear();
  std::vector<RawRecord> trades = {test::raw(0, "EUR", "t", 1500)};
  h->process("trades", trades.data(), trades.data() + 1, out);
  CHECK(values_of(out) == std::vector<std::string>{"t@1.10"});
}

}  // namespace
}  // namespace rivulet
