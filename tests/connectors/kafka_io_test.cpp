// The Kafka connectors against an embedded broker in the test process.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "connectors/embedded_broker.hpp"
#include "connectors/header_scan.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/kafka_log.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/source_loader.hpp"
#include "connectors/topic_admin.hpp"
#include "partitioning/murmur2.hpp"
#include "runtime/log.hpp"
#include "runtime/sanitizer.hpp"
#include "support/wait_for.hpp"

using namespace rivulet;
using namespace rivulet::connectors;
using Clock = std::chrono::steady_clock;

namespace {

class CountingHandler : public DeliveryHandler {
 public:
  void on_delivery(void*, const std::optional<Error>& error, int32_t partition,
                   int64_t) override {
    std::lock_guard<std::mutex> lock(mutex);
    if (error) ++failed;
    else ++partitions[partition];
  }
  std::mutex mutex;
  std::map<int32_t, int> partitions;
  int failed = 0;
};

// Takes records; refuses while `refuse` is set (backpressure).
class Sink : public BatchSink {
 public:
  bool offer(RawBatch&& batch) override {
    if (refuse.load()) {
      ++refusals;
      return false;
    }
    std::lock_guard<std::mutex> lock(mutex);
    for (auto& r : batch.records) got[batch.tp].push_back(r);
    if (batch.records.empty()) ++caught_up_signals;
    return true;
  }
  size_t total() {
    std::lock_guard<std::mutex> lock(mutex);
    size_t n = 0;
    for (auto& [tp, v] : got) n += v.size();
    return n;
  }
  std::atomic<bool> refuse{false};
  std::atomic<int> refusals{0};
  std::atomic<int> caught_up_signals{0};
  std::mutex mutex;
  std::map<TopicPartition, std::vector<RawRecord>> got;
};

using rivulet::testing::wait_for;

// What the process writes to stderr while `body` runs (fd 2 redirected to
// a file: spdlog's stderr sinks, librdkafka's log callback among them).
// stderr is back in place when this returns or throws (a failed REQUIRE).
template <typename Body>
std::string stderr_of(Body body) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("rivulet-stderr-" + std::to_string(::getpid()) + ".txt");
  std::fflush(stderr);
  const int saved = ::dup(2);
  const int file = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
  REQUIRE(saved >= 0);
  REQUIRE(file >= 0);
  ::dup2(file, 2);
  ::close(file);
  struct Restore {
    int saved;
    ~Restore() {
      kafka_log().flush();
      std::fflush(stderr);
      ::dup2(saved, 2);
      ::close(saved);
    }
  };
  {
    Restore restore{saved};
    body();
  }
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(path);
  return text;
}

}  // namespace

TEST_CASE("keyed records land where the Java partitioner puts them, and read back in order",
          "[integration][connectors]") {
  auto broker = EmbeddedBroker::start();
  REQUIRE(broker.ok());
  const int32_t n = 6;
  REQUIRE((*broker)->create_topic("t", n).ok());
  CountingHandler acks;
  auto producer = KafkaProducer::create({{"bootstrap.servers", (*broker)->bootstrap()}}, &acks);
  REQUIRE(producer.ok());
  const int records = 3000;
  for (int i = 0; i < records; ++i) {
    OutputRecord r;
    r.topic = "t";
    r.key = "key-" + std::to_string(i % 97);
    r.value = std::to_string(i);
    r.headers = {Header{"h", std::string("v")}};
    REQUIRE((*producer)->produce(r, nullptr).ok());
  }
  REQUIRE((*producer)->flush(std::chrono::seconds(30)).ok());
  CHECK(acks.failed == 0);

  auto consumer = KafkaConsumer::create(
      {{"bootstrap.servers", (*broker)->bootstrap()}, {"group.id", "g1"}});
  REQUIRE(consumer.ok());
  std::vector<StartPosition> positions;
  for (int32_t p = 0; p < n; ++p) {
    positions.push_back({TopicPartition{"t", PartitionId{p}}, StartPosition::kBeginning});
  }
  REQUIRE((*consumer)->assign(positions).ok());
  Sink sink;
  (*consumer)->start(&sink);
  REQUIRE(wait_for([&] { return sink.total() == records; }, std::chrono::seconds(30)));
  // Every partition eventually reports it is caught up (an empty batch).
  CHECK(wait_for([&] { return sink.caught_up_signals.load() >= n; }, std::chrono::seconds(10)));
  (*consumer)->stop();
  std::lock_guard<std::mutex> lock(sink.mutex);
  for (const auto& [tp, recs] : sink.got) {
    std::map<std::string, int64_t> last_value_per_key;
    for (const auto& r : recs) {
      REQUIRE(r.key.has_value());
      CHECK(java_partition(*r.key, n) == tp.partition.value());
      // One key's values keep the order they were produced in.
      int64_t v = std::stoll(std::string(*r.value));
      auto [it, fresh] = last_value_per_key.emplace(*r.key, v);
      if (!fresh) {
        CHECK(v > it->second);
        it->second = v;
      }
      REQUIRE(r.headers.size() == 1);
      CHECK(r.headers[0].name == "h");
    }
    for (size_t i = 1; i < recs.size(); ++i) CHECK(recs[i].offset == recs[i - 1].offset + 1);
  }
}

