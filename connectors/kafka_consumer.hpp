#pragma once
// Reading Kafka partitions in batches, with manual assignment and explicit
// commits.
//
// KafkaConsumer is owned by one task runner (the actors layer). It runs one
// poll thread of its own (start() .. stop()), which fetches, cuts records into
// RawBatches of one partition each and offers them to a BatchSink. When the
// sink refuses a batch (its receiver is full) the partition is paused at the
// broker side, the batch is kept and re-offered every few milliseconds, and
// the partition resumes once it is taken: memory stays bounded and nothing is
// lost or delivered twice. assign(), commit(), committed() and the statistics
// may be called from any thread.
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "connectors/kafka_config.hpp"
#include "runtime/error.hpp"
#include "runtime/ids.hpp"
#include "runtime/record.hpp"

namespace rivulet::connectors {

// Receives the consumer's batches. Implemented by the actors layer; called on
// the consumer's poll thread only.
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  // Offer one batch of consecutive records of one partition. Return false when
  // the receiver is full: the consumer then pauses that partition, keeps the
  // batch, re-offers it every few ms, and resumes the partition once accepted.
  // A refused batch must be left untouched (it is offered again as it is).
  // Its records' keys and values borrow the batch's arena: keep the batch
  // (or its arena) as long as they are read, or copy the records.
  virtual bool offer(RawBatch&& batch) = 0;
};

// Where to start reading a partition: an offset >= 0, or one of the constants.
struct StartPosition {
  static constexpr int64_t kBeginning = -2;  // the oldest retained record
  static constexpr int64_t kEnd = -1;        // only records produced from now on
  // The group's committed offset; the oldest retained record when the group
  // has committed nothing for this partition.
  static constexpr int64_t kCommitted = -1001;
  // The group's committed offset; when the group has committed nothing for
  // this partition, its end when assigned ('auto.offset.reset' = 'latest'),
  // which is committed for the group at once: a later owner of the
  // partition (a restart, a failover before the first commit) starts there
  // too instead of at a later end, so no record after it is skipped.
  static constexpr int64_t kCommittedElseEnd = -1002;
  TopicPartition tp;
  int64_t offset = kCommitted;
};

struct PartitionStats {
  TopicPartition tp;
  uint64_t records_consumed = 0;  // records the sink accepted
  uint64_t batches_consumed = 0;
  int64_t position = -1;        // offset of the next record to deliver (-1: none yet)
  int64_t high_watermark = -1;  // as last seen by the consumer (-1: unknown)
  int64_t lag = -1;             // high_watermark - position, when both are known
  uint64_t errors = 0;          // consumer errors for this partition
  int64_t last_committed = -1;  // last offset the broker confirmed for our commits
  uint64_t commit_failures = 0;
  bool paused = false;          // held back because the sink refused a batch
  uint64_t pauses = 0;          // times it was paused so
};

struct ConsumerOptions {
  // Records per batch at most (per partition per offer).
  size_t max_batch_records = 1000;
  // How long the poll thread waits when no record is queued locally. A
  // record that arrives meanwhile ends the wait at once; so do commands and
  // stop(). The timeout bounds how late it refreshes watermarks and sees
  // caught-up partitions while idle.
  std::chrono::milliseconds poll_timeout{5};
  // Once a record arrives after such a wait, how long the poll thread waits
  // for more before it hands them over (unless max_batch_records come
  // first): each consumer hop adds up to this much latency, and a busy
  // stream reaches the tasks in fewer, larger batches (0: hand over at once).
  std::chrono::milliseconds batch_wait{2};
  // How often a refused batch is offered again.
  std::chrono::milliseconds retry_offer_interval{2};
  // Bound on resolving kCommitted start positions in assign().
  std::chrono::milliseconds request_timeout{10000};
  // Called on the poll thread for every consumer error (offset out of range,
  // unknown partition, broker trouble, commit failures). Data loss (offset out
  // of range) arrives as ErrorKind::Fatal with topic, partition and offset.
  std::function<void(const Error&)> on_error;
  // The poll thread's name, as `top -H` and perf show it (15 characters at
  // most; docs/operations.md, "Threads").
  std::string thread_name = "rivulet.poll";
};

class KafkaConsumer {
 public:
  // `config` holds librdkafka properties on top of consumer_defaults();
  // bootstrap.servers and group.id (used for offset commits only) are required.
  static Expected<std::unique_ptr<KafkaConsumer>> create(const KafkaProperties& config,
                                                         ConsumerOptions options = {});
  ~KafkaConsumer();
  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;

  // Replaces the assignment (not from within BatchSink::offer). kCommitted
  // and kCommittedElseEnd positions are resolved here (bounded broker round
  // trips; an end found for kCommittedElseEnd is committed before this
  // returns, and an error when either fails). Records of
  // partitions that were reassigned and not yet accepted by the sink are
  // dropped: the new position decides.
  Expected<bool> assign(std::vector<StartPosition> positions);
  // Adds partitions to the assignment without touching the others (their
  // fetch positions and buffered records stay): librdkafka's incremental
  // assign. Positions are resolved as in assign(). A partition
  // already assigned is an error.
  Expected<bool> add_partitions(std::vector<StartPosition> positions);
  // Removes partitions from the assignment without touching the others.
  // When this returns, the sink is offered nothing more of them; records
  // fetched and not yet accepted are dropped (their next owner decides where
  // to continue). Partitions not assigned are ignored.
  Expected<bool> remove_partitions(const std::vector<TopicPartition>& tps);

