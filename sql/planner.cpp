#include "sql/planner.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <utility>

#include "operators/aggregate_functions.hpp"
#include "operators/stateless_nodes.hpp"
#include "runtime/avro_wire.hpp"
#include "runtime/json_sr_wire.hpp"
#include "runtime/protobuf_wire.hpp"
#include "runtime/schema_registry.hpp"
#include "sql/analyzer.hpp"
#include "sql/expression.hpp"
#include "sql/format_checks.hpp"
#include "sql/header_columns.hpp"
#include "sql/parser.hpp"
#include "sql/plan_rows.hpp"
#include "sql/plan_stream_join.hpp"
#include "sql/plan_subquery.hpp"
#include "sql/plan_table_aggregate.hpp"
#include "sql/plan_table_join.hpp"
#include "sql/plan_window.hpp"
#include "sql/row_layout.hpp"
#include "sql/statement_splitter.hpp"
#include "sql/text.hpp"
#include "sql/types.hpp"

namespace rivulet::sql {
namespace {

// The SET keys the planner reads (is_planner_property): COLLECT_LIST's and
// COLLECT_SET's limits; ksqlDB's new query planner, which lets a stream's
// projection leave out its key.
constexpr const char* kCollectListLimit = "ksql.functions.collect_list.limit";
constexpr const char* kCollectSetLimit = "ksql.functions.collect_set.limit";
constexpr const char* kNewQueryPlanner = "ksql.new.query.planner.enabled";
constexpr const char* kVariableSubstitution = "ksql.variable.substitution.enable";

// A SET value of type BOOLEAN as Kafka's ConfigDef reads it: trimmed,
// "true" or "false" in any case.
std::optional<bool> config_bool(std::string_view text) {
  text = java_trim(text);
  if (iequals(text, "true")) return true;
  if (iequals(text, "false")) return false;
  return std::nullopt;
}

// A SET value of type INT as Kafka's ConfigDef reads it: trimmed, then
// Integer.parseInt (an optional sign, decimal digits, within 32 bits).
std::optional<int32_t> config_int(std::string_view text) {
  text = java_trim(text);
  if (text.size() > 1 && text[0] == '+' && text[1] >= '0' && text[1] <= '9') text.remove_prefix(1);
  int32_t n = 0;
  const char* last = text.data() + text.size();
  auto [end, ec] = std::from_chars(text.data(), last, n);
  if (text.empty() || ec != std::errc() || end != last) return std::nullopt;
  return n;
}

std::shared_ptr<const Schema> value_schema(const SourceInfo& s) {
  auto out = std::make_shared<Schema>();
  for (const Column& c : s.schema.columns)
    if (!c.is_key) out->columns.push_back(c);
  return out;
}

}  // namespace

// ksqlDB's message for inputs of a join with different partition counts.
std::string partition_mismatch(const SourceInfo& left, const SourceInfo& right) {
  return "Can't join `" + left.name + "` with `" + right.name +
         "` since the number of partitions don't match. `" + left.name +
         "` partitions = " + std::to_string(left.partitions) + "; `" + right.name +
         "` partitions = " + std::to_string(right.partitions) +
         ". Please repartition either one so that the number of partitions match.";
}

namespace {

Error unsupported(SourceLocation at, const std::string& what) {
  return sql_error(at, "not supported yet: " + what);
}

// TOPK(col, k): k is a positive INT literal (ksqlDB evaluates it once).
Expected<size_t> top_k_size(const Expr& call) {
  const Expr* k = call.args.size() == 2 ? call.args[1].get() : nullptr;
  if (!k || k->kind != ExprKind::Literal ||
      (k->value.kind() != TypeKind::Int && k->value.kind() != TypeKind::BigInt) ||
      k->value.to_int64() <= 0 || k->value.to_int64() > 1000000)
    return sql_error(k ? k->loc : call.loc,
                     call.name + " needs a positive integer literal as its second argument");
  return static_cast<size_t>(k->value.to_int64());
}

// LATEST_BY_OFFSET's and EARLIEST_BY_OFFSET's literal arguments after the
// column: (x), (x, ignoreNulls), (x, n) or (x, n, ignoreNulls), as ksqlDB's.
// n = 0: no n (one value, not an array).
struct ByOffsetArgs {
  size_t n = 0;
  bool ignore_nulls = true;
};

Expected<ByOffsetArgs> by_offset_args(const Expr& call) {
  ByOffsetArgs out;
  auto literal = [](const ExprPtr& e, TypeKind kind) {
    if (e->kind != ExprKind::Literal) return false;
    if (kind == TypeKind::Boolean) return e->value.kind() == TypeKind::Boolean;
    return e->value.kind() == TypeKind::Int || e->value.kind() == TypeKind::BigInt;
  };
  const std::string usage = call.name + " takes (column [, ignoreNulls]) or (column, n [, " +
                            "ignoreNulls]), n a positive integer literal and ignoreNulls a " +
                            "BOOLEAN literal";
  size_t next = 1;
  if (call.args.size() > next && !literal(call.args[next], TypeKind::Boolean)) {
    if (!literal(call.args[next], TypeKind::Int)) return sql_error(call.args[next]->loc, usage);
    const int64_t n = call.args[next]->value.to_int64();
    if (n <= 0 || n > 1000000)
      return sql_error(call.args[next]->loc, call.name + "'s n must be 1 or greater (at most " +
                                                 "1000000), got " + std::to_string(n));
    out.n = static_cast<size_t>(n);
    ++next;
  }
  if (call.args.size() > next) {
    if (!literal(call.args[next], TypeKind::Boolean)) return sql_error(call.args[next]->loc, usage);
    out.ignore_nulls = call.args[next]->value.as_bool();
    ++next;
  }
  if (call.args.size() > next) return sql_error(call.args[next]->loc, usage);
  return out;
}

// The Row slots of `scope` that the expressions `exprs` may read, or
// nullopt when that cannot be told from their columns alone (a subquery, or
// a scope with external bindings that read the row their own way). A
// superset is fine: a lambda parameter named like a column keeps that
// column.
std::optional<std::vector<uint32_t>> row_slots_read(const Scope& scope,
                                                    const std::vector<ExprPtr>& exprs) {
  for (const auto& b : scope.bindings())
    if (b.slot.origin == Slot::Origin::External) return std::nullopt;
  std::vector<uint32_t> slots;
  for (const auto& b : scope.bindings())
    if (b.slot.origin == Slot::Origin::Row) slots.push_back(b.slot.index);
  bool opaque = false;
  std::function<void(const ExprPtr&)> walk = [&](const ExprPtr& e) {
    if (!e || opaque) return;
    if (e->subquery) {
      opaque = true;
      return;
    }
    if (e->kind == ExprKind::Column) {
      auto c = scope.find(e->qualifier, e->name);
      if (c.ok() && (*c)->slot.origin == Slot::Origin::Row) slots.push_back((*c)->slot.index);
      if (!c.ok() && e->qualifier.empty()) {
        // Ambiguous or unknown (a lambda parameter): keep every column of that name.
        for (const auto& col : scope.columns())
          if (col.slot.origin == Slot::Origin::Row && col.name == e->name)
            slots.push_back(col.slot.index);
      }
    }
    for (const auto& a : e->args) walk(a);
  };
  for (const auto& e : exprs) walk(e);
  if (opaque) return std::nullopt;
  std::sort(slots.begin(), slots.end());
  slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
  return slots;
}

}  // namespace

// VALUE_DELIMITER / KEY_DELIMITER: one character, or TAB / SPACE.
char delimiter_of(const SourceInfo& s, const char* property) {
  auto d = s.properties.text(property);
  if (!d || d->empty()) return ',';
  if (*d == "TAB") return '\t';
  if (*d == "SPACE") return ' ';
  return (*d)[0];
}

// JSON_SR with a schema registry: `json` in the registry's wire format.
// `named`: the columns the subject's latest schema must name to label
// what this writes (none: a bare value).
CodecFactory json_sr(CodecFactory json, std::shared_ptr<SchemaRegistry> registry,
                     std::string subject, std::string schema, const std::vector<Column>& named,
                     int writer_id) {
  std::vector<std::string> names;
  for (const Column& c : named) names.push_back(c.name);
  return [json = std::move(json), registry = std::move(registry), subject = std::move(subject),
          schema = std::move(schema), names = std::move(names), writer_id] {
    return make_json_sr_codec(json(), registry, subject, schema, names, writer_id);
  };
}

// The JSON Schema of a source's values: an object of its value columns,
// or one column's type written bare (WRAP_SINGLE_VALUE=false).
std::string json_value_schema(const SourceInfo& s) {
  auto values = value_schema(s);
  return unwrapped_single_value(s) ? json_schema::key_schema_for(values->columns)
                                   : json_schema::schema_for(values->columns);
}

// ksqlDB's KEY_SCHEMA_FULL_NAME / VALUE_SCHEMA_FULL_NAME: the PROTOBUF
// message a source's keys (values) are; "" for the schema's first.
std::string full_name(const SourceInfo& s, bool key) {
  return s.properties.text(key ? "KEY_SCHEMA_FULL_NAME" : "VALUE_SCHEMA_FULL_NAME").value_or("");
}

// ksqlDB's KEY_SCHEMA_ID / VALUE_SCHEMA_ID: the registered schema a
// source's keys (values) are read as and written with; 0 when not given.
int schema_id(const SourceInfo& s, bool key) {
  const Property* p = s.properties.find(key ? "KEY_SCHEMA_ID" : "VALUE_SCHEMA_ID");
  return p && p->value.kind() == TypeKind::Int && p->value.as_int32() > 0 ? p->value.as_int32() : 0;
}

// The schema a query writes one side of `sink` with, when that side is in a
// registry format: the one *_SCHEMA_ID names, checked to be of the format's
// type and to have a field for each column (one column: any one field);
// else ksqlDB's for the columns, registered (unless the subject's latest
// already serves). 0 when the side is in no registry format.
Expected<int> sink_schema(SchemaRegistry& registry, const SourceInfo& sink, bool key) {
  const std::string& format = key ? sink.key_format : sink.value_format;
  if (format != "AVRO" && format != "PROTOBUF" && format != "JSON_SR") return 0;
  if (key && sink.schema.key_columns().empty()) return 0;
  const std::string subject = key ? key_subject(sink.topic) : value_subject(sink.topic);
  const bool bare = !key && unwrapped_single_value(sink);
  if (const int id = schema_id(sink, key)) {
    const char* property = key ? "KEY_SCHEMA_ID" : "VALUE_SCHEMA_ID";
    const std::string which = std::string(property) + "=" + std::to_string(id);
    auto schema = registry.schema_by_id(id);
    if (!schema)
      return Error::fatal(which + ": the schema registry " + registry.where() + " has none (" +
                          schema.error().message + ")");
    const std::vector<Column> columns =
        key ? sink.schema.key_columns() : value_schema(sink)->columns;
    auto fields =
        registered_schema_columns(registry, format, *schema, key || bare, full_name(sink, key));
    if (!fields) return Error::fatal(which + ": " + fields.error().message);
    if (columns.size() == 1 && fields->size() == 1) return id;
    for (const Column& c : columns) {
      bool found = false;
      for (const Column& f : *fields) found = found || iequals(f.name, c.name);
      if (!found)
        return Error::fatal(which + ": the schema has no field for column " + c.name +
                            ", which the query writes");
    }
    return id;
  }
  if (format == "AVRO") {
    if (key) return register_key_schema(registry, subject, sink.schema);
    return bare ? register_bare_value_schema(registry, subject, *value_schema(sink))
                : register_value_schema(registry, subject, *value_schema(sink));
  }
  if (format == "PROTOBUF")
    return key ? register_protobuf_schema(registry, subject, sink.schema, true,
                                          full_name(sink, true))
               : register_protobuf_schema(registry, subject, *value_schema(sink), false,
                                          full_name(sink, false));
  return key ? register_json_key_schema(registry, subject, sink.schema)
             : register_json_value_schema(registry, subject, *value_schema(sink), bare);
}

// AVRO or PROTOBUF values with a schema registry: every field of the
// writer's schema read into `values`' columns.
CodecFactory registry_value_codec(const SourceInfo& s, std::shared_ptr<const Schema> values,
                                  std::shared_ptr<SchemaRegistry> registry) {
  const int id = schema_id(s, false);
  if (s.value_format == "AVRO" && unwrapped_single_value(s))  // WRAP_SINGLE_VALUE=false
    return [values, registry, subject = value_subject(s.topic), id] {
      return make_avro_bare_value_codec(values, registry, subject, id);
    };
  if (s.value_format == "PROTOBUF")
    return [values, registry, subject = value_subject(s.topic), name = full_name(s, false), id] {
      return make_protobuf_codec(values, registry, subject, name, id);
    };
  return [values, registry, subject = value_subject(s.topic), id] {
    return make_avro_codec(values, registry, subject, id);
  };
}

CodecFactory json_sr_values(const SourceInfo& s, CodecFactory json,
                            std::shared_ptr<SchemaRegistry> registry) {
  return json_sr(std::move(json), std::move(registry), value_subject(s.topic), json_value_schema(s),
                 unwrapped_single_value(s) ? std::vector<Column>{} : value_schema(s)->columns,
                 schema_id(s, false));
}

Expected<Serdes> serdes_for(const SourceInfo& s) {
  auto formats = check_formats(s);
  if (!formats) return formats.error();
  Serdes out;
  auto keys = s.schema.key_columns();
  if (keys.empty()) {
    out.key = codecs::kafka_string();
  } else if (s.key_format == "KAFKA") {
    if (keys.size() > 1)  // check_formats (above) refuses it
      return Error::fatal("several key columns in the KAFKA key format");
    out.key = codecs::kafka(keys[0].type);
  } else if (auto registry = s.key_format == "AVRO" ? schema_registry() : nullptr) {
    out.key = [schema = std::make_shared<const Schema>(s.schema), registry,
               subject = key_subject(s.topic), id = schema_id(s, true)] {
      return make_avro_key_codec(schema, registry, subject, id);
    };
  } else if (auto registry = s.key_format == "PROTOBUF" ? schema_registry() : nullptr) {
    out.key = [schema = std::make_shared<const Schema>(s.schema), registry,
               subject = key_subject(s.topic), name = full_name(s, true), id = schema_id(s, true)] {
      return make_protobuf_key_codec(schema, registry, subject, name, id);
    };
  } else if (auto registry = s.key_format == "JSON_SR" ? schema_registry() : nullptr) {
    out.key =
        json_sr(codecs::json(), registry, key_subject(s.topic), json_schema::key_schema_for(keys),
                keys.size() == 1 ? std::vector<Column>{} : keys, schema_id(s, true));
  } else if (s.key_format == "PROTOBUF_NOSR") {
    out.key = [schema = std::make_shared<const Schema>(s.schema)] {
      return make_protobuf_nosr_key_codec(schema);
    };
  } else if (is_logical_json(s.key_format)) {
    out.key = codecs::json();
  } else if (s.key_format == "DELIMITED") {
    auto schema = std::make_shared<Schema>();
    schema->columns = keys;
    for (Column& c : schema->columns) c.is_key = false;  // the codec reads value columns
    out.key = codecs::delimited(schema, delimiter_of(s, "KEY_DELIMITER"));
  } else {
    return Error::fatal("not supported yet: key format " + s.key_format);
  }
  auto values = value_schema(s);
  const bool binary = s.value_format == "AVRO" || s.value_format == "PROTOBUF";
  auto registry = binary ? schema_registry() : nullptr;
  if (registry) {
    if (unwrapped_single_value(s) && s.value_format != "AVRO")  // check_formats refused it
      return Error::fatal("Format '" + s.value_format +
                          "' does not support 'WRAP_SINGLE_VALUE' set to 'false'.");
    out.value = registry_value_codec(s, values, registry);
  } else if (auto registry = s.value_format == "JSON_SR" ? schema_registry() : nullptr) {
    out.value = json_sr_values(s, unwrapped_single_value(s) ? codecs::json() : codecs::json(values),
                               registry);
  } else if (s.value_format == "PROTOBUF_NOSR") {
    out.value = [values] { return make_protobuf_nosr_codec(values); };
  } else if (is_logical_json(s.value_format) && unwrapped_single_value(s)) {
    out.value = codecs::json();  // one bare value
  } else if (is_logical_json(s.value_format)) {
    out.value = codecs::json(values);
  } else if (s.value_format == "DELIMITED") {
    out.value = codecs::delimited(values, delimiter_of(s, "VALUE_DELIMITER"));
  } else if (s.value_format == "KAFKA") {
    if (values->columns.size() != 1)
      return Error::fatal("the KAFKA value format needs exactly one value column");
    out.value = codecs::kafka(values->columns[0].type);
  } else {
    return Error::fatal("not supported yet: value format " + s.value_format);
  }
  out.key = windowed_key_codec(std::move(out.key), s);
  return out;
}

// Plans one persistent query into the engine's topology. Lives for one
// statement.
class QueryPlanner {
 public:
  QueryPlanner(SqlEngine& engine, const Query& q, const QueryAnalysis& a, const SourceInfo& sink,
               std::string id, PeekFn deliver = {})
      : e_(engine),
        q_(q),
        a_(a),
        sink_(sink),
        id_(std::move(id)),
        deliver_(std::move(deliver)),
        reads_(column_names(q, a)) {}

