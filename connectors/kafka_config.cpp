#include "connectors/kafka_config.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <algorithm>

#include "connectors/kafka_log.hpp"
#include "runtime/log.hpp"

namespace rivulet::connectors {

spdlog::logger& kafka_log() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    if (auto existing = spdlog::get("kafka")) return existing;
    try {
      auto made = spdlog::stderr_color_mt("kafka");
      made->set_level(rivulet::logger()->level());  // log.level, as set_log_level keeps it
      return made;
    } catch (const spdlog::spdlog_ex&) {
      // Registered by another thread between get and create.
      return spdlog::get("kafka");
    }
  }();
  return *logger;
}

namespace {

// librdkafka logs with syslog levels from its own threads; spdlog loggers
// made by *_mt are thread-safe.
void log_callback(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  auto lvl = spdlog::level::debug;
  if (level <= 3) {
    lvl = spdlog::level::err;
  } else if (level == 4) {
    lvl = spdlog::level::warn;
  } else if (level <= 6) {
    lvl = spdlog::level::info;
  }
  kafka_log().log(lvl, "{} {}: {}", rk ? rd_kafka_name(rk) : "rdkafka", facility, message);
}

}  // namespace

KafkaProperties common_defaults() {
  return {
      {"client.id", "rivulet"},
      {"reconnect.backoff.ms", "50"},
      {"reconnect.backoff.max.ms", "1000"},
      {"log.connection.close", "false"},
      {"socket.keepalive.enable", "true"},
  };
}

KafkaProperties consumer_defaults() {
  auto props = common_defaults();
  props.insert({
      {"fetch.wait.max.ms", "5"},
      {"fetch.error.backoff.ms", "50"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "false"},
      {"auto.offset.reset", "error"},
      // Bounded prefetch per consumer: backpressure must bound memory.
      // Both bounds count the whole consumer queue (the partitions' queues
      // are forwarded into it). Every partition stops fetching while either
      // is exceeded, and its broker thread looks again only on its next
      // wakeup, about a second later (librdkafka 2.0; later versions call
      // this wait fetch.queue.backoff.ms). A bound this consumer's poll
      // thread empties in less than that second leaves it idle for the rest:
      // at 20,000 messages a consumer of 24 partitions stalled for 0.2-0.9 s
      // several times a run (bench_sql yahoo), and at 100,000 one run in
      // four of bench_sql q2 (184,000 preloaded records) stalled for 0.85 s.
      // So the count allows a second's worth of records or more, and the
      // 64 MiB of values hold memory; what the count bounds is librdkafka's
      // per-message overhead (a few hundred bytes each) for tiny records.
      {"queued.max.messages.kbytes", "65536"},
      {"queued.min.messages", "1000000"},
  });
  return props;
}

KafkaProperties standalone_reader_properties(const KafkaProperties& base,
                                             const std::string& client_id) {
  auto props = merge_properties(common_defaults(), base);
  props["client.id"] = client_id;
  props["group.id"] = client_id;  // never joins, never commits
  props["enable.auto.commit"] = "false";
  props["enable.auto.offset.store"] = "false";
  props["enable.partition.eof"] = "true";
  props["auto.offset.reset"] = "earliest";
  props["fetch.wait.max.ms"] = "10";
  props["fetch.error.backoff.ms"] = "50";
  return props;
}

KafkaProperties producer_defaults() {
  auto props = common_defaults();
  props.insert({
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"partitioner", "murmur2_random"},
      {"linger.ms", "5"},
      {"queue.buffering.max.messages", "200000"},
      {"queue.buffering.max.kbytes", "131072"},
      {"message.timeout.ms", "30000"},
      {"retry.backoff.ms", "100"},
  });
  return props;
}

KafkaProperties merge_properties(const KafkaProperties& defaults,
                                 const KafkaProperties& overrides) {
  KafkaProperties merged = defaults;
  for (const auto& [key, value] : overrides) merged[key] = value;
  return merged;
}

Expected<ConfPtr> make_conf(const KafkaProperties& properties) {
  ConfPtr conf(rd_kafka_conf_new());
  char errstr[512];
  for (const auto& [key, value] : properties) {
    errstr[0] = '\0';
    const rd_kafka_conf_res_t res =
        rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), errstr, sizeof errstr);
    if (res == RD_KAFKA_CONF_UNKNOWN) {
      return Error::fatal("kafka configuration: unknown property '" + key + "': " + errstr);
    }
    if (res != RD_KAFKA_CONF_OK) {
      return Error::fatal("kafka configuration: invalid value '" + value + "' for property '" +
                          key + "': " + errstr);
    }
  }
  rd_kafka_conf_set_log_cb(conf.get(), log_callback);
  return conf;
}

std::string kafka_error_text(rd_kafka_resp_err_t err) {
  return std::string(rd_kafka_err2name(err)) + " (" + rd_kafka_err2str(err) + ")";
}

bool is_retriable(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      return true;
    default:
      return false;
  }
}

std::string property_or(const KafkaProperties& properties, const std::string& key,
                        const std::string& fallback) {
  auto it = properties.find(key);
  return it == properties.end() ? fallback : it->second;
}


std::vector<std::string> request_topic_metadata(rd_kafka_t* rk,
                                                const std::vector<std::string>& topics,
                                                std::chrono::milliseconds timeout) {
  std::vector<std::string> known;
  const int timeout_ms = static_cast<int>(std::max<int64_t>(1, timeout.count()));
  for (const auto& topic : topics) {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    if (rkt == nullptr) continue;
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, /*all_topics=*/0, rkt, &md, timeout_ms);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (md->topic_cnt != 1) {
        err = RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
      } else {
        err = md->topics[0].err;
      }
      rd_kafka_metadata_destroy(md);
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      known.push_back(topic);
    } else {
      kafka_log().warn("{}: metadata for {}: {}", rd_kafka_name(rk), topic, kafka_error_text(err));
    }
    rd_kafka_topic_destroy(rkt);
  }
  return known;
}

int resolve_logical_offsets(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* list,
                            std::chrono::milliseconds timeout) {
  auto logical = [](int64_t offset) {
    return offset == RD_KAFKA_OFFSET_BEGINNING || offset == RD_KAFKA_OFFSET_END;
  };
  // ListOffsets takes a timestamp per partition, and the two logical
  // offsets are also Kafka's timestamps for "earliest" and "latest".
  TopicPartitionListPtr query(rd_kafka_topic_partition_list_new(list->cnt));
  for (int i = 0; i < list->cnt; ++i) {
    const auto& e = list->elems[i];
    if (logical(e.offset))
      rd_kafka_topic_partition_list_add(query.get(), e.topic, e.partition)->offset = e.offset;
  }
  if (query->cnt == 0) return 0;
  const int timeout_ms = static_cast<int>(std::max<int64_t>(1, timeout.count()));
  if (const auto err = rd_kafka_offsets_for_times(rk, query.get(), timeout_ms);
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    kafka_log().debug("{}: start offsets of {} partition(s) left to the consumer: {}",
                      rd_kafka_name(rk), query->cnt, kafka_error_text(err));
    return 0;
  }
  int resolved = 0;
  for (int i = 0; i < query->cnt; ++i) {
    const auto& q = query->elems[i];
    if (q.err != RD_KAFKA_RESP_ERR_NO_ERROR || q.offset < 0) continue;
    rd_kafka_topic_partition_t* e =
        rd_kafka_topic_partition_list_find(list, q.topic, q.partition);
    if (e == nullptr || !logical(e->offset)) continue;
    e->offset = q.offset;
    ++resolved;
  }
  return resolved;
}

}  // namespace rivulet::connectors
