#include "operators/input_merger.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

namespace rivulet {
namespace {

// max.task.idle.ms 0: inputs with data on the broker are still waited for
// (KIP-695), caught-up ones are not.
constexpr int64_t kNoIdle = 0;

RawRecord rec(int64_t offset, TimestampMs ts) {
  RawRecord r;
  r.offset = offset;
  r.timestamp = ts;
  return r;
}

// A batch of input `topic` partition 0 holding records with timestamps
// `ts`, offsets from `first`.
RawBatch batch(const std::string& topic, int64_t first, std::vector<TimestampMs> ts,
               int64_t hwm = -1) {
  RawBatch b;
  b.tp = TopicPartition{topic, PartitionId{0}};
  for (size_t i = 0; i < ts.size(); ++i) b.records.push_back(rec(first + int64_t(i), ts[i]));
  b.high_watermark = hwm;
  return b;
}

using Processed = std::vector<std::pair<size_t, int64_t>>;  // (input, offset)

// Drains everything the merger will give without waiting.
Processed drain(InputMerger& m, TimestampMs now, std::vector<size_t>* run_sizes = nullptr) {
  Processed out;
  while (auto run = m.next_run(now)) {
    for (auto* r = run->begin; r != run->end; ++r) out.emplace_back(run->input, r->offset);
    if (run_sizes) run_sizes->push_back(run->size());
    m.consume(*run);
  }
  return out;
}

std::vector<InputSpec> table_and_stream() {
  return {{"users", true}, {"orders", false}};
}

TEST_CASE("merger: one input is processed a whole batch at a time", "[merger]") {
  InputMerger m({{"orders", false}}, PartitionId{0}, kNoIdle);
  REQUIRE(m.add(batch("orders", 0, {5, 3, 9}, 3), 0));
  std::vector<size_t> sizes;
  auto order = drain(m, 0, &sizes);
  CHECK(order == Processed{{0, 0}, {0, 1}, {0, 2}});  // offset order kept despite timestamps
  CHECK(sizes == std::vector<size_t>{3});
  CHECK(m.stream_time() == 9);
  CHECK_FALSE(m.has_buffered());
}

TEST_CASE("merger: records interleave by timestamp, runs as long as order allows", "[merger]") {
  InputMerger m(table_and_stream(), PartitionId{0}, kNoIdle);
  m.add(batch("users", 0, {5}, 1), 0);
  m.add(batch("orders", 0, {1, 2, 3, 10}, 4), 0);
  std::vector<size_t> sizes;
  auto order = drain(m, 0, &sizes);
  CHECK(order == Processed{{1, 0}, {1, 1}, {1, 2}, {0, 0}, {1, 3}});
  CHECK(sizes == std::vector<size_t>{3, 1, 1});
  CHECK(m.stream_time() == 10);
}

TEST_CASE("merger: a table record wins a timestamp tie with a stream record", "[merger]") {
  InputMerger m({{"orders", false}, {"users", true}}, PartitionId{0}, kNoIdle);
  m.add(batch("orders", 0, {7, 7}, 2), 0);
  m.add(batch("users", 0, {7, 8}, 2), 0);
  auto order = drain(m, 0);
  // users@7 before both orders@7; users@8 after them.
  CHECK(order == Processed{{1, 0}, {0, 0}, {0, 1}, {1, 1}});
}

TEST_CASE("merger: an empty input with data on the broker is waited for", "[merger]") {
  InputMerger m(table_and_stream(), PartitionId{0}, 100);
  m.add(batch("orders", 0, {1, 2}, 2), 1000);
  // users: nothing fetched, position and high watermark unknown: its data
  // may come first, whatever max.task.idle.ms says.
  CHECK_FALSE(m.next_run(1000));
  CHECK(m.waiting());
  CHECK_FALSE(m.next_run(1100));
  CHECK_FALSE(m.next_run(1000 + InputMerger::kMaxLagWaitMs - 1));
  auto run = m.next_run(1000 + InputMerger::kMaxLagWaitMs);  // bounded: go on without users
  REQUIRE(run);
  CHECK(run->input == 1);
  CHECK(run->size() == 2);
  CHECK_FALSE(m.waiting());
  m.consume(*run);

  // Data for users resets its wait: behind its high watermark it blocks anew.
  m.add(batch("users", 0, {0}, 5), 40000);
  m.add(batch("orders", 2, {3}, 3), 40000);
  run = m.next_run(40000);
  REQUIRE(run);
  CHECK(run->input == 0);
  m.consume(*run);
  CHECK_FALSE(m.next_run(40000));  // users: position 1 < high watermark 5
  CHECK(m.waiting());
}

TEST_CASE("merger: inputs of different groups never wait for each other", "[merger]") {
  // Group 0: a table and a stream joined; group 1: the task's repartition
  // topic, filled only as group 0 is processed.
  InputMerger m({{"users", true, 0}, {"orders", false, 0}, {"by-user-repartition", false, 1}},
                PartitionId{0}, kNoIdle);
  m.add(batch("users", 0, {1}, 1), 1000);
  m.add(batch("orders", 0, {2, 3}, 5), 1000);
  // The repartition input's position is unknown: it would block a group of
  // its own inputs, but not group 0.
  auto order = drain(m, 1000);
  CHECK(order == Processed{{0, 0}, {1, 0}, {1, 1}});
  CHECK_FALSE(m.waiting());

  // Repartition records older than what group 0 processed still go: the
  // order is kept within a group, not across groups.
  m.add(batch("by-user-repartition", 0, {2, 3}, 2), 1000);
  // orders is behind its high watermark (5): group 0 waits, group 1 goes.
  order = drain(m, 1000);
  CHECK(order == Processed{{2, 0}, {2, 1}});
  CHECK_FALSE(m.waiting());

  // Group 0 holds data but users lags: group 0 waits, nothing else to do.
  m.add(batch("users", 1, {9}, 4), 1000);
  m.add(batch("orders", 2, {4}, 5), 1000);
  order = drain(m, 1000);
  CHECK(order == Processed{{1, 2}});  // orders' 4 precedes users' 9
  CHECK_FALSE(m.next_run(1000));  // orders lags (3 < 5): its next record may precede 9
  CHECK(m.waiting());
}

TEST_CASE("merger: a caught-up input is waited for max.task.idle.ms only", "[merger]") {
  InputMerger m(table_and_stream(), PartitionId{0}, 100);
  m.add(batch("users", 0, {}, 0), 1000);  // caught up at 0
  m.add(batch("orders", 0, {5}, 1), 1000);
  CHECK_FALSE(m.next_run(1000));  // new users data may still arrive
  CHECK(m.waiting());
  CHECK_FALSE(m.next_run(1099));
  auto run = m.next_run(1100);
  REQUIRE(run);
  CHECK(run->input == 1);
}

TEST_CASE("merger: an input known to be caught up does not block", "[merger]") {
  InputMerger m(table_and_stream(), PartitionId{0}, kNoIdle);
  m.add(batch("orders", 0, {1}, 1), 0);
  CHECK_FALSE(m.next_run(0));
  // An empty batch: the consumer stands at users' high watermark 4.
  m.add(batch("users", 0, {}, 4), 0);
  CHECK(m.position(0) == 4);
  auto run = m.next_run(0);
  REQUIRE(run);
  CHECK(run->input == 1);

  // Caught up by records: position 3 == high watermark 3.
  InputMerger m2(table_and_stream(), PartitionId{0}, kNoIdle);
  m2.add(batch("users", 0, {1, 2, 3}, 3), 0);
  m2.add(batch("orders", 0, {10}, 5), 0);
  auto order = drain(m2, 0);
  CHECK(order == Processed{{0, 0}, {0, 1}, {0, 2}, {1, 0}});
  // orders is empty and behind its high watermark: nothing blocks since
  // nothing else is buffered.
  CHECK_FALSE(m2.waiting());
}

// What the task asks before it writes its cached outputs early: how many
// records the broker holds beyond what an input received (its next batches
// may be on the way while none is buffered); an unknown high watermark is
// no lag.
TEST_CASE("merger: lag is the most a known high watermark is ahead of an input", "[merger]") {
  InputMerger m(table_and_stream(), PartitionId{0}, kNoIdle);
  CHECK(m.lag() == 0);  // nothing known yet
  m.add(batch("orders", 0, {1, 2}, 10), 0);
  CHECK(m.lag() == 8);                 // orders received up to 2 of 10 (buffered or not)
  m.add(batch("users", 0, {}, 0), 0);  // users: empty so far
  drain(m, 0);
  CHECK_FALSE(m.has_buffered());
  CHECK(m.lag() == 8);
  m.add(batch("orders", 2, {3, 4, 5, 6, 7, 8, 9, 10}, 10), 0);
  drain(m, 0);
  CHECK(m.lag() == 0);  // orders at 10 of 10, users at 0 of 0
  m.add(batch("users", 0, {1}, 3), 0);
  drain(m, 0);
  CHECK(m.lag() == 2);  // users at 1 of 3
  // A caught-up signal past what was delivered (a transaction marker).
  m.add(batch("users", 0, {}, 3), 0);
  CHECK(m.lag() == 0);
  // New data on the broker, seen by a later batch: the larger lag counts.
  m.add(batch("orders", 10, {11}, 15), 0);
  m.add(batch("users", 3, {12}, 5), 0);
  drain(m, 0);
  CHECK(m.lag() == 4);
}

TEST_CASE("merger: -1 never waits, 0 waits for lagging inputs only, flushing ignores waits",
          "[merger]") {
  InputMerger never(table_and_stream(), PartitionId{0}, -1);
  never.add(batch("orders", 0, {1}, 10), 0);
  CHECK(never.next_run(0));

  InputMerger m(table_and_stream(), PartitionId{0}, 0);
  m.add(batch("orders", 0, {1}, 10), 0);
  CHECK_FALSE(m.next_run(0));  // users' position is unknown
  m.add(batch("users", 0, {}, 3), 0);
  CHECK(m.next_run(0));  // users caught up: no wait with 0

  InputMerger f(table_and_stream(), PartitionId{0}, kNoIdle);
  f.add(batch("orders", 0, {1}, 10), 0);
  CHECK_FALSE(f.next_run(0));
  auto run = f.next_run_flushing();
  REQUIRE(run);
  CHECK(run->size() == 1);
}

TEST_CASE("merger: runs never cross a batch, batches of other partitions are refused", "[merger]") {
  InputMerger m({{"orders", false}}, PartitionId{0}, kNoIdle);
  m.add(batch("orders", 0, {1, 2}, 4), 0);
  m.add(batch("orders", 2, {3, 4}, 4), 0);
  std::vector<size_t> sizes;
  drain(m, 0, &sizes);
  CHECK(sizes == std::vector<size_t>{2, 2});

  RawBatch other = batch("orders", 0, {1});
  other.tp.partition = PartitionId{1};
  CHECK_FALSE(m.add(std::move(other), 0));
  CHECK_FALSE(m.add(batch("payments", 0, {1}), 0));
  CHECK_FALSE(m.has_buffered());
}

// The processing order the merger must produce with all data present: the
// specification, written independently of the merger's run logic.
Processed reference_order(const std::vector<std::vector<TimestampMs>>& inputs,
                          const std::vector<bool>& is_table) {
  std::vector<size_t> next(inputs.size(), 0);
  Processed out;
  for (;;) {
    std::optional<size_t> best;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (next[i] == inputs[i].size()) continue;
      auto key = std::make_tuple(inputs[i][next[i]], is_table[i] ? 0 : 1, i);
      if (!best ||
          key < std::make_tuple(inputs[*best][next[*best]], is_table[*best] ? 0 : 1, *best)) {
        best = i;
      }
    }
    if (!best) return out;
    out.emplace_back(*best, int64_t(next[*best]));
    ++next[*best];
  }
}

TEST_CASE("merger: same input, any batch sizes and arrival order, same processing order",
          "[merger]") {
  std::mt19937 rng(20240611);
  for (int trial = 0; trial < 400; ++trial) {
    const size_t n_inputs = 1 + rng() % 3;
    std::vector<InputSpec> specs;
    std::vector<bool> is_table;
    std::vector<std::vector<TimestampMs>> data(n_inputs);
    for (size_t i = 0; i < n_inputs; ++i) {
      bool table = rng() % 2 == 0;
      specs.push_back({"t" + std::to_string(i), table});
      is_table.push_back(table);
      size_t n = rng() % 40;
      TimestampMs ts = rng() % 5;
      for (size_t k = 0; k < n; ++k) {
        // Mostly increasing, with ties and some out-of-order records.
        int step = int(rng() % 6) - 1;
        ts = std::max<TimestampMs>(0, ts + step);
        data[i].push_back(ts);
      }
    }
    const Processed expected = reference_order(data, is_table);

    // Split every input into batches of random sizes, then deliver them in a
    // random interleaving (each input's batches in order), processing what
    // is ready after each arrival.
    std::vector<std::vector<RawBatch>> pending(n_inputs);
    for (size_t i = 0; i < n_inputs; ++i) {
      size_t k = 0;
      const auto hwm = int64_t(data[i].size());
      while (k < data[i].size()) {
        size_t len = 1 + rng() % 8;
        len = std::min(len, data[i].size() - k);
        std::vector<TimestampMs> ts(data[i].begin() + long(k), data[i].begin() + long(k + len));
        pending[i].push_back(batch(specs[i].topic, int64_t(k), ts, hwm));
        k += len;
      }
      if (data[i].empty() || rng() % 3 == 0) {
        // Sometimes the consumer reports "caught up" with an empty batch.
        pending[i].push_back(batch(specs[i].topic, 0, {}, hwm));
      }
    }
    InputMerger m(specs, PartitionId{0}, kNoIdle);
    Processed got;
    std::vector<size_t> cursor(n_inputs, 0);
    for (;;) {
      std::vector<size_t> open;
      for (size_t i = 0; i < n_inputs; ++i) {
        if (cursor[i] < pending[i].size()) open.push_back(i);
      }
      if (open.empty()) break;
      size_t i = open[rng() % open.size()];
      REQUIRE(m.add(std::move(pending[i][cursor[i]++]), 0));
      if (rng() % 2 == 0) {
        auto more = drain(m, 0);
        got.insert(got.end(), more.begin(), more.end());
      }
    }
    auto rest = drain(m, 0);
    got.insert(got.end(), rest.begin(), rest.end());
    INFO("trial " << trial);
    REQUIRE(got == expected);
    CHECK_FALSE(m.has_buffered());
  }
}

}  // namespace
}  // namespace rivulet
