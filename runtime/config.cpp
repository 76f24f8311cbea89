#include "runtime/config.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace rivulet {

namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

bool is_passthrough(std::string_view key) {
  return starts_with(key, "kafka.consumer.") || starts_with(key, "kafka.producer.");
}

std::string env_name(const std::string& key) {
  std::string out = "RIVULET_";
  for (char c : key) {
    out += (c == '.' || c == '-') ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

Expected<bool> validate(const ConfigKey& key, const std::string& value) {
  switch (key.type) {
    case ConfigType::String:
      if (key.name == "application.id") return check_application_id(value);
      return true;
    case ConfigType::Bool:
      if (value == "true" || value == "false") return true;
      return Error::fatal("invalid value '" + value + "' for " + key.name +
                          ": valid values are true, false");
    case ConfigType::Enum:
      if (std::find(key.choices.begin(), key.choices.end(), value) != key.choices.end()) {
        return true;
      }
      return Error::fatal("invalid value '" + value + "' for " + key.name +
                          ": valid values are " + join(key.choices, ", "));
    case ConfigType::Int: {
      char* end = nullptr;
      errno = 0;
      long long v = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno == ERANGE || v < key.min || v > key.max) {
        std::string range = "an integer >= " + std::to_string(key.min);
        if (key.max != INT64_MAX) range += " and <= " + std::to_string(key.max);
        return Error::fatal("invalid value '" + value + "' for " + key.name + ": expected " +
                            range);
      }
      return true;
    }
  }
  return true;
}

}  // namespace

Expected<bool> check_application_id(const std::string& id) {
  // Kafka's legal topic name characters: the id prefixes topic names.
  const auto legal = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  };
  if (!id.empty() && id.size() <= 200 && std::all_of(id.begin(), id.end(), legal)) return true;
  return Error::fatal("invalid value '" + id +
                      "' for application.id: 1 to 200 letters, digits, '.', '_' or '-' (it "
                      "names the consumer group and prefixes topic names)");
}