TEST_CASE("the producer sends an output's input record as its first header",
          "[integration][connectors]") {
  auto broker = EmbeddedBroker::start();
  REQUIRE(broker.ok());
  REQUIRE((*broker)->create_topic("t", 1).ok());
  CountingHandler acks;
  auto producer = KafkaProducer::create({{"bootstrap.servers", (*broker)->bootstrap()}}, &acks);
  REQUIRE(producer.ok());
  // A short input topic, and one too long for the producer's stack buffer
  // (the text is then made on the heap); the widest numbers; an output
  // without an input, which gets no such header.
  const std::string long_topic(400, 'x');
  std::vector<std::optional<SourcePosition>> inputs = {
      SourcePosition{"orders", PartitionId{3}, Offset{12345678901}},
      SourcePosition{long_topic, PartitionId{INT32_MIN}, Offset{INT64_MIN}}, std::nullopt};
  for (const auto& input : inputs) {
    OutputRecord r;
    r.topic = "t";
    r.value = "v";
    r.headers = {Header{"h", std::string("own")}};
    r.input = input;
    REQUIRE((*producer)->produce(r, nullptr).ok());
  }
  REQUIRE((*producer)->flush(std::chrono::seconds(30)).ok());
  CHECK(acks.failed == 0);
  auto consumer = KafkaConsumer::create(
      {{"bootstrap.servers", (*broker)->bootstrap()}, {"group.id", "g-input"}});
  REQUIRE(consumer.ok());
  REQUIRE(
      (*consumer)->assign({{TopicPartition{"t", PartitionId{0}}, StartPosition::kBeginning}}).ok());
  Sink sink;
  (*consumer)->start(&sink);
  REQUIRE(wait_for([&] { return sink.total() == 3; }, std::chrono::seconds(30)));
  (*consumer)->stop();
  std::lock_guard<std::mutex> lock(sink.mutex);
  const auto& recs = sink.got.begin()->second;
  REQUIRE(recs.size() == 3);
  const Headers want0 = {Header{"rivulet.input", std::string("orders:3:12345678901")},
                         Header{"h", std::string("own")}};
  const Headers want1 = {Header{"rivulet.input", long_topic + ":-2147483648:-9223372036854775808"},
                         Header{"h", std::string("own")}};
  const Headers want2 = {Header{"h", std::string("own")}};
  CHECK(recs[0].headers == want0);
  CHECK(recs[1].headers == want1);
  CHECK(recs[2].headers == want2);
}

TEST_CASE("a refusing sink pauses the partition, and nothing is lost or duplicated",
          "[integration][connectors]") {
  auto broker = EmbeddedBroker::start();
  REQUIRE(broker.ok());
  REQUIRE((*broker)->create_topic("bp", 1).ok());
  auto producer = KafkaProducer::create({{"bootstrap.servers", (*broker)->bootstrap()}}, nullptr);
  REQUIRE(producer.ok());
  for (int i = 0; i < 2000; ++i) {
    OutputRecord r;
    r.topic = "bp";
    r.key = "k";
    r.value = std::to_string(i);
    REQUIRE((*producer)->produce(r, nullptr).ok());
  }
  REQUIRE((*producer)->flush(std::chrono::seconds(30)).ok());
  ConsumerOptions options;
  options.max_batch_records = 50;
  auto consumer = KafkaConsumer::create(
      {{"bootstrap.servers", (*broker)->bootstrap()}, {"group.id", "g2"}}, options);
  REQUIRE(consumer.ok());
  REQUIRE((*consumer)->assign({{TopicPartition{"bp", PartitionId{0}}, StartPosition::kBeginning}})
              .ok());
  Sink sink;
  sink.refuse = true;
  (*consumer)->start(&sink);
  REQUIRE(wait_for([&] { return sink.refusals.load() > 20; }, std::chrono::seconds(10)));
  CHECK((*consumer)->stats(TopicPartition{"bp", PartitionId{0}}).paused);
  sink.refuse = false;
  REQUIRE(wait_for([&] { return sink.total() == 2000; }, std::chrono::seconds(30)));
  (*consumer)->stop();
  const auto& recs = sink.got[TopicPartition{"bp", PartitionId{0}}];
  for (size_t i = 0; i < recs.size(); ++i) REQUIRE(*recs[i].value == std::to_string(i));
}

namespace {

// Refuses two offers in three (per partition), so that every partition is
// paused and resumed many times, often all of them at once.
class ChurningSink : public BatchSink {
 public:
  bool offer(RawBatch&& batch) override {
    std::lock_guard<std::mutex> lock(mutex);
    if (batch.records.empty()) return true;
    if (++offers[batch.tp] % 3 != 0) {
      ++refusals;
      return false;
    }
    for (auto& r : batch.records) offsets[batch.tp].push_back(r.offset);
    total += batch.records.size();
    return true;
  }
  std::mutex mutex;
  std::map<TopicPartition, int> offers;
  std::map<TopicPartition, std::vector<int64_t>> offsets;
  size_t total = 0;
  int refusals = 0;
};

}  // namespace

