#include "connectors/kafka_consumer.hpp"

#include <algorithm>
#include <future>
#include <set>

#include "connectors/kafka_log.hpp"
#include "runtime/thread_name.hpp"

namespace rivulet::connectors {

namespace {

using Clock = std::chrono::steady_clock;

TopicPartitionListPtr to_list(const std::vector<std::pair<TopicPartition, Offset>>& offsets) {
  TopicPartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const auto& [tp, offset] : offsets) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition.value())->offset =
        offset.value();
  }
  return list;
}

bool is_data_loss(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE ||
         err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET;
}

}  // namespace

// Poll-thread state of one assigned partition.
struct KafkaConsumer::PartitionState {
  // Batches received from librdkafka and not yet accepted by the sink, oldest
  // first. Non-empty only while the partition is paused (or within one
  // poll iteration).
  std::deque<RawBatch> pending;
  // Offset after the last record received; records below it are duplicates
  // (never expected, but a duplicate must not reach a task twice).
  int64_t next_offset = -1;
  bool paused = false;
  Clock::time_point next_offer{};
  // The high watermark at which a caught-up signal (an empty batch) was last
  // offered, so that each is offered once.
  int64_t caught_up_signaled = -1;
};

Expected<std::unique_ptr<KafkaConsumer>> KafkaConsumer::create(const KafkaProperties& config,
                                                               ConsumerOptions options) {
  for (const char* required : {"bootstrap.servers", "group.id"}) {
    if (property_or(config, required, "").empty()) {
      return Error::fatal(std::string("kafka consumer: missing property '") + required + "'");
    }
  }
  if (options.max_batch_records == 0) {
    return Error::fatal("kafka consumer: max_batch_records must be at least 1");
  }
  auto props = merge_properties(consumer_defaults(), config);
  props.emplace("statistics.interval.ms", kClientStatsIntervalMs);
  auto conf = make_conf(props);
  if (!conf) return conf.error();
  rd_kafka_conf_set_offset_commit_cb(conf->get(), &KafkaConsumer::commit_callback);
  rd_kafka_conf_set_error_cb(conf->get(), &KafkaConsumer::error_callback);
  rd_kafka_conf_set_stats_cb(conf->get(), &KafkaConsumer::stats_callback);
  // The opaque is set before rd_kafka_new, so allocate the object first.
  std::unique_ptr<KafkaConsumer> consumer(new KafkaConsumer(nullptr, std::move(options)));
  rd_kafka_conf_set_opaque(conf->get(), consumer.get());
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), errstr, sizeof errstr);
  if (rk == nullptr) return Error::fatal(std::string("kafka consumer: ") + errstr);
  conf->release();
  consumer->rk_ = rk;
  // Logs, errors and commit results are served by the poll thread's queue.
  rd_kafka_poll_set_consumer(rk);
  consumer->queue_ = rd_kafka_queue_get_consumer(rk);
  return consumer;
}

KafkaConsumer::KafkaConsumer(rd_kafka_t* rk, ConsumerOptions options)
    : rk_(rk), queue_(nullptr), options_(std::move(options)) {
  message_buffer_.resize(options_.max_batch_records);
}

KafkaConsumer::~KafkaConsumer() {
  stop();
  if (rk_ == nullptr) return;
  if (queue_ != nullptr) rd_kafka_queue_destroy(queue_);
  rd_kafka_consumer_close(rk_);
  rd_kafka_destroy(rk_);
}

void KafkaConsumer::start(BatchSink* sink) {
  std::lock_guard<std::mutex> lock(lifecycle_mutex_);
  if (running_.load() || sink == nullptr) return;
  sink_ = sink;
  stop_requested_ = false;
  running_ = true;
  poll_thread_ = std::thread([this] {
    set_thread_name(options_.thread_name);
    poll_loop();
  });
}

void KafkaConsumer::stop() {
  std::lock_guard<std::mutex> lock(lifecycle_mutex_);
  if (!running_.load()) return;
  stop_requested_ = true;
  rd_kafka_queue_yield(queue_);  // out of a wait for records now
  poll_thread_.join();
  running_ = false;
}

