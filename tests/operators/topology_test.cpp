#include "operators/topology.hpp"

#include <catch2/catch.hpp>
#include <map>

#include "operators/input_merger.hpp"
#include "operators/sink_node.hpp"
#include "runtime/msgpack_value.hpp"
#include "test_support.hpp"

namespace rivulet {
namespace {

using test::I;
using test::S;

const Value* member(const Value& v, const char* name) {
  if (const Value* f = v.field(name)) return f;
  return v.entry(name);
}

Value member_or_null(const Value& v, const char* name) {
  const Value* m = member(v, name);
  return m ? *m : Value();
}

// orders LEFT JOIN users, plus a per-user order count: the demo's pipeline.
Topology orders_topology(TableStorage storage = TableStorage::Decoded) {
  Topology topo;
  auto users = topo.table("users", codecs::string_json(), "users", storage);
  auto orders = topo.stream("orders", codecs::string_json());
  orders
      .left_join(users,
                 [](const Record& order, const Value* user) {
                   StructFields f;
                   f.push_back(Field{"order_id", member_or_null(order.value, "order_id")});
                   f.push_back(Field{"user_id", order.key});
                   f.push_back(Field{"name", user ? member_or_null(*user, "name") : Value()});
                   return Value::structure(std::move(f));
                 })
      .to("enriched-orders", codecs::string_json());
  orders.group_by_key().count("order-counts").to("order-counts", codecs::string_json());
  return topo;
}

RawRecord json(int64_t offset, TimestampMs ts, std::string key, std::optional<std::string> value) {
  return test::raw(offset, std::move(key), std::move(value), ts);
}

RawBatch batch_of(std::string topic, std::vector<RawRecord> records, int64_t hwm) {
  RawBatch b;
  b.tp = TopicPartition{std::move(topic), PartitionId{0}};
  b.records = std::move(records);
  b.high_watermark = hwm;
  return b;
}

// Runs everything buffered in the merger through the graph.
void run_all(InputMerger& m, TaskGraph& g, TaskOutput& out) {
  while (auto run = m.next_run(0)) {
    g.process(run->input, run->begin, run->end, out);
    m.consume(*run);
  }
}

TEST_CASE("topology end to end: orders LEFT JOIN users and per-user counts on raw JSON",
          "[topology]") {
  const TableStorage storage = GENERATE(TableStorage::Decoded, TableStorage::Encoded);
  Topology topo = orders_topology(storage);
  REQUIRE(topo.validate());
  std::unique_ptr<TaskGraph> g = topo.instantiate(PartitionId{0});
  REQUIRE(g);
  REQUIRE(g->inputs().size() == 2);
  CHECK(g->inputs()[0].topic == "users");
  CHECK(g->inputs()[0].is_table);
  CHECK(g->inputs()[1].topic == "orders");
  CHECK_FALSE(g->inputs()[1].is_table);

  InputMerger merger(g->inputs(), PartitionId{0}, 0);
  // The orders arrive first; the merger still applies each user update
  // before the orders of the same or a later time.
  merger.add(
      batch_of("orders",
               {json(0, 10, "u1", R"({"order_id": 1})"), json(1, 20, "u2", R"({"order_id": 2})"),
                json(2, 30, "u3", R"({"order_id": 3})"), json(3, 55, "u2", R"({"order_id": 4})"),
                json(4, 60, "u1", R"({"order_id": 5})"), json(5, 70, "u1", R"({"order_id": 6})")},
               6),
      0);
  TaskOutput out;
  run_all(merger, *g, out);
  CHECK(out.records.empty());  // users may have data: wait for it
  merger.add(
      batch_of("users",
               {json(0, 0, "u1", R"({"name": "Alice"})"), json(1, 0, "u2", R"({"name": "Bob"})"),
                json(2, 1, "u9", "{not json"), json(3, 50, "u2", std::nullopt),
                json(4, 60, "u1", R"({"name": "Alice B"})")},
               5),
      0);
  run_all(merger, *g, out);
  CHECK_FALSE(merger.has_buffered());

  auto codec = make_json_codec();
  std::vector<std::pair<int64_t, Value>> enriched;  // order id -> name
  std::vector<std::pair<std::string, Value>> counts;
  for (const auto& o : out.records) {
    REQUIRE(o.value);
    auto v = codec->decode(*o.value);
    REQUIRE(v);
    if (o.topic == "enriched-orders") {
      enriched.emplace_back(member(*v, "order_id")->to_int64(), member_or_null(*v, "name"));
      CHECK(*o.key == member(*v, "user_id")->as_string());
    } else {
      REQUIRE(o.topic == "order-counts");
      counts.emplace_back(*o.key, *v);
    }
    REQUIRE(!sent_headers(o).empty());
    CHECK(sent_headers(o).front().name == kProvenanceHeader);
  }
  std::vector<std::pair<int64_t, Value>> want_enriched = {{1, S("Alice")},   {2, S("Bob")},
                                                          {3, Value()},      {4, Value()},
                                                          {5, S("Alice B")}, {6, S("Alice B")}};
  CHECK(enriched == want_enriched);
  std::vector<std::pair<std::string, Value>> want_counts = {
      {"u1", I(1)}, {"u2", I(1)}, {"u3", I(1)}, {"u2", I(2)}, {"u1", I(2)}, {"u1", I(3)}};
  CHECK(counts == want_counts);
  // Order 5 came from orders offset 4.
  const auto& o5 = out.records[8];
  CHECK(sent_headers(o5).front().value == std::optional<std::string>("orders:0:4"));

  REQUIRE(out.data_errors.size() == 1);
  CHECK(out.data_errors[0].error.context.topic == "users");
  CHECK(out.data_errors[0].error.context.offset == 2);
  CHECK(out.data_errors[0].raw_value == std::optional<std::string>("{not json"));
  CHECK(out.records_in == 11);
  CHECK(out.records_out == 12);

  // State: the users table and the counts, queryable by name.
  KTable* users = g->table("users");
  REQUIRE(users);
  CHECK(users->storage() == storage);
  CHECK(users->size() == 1);
  CHECK(member_or_null(*users->get(S("u1")), "name") == S("Alice B"));
  KTable* order_counts = g->table("order-counts");
  REQUIRE(order_counts);
  CHECK(order_counts->get(S("u1")) == std::optional<Value>(I(3)));
  auto stores = g->stores();
  REQUIRE(stores.size() == 2);
  CHECK(stores[0]->name() == "users");
  CHECK(stores[1]->name() == "order-counts");
}

TEST_CASE("topology: with the output cache on, a table's sink writes each key's latest record once",
          "[topology]") {
  Topology topo = orders_topology();
  std::unique_ptr<TaskGraph> g = topo.instantiate(PartitionId{0});
  REQUIRE(g);
  CHECK(g->has_table_sinks());  // order-counts; enriched-orders is a stream's
  auto counts_of = [](const TaskOutput& out) {
    auto codec = make_json_codec();
    std::vector<std::pair<std::string, Value>> counts;
    for (const auto& o : out.records) {
      if (o.topic != "order-counts") continue;
      auto v = codec->decode(*o.value);
      REQUIRE(v);
      counts.emplace_back(*o.key, *v);
    }
    return counts;
  };
  auto enriched_in = [](const TaskOutput& out) {
    size_t n = 0;
    for (const auto& o : out.records) n += o.topic == "enriched-orders";
    return n;
  };
  std::vector<RawRecord> orders = {
      json(0, 10, "u1", R"({"order_id": 1})"), json(1, 20, "u2", R"({"order_id": 2})"),
      json(2, 30, "u1", R"({"order_id": 3})"), json(3, 40, "u1", R"({"order_id": 4})")};

  SECTION("off (the default): every update is written") {
    TaskOutput out;
    g->process("orders", orders.data(), orders.data() + orders.size(), out);
    CHECK(counts_of(out).size() == 4);
    CHECK(out.records_cached == 0);
    CHECK(g->output_cache_records() == 0);
  }

  SECTION("on: the stream's records at once, the counts at the flush") {
    g->set_output_cache(true);
    TaskOutput out;
    g->process("orders", orders.data(), orders.data() + orders.size(), out);
    CHECK(enriched_in(out) == 4);
    CHECK(counts_of(out).empty());
    CHECK(out.records_cached == 4);
    CHECK(out.records_out == 4);
    CHECK(g->output_cache_records() == 2);
    const size_t bytes = g->output_cache_bytes();
    CHECK(bytes > 0);
    // The state is current: only its writing waits.
    CHECK(g->table("order-counts")->get(S("u1")) == std::optional<Value>(I(3)));

    // Another run: u2 again, u3 new; the cache keeps u1 and u2 in place.
    std::vector<RawRecord> more = {json(4, 50, "u2", R"({"order_id": 5})"),
                                   json(5, 60, "u3", R"({"order_id": 6})")};
    out.clear();
    g->process("orders", more.data(), more.data() + more.size(), out);
    CHECK(counts_of(out).empty());
    CHECK(g->output_cache_records() == 3);
    CHECK(g->output_cache_bytes() > bytes);

    out.clear();
    g->flush_output_cache(out);
    std::vector<std::pair<std::string, Value>> want = {{"u1", I(3)}, {"u2", I(2)}, {"u3", I(1)}};
    CHECK(counts_of(out) == want);
    CHECK(enriched_in(out) == 0);
    REQUIRE(out.records.size() == 3);
    // Each carries the provenance of the input that made its latest value.
    CHECK(sent_headers(out.records[0]).front().value == std::optional<std::string>("orders:0:3"));
    CHECK(sent_headers(out.records[1]).front().value == std::optional<std::string>("orders:0:4"));
    CHECK(out.records_out == 9);
    CHECK(g->output_cache_records() == 0);
    CHECK(g->output_cache_bytes() == 0);
    out.clear();
    g->flush_output_cache(out);
    CHECK(out.records.empty());

    // Dropped (a rewind): nothing of it is written.
    g->process("orders", more.data(), more.data() + more.size(), out);
    CHECK(g->output_cache_records() == 2);
    g->drop_output_cache();
    out.clear();
    g->flush_output_cache(out);
    CHECK(out.records.empty());
  }
}

TEST_CASE("topology: topics, co-partition groups, describe", "[topology]") {
  Topology topo = orders_topology();
  CHECK(topo.source_topics() == std::vector<std::string>{"users", "orders"});
  CHECK(topo.table_topics() == std::vector<std::string>{"users"});
  CHECK(topo.sink_topics() == std::vector<std::string>{"enriched-orders", "order-counts"});
  CHECK(topo.repartition_topics().empty());
  CHECK(topo.copartition_groups() == std::vector<std::vector<std::string>>{{"orders", "users"}});
  CHECK(topo.describe().find("left-join") != std::string::npos);
}

// A topology built with the C++ API that writes a topic it reads again
// (directly, or through another chain) is refused by validate(), which
// Application::start and the TestDriver call, with the loop named; lookups
// (a join's table) close no loop.
TEST_CASE("topology: a sink writing a topic the topology reads again is refused", "[topology]") {
  Topology direct;
  direct.stream("a", test::text_serdes()).to("a", test::text_serdes());
  auto refused = direct.validate();
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message ==
        "topology: it writes a topic it reads again, so every record would go round for ever: "
        "a -> a");
  CHECK(direct.topic_cycle() == std::vector<std::string>{"a", "a"});