  // Starts the poll thread; batches go to `sink`, which must outlive stop().
  void start(BatchSink* sink);
  // Joins the poll thread; idempotent; also done by the destructor.
  void stop();

  // Commits `next_offsets` (the offset of the next record to read, Kafka's
  // convention) asynchronously; results show in stats() and failures go to
  // on_error.
  void commit(const std::vector<std::pair<TopicPartition, Offset>>& next_offsets);
  // Commits and waits for the broker's answer (bounded by librdkafka's
  // socket.timeout.ms); an error when the broker refused any of them.
  Expected<bool> commit_sync(const std::vector<std::pair<TopicPartition, Offset>>& next_offsets);
  // The group's committed offsets; partitions without one are left out.
  Expected<std::map<TopicPartition, Offset>> committed(const std::vector<TopicPartition>& tps,
                                                       std::chrono::milliseconds timeout);
  // The offset after each partition's last record now (its high watermark).
  Expected<std::map<TopicPartition, Offset>> end_offsets(const std::vector<TopicPartition>& tps,
                                                         std::chrono::milliseconds timeout);

  PartitionStats stats(const TopicPartition& tp) const;
  std::vector<PartitionStats> all_stats() const;
  uint64_t total_errors() const { return total_errors_.load(); }
  // Requests and bytes from librdkafka's statistics, as of the last report
  // (every statistics.interval.ms, 5 s unless set; only while started: the
  // poll thread serves the reports).
  KafkaClientStats client_stats() const { return client_stats_.get(); }

 private:
  struct PartitionState;
  KafkaConsumer(rd_kafka_t* rk, ConsumerOptions options);

  // Runs `fn` on the poll thread (or here when it is not running) and waits.
  void run_on_poll_thread(std::function<void()> fn);
  void poll_loop();
  void poll_once();
  bool commands_waiting();
  void drain_commands();
  // `next`, `end`: the messages of this poll after `msg`; a new batch
  // reserves room for the run of them from the same partition at once
  // instead of growing record by record.
  void handle_message(rd_kafka_message_t* msg, rd_kafka_message_t* const* next,
                      rd_kafka_message_t* const* end);
  void deliver(const TopicPartition& tp, PartitionState& state);
  void set_paused(const TopicPartition& tp, PartitionState& state, bool paused);
  void refresh_watermarks();
  void signal_caught_up();
  void report_error(Error error, const TopicPartition* tp);
  Expected<bool> apply_assignment(const std::vector<StartPosition>& positions);
  Expected<bool> resolve_positions(std::vector<StartPosition>& positions);
  void warm_metadata(const std::vector<StartPosition>& positions);
  // kBeginning and kEnd to the offsets they stand for now
  // (resolve_logical_offsets): fetching starts at once, without the
  // consumer's own offset query.
  void resolve_logical(std::vector<StartPosition>& positions);
  Expected<bool> apply_added(const std::vector<StartPosition>& positions);
  Expected<bool> apply_removed(const std::vector<TopicPartition>& tps);
  void record_commit_results(rd_kafka_resp_err_t err,
                             const rd_kafka_topic_partition_list_t* offsets,
                             std::vector<Error>* failures);
  static void commit_callback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t* offsets, void* opaque);
  static void error_callback(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static int stats_callback(rd_kafka_t* rk, char* json, size_t len, void* opaque);

  rd_kafka_t* rk_;
  ClientStatsSink client_stats_;
  // Topics whose metadata this client asked for before assigning them
  // (warm_metadata), under metadata_mutex_.
  std::mutex metadata_mutex_;
  std::set<std::string> metadata_known_;
  rd_kafka_queue_t* queue_;  // the consumer queue
  ConsumerOptions options_;
  BatchSink* sink_ = nullptr;  // set by start(), used on the poll thread

  // Poll-thread state (also touched by run_on_poll_thread's callers while the
  // thread is not running).
  std::map<TopicPartition, std::unique_ptr<PartitionState>> partitions_;
  // The partition of the last record handled: records come in runs of one
  // partition, and a hit saves building the topic's name and a map lookup
  // per record. Cleared whenever partitions_ loses an entry.
  struct LastPartition {
    const rd_kafka_topic_t* rkt = nullptr;
    int32_t partition = -1;
    const TopicPartition* tp = nullptr;
    PartitionState* state = nullptr;
  } last_partition_;
  std::vector<rd_kafka_message_t*> message_buffer_;
  std::chrono::steady_clock::time_point next_watermark_refresh_{};

  // Statistics, read by any thread.
  mutable std::mutex stats_mutex_;
  std::map<TopicPartition, PartitionStats> stats_;
  std::atomic<uint64_t> total_errors_{0};

  // Commands for the poll thread.
  std::mutex command_mutex_;
  std::deque<std::function<void()>> commands_;

  std::atomic<bool> running_{false};
  std::atomic<bool> stop_requested_{false};
  std::thread poll_thread_;
  std::mutex lifecycle_mutex_;  // start/stop
};

}  // namespace rivulet::connectors
