#pragma once
// Topology: the description of a stream processing application, built once
// and instantiated as one TaskGraph per partition task.
//
// The fluent C++ API:
//
//   rivulet::Topology topo;
//   auto users  = topo.table("users", rivulet::codecs::string_json());
//   auto orders = topo.stream("orders", rivulet::codecs::string_json());
//   orders.filter([](const rivulet::Record& r) { return !r.value.is_null(); })
//         .left_join(users, [](const rivulet::Record& order, const rivulet::Value* user) {
//           return enrich(order.value, user);
//         })
//         .to("enriched-orders", rivulet::codecs::string_json());
//   orders.group_by_key().count("order-counts").to("order-counts", serdes);
//   std::unique_ptr<rivulet::TaskGraph> task = topo.instantiate(rivulet::PartitionId{3});
//
// The same nodes are available through the low-level add_* calls, which take
// plain std::function closures and specs (the SQL planner's entry point).
//
// What is supported (operators/README.md has the details):
//  - streams: filter, map, map_values, select_key, flat_map, peek, to;
//  - tables from topics, queryable by name from any thread (TaskGraph::table);
//  - stream-table joins (inner, left) on the table's key;
//  - grouped aggregations of streams (count/sum/min/max/avg/custom, several
//    at once), by the record key or, through a repartition topic, by a new
//    key; results are a queryable table and a changelog stream.
//  - windowed aggregations (tumbling, hopping, session; window.hpp);
//  - stream-stream joins over a join window (stream_join.hpp,
//    add_stream_join).
// Not (yet) in this API: table-table joins (the SQL planner builds them
// from processors), aggregations of tables (with subtractors), merge.
//
// A Topology is a cheap handle: copies share one description. Build it on
// one thread; once built, instantiate() may be called from any thread.
// Builder mistakes (an unknown table, a topic read twice) are recorded, not
// thrown: validate() returns the first, and instantiate() returns nullptr.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "operators/aggregation.hpp"
#include "operators/global_tables.hpp"
#include "operators/ktable.hpp"
#include "operators/processor.hpp"
#include "operators/serdes.hpp"
#include "operators/stateless_nodes.hpp"
#include "operators/table_nodes.hpp"
#include "operators/task_graph.hpp"
#include "operators/window.hpp"
#include "runtime/error.hpp"

namespace rivulet {

class KStream;
class KTableRef;
class KGroupedStream;

// What a processor factory may use while a TaskGraph is being built.
class BuildContext {
 public:
  PartitionId partition() const { return graph_.partition_; }
  const std::string& node_name() const { return node_name_; }
  // The task's KTable / aggregation store by name; nullptr when absent.
  std::shared_ptr<KTable> table(const std::string& name) const;
  std::shared_ptr<AggregateStore> aggregate_store(const std::string& name) const;
  std::shared_ptr<WindowStore> window_store(const std::string& name) const;
  // A store added with Topology::add_state_store; nullptr when absent.
  std::shared_ptr<StateStore> state_store(const std::string& name) const;
  // The history of table `table` when it keeps versions; nullptr otherwise.
  std::shared_ptr<VersionedTable> versions(const std::string& table) const;
  // A global table (Topology::add_global_table) of the GlobalTables given
  // to instantiate(); nullptr when absent or none was given.
  std::shared_ptr<const KTable> global_table(const std::string& name) const;

 private:
  friend class Topology;
  BuildContext(TaskGraph& graph, std::string node_name, std::vector<std::string>* used = nullptr)
      : graph_(graph), node_name_(std::move(node_name)), used_(used) {}
  // Notes that the node being built uses store `name` (its sub-topology).
  void use(const std::string& name) const {
    if (used_ != nullptr) used_->push_back(name);
  }
  TaskGraph& graph_;
  std::string node_name_;
  std::vector<std::string>* used_;
};

using ProcessorFactory = std::function<std::unique_ptr<Processor>(BuildContext&)>;

class Topology {
 public:
  using NodeId = size_t;

  Topology();

  // ---- Fluent API ----------------------------------------------------------

