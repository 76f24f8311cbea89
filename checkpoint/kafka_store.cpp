#include "checkpoint/kafka_store.hpp"

#include <atomic>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <set>
#include <thread>

#include "checkpoint/store_checks.hpp"
#include "connectors/topic_admin.hpp"
#include "runtime/log.hpp"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace rivulet::checkpoint {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kIdDigits = 20;
constexpr std::size_t kChunkDigits = 6;
constexpr std::string_view kManifestSuffix = "manifest";
constexpr std::string_view kChunkPrefix = "chunk-";
// magic 4, version 2, flags 2, id 8, parent 8, epoch 8, total 8, task partition 4,
// query length 2, chunk count 4
constexpr std::size_t kManifestFixed = 50;
constexpr std::size_t kChunkEntry = 4 + 8 + 4 + 8;  // partition, offset, size, checksum
constexpr uint32_t kMaxChunks = 1u << 24;

void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_be(std::string_view in, std::size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v = (v << 8) | static_cast<uint8_t>(in[pos + static_cast<std::size_t>(i)]);
  }
  return v;
}

std::string digits(uint64_t v, std::size_t width) {
  std::string d = std::to_string(v);
  return std::string(width > d.size() ? width - d.size() : 0, '0') + d;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

std::string where_in(const std::string& topic, int32_t partition, int64_t offset) {
  return topic + "[" + std::to_string(partition) + "]@" + std::to_string(offset);
}

// The acknowledgements of one produce_all call. Shared with the delivery
// reports, which may arrive after produce_all gave up (timeout).
struct Batch {
  explicit Batch(std::size_t n) : offsets(n, -1), errors(n, RD_KAFKA_RESP_ERR_NO_ERROR), left(n) {}
  std::vector<int64_t> offsets;
  std::vector<rd_kafka_resp_err_t> errors;
  std::atomic<std::size_t> left;
};

struct Token {
  std::shared_ptr<Batch> batch;
  std::size_t index;
};

void delivery_callback(rd_kafka_t*, const rd_kafka_message_t* msg, void*) {
  auto* token = static_cast<Token*>(msg->_private);
  if (token == nullptr) return;
  token->batch->offsets[token->index] = msg->offset;
  token->batch->errors[token->index] = msg->err;
  token->batch->left.fetch_sub(1, std::memory_order_acq_rel);
  delete token;
}

// Why the record at chunk `index`'s place is not that chunk (nullopt: it
// is; `payload` then views its payload).
std::optional<std::string> check_chunk(const Manifest& manifest, std::size_t index,
                                       const rd_kafka_message_t* msg, std::string_view& payload) {
  const std::string_view key(static_cast<const char*>(msg->key), msg->key_len);
  const std::string expected_key =
      chunk_key(manifest.task, manifest.id, static_cast<uint32_t>(index));
  const auto& loc = manifest.chunks[index];
  if (key != expected_key) {
    return "holds '" + std::string(key) + "', not '" + expected_key + "'";
  }
  if (msg->payload == nullptr) return std::string("is a tombstone");
  auto chunk = decode_chunk(std::string_view(static_cast<const char*>(msg->payload), msg->len));
  if (!chunk) return chunk.error().message;
  if (chunk->id != manifest.id || chunk->index != index ||
      chunk->count != manifest.chunks.size() || chunk->payload.size() != loc.size ||
      chunk->checksum != loc.checksum) {
    return std::string("does not match the manifest (another write of this id?)");
  }
  payload = chunk->payload;
  return std::nullopt;
}

// Assigns every partition of `wanted` (partition -> chunk offsets, in
// order) at its first wanted offset.
template <class Wanted>
rd_kafka_resp_err_t assign_at_first_wanted(rd_kafka_t* consumer, const std::string& topic,
                                           const Wanted& wanted) {
  connectors::TopicPartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(wanted.size())));
  for (const auto& [p, offsets] : wanted) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset =
        offsets.begin()->first;
  }
  return rd_kafka_assign(consumer, list.get());
}

// One poll (100 ms): a message of `topic` from a partition of `wanted` that
// still has chunks to read, with that partition's entry. Anything else is
// destroyed and {nullptr, end} returned.
template <class Wanted>
std::pair<rd_kafka_message_t*, typename Wanted::iterator> poll_wanted(rd_kafka_t* consumer,
                                                                      const std::string& topic,
                                                                      Wanted& wanted) {
  rd_kafka_message_t* msg = rd_kafka_consumer_poll(consumer, 100);
  if (msg == nullptr) return {nullptr, wanted.end()};
  auto it = wanted.end();
  if (msg->rkt != nullptr && topic == rd_kafka_topic_name(msg->rkt)) it = wanted.find(msg->partition);
  if (it == wanted.end() || it->second.empty()) {
    rd_kafka_message_destroy(msg);
    return {nullptr, wanted.end()};
  }
  return {msg, it};
}

}  // namespace

std::string manifest_key(const TaskId& task, CheckpointId id) {
  return task.to_string() + "/" + digits(static_cast<uint64_t>(id.value()), kIdDigits) + "/" +
         std::string(kManifestSuffix);
}

std::string chunk_key(const TaskId& task, CheckpointId id, uint32_t index) {
  return task.to_string() + "/" + digits(static_cast<uint64_t>(id.value()), kIdDigits) + "/" +
         std::string(kChunkPrefix) + digits(index, kChunkDigits);
}