  // Plans the query into the engine's topology; EXPLAIN's subquery lines
  // are kept only when it succeeds.
  Expected<bool> plan() {
    auto planned = plan_query();
    if (planned)
      for (std::string& n : notes_) e_.subquery_notes_.push_back(id_ + "  " + std::move(n));
    return planned;
  }

  Expected<bool> plan_query() {
    if (q_.limit && !deliver_) return unsupported(q_.loc, "LIMIT");
    if (auto bad = check_window_bounds(q_, a_.aggregate_calls)) return *bad;

    const SourceInfo& from = *a_.sources[0].info;
    const bool table_join =
        !a_.joins.empty() && a_.joins[0].kind == AnalyzedJoin::Kind::TableTable;
    Expected<Topology::NodeId> node = Topology::NodeId{0};
    if (table_join) {
      TableJoinContext c{e_.topology_, q_, a_,
                         [this](const std::string& what) { return name(what); },
                         [this](const SourceInfo& t) { return materialize_node(t); }};
      node = plan_table_join(c);
    } else {
      const ColumnNames reads = names_for(reads_, a_, from);
      auto src = e_.source_node(from, false, &reads);
      if (!src) return src.error();
      if (rows_in_first_join(from)) {
        node = records_for_first_join(*src, from);
      } else {
        auto filtered = where_on_decoded(*src, from);
        if (!filtered) return filtered.error();
        node = to_rows(*filtered, from, q_.joins.empty() && !a_.aggregate);
      }
    }
    if (!node) return node.error();
    key_info_ = &from;
    if (!table_join) {
      node = push_down_where(*node, first_join_rows_ != nullptr);
      if (!node) return node.error();
    }
    for (size_t i = table_join ? q_.joins.size() : 0; i < q_.joins.size(); ++i) {
      node = join(i, *node);
      if (!node) return node.error();
    }
    if (where_ || !select_subqueries_.empty()) {
      node = where(*node);
      if (!node) return node.error();
    }
    if (!a_.table_function_calls.empty()) {  // a stream without aggregation (analyzer)
      node = table_functions(*node);
      if (!node) return node.error();
    }
    node = a_.aggregate ? aggregate(*node) : project(*node);
    if (!node) return node.error();
    if (deliver_) {  // a push query: the rows go to the caller, not to a topic
      PeekFn deliver = deliver_;
      e_.topology_.add_processor(name("push"), {*node}, [deliver](BuildContext& b) {
        return std::unique_ptr<Processor>(new PeekNode<>(b.node_name(), deliver));
      });
      return true;
    }
    if (sink_.timestamp_column)
      node = e_.topology_.add_processor(name("sink-timestamp"), {*node}, sink_timestamp(sink_));
    auto serdes = serdes_for(sink_);
    if (!serdes) return sql_error(q_.loc, serdes.error().message);
    // AVRO, PROTOBUF and JSON_SR with a schema registry: the output's
    // schemas registered now (or, given a *_SCHEMA_ID, checked), so that a
    // refusal (incompatible with the subject's schemas, the registry
    // unreachable) is the statement's error, not the records'.
    if (auto registry = schema_registry()) {
      for (const bool key : {false, true}) {
        auto id = sink_schema(*registry, sink_, key);
        if (!id) return sql_error(q_.loc, id.error().message);
      }
    }
    // A CREATE TABLE AS SELECT keeps its rows for pull queries; a windowed
    // one each window until the records' time passes its end by the
    // window's retention (RETENTION, else size or gap + grace; a result of
    // a windowed source without WINDOW: its size + ksqlDB's default grace).
    // (A CREATE TABLE AS SELECT's sink names this query as its writer; an
    // INSERT INTO's names its table's own query, a push query's none.)
    if (sink_.is_table() && sink_.query_id == id_) {
      int64_t keep_ms = -1;
      if (sink_.window) {
        keep_ms = q_.window ? window_spec(*q_.window, q_.emit).retention()
                            : sink_.window_size_ms.value_or(0) + rivulet::WindowSpec::kDefaultGraceMs;
      }
      e_.topology_.add_table(*node, queryable_store_name(sink_.name), TableStorage::Encoded, -1,
                             keep_ms);
    }
    e_.topology_.add_sink(*node, sink_.topic, std::move(*serdes), sink_.is_table());
    // Created when missing as ksqlDB creates it: WITH (PARTITIONS=n), else
    // as many partitions as its first source.
    e_.topology_.set_output_partitions(
        sink_.topic, Topology::OutputPartitions{
                         sink_.partitions, a_.sources.empty() ? "" : a_.sources[0].info->topic});
    return true;
  }

 private:
  std::string name(const std::string& what) const { return id_ + "-" + what; }

  Expected<Topology::NodeId> to_rows(Topology::NodeId src, const SourceInfo& s,
                                     bool keep_tombstones) {
    auto layout = std::make_shared<RowLayout>(s);
    std::optional<size_t> ts_column;
    if (s.timestamp_column) ts_column = s.schema.index_of(*s.timestamp_column);
    bool table = s.is_table();
    auto ts_format = s.timestamp_format;
    RewriteRowFn fn = [layout, ts_column, ts_format, table, keep_tombstones](
                          Record& r, ProcessContext& ctx) {
      if (r.value.is_null() && table) return true;
      Array row;
      if (r.value.is_null()) {
        // ksqlDB passes a stream's null values through a projection; joins
        // and aggregations drop them (counted).
        if (!keep_tombstones) {
          ctx.skipped(r, SkipReason::Tombstone, "a join or GROUP BY (a stream's null value)");
          return false;
        }
        row.reserve(layout->width() + 1);
        layout->append(window_inner_key(r.key), nullptr, row);
        row.push_back(Value::boolean(true));
      } else {
        row.reserve(layout->width() + 1);
        layout->append(window_inner_key(r.key), &r.value, row);
        if (ts_column) r.timestamp = record_time(row[*ts_column], ts_format);
        if (!table) row.push_back(Value::boolean(false));
      }
      r.value = Value::array(std::move(row));
      return true;
    };
    return e_.topology_.add_processor(name("rows"), {src}, rewrite(std::move(fn)));
  }

  // A stream keyed by its first join's key, joined with a table: the join
  // builds the stream's columns and the table's into one row (one row
  // built and copied per record instead of two). Its null values are
  // dropped before, as to_rows drops them, and a timestamp column sets
  // each record's time there, read as to_rows reads it.
  bool rows_in_first_join(const SourceInfo& s) {
    if (s.is_table() || s.window || a_.joins.empty() ||
        a_.joins[0].kind != AnalyzedJoin::Kind::StreamTable || !keyed_for(0))
      return false;
    if (s.timestamp_column) {
      if (!s.schema.index_of(*s.timestamp_column)) return false;
      // A WHERE before a LEFT join is tested on the decoded records
      // (where_on_decoded), sparing the join the records it rejects; that
      // path builds rows first.
      if (where_ && q_.joins[0].type != JoinType::Inner) return false;
    }
    first_join_rows_ = std::make_shared<RowLayout>(s);
    return true;
  }
  // The records rows_in_first_join hands to the join: tombstones dropped
  // (counted), each record's time set from the timestamp column if any.
  Expected<Topology::NodeId> records_for_first_join(Topology::NodeId src, const SourceInfo& s) {
    std::optional<size_t> ts_column;
    if (s.timestamp_column) ts_column = s.schema.index_of(*s.timestamp_column);
    std::shared_ptr<const RowLayout> layout = first_join_rows_;
    auto ts_format = s.timestamp_format;
    RewriteRowFn fn = [layout, ts_column, ts_format](Record& r, ProcessContext& ctx) {
      if (r.value.is_null()) {
        ctx.skipped(r, SkipReason::Tombstone, "a join or GROUP BY (a stream's null value)");
        return false;
      }
      if (ts_column)
        r.timestamp =
            record_time(layout->column(window_inner_key(r.key), &r.value, *ts_column), ts_format);
      return true;
    };
    return e_.topology_.add_processor(name("rows"), {src}, rewrite(std::move(fn)));
  }

  Expected<CompiledExpr> compile(const Scope& scope, const ExprPtr& e, const char* clause) const {
    CompileOptions o;
    o.clause = clause;
    return ExpressionCompiler(scope, FunctionRegistry::global(), o).compile(e);
  }

  // Whether the rows before join `i` are keyed by its left ON expression:
  // the first source's key column, or the previous join's key.
  bool keyed_for(size_t i) const {
    const AnalyzedJoin& aj = a_.joins[i];
    if (i > 0)
      return key_info_ && (same_expr(*aj.left_key, *a_.joins[i - 1].left_key) ||
                           same_expr(*aj.left_key, *a_.joins[i - 1].right_key));
    const SourceInfo& left = *a_.sources[0].info;
    if (aj.left_key->kind != ExprKind::Column || left.schema.key_columns().size() != 1)
      return false;
    auto c = a_.scope.find(aj.left_key->qualifier, aj.left_key->name);
    return c.ok() && (*c)->is_key;
  }

  // Whether GROUP BY is exactly the key column of the query's first source
  // and the records still sit in that key's partition: no join, or only
  // stream-table joins on that key (a join on another expression goes
  // through a repartition topic, a stream-stream join may rekey).
  bool grouped_by_source_key() const {
    if (q_.group_by.size() != 1) return false;
    for (const AnalyzedJoin& aj : a_.joins)
      if (aj.kind != AnalyzedJoin::Kind::StreamTable) return false;
    if (!q_.joins.empty() && key_info_ != a_.sources[0].info) return false;
    const Expr& g = *q_.group_by[0];
    if (g.kind != ExprKind::Column || a_.sources[0].info->schema.key_columns().size() != 1)
      return false;
    auto c = a_.scope.find(g.qualifier, g.name);
    return c.ok() && (*c)->is_key &&
           (q_.joins.empty() || (*c)->qualifier == a_.sources[0].qualifier);
  }