void KafkaConsumer::run_on_poll_thread(std::function<void()> fn) {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mutex_);
  if (!running_.load()) {
    fn();
    return;
  }
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  {
    std::lock_guard<std::mutex> lock(command_mutex_);
    commands_.emplace_back([fn = std::move(fn), done] {
      fn();
      done->set_value();
    });
  }
  // The poll thread drains commands before each wait for records (the yield
  // ends a wait in progress) and before it exits; stop() cannot run
  // meanwhile (lifecycle_mutex_ is held).
  rd_kafka_queue_yield(queue_);
  finished.wait();
}

bool KafkaConsumer::commands_waiting() {
  std::lock_guard<std::mutex> lock(command_mutex_);
  return !commands_.empty();
}

void KafkaConsumer::drain_commands() {
  std::deque<std::function<void()>> commands;
  {
    std::lock_guard<std::mutex> lock(command_mutex_);
    commands.swap(commands_);
  }
  for (auto& command : commands) command();
}

void KafkaConsumer::warm_metadata(const std::vector<StartPosition>& positions) {
  // Leaders of topics new to this client are otherwise learnt from the
  // periodic refresh: up to a second before the first fetch of every
  // start, hand-over and failover (kafka_config.hpp).
  std::lock_guard<std::mutex> lock(metadata_mutex_);
  std::set<std::string> topics;
  for (const auto& pos : positions) {
    if (!metadata_known_.count(pos.tp.topic)) topics.insert(pos.tp.topic);
  }
  if (topics.empty()) return;
  for (auto& topic : request_topic_metadata(
           rk_, std::vector<std::string>(topics.begin(), topics.end()), options_.request_timeout)) {
    metadata_known_.insert(std::move(topic));
  }
}

Expected<bool> KafkaConsumer::resolve_positions(std::vector<StartPosition>& positions) {
  if (std::this_thread::get_id() == poll_thread_.get_id()) {
    // The poll loop is iterating over the assignment right now.
    return Error::fatal("kafka consumer: assign() called from BatchSink::offer");
  }
  std::set<TopicPartition> seen;
  std::vector<TopicPartition> to_resolve;
  for (const auto& pos : positions) {
    if (!seen.insert(pos.tp).second) {
      return Error::fatal("kafka consumer: partition " + pos.tp.to_string() +
                          " assigned twice");
    }
    if (pos.tp.partition.value() < 0) {
      return Error::fatal("kafka consumer: invalid partition " + pos.tp.to_string());
    }
    if (pos.offset == StartPosition::kCommitted || pos.offset == StartPosition::kCommittedElseEnd) {
      to_resolve.push_back(pos.tp);
    } else if (pos.offset < 0 && pos.offset != StartPosition::kBeginning &&
               pos.offset != StartPosition::kEnd) {
      return Error::fatal("kafka consumer: invalid start offset " + std::to_string(pos.offset) +
                          " for " + pos.tp.to_string());
    }
  }
  warm_metadata(positions);
  if (!to_resolve.empty()) {
    auto committed_offsets = committed(to_resolve, options_.request_timeout);
    if (!committed_offsets) return committed_offsets.error();
    std::vector<TopicPartition> at_end;
    for (auto& pos : positions) {
      const bool else_end = pos.offset == StartPosition::kCommittedElseEnd;
      if (pos.offset != StartPosition::kCommitted && !else_end) continue;
      auto it = committed_offsets->find(pos.tp);
      if (it != committed_offsets->end()) {
        pos.offset = it->second.value();
      } else if (else_end) {
        at_end.push_back(pos.tp);
      } else {
        pos.offset = StartPosition::kBeginning;
      }
    }
    if (!at_end.empty()) {
      auto ends = end_offsets(at_end, options_.request_timeout);
      if (!ends) return ends.error();
      auto stored =
          commit_sync(std::vector<std::pair<TopicPartition, Offset>>(ends->begin(), ends->end()));
      if (!stored) {
        Error e = stored.error();
        e.message = "committing the end offsets a start at 'latest' found: " + e.message;
        return e;
      }
      for (auto& pos : positions)
        if (pos.offset == StartPosition::kCommittedElseEnd) pos.offset = ends->at(pos.tp).value();
    }
  }
  resolve_logical(positions);
  return true;
}

