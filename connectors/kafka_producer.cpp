#include "connectors/kafka_producer.hpp"

#include <algorithm>
#include <optional>

#include "connectors/kafka_log.hpp"
#include "runtime/thread_name.hpp"

namespace rivulet::connectors {

KafkaProducer::KafkaProducer(rd_kafka_t* rk, DeliveryHandler* handler)
    : rk_(rk), handler_(handler) {}

Expected<std::unique_ptr<KafkaProducer>> KafkaProducer::create(const KafkaProperties& config,
                                                                DeliveryHandler* handler) {
  // Without it the producer would queue records that can never be delivered.
  if (property_or(config, "bootstrap.servers", "").empty()) {
    return Error::fatal("kafka producer: missing property 'bootstrap.servers'");
  }
  auto props = merge_properties(producer_defaults(), config);
  props.emplace("statistics.interval.ms", kClientStatsIntervalMs);
  auto conf = make_conf(props);
  if (!conf) return conf.error();
  std::unique_ptr<KafkaProducer> producer(new KafkaProducer(nullptr, handler));
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &KafkaProducer::delivery_callback);
  rd_kafka_conf_set_stats_cb(conf->get(), &KafkaProducer::stats_callback);
  rd_kafka_conf_set_opaque(conf->get(), producer.get());
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), err, sizeof err);
  if (rk == nullptr) return Error::fatal(std::string("cannot create Kafka producer: ") + err);
  conf->release();  // rd_kafka_new took ownership
  producer->rk_ = rk;
  producer->main_queue_ = rd_kafka_queue_get_main(rk);
  KafkaProducer* p = producer.get();
  producer->delivery_thread_ = std::thread([p] {
    set_thread_name("rivulet.acks");
    while (!p->stopping_.load(std::memory_order_acquire)) {
      if (p->flush_waiters_.load(std::memory_order_acquire) > 0 && rd_kafka_outq_len(p->rk_) > 0) {
        // A caller waits in flush(). rd_kafka_flush sends what lingers at
        // once (it overrides linger.ms while it runs) and serves the
        // reports here, on the delivery thread.
        rd_kafka_flush(p->rk_, 10);
      } else {
        rd_kafka_poll(p->rk_, 50);
      }
    }
  });
  return producer;
}

KafkaProducer::~KafkaProducer() {
  if (rk_ != nullptr && !flush(std::chrono::seconds(10)).ok()) {
    // Purged records still get a (failed) report, so every opaque handed to
    // produce() comes back to the handler exactly once.
    kafka_log().warn("kafka producer: {} record(s) undelivered at close; purging them",
                     rd_kafka_outq_len(rk_));
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    if (!flush(std::chrono::seconds(2)).ok()) {
      kafka_log().error("kafka producer: {} delivery report(s) never arrived",
                        rd_kafka_outq_len(rk_));
    }
  }
  stopping_.store(true, std::memory_order_release);
  if (delivery_thread_.joinable()) delivery_thread_.join();
  if (main_queue_ != nullptr) rd_kafka_queue_destroy(main_queue_);
  if (rk_ != nullptr) {
    rd_kafka_poll(rk_, 0);  // reports that arrived after the thread stopped
    rd_kafka_destroy(rk_);
  }
}

int KafkaProducer::stats_callback(rd_kafka_t* /*rk*/, char* json, size_t len, void* opaque) {
  static_cast<KafkaProducer*>(opaque)->client_stats_.take(std::string_view(json, len));
  return 0;  // librdkafka frees `json`
}

void KafkaProducer::delivery_callback(rd_kafka_t* /*rk*/, const rd_kafka_message_t* msg,
                                      void* opaque) {
  static_cast<KafkaProducer*>(opaque)->on_report(msg);
}

void KafkaProducer::on_report(const rd_kafka_message_t* msg) {
  std::optional<Error> error;
  const std::string_view topic = msg->rkt ? rd_kafka_topic_name(msg->rkt) : "";
  if (msg->err) {
    Error e = Error::retriable("delivery failed: " + kafka_error_text(msg->err));
    e.context.operation = "produce";
    e.context.topic = std::string(topic);
    e.context.partition = msg->partition;
    error = std::move(e);
  }
  {
    // One lookup by the topic's name as librdkafka holds it: no string is
    // made per report.
    std::lock_guard<std::mutex> lock(stats_mutex_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) it = topics_.emplace(std::string(topic), TopicReports{}).first;
    TopicReports& t = it->second;
    (error ? t.stats.failed : t.stats.produced) += 1;
    if (!error && msg->partition >= 0 && msg->offset >= 0) {
      const auto p = static_cast<size_t>(msg->partition);
      if (t.acknowledged.size() <= p) t.acknowledged.resize(p + 1, -1);
      t.acknowledged[p] = std::max(t.acknowledged[p], msg->offset);
    }
  }
  // Purged records (an aborted transaction, a close) are expected by whoever
  // purged them and are counted: one line each would flood the log.
  const bool purged = msg->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
                      msg->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
  if (error && !purged) kafka_log().warn("{}", error->to_string());
  if (handler_ != nullptr) handler_->on_delivery(msg->_private, error, msg->partition, msg->offset);
}

