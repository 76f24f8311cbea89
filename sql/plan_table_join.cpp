#include "sql/plan_table_join.hpp"

#include <memory>
#include <utility>

#include "operators/stateless_nodes.hpp"
#include "sql/row_layout.hpp"
#include "sql/types.hpp"
#include "sql/plan_rows.hpp"

namespace rivulet::sql {
namespace {

Error unsupported(SourceLocation at, const std::string& what) {
  return sql_error(at, "not supported yet: " + what);
}

}  // namespace

Expected<Topology::NodeId> plan_table_join(const TableJoinContext& c) {
  const QueryAnalysis& a = c.analysis;
  const Join& j = c.query.joins[0];
  const AnalyzedJoin& aj = a.joins[0];
  if (c.query.joins.size() > 1) return unsupported(c.query.joins[1].loc, "multi-way table-table joins");
  const SourceInfo& left = *a.sources[0].info;
  const SourceInfo& right = *a.sources[aj.right].info;
  // The left side must be joined on its primary key too.
  bool left_on_key = false;
  if (aj.left_key->kind == ExprKind::Column && left.schema.key_columns().size() == 1) {
    auto col = a.scope.find(aj.left_key->qualifier, aj.left_key->name);
    left_on_key = col.ok() && (*col)->is_key;
  }
  if (!left_on_key)
    return unsupported(j.on->loc, "a table-table join on a non-key column of the left table "
                                  "(foreign-key joins): " + to_sql(*j.on));
  const Column lk = left.schema.key_columns()[0];
  const Column rk = right.schema.key_columns()[0];
  if (type_name(lk.type) != type_name(rk.type) || left.key_format != right.key_format)
    return sql_error(j.on->loc, "Invalid join condition: the keys of `" + left.name + "` (" +
                                    type_name(lk.type) + ", " + left.key_format + ") and `" +
                                    right.name + "` (" + type_name(rk.type) + ", " +
                                    right.key_format + ") differ: the tables are not "
                                    "co-partitioned");
  if (left.partitions > 0 && right.partitions > 0 && left.partitions != right.partitions)
    return sql_error(j.loc, partition_mismatch(left, right));
  if (left.timestamp_format || right.timestamp_format)
    return unsupported(j.loc, "TIMESTAMP_FORMAT");

  auto l = c.materialize(left);
  if (!l) return l.error();
  auto r = c.materialize(right);
  if (!r) return r.error();
  auto lrow = std::make_shared<RowLayout>(left);
  auto rrow = std::make_shared<RowLayout>(right);
  const JoinType type = j.type;
  const std::string lstore = l->first, rstore = r->first;

  // One side's update: `mine` is the updated side's value (null: deleted).
  auto side = [=](bool is_left) -> ProcessorFactory {
    return [=](BuildContext& b) -> std::unique_ptr<Processor> {
      std::shared_ptr<KTable> other = b.table(is_left ? rstore : lstore);
      if (!other) return nullptr;
      RowFn fn = [=](const Record& rec, Batch& out) {
        if (rec.key.is_null()) return;
        const Value* mine = rec.value.is_null() ? nullptr : &rec.value;
        const Value* theirs = other->find_local(rec.key);
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
          joined.reserve(lrow->width() + rrow->width());
          // An absent side's value columns are NULL; its key column holds
          // the key (both sides are joined on it).
          static const Value kAbsent;
          lrow->append(rec.key, lv ? lv : &kAbsent, joined);
          rrow->append(rec.key, rv ? rv : &kAbsent, joined);
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
  auto ln = c.topology.add_processor(c.name("join-left"), {l->second}, side(true), {rstore});
  auto rn = c.topology.add_processor(c.name("join-right"), {r->second}, side(false), {lstore});
  RowFn same = [](const Record& rec, Batch& out) { out.push_back(rec); };
  return c.topology.add_processor(
      c.name("join"), {ln, rn}, [same](BuildContext& b) -> std::unique_ptr<Processor> {
        return std::make_unique<FlatMapNode<RowFn>>(b.node_name(), same);
      });
}

}  // namespace rivulet::sql