// librdkafka 2.0 does not wake a broker thread on resume: once every
// partition it fetched for the consumer was paused, it slept up to a second
// before fetching the resumed one. Here each of the ~300 resumes per
// partition then took about a second (6,560 of the 30,000 records in 60 s);
// the consumer now seeks on resume, which wakes the thread, and the whole
// run takes a few seconds.
TEST_CASE("pauses and resumes on many partitions lose and repeat nothing and do not stall",
          "[integration][connectors]") {
  auto broker = EmbeddedBroker::start();
  REQUIRE(broker.ok());
  const int partitions = 3;  // one per broker: each pause leaves its broker thread idle
  const int per_partition = 10000;
  REQUIRE((*broker)->create_topic("churn", partitions).ok());
  auto producer = KafkaProducer::create(
      {{"bootstrap.servers", (*broker)->bootstrap()}, {"linger.ms", "20"}}, nullptr);
  REQUIRE(producer.ok());
  for (int i = 0; i < per_partition; ++i) {
    for (int p = 0; p < partitions; ++p) {
      OutputRecord r;
      r.topic = "churn";
      r.partition = p;
      r.value = std::to_string(i);
      REQUIRE((*producer)->produce(r, nullptr).ok());
    }
  }
  REQUIRE((*producer)->flush(std::chrono::seconds(30)).ok());
  ConsumerOptions options;
  options.max_batch_records = 32;
  auto consumer = KafkaConsumer::create(
      {{"bootstrap.servers", (*broker)->bootstrap()}, {"group.id", "churn"}}, options);
  REQUIRE(consumer.ok());
  std::vector<StartPosition> positions;
  for (int p = 0; p < partitions; ++p)
    positions.push_back({TopicPartition{"churn", PartitionId{p}}, StartPosition::kBeginning});
  REQUIRE((*consumer)->assign(positions).ok());
  ChurningSink sink;
  (*consumer)->start(&sink);
  const size_t want = static_cast<size_t>(partitions) * per_partition;
  const bool all = wait_for(
      [&] {
        std::lock_guard<std::mutex> lock(sink.mutex);
        return sink.total >= want;
      },
      std::chrono::seconds(60 * kSanitizerSlowdown));
  (*consumer)->stop();
  std::lock_guard<std::mutex> lock(sink.mutex);
  INFO(sink.total << " of " << want << " records after " << sink.refusals << " refusals");
  REQUIRE(all);
  CHECK(sink.refusals > 1000);
  CHECK(sink.total == want);
  for (int p = 0; p < partitions; ++p) {
    const auto& got = sink.offsets[TopicPartition{"churn", PartitionId{p}}];
    REQUIRE(got.size() == static_cast<size_t>(per_partition));
    for (size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == static_cast<int64_t>(i));
  }
}

TEST_CASE("explicit commits are read back", "[integration][connectors]") {
  auto broker = EmbeddedBroker::start();
  REQUIRE(broker.ok());
  REQUIRE((*broker)->create_topic("c", 2).ok());
  auto consumer = KafkaConsumer::create(
      {{"bootstrap.servers", (*broker)->bootstrap()}, {"group.id", "g3"}});
  REQUIRE(consumer.ok());
  TopicPartition p0{"c", PartitionId{0}}, p1{"c", PartitionId{1}};
  REQUIRE((*consumer)->assign({{p0, StartPosition::kBeginning}, {p1, StartPosition::kBeginning}})
              .ok());
  REQUIRE((*consumer)->commit_sync({{p0, Offset{7}}, {p1, Offset{3}}}).ok());
  auto committed = (*consumer)->committed({p0, p1}, std::chrono::seconds(10));
  REQUIRE(committed.ok());
  CHECK(committed->at(p0) == Offset{7});
  CHECK(committed->at(p1) == Offset{3});
}

namespace {
// How many of this process's threads carry `name` (/proc/self/task/*/comm).
int threads_named(const std::string& name) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(entry.path() / "comm");
    std::string got;
    if (std::getline(comm, got) && got == name) ++n;
  }
  return n;
}
}  // namespace

TEST_CASE("the consumer's poll thread and the producer's delivery thread carry their names",
          "[integration][connectors]") {
  const int brokers = threads_named("rivulet.broker");
  auto broker = EmbeddedBroker::start();
  REQUIRE(broker.ok());
  const auto soon = std::chrono::seconds(10);
  // Each thread names itself once it runs.
  CHECK(wait_for([&] { return threads_named("rivulet.broker") == brokers + 1; }, soon));
  const int polls = threads_named("rivulet.poll");
  const int acks = threads_named("rivulet.acks");
  {
    auto producer = KafkaProducer::create({{"bootstrap.servers", (*broker)->bootstrap()}}, nullptr);
    REQUIRE(producer.ok());
    CHECK(wait_for([&] { return threads_named("rivulet.acks") == acks + 1; }, soon));
    auto consumer = KafkaConsumer::create(
        {{"bootstrap.servers", (*broker)->bootstrap()}, {"group.id", "names"}});
    REQUIRE(consumer.ok());
    ConsumerOptions named;
    named.thread_name = "a-name-longer-than-15";
    auto other = KafkaConsumer::create(
        {{"bootstrap.servers", (*broker)->bootstrap()}, {"group.id", "names"}}, named);
    REQUIRE(other.ok());
    Sink sink;
    (*consumer)->start(&sink);
    (*other)->start(&sink);
    CHECK(wait_for([&] { return threads_named("rivulet.poll") == polls + 1; }, soon));
    CHECK(wait_for([&] { return threads_named("a-name-longer-t") == 1; }, soon));  // cut to 15
    (*consumer)->stop();
    (*other)->stop();
    CHECK(threads_named("rivulet.poll") == polls);
  }
  CHECK(threads_named("rivulet.acks") == acks);
}