std::optional<ParsedKey> parse_record_key(std::string_view key) {
  const auto last = key.rfind('/');
  if (last == std::string_view::npos || last == 0) return std::nullopt;
  const auto middle = key.rfind('/', last - 1);
  if (middle == std::string_view::npos || middle == 0) return std::nullopt;
  const std::string_view id_text = key.substr(middle + 1, last - middle - 1);
  const std::string_view what = key.substr(last + 1);
  if (id_text.size() != kIdDigits || !all_digits(id_text)) return std::nullopt;
  int64_t id = 0;
  auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
  if (ec != std::errc() || end != id_text.data() + id_text.size()) return std::nullopt;
  ParsedKey parsed{std::string(key.substr(0, middle)), CheckpointId(id), std::nullopt};
  if (what == kManifestSuffix) return parsed;
  if (what.size() != kChunkPrefix.size() + kChunkDigits ||
      what.substr(0, kChunkPrefix.size()) != kChunkPrefix) {
    return std::nullopt;
  }
  const std::string_view index_text = what.substr(kChunkPrefix.size());
  if (!all_digits(index_text)) return std::nullopt;
  uint32_t index = 0;
  std::from_chars(index_text.data(), index_text.data() + index_text.size(), index);
  parsed.chunk = index;
  return parsed;
}

std::string encode_manifest(const Manifest& m) {
  std::string out;
  out.reserve(kManifestFixed + m.task.query.size() + m.chunks.size() * kChunkEntry + 8);
  out.append(kManifestMagic, 4);
  put_be(out, kKafkaRecordVersion, 2);
  put_be(out, m.incremental ? 1 : 0, 2);
  put_be(out, static_cast<uint64_t>(m.id.value()), 8);
  put_be(out, static_cast<uint64_t>(m.incremental ? m.parent.value() : 0), 8);
  put_be(out, static_cast<uint64_t>(m.epoch.value()), 8);
  put_be(out, m.total_bytes, 8);
  put_be(out, static_cast<uint32_t>(m.task.partition.value()), 4);
  put_be(out, m.task.query.size(), 2);
  put_be(out, m.chunks.size(), 4);
  out.append(m.task.query);
  for (const auto& c : m.chunks) {
    put_be(out, static_cast<uint32_t>(c.partition), 4);
    put_be(out, static_cast<uint64_t>(c.offset), 8);
    put_be(out, c.size, 4);
    put_be(out, c.checksum, 8);
  }
  put_be(out, XXH3_64bits(out.data(), out.size()), 8);
  return out;
}

Expected<Manifest> decode_manifest(std::string_view v) {
  auto bad = [](const std::string& what) { return Error::data("invalid checkpoint manifest: " + what); };
  if (v.size() < 4 || std::memcmp(v.data(), kManifestMagic, 4) != 0) {
    return bad("magic is not \"RVCM\"");
  }
  if (v.size() < kManifestFixed + 8) {
    return bad("truncated: " + std::to_string(v.size()) + " bytes");
  }
  const auto version = get_be(v, 4, 2);
  if (version != kKafkaRecordVersion) {
    return bad("unsupported version " + std::to_string(version) + " (this build reads version " +
               std::to_string(kKafkaRecordVersion) + ")");
  }
  const auto query_len = get_be(v, 44, 2);
  const auto count = get_be(v, 46, 4);
  if (count > kMaxChunks) return bad("chunk count " + std::to_string(count) + " out of range");
  const std::size_t expected = kManifestFixed + query_len + count * kChunkEntry + 8;
  if (v.size() != expected) {
    return bad("size " + std::to_string(v.size()) + " bytes, its header announces " +
               std::to_string(expected));
  }
  if (XXH3_64bits(v.data(), v.size() - 8) != get_be(v, v.size() - 8, 8)) {
    return bad("checksum mismatch: content was modified or damaged");
  }
  const auto flags = get_be(v, 6, 2);
  if (flags > 1) return bad("unknown flags " + std::to_string(flags));
  Manifest m;
  m.incremental = flags == 1;
  m.id = CheckpointId(static_cast<int64_t>(get_be(v, 8, 8)));
  m.parent = CheckpointId(m.incremental ? static_cast<int64_t>(get_be(v, 16, 8)) : 0);
  m.epoch = Epoch(static_cast<int64_t>(get_be(v, 24, 8)));
  m.total_bytes = get_be(v, 32, 8);
  m.task.partition = PartitionId(static_cast<int32_t>(get_be(v, 40, 4)));
  m.task.query = std::string(v.substr(kManifestFixed, query_len));
  std::size_t pos = kManifestFixed + query_len;
  uint64_t sum = 0;
  for (uint64_t i = 0; i < count; ++i, pos += kChunkEntry) {
    ChunkLocation c;
    c.partition = static_cast<int32_t>(get_be(v, pos, 4));
    c.offset = static_cast<int64_t>(get_be(v, pos + 4, 8));
    c.size = static_cast<uint32_t>(get_be(v, pos + 12, 4));
    c.checksum = get_be(v, pos + 16, 8);
    if (c.partition < 0 || c.offset < 0) return bad("chunk " + std::to_string(i) + ": bad location");
    sum += c.size;
    m.chunks.push_back(c);
  }
  if (sum != m.total_bytes) {
    return bad("chunk sizes add up to " + std::to_string(sum) + " bytes, not " +
               std::to_string(m.total_bytes));
  }
  return m;
}

