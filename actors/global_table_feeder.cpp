#include "actors/global_table_feeder.hpp"

#include <algorithm>
#include <thread>
#include <utility>
#include <vector>

#include "connectors/topic_admin.hpp"
#include "runtime/log.hpp"

namespace rivulet::actors {

Expected<std::unique_ptr<GlobalTableFeeder>> GlobalTableFeeder::start(
    const std::vector<GlobalTableSpec>& specs, GlobalTableFeederOptions options) {
  std::unique_ptr<GlobalTableFeeder> f(new GlobalTableFeeder());
  f->name_ = options.name;
  f->specs_ = specs;
  auto tables = GlobalTables::create(specs);
  if (!tables) return tables.error();
  f->tables_ = std::move(*tables);

  connectors::KafkaProperties base;
  base["bootstrap.servers"] = options.consumer_props.count("bootstrap.servers")
                                  ? options.consumer_props.at("bootstrap.servers")
                                  : std::string();
  auto admin = connectors::TopicAdmin::create(base);
  if (!admin) return admin.error();
  // Every partition of every global topic, from the beginning; the end
  // offsets now are what the bootstrap must reach.
  std::vector<connectors::StartPosition> positions;
  std::map<TopicPartition, int64_t> ends;
  std::vector<std::string> seen;
  for (const auto& s : specs) {
    bool dup = false;
    for (const auto& t : seen) dup = dup || t == s.topic;
    if (dup) continue;
    seen.push_back(s.topic);
    auto n = (*admin)->partition_count(s.topic);
    if (!n) return n.error();
    if (!*n)
      return Error::fatal("topic '" + s.topic + "' of global table " + s.name +
                          " (a subquery scans it) does not exist");
    std::vector<TopicPartition> tps;
    for (int32_t p = 0; p < **n; ++p) tps.push_back(TopicPartition{s.topic, PartitionId{p}});
    auto marks = (*admin)->watermarks(tps);
    if (!marks) return marks.error();
    for (size_t i = 0; i < tps.size(); ++i) {
      const TopicPartition& tp = tps[i];
      const auto& w = (*marks)[i];
      if (!w) return w.error();
      ends[tp] = w->second;
      positions.push_back(connectors::StartPosition{tp, connectors::StartPosition::kBeginning});
      std::lock_guard<std::mutex> lock(f->mutex_);
      f->next_[tp] = w->first;  // nothing below the low watermark can be read
    }
  }
  auto props = options.consumer_props;
  props["group.id"] = options.name;  // never joined, never committed: assign() only
  props["auto.offset.reset"] = "earliest";
  props["enable.auto.commit"] = "false";
  connectors::ConsumerOptions copts;
  copts.max_batch_records = options.max_batch_records;
  const std::string name = options.name;
  copts.on_error = [name](const Error& e) {
    logger()->error("global tables {}: consumer: {}", name, e.to_string());
  };
  auto consumer = connectors::KafkaConsumer::create(props, copts);
  if (!consumer) return consumer.error();
  f->consumer_ = std::move(*consumer);
  auto assigned = f->consumer_->assign(positions);
  if (!assigned) return assigned.error();
  auto begin = std::chrono::steady_clock::now();
  f->consumer_->start(f.get());
  while (!f->caught_up(ends)) {
    if (std::chrono::steady_clock::now() - begin > options.bootstrap_timeout) {
      f->stop();
      return Error::fatal("global tables " + name + ": not caught up with their topics within " +
                          std::to_string(options.bootstrap_timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - begin)
                .count();
  for (const auto& s : specs) {
    auto t = f->tables_->table(s.name);
    logger()->info("global table {} ({}): bootstrapped {} keys in {} ms", s.name, s.topic,
                   t ? t->size() : 0, ms);
  }
  return f;
}

GlobalTableFeeder::~GlobalTableFeeder() { stop(); }

void GlobalTableFeeder::stop() {
  if (consumer_) consumer_->stop();
}

bool GlobalTableFeeder::caught_up(const std::map<TopicPartition, int64_t>& ends) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [tp, end] : ends) {
    auto it = next_.find(tp);
    if (it == next_.end() || it->second < end) return false;
  }
  return true;
}

bool GlobalTableFeeder::offer(RawBatch&& batch) {
  if (batch.records.empty()) {
    // The consumer's caught-up signal: everything below the high watermark
    // was read, transaction markers included (they are never delivered, so
    // the last record + 1 can stay below the end of a transactional topic).
    std::lock_guard<std::mutex> lock(mutex_);
    int64_t& next = next_[batch.tp];
    next = std::max(next, batch.high_watermark);
    return true;
  }
  std::vector<DataError> errors;
  const RawRecord* begin = batch.records.data();
  tables_->apply(batch.tp.topic, batch.tp.partition, begin, begin + batch.records.size(), errors);
  for (const auto& e : errors) {
    ++errors_logged_;
    if (errors_logged_ <= 100 || errors_logged_ % 1000 == 0)
      logger()->warn("global tables {}: data error #{} (record not applied): {}", name_,
                     errors_logged_, e.to_string());
  }
  std::lock_guard<std::mutex> lock(mutex_);
  next_[batch.tp] = batch.records.back().offset + 1;
  return true;
}

std::vector<GlobalTableStats> GlobalTableFeeder::stats() const {
  std::vector<GlobalTableStats> out;
  std::vector<connectors::PartitionStats> parts;
  if (consumer_) parts = consumer_->all_stats();
  for (const auto& s : specs_) {
    GlobalTableStats g;
    g.name = s.name;
    g.topic = s.topic;
    if (auto t = tables_->table(s.name)) {
      auto st = t->stats();
      g.size = st.size;
      g.updates_applied = st.updates_applied;
    }
    for (const auto& p : parts)
      if (p.tp.topic == s.topic && p.lag > 0) g.lag += p.lag;
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace rivulet::actors
