// ReadBackWatchdog: keeps a benchmark's read-back consumer fetching (used by
// bench_pipeline and bench_sql).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "connectors/kafka_consumer.hpp"
#include "connectors/topic_admin.hpp"

namespace rivulet::bench {

// The first error any of a benchmark's consumers reported through sink()
// (their fatal errors: records lost, offset out of range, with topic,
// partition and offset); "" when none. Any thread.
class FirstLoss {
 public:
  void report(const Error& e) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (first_.empty()) first_ = e.to_string();
  }
  std::string first() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return first_;
  }
  std::function<void(const Error&)> sink() {
    return [this](const Error& e) { report(e); };
  }

 private:
  mutable std::mutex mutex_;
  std::string first_;
};

// Keeps a read-back consumer fetching: every 250 ms it compares each
// partition's position with the broker's high watermark, and a partition
// that is behind and has not moved for 750 ms is assigned again at its
// position (librdkafka's fetch state for it starts over). The read-back
// consumer (librdkafka 2.0.2, embedded broker) at times stops fetching one
// partition while the Application keeps writing it: seen in 3 of 11 runs
// of `--checkpoint-compare 2`, stuck at offset 0 with 14,000 to 24,000
// records on the broker, once again at 10,168; assigning it again made it
// read on (docs/benchmarks.md, "Checkpoints and restore"). Such a stall
// lengthens the phase (it ends at the last output read back), and when it
// lasts until the partition passes 5 MiB
// the embedded broker drops the partition's start and the read-back loses
// it (once in 60 rounds of `--checkpoint-compare 10`: offset 0 read, then
// offset 1 out of range). Restarts are counted (`read_back_restarts`); one
// that comes too late still fails loudly (offset out of range).
class ReadBackWatchdog {
 public:
  ReadBackWatchdog(const std::string& bootstrap, connectors::KafkaConsumer& reader,
                   std::string who)
      : reader_(reader), who_(std::move(who)) {
    if (auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", bootstrap}}); admin)
      admin_ = std::move(*admin);
  }
  // Called from the waiting loop; does work every 250 ms.
  void tick() {
    const auto now = std::chrono::steady_clock::now();
    if (admin_ == nullptr || now < next_) return;
    next_ = now + std::chrono::milliseconds(250);
    const auto stats = reader_.all_stats();
    std::vector<TopicPartition> tps;
    tps.reserve(stats.size());
    for (const auto& s : stats) tps.push_back(s.tp);
    // One metadata request per tick, then one offsets query per partition:
    // this runs beside the phase it watches.
    auto marks = admin_->watermarks(tps);
    if (!marks) return;
    for (size_t i = 0; i < stats.size(); ++i) {
      const auto& s = stats[i];
      const auto& w = (*marks)[i];
      if (!w) continue;
      const int64_t position = std::max<int64_t>(0, s.position);
      Progress& p = progress_[s.tp];
      if (position >= w->second || position != p.position) {
        p = {position, now};
        continue;
      }
      if (now - p.since < std::chrono::milliseconds(750)) continue;
      if (reader_.remove_partitions({s.tp}) && reader_.add_partitions({{s.tp, position}})) {
        ++restarts_;
        std::cerr << who_ << ": read-back of " << s.tp.to_string() << " stalled at "
                  << position << " (broker at " << w->second << "): assigned again\n";
      }
      p = {position, now};
    }
  }
  int restarts() const { return restarts_; }

 private:
  struct Progress {
    int64_t position = -1;
    std::chrono::steady_clock::time_point since;
  };
  connectors::KafkaConsumer& reader_;
  std::string who_;
  std::unique_ptr<connectors::TopicAdmin> admin_;
  std::map<TopicPartition, Progress> progress_;
  std::chrono::steady_clock::time_point next_{};
  int restarts_ = 0;
};

}  // namespace rivulet::bench