Expected<bool> KafkaProducer::produce(const OutputRecord& record, void* opaque,
                                      const std::vector<HeaderRef>& extra,
                                      std::chrono::milliseconds queue_full_timeout) {
  rd_kafka_headers_t* headers = nullptr;
  if (!record.headers.empty() || !extra.empty() || record.input) {
    headers = rd_kafka_headers_new(record.headers.size() + extra.size() + 1);
    if (record.input) {
      // The provenance header, formatted here (librdkafka copies it) rather
      // than kept as a string per record by the sink.
      char stack[320];
      std::string heap;
      char* text = stack;
      if (record.input->topic.size() + kInputTextExtra > sizeof stack) {
        heap.resize(record.input->topic.size() + kInputTextExtra);
        text = heap.data();
      }
      const size_t n = write_input_text(*record.input, text);
      rd_kafka_header_add(headers, kInputHeader, -1, text, static_cast<ssize_t>(n));
    }
    for (const auto& h : record.headers) {
      rd_kafka_header_add(headers, h.name.data(), static_cast<ssize_t>(h.name.size()),
                          h.value ? h.value->data() : nullptr,
                          h.value ? static_cast<ssize_t>(h.value->size()) : 0);
    }
    for (const auto& h : extra) {
      rd_kafka_header_add(headers, h.name.data(), static_cast<ssize_t>(h.name.size()),
                          h.value.data(), static_cast<ssize_t>(h.value.size()));
    }
  }
  // librdkafka's RD_KAFKA_V_* macros cast their arguments: pass plain values.
  const int32_t partition = record.partition ? *record.partition : RD_KAFKA_PARTITION_UA;
  const void* key = record.key ? record.key->data() : nullptr;
  const size_t key_size = record.key ? record.key->size() : 0;
  void* value = record.value ? const_cast<char*>(record.value->data()) : nullptr;
  const size_t value_size = record.value ? record.value->size() : 0;
  const int64_t timestamp = record.timestamp;
  // Read the clock only once the queue is full: not once per record.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  for (int attempt = 0;; ++attempt) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_, RD_KAFKA_V_TOPIC(record.topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_size),
        RD_KAFKA_V_VALUE(value, value_size), RD_KAFKA_V_TIMESTAMP(timestamp),
        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return true;  // headers now owned by librdkafka
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      const auto now = std::chrono::steady_clock::now();
      if (!deadline) deadline = now + queue_full_timeout;
      if (now < *deadline) {
        // Backpressure: the delivery thread drains the queue as the broker acknowledges.
        std::this_thread::sleep_for(std::chrono::milliseconds(attempt < 10 ? 1 : 5));
        continue;
      }
    }
    if (headers) rd_kafka_headers_destroy(headers);
    Error e = err == RD_KAFKA_RESP_ERR__QUEUE_FULL
                  ? Error::retriable("producer queue full for " +
                                     std::to_string(queue_full_timeout.count()) + " ms")
                  : err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE
                        ? Error::fatal("produce failed: a record of " +
                                       std::to_string(key_size + value_size) +
                                       " bytes (key and value) exceeds the producer's "
                                       "message.max.bytes; raise kafka.producer.message.max.bytes "
                                       "(the topic's max.message.bytes must allow it too)")
                        : Error::fatal("produce failed: " + kafka_error_text(err));
    e.context.operation = "produce";
    e.context.topic = record.topic;
    e.context.attempt = attempt + 1;
    return e;
  }
}

void KafkaProducer::prepare_topics(const std::vector<std::string>& topics,
                                   std::chrono::milliseconds timeout) {
  (void)request_topic_metadata(rk_, topics, timeout);
}

Expected<bool> KafkaProducer::flush(std::chrono::milliseconds timeout) {
  // Not rd_kafka_flush here: it serves delivery reports on the calling
  // thread, and the handler is promised the delivery thread only. The
  // delivery thread runs it for us instead (so what lingers leaves now, not
  // linger.ms later); the yield ends the poll it may be waiting in. The
  // outq length counts queued, in-flight and not yet reported records alike.
  struct Waiting {
    explicit Waiting(std::atomic<int>& w) : waiters(w) {
      waiters.fetch_add(1, std::memory_order_acq_rel);
    }
    ~Waiting() { waiters.fetch_sub(1, std::memory_order_acq_rel); }
    std::atomic<int>& waiters;
  } waiting(flush_waiters_);
  if (main_queue_ != nullptr) rd_kafka_queue_yield(main_queue_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (rd_kafka_outq_len(rk_) > 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      Error e = Error::retriable("flush: " + std::to_string(rd_kafka_outq_len(rk_)) +
                                 " records still unacknowledged after " +
                                 std::to_string(timeout.count()) + " ms");
      e.context.operation = "flush";
      return e;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

std::map<std::string, ProducerTopicStats> KafkaProducer::stats() const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  std::map<std::string, ProducerTopicStats> out;
  for (const auto& [topic, t] : topics_) out.emplace(topic, t.stats);
  return out;
}

std::vector<int64_t> KafkaProducer::acknowledged_offsets(const std::string& topic) const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  auto it = topics_.find(topic);
  return it == topics_.end() ? std::vector<int64_t>{} : it->second.acknowledged;
}

uint64_t KafkaProducer::in_flight() const {
  return static_cast<uint64_t>(rd_kafka_outq_len(rk_));
}

}  // namespace rivulet::connectors
