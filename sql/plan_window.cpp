#include "sql/plan_window.hpp"

#include <stdexcept>
#include <utility>

#include "operators/stateless_nodes.hpp"
#include "sql/functions.hpp"
#include "sql/sql_error.hpp"

namespace rivulet::sql {

rivulet::WindowKind window_kind(WindowType t) {
  switch (t) {
    case WindowType::Tumbling:
      return rivulet::WindowKind::Tumbling;
    case WindowType::Hopping:
      return rivulet::WindowKind::Hopping;
    case WindowType::Session:
      return rivulet::WindowKind::Session;
  }
  return rivulet::WindowKind::Tumbling;
}

rivulet::WindowSpec window_spec(const WindowSpec& w, EmitMode emit) {
  rivulet::WindowSpec out;
  // ksqlDB: 24 hours of grace by default, none with EMIT FINAL (its qtt
  // "should emit at window end if no grace period given").
  int64_t grace = w.grace_ms.value_or(emit == EmitMode::Final ? 0
                                                               : rivulet::WindowSpec::kDefaultGraceMs);
  switch (w.type) {
    case WindowType::Tumbling:
      out = rivulet::WindowSpec::tumbling(w.size_ms, grace);
      break;
    case WindowType::Hopping:
      out = rivulet::WindowSpec::hopping(w.size_ms, w.advance_ms, grace);
      break;
    case WindowType::Session:
      out = rivulet::WindowSpec::session(w.size_ms, grace);
      break;
  }
  if (w.retention_ms) out.retention_ms = *w.retention_ms;
  if (emit == EmitMode::Final) {
    out.emit = rivulet::WindowEmit::Final;
    out.expire_unemitted = true;  // ksqlDB's rules (its qtt "large jump" case)
  }
  return out;
}

namespace {

const Expr* find_window_bound(const Expr* e) {
  if (!e) return nullptr;
  if (e->kind == ExprKind::Column && e->qualifier.empty() &&
      (e->name == "WINDOWSTART" || e->name == "WINDOWEND"))
    return e;
  for (const ExprPtr& a : e->args)
    if (const Expr* f = find_window_bound(a.get())) return f;
  return nullptr;
}

}  // namespace

std::optional<Error> check_window_bounds(const Query& q,
                                         const std::vector<ExprPtr>& aggregate_calls) {
  if (!q.window) return std::nullopt;
  const Expr* bad = nullptr;
  if (!q.joins.empty()) {
    // ksqlDB does not resolve window bounds in a windowed aggregation of a
    // join (its issue 5931; qtt group-by "windowed join with window bounds").
    for (const SelectItem& item : q.select)
      if ((bad = find_window_bound(item.expr.get())))
        return sql_error(bad->loc, "SELECT column '" + bad->name + "' cannot be resolved.");
  }
  for (const ExprPtr& call : aggregate_calls)
    if ((bad = find_window_bound(call.get()))) break;
  if (!bad) bad = find_window_bound(q.having.get());
  if (!bad) return std::nullopt;
  return sql_error(bad->loc, "Window bounds column " + bad->name +
                                 " can only be used in the SELECT clause of windowed "
                                 "aggregations and can not be passed to aggregate functions.");
}

ProcessorFactory sink_timestamp(const SourceInfo& sink) {
  std::string column = *sink.timestamp_column;
  bool is_key = false;
  for (const Column& c : sink.schema.columns)
    if (c.name == column) is_key = c.is_key;
  bool single_key = sink.schema.key_columns().size() == 1;
  auto format = sink.timestamp_format;
  auto fn = [column, is_key, single_key, format](const Record& r, Batch& out) {
    const Value* v = nullptr;
    const Value& key = window_inner_key(r.key);
    if (is_key) {
      v = single_key && key.kind() != TypeKind::Struct ? &key
          : key.kind() == TypeKind::Struct             ? key.field(column)
                                                       : nullptr;
    } else if (r.value.kind() == TypeKind::Struct) {
      v = r.value.field(column);
    }
    if (r.value.is_null()) {
      out.push_back(r);  // tombstones keep their time
      return;
    }
    const int64_t ts = record_time(v ? *v : Value(), format);
    Record o = r;
    o.timestamp = ts;
    out.push_back(std::move(o));
  };
  using Fn = decltype(fn);
  return [fn](BuildContext& c) -> std::unique_ptr<Processor> {
    return std::make_unique<FlatMapNode<Fn>>(c.node_name(), fn);
  };
}

CodecFactory windowed_key_codec(CodecFactory inner, const SourceInfo& s) {
  if (!s.window) return inner;
  return codecs::windowed(std::move(inner), window_kind(*s.window), s.window_size_ms.value_or(0));
}

void bind_window(const Value& key, EvalRow& row) {
  if (!is_windowed_key(key)) {
    row.key = &key;
    return;
  }
  row.key = &window_inner_key(key);
  WindowBounds w = window_of(key);
  row.window_start = w.start;
  row.window_end = w.end;
}

Value with_window_of(const Value& input_key, Value key) {
  if (!is_windowed_key(input_key) || is_windowed_key(key)) return key;
  return windowed_key(std::move(key), window_of(input_key));
}

int64_t record_time(const Value& column, const std::optional<std::string>& format) {
  std::optional<int64_t> ms;
  if (column.kind() == TypeKind::Timestamp) {
    ms = column.as_timestamp();
  } else if (column.kind() == TypeKind::BigInt || column.kind() == TypeKind::Int) {
    ms = column.to_int64();
  } else if (column.kind() == TypeKind::String && format) {
    ms = parse_time(column.as_string(), *format);
  }
  if (!ms || *ms < 0) {
    throw std::runtime_error("no usable timestamp in the timestamp column: " +
                             (column.is_null() ? std::string("NULL") : column.to_string()));
  }
  return *ms;
}

}  // namespace rivulet::sql
