#include "connectors/topic_admin.hpp"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <random>
#include <thread>

#include "connectors/kafka_log.hpp"
#include "connectors/retry_delay.hpp"

namespace rivulet::connectors {

namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

// Sleeps the retry delay unless that would pass the deadline; false when the
// deadline has come.
bool backoff_before(Clock::time_point deadline, int attempt) {
  auto delay = retry_delay(attempt);
  if (Clock::now() + delay >= deadline) return false;
  std::this_thread::sleep_for(delay);
  return true;
}

// Outcome of one produced control record, shared between the producing
// thread and whichever thread serves its delivery report.
struct DeliveryResult {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  int64_t offset = -1;
};

void delivery_callback(rd_kafka_t*, const rd_kafka_message_t* msg, void*) {
  auto* holder = static_cast<std::shared_ptr<DeliveryResult>*>(msg->_private);
  if (holder == nullptr) return;
  {
    std::lock_guard<std::mutex> lock((*holder)->mutex);
    (*holder)->done = true;
    (*holder)->err = msg->err;
    (*holder)->offset = msg->offset;
  }
  (*holder)->cv.notify_all();
  delete holder;
}

std::string new_request_id() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)) + "-" +
         std::to_string(rng() % 1000000007ULL);
}

Error with_operation(Error e, const std::string& operation, const std::string& topic) {
  e.context.operation = operation;
  e.context.topic = topic;
  return e;
}

}  // namespace

Expected<bool> validate_topic_name(const std::string& topic) {
  if (topic.empty()) return Error::data("invalid topic name: empty");
  if (topic.size() > 249) {
    return Error::data("invalid topic name '" + topic + "': longer than 249 characters");
  }
  if (topic == "." || topic == "..") {
    return Error::data("invalid topic name '" + topic + "'");
  }
  for (char c : topic) {
    const bool legal = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '.' || c == '_' || c == '-';
    if (!legal) {
      return Error::data("invalid topic name '" + topic + "': character '" + std::string(1, c) +
                         "' is not one of [a-zA-Z0-9._-]");
    }
  }
  return true;
}

Expected<std::unique_ptr<TopicAdmin>> TopicAdmin::create(const KafkaProperties& config,
                                                         TopicAdminOptions options) {
  if (property_or(config, "bootstrap.servers", "").empty()) {
    return Error::fatal("topic admin: missing property 'bootstrap.servers'");
  }
  KafkaProperties props = merge_properties(common_defaults(), config);
  // Control records are few and must not wait for a linger.
  props["linger.ms"] = "0";
  props["acks"] = "all";
  props["message.timeout.ms"] = std::to_string(options.request_timeout.count());
  auto conf = make_conf(props);
  if (!conf) return with_operation(conf.error(), "create topic admin", "");
  rd_kafka_conf_set_dr_msg_cb(conf->get(), delivery_callback);
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr, sizeof errstr);
  if (rk == nullptr) return Error::fatal(std::string("topic admin: rd_kafka_new failed: ") + errstr);
  conf->release();  // rd_kafka_new took ownership
  return std::unique_ptr<TopicAdmin>(new TopicAdmin(rk, std::move(props), options));
}

TopicAdmin::TopicAdmin(rd_kafka_t* rk, KafkaProperties config, TopicAdminOptions options)
    : rk_(rk), config_(std::move(config)), options_(options) {}

TopicAdmin::~TopicAdmin() {
  if (reply_consumer_ != nullptr) {
    rd_kafka_consumer_close(reply_consumer_);
    rd_kafka_destroy(reply_consumer_);
  }
  // Serve outstanding delivery reports so that their shared results are freed.
  rd_kafka_flush(rk_, 2000);
  rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(rk_, 0);
  rd_kafka_destroy(rk_);
}

