#include "sql/plan_table_join.hpp"

#include <memory>
#include <utility>
#include <vector>

#include "operators/stateless_nodes.hpp"
#include "sql/plan_fk_join.hpp"
#include "sql/row_layout.hpp"
#include "sql/types.hpp"
#include "sql/plan_rows.hpp"

namespace rivulet::sql {
namespace {

Error unsupported(SourceLocation at, const std::string& what) {
  return sql_error(at, "not supported yet: " + what);
}

}  // namespace

namespace {

// One input of a join step: a source table, or the result of the steps
// before it (materialized as a KTable keyed by the join key).
struct JoinInput {
  std::string store;        // the KTable to look rows up in
  Topology::NodeId changes; // emits each change after the KTable is updated
  bool joined = false;      // values are joined rows (Arrays), not decoded values
  std::vector<std::shared_ptr<RowLayout>> layouts;  // the sources it is made of
  size_t width = 0;

  // Appends the input's columns to `row`; `value` null: absent (its value
  // columns NULL, its key columns hold the key, which every source shares).
  void append(const Value& key, const Value* value, Array& row) const {
    if (value && !value->is_null()) {
      if (!joined) {
        layouts[0]->append(key, value, row);
        return;
      }
      const Array& a = value->as_array();
      row.insert(row.end(), a.begin(), a.end());
      return;
    }
    for (const auto& l : layouts) l->append(key, nullptr, row);
  }
};

// The source whose key column `e` is (nullptr: not a plain reference to a
// key column of a source with one key column).
const SourceInfo* key_source(const QueryAnalysis& a, const Expr& e, size_t before) {
  if (e.kind != ExprKind::Column) return nullptr;
  auto col = a.scope.find(e.qualifier, e.name);
  if (!col.ok() || !(*col)->is_key) return nullptr;
  for (size_t s = 0; s < before && s < a.sources.size(); ++s)
    if (a.sources[s].qualifier == (*col)->qualifier)
      return a.sources[s].info->schema.key_columns().size() == 1 ? a.sources[s].info : nullptr;
  return nullptr;
}

// One step: `left` (the sources joined so far) with the table `right`.
Topology::NodeId join_step(const TableJoinContext& c, size_t i, const JoinInput& left,
                           const JoinInput& right, JoinType type) {
  const std::string sfx = i == 0 ? "" : std::to_string(i);
  const std::string lstore = left.store, rstore = right.store;
  auto lin = std::make_shared<JoinInput>(left);
  auto rin = std::make_shared<JoinInput>(right);
  const size_t width = left.width + right.width;
  // One side's update: `mine` is the updated side's value (null: deleted).
  auto side = [=](bool is_left) -> ProcessorFactory {
    return [=](BuildContext& b) -> std::unique_ptr<Processor> {
      std::shared_ptr<KTable> other = b.table(is_left ? rstore : lstore);
      if (!other) return nullptr;
      RowFn fn = [=](const Record& rec, Batch& out) {
        if (rec.key.is_null()) return;
        const Value* mine = rec.value.is_null() ? nullptr : &rec.value;
        const Value* theirs = other->find_local(rec.key);
        if (theirs && theirs->is_null()) theirs = nullptr;
        const Value* lv = is_left ? mine : theirs;
        const Value* rv = is_left ? theirs : mine;
        bool row = false, tombstone = false;
        switch (type) {
          case JoinType::Inner:
            row = lv && rv;
            tombstone = !mine && theirs;
            break;
          case JoinType::Left:
            row = lv != nullptr;
            tombstone = is_left ? !mine : false;
            break;
          case JoinType::Right:
            row = rv != nullptr;
            tombstone = is_left ? false : !mine;
            break;
          default:  // FULL
            row = lv || rv;
            tombstone = !mine && !theirs;
            break;
        }
        Record o = rec;
        if (row) {
          Array joined;
          joined.reserve(width);
          lin->append(rec.key, lv, joined);
          rin->append(rec.key, rv, joined);
          o.value = Value::array(std::move(joined));
        } else if (tombstone) {
          o.value = Value();
        } else {
          return;
        }
        out.push_back(std::move(o));
      };
      return std::make_unique<FlatMapNode<RowFn>>(b.node_name(), std::move(fn));
    };
  };
  auto ln = c.topology.add_processor(c.name("join-left" + sfx), {left.changes}, side(true),
                                     {rstore});
  auto rn = c.topology.add_processor(c.name("join-right" + sfx), {right.changes}, side(false),
                                     {lstore});
  RowFn same = [](const Record& rec, Batch& out) { out.push_back(rec); };
  return c.topology.add_processor(
      c.name("join" + sfx), {ln, rn}, [same](BuildContext& b) -> std::unique_ptr<Processor> {
        return std::make_unique<FlatMapNode<RowFn>>(b.node_name(), same);
      });
}

}  // namespace

Expected<Topology::NodeId> plan_table_join(const TableJoinContext& c) {
  const QueryAnalysis& a = c.analysis;
  const SourceInfo& first = *a.sources[0].info;
  // a.fk = b.id with a.fk not a's key: a foreign-key join.
  if (!key_source(a, *a.joins[0].left_key, 1)) return plan_fk_join(c);
  // Check every step before building anything.
  for (size_t i = 0; i < c.query.joins.size(); ++i) {
    const Join& j = c.query.joins[i];
    const AnalyzedJoin& aj = a.joins[i];
    if (aj.kind != AnalyzedJoin::Kind::TableTable)
      return sql_error(j.loc, "Invalid join order: table-stream joins are not supported; only "
                              "stream-table joins.");
    const SourceInfo& right = *a.sources[aj.right].info;
    // The left side must be joined on a primary key too (each step's result
    // is keyed by the join key).
    const SourceInfo* left = key_source(a, *aj.left_key, aj.right);
    if (!left)
      return unsupported(aj.left_key->loc, "a table-table join on a non-key column of the left table "
                                    "(foreign-key joins): " + to_sql(*j.on));
    const Column lk = left->schema.key_columns()[0];
    const Column rk = right.schema.key_columns()[0];
    if (type_name(lk.type) != type_name(rk.type) || left->key_format != right.key_format ||
        first.key_format != right.key_format)
      return sql_error(j.on->loc, "Invalid join condition: the keys of `" + left->name + "` (" +
                                      type_name(lk.type) + ", " + left->key_format + ") and `" +
                                      right.name + "` (" + type_name(rk.type) + ", " +
                                      right.key_format + ") differ: the tables are not "
                                      "co-partitioned");
    for (size_t s = 0; s < aj.right; ++s) {
      const SourceInfo& earlier = *a.sources[s].info;
      if (earlier.partitions > 0 && right.partitions > 0 && earlier.partitions != right.partitions)
        return sql_error(j.loc, partition_mismatch(earlier, right));
    }
    if (right.timestamp_format) return unsupported(j.loc, "TIMESTAMP_FORMAT");
  }
  if (first.timestamp_format) return unsupported(c.query.joins[0].loc, "TIMESTAMP_FORMAT");

  auto l = c.materialize(first);
  if (!l) return l.error();
  JoinInput left{l->first, l->second, false, {std::make_shared<RowLayout>(first)}, 0};
  left.width = left.layouts[0]->width();
  Topology::NodeId out = 0;
  for (size_t i = 0; i < c.query.joins.size(); ++i) {
    const SourceInfo& rs = *a.sources[a.joins[i].right].info;
    auto r = c.materialize(rs);
    if (!r) return r.error();
    JoinInput right{r->first, r->second, false, {std::make_shared<RowLayout>(rs)}, 0};
    right.width = right.layouts[0]->width();
    out = join_step(c, i, left, right, c.query.joins[i].type);
    if (i + 1 == c.query.joins.size()) break;
    // The result so far, keyed by the join key, as the next step's left input.
    JoinInput next;
    next.store = c.name("join-state" + std::to_string(i + 1));
    next.changes = c.topology.add_table(out, next.store, TableStorage::Decoded);
    next.joined = true;
    next.layouts = left.layouts;
    next.layouts.push_back(right.layouts[0]);
    next.width = left.width + right.width;
    left = std::move(next);
  }
  return out;
}

}  // namespace rivulet::sql