  Expected<Topology::NodeId> join(size_t i, Topology::NodeId node) {
    const Join& j = q_.joins[i];
    const AnalyzedJoin& aj = a_.joins[i];
    if (aj.kind == AnalyzedJoin::Kind::StreamStream) {
      const bool keyed = keyed_for(i);
      const SourceInfo* left = keyed ? key_info_ : nullptr;
      const SourceInfo& right = *a_.sources[aj.right].info;
      bool right_keyed = false;
      if (aj.right_key->kind == ExprKind::Column && right.schema.key_columns().size() == 1) {
        auto c = a_.scope.find(aj.right_key->qualifier, aj.right_key->name);
        right_keyed = c.ok() && (*c)->is_key;
      }
      key_info_ = right_keyed ? &right : left;
      StreamJoinContext ctx{e_.topology_, q_, a_,
                            [this](const std::string& what) { return name(what); },
                            [this](const SourceInfo& s) -> Expected<Topology::NodeId> {
                              const ColumnNames reads = names_for(reads_, a_, s);
                              auto src = e_.source_node(s, false, &reads);
                              if (!src) return src.error();
                              return to_rows(*src, s, false);
                            }};
      table_key_column_.reset();
      return plan_stream_join(ctx, i, node, keyed, left);
    }
    if (aj.kind != AnalyzedJoin::Kind::StreamTable)
      return unsupported(j.loc, "table-table joins");
    if (j.type != JoinType::Inner && j.type != JoinType::Left)
      return unsupported(j.loc, std::string(join_type_name(j.type)) + " stream-table joins");
    if (!aj.right_key_is_primary_key)
      return unsupported(j.loc, "a join on a non-key table column");
    const SourceInfo& table = *a_.sources[aj.right].info;
    if (table.timestamp_format) return unsupported(j.right.loc, "TIMESTAMP_FORMAT");

    // The stream must be keyed by the join expression.
    const bool keyed = keyed_for(i);
    const SourceInfo& stream = key_info_ ? *key_info_ : table;
    key_info_ = keyed ? key_info_ : &table;
    if (keyed && stream.partitions > 0 && table.partitions > 0 &&
        stream.partitions != table.partitions)
      return sql_error(j.loc, partition_mismatch(stream, table));
    if (!keyed) {
      auto key = compile(a_.scope, aj.left_key, "JOIN");
      if (!key) return key.error();
      auto k = std::make_shared<CompiledExpr>(std::move(*key));
      // The key takes the table key's type (INT = BIGINT is a valid ON), so
      // that it serializes, partitions and compares like the table's keys.
      DataTypePtr key_type = table.schema.key_columns().front().type;
      RowFn fn = [k, key_type](const Record& r, Batch& out) {
        Record o = r;
        o.key = k->evaluate(eval_row(r));
        if (!o.key.is_null())
          if (auto c = coerce(o.key, *key_type)) o.key = std::move(*c);
        out.push_back(std::move(o));
      };
      node = e_.topology_.add_processor(name("join-key" + std::to_string(i)), {node},
                                        flat_map(std::move(fn)));
      // The repartition topic's key is written in the table's key format, so
      // that Java's partitioner puts each record in the partition that holds
      // its table row (the table's topic was partitioned over those bytes).
      auto serdes = serdes_for(table);
      if (!serdes) return sql_error(j.loc, serdes.error().message);
      node = e_.topology_.add_repartition(node, name(i == 0 ? "join" : "join" + std::to_string(i)),
                                          Serdes{serdes->key, codecs::internal().value});
    }

    auto store = materialize(table);
    if (!store) return store.error();
    auto layout = std::make_shared<RowLayout>(table);
    std::shared_ptr<const RowLayout> stream_rows = i == 0 ? first_join_rows_ : nullptr;
    // Filled by project() when the result can be built without the row.
    auto fused = stream_rows ? std::make_shared<std::shared_ptr<const JoinProjection>>() : nullptr;
    Joiner joiner = [layout, stream_rows, fused](const Record& r, const Value* tv) {
      if (fused && *fused) {
        const JoinProjection& f = **fused;
        if (f.keeps_key(r.key, *stream_rows, *layout))
          return f.build(r.key, r.value, tv, *stream_rows, *layout);
      }
      Array row;
      if (stream_rows) {  // the stream record as decoded (rows_in_first_join)
        row.reserve(stream_rows->width() + layout->width() + 1);
        stream_rows->append(window_inner_key(r.key), &r.value, row);
      } else if (r.value.kind() == TypeKind::Array) {
        const Array& in = r.value.as_array();
        row.reserve(in.size() + layout->width());
        if (!in.empty())  // the tombstone flag stays last
          row.insert(row.end(), in.begin(), in.end() - 1);
      }
      if (tv)
        layout->append(r.key, tv, row);
      else
        layout->append_nulls(row);  // LEFT, no row
      row.push_back(Value::boolean(false));
      return Value::array(std::move(row));
    };
    // The table's key column in the joined row: NULL when a LEFT join finds
    // no row (as ksqlDB's), yet the join's key when the result is keyed by it.
    table_key_column_.reset();
    if (auto c = a_.scope.find(aj.right_key->qualifier, aj.right_key->name);
        c.ok() && (*c)->slot.origin == Slot::Origin::Row && (*c)->is_key)
      for (size_t at = 0; at < layout->width(); ++at)
        if (layout->key_column(at) && (*c)->name == table.schema.columns[at].name)
          table_key_column_ = TableKeyColumn{(*c)->slot.index, layout, at};
    const Topology::NodeId joined = e_.topology_.add_stream_table_join(
        node, *store, j.type == JoinType::Left ? rivulet::JoinType::Left : rivulet::JoinType::Inner,
        std::move(joiner));
    if (fused) fusable_join_ = FusableJoin{joined, fused, stream_rows, layout};
    return joined;
  }

  // The table as a KTable of the task (once per engine); its name.
  Expected<std::string> materialize(const SourceInfo& table) {
    auto m = materialize_node(table);
    if (!m) return m.error();
    return m->first;
  }
  // ... and the node emitting its changelog once the KTable is updated.
  Expected<std::pair<std::string, Topology::NodeId>> materialize_node(const SourceInfo& table) {
    return e_.table_node(table);
  }

  // WHERE's conjuncts (split at AND) that read only the first source's
  // columns through comparisons and logic (only its value columns when
  // `struct_records`: decoded keys are not coerced to their column's type
  // yet, a JSON key may be any number), and the others.
  std::pair<std::vector<ExprPtr>, std::vector<ExprPtr>> split_pushable(bool struct_records) const {
    std::vector<ExprPtr> conjuncts, pushed, rest;
    std::function<void(const ExprPtr&)> split = [&](const ExprPtr& e) {
      if (e->kind == ExprKind::Binary && e->binary_op == BinaryOp::And) {
        split(e->args[0]);
        split(e->args[1]);
      } else {
        conjuncts.push_back(e);
      }
    };
    split(where_);
    const std::string& qualifier = a_.sources[0].qualifier;
    std::function<bool(const Expr&)> safe = [&](const Expr& e) {
      switch (e.kind) {
        case ExprKind::Literal:
          return true;
        case ExprKind::Column: {
          // Decoded keys are not coerced to the column's type yet (a JSON
          // key may be any number): only value columns when decoded.
          auto c = a_.scope.find(e.qualifier, e.name);
          return c.ok() && !(*c)->is_pseudo && (*c)->qualifier == qualifier &&
                 !(struct_records && (*c)->is_key);
        }
        case ExprKind::Unary:
          if (e.unary_op != UnaryOp::Not) return false;
          break;
        case ExprKind::Binary:
          if (!is_comparison(e.binary_op) && !is_logical(e.binary_op)) return false;
          break;
        case ExprKind::Between:
        case ExprKind::InList:
        case ExprKind::IsNull:
        case ExprKind::IsDistinctFrom:
        case ExprKind::Like:
          break;
        default:
          return false;
      }
      for (const auto& a : e.args)
        if (!safe(*a)) return false;
      return true;
    };
    for (const auto& c : conjuncts) (safe(*c) ? pushed : rest).push_back(c);
    return {std::move(pushed), std::move(rest)};
  }
  // No RIGHT or FULL join: one would emit the other side's records with the
  // stream's columns NULL where a record that WHERE rejected early would
  // have matched them.
  bool joins_inner_or_left() const {
    for (const Join& j : q_.joins)
      if (j.type != JoinType::Inner && j.type != JoinType::Left) return false;
    return true;
  }
  static ExprPtr conjunction(const std::vector<ExprPtr>& v) {
    ExprPtr e;
    for (const auto& c : v) e = e ? ast::binary(BinaryOp::And, e, c, c->loc) : c;
    return e;
  }

  // A stream's WHERE, as far as it reads only the stream's value columns
  // through comparisons and logic, tested on the decoded records before
  // to_rows builds them into rows: a record it rejects is never built
  // (two thirds of the Yahoo benchmark's events). The whole WHERE still
  // runs later, where it did, so a record that passes is tested twice and
  // a record rejected here is one the later WHERE drops. What the steps
  // before that WHERE would report for a rejected record is still
  // reported: to_rows' data error for a timestamp column that is not a
  // timestamp is raised here; tombstones and null keys pass to to_rows and
  // the join, which count what they skip; and no join that could refuse a
  // record for its NULL join expression may follow.
  Expected<Topology::NodeId> where_on_decoded(Topology::NodeId src, const SourceInfo& s) {
    if (!where_ || s.is_table() || has_subqueries(where_) || !values_decode_to_struct(s) ||
        !joins_inner_or_left())
      return src;
    // A stream-stream join's windows advance with every record they see,
    // rejected or not, and so decide what is late.
    for (const AnalyzedJoin& j : a_.joins)
      if (j.kind != AnalyzedJoin::Kind::StreamTable) return src;
    // A join on anything but the stream's key refuses (dead-letters) the
    // records whose join expression is NULL, rejected by WHERE or not: one
    // join, on the key (whose NULL passes here), at most.
    if (a_.joins.size() > 1 || (!a_.joins.empty() && !keyed_for(0))) return src;
    // The timestamp column, read from the decoded struct as to_rows reads it.
    std::optional<size_t> ts_column;
    if (s.timestamp_column) {
      ts_column = s.schema.index_of(*s.timestamp_column);
      if (!ts_column || s.schema.columns[*ts_column].is_key) return src;
    }
    const std::vector<ExprPtr> pushed = split_pushable(true).first;
    if (pushed.empty()) return src;
    auto c = compile(Scope::of_record(s.schema, a_.sources[0].qualifier), conjunction(pushed),
                     "WHERE");
    if (!c) return src;  // the whole WHERE, compiled later, reports what is wrong
    auto w = std::make_shared<CompiledExpr>(std::move(*c));
    auto layout = std::make_shared<RowLayout>(s);
    auto ts_format = s.timestamp_format;
    RewriteRowFn fn = [w, layout, ts_column, ts_format](Record& r, ProcessContext&) {
      if (r.key.is_null() || r.value.is_null()) return true;
      EvalRow e = eval_row(r);
      e.key = &r.key;
      e.value = &r.value;
      if (w->test(e)) return true;
      if (ts_column && r.value.kind() == TypeKind::Struct) {
        // Its data error, as to_rows would raise it.
        record_time(layout->column(window_inner_key(r.key), &r.value, *ts_column), ts_format);
      }
      return false;
    };
    return e_.topology_.add_processor(name("where-decoded"), {src}, rewrite(std::move(fn)));
  }

  // Predicate pushdown. Before an inner stream-table join on the stream's
  // key, the conjuncts of WHERE that read only the stream's own columns
  // and cannot fail at run time (comparisons, AND / OR / NOT, IS [NOT]
  // NULL, BETWEEN, IN lists, LIKE, IS [NOT] DISTINCT FROM over columns and
  // literals) drop the records they reject, so that those never reach the
  // table lookup or the joined row. The same records come out: the joined
  // row carries the stream's columns unchanged, and a condition that cannot
  // fail logs nothing wherever it runs. Records with a null key pass (the
  // join dead-letters them, as before). The rest of WHERE (`where_`) runs
  // after the join. `struct_records`: the records are still as decoded (a
  // key and a struct of value columns: rows_in_first_join), else rows.
  Expected<Topology::NodeId> push_down_where(Topology::NodeId node, bool struct_records) {
    const SourceInfo& s = *a_.sources[0].info;
    if (!where_ || a_.joins.empty() || a_.joins[0].kind != AnalyzedJoin::Kind::StreamTable ||
        q_.joins[0].type != JoinType::Inner || s.is_table() || !keyed_for(0) ||
        has_subqueries(where_) || !joins_inner_or_left())
      return node;
    // Decoded records are read by field position.
    if (struct_records && !values_decode_to_struct(s)) return node;
    auto [pushed, rest] = split_pushable(struct_records);
    if (pushed.empty()) return node;
    const Scope scope =
        struct_records ? Scope::of_record(s.schema, a_.sources[0].qualifier) : a_.scope;
    auto c = compile(scope, conjunction(pushed), "WHERE");
    if (!c) return c.error();
    where_ = conjunction(rest);
    auto w = std::make_shared<CompiledExpr>(std::move(*c));
    RewriteRowFn fn = [w, struct_records](Record& r, ProcessContext&) {
      if (r.key.is_null()) return true;
      EvalRow e = eval_row(r);
      if (struct_records) {
        e.key = &r.key;
        e.value = &r.value;
      }
      return w->test(e);
    };
    return e_.topology_.add_processor(name("where-before-join"), {node}, rewrite(std::move(fn)));
  }