std::string encode_chunk(CheckpointId id, uint32_t index, uint32_t count, std::string_view payload) {
  std::string out;
  out.reserve(kChunkHeaderSize + payload.size());
  out.append(kChunkMagic, 4);
  put_be(out, kKafkaRecordVersion, 2);
  put_be(out, 0, 2);
  put_be(out, static_cast<uint64_t>(id.value()), 8);
  put_be(out, index, 4);
  put_be(out, count, 4);
  put_be(out, XXH3_64bits(payload.data(), payload.size()), 8);
  out.append(payload);
  return out;
}

Expected<ChunkView> decode_chunk(std::string_view v) {
  auto bad = [](const std::string& what) { return Error::data("invalid checkpoint chunk: " + what); };
  if (v.size() < kChunkHeaderSize) return bad("truncated: " + std::to_string(v.size()) + " bytes");
  if (std::memcmp(v.data(), kChunkMagic, 4) != 0) return bad("magic is not \"RVCC\"");
  if (get_be(v, 4, 2) != kKafkaRecordVersion) {
    return bad("unsupported version " + std::to_string(get_be(v, 4, 2)));
  }
  if (get_be(v, 6, 2) != 0) return bad("reserved header bytes are not zero");
  ChunkView c;
  c.id = CheckpointId(static_cast<int64_t>(get_be(v, 8, 8)));
  c.index = static_cast<uint32_t>(get_be(v, 16, 4));
  c.count = static_cast<uint32_t>(get_be(v, 20, 4));
  c.checksum = get_be(v, 24, 8);
  c.payload = v.substr(kChunkHeaderSize);
  if (XXH3_64bits(c.payload.data(), c.payload.size()) != c.checksum) {
    return bad("checksum mismatch: content was modified or damaged");
  }
  return c;
}

int32_t home_partition(const TaskId& task, int32_t partitions) {
  const std::string name = task.to_string();
  return static_cast<int32_t>(XXH3_64bits(name.data(), name.size()) %
                              static_cast<uint64_t>(std::max(1, partitions)));
}

// ---------------------------------------------------------------------------

Expected<std::unique_ptr<KafkaStore>> KafkaStore::open(KafkaStoreOptions options) {
  if (auto valid = connectors::validate_topic_name(options.topic); !valid) {
    return Error::fatal("checkpoint store: " + valid.error().message);
  }
  const std::string bootstrap = connectors::property_or(options.producer, "bootstrap.servers", "");
  if (bootstrap.empty()) return Error::fatal("checkpoint store: bootstrap.servers is not set");
  if (options.chunk_bytes < 1 || options.chunk_bytes > 900000) {
    return Error::fatal("checkpoint store: chunk size " + std::to_string(options.chunk_bytes) +
                        " is out of range (1..900000 bytes)");
  }
  if (options.partitions < 1) return Error::fatal("checkpoint store: partitions must be >= 1");

  // The topic: an existing one keeps its partition count.
  int32_t partitions = 0;
  {
    auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", bootstrap}});
    if (!admin) return admin.error();
    auto count = (*admin)->partition_count(options.topic);
    if (!count) return count.error();
    if (count->has_value()) {
      partitions = **count;
    } else {
      auto created = (*admin)->ensure_topic(options.topic, options.partitions,
                                            {{"cleanup.policy", "compact"}});
      if (!created) return created.error();
      partitions = options.partitions;
    }
  }

  char errstr[512];
  auto producer_props = connectors::merge_properties(
      connectors::merge_properties(connectors::common_defaults(),
                                   {{"enable.idempotence", "true"},
                                    {"acks", "all"},
                                    {"linger.ms", "2"},
                                    {"compression.type", "lz4"},
                                    {"queue.buffering.max.kbytes", "65536"},
                                    {"retry.backoff.ms", "100"}}),
      options.producer);
  producer_props.erase("transactional.id");  // checkpoints are not part of a transaction
  producer_props["client.id"] = "rivulet-checkpoints";
  producer_props["message.timeout.ms"] = std::to_string(options.timeout.count());
  auto pconf = connectors::make_conf(producer_props);
  if (!pconf) return pconf.error();
  rd_kafka_conf_set_dr_msg_cb(pconf->get(), delivery_callback);
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf->get(), errstr, sizeof errstr);
  if (producer == nullptr) {
    return Error::fatal(std::string("checkpoint store: producer: rd_kafka_new failed: ") + errstr);
  }
  pconf->release();

  auto consumer_props =
      connectors::standalone_reader_properties(options.consumer, "rivulet-checkpoints");
  consumer_props["group.id"] = "rivulet-checkpoint-reader";  // never joins, never commits
  auto cconf = connectors::make_conf(consumer_props);
  if (!cconf) {
    rd_kafka_destroy(producer);
    return cconf.error();
  }
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf->get(), errstr, sizeof errstr);
  if (consumer == nullptr) {
    rd_kafka_destroy(producer);
    return Error::fatal(std::string("checkpoint store: consumer: rd_kafka_new failed: ") + errstr);
  }
  cconf->release();
  rd_kafka_poll_set_consumer(consumer);
  // The topic's leaders known before the first read: a partition assigned
  // without them waits for a metadata refresh first.
  (void)connectors::request_topic_metadata(consumer, {options.topic}, options.timeout);
  logger()->info("checkpoint store: Kafka topic {} ({} partitions, chunks of at most {} bytes)",
                 options.topic, partitions, options.chunk_bytes);
  return std::unique_ptr<KafkaStore>(
      new KafkaStore(std::move(options), producer, consumer, partitions));
}

