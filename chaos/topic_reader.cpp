#include "chaos/topic_reader.hpp"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <memory>

#include "connectors/kafka_config.hpp"
#include "connectors/topic_admin.hpp"

namespace rivulet::chaos {

namespace {

using Clock = std::chrono::steady_clock;

// Owns the reading consumer; closes and destroys it on every return path.
struct ConsumerHandle {
  rd_kafka_t* rk = nullptr;
  ~ConsumerHandle() {
    if (rk == nullptr) return;
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
};

struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

void copy_headers(const rd_kafka_message_t* msg, Headers& out) {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(msg, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR || headers == nullptr) {
    return;
  }
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  for (size_t i = 0;
       rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
       ++i) {
    Header h;
    h.name = name;
    if (value != nullptr) h.value.emplace(static_cast<const char*>(value), size);
    out.push_back(std::move(h));
  }
}

RawRecord to_raw(const rd_kafka_message_t* msg) {
  RawRecord r;
  r.offset = msg->offset;
  rd_kafka_timestamp_type_t ts_type;
  const int64_t ts = rd_kafka_message_timestamp(msg, &ts_type);
  r.timestamp = ts_type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? 0 : ts;
  if (msg->key != nullptr) r.key.emplace(static_cast<const char*>(msg->key), msg->key_len);
  if (msg->payload != nullptr) r.value.emplace(static_cast<const char*>(msg->payload), msg->len);
  copy_headers(msg, r.headers);
  return r;
}

bool records_lost(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE ||
         err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET;
}

}  // namespace

std::optional<std::string> TopicRecord::header(const std::string& name) const {
  for (const auto& h : record.headers) {
    if (h.name == name && h.value) return h.value;
  }
  return std::nullopt;
}

Expected<TopicContents> read_topic(const std::string& bootstrap, const std::string& topic,
                                   const ReadOptions& options) {
  const auto deadline = Clock::now() + options.timeout;
  const std::string what = "reading topic '" + topic + "'";
  connectors::KafkaProperties props = options.properties;
  props["bootstrap.servers"] = bootstrap;

  connectors::TopicAdminOptions admin_options;
  admin_options.request_timeout = std::min(admin_options.request_timeout, options.timeout);
  auto admin = connectors::TopicAdmin::create(props, admin_options);
  if (!admin) return admin.error();
  auto count = (*admin)->partition_count(topic);
  if (!count) return count.error();
  if (!*count) return Error::fatal("topic '" + topic + "' does not exist");

  // Pipelines bound their prefetch (consumer_defaults); a reader that keeps
  // everything anyway gains nothing from that, and librdkafka's default
  // prefetch reads 200k records about five times faster here.
  auto reader_defaults = connectors::merge_properties(connectors::consumer_defaults(),
                                                      {{"queued.min.messages", "100000"}});
  connectors::KafkaProperties consumer_props = connectors::merge_properties(reader_defaults, props);
  // group.id only satisfies librdkafka's consumer; nothing is committed.
  consumer_props["group.id"] = "rivulet-verify";
  consumer_props["enable.partition.eof"] = "true";
  consumer_props["isolation.level"] =
      options.read_committed ? "read_committed" : "read_uncommitted";
  auto conf = connectors::make_conf(consumer_props);
  if (!conf) return conf.error();
  char errstr[512];
  ConsumerHandle consumer;
  consumer.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), errstr, sizeof errstr);
  if (consumer.rk == nullptr) return Error::fatal(what + ": " + errstr);
  conf->release();  // rd_kafka_new owns it now
  rd_kafka_poll_set_consumer(consumer.rk);