  Expected<Topology::NodeId> where(Topology::NodeId node) {
    if (has_subqueries(where_) || !select_subqueries_.empty()) {
      SubqueryWhereContext c{e_.topology_, e_.catalog_, q_, a_,
                             [this](const std::string& what) { return name(what); },
                             [this](const SourceInfo& t) { return materialize(t); },
                             where_, select_subqueries_, row_width(a_.scope), &notes_};
      std::vector<DataTypePtr> types;
      auto planned = plan_subquery_where(c, node, types);
      if (!planned) return planned.error();
      for (size_t i = 0; i < select_subqueries_.size(); ++i)
        projection_scope_.bind(select_subqueries_[i], types[i],
                               Slot{Slot::Origin::Row, c.row_width + static_cast<uint32_t>(i)});
      return planned;
    }
    auto c = compile(a_.scope, where_, "WHERE");
    if (!c) return c.error();
    auto w = std::make_shared<CompiledExpr>(std::move(*c));
    bool table = a_.sources[0].info->is_table();
    RewriteRowFn fn = [w, table](Record& r, ProcessContext&) {
      if (is_row_tombstone(r, table)) return table;
      if (w->test(eval_row(r))) return true;
      if (table) r.value = Value();  // a table row that no longer matches is deleted
      return table;
    };
    return e_.topology_.add_processor(name("where"), {node}, rewrite(std::move(fn)));
  }

  // The SELECT's table functions (EXPLODE, ...), ksqlDB's FlatMap step: each
  // row becomes as many rows as the longest of their results, the
  // functions' values (NULL past a shorter result's end) inserted from Row
  // slot `width` on, where the projection reads them. A stream's null value
  // gives no row (counted as a skipped tombstone); a function that throws
  // fails the row (a data error, dead-lettered with the bytes read).
  Expected<Topology::NodeId> table_functions(Topology::NodeId node) {
    struct Call {
      std::string name;
      TableCall call;
      std::vector<std::shared_ptr<const CompiledExpr>> args;
    };
    const uint32_t width = row_width(a_.scope) + static_cast<uint32_t>(select_subqueries_.size());
    auto calls = std::make_shared<std::vector<Call>>();
    for (size_t i = 0; i < a_.table_function_calls.size(); ++i) {
      const ExprPtr& e = a_.table_function_calls[i];
      Call c;
      c.name = e->name;
      std::vector<DataTypePtr> types;
      for (const ExprPtr& a : e->args) {
        auto arg = compile(projection_scope_, a, "SELECT");
        if (!arg) return arg.error();
        types.push_back(arg->type());
        c.args.push_back(std::make_shared<const CompiledExpr>(std::move(*arg)));
      }
      auto resolved = FunctionRegistry::global().resolve_table(e->name, types);
      if (!resolved) return sql_error(e->loc, resolved.error().message);
      c.call = std::move(*resolved);
      projection_scope_.bind(e, c.call.return_type,
                             Slot{Slot::Origin::Row, width + static_cast<uint32_t>(i)});
      calls->push_back(std::move(c));
    }
    ReportingRowFn fn = [calls, width](const Record& r, Batch& out, ProcessContext& ctx) {
      if (is_tombstone(r)) {
        ctx.skipped(r, SkipReason::Tombstone, "a table function (a stream's null value)");
        return;
      }
      const EvalRow row_in = eval_row(r);
      std::vector<Array> results;
      results.reserve(calls->size());
      size_t rows = 0;
      for (const Call& c : *calls) {
        const ArgValues args = evaluate_each(c.args, row_in);
        std::string failure;
        try {
          results.push_back(c.call.body(args));
        } catch (const std::exception& e) {
          failure = e.what();
        } catch (...) {
          failure = "unknown exception";
        }
        if (!failure.empty()) {
          ctx.data_error(r, "table function", c.name + ": " + failure);
          return;
        }
        rows = std::max(rows, results.back().size());
      }
      const Array& row = r.value.as_array();
      const auto at = static_cast<std::ptrdiff_t>(std::min<size_t>(width, row.size()));
      for (size_t i = 0; i < rows; ++i) {
        Array values;
        values.reserve(row.size() + results.size());
        values.insert(values.end(), row.begin(), row.begin() + at);
        for (const Array& result : results)
          values.push_back(i < result.size() ? result[i] : Value());
        values.insert(values.end(), row.begin() + at, row.end());
        Record o;
        o.key = r.key;
        o.timestamp = r.timestamp;
        o.headers = r.headers;
        o.source = r.source;
        o.value = Value::array(std::move(values));
        out.push_back(std::move(o));
      }
    };
    return e_.topology_.add_processor(
        name("table-functions"), {node}, [fn](BuildContext& b) -> std::unique_ptr<Processor> {
          return std::make_unique<FlatMapNode<ReportingRowFn>>(b.node_name(), fn);
        });
  }

  // The projection: key and value columns of the result.
  struct Projection {
    std::vector<std::shared_ptr<CompiledExpr>> key;  // output key columns
    std::vector<DataTypePtr> key_types;
    std::vector<std::string> key_names;
    std::vector<std::pair<std::string, std::shared_ptr<CompiledExpr>>> values;
    std::vector<DataTypePtr> value_types;
    std::shared_ptr<CompiledExpr> partition_by;
    // Whether it reads a value column: a stream's null value then gets a
    // null key; an expression of the key columns alone is still evaluated.
    bool partition_by_reads_values = false;
    // Per key column, re-keyed by several PARTITION BY expressions: whether
    // it reads the record's time, offset or partition. ksqlDB evaluates
    // those from the value, so a stream's null value gives them NULL.
    std::vector<bool> key_null_without_value;
    std::shared_ptr<CompiledExpr> having;
    bool kafka_value = false;
    bool key_from_record = false;  // aggregation: the group key is the record key
    bool struct_key = false;       // the key format wraps even one column (DELIMITED)
    bool keyless_stays_keyless = false;  // key columns copied from the source's key
    bool table_rows = false;  // input rows of a table: no tombstone flag, null deletes
    bool after_fused_join = false;  // a struct value is the join's own result: kept as is
    // An aggregation's result kept as it is (passes_aggregate_through):
    // the key the bare group key, each value column the bare aggregate of
    // its position, the aggregation naming the fields as the SELECT does.
    bool aggregate_as_is = false;
    // The key is the last stream-table join's table key column: the join's
    // key, read from the record's key (the row holds NULL there when a LEFT
    // join found no row).
    std::shared_ptr<const RowLayout> join_key_layout;
    size_t join_key_index = 0;
  };

  // A stream-table join's result built by the join itself, when the SELECT
  // takes every column as it is from the joined row and keeps the record's
  // key: each output field read where the row would have read it (the
  // stream's decoded value, the table's row), without the row in between.
  // The projection node stays after the join for records whose key would
  // change (keeps_key false: the joiner then builds the row as before).
  struct JoinProjection {
    struct Column {
      std::string name;
      size_t slot;  // in the joined row: the stream's columns, then the table's
      DataTypePtr type;
    };
    std::vector<Column> values;
    size_t key_slot = 0;
    DataTypePtr key_type;

    // Column `slot` of the joined row, as RowLayout would have put it there
    // (the table's columns NULL when a LEFT join found no row).
    static Value slot_value(size_t slot, const Value& key, const Value& value, const Value* tv,
                            const RowLayout& stream, const RowLayout& table) {
      if (slot < stream.width()) return stream.column(key, &value, slot);
      return tv ? table.column(key, tv, slot - stream.width()) : Value();
    }
    // Whether the projection's key is the record's key as it is: the key
    // column it names (of the stream or the table, both keyed by the join
    // key) and the result's key type both take it unchanged.
    bool keeps_key(const Value& key, const RowLayout& stream, const RowLayout& table) const {
      if (key.is_null()) return true;  // a NULL key column: NULL
      if (key.kind() == TypeKind::Struct || !key_type || !coerces_to_itself(key, *key_type))
        return false;
      Value k = key_slot < stream.width() ? stream.column(key, nullptr, key_slot)
                                          : table.column(key, nullptr, key_slot - stream.width());
      return coerces_to_itself(k, *key_type) && k == key;
    }
    Value build(const Value& key, const Value& value, const Value* tv, const RowLayout& stream,
                const RowLayout& table) const {
      StructFields f;
      f.reserve(values.size());
      for (const Column& c : values) {
        Field& out = f.emplace_back();
        out.name = c.name;
        out.value = coerce_or_null(slot_value(c.slot, key, value, tv, stream, table), c.type);
      }
      return Value::structure(std::move(f));
    }
  };
  struct FusableJoin {
    Topology::NodeId node;
    std::shared_ptr<std::shared_ptr<const JoinProjection>> projection;
    std::shared_ptr<const RowLayout> stream, table;
  };

  // The JoinProjection of `p` when the join before it can build the result
  // (see JoinProjection), else nullptr.
  std::shared_ptr<const JoinProjection> join_projection(const Projection& p) const {
    if (deliver_ || sink_.is_table() || q_.joins.size() != 1 || p.partition_by || p.having ||
        p.key_from_record || p.struct_key || p.table_rows || p.kafka_value || p.key.size() != 1 ||
        p.values.empty())
      return nullptr;
    const size_t width = fusable_join_->stream->width() + fusable_join_->table->width();
    auto f = std::make_shared<JoinProjection>();
    const int64_t k = p.key[0]->row_column();
    if (k < 0 || static_cast<size_t>(k) >= width || !p.key_types[0]) return nullptr;
    const size_t sw = fusable_join_->stream->width();
    if (!(static_cast<size_t>(k) < sw
              ? fusable_join_->stream->key_column(static_cast<size_t>(k))
              : fusable_join_->table->key_column(static_cast<size_t>(k) - sw)))
      return nullptr;  // a key from a value column: the projection computes it
    f->key_slot = static_cast<size_t>(k);
    f->key_type = p.key_types[0];
    for (size_t i = 0; i < p.values.size(); ++i) {
      const int64_t c = p.values[i].second->row_column();
      if (c < 0 || static_cast<size_t>(c) >= width) return nullptr;
      f->values.push_back({p.values[i].first, static_cast<size_t>(c), p.value_types[i]});
    }
    return f;
  }

  Expected<bool> build_projection(const Scope& scope, Projection& p) {
    for (const OutputColumn& c : a_.projection) {
      auto e = compile(scope, c.expr, "SELECT");
      if (!e) return e.error();
      auto ce = std::make_shared<CompiledExpr>(std::move(*e));
      const Column* col = nullptr;
      for (const Column& sc : sink_.schema.columns)
        if (sc.name == c.name) col = &sc;
      if (!col) return sql_error(c.loc, "column " + c.name + " is not in the result's schema");
      if (col->is_key) {
        p.key.push_back(ce);
        p.key_types.push_back(col->type);
        p.key_names.push_back(c.name);
      } else {
        p.values.emplace_back(c.name, ce);
        p.value_types.push_back(col->type);
      }
    }
    for (size_t i = 0; i < p.key.size(); ++i)
      if (p.key_types[i] && p.key_types[i]->kind == TypeKind::Map)
        return sql_error(q_.loc, "Map keys, including types that contain maps, are not supported. "
                                 "Key column name: `" + p.key_names[i] + "`.");
    if (p.key.size() > 1 && sink_.key_format == "KAFKA")  // check_formats refused it before
      return sql_error(q_.loc, "several key columns in the KAFKA key format");
    p.kafka_value = unwrapped_single_value(sink_);
    p.struct_key = sink_.key_format == "DELIMITED";
    return true;
  }

  // One output column's value: `e` for `row`, coerced to `t` (NULL when it
  // cannot be). A column of the row itself (most of a SELECT list) is
  // copied straight from it, without the evaluator's call and dispatch.
  static Value project(const CompiledExpr& e, const DataTypePtr& t, const EvalRow& row) {
    const int64_t c = e.row_column();
    if (c < 0) return coerce_or_null(e.evaluate(row), t);
    if (static_cast<size_t>(c) >= row.column_count) return Value();  // as the evaluator reads it
    const Value& v = row.columns[c];
    if (v.is_null() || !t || coerces_to_itself(v, *t)) return v;
    return coerce_or_null(v, t);
  }

  // Whether an aggregate_as_is projection would give `r` back unchanged:
  // the record is a result (not a merged session's tombstone) whose group
  // key and fields each coerce to their column's type as they are, and
  // whose fields carry the columns' names (a struct built under other
  // names is projected).
  static bool keeps_aggregate(const Projection& p, const Record& r) {
    if (r.value.kind() != TypeKind::Struct) return false;
    const Value& key = window_inner_key(r.key);
    if (!key.is_null() && !coerces_to_itself(key, *p.key_types[0])) return false;
    const StructFields& fields = r.value.as_struct();
    if (fields.size() != p.values.size()) return false;
    for (size_t i = 0; i < fields.size(); ++i) {
      const Value& v = fields[i].value;
      if ((!v.is_null() && !coerces_to_itself(v, *p.value_types[i])) ||
          fields[i].name != p.values[i].first)
        return false;
    }
    return true;
  }