KafkaStore::KafkaStore(KafkaStoreOptions options, rd_kafka_t* producer, rd_kafka_t* consumer,
                       int32_t partitions)
    : options_(std::move(options)),
      producer_(producer),
      consumer_(consumer),
      partitions_(partitions),
      scanned_(static_cast<std::size_t>(partitions), RD_KAFKA_OFFSET_BEGINNING) {}

KafkaStore::~KafkaStore() {
  rd_kafka_consumer_close(consumer_);
  rd_kafka_destroy(consumer_);
  rd_kafka_flush(producer_, 5000);
  rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(producer_, 0);  // delivery reports free their tokens
  rd_kafka_destroy(producer_);
}

uint64_t KafkaStore::skipped_records() const {
  std::lock_guard<std::mutex> lock(read_mutex_);
  return skipped_;
}

Expected<bool> KafkaStore::produce_all(std::vector<Outgoing>& records, const std::string& what) {
  if (records.empty()) return true;
  auto batch = std::make_shared<Batch>(records.size());
  const auto deadline = Clock::now() + options_.timeout;
  std::size_t enqueued = 0;
  std::optional<Error> failure;
  for (std::size_t i = 0; i < records.size() && !failure; ++i) {
    auto& r = records[i];
    void* payload = nullptr;
    std::size_t size = 0;
    if (r.value) {
      size = r.value->size();
      payload = std::malloc(std::max<std::size_t>(1, size));
      if (payload == nullptr) return Error::fatal(what + ": out of memory");
      std::memcpy(payload, r.value->data(), size);
    }
    auto* token = new Token{batch, i};
    for (;;) {
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          producer_, RD_KAFKA_V_TOPIC(options_.topic.c_str()), RD_KAFKA_V_PARTITION(r.partition),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
          RD_KAFKA_V_KEY(r.key.data(), r.key.size()), RD_KAFKA_V_VALUE(payload, size),
          RD_KAFKA_V_OPAQUE(token), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++enqueued;
        break;
      }
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && Clock::now() < deadline) {
        rd_kafka_poll(producer_, 10);
        continue;
      }
      std::free(payload);
      delete token;
      failure = Error::retriable(what + ": " + r.key + " not produced: " +
                                 connectors::kafka_error_text(err));
      break;
    }
  }
  // Reports of records never enqueued will not come: count them as done.
  if (enqueued < records.size()) batch->left.fetch_sub(records.size() - enqueued);
  while (batch->left.load(std::memory_order_acquire) > 0) {
    if (Clock::now() >= deadline) {
      return Error::retriable(what + ": not acknowledged within " +
                              std::to_string(options_.timeout.count()) + " ms");
    }
    rd_kafka_poll(producer_, std::min(10, std::max(1, remaining_ms(deadline))));
  }
  if (failure) return *failure;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (batch->errors[i] != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Error::retriable(what + ": " + records[i].key + " not written to " + options_.topic +
                              "[" + std::to_string(records[i].partition) +
                              "]: " + connectors::kafka_error_text(batch->errors[i]));
    }
    records[i].offset = batch->offsets[i];
  }
  return true;
}

Expected<uint64_t> KafkaStore::write(const Snapshot& snapshot) {
  auto valid = check_task(snapshot.task, "a checkpoint key");
  if (!valid) return valid.error();
  if (snapshot.id.value() < 0) {
    return Error::fatal("checkpoint id " + std::to_string(snapshot.id.value()) +
                        " is negative; ids start at 1");
  }
  auto encodable = check_encodable(snapshot);
  if (!encodable) return encodable.error();
  const std::string bytes = encode(snapshot);
  const std::string what = "task " + snapshot.task.to_string() + ": checkpoint " +
                           std::to_string(snapshot.id.value()) + " to topic " + options_.topic;
  const int32_t home = home_partition(snapshot.task, partitions_);
  const std::size_t count = (bytes.size() + options_.chunk_bytes - 1) / options_.chunk_bytes;
  if (count > kMaxChunks) return Error::fatal(what + ": too many chunks");

  Manifest manifest;
  manifest.task = snapshot.task;
  manifest.id = snapshot.id;
  manifest.incremental = snapshot.incremental;
  manifest.parent = snapshot.incremental ? snapshot.base : CheckpointId(0);
  manifest.epoch = snapshot.epoch;
  manifest.total_bytes = bytes.size();
  std::vector<Outgoing> chunks;
  chunks.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::string_view payload =
        std::string_view(bytes).substr(i * options_.chunk_bytes, options_.chunk_bytes);
    Outgoing o;
    o.partition = static_cast<int32_t>((static_cast<std::size_t>(home) + i) %
                                       static_cast<std::size_t>(partitions_));
    o.key = chunk_key(snapshot.task, snapshot.id, static_cast<uint32_t>(i));
    o.value = encode_chunk(snapshot.id, static_cast<uint32_t>(i), static_cast<uint32_t>(count),
                           payload);
    ChunkLocation loc;
    loc.partition = o.partition;
    loc.size = static_cast<uint32_t>(payload.size());
    loc.checksum = get_be(*o.value, 24, 8);
    manifest.chunks.push_back(loc);
    chunks.push_back(std::move(o));
  }
  auto produced = produce_all(chunks, what);
  if (!produced) return produced.error();
  for (std::size_t i = 0; i < count; ++i) manifest.chunks[i].offset = chunks[i].offset;
  fault_point("checkpoint-after-chunks");

  std::vector<Outgoing> commit(1);
  commit[0].partition = home;
  commit[0].key = manifest_key(snapshot.task, snapshot.id);
  commit[0].value = encode_manifest(manifest);
  auto committed = produce_all(commit, what);
  if (!committed) return committed.error();

  std::lock_guard<std::mutex> lock(read_mutex_);
  prefetched_.erase({snapshot.task.to_string(), snapshot.id});
  Entry entry;
  entry.link = ChainLink{snapshot.id, snapshot.incremental
                                          ? std::optional<CheckpointId>(snapshot.base)
                                          : std::nullopt};
  entry.manifest = std::move(manifest);
  entry.partition = home;
  entry.offset = commit[0].offset;
  index_[snapshot.task.to_string()][snapshot.id] = std::move(entry);
  return static_cast<uint64_t>(bytes.size());
}

