#include "cluster/query.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include <caf/io/all.hpp>

#include "cluster/transport.hpp"
#include "partitioning/murmur2.hpp"
#include "runtime/codec.hpp"
#include "sql/planner.hpp"

namespace rivulet::cluster {

namespace {

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Every table of every query, queryable or not.
std::vector<TableCandidate> all_tables(const std::vector<QueryDef>& queries) {
  std::vector<TableCandidate> out;
  for (const auto& q : queries) {
    sql::SqlEngine engine;
    if (!engine.execute_script(q.sql)) continue;  // the nodes cannot run it either
    PartitionPlan plan;
    plan.tasks = q.partitions;
    plan.topics = q.smaller_inputs;
    auto tables = table_candidates(engine, q.name, plan);
    for (auto& t : tables) out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

std::vector<TableCandidate> table_candidates(const sql::SqlEngine& engine, const std::string& query,
                                             const PartitionPlan& plan) {
  std::vector<TableCandidate> out;
  const Topology& topo = engine.topology();
  auto repartition = topo.repartition_topics();
  for (const sql::SourceInfo* t : engine.catalog().list(sql::SourceType::Table)) {
    TableCandidate c;
    c.target.table = t->name;
    c.target.query = query;
    c.target.partitions = plan.tasks;
    c.target.key_columns = t->schema.key_columns();
    c.target.value_columns = t->schema.value_columns();
    c.target.struct_key = t->key_format == "DELIMITED";
    const bool derived = !t->query_id.empty();  // a CREATE TABLE AS SELECT's (any QUERY_ID)
    c.target.store = derived ? sql::queryable_store_name(t->name) : t->name;
    auto origin = topo.store_origin(c.target.store);
    c.target.windowed = t->window.has_value();
    if (!origin) {
      c.why_not = "table " + t->name +
                  " is not materialized: no persistent query reads it (to "
                  "query it, declare it with CREATE SOURCE TABLE, or run CREATE TABLE QUERYABLE_" +
                  t->name + " AS SELECT * FROM " + t->name + ";)";
    } else if (c.target.key_columns.empty()) {
      c.why_not = "table " + t->name + " has no key column";
    } else {
      c.queryable = true;
      c.target.origin_topic = origin->topic;
      c.target.partitions = plan.of(origin->topic);  // where its keys are placed
      c.target.origin_key = origin->key;
      c.target.origin_repartition =
          std::find(repartition.begin(), repartition.end(), origin->topic) != repartition.end();
    }
    out.push_back(std::move(c));
  }
  return out;
}

bool resolve_table(const std::vector<QueryDef>& queries, const std::string& table,
                   TableTarget& target, TableLookupError& error) {
  auto tables = all_tables(queries);
  for (const auto& c : tables) {
    if (c.queryable) error.queryable.push_back(c.target.table + " (query " + c.target.query + ")");
  }
  std::sort(error.queryable.begin(), error.queryable.end());
  error.queryable.erase(std::unique(error.queryable.begin(), error.queryable.end()),
                        error.queryable.end());
  const TableCandidate* known = nullptr;
  for (const auto& name : {table, upper(table)}) {
    // A queryable copy first (a source table may appear in several queries).
    for (const auto& c : tables) {
      if (c.target.table == name && c.queryable) {
        target = c.target;
        return true;
      }
    }
    for (const auto& c : tables) {
      if (c.target.table == name && !known) known = &c;
    }
  }
  if (known) {
    error.message = known->why_not;
  } else if (queries.empty()) {
    error.message = "unknown table " + table + ": no query is submitted to the cluster";
  } else {
    error.message = "unknown table " + table;
  }
  return false;
}

Expected<KeyTarget> locate_key(const TableTarget& target, const std::string& key_text) {
  if (target.key_columns.size() != 1) {
    std::string names;
    for (const Column& c : target.key_columns) names += (names.empty() ? "" : ", ") + c.name;
    return Error::data("table " + target.table + " has " +
                       std::to_string(target.key_columns.size()) + " key columns (" + names +
                       "): one key cannot place a row; ask with a pull query (rivulet sql) "
                       "naming every key column");
  }
  return locate_key(target, std::vector<std::string>{key_text});
}

Expected<KeyTarget> locate_key(const TableTarget& target, const std::vector<std::string>& key_texts) {
  if (key_texts.size() != target.key_columns.size() || key_texts.empty())
    return Error::data("table " + target.table + " has " +
                       std::to_string(target.key_columns.size()) + " key columns, not " +
                       std::to_string(key_texts.size()));
  // Each key column's value as stored (SQL CAST rules from the text).
  std::vector<Value> bare;
  for (size_t i = 0; i < key_texts.size(); ++i) {
    const Column& column = target.key_columns[i];
    const std::string& key_text = key_texts[i];
    if (column.type->kind == TypeKind::String) {
      bare.push_back(Value::string(key_text));
      continue;
    }
    auto v = coerce(Value::string(key_text), *column.type);
    if (!v || v->is_null()) {
      return Error::data("key '" + key_text + "' is not a " + column.type->to_string() +
                         " (the type of " + target.table + "." + column.name + ")");
    }
    bare.push_back(std::move(*v));
  }
  KeyTarget out;
  Value placed;  // the key as its origin topic's records carry it
  if (bare.size() == 1) {
    const Column& column = target.key_columns.front();
    out.key = target.struct_key ? Value::structure(StructFields{Field{column.name, bare[0]}})
                                : bare[0];
    placed = target.origin_repartition ? bare[0] : out.key;
  } else {
    // Several key columns: the table's key is a struct of them by name; a
    // GROUP BY's repartition topic carries the group as a struct G0, G1, ...
    // (sql/planner.cpp), in the order of the table's key columns.
    StructFields named, grouped;
    for (size_t i = 0; i < bare.size(); ++i) {
      named.push_back(Field{target.key_columns[i].name, bare[i]});
      grouped.push_back(Field{"G" + std::to_string(i), bare[i]});
    }
    out.key = Value::structure(std::move(named));
    placed = target.origin_repartition ? Value::structure(std::move(grouped)) : out.key;
  }
  std::string shown;
  for (const auto& t : key_texts) shown += (shown.empty() ? "" : ", ") + t;
  auto codec = target.origin_key();
  auto bytes = codec->encode(placed);
  if (!bytes) {
    return Error::data("key '" + shown + "' cannot be written in the key format of " +
                       target.origin_topic + ": " + bytes.error().message);
  }
  if (target.partitions <= 0) return Error::fatal("query " + target.query + " has no tasks");
  out.partition = java_partition(*bytes, target.partitions);
  auto packed = codecs::msgpack()()->encode(out.key);
  if (!packed) return packed.error();
  out.key_bytes = std::move(*packed);
  return out;
}

Expected<std::vector<QueryDef>> fetch_queries(const std::string& coordinator, const Config& config) {
  return ask_coordinator<std::vector<QueryDef>>(
      coordinator, config,
      [&](caf::scoped_actor& self, const coordinator_actor& c,
          Expected<std::vector<QueryDef>>& result, caf::actor_system& system) {
        self->request(c, std::chrono::seconds(5), queries_atom::value)
            .receive([&](std::vector<QueryDef>& qs) { result = std::move(qs); },
                     [&](caf::error& err) {
                       result = Error::fatal("queries request failed: " + system.render(err));
                     });
      });
}

Expected<bool> lookup_keys(const std::string& coordinator, const Config& config,
                           const TableTarget& target, const std::vector<KeyTarget>& keys,
                           const std::function<bool(size_t, QueryAnswer&)>& on_answer) {
  return ask_coordinator<bool>(
      coordinator, config,
      [&](caf::scoped_actor& self, const coordinator_actor& c, Expected<bool>& result,
          caf::actor_system& system) {
        for (size_t i = 0; i < keys.size(); ++i) {
          const KeyTarget& key = keys[i];
          std::optional<QueryAnswer> answer;
          self->request(c, std::chrono::seconds(10), lookup_atom::value, target.query,
                        key.partition, target.store, key.key_bytes)
              .receive(
                  [&](std::string& node, int32_t status, std::string& payload) {
                    QueryAnswer a;
                    a.node = std::move(node);
                    a.status = status;
                    if (status == kLookupFound) {
                      auto v = codecs::msgpack()()->decode(payload);
                      if (!v) {
                        a.status = kLookupError;
                        a.error = "undecodable answer: " + v.error().message;
                      } else {
                        a.value = std::move(*v);
                      }
                    } else if (status == kLookupError) {
                      a.error = std::move(payload);
                    }
                    answer = std::move(a);
                  },
                  [&](caf::error& err) {
                    result = Error::fatal("lookup failed: " + system.render(err));
                  });
          if (!answer) return;  // `result` holds why
          if (!on_answer(i, *answer)) break;
        }
        result = true;
      });
}

Expected<QueryAnswer> lookup_key(const std::string& coordinator, const Config& config,
                                 const TableTarget& target, const KeyTarget& key) {
  std::optional<QueryAnswer> answer;
  auto asked = lookup_keys(coordinator, config, target, {key}, [&](size_t, QueryAnswer& a) {
    answer = std::move(a);
    return true;
  });
  if (!asked) return asked.error();
  if (!answer) return Error::fatal("no answer from the coordinator at " + coordinator);
  return std::move(*answer);
}

std::vector<std::pair<std::string, Value>> answer_row(const TableTarget& target,
                                                      const KeyTarget& key,
                                                      const QueryAnswer& answer) {
  std::vector<std::pair<std::string, Value>> row;
  if (target.key_columns.size() > 1) {
    // Several key columns: the key is a struct of them, by name (or, if a
    // name is missing, by position).
    const StructFields* fields =
        key.key.kind() == TypeKind::Struct ? &key.key.as_struct() : nullptr;
    for (size_t i = 0; i < target.key_columns.size(); ++i) {
      const Column& c = target.key_columns[i];
      const Value* f = fields ? key.key.field(c.name) : nullptr;
      if (!f && fields && i < fields->size()) f = &(*fields)[i].value;
      row.emplace_back(c.name, f ? *f : Value());
    }
  } else {
    const Value bare = target.struct_key && key.key.kind() == TypeKind::Struct &&
                               !key.key.as_struct().empty()
                           ? key.key.as_struct().front().value
                           : key.key;
    row.emplace_back(target.key_columns.front().name, bare);
  }
  const Value& v = answer.value;
  if (v.kind() == TypeKind::Struct) {
    for (const auto& c : target.value_columns) {
      const Value* f = v.field(c.name);
      row.emplace_back(c.name, f ? *f : Value());
    }
  } else if (target.value_columns.size() == 1) {
    row.emplace_back(target.value_columns.front().name, v);
  } else {
    row.emplace_back("VALUE", v);
  }
  return row;
}

namespace {

std::string task_name(const TableTarget& t, const KeyTarget& k) {
  return t.query + "-" + std::to_string(k.partition);
}

}  // namespace

std::string render_answer_json(const TableTarget& target, const KeyTarget& key,
                               const QueryAnswer& answer) {
  std::string out = "{\"table\": " + nlohmann::json(target.table).dump() +
                    ", \"key\": " + to_json(key.key) +
                    ", \"found\": " + (answer.status == kLookupFound ? "true" : "false");
  if (answer.status == kLookupFound) {
    out += ", \"row\": {";
    bool first = true;
    for (const auto& [name, value] : answer_row(target, key, answer)) {
      out += (first ? "" : ", ") + nlohmann::json(name).dump() + ": " + to_json(value);
      first = false;
    }
    out += "}";
  }
  if (answer.status == kLookupError) out += ", \"error\": " + nlohmann::json(answer.error).dump();
  out += ", \"query\": " + nlohmann::json(target.query).dump() +
         ", \"task\": " + nlohmann::json(task_name(target, key)).dump() +
         ", \"partition\": " + std::to_string(key.partition) +
         ", \"node\": " + nlohmann::json(answer.node).dump() + "}";
  return out;
}

std::string render_answer_table(const TableTarget& target, const KeyTarget& key,
                                const QueryAnswer& answer) {
  std::ostringstream out;
  auto row = answer_row(target, key, answer);
  std::vector<std::string> names, cells;
  for (const auto& [name, value] : row) {
    names.push_back(name);
    cells.push_back(value.kind() == TypeKind::String ? value.as_string() : to_json(value));
  }
  std::vector<size_t> width;
  for (size_t i = 0; i < names.size(); ++i) width.push_back(std::max(names[i].size(), cells[i].size()));
  auto rule = [&] {
    out << "+";
    for (size_t w : width) out << std::string(w + 2, '-') << "+";
    out << "\n";
  };
  auto line = [&](const std::vector<std::string>& items) {
    out << "|";
    for (size_t i = 0; i < items.size(); ++i) {
      out << " " << items[i] << std::string(width[i] - items[i].size(), ' ') << " |";
    }
    out << "\n";
  };
  rule();
  line(names);
  rule();
  line(cells);
  rule();
  out << "(task " << task_name(target, key) << " on node " << answer.node << ")\n";
  return out.str();
}

}  // namespace rivulet::cluster
