#include "connectors/source_loader.hpp"

#include <algorithm>

#include "connectors/kafka_producer.hpp"
#include "connectors/topic_admin.hpp"
#include "runtime/thread_name.hpp"

namespace rivulet::connectors {
namespace {

struct ConsumerDeleter {
  void operator()(rd_kafka_t* rk) const {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
};

std::optional<std::string> header_of(const Headers& headers, const std::string& name) {
  for (const auto& h : headers)
    if (h.name == name) return h.value;
  return std::nullopt;
}

int64_t to_int(const std::optional<std::string>& s) {
  if (!s) return 0;
  try {
    return std::stoll(*s);
  } catch (...) {
    return 0;
  }
}

}  // namespace

Expected<std::vector<RawRecord>> read_topic_records(const KafkaProperties& properties,
                                                    const std::string& topic, int32_t partitions,
                                                    size_t tail, std::chrono::milliseconds timeout) {
  KafkaProperties props = merge_properties(consumer_defaults(), properties);
  props["group.id"] = "rivulet-source-loader";
  props["enable.partition.eof"] = "false";
  auto conf = make_conf(props);
  if (!conf) return conf.error();
  char err[512];
  rd_kafka_t* raw = rd_kafka_new(RD_KAFKA_CONSUMER, conf->release(), err, sizeof err);
  if (!raw) return Error::fatal(std::string("source loader: consumer: ") + err);
  std::unique_ptr<rd_kafka_t, ConsumerDeleter> rk(raw);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left_ms = [&] {
    auto d = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                   std::chrono::steady_clock::now());
    return static_cast<int>(std::max<int64_t>(0, d.count()));
  };
  TopicPartitionListPtr list(rd_kafka_topic_partition_list_new(partitions));
  std::map<int32_t, int64_t> end;  // partition -> high watermark
  for (int32_t p = 0; p < partitions; ++p) {
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
    while (left_ms() > 0) {
      e = rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), p, &lo, &hi,
                                           std::min(left_ms(), 5000));
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR || !is_retriable(e)) break;
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
      return Error::retriable("source loader: watermarks of " + topic + "[" + std::to_string(p) +
                              "]: " + kafka_error_text(e));
    if (hi <= lo) continue;
    int64_t from = tail == 0 ? lo : std::max(lo, hi - static_cast<int64_t>(tail));
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = from;
    end[p] = hi;
  }
  std::vector<RawRecord> out;
  if (end.empty()) return out;
  if (auto e = rd_kafka_assign(rk.get(), list.get()))
    return Error::fatal("source loader: assign " + topic + ": " + kafka_error_text(e));
  while (!end.empty()) {
    if (left_ms() == 0)
      return Error::retriable("source loader: reading " + topic + " back did not finish in " +
                              std::to_string(timeout.count()) + " ms");
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 100);
    if (!m) continue;
    std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> msg(m, rd_kafka_message_destroy);
    if (m->err) {
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
      if (is_retriable(m->err)) continue;
      return Error::fatal("source loader: reading " + topic + ": " + kafka_error_text(m->err));
    }
    RawRecord r;
    r.offset = m->offset;
    if (m->key) r.key = std::string(static_cast<const char*>(m->key), m->key_len);
    if (m->payload) r.value = std::string(static_cast<const char*>(m->payload), m->len);
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs) {
      const char* name = nullptr;
      const void* value = nullptr;
      size_t size = 0;
      for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) ==
                         RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        Header h;
        h.name = name;
        if (value) h.value = std::string(static_cast<const char*>(value), size);
        r.headers.push_back(std::move(h));
      }
    }
    auto it = end.find(m->partition);
    out.push_back(std::move(r));
    if (it != end.end() && m->offset + 1 >= it->second) end.erase(it);
  }
  return out;
}

// Remembers the first delivery failure.
struct LoaderHandler final : DeliveryHandler {
  void on_delivery(void*, const std::optional<Error>& error, int32_t, int64_t) override {
    if (!error) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (!first_) first_ = error->to_string();
  }
  std::optional<std::string> take() {
    std::lock_guard<std::mutex> lock(mutex_);
    auto f = std::move(first_);
    first_.reset();
    return f;
  }

  std::mutex mutex_;
  std::optional<std::string> first_;
};