Expected<std::map<TopicPartition, Offset>> KafkaConsumer::end_offsets(
    const std::vector<TopicPartition>& tps, std::chrono::milliseconds timeout) {
  std::map<TopicPartition, Offset> result;
  TopicPartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(tps.size())));
  for (const auto& tp : tps)
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition.value())->offset =
        RD_KAFKA_OFFSET_END;  // as a ListOffsets timestamp: "latest"
  const int timeout_ms = static_cast<int>(std::max<int64_t>(1, timeout.count()));
  const rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk_, list.get(), timeout_ms);
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = list->elems[i];
    const rd_kafka_resp_err_t e = err != RD_KAFKA_RESP_ERR_NO_ERROR ? err : p.err;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR || p.offset < 0) {
      Error out = is_retriable(e) ? Error::retriable("") : Error::fatal("");
      out.message = "reading the end offset failed: " +
                    (e != RD_KAFKA_RESP_ERR_NO_ERROR ? kafka_error_text(e) : "no offset returned");
      out.context.operation = "end offsets";
      out.context.topic = p.topic;
      out.context.partition = p.partition;
      return out;
    }
    result[TopicPartition{p.topic, PartitionId(p.partition)}] = Offset(p.offset);
  }
  return result;
}

void KafkaConsumer::resolve_logical(std::vector<StartPosition>& positions) {
  // librdkafka takes our start positions as they are (apply_assignment).
  static_assert(StartPosition::kBeginning == RD_KAFKA_OFFSET_BEGINNING &&
                StartPosition::kEnd == RD_KAFKA_OFFSET_END);
  TopicPartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(positions.size())));
  for (const auto& pos : positions) {
    rd_kafka_topic_partition_list_add(list.get(), pos.tp.topic.c_str(), pos.tp.partition.value())
        ->offset = pos.offset;
  }
  // At most a second: the lookup saves half of one, and what it does not
  // resolve in time (a leader down) librdkafka still resolves itself.
  const auto timeout = std::min<std::chrono::milliseconds>(options_.request_timeout,
                                                           std::chrono::seconds(1));
  if (resolve_logical_offsets(rk_, list.get(), timeout) == 0) return;
  for (size_t i = 0; i < positions.size(); ++i) positions[i].offset = list->elems[i].offset;
}

Expected<bool> KafkaConsumer::assign(std::vector<StartPosition> positions) {
  auto resolved = resolve_positions(positions);
  if (!resolved) return resolved.error();
  Expected<bool> result = true;
  run_on_poll_thread([&] { result = apply_assignment(positions); });
  return result;
}

Expected<bool> KafkaConsumer::add_partitions(std::vector<StartPosition> positions) {
  if (positions.empty()) return true;
  auto resolved = resolve_positions(positions);
  if (!resolved) return resolved.error();
  Expected<bool> result = true;
  run_on_poll_thread([&] { result = apply_added(positions); });
  return result;
}

Expected<bool> KafkaConsumer::remove_partitions(const std::vector<TopicPartition>& tps) {
  if (std::this_thread::get_id() == poll_thread_.get_id()) {
    return Error::fatal("kafka consumer: remove_partitions() called from BatchSink::offer");
  }
  if (tps.empty()) return true;
  Expected<bool> result = true;
  run_on_poll_thread([&] { result = apply_removed(tps); });
  return result;
}

Expected<bool> KafkaConsumer::apply_added(const std::vector<StartPosition>& positions) {
  for (const auto& pos : positions) {
    if (partitions_.count(pos.tp)) {
      return Error::fatal("kafka consumer: partition " + pos.tp.to_string() +
                          " is already assigned");
    }
  }
  TopicPartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(positions.size())));
  for (const auto& pos : positions) {
    rd_kafka_topic_partition_list_add(list.get(), pos.tp.topic.c_str(), pos.tp.partition.value())
        ->offset = pos.offset;
  }
  if (rd_kafka_error_t* error = rd_kafka_incremental_assign(rk_, list.get())) {
    std::string text = rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    return Error::fatal("kafka consumer: adding partitions failed: " + text);
  }
  std::lock_guard<std::mutex> lock(stats_mutex_);
  for (const auto& pos : positions) {
    auto state = std::make_unique<PartitionState>();
    if (pos.offset >= 0) state->next_offset = pos.offset;
    partitions_.emplace(pos.tp, std::move(state));
    PartitionStats s;
    s.tp = pos.tp;
    s.position = pos.offset >= 0 ? pos.offset : -1;
    stats_[pos.tp] = s;
  }
  return true;
}

