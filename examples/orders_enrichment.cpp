#include "examples/orders_enrichment.hpp"

#include <chrono>
#include <atomic>
#include <cstdio>
#include <thread>

#include "connectors/kafka_producer.hpp"

namespace rivulet::examples {

namespace {

const char* const kCountries[] = {"DE", "FR", "US", "JP", "BR", "IN", "NG", "SE"};

// Order amounts are exact decimals: 1.00 .. 500.99.
std::string order_json(int64_t order, const std::string& user) {
  int64_t cents = 100 + (order * 104729) % 50000;
  char buf[160];
  std::snprintf(buf, sizeof buf, R"({"order_id":%lld,"user_id":"%s","amount":%lld.%02lld})",
                static_cast<long long>(order), user.c_str(), static_cast<long long>(cents / 100),
                static_cast<long long>(cents % 100));
  return buf;
}

std::string user_json(int64_t n, const std::string& user) {
  char buf[160];
  std::snprintf(buf, sizeof buf, R"({"user_id":"%s","name":"User %lld","country":"%s"})",
                user.c_str(), static_cast<long long>(n), kCountries[n % 8]);
  return buf;
}

// Counts acknowledgements and remembers the first failure. Runs on the
// producer's delivery thread.
class AckCounter : public connectors::DeliveryHandler {
 public:
  void on_delivery(void* /*opaque*/, const std::optional<Error>& error, int32_t /*partition*/,
                   int64_t /*offset*/) override {
    if (error) {
      if (!failed_.exchange(true)) first_error_ = error->to_string();
    }
    acked_.fetch_add(1, std::memory_order_relaxed);
  }
  int64_t acked() const { return acked_.load(std::memory_order_relaxed); }
  bool failed() const { return failed_.load(); }
  const std::string& first_error() const { return first_error_; }

 private:
  std::atomic<int64_t> acked_{0};
  std::atomic<bool> failed_{false};
  std::string first_error_;
};

Value field_or_null(const Value* row, const char* name) {
  if (row == nullptr) return Value();
  const Value* v = row->field(name);
  return v ? *v : Value();
}

}  // namespace

Value enrich_order(const Record& order, const Value* user) {
  const StructFields& in = order.value.as_struct();
  StructFields fields;
  fields.reserve(in.size() + 2);  // one allocation, not a copy then a regrowth
  fields.insert(fields.end(), in.begin(), in.end());
  fields.push_back(Field{"name", field_or_null(user, "name")});
  fields.push_back(Field{"country", field_or_null(user, "country")});
  return Value::structure(std::move(fields));
}

Value order_count_row(const Record& count) {
  return Value::structure({Field{"user_id", count.key}, Field{"orders", count.value}});
}

std::string OrdersWorkload::user_id(int64_t n) const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "u%06lld", static_cast<long long>(n));
  return buf;
}

int64_t OrdersWorkload::expected_matched() const {
  int64_t matched = 0;
  for (int64_t o = 0; o < orders; ++o) matched += user_of_order(o) < users ? 1 : 0;
  return matched;
}

std::map<std::string, int64_t> OrdersWorkload::expected_counts() const {
  std::map<std::string, int64_t> counts;
  for (int64_t o = 0; o < orders; ++o) ++counts[user_id(user_of_order(o))];
  return counts;
}

Topology make_orders_topology(const OrdersWorkload& w) {
  Topology topo;
  auto users = topo.table(w.users_topic, codecs::string_json(), "users", w.users_storage);
  auto orders = topo.stream(w.orders_topic, codecs::string_json())
                    .filter([](const Record& r) { return r.value.kind() == TypeKind::Struct; });
  orders.left_join(users, enrich_order).to(w.enriched_topic, codecs::string_json());
  // A table's sink: with statestore.cache.max.bytes set, only the latest
  // count of each user between two commits is written.
  orders.group_by_key()
      .count("order-counts")
      .map_values(order_count_row)
      .to(w.counts_topic, codecs::string_json());
  return topo;
}

Expected<bool> produce_orders_workload(const std::string& bootstrap, const OrdersWorkload& w,
                                       const std::function<void(int64_t, int64_t)>& progress,
                                       const LoadOptions& load) {
  AckCounter acks;
  // Large batches: the embedded broker returns one batch per partition per
  // fetch, so the batch size the data was written with bounds read speed.
  auto producer = connectors::KafkaProducer::create({{"bootstrap.servers", bootstrap},
                                                     {"linger.ms", std::to_string(load.linger_ms)},
                                                     {"batch.num.messages", "10000"}},
                                                    &acks);
  if (!producer) return producer.error();
  const int64_t first = load.first_order;
  const int64_t last = load.last_order < 0 ? w.orders : load.last_order;
  const int64_t total = (load.users ? w.users : 0) + (last - first);
  int64_t sent = 0;
  auto send = [&](const std::string& topic, const std::string& key,
                  std::string value) -> Expected<bool> {
    OutputRecord rec;
    rec.topic = topic;
    rec.key = key;
    rec.value = std::move(value);
    auto r = (*producer)->produce(rec, nullptr);
    if (!r) return r.error();
    if (++sent % 20000 == 0 && progress) progress(sent, total);
    return true;
  };
  // Users first, and only then orders, so the users carry earlier timestamps.
  if (load.users) {
    for (int64_t u = 0; u < w.users; ++u) {
      auto id = w.user_id(u);
      auto r = send(w.users_topic, id, user_json(u, id));
      if (!r) return r.error();
    }
    (*producer)->flush(std::chrono::seconds(60));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto started = std::chrono::steady_clock::now();
  for (int64_t o = first; o < last; ++o) {
    if (load.stop != nullptr && load.stop->load()) return Error::fatal("loading the workload: stopped");
    if (load.orders_per_second > 0 && (o - first) % 100 == 0) {
      // Paced: order o is due (o - first) / rate seconds after the start.
      auto due = started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>(static_cast<double>(o - first) /
                                                             load.orders_per_second));
      std::this_thread::sleep_until(due);
    }
    auto id = w.user_id(w.user_of_order(o));
    auto r = send(w.orders_topic, id, order_json(o, id));
    if (!r) return r.error();
  }
  (*producer)->flush(std::chrono::seconds(60));
  if (progress) progress(total, total);
  if (acks.failed()) return Error::fatal("loading the workload failed: " + acks.first_error());
  if (acks.acked() != total) {
    return Error::fatal("loading the workload: " + std::to_string(acks.acked()) + " of " +
                        std::to_string(total) + " records acknowledged");
  }
  return true;
}

}  // namespace rivulet::examples
