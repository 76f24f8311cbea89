#include "operators/topology.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "operators/sink_node.hpp"
#include "operators/source_node.hpp"

namespace rivulet {

namespace {
const char* const kRepartitionSuffix = "-repartition";
}  // namespace

struct Topology::State {
  enum class Kind { Source, Processor, Sink };

  struct NodeDesc {
    Kind kind = Kind::Processor;
    std::string name;
    std::string label;  // "filter", "join", "table", ... for describe()
    std::vector<NodeId> parents;
    std::string topic;  // Source, Sink
    bool is_table = false;
    bool internal = false;  // a repartition topic
    // A repartition topic's name within the topology ("<name>-repartition"),
    // which names its replay marks whatever prefix scoped_to() gave `topic`.
    std::string internal_name;
    Serdes serdes;
    ProcessorFactory factory;
    std::vector<std::string> reads_tables;
  };

  struct StoreDesc {
    std::string name;
    bool is_aggregate = false;
    bool queryable = true;  // aggregates: results kept in a KTable
    std::shared_ptr<const AggregateSpec> spec;
    std::shared_ptr<const WindowSpec> window;  // windowed aggregates
    TableStorage storage = TableStorage::Auto;          // tables
    std::function<std::shared_ptr<StateStore>()> make;  // add_state_store
    int64_t history_ms = -1;                       // tables: >= 0 keeps versions
    NodeId node = 0;                               // the node that writes it
  };

  std::vector<NodeDesc> nodes;
  std::vector<StoreDesc> stores;
  std::vector<GlobalTableSpec> globals;
  std::optional<Error> error;
  size_t name_counter = 0;
  std::string scope;  // scoped_to()'s application id ("" when unscoped)
  std::map<std::string, OutputPartitions> output_partitions;  // by sink topic

  // A repartition topic's name in this scope.
  std::string topic_of(const std::string& internal_name) const {
    return scope.empty() ? internal_name : scope + "-" + internal_name;
  }