Expected<bool> KafkaStore::catch_up(int32_t partition) {
  return catch_up(std::set<int32_t>{partition});
}

Expected<bool> KafkaStore::catch_up(const std::set<int32_t>& partitions) {
  if (partitions.empty()) return true;
  connectors::TopicPartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (int32_t p : partitions) {
    rd_kafka_topic_partition_list_add(list.get(), options_.topic.c_str(), p)->offset =
        scanned_[static_cast<std::size_t>(p)];
  }
  auto names = [&] {
    std::string out;
    for (int32_t p : partitions) out += (out.empty() ? "" : ",") + std::to_string(p);
    return options_.topic + "[" + out + "]";
  };
  if (auto err = rd_kafka_assign(consumer_, list.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Error::retriable("checkpoint store: assigning " + names() + ": " +
                            connectors::kafka_error_text(err));
  }
  const auto deadline = Clock::now() + options_.timeout;
  std::set<int32_t> pending = partitions;
  while (!pending.empty() && Clock::now() < deadline) {
    rd_kafka_message_t* msg = rd_kafka_consumer_poll(consumer_, 100);
    if (msg == nullptr) continue;
    if (msg->rkt == nullptr || pending.count(msg->partition) == 0 ||
        options_.topic != rd_kafka_topic_name(msg->rkt)) {
      rd_kafka_message_destroy(msg);
      continue;
    }
    const int32_t partition = msg->partition;
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      auto& pos = scanned_[static_cast<std::size_t>(partition)];
      pos = std::max<int64_t>(pos, msg->offset);
      pending.erase(partition);
    } else if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      logger()->warn("checkpoint store: reading {}: {}", options_.topic,
                     connectors::kafka_error_text(msg->err));
    } else {
      auto& pos = scanned_[static_cast<std::size_t>(partition)];
      pos = std::max<int64_t>(pos, msg->offset + 1);
      const std::string_view key(static_cast<const char*>(msg->key), msg->key_len);
      auto parsed = parse_record_key(key);
      if (!parsed) {
        ++skipped_;
        logger()->debug("checkpoint store: {}: record with key '{}' is not a checkpoint's",
                        where_in(options_.topic, partition, msg->offset), key);
      } else if (!parsed->chunk) {
        auto& task_index = index_[parsed->task];
        if (msg->payload == nullptr) {
          task_index.erase(parsed->id);  // a tombstone: removed by retention
        } else {
          Entry entry;
          entry.partition = partition;
          entry.offset = msg->offset;
          entry.link = ChainLink{parsed->id, std::nullopt};
          auto m = decode_manifest(
              std::string_view(static_cast<const char*>(msg->payload), msg->len));
          if (!m) {
            ++skipped_;
            entry.damaged = m.error().message;
          } else if (m->task.to_string() != parsed->task || m->id != parsed->id) {
            ++skipped_;
            entry.damaged = "holds the manifest of checkpoint " + std::to_string(m->id.value()) +
                            " of task " + m->task.to_string();
          } else {
            if (m->incremental) entry.link.parent = m->parent;
            entry.manifest = std::move(*m);
          }
          task_index[parsed->id] = std::move(entry);
        }
      }
    }
    rd_kafka_message_destroy(msg);
  }
  rd_kafka_assign(consumer_, nullptr);
  if (!pending.empty()) {
    return Error::retriable("checkpoint store: reading " + names() +
                            " did not reach the end of partition(s) " +
                            [&] {
                              std::string out;
                              for (int32_t p : pending) out += (out.empty() ? "" : ",") + std::to_string(p);
                              return out;
                            }() +
                            " within " + std::to_string(options_.timeout.count()) + " ms");
  }
  return true;
}

Expected<std::vector<ChainLink>> KafkaStore::list_links(const TaskId& task) {
  return links_of(task, false);
}

