// Replay duplicates through repartition topics: the sequence numbers a
// repartition sink writes, the marks its reader keeps, and a GROUP BY that
// stays exact when its upstream replays (and when its reader is restored
// from a snapshot of its stores).
#include <catch2/catch.hpp>
#include <map>

#include "operators/replay_marks.hpp"
#include "operators/topology.hpp"
#include "runtime/msgpack_value.hpp"
#include "test_support.hpp"

using namespace rivulet;

namespace {

SourcePosition at(std::string topic, int32_t partition, int64_t offset) {
  SourcePosition s;
  s.topic = std::move(topic);
  s.partition = PartitionId{partition};
  s.offset = Offset{offset};
  return s;
}

Headers origin(const std::string& input, std::optional<std::string> seq) {
  Headers h{Header{"rivulet.input", input}};
  if (seq) h.push_back(Header{"rivulet.seq", *seq});
  return h;
}

std::optional<std::string> header(const OutputRecord& o, const std::string& name) {
  for (const auto& h : sent_headers(o))
    if (h.name == name) return h.value;
  return std::nullopt;
}

// clicks -> re-key by page -> "by-page-repartition" -> count per page.
Topology page_counts() {
  Topology topo;
  auto clicks = topo.stream("clicks", test::text_serdes());
  clicks.group_by([](const Record& r) { return r.value; }, "by-page")
      .count("page-counts")
      .to("page-counts", test::text_serdes());
  return topo;
}

// The repartition outputs as the reader fetches them, at `first_offset` on.
std::vector<RawRecord> fetched(const TaskOutput& out, int64_t first_offset) {
  std::vector<RawRecord> back;
  for (const auto& o : out.records) {
    if (o.topic != "by-page-repartition") continue;
    RawRecord r = test::raw(first_offset++, o.key, o.value);
    r.headers = sent_headers(o);
    back.push_back(std::move(r));
  }
  return back;
}

std::map<std::string, std::string> counts(const TaskOutput& out) {
  std::map<std::string, std::string> last;
  for (const auto& o : out.records)
    if (o.topic == "page-counts") last[*o.key] = *o.value;
  return last;
}

}  // namespace

TEST_CASE("replay marks: provenance headers parse strictly", "[replay]") {
  auto p = parse_provenance("orders:3:1207");
  REQUIRE(p);
  CHECK(p->topic == "orders");
  CHECK(p->partition == 3);
  CHECK(p->offset == 1207);
  CHECK(parse_provenance("a.b-c_d:0:0")->topic == "a.b-c_d");
  for (const char* bad : {"", "orders", "orders:3", ":3:4", "orders::4", "orders:3:", "orders:x:4",
                          "orders:3:4x", "orders:-1:4", "orders:3:-4", ":-1:-1"}) {
    INFO(bad);
    CHECK_FALSE(parse_provenance(bad));
  }
}

TEST_CASE("replay marks: the sequencer numbers the outputs of one input record", "[replay]") {
  OutputSequencer s;
  CHECK(s.next(at("orders", 0, 5)) == std::optional<int64_t>(0));
  CHECK(s.next(at("orders", 0, 5)) == std::optional<int64_t>(1));  // a second output of 5
  CHECK(s.next(at("orders", 0, 9)) == std::optional<int64_t>(0));
  CHECK(s.next(at("orders", 1, 2)) == std::optional<int64_t>(0));  // another origin partition
  CHECK(s.next(at("users", 0, 1)) == std::optional<int64_t>(0));   // another origin topic
  // Out of input order: no number (it would sit below the reader's mark).
  CHECK_FALSE(s.next(at("orders", 0, 7)));
  CHECK_FALSE(s.next(SourcePosition{}));  // made inside the task: no origin
  CHECK(s.unsequenced() == 2);
  CHECK(s.next(at("orders", 0, 9)) == std::optional<int64_t>(1));
}

