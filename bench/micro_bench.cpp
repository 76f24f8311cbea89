// Microbenchmarks of the data path without a broker (Google Benchmark):
// JSON decode and encode, the stream-table join probe, the demo's whole
// operator pipeline (decode, join, count, encode) through TaskGraph::process,
// and checkpoint encode/decode of a 100k-key table. "items_per_second" is
// records per second on one core.
#include <benchmark/benchmark.h>

#include "checkpoint/snapshot.hpp"
#include "examples/orders_enrichment.hpp"
#include "operators/topology.hpp"
#include "runtime/codec.hpp"

using namespace rivulet;

namespace {

const examples::OrdersWorkload kWork = [] {
  examples::OrdersWorkload w;
  w.users = 100000;
  w.user_space = 110000;
  return w;
}();

std::string order_json(int64_t o) {
  return R"({"order_id":)" + std::to_string(o) + R"(,"user_id":")" +
         kWork.user_id(kWork.user_of_order(o)) + R"(","amount":12.34})";
}

RawRecord raw(int64_t offset, std::string key, std::string value) {
  RawRecord r;
  r.offset = offset;
  r.timestamp = offset;
  r.key = std::move(key);
  r.value = std::move(value);
  return r;
}

void BM_JsonDecode(benchmark::State& state) {
  auto codec = make_json_codec();
  std::string doc = order_json(42);
  for (auto _ : state) benchmark::DoNotOptimize(codec->decode(doc));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(doc.size()));
}
BENCHMARK(BM_JsonDecode);

void BM_JsonEncode(benchmark::State& state) {
  auto codec = make_json_codec();
  auto v = codec->decode(order_json(42)).value();
  for (auto _ : state) benchmark::DoNotOptimize(codec->encode(v));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JsonEncode);

// One task's graph with 100k users loaded, the users applied first.
struct LoadedGraph {
  std::unique_ptr<TaskGraph> graph;
  std::vector<RawRecord> orders;
  LoadedGraph() {
    graph = examples::make_orders_topology(kWork).instantiate(PartitionId{0});
    std::vector<RawRecord> users;
    for (int64_t u = 0; u < kWork.users; ++u) {
      auto id = kWork.user_id(u);
      users.push_back(raw(u, id, R"({"user_id":")" + id + R"(","name":"User","country":"DE"})"));
    }
    TaskOutput out;
    graph->process(*graph->input_index("users"), users.data(), users.data() + users.size(), out);
    for (int64_t o = 0; o < 10000; ++o) {
      orders.push_back(raw(o, kWork.user_id(kWork.user_of_order(o)), order_json(o)));
    }
  }
};

void BM_JoinProbe(benchmark::State& state) {
  static LoadedGraph g;
  const KTable* users = g.graph->table("users");
  std::vector<Value> keys;
  for (int64_t o = 0; o < 1000; ++o) keys.push_back(Value::string(kWork.user_id(o * 97)));
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(users->get(keys[i++ % keys.size()]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JoinProbe);

// Decode, filter, LEFT JOIN, count, encode two outputs per order.
void BM_OrdersPipeline(benchmark::State& state) {
  static LoadedGraph g;
  const size_t orders_input = *g.graph->input_index("orders");
  TaskOutput out;
  for (auto _ : state) {
    out.clear();
    g.graph->process(orders_input, g.orders.data(), g.orders.data() + g.orders.size(), out);
    benchmark::DoNotOptimize(out.records.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(g.orders.size()));
}
BENCHMARK(BM_OrdersPipeline)->Unit(benchmark::kMillisecond);

// Baseline for the pipeline's ratio: only decoding the same records.
void BM_DecodeOnlyBaseline(benchmark::State& state) {
  static LoadedGraph g;
  auto codec = make_json_codec();
  for (auto _ : state) {
    for (const auto& r : g.orders) benchmark::DoNotOptimize(codec->decode(*r.value));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(g.orders.size()));
}
BENCHMARK(BM_DecodeOnlyBaseline)->Unit(benchmark::kMillisecond);

void BM_CheckpointEncode(benchmark::State& state) {
  static LoadedGraph g;
  for (auto _ : state) {
    checkpoint::Snapshot snap;
    snap.task = checkpoint::TaskId{"bench", PartitionId{0}};
    for (auto* store : g.graph->stores()) snap.sections.emplace_back(store->name(), store->serialize());
    benchmark::DoNotOptimize(checkpoint::encode(snap));
  }
  state.SetItemsProcessed(state.iterations() * kWork.users);
}
BENCHMARK(BM_CheckpointEncode)->Unit(benchmark::kMillisecond);

void BM_CheckpointDecodeRestore(benchmark::State& state) {
  static LoadedGraph g;
  checkpoint::Snapshot snap;
  snap.task = checkpoint::TaskId{"bench", PartitionId{0}};
  for (auto* store : g.graph->stores()) snap.sections.emplace_back(store->name(), store->serialize());
  std::string bytes = checkpoint::encode(snap);
  auto fresh = examples::make_orders_topology(kWork).instantiate(PartitionId{0});
  for (auto _ : state) {
    auto decoded = checkpoint::decode(bytes).value();
    for (auto& [name, section] : decoded.sections) {
      for (auto* store : fresh->stores()) {
        if (store->name() == name) benchmark::DoNotOptimize(store->restore(section));
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * kWork.users);
  state.counters["bytes"] = static_cast<double>(bytes.size());
}
BENCHMARK(BM_CheckpointDecodeRestore)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