Expected<std::vector<ChainLink>> KafkaStore::links_of(const TaskId& task, bool refresh) {
  auto valid = check_task(task, "a checkpoint key");
  if (!valid) return valid.error();
  std::lock_guard<std::mutex> lock(read_mutex_);
  const std::string name = task.to_string();
  if (refresh || current_.count(name) == 0) {
    auto caught = catch_up(home_partition(task, partitions_));
    if (!caught) return caught.error();
    current_.insert(name);
  }
  std::vector<ChainLink> links;
  auto it = index_.find(name);
  if (it == index_.end()) return links;
  for (auto e = it->second.rbegin(); e != it->second.rend(); ++e) links.push_back(e->second.link);
  return links;
}

Expected<std::vector<CheckpointId>> KafkaStore::list(const TaskId& task) {
  bool refresh = true;
  {
    std::lock_guard<std::mutex> lock(read_mutex_);
    refresh = fresh_.erase(task.to_string()) == 0;
  }
  auto links = links_of(task, refresh);
  if (!links) return links.error();
  std::vector<CheckpointId> ids;
  for (const auto& link : *links) ids.push_back(link.id);
  return ids;
}

std::optional<Manifest> KafkaStore::manifest(const TaskId& task, CheckpointId id) {
  std::lock_guard<std::mutex> lock(read_mutex_);
  auto it = index_.find(task.to_string());
  if (it == index_.end()) return std::nullopt;
  auto e = it->second.find(id);
  if (e == it->second.end()) return std::nullopt;
  return e->second.manifest;
}

Expected<std::vector<std::string>> KafkaStore::fetch_chunks(const Manifest& manifest,
                                                           const std::string& where) {
  // partition -> offset -> chunk index
  std::map<int32_t, std::map<int64_t, std::size_t>> wanted;
  for (std::size_t i = 0; i < manifest.chunks.size(); ++i) {
    const auto& c = manifest.chunks[i];
    if (c.partition >= partitions_) {
      return Error::data(where + ": chunk " + std::to_string(i) + " is in partition " +
                         std::to_string(c.partition) + ", but the topic has " +
                         std::to_string(partitions_));
    }
    if (!wanted[c.partition].emplace(c.offset, i).second) {
      return Error::data(where + ": two chunks at " +
                         where_in(options_.topic, c.partition, c.offset));
    }
  }
  std::vector<std::string> payloads(manifest.chunks.size());
  if (manifest.chunks.empty()) return payloads;
  if (auto err = assign_at_first_wanted(consumer_, options_.topic, wanted);
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Error::retriable(where + ": assigning: " + connectors::kafka_error_text(err));
  }
  std::size_t left = manifest.chunks.size();
  const auto deadline = Clock::now() + options_.timeout;
  std::optional<Error> failure;
  while (left > 0 && !failure && Clock::now() < deadline) {
    auto [msg, it] = poll_wanted(consumer_, options_.topic, wanted);
    if (msg == nullptr) continue;
    const auto next = *it->second.begin();  // (offset, chunk index)
    const std::string chunk_where =
        "chunk " + std::to_string(next.second) + " at " +
        where_in(options_.topic, msg->partition, next.first);
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (msg->offset <= next.first) {
        failure = Error::data(where + ": " + chunk_where + " is missing: the partition ends at " +
                              std::to_string(msg->offset));
      }
    } else if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      logger()->warn("checkpoint store: reading {}: {}", where,
                     connectors::kafka_error_text(msg->err));
    } else if (msg->offset > next.first) {
      failure = Error::data(where + ": " + chunk_where +
                            " is gone (the log now starts after it: retention or compaction)");
    } else if (msg->offset == next.first) {
      std::string_view payload;
      if (auto why = check_chunk(manifest, next.second, msg, payload)) {
        // decode_chunk's reasons read as sentences of their own.
        const bool own = why->rfind("invalid checkpoint chunk", 0) == 0;
        failure = Error::data(where + ": " + chunk_where + (own ? ": " : " ") + *why);
      } else {
        payloads[next.second] = std::string(payload);
        it->second.erase(it->second.begin());
        --left;
      }
    }
    rd_kafka_message_destroy(msg);
  }
  rd_kafka_assign(consumer_, nullptr);
  if (failure) return *failure;
  if (left > 0) {
    return Error::retriable(where + ": " + std::to_string(left) + " of " +
                            std::to_string(manifest.chunks.size()) +
                            " chunks not read within " + std::to_string(options_.timeout.count()) +
                            " ms");
  }
  return payloads;
}

std::size_t KafkaStore::prefetched() const {
  std::lock_guard<std::mutex> lock(read_mutex_);
  return prefetched_.size();
}

