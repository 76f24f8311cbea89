// Microbenchmarks of the data path without a broker (Google Benchmark):
// JSON decode (schemaless, with a Schema, and of a Yahoo event with all or
// only the columns its query reads) and encode of a ~100-byte
// order, the stream-table join probe, an aggregation update (count per key)
// through TaskGraph::process, the demo's whole operator pipeline (decode,
// join, count, encode), and checkpoint encode/decode of a 100k-entry KTable.
// "items_per_second" is records per second on one core. Single-threaded.
#include <benchmark/benchmark.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint/snapshot.hpp"
#include "examples/orders_enrichment.hpp"
#include "operators/aggregation.hpp"
#include "operators/ktable.hpp"
#include "operators/topology.hpp"
#include "runtime/avro_wire.hpp"
#include "runtime/codec.hpp"
#include "runtime/json_sr_wire.hpp"
#include "runtime/protobuf_wire.hpp"

using namespace rivulet;

namespace {

// The users table is pinned to the decoded storage, as the figures since
// the first were measured (the demo's default, Auto, keeps a table of
// 100,000 users encoded); the _Encoded benchmarks measure that one.
const examples::OrdersWorkload kWork = [] {
  examples::OrdersWorkload w;
  w.users = 100000;
  w.user_space = 110000;
  w.users_storage = TableStorage::Decoded;
  return w;
}();

std::string order_json(int64_t o) {
  return R"({"order_id":)" + std::to_string(o) + R"(,"user_id":")" +
         kWork.user_id(kWork.user_of_order(o)) + R"(","amount":12.34})";
}

// A ~100-byte order record, the size the decode figures are quoted for.
std::string order_json_100(int64_t o) {
  return R"({"order_id":)" + std::to_string(1000000 + o) + R"(,"user_id":")" +
         kWork.user_id(kWork.user_of_order(o)) +
         R"(","amount":123.45,"currency":"EUR","status":"paid","items":3})";
}

std::shared_ptr<const Schema> order_schema() {
  auto s = std::make_shared<Schema>();
  s->columns = {
      {"order_id", DataType::of(TypeKind::BigInt)}, {"user_id", DataType::of(TypeKind::String)},
      {"amount", DataType::decimal(10, 2)},         {"currency", DataType::of(TypeKind::String)},
      {"status", DataType::of(TypeKind::String)},   {"items", DataType::of(TypeKind::Int)}};
  return s;
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
  std::string doc = order_json_100(42);
  for (auto _ : state) benchmark::DoNotOptimize(codec->decode(doc));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(doc.size()));
  state.counters["record_bytes"] = static_cast<double>(doc.size());
}
BENCHMARK(BM_JsonDecode);

// Decoding with a Schema also coerces every column to its type (the
// amount to an exact DECIMAL(10, 2)).
void BM_JsonDecodeSchema(benchmark::State& state) {
  auto codec = make_json_codec(order_schema());
  std::string doc = order_json_100(42);
  if (!codec->decode(doc)) {
    state.SkipWithError("the order does not decode with its schema");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(codec->decode(doc));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(doc.size()));
}
BENCHMARK(BM_JsonDecodeSchema);

// A Yahoo ad event (bench/sql_workloads.cpp's shape, 245 bytes) with its
// stream's value schema. Arg 0 decodes all six value columns; arg 1 only
// the two the Yahoo query reads (event_type, and event_time for the
// timestamp), as the SQL planner's column pruning does: the other four are
// checked, not copied.
void BM_JsonDecodeYahooEvent(benchmark::State& state) {
  auto schema = std::make_shared<Schema>();
  const auto str = DataType::of(TypeKind::String);
  schema->columns = {{"USER_ID", str},    {"PAGE_ID", str},
                     {"AD_TYPE", str},    {"EVENT_TYPE", str},
                     {"EVENT_TIME", DataType::of(TypeKind::BigInt)}, {"IP_ADDRESS", str}};
  std::vector<bool> decoded;
  if (state.range(0) == 1) decoded = {false, false, false, true, true, false};
  auto codec = make_json_codec(schema, decoded);
  const std::string doc =
      R"({"user_id":"5f8a1c2e-93b4-4d7a-8e61-0c2b9d4f7a13","page_id":"b07e6d35-2c19-4f8e-a4d2-)"
      R"(7e91c3b5f028","ad_id":"9c2e4b71-58d3-4a06-b1f7-3e8d2a6c9f40","ad_type":"sponsored-search",)"
      R"("event_type":"view","event_time":1700000000000,"ip_address":"1.2.3.4"})";
  if (!codec->decode(doc)) {
    state.SkipWithError("the event does not decode with its schema");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(codec->decode(doc));
  state.SetItemsProcessed(state.iterations());
  state.counters["record_bytes"] = static_cast<double>(doc.size());
}
BENCHMARK(BM_JsonDecodeYahooEvent)->Arg(0)->Arg(1);