  KStream stream(std::string topic, Serdes serdes);
  // A table read from `topic`, materialized as the KTable `name` (default:
  // the topic's name) in the given storage (ktable.hpp: Decoded is the
  // fastest to join against while small, Encoded the smallest and fastest
  // to snapshot, Auto decoded until kAutoEncodeEntries rows, then encoded).
  KTableRef table(std::string topic, Serdes serdes, std::string name = "",
                  TableStorage storage = TableStorage::Auto);
  // A table that also keeps `history_retention_ms` of history
  // (versioned_table.hpp): stream-table joins against it are temporal, each
  // stream record joining the value valid at its own timestamp.
  KTableRef versioned_table(std::string topic, Serdes serdes, int64_t history_retention_ms,
                            std::string name = "");

  // ---- Low-level API -------------------------------------------------------

  NodeId add_source(std::string topic, Serdes serdes, bool is_table = false);
  // Materializes the parent's records into the KTable `store_name`.
  // history_retention_ms >= 0: the table also keeps versions (temporal
  // joins, versioned_table.hpp). window_keep_ms >= 0: the records are keyed
  // by windowed keys, and a window's row is deleted once the records' time
  // passes its end by more than that (MaterializeNode::keep_windows).
  NodeId add_table(NodeId parent, std::string store_name, TableStorage storage = TableStorage::Auto,
                   int64_t history_retention_ms = -1, int64_t window_keep_ms = -1);
  // A processor made per task by `factory`. `reads_tables`: the KTables it
  // reads (they must exist; their inputs must be co-partitioned with its).
  NodeId add_processor(std::string name, std::vector<NodeId> parents, ProcessorFactory factory,
                       std::vector<std::string> reads_tables = {});
  NodeId add_stream_table_join(NodeId stream, const std::string& table, JoinType type,
                               Joiner joiner);
  // Aggregates the parent's records by key into the store `store_name`;
  // `queryable`: also keep the results in a KTable of that name.
  NodeId add_aggregate(NodeId parent, std::string store_name, AggregateSpec spec,
                       bool queryable = true);
  // Aggregates the parent's records by key and window (window.hpp) into the
  // window store `store_name`; the node's records are the results, keyed by
  // windowed keys (encode them with codecs::windowed).
  NodeId add_windowed_aggregate(NodeId parent, std::string store_name, AggregateSpec spec,
                                WindowSpec window);
  // A GROUP BY through a repartition topic in two phases
  // (operators/partial_aggregate.hpp): the parent's records (keyed by their
  // group) become partial aggregates, go through the topic
  // "<repartition_name>-repartition" (prefixed by the application id when
  // an Application runs it: scoped_to) and are merged into the store
  // `store_name` (windowed when `window` is given; not session windows).
  // Every function must merge: built-in, or custom with a merger. Returns
  // the aggregation node (its records are the results, as add_aggregate's
  // and add_windowed_aggregate's). Results equal the one-phase plan's;
  // with the output cache on, a task combines each group's records between
  // flushes and the topic carries one partial per group and flush.
  NodeId add_two_phase_aggregate(NodeId parent, const std::string& repartition_name,
                                 std::string store_name, AggregateSpec spec,
                                 std::optional<WindowSpec> window, bool queryable = false);
  // A task-local state store of another kind (stream-stream join windows):
  // `make()` builds it per task; processors find it with
  // BuildContext::state_store(name); it is checkpointed with the others.
  void add_state_store(std::string name, std::function<std::shared_ptr<StateStore>()> make);
  // A sink of a table's changelog (`table`: only the latest record per key
  // matters) may hold its records in the task's output cache
  // (TaskGraph::set_output_cache, statestore.cache.max.bytes); a stream's
  // sink writes every record.
  NodeId add_sink(NodeId parent, std::string topic, Serdes serdes, bool table = false);
  // Writes the parent's records to the topic "<name>-repartition" (keyed by
  // their current key, so they land in the partition of that key) and
  // returns the source that reads them back, a new input of every task.
  // In a scoped topology the topic is "<application id>-<name>-repartition".
  NodeId add_repartition(NodeId parent, const std::string& name,
                         Serdes serdes = codecs::internal());

