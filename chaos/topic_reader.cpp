#include "chaos/topic_reader.hpp"

#include <map>
#include <mutex>
#include <thread>

#include "connectors/kafka_consumer.hpp"
#include "connectors/topic_admin.hpp"

namespace rivulet::chaos {

namespace {

// Keeps what the consumer delivers. Runs on the consumer's poll thread.
class Keep : public connectors::BatchSink {
 public:
  bool offer(RawBatch&& batch) override {
    std::lock_guard<std::mutex> lock(mutex);
    auto& into = records[batch.tp];
    for (auto& r : batch.records) {
      next[batch.tp] = r.offset + 1;
      into.push_back(std::move(r));
    }
    return true;
  }
  std::mutex mutex;
  std::map<TopicPartition, std::vector<RawRecord>> records;
  std::map<TopicPartition, int64_t> next;
};

}  // namespace

std::optional<std::string> TopicRecord::header(const std::string& name) const {
  for (const auto& h : record.headers) {
    if (h.name == name) return h.value;
  }
  return std::nullopt;
}

Expected<std::vector<TopicRecord>> read_topic(const std::string& bootstrap,
                                              const std::string& topic,
                                              const ReadOptions& options) {
  auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", bootstrap}});
  if (!admin) return admin.error();
  auto count = (*admin)->partition_count(topic);
  if (!count) return count.error();
  if (!*count) return Error::fatal("topic '" + topic + "' does not exist");
  std::map<TopicPartition, std::pair<int64_t, int64_t>> ends;  // low, high
  std::vector<connectors::StartPosition> positions;
  for (int32_t p = 0; p < **count; ++p) {
    TopicPartition tp{topic, PartitionId{p}};
    auto wm = (*admin)->watermarks(tp);
    if (!wm) return wm.error();
    ends[tp] = *wm;
    positions.push_back({tp, connectors::StartPosition::kBeginning});
  }
  connectors::KafkaProperties props = {{"bootstrap.servers", bootstrap},
                                       {"group.id", "rivulet-verify"}};
  if (options.read_committed) props["isolation.level"] = "read_committed";
  auto consumer = connectors::KafkaConsumer::create(props);
  if (!consumer) return consumer.error();
  if (auto r = (*consumer)->assign(positions); !r) return r.error();
  Keep keep;
  (*consumer)->start(&keep);
  auto done = [&] {
    std::lock_guard<std::mutex> lock(keep.mutex);
    for (const auto& [tp, lh] : ends) {
      if (lh.second <= lh.first) continue;  // empty partition
      auto it = keep.next.find(tp);
      // With read_committed, transaction markers occupy offsets: reaching
      // the last record before the watermark is the end too.
      if (it == keep.next.end() || it->second < lh.second - (options.read_committed ? 1 : 0)) {
        return false;
      }
    }
    return true;
  };
  auto deadline = std::chrono::steady_clock::now() + options.timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      (*consumer)->stop();
      return Error::fatal("reading " + topic + " did not reach the end within " +
                          std::to_string(options.timeout.count()) +
                          " ms (records lost to retention, or a broker problem)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  (*consumer)->stop();
  std::vector<TopicRecord> out;
  std::lock_guard<std::mutex> lock(keep.mutex);
  for (auto& [tp, recs] : keep.records) {
    for (auto& r : recs) {
      if (r.offset < ends[tp].second) out.push_back(TopicRecord{tp, std::move(r)});
    }
  }
  return out;
}

}  // namespace rivulet::chaos