  // Rewrites each row into the result's key and value, in place (time,
  // headers and source stay).
  static RewriteRowFn projector(std::shared_ptr<const Projection> p) {
    return [p](Record& r, ProcessContext&) {
      // The join built this result itself (JoinProjection); a row, it did not.
      if (p->after_fused_join && r.value.kind() == TypeKind::Struct) return true;
      // The aggregation's result is already the output, when each field
      // (and the group key) has its column's type as it is.
      if (p->aggregate_as_is && keeps_aggregate(*p, r)) return true;
      Value key;
      EvalRow row = eval_row(r);
      // Aggregates flag a merged session's tombstone like a stream's rows.
      bool tombstone = is_row_tombstone(r, p->table_rows);
      bool keyless_tombstone = r.value.is_null();
      if (p->key_from_record) bind_window(r.key, row);
      if (r.value.kind() == TypeKind::Struct) row.value = &r.value;
      // Key.
      if (p->partition_by) {
        // A stream's null value has no value columns to partition by: a null
        // key, unless the expression reads key columns only (ksqlDB).
        key = keyless_tombstone || (tombstone && p->partition_by_reads_values)
                  ? Value()
                  : p->partition_by->evaluate(row);
      } else if (p->key_from_record && p->key.empty()) {
        key = r.key;
      } else if (p->key.size() == 1) {
        key = keyless_tombstone ? r.key
              : p->join_key_layout
                  ? coerce_or_null(p->join_key_layout->column(r.key, nullptr, p->join_key_index),
                                   p->key_types[0])
                  : project(*p->key[0], p->key_types[0], row);
      } else if (p->key.size() > 1) {
        StructFields f;
        f.reserve(p->key.size());
        bool all_null = true;
        for (size_t i = 0; i < p->key.size(); ++i) {
          if ((keyless_tombstone || tombstone) && i < p->key_null_without_value.size() &&
              p->key_null_without_value[i]) {
            f.push_back(Field{p->key_names[i], Value()});
            continue;
          }
          f.push_back(Field{p->key_names[i], project(*p->key[i], p->key_types[i], row)});
          all_null = all_null && f.back().value.is_null();
        }
        // A record without a key keeps no key (ksqlDB), not a struct of NULLs.
        key = all_null && p->keyless_stays_keyless && r.key.is_null()
                  ? Value()
                  : Value::structure(std::move(f));
      }
      if (p->partition_by && !p->key.empty()) key = coerce_or_null(std::move(key), p->key_types[0]);
      if (p->struct_key && p->key.size() == 1 && !key.is_null())
        key = Value::structure(StructFields{Field{p->key_names[0], std::move(key)}});
      key = with_window_of(r.key, std::move(key));
      // Value.
      Value value;
      bool keep = !tombstone && (!p->having || p->having->test(row));
      if (!keep) {
        // a tombstone, or a group HAVING no longer keeps
      } else if (p->kafka_value && p->values.size() == 1) {
        value = project(*p->values[0].second, p->value_types[0], row);
      } else {
        StructFields f;
        f.reserve(p->values.size());
        for (size_t i = 0; i < p->values.size(); ++i) {
          Field& out = f.emplace_back();  // filled in place: no Field moved in
          out.name = p->values[i].first;
          out.value = project(*p->values[i].second, p->value_types[i], row);
        }
        value = Value::structure(std::move(f));
      }
      r.key = std::move(key);
      r.value = std::move(value);  // `row` pointed into the old value: no longer read
      return true;
    };
  }

  bool property_is_true(const char* key) const {
    for (const auto& [k, v] : e_.properties())
      if (iequals(k, key)) return config_bool(v).value_or(false);  // checked when SET
    return false;
  }

  // COLLECT_LIST's and COLLECT_SET's limit: the SET of `key` (a negative
  // value: none), else 1000 values per group, so that memory stays bounded.
  size_t collect_limit(const char* key) const {
    for (const auto& [k, v] : e_.properties()) {
      if (!iequals(k, key)) continue;
      const int32_t n = config_int(v).value_or(1000);  // checked when SET
      return n < 0 ? std::numeric_limits<size_t>::max() : static_cast<size_t>(n);
    }
    return 1000;
  }

  // Whether `e` reads a value column (or a subquery) of the query's scope.
  bool reads_value_column(const Expr& e) const {
    if (e.subquery) return true;
    if (e.kind == ExprKind::Column) {
      auto c = a_.scope.find(e.qualifier, e.name);
      if (c.ok() && !(*c)->is_key) return true;
    }
    for (const ExprPtr& arg : e.args)
      if (arg && reads_value_column(*arg)) return true;
    return false;
  }

  // Whether `e` reads ROWTIME, ROWPARTITION or ROWOFFSET.
  bool reads_record_metadata(const Expr& e) const {
    if (e.kind == ExprKind::Column) {
      auto c = a_.scope.find(e.qualifier, e.name);
      if (c.ok() && (*c)->is_pseudo &&
          (e.name == "ROWTIME" || e.name == "ROWPARTITION" || e.name == "ROWOFFSET"))
        return true;
    }
    for (const ExprPtr& arg : e.args)
      if (arg && reads_record_metadata(*arg)) return true;
    return false;
  }

  // ksqlDB requires the result's key in the projection: the source's key
  // columns, or the PARTITION BY expression.
  Expected<bool> check_key_in_projection(const Projection& p) const {
    const std::string head = "The query used to build `" + sink_.name + "` must include the ";
    for (const SelectItem& item : q_.select)
      if (item.kind != SelectItem::Kind::Expression) return true;  // SELECT * keeps the key
    if (q_.partition_by.size() == 1) {
      const Expr& e = *q_.partition_by[0];
      bool null_key = e.kind == ExprKind::Literal && e.value.is_null();
      if (!null_key && p.key.empty())
        return sql_error(e.loc, head + "partitioning expression " + to_sql(e) +
                                    " in its projection (eg, SELECT " + to_sql(e) + "...).");
      return true;
    }
    if (q_.partition_by.size() > 1 && p.key.size() != q_.partition_by.size()) {
      std::string names, list;
      for (size_t i = 0; i < q_.partition_by.size(); ++i) {
        const std::string e = to_sql(*q_.partition_by[i]);
        names += (i == 0 ? "" : i + 1 == q_.partition_by.size() ? " and " : ", ") + e;
        list += (i == 0 ? "" : ", ") + e;
      }
      return sql_error(q_.partition_by[0]->loc, head + "partitioning expressions " + names +
                                                    " in its projection (eg, SELECT " + list +
                                                    "...).");
    }
    if (!q_.partition_by.empty() || !q_.joins.empty()) return true;
    // ksqlDB's new query planner (`ksql.new.query.planner.enabled`) lets a
    // stream drop its key: the result is keyless.
    if (a_.result_type == SourceType::Stream && property_is_true(kNewQueryPlanner)) return true;
    std::vector<std::string> missing;
    for (const Column& k : a_.sources[0].info->schema.key_columns()) {
      bool found = false;
      for (const OutputColumn& c : a_.projection)
        if (c.is_key && c.expr->kind == ExprKind::Column && c.expr->name == k.name) found = true;
      if (!found) missing.push_back(k.name);
    }
    if (missing.empty()) return true;
    std::string names, list;
    for (size_t i = 0; i < missing.size(); ++i) {
      names += (i == 0 ? "" : i + 1 == missing.size() ? " and " : ", ") + missing[i];
      list += (i == 0 ? "" : ", ") + missing[i];
    }
    return sql_error(q_.loc, head + (missing.size() == 1 ? "key column " : "key columns ") + names +
                                 " in its projection (eg, SELECT " + list + "...).");
  }

  Expected<Topology::NodeId> project(Topology::NodeId node) {
    auto p = std::make_shared<Projection>();
    auto ok = build_projection(projection_scope_, *p);
    if (!ok) return ok.error();
    p->keyless_stays_keyless = q_.partition_by.empty() && q_.joins.empty();
    // A push query's rows go to the caller, not to a topic: as in ksqlDB its
    // projection need not hold the key.
    if (!deliver_) {
      auto missing = check_key_in_projection(*p);
      if (!missing) return missing.error();
    }
    if (q_.partition_by.size() > 1)
      for (const OutputColumn& c : a_.projection)
        if (c.is_key) p->key_null_without_value.push_back(reads_record_metadata(*c.expr));
    if (q_.partition_by.size() == 1) {
      auto e = compile(a_.scope, q_.partition_by[0], "PARTITION BY");
      if (!e) return e.error();
      if (p->key.empty()) {  // SELECT *: the key is the expression's value
        SourceInfo keyed = sink_;
        keyed.schema.columns.push_back(Column{"KSQL_COL_0", e->type(), true});
        auto formats = check_formats(keyed);
        if (!formats) return sql_error(q_.partition_by[0]->loc, formats.error().message);
      }
      p->partition_by = std::make_shared<CompiledExpr>(std::move(*e));
      p->partition_by_reads_values = reads_value_column(*q_.partition_by[0]);
    }
    p->table_rows = a_.sources[0].info->is_table();
    if (table_key_column_ && q_.partition_by.empty() && p->key.size() == 1 &&
        p->key[0]->row_column() == table_key_column_->slot) {
      p->join_key_layout = table_key_column_->layout;
      p->join_key_index = table_key_column_->index;
    }
    if (fusable_join_ && fusable_join_->node == node)
      if (auto f = join_projection(*p)) {
        *fusable_join_->projection = std::move(f);
        p->after_fused_join = true;
      }
    // Named for EXPLAIN: "project-in-join" when the join builds the result.
    return e_.topology_.add_processor(name(p->after_fused_join ? "project-in-join" : "project"),
                                      {node}, rewrite(projector(p)));
  }