TEST_CASE("replay marks: at or below the mark is a duplicate, per origin partition", "[replay]") {
  using V = ReplayMarks::Verdict;
  ReplayMarks m("g-repartition");
  CHECK(m.name() == "rivulet.replay-marks/g-repartition");
  CHECK(m.admit(origin("orders:0:10", "0")) == V::Apply);
  CHECK(m.admit(origin("orders:0:10", "1")) == V::Apply);
  CHECK(m.admit(origin("orders:0:10", "1")) == V::Duplicate);
  CHECK(m.admit(origin("orders:0:10", "0")) == V::Duplicate);
  CHECK(m.admit(origin("orders:0:9", "5")) == V::Duplicate);
  CHECK(m.admit(origin("orders:1:3", "0")) == V::Apply);  // its own mark
  CHECK(m.admit(origin("orders:0:11", "0")) == V::Apply);
  CHECK(m.mark("orders", 0) == std::optional<OriginPosition>({11, 0}));
  CHECK(m.mark("orders", 1) == std::optional<OriginPosition>({3, 0}));
  // Without a valid origin or sequence: applied, and the marks stay.
  CHECK(m.admit(origin("orders:0:1", std::nullopt)) == V::Unmarked);
  CHECK(m.admit(origin("orders:0:1", "x")) == V::Unmarked);
  CHECK(m.admit(origin("garbage", "0")) == V::Unmarked);
  CHECK(m.admit({}) == V::Unmarked);
  CHECK(m.size() == 2);

  // Saved and restored with the task's state.
  ReplayMarks copy("g-repartition");
  REQUIRE(copy.restore(m.serialize()));
  CHECK(copy.mark("orders", 0) == m.mark("orders", 0));
  CHECK(copy.mark("orders", 1) == m.mark("orders", 1));
  CHECK(copy.admit(origin("orders:0:11", "0")) == V::Duplicate);
  CHECK(copy.admit(origin("orders:0:12", "0")) == V::Apply);
  // Bytes that are not marks are refused, and leave nothing behind.
  CHECK_FALSE(copy.restore("\xc1"));
  CHECK(copy.size() == 0);
  CHECK_FALSE(copy.restore(to_msgpack(Value::array({Value::string("x")}))));
  CHECK_FALSE(copy.restore(to_msgpack(Value::int64(3))));
  REQUIRE(copy.restore(ReplayMarks("g-repartition").serialize()));
  CHECK(copy.size() == 0);
}