  // A copy whose repartition topics are "<application_id>-<name>-repartition"
  // (Kafka Streams' naming): two applications that run queries of the same
  // name then never share one. Application scopes its topology with its
  // application.id; "" gives back the unscoped names. The replay marks of a
  // repartition topic keep its unscoped name as their store's, so that
  // checkpoints of either naming restore. The copy shares nothing mutable
  // with this topology.
  Topology scoped_to(const std::string& application_id) const;
  // Puts back everything `snapshot` (a scoped_to() copy of this topology
  // taken earlier) holds, in place, so that every copy of this topology
  // sees it: the SQL engine undoes a query refused half-way through
  // planning with it.
  void restore(const Topology& snapshot);
  // Each repartition topic of a scoped topology with the name it had before
  // scoping ({scoped, unscoped}), for a restore that finds a checkpoint of
  // the unscoped one (Application). Empty when unscoped.
  std::vector<std::pair<std::string, std::string>> unscoped_repartition_topics() const;

  // A global table (global_tables.hpp): `topic` materialized in full, from
  // every partition, as the read-only KTable `name` shared by the tasks of
  // a node. Not a task input: no co-partitioning, not in source_topics(),
  // not checkpointed. Adding the same name again is a no-op (a different
  // topic under that name is a builder error).
  void add_global_table(std::string name, std::string topic, Serdes serdes);
  const std::vector<GlobalTableSpec>& global_tables() const;

  // A fresh node name: "<kind>-<number>".
  std::string next_name(const std::string& kind) const;

  // ---- Inspection ----------------------------------------------------------

  // The first builder error, or true. Also refused: no input, and a loop
  // over topics (topic_cycle(): a sink writing a topic the topology reads
  // again), which Application::start and the TestDriver would otherwise
  // process for ever.
  Expected<bool> validate() const;
  // A TaskGraph for one partition task; nullptr when validate() fails.
  std::unique_ptr<TaskGraph> instantiate(PartitionId partition) const;
  // The same with the node's global tables (required when the topology
  // declares any: a processor reading a missing one fails the build).
  std::unique_ptr<TaskGraph> instantiate(PartitionId partition,
                                         std::shared_ptr<GlobalTables> globals) const;

  // Every topic read (tables, streams, repartition topics), in input order.
  std::vector<std::string> source_topics() const;
  std::vector<std::string> table_topics() const;
  // Every topic written, repartition topics included.
  std::vector<std::string> sink_topics() const;
  // A loop over topics: a topic whose records reach (through the nodes,
  // repartition topics and other queries of this topology) a sink that
  // writes it again, so that every record would be processed again for
  // ever. The topics in order, the first again at the end ("s", "a", "s");
  // empty when there is none. Lookups (a join's table side, a subquery's
  // table) read without triggering anything, so they close no loop.
  std::vector<std::string> topic_cycle() const;
  // The edges topic_cycle() follows: each topic a source reads -> the
  // topics written downstream of it. Merged over several topologies (the
  // SQL shell's running queries, each an application of its own), they
  // find a loop that no one of them makes alone (find_topic_cycle).
  using TopicFlows = std::map<std::string, std::set<std::string>>;
  TopicFlows topic_flows() const;
  // How many partitions an output topic gets when the application creates
  // it (ksqlDB: a result's WITH (PARTITIONS=n), else its first source's):
  // `partitions` when positive, else the count of the input topic `like`;
  // without a hint, or when neither is known, the task count.
  struct OutputPartitions {
    int32_t partitions = 0;
    std::string like;
  };
  void set_output_partitions(const std::string& topic, OutputPartitions hint);
  std::optional<OutputPartitions> output_partitions(const std::string& topic) const;
  // Internal topics the application must create (with the task count)
  // before it starts; they are also among the source and sink topics.
  std::vector<std::string> repartition_topics() const;
  // Sets of topics that must be co-partitioned (same partition count and
  // partitioner): the inputs upstream of each join, merged when joins share
  // inputs. Only sets of two or more topics.
  std::vector<std::vector<std::string>> copartition_groups() const;
  // One line per node: "name kind [topic] <- parents".
  std::string describe() const;
  // Which task holds a key of the KTable `store` (interactive queries): the
  // nearest source upstream of the store's writer, through first parents,
  // whose partition of a key's bytes (its key codec) is the task. nullopt
  // when there is no such table store.
  struct StoreOrigin {
    std::string topic;
    CodecFactory key;
  };
  std::optional<StoreOrigin> store_origin(const std::string& store) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// A stream of records in a Topology. Cheap to copy; every operation adds a
// node and returns a handle to it (a stream used twice fans out).
// A loop over `flows`' topics, as Topology::topic_cycle() gives it; empty
// when there is none.
std::vector<std::string> find_topic_cycle(const Topology::TopicFlows& flows);
// Why such a loop is refused, the loop named: "it writes a topic it reads
// again, so every record would go round for ever: a -> b -> a".
std::string topic_loop_reason(const std::vector<std::string>& loop);

class KStream {
 public:
  KStream(Topology topology, Topology::NodeId node) : topo_(std::move(topology)), node_(node) {}
  Topology::NodeId node() const { return node_; }

