// The transactional producer against the embedded broker: the call
// sequence of a transaction (init, begin, produce, send_offsets, commit),
// abort after an injected error, and how errors are classified. The mock
// broker runs the protocol's calls but neither hides aborted records nor
// keeps the offsets of a transaction nor fences (../shared/PLATFORM.md), so
// these tests check the calls and their outcomes, not isolation; the
// opt-in tier (tests/integration/real_kafka_eos_test.cpp) checks isolation
// against a real cluster.
#include <catch2/catch.hpp>
#include <mutex>

#include "chaos/topic_reader.hpp"
#include "connectors/broker_control.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/transactional_producer.hpp"
#include "connectors/broker_fixture.hpp"

using namespace rivulet;
using namespace rivulet::connectors;

namespace {

constexpr int16_t kProduce = 0;
constexpr int16_t kAddOffsetsToTxn = 25;
constexpr int16_t kEndTxn = 26;

class Reports : public DeliveryHandler {
 public:
  void on_delivery(void*, const std::optional<Error>& error, int32_t, int64_t) override {
    std::lock_guard<std::mutex> lock(mutex);
    if (error) {
      ++failed;
      last_error = error->to_string();
    } else {
      ++delivered;
    }
  }
  int count_delivered() {
    std::lock_guard<std::mutex> lock(mutex);
    return delivered;
  }
  int count_failed() {
    std::lock_guard<std::mutex> lock(mutex);
    return failed;
  }
  std::mutex mutex;
  int delivered = 0;
  int failed = 0;
  std::string last_error;
};

OutputRecord record(const std::string& topic, int i) {
  OutputRecord r;
  r.topic = topic;
  r.partition = 0;
  r.key = "k" + std::to_string(i);
  r.value = "v" + std::to_string(i);
  return r;
}

std::unique_ptr<TransactionalProducer> make_producer(const EmbeddedBroker& broker,
                                                     const std::string& id, Reports* reports) {
  auto p = TransactionalProducer::create({{"bootstrap.servers", broker.bootstrap()}}, id, reports,
                                         std::chrono::seconds(20));
  INFO((p.ok() ? std::string() : p.error().to_string()));
  REQUIRE(p.ok());
  return std::move(*p);
}

size_t records_in(const std::string& bootstrap, const std::string& topic) {
  auto contents = chaos::read_topic(bootstrap, topic, {true, std::chrono::seconds(20), {}});
  INFO((contents.ok() ? std::string() : contents.error().to_string()));
  REQUIRE(contents.ok());
  return contents->records.size();
}

}  // namespace

TEST_CASE("a transaction runs init, begin, produce, send_offsets and commit",
          "[connectors][transactions]") {
  auto broker = testing::start_in_process_broker();
  const std::string topic = testing::unique_topic("txn-out");
  REQUIRE(broker->create_topic(topic, 1).ok());
  Reports reports;
  auto txn = make_producer(*broker, "app-0", &reports);
  CHECK(txn->transactional_id() == "app-0");
  CHECK_FALSE(txn->in_transaction());

  // A transactional producer refuses records outside a transaction.
  auto outside = txn->producer().produce(record(topic, -1), nullptr);
  CHECK_FALSE(outside.ok());

  for (int round = 0; round < 2; ++round) {
    auto begun = txn->begin();
    INFO((begun ? begun->to_string() : std::string()));
    REQUIRE_FALSE(begun);
    CHECK(txn->in_transaction());
    for (int i = 0; i < 10; ++i) REQUIRE(txn->producer().produce(record(topic, i), nullptr).ok());
    std::map<TopicPartition, Offset> offsets{{TopicPartition{"input", PartitionId{0}}, Offset{10}}};
    auto sent = txn->send_offsets(offsets, "app", std::chrono::seconds(10));
    INFO((sent ? sent->to_string() : std::string()));
    REQUIRE_FALSE(sent);
    auto committed = txn->commit(std::chrono::seconds(10));
    INFO((committed ? committed->to_string() : std::string()));
    REQUIRE_FALSE(committed);
    CHECK_FALSE(txn->in_transaction());
  }
  // commit_transaction flushed: every record was acknowledged.
  CHECK(reports.count_delivered() == 20);
  CHECK(reports.count_failed() == 0);
  CHECK(txn->stats().begun == 2);
  CHECK(txn->stats().committed == 2);
  CHECK(txn->stats().aborted == 0);
  CHECK(records_in(broker->bootstrap(), topic) == 20);

  // Committing with no transaction open is refused, not silently accepted.
  auto stray = txn->commit(std::chrono::seconds(5));
  REQUIRE(stray);
  CHECK(stray->kind != TxnFailure::Retriable);
}