  void fail(std::string message) {
    if (!error) error = Error::fatal("topology: " + std::move(message));
  }
  bool valid_parent(NodeId id, const char* what) {
    if (id >= nodes.size()) {
      fail(std::string(what) + ": unknown parent node " + std::to_string(id));
      return false;
    }
    if (nodes[id].kind == Kind::Sink) {
      fail(std::string(what) + ": a sink (" + nodes[id].name + ") cannot have children");
      return false;
    }
    return true;
  }
  const StoreDesc* store(const std::string& name) const {
    for (const auto& s : stores) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }
  bool has_table(const std::string& name) const {
    const StoreDesc* s = store(name);
    return s && (!s->is_aggregate || s->queryable);
  }
  NodeId push(NodeDesc d) {
    nodes.push_back(std::move(d));
    return nodes.size() - 1;
  }
  // Source topics upstream of `id` (through every parent).
  void upstream_sources(NodeId id, std::set<std::string>& out) const {
    const NodeDesc& n = nodes[id];
    if (n.kind == Kind::Source) {
      out.insert(n.topic);
      return;
    }
    for (NodeId p : n.parents) upstream_sources(p, out);
  }
};

Topology::Topology() : state_(std::make_shared<State>()) {}

std::string Topology::next_name(const std::string& kind) const {
  return kind + "-" + std::to_string(state_->name_counter++);
}

// ---- Low-level API -------------------------------------------------------------

Topology::NodeId Topology::add_source(std::string topic, Serdes serdes, bool is_table) {
  auto& st = *state_;
  if (topic.empty()) st.fail("a source needs a topic");
  for (const auto& n : st.nodes) {
    if (n.kind == State::Kind::Source && n.topic == topic) {
      st.fail("topic " + topic + " is read twice (use the first stream or table handle again)");
    }
  }
  if (!serdes.key || !serdes.value) st.fail("source " + topic + ": serdes without a codec");
  State::NodeDesc d;
  d.kind = State::Kind::Source;
  d.name = next_name(is_table ? "table-source" : "source");
  d.label = is_table ? "table-source" : "source";
  d.topic = std::move(topic);
  d.is_table = is_table;
  d.serdes = std::move(serdes);
  return st.push(std::move(d));
}

Topology::NodeId Topology::add_table(NodeId parent, std::string store_name, TableStorage storage,
                                    int64_t history_retention_ms, int64_t window_keep_ms) {
  auto& st = *state_;
  st.valid_parent(parent, "table");
  if (st.store(store_name)) st.fail("store name " + store_name + " is used twice");
  State::NodeDesc d;
  d.name = next_name("materialize");
  d.label = "table " + store_name;
  if (history_retention_ms >= 0) d.label += " (versioned)";
  if (window_keep_ms >= 0)
    d.label += " (windows kept " + std::to_string(window_keep_ms) + " ms past their end)";
  d.parents = {parent};
  d.factory = [store_name, window_keep_ms](BuildContext& c) -> std::unique_ptr<Processor> {
    auto t = c.table(store_name);
    if (!t) return nullptr;
    auto node = std::make_unique<MaterializeNode>(c.node_name(), std::move(t),
                                                  c.versions(store_name));
    if (window_keep_ms >= 0) node->keep_windows(window_keep_ms);
    return node;
  };
  NodeId id = st.push(std::move(d));
  State::StoreDesc s;
  s.name = std::move(store_name);
  s.storage = storage;
  s.history_ms = history_retention_ms;
  s.node = id;
  st.stores.push_back(std::move(s));
  return id;
}

Topology::NodeId Topology::add_processor(std::string name, std::vector<NodeId> parents,
                                         ProcessorFactory factory,
                                         std::vector<std::string> reads_tables) {
  auto& st = *state_;
  if (parents.empty()) st.fail("processor " + name + " has no parent");
  for (NodeId p : parents) st.valid_parent(p, name.c_str());
  for (const auto& t : reads_tables) {
    if (!st.has_table(t)) st.fail("processor " + name + " reads the unknown table " + t);
  }
  if (!factory) st.fail("processor " + name + " has no factory");
  State::NodeDesc d;
  d.name = name.empty() ? next_name("processor") : std::move(name);
  d.label = "processor";
  d.parents = std::move(parents);
  d.factory = std::move(factory);
  d.reads_tables = std::move(reads_tables);
  return st.push(std::move(d));
}

Topology::NodeId Topology::add_stream_table_join(NodeId stream, const std::string& table,
                                                 JoinType type, Joiner joiner) {
  std::string label = type == JoinType::Inner ? "join" : "left-join";
  NodeId id = add_processor(
      next_name(label), {stream},
      [table, type, joiner = std::move(joiner)](BuildContext& c) -> std::unique_ptr<Processor> {
        auto t = c.table(table);
        if (!t) return nullptr;
        return std::make_unique<StreamTableJoinNode<Joiner>>(c.node_name(), std::move(t), type,
                                                             joiner, c.versions(table));
      },
      {table});
  state_->nodes[id].label = label + " " + table;
  return id;
}

Topology::NodeId Topology::add_aggregate(NodeId parent, std::string store_name, AggregateSpec spec,
                                         bool queryable) {
  auto& st = *state_;
  st.valid_parent(parent, "aggregate");
  if (store_name.empty()) st.fail("an aggregation needs a store name");
  if (st.store(store_name)) st.fail("store name " + store_name + " is used twice");
  if (spec.functions.empty()) st.fail("aggregation " + store_name + " has no functions");
  for (const auto& f : spec.functions) {
    if (f.kind == AggregateKind::Custom && !f.adder) {
      st.fail("aggregation " + store_name + ": custom function " + f.name + " has no adder");
    }
  }
  State::NodeDesc d;
  d.name = next_name("aggregate");
  d.label = "aggregate " + store_name;
  d.parents = {parent};
  d.factory = [store_name](BuildContext& c) -> std::unique_ptr<Processor> {
    auto s = c.aggregate_store(store_name);
    if (!s) return nullptr;
    return std::make_unique<AggregateNode>(c.node_name(), std::move(s));
  };
  NodeId id = st.push(std::move(d));
  State::StoreDesc s;
  s.name = std::move(store_name);
  s.is_aggregate = true;
  s.queryable = queryable;
  s.spec = std::make_shared<const AggregateSpec>(std::move(spec));
  s.node = id;
  st.stores.push_back(std::move(s));
  return id;
}

Topology::NodeId Topology::add_windowed_aggregate(NodeId parent, std::string store_name,
                                                  AggregateSpec spec, WindowSpec window) {
  auto& st = *state_;
  auto ok = window.validate();
  if (!ok) st.fail("windowed aggregation " + store_name + ": " + ok.error().message);
  if (window.kind == WindowKind::Session) {
    for (const auto& f : spec.functions)
      if (f.kind == AggregateKind::Custom && !f.merger)
        st.fail("windowed aggregation " + store_name + ": custom function " + f.name +
                " needs a merger for session windows");
  }
  NodeId id = add_aggregate(parent, store_name, std::move(spec), false);
  if (st.stores.empty() || st.stores.back().name != store_name) return id;
  st.stores.back().window = std::make_shared<const WindowSpec>(window);
  st.nodes[id].label = "windowed-aggregate " + store_name;
  st.nodes[id].factory = [store_name](BuildContext& c) -> std::unique_ptr<Processor> {
    auto s = c.window_store(store_name);
    if (!s) return nullptr;
    return std::make_unique<WindowedAggregateNode>(c.node_name(), std::move(s));
  };
  return id;
}

Topology::NodeId Topology::add_two_phase_aggregate(NodeId parent,
                                                   const std::string& repartition_name,
                                                   std::string store_name, AggregateSpec spec,
                                                   std::optional<WindowSpec> window,
                                                   bool queryable) {
  auto& st = *state_;
  st.valid_parent(parent, "two-phase aggregate");
  for (const auto& f : spec.functions) {
    if (f.kind == AggregateKind::Custom && !f.merger)
      st.fail("two-phase aggregation " + store_name + ": custom function " + f.name +
              " has no merger");
  }
  int64_t pane = 0;
  if (window) {
    if (window->kind == WindowKind::Session)
      st.fail("two-phase aggregation " + store_name + ": session windows");
    const int64_t advance = window->advance_ms > 0 ? window->advance_ms : window->size_ms;
    pane = std::gcd(window->size_ms, advance);
  }
  auto shared = std::make_shared<const AggregateSpec>(spec);
  const Serdes serdes = codecs::internal();
  State::NodeDesc d;
  d.name = next_name("pre-aggregate");
  d.label = "pre-aggregate " + store_name;
  d.parents = {parent};
  d.factory = [shared, pane, key = serdes.key](BuildContext& c) -> std::unique_ptr<Processor> {
    auto codec = key();
    if (!codec) return nullptr;
    return std::make_unique<PartialAggregateNode>(c.node_name(), shared, pane, std::move(codec));
  };
  NodeId pre = st.push(std::move(d));
  NodeId source = add_repartition(pre, repartition_name, serdes);
  State::NodeDesc u;
  u.name = next_name("unpack-partials");
  u.label = "unpack-partials " + store_name;
  u.parents = {source};
  u.factory = [](BuildContext& c) -> std::unique_ptr<Processor> {
    return std::make_unique<UnpackPartialsNode>(c.node_name());
  };
  NodeId unpack = st.push(std::move(u));
  NodeId agg = window ? add_windowed_aggregate(unpack, store_name, std::move(spec), *window)
                      : add_aggregate(unpack, store_name, std::move(spec), queryable);
  if (st.stores.empty() || st.stores.back().name != store_name) return agg;
  st.nodes[agg].factory =
      [store_name, windowed = window.has_value()](BuildContext& c) -> std::unique_ptr<Processor> {
    if (windowed) {
      auto s = c.window_store(store_name);
      if (!s) return nullptr;
      return std::make_unique<WindowedAggregateNode>(c.node_name(), std::move(s), true);
    }
    auto s = c.aggregate_store(store_name);
    if (!s) return nullptr;
    return std::make_unique<AggregateNode>(c.node_name(), std::move(s), true);
  };
  return agg;
}

void Topology::add_state_store(std::string name,
                               std::function<std::shared_ptr<StateStore>()> make) {
  auto& st = *state_;
  if (st.store(name)) st.fail("store name " + name + " is used twice");
  if (!make) st.fail("state store " + name + " has no factory");
  State::StoreDesc s;
  s.name = std::move(name);
  s.is_aggregate = true;
  s.queryable = false;
  s.make = std::move(make);
  st.stores.push_back(std::move(s));
}

Topology::NodeId Topology::add_sink(NodeId parent, std::string topic, Serdes serdes, bool table) {
  auto& st = *state_;
  st.valid_parent(parent, "sink");
  if (topic.empty()) st.fail("a sink needs a topic");
  if (!serdes.key || !serdes.value) st.fail("sink " + topic + ": serdes without a codec");
  State::NodeDesc d;
  d.kind = State::Kind::Sink;
  d.name = next_name("sink");
  d.label = "sink";
  d.parents = {parent};
  d.topic = std::move(topic);
  d.serdes = std::move(serdes);
  d.is_table = table;
  return st.push(std::move(d));
}

Topology::NodeId Topology::add_repartition(NodeId parent, const std::string& name, Serdes serdes) {
  const std::string internal_name = name + kRepartitionSuffix;
  const std::string topic = state_->topic_of(internal_name);
  NodeId sink = add_sink(parent, topic, serdes);
  NodeId source = add_source(topic, std::move(serdes), false);
  for (NodeId id : {sink, source}) {
    state_->nodes[id].internal = true;
    state_->nodes[id].internal_name = internal_name;
  }
  return source;
}

void Topology::restore(const Topology& snapshot) {
  if (snapshot.state_ != state_) *state_ = *snapshot.state_;
}

Topology Topology::scoped_to(const std::string& application_id) const {
  Topology out;
  *out.state_ = *state_;
  auto& st = *out.state_;
  st.scope = application_id;
  for (auto& n : st.nodes) {
    if (n.internal) n.topic = st.topic_of(n.internal_name);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> Topology::unscoped_repartition_topics() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& n : state_->nodes) {
    if (n.kind == State::Kind::Source && n.internal && n.topic != n.internal_name)
      out.emplace_back(n.topic, n.internal_name);
  }
  return out;
}

// ---- Inspection -----------------------------------------------------------------

Expected<bool> Topology::validate() const {
  const auto& st = *state_;
  if (st.error) return *st.error;
  bool any_source = false;
  for (const auto& n : st.nodes) any_source |= n.kind == State::Kind::Source;
  if (!any_source) return Error::fatal("topology: no input (add a stream or a table)");
  if (auto loop = topic_cycle(); !loop.empty())
    return Error::fatal("topology: " + topic_loop_reason(loop));
  return true;
}

std::vector<std::string> Topology::source_topics() const {
  std::vector<std::string> out;
  for (const auto& n : state_->nodes) {
    if (n.kind == State::Kind::Source) out.push_back(n.topic);
  }
  return out;
}

std::vector<std::string> Topology::table_topics() const {
  std::vector<std::string> out;
  for (const auto& n : state_->nodes) {
    if (n.kind == State::Kind::Source && n.is_table) out.push_back(n.topic);
  }
  return out;
}

std::vector<std::string> Topology::sink_topics() const {
  std::vector<std::string> out;
  for (const auto& n : state_->nodes) {
    if (n.kind == State::Kind::Sink && std::find(out.begin(), out.end(), n.topic) == out.end()) {
      out.push_back(n.topic);
    }
  }
  return out;
}

std::vector<std::string> Topology::topic_cycle() const {
  return find_topic_cycle(topic_flows());
}

Topology::TopicFlows Topology::topic_flows() const {
  const auto& nodes = state_->nodes;
  std::vector<std::vector<size_t>> children(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i)
    for (NodeId p : nodes[i].parents)
      if (p < nodes.size()) children[p].push_back(i);
  // Each topic a source reads -> the topics written downstream of it.
  TopicFlows writes;
  for (size_t s = 0; s < nodes.size(); ++s) {
    if (nodes[s].kind != State::Kind::Source) continue;
    auto& out = writes[nodes[s].topic];
    std::vector<bool> seen(nodes.size(), false);
    std::vector<size_t> todo{s};
    seen[s] = true;
    while (!todo.empty()) {
      const size_t n = todo.back();
      todo.pop_back();
      if (nodes[n].kind == State::Kind::Sink) out.insert(nodes[n].topic);
      for (size_t c : children[n])
        if (!seen[c]) seen[c] = true, todo.push_back(c);
    }
  }
  return writes;
}

std::string topic_loop_reason(const std::vector<std::string>& loop) {
  std::string path;
  for (const auto& t : loop) path += (path.empty() ? "" : " -> ") + t;
  return "it writes a topic it reads again, so every record would go round for ever: " + path;
}

std::vector<std::string> find_topic_cycle(const Topology::TopicFlows& writes) {
  // Depth first over topics; a topic met again on the current path closes
  // a loop.
  std::map<std::string, int> state;  // 1: on the path, 2: done
  std::vector<std::string> path;
  std::function<std::vector<std::string>(const std::string&)> visit =
      [&](const std::string& topic) -> std::vector<std::string> {
    state[topic] = 1;
    path.push_back(topic);
    auto it = writes.find(topic);
    if (it != writes.end()) {
      for (const auto& next : it->second) {
        if (state[next] == 1) {
          std::vector<std::string> loop(std::find(path.begin(), path.end(), next), path.end());
          loop.push_back(next);
          return loop;
        }
        if (state[next] == 0)
          if (auto loop = visit(next); !loop.empty()) return loop;
      }
    }
    path.pop_back();
    state[topic] = 2;
    return {};
  };
  for (const auto& [topic, _] : writes)
    if (state[topic] == 0)
      if (auto loop = visit(topic); !loop.empty()) return loop;
  return {};
}

void Topology::set_output_partitions(const std::string& topic, OutputPartitions hint) {
  state_->output_partitions[topic] = std::move(hint);
}

std::optional<Topology::OutputPartitions> Topology::output_partitions(
    const std::string& topic) const {
  auto it = state_->output_partitions.find(topic);
  if (it == state_->output_partitions.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Topology::repartition_topics() const {
  std::vector<std::string> out;
  for (const auto& n : state_->nodes) {
    if (n.kind == State::Kind::Source && n.internal) out.push_back(n.topic);
  }
  return out;
}

std::vector<std::vector<std::string>> Topology::copartition_groups() const {
  const auto& st = *state_;
  // Union-find over topics: each join ties its stream side's inputs to the
  // inputs its tables were built from.
  std::map<std::string, std::string> parent;
  std::function<std::string(const std::string&)> find = [&](const std::string& t) {
    auto it = parent.find(t);
    if (it == parent.end()) {
      parent[t] = t;
      return t;
    }
    if (it->second == t) return t;
    std::string root = find(it->second);
    parent[t] = root;
    return root;
  };
  std::set<std::string> joined;
  for (NodeId id = 0; id < st.nodes.size(); ++id) {
    const auto& n = st.nodes[id];
    if (n.reads_tables.empty()) continue;
    std::set<std::string> topics;
    st.upstream_sources(id, topics);
    for (const auto& t : n.reads_tables) {
      if (const auto* s = st.store(t)) st.upstream_sources(s->node, topics);
    }
    if (topics.size() < 2) continue;
    const std::string& first = *topics.begin();
    for (const auto& t : topics) {
      parent[find(t)] = find(first);
      joined.insert(t);
    }
  }
  std::map<std::string, std::vector<std::string>> groups;
  for (const auto& t : joined) groups[find(t)].push_back(t);
  std::vector<std::vector<std::string>> out;
  for (auto& [root, members] : groups) out.push_back(std::move(members));
  return out;
}

std::optional<Topology::StoreOrigin> Topology::store_origin(const std::string& store) const {
  const auto& st = *state_;
  const State::StoreDesc* s = st.store(store);
  if (!s || s->is_aggregate || s->node >= st.nodes.size()) return std::nullopt;
  NodeId id = s->node;
  while (st.nodes[id].kind != State::Kind::Source) {
    if (st.nodes[id].parents.empty()) return std::nullopt;
    id = st.nodes[id].parents.front();
  }
  return StoreOrigin{st.nodes[id].topic, st.nodes[id].serdes.key};
}

std::string Topology::describe() const {
  std::ostringstream os;
  const auto& st = *state_;
  for (const auto& n : st.nodes) {
    os << n.name << ' ' << n.label;
    if (!n.topic.empty()) os << ' ' << n.topic;
    if (!n.parents.empty()) {
      os << " <-";
      for (NodeId p : n.parents) os << ' ' << st.nodes[p].name;
    }
    os << '\n';
  }
  for (const auto& g : st.globals) os << g.name << " global-table " << g.topic << '\n';
  return os.str();
}

// ---- Instantiation ----------------------------------------------------------------

std::shared_ptr<KTable> BuildContext::table(const std::string& name) const {
  use(name);
  for (const auto& [n, t] : graph_.tables_) {
    if (n == name) return t;
  }
  return nullptr;
}

std::shared_ptr<VersionedTable> BuildContext::versions(const std::string& table) const {
  use(table);
  for (const auto& [n, v] : graph_.versions_) {
    if (n == table) return v;
  }
  return nullptr;
}

std::shared_ptr<WindowStore> BuildContext::window_store(const std::string& name) const {
  use(name);
  for (const auto& w : graph_.windows_) {
    if (w->name() == name) return w;
  }
  return nullptr;
}

std::shared_ptr<StateStore> BuildContext::state_store(const std::string& name) const {
  use(name);
  for (const auto& s : graph_.other_stores_) {
    if (s->name() == name) return s;
  }
  return nullptr;
}

std::shared_ptr<AggregateStore> BuildContext::aggregate_store(const std::string& name) const {
  use(name);
  for (const auto& a : graph_.aggregates_) {
    if (a->name() == name) return a;
  }
  return nullptr;
}

std::shared_ptr<const KTable> BuildContext::global_table(const std::string& name) const {
  return graph_.globals_ ? graph_.globals_->table(name) : nullptr;
}

void Topology::add_global_table(std::string name, std::string topic, Serdes serdes) {
  auto& st = *state_;
  for (const auto& g : st.globals) {
    if (g.name != name) continue;
    if (g.topic != topic)
      st.fail("global table " + name + " reads topic " + g.topic + ", not " + topic);
    return;
  }
  st.globals.push_back(GlobalTableSpec{std::move(name), std::move(topic), std::move(serdes)});
}

const std::vector<GlobalTableSpec>& Topology::global_tables() const { return state_->globals; }

namespace {

// Kafka Streams' sub-topologies: the connected components of the graph
// whose edges are parent -> child and "uses the same store". Repartition
// topics (a sink, then a source of the same topic) do not connect. Each
// input gets its component's number (in order of first appearance), so
// the InputMerger orders records by time only among the inputs that feed
// the same operators and state.
template <typename State, typename Users>
std::vector<size_t> input_groups(const State& st, const Users& users_of) {
  std::vector<size_t> root(st.nodes.size());
  for (size_t i = 0; i < root.size(); ++i) root[i] = i;
  std::function<size_t(size_t)> find = [&](size_t x) {
    while (root[x] != x) x = root[x] = root[root[x]];
    return x;
  };
  auto join = [&](size_t a, size_t b) { root[find(a)] = find(b); };
  for (size_t id = 0; id < st.nodes.size(); ++id) {
    for (size_t p : st.nodes[id].parents) join(id, p);
  }
  for (const auto& [store, nodes] : users_of) {
    for (size_t id : nodes) join(id, nodes.front());
  }
  std::map<size_t, size_t> number;  // component root -> group
  std::vector<size_t> groups;        // per source, in input order
  for (size_t id = 0; id < st.nodes.size(); ++id) {
    if (st.nodes[id].kind != State::Kind::Source) continue;
    groups.push_back(number.emplace(find(id), number.size()).first->second);
  }
  return groups;
}

}  // namespace

std::unique_ptr<TaskGraph> Topology::instantiate(PartitionId partition) const {
  return instantiate(partition, nullptr);
}

std::unique_ptr<TaskGraph> Topology::instantiate(PartitionId partition,
                                                 std::shared_ptr<GlobalTables> globals) const {
  if (!validate()) return nullptr;
  const auto& st = *state_;
  std::unique_ptr<TaskGraph> g(new TaskGraph());
  g->partition_ = partition;
  g->globals_ = std::move(globals);
  for (const auto& s : st.stores) {
    if (!s.is_aggregate) {
      auto t = std::make_shared<KTable>(s.name, s.storage);
      g->tables_.emplace_back(s.name, t);
      g->stores_.push_back(t.get());
      if (s.history_ms >= 0) {
        auto v = std::make_shared<VersionedTable>(s.name + ".versions", s.history_ms);
        g->versions_.emplace_back(s.name, v);
        g->stores_.push_back(v.get());
      }
      continue;
    }
    if (s.make) {
      auto store = s.make();
      if (!store) return nullptr;
      g->other_stores_.push_back(store);
      g->stores_.push_back(store.get());
      continue;
    }
    if (s.window) {
      auto store = std::make_shared<WindowStore>(s.name, s.spec, s.window);
      g->windows_.push_back(store);
      g->stores_.push_back(store.get());
      continue;
    }
    std::shared_ptr<KTable> results;
    if (s.queryable) {
      results = std::make_shared<KTable>(s.name);
      g->tables_.emplace_back(s.name, results);
    }
    auto store = std::make_shared<AggregateStore>(s.name, s.spec, results);
    g->aggregates_.push_back(store);
    g->stores_.push_back(store.get());
  }
  g->nodes_.reserve(st.nodes.size());
  // Store name -> the nodes whose factories took it: they share state, so
  // they are in one sub-topology (input_groups).
  std::map<std::string, std::vector<NodeId>> users_of;
  for (const auto& n : st.nodes) {
    std::unique_ptr<Node> node;
    switch (n.kind) {
      case State::Kind::Source: {
        auto key = n.serdes.key();
        auto value = n.serdes.value();
        if (!key || !value) return nullptr;
        std::shared_ptr<ReplayMarks> marks;
        if (n.internal) {  // a repartition topic: skip replay duplicates
          marks = std::make_shared<ReplayMarks>(n.internal_name);
          g->replay_marks_.push_back(marks);
          g->stores_.push_back(marks.get());
        }
        auto src = std::make_unique<SourceNode>(n.name, n.topic, std::move(key), std::move(value),
                                                std::move(marks));
        g->sources_.push_back(src.get());
        g->inputs_.push_back(InputSpec{n.topic, n.is_table});
        node = std::move(src);
        break;
      }
      case State::Kind::Sink: {
        auto key = n.serdes.key();
        auto value = n.serdes.value();
        if (!key || !value) return nullptr;
        auto sink = std::make_unique<SinkNode>(n.name, n.topic, std::move(key), std::move(value),
                                               n.internal, n.is_table);
        if (n.is_table) g->table_sinks_.push_back(sink.get());
        for (NodeId p : n.parents) {
          // A two-phase GROUP BY's repartition topic: its checkpoints keep
          // what a restore needs to look back at it.
          auto* pre =
              n.internal ? dynamic_cast<PartialAggregateNode*>(g->nodes_[p].get()) : nullptr;
          if (pre == nullptr) continue;
          auto look_back = std::make_shared<LookBack>(n.internal_name);
          g->other_stores_.push_back(look_back);
          g->stores_.push_back(look_back.get());
          pre->attach_repartition(n.topic, std::move(look_back));
        }
        node = std::move(sink);
        break;
      }
      case State::Kind::Processor: {
        std::vector<std::string> used;
        BuildContext ctx(*g, n.name, &used);
        node = n.factory(ctx);
        if (!node) return nullptr;
        if (auto* pre = dynamic_cast<PartialAggregateNode*>(node.get()))
          g->pre_aggregates_.push_back(pre);
        for (auto& store : used) users_of[std::move(store)].push_back(g->nodes_.size());
        break;
      }
    }
    Processor* as_child =
        n.kind == State::Kind::Source ? nullptr : static_cast<Processor*>(node.get());
    for (NodeId p : n.parents) g->nodes_[p]->add_child(as_child);
    g->nodes_.push_back(std::move(node));
  }
  const std::vector<size_t> groups = input_groups(st, users_of);
  for (size_t i = 0; i < g->inputs_.size() && i < groups.size(); ++i) g->inputs_[i].group = groups[i];
  return g;
}

// ---- TaskGraph ----------------------------------------------------------------------

std::optional<size_t> TaskGraph::input_index(std::string_view topic) const {
  for (size_t i = 0; i < inputs_.size(); ++i) {
    if (inputs_[i].topic == topic) return i;
  }
  return std::nullopt;
}

void TaskGraph::leave_out_inputs(const std::function<bool(const std::string& topic)>& absent) {
  size_t kept = 0;
  for (size_t i = 0; i < inputs_.size(); ++i) {
    if (absent(inputs_[i].topic)) continue;
    if (kept != i) {
      inputs_[kept] = std::move(inputs_[i]);
      sources_[kept] = sources_[i];
    }
    ++kept;
  }
  inputs_.resize(kept);
  sources_.resize(kept);
}

void TaskGraph::process(size_t input, const RawRecord* begin, const RawRecord* end,
                        TaskOutput& out) {
  out.records_in += static_cast<uint64_t>(end - begin);
  ProcessContext ctx(out, partition_);
  ctx.set_raw(&inputs_[input].topic, begin, end);
  sources_[input]->process(begin, end, ctx);
}

void TaskGraph::process(size_t input, Batch& records, TaskOutput& out) {
  out.records_in += records.size();
  ProcessContext ctx(out, partition_);
  sources_[input]->push(records, ctx);
}

bool TaskGraph::process(std::string_view topic, const RawRecord* begin, const RawRecord* end,
                        TaskOutput& out) {
  auto i = input_index(topic);
  if (!i) return false;
  process(*i, begin, end, out);
  return true;
}

bool TaskGraph::advance_idle(int64_t idle_ms, TaskOutput& out) {
  ProcessContext ctx(out, partition_);
  bool changed = false;
  // nodes_ is in topological order: a window's results reach a later
  // window before that one advances.
  for (auto& node : nodes_) {
    if (auto* p = dynamic_cast<Processor*>(node.get()); p != nullptr)
      changed = p->advance_idle(idle_ms, ctx) || changed;
  }
  return changed;
}

void TaskGraph::set_output_cache(
    bool on, const std::function<int32_t(const std::string& topic)>& repartition_partitions) {
  for (auto* sink : table_sinks_) sink->set_caching(on);
  for (auto* pre : pre_aggregates_) {
    pre->set_combining(
        on && repartition_partitions ? repartition_partitions(pre->repartition_topic()) : 0);
  }
}

void TaskGraph::note_high_watermark(size_t input, int64_t high_watermark) {
  if (pre_aggregates_.empty() || input >= inputs_.size()) return;
  const TopicPartition tp{inputs_[input].topic, partition_};
  for (auto* pre : pre_aggregates_) pre->note_high_watermark(tp, high_watermark);
}

void TaskGraph::note_acknowledged(
    const std::function<std::vector<int64_t>(const std::string& topic)>& acknowledged) {
  std::vector<TopicPartition> inputs;
  for (const auto& in : inputs_) inputs.push_back(TopicPartition{in.topic, partition_});
  for (auto* pre : pre_aggregates_) {
    if (pre->look_back() == nullptr) continue;
    pre->look_back()->advance(acknowledged(pre->repartition_topic()));
    pre->look_back()->set_horizons(pre->known_horizons(inputs));
  }
}

void TaskGraph::set_combine_from_start(bool on) {
  for (auto* pre : pre_aggregates_) pre->set_combine_from_start(on);
}

size_t TaskGraph::output_cache_bytes() const {
  size_t n = 0;
  for (const auto* sink : table_sinks_) n += sink->cached_bytes();
  for (const auto* pre : pre_aggregates_) n += pre->held_bytes();
  return n;
}

size_t TaskGraph::output_cache_records() const {
  size_t n = 0;
  for (const auto* sink : table_sinks_) n += sink->cached_records();
  for (const auto* pre : pre_aggregates_) n += pre->held_partials();
  return n;
}

void TaskGraph::flush_output_cache(TaskOutput& out) {
  ProcessContext ctx(out, partition_);
  // Partials first: in a task that also reads their repartition topic, what
  // it reads back comes later anyway; their packs are written, not cached.
  for (auto* pre : pre_aggregates_) pre->flush(ctx);
  for (auto* sink : table_sinks_) sink->flush(ctx);
}

void TaskGraph::drop_output_cache() {
  for (auto* pre : pre_aggregates_) pre->drop();
  for (auto* sink : table_sinks_) sink->drop_cache();
}

KTable* TaskGraph::table(std::string_view name) const {
  for (const auto& [n, t] : tables_) {
    if (n == name) return t.get();
  }
  return nullptr;
}

std::shared_ptr<KTable> TaskGraph::table_handle(std::string_view name) const {
  for (const auto& [n, t] : tables_) {
    if (n == name) return t;
  }
  return nullptr;
}

std::vector<std::string> TaskGraph::table_names() const {
  std::vector<std::string> out;
  for (const auto& [n, t] : tables_) out.push_back(n);
  return out;
}

AggregateStore* TaskGraph::aggregate_store(std::string_view name) const {
  for (const auto& a : aggregates_) {
    if (a->name() == name) return a.get();
  }
  return nullptr;
}

WindowStore* TaskGraph::window_store(std::string_view name) const {
  for (const auto& w : windows_) {
    if (w->name() == name) return w.get();
  }
  return nullptr;
}

VersionedTable* TaskGraph::versions(std::string_view table) const {
  for (const auto& [n, v] : versions_) {
    if (n == table) return v.get();
  }
  return nullptr;
}

std::vector<StateStore*> TaskGraph::stores() const {
  return stores_;
}

// ---- Fluent API ----------------------------------------------------------------------

KStream Topology::stream(std::string topic, Serdes serdes) {
  return KStream(*this, add_source(std::move(topic), std::move(serdes), false));
}

KTableRef Topology::table(std::string topic, Serdes serdes, std::string name,
                          TableStorage storage) {
  if (name.empty()) name = topic;
  NodeId src = add_source(std::move(topic), std::move(serdes), true);
  NodeId t = add_table(src, name, storage);
  return KTableRef(*this, t, std::move(name));
}

KTableRef Topology::versioned_table(std::string topic, Serdes serdes, int64_t history_retention_ms,
                                    std::string name) {
  if (name.empty()) name = topic;
  if (history_retention_ms < 0) state_->fail("table " + name + ": negative history retention");
  NodeId src = add_source(std::move(topic), std::move(serdes), true);
  NodeId t = add_table(src, name, TableStorage::Decoded, std::max<int64_t>(0, history_retention_ms));
  return KTableRef(*this, t, std::move(name));
}

KStream KStream::add(const std::string& kind, std::string name, ProcessorFactory factory,
                     std::vector<std::string> reads_tables) const {
  Topology t = topo_;
  if (name.empty()) name = t.next_name(kind);
  return KStream(
      t, t.add_processor(std::move(name), {node_}, std::move(factory), std::move(reads_tables)));
}

KGroupedStream KStream::group_by_key() const {
  return KGroupedStream(topo_, node_);
}

void KStream::to(std::string topic, Serdes serdes) const {
  Topology t = topo_;
  t.add_sink(node_, std::move(topic), std::move(serdes));
}

void KTableRef::to(std::string topic, Serdes serdes) const {
  Topology t = topo_;
  t.add_sink(node_, std::move(topic), std::move(serdes), true);
}

KTableRef KGroupedStream::aggregate(AggregateSpec spec, std::string name) const {
  Topology t = topo_;
  if (name.empty()) name = t.next_name("aggregate");
  Topology::NodeId id = t.add_aggregate(node_, name, std::move(spec), true);
  return KTableRef(t, id, std::move(name));
}

KTableRef KGroupedStream::count(std::string name) const {
  AggregateSpec spec;
  spec.functions.push_back(AggregateFn::count());
  return aggregate(std::move(spec), name.empty() ? topo_.next_name("count") : std::move(name));
}

KTableRef KGroupedStream::sum(ValueFn input, std::string name) const {
  AggregateSpec spec;
  spec.functions.push_back(AggregateFn::sum(std::move(input)));
  return aggregate(std::move(spec), name.empty() ? topo_.next_name("sum") : std::move(name));
}

KTableRef KGroupedStream::min(ValueFn input, std::string name) const {
  AggregateSpec spec;
  spec.functions.push_back(AggregateFn::min(std::move(input)));
  return aggregate(std::move(spec), name.empty() ? topo_.next_name("min") : std::move(name));
}

KTableRef KGroupedStream::max(ValueFn input, std::string name) const {
  AggregateSpec spec;
  spec.functions.push_back(AggregateFn::max(std::move(input)));
  return aggregate(std::move(spec), name.empty() ? topo_.next_name("max") : std::move(name));
}

KTableRef KGroupedStream::avg(ValueFn input, std::string name) const {
  AggregateSpec spec;
  spec.functions.push_back(AggregateFn::avg(std::move(input)));
  return aggregate(std::move(spec), name.empty() ? topo_.next_name("avg") : std::move(name));
}

KStream KGroupedStream::windowed_aggregate(WindowSpec window, AggregateSpec spec,
                                           std::string name) const {
  Topology t = topo_;
  if (name.empty()) name = t.next_name("windowed-aggregate");
  return KStream(t, t.add_windowed_aggregate(node_, std::move(name), std::move(spec), window));
}

KStream KGroupedStream::windowed_count(WindowSpec window, std::string name) const {
  AggregateSpec spec;
  spec.functions.push_back(AggregateFn::count());
  return windowed_aggregate(window, std::move(spec), std::move(name));
}

KTableRef KGroupedStream::aggregate(std::function<Value()> initializer,
                                    std::function<Value(const Record&, const Value&)> adder,
                                    std::string name) const {
  AggregateSpec spec;
  spec.functions.push_back(AggregateFn::custom(std::move(initializer), std::move(adder)));
  return aggregate(std::move(spec), std::move(name));
}

}  // namespace rivulet