  Topology through;
  through.stream("a", test::text_serdes()).to("b", test::text_serdes());
  through.stream("b", test::text_serdes())
      .filter([](const Record&) { return true; })
      .to("a", test::text_serdes());
  CHECK(through.topic_cycle() == std::vector<std::string>{"a", "b", "a"});
  CHECK_FALSE(through.validate());

  // Writing the topic of a table that a join only looks up: no loop.
  Topology lookup;
  auto users = lookup.table("users", test::text_serdes());
  lookup.stream("clicks", test::text_serdes())
      .join(users, [](const Record& r, const Value*) { return r.value; })
      .to("users", test::text_serdes());
  CHECK(lookup.topic_cycle().empty());
  CHECK(lookup.validate());
  CHECK(lookup.topic_flows() == Topology::TopicFlows{{"clicks", {"users"}}, {"users", {}}});
}

TEST_CASE("topology: group_by a new key goes through a repartition topic", "[topology]") {
  Topology topo;
  auto clicks = topo.stream("clicks", test::text_serdes());
  auto pages = topo.table("pages", test::text_serdes());
  // Re-key by the clicked page (the value) and count per page.
  auto per_page = clicks.group_by([](const Record& r) { return r.value; }, "by-page");
  per_page.count("page-counts").to("page-counts", test::text_serdes());
  REQUIRE(topo.validate());
  CHECK(topo.repartition_topics() == std::vector<std::string>{"by-page-repartition"});
  CHECK(topo.source_topics() == std::vector<std::string>{"clicks", "pages", "by-page-repartition"});

  auto g = topo.instantiate(PartitionId{1});
  REQUIRE(g);
  TaskOutput out;
  std::vector<RawRecord> in = {test::raw(0, "user1", "home"), test::raw(1, "user2", "about"),
                               test::raw(2, "user3", "home")};
  g->process("clicks", in.data(), in.data() + in.size(), out);
  // Nothing is counted yet: the records went to the repartition topic, keyed
  // by page (msgpack, the internal format), for the partitioner to route.
  REQUIRE(out.records.size() == 3);
  for (const auto& o : out.records) CHECK(o.topic == "by-page-repartition");
  CHECK(*from_msgpack(*out.records[0].key) == S("home"));
  CHECK(*from_msgpack(*out.records[1].value) == S("about"));

  // Read back (here by the same task), they are counted per page.
  std::vector<RawRecord> back;
  for (size_t i = 0; i < out.records.size(); ++i) {
    back.push_back(test::raw(int64_t(i), out.records[i].key, out.records[i].value));
  }
  TaskOutput out2;
  REQUIRE(g->process("by-page-repartition", back.data(), back.data() + back.size(), out2));
  std::map<std::string, std::string> last;
  for (const auto& o : out2.records) {
    if (o.topic == "page-counts") last[*o.key] = *o.value;
  }
  CHECK(last == std::map<std::string, std::string>{{"home", "2"}, {"about", "1"}});
  CHECK(g->table("page-counts")->get(S("home")) == std::optional<Value>(I(2)));
}

// Clicks re-keyed by user (their value) through "by-user-repartition",
// joined with the users table, to "out".
Topology clicks_by_user_join() {
  Topology topo;
  auto users = topo.table("users", test::text_serdes());
  auto clicks = topo.stream("clicks", test::text_serdes());
  auto by_user = topo.add_repartition(
      clicks.select_key([](const Record& r) { return r.value; }).node(), "by-user");
  KStream(topo, by_user)
      .join(users, [](const Record&, const Value* u) { return *u; })
      .to("out", test::text_serdes());
  return topo;
}

TEST_CASE("topology: joins after a repartition are co-partitioned with the table", "[topology]") {
  Topology topo = clicks_by_user_join();
  REQUIRE(topo.validate());
  CHECK(topo.copartition_groups() ==
        std::vector<std::vector<std::string>>{{"by-user-repartition", "users"}});
}

TEST_CASE("topology: scoped_to names repartition topics by the application id", "[topology]") {
  Topology topo = clicks_by_user_join();
  REQUIRE(topo.validate());

  const Topology scoped = topo.scoped_to("shop");
  CHECK(scoped.repartition_topics() == std::vector<std::string>{"shop-by-user-repartition"});
  CHECK(scoped.source_topics() ==
        std::vector<std::string>{"users", "clicks", "shop-by-user-repartition"});
  CHECK(scoped.sink_topics() == std::vector<std::string>{"shop-by-user-repartition", "out"});
  CHECK(scoped.copartition_groups() ==
        std::vector<std::vector<std::string>>{{"shop-by-user-repartition", "users"}});
  CHECK(scoped.unscoped_repartition_topics() ==
        std::vector<std::pair<std::string, std::string>>{
            {"shop-by-user-repartition", "by-user-repartition"}});
  // The original is untouched; scoping again starts from the unscoped names.
  CHECK(topo.repartition_topics() == std::vector<std::string>{"by-user-repartition"});
  CHECK(topo.unscoped_repartition_topics().empty());
  CHECK(scoped.scoped_to("other").repartition_topics() ==
        std::vector<std::string>{"other-by-user-repartition"});
  CHECK(scoped.scoped_to("").repartition_topics() ==
        std::vector<std::string>{"by-user-repartition"});

  // The task writes and reads the scoped topic; its replay marks keep the
  // unscoped name, which checkpoints of either naming hold.
  auto g = scoped.instantiate(PartitionId{0});
  REQUIRE(g);
  bool marks = false;
  for (auto* s : g->stores()) marks |= s->name() == "rivulet.replay-marks/by-user-repartition";
  CHECK(marks);
  TaskOutput out;
  std::vector<RawRecord> in = {test::raw(0, "c1", "u1")};
  g->process("clicks", in.data(), in.data() + in.size(), out);
  REQUIRE(out.records.size() == 1);
  CHECK(out.records[0].topic == "shop-by-user-repartition");

  // A two-phase GROUP BY: its pre-aggregation writes the scoped topic, and
  // the store of where a restore looks back at it keeps the unscoped name.
  Topology counted;
  auto keyed = counted.stream("clicks", test::text_serdes())
                   .select_key([](const Record& r) { return r.value; }, "by-page-key");
  AggregateSpec count;
  count.functions.push_back(AggregateFn::count());
  counted.add_two_phase_aggregate(keyed.node(), "by-page", "page-counts", count, std::nullopt,
                                  false);
  REQUIRE(counted.validate());
  auto cg = counted.scoped_to("shop").instantiate(PartitionId{0});
  REQUIRE(cg);
  REQUIRE(cg->pre_aggregates().size() == 1);
  CHECK(cg->pre_aggregates()[0]->repartition_topic() == "shop-by-page-repartition");
  REQUIRE(cg->pre_aggregates()[0]->look_back() != nullptr);
  bool look_back = false;
  for (auto* s : cg->stores()) look_back |= s->name() == "rivulet.look-back/by-page-repartition";
  CHECK(look_back);
  // Before a snapshot the task hands it what its producer saw acknowledged,
  // and the pre-aggregation's horizons.
  cg->pre_aggregates()[0]->set_horizon({"clicks", PartitionId{0}}, 17);
  cg->note_acknowledged([](const std::string& topic) {
    return topic == "shop-by-page-repartition" ? std::vector<int64_t>{9, 4}
                                               : std::vector<int64_t>{};
  });
  CHECK(cg->pre_aggregates()[0]->look_back()->starts() == std::vector<int64_t>{9, 4});
  CHECK(cg->pre_aggregates()[0]->look_back()->horizons() ==
        std::map<TopicPartition, int64_t>{{{"clicks", PartitionId{0}}, 17}});
}

TEST_CASE("topology: inputs are grouped by sub-topology, split at repartition topics",
          "[topology]") {
  auto groups = [](const Topology& topo) {
    auto g = topo.instantiate(PartitionId{0});
    REQUIRE(g);
    std::vector<std::pair<std::string, size_t>> out;
    for (const auto& in : g->inputs()) out.emplace_back(in.topic, in.group);
    return out;
  };
  using Groups = std::vector<std::pair<std::string, size_t>>;
  // A stream-table join: the table's store is used by the join, one group.
  CHECK(groups(orders_topology()) == Groups{{"users", 0}, {"orders", 0}});

  // Joined after a repartition: the repartition topic's source joins the
  // table (their store), the stream that feeds the repartition is apart.
  {
    CHECK(groups(clicks_by_user_join()) ==
          Groups{{"users", 0}, {"clicks", 1}, {"by-user-repartition", 0}});
  }
  // Re-keyed and counted (Yahoo's shape): the count reads the repartition
  // topic alone; an unused table is a group of its own.
  {
    Topology topo;
    auto clicks = topo.stream("clicks", test::text_serdes());
    topo.table("pages", test::text_serdes());
    clicks.group_by([](const Record& r) { return r.value; }, "by-page")
        .count("page-counts")
        .to("page-counts", test::text_serdes());
    CHECK(groups(topo) == Groups{{"clicks", 0}, {"pages", 1}, {"by-page-repartition", 2}});
  }
}

TEST_CASE("topology: builder mistakes are reported, not thrown", "[topology]") {
  {
    Topology other;
    auto foreign = other.table("users", test::text_serdes());
    Topology topo;
    topo.stream("orders", test::text_serdes())
        .join(foreign, [](const Record& r, const Value*) { return r.value; })
        .to("out", test::text_serdes());
    auto v = topo.validate();
    REQUIRE_FALSE(v);
    CHECK(v.error().message.find("unknown table users") != std::string::npos);
    CHECK(topo.instantiate(PartitionId{0}) == nullptr);
  }
  {
    Topology topo;
    topo.stream("orders", test::text_serdes());
    topo.stream("orders", test::text_serdes());
    auto v = topo.validate();
    REQUIRE_FALSE(v);
    CHECK(v.error().message.find("read twice") != std::string::npos);
  }
  {
    Topology topo;
    CHECK_FALSE(topo.validate());  // no input
    topo.stream("orders", Serdes{test::text_codec(), nullptr});
    CHECK(topo.validate().error().message.find("without a codec") != std::string::npos);
  }
}

TEST_CASE("topology: every task gets its own codecs and state", "[topology]") {
  Topology topo;
  auto t = topo.table("t", test::text_serdes());
  topo.stream("s", test::text_serdes())
      .filter([](const Record&) { return true; })
      .to("out", test::text_serdes());
  int before = test::TextCodec::instances;
  auto g0 = topo.instantiate(PartitionId{0});
  auto g1 = topo.instantiate(PartitionId{1});
  REQUIRE(g0);
  REQUIRE(g1);
  CHECK(test::TextCodec::instances - before == 2 * 6);  // two sources and a sink, key + value
  std::vector<RawRecord> in = {test::raw(0, "k", "v")};
  TaskOutput out;
  g0->process("t", in.data(), in.data() + 1, out);
  CHECK(g0->table("t")->size() == 1);
  CHECK(g1->table("t")->size() == 0);
  CHECK(g1->partition() == PartitionId{1});
  g0.reset();
  g1.reset();
  CHECK(test::TextCodec::instances == before);
}

TEST_CASE("topology: the low-level API builds the same nodes from closures and specs",
          "[topology]") {
  Topology topo;
  auto src = topo.add_source("orders", test::text_serdes());
  auto users_src = topo.add_source("users", test::text_serdes(), true);
  topo.add_table(users_src, "users");
  auto f = topo.add_processor("keep-a", {src}, [](BuildContext& c) {
    return std::make_unique<FilterNode<FilterFn>>(
        c.node_name(), [](const Record& r) { return r.value.as_string().rfind("a", 0) == 0; });
  });
  auto j =
      topo.add_stream_table_join(f, "users", JoinType::Inner, [](const Record& s, const Value* u) {
        return S(s.value.as_string() + "@" + u->as_string());
      });
  AggregateSpec spec;
  spec.functions.push_back(AggregateFn::count());
  auto agg = topo.add_aggregate(j, "per-user", spec, false);
  topo.add_sink(j, "joined", test::text_serdes());
  topo.add_sink(agg, "counts", test::text_serdes());
  REQUIRE(topo.validate());
  auto g = topo.instantiate(PartitionId{0});
  REQUIRE(g);
  CHECK(g->table("per-user") == nullptr);  // not queryable
  CHECK(g->aggregate_store("per-user") != nullptr);
  CHECK(g->inputs()[1].is_table);

  TaskOutput out;
  std::vector<RawRecord> users = {test::raw(0, "u1", "Alice")};
  std::vector<RawRecord> orders = {test::raw(0, "u1", "apple"), test::raw(1, "u1", "pear"),
                                   test::raw(2, "u2", "avocado"), test::raw(3, "u1", "apricot")};
  g->process(1, users.data(), users.data() + 1, out);
  g->process(0, orders.data(), orders.data() + orders.size(), out);
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& o : out.records) got.emplace_back(o.topic, *o.value);
  // Each child takes the whole batch in turn, in the order the children were
  // added: the aggregation (and its sink), then the join's sink.
  CHECK(got == std::vector<std::pair<std::string, std::string>>{{"counts", "1"},
                                                                {"counts", "2"},
                                                                {"joined", "apple@Alice"},
                                                                {"joined", "apricot@Alice"}});
}

}  // namespace
}  // namespace rivulet

namespace rivulet {
namespace {

TEST_CASE("topology: decoded records can be pushed past the codecs", "[topology]") {
  Topology topo;
  auto users = topo.table("users", test::text_serdes());
  topo.stream("orders", test::text_serdes())
      .join(users, [](const Record& o,
                      const Value* u) { return S(o.value.as_string() + "@" + u->as_string()); })
      .to("out", test::text_serdes());
  auto g = topo.instantiate(PartitionId{0});
  REQUIRE(g);
  TaskOutput out;
  Batch users_in = {test::record(S("u1"), S("Alice"), 0, 0, "users")};
  g->process(0, users_in, out);
  Batch orders_in = {test::record(S("u1"), S("tea"), 5, 3, "orders"),
                     test::record(S("u2"), S("cake"), 6, 4, "orders")};
  g->process(1, orders_in, out);
  REQUIRE(out.records.size() == 1);
  CHECK(*out.records[0].value == "tea@Alice");
  CHECK(sent_headers(out.records[0]).front().value == std::optional<std::string>("orders:0:3"));
  CHECK(out.records_in == 3);
}

}  // namespace
}  // namespace rivulet