Expected<std::unique_ptr<SourceLoader>> SourceLoader::start(const KafkaProperties& properties,
                                                            std::vector<LoaderTopic> topics,
                                                            SourceLoaderHooks hooks,
                                                            SourceLoaderOptions options) {
  std::unique_ptr<SourceLoader> l(new SourceLoader());
  l->topics_ = std::move(topics);
  l->hooks_ = std::move(hooks);
  l->options_ = options;
  if (l->options_.chunk == 0) l->options_.chunk = 1;
  KafkaProperties base{{"bootstrap.servers", property_or(properties, "bootstrap.servers", "")}};
  auto admin = TopicAdmin::create(base);
  if (!admin) return admin.error();
  for (const auto& t : l->topics_) {
    auto ok = (*admin)->ensure_topic(t.topic, t.partitions);
    if (!ok) return Error::fatal("source loader: topic " + t.topic + ": " + ok.error().message);
    auto records = read_topic_records(base, t.topic, t.partitions, t.table ? 0 : l->options_.chunk,
                                      l->options_.timeout);
    if (!records) return records.error();
    if (t.table) {
      std::map<std::string, std::string> rows;
      for (auto& r : *records) {
        if (!r.key) continue;
        if (r.value) {
          rows[std::string(*r.key)] = *std::move(r.value).release();
        } else {
          rows.erase(std::string(*r.key));
        }
      }
      if (l->hooks_.restore_table) l->hooks_.restore_table(t.topic, std::move(rows));
    } else {
      int64_t max_line = 0, complete = 0;
      for (const auto& r : *records) {
        int64_t line = to_int(header_of(r.headers, "rivulet.file.line"));
        if (line > max_line) {
          max_line = line;
          complete = to_int(header_of(r.headers, "rivulet.file.flushed"));
        }
      }
      std::set<int64_t> present;
      for (const auto& r : *records) {
        int64_t line = to_int(header_of(r.headers, "rivulet.file.line"));
        if (line > complete) present.insert(line);
      }
      l->flushed_[t.topic] = complete;
      l->max_line_[t.topic] = max_line;
      if (l->hooks_.restore_stream) l->hooks_.restore_stream(t.topic, complete, std::move(present));
    }
  }
  l->handler_ = std::make_unique<LoaderHandler>();
  auto producer = KafkaProducer::create(properties, l->handler_.get());
  if (!producer) return producer.error();
  l->producer_ = std::move(*producer);
  // The first load is durable before the application starts reading.
  auto first = l->round();
  if (!first) return first.error();
  l->thread_ = std::thread([p = l.get()] {
    set_thread_name("rivulet.load");
    p->run();
  });
  return l;
}

SourceLoader::~SourceLoader() { stop(); }

void SourceLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SourceLoader::wake() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    woken_ = true;
  }
  cv_.notify_all();
}

std::optional<std::string> SourceLoader::failure() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failure_;
}

Expected<bool> SourceLoader::round() {
  polls_.fetch_add(1);
  bool more = true;
  while (more) {
    if (options_.may_write && !options_.may_write()) break;
    std::vector<LoaderRecord> chunk;
    more = hooks_.poll([&](LoaderRecord&& r) { chunk.push_back(std::move(r)); }, options_.chunk);
    if (chunk.empty()) break;
    std::map<std::string, int64_t> chunk_max;
    for (auto& r : chunk) {
      if (r.line > 0) {
        r.record.headers.push_back(Header{"rivulet.file.line", std::to_string(r.line)});
        r.record.headers.push_back(
            Header{"rivulet.file.flushed", std::to_string(flushed_[r.record.topic])});
        auto& m = chunk_max[r.record.topic];
        m = std::max(m, r.line);
      }
      auto ok = producer_->produce(r.record, nullptr);
      if (!ok) return ok.error();
    }
    auto flushed = producer_->flush(options_.timeout);
    if (!flushed) return flushed.error();
    if (auto f = handler_->take()) return Error::retriable("source loader: " + *f);
    for (const auto& [topic, line] : chunk_max) {
      auto& m = max_line_[topic];
      m = std::max(m, line);
      flushed_[topic] = m;
    }
    written_.fetch_add(chunk.size());
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) break;
  }
  return true;
}

void SourceLoader::run() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait_for(lock, options_.poll_interval, [&] { return stopping_ || woken_; });
      woken_ = false;
    }
    auto ok = round();
    std::lock_guard<std::mutex> lock(mutex_);
    if (!ok && !failure_) failure_ = ok.error().to_string();
    if (stopping_) return;
  }
}

}  // namespace rivulet::connectors