TEST_CASE("log.level reaches librdkafka's messages: kafka.*.debug shows at debug only",
          "[integration][connectors]") {
  auto broker = EmbeddedBroker::start();
  REQUIRE(broker.ok());
  // librdkafka logs its start at its debug level when a debug context is on.
  const auto debug_client = [&] {
    auto producer = KafkaProducer::create(
        {{"bootstrap.servers", (*broker)->bootstrap()}, {"debug", "generic"}}, nullptr);
    REQUIRE(producer.ok());
  };
  set_log_level("debug");
  CHECK(kafka_log().level() == spdlog::level::debug);
  const std::string shown = stderr_of(debug_client);
  CHECK(shown.find("[kafka] [debug] rivulet#producer") != std::string::npos);
  set_log_level("info");
  CHECK(kafka_log().level() == spdlog::level::info);
  const std::string hidden = stderr_of(debug_client);
  CHECK(hidden.find("[debug]") == std::string::npos);
}

TEST_CASE("ensure_topic creates through the control channel and reports mismatches",
          "[integration][connectors]") {
  auto broker = EmbeddedBroker::start();
  REQUIRE(broker.ok());
  auto admin = TopicAdmin::create({{"bootstrap.servers", (*broker)->bootstrap()}});
  REQUIRE(admin.ok());
  CHECK((*admin)->is_embedded_broker().value());
  CHECK_FALSE((*admin)->partition_count("fresh").value().has_value());
  REQUIRE((*admin)->ensure_topic("fresh", 8).ok());
  CHECK((*admin)->partition_count("fresh").value() == std::optional<int32_t>(8));
  CHECK((*admin)->ensure_topic("fresh", 8).ok());  // idempotent
  auto mismatch = (*admin)->ensure_topic("fresh", 4);
  REQUIRE_FALSE(mismatch.ok());
  CHECK_THAT(mismatch.error().message, Catch::Contains("8") && Catch::Contains("4"));
}

TEST_CASE("watermarks of many partitions in one call: an error in place of a missing one",
          "[integration][connectors]") {
  auto broker = EmbeddedBroker::start();
  REQUIRE(broker.ok());
  REQUIRE((*broker)->create_topic("marks", 3).ok());
  auto producer = KafkaProducer::create({{"bootstrap.servers", (*broker)->bootstrap()}}, nullptr);
  REQUIRE(producer.ok());
  std::map<int32_t, int64_t> written;
  for (int i = 0; i < 40; ++i) {
    OutputRecord r;
    r.topic = "marks";
    r.key = "k" + std::to_string(i);
    r.value = std::string("v");
    REQUIRE((*producer)->produce(r, nullptr).ok());
    ++written[java_partition(*r.key, 3)];
  }
  REQUIRE((*producer)->flush(std::chrono::seconds(30)).ok());
  REQUIRE(written.size() == 3);  // every partition holds some

  auto admin = TopicAdmin::create({{"bootstrap.servers", (*broker)->bootstrap()}});
  REQUIRE(admin.ok());
  const std::vector<TopicPartition> asked = {
      TopicPartition{"marks", PartitionId{2}}, TopicPartition{"marks", PartitionId{3}},
      TopicPartition{"never-made", PartitionId{0}}, TopicPartition{"marks", PartitionId{0}},
      TopicPartition{"marks", PartitionId{1}}};
  auto marks = (*admin)->watermarks(asked);
  REQUIRE(marks.ok());
  REQUIRE(marks->size() == asked.size());
  for (size_t i : {size_t{0}, size_t{3}, size_t{4}}) {
    const auto& w = (*marks)[i];
    INFO(asked[i].to_string());
    REQUIRE(w.ok());
    CHECK(w->first == 0);
    CHECK(w->second == written.at(asked[i].partition.value()));
    // The same as asking for the partition alone.
    CHECK(*(*admin)->watermarks(asked[i]) == *w);
  }
  REQUIRE_FALSE((*marks)[1].ok());
  CHECK_THAT((*marks)[1].error().message, Catch::Contains("no such topic partition"));
  CHECK((*marks)[1].error().context.partition == 3);
  REQUIRE_FALSE((*marks)[2].ok());
  CHECK((*marks)[2].error().context.topic == "never-made");
  // Asking did not create it.
  CHECK_FALSE((*admin)->partition_count("never-made").value().has_value());
}

// With a linger of a minute, a flush that waited for the batches to fill
// would time out: flush sends them at once, as the Java producer's does,
// and the reports still come on the delivery thread, each once.
TEST_CASE("flush sends what lingers at once and reports on the delivery thread",
          "[integration][connectors]") {
  auto broker = EmbeddedBroker::start();
  REQUIRE(broker.ok());
  REQUIRE((*broker)->create_topic("lingering", 2).ok());
  struct ThreadHandler : CountingHandler {
    void on_delivery(void* opaque, const std::optional<Error>& error, int32_t partition,
                     int64_t offset) override {
      CountingHandler::on_delivery(opaque, error, partition, offset);
      std::lock_guard<std::mutex> lock(mutex);
      threads.insert(std::this_thread::get_id());
    }
    std::set<std::thread::id> threads;
  } handler;
  auto producer = KafkaProducer::create(
      {{"bootstrap.servers", (*broker)->bootstrap()},
       {"linger.ms", "60000"},
       {"message.timeout.ms", "120000"}},  // librdkafka wants it above linger.ms
      &handler);
  INFO((producer.ok() ? std::string() : producer.error().to_string()));
  REQUIRE(producer.ok());
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 50; ++i) {
      OutputRecord r;
      r.topic = "lingering";
      r.key = "k" + std::to_string(i);
      r.value = "v" + std::to_string(round);
      REQUIRE((*producer)->produce(r, nullptr).ok());
    }
    INFO("round " << round);
    REQUIRE((*producer)->flush(std::chrono::seconds(20)).ok());
    std::lock_guard<std::mutex> lock(handler.mutex);
    CHECK(handler.failed == 0);
    CHECK(handler.partitions[0] + handler.partitions[1] == 50 * (round + 1));
  }
  std::lock_guard<std::mutex> lock(handler.mutex);
  REQUIRE(handler.threads.size() == 1);
  CHECK(*handler.threads.begin() != std::this_thread::get_id());
}