  Expected<Topology::NodeId> aggregate(Topology::NodeId node) {
    const bool table = a_.sources[0].info->is_table();
    if (a_.sources[0].info->value_format == "KAFKA")
      return sql_error(q_.from.loc, "Source(s) " + a_.sources[0].info->name +
                                        " are using the 'KAFKA' value format. This format does "
                                        "not yet support GROUP BY.");
    if (q_.group_by.empty()) return unsupported(q_.loc, "aggregation without GROUP BY");
    for (size_t i = 0; i < q_.group_by.size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if (same_expr(*q_.group_by[i], *q_.group_by[j]))
          return sql_error(q_.group_by[i]->loc,
                           "Duplicate GROUP BY expression: " + to_sql(*q_.group_by[i]));
    // One expression: the key is its value; several: a struct of them
    // (G0, G1, ...), the projection naming the output key's fields.
    std::vector<std::shared_ptr<CompiledExpr>> groups;
    std::vector<DataTypePtr> group_types;
    for (const ExprPtr& e : q_.group_by) {
      auto g = compile(a_.scope, e, "GROUP BY");
      if (!g) return g.error();
      group_types.push_back(g->type());
      groups.push_back(std::make_shared<CompiledExpr>(std::move(*g)));
    }
    // A NULL grouping value: ksqlDB drops the row ("Group-by column with
    // index N resolved to null"); here a data error (dead-lettered with the
    // input's bytes) and a skip (null_group_key), found before the
    // repartition topic so the dead letter names the input's topic.
    std::vector<std::string> group_sql;
    for (const ExprPtr& e : q_.group_by) group_sql.push_back(to_sql(*e));
    // Before a repartition topic, the row keeps only the columns the
    // aggregate functions read; the others travel as NULL (ksqlDB's
    // Aggregate-Prepare step: fewer bytes to encode, send and decode). After
    // the aggregation nothing reads the row: the projection reads the group
    // key and the aggregates.
    // Through a repartition topic, a GROUP BY over a stream aggregates in
    // two phases (operators/partial_aggregate.hpp): partials travel, not
    // rows. Session windows merge sessions, not partials: one phase.
    const bool repartitioned = !table && !grouped_by_source_key();
    const bool two_phase = repartitioned && !(q_.window && q_.window->type == WindowType::Session);
    std::shared_ptr<const std::vector<uint32_t>> kept;
    if (repartitioned && !two_phase) {
      auto slots = row_slots_read(a_.scope, a_.aggregate_calls);
      if (slots) kept = std::make_shared<const std::vector<uint32_t>>(std::move(*slots));
    }
    // In place: the key is replaced once every group value is known (the
    // record goes to null_key as it came otherwise).
    // Grouped by the stream's one key column, without a join: a record
    // whose key is a value of that column's type as it is (not wrapped,
    // not NULL) already has its group key, the value the row's column
    // copied from it.
    DataTypePtr own_key;
    if (!table && q_.joins.empty() && groups.size() == 1 && grouped_by_source_key() &&
        groups[0]->row_column() >= 0)
      own_key = group_types[0];
    RewriteRowFn rekey = [groups, group_sql, kept, own_key](Record& r, ProcessContext& ctx) {
      if (is_tombstone(r)) {
        ctx.skipped(r, SkipReason::Tombstone, "GROUP BY");
        return false;
      }
      if (own_key && !r.key.is_null() && coerces_to_itself(r.key, *own_key)) return true;
      EvalRow row = eval_row(r);
      Value key;
      StructFields f;
      for (size_t i = 0; i < groups.size(); ++i) {
        Value v = groups[i]->evaluate(row);
        if (v.is_null()) {
          std::string which = groups.size() == 1
                                  ? group_sql[0]
                                  : "expression " + std::to_string(i + 1) + " of " +
                                        std::to_string(groups.size()) + ", " + group_sql[i] + ",";
          ctx.null_key(r, SkipReason::NullGroupKey, "GROUP BY",
                       "the group key (GROUP BY) is null: " + which + " is NULL");
          return false;
        }
        if (groups.size() == 1) {
          key = std::move(v);
        } else {
          f.push_back(Field{"G" + std::to_string(i), std::move(v)});
        }
      }
      r.key = groups.size() > 1 ? Value::structure(std::move(f)) : std::move(key);
      if (kept && r.value.kind() == TypeKind::Array) {
        const Array& full = r.value.as_array();
        if (kept->size() + 1 < full.size()) {
          Array slim(full.size());
          for (uint32_t i : *kept)
            if (i + 1 < full.size()) slim[i] = full[i];
          slim.back() = full.back();  // the tombstone flag
          r.value = Value::array(std::move(slim));
        }
      }
      return true;
    };
    if (!table) {  // a table's rows are re-keyed by plan_table_aggregate
      node = e_.topology_.add_processor(name("group-key"), {node}, rewrite(std::move(rekey)));
      // Grouped by the stream's own key column: its records already sit in
      // the partition of their group, so no repartition topic (as ksqlDB's
      // groupByKey).
      if (repartitioned && !two_phase) node = e_.topology_.add_repartition(node, name("groupby"));
    }
    std::vector<TableAggregateCall> table_calls;

    // One function per distinct aggregate call; results as struct fields.
    AggregateSpec spec;
    spec.as_struct = true;
    Scope out_scope;
    for (size_t i = 0; i < q_.group_by.size(); ++i) {
      const ExprPtr& group = q_.group_by[i];
      Slot slot = q_.group_by.size() == 1 ? Slot{Slot::Origin::Key, 0}
                                          : Slot{Slot::Origin::KeyField, static_cast<uint32_t>(i)};
      out_scope.bind(group, group_types[i], slot);
      if (group->kind == ExprKind::Column) {
        auto c = a_.scope.find(group->qualifier, group->name);
        if (c.ok())
          out_scope.add(ScopeColumn{(*c)->qualifier, (*c)->name, (*c)->type, slot, true, false});
      }
    }
    for (size_t i = 0; i < a_.aggregate_calls.size(); ++i) {
      const ExprPtr& call = a_.aggregate_calls[i];
      std::string field = "A" + std::to_string(i);
      auto type = ExpressionCompiler(a_.scope).infer_type(call);
      if (!type) return type.error();
      if (const FunctionDef* def = FunctionRegistry::global().find(call->name);
          def && def->resolve_aggregate) {
        auto fn = udaf_function(*call, field, table_calls);
        if (!fn) return fn.error();
        spec.functions.push_back(std::move(*fn));
        out_scope.bind(call, *type, Slot{Slot::Origin::ValueField, static_cast<uint32_t>(i)});
        continue;
      }
      ValueFn input, input2;
      std::shared_ptr<CompiledExpr> ae, ae2;
      if (!call->star && !call->args.empty()) {
        const bool top_k = call->name == "TOPK" || call->name == "TOPKDISTINCT";
        const bool pairs = call->name == "CORRELATION";
        const bool by_offset =
            call->name == "LATEST_BY_OFFSET" || call->name == "EARLIEST_BY_OFFSET";
        if (call->args.size() > 1 && !top_k && !pairs && !by_offset)
          return unsupported(call->loc, call->name + " with several arguments");
        auto arg = compile(a_.scope, call->args[0], call->name.c_str());
        if (!arg) return arg.error();
        ae = std::make_shared<CompiledExpr>(std::move(*arg));
        input = [ae](const Record& r) { return ae->evaluate(eval_row(r)); };
        if (pairs && call->args.size() == 2) {
          auto second = compile(a_.scope, call->args[1], call->name.c_str());
          if (!second) return second.error();
          ae2 = std::make_shared<CompiledExpr>(std::move(*second));
          input2 = [ae2](const Record& r) { return ae2->evaluate(eval_row(r)); };
        }
      }
      table_calls.push_back(TableAggregateCall{
          call->name, ae, ae2, call->loc,
          collect_limit(call->name == "COLLECT_SET" ? kCollectSetLimit : kCollectListLimit),
          nullptr, nullptr, std::string()});
      if (call->name == "COUNT") {
        spec.functions.push_back(input ? AggregateFn::count_non_null(input, field)
                                       : AggregateFn::count(field));
      } else if (!input) {
        return sql_error(call->loc, call->name + " needs an argument");
      } else if (call->name == "SUM") {
        // ksqlDB's SUM starts at zero: a group whose inputs are all NULL sums to 0.
        AggregateFn fn = AggregateFn::sum(input, field);
        fn.empty_sum = coerce_or_null(Value::int32(0), *type);
        if (*type && (*type)->kind == TypeKind::Decimal) {
          fn.sum_precision = (*type)->precision;
          fn.sum_scale = (*type)->scale;
        }
        spec.functions.push_back(std::move(fn));
      } else if (call->name == "MIN") {
        spec.functions.push_back(AggregateFn::min(input, field));
      } else if (call->name == "MAX") {
        spec.functions.push_back(AggregateFn::max(input, field));
      } else if (call->name == "AVG") {
        spec.functions.push_back(AggregateFn::avg(input, field));
      } else if (call->name == "LATEST_BY_OFFSET" || call->name == "EARLIEST_BY_OFFSET") {
        auto args = by_offset_args(*call);
        if (!args) return args.error();
        const bool latest = call->name == "LATEST_BY_OFFSET";
        if (args->n == 0 && args->ignore_nulls) {
          // The value of the latest (earliest) record whose value is not
          // NULL (ksqlDB's default). Partials merge in arrival order.
          AggregateFn fn =
              AggregateFn::custom([] { return Value(); },
                                  [input, latest](const Record& r, const Value& base) {
                                    Value v = input(r);
                                    return v.is_null() || (!latest && !base.is_null()) ? base : v;
                                  },
                                  field);
          fn.merger = [latest](const Value& earlier, const Value& later) {
            if (latest) return later.is_null() ? earlier : later;
            return earlier.is_null() ? later : earlier;
          };
          spec.functions.push_back(std::move(fn));
        } else {
          // The latest (earliest) n values in arrival order, NULLs kept
          // unless ignored; without n, the one value unwrapped (an array
          // tells a NULL seen from none seen). Partials merge in order.
          const size_t n = args->n == 0 ? 1 : args->n;
          const bool ignore_nulls = args->ignore_nulls;
          auto keep = [n, latest](Array items) {
            if (items.size() > n) {
              if (latest) {
                items.erase(items.begin(), items.end() - static_cast<std::ptrdiff_t>(n));
              } else {
                items.resize(n);
              }
            }
            return Value::array(std::move(items));
          };
          AggregateFn fn = AggregateFn::custom(
              [] { return Value::array(Array{}); },
              [input, keep, n, latest, ignore_nulls](const Record& r, const Value& base) {
                Value v = input(r);
                if (v.is_null() && ignore_nulls) return base;
                const Array* items = base.kind() == TypeKind::Array ? &base.as_array() : nullptr;
                if (!latest && items && items->size() >= n) return base;
                Array next = items ? *items : Array{};
                next.push_back(std::move(v));
                return keep(std::move(next));
              },
              field);
          fn.merger = [keep](const Value& earlier, const Value& later) {
            Array items = earlier.kind() == TypeKind::Array ? earlier.as_array() : Array{};
            if (later.kind() == TypeKind::Array)
              items.insert(items.end(), later.as_array().begin(), later.as_array().end());
            return keep(std::move(items));
          };
          if (args->n == 0)
            fn.finisher = [](const Value& items) {
              return items.kind() == TypeKind::Array && !items.as_array().empty()
                         ? items.as_array().back()
                         : Value();
            };
          spec.functions.push_back(std::move(fn));
        }
      } else if (call->name == "COLLECT_LIST" || call->name == "COLLECT_SET") {
        // Every value (COLLECT_SET: every distinct value), NULLs included,
        // in arrival order, up to a limit past which values are ignored:
        // SET 'ksql.functions.collect_list.limit' (collect_set) = 'N'.
        const bool set = call->name == "COLLECT_SET";
        const size_t limit = collect_limit(set ? kCollectSetLimit : kCollectListLimit);
        auto admits = [set, limit](const Array& items, const Value& v) {
          return items.size() < limit &&
                 (!set || std::find(items.begin(), items.end(), v) == items.end());
        };
        AggregateFn fn = AggregateFn::custom(
            [] { return Value::array(Array{}); },
            [input, admits](const Record& r, const Value& base) {
              Value v = input(r);
              static const Array kNone;
              const Array& items = base.kind() == TypeKind::Array ? base.as_array() : kNone;
              if (!admits(items, v)) return base;  // full (or already in the set): no copy
              Array next = items;
              next.push_back(std::move(v));
              return Value::array(std::move(next));
            },
            field);
        fn.merger = [admits](const Value& a, const Value& b) {
          Array items = a.kind() == TypeKind::Array ? a.as_array() : Array{};
          if (b.kind() == TypeKind::Array)
            for (const Value& v : b.as_array())
              if (admits(items, v)) items.push_back(v);
          return Value::array(std::move(items));
        };
        spec.functions.push_back(std::move(fn));
      } else if (call->name == "HISTOGRAM") {
        // ksqlDB's HISTOGRAM: how many times each non-NULL string occurs, at
        // most 1000 distinct ones (aggregates::histogram_step).
        AggregateFn fn = AggregateFn::custom(
            [] { return Value::map(MapEntries{}); },
            [input](const Record& r, const Value& base) {
              Value v = input(r);
              if (v.is_null()) return base;
              return aggregates::histogram_step(
                  base, v.kind() == TypeKind::String ? v.as_string() : v.to_string(), 1);
            },
            field);
        fn.merger = [](const Value& a, const Value& b) {
          Value out = a;
          if (b.kind() == TypeKind::Map)
            for (const auto& [k, count] : b.as_map())
              out = aggregates::histogram_step(out, k, count.as_int64());
          return out;
        };
        spec.functions.push_back(std::move(fn));
      } else if (call->name == "SUM_LIST") {
        // ksqlDB's SUM_LIST: the sum of every array's non-NULL elements, from 0.
        const Value zero = coerce_or_null(Value::int32(0), *type);
        auto add = [zero](const Value& a, const Value& b) {
          auto sum = add_numbers(a.is_null() ? zero : a, b.is_null() ? zero : b);
          if (!sum) throw std::runtime_error(sum.error().message);  // a data error (guarded)
          return std::move(*sum);
        };
        AggregateFn fn = AggregateFn::custom([zero] { return zero; },
                                             [input, add](const Record& r, const Value& base) {
                                               Value list = input(r);
                                               Value sum = base;
                                               if (list.kind() == TypeKind::Array)
                                                 for (const Value& e : list.as_array())
                                                   if (!e.is_null()) sum = add(sum, e);
                                               return sum;
                                             },
                                             field);
        fn.merger = add;
        spec.functions.push_back(std::move(fn));
      } else if (call->name == "COUNT_DISTINCT") {
        spec.functions.push_back(AggregateFn::count_distinct(input, field));
      } else if (call->name == "STDDEV_SAMPLE" || call->name == "STDDEV_SAMP") {
        spec.functions.push_back(AggregateFn::stddev_sample(input, field));
      } else if (call->name == "CORRELATION" && input2) {
        spec.functions.push_back(AggregateFn::correlation(input, input2, field));
      } else if (call->name == "ATTR") {
        spec.functions.push_back(AggregateFn::attr(input, field));
      } else if (call->name == "TOPK" || call->name == "TOPKDISTINCT") {
        auto k = top_k_size(*call);
        if (!k) return k.error();
        table_calls.back().limit = *k;
        spec.functions.push_back(
            AggregateFn::top_k(input, *k, call->name == "TOPKDISTINCT", field));
      } else {
        return unsupported(call->loc, "aggregate function " + call->name);
      }
      out_scope.bind(call, *type, Slot{Slot::Origin::ValueField, static_cast<uint32_t>(i)});
    }
    out_scope.add_pseudo_columns(q_.window.has_value());
    auto p = std::make_shared<Projection>();
    p->key_from_record = true;
    // SELECT's subqueries are typed now and bound per task
    // (subqueries_after_aggregate).
    Scope typed = out_scope;
    for (const OutputColumn& c : a_.projection) {
      if (!has_subqueries(c.expr)) continue;
      auto t = scope_with_subquery_types(c.expr, typed, e_.catalog_);
      if (!t) return t.error();
      typed = std::move(*t);
    }
    auto ok = build_projection(typed, *p);
    if (!ok) return ok.error();
    if (p->key.size() < q_.group_by.size() && !(deliver_ && p->key.empty()))
      return sql_error(q_.loc, "The query used to build `" + sink_.name +
                                   "` must include the grouping expressions in its projection.");
    const bool subqueries =
        (q_.having && has_subqueries(q_.having)) || !aggregate_select_subqueries_.empty();
    // The result as the aggregation gives it, its fields named for the
    // SELECT: no projection to build per record.
    if (!subqueries && !q_.having && passes_aggregate_through(*p, spec)) {
      p->aggregate_as_is = true;
      for (size_t i = 0; i < spec.functions.size(); ++i)
        spec.functions[i].name = p->values[i].first;
      for (size_t i = 0; i < table_calls.size() && i < p->values.size(); ++i)
        table_calls[i].field = p->values[i].first;
    }
    if (table) {
      std::vector<std::shared_ptr<const CompiledExpr>> const_groups(groups.begin(), groups.end());
      auto planned = plan_table_aggregate(e_.topology_, node, id_, std::move(const_groups),
                                          std::move(table_calls));
      if (!planned) return planned.error();
      node = *planned;
    } else if (two_phase) {
      std::optional<rivulet::WindowSpec> window;
      if (q_.window) window = window_spec(*q_.window, q_.emit);
      node = e_.topology_.add_two_phase_aggregate(node, name("groupby"), name("aggregate"),
                                                  std::move(spec), window);
    } else if (q_.window) {
      node = e_.topology_.add_windowed_aggregate(node, name("aggregate"), std::move(spec),
                                                 window_spec(*q_.window, q_.emit));
    } else {
      node = e_.topology_.add_aggregate(node, name("aggregate"), std::move(spec), false);
    }

    if (subqueries) {
      auto factory = subqueries_after_aggregate(out_scope, p);
      if (!factory) return factory.error();
      node = e_.topology_.add_processor(name("project"), {node}, std::move(*factory));
      return q_.having ? add_having_filter(e_.topology_, node, id_) : node;
    }
    if (q_.having) {
      auto h = compile(out_scope, q_.having, "HAVING");
      if (!h) return h.error();
      p->having = std::make_shared<CompiledExpr>(std::move(*h));
    }
    // Named for EXPLAIN: "project-as-aggregated" when the aggregation's
    // result passes through.
    node =
        e_.topology_.add_processor(name(p->aggregate_as_is ? "project-as-aggregated" : "project"),
                                   {node}, rewrite(projector(p)));
    return p->having ? add_having_filter(e_.topology_, node, id_) : node;
  }

  // Whether the aggregation's result is the SELECT's as it is: one group
  // key, selected bare as the key (its window kept); each value column the
  // bare aggregate at its own position, none twice and none left out;
  // nothing else in the projection (a key format wrapping the key; the
  // caller rules out HAVING).
  bool passes_aggregate_through(const Projection& p, const AggregateSpec& spec) const {
    if (p.key.size() != 1 || p.partition_by || p.kafka_value || p.struct_key || !p.key_types[0] ||
        p.values.size() != spec.functions.size())
      return false;
    const auto& key = p.key[0]->bare_slot();
    if (!key || key->origin != Slot::Origin::Key) return false;
    for (size_t i = 0; i < p.values.size(); ++i) {
      const auto& v = p.values[i].second->bare_slot();
      if (!v || v->origin != Slot::Origin::ValueField || v->index != i || !p.value_types[i])
        return false;
    }
    return true;
  }

  // A user-defined aggregate (FunctionDef::resolve_aggregate) as a custom
  // aggregate function: its arguments evaluated per row, its merge combining
  // partial aggregates and sessions, its map giving the result. The table
  // form (with undo) goes to `table_calls`.
  Expected<AggregateFn> udaf_function(const Expr& call, const std::string& field,
                                      std::vector<TableAggregateCall>& table_calls) {
    if (call.star) return sql_error(call.loc, "Function " + call.name + " does not accept *");
    auto args = std::make_shared<std::vector<std::shared_ptr<const CompiledExpr>>>();
    std::vector<DataTypePtr> types;
    for (const ExprPtr& a : call.args) {
      auto arg = compile(a_.scope, a, call.name.c_str());
      if (!arg) return arg.error();
      types.push_back(arg->type());
      args->push_back(std::make_shared<const CompiledExpr>(std::move(*arg)));
    }
    auto resolved = FunctionRegistry::global().resolve_udaf(call.name, types);
    if (!resolved) return sql_error(call.loc, resolved.error().message);
    auto udaf = std::make_shared<const AggregateCall>(std::move(*resolved));
    TableAggregateCall t;
    t.name = call.name;
    t.loc = call.loc;
    t.udaf = udaf;
    t.args = args;
    table_calls.push_back(std::move(t));
    AggregateFn fn =
        AggregateFn::custom([udaf] { return udaf->initialize(); },
                            [udaf, args](const Record& r, const Value& base) {
                              return udaf->aggregate(evaluate_each(*args, eval_row(r)), base);
                            },
                            field);
    fn.merger = [udaf](const Value& earlier, const Value& later) {
      return udaf->merge(earlier, later);
    };
    if (udaf->map)
      fn.finisher = [udaf, name = call.name](const Value& aggregate) {
        return udaf->result(aggregate, name);
      };
    return fn;
  }

  // The projection step of an aggregation whose SELECT or HAVING has
  // subqueries: they read global tables (plan_global_subqueries), bound per
  // task, and the value columns that hold them and HAVING are compiled then;
  // an update whose scalar scan matched several rows is dropped as a data
  // error.
  Expected<ProcessorFactory> subqueries_after_aggregate(const Scope& out_scope,
                                                        std::shared_ptr<const Projection> p) {
    GlobalSubqueries global;
    auto add = [&](const ExprPtr& e, const char* clause) -> std::optional<Error> {
      auto planned = plan_global_subqueries(e_.topology_, e_.catalog_, e, out_scope, clause,
                                            &notes_);
      if (!planned) return planned.error();
      global.plans.insert(global.plans.end(), planned->plans.begin(), planned->plans.end());
      global.caches.insert(global.caches.end(), planned->caches.begin(), planned->caches.end());
      return std::nullopt;
    };
    // The value columns holding subqueries: (index in p->values, expression).
    std::vector<std::pair<size_t, ExprPtr>> values;
    for (const ExprPtr& s : aggregate_select_subqueries_)
      if (auto bad = add(s, "SELECT")) return *bad;
    for (const OutputColumn& c : a_.projection) {
      if (!has_subqueries(c.expr)) continue;
      size_t at = p->values.size();
      for (size_t i = 0; i < p->values.size(); ++i)
        if (p->values[i].first == c.name) at = i;
      if (at == p->values.size())  // a grouping column: GROUP BY holds no subquery
        return unsupported(c.loc, "subqueries in the key columns of an aggregation");
      values.emplace_back(at, c.expr);
    }
    const ExprPtr having = q_.having && has_subqueries(q_.having) ? q_.having : nullptr;
    if (having) {
      if (auto bad = add(having, "HAVING")) return *bad;
      // Type errors now, not when a task is built.
      auto typed = scope_with_subquery_types(having, out_scope, e_.catalog_);
      if (!typed) return typed.error();
      auto h = compile(*typed, having, "HAVING");
      if (!h) return h.error();
    } else if (q_.having) {
      auto h = compile(out_scope, q_.having, "HAVING");
      if (!h) return h.error();
      auto with_having = std::make_shared<Projection>(*p);
      with_having->having = std::make_shared<CompiledExpr>(std::move(*h));
      p = with_having;
    }
    return ProcessorFactory([global = std::move(global), out_scope, p, having,
                             values](BuildContext& b) -> std::unique_ptr<Processor> {
      Scope s = out_scope;
      auto failed = std::make_shared<std::optional<ScanError>>();
      if (!bind_global_subqueries(b, global, s, failed)) return nullptr;
      auto bound = std::make_shared<Projection>(*p);
      CompileOptions o;
      o.clause = "SELECT";
      for (const auto& [at, expr] : values) {
        auto v = ExpressionCompiler(s, FunctionRegistry::global(), o).compile(expr);
        if (!v) return nullptr;
        bound->values[at].second = std::make_shared<CompiledExpr>(std::move(*v));
      }
      if (having) {
        o.clause = "HAVING";
        auto h = ExpressionCompiler(s, FunctionRegistry::global(), o).compile(having);
        if (!h) return nullptr;
        bound->having = std::make_shared<CompiledExpr>(std::move(*h));
      }
      RewriteRowFn project = projector(bound);
      RewriteRowFn fn = [project, failed](Record& r, ProcessContext& ctx) {
        const Record in = r;
        const bool kept = project(r, ctx);
        if (!*failed) return kept;
        ctx.data_error(in, "subquery", std::move((*failed)->message));
        failed->reset();
        return false;
      };
      return rewrite(std::move(fn))(b);
    });
  }

  // The source whose key format and partitioning the rows' keys have
  // during join planning (nullptr: an internal repartition topic).
  const SourceInfo* key_info_ = nullptr;
  std::shared_ptr<const RowLayout> first_join_rows_;  // see rows_in_first_join
  std::optional<FusableJoin> fusable_join_;           // a join project() may hand its result to
  // The last stream-table join's table key column (see join()); reset by
  // any other join after it.
  struct TableKeyColumn {
    uint32_t slot;
    std::shared_ptr<const RowLayout> layout;
    size_t index;
  };
  std::optional<TableKeyColumn> table_key_column_;
  SqlEngine& e_;
  const Query& q_;
  const QueryAnalysis& a_;
  const SourceInfo& sink_;
  std::string id_;
  PeekFn deliver_;
  ColumnNames reads_;  // the column names the query mentions (sql/column_use.hpp)
  ExprPtr where_ = q_.where;  // what of WHERE runs after the joins (push_down_where)
  // The SELECT's subqueries: the WHERE step appends their values to each
  // row, and the projection reads them there (`projection_scope_`).
  std::vector<ExprPtr> select_subqueries_ =
      a_.aggregate ? std::vector<ExprPtr>{} : select_subqueries(a_);
  // An aggregation's SELECT subqueries: evaluated on each group update,
  // after the aggregate (subqueries_after_aggregate), not in the WHERE step.
  std::vector<ExprPtr> aggregate_select_subqueries_ =
      a_.aggregate ? select_subqueries(a_) : std::vector<ExprPtr>{};
  std::vector<std::string> notes_;  // EXPLAIN's line per subquery
  Scope projection_scope_ = a_.scope;
};

std::string queryable_store_name(const std::string& table) { return "pull-" + table; }

SqlEngine::SqlEngine() = default;

Expected<Topology::NodeId> SqlEngine::source_node(const SourceInfo& s, bool as_table,
                                                  const ColumnNames* reads) {
  auto node = topic_node(s, as_table, reads);
  if (!node || s.header_columns.empty()) return node;
  // Header columns: set from each record's headers, for this source's
  // readers only (another source of the topic may declare none).
  auto source = std::make_shared<const SourceInfo>(s);
  RewriteRowFn fill = [source](Record& r, ProcessContext&) {
    r.value = with_header_columns(*source, std::move(r.value), r.headers);
    return true;
  };
  return topology_.add_processor(topology_.next_name("headers"), {*node}, rewrite(std::move(fill)));
}

Expected<Topology::NodeId> SqlEngine::topic_node(const SourceInfo& s, bool as_table,
                                                 const ColumnNames* reads) {
  const bool stream_read = reads && !as_table && !s.is_table();
  for (SourceEntry& e : sources_) {
    if (e.topic != s.topic) continue;
    if (e.schema && values_decode_to_struct(s)) {
      // Another declaration of the topic (or this one after ALTER): its
      // value columns the codec lacks are decoded too, after the others
      // (RowLayout finds a column by name when not at its place).
      for (const Column& c : s.schema.columns) {
        if (c.is_key || e.schema->index_of(c.name)) continue;
        e.schema->columns.push_back(c);
        e.decoded->push_back(true);
      }
    }
    if (e.decoded) {
      // Another query over it: decode what this one reads too (all of it
      // when it reads the topic as a table or under another schema).
      std::vector<bool> more = stream_read && e.source == s.name ? value_columns_read(*reads, s)
                                                                 : std::vector<bool>{};
      for (size_t i = 0; i < e.decoded->size(); ++i)
        (*e.decoded)[i] = (*e.decoded)[i] || i >= more.size() || more[i];
    }
    return e.node;
  }
  auto serdes = serdes_for(s);
  if (!serdes) return serdes.error();
  SourceEntry entry{s.topic, 0, s.name, nullptr, nullptr};
  if (values_decode_to_struct(s)) {
    // The codec reads its schema and flags when a task is built: later
    // queries of the engine may widen both until then.
    entry.schema = std::make_shared<Schema>(*value_schema(s));
    entry.decoded = std::make_shared<std::vector<bool>>(
        stream_read ? value_columns_read(*reads, s)
                    : std::vector<bool>(entry.schema->columns.size(), true));
    if (auto registry = s.value_format == "AVRO" || s.value_format == "PROTOBUF" ? schema_registry()
                                                                                 : nullptr) {
      // AVRO and PROTOBUF with a schema registry read every field of the
      // writer's schema (no column skipped), into the same struct.
      serdes->value = registry_value_codec(s, entry.schema, registry);
    } else if (auto json_registry = s.value_format == "JSON_SR" ? schema_registry() : nullptr) {
      serdes->value = json_sr_values(s, codecs::json(entry.schema, entry.decoded), json_registry);
    } else if (s.value_format == "PROTOBUF_NOSR") {
      // Every field read (the message is parsed whole), into the same struct.
      serdes->value = [values = entry.schema] { return make_protobuf_nosr_codec(values); };
    } else {
      serdes->value = codecs::json(entry.schema, entry.decoded);
    }
  }
  const Topology::NodeId node = topology_.add_source(s.topic, std::move(*serdes), as_table);
  entry.node = node;
  sources_.push_back(std::move(entry));
  return node;
}

Expected<bool> SqlEngine::execute_script(std::string_view sql) {
  auto run = [this](const Expected<std::vector<Statement>>& statements) -> Expected<bool> {
    if (!statements) return statements.error();
    for (const Statement& s : *statements) {
      auto r = execute(s);
      if (!r) return r.error();
    }
    return true;
  };
  // Nothing to substitute: parsed at once (a file of many statements pays
  // nothing for variables it does not use).
  if (sql.find("${") == std::string_view::npos) return run(parse_statements(sql, types_));
  // Statement by statement: a DEFINE binds its variable for the statements
  // after it.
  for (const auto& chunk : split_statements(sql)) {
    auto ran = run(parse_chunk(chunk));
    if (!ran) return ran;
  }
  return true;
}

Expected<std::vector<Statement>> SqlEngine::parse_chunk(
    const StatementSplitter::Chunk& chunk) const {
  // Padding keeps the parser's line:column those of the input.
  std::string text(static_cast<size_t>(std::max(0, chunk.line - 1)), '\n');
  text += std::string(static_cast<size_t>(std::max(0, chunk.column - 1)), ' ');
  text += chunk.text;
  for (const auto& [k, v] : properties_)
    if (iequals(k, kVariableSubstitution) && !config_bool(v).value_or(true))
      return parse_statements(text, types_);
  auto substituted = substitute_variables(text, variables_);
  if (!substituted) return substituted.error();
  return parse_statements(*substituted, types_);
}

std::string topic_loop_error(const std::vector<std::string>& loop) {
  return "Cannot run this query: " + topic_loop_reason(loop);
}

bool is_planner_property(std::string_view key) {
  return iequals(key, kCollectListLimit) || iequals(key, kCollectSetLimit) ||
         iequals(key, kNewQueryPlanner) || iequals(key, kVariableSubstitution);
}

bool is_offset_reset_key(std::string_view key) {
  return iequals(key, "auto.offset.reset") || iequals(key, "ksql.streams.auto.offset.reset");
}

std::optional<std::string> invalid_planner_property(std::string_view key,
                                                    const std::string& value) {
  // In the words of Kafka's ConfigDef, which ksqlDB's SET answers with.
  const auto invalid = [&](const char* why) {
    return "Invalid value " + value + " for configuration " + std::string(key) + ": " + why;
  };
  if (iequals(key, kCollectListLimit) || iequals(key, kCollectSetLimit)) {
    if (!config_int(value)) return invalid("Not a number of type INT");
  } else if (iequals(key, kNewQueryPlanner) || iequals(key, kVariableSubstitution)) {
    if (!config_bool(value)) return invalid("Expected value to be either true or false");
  } else if (is_offset_reset_key(key)) {
    const std::string v = to_lower(java_trim(value));
    if (v != "earliest" && v != "latest") return invalid("String must be one of: earliest, latest");
  } else if (iequals(key, "schema.registry.url") || iequals(key, "ksql.schema.registry.url")) {
    // As ksqlDB says of it: the process's registry, not a session's.
    return std::string(key) +
           " cannot be SET: it is read when the command starts (--config, --set "
           "schema.registry.url=URL or RIVULET_SCHEMA_REGISTRY_URL)";
  }
  return std::nullopt;
}

struct SqlEngine::PlanningState {
  Catalog catalog;
  int queries = 0;
  Topology topology;
  std::vector<SourceEntry> sources;
  std::vector<std::vector<bool>> decoded;  // each source's, by value: widened in place
  std::vector<size_t> widths;              // each source's codec columns: widened in place
  std::vector<std::pair<std::string, Topology::NodeId>> tables;
  size_t subquery_notes = 0;
};

SqlEngine::PlanningState SqlEngine::save_planning() const {
  PlanningState s;
  s.catalog = catalog_;
  s.queries = queries_;
  s.topology = topology_.scoped_to("");
  s.sources = sources_;
  for (const auto& e : sources_) {
    s.decoded.push_back(e.decoded ? *e.decoded : std::vector<bool>());
    s.widths.push_back(e.schema ? e.schema->columns.size() : 0);
  }
  s.tables = tables_;
  s.subquery_notes = subquery_notes_.size();
  return s;
}

void SqlEngine::restore_planning(const PlanningState& saved) {
  catalog_ = saved.catalog;
  queries_ = saved.queries;
  topology_.restore(saved.topology);
  sources_ = saved.sources;
  for (size_t i = 0; i < sources_.size(); ++i) {
    if (sources_[i].decoded) *sources_[i].decoded = saved.decoded[i];
    if (sources_[i].schema) sources_[i].schema->columns.resize(saved.widths[i]);
  }
  tables_ = saved.tables;
  subquery_notes_.resize(saved.subquery_notes);
}

Expected<std::pair<std::string, Topology::NodeId>> SqlEngine::table_node(const SourceInfo& table) {
  for (const auto& t : tables_)
    if (t.first == table.name) return t;
  auto tsrc = source_node(table, true);
  if (!tsrc) return tsrc.error();
  auto node = topology_.add_table(*tsrc, table.name, table.storage,
                                  table.history_retention_ms.value_or(-1));
  tables_.emplace_back(table.name, node);
  return tables_.back();
}

void SqlEngine::define(const std::string& name, const std::string& value) {
  variables_[to_upper(name)] = value;
}

std::vector<std::string> SqlEngine::sources_read() const {
  std::vector<std::string> out;
  for (const auto& s : sources_) out.push_back(s.source);
  for (const auto& t : tables_) out.push_back(t.first);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string source_table_query_id(const std::string& table, int n) {
  return "CST_" + table + "_" + std::to_string(n);
}

Expected<std::string> SqlEngine::execute(const Statement& s) {
  if (const auto* c = std::get_if<CreateSource>(&s.body)) {
    auto info = Catalog::describe_create(*c, s.text);
    if (!info) return info.error();
    auto formats = check_formats(*info);
    if (!formats) return sql_error(c->name_loc, formats.error().message);
    if (c->is_source && c->type == SourceType::Table && !catalog_.find(info->name)) {
      // CREATE SOURCE TABLE: materialized at once, as in ksqlDB, by a query
      // of its own (CST_<name>_<n>), so that pull queries can read it.
      const PlanningState saved = save_planning();
      auto r = catalog_.apply(s);
      if (!r) return r;
      const SourceInfo& created = *catalog_.find(info->name);
      auto node = table_node(created);
      if (!node) {
        restore_planning(saved);
        return sql_error(c->name_loc, node.error().message);
      }
      last_query_id_ = source_table_query_id(created.name, queries_++);
      query_ids_.insert(last_query_id_);
      return *r + " and materialized (query " + last_query_id_ + ")";
    }
  }
  if (std::holds_alternative<CreateSource>(s.body) || std::holds_alternative<DropSource>(s.body) ||
      std::holds_alternative<AlterSource>(s.body))
    return catalog_.apply(s);
  if (std::holds_alternative<CreateAsSelect>(s.body) ||
      std::holds_alternative<InsertInto>(s.body)) {
    const PlanningState saved = save_planning();
    auto planned = std::holds_alternative<CreateAsSelect>(s.body)
                       ? create_as(std::get<CreateAsSelect>(s.body), s.text)
                       : insert_into(std::get<InsertInto>(s.body));
    if (!planned) {
      restore_planning(saved);
      return planned;
    }
    // Refused at planning rather than found running: a query that reads
    // what it writes (itself, or through the file's other queries)
    // processes every record again for ever.
    if (auto loop = topology_.topic_cycle(); !loop.empty()) {
      restore_planning(saved);
      return sql_error(s.loc, topic_loop_error(loop));
    }
    return planned;
  }
  if (const auto* set = std::get_if<SetProperty>(&s.body)) {
    if (auto why = invalid_planner_property(set->name, set->value)) return sql_error(s.loc, *why);
    set_property(set->name, set->value);
    return std::string("Property changed");
  }
  if (const auto* unset = std::get_if<UnsetProperty>(&s.body)) {
    unset_property(unset->name);
    return std::string("Property changed");
  }
  if (const auto* d = std::get_if<DefineVariable>(&s.body)) {
    define(d->name, d->value);
    return std::string("Variable defined");
  }
  if (const auto* c = std::get_if<CreateType>(&s.body)) {
    if (auto it = types_.find(c->name); it != types_.end()) {
      if (c->if_not_exists) return "Type " + c->name + " already exists";
      // ksqlDB's words.
      return sql_error(c->name_loc,
                       "Cannot register custom type '" + c->name +
                           "' since it is already registered with type: " + type_name(it->second));
    }
    types_.emplace(c->name, c->type);
    return "Type " + c->name + " created";
  }
  if (const auto* d = std::get_if<DropType>(&s.body)) {
    if (types_.erase(d->name) == 0) {
      if (d->if_exists) return "Type " + d->name + " does not exist";
      return sql_error(d->name_loc, "Type " + d->name + " does not exist.");
    }
    return "Type " + d->name + " dropped";
  }
  if (const auto* u = std::get_if<UndefineVariable>(&s.body)) {
    // ksqlDB warns and goes on.
    if (variables_.erase(to_upper(u->name)) == 0)
      return "Cannot undefine variable '" + u->name + "' which was never defined";
    return std::string("Variable undefined");
  }
  if (const auto* v = std::get_if<InsertValues>(&s.body)) {
    auto r = encode_insert_values(catalog_, *v);
    if (!r) return r.error();
    inserts_.push_back(std::move(*r));
    return std::string("Row inserted");
  }
  if (std::holds_alternative<SelectStatement>(s.body))
    return unsupported(s.loc, "push and pull queries");
  return unsupported(s.loc, "this statement");
}

void SqlEngine::set_property(const std::string& name, const std::string& value) {
  for (auto& [k, v] : properties_) {
    if (k == name) {
      v = value;
      return;
    }
  }
  properties_.emplace_back(name, value);
}

void SqlEngine::unset_property(const std::string& name) {
  for (auto it = properties_.begin(); it != properties_.end(); ++it) {
    if (it->first == name) {
      properties_.erase(it);
      return;
    }
  }
}

Expected<std::string> SqlEngine::create_as(const CreateAsSelect& c, const std::string& text) {
  auto analysis = analyze_query(*c.query, catalog_);
  if (!analysis) return analysis.error();
  auto info = describe_create_as(c, *analysis, text);
  if (!info) return info.error();
  // The result's columns in its formats, as a CREATE's are checked.
  if (auto formats = check_formats(*info); !formats)
    return sql_error(c.name_loc, formats.error().message);
  // A DELIMITED result takes its source's delimiter unless it sets one.
  const SourceInfo& first = *analysis->sources[0].info;
  if (info->value_format == "DELIMITED" && first.value_format == "DELIMITED" &&
      !info->properties.find("VALUE_DELIMITER")) {
    if (const Property* d = first.properties.find("VALUE_DELIMITER"))
      info->properties.items.push_back(*d);
  }
  auto chosen =
      query_id(c.properties, std::string(c.type == SourceType::Stream ? "CSAS_" : "CTAS_") +
                                 info->name + "_" + std::to_string(queries_));
  if (!chosen) return chosen.error();
  const std::string id = *chosen;
  info->query_id = id;
  if (catalog_.find(info->name) && !c.or_replace && c.if_not_exists)
    return std::string("Source already exists");
  // Checked before anything is added to the topology.
  auto sink_serdes = serdes_for(*info);
  if (!sink_serdes) return sql_error(c.name_loc, sink_serdes.error().message);
  QueryPlanner planner(*this, *c.query, *analysis, *info, id);
  auto planned = planner.plan();
  if (!planned) return planned.error();
  auto added = catalog_.add(*info, c.or_replace, c.if_not_exists, c.name_loc);
  if (!added) return added.error();
  ++queries_;
  query_ids_.insert(id);
  last_query_id_ = id;
  return std::string(source_type_name(c.type)) + " created and running";
}

SqlEngine SqlEngine::fork() const {
  SqlEngine e;
  e.catalog_ = catalog_;
  e.properties_ = properties_;
  e.variables_ = variables_;
  e.types_ = types_;
  e.query_ids_ = query_ids_;
  e.queries_ = queries_;
  return e;
}

Expected<SourceInfo> SqlEngine::plan_push(const Query& q, PeekFn deliver) {
  auto analysis = analyze_query(q, catalog_);
  if (!analysis) return analysis.error();
  CreateAsSelect c;
  c.type = analysis->result_type;
  c.name = "TRANSIENT";
  c.name_loc = q.loc;
  auto info = describe_create_as(c, *analysis, to_sql(q), true);
  if (!info) return info.error();
  // The rows go to the caller, not to a topic: a key of several columns
  // (GROUP BY a, b) is kept as a struct, as a JSON key holds it.
  if (info->key_format == "KAFKA" && info->schema.key_columns().size() > 1)
    info->key_format = "JSON";
  const PlanningState saved = save_planning();
  QueryPlanner planner(*this, q, *analysis, *info, "TRANSIENT_" + std::to_string(queries_),
                       std::move(deliver));
  auto planned = planner.plan();
  if (!planned) {
    restore_planning(saved);
    return planned.error();
  }
  return info;
}

Expected<std::string> SqlEngine::insert_into(const InsertInto& i) {
  auto analysis = analyze_query(*i.query, catalog_);
  if (!analysis) return analysis.error();
  auto target = check_insert_into(i, *analysis, catalog_);
  if (!target) return target.error();
  SourceInfo sink = **target;
  auto id = query_id(i.properties, "INSERTQUERY_" + std::to_string(queries_));
  if (!id) return id.error();
  QueryPlanner planner(*this, *i.query, *analysis, sink, *id);
  auto planned = planner.plan();
  if (!planned) return planned.error();
  ++queries_;
  query_ids_.insert(*id);
  last_query_id_ = *id;
  return std::string("Insert query running");
}

Expected<std::string> SqlEngine::query_id(const Properties& props, std::string generated) const {
  const Property* p = props.find("QUERY_ID");
  if (p == nullptr) return generated;
  auto text = props.text("QUERY_ID");
  if (!text) return sql_error(p->loc, "QUERY_ID must be a string, as in QUERY_ID='my_query'");
  const std::string id = to_upper(*text);
  const bool valid = !id.empty() && std::all_of(id.begin(), id.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_';
  });
  if (!valid)
    return sql_error(
        p->loc, "Invalid QUERY_ID '" + *text + "': a query id takes letters, digits and '_' only");
  if (query_ids_.count(id)) return sql_error(p->loc, "Query ID '" + id + "' already exists.");
  return id;
}

}  // namespace rivulet::sql