// The same event in a format with a schema registry, written with ksqlDB's
// schema for the six columns and read back into all six, as a stream in
// that format reads every column: against BM_JsonDecodeYahooEvent/0. The
// schema is looked up once (the codec keeps it by id), so this is the
// decode alone. `make` builds the codec over a registry in memory.
template <typename MakeCodec>
void decode_yahoo_event_in_registry_format(benchmark::State& state, MakeCodec make) {
  auto schema = std::make_shared<Schema>();
  const auto str = DataType::of(TypeKind::String);
  schema->columns = {{"USER_ID", str},
                     {"PAGE_ID", str},
                     {"AD_TYPE", str},
                     {"EVENT_TYPE", str},
                     {"EVENT_TIME", DataType::of(TypeKind::BigInt)},
                     {"IP_ADDRESS", str}};
  auto registry = std::make_shared<MemorySchemaRegistry>();
  std::unique_ptr<Codec> codec = make(schema, registry);
  auto doc = codec->encode(
      Value::structure({{"USER_ID", Value::string("5f8a1c2e-93b4-4d7a-8e61-0c2b9d4f7a13")},
                        {"PAGE_ID", Value::string("b07e6d35-2c19-4f8e-a4d2-7e91c3b5f028")},
                        {"AD_TYPE", Value::string("sponsored-search")},
                        {"EVENT_TYPE", Value::string("view")},
                        {"EVENT_TIME", Value::int64(1700000000000)},
                        {"IP_ADDRESS", Value::string("1.2.3.4")}}));
  if (!doc || !codec->decode(*doc)) {
    state.SkipWithError("the event does not encode and decode");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(codec->decode(*doc));
  state.SetItemsProcessed(state.iterations());
  state.counters["record_bytes"] = static_cast<double>(doc->size());
}

// AVRO: a zero byte, the schema id, the Avro datum.
void BM_AvroDecodeYahooEvent(benchmark::State& state) {
  decode_yahoo_event_in_registry_format(state, [](auto schema, auto registry) {
    return make_avro_codec(schema, registry, "ad-events-value");
  });
}
BENCHMARK(BM_AvroDecodeYahooEvent);

// PROTOBUF: the prefix, message indexes [0], the message (libprotobuf's
// DynamicMessage, then the conversion to Values).
void BM_ProtobufDecodeYahooEvent(benchmark::State& state) {
  decode_yahoo_event_in_registry_format(state, [](auto schema, auto registry) {
    return make_protobuf_codec(schema, registry, "ad-events-value", "");
  });
}
BENCHMARK(BM_ProtobufDecodeYahooEvent);

// JSON_SR: the prefix, then the JSON codec on the text after it.
void BM_JsonSrDecodeYahooEvent(benchmark::State& state) {
  decode_yahoo_event_in_registry_format(state, [](auto schema, auto registry) {
    return make_json_sr_codec(make_json_codec(schema), registry, "ad-events-value",
                              json_schema::schema_for(schema->columns), {});
  });
}
BENCHMARK(BM_JsonSrDecodeYahooEvent);

void BM_JsonEncode(benchmark::State& state) {
  auto codec = make_json_codec();
  auto v = codec->decode(order_json_100(42)).value();
  for (auto _ : state) benchmark::DoNotOptimize(codec->encode(v));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JsonEncode);

// One task's graph with 100k users loaded, the users applied first.
struct LoadedGraph {
  std::unique_ptr<TaskGraph> graph;
  std::vector<RawRecord> orders;
  explicit LoadedGraph(TableStorage storage = TableStorage::Decoded) {
    examples::OrdersWorkload w = kWork;
    w.users_storage = storage;
    graph = examples::make_orders_topology(w).instantiate(PartitionId{0});
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

void join_probe(benchmark::State& state, const LoadedGraph& g) {
  const KTable* users = g.graph->table("users");
  std::vector<Value> keys;
  for (int64_t o = 0; o < 1000; ++o) keys.push_back(Value::string(kWork.user_id(o * 97)));
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(users->get(keys[i++ % keys.size()]));
  }
  state.SetItemsProcessed(state.iterations());
  // Memory of the users table against the raw bytes of its keys and values.
  double raw_bytes = 0;
  for (int64_t u = 0; u < kWork.users; ++u) {
    auto id = kWork.user_id(u);
    raw_bytes += static_cast<double>(
        id.size() + (R"({"user_id":")" + id + R"(","name":"User","country":"DE"})").size());
  }
  state.counters["table_bytes_per_entry"] =
      static_cast<double>(users->bytes_estimate()) / static_cast<double>(users->size());
  state.counters["raw_bytes_per_entry"] = raw_bytes / static_cast<double>(kWork.users);
}

void BM_JoinProbe(benchmark::State& state) {
  static LoadedGraph g;
  join_probe(state, g);
}
BENCHMARK(BM_JoinProbe);

// The same table encoded (TableStorage::Encoded; what Auto keeps at 100k).
void BM_JoinProbe_Encoded(benchmark::State& state) {
  static LoadedGraph g(TableStorage::Encoded);
  join_probe(state, g);
}
BENCHMARK(BM_JoinProbe_Encoded);

// Aggregation update: a count per key, fed batches of 1,000 raw records over
// 100k keys through TaskGraph::process (decode, group, update, changelog).
void BM_AggregationCount(benchmark::State& state) {
  Topology topo;
  topo.stream("events", codecs::string_json()).group_by_key().count("counts");
  auto graph = topo.instantiate(PartitionId{0});
  if (!graph) {
    state.SkipWithError("the counting topology does not instantiate");
    return;
  }
  const size_t input = *graph->input_index("events");
  std::vector<RawRecord> batch;
  for (int64_t i = 0; i < 1000; ++i) batch.push_back(raw(i, "", order_json_100(i)));
  int64_t round = 0;
  TaskOutput out;
  for (auto _ : state) {
    state.PauseTiming();
    // New keys each round, cycling through 100k.
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i].key = kWork.user_id((round * 1000 + static_cast<int64_t>(i)) % 100000);
    }
    ++round;
    out.clear();
    state.ResumeTiming();
    graph->process(input, batch.data(), batch.data() + batch.size(), out);
    benchmark::DoNotOptimize(out.records.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch.size()));
  state.counters["keys"] = static_cast<double>(graph->table("counts")->size());
}
BENCHMARK(BM_AggregationCount);