// One key a line, its description under it:
// clang-format off
const std::vector<ConfigKey>& config_keys() {
  static const std::vector<ConfigKey> keys = {
      {"application.id", ConfigType::String, "rivulet", {}, 0, INT64_MAX,
       "Identifies the application: consumer group id, prefix of internal topics "
       "(<application.id>-dlq, <application.id>-<name>-repartition) and of checkpoint paths. "
       "1 to 200 letters, digits, '.', '_' or '-'."},
      {"bootstrap.servers", ConfigType::String, "", {}, 0, INT64_MAX,
       "Kafka bootstrap list (host:port,...). `--bootstrap` sets it on the command line."},
      {"processing.guarantee", ConfigType::Enum, "at_least_once",
       {"at_least_once", "exactly_once_v2"}, 0, INT64_MAX,
       "Delivery guarantee. at_least_once never loses a record (a crash may repeat output); "
       "exactly_once_v2 runs each task's output, input offsets and state checkpoint as one "
       "Kafka transaction per commit.interval.ms (docs/exactly-once.md)."},
      {"auto.offset.reset", ConfigType::Enum, "earliest", {"earliest", "latest"}, 0, INT64_MAX,
       "Where a stream input starts when the application has neither a checkpoint nor a "
       "committed offset for its partition: earliest (its oldest retained record) or latest "
       "(the records produced from then on; that end is committed for the group at once, so "
       "a task restarted or moved before its first commit starts there too). Tables and "
       "repartition topics are read from the beginning either way: a table is the latest "
       "value of every key. SQL: SET 'auto.offset.reset' (or "
       "'ksql.streams.auto.offset.reset'); a push query in `rivulet sql` starts at latest "
       "unless set to earliest, as in ksqlDB."},
      {"commit.interval.ms", ConfigType::Int, "1000", {}, 1, INT64_MAX,
       "How often input offsets whose outputs the broker acknowledged are committed. With "
       "exactly_once_v2: how often each task commits its transaction (and writes a checkpoint); "
       "when not set, 100 ms there, as in Kafka Streams and ksqlDB."},
      {"checkpoint.interval.ms", ConfigType::Int, "5000", {}, 0, INT64_MAX,
       "How often each task snapshots its state. 0 disables checkpoints: tables are then "
       "re-read from the beginning on restart, but aggregation state restarts empty."},
      {"checkpoint.write.async", ConfigType::Bool, "true", {}, 0, INT64_MAX,
       "Write checkpoints (encode, write, fsync, rename, remove old ones) on the "
       "application's writer thread instead of the task's: the task pauses only to take "
       "its snapshot, and leaves the encoding of a full one's decoded rows, aggregates and "
       "windows to the writer too. Input offsets are committed only once the checkpoint that "
       "covers them is durable, either way. at_least_once only (exactly_once_v2 writes each "
       "checkpoint at its transaction's boundary)."},
      {"checkpoint.retain", ConfigType::Int, "2", {}, 1, 1000,
       "How many checkpoints per task are kept; with incremental snapshots, how many chains "
       "(a full snapshot and the deltas on top of it)."},
      {"checkpoint.incremental.max.deltas", ConfigType::Int, "10", {}, 0, 100000,
       "Incremental checkpoints: after a full snapshot, this many checkpoints hold only the "
       "state changed since the previous one, then the next is full again. 0: every "
       "checkpoint is full."},
      {"checkpoint.incremental.max.delta.percent", ConfigType::Int, "50", {}, 1, 100000,
       "A full checkpoint is taken early once the deltas since the last full one add up to "
       "more than this percentage of its size."},
      {"checkpoint.store", ConfigType::Enum, "directory", {"directory", "kafka"}, 0, INT64_MAX,
       "Where checkpoints are kept: directory (files under state.dir) or kafka (the topic "
       "checkpoint.topic, so that any node of a cluster can restore any task without a shared "
       "file system)."},
      {"checkpoint.topic", ConfigType::String, "", {}, 0, INT64_MAX,
       "Topic of checkpoint.store=kafka; empty means <application.id>-checkpoints. Created "
       "when missing (compacted, on a real cluster)."},
      {"checkpoint.topic.partitions", ConfigType::Int, "8", {}, 1, 10000,
       "Partitions of the checkpoint topic when Rivulet creates it. A checkpoint's chunks "
       "spread over the partitions (the embedded broker keeps only 5 MiB per partition)."},
      {"checkpoint.chunk.bytes", ConfigType::Int, "262144", {}, 1024, 900000,
       "Largest piece of a checkpoint in one Kafka record (checkpoint.store=kafka); must stay "
       "under the broker's message.max.bytes."},
      {"state.dir", ConfigType::String, "/tmp/rivulet-state", {}, 0, INT64_MAX,
       "Directory of the checkpoint store (checkpoint.store=directory)."},
      {"max.task.idle.ms", ConfigType::Int, "0", {}, -1, INT64_MAX,
       "How long a task waits for new data on an input partition that is caught up before "
       "processing its other inputs without it (0: not at all). An input with data still on "
       "the broker is always waited for, so tables are applied before later stream records; "
       "-1 disables all waiting (as in Kafka Streams)."},
      {"stream.time.idle.advance.ms", ConfigType::Int, "-1", {}, -1, INT64_MAX,
       "When every input of a task is caught up and it has read no record for this long (wall "
       "clock), its stream time moves on with the wall clock, this far behind its time at the "
       "last record, so windows close (EMIT FINAL results go out) and stream-stream joins emit "
       "their unmatched outer records on an idle partition. A record that arrives later for a "
       "window so closed is late: dropped and counted. Set it above the longest pause a live "
       "input can have (a failover upstream included). -1: stream time moves only with records "
       "(as in Kafka Streams and ksqlDB)."},
      {"errors.tolerance", ConfigType::Enum, "all", {"all", "none"}, 0, INT64_MAX,
       "all: records that fail to decode or evaluate go to the dead-letter topic and "
       "processing continues; none: the task stops with the error."},
      {"errors.deadletterqueue.topic.name", ConfigType::String, "", {}, 0, INT64_MAX,
       "Dead-letter topic; empty means <application.id>-dlq."},
      {"source.file.poll.ms", ConfigType::Int, "1000", {}, 10, 3600000,
       "How often the files of file sources (WITH (SOURCE='file://...')) are checked: a stream "
       "file's new lines are appended to its topic, a changed table file's differences are "
       "written (upserts and tombstones)."},
      {"source.file.chunk.records", ConfigType::Int, "1000", {}, 1, 1000000,
       "Records a file source's loader writes before waiting for the broker's acknowledgement; "
       "after a crash the last chunk of each partition is read back so no line is written twice."},
      {"consumer.batch.max.records", ConfigType::Int, "2000", {}, 1, 1000000,
       "Largest batch of records of one partition handed to a task at once."},
      {"consumer.batch.wait.ms", ConfigType::Int, "2", {}, 0, 1000,
       "When records arrive at an idle consumer, how long its poll thread waits for more "
       "before handing them to the tasks (unless a full batch comes first). Each consumer hop "
       "(input, repartition topic) adds up to this much latency; 0 hands each arrival over at "
       "once, in more, smaller batches, which on the embedded broker raised the p99 of "
       "Nexmark Q1 at 100,000 records/s and of Yahoo (docs/benchmarks.md, \"A consumer hop's "
       "wait\")."},
      {"task.inbox.batches", ConfigType::Int, "16", {}, 1, 4096,
       "Batches buffered per task before its partitions are paused (backpressure)."},
      {"task.threads", ConfigType::Int, "0", {}, 0, 1024,
       "Worker threads that run the task actors (Kafka Streams' `num.stream.threads`; a task "
       "is one actor, and a worker runs whichever task has input). exactly_once_v2 tasks run "
       "on threads of their own. 0: as many as the machine's cores, at least 2. CAF's own "
       "default (the cores, at least 4) made the Yahoo pipeline about 13% slower on 2 cores "
       "(medians of 12 and 14 runs: 1.20 s against 1.06 s), where its 4 workers preempted each"
       " other and the Kafka clients' threads (docs/benchmarks.md, \"Task threads: as many as "
       "the cores\")."},
      {"statestore.cache.max.bytes", ConfigType::Int, "0", {}, 0, INT64_MAX,
       "Output cache of table results (Kafka Streams' `statestore.cache.max.bytes`, formerly "
       "`cache.max.bytes.buffering`; ksqlDB's `ksql.streams.cache.max.bytes.buffering`): the "
       "sink of a table (CREATE TABLE AS, `KTableRef::to`) keeps only the latest update of "
       "each key and writes it at the next commit, as soon as its task has caught up with its "
       "input, or when the task's share of the budget (bytes / partitions) is full. Streams "
       "are never cached. The same budget holds the partial aggregates a GROUP BY through a "
       "repartition topic combines per group between flushes, so the topic carries one record "
       "per group and flush instead of one per input record (docs/architecture.md, \"Two-phase"
       " aggregation\"). 0 (the default, as in ksqlDB's query tests): every update is written "
       "at once, every record's partial goes through alone. Nothing is lost to a crash: "
       "commits and checkpoints wait for the cached records (docs/architecture.md, \"The "
       "output cache of table results\")."},
      {"repartition.lookback.max.records", ConfigType::Int, "1000000", {}, 0, INT64_MAX,
       "With the output cache on (`statestore.cache.max.bytes`), how many records of a GROUP "
       "BY's repartition topic a restore may read back to find how far the lost run's partials "
       "reached: the restored task combines its input past that point, instead of sending "
       "each record alone up to its input's high watermark as first seen (a backlog after a "
       "failover then travels combined). Read from where the restored checkpoints say the "
       "task's later writes begin, once per topic for all tasks restored together. More "
       "records than this to read, or 0: no look back, each record alone up to the high "
       "watermark (docs/architecture.md, \"Two-phase aggregation\")."},
      {"table.decoded.max.bytes", ConfigType::Int, "268435456", {}, 0, INT64_MAX,
       "Memory the rows of `TABLE_STORAGE='AUTO'` tables (the default of SQL tables and of "
       "`Topology::table`) may take decoded, the storage with the fastest lookups: each task's"
       " share is bytes / partitions, split evenly among its AUTO tables, and a table past its"
       " share is encoded, about 1.05-1.4 times its raw bytes instead of 5-8 times. The "
       "estimate samples the bytes of 64 rows each time a table doubles (and at a restore), so"
       " it follows the rows' size without walking the table. No node holds more decoded rows "
       "than this, whatever the assignment, as with `statestore.cache.max.bytes`. 0: AUTO "
       "tables are encoded from their first row, which kept the demo's users tables within "
       "1.41 times their raw bytes at 1,563 rows per task (docs/benchmarks.md, \"A node's "
       "budget for decoded tables\"); an arena grows by at least 4 KiB, so a table of a few "
       "dozen rows takes more encoded than decoded. `/tasks` shows each AUTO table's share "
       "(`decoded_max_bytes`); `rivulet_task_table_encoded` says which tables switched "
       "(docs/architecture.md, \"How a task keeps a table's rows\")."},
      {"table.auto.encode.rows", ConfigType::Int, "10000", {}, 1, INT64_MAX,
       "Rows at which an AUTO table is encoded, whatever its bytes: past about 10,000 rows the"
       " encoded storage's lookups are as fast or faster than the decoded one's "
       "(docs/benchmarks.md, \"Tables encoded once large\")."},
      {"fetch.wait.max.ms", ConfigType::Int, "5", {}, 0, 60000,
       "How long the broker may hold an empty fetch (librdkafka fetch.wait.max.ms). The "
       "embedded broker holds an empty fetch this long even when data arrives meanwhile, so "
       "there each consumer hop (input, repartition topic) may add up to this much latency; "
       "lower costs more fetch requests (a caught-up consumer sends one per broker every this "
       "many ms). A real Kafka answers as soon as data arrives: there a larger value (Kafka's "
       "default is 500) costs no latency and spares the brokers most idle requests, but a "
       "partition assigned or resumed while a fetch waits is fetched only when that fetch "
       "returns."},
      {"producer.linger.ms", ConfigType::Int, "5", {}, 0, 900000,
       "How long the Application's producer waits to fill a batch before sending it "
       "(librdkafka linger.ms; kafka.producer.linger.ms overrides it). Each producer hop "
       "(repartition topic, output) adds up to this much latency; lower means more, smaller "
       "requests. A flush (an `exactly_once_v2` boundary, a graceful stop) does not wait for "
       "it: what lingers is sent at once. On the embedded broker, which returns one batch per "
       "partition per fetch, values under 5 cut the median but raised the p99 of multi-hop "
       "queries "
       "(docs/benchmarks.md, latency). For a query of one hop (filters, projections: Nexmark "
       "Q1 and Q2) 1 ms cut p50 from 18-20 to 11-13 ms and kept p99 at or under 20 ms in 4 of "
       "6 runs at half the live maximum, against 25-28 ms with 5 (docs/benchmarks.md, \"p99 at"
       " half load with a 1 ms linger\")."},
      {"log.level", ConfigType::Enum, "info", {"trace", "debug", "info", "warn", "error", "off"},
       0, INT64_MAX,
       "Log level, of Rivulet's lines and of librdkafka's ([kafka]): the debug output that "
       "kafka.consumer.debug or kafka.producer.debug asks for shows only at debug or trace."},
      {"schema.registry.url", ConfigType::String, "", {}, 0, INT64_MAX,
       "A Confluent Schema Registry (http://host:port; ksqlDB's `ksql.schema.registry.url`): "
       "with it, VALUE_FORMAT='AVRO', 'PROTOBUF' and 'JSON_SR' read and write the "
       "registry's wire format (Avro binary, a protobuf message, or JSON text, after a "
       "schema id), a CREATE without value columns reads them from the topic's latest "
       "schema, and a query registers its output's schema. Empty: AVRO, PROTOBUF and "
       "JSON_SR values are read and written as plain JSON (docs/sql-reference.md, \"Avro "
       "and the schema registry\", \"PROTOBUF\", \"JSON_SR\"). Read when a command starts; "
       "not a SET property."},
      {"schema.registry.basic.auth.user.info", ConfigType::String, "", {}, 0, INT64_MAX,
       "USER:PASSWORD for the schema registry's HTTP basic authentication (Confluent's "
       "`basic.auth.user.info`, as Confluent Cloud's API key and secret). Empty: none."},
      {"schema.registry.timeout.ms", ConfigType::Int, "10000", {}, 100, INT64_MAX,
       "How long one request to the schema registry may take (connect, send, answer); a "
       "request with no answer is tried 3 times."},
      {"cluster.secret", ConfigType::String, "", {}, 0, INT64_MAX,
       "Shared secret every node (and `rivulet submit`) presents to the coordinator; a "
       "mismatch is refused. Same value on every process."},
      {"cluster.failure.timeout.ms", ConfigType::Int, "3000", {}, 600, INT64_MAX,
       "A node silent this long (killed, hung, cut off) is declared dead and its tasks are "
       "restored elsewhere from their checkpoints. A node's write lease is half of it: a node "
       "that has not heard from the coordinator for that long stops writing first. Same value "
       "on every process. The coordinator closes any connection silent for a third of it, so "
       "clients (`rivulet status`, `submit`, `query`, `chaos`) send heartbeats at the pace "
       "this value sets too."},
      {"cluster.heartbeat.interval.ms", ConfigType::Int, "250", {}, 10, INT64_MAX,
       "How often a node reports to the coordinator (and renews its write leases); at most a "
       "sixth of cluster.failure.timeout.ms."},
      {"cluster.tls.certificate", ConfigType::String, "", {}, 0, INT64_MAX,
       "PEM certificate (chain) of this process for the control plane's TLS (caf_openssl). "
       "Set cluster.tls.certificate, cluster.tls.key and cluster.tls.ca on the coordinator, every "
       "node and every client (rivulet submit, status, query, chaos), or on none: a TLS "
       "coordinator refuses plain connections."},
      {"cluster.tls.key", ConfigType::String, "", {}, 0, INT64_MAX,
       "PEM private key of cluster.tls.certificate."},
      {"cluster.tls.key.passphrase", ConfigType::String, "", {}, 0, INT64_MAX,
       "Passphrase of cluster.tls.key, if it is encrypted."},
      {"cluster.tls.ca", ConfigType::String, "", {}, 0, INT64_MAX,
       "PEM file of the certificate authority that signed every process's certificate: peers "
       "must present a certificate it signed (both directions)."},
  };
  return keys;
}
// clang-format on