Expected<bool> KafkaConsumer::apply_removed(const std::vector<TopicPartition>& tps) {
  TopicPartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(tps.size())));
  TopicPartitionListPtr paused(rd_kafka_topic_partition_list_new(0));
  for (const auto& tp : tps) {
    auto it = partitions_.find(tp);
    if (it == partitions_.end()) continue;
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition.value());
    // An application pause outlives the assignment in librdkafka.
    if (it->second->paused) {
      rd_kafka_topic_partition_list_add(paused.get(), tp.topic.c_str(), tp.partition.value());
    }
  }
  if (list->cnt == 0) return true;
  if (paused->cnt > 0) rd_kafka_resume_partitions(rk_, paused.get());
  if (rd_kafka_error_t* error = rd_kafka_incremental_unassign(rk_, list.get())) {
    std::string text = rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    return Error::fatal("kafka consumer: removing partitions failed: " + text);
  }
  std::lock_guard<std::mutex> lock(stats_mutex_);
  last_partition_ = {};
  for (const auto& tp : tps) {
    partitions_.erase(tp);
    stats_.erase(tp);
  }
  return true;
}

Expected<bool> KafkaConsumer::apply_assignment(const std::vector<StartPosition>& positions) {
  // An application pause outlives a reassignment in librdkafka: lift ours
  // first so that every newly assigned partition fetches.
  TopicPartitionListPtr paused(rd_kafka_topic_partition_list_new(0));
  for (auto& [tp, state] : partitions_) {
    if (state->paused) {
      rd_kafka_topic_partition_list_add(paused.get(), tp.topic.c_str(), tp.partition.value());
    }
  }
  if (paused->cnt > 0) rd_kafka_resume_partitions(rk_, paused.get());

  TopicPartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(positions.size())));
  for (const auto& pos : positions) {
    rd_kafka_topic_partition_list_add(list.get(), pos.tp.topic.c_str(), pos.tp.partition.value())
        ->offset = pos.offset;
  }
  const rd_kafka_resp_err_t err = rd_kafka_assign(rk_, list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Error::fatal("kafka consumer: assign failed: " + kafka_error_text(err));
  }
  // Records received under the old assignment are not delivered: the new
  // start positions decide where each partition continues.
  partitions_.clear();
  last_partition_ = {};
  std::lock_guard<std::mutex> lock(stats_mutex_);
  std::map<TopicPartition, PartitionStats> stats;
  for (const auto& pos : positions) {
    auto state = std::make_unique<PartitionState>();
    if (pos.offset >= 0) state->next_offset = pos.offset;
    partitions_.emplace(pos.tp, std::move(state));
    PartitionStats s;
    if (auto it = stats_.find(pos.tp); it != stats_.end()) s = it->second;
    s.tp = pos.tp;
    s.position = pos.offset >= 0 ? pos.offset : -1;
    s.paused = false;
    s.lag = (s.position >= 0 && s.high_watermark >= 0) ? s.high_watermark - s.position : -1;
    stats.emplace(pos.tp, s);
  }
  stats_.swap(stats);
  return true;
}

void KafkaConsumer::poll_loop() {
  while (!stop_requested_.load()) poll_once();
  drain_commands();
}

