// Windowed aggregations: tumbling, hopping and session windows, grace and
// late records, EMIT CHANGES and EMIT FINAL, snapshots, and windows closing
// while one co-partitioned input is idle.
#include "operators/window.hpp"

#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "operators/input_merger.hpp"
#include "operators/topology.hpp"
#include "test_support.hpp"

namespace rivulet {
namespace {

using test::I;
using test::S;

// "key[start,end)=value@timestamp" (sessions: "[start,end]"), "=null" for
// tombstones.
std::string show(const Record& r, bool session = false) {
  WindowBounds w = window_of(r.key);
  const Value& k = window_inner_key(r.key);
  std::string s = (k.kind() == TypeKind::String ? k.as_string() : k.to_string()) + "[" + std::to_string(w.start) + "," +
                  std::to_string(w.end) + (session ? "]" : ")") + "=" +
                  (r.value.is_null() ? "null" : r.value.to_string()) + "@" +
                  std::to_string(r.timestamp);
  return s;
}

AggregateSpec count_spec() {
  AggregateSpec spec;
  spec.functions.push_back(AggregateFn::count());
  return spec;
}

// A stream "in" (decoded records fed directly), its windowed aggregation
// "win", and everything the aggregation emits.
struct Harness {
  explicit Harness(WindowSpec w, AggregateSpec spec = count_spec())
      : session(w.kind == WindowKind::Session) {
    auto sink = seen;
    topo.stream("in", codecs::internal())
        .group_by_key()
        .windowed_aggregate(w, std::move(spec), "win")
        .peek([sink](const Record& r) { sink->push_back(r); });
    graph = topo.instantiate(PartitionId{0});
    REQUIRE(graph);
  }
  void feed(const std::string& key, int64_t value, TimestampMs ts) {
    Batch b{test::record(S(key), I(value), ts, offset++)};
    graph->process(0, b, out);
  }
  std::vector<std::string> take() {
    std::vector<std::string> v;
    for (const auto& r : *seen) v.push_back(show(r, session));
    seen->clear();
    return v;
  }
  WindowStore& store() { return *graph->window_store("win"); }

