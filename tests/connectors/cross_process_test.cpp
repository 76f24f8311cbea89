// The connectors across a process boundary: `rivulet broker` in a child
// process (topic creation and fault injection through its control channel),
// kcat as an independent client on either side of our consumer and producer,
// and loud reporting of offsets out of range.
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "broker_fixture.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/topic_admin.hpp"
#include "partitioning/murmur2.hpp"
#include "support/wait_for.hpp"

using namespace rivulet;
using namespace rivulet::connectors;
using rivulet::testing::BrokerProcess;
using rivulet::testing::run_command;
using Clock = std::chrono::steady_clock;

namespace {

class CollectingSink : public BatchSink {
 public:
  bool offer(RawBatch&& batch) override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& records = got_[batch.tp];
    for (const auto& r : batch.records) records.push_back(r);  // a copy owns its bytes
    return true;
  }
  size_t total() {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t n = 0;
    for (const auto& [tp, records] : got_) n += records.size();
    return n;
  }
  std::map<TopicPartition, std::vector<RawRecord>> snapshot() {
    std::lock_guard<std::mutex> lock(mutex_);
    return got_;
  }

 private:
  std::mutex mutex_;
  std::map<TopicPartition, std::vector<RawRecord>> got_;
};

class CountingHandler : public DeliveryHandler {
 public:
  void on_delivery(void*, const std::optional<Error>& error, int32_t, int64_t) override {
    std::lock_guard<std::mutex> lock(mutex);
    if (error) {
      errors.push_back(error->to_string());
    } else {
      ++delivered;
    }
  }
  std::mutex mutex;
  int delivered = 0;
  std::vector<std::string> errors;
};

using rivulet::testing::wait_for;

std::unique_ptr<TopicAdmin> admin_for(const std::string& bootstrap) {
  auto admin = TopicAdmin::create({{"bootstrap.servers", bootstrap}});
  REQUIRE(admin.ok());
  return std::move(*admin);
}

// Reads every partition of `topic` from the beginning until `expected`
// records arrived (or the deadline passed); returns them per partition.
std::map<TopicPartition, std::vector<RawRecord>> read_all(const std::string& bootstrap,
                                                          const std::string& topic,
                                                          int32_t partitions, size_t expected) {
  auto consumer =
      KafkaConsumer::create({{"bootstrap.servers", bootstrap}, {"group.id", "reader-" + topic}});
  REQUIRE(consumer.ok());
  std::vector<StartPosition> positions;
  for (int32_t p = 0; p < partitions; ++p) {
    positions.push_back({TopicPartition{topic, PartitionId{p}}, StartPosition::kBeginning});
  }
  REQUIRE((*consumer)->assign(positions).ok());
  CollectingSink sink;
  (*consumer)->start(&sink);
  const bool complete =
      wait_for([&] { return sink.total() >= expected; }, std::chrono::seconds(15));
  // Anything beyond `expected` would arrive right behind it.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  (*consumer)->stop();
  INFO("read " << sink.total() << " of " << expected << " records from " << topic);
  CHECK(complete);
  CHECK(sink.total() == expected);
  return sink.snapshot();
}

OutputRecord keyed(const std::string& topic, int i) {
  OutputRecord r;
  r.topic = topic;
  r.key = "key-" + std::to_string(i % 53);
  r.value = "value-" + std::to_string(i);
  return r;
}

}  // namespace

TEST_CASE(
    "rivulet broker prints its bootstrap list first, creates --topic topics, stops on signals",
    "[integration][connectors][broker]") {
  auto broker = BrokerProcess::start({"--brokers", "2", "--topic", "pre:5", "--topic", "one:1"});
  auto admin = admin_for(broker->bootstrap());
  CHECK((*admin).partition_count("pre").value() == std::optional<int32_t>(5));
  CHECK((*admin).partition_count("one").value() == std::optional<int32_t>(1));
  // Two brokers, two host:port entries.
  CHECK(std::count(broker->bootstrap().begin(), broker->bootstrap().end(), ',') == 1);
  CHECK(broker->stop(SIGTERM) == 0);

  auto again = BrokerProcess::start();
  CHECK(std::count(again->bootstrap().begin(), again->bootstrap().end(), ',') == 2);  // 3 brokers
  CHECK(again->stop(SIGINT) == 0);
}

