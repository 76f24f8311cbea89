// The Kafka checkpoint store against the embedded broker: chunked snapshots
// spread over partitions and restored by another store (another node), torn
// writes (chunks without a manifest, a manifest whose chunks are missing, a
// writer SIGKILLed between its chunks and its manifest), damaged chunks,
// keep-K with tombstones, and incremental chains.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>

#include "checkpoint/kafka_store.hpp"
#include "connectors/broker_fixture.hpp"
#include "connectors/kafka_producer.hpp"

using namespace rivulet;
using namespace rivulet::checkpoint;

namespace {

const TaskId kTask{"shop", PartitionId(3)};

std::string random_bytes(std::size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

Snapshot snapshot_for(const TaskId& task, int64_t id, std::size_t state_bytes = 100,
                      std::optional<int64_t> parent = std::nullopt) {
  Snapshot s;
  s.task = task;
  s.id = CheckpointId(id);
  s.epoch = Epoch(7);
  s.stream_time = 1000 * id;
  s.created_at = 2000 * id;
  s.input_offsets[TopicPartition{"orders", task.partition}] = Offset(100 * id);
  s.sections.emplace_back("table", random_bytes(state_bytes, static_cast<uint64_t>(id)));
  if (parent) {
    s.incremental = true;
    s.base = CheckpointId(*parent);
  }
  return s;
}

std::unique_ptr<KafkaStore> open_store(const std::string& bootstrap, const std::string& topic,
                                       std::size_t chunk_bytes = 1024, int32_t partitions = 4) {
  KafkaStoreOptions options;
  options.topic = topic;
  options.partitions = partitions;
  options.chunk_bytes = chunk_bytes;
  options.timeout = std::chrono::seconds(20);
  options.producer["bootstrap.servers"] = bootstrap;
  options.consumer["bootstrap.servers"] = bootstrap;
  auto store = KafkaStore::open(options);
  INFO((store.ok() ? std::string() : store.error().to_string()));
  REQUIRE(store.ok());
  return std::move(*store);
}

std::vector<CheckpointId> ids(std::initializer_list<int64_t> values) {
  std::vector<CheckpointId> out;
  for (auto v : values) out.push_back(CheckpointId(v));
  return out;
}

// Produces raw records (to forge torn writes) and remembers their offsets.
class RawWriter : public connectors::DeliveryHandler {
 public:
  explicit RawWriter(const std::string& bootstrap) {
    auto p = connectors::KafkaProducer::create({{"bootstrap.servers", bootstrap}}, this);
    REQUIRE(p.ok());
    producer_ = std::move(*p);
  }
  void on_delivery(void* opaque, const std::optional<Error>& e, int32_t, int64_t offset) override {
    if (e) failures_++;
    offsets_[reinterpret_cast<intptr_t>(opaque)] = offset;
  }
  int64_t put(const std::string& topic, int32_t partition, const std::string& key,
              const std::string& value) {
    OutputRecord r;
    r.topic = topic;
    r.partition = partition;
    r.key = key;
    r.value = value;
    const intptr_t n = ++count_;
    REQUIRE(producer_->produce(r, reinterpret_cast<void*>(n)).ok());
    REQUIRE(producer_->flush(std::chrono::seconds(20)).ok());
    REQUIRE(failures_ == 0);
    return offsets_.at(n);
  }

 private:
  std::unique_ptr<connectors::KafkaProducer> producer_;
  std::map<intptr_t, int64_t> offsets_;
  intptr_t count_ = 0;
  int failures_ = 0;
};

}  // namespace

TEST_CASE("kafka store: a snapshot larger than a chunk spreads over the partitions and another store restores it",
          "[integration][checkpoint][kafka]") {
  auto broker = testing::start_in_process_broker(1);
  const std::string topic = testing::unique_topic("ckpt");
  auto a = open_store(broker->bootstrap(), topic, 1024, 4);
  CHECK(a->partitions() == 4);
  CHECK(a->list(kTask)->empty());
  const Snapshot s1 = snapshot_for(kTask, 1, 20000);
  const Snapshot s2 = snapshot_for(kTask, 2, 30000);
  auto w1 = a->write(s1);
  REQUIRE(w1.ok());
  CHECK(*w1 == encode(s1).size());
  REQUIRE(a->write(s2).ok());
  auto m = a->manifest(kTask, CheckpointId(2));
  REQUIRE(m);
  CHECK(m->chunks.size() == (encode(s2).size() + 1023) / 1024);
  std::set<int32_t> used;
  for (const auto& c : m->chunks) {
    CHECK(c.size <= 1024u);
    used.insert(c.partition);
  }
  CHECK(used.size() == 4);
  CHECK(m->chunks.front().partition == home_partition(kTask, 4));

  // Another node: a fresh store with nothing in memory finds both by reading the topic.
  auto b = open_store(broker->bootstrap(), topic, 4096, 16);
  CHECK(b->partitions() == 4);  // the existing topic's count wins
  CHECK(*b->list(kTask) == ids({2, 1}));
  auto r2 = b->read(kTask, CheckpointId(2));
  REQUIRE(r2.ok());
  CHECK(*r2 == s2);
  auto latest = b->load_latest_valid(kTask);
  REQUIRE(latest.ok());
  REQUIRE(latest->has_value());
  CHECK(**latest == s2);
  // Other tasks are not mixed in.
  CHECK(b->list(TaskId{"shop", PartitionId(4)})->empty());
  CHECK(b->list(TaskId{"shop-3", PartitionId(3)})->empty());
}

TEST_CASE("kafka store: torn writes are ignored and the previous checkpoint is restored",
          "[integration][checkpoint][kafka]") {
  auto broker = testing::start_in_process_broker(1);
  const std::string topic = testing::unique_topic("ckpt");
  auto a = open_store(broker->bootstrap(), topic, 1024, 4);
  const Snapshot s1 = snapshot_for(kTask, 1, 5000);
  const Snapshot s2 = snapshot_for(kTask, 2, 5000);
  REQUIRE(a->write(s1).ok());
  REQUIRE(a->write(s2).ok());
  const int32_t home = home_partition(kTask, 4);
  RawWriter raw(broker->bootstrap());

  // Checkpoint 3: all chunks but the last written, then the writer died: no manifest.
  const std::string image3 = encode(snapshot_for(kTask, 3, 5000));
  const uint32_t count3 = static_cast<uint32_t>((image3.size() + 1023) / 1024);
  for (uint32_t i = 0; i + 1 < count3; ++i) {
    raw.put(topic, static_cast<int32_t>((home + static_cast<int32_t>(i)) % 4),
            chunk_key(kTask, CheckpointId(3), i),
            encode_chunk(CheckpointId(3), i, count3, std::string_view(image3).substr(i * 1024, 1024)));
  }
  // Checkpoint 4: a manifest naming chunks of which one never arrived (its
  // offset is past the partition's end) and one offset holds another record.
  const std::string image4 = encode(snapshot_for(kTask, 4, 1500));
  REQUIRE(image4.size() > 1024);
  REQUIRE(image4.size() <= 2048);
  Manifest m4;
  m4.task = kTask;
  m4.id = CheckpointId(4);
  m4.epoch = Epoch(7);
  m4.total_bytes = image4.size();
  for (uint32_t i = 0; i * 1024 < image4.size(); ++i) {
    const auto piece = std::string_view(image4).substr(i * 1024, 1024);
    const std::string value = encode_chunk(CheckpointId(4), i, 2, piece);
    ChunkLocation loc;
    loc.partition = (home + static_cast<int32_t>(i)) % 4;
    loc.size = static_cast<uint32_t>(piece.size());
    loc.checksum = decode_chunk(value)->checksum;
    if (i == 0) {
      loc.offset = raw.put(topic, loc.partition, chunk_key(kTask, CheckpointId(4), i), value);
    } else {
      loc.offset = 1000000;  // never written
    }
    m4.chunks.push_back(loc);
  }
  REQUIRE(m4.chunks.size() == 2);
  raw.put(topic, home, manifest_key(kTask, CheckpointId(4)), encode_manifest(m4));

  // Restored on another node.
  auto b = open_store(broker->bootstrap(), topic, 1024, 4);
  CHECK(*b->list(kTask) == ids({4, 2, 1}));  // 3 has no manifest: never listed
  auto r4 = b->read(kTask, CheckpointId(4));
  REQUIRE_FALSE(r4.ok());
  CHECK(r4.error().kind == ErrorKind::Data);
  CHECK(r4.error().message.find("chunk 1") != std::string::npos);
  CHECK(r4.error().message.find("missing") != std::string::npos);
  auto chain = b->load_latest_chain(kTask);
  REQUIRE(chain.ok());
  REQUIRE(chain->has_value());
  REQUIRE((*chain)->size() == 1);
  CHECK((*chain)->front() == s2);
  // The next id is above every listed one, the damaged one included.
  CHECK(next_checkpoint_id(*b->list(kTask)) == CheckpointId(5));
}

TEST_CASE("kafka store: a writer SIGKILLed after its chunks, before the manifest, leaves the previous checkpoint newest",
          "[integration][checkpoint][kafka]") {
  // The broker is another process and this one makes no Kafka client before
  // forking, so the child starts clean.
  auto broker = testing::BrokerProcess::start();
  const std::string topic = testing::unique_topic("ckpt");
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    KafkaStoreOptions options;
    options.topic = topic;
    options.partitions = 4;
    options.chunk_bytes = 1024;
    options.producer["bootstrap.servers"] = broker->bootstrap();
    options.consumer["bootstrap.servers"] = broker->bootstrap();
    auto store = KafkaStore::open(options);
    if (!store || !(*store)->write(snapshot_for(kTask, 1, 3000))) ::_exit(3);
    ::setenv("RIVULET_FAULT", "checkpoint-after-chunks", 1);
    (void)(*store)->write(snapshot_for(kTask, 2, 3000));
    ::_exit(4);  // not reached: the fault hook kills the process
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  auto store = open_store(broker->bootstrap(), topic, 1024, 4);
  CHECK(*store->list(kTask) == ids({1}));
  auto latest = store->load_latest_valid(kTask);
  REQUIRE(latest.ok());
  REQUIRE(latest->has_value());
  CHECK(**latest == snapshot_for(kTask, 1, 3000));
}

TEST_CASE("kafka store: a damaged chunk or manifest is skipped with its reason, the previous one restored",
          "[integration][checkpoint][kafka]") {
  auto broker = testing::start_in_process_broker(1);
  const std::string topic = testing::unique_topic("ckpt");
  auto a = open_store(broker->bootstrap(), topic, 1024, 4);
  REQUIRE(a->write(snapshot_for(kTask, 1, 3000)).ok());
  const int32_t home = home_partition(kTask, 4);
  RawWriter raw(broker->bootstrap());
  // Checkpoint 2: complete, but one chunk's payload has a flipped byte.
  const std::string image = encode(snapshot_for(kTask, 2, 3000));
  const uint32_t count = static_cast<uint32_t>((image.size() + 1023) / 1024);
  Manifest m;
  m.task = kTask;
  m.id = CheckpointId(2);
  m.epoch = Epoch(7);
  m.total_bytes = image.size();
  for (uint32_t i = 0; i < count; ++i) {
    const auto piece = std::string_view(image).substr(i * 1024, 1024);
    std::string value = encode_chunk(CheckpointId(2), i, count, piece);
    ChunkLocation loc;
    loc.partition = (home + static_cast<int32_t>(i)) % 4;
    loc.size = static_cast<uint32_t>(piece.size());
    loc.checksum = decode_chunk(value)->checksum;
    if (i == 1) value[kChunkHeaderSize + 10] = static_cast<char>(value[kChunkHeaderSize + 10] ^ 4);
    loc.offset = raw.put(topic, loc.partition, chunk_key(kTask, CheckpointId(2), i), value);
    m.chunks.push_back(loc);
  }
  raw.put(topic, home, manifest_key(kTask, CheckpointId(2)), encode_manifest(m));
  // Checkpoint 3: a manifest with a damaged byte.
  std::string bad_manifest = encode_manifest(m);
  bad_manifest[20] = static_cast<char>(bad_manifest[20] ^ 1);
  raw.put(topic, home, manifest_key(kTask, CheckpointId(3)), bad_manifest);

  auto b = open_store(broker->bootstrap(), topic, 1024, 4);
  CHECK(*b->list(kTask) == ids({3, 2, 1}));
  auto r3 = b->read(kTask, CheckpointId(3));
  REQUIRE_FALSE(r3.ok());
  CHECK(r3.error().message.find("checksum mismatch") != std::string::npos);
  auto r2 = b->read(kTask, CheckpointId(2));
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.error().kind == ErrorKind::Data);
  CHECK(r2.error().message.find("chunk 1") != std::string::npos);
  CHECK(r2.error().message.find("checksum mismatch") != std::string::npos);
  auto latest = b->load_latest_valid(kTask);
  REQUIRE(latest.ok());
  REQUIRE(latest->has_value());
  CHECK((*latest)->id == CheckpointId(1));
  // Damaged ones do not count towards K: retain(1) keeps 1 and removes nothing older.
  CHECK(*b->retain(kTask, 1) == 0);
  CHECK(b->skipped_records() >= 1);
}