// COUNT_DISTINCT of the order id per key, the same path as
// BM_AggregationCount (read the two as a ratio): every order id is new, so
// with 100k keys each group holds a few exact hashes, and with 10 keys each
// group is a dense HyperLogLog sketch after its first 1,024 orders (16 KiB
// copied into the candidate row and out of the adder per record).
void BM_AggregationCountDistinct(benchmark::State& state) {
  const int64_t keys = state.range(0);
  Topology topo;
  AggregateSpec spec;
  spec.functions.push_back(AggregateFn::count_distinct([](const Record& r) {
    const Value* id = r.value.field("order_id");
    return id ? *id : Value();
  }));
  topo.stream("events", codecs::string_json()).group_by_key().aggregate(spec, "distinct");
  auto graph = topo.instantiate(PartitionId{0});
  if (!graph) {
    state.SkipWithError("the distinct-counting topology does not instantiate");
    return;
  }
  const size_t input = *graph->input_index("events");
  std::vector<RawRecord> batch(1000);
  int64_t round = 0;
  TaskOutput out;
  for (auto _ : state) {
    state.PauseTiming();
    for (size_t i = 0; i < batch.size(); ++i) {
      const int64_t n = round * 1000 + static_cast<int64_t>(i);
      batch[i] = raw(n, kWork.user_id(n % keys), order_json_100(n));
    }
    ++round;
    out.clear();
    state.ResumeTiming();
    graph->process(input, batch.data(), batch.data() + batch.size(), out);
    benchmark::DoNotOptimize(out.records.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch.size()));
  state.counters["keys"] = static_cast<double>(keys);
}
BENCHMARK(BM_AggregationCountDistinct)->Arg(100000)->Arg(10);

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