TEST_CASE("replay marks: a GROUP BY through a repartition topic counts a replayed input once",
          "[replay]") {
  Topology topo = page_counts();
  auto upstream = topo.instantiate(PartitionId{0});
  auto reader = topo.instantiate(PartitionId{0});
  REQUIRE(upstream);
  REQUIRE(reader);
  // The reader's marks are part of its state.
  bool has_marks = false;
  for (auto* s : reader->stores()) has_marks |= s->name() == "rivulet.replay-marks/by-page-repartition";
  CHECK(has_marks);

  std::vector<RawRecord> in = {test::raw(0, "a", "home"), test::raw(1, "b", "about"),
                               test::raw(2, "c", "home"), test::raw(3, "d", "home")};
  TaskOutput first;
  upstream->process("clicks", in.data(), in.data() + 3, first);
  REQUIRE(first.records.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(header(first.records[i], "rivulet.input") ==
          std::optional<std::string>("clicks:0:" + std::to_string(i)));
    CHECK(header(first.records[i], "rivulet.seq") == std::optional<std::string>("0"));
  }
  auto batch1 = fetched(first, 0);
  TaskOutput out;
  reader->process("by-page-repartition", batch1.data(), batch1.data() + batch1.size(), out);
  CHECK(counts(out) == std::map<std::string, std::string>{{"home", "2"}, {"about", "1"}});

  // The reader's state as a checkpoint would save it.
  std::map<std::string, std::string> snapshot;
  for (auto* s : reader->stores()) snapshot[s->name()] = s->serialize();

  // The upstream task is restored from a checkpoint before offset 1 and
  // replays 1..3: it writes 1 and 2 again, then the new 3.
  auto replayed = topo.instantiate(PartitionId{0});
  TaskOutput second;
  replayed->process("clicks", in.data() + 1, in.data() + 4, second);
  auto batch2 = fetched(second, 3);
  REQUIRE(batch2.size() == 3);
  TaskOutput out2;
  reader->process("by-page-repartition", batch2.data(), batch2.data() + batch2.size(), out2);
  CHECK(out2.replay_duplicates_skipped == 2);
  CHECK(counts(out2) == std::map<std::string, std::string>{{"home", "3"}});
  CHECK(reader->table("page-counts")->get(Value::string("home")) ==
        std::optional<Value>(Value::int64(3)));
  CHECK(reader->table("page-counts")->get(Value::string("about")) ==
        std::optional<Value>(Value::int64(1)));

  // A reader restored from the snapshot reads the repartition topic again
  // from its checkpoint's offset (3): the same verdicts, the same counts.
  auto restored = topo.instantiate(PartitionId{0});
  for (auto* s : restored->stores()) REQUIRE(s->restore(snapshot.at(s->name())));
  TaskOutput out3;
  restored->process("by-page-repartition", batch2.data(), batch2.data() + batch2.size(), out3);
  CHECK(out3.replay_duplicates_skipped == 2);
  CHECK(counts(out3) == std::map<std::string, std::string>{{"home", "3"}});

  // Without the marks (an old checkpoint, or no dedup) the replay counts twice.
  auto unmarked = topo.instantiate(PartitionId{0});
  for (auto* s : unmarked->stores())
    if (s->name() == "page-counts") REQUIRE(s->restore(snapshot.at(s->name())));
  TaskOutput out4;
  unmarked->process("by-page-repartition", batch2.data(), batch2.data() + batch2.size(), out4);
  CHECK(out4.replay_duplicates_skipped == 0);
  CHECK(counts(out4) == std::map<std::string, std::string>{{"home", "4"}, {"about", "2"}});
}

TEST_CASE("replay marks: only repartition sinks write rivulet.seq", "[replay]") {
  Topology topo = page_counts();
  auto g = topo.instantiate(PartitionId{0});
  std::vector<RawRecord> in = {test::raw(0, "a", "home")};
  TaskOutput out;
  g->process("clicks", in.data(), in.data() + 1, out);
  auto back = fetched(out, 0);
  REQUIRE(back.size() == 1);
  TaskOutput out2;
  g->process("by-page-repartition", back.data(), back.data() + 1, out2);
  REQUIRE(out2.records.size() == 1);
  CHECK(out2.records[0].topic == "page-counts");
  // The count names the repartition record it came from, and carries no
  // sequence number of the hop before.
  CHECK(header(out2.records[0], "rivulet.input") ==
        std::optional<std::string>("by-page-repartition:0:0"));
  CHECK_FALSE(header(out2.records[0], "rivulet.seq"));
}

TEST_CASE("replay marks: the provenance header spells long topics and the widest numbers",
          "[replay]") {
  // The sink keeps each output's input position and the header is
  // formatted as sent ("<topic>:<partition>:<offset>"): a topic of Kafka's
  // longest name, the highest partition and offsets of every width.
  const std::string topic(249, 't');
  Topology topo;
  topo.stream(topic, test::text_serdes()).to("out", test::text_serdes());
  auto g = topo.instantiate(PartitionId{INT32_MAX});
  std::vector<RawRecord> in;
  std::vector<int64_t> offsets = {0, 9, 10, 12345678901, INT64_MAX};
  for (int64_t o : offsets) in.push_back(test::raw(o, "k", "v"));
  TaskOutput out;
  g->process(topic, in.data(), in.data() + in.size(), out);
  REQUIRE(out.records.size() == offsets.size());
  for (size_t i = 0; i < offsets.size(); ++i) {
    CHECK(header(out.records[i], "rivulet.input") ==
          std::optional<std::string>(topic + ":2147483647:" + std::to_string(offsets[i])));
  }
}