TEST_CASE("kafka store: keep K removes old checkpoints with tombstones that every reader honours",
          "[integration][checkpoint][kafka]") {
  auto broker = testing::start_in_process_broker(1);
  const std::string topic = testing::unique_topic("ckpt");
  auto a = open_store(broker->bootstrap(), topic, 1024, 4);
  for (int64_t id = 1; id <= 5; ++id) REQUIRE(a->write(snapshot_for(kTask, id, 2500)).ok());
  auto removed = a->retain(kTask, 2);
  REQUIRE(removed.ok());
  CHECK(*removed == 3);
  CHECK(*a->list(kTask) == ids({5, 4}));
  auto b = open_store(broker->bootstrap(), topic, 1024, 4);
  CHECK(*b->list(kTask) == ids({5, 4}));
  CHECK(b->read(kTask, CheckpointId(2)).error().kind == ErrorKind::Data);
  // b continues the task (it moved): its writes and removals are seen by a.
  REQUIRE(b->write(snapshot_for(kTask, 6, 2500)).ok());
  CHECK(*b->retain(kTask, 2) == 1);
  CHECK(*a->list(kTask) == ids({6, 5}));
  auto latest = a->load_latest_valid(kTask);
  REQUIRE(latest.ok());
  CHECK(**latest == snapshot_for(kTask, 6, 2500));
}