// A topology that is only a stream-table join, as the test driver runs it:
// orders (key: user id) JOIN users (a 100k-key KTable, loaded first) ->
// enriched orders, through TaskGraph::process in batches of range(0) raw
// records. Records enter as Kafka key/value bytes and leave encoded
// (OutputRecords with headers), so serde is counted. Every order matches.
//  - BM_StreamTableJoin_Kafka: keys and values in the KAFKA format (STRING,
//    the cheapest serde there is: bytes <-> one string); the joiner appends
//    the user's value to the order's ("1000042,123.45,EUR" + "," +
//    "User 42,DE").
//  - BM_StreamTableJoin_Json: KAFKA string keys, JSON values; the joiner is
//    the demo's (the order's fields plus the user's name and country).
struct JoinOnly {
  std::unique_ptr<TaskGraph> graph;
  std::vector<RawRecord> orders;  // 100k, cycled through in batches
  size_t input = 0;
  JoinOnly(bool json, TableStorage storage) {
    Topology topo;
    Serdes serdes = json ? codecs::string_json() : Serdes{codecs::kafka_string(), codecs::kafka_string()};
    auto users = topo.table("users", serdes, "", storage);
    auto stream = topo.stream("orders", serdes);
    if (json) {
      stream.join(users, examples::enrich_order).to("enriched-orders", serdes);
    } else {
      stream
          .join(users,
                [](const Record& order, const Value* user) {
                  const std::string& o = order.value.as_string();
                  const std::string& u = user->as_string();
                  std::string joined;
                  joined.reserve(o.size() + 1 + u.size());
                  joined += o;
                  joined += ',';
                  joined += u;
                  return Value::string(std::move(joined));
                })
          .to("enriched-orders", serdes);
    }
    graph = topo.instantiate(PartitionId{0});
    if (!graph) return;
    std::vector<RawRecord> user_records;
    for (int64_t u = 0; u < 100000; ++u) {
      auto id = kWork.user_id(u);
      user_records.push_back(
          raw(u, id,
              json ? R"({"user_id":")" + id + R"(","name":"User )" + std::to_string(u) +
                         R"(","country":"DE"})"
                   : "User " + std::to_string(u) + ",DE"));
    }
    TaskOutput out;
    graph->process(*graph->input_index("users"), user_records.data(),
                   user_records.data() + user_records.size(), out);
    input = *graph->input_index("orders");
    // Offsets as a long-lived topic has them (8 digits).
    for (int64_t o = 0; o < 100000; ++o) {
      auto user = kWork.user_id((o * 7919) % 100000);
      std::string value = json ? R"({"order_id":)" + std::to_string(1000000 + o) +
                                     R"(,"user_id":")" + user + R"(","amount":123.45})"
                               : std::to_string(1000000 + o) + ",123.45,EUR";
      orders.push_back(raw(10000000 + o, user, std::move(value)));
    }
  }
};

void run_join_only(benchmark::State& state, JoinOnly& j) {
  if (!j.graph) {
    state.SkipWithError("the join topology does not instantiate");
    return;
  }
  const auto batch = static_cast<size_t>(state.range(0));
  size_t at = 0;
  uint64_t outputs = 0;
  TaskOutput out;
  for (auto _ : state) {
    if (at + batch > j.orders.size()) at = 0;
    out.clear();
    j.graph->process(j.input, j.orders.data() + at, j.orders.data() + at + batch, out);
    benchmark::DoNotOptimize(out.records.data());
    outputs += out.records.size();
    at += batch;
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch));
  state.counters["outputs_per_record"] =
      static_cast<double>(outputs) / static_cast<double>(state.iterations() * batch);
}