void KafkaConsumer::poll_once() {
  drain_commands();
  auto timeout = options_.poll_timeout;
  for (const auto& [tp, state] : partitions_) {
    if (!state->pending.empty()) {
      timeout = std::min(timeout, options_.retry_offer_interval);
      break;
    }
  }
  // rd_kafka_consume_batch_queue waits until the buffer is full or the
  // timeout expires (PLATFORM.md): take what is already there without
  // waiting. When nothing is, wait for one record only, which returns as
  // soon as it arrives, then up to batch_wait for more to fill the batch:
  // a lone record no longer waits out the whole poll timeout on every
  // consumer hop, while a busy stream still goes to the tasks in batches
  // (docs/benchmarks.md, "A consumer hop's wait").
  ssize_t n = rd_kafka_consume_batch_queue(queue_, 0, message_buffer_.data(),
                                           message_buffer_.size());
  // That call clears a yield it finds, so a command or stop() that yielded
  // since drain_commands() is looked for here; one after this look yields
  // the wait below.
  if (n == 0 && !stop_requested_.load() && !commands_waiting()) {
    const int timeout_ms = std::max<int>(1, static_cast<int>(timeout.count()));
    if (rd_kafka_message_t* first = rd_kafka_consumer_poll(rk_, timeout_ms)) {
      message_buffer_[0] = first;
      const int batch_wait_ms =
          static_cast<int>(std::min(options_.batch_wait, timeout).count());
      const ssize_t more = rd_kafka_consume_batch_queue(
          queue_, batch_wait_ms, message_buffer_.data() + 1, message_buffer_.size() - 1);
      n = more < 0 ? 1 : 1 + more;  // -1: nothing more taken this time
    }
  }
  if (n < 0) {
    report_error(Error::retriable("consume failed: " + kafka_error_text(rd_kafka_last_error())),
                 nullptr);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return;
  }
  for (ssize_t i = 0; i < n; ++i) {
    handle_message(message_buffer_[i], message_buffer_.data() + i + 1, message_buffer_.data() + n);
    rd_kafka_message_destroy(message_buffer_[i]);
  }
  const auto now = Clock::now();
  for (auto& [tp, state] : partitions_) {
    if (state->pending.empty()) continue;
    if (state->paused && now < state->next_offer) continue;
    deliver(tp, *state);
  }
  if (now >= next_watermark_refresh_) {
    refresh_watermarks();
    next_watermark_refresh_ = now + std::chrono::milliseconds(100);
  }
}

void KafkaConsumer::handle_message(rd_kafka_message_t* msg, rd_kafka_message_t* const* next,
                                   rd_kafka_message_t* const* end) {
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
    TopicPartition tp;
    if (msg->rkt != nullptr) {
      tp = TopicPartition{rd_kafka_topic_name(msg->rkt), PartitionId(msg->partition)};
    }
    const bool has_tp = msg->rkt != nullptr;
    Error e = is_data_loss(msg->err) || msg->err == RD_KAFKA_RESP_ERR__FATAL
                  ? Error::fatal("")
                  : Error::retriable("");
    e.message = std::string(is_data_loss(msg->err) ? "records lost: " : "consumer error: ") +
                rd_kafka_err2name(msg->err) + ": " + rd_kafka_message_errstr(msg);
    e.context.operation = "consume";
    if (has_tp) {
      e.context.topic = tp.topic;
      e.context.partition = tp.partition.value();
      e.context.offset = msg->offset;
    }
    report_error(std::move(e), has_tp ? &tp : nullptr);
    return;
  }
  if (msg->rkt == nullptr) return;
  if (last_partition_.rkt != msg->rkt || last_partition_.partition != msg->partition) {
    auto it = partitions_.find(
        TopicPartition{rd_kafka_topic_name(msg->rkt), PartitionId(msg->partition)});
    if (it == partitions_.end()) return;  // from a partition no longer assigned
    last_partition_ = LastPartition{msg->rkt, msg->partition, &it->first, it->second.get()};
  }
  const TopicPartition& tp = *last_partition_.tp;
  PartitionState& state = *last_partition_.state;
  if (state.next_offset >= 0 && msg->offset < state.next_offset) {
    kafka_log().warn("kafka consumer: dropped duplicate {}@{} (expected >= {})", tp.to_string(),
                     msg->offset, state.next_offset);
    return;
  }
  state.next_offset = msg->offset + 1;

  if (state.pending.empty() || state.pending.back().records.size() >= options_.max_batch_records) {
    RawBatch batch;
    batch.tp = tp;
    // The run of this partition's messages in this poll: the batch's
    // records, and the bytes its arena holds for them in one chunk.
    size_t run = 1;
    size_t bytes = msg->key_len + msg->len;
    for (auto m = next; m != end && run < options_.max_batch_records; ++m, ++run) {
      if ((*m)->err != RD_KAFKA_RESP_ERR_NO_ERROR || (*m)->rkt != msg->rkt ||
          (*m)->partition != msg->partition)
        break;
      bytes += (*m)->key_len + (*m)->len;
    }
    batch.records.reserve(run);
    batch.arena = std::make_shared<ByteArena>();
    batch.arena->reserve(bytes);
    state.pending.push_back(std::move(batch));
  }
  RawBatch& batch = state.pending.back();
  RawRecord& record = batch.records.emplace_back();
  record.offset = msg->offset;
  rd_kafka_timestamp_type_t ts_type;
  const int64_t ts = rd_kafka_message_timestamp(msg, &ts_type);
  record.timestamp = ts_type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? 0 : ts;
  // Copied into the batch's arena: the message is destroyed after this call.
  if (msg->key != nullptr) record.key = RawBytes::borrow(batch.arena->copy(msg->key, msg->key_len));
  if (msg->payload != nullptr) {
    record.value = RawBytes::borrow(batch.arena->copy(msg->payload, msg->len));
  }
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(msg, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR && headers != nullptr) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                       RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      Header h;
      h.name = name;
      if (value != nullptr) h.value.emplace(static_cast<const char*>(value), size);
      record.headers.push_back(std::move(h));
    }
  }
}