Expected<bool> TopicAdmin::read_metadata(
    const std::function<void(const rd_kafka_metadata_t&)>& read) {
  const auto deadline = Clock::now() + options_.request_timeout;
  for (int attempt = 0;; ++attempt) {
    const rd_kafka_metadata_t* md = nullptr;
    const rd_kafka_resp_err_t err =
        rd_kafka_metadata(rk_, /*all_topics=*/1, nullptr, &md, std::max(1, remaining_ms(deadline)));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      read(*md);
      rd_kafka_metadata_destroy(md);
      return true;
    }
    if (!is_retriable(err) || !backoff_before(deadline, attempt)) {
      Error e = is_retriable(err) ? Error::retriable("") : Error::fatal("");
      e.message = "metadata request failed after " + std::to_string(attempt + 1) +
                  " attempt(s): " + kafka_error_text(err);
      e.context.operation = "metadata";
      e.context.attempt = attempt + 1;
      return e;
    }
  }
}

Expected<std::map<std::string, int32_t>> TopicAdmin::topics() {
  std::map<std::string, int32_t> result;
  auto read = read_metadata([&](const rd_kafka_metadata_t& md) {
    for (int i = 0; i < md.topic_cnt; ++i) {
      const auto& t = md.topics[i];
      if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) continue;
      result[t.topic] = t.partition_cnt;
    }
  });
  if (!read) return read.error();
  return result;
}

Expected<std::optional<int32_t>> TopicAdmin::partition_count(const std::string& topic) {
  auto all = topics();
  if (!all) return all.error();
  auto it = all->find(topic);
  if (it == all->end()) return std::optional<int32_t>{};
  return std::optional<int32_t>{it->second};
}

Expected<std::optional<TopicAdmin::Layout>> TopicAdmin::layout(const std::string& topic) {
  std::optional<Layout> found;
  auto read = read_metadata([&](const rd_kafka_metadata_t& md) {
    for (int i = 0; i < md.topic_cnt; ++i) {
      const auto& t = md.topics[i];
      if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || topic != t.topic) continue;
      found = Layout{t.partition_cnt, t.partition_cnt > 0 ? t.partitions[0].replica_cnt : 0};
    }
  });
  if (!read) return read.error();
  return found;
}

Expected<bool> TopicAdmin::is_embedded_broker() {
  auto count = partition_count(kBrokerControlTopic);
  if (!count) return count.error();
  return count->has_value();
}

Expected<bool> TopicAdmin::ensure_topic(const std::string& topic, int32_t partitions,
                                        const std::map<std::string, std::string>& configs) {
  if (auto valid = validate_topic_name(topic); !valid) return valid.error();
  if (partitions < 1) {
    return with_operation(Error::data("partition count must be at least 1, got " +
                                      std::to_string(partitions)),
                          "create topic", topic);
  }
  auto all = topics();
  if (!all) return all.error();
  if (auto it = all->find(topic); it != all->end()) {
    if (it->second == partitions) return true;
    return with_operation(Error::fatal("topic '" + topic + "' exists with " +
                                       std::to_string(it->second) + " partitions, but " +
                                       std::to_string(partitions) + " were requested"),
                          "create topic", topic);
  }
  if (all->count(kBrokerControlTopic) > 0) {
    auto created = control(ControlRequest::create_topic(topic, partitions));
    if (!created) return with_operation(created.error(), "create topic", topic);
  } else {
    auto created = create_with_admin_api(topic, partitions, configs);
    if (!created) return with_operation(created.error(), "create topic", topic);
  }
  return wait_for_topic(topic, partitions);
}

Expected<bool> TopicAdmin::wait_for_topic(const std::string& topic, int32_t partitions) {
  const auto deadline = Clock::now() + options_.create_timeout;
  for (int attempt = 0;; ++attempt) {
    auto count = partition_count(topic);
    if (!count) return count.error();
    if (count->has_value()) {
      if (**count == partitions) return true;
      return with_operation(Error::fatal("topic '" + topic + "' exists with " +
                                         std::to_string(**count) + " partitions, but " +
                                         std::to_string(partitions) + " were requested"),
                            "create topic", topic);
    }
    if (!backoff_before(deadline, attempt)) {
      return with_operation(
          Error::retriable("topic '" + topic + "' did not appear in metadata within " +
                           std::to_string(options_.create_timeout.count()) + " ms"),
          "create topic", topic);
    }
  }
}

