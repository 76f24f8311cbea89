// Two-phase aggregation: the pre-aggregation upstream of a repartition topic
// (alone below the horizon, combined from it, one pack per origin and
// destination) and the aggregation nodes merging what it sends.
#include "operators/partial_aggregate.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <random>

#include "operators/serdes.hpp"
#include "operators/window.hpp"
#include "partitioning/murmur2.hpp"
#include "runtime/msgpack_value.hpp"
#include "test_support.hpp"

namespace rivulet {
namespace {

using test::Collect;
using test::field;
using test::I;
using test::record;
using test::S;

AggregateSpec count_and_sum() {
  AggregateSpec s;
  s.as_struct = true;
  s.functions.push_back(AggregateFn::count("N"));
  s.functions.push_back(AggregateFn::sum(field("v"), "TOTAL"));
  return s;
}

Value v(int64_t x) {
  return test::row({{"v", I(x)}});
}

struct Pre {
  explicit Pre(AggregateSpec spec, int64_t pane_ms = 0)
      : node("pre", std::make_shared<const AggregateSpec>(std::move(spec)), pane_ms,
             codecs::internal().key()) {
    node.add_child(&collect);
  }
  void run(Batch b) {
    ProcessContext ctx(out, PartitionId{0});
    node.process(b, ctx);
  }
  void flush() {
    ProcessContext ctx(out, PartitionId{0});
    node.flush(ctx);
  }
  PartialAggregateNode node;
  Collect collect;
  TaskOutput out;
};

int32_t destination(const Value& key, int32_t partitions) {
  auto bytes = codecs::internal().key()->encode(key);
  REQUIRE(bytes);
  return java_partition(*bytes, partitions);
}

}  // namespace

TEST_CASE("pre-aggregation: alone below the horizon, combined from it, one pack per destination",
          "[aggregate][two-phase]") {
  Pre pre(count_and_sum());
  pre.node.set_combining(4);
  const TopicPartition in{"in", PartitionId{0}};
  pre.node.note_high_watermark(in, 5);
  pre.node.note_high_watermark(in, 9);  // the first one known stays
  CHECK(pre.node.horizon(in) == 5);

  Batch b;
  for (int64_t o = 0; o < 12; ++o)
    b.push_back(record(S("k" + std::to_string(o % 4)), v(o), 100 + o, o));
  pre.run(std::move(b));
  // Offsets 0..4 went on at once, each alone with its own provenance.
  REQUIRE(pre.collect.records.size() == 5);
  for (int64_t o = 0; o < 5; ++o) {
    const Record& r = pre.collect.records[static_cast<size_t>(o)];
    CHECK(r.source.offset == Offset{o});
    CHECK(r.key == S("k" + std::to_string(o % 4)));
    CHECK(r.timestamp == 100 + o);
    auto part = decode_partial("agg", 2, r.value);  // the record's own partial
    REQUIRE(part);
    CHECK(part->records == 1);
    CHECK(part->row[1].value == I(o));
  }
  // 5..11 are held: one partial per group.
  CHECK(pre.out.records_cached == 7);
  CHECK(pre.node.held_partials() == 4);
  CHECK(pre.node.held_bytes() > 0);
  pre.collect.records.clear();
  pre.flush();
  CHECK(pre.node.held_partials() == 0);
  CHECK(pre.node.held_bytes() == 0);

  std::map<std::string, std::pair<int64_t, int64_t>> got;  // key -> (records, sum)
  std::map<int32_t, int> packs_per_destination;
  for (const Record& r : pre.collect.records) {
    // Every pack carries the origin's latest offset held.
    CHECK(r.source.topic == "in");
    CHECK(r.source.offset == Offset{11});
    const int32_t d = destination(r.key, 4);
    ++packs_per_destination[d];
    for (const Value& item : r.value.as_array()) {
      const Array& p = item.as_array();
      CHECK(destination(p[0], 4) == d);
      auto part = decode_partial("agg", 2, Value::array(Array{p[2], p[3]}));
      REQUIRE(part);
      CHECK(part->row[0].count == part->records);
      got[p[0].as_string()] = {part->records, part->row[1].value.to_int64()};
    }
  }
  for (const auto& [d, n] : packs_per_destination) CHECK(n == 1);
  // k1: 5, 9; k2: 6, 10; k3: 7, 11; k0: 8.
  CHECK(got == std::map<std::string, std::pair<int64_t, int64_t>>{
                   {"k0", {1, 8}}, {"k1", {2, 14}}, {"k2", {2, 16}}, {"k3", {2, 18}}});

  // A rewind forgets what is held and the horizon: a replay follows.
  pre.run({record(S("k0"), v(1), 200, 12)});
  CHECK(pre.node.held_partials() == 1);
  pre.node.drop();
  CHECK(pre.node.held_partials() == 0);
  CHECK(pre.node.horizon(in) == -1);
  pre.collect.records.clear();
  pre.run({record(S("k0"), v(1), 200, 12)});
  CHECK(pre.collect.records.size() == 1);  // alone until a high watermark is known again
}

TEST_CASE("pre-aggregation: without combining every record travels alone and skips are counted",
          "[aggregate][two-phase]") {
  Pre pre(count_and_sum());
  pre.node.note_high_watermark({"in", PartitionId{0}}, 0);
  pre.run({record(S("a"), v(1), 10, 0), record(S("a"), v(2), 11, 1), record(Value(), v(3), 12, 2),
           record(S("a"), Value(), 13, 3)});
  CHECK(pre.collect.records.size() == 2);
  CHECK(pre.out.records_cached == 0);
  CHECK(pre.out.skipped_by_reason[static_cast<size_t>(SkipReason::Tombstone)] == 1);
  CHECK(pre.out.skipped_by_reason[static_cast<size_t>(SkipReason::NullGroupKey)] == 1);
}

TEST_CASE("pre-aggregation: with no replay possible it combines from the first record",
          "[aggregate][two-phase]") {
  Pre pre(count_and_sum());
  pre.node.set_combining(2);
  pre.node.set_combine_from_start(true);  // no high watermark known yet
  pre.run({record(S("a"), v(1), 10, 0), record(S("a"), v(2), 11, 1)});
  CHECK(pre.collect.records.empty());
  CHECK(pre.node.held_partials() == 1);
  // A rewind: the replay that follows may meet its aborted copies.
  pre.node.drop();
  pre.run({record(S("a"), v(1), 10, 0)});
  CHECK(pre.collect.records.size() == 1);
  CHECK(pre.node.held_partials() == 0);
}

TEST_CASE("pre-aggregation: a horizon from what the lost run wrote overrides the high watermark",
          "[aggregate][two-phase]") {
  Pre pre(count_and_sum());
  pre.node.set_combining(4);
  const TopicPartition in{"in", PartitionId{0}};
  // The restore read the repartition topic back: the lost run's records
  // reach offset 2 of this input, so combining starts at 3, far below the
  // high watermark the task sees once it runs.
  pre.node.set_horizon(in, 3);
  pre.node.note_high_watermark(in, 100);
  CHECK(pre.node.horizon(in) == 3);
  Batch b;
  for (int64_t o = 0; o < 8; ++o)
    b.push_back(record(S("k" + std::to_string(o % 2)), v(o), 100 + o, o));
  pre.run(std::move(b));
  REQUIRE(pre.collect.records.size() == 3);  // 0, 1, 2 alone
  for (int64_t o = 0; o < 3; ++o)
    CHECK(pre.collect.records[static_cast<size_t>(o)].source.offset == Offset{o});
  CHECK(pre.out.records_cached == 5);
  CHECK(pre.node.held_partials() == 2);

  // A negative horizon (nothing known) is taken as 0: everything combines.
  pre.node.set_horizon({"other", PartitionId{0}}, -5);
  CHECK(pre.node.horizon({"other", PartitionId{0}}) == 0);

  // A rewind forgets it: the aborted copies of an exactly-once rewind are
  // not in what the restore read.
  pre.node.drop();
  CHECK(pre.node.horizon(in) == -1);
}

TEST_CASE("look-back store: starts only move forward and survive a checkpoint with the horizons",
          "[aggregate][two-phase]") {
  LookBack look("by-page-repartition");
  CHECK(look.name() == "rivulet.look-back/by-page-repartition");
  CHECK_FALSE(look.restored());
  CHECK(look.starts().empty());
  look.advance({5, -1, 7});
  look.advance({3, 4});  // partition 0 went back: another producer's view; kept at 5
  CHECK(look.starts() == std::vector<int64_t>{5, 4, 7});

  // The horizons a pre-aggregation knows: unknown ones are left out; all 0
  // when it combines from the start.
  Pre pre(count_and_sum());
  pre.node.set_combining(4);
  const TopicPartition in{"in", PartitionId{0}}, other{"other", PartitionId{0}};
  pre.node.note_high_watermark(in, 40);
  CHECK(pre.node.known_horizons({in, other}) == std::map<TopicPartition, int64_t>{{in, 40}});
  look.set_horizons(pre.node.known_horizons({in, other}));
  pre.node.set_combine_from_start(true);
  CHECK(pre.node.known_horizons({in, other}) ==
        std::map<TopicPartition, int64_t>{{in, 0}, {other, 0}});

  LookBack copy("by-page-repartition");
  REQUIRE(copy.restore(look.serialize()));
  CHECK(copy.restored());
  CHECK(copy.starts() == std::vector<int64_t>{5, 4, 7});
  CHECK(copy.horizons() == std::map<TopicPartition, int64_t>{{in, 40}});

  // Restored but empty (a checkpoint taken before anything was
  // acknowledged): a restore reads every partition from its beginning.
  LookBack none("x");
  REQUIRE(none.restore(LookBack("x").serialize()));
  CHECK(none.restored());
  CHECK(none.starts().empty());
  CHECK(none.horizons().empty());

  // Anything else: an error naming the store, and nothing kept.
  for (const Value& wrong :
       {Value::array({Value::string("5")}),
        Value::array({Value::array({Value::string("5")}), Value::array({})}),
        Value::array({Value::array({}), Value::array({Value::array({Value::string("in")})})})}) {
    auto bad = copy.restore(to_msgpack(wrong));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("rivulet.look-back/by-page-repartition") != std::string::npos);
    CHECK_FALSE(copy.restored());
    CHECK(copy.starts().empty());
    CHECK(copy.horizons().empty());
  }
}

