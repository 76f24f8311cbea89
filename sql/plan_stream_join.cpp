#include "sql/plan_stream_join.hpp"

#include <memory>
#include <utility>

#include "operators/stateless_nodes.hpp"
#include "operators/stream_join.hpp"
#include "sql/plan_table_join.hpp"
#include "sql/planner.hpp"
#include "sql/row_layout.hpp"
#include "sql/types.hpp"
#include "sql/plan_rows.hpp"

namespace rivulet::sql {
namespace {

// The key column of a single-key source `s` that `e` names, if any.
const Column* key_column_named(const QueryAnalysis& a, const SourceInfo& s, const Expr& e) {
  if (e.kind != ExprKind::Column || s.schema.key_columns().size() != 1) return nullptr;
  auto c = a.scope.find(e.qualifier, e.name);
  if (!c.ok() || !(*c)->is_key) return nullptr;
  for (const Column& col : s.schema.columns)
    if (col.is_key && col.name == (*c)->name) return &col;
  return nullptr;
}

}  // namespace

Expected<Topology::NodeId> plan_stream_join(const StreamJoinContext& c, size_t index,
                                            Topology::NodeId left, bool left_keyed,
                                            const SourceInfo* left_info) {
  const QueryAnalysis& a = c.analysis;
  const Join& j = c.query.joins[index];
  const AnalyzedJoin& aj = a.joins[index];
  const AnalyzedSource& rsrc = a.sources[aj.right];
  const SourceInfo& right = *rsrc.info;
  if (!j.within) return sql_error(j.loc, "Stream-Stream joins must have a WITHIN clause specified.");

  StreamJoinSpec spec;
  spec.before_ms = j.within->before_ms;
  spec.after_ms = j.within->after_ms;
  spec.grace_ms = j.within->grace_ms ? *j.within->grace_ms : -1;
  spec.left_outer = j.type == JoinType::Left || j.type == JoinType::Full;
  spec.right_outer = j.type == JoinType::Right || j.type == JoinType::Full;
  if (auto ok = spec.validate(); !ok) return sql_error(j.within->loc, ok.error().message);

  const Column* right_key_col = key_column_named(a, right, *aj.right_key);
  const bool right_keyed = right_key_col != nullptr;
  // Rows keyed through an internal topic meet a keyed right side in its
  // key format: repartitioned again.
  if (left_keyed && !left_info && right_keyed) left_keyed = false;
  const std::string suffix = index == 0 ? "" : std::to_string(index);
  auto name = [&](const std::string& what) { return c.name(what + suffix); };
  if (left_keyed && right_keyed && left_info && left_info->partitions > 0 &&
      right.partitions > 0 && left_info->partitions != right.partitions)
    return sql_error(j.loc, partition_mismatch(*left_info, right));

  // The right rows, placed after the columns of the sources joined before.
  const size_t prefix = rsrc.first_column;
  auto rrows = c.rows(right);
  if (!rrows) return rrows.error();
  RowFn pad = [prefix](const Record& r, Batch& out) {
    if (is_tombstone(r)) return;  // joins drop a stream's null values
    Record o = r;
    Array row(prefix);
    const Array& mine = r.value.as_array();
    row.insert(row.end(), mine.begin(), mine.end());
    o.value = Value::array(std::move(row));
    out.push_back(std::move(o));
  };
  Topology::NodeId rnode =
      c.topology.add_processor(name("join-right-rows"), {*rrows}, flat_map(std::move(pad)));

  // The key both sides are joined on: the keyed side's type and format.
  auto compile = [&](const ExprPtr& e) -> Expected<std::shared_ptr<CompiledExpr>> {
    CompileOptions o;
    o.clause = "JOIN";
    auto x = ExpressionCompiler(a.scope, FunctionRegistry::global(), o).compile(e);
    if (!x) return x.error();
    return std::make_shared<CompiledExpr>(std::move(*x));
  };
  auto lkey = compile(aj.left_key);
  if (!lkey) return lkey.error();
  auto rkey = compile(aj.right_key);
  if (!rkey) return rkey.error();
  DataTypePtr key_type = (*lkey)->type();
  Serdes key_serdes = codecs::internal();
  if (right_keyed) {
    key_type = right_key_col->type;
    auto s = serdes_for(right);
    if (!s) return sql_error(j.loc, s.error().message);
    key_serdes.key = s->key;
  } else if (left_keyed && left_info) {
    for (const Column& col : left_info->schema.columns)
      if (col.is_key) key_type = col.type;
    auto s = serdes_for(*left_info);
    if (!s) return sql_error(j.loc, s.error().message);
    key_serdes.key = s->key;
  }
  auto rekey = [&](Topology::NodeId node, std::shared_ptr<CompiledExpr> k,
                   const std::string& what) {
    DataTypePtr t = key_type;
    ReportingRowFn fn = [k, t](const Record& r, Batch& out, ProcessContext& ctx) {
      if (is_tombstone(r)) {
        ctx.skipped(r, SkipReason::Tombstone, "join");
        return;
      }
      Record o = r;
      o.key = k->evaluate(eval_row(r));
      if (o.key.is_null()) {  // a NULL join key joins nothing (ksqlDB drops it): counted
        ctx.skipped(r, SkipReason::NullJoinKey, "join");
        return;
      }
      if (t)
        if (auto v = coerce(o.key, *t)) o.key = std::move(*v);
      out.push_back(std::move(o));
    };
    node = c.topology.add_processor(name(what + "-key"), {node}, flat_map(std::move(fn)));
    return c.topology.add_repartition(node, name(what), key_serdes);
  };
  if (!left_keyed) left = rekey(left, *lkey, "join-left");
  if (!right_keyed) rnode = rekey(rnode, *rkey, "join-right");

  const size_t lwidth = prefix;
  const size_t rwidth = right.schema.columns.size();
  StreamJoiner joiner = [lwidth, rwidth](const Value&, const Value* l, const Value* r) {
    Array row;
    row.reserve(lwidth + rwidth + 1);
    if (l && l->kind() == TypeKind::Array) {
      const Array& la = l->as_array();
      row.insert(row.end(), la.begin(), la.begin() + std::min(lwidth, la.size()));
    }
    row.resize(lwidth);
    if (r && r->kind() == TypeKind::Array) {
      const Array& ra = r->as_array();
      if (ra.size() >= lwidth + rwidth)
        row.insert(row.end(), ra.begin() + lwidth, ra.begin() + lwidth + rwidth);
    }
    row.resize(lwidth + rwidth);
    row.push_back(Value::boolean(false));
    return Value::array(std::move(row));
  };
  return add_stream_join(c.topology, left, rnode, name("join"), spec, std::move(joiner));
}

}  // namespace rivulet::sql