  Topology topo;
  std::shared_ptr<std::vector<Record>> seen = std::make_shared<std::vector<Record>>();
  std::unique_ptr<TaskGraph> graph;
  TaskOutput out;
  bool session;
  int64_t offset = 0;
};

using Lines = std::vector<std::string>;

TEST_CASE("windows: tumbling count, EMIT CHANGES, late records dropped and counted",
          "[window]") {
  Harness h(WindowSpec::tumbling(30000, 60000));
  h.feed("a", 1, 0);
  h.feed("a", 1, 89999);
  h.feed("a", 1, 10009);
  CHECK(h.take() == Lines{"a[0,30000)=1@0", "a[60000,90000)=1@89999", "a[0,30000)=2@10009"});
  h.feed("a", 1, 90000);  // stream time 90000 = 30000 + grace: [0,30000) closes
  h.feed("a", 1, 10010);  // late
  h.feed("b", 1, 10010);  // late for every key
  CHECK(h.take() == Lines{"a[90000,120000)=1@90000"});
  CHECK(h.out.late_records_dropped == 2);
  CHECK(h.graph->window_store("win")->stream_time() == 90000);
}

TEST_CASE("windows: the result's timestamp is the window's largest record time", "[window]") {
  Harness h(WindowSpec::tumbling(100, 1000));
  h.feed("a", 1, 50);
  h.feed("a", 1, 10);
  CHECK(h.take() == Lines{"a[0,100)=1@50", "a[0,100)=2@50"});
}

TEST_CASE("windows: hopping windows, each record in every window that holds it", "[window]") {
  Harness h(WindowSpec::hopping(5000, 1000));
  h.feed("k", 1, 10345);
  CHECK(h.take() == Lines{"k[6000,11000)=1@10345", "k[7000,12000)=1@10345",
                          "k[8000,13000)=1@10345", "k[9000,14000)=1@10345",
                          "k[10000,15000)=1@10345"});
  h.feed("k", 1, 13251);
  CHECK(h.take() == Lines{"k[9000,14000)=2@13251", "k[10000,15000)=2@13251",
                          "k[11000,16000)=1@13251", "k[12000,17000)=1@13251",
                          "k[13000,18000)=1@13251"});
  // Windows never start below 0.
  h.feed("z", 1, 1500);
  CHECK(h.take() == Lines{"z[0,5000)=1@1500", "z[1000,6000)=1@1500"});
}

TEST_CASE("windows: sessions grow, merge when a record bridges two, tombstone the old ones",
          "[window]") {
  AggregateSpec sum;
  sum.functions.push_back(AggregateFn::sum({}));
  Harness h(WindowSpec::session(5000), sum);
  h.feed("u", 1, 0);
  h.feed("u", 2, 20000);
  CHECK(h.take() == Lines{"u[0,0]=1@0", "u[20000,20000]=2@20000"});
  h.feed("u", 4, 3000);  // extends [0,0]
  CHECK(h.take() == Lines{"u[0,0]=null@0", "u[0,3000]=5@3000"});
  h.feed("u", 8, 16000);  // extends [20000,20000] backwards
  CHECK(h.take() == Lines{"u[20000,20000]=null@20000", "u[16000,20000]=10@20000"});
  h.feed("u", 16, 8000);  // within gap of neither (3000 + 5000 = 8000 is, 16000 - 5000 not)
  CHECK(h.take() == Lines{"u[0,3000]=null@3000", "u[0,8000]=21@8000"});
  h.feed("u", 32, 12000);  // bridges [0,8000] and [16000,20000]
  CHECK(h.take() ==
        Lines{"u[0,8000]=null@8000", "u[16000,20000]=null@20000", "u[0,20000]=63@20000"});
  CHECK(h.store().size() == 1);
  h.feed("v", 1, 12000);  // another key: its own session
  CHECK(h.take() == Lines{"v[12000,12000]=1@12000"});
}

TEST_CASE("windows: a session closes at end + gap + grace, records for it are dropped",
          "[window]") {
  Harness h(WindowSpec::session(30000, 60000));
  h.feed("k", 1, 0);
  h.feed("k", 1, 100010);  // close time 100010 - 90000 = 10010
  h.feed("k", 1, 10009);   // would make [0,10009]: ends before the close time, late
  h.feed("k", 1, 10010);   // [0,0] is gone (retention): a new session
  CHECK(h.take() == Lines{"k[0,0]=1@0", "k[100010,100010]=1@100010", "k[10010,10010]=1@10010"});
  CHECK(h.out.late_records_dropped == 1);
}

TEST_CASE("windows: EMIT FINAL emits each window once when it closes, keeps only open ones",
          "[window]") {
  WindowSpec w = WindowSpec::tumbling(2, 1);
  w.emit = WindowEmit::Final;
  Harness h(w);
  h.feed("k1", 1, 0);
  h.feed("k2", 1, 1);
  h.feed("k1", 1, 2);
  h.feed("k1", 1, 1);
  CHECK(h.take().empty());
  CHECK(h.store().size() == 3);
  h.feed("k1", 1, 3);  // stream time 3 = 2 + grace: [0,2) closes
  CHECK(h.take() == Lines{"k1[0,2)=2@1", "k2[0,2)=1@1"});
  CHECK(h.store().size() == 1);
  h.feed("k2", 1, 1);  // late
  CHECK(h.out.late_records_dropped == 1);
  h.feed("k1", 1, 1000);  // a jump closes [2,4); every closed window is emitted once
  CHECK(h.take() == Lines{"k1[2,4)=2@3"});
  CHECK(h.store().size() == 1);

  // ksqlDB's behaviour: a window whose retention passed before a record
  // landed on its close time is dropped unemitted.
  w.expire_unemitted = true;
  Harness k(w);
  k.feed("k1", 1, 0);
  k.feed("k1", 1, 2);
  k.feed("k1", 1, 5);  // [0,2) is past retention (0 + 3 < 5); [2,4) closes exactly
  CHECK(k.take() == Lines{"k1[2,4)=1@2"});
}

TEST_CASE("windows: EMIT FINAL for hopping and session windows", "[window]") {
  WindowSpec hop = WindowSpec::hopping(5, 2, 1);
  hop.emit = WindowEmit::Final;
  Harness h(hop);
  for (int64_t t : {0, 1, 2, 1, 6, 5, 10}) h.feed("k", 1, t);
  CHECK(h.take() == Lines{"k[0,5)=4@2", "k[2,7)=3@6", "k[4,9)=2@6"});

  WindowSpec ses = WindowSpec::session(5, 6);
  ses.emit = WindowEmit::Final;
  Harness s(ses);
  for (int64_t t : {0, 4, 8, 12, 14, 30, 29, 17, 42}) s.feed("k", 1, t);
  CHECK(s.take() == Lines{"k[0,14]=5@14", "k[29,30]=2@30"});
  CHECK(s.out.late_records_dropped == 1);  // 17
}

TEST_CASE("windows: SUM, MIN, MAX, AVG per window, several at once", "[window]") {
  AggregateSpec spec;
  spec.as_struct = true;
  spec.functions.push_back(AggregateFn::sum({}, "S"));
  spec.functions.push_back(AggregateFn::min({}, "MN"));
  spec.functions.push_back(AggregateFn::max({}, "MX"));
  spec.functions.push_back(AggregateFn::avg({}, "A"));
  Harness h2(WindowSpec::tumbling(10), spec);
  h2.feed("k", 4, 1);
  h2.feed("k", 2, 2);
  const Value& v = (*h2.seen)[1].value;
  CHECK(v.field("S")->to_int64() == 6);
  CHECK(v.field("MN")->to_int64() == 2);
  CHECK(v.field("MX")->to_int64() == 4);
  CHECK(v.field("A")->to_double() == 3.0);
}

TEST_CASE("windows: a snapshot restores into a new task that continues as if never stopped",
          "[window]") {
  for (WindowSpec w : {WindowSpec::tumbling(10, 5), WindowSpec::hopping(10, 5, 5),
                       WindowSpec::session(4, 5)}) {
    for (WindowEmit emit : {WindowEmit::Changes, WindowEmit::Final}) {
      w.emit = emit;
      std::vector<std::pair<std::string, int64_t>> input;
      for (int i = 0; i < 200; ++i)
        input.emplace_back("k" + std::to_string(i % 7), (i * 37) % 61 + i / 3);
      Harness whole(w);
      for (const auto& [k, t] : input) whole.feed(k, 1, t);
      Lines expected = whole.take();

      Harness first(w);
      for (size_t i = 0; i < 100; ++i) first.feed(input[i].first, 1, input[i].second);
      Lines got = first.take();
      auto stores = first.graph->stores();
      REQUIRE(stores.size() == 1);
      std::string bytes = stores[0]->serialize();

      Harness second(w);
      REQUIRE(second.graph->stores()[0]->restore(bytes));
      CHECK(second.store().stream_time() == first.store().stream_time());
      CHECK(second.store().size() == first.store().size());
      for (size_t i = 100; i < input.size(); ++i) second.feed(input[i].first, 1, input[i].second);
      for (auto& l : second.take()) got.push_back(l);
      CHECK(got == expected);
      CHECK(first.out.late_records_dropped + second.out.late_records_dropped ==
            whole.out.late_records_dropped);
    }
  }
}

TEST_CASE("windows: a corrupt snapshot is an error and leaves the store empty", "[window]") {
  Harness h(WindowSpec::tumbling(10));
  h.feed("k", 1, 1);
  CHECK_FALSE(h.store().restore("not msgpack"));
  CHECK(h.store().size() == 0);
  CHECK(h.store().stream_time() == -1);
}

TEST_CASE("windows: windowed keys round-trip through Kafka's windowed key formats",
          "[window]") {
  auto time = codecs::windowed(codecs::kafka_string(), WindowKind::Tumbling, 30000)();
  Value k = windowed_key(S("abc"), {60000, 90000});
  auto bytes = time->encode(k);
  REQUIRE(bytes);
  CHECK(*bytes == std::string("abc") + std::string("\0\0\0\0\0\0\xea\x60", 8));
  auto back = time->decode(*bytes);
  REQUIRE(back);
  CHECK(*back == k);
  CHECK_FALSE(time->decode("abc"));  // shorter than the window

  auto ses = codecs::windowed(codecs::kafka_string(), WindowKind::Session, 0)();
  Value s = windowed_key(S("u"), {5, 7});
  bytes = ses->encode(s);
  REQUIRE(bytes);
  CHECK(bytes->size() == 17);
  back = ses->decode(*bytes);
  REQUIRE(back);
  CHECK(*back == s);
}

TEST_CASE("windows: bad specs are builder errors", "[window]") {
  Topology topo;
  topo.stream("in", codecs::internal()).group_by_key().windowed_count(WindowSpec::hopping(5, 6));
  CHECK_FALSE(topo.validate());
  Topology t2;
  AggregateSpec custom;
  custom.functions.push_back(AggregateFn::custom([] { return I(0); },
                                                 [](const Record&, const Value& a) { return a; }));
  t2.stream("in", codecs::internal()).group_by_key().windowed_aggregate(WindowSpec::session(5), custom);
  CHECK_FALSE(t2.validate());  // sessions need a merger
}

// stream.time.idle.advance.ms: with nothing read, stream time moves on from
// its time at the last record by the idle time past the setting; what that
// closes is emitted as a record at that time would have closed it.
TEST_CASE("windows: an idle advance closes EMIT FINAL windows and later records for them are late",
          "[window][idle]") {
  WindowSpec w = WindowSpec::tumbling(10, 0);
  w.emit = WindowEmit::Final;
  Harness h(w);
  TaskOutput& out = h.out;
  CHECK_FALSE(h.graph->advance_idle(100, out));  // nothing seen: no time to move
  h.feed("page", 1, 1);
  h.feed("page", 1, 3);
  h.feed("page", 1, 12);  // closes [0,10)
  CHECK(h.take() == Lines{"page[0,10)=2@3"});
  // 12 + 5 = 17: [10,20) still open. Only stream time moved: nothing to save.
  CHECK_FALSE(h.graph->advance_idle(5, out));
  CHECK(h.take().empty());
  CHECK(h.store().stream_time() == 17);
  CHECK(h.graph->advance_idle(8, out));  // 12 + 8 = 20: closed
  CHECK(h.take() == Lines{"page[10,20)=1@12"});
  CHECK(h.store().size() == 0);
  CHECK_FALSE(h.graph->advance_idle(8, out));  // the same idle time again: nothing moves
  CHECK_FALSE(h.graph->advance_idle(3, out));  // never backwards
  CHECK(h.store().stream_time() == 20);
  // A record for the closed window is late, as after a record at 20.
  const uint64_t late = out.late_records_dropped;
  h.feed("page", 1, 15);
  CHECK(h.take().empty());
  CHECK(out.late_records_dropped == late + 1);
  // A new record is the new base: idle time counts from it.
  h.feed("page", 1, 25);
  CHECK_FALSE(h.graph->advance_idle(4, out));  // 25 + 4 = 29
  CHECK(h.take().empty());
  CHECK(h.graph->advance_idle(5, out));  // 30
  CHECK(h.take() == Lines{"page[20,30)=1@25"});
}

TEST_CASE("windows: an idle advance closes sessions and frees EMIT CHANGES windows past retention",
          "[window][idle]") {
  SECTION("sessions, EMIT FINAL") {
    WindowSpec w = WindowSpec::session(5, 0);
    w.emit = WindowEmit::Final;
    Harness h(w);
    h.feed("u", 1, 1);
    h.feed("u", 1, 3);
    // Closed once its end (3) < stream time - gap (5): from 9 on.
    CHECK_FALSE(h.graph->advance_idle(5, h.out));  // 8
    CHECK(h.take().empty());
    CHECK(h.graph->advance_idle(6, h.out));  // 9
    CHECK(h.take() == Lines{"u[1,3]=2@3"});
    CHECK(h.store().size() == 0);
  }
  SECTION("tumbling, EMIT CHANGES") {
    Harness h(WindowSpec::tumbling(10, 5));  // retention 15
    h.feed("a", 1, 2);
    CHECK(h.take() == Lines{"a[0,10)=1@2"});
    CHECK_FALSE(h.graph->advance_idle(10, h.out));  // 12: [0,10) kept for its grace
    CHECK(h.store().size() == 1);
    CHECK(h.graph->advance_idle(14, h.out));  // 16 > 0 + 15: past retention, freed
    CHECK(h.store().size() == 0);
    CHECK(h.take().empty());  // EMIT CHANGES emitted it already
  }
  SECTION("EMIT FINAL with ksqlDB's expiry of unemitted windows, in one large step") {
    WindowSpec w = WindowSpec::tumbling(10, 0);
    w.emit = WindowEmit::Final;
    w.expire_unemitted = true;  // as the SQL planner sets it
    Harness h(w);
    h.feed("k", 1, 3);
    // 23 is past both the close (10) and the retention (10) of [0,10): a
    // record at 23 would drop it unemitted, the advance emits it first.
    CHECK(h.graph->advance_idle(20, h.out));
    CHECK(h.take() == Lines{"k[0,10)=1@3"});
    CHECK(h.store().size() == 0);
  }
}

TEST_CASE(
    "windows: the idle base is not saved: a restored store counts idle time from its saved time",
    "[window][idle]") {
  WindowSpec w = WindowSpec::tumbling(10, 0);
  w.emit = WindowEmit::Final;
  Harness a(w);
  a.feed("k", 1, 4);
  CHECK_FALSE(a.graph->advance_idle(3, a.out));  // 7: nothing closed, but saved with the store
  const std::string bytes = a.store().serialize();
  Harness b(w);
  REQUIRE(b.store().restore(bytes).ok());
  CHECK(b.store().stream_time() == 7);
  CHECK_FALSE(b.graph->advance_idle(2, b.out));  // 7 + 2 = 9: still open
  CHECK(b.take().empty());
  CHECK(b.graph->advance_idle(3, b.out));  // 10: closed
  CHECK(b.take() == Lines{"k[0,10)=1@4"});
}

// Two co-partitioned inputs: "clicks" is counted per 10 ms window (EMIT
// FINAL), "users" is a table that has gone quiet. Stream time may advance
// past the idle input only after max.task.idle.ms of wall-clock time; then
// the window closes and its result is emitted.
TEST_CASE("windows: an idle input holds a window open only for max.task.idle.ms", "[window]") {
  Topology topo;
  auto seen = std::make_shared<std::vector<Record>>();
  // The clicks are joined with users, so both inputs feed the window (one
  // sub-topology): an idle users input holds it.
  auto users_table = topo.table("users", codecs::internal());
  WindowSpec w = WindowSpec::tumbling(10, 0);
  w.emit = WindowEmit::Final;
  topo.stream("clicks", codecs::internal())
      .left_join(users_table, [](const Record& s, const Value*) { return s.value; })
      .group_by_key()
      .windowed_count(w, "clicks-per-10ms")
      .peek([seen](const Record& r) { seen->push_back(r); });
  auto graph = topo.instantiate(PartitionId{0});
  REQUIRE(graph);
  const int64_t idle_ms = 500;
  InputMerger merger(graph->inputs(), PartitionId{0}, idle_ms);
  auto users = *graph->input_index("users");
  auto clicks = *graph->input_index("clicks");

  auto raw_batch = [&](const std::string& topic, std::vector<TimestampMs> ts, int64_t first,
                       int64_t hwm) {
    RawBatch b;
    b.tp = TopicPartition{topic, PartitionId{0}};
    auto key = codecs::internal().key();
    for (size_t i = 0; i < ts.size(); ++i)
      b.records.push_back(test::raw(first + int64_t(i), *key->encode(S("page")),
                                    *key->encode(I(1)), ts[i]));
    b.high_watermark = hwm;
    return b;
  };
  TaskOutput out;
  auto run_all = [&](TimestampMs now) {
    while (auto run = merger.next_run(now)) {
      graph->process(run->input, run->begin, run->end, out);
      merger.consume(*run);
    }
  };
  // users: caught up and quiet since t=1000 (wall clock).
  REQUIRE(merger.add(raw_batch("users", {}, 0, 0), 1000));
  REQUIRE(merger.add(raw_batch("clicks", {1, 2, 3}, 0, 3), 1000));
  run_all(1000);
  CHECK(merger.waiting());  // users might still send something older
  CHECK(seen->empty());
  REQUIRE(merger.add(raw_batch("clicks", {25}, 3, 4), 1200));
  run_all(1200);
  CHECK(seen->empty());      // still waiting: the window [0,10) stays open
  run_all(1000 + idle_ms);   // users idle for max.task.idle.ms: go on without it
  CHECK_FALSE(merger.waiting());
  REQUIRE(seen->size() == 1);
  CHECK(show((*seen)[0]) == "page[0,10)=3@3");
  CHECK(merger.stream_time() == 25);
  CHECK(out.data_errors.empty());
  (void)users;
  (void)clicks;
}

}  // namespace
}  // namespace rivulet

