#include "sql/plan_fk_join.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "operators/ktable.hpp"
#include "operators/state_store.hpp"
#include "operators/stateless_nodes.hpp"
#include "sql/expression.hpp"
#include "sql/functions.hpp"
#include "sql/plan_rows.hpp"
#include "sql/planner.hpp"
#include "sql/row_layout.hpp"
#include "sql/types.hpp"

namespace rivulet::sql {
namespace {

// Subscription values: [a's key, subscribe?].
Value subscription(const Value& akey, bool subscribe) {
  return Value::array(Array{akey, Value::boolean(subscribe)});
}

// Which keys of a subscribe to each fk, on b's side. Kafka Streams keeps
// them under a composite key and finds an fk's subscribers by a prefix
// scan; here the entries are a KTable (checkpointed, incrementally) keyed by
// [fk, a's key] with the order of subscription as value, and an index in
// memory per fk, rebuilt from the table at its first use after a restore. A subscription and
// an unsubscription cost O(1) whatever the fk's fan-out (one fk held as one
// array of its subscribers made each O(fan-out): quadratic to load a
// product with 100,000 orders), and a change of b's row answers the
// subscribers in the order they subscribed.
class FkSubscriptions final : public StateStore {
 public:
  explicit FkSubscriptions(std::string name) : table_(std::move(name), TableStorage::Decoded) {}

  void add(const Value& fk, const Value& akey) {
    ensure_index();
    Subscribers& s = index_[fk];
    if (s.seq_of.count(akey)) return;
    const int64_t seq = next_seq_++;
    s.seq_of.emplace(akey, seq);
    s.by_seq.emplace(seq, akey);
    table_.apply(Value::array(Array{fk, akey}), Value::int64(seq));
  }
  void remove(const Value& fk, const Value& akey) {
    ensure_index();
    auto it = index_.find(fk);
    if (it == index_.end()) return;
    auto at = it->second.seq_of.find(akey);
    if (at == it->second.seq_of.end()) return;
    it->second.by_seq.erase(at->second);
    it->second.seq_of.erase(at);
    if (it->second.seq_of.empty()) index_.erase(it);
    table_.apply(Value::array(Array{fk, akey}), Value());
  }
  // `fn(a's key)` for each subscriber of `fk`, in the order they subscribed.
  template <typename Fn>
  void for_each(const Value& fk, Fn&& fn) {
    ensure_index();
    auto it = index_.find(fk);
    if (it == index_.end()) return;
    for (const auto& [seq, akey] : it->second.by_seq) fn(akey);
  }

  std::string name() const override { return table_.name(); }
  std::string serialize() const override { return table_.serialize(); }
  std::function<std::string()> serialize_deferred() const override {
    return table_.serialize_deferred();
  }
  Expected<bool> restore(std::string_view bytes) override {
    stale_ = true;
    return table_.restore(bytes);
  }
  bool supports_incremental() const override { return true; }
  void set_change_tracking(bool on) override { table_.set_change_tracking(on); }
  std::string serialize_changes() const override { return table_.serialize_changes(); }
  Expected<bool> apply_changes(std::string_view bytes) override {
    stale_ = true;  // a restore applies a chain of them: indexed once, at first use
    return table_.apply_changes(bytes);
  }

 private:
  struct Subscribers {
    std::map<int64_t, Value> by_seq;
    std::unordered_map<Value, int64_t, ValueHash> seq_of;
  };

  // The index from the table. A checkpoint from before the composite keys
  // holds fk -> [a's keys...]: rewritten into them, in that order.
  void ensure_index() {
    if (!stale_) return;
    stale_ = false;
    index_.clear();
    next_seq_ = 0;
    std::vector<std::pair<int64_t, std::pair<Value, Value>>> entries;
    std::vector<std::pair<Value, Array>> old_format;
    for (auto& [key, value] : table_.snapshot()) {
      const bool seq = value.kind() == TypeKind::BigInt || value.kind() == TypeKind::Int;
      if (seq && key.kind() == TypeKind::Array && key.as_array().size() == 2) {
        const int64_t n = value.kind() == TypeKind::Int ? value.as_int32() : value.as_int64();
        entries.push_back({n, {key.as_array()[0], key.as_array()[1]}});
      } else if (value.kind() == TypeKind::Array) {
        old_format.emplace_back(key, value.as_array());
      }
    }
    std::sort(entries.begin(), entries.end(),
              [](const auto& x, const auto& y) { return x.first < y.first; });
    for (auto& [seq, e] : entries) {
      Subscribers& s = index_[e.first];
      s.seq_of.emplace(e.second, seq);
      s.by_seq.emplace(seq, std::move(e.second));
      next_seq_ = std::max(next_seq_, seq + 1);
    }
    for (auto& [fk, keys] : old_format) {
      table_.apply(fk, Value());
      for (const Value& akey : keys) add(fk, akey);
    }
  }

