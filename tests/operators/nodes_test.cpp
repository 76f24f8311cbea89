#include <catch2/catch.hpp>
#include <stdexcept>

#include "operators/sink_node.hpp"
#include "operators/source_node.hpp"
#include "operators/stateless_nodes.hpp"
#include "operators/table_nodes.hpp"
#include "test_support.hpp"

namespace rivulet {
namespace {

using test::Collect;
using test::I;
using test::record;
using test::S;

Batch numbers(int n) {
  Batch b;
  for (int i = 0; i < n; ++i) b.push_back(record(I(i), I(i * 10), i, i));
  return b;
}

// What expressions note while a batch is processed (a SQL function that
// threw) is counted in the TaskOutput of the ProcessContext that processes
// it, the first logged; nested contexts keep their own.
TEST_CASE("a ProcessContext counts the expression failures noted on its thread", "[nodes]") {
  CHECK(thread_evaluation_notes() == nullptr);
  TaskOutput out;
  {
    ProcessContext ctx(out, PartitionId{0});
    REQUIRE(thread_evaluation_notes() != nullptr);
    thread_evaluation_notes()->note("MASK: boom");
    {
      TaskOutput inner;
      {
        ProcessContext nested(inner, PartitionId{1});
        thread_evaluation_notes()->note("inner");
      }
      CHECK(inner.expression_errors == 1);
    }
    thread_evaluation_notes()->note("MASK: again");
  }
  CHECK(thread_evaluation_notes() == nullptr);
  CHECK(out.expression_errors == 2);
  REQUIRE(out.first_skips.size() == 1);
  CHECK(out.first_skips[0].find("MASK: boom") != std::string::npos);
  {
    ProcessContext ctx(out, PartitionId{0});
    thread_evaluation_notes()->note("MASK: later");
  }
  CHECK(out.expression_errors == 3);
  CHECK(out.first_skips.size() == 1);  // the first only
  { ProcessContext quiet(out, PartitionId{0}); }
  CHECK(out.expression_errors == 3);
}

TEST_CASE("source decodes raw records and reports undecodable ones", "[nodes]") {
  SourceNode src("src", "orders", std::make_unique<test::TextCodec>(),
                 std::make_unique<test::TextCodec>());
  Collect sink;
  src.add_child(&sink);
  std::vector<RawRecord> in = {test::raw(10, "k1", "v1", 100), test::raw(11, "k2", "BAD", 101),
                               test::raw(12, std::nullopt, std::nullopt, 102),
                               test::raw(13, "BAD", "v4", 103)};
  in[0].headers.push_back(Header{"h", std::string("x")});
  TaskOutput out;
  ProcessContext ctx(out, PartitionId{3});
  src.process(in.data(), in.data() + in.size(), ctx);

  REQUIRE(sink.records.size() == 2);
  const Record& a = sink.records[0];
  CHECK(a.key == S("k1"));
  CHECK(a.value == S("v1"));
  CHECK(a.timestamp == 100);
  CHECK(a.headers == in[0].headers);
  CHECK(a.source.topic == "orders");
  CHECK(a.source.partition == PartitionId{3});
  CHECK(a.source.offset == Offset{10});
  CHECK(sink.records[1].key.is_null());  // null key and tombstone pass as nulls
  CHECK(sink.records[1].value.is_null());

  REQUIRE(out.data_errors.size() == 2);
  const DataError& e = out.data_errors[0];
  CHECK(e.error.kind == ErrorKind::Data);
  CHECK(e.error.context.operation == "decode value");
  CHECK(e.error.context.topic == "orders");
  CHECK(e.error.context.partition == 3);
  CHECK(e.error.context.offset == 11);
  CHECK(e.error.message == "undecodable text");
  CHECK(e.raw_key == std::optional<std::string>("k2"));
  CHECK(e.raw_value == std::optional<std::string>("BAD"));
  CHECK(out.data_errors[1].error.context.operation == "decode key");
  CHECK(out.data_errors[1].error.context.offset == 13);
}

TEST_CASE("filter keeps matching records in order, a throwing predicate drops one", "[nodes]") {
  FilterNode<FilterFn> f("f", [](const Record& r) {
    if (r.key.as_int64() == 3) throw std::runtime_error("boom");
    return r.key.as_int64() % 2 == 1;
  });
  Collect c;
  f.add_child(&c);
  TaskOutput out;
  ProcessContext ctx(out, PartitionId{0});
  Batch b = numbers(6);
  f.process(b, ctx);
  REQUIRE(c.records.size() == 2);
  CHECK(c.records[0].key == I(1));
  CHECK(c.records[1].key == I(5));
  REQUIRE(out.data_errors.size() == 1);
  CHECK(out.data_errors[0].error.context.operation == "filter");
  CHECK(out.data_errors[0].error.context.offset == 3);
  CHECK(out.data_errors[0].error.message == "boom");
}

TEST_CASE("map, map_values and select_key rewrite records", "[nodes]") {
  TaskOutput out;
  ProcessContext ctx(out, PartitionId{0});

  auto map = MapNode<MapFn>("m", [](Record& r) { r.timestamp += 1000; });
  auto values = MapValuesNode<ValueFn>("mv", [](const Record& r) {
    if (r.key.as_int64() == 1) throw std::invalid_argument("no");
    return I(r.value.as_int64() + 1);
  });
  auto rekey =
      SelectKeyNode<ValueFn>("sk", [](const Record& r) { return S("k" + r.key.to_string()); });
  Collect c;
  map.add_child(&values);
  values.add_child(&rekey);
  rekey.add_child(&c);
  Batch b = numbers(3);
  map.process(b, ctx);
  REQUIRE(c.records.size() == 2);
  CHECK(c.records[0].key == S("k0"));
  CHECK(c.records[0].value == I(1));
  CHECK(c.records[0].timestamp == 1000);
  CHECK(c.records[1].key == S("k2"));
  CHECK(c.records[1].value == I(21));
  REQUIRE(out.data_errors.size() == 1);
  CHECK(out.data_errors[0].error.context.operation == "map values");
}

TEST_CASE("flat_map expands records, a throwing call contributes nothing", "[nodes]") {
  auto fm = FlatMapNode<FlatMapFn>("fm", [](const Record& r, Batch& out) {
    for (int64_t i = 0; i < r.key.as_int64(); ++i) {
      if (r.key.as_int64() == 3 && i == 1) throw std::runtime_error("half way");
      out.push_back(record(r.key, I(i)));
    }
  });
  Collect c;
  fm.add_child(&c);
  TaskOutput out;
  ProcessContext ctx(out, PartitionId{0});
  Batch b = numbers(4);  // keys 0..3: 0 + 1 + 2 + (3 fails) records
  fm.process(b, ctx);
  REQUIRE(c.records.size() == 3);
  CHECK(c.records[0].key == I(1));
  CHECK(c.records[1].key == I(2));
  CHECK(c.records[2].value == I(1));
  CHECK(out.data_errors.size() == 1);
}

TEST_CASE("a node with several children gives each the whole batch", "[nodes]") {
  int seen = 0;
  PeekNode<PeekFn> p("p", [&](const Record&) { ++seen; });
  FilterNode<FilterFn> odd("odd", [](const Record& r) { return r.key.as_int64() % 2 == 1; });
  Collect a, b;
  p.add_child(&odd);
  odd.add_child(&a);
  p.add_child(&b);
  TaskOutput out;
  ProcessContext ctx(out, PartitionId{0});
  Batch batch = numbers(5);
  p.process(batch, ctx);
  CHECK(seen == 5);
  CHECK(a.records.size() == 2);
  CHECK(b.records.size() == 5);
}

TEST_CASE("materialize upserts, deletes on tombstones and forwards the changelog", "[nodes]") {
  auto table = std::make_shared<KTable>("users");
  MaterializeNode m("m", table);
  Collect c;
  m.add_child(&c);
  TaskOutput out;
  ProcessContext ctx(out, PartitionId{0});
  Batch b = {record(S("u1"), S("alice")), record(S("u2"), S("bob")), record(S("u1"), S("alice2")),
             record(S("u2"), Value()), record(Value(), S("nobody"), 0, 9)};
  m.process(b, ctx);
  CHECK(table->size() == 1);
  CHECK(table->get(S("u1")) == std::optional<Value>(S("alice2")));
  CHECK_FALSE(table->contains(S("u2")));
  CHECK(table->stats().updates_applied == 4);
  REQUIRE(c.records.size() == 4);
  CHECK(c.records[3].value.is_null());
  REQUIRE(out.data_errors.size() == 1);
  CHECK(out.data_errors[0].error.context.offset == 9);
}

TEST_CASE("a table of windows deletes each window past its end plus the kept time, also after "
          "a restore", "[nodes][window]") {
  auto table = std::make_shared<KTable>("pull-counts", TableStorage::Encoded);
  auto w = [](const char* k, int64_t start) {
    return windowed_key(S(k), WindowBounds{start, start + 10});
  };
  {
    MaterializeNode m("m", table);
    m.keep_windows(5);  // a window ending at 10 stays while the records' time is at most 15
    TaskOutput out;
    ProcessContext ctx(out, PartitionId{0});
    Batch b = {record(w("a", 0), I(1), 3), record(w("b", 0), I(1), 4),
               record(w("a", 10), I(1), 12)};
    m.process(b, ctx);
    CHECK(table->size() == 3);
    Batch at15 = {record(w("a", 10), I(2), 15)};
    m.process(at15, ctx);
    CHECK(table->size() == 3);  // end 10 + 5 is not before 15
    Batch at16 = {record(w("b", 10), I(1), 16)};
    m.process(at16, ctx);
    CHECK(table->size() == 2);  // both windows ending at 10 are gone
    CHECK_FALSE(table->contains(w("a", 0)));
    CHECK_FALSE(table->contains(w("b", 0)));
    CHECK(table->get(w("a", 10)) == std::optional<Value>(I(2)));
    CHECK(m.windows_expired() == 2);
    // A deleted window (a session merged away) is not deleted twice.
    Batch gone = {record(w("b", 10), Value(), 17)};
    m.process(gone, ctx);
    CHECK(table->size() == 1);
  }
  // A new node over the restored table indexes its rows first: the old
  // window goes once a later record comes.
  MaterializeNode restored("m", table);
  restored.keep_windows(5);
  TaskOutput out;
  ProcessContext ctx(out, PartitionId{0});
  Batch later = {record(w("c", 30), I(1), 31)};
  restored.process(later, ctx);
  CHECK_FALSE(table->contains(w("a", 10)));
  CHECK(table->contains(w("c", 30)));
  CHECK(table->size() == 1);
  CHECK(restored.windows_expired() == 1);
}

Value joiner(const Record& s, const Value* t) {
  return S(s.value.as_string() + "+" + (t ? t->as_string() : std::string("null")));
}

TEST_CASE("stream-table join, inner and left, follows tombstones", "[nodes]") {
  auto table = std::make_shared<KTable>("users");
  MaterializeNode users("m", table);
  StreamTableJoinNode<Joiner> inner("inner", table, JoinType::Inner, joiner);
  StreamTableJoinNode<Joiner> left("left", table, JoinType::Left, joiner);
  Collect ci, cl;
  inner.add_child(&ci);
  left.add_child(&cl);
  TaskOutput out;
  ProcessContext ctx(out, PartitionId{0});

  auto orders = [] {
    return Batch{record(S("u1"), S("o1"), 5, 1), record(S("u2"), S("o2"), 6, 2),
                 record(Value(), S("o3"), 7, 3)};
  };
  Batch t1 = {record(S("u1"), S("alice")), record(S("u2"), S("bob"))};
  users.process(t1, ctx);
  Batch s1 = orders(), s2 = orders();
  inner.process(s1, ctx);
  left.process(s2, ctx);
  REQUIRE(ci.records.size() == 2);
  CHECK(ci.records[0].value == S("o1+alice"));
  CHECK(ci.records[0].key == S("u1"));
  CHECK(ci.records[0].timestamp == 5);
  CHECK(ci.records[0].source.offset == Offset{1});
  CHECK(ci.records[1].value == S("o2+bob"));
  REQUIRE(cl.records.size() == 3);
  CHECK(cl.records[2].value == S("o3+null"));  // a null key never matches
  // The inner join needs the key: the null-keyed order is a data error.
  REQUIRE(out.data_errors.size() == 1);
  CHECK(out.data_errors[0].error.context.operation == "join");
  CHECK(out.data_errors[0].error.context.offset == 3);
  out.data_errors.clear();

  // u1 deleted, u2 updated.
  Batch t2 = {record(S("u1"), Value()), record(S("u2"), S("bobby"))};
  users.process(t2, ctx);
  ci.records.clear();
  cl.records.clear();
  Batch s3 = orders(), s4 = orders();
  inner.process(s3, ctx);
  left.process(s4, ctx);
  REQUIRE(ci.records.size() == 1);
  CHECK(ci.records[0].value == S("o2+bobby"));
  REQUIRE(cl.records.size() == 3);
  CHECK(cl.records[0].value == S("o1+null"));
  CHECK(cl.records[1].value == S("o2+bobby"));
  CHECK(out.data_errors.size() == 1);  // the null-keyed order again
}

// The join looks a batch's keys up a chunk at a time
// (KTable::find_local_many, then that chunk's joins): a batch of many chunks, with
// keys present, absent and null throughout, gives each record the answer
// of a lookup of its own, in order, in a decoded table and an encoded one.
TEST_CASE("stream-table join: a batch of many chunks joins each record with its own key",
          "[nodes]") {
  for (TableStorage storage : {TableStorage::Decoded, TableStorage::Encoded}) {
    auto table = std::make_shared<KTable>("users", storage);
    MaterializeNode users("m", table);
    TaskOutput out;
    ProcessContext ctx(out, PartitionId{0});
    Batch rows;
    for (int u = 0; u < 100; ++u) {
      if (u % 3 == 0) continue;  // absent
      rows.push_back(record(S("u" + std::to_string(u)),
                            test::row({{"name", S("user " + std::to_string(u))}, {"n", I(u)}})));
    }
    users.process(rows, ctx);
    auto orders = [] {
      Batch b;
      for (int o = 0; o < 300; ++o) {
        Value key = o % 5 == 4 ? Value() : S("u" + std::to_string((o * 7) % 100));
        b.push_back(record(std::move(key), I(o), o, o));
      }
      return b;
    };
    auto join = [](const Record& s, const Value* t) {
      const Value* name = t ? t->field("name") : nullptr;
      return S(std::to_string(s.value.to_int64()) + ":" + (name ? name->as_string() : "none"));
    };
    StreamTableJoinNode<Joiner> inner("inner", table, JoinType::Inner, join);
    StreamTableJoinNode<Joiner> left("left", table, JoinType::Left, join);
    Collect ci, cl;
    inner.add_child(&ci);
    left.add_child(&cl);
    Batch a = orders(), b = orders();
    inner.process(a, ctx);
    left.process(b, ctx);
    std::vector<Value> want_inner, want_left;
    size_t null_keys = 0;
    for (int o = 0; o < 300; ++o) {
      const int u = (o * 7) % 100;
      if (o % 5 == 4) {
        ++null_keys;
        want_left.push_back(S(std::to_string(o) + ":none"));
        continue;
      }
      const bool present = u % 3 != 0;
      const Value joined =
          S(std::to_string(o) + ":" + (present ? "user " + std::to_string(u) : "none"));
      if (present) want_inner.push_back(joined);
      want_left.push_back(joined);
    }
    REQUIRE(ci.records.size() == want_inner.size());
    for (size_t i = 0; i < want_inner.size(); ++i) CHECK(ci.records[i].value == want_inner[i]);
    REQUIRE(cl.records.size() == want_left.size());
    for (size_t i = 0; i < want_left.size(); ++i) CHECK(cl.records[i].value == want_left[i]);
    // The inner join's null keys are data errors, in their order.
    REQUIRE(out.data_errors.size() == null_keys);
    CHECK(out.data_errors.front().error.context.offset == 4);
    CHECK(out.data_errors.back().error.context.offset == 299);
  }
}

TEST_CASE("sink encodes records with provenance, encode failures are data errors", "[nodes]") {
  SinkNode sink("sink", "out", std::make_unique<test::TextCodec>(),
                std::make_unique<test::TextCodec>());
  TaskOutput out;
  ProcessContext ctx(out, PartitionId{2});
  Record a = record(S("k"), S("v"), 42, 7, "orders");
  a.headers.push_back(Header{"trace", std::string("t1")});
  Record b = record(S("k"), Value(), 43, 8, "orders");
  b.headers.push_back(Header{kProvenanceHeader, std::string("orders-repartition:0:1")});
  b.source.topic = "orders-repartition";
  Record c = record(S("k"), Value::boolean(true), 44, 9, "orders");
  Batch batch = {a, b, c};
  sink.process(batch, ctx);
  REQUIRE(out.records.size() == 2);
  const OutputRecord& o = out.records[0];
  CHECK(o.topic == "out");
  CHECK(o.key == std::optional<std::string>("k"));
  CHECK(o.value == std::optional<std::string>("v"));
  CHECK(o.timestamp == 42);
  CHECK_FALSE(o.partition);
  // The record's own headers, and its input, sent as the first header.
  REQUIRE(o.headers.size() == 1);
  CHECK(o.headers[0] == Header{"trace", std::string("t1")});
  REQUIRE(o.input);
  CHECK(o.input->topic == "orders");
  CHECK(o.input->offset == Offset{7});
  const Headers sent = sent_headers(o);
  REQUIRE(sent.size() == 2);
  CHECK(sent[0] == Header{kProvenanceHeader, std::string("orders:0:7")});
  CHECK(sent[1] == Header{"trace", std::string("t1")});
  // A tombstone stays null; the provenance header an input carried is
  // dropped for the output's own.
  CHECK_FALSE(out.records[1].value);
  CHECK(out.records[1].headers.empty());
  const Headers sent1 = sent_headers(out.records[1]);
  REQUIRE(sent1.size() == 1);
  CHECK(sent1[0] == Header{kProvenanceHeader, std::string("orders-repartition:0:8")});
  CHECK(out.records_out == 2);
  REQUIRE(out.data_errors.size() == 1);
  CHECK(out.data_errors[0].error.context.operation == "encode value");
  CHECK(out.data_errors[0].error.context.offset == 9);
}

}  // namespace
}  // namespace rivulet