Expected<bool> TopicAdmin::create_with_admin_api(const std::string& topic, int32_t partitions,
                                                 const std::map<std::string, std::string>& configs) {
  char errstr[512];
  rd_kafka_NewTopic_t* new_topic = rd_kafka_NewTopic_new(
      topic.c_str(), partitions, options_.replication_factor, errstr, sizeof errstr);
  if (new_topic == nullptr) return Error::fatal(std::string("CreateTopics: ") + errstr);
  for (const auto& [name, value] : configs) {
    if (rd_kafka_NewTopic_set_config(new_topic, name.c_str(), value.c_str()) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_NewTopic_destroy(new_topic);
      return Error::fatal("CreateTopics: invalid topic config " + name + "=" + value);
    }
  }
  rd_kafka_AdminOptions_t* admin_options =
      rd_kafka_AdminOptions_new(rk_, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  const int timeout_ms = static_cast<int>(options_.request_timeout.count());
  if (rd_kafka_AdminOptions_set_request_timeout(admin_options, timeout_ms, errstr,
                                                sizeof errstr) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      rd_kafka_AdminOptions_set_operation_timeout(admin_options, timeout_ms, errstr,
                                                  sizeof errstr) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_AdminOptions_destroy(admin_options);
    rd_kafka_NewTopic_destroy(new_topic);
    return Error::fatal(std::string("CreateTopics options: ") + errstr);
  }
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk_);
  rd_kafka_CreateTopics(rk_, &new_topic, 1, admin_options, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, timeout_ms + 2000);

  Expected<bool> result = true;
  if (event == nullptr) {
    result = Error::retriable("CreateTopics: no answer within " + std::to_string(timeout_ms) +
                              " ms");
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    result = Error::fatal(std::string("CreateTopics failed: ") + rd_kafka_event_error_string(event));
  } else {
    const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(event);
    size_t count = 0;
    const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(res, &count);
    for (size_t i = 0; i < count; ++i) {
      const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(topics[i]);
      // Created concurrently by someone else: wait_for_topic checks the count.
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        continue;
      }
      const char* text = rd_kafka_topic_result_error_string(topics[i]);
      result = Error::fatal("CreateTopics failed: " + kafka_error_text(err) +
                            (text ? std::string(": ") + text : std::string()));
    }
  }
  if (event != nullptr) rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(admin_options);
  rd_kafka_NewTopic_destroy(new_topic);
  return result;
}

Expected<std::pair<int64_t, int64_t>> TopicAdmin::watermarks(const TopicPartition& tp) {
  auto all = watermarks(std::vector<TopicPartition>{tp});
  if (!all) return all.error();
  return std::move(all->front());
}

Expected<std::vector<Expected<std::pair<int64_t, int64_t>>>> TopicAdmin::watermarks(
    const std::vector<TopicPartition>& tps) {
  // Asking for an unknown topic would make the embedded broker auto-create it.
  auto all = topics();
  if (!all) return all.error();
  std::vector<Expected<std::pair<int64_t, int64_t>>> out;
  out.reserve(tps.size());
  for (const auto& tp : tps) {
    auto it = all->find(tp.topic);
    if (it == all->end() || tp.partition.value() < 0 || tp.partition.value() >= it->second) {
      out.emplace_back(std::move(Error::fatal("no such topic partition " + tp.to_string()))
                           .at(tp.topic, tp.partition.value(), -1));
      continue;
    }
    out.push_back(query_watermarks(tp));
  }
  return out;
}

Expected<std::pair<int64_t, int64_t>> TopicAdmin::query_watermarks(const TopicPartition& tp) {
  const auto deadline = Clock::now() + options_.request_timeout;
  for (int attempt = 0;; ++attempt) {
    int64_t low = -1;
    int64_t high = -1;
    const rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk_, tp.topic.c_str(), tp.partition.value(), &low, &high,
                                         std::max(1, remaining_ms(deadline)));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return std::make_pair(low, high);
    if (!is_retriable(err) || !backoff_before(deadline, attempt)) {
      Error e = Error::retriable("watermark query for " + tp.to_string() + " failed: " +
                                 kafka_error_text(err));
      if (!is_retriable(err)) e.kind = ErrorKind::Fatal;
      e.context.operation = "watermarks";
      e.context.topic = tp.topic;
      e.context.partition = tp.partition.value();
      e.context.attempt = attempt + 1;
      return e;
    }
  }
}

