#include "cluster/insert_values.hpp"

#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "connectors/kafka_producer.hpp"
#include "connectors/topic_admin.hpp"

namespace rivulet::cluster {
namespace {

// Keeps the first failed delivery.
class FirstFailure : public connectors::DeliveryHandler {
 public:
  void on_delivery(void* opaque, const std::optional<Error>& error, int32_t,
                   int64_t) override {
    if (!error) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (!failure_)
      failure_ = *static_cast<const std::string*>(opaque) + ": " + error->to_string();
  }
  std::optional<std::string> failure() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return failure_;
  }

 private:
  mutable std::mutex mutex_;
  std::optional<std::string> failure_;
};

}  // namespace

Expected<size_t> write_inserts(const std::vector<sql::InsertedRecord>& records,
                               const Config& config, std::chrono::milliseconds timeout) {
  if (records.empty()) return size_t{0};
  connectors::KafkaProperties base{{"bootstrap.servers", config.get("bootstrap.servers")}};
  auto admin = connectors::TopicAdmin::create(base);
  if (!admin) return admin.error();
  std::set<std::string> ensured;
  for (const auto& r : records) {
    if (!ensured.insert(r.topic).second) continue;
    auto exists = (*admin)->partition_count(r.topic);
    if (!exists) return Error::fatal("INSERT INTO " + r.target + ": topic " + r.topic + ": " +
                                     exists.error().to_string());
    if (*exists) continue;
    auto ok = (*admin)->ensure_topic(r.topic, r.partitions > 0 ? r.partitions : 1);
    if (!ok) return Error::fatal("INSERT INTO " + r.target + ": topic " + r.topic + ": " +
                                 ok.error().to_string());
  }
  auto props = base;
  for (const auto& [k, v] : config.kafka_properties("producer")) props[k] = v;
  FirstFailure failures;
  auto producer = connectors::KafkaProducer::create(props, &failures);
  if (!producer) return producer.error();
  std::vector<std::string> labels;
  labels.reserve(records.size());
  for (const auto& r : records) labels.push_back("INSERT INTO " + r.target + " (topic " + r.topic + ")");
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    OutputRecord o;
    o.topic = r.topic;
    o.key = r.key;
    o.value = r.value;
    o.timestamp = r.timestamp.value_or(now);
    auto ok = (*producer)->produce(o, &labels[i]);
    if (!ok) return Error::fatal(labels[i] + ": " + ok.error().to_string());
  }
  auto flushed = (*producer)->flush(timeout);
  if (!flushed) return Error::fatal("INSERT INTO ... VALUES: " + flushed.error().to_string());
  if (auto f = failures.failure()) return Error::fatal(*f);
  return records.size();
}

}  // namespace rivulet::cluster
