// Stream-stream joins over a join window: inner, left, right and full outer,
// asymmetric windows, grace (outer non-matches on window close) and the
// legacy eager mode, late records, bounded memory, snapshots.
#include "operators/stream_join.hpp"

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "operators/topology.hpp"
#include "test_support.hpp"

namespace rivulet {
namespace {

using test::I;
using test::S;

// Left values and right values are strings; the joined value "l+r" with
// "-" for an absent side.
struct Harness {
  explicit Harness(StreamJoinSpec spec) {
    auto sink = seen;
    auto l = topo.add_source("left", codecs::internal());
    auto r = topo.add_source("right", codecs::internal());
    StreamJoiner joiner = [](const Value&, const Value* lv, const Value* rv) {
      return S((lv ? lv->as_string() : "-") + "+" + (rv ? rv->as_string() : "-"));
    };
    auto j = add_stream_join(topo, l, r, "join", spec, joiner);
    KStream(topo, j).peek([sink](const Record& rec) { sink->push_back(rec); });
    graph = topo.instantiate(PartitionId{0});
    REQUIRE(graph);
    store = dynamic_cast<StreamJoinStore*>(graph->stores().front());
    REQUIRE(store);
  }
  void left(const std::string& key, const std::string& v, TimestampMs ts) { feed(0, key, v, ts); }
  void right(const std::string& key, const std::string& v, TimestampMs ts) { feed(1, key, v, ts); }
  void feed(size_t input, const std::string& key, const std::string& v, TimestampMs ts) {
    Batch b{test::record(S(key), S(v), ts, offset++)};
    graph->process(input, b, out);
  }
  // "key:value@timestamp" per output record.
  std::vector<std::string> take() {
    std::vector<std::string> v;
    for (const auto& r : *seen)
      v.push_back(r.key.as_string() + ":" + r.value.as_string() + "@" + std::to_string(r.timestamp));
    seen->clear();
    return v;
  }