TEST_CASE("rivulet broker rejects a malformed --topic", "[integration][connectors][broker]") {
  const std::string cmd = rivulet::testing::rivulet_binary() + " broker --topic";
  // Were the flag accepted, the broker would run until timeout(1) ends it (124).
  CHECK(run_command(cmd + " nocount 2>/dev/null", "", 10).first == 2);
  CHECK(run_command(cmd + " t:0 2>/dev/null", "", 10).first == 2);
  CHECK(run_command(cmd + " :4 2>/dev/null", "", 10).first == 2);
  // A count with anything after its digits (read as 3 by atoi once).
  CHECK(run_command(cmd + " t:3x 2>/dev/null", "", 10).first == 2);
  CHECK(run_command(cmd + " t:99999999999 2>/dev/null", "", 10).first == 2);
  CHECK(run_command(cmd + " 'bad name:4' 2>/dev/null", "", 10).first != 0);
}

TEST_CASE("ensure_topic from another process creates the topic through the control channel",
          "[integration][connectors][broker]") {
  auto broker = BrokerProcess::start();
  auto admin = admin_for(broker->bootstrap());
  REQUIRE(admin->is_embedded_broker().value());
  REQUIRE_FALSE(admin->partition_count("eight").value().has_value());

  auto created = admin->ensure_topic("eight", 8);
  INFO((created.ok() ? std::string() : created.error().to_string()));
  REQUIRE(created.ok());
  CHECK(admin->partition_count("eight").value() == std::optional<int32_t>(8));
  for (int32_t p = 0; p < 8; ++p) {
    auto marks = admin->watermarks(TopicPartition{"eight", PartitionId{p}});
    REQUIRE(marks.ok());
    CHECK(*marks == std::make_pair(int64_t{0}, int64_t{0}));
  }
  CHECK_FALSE(admin->watermarks(TopicPartition{"eight", PartitionId{8}}).ok());
  // Asking did not create it.
  CHECK_FALSE(admin->watermarks(TopicPartition{"never-made", PartitionId{0}}).ok());
  CHECK_FALSE(admin->partition_count("never-made").value().has_value());

  CHECK(admin->ensure_topic("eight", 8).ok());  // same count: nothing to do
  auto mismatch = admin->ensure_topic("eight", 3);
  REQUIRE_FALSE(mismatch.ok());
  CHECK_THAT(mismatch.error().message, Catch::Contains("'eight'") &&
                                           Catch::Contains("8 partitions") &&
                                           Catch::Contains("3 were requested"));
  CHECK_FALSE(admin->ensure_topic("no spaces", 2).ok());
  CHECK_FALSE(admin->ensure_topic("zero", 0).ok());
  CHECK_FALSE(admin->partition_count("zero").value().has_value());

  // A second admin (another client) sees the same topic.
  CHECK(admin_for(broker->bootstrap())->partition_count("eight").value() ==
        std::optional<int32_t>(8));
}