// librdkafka's batch consume waits until its buffer is full or its timeout
// expires (PLATFORM.md). The poll thread waited so whenever nothing was
// queued, so a lone record waited out the whole poll_timeout on every
// consumer hop (half of a one-hop query's median latency at the default
// 5 ms), and so did commands and stop(). With a timeout of two minutes, each
// step here would take it.
TEST_CASE("a lone record, a command and stop() do not wait out the poll timeout",
          "[integration][connectors]") {
  auto broker = EmbeddedBroker::start();
  REQUIRE(broker.ok());
  REQUIRE((*broker)->create_topic("lone", 1).ok());
  REQUIRE((*broker)->create_topic("lone-other", 1).ok());
  ConsumerOptions options;
  options.poll_timeout = std::chrono::minutes(2);
  auto consumer = KafkaConsumer::create({{"bootstrap.servers", (*broker)->bootstrap()},
                                         {"group.id", "lone"},
                                         {"fetch.wait.max.ms", "10"}},
                                        options);
  REQUIRE(consumer.ok());
  const TopicPartition lone{"lone", PartitionId{0}};
  REQUIRE((*consumer)->assign({{lone, StartPosition::kBeginning}}).ok());
  Sink sink;
  (*consumer)->start(&sink);
  auto producer = KafkaProducer::create(
      {{"bootstrap.servers", (*broker)->bootstrap()}, {"linger.ms", "0"}}, nullptr);
  REQUIRE(producer.ok());
  const auto within = std::chrono::seconds(60);
  for (int i = 0; i < 3; ++i) {
    // Nothing queued: the poll thread is waiting for records.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    OutputRecord r;
    r.topic = "lone";
    r.key = "k";
    r.value = "v" + std::to_string(i);
    REQUIRE((*producer)->produce(r, nullptr).ok());
    REQUIRE((*producer)->flush(std::chrono::seconds(20)).ok());
    INFO("record " << i);
    REQUIRE(wait_for([&] { return sink.total() == static_cast<size_t>(i) + 1; }, within));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto t0 = Clock::now();
  REQUIRE((*consumer)
              ->add_partitions(
                  {{TopicPartition{"lone-other", PartitionId{0}}, StartPosition::kBeginning}})
              .ok());
  CHECK(Clock::now() - t0 < within);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  t0 = Clock::now();
  (*consumer)->stop();
  CHECK(Clock::now() - t0 < within);
  std::lock_guard<std::mutex> lock(sink.mutex);
  const auto& got = sink.got[lone];
  REQUIRE(got.size() == 3);
  for (size_t i = 0; i < got.size(); ++i) CHECK(*got[i].value == "v" + std::to_string(i));
}

TEST_CASE("a producer's and a consumer's statistics count their requests and bytes",
          "[integration][connectors]") {
  auto broker = EmbeddedBroker::start();
  REQUIRE(broker.ok());
  REQUIRE((*broker)->create_topic("counted", 2).ok());
  auto producer = KafkaProducer::create(
      {{"bootstrap.servers", (*broker)->bootstrap()}, {"statistics.interval.ms", "100"}}, nullptr);
  REQUIRE(producer.ok());
  const std::string value(200, 'v');
  for (int i = 0; i < 100; ++i) {
    OutputRecord r;
    r.topic = "counted";
    r.key = "k" + std::to_string(i);
    r.value = value;
    REQUIRE((*producer)->produce(r, nullptr).ok());
  }
  REQUIRE((*producer)->flush(std::chrono::seconds(30)).ok());
  // Reports come every 100 ms from the producer's poll thread. One may land between two
  // produce requests, so wait for the report that counts all 100 values.
  REQUIRE(wait_for([&] { return (*producer)->client_stats().tx_bytes > 100 * value.size(); },
                   std::chrono::seconds(10)));
  const KafkaClientStats sent = (*producer)->client_stats();
  CHECK(sent.reports >= 1);
  CHECK(sent.requests.count("Produce") == 1);
  CHECK(sent.requests.at("Produce") >= 1);
  CHECK(sent.requests.count("Fetch") == 0);

  auto consumer = KafkaConsumer::create({{"bootstrap.servers", (*broker)->bootstrap()},
                                         {"group.id", "stats"},
                                         {"statistics.interval.ms", "100"}});
  REQUIRE(consumer.ok());
  CHECK((*consumer)->client_stats().reports == 0);  // nothing before it polls
  REQUIRE((*consumer)
              ->assign({{TopicPartition{"counted", PartitionId{0}}, StartPosition::kBeginning},
                        {TopicPartition{"counted", PartitionId{1}}, StartPosition::kBeginning}})
              .ok());
  Sink sink;
  (*consumer)->start(&sink);
  REQUIRE(wait_for([&] { return sink.total() == 100; }, std::chrono::seconds(30)));
  // The report after the last fetch counts all 100 values.
  CHECK(wait_for([&] { return (*consumer)->client_stats().rx_bytes > 100 * value.size(); },
                 std::chrono::seconds(10)));
  (*consumer)->stop();
  const KafkaClientStats got = (*consumer)->client_stats();
  CHECK(got.requests.count("Fetch") == 1);
  CHECK(got.requests.at("Fetch") >= 1);
  CHECK(got.requests.count("Produce") == 0);
}

TEST_CASE("request_topic_metadata returns the topics whose metadata arrived",
          "[integration][connectors]") {
  auto broker = EmbeddedBroker::start();
  REQUIRE(broker.ok());
  REQUIRE((*broker)->create_topic("known", 3).ok());
  auto producer = KafkaProducer::create({{"bootstrap.servers", (*broker)->bootstrap()}}, nullptr);
  REQUIRE(producer.ok());
  auto known = request_topic_metadata((*producer)->native_handle(), {"known"},
                                      std::chrono::seconds(10));
  CHECK(known == std::vector<std::string>{"known"});
  // prepare_topics is the same request; records then go out as usual.
  (*producer)->prepare_topics({"known"});
  OutputRecord r;
  r.topic = "known";
  r.value = std::string("v");
  REQUIRE((*producer)->produce(r, nullptr).ok());
  REQUIRE((*producer)->flush(std::chrono::seconds(10)).ok());
  CHECK((*producer)->stats().at("known").produced == 1);
}

TEST_CASE(
    "scan_header reads one header of ranges of partitions and a producer's acknowledged offsets",
    "[integration][connectors]") {
  auto broker = EmbeddedBroker::start();
  REQUIRE(broker.ok());
  REQUIRE((*broker)->create_topic("looked-at", 3).ok());
  const std::string bootstrap = (*broker)->bootstrap();
  auto producer = KafkaProducer::create({{"bootstrap.servers", bootstrap}}, nullptr);
  REQUIRE(producer.ok());
  CHECK((*producer)->acknowledged_offsets("looked-at").empty());
  // Partition 0: 10 records, every other one with the header; partition 1:
  // 5 with it; partition 2: none.
  for (int i = 0; i < 15; ++i) {
    OutputRecord r;
    r.topic = "looked-at";
    r.partition = i < 10 ? 0 : 1;
    r.value = std::string("v");
    if (i >= 10 || i % 2 == 0) r.headers.push_back(Header{"origin", "o" + std::to_string(i)});
    r.headers.push_back(Header{"other", std::string("x")});
    REQUIRE((*producer)->produce(r, nullptr).ok());
  }
  REQUIRE((*producer)->flush(std::chrono::seconds(30)).ok());
  // The highest offset acknowledged per partition; none in partition 2.
  CHECK((*producer)->acknowledged_offsets("looked-at") == std::vector<int64_t>{9, 4});

  std::vector<std::tuple<int32_t, int64_t, std::string>> seen;
  auto collect = [&](int32_t p, int64_t o, std::string_view v) { seen.emplace_back(p, o, v); };
  // Partition 0 from offset 3 to its end; partition 1 up to offset 2; an
  // empty range of partition 2; an end past the partition's end stops there.
  auto read =
      scan_header({{"bootstrap.servers", bootstrap}}, "looked-at",
                  {{0, 3, 100}, {1, 0, 2}, {2, 0, 0}}, "origin", collect, std::chrono::seconds(30));
  REQUIRE(read.ok());
  CHECK(*read == 9);  // 7 of partition 0, 2 of partition 1
  std::sort(seen.begin(), seen.end());
  CHECK(seen == std::vector<std::tuple<int32_t, int64_t, std::string>>{
                    {0, 4, "o4"}, {0, 6, "o6"}, {0, 8, "o8"}, {1, 0, "o10"}, {1, 1, "o11"}});

  // Nothing to read: no client is made.
  seen.clear();
  auto none = scan_header({{"bootstrap.servers", bootstrap}}, "looked-at", {{2, 0, 0}}, "origin",
                          collect, std::chrono::seconds(30));
  REQUIRE(none.ok());
  CHECK(*none == 0);
  // A range that cannot be read to its end in time (a partition the topic
  // does not have) is an error.
  auto missing = scan_header({{"bootstrap.servers", bootstrap}}, "looked-at", {{7, 0, 5}}, "origin",
                             collect, std::chrono::milliseconds(1500));
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message, Catch::Contains("looked-at") && Catch::Contains("7"));
  CHECK(seen.empty());
}

