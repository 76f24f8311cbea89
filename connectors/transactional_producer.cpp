#include "connectors/transactional_producer.hpp"

#include <thread>

#include "connectors/kafka_log.hpp"

namespace rivulet::connectors {

namespace {

// Classifies and frees a librdkafka error object.
std::optional<TxnError> take(rd_kafka_error_t* error, const char* call, const std::string& id) {
  if (error == nullptr) return std::nullopt;
  TxnError e;
  if (rd_kafka_error_is_fatal(error)) {
    e.kind = TxnFailure::Fatal;
  } else if (rd_kafka_error_txn_requires_abort(error)) {
    e.kind = TxnFailure::Abortable;
  } else if (rd_kafka_error_is_retriable(error)) {
    e.kind = TxnFailure::Retriable;
  } else {
    // Neither: a usage error (a call in the wrong state), which retrying
    // cannot fix; aborting resets the transaction state.
    e.kind = TxnFailure::Abortable;
  }
  e.message = std::string(call) + " failed for transactional.id " + id + ": " +
              rd_kafka_error_name(error) + ": " + rd_kafka_error_string(error);
  rd_kafka_error_destroy(error);
  return e;
}

}  // namespace

const char* txn_failure_name(TxnFailure f) {
  switch (f) {
    case TxnFailure::Retriable:
      return "retriable";
    case TxnFailure::Abortable:
      return "abortable";
    case TxnFailure::Fatal:
      return "fatal";
  }
  return "?";
}

std::string TxnError::to_string() const {
  return std::string(txn_failure_name(kind)) + ": " + message;
}

Expected<std::unique_ptr<TransactionalProducer>> TransactionalProducer::create(
    KafkaProperties config, const std::string& transactional_id, DeliveryHandler* handler,
    std::chrono::milliseconds timeout) {
  if (transactional_id.empty()) {
    return Error::fatal("transactional producer: empty transactional.id");
  }
  config["transactional.id"] = transactional_id;
  auto producer = KafkaProducer::create(config, handler);
  if (!producer) {
    Error e = producer.error();
    e.message = "transactional producer " + transactional_id + ": " + e.message;
    return e;
  }
  std::unique_ptr<TransactionalProducer> txn(
      new TransactionalProducer(std::move(*producer), transactional_id));
  // Fences older producers with this id (on a real cluster) and aborts the
  // transaction they left open. Retriable failures (the coordinator not
  // found yet, a timeout) are tried again until the deadline.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const int ms = static_cast<int>(std::max<int64_t>(1000, left.count()));
    auto err = take(rd_kafka_init_transactions(txn->producer_->native_handle(), ms),
                    "init_transactions", transactional_id);
    if (!err) break;
    if (err->kind != TxnFailure::Retriable || std::chrono::steady_clock::now() >= deadline) {
      return Error::fatal(err->message);
    }
    kafka_log().warn("{}; retrying", err->message);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return txn;
}

TransactionalProducer::~TransactionalProducer() {
  if (open_ && producer_) {
    // Left open (the task stopped without committing): abort rather than
    // let the broker time it out. Bounded: a dead broker must not hang a stop.
    if (auto err = abort(std::chrono::seconds(2))) {
      kafka_log().warn("closing {} with an open transaction: {}", id_, err->to_string());
    }
  }
}

std::optional<TxnError> TransactionalProducer::begin() {
  auto err = take(rd_kafka_begin_transaction(producer_->native_handle()), "begin_transaction", id_);
  if (!err) {
    open_ = true;
    ++stats_.begun;
  }
  return err;
}

std::optional<TxnError> TransactionalProducer::send_offsets(
    const std::map<TopicPartition, Offset>& next_offsets, const std::string& group_id,
    std::chrono::milliseconds timeout) {
  if (next_offsets.empty()) return std::nullopt;
  TopicPartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(next_offsets.size())));
  for (const auto& [tp, offset] : next_offsets) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition.value())->offset =
        offset.value();
  }
  rd_kafka_consumer_group_metadata_t* group = rd_kafka_consumer_group_metadata_new(group_id.c_str());
  auto err = take(rd_kafka_send_offsets_to_transaction(producer_->native_handle(), list.get(),
                                                       group, static_cast<int>(timeout.count())),
                  "send_offsets_to_transaction", id_);
  rd_kafka_consumer_group_metadata_destroy(group);
  return err;
}

std::optional<TxnError> TransactionalProducer::commit(std::chrono::milliseconds timeout) {
  auto err = take(rd_kafka_commit_transaction(producer_->native_handle(),
                                              static_cast<int>(timeout.count())),
                  "commit_transaction", id_);
  if (!err) {
    open_ = false;
    ++stats_.committed;
  }
  return err;
}

std::optional<TxnError> TransactionalProducer::abort(std::chrono::milliseconds timeout) {
  auto err = take(
      rd_kafka_abort_transaction(producer_->native_handle(), static_cast<int>(timeout.count())),
      "abort_transaction", id_);
  if (!err) {
    open_ = false;
    ++stats_.aborted;
  }
  return err;
}

}  // namespace rivulet::connectors