void KafkaConsumer::deliver(const TopicPartition& tp, PartitionState& state) {
  int64_t low = -1;
  int64_t high = -1;
  rd_kafka_get_watermark_offsets(rk_, tp.topic.c_str(), tp.partition.value(), &low, &high);
  if (high < 0) high = -1;
  while (!state.pending.empty()) {
    RawBatch& batch = state.pending.front();
    batch.high_watermark = high;
    const size_t count = batch.records.size();
    const int64_t next = batch.records.back().offset + 1;
    if (!sink_->offer(std::move(batch))) {
      state.next_offer = Clock::now() + options_.retry_offer_interval;
      if (!state.paused) set_paused(tp, state, true);
      return;
    }
    state.pending.pop_front();
    std::lock_guard<std::mutex> lock(stats_mutex_);
    PartitionStats& s = stats_[tp];
    s.records_consumed += count;
    s.batches_consumed += 1;
    s.position = next;
    s.high_watermark = std::max(high, s.high_watermark);
    s.lag = s.high_watermark >= 0 ? std::max<int64_t>(0, s.high_watermark - s.position) : -1;
  }
  if (state.paused) set_paused(tp, state, false);
}

void KafkaConsumer::set_paused(const TopicPartition& tp, PartitionState& state, bool paused) {
  TopicPartitionListPtr list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition.value());
  const rd_kafka_resp_err_t err = paused ? rd_kafka_pause_partitions(rk_, list.get())
                                         : rd_kafka_resume_partitions(rk_, list.get());
  const rd_kafka_resp_err_t part_err = list->elems[0].err;
  const bool done = err == RD_KAFKA_RESP_ERR_NO_ERROR && part_err == RD_KAFKA_RESP_ERR_NO_ERROR;
  if (!done) {
    // The batch stays pending either way; only the prefetch bound is at stake.
    report_error(std::move(Error::retriable(std::string(paused ? "pause" : "resume") +
                                            " failed: " +
                                            kafka_error_text(err ? err : part_err)))
                     .at(tp.topic, tp.partition.value(), -1),
                 &tp);
  }
  if (done && !paused && state.next_offset >= 0) {
    // librdkafka 2.0's resume only clears the partition's pause flag: its
    // broker thread, asleep for up to a second once every partition it
    // fetches for us was paused, fetches it again at its next wakeup. An
    // absolute seek wakes it at once, and restarts the fetch where this
    // consumer stands (not at librdkafka's own position of the last message
    // handed out, which its batch consume could misplace around a pause
    // before 2.1.0).
    list->elems[0].offset = state.next_offset;
    if (rd_kafka_error_t* error = rd_kafka_seek_partitions(rk_, list.get(), 0)) {
      report_error(std::move(Error::retriable(std::string("seek after resume failed: ") +
                                              rd_kafka_error_string(error)))
                       .at(tp.topic, tp.partition.value(), state.next_offset),
                   &tp);
      rd_kafka_error_destroy(error);
    }
  }
  state.paused = paused;
  std::lock_guard<std::mutex> lock(stats_mutex_);
  stats_[tp].paused = paused;
  if (paused) ++stats_[tp].pauses;
}

