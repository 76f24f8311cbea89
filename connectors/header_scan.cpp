#include "connectors/header_scan.hpp"

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>

namespace rivulet::connectors {

namespace {

struct ConsumerCloser {
  void operator()(rd_kafka_t* rk) const {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
};

}  // namespace

Expected<uint64_t> scan_header(
    const KafkaProperties& base, const std::string& topic, const std::vector<ScanRange>& ranges,
    const std::string& header,
    const std::function<void(int32_t partition, int64_t offset, std::string_view value)>& fn,
    std::chrono::milliseconds timeout) {
  std::map<int32_t, int64_t> pending;  // partition -> end
  for (const auto& r : ranges) {
    if (r.begin < r.end) pending[r.partition] = r.end;
  }
  if (pending.empty()) return uint64_t{0};
  auto props = standalone_reader_properties(base, "rivulet-header-scan");
  props["isolation.level"] = "read_uncommitted";
  auto conf = make_conf(props);
  if (!conf) return conf.error();
  char errstr[512];
  rd_kafka_t* raw = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), errstr, sizeof errstr);
  if (raw == nullptr) {
    return Error::fatal("reading " + topic + ": rd_kafka_new failed: " + errstr);
  }
  conf->release();
  std::unique_ptr<rd_kafka_t, ConsumerCloser> rk(raw);
  rd_kafka_poll_set_consumer(rk.get());
  (void)request_topic_metadata(rk.get(), {topic}, timeout);
  TopicPartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(ranges.size())));
  for (const auto& r : ranges) {
    if (r.begin < r.end)
      rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), r.partition)->offset = r.begin;
  }
  if (auto err = rd_kafka_assign(rk.get(), list.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Error::retriable("reading " + topic + ": assign: " + kafka_error_text(err));
  }
  uint64_t read = 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pending.empty() && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* msg = rd_kafka_consumer_poll(rk.get(), 100);
    if (msg == nullptr) continue;
    std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> owned(
        msg, rd_kafka_message_destroy);
    if (msg->rkt == nullptr || topic != rd_kafka_topic_name(msg->rkt)) continue;
    auto it = pending.find(msg->partition);
    if (it == pending.end()) continue;
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      pending.erase(it);
      continue;
    }
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (is_retriable(msg->err)) continue;
      Error e = Error::retriable("reading " + topic + ": " + kafka_error_text(msg->err));
      e.context.topic = topic;
      e.context.partition = msg->partition;
      return e;
    }
    if (msg->offset >= it->second) {
      pending.erase(it);
      continue;
    }
    ++read;
    rd_kafka_headers_t* headers = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    if (rd_kafka_message_headers(msg, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get(headers, 0, header.c_str(), &value, &size) ==
            RD_KAFKA_RESP_ERR_NO_ERROR) {
      fn(msg->partition, msg->offset,
         value == nullptr ? std::string_view()
                          : std::string_view(static_cast<const char*>(value), size));
    }
    if (msg->offset + 1 >= it->second) pending.erase(it);
  }
  if (!pending.empty()) {
    std::string left;
    for (const auto& [p, end] : pending) left += (left.empty() ? "" : ",") + std::to_string(p);
    Error e = Error::retriable("reading " + topic + ": partition(s) " + left +
                               " not read to their end within " + std::to_string(timeout.count()) +
                               " ms");
    e.context.topic = topic;
    return e;
  }
  return read;
}

}  // namespace rivulet::connectors