TEST_CASE("faults injected through the control channel lose no produced record",
          "[integration][connectors][broker]") {
  auto broker = BrokerProcess::start();
  auto admin = admin_for(broker->bootstrap());
  REQUIRE(admin->ensure_topic("faults", 3).ok());

  auto unknown = admin->control(ControlRequest::broker_down(99));
  REQUIRE_FALSE(unknown.ok());
  CHECK_THAT(unknown.error().message,
             Catch::Contains("refused") && Catch::Contains("BROKER_NOT_AVAILABLE"));
  auto channel = admin->control(ControlRequest::broker_down(kControlChannelBroker));
  REQUIRE_FALSE(channel.ok());
  CHECK_THAT(channel.error().message, Catch::Contains("control channel"));
  auto absent = admin->control(ControlRequest::set_leader("absent", 0, 2));
  REQUIRE_FALSE(absent.ok());
  CHECK_FALSE(admin->partition_count("absent").value().has_value());  // not auto-created
  CHECK(admin->control(ControlRequest::set_leader("faults", 0, 2)).ok());
  CHECK(admin->control(ControlRequest::set_rtt(3, 5)).ok());

  CountingHandler acks;
  auto producer = KafkaProducer::create({{"bootstrap.servers", broker->bootstrap()}}, &acks);
  REQUIRE(producer.ok());
  // Three produce requests fail (ApiKey 0 = Produce); librdkafka retries them.
  REQUIRE(admin
              ->control(ControlRequest::push_request_errors(
                  0, {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT}))
              .ok());
  const int records = 600;
  for (int i = 0; i < records / 2; ++i)
    REQUIRE((*producer)->produce(keyed("faults", i), nullptr).ok());
  REQUIRE((*producer)->flush(std::chrono::seconds(15)).ok());

  // A broker down while producing: its partitions wait until it is back.
  REQUIRE(admin->control(ControlRequest::broker_down(2)).ok());
  for (int i = records / 2; i < records; ++i) {
    REQUIRE((*producer)->produce(keyed("faults", i), nullptr).ok());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  REQUIRE(admin->control(ControlRequest::broker_up(2)).ok());
  REQUIRE((*producer)->flush(std::chrono::seconds(15)).ok());
  {
    std::lock_guard<std::mutex> lock(acks.mutex);
    CHECK(acks.errors.empty());
    CHECK(acks.delivered == records);
  }

  auto got = read_all(broker->bootstrap(), "faults", 3, records);
  std::multiset<std::string> values;
  for (const auto& [tp, recs] : got) {
    for (const auto& r : recs) {
      values.insert(std::string(*r.value));
      CHECK(java_partition(*r.key, 3) == tp.partition.value());
    }
  }
  CHECK(values.size() == static_cast<size_t>(records));
  for (int i = 0; i < records; ++i) CHECK(values.count("value-" + std::to_string(i)) == 1);
}

TEST_CASE("kcat writes keyed records and our consumer reads them where Java puts them",
          "[integration][connectors][kcat]") {
  auto broker = BrokerProcess::start();
  REQUIRE(admin_for(broker->bootstrap())->ensure_topic("from-kcat", 4).ok());
  const int records = 400;
  std::string input;
  for (int i = 0; i < records; ++i) {
    input += "user-" + std::to_string(i % 37) + ":payload-" + std::to_string(i) + "\n";
  }
  // murmur2_random: the Java client's partitioner, as every Rivulet producer uses.
  auto [rc, out] = run_command(
      "kcat -b " + broker->bootstrap() + " -X partitioner=murmur2_random -P -t from-kcat -K:",
      input, 30);
  REQUIRE(rc == 0);

  auto got = read_all(broker->bootstrap(), "from-kcat", 4, records);
  std::set<int> seen;
  for (const auto& [tp, recs] : got) {
    std::map<std::string, int> last_per_key;
    for (size_t i = 0; i < recs.size(); ++i) {
      const RawRecord& r = recs[i];
      REQUIRE(r.key.has_value());
      REQUIRE(r.value.has_value());
      CHECK(java_partition(*r.key, 4) == tp.partition.value());
      const int n = std::stoi(std::string(r.value->substr(std::string("payload-").size())));
      CHECK(*r.key == "user-" + std::to_string(n % 37));
      seen.insert(n);
      // kcat wrote one key's records in order; they read back in order.
      auto [it, fresh] = last_per_key.emplace(*r.key, n);
      if (!fresh) {
        CHECK(n > it->second);
        it->second = n;
      }
      if (i > 0) CHECK(r.offset == recs[i - 1].offset + 1);
    }
  }
  CHECK(seen.size() == static_cast<size_t>(records));
}

TEST_CASE("our producer writes and kcat reads the same records back",
          "[integration][connectors][kcat]") {
  auto broker = BrokerProcess::start();
  REQUIRE(admin_for(broker->bootstrap())->ensure_topic("to-kcat", 3).ok());
  CountingHandler acks;
  auto producer = KafkaProducer::create({{"bootstrap.servers", broker->bootstrap()}}, &acks);
  REQUIRE(producer.ok());
  const int records = 300;
  for (int i = 0; i < records; ++i) {
    OutputRecord r = keyed("to-kcat", i);
    r.headers = {Header{"source", std::string("rivulet")}};
    REQUIRE((*producer)->produce(r, nullptr).ok());
  }
  REQUIRE((*producer)->flush(std::chrono::seconds(15)).ok());
  {
    std::lock_guard<std::mutex> lock(acks.mutex);
    REQUIRE(acks.delivered == records);
  }

  auto [rc, out] = run_command(
      "kcat -b " + broker->bootstrap() + " -C -t to-kcat -o beginning -e -q -f '%p|%k|%s|%h\\n'",
      "", 30);
  REQUIRE(rc == 0);
  std::istringstream lines(out);
  std::string line;
  std::set<std::string> values;
  int count = 0;
  while (std::getline(lines, line)) {
    std::vector<std::string> fields;
    std::stringstream parts(line);
    for (std::string f; std::getline(parts, f, '|');) fields.push_back(f);
    REQUIRE(fields.size() == 4);
    ++count;
    const int partition = std::stoi(fields[0]);
    CHECK(java_partition(fields[1], 3) == partition);
    const int n = std::stoi(fields[2].substr(std::string("value-").size()));
    CHECK(fields[1] == "key-" + std::to_string(n % 53));
    CHECK_THAT(fields[3], Catch::Contains("source=rivulet"));
    values.insert(fields[2]);
  }
  CHECK(count == records);
  CHECK(values.size() == static_cast<size_t>(records));
}

TEST_CASE("reading from an offset the partition does not have is reported, never skipped",
          "[integration][connectors]") {
  auto broker = rivulet::testing::start_in_process_broker(1);
  REQUIRE(broker->create_topic("short", 1).ok());
  auto producer = KafkaProducer::create({{"bootstrap.servers", broker->bootstrap()}}, nullptr);
  REQUIRE(producer.ok());
  for (int i = 0; i < 10; ++i) REQUIRE((*producer)->produce(keyed("short", i), nullptr).ok());
  REQUIRE((*producer)->flush(std::chrono::seconds(10)).ok());

  std::mutex mutex;
  std::vector<Error> errors;
  ConsumerOptions options;
  options.on_error = [&](const Error& e) {
    std::lock_guard<std::mutex> lock(mutex);
    errors.push_back(e);
  };
  auto consumer = KafkaConsumer::create(
      {{"bootstrap.servers", broker->bootstrap()}, {"group.id", "oor"}}, options);
  REQUIRE(consumer.ok());
  const TopicPartition tp{"short", PartitionId{0}};
  REQUIRE((*consumer)->assign({{tp, 1000}}).ok());
  CollectingSink sink;
  (*consumer)->start(&sink);
  REQUIRE(wait_for(
      [&] {
        std::lock_guard<std::mutex> lock(mutex);
        return !errors.empty();
      },
      std::chrono::seconds(10)));
  (*consumer)->stop();
  std::lock_guard<std::mutex> lock(mutex);
  const Error& e = errors.front();
  INFO(e.to_string());
  CHECK(e.kind == ErrorKind::Fatal);
  CHECK(e.context.topic == "short");
  CHECK(e.context.partition == 0);
  CHECK_THAT(e.message, Catch::Contains("records lost"));
  CHECK((*consumer)->stats(tp).errors >= 1);
  CHECK((*consumer)->total_errors() >= 1);
  // Nothing was delivered from a position the consumer made up.
  CHECK(sink.total() == 0);
}