  // pred(const Record&) -> bool
  template <typename Pred>
  KStream filter(Pred pred, std::string name = "") const {
    return add("filter", std::move(name), [pred](BuildContext& c) {
      return std::make_unique<FilterNode<Pred>>(c.node_name(), pred);
    });
  }
  // fn(Record&): rewrites the record in place.
  template <typename Fn>
  KStream map(Fn fn, std::string name = "") const {
    return add("map", std::move(name),
               [fn](BuildContext& c) { return std::make_unique<MapNode<Fn>>(c.node_name(), fn); });
  }
  // fn(const Record&) -> Value: the new value.
  template <typename Fn>
  KStream map_values(Fn fn, std::string name = "") const {
    return add("map-values", std::move(name), [fn](BuildContext& c) {
      return std::make_unique<MapValuesNode<Fn>>(c.node_name(), fn);
    });
  }
  // fn(const Record&) -> Value: the new key. Joins and aggregations after a
  // re-key need a repartition (group_by does it).
  template <typename Fn>
  KStream select_key(Fn fn, std::string name = "") const {
    return add("select-key", std::move(name), [fn](BuildContext& c) {
      return std::make_unique<SelectKeyNode<Fn>>(c.node_name(), fn);
    });
  }
  // fn(const Record&, Batch& out): appends 0..n records.
  template <typename Fn>
  KStream flat_map(Fn fn, std::string name = "") const {
    return add("flat-map", std::move(name), [fn](BuildContext& c) {
      return std::make_unique<FlatMapNode<Fn>>(c.node_name(), fn);
    });
  }
  // fn(const Record&): observes.
  template <typename Fn>
  KStream peek(Fn fn, std::string name = "") const {
    return add("peek", std::move(name),
               [fn](BuildContext& c) { return std::make_unique<PeekNode<Fn>>(c.node_name(), fn); });
  }
  // joiner(const Record& stream, const Value* table_value) -> Value; the
  // table is looked up by this stream's key.
  template <typename J>
  KStream join(const KTableRef& table, J joiner, std::string name = "") const;
  template <typename J>
  KStream left_join(const KTableRef& table, J joiner, std::string name = "") const;

  KGroupedStream group_by_key() const;
  // Groups by a new key: re-keys, then goes through the topic
  // "<name>-repartition" (name defaults to a generated one), which an
  // Application names "<application.id>-<name>-repartition".
  template <typename Fn>
  KGroupedStream group_by(Fn key_fn, std::string name = "",
                          Serdes serdes = codecs::internal()) const;

  void to(std::string topic, Serdes serdes) const;

 private:
  friend class KTableRef;
  KStream add(const std::string& kind, std::string name, ProcessorFactory factory,
              std::vector<std::string> reads_tables = {}) const;
  template <typename J>
  KStream join_impl(const KTableRef& table, JoinType type, J joiner, std::string name) const;