namespace rivulet {
namespace {

// One input's records as RawRecords (msgpack keys and values).
std::vector<RawRecord> raw_records(const std::vector<std::pair<std::string, TimestampMs>>& recs,
                                   int64_t value_base) {
  auto codec = codecs::internal().key();
  std::vector<RawRecord> out;
  for (size_t i = 0; i < recs.size(); ++i)
    out.push_back(test::raw(int64_t(i), *codec->encode(S(recs[i].first)),
                            *codec->encode(I(value_base + int64_t(i))), recs[i].second));
  return out;
}

// Runs users (a table) and clicks (a stream) through a task: clicks joined
// with users, and a hopping count of clicks per user, each output observed
// in order (as two sink topics would receive them; how the two outputs
// interleave depends on run lengths, the content of each does not). The inputs arrive in batches of random sizes in a
// random interleaving (seed); high watermarks are known, so the merger
// waits for data that is on the broker.
std::vector<std::string> run_join_and_windows(const std::vector<RawRecord>& users,
                                              const std::vector<RawRecord>& clicks,
                                              unsigned seed) {
  Topology topo;
  auto seen = std::make_shared<std::vector<std::string>>();
  auto hops = std::make_shared<std::vector<std::string>>();
  auto table = topo.table("users", codecs::internal());
  auto stream = topo.stream("clicks", codecs::internal());
  stream
      .left_join(table,
                 [](const Record& r, const Value* u) {
                   return Value::array(Array{r.value, u ? *u : Value()});
                 })
      .peek([seen](const Record& r) {
        seen->push_back("join " + r.key.to_string() + " " + r.value.to_string() + "@" +
                        std::to_string(r.timestamp));
      });
  stream.group_by_key()
      .windowed_count(WindowSpec::hopping(100, 40, 50), "hop")
      .peek([hops](const Record& r) { hops->push_back("hop " + show(r)); });
  auto graph = topo.instantiate(PartitionId{0});
  REQUIRE(graph);
  InputMerger merger(graph->inputs(), PartitionId{0}, 0);
  std::mt19937 rng(seed);
  struct Feed {
    std::string topic;
    const std::vector<RawRecord>* records;
    size_t next = 0;
  };
  std::vector<Feed> feeds{{"users", &users}, {"clicks", &clicks}};
  TaskOutput out;
  auto drain = [&] {
    while (auto run = merger.next_run(0)) {
      graph->process(run->input, run->begin, run->end, out);
      merger.consume(*run);
    }
  };
  while (feeds[0].next < users.size() || feeds[1].next < clicks.size()) {
    Feed& f = feeds[rng() % 2];
    if (f.next >= f.records->size()) continue;
    size_t n = std::min<size_t>(1 + rng() % 17, f.records->size() - f.next);
    RawBatch b;
    b.tp = TopicPartition{f.topic, PartitionId{0}};
    b.records.assign(f.records->begin() + long(f.next), f.records->begin() + long(f.next + n));
    b.high_watermark = int64_t(f.records->size());
    f.next += n;
    REQUIRE(merger.add(std::move(b), 0));
    drain();
  }
  drain();
  CHECK_FALSE(merger.has_buffered());
  CHECK(out.data_errors.empty());
  seen->insert(seen->end(), hops->begin(), hops->end());
  seen->push_back("late " + std::to_string(out.late_records_dropped));
  return *seen;
}

TEST_CASE("windows: same input, any batch sizes and interleaving, same join and window output",
          "[window][determinism]") {
  std::mt19937 rng(7);
  std::vector<std::pair<std::string, TimestampMs>> u, c;
  TimestampMs t = 0;
  for (int i = 0; i < 300; ++i) {
    t += TimestampMs(rng() % 7);
    u.emplace_back("u" + std::to_string(rng() % 20), t);
  }
  t = 0;
  for (int i = 0; i < 1000; ++i) {
    t += TimestampMs(rng() % 3);
    // Now and then a record out of order, some of them past the grace period.
    TimestampMs ts = rng() % 10 == 0 ? std::max<TimestampMs>(0, t - TimestampMs(rng() % 200)) : t;
    c.emplace_back("u" + std::to_string(rng() % 20), ts);
  }
  auto users = raw_records(u, 0);
  auto clicks = raw_records(c, 100000);
  auto expected = run_join_and_windows(users, clicks, 1);
  REQUIRE(expected.size() > 1000);
  CHECK(expected.back() != "late 0");  // the input does exercise late records
  for (unsigned seed = 2; seed < 22; ++seed) {
    INFO("seed " << seed);
    CHECK(run_join_and_windows(users, clicks, seed) == expected);
  }
}

TEST_CASE("windows: a deferred serialization is the call's content", "[window]") {
  for (WindowSpec w : {WindowSpec::tumbling(10, 5), WindowSpec::session(4, 5)}) {
    Harness h(w);
    for (int i = 0; i < 200; ++i) h.feed("k" + std::to_string(i % 7), 1, (i * 37) % 61 + i / 3);
    const std::string expected = h.store().serialize();
    std::function<std::string()> later = h.store().serialize_deferred();
    std::string produced;
    std::thread writer([&] { produced = later(); });
    for (int i = 200; i < 400; ++i) h.feed("k" + std::to_string(i % 9), 1, i / 2);
    writer.join();
    CHECK(produced == expected);
  }
}

}  // namespace
}  // namespace rivulet
