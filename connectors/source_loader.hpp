#pragma once
// SourceLoader: writes records that come from outside Kafka (file and memory
// sources, sql/source_feeder.hpp) into their topics, so that the ordinary
// partitioned, checkpointed pipeline reads them like any other input.
//
//   auto loader = SourceLoader::start(props, {{"USERS", 8, true}}, hooks, options);
//   ... Application::start() ...     // the topics exist and hold the files' rows
//   loader->stop();
//
// start() blocks until the topics exist (created with their partitions),
// what they already hold has been handed to the hooks (restart without
// duplicates), and the first load is durable; then a thread polls the hooks
// every `poll_interval` and writes what they emit.
//
// Progress of a stream file survives restarts: every record carries
// `rivulet.file.line` (its line) and `rivulet.file.flushed` (every line up
// to this one was durable before the record's chunk was written). Records
// are written in chunks of at most `chunk` records, each flushed before the
// next, so the last `chunk` records of each partition tell exactly which
// lines of the unfinished chunk arrived (restore_stream).
//
// Threads: start() and stop() from one controlling thread; the hooks run on
// the loader's thread (and, during start(), on the caller's).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "connectors/kafka_config.hpp"
#include "runtime/error.hpp"
#include "runtime/record.hpp"

namespace rivulet::connectors {

class KafkaProducer;
struct LoaderHandler;

struct LoaderTopic {
  std::string topic;
  int32_t partitions = 1;
  bool table = false;  // tables: recovered as key -> value; streams: by line
};

struct LoaderRecord {
  OutputRecord record;
  int64_t line = 0;  // a stream file's line (0: none)
};

struct SourceLoaderHooks {
  // Before the first poll, per topic. Tables: the rows the topic holds
  // (key -> value, tombstones applied).
  std::function<void(const std::string& topic, std::map<std::string, std::string> rows)>
      restore_table;
  // Streams: lines 1..complete_through are in the topic, and so are `present`.
  std::function<void(const std::string& topic, int64_t complete_through, std::set<int64_t> present)>
      restore_stream;
  // Emits at most `max` records; returns true when more are ready at once.
  std::function<bool(const std::function<void(LoaderRecord&&)>& emit, size_t max)> poll;
};

struct SourceLoaderOptions {
  std::chrono::milliseconds poll_interval{1000};
  size_t chunk = 1000;
  std::chrono::milliseconds timeout{30000};  // reading back, flushing
  // When set, asked before each chunk is taken from the hooks: false holds
  // the loader still (nothing polled, nothing written) until it turns true.
  // A cluster node's loader writes only while the node holds task 0's
  // lease, so that a fenced node's loader cannot write beside its
  // successor's (cluster/source_loading.hpp).
  std::function<bool()> may_write;
};

class SourceLoader {
 public:
  // `properties` need bootstrap.servers; producer properties pass through.
  static Expected<std::unique_ptr<SourceLoader>> start(const KafkaProperties& properties,
                                                       std::vector<LoaderTopic> topics,
                                                       SourceLoaderHooks hooks,
                                                       SourceLoaderOptions options = {});
  ~SourceLoader();
  SourceLoader(const SourceLoader&) = delete;
  SourceLoader& operator=(const SourceLoader&) = delete;

  // Writes what is pending, then stops the thread. Idempotent.
  void stop();
  // Polls now (the next round does not wait for poll_interval).
  void wake();

  uint64_t records_written() const { return written_.load(); }
  uint64_t polls() const { return polls_.load(); }
  // The first failure (a record that could not be written), if any.
  std::optional<std::string> failure() const;

 private:
  SourceLoader() = default;
  Expected<bool> round();  // one poll: produce in chunks, flush each
  void run();

  std::vector<LoaderTopic> topics_;
  SourceLoaderHooks hooks_;
  SourceLoaderOptions options_;
  std::unique_ptr<LoaderHandler> handler_;
  std::unique_ptr<KafkaProducer> producer_;
  std::map<std::string, int64_t> flushed_;   // topic -> lines durable
  std::map<std::string, int64_t> max_line_;  // topic -> largest line written
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
  std::optional<std::string> failure_;
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> polls_{0};
};

// Reads partitions of `topic` up to their end offsets as seen at the start:
// every record (tail = 0), or the last `tail` records of each partition.
Expected<std::vector<RawRecord>> read_topic_records(const KafkaProperties& properties,
                                                    const std::string& topic, int32_t partitions,
                                                    size_t tail, std::chrono::milliseconds timeout);

}  // namespace rivulet::connectors