const ConfigKey* find_config_key(std::string_view name) {
  for (const auto& k : config_keys()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

Config::Config() {
  for (const auto& k : config_keys()) {
    if (!k.default_value.empty()) values_[k.name] = k.default_value;
  }
}

Expected<std::map<std::string, std::string>> Config::read_properties(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error::fatal("cannot read configuration file " + path);
  std::map<std::string, std::string> out;
  std::string line;
  std::string pending;
  int line_no = 0;
  int start_line = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (pending.empty()) start_line = line_no;
    std::string t = trim(line);
    if (pending.empty() && (t.empty() || t[0] == '#' || t[0] == '!')) continue;
    if (!t.empty() && t.back() == '\\') {
      t.pop_back();
      pending += t;
      continue;
    }
    t = pending + t;
    pending.clear();
    size_t sep = t.find_first_of("=:");
    if (sep == std::string::npos) {
      return Error::fatal(path + ":" + std::to_string(start_line) + ": expected key=value, got '" +
                          t + "'");
    }
    std::string key = trim(t.substr(0, sep));
    std::string value = trim(t.substr(sep + 1));
    if (key.empty()) {
      return Error::fatal(path + ":" + std::to_string(start_line) + ": empty key");
    }
    out[key] = value;
  }
  return out;
}

Expected<bool> Config::set(const std::string& key, const std::string& value) {
  if (is_passthrough(key)) {
    values_[key] = value;
    return true;
  }
  const ConfigKey* def = find_config_key(key);
  if (!def) {
    return Error::fatal("unknown configuration key '" + key +
                        "' (see `rivulet config` for the valid keys; librdkafka properties go "
                        "under kafka.consumer. or kafka.producer.)");
  }
  auto ok = validate(*def, value);
  if (!ok) return ok.error();
  values_[key] = value;
  explicit_.insert(key);
  return true;
}

Expected<Config> Config::from_map(const std::map<std::string, std::string>& values) {
  Config c;
  for (const auto& [k, v] : values) {
    auto r = c.set(k, v);
    if (!r) return r.error();
  }
  return c;
}

Expected<Config> Config::load(const std::string& properties_file,
                              const std::vector<std::string>& set_overrides,
                              bool use_environment) {
  Config c;
  if (!properties_file.empty()) {
    auto props = read_properties(properties_file);
    if (!props) return props.error();
    for (const auto& [k, v] : *props) {
      auto r = c.set(k, v);
      if (!r) {
        Error e = r.error();
        e.message = properties_file + ": " + e.message;
        return e;
      }
    }
  }
  if (use_environment) {
    for (const auto& k : config_keys()) {
      if (const char* v = std::getenv(env_name(k.name).c_str())) {
        auto r = c.set(k.name, v);
        if (!r) {
          Error e = r.error();
          e.message = "environment " + env_name(k.name) + ": " + e.message;
          return e;
        }
      }
    }
  }
  for (const auto& kv : set_overrides) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) {
      return Error::fatal("--set expects key=value, got '" + kv + "'");
    }
    auto r = c.set(trim(kv.substr(0, eq)), trim(kv.substr(eq + 1)));
    if (!r) return r.error();
  }
  return c;
}