// kBeginning and kEnd are resolved to offsets when assigned (one
// ListOffsets per broker) instead of by the consumer once it starts
// fetching, which librdkafka 2.0 retries only after 500 ms when the
// partition has not joined its leader's broker thread yet.
TEST_CASE("logical start offsets become the offsets they stand for when assigned",
          "[integration][connectors]") {
  auto broker = EmbeddedBroker::start();
  REQUIRE(broker.ok());
  REQUIRE((*broker)->create_topic("logical", 4).ok());
  REQUIRE((*broker)->create_topic("logical-late", 1).ok());
  auto producer = KafkaProducer::create({{"bootstrap.servers", (*broker)->bootstrap()}}, nullptr);
  REQUIRE(producer.ok());
  auto write = [&](const std::string& topic, const std::string& prefix, int n, int partitions) {
    std::map<int32_t, int64_t> written;
    for (int i = 0; i < n; ++i) {
      OutputRecord r;
      r.topic = topic;
      r.key = "k" + std::to_string(i);
      r.value = prefix + std::to_string(i);
      REQUIRE((*producer)->produce(r, nullptr).ok());
      ++written[java_partition(*r.key, partitions)];
    }
    REQUIRE((*producer)->flush(std::chrono::seconds(30)).ok());
    return written;
  };
  auto old_records = write("logical", "old", 40, 4);
  REQUIRE(old_records.size() == 4);
  write("logical-late", "old", 3, 1);

  SECTION("the consumer starts where BEGINNING and END stood, and reads from there") {
    auto consumer = KafkaConsumer::create({{"bootstrap.servers", (*broker)->bootstrap()},
                                           {"group.id", "logical"},
                                           {"fetch.wait.max.ms", "10"}});
    REQUIRE(consumer.ok());
    auto tp = [](int32_t p) { return TopicPartition{"logical", PartitionId{p}}; };
    REQUIRE((*consumer)
                ->assign({{tp(0), StartPosition::kBeginning},
                          {tp(1), StartPosition::kBeginning},
                          {tp(2), StartPosition::kEnd},
                          {tp(3), StartPosition::kEnd}})
                .ok());
    auto position = [&](const TopicPartition& t) {
      for (const auto& s : (*consumer)->all_stats())
        if (s.tp == t) return s.position;
      return int64_t{-100};
    };
    CHECK(position(tp(0)) == 0);
    CHECK(position(tp(1)) == 0);
    CHECK(position(tp(2)) == old_records[2]);
    CHECK(position(tp(3)) == old_records[3]);

    auto new_records = write("logical", "new", 40, 4);
    Sink sink;
    (*consumer)->start(&sink);
    const size_t expected = static_cast<size_t>(old_records[0] + old_records[1] + 40);
    REQUIRE(wait_for([&] { return sink.total() >= expected; }, std::chrono::seconds(60)));
    const TopicPartition late{"logical-late", PartitionId{0}};
    REQUIRE((*consumer)->add_partitions({{late, StartPosition::kEnd}}).ok());
    CHECK(position(late) == 3);
    (*consumer)->stop();
    std::lock_guard<std::mutex> lock(sink.mutex);
    CHECK(sink.got.count(late) == 0);
    for (int32_t p = 0; p < 4; ++p) {
      INFO("partition " << p);
      const auto& got = sink.got[tp(p)];
      const bool from_beginning = p < 2;
      REQUIRE(static_cast<int64_t>(got.size()) ==
              (from_beginning ? old_records[p] : 0) + new_records[p]);
      for (size_t i = 0; i < got.size(); ++i) {
        const bool old_one = from_beginning && static_cast<int64_t>(i) < old_records[p];
        CHECK(got[i].value->rfind(old_one ? "old" : "new", 0) == 0);
      }
    }
  }

  SECTION("a lookup that fails leaves the offset to librdkafka, which still reads from it") {
    // The next ListOffsets (api key 2) answers with an error that is not
    // retried: ours fails, the consumer's own lookup later succeeds.
    REQUIRE((*broker)
                ->apply(ControlRequest::push_request_errors(
                    2, {RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED}))
                .ok());
    auto consumer = KafkaConsumer::create({{"bootstrap.servers", (*broker)->bootstrap()},
                                           {"group.id", "logical-fallback"},
                                           {"fetch.wait.max.ms", "10"}});
    REQUIRE(consumer.ok());
    const TopicPartition late{"logical-late", PartitionId{0}};
    REQUIRE((*consumer)->assign({{late, StartPosition::kBeginning}}).ok());
    CHECK((*consumer)->all_stats().at(0).position == -1);  // left logical
    Sink sink;
    (*consumer)->start(&sink);
    REQUIRE(wait_for([&] { return sink.total() >= 3; }, std::chrono::seconds(60)));
    (*consumer)->stop();
    CHECK(sink.total() == 3);
  }

  SECTION("COMMITTED-ELSE-END takes a committed offset, else the end, which it commits") {
    auto tp = [](int32_t p) { return TopicPartition{"logical", PartitionId{p}}; };
    const KafkaProperties props{{"bootstrap.servers", (*broker)->bootstrap()},
                                {"group.id", "else-end"},
                                {"fetch.wait.max.ms", "10"}};
    {  // the group committed offset 1 of partition 0, nothing of the others
      auto committer = KafkaConsumer::create(props);
      REQUIRE(committer.ok());
      REQUIRE((*committer)->commit_sync({{tp(0), Offset{1}}}).ok());
    }
    auto consumer = KafkaConsumer::create(props);
    REQUIRE(consumer.ok());
    REQUIRE((*consumer)
                ->assign({{tp(0), StartPosition::kCommittedElseEnd},
                          {tp(1), StartPosition::kCommittedElseEnd},
                          {tp(2), StartPosition::kCommitted}})
                .ok());
    std::map<TopicPartition, int64_t> position;
    for (const auto& s : (*consumer)->all_stats()) position[s.tp] = s.position;
    CHECK(position[tp(0)] == 1);
    CHECK(position[tp(1)] == old_records[1]);
    CHECK(position[tp(2)] == 0);  // plain COMMITTED: the beginning
    // The end found is the group's committed offset now: another owner of
    // partition 1 starts there, after records written since.
    auto committed = (*consumer)->committed({tp(0), tp(1), tp(2)}, std::chrono::seconds(10));
    REQUIRE(committed.ok());
    CHECK(*committed ==
          std::map<TopicPartition, Offset>{{tp(0), Offset{1}}, {tp(1), Offset{old_records[1]}}});
    auto new_records = write("logical", "new", 40, 4);
    Sink sink;
    (*consumer)->start(&sink);
    const size_t expected = static_cast<size_t>(old_records[0] - 1 + new_records[0] +
                                                new_records[1] + old_records[2] + new_records[2]);
    REQUIRE(wait_for([&] { return sink.total() >= expected; }, std::chrono::seconds(60)));
    (*consumer)->stop();
    CHECK(sink.total() == expected);
    {
      std::lock_guard<std::mutex> lock(sink.mutex);
      for (const auto& r : sink.got[tp(1)]) CHECK(r.value->rfind("new", 0) == 0);
      CHECK(sink.got[tp(0)].front().offset == 1);
    }

    auto later = KafkaConsumer::create(props);
    REQUIRE(later.ok());
    REQUIRE((*later)->assign({{tp(1), StartPosition::kCommittedElseEnd}}).ok());
    CHECK((*later)->all_stats().at(0).position == old_records[1]);
  }

  SECTION("COMMITTED-ELSE-END is an error when the end cannot be read") {
    // The next ListOffsets (api key 2) fails, and is not retried.
    REQUIRE((*broker)
                ->apply(ControlRequest::push_request_errors(
                    2, {RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED}))
                .ok());
    auto consumer = KafkaConsumer::create({{"bootstrap.servers", (*broker)->bootstrap()},
                                           {"group.id", "else-end-missing"},
                                           {"fetch.wait.max.ms", "10"}},
                                          ConsumerOptions{});
    REQUIRE(consumer.ok());
    auto assigned = (*consumer)->assign(
        {{TopicPartition{"logical", PartitionId{2}}, StartPosition::kCommittedElseEnd}});
    REQUIRE_FALSE(assigned.ok());
    CHECK_THAT(assigned.error().to_string(), Catch::Contains("reading the end offset failed") &&
                                                 Catch::Contains("logical[2]") &&
                                                 Catch::Contains("authoriz"));
    // Nothing committed: the next assignment looks for the end again.
    auto committed = (*consumer)->committed({TopicPartition{"logical", PartitionId{2}}},
                                            std::chrono::seconds(10));
    REQUIRE(committed.ok());
    CHECK(committed->empty());
  }

  SECTION("resolve_logical_offsets leaves absolute offsets, and what it cannot resolve, alone") {
    auto conf = make_conf({{"bootstrap.servers", (*broker)->bootstrap()}, {"group.id", "raw"}});
    REQUIRE(conf.ok());
    char errstr[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), errstr, sizeof errstr);
    REQUIRE(rk != nullptr);
    conf->release();
    TopicPartitionListPtr list(rd_kafka_topic_partition_list_new(4));
    rd_kafka_topic_partition_list_add(list.get(), "logical", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_topic_partition_list_add(list.get(), "logical", 1)->offset = 1;
    rd_kafka_topic_partition_list_add(list.get(), "logical", 2)->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_topic_partition_list_add(list.get(), "logical", 9)->offset = RD_KAFKA_OFFSET_END;
    // A partition the topic does not have fails alone.
    CHECK(resolve_logical_offsets(rk, list.get(), std::chrono::seconds(10)) == 2);
    CHECK(list->elems[0].offset == 0);
    CHECK(list->elems[1].offset == 1);
    CHECK(list->elems[2].offset == old_records[2]);
    CHECK(list->elems[3].offset == RD_KAFKA_OFFSET_END);
    rd_kafka_destroy(rk);
  }
}