void KafkaConsumer::refresh_watermarks() {
  signal_caught_up();
  std::lock_guard<std::mutex> lock(stats_mutex_);
  for (auto& [tp, s] : stats_) {
    int64_t low = -1;
    int64_t high = -1;
    if (rd_kafka_get_watermark_offsets(rk_, tp.topic.c_str(), tp.partition.value(), &low,
                                       &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0) {
      continue;
    }
    s.high_watermark = high;
    if (s.position >= 0) s.lag = std::max<int64_t>(0, high - s.position);
  }
}

// Offers an empty batch for every partition whose consumer position has
// reached the high watermark, once per watermark: it tells a task that this
// input has nothing more for now (as opposed to "not fetched yet"), which a
// task needs to order its inputs by time without waiting forever on an
// empty partition.
void KafkaConsumer::signal_caught_up() {
  if (sink_ == nullptr) return;
  for (auto& [tp, state] : partitions_) {
    if (!state->pending.empty()) continue;
    int64_t low = -1, high = -1;
    if (rd_kafka_get_watermark_offsets(rk_, tp.topic.c_str(), tp.partition.value(), &low,
                                       &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0 || high == state->caught_up_signaled) {
      continue;
    }
    int64_t position = state->next_offset;
    if (position < high) {
      // librdkafka's position also steps over transaction markers, which are
      // never delivered: a partition whose log ends in a commit marker (a
      // transactional producer wrote it) is caught up at the marker + 1,
      // not at the last record delivered + 1.
      TopicPartitionListPtr list(rd_kafka_topic_partition_list_new(1));
      rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition.value());
      if (rd_kafka_position(rk_, list.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      position = std::max(position, list->elems[0].offset);
      // Nothing read yet and the partition holds nothing from where we start.
      if (position < 0 && high == low) position = high;
    }
    if (position < 0 || position < high) continue;
    RawBatch signal;
    signal.tp = tp;
    signal.high_watermark = high;
    if (sink_->offer(std::move(signal))) state->caught_up_signaled = high;
  }
}

void KafkaConsumer::report_error(Error error, const TopicPartition* tp) {
  ++total_errors_;
  if (tp != nullptr) {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    if (auto it = stats_.find(*tp); it != stats_.end()) ++it->second.errors;
  }
  if (error.kind == ErrorKind::Fatal) {
    kafka_log().error("kafka consumer: {}", error.to_string());
  } else {
    kafka_log().warn("kafka consumer: {}", error.to_string());
  }
  if (options_.on_error) options_.on_error(error);
}

int KafkaConsumer::stats_callback(rd_kafka_t* /*rk*/, char* json, size_t len, void* opaque) {
  static_cast<KafkaConsumer*>(opaque)->client_stats_.take(std::string_view(json, len));
  return 0;  // librdkafka frees `json`
}

void KafkaConsumer::error_callback(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaConsumer*>(opaque);
  Error e = Error::retriable(std::string(rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))) +
                             ": " + reason);
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char fatal_reason[512];
    const rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk, fatal_reason, sizeof fatal_reason);
    e = Error::fatal(std::string("fatal consumer error: ") + rd_kafka_err2name(fatal) + ": " +
                     fatal_reason);
  }
  e.context.operation = "consume";
  self->report_error(std::move(e), nullptr);
}

void KafkaConsumer::record_commit_results(rd_kafka_resp_err_t err,
                                          const rd_kafka_topic_partition_list_t* offsets,
                                          std::vector<Error>* failures) {
  if (offsets == nullptr) {
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
      Error e = Error::retriable("commit failed: " + kafka_error_text(err));
      e.context.operation = "commit";
      failures->push_back(std::move(e));
    }
    return;
  }
  std::lock_guard<std::mutex> lock(stats_mutex_);
  for (int i = 0; i < offsets->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = offsets->elems[i];
    const rd_kafka_resp_err_t perr = p.err != RD_KAFKA_RESP_ERR_NO_ERROR ? p.err : err;
    TopicPartition tp{p.topic, PartitionId(p.partition)};
    auto it = stats_.find(tp);
    if (perr == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (it != stats_.end()) it->second.last_committed = std::max(it->second.last_committed, p.offset);
      continue;
    }
    if (it != stats_.end()) ++it->second.commit_failures;
    Error e = Error::retriable("commit of offset " + std::to_string(p.offset) + " failed: " +
                               kafka_error_text(perr));
    e.context.operation = "commit";
    e.context.topic = tp.topic;
    e.context.partition = p.partition;
    e.context.offset = p.offset;
    failures->push_back(std::move(e));
  }
}

