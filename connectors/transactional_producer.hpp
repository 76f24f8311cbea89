#pragma once
// TransactionalProducer: a KafkaProducer with a transactional.id, for
// processing.guarantee=exactly_once_v2. One per task (transactional.id
// `<application.id>-<partition>`): init_transactions() of a new owner of the
// task fences every older producer with the same id on a real cluster and
// aborts the transaction it left open.
//
// The call sequence of one transaction: begin(), produce() (through
// producer()), send_offsets() (the input offsets the transaction's output
// reflects, committed atomically with it), commit(); on an error that
// requires it, abort().
//
// Every transactional call returns nothing on success or a TxnError saying
// what the caller must do:
//   Retriable  the same call may be repeated (a timeout; the outcome of a
//              commit is not known yet);
//   Abortable  the transaction is lost: abort() it, rewind the input to the
//              last committed boundary and start a new one;
//   Fatal      the producer is unusable (fenced by a newer owner of the same
//              transactional.id, or a broker that does not support
//              transactions): stop the task.
//
// Threads: one owner thread makes the transactional calls (librdkafka
// requires them from one thread at a time); produce() as in KafkaProducer.
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "connectors/kafka_producer.hpp"
#include "runtime/ids.hpp"

namespace rivulet::connectors {

enum class TxnFailure { Retriable, Abortable, Fatal };

const char* txn_failure_name(TxnFailure f);

struct TxnError {
  TxnFailure kind = TxnFailure::Fatal;
  std::string message;  // "<call> failed: <librdkafka name>: <reason>"
  std::string to_string() const;
};

struct TransactionStats {
  uint64_t begun = 0;
  uint64_t committed = 0;
  uint64_t aborted = 0;
};

class TransactionalProducer {
 public:
  // Creates the producer with `transactional.id` = `transactional_id` on
  // top of `config` (KafkaProducer defaults apply) and runs
  // init_transactions, retrying retriable failures for up to `timeout`.
  // An error names the transactional id and librdkafka's reason.
  static Expected<std::unique_ptr<TransactionalProducer>> create(
      KafkaProperties config, const std::string& transactional_id, DeliveryHandler* handler,
      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~TransactionalProducer();
  TransactionalProducer(const TransactionalProducer&) = delete;
  TransactionalProducer& operator=(const TransactionalProducer&) = delete;

  // Records produced between begin() and commit()/abort() belong to the
  // transaction.
  KafkaProducer& producer() { return *producer_; }
  const std::string& transactional_id() const { return id_; }
  bool in_transaction() const { return open_; }

  std::optional<TxnError> begin();
  // `next_offsets` (Kafka's convention: the next record to read) become the
  // group's committed offsets if and only if the transaction commits. The
  // consumer group metadata is made from `group_id` (Rivulet's consumers
  // are manually assigned: generation -1, no member id, as a
  // ConsumerGroupMetadata of such a consumer would be).
  std::optional<TxnError> send_offsets(const std::map<TopicPartition, Offset>& next_offsets,
                                       const std::string& group_id,
                                       std::chrono::milliseconds timeout);
  // Flushes the transaction's records and commits it.
  std::optional<TxnError> commit(std::chrono::milliseconds timeout);
  // Aborts: records not yet sent are purged (their delivery reports carry an
  // error), records sent are marked aborted.
  std::optional<TxnError> abort(std::chrono::milliseconds timeout);

  TransactionStats stats() const { return stats_; }

 private:
  TransactionalProducer(std::unique_ptr<KafkaProducer> producer, std::string id)
      : producer_(std::move(producer)), id_(std::move(id)) {}

  std::unique_ptr<KafkaProducer> producer_;
  std::string id_;
  bool open_ = false;
  TransactionStats stats_;
};

}  // namespace rivulet::connectors