void BM_StreamTableJoin_Kafka(benchmark::State& state) {
  static JoinOnly j(false, TableStorage::Decoded);
  run_join_only(state, j);
}
BENCHMARK(BM_StreamTableJoin_Kafka)->Arg(1000);

void BM_StreamTableJoin_Json(benchmark::State& state) {
  static JoinOnly j(true, TableStorage::Decoded);
  run_join_only(state, j);
}
BENCHMARK(BM_StreamTableJoin_Json)->Arg(1000);

// The same joins against the table encoded (what Auto keeps at 100k keys).
void BM_StreamTableJoin_Kafka_Encoded(benchmark::State& state) {
  static JoinOnly j(false, TableStorage::Encoded);
  run_join_only(state, j);
}
BENCHMARK(BM_StreamTableJoin_Kafka_Encoded)->Arg(1000);

void BM_StreamTableJoin_Json_Encoded(benchmark::State& state) {
  static JoinOnly j(true, TableStorage::Encoded);
  run_join_only(state, j);
}
BENCHMARK(BM_StreamTableJoin_Json_Encoded)->Arg(1000);

void BM_CheckpointEncode(benchmark::State& state) {
  static LoadedGraph g;
  for (auto _ : state) {
    checkpoint::Snapshot snap;
    snap.task = checkpoint::TaskId{"bench", PartitionId{0}};
    for (auto* store : g.graph->stores())
      snap.sections.emplace_back(store->name(), store->serialize());
    benchmark::DoNotOptimize(checkpoint::encode(snap));
  }
  state.SetItemsProcessed(state.iterations() * kWork.users);
}
BENCHMARK(BM_CheckpointEncode)->Unit(benchmark::kMillisecond);

// What a full checkpoint holds the task for, with the groups counted too
// (each of 100,000 orders counted per user): Arg 0 serializes every store
// on the task (checkpoint.write.async=false); Arg 1 takes the task's part of
// serialize_deferred only, the copies the checkpoint writer then packs
// (what a task with the writer does). The copies are freed outside the
// timing, as the writer frees them.
void BM_CheckpointTaskHold(benchmark::State& state) {
  static LoadedGraph g = [] {
    LoadedGraph loaded;
    std::vector<RawRecord> orders;
    for (int64_t o = 0; o < 100000; ++o) {
      orders.push_back(raw(o, kWork.user_id(kWork.user_of_order(o)), order_json(o)));
    }
    TaskOutput out;
    loaded.graph->process(*loaded.graph->input_index("orders"), orders.data(),
                          orders.data() + orders.size(), out);
    return loaded;
  }();
  const bool deferred = state.range(0) == 1;
  size_t entries = 0;
  for (auto _ : state) {
    std::vector<std::string> bytes;
    std::vector<std::function<std::string()>> later;
    for (auto* store : g.graph->stores()) {
      if (deferred) {
        later.push_back(store->serialize_deferred());
      } else {
        bytes.push_back(store->serialize());
      }
    }
    state.PauseTiming();
    later.clear();
    bytes.clear();
    state.ResumeTiming();
  }
  for (auto* store : g.graph->stores()) {
    if (auto* t = dynamic_cast<KTable*>(store)) entries += t->size();
    if (auto* a = dynamic_cast<AggregateStore*>(store)) entries += a->size();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(entries));
  state.counters["entries"] = static_cast<double>(entries);
}
BENCHMARK(BM_CheckpointTaskHold)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_CheckpointDecodeRestore(benchmark::State& state) {
  static LoadedGraph g;
  checkpoint::Snapshot snap;
  snap.task = checkpoint::TaskId{"bench", PartitionId{0}};
  for (auto* store : g.graph->stores())
    snap.sections.emplace_back(store->name(), store->serialize());
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