  TopicContents contents;
  contents.topic = topic;
  // The end of each partition as this consumer's isolation level sees it
  // (the high watermark, or the last stable offset under read_committed),
  // taken once: records written after this are not part of the copy.
  struct Progress {
    int64_t end = 0;
    bool done = false;
  };
  std::vector<Progress> progress(static_cast<size_t>(**count));
  connectors::TopicPartitionListPtr assignment(rd_kafka_topic_partition_list_new(**count));
  for (int32_t p = 0; p < **count; ++p) {
    int64_t low = 0;
    int64_t high = 0;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        consumer.rk, topic.c_str(), p, &low, &high, std::max(1, remaining_ms(deadline)));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Error::fatal(what + ": watermarks of partition " + std::to_string(p) + ": " +
                          connectors::kafka_error_text(err));
    }
    contents.partitions.push_back({TopicPartition{topic, PartitionId{p}}, low, high});
    progress[static_cast<size_t>(p)].end = high;
    if (high <= low) {
      progress[static_cast<size_t>(p)].done = true;
      continue;
    }
    // From the low watermark just read, not BEGINNING: a logical offset is
    // looked up again once fetching starts, which librdkafka 2.0 retries
    // only after 500 ms when the partition has not joined its leader yet
    // (connectors::resolve_logical_offsets).
    rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), p)->offset = low;
  }
  if (assignment->cnt > 0) {
    rd_kafka_resp_err_t err = rd_kafka_assign(consumer.rk, assignment.get());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Error::fatal(what + ": assign: " + connectors::kafka_error_text(err));
    }
  }

  auto all_done = [&] {
    return std::all_of(progress.begin(), progress.end(), [](const Progress& p) { return p.done; });
  };
  std::string last_error;  // transient trouble, named if the deadline passes
  while (!all_done()) {
    if (Clock::now() >= deadline) {
      std::string behind;
      for (size_t p = 0; p < progress.size(); ++p) {
        if (progress[p].done) continue;
        behind += (behind.empty() ? "" : ", ") + std::to_string(p);
      }
      return Error::fatal(
          what + ": the end was not reached within " + std::to_string(options.timeout.count()) +
          " ms (partitions " + behind + " unfinished" +
          (last_error.empty() ? "" : "; last error: " + last_error) +
          (options.read_committed ? "; a transaction may still be open" : "") + ")");
    }
    std::unique_ptr<rd_kafka_message_t, MessageDeleter> msg(
        rd_kafka_consumer_poll(consumer.rk, std::min(100, remaining_ms(deadline))));
    if (!msg) continue;
    const bool ours = msg->rkt != nullptr && topic == rd_kafka_topic_name(msg->rkt) &&
                      msg->partition >= 0 && msg->partition < **count;
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      // The fetch position reached the end as of the broker's last answer:
      // every record below it has been delivered before this event.
      if (ours && msg->offset >= progress[static_cast<size_t>(msg->partition)].end) {
        progress[static_cast<size_t>(msg->partition)].done = true;
      }
      continue;
    }
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::string text =
          std::string(rd_kafka_err2name(msg->err)) + ": " + rd_kafka_message_errstr(msg.get());
      if (records_lost(msg->err)) {
        return Error::fatal(what + ": records of partition " + std::to_string(msg->partition) +
                            " were deleted while reading (retention): " + text);
      }
      if (msg->err == RD_KAFKA_RESP_ERR__FATAL) return Error::fatal(what + ": " + text);
      last_error = std::move(text);  // transport trouble: librdkafka retries
      continue;
    }
    if (!ours) continue;
    Progress& p = progress[static_cast<size_t>(msg->partition)];
    if (msg->offset < p.end) {
      contents.records.push_back(
          TopicRecord{TopicPartition{topic, PartitionId{msg->partition}}, to_raw(msg.get())});
    }
    if (msg->offset + 1 >= p.end) p.done = true;
  }
  // Partition after partition, offset order within each (delivery order
  // interleaves partitions).
  std::stable_sort(contents.records.begin(), contents.records.end(),
                   [](const TopicRecord& a, const TopicRecord& b) {
                     return a.tp.partition < b.tp.partition ||
                            (a.tp.partition == b.tp.partition && a.record.offset < b.record.offset);
                   });
  return contents;
}

}  // namespace rivulet::chaos
