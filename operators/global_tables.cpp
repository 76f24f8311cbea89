#include "operators/global_tables.hpp"

#include <utility>

#include "operators/processor.hpp"

namespace rivulet {

Expected<std::shared_ptr<GlobalTables>> GlobalTables::create(
    const std::vector<GlobalTableSpec>& specs) {
  std::shared_ptr<GlobalTables> g(new GlobalTables());
  for (const auto& s : specs) {
    Entry e;
    e.spec = s;
    e.table = std::make_shared<KTable>(s.name, TableStorage::Decoded);
    e.key = s.serdes.key ? s.serdes.key() : nullptr;
    e.value = s.serdes.value ? s.serdes.value() : nullptr;
    if (!e.key || !e.value)
      return Error::fatal("global table " + s.name + ": no codecs for topic " + s.topic);
    g->entries_.push_back(std::move(e));
  }
  return g;
}

std::shared_ptr<const KTable> GlobalTables::table(std::string_view name) const {
  for (const auto& e : entries_)
    if (e.spec.name == name) return e.table;
  return nullptr;
}

std::vector<std::string> GlobalTables::names() const {
  std::vector<std::string> out;
  for (const auto& e : entries_) out.push_back(e.spec.name);
  return out;
}

std::vector<std::string> GlobalTables::topics() const {
  std::vector<std::string> out;
  for (const auto& e : entries_) out.push_back(e.spec.topic);
  return out;
}

bool GlobalTables::reads(std::string_view topic) const {
  for (const auto& e : entries_)
    if (e.spec.topic == topic) return true;
  return false;
}

size_t GlobalTables::bytes_estimate() const {
  size_t n = 0;
  for (const auto& e : entries_) n += e.table->bytes_estimate();
  return n;
}

bool GlobalTables::apply(const std::string& topic, PartitionId partition, const RawRecord* begin,
                         const RawRecord* end, std::vector<DataError>& errors) {
  bool found = false;
  for (auto& e : entries_) {
    if (e.spec.topic != topic) continue;
    found = true;
    TaskOutput out;
    ProcessContext ctx(out, partition);
    uint64_t applied = 0;
    {
      KTable::Writer w(*e.table);
      for (const RawRecord* raw = begin; raw != end; ++raw) {
        if (!raw->key) {
          ctx.raw_data_error(topic, *raw, "global table " + e.spec.name,
                             "table record with a null key");
          continue;
        }
        auto k = e.key->decode(*raw->key);
        if (!k) {
          ctx.raw_data_error(topic, *raw, "decode key", std::move(k.error().message));
          continue;
        }
        if (k->is_null()) {
          ctx.raw_data_error(topic, *raw, "global table " + e.spec.name,
                             "table record with a null key");
          continue;
        }
        Value value;
        if (raw->value) {
          auto v = e.value->decode(*raw->value);
          if (!v) {
            ctx.raw_data_error(topic, *raw, "decode value", std::move(v.error().message));
            continue;
          }
          value = std::move(*v);
        }
        w.apply(*k, std::move(value));
        ++applied;
      }
    }
    applied_.fetch_add(applied, std::memory_order_relaxed);
    errors_.fetch_add(out.data_errors.size(), std::memory_order_relaxed);
    for (auto& d : out.data_errors) errors.push_back(std::move(d));
  }
  return found;
}

}  // namespace rivulet