TEST_CASE("kafka store: incremental chains restore base and deltas, and keep K counts chains",
          "[integration][checkpoint][kafka]") {
  auto broker = testing::start_in_process_broker(1);
  const std::string topic = testing::unique_topic("ckpt");
  auto a = open_store(broker->bootstrap(), topic, 1024, 4);
  REQUIRE(a->write(snapshot_for(kTask, 1, 4000)).ok());
  REQUIRE(a->write(snapshot_for(kTask, 2, 300, 1)).ok());
  REQUIRE(a->write(snapshot_for(kTask, 3, 300, 2)).ok());
  REQUIRE(a->write(snapshot_for(kTask, 4, 4000)).ok());
  REQUIRE(a->write(snapshot_for(kTask, 5, 300, 4)).ok());
  auto b = open_store(broker->bootstrap(), topic, 1024, 4);
  auto links = b->list_links(kTask);
  REQUIRE(links.ok());
  REQUIRE(links->size() == 5);
  CHECK(links->front() == ChainLink{CheckpointId(5), CheckpointId(4)});
  auto chain = b->load_latest_chain(kTask);
  REQUIRE(chain.ok());
  REQUIRE(chain->has_value());
  REQUIRE((*chain)->size() == 2);
  CHECK((*chain)->at(0) == snapshot_for(kTask, 4, 4000));
  CHECK((*chain)->at(1) == snapshot_for(kTask, 5, 300, 4));
  CHECK(*b->retain(kTask, 1) == 3);
  auto c = open_store(broker->bootstrap(), topic, 1024, 4);
  CHECK(*c->list(kTask) == ids({5, 4}));
}