TEST_CASE("pre-aggregation: windowed partials combine within a pane only",
          "[aggregate][two-phase]") {
  Pre pre(count_and_sum(), 1000);
  pre.node.set_combining(1);
  pre.node.note_high_watermark({"in", PartitionId{0}}, 0);
  pre.run({record(S("a"), v(1), 100, 0), record(S("a"), v(2), 900, 1),
           record(S("a"), v(3), 1100, 2), record(S("a"), v(4), -5, 3)});
  CHECK(pre.node.held_partials() == 2);
  CHECK(pre.out.skipped_by_reason[static_cast<size_t>(SkipReason::NegativeTimestamp)] == 1);
  pre.flush();
  REQUIRE(pre.collect.records.size() == 1);  // one destination
  const Array& items = pre.collect.records[0].value.as_array();
  REQUIRE(items.size() == 2);
  CHECK(items[0].as_array()[1].to_int64() == 900);  // the latest timestamp of the pane
  CHECK(items[0].as_array()[2].to_int64() == 2);
  CHECK(items[1].as_array()[1].to_int64() == 1100);
  CHECK(items[1].as_array()[2].to_int64() == 1);
}

TEST_CASE("two-phase aggregation: merged partials give the one-phase results",
          "[aggregate][two-phase]") {
  AggregateSpec spec;
  spec.as_struct = true;
  spec.functions.push_back(AggregateFn::count("N"));
  spec.functions.push_back(AggregateFn::sum(field("v"), "S"));
  spec.functions.push_back(AggregateFn::min(field("v"), "MIN"));
  spec.functions.push_back(AggregateFn::max(field("v"), "MAX"));
  spec.functions.push_back(AggregateFn::avg(field("v"), "AVG"));
  spec.functions.push_back(AggregateFn::count_non_null(field("v"), "NN"));
  auto shared = std::make_shared<const AggregateSpec>(spec);
  const bool windowed = GENERATE(false, true);
  INFO("windowed: " << windowed);
  const WindowSpec window = WindowSpec::hopping(3000, 1000);

  // One phase: the records into the aggregation.
  auto one_store = std::make_shared<AggregateStore>("agg", shared, nullptr);
  auto one_window =
      std::make_shared<WindowStore>("agg", shared, std::make_shared<const WindowSpec>(window));
  AggregateNode one("one", one_store);
  WindowedAggregateNode one_w("one", one_window);
  Collect one_out;
  one.add_child(&one_out);
  one_w.add_child(&one_out);
  // Two phases: pre-aggregate (combining), unpack, merge.
  auto two_store = std::make_shared<AggregateStore>("agg", shared, nullptr);
  auto two_window =
      std::make_shared<WindowStore>("agg", shared, std::make_shared<const WindowSpec>(window));
  PartialAggregateNode pre("pre", shared, windowed ? 1000 : 0, codecs::internal().key());
  UnpackPartialsNode unpack("unpack");
  AggregateNode two("two", two_store, true);
  WindowedAggregateNode two_w("two", two_window, true);
  Collect two_out;
  pre.add_child(&unpack);
  unpack.add_child(windowed ? static_cast<Processor*>(&two_w) : &two);
  two.add_child(&two_out);
  two_w.add_child(&two_out);
  pre.set_combining(1);
  pre.note_high_watermark({"in", PartitionId{0}}, 0);

  std::mt19937 rng(7);
  TaskOutput out1, out2;
  ProcessContext c1(out1, PartitionId{0}), c2(out2, PartitionId{0});
  int64_t offset = 0;
  for (int round = 0; round < 20; ++round) {
    Batch batch;
    for (int i = 0; i < 50; ++i) {
      const int64_t x = static_cast<int64_t>(rng() % 1000) - 500;
      Value value = rng() % 10 == 0 ? test::row({{"v", Value()}}) : v(x);
      batch.push_back(record(S("g" + std::to_string(rng() % 7)), value,
                             round * 700 + static_cast<int64_t>(rng() % 700), offset++));
    }
    Batch copy = batch;
    if (windowed) {
      one_w.process(copy, c1);
    } else {
      one.process(copy, c1);
    }
    pre.process(batch, c2);
    if (round % 3 == 2) pre.flush(c2);
  }
  pre.flush(c2);
  CHECK(out2.data_errors.empty());
  CHECK(two_out.records.size() < one_out.records.size());
  // The last result of every group (and window) is the same.
  auto last = [](const Collect& c) {
    std::map<std::string, std::string> m;
    for (const Record& r : c.records) m[to_json(r.key)] = to_json(r.value);
    return m;
  };
  const auto expected = last(one_out);
  CHECK(expected.size() >= 7);
  CHECK(last(two_out) == expected);
}

}  // namespace rivulet