  Topology topo;
  std::unique_ptr<TaskGraph> graph;
  StreamJoinStore* store = nullptr;
  TaskOutput out;
  int64_t offset = 0;
  std::shared_ptr<std::vector<Record>> seen = std::make_shared<std::vector<Record>>();
};

using V = std::vector<std::string>;

StreamJoinSpec within(int64_t before, int64_t after, int64_t grace, bool left_outer = false,
                      bool right_outer = false) {
  StreamJoinSpec s;
  s.before_ms = before;
  s.after_ms = after;
  s.grace_ms = grace;
  s.left_outer = left_outer;
  s.right_outer = right_outer;
  return s;
}

TEST_CASE("stream join: inner join matches both ways within the window", "[stream-join]") {
  Harness h(within(10, 10, 0));
  h.left("k", "a", 100);
  CHECK(h.take().empty());
  h.right("k", "x", 105);  // 105 - 100 = 5 <= 10
  CHECK(h.take() == V{"k:a+x@105"});
  h.right("k", "y", 111);  // 11 > 10 after a
  CHECK(h.take().empty());
  h.left("k", "b", 108);  // x at 105 and y at 111 both within 10 of 108
  CHECK(h.take() == V{"k:b+x@108", "k:b+y@111"});
  h.right("other", "z", 108);  // another key never matches
  CHECK(h.take().empty());
}

TEST_CASE("stream join: WITHIN (before, after) is asymmetric", "[stream-join]") {
  // A left record at t matches right records in [t - 2, t + 5].
  Harness h(within(2, 5, 100));
  h.left("k", "a", 100);
  h.right("k", "early", 97);  // 3 before: no
  h.right("k", "r98", 98);    // 2 before: yes
  h.right("k", "r105", 105);  // 5 after: yes
  h.right("k", "r106", 106);  // 6 after: no
  CHECK(h.take() == V{"k:a+r98@100", "k:a+r105@105"});
  // From the right's side: a left record at t matches right ones in [t-2, t+5].
  h.left("k", "b", 103);  // r98 is 5 before? 103 - 98 = 5 > 2: no; r105 (+2), r106 (+3), early no
  CHECK(h.take() == V{"k:b+r105@105", "k:b+r106@106"});
}

TEST_CASE("stream join: left join with grace emits a non-match when its window closes",
          "[stream-join]") {
  Harness h(within(10, 10, 5, true));
  h.left("a", "1", 100);  // window [90, 110], closes when stream time > 115
  h.left("b", "2", 101);
  CHECK(h.take().empty());
  h.right("b", "x", 104);  // b matched: never emitted as a non-match
  CHECK(h.take() == V{"b:2+x@104"});
  h.right("z", "-", 115);  // 100 + 10 + 5 = 115: not yet closed
  CHECK(h.take().empty());
  CHECK(h.store->pending_outer() == 1);
  h.right("z", "-", 116);  // now closed: a emitted with its own time
  CHECK(h.take() == V{"a:1+-@100"});
  CHECK(h.store->pending_outer() == 0);
  // A right record alone never produces a row in a LEFT join.
  h.right("c", "y", 200);
  h.left("q", "9", 400);
  CHECK(h.take().empty());
}

TEST_CASE("stream join: an idle advance emits the non-matches whose window it closes",
          "[stream-join][idle]") {
  Harness h(within(10, 10, 5, true));
  h.left("a", "1", 100);  // closes when stream time > 115
  CHECK(h.store->pending_outer() == 1);
  CHECK_FALSE(h.graph->advance_idle(15, h.out));  // 115: not yet
  CHECK(h.take().empty());
  CHECK(h.graph->advance_idle(16, h.out));  // 116: emitted with its own time, once
  CHECK(h.take() == V{"a:1+-@100"});
  CHECK(h.store->pending_outer() == 0);
  CHECK_FALSE(h.graph->advance_idle(16, h.out));
  CHECK(h.store->stream_time() == 116);
  // A right record whose own window (100 + 10 + 5) has closed is late.
  const uint64_t late = h.out.late_records_dropped;
  h.right("a", "x", 100);
  CHECK(h.take().empty());
  CHECK(h.out.late_records_dropped == late + 1);
}

TEST_CASE("stream join: an unmatched out-of-order record whose window ended is emitted at once",
          "[stream-join]") {
  Harness h(within(10, 10, 100, true));
  h.left("a", "1", 200);
  h.left("b", "2", 150);  // 150 + 10 < 200: its window ended, no match: at once
  CHECK(h.take() == V{"b:2+-@150"});
}

TEST_CASE("stream join: without grace, outer results are eager (legacy)", "[stream-join]") {
  Harness h(within(10, 10, -1, true));
  h.left("a", "1", 100);
  CHECK(h.take() == V{"a:1+-@100"});
  h.right("a", "x", 105);
  CHECK(h.take() == V{"a:1+x@105"});
}

TEST_CASE("stream join: right and full outer joins", "[stream-join]") {
  SECTION("right") {
    Harness h(within(5, 5, 0, false, true));
    h.right("a", "x", 10);
    h.left("b", "1", 11);
    h.left("z", "-", 20);  // closes a's window (10 + 5 + 0 < 20); b is a left record: dropped
    CHECK(h.take() == V{"a:-+x@10"});
  }
  SECTION("full outer, non-matches in time order") {
    Harness h(within(5, 5, 0, true, true));
    h.right("a", "x", 10);
    h.left("b", "1", 11);
    h.left("c", "2", 12);
    h.right("c", "y", 13);
    CHECK(h.take() == V{"c:2+y@13"});
    h.left("z", "-", 30);
    CHECK(h.take() == V{"a:-+x@10", "b:1+-@11"});
  }
}

TEST_CASE("stream join: late records are dropped and counted, memory is bounded",
          "[stream-join]") {
  Harness h(within(10, 10, 5, false));
  for (int i = 0; i < 1000; ++i) h.left("k" + std::to_string(i % 7), "v", i * 10);
  // Retention = 10 + 10 + 5 = 25 ms: only the last few records stay.
  CHECK(h.store->size(0) <= 4);
  CHECK(h.store->stream_time() == 9990);
  h.right("k1", "late", 9990 - 26);  // 9964 + 10 + 5 < 9990: its window closed
  CHECK(h.take().empty());
  CHECK(h.out.late_records_dropped == 1);
  h.right("k4", "ok", 9980);  // the left k4 at 9980 (i = 998) is still held
  CHECK(h.take() == V{"k4:v+ok@9980"});
}

TEST_CASE("stream join: snapshot and restore continue as if never stopped", "[stream-join]") {
  auto run = [](bool restart) {
    auto h = std::make_unique<Harness>(within(10, 10, 5, true, true));
    V all;
    h->left("a", "1", 100);
    h->right("b", "x", 101);
    h->left("c", "2", 102);
    h->right("c", "y", 103);
    if (restart) {
      std::string bytes = h->store->serialize();
      auto next = std::make_unique<Harness>(within(10, 10, 5, true, true));
      REQUIRE(next->store->restore(bytes));
      CHECK(next->store->size(0) == 2);
      CHECK(next->store->pending_outer() == 2);
      for (auto& s : h->take()) all.push_back(s);
      h = std::move(next);
    }
    h->right("a", "z", 108);
    h->left("q", "-", 200);
    for (auto& s : h->take()) all.push_back(s);
    return all;
  };
  V straight = run(false);
  CHECK(straight == V{"c:2+y@103", "a:1+z@108", "b:-+x@101"});
  CHECK(run(true) == straight);

  Harness h(within(1, 1, 0));
  CHECK_FALSE(h.store->restore("not msgpack"));
  CHECK(h.store->size(0) == 0);
}

TEST_CASE("stream join: null keys and values are skipped", "[stream-join]") {
  Harness h(within(10, 10, 0, true, true));
  Batch b{test::record(Value(), S("v"), 1), test::record(S("k"), Value(), 2)};
  h.graph->process(0, b, h.out);
  CHECK(h.take().empty());
  CHECK(h.store->size(0) == 0);
}

}  // namespace
}  // namespace rivulet