// The loader a cluster node runs for task 0 (cluster/source_loading.hpp):
// while `may_write` is false it takes nothing from its hooks and writes
// nothing; a second loader over the same topic is first told which lines
// the topic holds (restore_stream), so it can go on without writing any
// line again.
TEST_CASE("source loader: may_write holds it still, and the next loader restores the lines written",
          "[integration][connectors]") {
  using namespace rivulet::connectors;
  auto broker = EmbeddedBroker::start();
  REQUIRE(broker.ok());
  const KafkaProperties props{{"bootstrap.servers", (*broker)->bootstrap()}};
  std::atomic<bool> allowed{false};
  std::atomic<int> polls{0};
  int64_t next_line = 1;
  SourceLoaderHooks hooks;
  hooks.poll = [&](const std::function<void(LoaderRecord &&)>& emit, size_t max) {
    polls.fetch_add(1);
    for (size_t i = 0; i < max && next_line <= 10; ++i, ++next_line) {
      LoaderRecord r;
      r.record.topic = "lines";
      r.record.key = "k" + std::to_string(next_line);
      r.record.value = "v" + std::to_string(next_line);
      r.line = next_line;
      emit(std::move(r));
    }
    return false;
  };
  SourceLoaderOptions options;
  options.poll_interval = std::chrono::milliseconds(20);
  options.chunk = 4;
  options.may_write = [&] { return allowed.load(); };
  auto loader = SourceLoader::start(props, {{"lines", 2, false}}, hooks, options);
  REQUIRE(loader.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(polls.load() == 0);
  CHECK((*loader)->records_written() == 0);
  allowed = true;
  CHECK(rivulet::testing::wait_for([&] { return (*loader)->records_written() == 10; },
                                   std::chrono::seconds(10)));
  (*loader)->stop();
  CHECK(!(*loader)->failure());

  int64_t complete = -1;
  std::set<int64_t> present;
  SourceLoaderHooks second;
  second.restore_stream = [&](const std::string& topic, int64_t through, std::set<int64_t> lines) {
    CHECK(topic == "lines");
    complete = through;
    present = std::move(lines);
  };
  second.poll = [](const std::function<void(LoaderRecord &&)>&, size_t) { return false; };
  auto next = SourceLoader::start(props, {{"lines", 2, false}}, second, options);
  REQUIRE(next.ok());
  (*next)->stop();
  // Lines 1-8 were durable before the last chunk (9-10) began; both of its
  // lines are in the topic too.
  CHECK(complete == 8);
  CHECK(present == std::set<int64_t>{9, 10});
}
