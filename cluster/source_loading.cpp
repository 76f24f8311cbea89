#include "cluster/source_loading.hpp"

#include <chrono>
#include <utility>

#include "connectors/topic_admin.hpp"
#include "runtime/log.hpp"

namespace rivulet::cluster {

Expected<std::unique_ptr<SourceLoading>> SourceLoading::start(const sql::PlannedApp& app,
                                                              const Config& config,
                                                              std::function<bool()> may_write) {
  return start(app.external_sources, config, std::move(may_write));
}

Expected<std::unique_ptr<SourceLoading>> SourceLoading::start(
    const std::vector<sql::SourceInfo>& sources, const Config& config,
    std::function<bool()> may_write) {
  if (sources.empty()) return std::unique_ptr<SourceLoading>();
  std::unique_ptr<SourceLoading> s(new SourceLoading());
  auto feeder = sql::SourceFeeder::create(sources);
  if (!feeder) return feeder.error();
  s->feeder_ = std::move(*feeder);
  if (config.get("errors.tolerance") == "all") {
    s->dead_letter_ = config.get("errors.deadletterqueue.topic.name");
    if (s->dead_letter_.empty()) s->dead_letter_ = config.get("application.id") + "-dlq";
  }
  std::vector<connectors::LoaderTopic> topics;
  for (const auto& f : s->feeder_->sources()) topics.push_back({f.topic, f.partitions, f.table});
  connectors::KafkaProperties props{{"bootstrap.servers", config.get("bootstrap.servers")}};
  for (const auto& [k, v] : config.kafka_properties("producer")) props[k] = v;
  connectors::SourceLoaderHooks hooks;
  auto* self = s.get();
  hooks.restore_table = [self](const std::string& topic, std::map<std::string, std::string> rows) {
    if (topic != self->dead_letter_) self->feeder_->restore_table(topic, std::move(rows));
  };
  hooks.restore_stream = [self](const std::string& topic, int64_t complete,
                                std::set<int64_t> present) {
    self->feeder_->restore_stream(topic, complete, std::move(present));
  };
  hooks.poll = [self](const std::function<void(connectors::LoaderRecord&&)>& emit, size_t max) {
    return self->poll(emit, max);
  };
  connectors::SourceLoaderOptions options;
  options.poll_interval = std::chrono::milliseconds(config.get_int("source.file.poll.ms"));
  options.chunk = static_cast<size_t>(config.get_int("source.file.chunk.records"));
  options.may_write = std::move(may_write);
  if (!s->dead_letter_.empty()) {
    // Created (1 partition) as the application creates it; written, never read back.
    connectors::KafkaProperties base{{"bootstrap.servers", config.get("bootstrap.servers")}};
    auto admin = connectors::TopicAdmin::create(base);
    if (!admin) return admin.error();
    auto ok = (*admin)->ensure_topic(s->dead_letter_, 1);
    if (!ok) return ok.error();
  }
  auto loader = connectors::SourceLoader::start(props, std::move(topics), std::move(hooks), options);
  if (!loader) return loader.error();
  s->loader_ = std::move(*loader);
  for (const auto& f : s->feeder_->sources())
    logger()->info("source {}: {}{} loaded into topic {} ({} partitions)", f.name,
                   f.kind == sql::SourceKind::File ? "file://" : "memory://", f.path, f.topic,
                   f.partitions);
  return s;
}

SourceLoading::~SourceLoading() { stop(); }

void SourceLoading::stop() {
  if (loader_) loader_->stop();
}

bool SourceLoading::poll(const std::function<void(connectors::LoaderRecord&&)>& emit, size_t max) {
  feeder_->poll(
      [&](sql::FeedRecord&& r) {
        connectors::LoaderRecord out;
        out.record.topic = std::move(r.topic);
        out.record.key = std::move(r.key);
        out.record.value = std::move(r.value);
        out.record.timestamp =
            std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
        out.record.headers.push_back(Header{"rivulet.file", r.origin});
        out.line = r.line;
        emit(std::move(out));
      },
      max);
  const auto& warnings = feeder_->warnings();
  for (; warnings_ < warnings.size(); ++warnings_) logger()->warn("source: {}", warnings[warnings_]);
  uint64_t total = feeder_->bad_line_count();
  const auto& recent = feeder_->bad_lines();
  uint64_t fresh = total - bad_lines_;
  size_t first = recent.size() > fresh ? recent.size() - static_cast<size_t>(fresh) : 0;
  if (fresh > recent.size())
    logger()->warn("source: {} bad lines not shown", fresh - recent.size());
  for (size_t i = first; i < recent.size(); ++i) {
    const auto& b = recent[i];
    logger()->warn("source: bad line {}", b.to_string());
    if (dead_letter_.empty()) continue;
    connectors::LoaderRecord dlq;
    dlq.record.topic = dead_letter_;
    dlq.record.value = b.text;
    dlq.record.headers = {Header{"rivulet.error", b.reason}, Header{"rivulet.error.kind", "data"},
                          Header{"rivulet.error.operation", "source file"},
                          Header{"rivulet.source.file", b.path},
                          Header{"rivulet.source.line", std::to_string(b.line)}};
    emit(std::move(dlq));
  }
  bad_lines_ = total;
  return feeder_->more();
}

}  // namespace rivulet::cluster