  KTable table_;
  std::unordered_map<Value, Subscribers, ValueHash> index_;
  int64_t next_seq_ = 0;
  bool stale_ = false;  // restored: index_ must be rebuilt from table_
};

}  // namespace

Expected<Topology::NodeId> fk_join_step(const TableJoinContext& c, size_t step,
                                        const JoinInput& left, const JoinInput& right,
                                        const SourceInfo& first, const SourceInfo& right_source,
                                        const ExprPtr& fk, JoinType type) {
  const QueryAnalysis& a = c.analysis;
  const std::string sfx = step == 0 ? "" : std::to_string(step);
  auto n = [&c, &sfx](const std::string& what) { return c.name(what + sfx); };
  // The fk: an expression of the columns joined so far (their slots come
  // first in the query's row, so it evaluates on left's row alone).
  CompileOptions o;
  o.clause = "JOIN";
  auto compiled = ExpressionCompiler(a.scope, FunctionRegistry::global(), o).compile(fk);
  if (!compiled) return compiled.error();
  auto fk_expr = std::make_shared<CompiledExpr>(std::move(*compiled));
  DataTypePtr bkey_type = right_source.schema.key_columns().front().type;
  auto lserdes = serdes_for(first);
  if (!lserdes) return sql_error(fk->loc, lserdes.error().message);
  auto rserdes = serdes_for(right_source);
  if (!rserdes) return sql_error(fk->loc, rserdes.error().message);

  const std::string lstore = left.store, rstore = right.store;
  const std::string prev_store = n("fk-prev"), subs_store = n("fk-subscriptions");
  c.topology.add_state_store(prev_store, [prev_store] {
    return std::make_shared<KTable>(prev_store, TableStorage::Decoded);
  });
  c.topology.add_state_store(
      subs_store, [subs_store] { return std::make_shared<FkSubscriptions>(subs_store); });
  auto lin = std::make_shared<JoinInput>(left);
  auto rin = std::make_shared<JoinInput>(right);
  const bool left_join = type == JoinType::Left;

  // a's row's fk, in b's key type (NULL when it has none).
  auto fk_of = [fk_expr, lin, bkey_type](const Value& akey, const Value& avalue) {
    // The steps before keep joined rows: evaluated in place, not copied.
    Array row;
    EvalRow e;
    if (lin->joined && avalue.kind() == TypeKind::Array) {
      e.columns = avalue.as_array().data();
      e.column_count = avalue.as_array().size();
    } else {
      row.reserve(lin->width);
      lin->append(akey, &avalue, row);
      e.columns = row.data();
      e.column_count = row.size();
    }
    Value k = fk_expr->evaluate(e);
    if (!k.is_null())
      if (auto typed = coerce(k, *bkey_type)) return *typed;
    return k.is_null() ? Value() : k;
  };
  // The result row for a's row and b's row (nullptr: none, LEFT).
  auto joined = [lin, rin](const Value& akey, const Value& avalue, const Value& fkey,
                           const Value* bvalue) {
    Array row;
    row.reserve(lin->width + rin->width);
    lin->append(akey, &avalue, row);
    rin->append(bvalue ? fkey : Value(), bvalue, row);
    return Value::array(std::move(row));
  };

  // 1. a's changes: subscriptions (branch 0) and immediate results (branch 1),
  // told apart by a marker: subscriptions are re-keyed by fk.
  const std::string marker = "rivulet.fk.subscription";
  auto a_side = [=](BuildContext& b) -> std::unique_ptr<Processor> {
    auto prev = std::dynamic_pointer_cast<KTable>(b.state_store(prev_store));
    if (!prev) return nullptr;
    RowFn fn = [=](const Record& rec, Batch& out) {
      if (rec.key.is_null()) return;
      const bool deleted = rec.value.is_null();
      Value new_fk = deleted ? Value() : fk_of(rec.key, rec.value);
      const Value* old = prev->find_local(rec.key);
      Value old_fk = old ? *old : Value();
      if (new_fk.is_null()) {
        if (old) prev->apply(rec.key, Value());
      } else if (!(old && old_fk == new_fk)) {
        prev->apply(rec.key, new_fk);
      }
      auto sub = [&](const Value& fkey, bool on) {
        Record s = rec;
        s.key = fkey;
        s.value = subscription(rec.key, on);
        s.headers.push_back(Header{marker, "1"});
        out.push_back(std::move(s));
      };
      if (!old_fk.is_null() && !(old_fk == new_fk)) sub(old_fk, false);
      if (!new_fk.is_null()) {
        sub(new_fk, true);
        return;
      }
      Record o = rec;
      o.value = deleted || !left_join ? Value() : joined(rec.key, rec.value, Value(), nullptr);
      out.push_back(std::move(o));
    };
    return std::make_unique<FlatMapNode<RowFn>>(b.node_name(), std::move(fn));
  };
  auto a_changes = c.topology.add_processor(n("fk-left"), {left.changes}, a_side, {});
  auto is_sub = [marker](const Record& rec) {
    for (const Header& h : rec.headers)
      if (h.name == marker) return true;
    return false;
  };
  auto pick = [is_sub, marker](bool subs) -> ProcessorFactory {
    return [=](BuildContext& b) -> std::unique_ptr<Processor> {
      RowFn fn = [=](const Record& rec, Batch& out) {
        if (is_sub(rec) != subs) return;
        Record o = rec;
        if (subs) {
          Headers kept;
          for (auto& h : o.headers)
            if (h.name != marker) kept.push_back(std::move(h));
          o.headers = std::move(kept);
        }
        out.push_back(std::move(o));
      };
      return std::make_unique<FlatMapNode<RowFn>>(b.node_name(), std::move(fn));
    };
  };
  auto subs_out = c.topology.add_processor(n("fk-subscribe"), {a_changes}, pick(true));
  auto direct = c.topology.add_processor(n("fk-direct"), {a_changes}, pick(false));
  auto subs_in = c.topology.add_repartition(subs_out, n("fk-subscribe"),
                                            Serdes{rserdes->key, codecs::internal().value});

  // 2. b's partition: subscriptions and b's changes answered to each a key.
  auto response = [](const Value& akey, const Value& fkey, const Value* bvalue, const Record& from) {
    Record o = from;
    o.key = akey;
    o.value = Value::array(Array{fkey, bvalue ? *bvalue : Value()});
    return o;
  };
  auto on_subscription = [=](BuildContext& b) -> std::unique_ptr<Processor> {
    auto subs = std::dynamic_pointer_cast<FkSubscriptions>(b.state_store(subs_store));
    std::shared_ptr<KTable> btable = b.table(rstore);
    if (!subs || !btable) return nullptr;
    RowFn fn = [=](const Record& rec, Batch& out) {
      if (rec.key.is_null() || rec.value.kind() != TypeKind::Array) return;
      const Array& v = rec.value.as_array();
      if (v.size() != 2) return;
      const Value& akey = v[0];
      const bool on = v[1].kind() == TypeKind::Boolean && v[1].as_bool();
      if (!on) {
        subs->remove(rec.key, akey);
        return;
      }
      subs->add(rec.key, akey);
      const Value* bv = btable->find_local(rec.key);
      if (bv && bv->is_null()) bv = nullptr;
      out.push_back(response(akey, rec.key, bv, rec));
    };
    return std::make_unique<FlatMapNode<RowFn>>(b.node_name(), std::move(fn));
  };
  auto on_b_change = [=](BuildContext& b) -> std::unique_ptr<Processor> {
    auto subs = std::dynamic_pointer_cast<FkSubscriptions>(b.state_store(subs_store));
    if (!subs) return nullptr;
    RowFn fn = [=](const Record& rec, Batch& out) {
      if (rec.key.is_null()) return;
      const Value* bv = rec.value.is_null() ? nullptr : &rec.value;
      subs->for_each(rec.key,
                     [&](const Value& akey) { out.push_back(response(akey, rec.key, bv, rec)); });
    };
    return std::make_unique<FlatMapNode<RowFn>>(b.node_name(), std::move(fn));
  };
  auto answers = c.topology.add_processor(n("fk-answer"), {subs_in}, on_subscription, {rstore});
  auto b_changes = c.topology.add_processor(n("fk-right"), {right.changes}, on_b_change, {});
  RowFn same = [](const Record& rec, Batch& out) { out.push_back(rec); };
  auto responses =
      c.topology.add_processor(n("fk-responses"), {answers, b_changes},
                               [same](BuildContext& b) -> std::unique_ptr<Processor> {
                                 return std::make_unique<FlatMapNode<RowFn>>(b.node_name(), same);
                               });
  auto back = c.topology.add_repartition(responses, n("fk-response"),
                                         Serdes{lserdes->key, codecs::internal().value});

  // 3. a's partition: join the response with a's current row.
  auto on_response = [=](BuildContext& b) -> std::unique_ptr<Processor> {
    std::shared_ptr<KTable> atable = b.table(lstore);
    if (!atable) return nullptr;
    RowFn fn = [=](const Record& rec, Batch& out) {
      if (rec.key.is_null() || rec.value.kind() != TypeKind::Array) return;
      const Array& v = rec.value.as_array();
      if (v.size() != 2) return;
      const Value* av = atable->find_local(rec.key);
      if (!av || av->is_null()) return;               // a's row is gone: stale
      if (!(fk_of(rec.key, *av) == v[0])) return;     // a's row moved to another fk: stale
      const Value* bv = v[1].is_null() ? nullptr : &v[1];
      Record o = rec;
      if (bv || left_join) {
        o.value = joined(rec.key, *av, v[0], bv);
      } else {
        o.value = Value();
      }
      out.push_back(std::move(o));
    };
    return std::make_unique<FlatMapNode<RowFn>>(b.node_name(), std::move(fn));
  };
  auto results = c.topology.add_processor(n("fk-join"), {back}, on_response, {lstore});
  return c.topology.add_processor(
      n("join"), {direct, results}, [same](BuildContext& b) -> std::unique_ptr<Processor> {
        return std::make_unique<FlatMapNode<RowFn>>(b.node_name(), same);
      });
}

}  // namespace rivulet::sql
