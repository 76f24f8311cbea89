#include "connectors/client_stats.hpp"

#include <nlohmann/json.hpp>
#include <utility>

namespace rivulet::connectors {

bool parse_client_stats(std::string_view json, KafkaClientStats& out) {
  const auto doc = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("brokers")) return false;
  const auto count = [](const nlohmann::json& j, const char* key) -> uint64_t {
    auto it = j.find(key);
    return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
  };
  KafkaClientStats s;
  s.reports = out.reports;
  s.tx_bytes = count(doc, "tx_bytes");
  s.rx_bytes = count(doc, "rx_bytes");
  const auto& brokers = doc["brokers"];
  if (!brokers.is_object()) return false;
  for (const auto& [name, broker] : brokers.items()) {
    auto req = broker.find("req");
    if (req == broker.end() || !req->is_object()) continue;
    for (const auto& [type, n] : req->items()) {
      if (n.is_number_unsigned() && n.get<uint64_t>() > 0) s.requests[type] += n.get<uint64_t>();
    }
  }
  out = std::move(s);
  return true;
}

void ClientStatsSink::take(std::string_view json) {
  KafkaClientStats parsed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    parsed.reports = stats_.reports;
  }
  // Parsed outside the lock: a reader never waits for the parse.
  if (!parse_client_stats(json, parsed)) return;
  ++parsed.reports;
  std::lock_guard<std::mutex> lock(mutex_);
  stats_ = std::move(parsed);
}

KafkaClientStats ClientStatsSink::get() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace rivulet::connectors