TEST_CASE("kafka store: prefetch reads many tasks' chains in one pass, each task gets its own, damaged ones are left to read()",
          "[integration][checkpoint][kafka]") {
  auto broker = testing::start_in_process_broker(1);
  const std::string topic = testing::unique_topic("ckpt");
  auto a = open_store(broker->bootstrap(), topic, 1024, 4);
  std::vector<TaskId> tasks;
  for (int32_t p = 0; p < 6; ++p) tasks.push_back(TaskId{"shop", PartitionId(p)});
  // Chunks of all tasks interleave in every partition.
  for (int64_t id = 1; id <= 2; ++id) {
    for (int32_t p = 0; p < 6; ++p) {
      const bool delta = id == 2 && p % 2 == 0;
      const std::size_t size = 2000 + 700 * static_cast<std::size_t>(p);
      REQUIRE(a->write(snapshot_for(tasks[static_cast<std::size_t>(p)], id + 10 * p,
                                    delta ? 300 : size,
                                    delta ? std::optional<int64_t>(1 + 10 * p) : std::nullopt))
                  .ok());
    }
  }
  RawWriter raw(broker->bootstrap());
  // shop-4, checkpoint 43: a truncated chunk set (the manifest names only
  // the first of the two chunks written, so the image stops half way).
  // shop-5, checkpoint 53: a manifest whose second chunk was never written.
  for (int32_t p : {4, 5}) {
    const TaskId& task = tasks[static_cast<std::size_t>(p)];
    const CheckpointId id(3 + 10 * p);
    const std::string image = encode(snapshot_for(task, id.value(), 1500));
    REQUIRE(image.size() > 1024);
    REQUIRE(image.size() <= 2048);
    const int32_t home = home_partition(task, 4);
    Manifest m;
    m.task = task;
    m.id = id;
    m.epoch = Epoch(7);
    for (uint32_t i = 0; i < 2; ++i) {
      const auto piece = std::string_view(image).substr(i * 1024, 1024);
      const std::string value = encode_chunk(id, i, 2, piece);
      ChunkLocation loc;
      loc.partition = (home + static_cast<int32_t>(i)) % 4;
      loc.size = static_cast<uint32_t>(piece.size());
      loc.checksum = decode_chunk(value)->checksum;
      loc.offset = p == 5 && i == 1 ? 1000000 : raw.put(topic, loc.partition, chunk_key(task, id, i), value);
      if (p == 4 && i == 1) break;  // left out of the manifest
      m.chunks.push_back(loc);
      m.total_bytes += loc.size;
    }
    raw.put(topic, home, manifest_key(task, id), encode_manifest(m));
  }

  // Another node restores all six, and a task that has no checkpoint.
  auto b = open_store(broker->bootstrap(), topic, 1024, 4);
  auto with_new = tasks;
  with_new.push_back(TaskId{"shop", PartitionId(9)});
  b->prefetch(with_new);
  // Chains: 0 and 2 base + delta, 1 and 3 one full snapshot each; 4 and 5
  // are damaged, so nothing of theirs is kept.
  CHECK(b->prefetched() == 6);
  CHECK(b->list(with_new.back())->empty());
  for (int32_t p = 0; p < 6; ++p) {
    const TaskId& task = tasks[static_cast<std::size_t>(p)];
    const int64_t base = 10 * p;
    INFO("task " << task.to_string());
    CHECK(*b->list(task) == (p >= 4 ? ids({base + 3, base + 2, base + 1}) : ids({base + 2, base + 1})));
    auto chain = b->load_latest_chain(task);
    INFO((chain.ok() ? std::string() : chain.error().to_string()));
    REQUIRE(chain.ok());
    REQUIRE(chain->has_value());
    const std::size_t size = 2000 + 700 * static_cast<std::size_t>(p);
    if (p % 2 == 0) {
      REQUIRE((*chain)->size() == 2);
      CHECK((*chain)->at(0) == snapshot_for(task, base + 1, size));
      CHECK((*chain)->at(1) == snapshot_for(task, base + 2, 300, base + 1));
    } else {
      REQUIRE((*chain)->size() == 1);
      CHECK((*chain)->front() == snapshot_for(task, base + 2, size));
    }
  }
  // The damaged ones were read again and rejected, with their reason.
  auto r4 = b->read(tasks[4], CheckpointId(43));
  REQUIRE_FALSE(r4.ok());
  CHECK(r4.error().kind == ErrorKind::Data);
  CHECK(r4.error().message.find("does not match the manifest") != std::string::npos);
  auto r5 = b->read(tasks[5], CheckpointId(53));
  REQUIRE_FALSE(r5.ok());
  CHECK(r5.error().message.find("missing") != std::string::npos);
  CHECK(b->prefetched() == 0);
  // After its one prefetched listing, list() reads the topic again: a
  // checkpoint written meanwhile by another node is found.
  REQUIRE(a->write(snapshot_for(tasks[1], 14, 2000)).ok());
  CHECK(b->list(tasks[1])->front() == CheckpointId(14));
}