void KafkaConsumer::commit_callback(rd_kafka_t*, rd_kafka_resp_err_t err,
                                    rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  auto* self = static_cast<KafkaConsumer*>(opaque);
  std::vector<Error> failures;
  self->record_commit_results(err, offsets, &failures);
  for (auto& e : failures) {
    const TopicPartition tp{e.context.topic, PartitionId(e.context.partition)};
    const TopicPartition* where = tp.topic.empty() ? nullptr : &tp;
    self->report_error(std::move(e), where);
  }
}

void KafkaConsumer::commit(const std::vector<std::pair<TopicPartition, Offset>>& next_offsets) {
  if (next_offsets.empty()) return;
  auto list = to_list(next_offsets);
  const rd_kafka_resp_err_t err = rd_kafka_commit(rk_, list.get(), /*async=*/1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Error e = Error::retriable("commit not sent: " + kafka_error_text(err));
    e.context.operation = "commit";
    ++total_errors_;
    kafka_log().warn("kafka consumer: {}", e.to_string());
    if (options_.on_error) options_.on_error(e);
  }
}

Expected<bool> KafkaConsumer::commit_sync(
    const std::vector<std::pair<TopicPartition, Offset>>& next_offsets) {
  if (next_offsets.empty()) return true;
  auto list = to_list(next_offsets);
  std::vector<Error> failures;
  struct Context {
    KafkaConsumer* self;
    std::vector<Error>* failures;
  } context{this, &failures};
  // With no queue given, librdkafka serves the callback within this call.
  const rd_kafka_resp_err_t err = rd_kafka_commit_queue(
      rk_, list.get(), nullptr,
      [](rd_kafka_t*, rd_kafka_resp_err_t cb_err, rd_kafka_topic_partition_list_t* offsets,
         void* opaque) {
        auto* ctx = static_cast<Context*>(opaque);
        ctx->self->record_commit_results(cb_err, offsets, ctx->failures);
      },
      &context);
  if (!failures.empty()) return failures.front();
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Error e = Error::retriable("commit failed: " + kafka_error_text(err));
    e.context.operation = "commit";
    return e;
  }
  return true;
}

Expected<std::map<TopicPartition, Offset>> KafkaConsumer::committed(
    const std::vector<TopicPartition>& tps, std::chrono::milliseconds timeout) {
  std::map<TopicPartition, Offset> result;
  if (tps.empty()) return result;
  TopicPartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(tps.size())));
  for (const auto& tp : tps) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition.value());
  }
  const rd_kafka_resp_err_t err =
      rd_kafka_committed(rk_, list.get(), static_cast<int>(timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Error e = is_retriable(err) ? Error::retriable("") : Error::fatal("");
    e.message = "reading committed offsets failed: " + kafka_error_text(err);
    e.context.operation = "committed";
    return e;
  }
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = list->elems[i];
    if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Error e = Error::retriable("reading committed offset failed: " + kafka_error_text(p.err));
      e.context.operation = "committed";
      e.context.topic = p.topic;
      e.context.partition = p.partition;
      return e;
    }
    if (p.offset >= 0) result[TopicPartition{p.topic, PartitionId(p.partition)}] = Offset(p.offset);
  }
  return result;
}

PartitionStats KafkaConsumer::stats(const TopicPartition& tp) const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  auto it = stats_.find(tp);
  if (it != stats_.end()) return it->second;
  PartitionStats s;
  s.tp = tp;
  return s;
}

std::vector<PartitionStats> KafkaConsumer::all_stats() const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  std::vector<PartitionStats> out;
  out.reserve(stats_.size());
  for (const auto& [tp, s] : stats_) out.push_back(s);
  return out;
}

}  // namespace rivulet::connectors