std::string Config::get(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? std::string() : it->second;
}

int64_t Config::get_int(const std::string& key) const {
  return std::strtoll(get(key).c_str(), nullptr, 10);
}

bool Config::get_bool(const std::string& key) const { return get(key) == "true"; }

std::map<std::string, std::string> Config::kafka_properties(const std::string& role) const {
  std::map<std::string, std::string> out;
  std::string prefix = "kafka." + role + ".";
  for (const auto& [k, v] : values_) {
    if (starts_with(k, prefix)) out[k.substr(prefix.size())] = v;
  }
  return out;
}

std::string Config::describe_keys(bool markdown) {
  std::ostringstream os;
  if (markdown) {
    os << "| key | type | default | description |\n| --- | --- | --- | --- |\n";
  }
  for (const auto& k : config_keys()) {
    std::string type;
    switch (k.type) {
      case ConfigType::String: type = "string"; break;
      case ConfigType::Int: type = "integer"; break;
      case ConfigType::Bool: type = "boolean"; break;
      case ConfigType::Enum: type = join(k.choices, " \\| "); break;
    }
    if (markdown) {
      os << "| `" << k.name << "` | " << type << " | "
         << (k.default_value.empty() ? "" : "`" + k.default_value + "`") << " | " << k.doc
         << " |\n";
    } else {
      std::string plain_type = type;
      std::string::size_type pos;
      while ((pos = plain_type.find(" \\| ")) != std::string::npos) plain_type.replace(pos, 4, "|");
      os << "  " << k.name << " (" << plain_type
         << (k.default_value.empty() ? "" : ", default " + k.default_value) << ")\n      "
         << k.doc << "\n";
    }
  }
  if (markdown) {
    os << "| `kafka.consumer.*` | string | | Passed to librdkafka's consumer with the prefix "
          "removed. |\n"
       << "| `kafka.producer.*` | string | | Passed to librdkafka's producer with the prefix "
          "removed. |\n";
  } else {
    os << "  kafka.consumer.*, kafka.producer.*\n      Passed to librdkafka with the prefix "
          "removed.\n";
  }
  return os.str();
}

}  // namespace rivulet