TEST_CASE("a produce error injected into a transaction makes commit abortable, abort recovers",
          "[connectors][transactions]") {
  auto broker = testing::start_in_process_broker();
  const std::string topic = testing::unique_topic("txn-abort");
  REQUIRE(broker->create_topic(topic, 1).ok());
  Reports reports;
  auto txn = make_producer(*broker, "app-1", &reports);

  REQUIRE_FALSE(txn->begin());
  // The broker refuses the next Produce request in a way no retry fixes.
  REQUIRE(broker
              ->apply(ControlRequest::push_request_errors(kProduce,
                                                          {RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE}))
              .ok());
  for (int i = 0; i < 5; ++i) REQUIRE(txn->producer().produce(record(topic, i), nullptr).ok());
  auto committed = txn->commit(std::chrono::seconds(10));
  REQUIRE(committed);
  INFO(committed->to_string());
  CHECK(committed->kind == TxnFailure::Abortable);
  CHECK(committed->message.find("commit_transaction") != std::string::npos);
  CHECK(reports.count_failed() > 0);
  auto aborted = txn->abort(std::chrono::seconds(10));
  INFO((aborted ? aborted->to_string() : std::string()));
  REQUIRE_FALSE(aborted);
  CHECK(txn->stats().aborted == 1);

  // The producer is usable again: a following transaction commits. On the
  // mock, the first one after the abort may fail once more with
  // OUT_OF_ORDER_SEQUENCE_NUMBER (the failed batch's sequence numbers are
  // not reset by the first abort; the second abort bumps the producer
  // epoch): what a task does, abort and try again, gets through.
  int attempts = 0;
  for (bool done = false; !done && attempts < 3; ++attempts) {
    REQUIRE_FALSE(txn->begin());
    for (int i = 0; i < 5; ++i) {
      auto produced = txn->producer().produce(record(topic, i), nullptr);
      INFO((produced.ok() ? std::string() : produced.error().to_string()));
      REQUIRE(produced.ok());
    }
    auto again = txn->commit(std::chrono::seconds(10));
    done = !again;
    if (again) {
      INFO(again->to_string());
      CHECK(again->kind == TxnFailure::Abortable);
      REQUIRE_FALSE(txn->abort(std::chrono::seconds(10)));
    }
  }
  CHECK(attempts <= 2);
  CHECK(txn->stats().committed == 1);
}

TEST_CASE("an error injected into send_offsets_to_transaction is abortable",
          "[connectors][transactions]") {
  auto broker = testing::start_in_process_broker();
  const std::string topic = testing::unique_topic("txn-offsets");
  REQUIRE(broker->create_topic(topic, 1).ok());
  Reports reports;
  auto txn = make_producer(*broker, "app-5", &reports);
  REQUIRE_FALSE(txn->begin());
  REQUIRE(txn->producer().produce(record(topic, 0), nullptr).ok());
  REQUIRE(broker
              ->apply(ControlRequest::push_request_errors(
                  kAddOffsetsToTxn, {RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED}))
              .ok());
  std::map<TopicPartition, Offset> offsets{{TopicPartition{"input", PartitionId{0}}, Offset{1}}};
  auto sent = txn->send_offsets(offsets, "app", std::chrono::seconds(10));
  REQUIRE(sent);
  INFO(sent->to_string());
  CHECK(sent->kind == TxnFailure::Abortable);
  CHECK(sent->message.find("send_offsets_to_transaction") != std::string::npos);
  REQUIRE_FALSE(txn->abort(std::chrono::seconds(10)));
  REQUIRE_FALSE(txn->begin());
  REQUIRE(txn->producer().produce(record(topic, 1), nullptr).ok());
  REQUIRE_FALSE(txn->send_offsets(offsets, "app", std::chrono::seconds(10)));
  REQUIRE_FALSE(txn->commit(std::chrono::seconds(10)));
}

TEST_CASE("an explicit abort after the records were sent succeeds and counts",
          "[connectors][transactions]") {
  auto broker = testing::start_in_process_broker();
  const std::string topic = testing::unique_topic("txn-explicit");
  REQUIRE(broker->create_topic(topic, 1).ok());
  Reports reports;
  auto txn = make_producer(*broker, "app-2", &reports);
  REQUIRE_FALSE(txn->begin());
  for (int i = 0; i < 5; ++i) REQUIRE(txn->producer().produce(record(topic, i), nullptr).ok());
  // Sent first (abort would purge unsent records and prove nothing).
  REQUIRE(txn->producer().flush(std::chrono::seconds(10)).ok());
  CHECK(reports.count_delivered() == 5);
  REQUIRE_FALSE(txn->abort(std::chrono::seconds(10)));
  CHECK_FALSE(txn->in_transaction());
  CHECK(txn->stats().aborted == 1);
  CHECK(txn->stats().committed == 0);
}

TEST_CASE("a fenced producer gets a fatal error", "[connectors][transactions]") {
  auto broker = testing::start_in_process_broker();
  const std::string topic = testing::unique_topic("txn-fenced");
  REQUIRE(broker->create_topic(topic, 1).ok());
  Reports reports;
  auto txn = make_producer(*broker, "app-3", &reports);
  REQUIRE_FALSE(txn->begin());
  REQUIRE(txn->producer().produce(record(topic, 0), nullptr).ok());
  // What a real cluster answers once a newer producer with the same
  // transactional.id ran init_transactions (the mock does not fence).
  REQUIRE(broker
              ->apply(ControlRequest::push_request_errors(kEndTxn,
                                                          {RD_KAFKA_RESP_ERR_PRODUCER_FENCED}))
              .ok());
  auto committed = txn->commit(std::chrono::seconds(10));
  REQUIRE(committed);
  INFO(committed->to_string());
  CHECK(committed->kind == TxnFailure::Fatal);
  CHECK(committed->message.find("app-3") != std::string::npos);
}

TEST_CASE("message.timeout.ms above transaction.timeout.ms is a clear error at create",
          "[connectors][transactions]") {
  auto broker = testing::start_in_process_broker(1);
  auto p = TransactionalProducer::create({{"bootstrap.servers", broker->bootstrap()},
                                          {"message.timeout.ms", "90000"},
                                          {"transaction.timeout.ms", "60000"}},
                                         "app-4", nullptr, std::chrono::seconds(5));
  REQUIRE_FALSE(p.ok());
  INFO(p.error().to_string());
  CHECK(p.error().message.find("app-4") != std::string::npos);
  CHECK(p.error().message.find("message.timeout.ms") != std::string::npos);
}
