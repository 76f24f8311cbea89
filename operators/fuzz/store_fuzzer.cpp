// libFuzzer target over the state stores' restore: a checkpoint's section
// (or a changelog's delta) that passed its checksum but does not hold what
// the store wrote, from a bug or another version, must be refused with an
// error and leave the store empty, never crash a restoring task.
//
// The first byte picks the store and whether the input is a whole snapshot
// (restore) or a delta on top of an empty one (apply_changes), or, a third
// of the time, makes the input a repartition record's value for the
// merging nodes of a two-phase aggregation (fuzz_partial); the rest is the
// bytes. Restored or refused, it checks what restore promises: the
// store serializes, and that snapshot restores a fresh store to one that
// serializes as many bytes (the same entries; a hashed store may list them
// in another order). Built only with Clang (see operators/README.md
// for how to run it).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "operators/aggregation.hpp"
#include "operators/ktable.hpp"
#include "operators/partial_aggregate.hpp"
#include "operators/replay_marks.hpp"
#include "operators/stream_join.hpp"
#include "operators/task_output.hpp"
#include "operators/versioned_table.hpp"
#include "operators/window.hpp"
#include "runtime/msgpack_value.hpp"

namespace {

using namespace rivulet;

[[noreturn]] void fail(const char* what, int store, std::string_view input) {
  std::fprintf(stderr, "store_fuzzer: store %d: %s (input of %zu bytes)\n", store, what,
               input.size());
  std::abort();
}

ValueFn field(const char* name) {
  return [name](const Record& r) {
    const Value* v = r.value.field(name);
    return v ? *v : Value();
  };
}

std::shared_ptr<const AggregateSpec> spec() {
  static const auto s = [] {
    AggregateSpec a;
    a.as_struct = true;
    a.functions.push_back(AggregateFn::count("N"));
    a.functions.push_back(AggregateFn::sum(field("v"), "S"));
    a.functions.push_back(AggregateFn::min(field("v"), "MIN"));
    a.functions.push_back(AggregateFn::max(field("v"), "MAX"));
    a.functions.push_back(AggregateFn::avg(field("v"), "AVG"));
    a.functions.push_back(AggregateFn::count_non_null(field("v"), "NN"));
    a.functions.push_back(AggregateFn::top_k(field("v"), 3, false, "TOP"));
    return std::make_shared<const AggregateSpec>(std::move(a));
  }();
  return s;
}

// COUNT_DISTINCT, STDDEV_SAMPLE, CORRELATION and ATTR, whose accumulators
// (a sketch's bytes, moments, values seen) come from the input as well.
std::shared_ptr<const AggregateSpec> stats_spec() {
  static const auto s = [] {
    AggregateSpec a;
    a.as_struct = true;
    a.functions.push_back(AggregateFn::count_distinct(field("v"), "D"));
    a.functions.push_back(AggregateFn::stddev_sample(field("v"), "SD"));
    a.functions.push_back(AggregateFn::correlation(field("v"), field("w"), "R"));
    a.functions.push_back(AggregateFn::attr(field("v"), "A"));
    return std::make_shared<const AggregateSpec>(std::move(a));
  }();
  return s;
}

constexpr int kStores = 11;
constexpr int kAggregateStore = 3;
constexpr int kWindowStore = 4;

std::shared_ptr<AggregateStore> aggregate_store() {
  return std::make_shared<AggregateStore>("agg", spec(), std::make_shared<KTable>("results"));
}

std::shared_ptr<AggregateStore> stats_store() {
  return std::make_shared<AggregateStore>("stats", stats_spec(), std::make_shared<KTable>("r"));
}

std::shared_ptr<WindowStore> window_store() {
  return std::make_shared<WindowStore>(
      "win", spec(), std::make_shared<const WindowSpec>(WindowSpec::hopping(3000, 1000)));
}

std::shared_ptr<StateStore> make_store(int which) {
  switch (which) {
    case 0:
      return std::make_unique<KTable>("t", TableStorage::Decoded);
    case 1:
      return std::make_unique<KTable>("t", TableStorage::Encoded);
    case 2:
      return std::make_unique<KTable>("t", TableStorage::Auto, 4);
    case kAggregateStore:
      return aggregate_store();
    case kWindowStore:
      return window_store();
    case 5:
      return std::make_unique<WindowStore>(
          "ses", spec(), std::make_shared<const WindowSpec>(WindowSpec::session(500)));
    case 6: {
      StreamJoinSpec j;
      j.before_ms = 100;
      j.after_ms = 100;
      j.grace_ms = 50;
      j.left_outer = true;
      j.right_outer = true;
      return std::make_unique<StreamJoinStore>("join", j);
    }
    case 7:
      return std::make_unique<VersionedTable>("versions", 10000);
    case 8:
      return std::make_unique<LookBack>("repartition");
    case 9:
      return std::make_unique<ReplayMarks>("input");
    default:
      return std::make_unique<KTable>("t", TableStorage::Auto);
  }
}

// A repartition topic's record (its msgpack value) into the second phase of
// a two-phase aggregation, plain and windowed: what anyone writing to that
// topic could send. A record that is not a partial of these functions is a
// data error or a skip, never a crash or an exception.
void fuzz_partial(std::string_view input) {
  auto value = from_msgpack(input);
  if (!value.ok()) return;
  auto store = aggregate_store();
  auto windows = window_store();
  auto stats = stats_store();
  UnpackPartialsNode unpack("unpack");
  UnpackPartialsNode unpack_windowed("unpack-windowed");
  UnpackPartialsNode unpack_stats("unpack-stats");
  AggregateNode merge("merge", store, true);
  WindowedAggregateNode merge_windowed("merge-windowed", windows, true);
  AggregateNode merge_stats("merge-stats", stats, true);
  unpack.add_child(&merge);
  unpack_windowed.add_child(&merge_windowed);
  unpack_stats.add_child(&merge_stats);
  TaskOutput out;
  ProcessContext ctx(out, PartitionId{0});
  for (int round = 0; round < 2; ++round) {  // the second merges into the first's rows
    Record r;
    r.key = Value::string("k");
    r.value = *value;
    r.timestamp = 5000 + round;
    r.source.offset = Offset{round};
    Batch batch{r};
    Batch windowed{r};
    Batch stats_batch{r};
    unpack.process(batch, ctx);
    unpack_windowed.process(windowed, ctx);
    unpack_stats.process(stats_batch, ctx);
  }
  if (!stats_store()->restore(stats->serialize()).ok())
    fail("a merged row of the statistics does not restore", kAggregateStore, input);
  // What the merge kept must still checkpoint and restore.
  if (auto restored = aggregate_store()->restore(store->serialize()); !restored.ok()) {
    std::fprintf(stderr, "partial: %s\nrefused: %s\n", value->to_string().c_str(),
                 restored.error().message.c_str());
    fail("a merged row does not restore", kAggregateStore, input);
  }
  if (!window_store()->restore(windows->serialize()).ok()) {
    fail("a merged window does not restore", kWindowStore, input);
  }
}

void check_error(const Expected<bool>& r, int which, std::string_view input) {
  if (r.ok()) return;
  if (r.error().message.empty()) fail("refused without a reason", which, input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int which = data[0] % kStores;
  const int mode = data[0] / kStores % 3;
  const bool delta = mode == 1;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (mode == 2) {
    fuzz_partial(input);
    return 0;
  }
  auto store = make_store(which);
  Expected<bool> r = true;
  if (delta) {
    if (!store->supports_incremental()) return 0;
    store->set_change_tracking(true);
    r = store->apply_changes(input);
  } else {
    r = store->restore(input);
  }
  check_error(r, which, input);
  if (which == kAggregateStore && !delta) {
    // The same bytes as the statistics' snapshot: restored or refused,
    // and what it holds still snapshots and restores.
    auto stats = stats_store();
    check_error(stats->restore(input), which, input);
    if (!stats_store()->restore(stats->serialize()).ok())
      fail("a restored row of the statistics does not restore again", which, input);
  }
  // Restored or refused, the store must still serialize (refused: empty).
  const std::string once = store->serialize();
  auto again = make_store(which);
  const auto back = again->restore(once);
  if (!back.ok()) fail("its own snapshot does not restore", which, input);
  // The same entries, though hashed stores may list them in another order:
  // the same length.
  if (again->serialize().size() != once.size()) {
    fail("a snapshot restores to a different one", which, input);
  }
  return 0;
}