Expected<int64_t> TopicAdmin::send_control_record(const ControlRequest& request) {
  const std::string payload = encode_control_request(request);
  auto result = std::make_shared<DeliveryResult>();
  auto* holder = new std::shared_ptr<DeliveryResult>(result);
  const rd_kafka_resp_err_t err = rd_kafka_producev(
      rk_, RD_KAFKA_V_TOPIC(kBrokerControlTopic), RD_KAFKA_V_PARTITION(0),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
      RD_KAFKA_V_OPAQUE(holder), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    delete holder;
    return with_operation(Error::retriable("control request not sent: " + kafka_error_text(err)),
                          "broker control", kBrokerControlTopic);
  }
  const auto deadline = Clock::now() + options_.request_timeout;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(result->mutex);
      if (result->done) break;
    }
    if (Clock::now() >= deadline) {
      return with_operation(Error::retriable("control request not acknowledged within " +
                                             std::to_string(options_.request_timeout.count()) +
                                             " ms"),
                            "broker control", kBrokerControlTopic);
    }
    // Serves delivery reports (possibly other threads' too: each has its own result).
    rd_kafka_poll(rk_, 10);
  }
  if (result->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return with_operation(
        Error::retriable("control request not delivered: " + kafka_error_text(result->err)),
        "broker control", kBrokerControlTopic);
  }
  return result->offset;
}

Expected<bool> TopicAdmin::control(ControlRequest request) {
  if (request.id.empty()) request.id = new_request_id();
  auto offset = send_control_record(request);
  if (!offset) return offset.error();
  return await_reply(request.id, *offset);
}

Expected<bool> TopicAdmin::await_reply(const std::string& id, int64_t after_offset) {
  std::lock_guard<std::mutex> lock(reply_mutex_);
  char errstr[512];
  if (reply_consumer_ == nullptr) {
    KafkaProperties props = config_;
    for (const char* producer_only : {"linger.ms", "acks", "message.timeout.ms"}) {
      props.erase(producer_only);
    }
    props["group.id"] = "rivulet-admin-" + std::to_string(::getpid());
    props["enable.auto.commit"] = "false";
    props["fetch.wait.max.ms"] = "10";
    auto conf = make_conf(props);
    if (!conf) return conf.error();
    rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), errstr, sizeof errstr);
    if (consumer == nullptr) {
      return Error::fatal(std::string("control reply consumer: rd_kafka_new failed: ") + errstr);
    }
    conf->release();
    rd_kafka_poll_set_consumer(consumer);
    reply_consumer_ = consumer;
  }
  TopicPartitionListPtr list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), kBrokerControlTopic, 0)->offset = after_offset + 1;
  if (auto err = rd_kafka_assign(reply_consumer_, list.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Error::fatal("control reply consumer: assign failed: " + kafka_error_text(err));
  }
  Expected<bool> result = with_operation(
      Error::retriable("embedded broker did not answer control request " + id + " within " +
                       std::to_string(options_.request_timeout.count()) + " ms"),
      "broker control", kBrokerControlTopic);
  const auto deadline = Clock::now() + options_.request_timeout;
  while (Clock::now() < deadline) {
    rd_kafka_message_t* msg = rd_kafka_consumer_poll(reply_consumer_, 50);
    if (msg == nullptr) continue;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      kafka_log().warn("control reply consumer: {}", kafka_error_text(msg->err));
      rd_kafka_message_destroy(msg);
      continue;
    }
    auto parsed = parse_control_request(
        std::string_view(static_cast<const char*>(msg->payload), msg->len));
    rd_kafka_message_destroy(msg);
    if (!parsed || parsed->op != ControlOp::Reply || parsed->id != id) continue;
    if (parsed->ok) {
      result = true;
    } else {
      result = with_operation(Error::fatal("embedded broker refused the request: " + parsed->error),
                              "broker control", kBrokerControlTopic);
    }
    break;
  }
  rd_kafka_assign(reply_consumer_, nullptr);
  return result;
}

}  // namespace rivulet::connectors