  Topology topo_;
  Topology::NodeId node_;
};

// A table: a table topic's KTable or an aggregation's results. Its name
// finds the task's KTable (TaskGraph::table).
class KTableRef {
 public:
  KTableRef(Topology topology, Topology::NodeId node, std::string name)
      : topo_(std::move(topology)), node_(node), name_(std::move(name)) {}
  const std::string& name() const { return name_; }
  Topology::NodeId node() const { return node_; }
  // The table's changelog: one record per update (null value: deleted).
  KStream to_stream() const { return KStream(topo_, node_); }
  // The table with fn(const Record&) -> Value as each row's value (a null
  // value, a deletion, stays null). Not materialized: its name finds no
  // KTable, so join against the table it maps instead.
  template <typename Fn>
  KTableRef map_values(Fn fn, std::string name = "") const {
    if (name.empty()) name = topo_.next_name("map-values");
    KStream mapped = to_stream().map_values(
        [fn](const Record& r) { return r.value.is_null() ? Value() : fn(r); }, name);
    return KTableRef(topo_, mapped.node(), std::move(name));
  }
  // Writes the changelog to `topic` as a table's sink (see add_sink).
  void to(std::string topic, Serdes serdes) const;

 private:
  Topology topo_;
  Topology::NodeId node_;
  std::string name_;
};

// A stream grouped by its key, ready to aggregate. Each aggregation is
// named (its store and queryable table); a generated name when empty.
class KGroupedStream {
 public:
  KGroupedStream(Topology topology, Topology::NodeId node)
      : topo_(std::move(topology)), node_(node) {}

  KTableRef count(std::string name = "") const;
  KTableRef sum(ValueFn input, std::string name = "") const;
  KTableRef min(ValueFn input, std::string name = "") const;
  KTableRef max(ValueFn input, std::string name = "") const;
  KTableRef avg(ValueFn input, std::string name = "") const;
  // Several functions at once, or custom ones.
  KTableRef aggregate(AggregateSpec spec, std::string name = "") const;
  // Per key and window (window.hpp): the results as a stream of windowed
  // keys (EMIT CHANGES: one per record and window; EMIT FINAL: one per
  // window when it closes).
  KStream windowed_aggregate(WindowSpec window, AggregateSpec spec, std::string name = "") const;
  KStream windowed_count(WindowSpec window, std::string name = "") const;
  // initializer() -> Value; adder(const Record&, const Value& aggregate) -> Value.
  KTableRef aggregate(std::function<Value()> initializer,
                      std::function<Value(const Record&, const Value&)> adder,
                      std::string name = "") const;

 private:
  Topology topo_;
  Topology::NodeId node_;
};

template <typename J>
KStream KStream::join(const KTableRef& table, J joiner, std::string name) const {
  return join_impl(table, JoinType::Inner, std::move(joiner), std::move(name));
}

template <typename J>
KStream KStream::left_join(const KTableRef& table, J joiner, std::string name) const {
  return join_impl(table, JoinType::Left, std::move(joiner), std::move(name));
}

template <typename J>
KStream KStream::join_impl(const KTableRef& table, JoinType type, J joiner,
                           std::string name) const {
  std::string table_name = table.name();
  return add(type == JoinType::Inner ? "join" : "left-join", std::move(name),
             [table_name, type, joiner](BuildContext& c) -> std::unique_ptr<Processor> {
               auto t = c.table(table_name);
               if (!t) return nullptr;
               return std::make_unique<StreamTableJoinNode<J>>(c.node_name(), std::move(t), type,
                                                               joiner, c.versions(table_name));
             },
             {table.name()});
}

template <typename Fn>
KGroupedStream KStream::group_by(Fn key_fn, std::string name, Serdes serdes) const {
  if (name.empty()) name = topo_.next_name("group-by");
  KStream rekeyed = select_key(std::move(key_fn), name + "-select-key");
  Topology topo = topo_;
  return KGroupedStream(topo, topo.add_repartition(rekeyed.node(), name, std::move(serdes)));
}

}  // namespace rivulet