std::vector<std::optional<std::string>> KafkaStore::fetch_many(
    const std::vector<Manifest>& manifests) {
  std::vector<std::optional<std::string>> images(manifests.size());
  std::vector<std::size_t> left(manifests.size(), 0);
  std::vector<bool> failed(manifests.size(), false);
  // partition -> offset -> (manifest, chunk index)
  std::map<int32_t, std::map<int64_t, std::pair<std::size_t, std::size_t>>> wanted;
  for (std::size_t m = 0; m < manifests.size(); ++m) {
    const auto& chunks = manifests[m].chunks;
    bool ok = true;
    for (std::size_t i = 0; i < chunks.size() && ok; ++i) {
      ok = chunks[i].partition < partitions_ &&
           wanted[chunks[i].partition].emplace(chunks[i].offset, std::make_pair(m, i)).second;
    }
    if (!ok) {
      // A chunk outside the topic or where another chunk is: read() reports it.
      failed[m] = true;
      for (auto& [p, offsets] : wanted) {
        for (auto it = offsets.begin(); it != offsets.end();) {
          it = it->second.first == m ? offsets.erase(it) : std::next(it);
        }
      }
      continue;
    }
    left[m] = chunks.size();
    images[m].emplace(static_cast<std::size_t>(manifests[m].total_bytes), '\0');
  }
  std::vector<std::vector<std::size_t>> starts(manifests.size());  // of each chunk in the image
  for (std::size_t m = 0; m < manifests.size(); ++m) {
    std::size_t at = 0;
    for (const auto& c : manifests[m].chunks) {
      starts[m].push_back(at);
      at += c.size;
    }
    if (!failed[m] && manifests[m].chunks.empty()) left[m] = 0;
  }
  for (auto it = wanted.begin(); it != wanted.end();) {
    it = it->second.empty() ? wanted.erase(it) : std::next(it);
  }
  auto fail = [&](std::size_t m) {
    failed[m] = true;
    images[m].reset();
  };
  if (!wanted.empty()) {
    if (auto err = assign_at_first_wanted(consumer_, options_.topic, wanted);
        err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      logger()->debug("checkpoint store: prefetch: assigning {}: {}", options_.topic,
                      connectors::kafka_error_text(err));
      return std::vector<std::optional<std::string>>(manifests.size());
    }
    std::size_t pending = 0;
    for (const auto& [p, offsets] : wanted) pending += offsets.size();
    const auto deadline = Clock::now() + options_.timeout;
    // Partitions paused once read (pausing outlives the assignment: they
    // are resumed before it ends).
    connectors::TopicPartitionListPtr paused(rd_kafka_topic_partition_list_new(
        static_cast<int>(wanted.size())));
    while (pending > 0 && Clock::now() < deadline) {
      auto [msg, it] = poll_wanted(consumer_, options_.topic, wanted);
      if (msg == nullptr) continue;
      auto& offsets = it->second;
      if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        // Every chunk still wanted here is at or past the end: missing.
        if (msg->offset <= offsets.begin()->first) {
          for (const auto& [offset, where] : offsets) fail(where.first);
          pending -= offsets.size();
          offsets.clear();
        }
      } else if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        logger()->warn("checkpoint store: prefetching from {}: {}", options_.topic,
                       connectors::kafka_error_text(msg->err));
      } else {
        // Chunks before this record's offset are gone (retention).
        while (!offsets.empty() && offsets.begin()->first < msg->offset) {
          fail(offsets.begin()->second.first);
          offsets.erase(offsets.begin());
          --pending;
        }
        if (!offsets.empty() && offsets.begin()->first == msg->offset) {
          const auto [m, index] = offsets.begin()->second;
          offsets.erase(offsets.begin());
          --pending;
          std::string_view payload;
          if (!failed[m]) {
            if (check_chunk(manifests[m], index, msg, payload)) {
              fail(m);
            } else {
              std::memcpy(images[m]->data() + starts[m][index], payload.data(), payload.size());
              --left[m];
            }
          }
        }
      }
      if (offsets.empty()) {
        // Done with this partition: stop fetching it.
        connectors::TopicPartitionListPtr done(rd_kafka_topic_partition_list_new(1));
        rd_kafka_topic_partition_list_add(done.get(), options_.topic.c_str(), msg->partition);
        rd_kafka_pause_partitions(consumer_, done.get());
        rd_kafka_topic_partition_list_add(paused.get(), options_.topic.c_str(), msg->partition);
      }
      rd_kafka_message_destroy(msg);
    }
    rd_kafka_resume_partitions(consumer_, paused.get());
    rd_kafka_assign(consumer_, nullptr);
  }
  for (std::size_t m = 0; m < manifests.size(); ++m) {
    if (left[m] > 0) images[m].reset();  // not read in time
  }
  return images;
}

