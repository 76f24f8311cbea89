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

// How ksqlDB names a foreign-key join's left side in its messages: the
// qualifier of the source the fk reads (the first table's when it is an
// expression of several).
std::string left_name(const QueryAnalysis& a, const Expr& fk) {
  if (fk.kind == ExprKind::Column) {
    auto col = a.scope.find(fk.qualifier, fk.name);
    if (col.ok()) return (*col)->qualifier;
  }
  return a.sources[0].qualifier;
}

}  // namespace

namespace {

// The table whose key column a primary-key step's ON names (`e`, a column
// reference: AnalyzedJoin::foreign_key is false).
const SourceInfo* key_source(const QueryAnalysis& a, const Expr& e) {
  auto col = a.scope.find(e.qualifier, e.name);
  if (!col.ok()) return nullptr;
  for (const AnalyzedSource& s : a.sources)
    if (s.qualifier == (*col)->qualifier) return s.info;
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
  // Which sources share the chain's key (the first table's); a foreign-key
  // step's table keeps its own key (the analyzer tells the steps apart).
  const std::vector<bool> keyed = chain_keyed_sources(a);
  // Check every step before building anything.
  for (size_t i = 0; i < c.query.joins.size(); ++i) {
    const Join& j = c.query.joins[i];
    const AnalyzedJoin& aj = a.joins[i];
    if (aj.kind != AnalyzedJoin::Kind::TableTable)
      return sql_error(j.loc, "Invalid join order: table-stream joins are not supported; only "
                              "stream-table joins.");
    const SourceInfo& right = *a.sources[aj.right].info;
    if (right.timestamp_format) return unsupported(j.loc, "TIMESTAMP_FORMAT");
    if (aj.foreign_key) {
      if (j.type != JoinType::Inner && j.type != JoinType::Left) {
        const bool full = j.type == JoinType::Full;
        return sql_error(
            j.loc, std::string("Invalid join type: ") + (full ? "full-outer" : "right") +
                       " join not supported for foreign-key table-table join. Got " +
                       left_name(a, *aj.left_key) + " " + (full ? "FULL OUTER" : "RIGHT OUTER") +
                       " JOIN " + a.sources[aj.right].qualifier + ".");
      }
      continue;
    }
    const SourceInfo* left = key_source(a, *aj.left_key);
    if (!left) return sql_error(aj.left_key->loc, "internal: no key source for " + to_sql(*j.on));
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
      if (keyed[s] && earlier.partitions > 0 && right.partitions > 0 &&
          earlier.partitions != right.partitions)
        return sql_error(j.loc, partition_mismatch(earlier, right));
    }
  }
  if (first.timestamp_format) return unsupported(c.query.joins[0].loc, "TIMESTAMP_FORMAT");

  auto l = c.materialize(first);
  if (!l) return l.error();
  JoinInput left{l->first, l->second, false, {std::make_shared<RowLayout>(first)}, {true}, 0};
  left.width = left.layouts[0]->width();
  Topology::NodeId out = 0;
  for (size_t i = 0; i < c.query.joins.size(); ++i) {
    const AnalyzedJoin& aj = a.joins[i];
    const SourceInfo& rs = *a.sources[aj.right].info;
    auto r = c.materialize(rs);
    if (!r) return r.error();
    JoinInput right{r->first,          r->second, false, {std::make_shared<RowLayout>(rs)},
                    {!aj.foreign_key}, 0};
    right.width = right.layouts[0]->width();
    if (aj.foreign_key) {
      auto step = fk_join_step(c, i, left, right, first, rs, aj.left_key, c.query.joins[i].type);
      if (!step) return step.error();
      out = *step;
    } else {
      out = join_step(c, i, left, right, c.query.joins[i].type);
    }
    if (i + 1 == c.query.joins.size()) break;
    // The result so far, keyed by the chain's key, as the next step's left input.
    JoinInput next;
    next.store = c.name("join-state" + std::to_string(i + 1));
    next.changes = c.topology.add_table(out, next.store, TableStorage::Decoded);
    next.joined = true;
    next.layouts = left.layouts;
    next.layouts.push_back(right.layouts[0]);
    next.keyed = left.keyed;
    next.keyed.push_back(right.keyed[0]);
    next.width = left.width + right.width;
    left = std::move(next);
  }
  return out;
}

}  // namespace rivulet::sql