void KafkaStore::prefetch(const std::vector<TaskId>& tasks) {
  const auto begin = Clock::now();
  std::lock_guard<std::mutex> lock(read_mutex_);
  std::set<int32_t> homes;
  std::vector<std::string> names;
  for (const auto& task : tasks) {
    if (!check_task(task, "a checkpoint key")) continue;
    homes.insert(home_partition(task, partitions_));
    names.push_back(task.to_string());
  }
  if (names.empty()) return;
  if (auto caught = catch_up(homes); !caught) {
    logger()->debug("checkpoint store: prefetch: {}", caught.error().message);
    return;
  }
  const auto listed = Clock::now();
  std::vector<Manifest> manifests;
  std::size_t bytes = 0;
  for (const auto& name : names) {
    current_.insert(name);
    fresh_.insert(name);
    for (auto it = prefetched_.begin(); it != prefetched_.end();) {
      it = it->first.first == name ? prefetched_.erase(it) : std::next(it);
    }
    auto index = index_.find(name);
    if (index == index_.end()) continue;
    std::vector<ChainLink> links;
    for (auto e = index->second.rbegin(); e != index->second.rend(); ++e) {
      links.push_back(e->second.link);
    }
    // The newest checkpoint whose chain is complete and whose manifests
    // decoded: what load_latest_chain will read first.
    for (const auto& candidate : links) {
      const auto chain = resolve_chain(links, candidate.id);
      if (chain.missing) continue;
      std::vector<const Manifest*> found;
      std::size_t chain_bytes = 0;
      for (const auto& id : chain.ids) {
        const auto& entry = index->second.at(id);
        if (!entry.manifest) break;
        found.push_back(&*entry.manifest);
        chain_bytes += entry.manifest->total_bytes;
      }
      if (found.size() != chain.ids.size()) continue;
      if (bytes + chain_bytes <= options_.prefetch_bytes) {
        bytes += chain_bytes;
        for (const auto* m : found) manifests.push_back(*m);
      }
      break;
    }
  }
  auto images = fetch_many(manifests);
  std::size_t kept = 0;
  for (std::size_t m = 0; m < manifests.size(); ++m) {
    if (!images[m]) continue;
    ++kept;
    const std::string name = manifests[m].task.to_string();
    const CheckpointId id = manifests[m].id;
    prefetched_[{name, id}] = Prefetched{std::move(manifests[m]), std::move(*images[m])};
  }
  auto ms = [](Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  logger()->info(
      "checkpoint store: prefetched {} of {} checkpoint(s) of {} task(s), {} bytes, in {} ms "
      "({} ms listing {} home partition(s), {} ms fetching chunks)",
      kept, manifests.size(), names.size(), bytes, ms(Clock::now() - begin), ms(listed - begin),
      homes.size(), ms(Clock::now() - listed));
}

Expected<Snapshot> KafkaStore::read(const TaskId& task, CheckpointId id) {
  auto valid = check_task(task, "a checkpoint key");
  if (!valid) return valid.error();
  const std::string name = task.to_string();
  // The image is found or fetched under the lock; decoding it (most of a
  // restore's time) is not, so that tasks restoring on several threads
  // decode at the same time.
  std::unique_lock<std::mutex> lock(read_mutex_);
  auto find = [&]() -> const Entry* {
    auto it = index_.find(name);
    if (it == index_.end()) return nullptr;
    auto e = it->second.find(id);
    return e == it->second.end() ? nullptr : &e->second;
  };
  const Entry* entry = find();
  if (entry == nullptr) {
    auto caught = catch_up(home_partition(task, partitions_));
    if (!caught) return caught.error();
    entry = find();
  }
  if (entry == nullptr) {
    return Error::data("topic " + options_.topic + ": no checkpoint " + std::to_string(id.value()) +
                       " of task " + name);
  }
  const std::string where = "topic " + options_.topic + ": checkpoint " +
                            std::to_string(id.value()) + " of task " + name + " (manifest at " +
                            where_in(options_.topic, entry->partition, entry->offset) + ")";
  if (!entry->manifest) return Error::data(where + ": " + entry->damaged);
  const Manifest manifest = *entry->manifest;
  std::string bytes;
  if (auto pre = prefetched_.find({name, id}); pre != prefetched_.end()) {
    // Verified by prefetch() against this very manifest (a rewrite of the
    // id since then is read afresh).
    if (pre->second.manifest == manifest) bytes = std::move(pre->second.image);
    prefetched_.erase(pre);
  }
  if (bytes.empty() || bytes.size() != manifest.total_bytes) {
    auto payloads = fetch_chunks(manifest, where);
    if (!payloads) return payloads.error();
    bytes.clear();
    bytes.reserve(manifest.total_bytes);
    for (auto& p : *payloads) {
      bytes += p;
      std::string().swap(p);
    }
  }
  lock.unlock();
  auto snapshot = decode(bytes);
  if (!snapshot) return Error::data(where + ": " + snapshot.error().message);
  if (snapshot->task != task || snapshot->id != id || snapshot->incremental != manifest.incremental ||
      (manifest.incremental && snapshot->base != manifest.parent)) {
    return Error::data(where + ": holds checkpoint " + std::to_string(snapshot->id.value()) +
                       " of task " + snapshot->task.to_string() + ", which its manifest does not describe");
  }
  return snapshot;
}

Expected<bool> KafkaStore::remove(const TaskId& task, CheckpointId id) {
  auto valid = check_task(task, "a checkpoint key");
  if (!valid) return valid.error();
  std::lock_guard<std::mutex> lock(read_mutex_);
  auto it = index_.find(task.to_string());
  if (it == index_.end()) return true;
  auto e = it->second.find(id);
  if (e == it->second.end()) return true;
  std::vector<Outgoing> tombstones;
  if (e->second.manifest) {
    for (std::size_t i = 0; i < e->second.manifest->chunks.size(); ++i) {
      Outgoing o;
      o.partition = e->second.manifest->chunks[i].partition;
      o.key = chunk_key(task, id, static_cast<uint32_t>(i));
      tombstones.push_back(std::move(o));
    }
  }
  Outgoing m;
  m.partition = e->second.partition;
  m.key = manifest_key(task, id);
  tombstones.push_back(std::move(m));
  auto produced = produce_all(tombstones, "task " + task.to_string() + ": removing checkpoint " +
                                              std::to_string(id.value()) + " from topic " +
                                              options_.topic);
  if (!produced) return produced.error();
  it->second.erase(e);
  prefetched_.erase({task.to_string(), id});
  return true;
}

}  // namespace rivulet::checkpoint
