#include "cli/sql_shell.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <set>
#include <string_view>
#include <variant>

#include "actors/application.hpp"
#include "cluster/client.hpp"
#include "cluster/insert_values.hpp"
#include "cluster/protocol.hpp"
#include "cluster/query.hpp"
#include "cluster/query_plan.hpp"
#include "cluster/source_loading.hpp"
#include "connectors/kafka_consumer.hpp"
#include "connectors/record_formatter.hpp"
#include "connectors/topic_admin.hpp"
#include "operators/window.hpp"
#include "runtime/codec.hpp"
#include "runtime/schema_registry.hpp"
#include "runtime/timestamp.hpp"
#include "sql/analyzer.hpp"
#include "sql/app_file.hpp"
#include "sql/functions.hpp"
#include "sql/header_columns.hpp"
#include "sql/parser.hpp"
#include "sql/planner.hpp"
#include "sql/subquery.hpp"

namespace rivulet::cli {

std::atomic<bool> SqlShell::interrupted{false};

// ---------------------------------------------------------------------------
// Output

namespace {

using sql::Statement;

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string cell(const Value& v) {
  if (v.kind() == TypeKind::String) return v.as_string();
  if (v.is_null()) return "null";
  // Temporal values as ksqlDB's CLI shows them (in JSON they are numbers).
  if (v.kind() == TypeKind::Timestamp) return format_timestamp(v.as_timestamp());
  if (v.kind() == TypeKind::Date) return format_date(v.as_date());
  if (v.kind() == TypeKind::Time) return format_time_of_day(v.as_time());
  std::string s = to_json(v);
  // A DOUBLE reads as one (7.0, not 7), as ksqlDB prints it.
  if (v.kind() == TypeKind::Double && s.find_first_of(".eEnN") == std::string::npos) s += ".0";
  return s;
}

// Columns a cell's text takes: one per UTF-8 code point.
size_t text_width(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

// The lines a cell takes in a column `width` wide: its own line breaks,
// then a break every `width` code points (as ksqlDB's CLI wraps a value
// wider than its column).
std::vector<std::string> wrap_cell(const std::string& s, size_t width) {
  width = std::max<size_t>(width, 1);
  std::vector<std::string> out;
  std::string current;
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '\n' || s[i] == '\r') {
      if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      out.push_back(std::move(current));
      current.clear();
      n = 0;
      ++i;
      continue;
    }
    size_t len = 1;
    while (i + len < s.size() && (static_cast<unsigned char>(s[i + len]) & 0xC0) == 0x80) ++len;
    if (n == width) {
      out.push_back(std::move(current));
      current.clear();
      n = 0;
    }
    current.append(s, i, len);
    ++n;
    i += len;
  }
  out.push_back(std::move(current));
  return out;
}

// One row of a bordered table, each cell wrapped to its column's width: as
// many lines as its tallest cell (no trailing line break).
std::string bordered_row(const std::vector<std::string>& cells, const std::vector<size_t>& width) {
  std::vector<std::vector<std::string>> parts;
  size_t height = 1;
  for (size_t i = 0; i < cells.size() && i < width.size(); ++i) {
    parts.push_back(wrap_cell(cells[i], width[i]));
    height = std::max(height, parts.back().size());
  }
  static const std::string kEmpty;
  std::string s;
  for (size_t l = 0; l < height; ++l) {
    if (l) s += "\n";
    s += "|";
    for (size_t i = 0; i < parts.size(); ++i) {
      const std::string& part = l < parts[i].size() ? parts[i][l] : kEmpty;
      const size_t used = text_width(part);
      s += " " + part + std::string(used < width[i] ? width[i] - used : 0, ' ') + " |";
    }
  }
  return s;
}

// How wide a push query's column of this type starts (its rows are not
// known when its header is printed): an epoch in milliseconds or a
// timestamp fits without wrapping.
size_t typical_width(const DataTypePtr& type) {
  if (!type) return 12;
  switch (type->kind) {
    case TypeKind::BigInt:
      return 14;
    case TypeKind::Timestamp:
      return 23;  // 2026-12-06T02:00:00.000
    case TypeKind::Decimal:
      return std::max(12, type->precision + 2);
    default:
      return 12;
  }
}

// Configuration keys whose values SHOW PROPERTIES does not print.
bool secret_key(const std::string& key) {
  for (const char* part : {"secret", "password", "passphrase", "sasl.jaas.config"})
    if (key.find(part) != std::string::npos) return true;
  return false;
}

// Blocks SIGINT and SIGTERM in this thread while threads are started, so
// that they inherit the mask and signals reach the main thread only.
class SignalBlock {
 public:
  SignalBlock() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~SignalBlock() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  SignalBlock(const SignalBlock&) = delete;
  SignalBlock& operator=(const SignalBlock&) = delete;

 private:
  sigset_t old_;
};

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<Value>> rows;
};

// Rows delivered by a push query's tasks, bounded: a full queue holds the
// task back until the shell has printed (backpressure).
class RowQueue {
 public:
  static constexpr size_t kCapacity = 1000;
  void push(const Record& r) {
    std::unique_lock<std::mutex> lock(mutex_);
    space_.wait(lock, [&] { return closed_ || rows_.size() < kCapacity; });
    if (closed_) return;  // the query ended; its task is being stopped
    rows_.push_back(r);
    ready_.notify_one();
  }
  std::deque<Record> take(std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait_for(lock, wait, [&] { return !rows_.empty(); });
    std::deque<Record> out;
    out.swap(rows_);
    space_.notify_all();
    return out;
  }
  void close() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    rows_.clear();
    space_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::deque<Record> rows_;
  bool closed_ = false;
};

struct RunningQuery {
  std::string id;
  std::string sink;  // the stream or table written
  std::string text;
  std::unique_ptr<sql::SqlEngine> engine;  // planned this query alone
  std::unique_ptr<Application> app;
};

}  // namespace

struct SqlShell::Impl {
  ShellOptions options;
  std::ostream& out;
  std::ostream& err;
  sql::SqlEngine session;
  std::vector<RunningQuery> queries;
  // The loaders of the file and memory sources queries read (as `rivulet
  // run`): one per source for the rest of the session, started before the
  // first query that reads it; stopped after every query.
  std::vector<std::unique_ptr<cluster::SourceLoading>> loaders;
  std::set<std::string> loaded;  // "NAME topic uri" of the sources loading
  std::string id_base;  // application.id prefix when none is configured
  std::string started;  // the session's start, epoch ms
  int transient_count = 0;

  Impl(ShellOptions o, std::ostream& out_, std::ostream& err_)
      : options(std::move(o)), out(out_), err(err_) {
    started = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count());
    id_base = "rivulet-sql-" + started;
  }

  // The query id of the session's `n`th push query: its consumer group, and
  // so its committed offsets, are its own even when every session has the
  // same configured application.id (ksqlDB's transient ids are unique too).
  std::string transient_id(int n) const { return "transient-" + started + "-" + std::to_string(n); }

  // ---- printing -------------------------------------------------------------

  void print_table(const Table& t, bool footer) {
    if (options.json) {
      nlohmann::json rows = nlohmann::json::array();
      for (const auto& r : t.rows) {
        std::string obj = "{";
        for (size_t i = 0; i < t.header.size() && i < r.size(); ++i)
          obj += (i ? ", " : "") + nlohmann::json(t.header[i]).dump() + ": " + to_json(r[i]);
        rows.push_back(nlohmann::json::parse(obj + "}"));
      }
      out << rows.dump() << std::endl;
      return;
    }
    // Each column as wide as its widest line (a value's own line breaks
    // wrap it).
    std::vector<size_t> width;
    for (const auto& h : t.header) width.push_back(text_width(h));
    std::vector<std::vector<std::string>> cells;
    for (const auto& r : t.rows) {
      std::vector<std::string> line;
      for (size_t i = 0; i < t.header.size(); ++i) {
        line.push_back(i < r.size() ? cell(r[i]) : "");
        for (const auto& part : wrap_cell(line.back(), SIZE_MAX))
          width[i] = std::max(width[i], text_width(part));
      }
      cells.push_back(std::move(line));
    }
    std::string rule = "+";
    for (size_t w : width) rule += std::string(w + 2, '-') + "+";
    out << rule << "\n" << bordered_row(t.header, width) << "\n" << rule << "\n";
    for (const auto& c : cells) out << bordered_row(c, width) << "\n";
    if (!cells.empty()) out << rule << "\n";
    if (footer) out << "(" << cells.size() << (cells.size() == 1 ? " row)" : " rows)") << "\n";
    out << std::flush;
  }

  void message(const std::string& text) {
    if (options.json) {
      out << nlohmann::json{{"message", text}}.dump() << std::endl;
    } else {
      out << text << std::endl;
    }
  }

  // ---- configuration --------------------------------------------------------

  // The session's own configuration: defaults, --config, the environment,
  // the session's SETs of configuration keys, --set, then --bootstrap.
  Expected<Config> session_config() const {
    sql::PlannedApp app;
    app.properties = session.properties();
    return sql::app_config(app, options.config, flag_sets());
  }
  // --set's key=value overrides, then --bootstrap's.
  std::vector<std::string> flag_sets() const {
    std::vector<std::string> sets = options.sets;
    if (!options.bootstrap.empty()) sets.push_back("bootstrap.servers=" + options.bootstrap);
    return sets;
  }

  // The configuration of a query started now: defaults, --config, the
  // environment, the session's SETs of configuration keys, --set, then
  // --bootstrap.
  // `need_bootstrap` false: the configuration EXPLAIN names topics with.
  Expected<Config> query_config(const std::string& query_id, bool need_bootstrap = true) {
    auto config = session_config();
    if (!config) return config.error();
    if (need_bootstrap && config->get("bootstrap.servers").empty())
      return Error::fatal(
          "no bootstrap.servers to run queries against: start the shell with --bootstrap LIST "
          "(or --set bootstrap.servers=LIST, a --config file, RIVULET_BOOTSTRAP_SERVERS)");
    std::string base = config->is_set("application.id") ? config->get("application.id") : id_base;
    auto ok = config->set("application.id", base + "-" + lower(query_id));
    if (!ok) return ok.error();
    if (!config->is_set("log.level")) (void)config->set("log.level", "warn");
    return config;
  }

  std::string property(const std::string& name) const {
    for (const auto& [k, v] : session.properties())
      if (k == name) return v;
    return "";
  }

  // ---- statements -----------------------------------------------------------

  // Runs the statements of one chunk; an error is printed (after `prefix`,
  // a script's path) and ends the chunk.
  bool execute_chunk(const StatementSplitter::Chunk& chunk, const std::string& prefix) {
    auto statements = session.parse_chunk(chunk);
    if (!statements) {
      err << prefix << statements.error().message << std::endl;
      return false;
    }
    for (const auto& s : *statements) {
      auto r = run(s);
      if (!r) {
        err << prefix << r.error().message << std::endl;
        return false;
      }
    }
    return true;
  }

  // RUN SCRIPT 'path': the file's statements in this session, as if typed;
  // it stops at the first that fails (its error names the file's
  // line:column). Scripts may run scripts, 16 deep at most.
  int script_depth = 0;
  Expected<bool> run_script(const sql::RunScript& r) {
    if (script_depth >= 16)
      return sql_error(r.path_loc, "RUN SCRIPT nested more than 16 deep (a script runs itself?)");
    std::ifstream in(r.path);
    if (!in) return sql_error(r.path_loc, "cannot read script '" + r.path + "'");
    ++script_depth;
    StatementSplitter splitter;
    std::string line;
    bool ok = true;
    auto run_chunk = [&](const StatementSplitter::Chunk& chunk) {
      if (ok && !chunk.text.empty()) ok = execute_chunk(chunk, r.path + ": ");
    };
    while (ok && std::getline(in, line))
      for (const auto& chunk : splitter.add_line(line)) run_chunk(chunk);
    run_chunk(splitter.take_rest());  // a last statement may omit its ';'
    --script_depth;
    if (!ok) return sql_error(r.path_loc, "script '" + r.path + "' stopped at its first error");
    return true;
  }

  Expected<bool> run(const Statement& s) {
    using namespace sql;
    if (const auto* d = std::get_if<DropSource>(&s.body)) return drop(s, *d);
    if (const auto* c = std::get_if<CreateSource>(&s.body)) return create_source(s, *c);
    if (const auto* a = std::get_if<AssertTopic>(&s.body)) return assert_topic(*a);
    if (const auto* a = std::get_if<AssertSchema>(&s.body)) return assert_schema(*a);
    if (std::holds_alternative<AlterSource>(s.body) ||  // queries running keep their columns
        std::holds_alternative<CreateType>(s.body) || std::holds_alternative<DropType>(s.body)) {
      auto r = session.execute(s);
      if (!r) return r.error();
      message(*r);
      return true;
    }
    if (std::holds_alternative<CreateAsSelect>(s.body) || std::holds_alternative<InsertInto>(s.body))
      return persistent(s);
    if (const auto* set = std::get_if<SetProperty>(&s.body)) return set_property(s, *set);
    if (const auto* unset = std::get_if<UnsetProperty>(&s.body)) {
      auto r = session.execute(s);
      if (!r) return r.error();
      message("Successfully unset local property '" + unset->name + "'.");
      return true;
    }
    if (const auto* show = std::get_if<ShowList>(&s.body)) return show_list(s, *show);
    if (const auto* d = std::get_if<Describe>(&s.body)) return describe(*d);
    if (const auto* t = std::get_if<Terminate>(&s.body)) return terminate(*t);
    if (const auto* p = std::get_if<PauseResume>(&s.body)) return pause_resume(*p);
    if (const auto* e = std::get_if<Explain>(&s.body)) return explain(*e);
    if (const auto* sel = std::get_if<SelectStatement>(&s.body)) {
      if (sel->query->emit == EmitMode::Unspecified) return pull(*sel->query);
      return push(*sel->query);
    }
    if (const auto* v = std::get_if<InsertValues>(&s.body)) return insert_values(*v);
    if (const auto* p = std::get_if<PrintTopic>(&s.body)) return print_topic(*p);
    if (const auto* r = std::get_if<RunScript>(&s.body)) return run_script(*r);
    if (std::holds_alternative<DefineVariable>(s.body)) {
      auto r = session.execute(s);  // silent, as in ksqlDB's CLI
      if (!r) return r.error();
      return true;
    }
    if (std::holds_alternative<UndefineVariable>(s.body)) {
      auto r = session.execute(s);
      if (!r) return r.error();
      if (r->rfind("Cannot undefine", 0) == 0) message(*r);
      return true;
    }
    return sql_error(s.loc, "not supported yet: this statement");
  }

  // The shell's own readers (PRINT, pull queries on streams) hand their
  // batches to the shell's thread through a short queue: a full queue
  // pauses the partition (memory stays bounded however fast the topic
  // grows and however slow the terminal is).
  struct ReaderSink : connectors::BatchSink {
    std::mutex m;
    std::condition_variable ready;
    std::deque<RawBatch> batches;
    bool offer(RawBatch&& batch) override {
      std::lock_guard<std::mutex> lock(m);
      if (batches.size() >= 8) return false;
      batches.push_back(std::move(batch));
      ready.notify_one();
      return true;
    }
    std::optional<RawBatch> take(std::chrono::milliseconds wait) {
      std::unique_lock<std::mutex> lock(m);
      ready.wait_for(lock, wait, [&] { return !batches.empty(); });
      if (batches.empty()) return std::nullopt;
      RawBatch b = std::move(batches.front());
      batches.pop_front();
      return b;
    }
  };

  // A consumer of `positions` (the shell's own reads: PRINT, pull queries
  // on streams) handing its batches to `sink`; its group id is the
  // statement's application.id, never committed.
  Expected<std::unique_ptr<connectors::KafkaConsumer>> start_reader(
      const Config& config, const std::string& thread,
      std::vector<connectors::StartPosition> positions, ReaderSink& sink) {
    std::map<std::string, std::string> props{
        {"bootstrap.servers", config.get("bootstrap.servers")}};
    for (const auto& [k, v] : config.kafka_properties("consumer")) props[k] = v;
    props["group.id"] = config.get("application.id");
    connectors::ConsumerOptions copts;
    copts.thread_name = thread;
    auto consumer = connectors::KafkaConsumer::create(props, copts);
    if (!consumer) return consumer.error();
    auto assigned = (*consumer)->assign(std::move(positions));
    if (!assigned) return assigned.error();
    (*consumer)->start(&sink);
    return std::move(*consumer);
  }

  // PRINT topic [FROM BEGINNING] [INTERVAL n] [LIMIT n]: the topic's records
  // as ksqlDB prints them (connectors/record_formatter.hpp guesses their
  // formats), from every partition, until LIMIT records or Ctrl-C.
  // ASSERT [NOT EXISTS] TOPIC: the topic's metadata read every 100 ms until
  // the assertion holds (answered as ksqlDB answers it) or its timeout
  // (1 s unless given, ksqlDB's default) passes (an error). A topic that
  // exists with other PARTITIONS or REPLICAS fails at once.
  Expected<bool> assert_topic(const sql::AssertTopic& a) {
    std::optional<int32_t> partitions, replicas;
    for (const auto& p : a.properties.items) {
      if (p.name != "PARTITIONS" && p.name != "REPLICAS")
        return sql_error(p.loc, "Unsupported property for ASSERT TOPIC: " + p.name +
                                    " (PARTITIONS and REPLICAS are)");
      if (p.value.kind() != TypeKind::Int || p.value.as_int32() <= 0)
        return sql_error(p.loc, "Invalid value for " + p.name + ": must be a positive integer");
      (p.name == "PARTITIONS" ? partitions : replicas) = p.value.as_int32();
    }
    if (!a.exists && (partitions || replicas))
      return sql_error(a.properties.items.front().loc,
                       "ASSERT NOT EXISTS TOPIC takes no properties: a topic that does not "
                       "exist has none");
    auto config = query_config("assert");
    if (!config) return config.error();
    std::unique_ptr<connectors::TopicAdmin> admin;
    {
      SignalBlock block;
      auto made =
          connectors::TopicAdmin::create({{"bootstrap.servers", config->get("bootstrap.servers")}});
      if (!made) return made.error();
      admin = std::move(*made);
    }
    auto held = poll_until(a.timeout_ms, [&]() -> Expected<bool> {
      auto layout = admin->layout(a.topic);
      if (!layout) return layout.error();
      if (layout->has_value() && a.exists) {
        auto mismatch = [&](const char* what, int32_t expected, int32_t got) {
          return sql_error(a.topic_loc, "Mismatched configuration for topic " + a.topic +
                                            ": For config " + what + ", expected " +
                                            std::to_string(expected) + " got " +
                                            std::to_string(got));
        };
        if (partitions && (*layout)->partitions != *partitions)
          return mismatch("partitions", *partitions, (*layout)->partitions);
        if (replicas && (*layout)->replicas != *replicas)
          return mismatch("replicas", *replicas, (*layout)->replicas);
        message("Topic " + a.topic + " exists.");
        return true;
      }
      if (!layout->has_value() && !a.exists) {
        message("Topic " + a.topic + " does not exist.");
        return true;
      }
      return false;
    });
    if (!held || *held) return held;
    return sql_error(a.topic_loc,
                     "Topic " + a.topic + (a.exists ? " does not exist." : " exists."));
  }

  // Calls `check` every 100 ms until it holds (true) or fails, or until
  // `timeout_ms` (ksqlDB's default for ASSERT, 1 s, unless given) passes or
  // Ctrl-C stops it: false then.
  Expected<bool> poll_until(std::optional<int64_t> timeout_ms,
                            const std::function<Expected<bool>()>& check) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms.value_or(1000));
    interrupted = false;
    for (;;) {
      auto held = check();
      if (!held || *held) return held;
      if (interrupted.exchange(false) || std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  // ASSERT [NOT EXISTS] SCHEMA: the schema registry asked every 100 ms
  // until the subject has a version, the id exists, or (both given) the id
  // is registered under the subject (or, NOT EXISTS, until not), as ksqlDB
  // answers it; after the timeout (1 s unless given) an error at SCHEMA.
  Expected<bool> assert_schema(const sql::AssertSchema& a) {
    auto registry = schema_registry();
    if (!registry)
      return sql_error(a.loc, "ASSERT SCHEMA needs a schema registry: set schema.registry.url");
    const std::string subject = a.subject ? " subject " + *a.subject : "";
    const std::string id = a.id ? " id " + std::to_string(*a.id) : "";
    auto held = poll_until(a.timeout_ms, [&]() -> Expected<bool> {
      bool found = false;
      if (a.id) {
        auto subjects = registry->subjects_of(*a.id);
        if (!subjects)
          return sql_error(a.loc, "Cannot check schema existence: " + subjects.error().message);
        found = a.subject
                    ? std::find(subjects->begin(), subjects->end(), *a.subject) != subjects->end()
                    : !subjects->empty();
      } else {
        auto versions = registry->versions_of(*a.subject);
        if (!versions)
          return sql_error(a.loc, "Cannot check schema existence: " + versions.error().message);
        found = !versions->empty();
      }
      if (found != a.exists) return false;
      message("Schema with" + subject + id + (a.exists ? " exists." : " does not exist."));
      return true;
    });
    if (!held || *held) return held;
    return sql_error(a.loc, "Schema with" + (a.subject ? " subject name " + *a.subject : "") + id +
                                (a.exists ? " does not exist" : " exists"));
  }

  Expected<bool> print_topic(const sql::PrintTopic& p) {
    auto config = query_config("print");
    if (!config) return config.error();
    const std::string bootstrap = config->get("bootstrap.servers");
    ReaderSink sink;  // outlives the consumer, whose poll thread offers to it
    std::unique_ptr<connectors::KafkaConsumer> consumer;
    {
      SignalBlock block;
      auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", bootstrap}});
      if (!admin) return admin.error();
      auto topics = (*admin)->topics();
      if (!topics) return topics.error();
      auto found = topics->find(p.topic);
      if (found == topics->end()) {
        std::string near;
        for (const auto& [name, n] : *topics)
          if (lower(name) == lower(p.topic)) near = name;
        return sql_error(p.topic_loc,
                         "Could not find topic '" + p.topic + "'. Topic names are case-sensitive" +
                             (near.empty() ? "." : " (did you mean '" + near + "'?)."));
      }
      std::vector<connectors::StartPosition> positions;
      for (int32_t part = 0; part < found->second; ++part)
        positions.push_back(connectors::StartPosition{
            TopicPartition{p.topic, PartitionId{part}},
            p.from_beginning ? connectors::StartPosition::kBeginning
                             : connectors::StartPosition::kEnd});
      auto c = start_reader(*config, "rivulet.print", std::move(positions), sink);
      if (!c) return c.error();
      consumer = std::move(*c);
    }
    connectors::RecordFormatter keys(connectors::RecordFormatter::Part::Key);
    connectors::RecordFormatter values(connectors::RecordFormatter::Part::Value);
    interrupted = false;
    int64_t read = 0, printed = 0;
    bool header = false;
    auto bytes_of = [](const RawBytes& b) {
      return b.has_value() ? std::optional<std::string_view>(b.view()) : std::nullopt;
    };
    while (!p.limit || printed < *p.limit) {
      if (interrupted.exchange(false)) break;
      auto batch = sink.take(std::chrono::milliseconds(100));
      if (!batch) continue;
      std::vector<std::string> lines;
      for (const RawRecord& r : batch->records) {
        if (p.limit && printed >= *p.limit) break;
        if (read++ % p.interval != 0) continue;
        ++printed;
        const std::string key = keys.format(bytes_of(r.key));
        const std::string value = values.format(bytes_of(r.value));
        if (options.json) {
          lines.push_back(nlohmann::json{{"rowtime", r.timestamp},
                                         {"partition", batch->tp.partition.value()},
                                         {"offset", r.offset},
                                         {"key", key},
                                         {"value", value}}
                              .dump());
        } else {
          lines.push_back("rowtime: " + connectors::format_rowtime(r.timestamp) + ", key: " + key +
                          ", value: " + value +
                          ", partition: " + std::to_string(batch->tp.partition.value()));
        }
      }
      // The formats go first, as guessed from the first batch (ksqlDB's).
      if (!header && !lines.empty() && !options.json) {
        out << "Key format: " << keys.describe() << "\n"
            << "Value format: " << values.describe() << "\n";
        header = true;
      }
      for (const auto& l : lines) out << l << "\n";
      out << std::flush;
    }
    {
      SignalBlock block;
      consumer->stop();
    }
    if (!options.json) out << "Topic printing ceased" << std::endl;
    return true;
  }

  // INSERT INTO s [(cols)] VALUES (...): one record to s's topic, at once.
  // With --coordinator, s may be a stream or table of a submitted query
  // that this session does not declare: encoded as that query declares it.
  Expected<bool> insert_values(const sql::InsertValues& v) {
    auto record = sql::encode_insert_values(session.catalog(), v);
    if (!record && !options.coordinator.empty() && !session.catalog().find(v.target)) {
      auto submitted = encode_for_submitted(v);
      if (!submitted) return submitted.error();
      if (*submitted) record = std::move(**submitted);
    }
    if (!record) return record.error();
    auto config = query_config("insert");
    if (!config) return config.error();
    SignalBlock block;
    auto written = cluster::write_inserts({*record}, *config);
    if (!written) return written.error();
    message("Row inserted into " + record->target + ".");
    return true;
  }

  // With --coordinator: the cluster's submitted queries, each planned as
  // its nodes plan it (a text that no longer plans is left out).
  struct Submitted {
    cluster::QueryDef def;
    std::unique_ptr<sql::SqlEngine> engine;
  };
  // The configuration to reach the cluster with (cluster.secret, TLS).
  Expected<Config> cluster_settings() const { return Config::load(options.config, options.sets); }

  Expected<std::vector<Submitted>> submitted_queries() {
    SignalBlock block;
    auto config = cluster_settings();
    if (!config) return config.error();
    auto defs = cluster::fetch_queries(options.coordinator, *config);
    if (!defs) return defs.error();
    std::vector<Submitted> out;
    for (auto& def : *defs) {
      auto engine = std::make_unique<sql::SqlEngine>();
      if (!engine->execute_script(def.sql)) continue;
      out.push_back({std::move(def), std::move(engine)});
    }
    return out;
  }

  // `v` encoded against the first submitted query (of the cluster at
  // --coordinator) that declares or creates its target; nullopt: none does.
  Expected<std::optional<sql::InsertedRecord>> encode_for_submitted(const sql::InsertValues& v) {
    auto submitted = submitted_queries();
    if (!submitted) return submitted.error();
    for (const auto& q : *submitted) {
      if (!q.engine->catalog().find(v.target)) continue;
      auto record = sql::encode_insert_values(q.engine->catalog(), v);
      if (!record) return record.error();
      return std::optional<sql::InsertedRecord>(std::move(*record));
    }
    return std::optional<sql::InsertedRecord>();
  }

  // CREATE STREAM/TABLE: a Kafka source declared with PARTITIONS has its
  // topic created when missing (as ksqlDB does), when the shell has a
  // broker; the catalog changes only once the topic is there.
  Expected<bool> create_source(const Statement& s, const sql::CreateSource& c) {
    auto config = query_config("topics", false);
    if (!config) return config.error();
    if (config->get("bootstrap.servers").empty()) {
      auto r = session.execute(s);
      if (!r) return r.error();
      // Without Kafka nothing runs: a source table is declared, not
      // materialized (its query starts in a shell with --bootstrap).
      message(c.is_source && r->rfind("Table created", 0) == 0 ? "Table created" : *r);
      return true;
    }
    auto engine = session.fork();
    auto r = engine.execute(s);
    if (!r) return r.error();
    const sql::SourceInfo* info = engine.catalog().find(c.name);
    if (info && info->source_kind == sql::SourceKind::Kafka && info->partitions > 0 &&
        info->query_id.empty()) {
      SignalBlock block;
      auto created = cluster::create_declared_topics({*info}, *config);
      if (!created) return sql_error(c.name_loc, created.error().message);
    }
    // CREATE SOURCE TABLE: materialized by a query of its own (CST_...),
    // started like any persistent query.
    if (c.is_source && c.type == sql::SourceType::Table) return persistent(s);
    session = engine.fork();
    message(*r);
    return true;
  }

  Expected<bool> catalog_change(const Statement& s) {
    auto r = session.execute(s);
    if (!r) return r.error();
    message(*r);
    return true;
  }

  Expected<bool> drop(const Statement& s, const sql::DropSource& d) {
    std::optional<std::string> own;  // a source table's own query (CST_...)
    if (const sql::SourceInfo* src = session.catalog().find(d.name)) {
      std::vector<std::string> readers, writers;
      for (const auto& q : queries) {
        if (src->read_only && q.sink == src->name && q.id.rfind("CST_", 0) == 0) {
          own = q.id;  // stopped with its table, as ksqlDB does
          continue;
        }
        if (q.sink == src->name) writers.push_back(q.id);
        auto read = q.engine->sources_read();  // by name: another source may share the topic
        if (std::find(read.begin(), read.end(), src->name) != read.end()) readers.push_back(q.id);
      }
      if (!readers.empty() || !writers.empty()) {
        auto list = [](const std::vector<std::string>& ids) {
          std::string s;
          for (const auto& id : ids) s += (s.empty() ? "" : ", ") + id;
          return "[" + s + "]";
        };
        return sql_error(d.name_loc, "Cannot drop " + src->name +
                                         ".\nThe following queries read from this source: " +
                                         list(readers) +
                                         ".\nThe following queries write into this source: " +
                                         list(writers) +
                                         ".\nYou need to terminate them before dropping " +
                                         src->name + ".");
      }
    }
    auto r = session.execute(s);  // refused (DROP STREAM of a table, ...): nothing stops
    if (!r) return r.error();
    if (own) {
      auto it = std::find_if(queries.begin(), queries.end(),
                             [&](const RunningQuery& q) { return q.id == *own; });
      RunningQuery q = std::move(*it);
      queries.erase(it);
      SignalBlock block;
      q.app->stop();
      session.forget_query_id(q.id);
    }
    message(*r);
    return true;
  }

  Expected<bool> set_property(const Statement& s, const sql::SetProperty& set) {
    std::string before = property(set.name);
    auto r = session.execute(s);
    if (!r) return r.error();
    auto check = session_config();
    if (!check) {  // undo
      sql::Statement undo;
      if (before.empty()) {
        undo.body = sql::UnsetProperty{set.name};
      } else {
        undo.body = sql::SetProperty{set.name, before};
      }
      (void)session.execute(undo);
      return sql_error(s.loc, check.error().message);
    }
    message("Successfully changed local property '" + set.name + "' to '" + set.value + "'.");
    return true;
  }

  // Starts the loaders of the file and memory sources `topology` reads that
  // no earlier query of the session loads (their topics are created and
  // hold the first load when it returns).
  Expected<bool> load_sources(const sql::Catalog& catalog, const Topology& topology,
                              const Config& config) {
    sql::PlannedApp app;
    std::vector<std::string> names;
    for (auto& src : sql::external_sources(catalog, topology)) {
      std::string id = src.name + " " + src.topic + " " + src.source_path;
      if (loaded.count(id)) continue;
      names.push_back(std::move(id));
      app.external_sources.push_back(std::move(src));
    }
    if (app.external_sources.empty()) return true;
    auto loading = cluster::SourceLoading::start(app, config);
    if (!loading) return Error::fatal("file/memory sources: " + loading.error().to_string());
    loaded.insert(names.begin(), names.end());
    loaders.push_back(std::move(*loading));
    return true;
  }

  Expected<bool> persistent(const Statement& s) {
    auto engine = std::make_unique<sql::SqlEngine>(session.fork());
    const int before = engine->query_count();
    auto r = engine->execute(s);
    if (!r) return r.error();
    if (engine->query_count() == before) {  // IF NOT EXISTS on an existing source
      message(*r);
      return true;
    }
    const std::string id = engine->last_query_id();  // WITH (QUERY_ID=...) or generated
    std::string sink;
    if (const auto* c = std::get_if<sql::CreateAsSelect>(&s.body)) {
      sink = c->name;
    } else if (const auto* src = std::get_if<sql::CreateSource>(&s.body)) {
      const sql::SourceInfo* info = engine->catalog().find(src->name);
      sink = info ? info->name : src->name;
    } else {
      sink = std::get<sql::InsertInto>(s.body).target;
    }
    auto valid = engine->topology().validate();
    if (!valid) return valid.error();
    // Each query runs as an application of its own, so a loop through the
    // running queries (A from S, then INSERT INTO S FROM A) is looked for
    // over all of them, as the engine looks in one file.
    Topology::TopicFlows flows = engine->topology().topic_flows();
    for (const auto& q : queries)
      for (auto& [topic, written] : q.engine->topology().topic_flows())
        flows[topic].insert(written.begin(), written.end());
    if (auto loop = find_topic_cycle(flows); !loop.empty())
      return sql_error(s.loc, sql::topic_loop_error(loop));
    auto config = query_config(id);
    if (!config) return config.error();
    std::unique_ptr<Application> app;
    {
      SignalBlock block;
      auto loading = load_sources(engine->catalog(), engine->topology(), *config);
      if (!loading) return loading.error();
      app = std::make_unique<Application>(engine->topology(), *config);
      auto started = app->start();
      if (!started) {
        app->stop();
        return Error::fatal("query " + id + " did not start: " + started.error().to_string());
      }
    }
    session = engine->fork();
    std::string what = "Insert query";
    if (const auto* c = std::get_if<sql::CreateAsSelect>(&s.body))
      what = c->type == sql::SourceType::Table ? "Table created" : "Stream created";
    what += " and running";
    if (std::holds_alternative<sql::CreateSource>(s.body)) what = "Table created and materialized";
    message(what + " (query " + id + ", application.id=" + app->application_id() + ", " +
            std::to_string(app->partitions()) + " partitions)");
    queries.push_back(RunningQuery{id, sink, s.text, std::move(engine), std::move(app)});
    return true;
  }

  // EXPLAIN statement: planned as the statement would be, not started, the
  // session unchanged. EXPLAIN query_id: a running query's plan.
  Expected<bool> explain(const sql::Explain& e) {
    std::string id, text, plan, running;
    if (e.statement) {
      const Statement& inner = *e.statement;
      const auto* select = std::get_if<sql::SelectStatement>(&inner.body);
      if (select && select->query->emit != sql::EmitMode::Unspecified) {  // a push query
        sql::SqlEngine engine = session.fork();
        auto info = engine.plan_push(*select->query, [](const Record&) {});
        if (!info) return info.error();
        auto valid = engine.topology().validate();
        if (!valid) return valid.error();
        auto config = query_config(transient_id(transient_count + 1), false);
        if (!config) return config.error();
        return print_plan("(push query)", inner.text, "no (EXPLAIN does not start it)",
                          engine.explain(config->get("application.id")));
      }
      if (!std::holds_alternative<sql::CreateAsSelect>(inner.body) &&
          !std::holds_alternative<sql::InsertInto>(inner.body))
        return sql_error(inner.loc,
                         "EXPLAIN takes CREATE STREAM|TABLE ... AS SELECT, INSERT INTO ... SELECT, "
                         "a push query (SELECT ... EMIT CHANGES) or a running query's id "
                         "(SHOW QUERIES)");
      sql::SqlEngine engine = session.fork();
      const int before = engine.query_count();
      auto r = engine.execute(inner);
      if (!r) return r.error();
      if (engine.query_count() == before) {  // IF NOT EXISTS on an existing source
        message(*r);
        return true;
      }
      id = engine.last_query_id();
      auto valid = engine.topology().validate();
      if (!valid) return valid.error();
      text = inner.text;
      auto config = query_config(id, false);  // its repartition topics' names
      if (!config) return config.error();
      plan = engine.explain(config->get("application.id"));
      running = "no (EXPLAIN does not start it)";
    } else {
      auto it = std::find_if(queries.begin(), queries.end(), [&](const RunningQuery& q) {
        return q.id == e.query_id || q.id == upper(e.query_id);
      });
      if (it == queries.end())
        return sql_error(e.query_loc,
                         "Unknown queryId: " + e.query_id + " (SHOW QUERIES lists them)");
      id = it->id;
      text = it->text;
      plan = it->engine->explain(it->app->application_id());
      running = "yes (application.id=" + it->app->application_id() + ", " +
                std::to_string(it->app->partitions()) + " partitions)";
    }
    return print_plan(id, text, running, plan);
  }

  bool print_plan(const std::string& id, const std::string& text, const std::string& running,
                  const std::string& plan) {
    if (options.json) {
      out << nlohmann::json{{"queryId", id},
                            {"statement", text},
                            {"running", running},
                            {"plan", plan}}
                 .dump()
          << std::endl;
      return true;
    }
    out << "Query ID             : " << id << "\n"
        << "Statement            : " << text << "\n"
        << "Running              : " << running << "\n"
        << plan << std::flush;
    return true;
  }

  Expected<bool> terminate(const sql::Terminate& t) {
    std::vector<RunningQuery> stopping;
    if (t.all) {
      stopping.swap(queries);
    } else {
      auto it = std::find_if(queries.begin(), queries.end(), [&](const RunningQuery& q) {
        return q.id == t.query_id || q.id == upper(t.query_id);
      });
      if (it == queries.end() && !options.coordinator.empty()) return terminate_submitted(t);
      if (it == queries.end())
        return Error::fatal("Unknown queryId: " + t.query_id + " (SHOW QUERIES lists them)");
      stopping.push_back(std::move(*it));
      queries.erase(it);
    }
    for (auto& q : stopping) {
      SignalBlock block;
      q.app->stop();
      session.forget_query_id(q.id);  // a later WITH (QUERY_ID=...) may take it
    }
    message(stopping.size() == 1 ? "Query terminated." : std::to_string(stopping.size()) +
                                                             " queries terminated.");
    return true;
  }

  // PAUSE / RESUME: the query's tasks stop processing (state kept, input
  // waiting in its topics) or go on (Application::pause). A name the shell
  // does not run, and ALL, reach the cluster at --coordinator too.
  Expected<bool> pause_resume(const sql::PauseResume& p) {
    const char* done = p.resume ? "resumed" : "paused";
    std::vector<RunningQuery*> chosen;
    for (auto& q : queries)
      if (p.all || q.id == p.query_id || q.id == upper(p.query_id)) chosen.push_back(&q);
    if (!p.all && chosen.empty() && !options.coordinator.empty()) return pause_submitted(p);
    if (!p.all && chosen.empty())
      return sql_error(p.query_loc,
                       "Unknown queryId: " + p.query_id + " (SHOW QUERIES lists them)");
    for (RunningQuery* q : chosen) {
      if (p.resume) {
        q->app->resume();
      } else {
        q->app->pause();
      }
    }
    if (!p.all) {
      message("Query " + chosen.front()->id + " " + done + ".");
      return true;
    }
    // ALL with --coordinator: the cluster's submitted queries as well.
    std::vector<std::string> submitted;
    if (!options.coordinator.empty()) {
      SignalBlock block;
      auto config = cluster_settings();
      if (!config) return config.error();
      auto asked = cluster::pause_all(options.coordinator, !p.resume, config->get("cluster.secret"),
                                      &*config);
      if (!asked) return asked.error();
      submitted = std::move(*asked);
    }
    const size_t n = chosen.size() + submitted.size();
    std::string names;
    for (const auto& name : submitted) names += (names.empty() ? "" : ", ") + name;
    message(std::to_string(n) + (n == 1 ? " query " : " queries ") + done +
            (names.empty() ? std::string(".") : " (in the cluster: " + names + ")."));
    return true;
  }

  // The name under which the cluster at --coordinator holds the query typed
  // as `id`: as submitted, which the parser may have upper-cased; "" when
  // there is none.
  Expected<std::string> submitted_name(const std::string& id, const Config& config) {
    auto defs = cluster::fetch_queries(options.coordinator, config);
    if (!defs) return defs.error();
    std::string name;
    for (const auto& d : *defs)
      if (d.name == id || (name.empty() && upper(d.name) == upper(id))) name = d.name;
    return name;
  }

  // PAUSE / RESUME of a query submitted to the cluster at --coordinator (as
  // `rivulet pause` does): the nodes follow within a heartbeat.
  Expected<bool> pause_submitted(const sql::PauseResume& p) {
    SignalBlock block;
    auto config = cluster_settings();
    if (!config) return config.error();
    auto found = submitted_name(p.query_id, *config);
    if (!found) return found.error();
    const std::string& name = *found;
    if (name.empty())
      return sql_error(p.query_loc, "Unknown queryId: " + p.query_id +
                                        " (SHOW QUERIES lists them, the cluster's too)");
    auto asked = cluster::pause_query(options.coordinator, name, !p.resume,
                                      config->get("cluster.secret"), &*config);
    if (!asked) return asked.error();
    message("Query " + name + (p.resume ? " resumed" : " paused") + " in the cluster.");
    return true;
  }

  // TERMINATE of a query submitted to the cluster at --coordinator (as
  // `rivulet terminate` does): returns once no node runs it.
  Expected<bool> terminate_submitted(const sql::Terminate& t) {
    SignalBlock block;
    auto config = cluster_settings();
    if (!config) return config.error();
    auto found = submitted_name(t.query_id, *config);
    if (!found) return found.error();
    const std::string& name = *found;
    if (name.empty())
      return Error::fatal("Unknown queryId: " + t.query_id +
                          " (SHOW QUERIES lists them, the cluster's too)");
    auto asked = cluster::terminate_query(options.coordinator, name, config->get("cluster.secret"),
                                          &*config);
    if (!asked) return asked.error();
    auto done =
        cluster::wait_terminated(options.coordinator, name, &*config, std::chrono::seconds(60));
    if (!done) return done.error();
    message("Query " + name + " terminated in the cluster.");
    return true;
  }

  // SHOW QUERIES' rows for the cluster's submitted queries: the query's
  // name, its tasks' state (the coordinator's status), the streams and
  // tables it creates, and its SQL on one line.
  Expected<std::vector<std::vector<Value>>> submitted_query_rows() {
    auto submitted = submitted_queries();
    if (!submitted) return submitted.error();
    nlohmann::json status;
    {
      SignalBlock block;
      auto config = cluster_settings();
      if (!config) return config.error();
      auto text = cluster::fetch_status(options.coordinator, &*config);
      if (!text) return text.error();
      status = nlohmann::json::parse(*text, nullptr, false);
    }
    std::vector<std::vector<Value>> rows;
    for (const auto& q : *submitted) {
      size_t tasks = 0, running = 0;
      std::string error;
      if (status.is_object() && status.contains("tasks"))
        for (const auto& task : status["tasks"]) {
          if (task.value("query", "") != q.def.name) continue;
          ++tasks;
          if (task.value("state", "") == "running") ++running;
          if (error.empty()) error = task.value("error", "");
        }
      std::string state =
          tasks > 0 && running == tasks
              ? "RUNNING"
              : std::to_string(running) + " of " + std::to_string(tasks) + " tasks running";
      if (q.def.paused) state = "PAUSED";
      if (!error.empty()) state = "ERROR: " + error;
      std::string sinks;
      for (auto type : {sql::SourceType::Stream, sql::SourceType::Table})
        for (const sql::SourceInfo* src : q.engine->catalog().list(type))
          if (!src->query_id.empty()) sinks += (sinks.empty() ? "" : ", ") + src->name;
      std::string text;  // the file's SQL, one space for each run of blanks
      for (char ch : q.def.sql) {
        bool blank = std::isspace(static_cast<unsigned char>(ch)) != 0;
        if (blank && (text.empty() || text.back() == ' ')) continue;
        text += blank ? ' ' : ch;
      }
      if (!text.empty() && text.back() == ' ') text.pop_back();
      rows.push_back({Value::string(q.def.name), Value::string(state), Value::string(sinks),
                      Value::string(text)});
    }
    return rows;
  }

  Expected<bool> show_list(const Statement& s, const sql::ShowList& show) {
    using What = sql::ShowList::What;
    Table t;
    if (show.what == What::Queries && show.extended) {
      // Each running query's plan, as EXPLAIN query_id prints it.
      for (const auto& q : queries) {
        if (!options.json) out << "\n";
        sql::Explain e;
        e.query_id = q.id;
        auto r = explain(e);
        if (!r) return r.error();
      }
      return true;
    }
    if ((show.what == What::Streams || show.what == What::Tables) && show.extended) {
      // As ksqlDB: DESCRIBE STREAMS|TABLES EXTENDED.
      sql::Describe d;
      d.what = show.what == What::Streams ? sql::Describe::What::AllStreams
                                          : sql::Describe::What::AllTables;
      d.extended = true;
      return describe(d);
    }
    if (show.what == What::Streams || show.what == What::Tables) {
      bool streams = show.what == What::Streams;
      t.header = {streams ? "Stream Name" : "Table Name", "Kafka Topic", "Key Format",
                  "Value Format", "Windowed"};
      const auto type = streams ? sql::SourceType::Stream : sql::SourceType::Table;
      std::set<std::string> listed;
      auto add = [&](const sql::SourceInfo* src) {
        if (!listed.insert(src->name).second) return;
        t.rows.push_back({Value::string(src->name), Value::string(src->topic),
                          Value::string(src->key_format), Value::string(src->value_format),
                          Value::boolean(src->window.has_value())});
      };
      for (const sql::SourceInfo* src : session.catalog().list(type)) add(src);
      if (!options.coordinator.empty()) {  // then the cluster's, by the first query naming each
        auto submitted = submitted_queries();
        if (!submitted) return submitted.error();
        for (const auto& q : *submitted)
          for (const sql::SourceInfo* src : q.engine->catalog().list(type)) add(src);
      }
    } else if (show.what == What::Queries) {
      t.header = {"Query ID", "Status", "Sink Name", "Query String"};
      for (const auto& q : queries) {
        std::string status = q.app->paused() ? "PAUSED" : "RUNNING";
        if (auto f = q.app->failure()) status = "ERROR: " + *f;
        t.rows.push_back({Value::string(q.id), Value::string(status), Value::string(q.sink),
                          Value::string(q.text)});
      }
      if (!options.coordinator.empty()) {
        auto cluster_rows = submitted_query_rows();
        if (!cluster_rows) return cluster_rows.error();
        for (auto& row : *cluster_rows) t.rows.push_back(std::move(row));
      }
    } else if (show.what == What::Variables) {
      t.header = {"Variable Name", "Value"};
      for (const auto& [name, value] : session.variables())
        t.rows.push_back({Value::string(name), Value::string(value)});
    } else if (show.what == What::Types) {
      t.header = {"Type Name", "Schema"};
      for (const auto& [name, type] : session.types())
        t.rows.push_back({Value::string(name), Value::string(type->to_string())});
    } else if (show.what == What::Properties) {
      // What a query started now runs with: every configuration key's
      // value and where it comes from, then the session's other SETs (the
      // planner's ksql.* properties); secrets hidden.
      // What the shell gives each query (its own application.id, quieter
      // logs) is what query_config has and the session's configuration
      // has not.
      auto base = session_config();
      if (!base) return base.error();
      auto effective = query_config("query_id", false);  // as for a query of that id
      if (!effective) return effective.error();
      std::map<std::string, std::string> by_flag, by_set;
      for (const auto& s : flag_sets()) by_flag[s.substr(0, s.find('='))] = "--set";
      if (!options.bootstrap.empty()) by_flag["bootstrap.servers"] = "--bootstrap";
      for (const auto& [k, v] : session.properties())
        by_set[sql::is_offset_reset_key(k) ? "auto.offset.reset" : k] = v;
      auto shown = [](const std::string& k, const std::string& v) {
        return secret_key(k) && !v.empty() ? std::string("[hidden]") : v;
      };
      t.header = {"Property", "Value", "Set by"};
      for (const auto& [k, v] : effective->values()) {
        std::string from = by_flag.count(k)    ? by_flag[k]
                           : by_set.count(k)   ? "SET"
                           : base->is_set(k)   ? "configuration"
                           : base->get(k) != v ? "shell"
                                               : "default";
        t.rows.push_back({Value::string(k), Value::string(shown(k, v)), Value::string(from)});
      }
      for (const auto& [k, v] : by_set)
        if (!effective->values().count(k))
          t.rows.push_back({Value::string(k), Value::string(shown(k, v)), Value::string("SET")});
    } else if (show.what == What::Topics) {
      auto config = query_config("topics");
      if (!config) return config.error();
      SignalBlock block;
      auto admin = connectors::TopicAdmin::create(
          {{"bootstrap.servers", config->get("bootstrap.servers")}});
      if (!admin) return admin.error();
      auto topics = (*admin)->topics();
      if (!topics) return topics.error();
      t.header = {"Kafka Topic", "Partitions"};
      for (const auto& [name, n] : *topics) {
        if (!show.all && internal_topic(name)) continue;
        t.rows.push_back({Value::string(name), Value::int32(n)});
      }
    } else {  // FUNCTIONS
      t.header = {"Function Name", "Type"};
      for (const sql::FunctionDef* f : sql::FunctionRegistry::global().all()) {
        t.rows.push_back({Value::string(f->name), Value::string(function_type(*f))});
      }
    }
    print_table(t, false);
    return true;
  }

  // SHOW FUNCTIONS' and DESCRIBE FUNCTION's type, as ksqlDB names it.
  static const char* function_type(const sql::FunctionDef& f) {
    switch (f.kind) {
      case sql::FunctionDef::Kind::Aggregate:
        return "AGGREGATE";
      case sql::FunctionDef::Kind::Table:
        return "TABLE";
      default:
        return "SCALAR";
    }
  }

  // A topic SHOW TOPICS leaves out (SHOW ALL TOPICS lists it), as ksqlDB
  // hides its own: names starting with '_' (Kafka's __consumer_offsets, the
  // embedded broker's control topic), repartition topics and the topics of
  // checkpoint.store=kafka.
  static bool internal_topic(const std::string& name) {
    auto ends_with = [&](const std::string& suffix) {
      return name.size() >= suffix.size() &&
             name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    return name.rfind('_', 0) == 0 || ends_with("-repartition") || ends_with("-checkpoints");
  }

  // DESCRIBE FUNCTION name: its type, signature and description (ksqlDB's
  // "Can't find any functions with the name" when unknown).
  Expected<bool> describe_function(const sql::Describe& d) {
    const sql::FunctionDef* f = sql::FunctionRegistry::global().find(d.name);
    if (!f) return sql_error(d.name_loc, "Can't find any functions with the name '" + d.name + "'");
    const char* type = function_type(*f);
    if (options.json) {
      nlohmann::json j{{"name", f->name},
                       {"type", type},
                       {"signature", f->signature},
                       {"description", f->description}};
      out << j.dump() << std::endl;
      return true;
    }
    out << "Name                 : " << f->name << "\n"
        << "Type                 : " << type << "\n"
        << "Signature            : " << f->signature << "\n"
        << "Description          : " << f->description << std::endl;
    return true;
  }

  Expected<bool> describe(const sql::Describe& d) {
    if (d.what == sql::Describe::What::Function) return describe_function(d);
    if (d.what == sql::Describe::What::AllStreams || d.what == sql::Describe::What::AllTables) {
      // Each stream (table), as DESCRIBE [EXTENDED] describes it.
      const auto type = d.what == sql::Describe::What::AllStreams ? sql::SourceType::Stream
                                                                  : sql::SourceType::Table;
      for (const sql::SourceInfo* src : session.catalog().list(type)) {
        if (!options.json) out << "\n";
        if (d.extended && options.json) {
          describe_extended(*src);
          continue;
        }
        describe_source(*src);
        if (d.extended) describe_extended(*src);
      }
      return true;
    }
    auto src = session.catalog().resolve(d.name, d.name_loc);
    // With --coordinator, a name the session does not declare may be a
    // submitted query's stream or table: described as that query declares it.
    Expected<std::vector<Submitted>> submitted = std::vector<Submitted>{};
    if (!src && !options.coordinator.empty() && !session.catalog().find(d.name)) {
      submitted = submitted_queries();
      if (!submitted) return submitted.error();
      for (const auto& q : *submitted)
        if (const sql::SourceInfo* found = q.engine->catalog().find(d.name)) {
          src = found;
          break;
        }
    }
    if (!src) return src.error();
    if (d.extended && options.json) {  // one object with the columns
      describe_extended(**src);
      return true;
    }
    describe_source(**src);
    if (d.extended) describe_extended(**src);
    return true;
  }

  // DESCRIBE name EXTENDED: after the columns, as ksqlDB's, the statement,
  // the timestamp column, the topic's partitions, the shell's running
  // queries that read or write the source, and their figures. With
  // --output json, one object: the columns and all of that.
  void describe_extended(const sql::SourceInfo& info) {
    const std::string timestamp =
        info.timestamp_column ? *info.timestamp_column : "Not set - using <ROWTIME>";
    std::string partitions;  // "" when there is no Kafka to ask
    std::optional<int32_t> partition_count;
    if (auto config = query_config("describe"); config) {
      SignalBlock block;
      auto admin = connectors::TopicAdmin::create(
          {{"bootstrap.servers", config->get("bootstrap.servers")}});
      if (admin) {
        auto n = (*admin)->partition_count(info.topic);
        if (n && *n) partition_count = **n;
        partitions = !n ? "unknown (" + n.error().message + ")"
                     : *n ? std::to_string(**n) : "none (the topic does not exist)";
      }
    }
    const std::string kind = info.is_table() ? "TABLE" : "STREAM";
    std::vector<const RunningQuery*> readers, writers;
    for (const auto& rq : queries) {
      if (rq.sink == info.name) writers.push_back(&rq);
      const auto topics = rq.engine->topology().source_topics();
      if (std::find(topics.begin(), topics.end(), info.topic) != topics.end())
        readers.push_back(&rq);
    }
    struct Figures {
      std::string id;
      uint64_t in = 0, out = 0, errors = 0, dead = 0, skipped = 0;
      int64_t lag = 0;
    };
    std::vector<Figures> figures;
    std::set<const RunningQuery*> seen;
    for (const auto* group : {&readers, &writers}) {
      for (const RunningQuery* rq : *group) {
        if (!seen.insert(rq).second) continue;
        Figures f{rq->id};
        for (const TaskMetrics& m : rq->app->task_metrics()) {
          f.in += m.records_in;
          f.out += m.records_out;
          f.errors += m.data_errors;
          f.dead += m.dead_lettered;
          f.skipped += m.records_skipped;
          f.lag += m.lag;
        }
        figures.push_back(std::move(f));
      }
    }
    if (options.json) {
      nlohmann::json fields = nlohmann::json::array();
      for (const Column& c : info.schema.columns) {
        nlohmann::json field{{"name", c.name}, {"type", c.type->to_string()}, {"key", c.is_key}};
        for (const auto& [column, key] : info.header_columns)  // "header": its key, or null
          if (column == c.name) field["header"] = key ? nlohmann::json(*key) : nlohmann::json();
        fields.push_back(std::move(field));
      }
      auto list = [](const std::vector<const RunningQuery*>& qs) {
        nlohmann::json a = nlohmann::json::array();
        for (const RunningQuery* rq : qs) a.push_back({{"id", rq->id}, {"statement", rq->text}});
        return a;
      };
      nlohmann::json stats = nlohmann::json::object();
      for (const Figures& f : figures)
        stats[f.id] = {{"records-in", f.in},      {"records-out", f.out},
                       {"data-errors", f.errors}, {"dead-lettered", f.dead},
                       {"skipped", f.skipped},    {"lag", f.lag}};
      nlohmann::json j{{"name", info.name},
                       {"type", sql::source_type_name(info.type)},
                       {"topic", info.topic},
                       {"keyFormat", info.key_format},
                       {"valueFormat", info.value_format},
                       {"fields", fields},
                       {"statement", info.statement},
                       {"timestamp", timestamp},
                       {"partitions", partition_count ? nlohmann::json(*partition_count)
                                                      : nlohmann::json()},
                       {"readQueries", list(readers)},
                       {"writeQueries", list(writers)},
                       {"statistics", stats}};
      if (info.window) j["windowType"] = sql::window_type_name(*info.window);
      out << j.dump() << std::endl;
      return;
    }
    out << "Statement            : " << info.statement << "\n"
        << "Timestamp field      : " << timestamp << "\n";
    if (!partitions.empty()) out << "Partitions           : " << partitions << "\n";
    auto list = [&](const std::string& title, const std::vector<const RunningQuery*>& qs) {
      out << "\n" << title << "\n" << std::string(title.size(), '-') << "\n";
      for (const RunningQuery* rq : qs) out << rq->id << " (RUNNING) : " << rq->text << "\n";
    };
    list("Queries that read from this " + kind, readers);
    list("Queries that write from this " + kind, writers);
    out << "\nFor query topology and execution plan please run: EXPLAIN <QueryId>\n";
    const std::string title = "Runtime statistics";
    out << "\n" << title << "\n" << std::string(title.size(), '-') << "\n";
    for (const Figures& f : figures)
      out << f.id << ": records-in " << f.in << "  records-out " << f.out << "  data-errors "
          << f.errors << "  dead-lettered " << f.dead << "  skipped " << f.skipped << "  lag "
          << f.lag << "\n";
    out << "(Statistics of this shell's queries on topic " << info.topic << ")" << std::endl;
  }

  void describe_source(const sql::SourceInfo& info) {
    if (!options.json) {
      out << "Name                 : " << info.name << "\n"
          << "Type                 : " << sql::source_type_name(info.type) << "\n"
          << "Kafka topic          : " << info.topic << " (key " << info.key_format
          << ", value " << info.value_format << ")\n";
      if (info.window) {
        out << "Windowed             : " << sql::window_type_name(*info.window);
        if (info.window_size_ms && *info.window != sql::WindowType::Session)
          out << " (size " << *info.window_size_ms << " ms)";
        out << "\n";
      }
      if (!info.query_id.empty()) out << "Written by query     : " << info.query_id << "\n";
    }
    Table t;
    t.header = {"Field", "Type"};
    for (const Column& c : info.schema.columns) {
      std::string type = c.type->to_string();
      if (c.is_key) type += info.is_table() ? "  (primary key)" : "  (key)";
      for (const auto& [column, key] : info.header_columns)
        if (column == c.name) type += key ? "  (header('" + *key + "'))" : "  (headers)";
      t.rows.push_back({Value::string(c.name), Value::string(type)});
    }
    print_table(t, false);
  }

  // ---- pull queries ---------------------------------------------------------

  Expected<bool> pull(const sql::Query& q) {
    using namespace sql;
    if (!q.joins.empty())
      return sql_error(q.joins[0].loc, "Pull queries don't support JOIN clauses.");
    if (q.window) return sql_error(q.window->loc, "Pull queries don't support WINDOW clauses.");
    if (!q.group_by.empty())
      return sql_error(q.group_by[0]->loc, "Pull queries don't support GROUP BY clauses.");
    if (!q.partition_by.empty())
      return sql_error(q.partition_by[0]->loc, "Pull queries don't support PARTITION BY clauses.");
    if (q.having) return sql_error(q.having->loc, "Pull queries don't support HAVING clauses.");
    {  // subqueries read a running query's tables, in its tasks
      std::vector<ExprPtr> subqueries = find_subqueries(q.where);
      for (const SelectItem& item : q.select)
        for (const ExprPtr& s : find_subqueries(item.expr)) subqueries.push_back(s);
      if (!subqueries.empty())
        return sql_error(subqueries[0]->loc,
                         "Pull queries don't support subqueries (a persistent query may use "
                         "them: CREATE STREAM ... AS SELECT ... WHERE x IN (SELECT ...))");
    }
    const bool remote = !options.coordinator.empty();
    const SourceInfo* local = session.catalog().find(q.from.name);
    if (!remote) {
      auto src = session.catalog().resolve(q.from.name, q.from.loc);
      if (!src) return src.error();
      if ((*src)->is_stream()) return pull_stream(q, **src);
    } else if (local && local->is_stream()) {
      return pull_stream(q, *local);
    }
    // The target: a table of a running query (local), or of the cluster.
    cluster::TableTarget target;
    Application* app = nullptr;
    std::optional<Config> cluster_config;
    if (remote) {
      SignalBlock block;
      auto config = cluster_settings();
      if (!config) return config.error();
      cluster_config = std::move(*config);
      auto defs = cluster::fetch_queries(options.coordinator, *cluster_config);
      if (!defs) return defs.error();
      cluster::TableLookupError why;
      if (!cluster::resolve_table(*defs, q.from.name, target, why)) {
        for (const auto& def : *defs) {  // a stream of a submitted query?
          sql::SqlEngine e;
          if (!e.execute_script(def.sql)) continue;
          const SourceInfo* src = e.catalog().find(q.from.name);
          if (!src || !src->is_stream()) continue;
          // The stream as the submitted query declares it, read from this
          // shell when it knows the cluster's Kafka.
          if (auto config = query_config("pull"); config) return pull_stream(q, SourceInfo(*src));
          return sql_error(q.from.loc,
                           "a pull query on a stream reads its topic from this shell: " +
                               src->name + " is a stream of query " + def.name +
                               ", and the shell has no bootstrap.servers (start it with "
                               "--bootstrap LIST as well)");
        }
        std::string list;
        for (const auto& t : why.queryable) list += (list.empty() ? "" : ", ") + t;
        return sql_error(q.from.loc, why.message + " (queryable tables in the cluster: " +
                                         (list.empty() ? "none" : list) + ")");
      }
    } else {
      std::string why;
      for (auto& rq : queries) {
        for (auto& c : cluster::table_candidates(*rq.engine, rq.id, rq.app->partition_plan())) {
          if (c.target.table != (*session.catalog().find(q.from.name)).name) continue;
          if (c.queryable && !app) {
            target = c.target;
            app = rq.app.get();
          } else if (!c.queryable && why.empty()) {
            why = c.why_not;
          }
        }
      }
      if (!app) {
        const SourceInfo* t = session.catalog().find(q.from.name);
        if (why.empty()) {
          why = "table " + t->name +
                " is not materialized by a running query (to query it, declare it with CREATE "
                "SOURCE TABLE, or run CREATE TABLE QUERYABLE_" +
                t->name + " AS SELECT * FROM " + t->name + ";)";
        }
        return sql_error(q.from.loc, why);
      }
    }
    // The table's columns as one row: the key column, then the value
    // columns; WHERE and the projection are compiled against it.
    // A windowed table's rows carry their window after the key, as in
    // ksqlDB: WINDOWSTART and WINDOWEND (BIGINT, epoch milliseconds).
    Schema schema;
    for (const auto& c : target.key_columns) schema.columns.push_back(c);
    if (target.windowed) {
      schema.columns.push_back(Column{"WINDOWSTART", DataType::of(TypeKind::BigInt), false});
      schema.columns.push_back(Column{"WINDOWEND", DataType::of(TypeKind::BigInt), false});
    }
    for (const auto& c : target.value_columns) schema.columns.push_back(c);
    const Scope scope = Scope::of_row(schema, q.from.qualifier());
    auto compiled_where = pull_where(q, scope);
    if (!compiled_where) return compiled_where.error();
    const std::optional<CompiledExpr>& where = *compiled_where;
    auto projection = pull_projection(q, schema, scope);
    if (!projection) return projection.error();
    // WHERE <key column> = <literal> (alone or ANDed with more; for a table
    // of several key columns, one such conjunct per key column): one lookup
    // in the task that owns the key; otherwise every task's rows (a scan).
    std::vector<const Expr*> literals;
    for (const Column& c : target.key_columns) {
      const Expr* l = key_literal(q, c.name, q.where.get());
      if (!l) {
        literals.clear();
        break;
      }
      literals.push_back(l);
    }
    std::vector<std::vector<Value>> rows;  // in `schema`'s order
    bool limited = false;
    auto take = [&](const Value& key, const Value& value) {
      std::vector<Value> row = table_row(target, key, value);
      if (where && !where->test(EvalRow::of(row))) return;
      if (q.limit && static_cast<int64_t>(rows.size()) >= *q.limit) {
        limited = true;
        return;
      }
      rows.push_back(std::move(row));
    };
    if (!literals.empty()) {
      std::vector<std::string> key_texts;
      for (const Expr* literal : literals) {
        if (literal->value.is_null()) return sql_error(literal->loc, "the key cannot be NULL");
        key_texts.push_back(literal->value.kind() == TypeKind::String
                                ? literal->value.as_string()
                                : to_json(literal->value));
      }
      std::string key_text;
      for (const auto& t : key_texts) key_text += (key_text.empty() ? "" : ", ") + t;
      auto key = cluster::locate_key(target, key_texts);
      if (!key) return sql_error(literals.front()->loc, key.error().message);
      if (target.windowed) {  // a row per window: the rows of the key's task, of this key
        auto scanned = scan_tasks(target, {key->partition}, app, cluster_config,
                                  [&](const Value& rows_of) {
          for (const Value& pair : rows_of.as_array()) {
            if (pair.kind() != TypeKind::Array || pair.as_array().size() != 2) continue;
            if (window_inner_key(pair.as_array()[0]) != key->key) continue;
            take(pair.as_array()[0], pair.as_array()[1]);
            if (limited) break;
          }
          return !limited;
        });
        if (!scanned) return scanned.error();
      } else {
        auto answer = ask_task(target, *key, app, cluster_config);
        if (!answer) return answer.error();
        if (answer->status == cluster::kLookupError)
          return Error::fatal(target.table + " at key '" + key_text + "' (task " + target.query +
                              "-" + std::to_string(key->partition) + "): " + answer->error);
        if (answer->status == cluster::kLookupFound) take(key->key, answer->value);
      }
    } else {
      if (lower(property("ksql.query.pull.table.scan.enabled")) == "false") {
        std::string ask;
        for (const Column& c : target.key_columns)
          ask += (ask.empty() ? "WHERE " : " AND ") + c.name + " = <literal>";
        return sql_error(!q.where ? q.loc
                         : q.where->kind == ExprKind::Binary && q.where->args[0]->loc.known()
                             ? q.where->args[0]->loc
                             : q.where->loc,
                         "table scans are off ('ksql.query.pull.table.scan.enabled' is "
                         "'false'): ask for one key, " + ask);
      }
      std::vector<int32_t> every;
      for (int32_t p = 0; p < target.partitions; ++p) every.push_back(p);
      auto scanned = scan_tasks(target, every, app, cluster_config, [&](const Value& rows_of) {
        for (const Value& pair : rows_of.as_array()) {
          if (pair.kind() != TypeKind::Array || pair.as_array().size() != 2) continue;
          take(pair.as_array()[0], pair.as_array()[1]);
          if (limited) break;
        }
        return !limited;
      });
      if (!scanned) return scanned.error();
    }
    print_pull_rows(*projection, rows, limited);
    return true;
  }

  // A pull query on a stream (ksqlDB's since 0.23): the stream's records
  // from the beginning of each partition to the end it had when the query
  // started, decoded with the stream's formats, filtered and projected here
  // (the same WHERE and projection as a table scan, plus the pseudo columns
  // ROWTIME, ROWPARTITION and ROWOFFSET); then it ends. No persistent query
  // needs to run: the shell reads the topic itself.
  Expected<bool> pull_stream(const sql::Query& q, const sql::SourceInfo& info) {
    using namespace sql;
    auto config = query_config("pull");
    if (!config) return config.error();
    auto serdes = serdes_for(info);
    if (!serdes) return sql_error(q.from.loc, serdes.error().message);
    const auto key_codec = serdes->key();
    const auto value_codec = serdes->value();
    const std::vector<Column> keys = info.schema.key_columns();
    const std::vector<Column> values = info.schema.value_columns();
    Schema schema;
    for (const auto& c : keys) schema.columns.push_back(c);
    // A windowed stream's records carry their window in the key: its rows
    // have WINDOWSTART and WINDOWEND after the key, as a windowed table's.
    const bool windowed = info.window.has_value();
    if (windowed) {
      schema.columns.push_back(Column{"WINDOWSTART", DataType::of(TypeKind::BigInt), false});
      schema.columns.push_back(Column{"WINDOWEND", DataType::of(TypeKind::BigInt), false});
    }
    for (const auto& c : values) schema.columns.push_back(c);
    const size_t star = schema.columns.size();
    schema.columns.push_back(Column{"ROWTIME", DataType::of(TypeKind::BigInt), false});
    schema.columns.push_back(Column{"ROWPARTITION", DataType::of(TypeKind::Int), false});
    schema.columns.push_back(Column{"ROWOFFSET", DataType::of(TypeKind::BigInt), false});
    const Scope scope = Scope::of_row(schema, q.from.qualifier());
    auto compiled_where = pull_where(q, scope);
    if (!compiled_where) return compiled_where.error();
    const std::optional<CompiledExpr>& where = *compiled_where;
    auto projection = pull_projection(q, schema, scope, star);
    if (!projection) return projection.error();

    // Where each partition ends now: the query reads up to there.
    std::map<int32_t, int64_t> ends;  // partitions with records to read
    ReaderSink sink;  // outlives the consumer, whose poll thread offers to it
    std::unique_ptr<connectors::KafkaConsumer> consumer;
    {
      SignalBlock block;
      const std::string bootstrap = config->get("bootstrap.servers");
      auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", bootstrap}});
      if (!admin) return admin.error();
      auto count = (*admin)->partition_count(info.topic);
      if (!count) return count.error();
      if (!*count)
        return sql_error(q.from.loc, "topic '" + info.topic + "' of stream " + info.name +
                                         " does not exist");
      std::vector<TopicPartition> tps;
      for (int32_t part = 0; part < **count; ++part)
        tps.push_back(TopicPartition{info.topic, PartitionId{part}});
      auto marks = (*admin)->watermarks(tps);
      if (!marks) return marks.error();
      for (size_t i = 0; i < tps.size(); ++i) {
        if (!(*marks)[i]) return (*marks)[i].error();
        if ((*marks)[i]->second > (*marks)[i]->first)
          ends[tps[i].partition.value()] = (*marks)[i]->second;
      }
      if (!ends.empty()) {
        std::vector<connectors::StartPosition> positions;
        for (const auto& [part, end] : ends)
          positions.push_back(connectors::StartPosition{TopicPartition{info.topic, PartitionId{part}},
                                                        connectors::StartPosition::kBeginning});
        auto c = start_reader(*config, "rivulet.pull", std::move(positions), sink);
        if (!c) return c.error();
        consumer = std::move(*c);
      }
    }
    std::vector<std::vector<Value>> rows;
    bool limited = false;
    uint64_t unreadable = 0;
    std::string first_unreadable;
    std::set<int32_t> done;
    interrupted = false;
    while (done.size() < ends.size() && !limited) {
      if (interrupted.exchange(false)) break;
      auto batch = sink.take(std::chrono::milliseconds(100));
      if (!batch) continue;
      const int32_t part = batch->tp.partition.value();
      const int64_t end = ends[part];
      // An empty batch: the consumer has caught up with the partition's
      // current end, past the one taken at the start.
      if (batch->records.empty()) done.insert(part);
      for (const RawRecord& r : batch->records) {
        if (r.offset >= end) {
          done.insert(part);
          break;
        }
        if (r.offset == end - 1) done.insert(part);
        if (!r.value.has_value()) continue;  // a stream's tombstone: no row
        std::vector<Value> row;
        std::string why;
        Value key;
        if (!keys.empty()) {
          if (r.key.has_value()) {
            auto k = key_codec->decode(r.key.view());
            if (k) key = std::move(*k);
            else why = "key: " + k.error().message;
          }
        }
        Value value;
        if (why.empty()) {
          auto v = value_codec->decode(r.value.view());
          if (v) {
            value = with_header_columns(info, std::move(*v), r.headers);
          } else {
            why = "value: " + v.error().message;
          }
        }
        if (!why.empty()) {
          if (unreadable++ == 0)
            first_unreadable = info.topic + "/" + std::to_string(part) + "@" +
                               std::to_string(r.offset) + ": " + why;
          continue;
        }
        const Value& inner = window_inner_key(key);  // the key itself when not windowed
        for (const Column& c : keys) {
          const Value* f = keys.size() > 1 && inner.kind() == TypeKind::Struct
                               ? inner.field(c.name)
                               : nullptr;
          row.push_back(keys.size() > 1 ? (f ? *f : Value()) : inner);
        }
        if (windowed) {
          if (is_windowed_key(key)) {
            const WindowBounds w = window_of(key);
            row.push_back(Value::int64(w.start));
            row.push_back(Value::int64(w.end));
          } else {  // no key bytes: no window either
            row.push_back(Value());
            row.push_back(Value());
          }
        }
        for (const Column& c : values) {
          const Value* f = value.kind() == TypeKind::Struct ? value.field(c.name) : nullptr;
          row.push_back(f ? *f
                          : (values.size() == 1 && value.kind() != TypeKind::Struct ? value
                                                                                     : Value()));
        }
        row.push_back(Value::int64(r.timestamp));
        row.push_back(Value::int32(part));
        row.push_back(Value::int64(r.offset));
        if (where && !where->test(EvalRow::of(row))) continue;
        if (q.limit && static_cast<int64_t>(rows.size()) >= *q.limit) {
          limited = true;
          break;
        }
        rows.push_back(std::move(row));
      }
    }
    if (consumer) {
      SignalBlock block;
      consumer->stop();
    }
    if (unreadable > 0)
      err << "warning: " << unreadable << " record" << (unreadable == 1 ? "" : "s") << " of "
          << info.name << " could not be read and " << (unreadable == 1 ? "was" : "were")
          << " skipped (the first, " << first_unreadable << ")" << std::endl;
    print_pull_rows(*projection, rows, limited);
    return true;
  }

  // A pull query's WHERE compiled against its row (none without WHERE).
  Expected<std::optional<sql::CompiledExpr>> pull_where(const sql::Query& q,
                                                        const sql::Scope& scope) {
    using namespace sql;
    if (!q.where) return std::optional<CompiledExpr>();
    ExpressionCompiler compiler(scope, FunctionRegistry::global(), CompileOptions{false, "WHERE"});
    auto w = compiler.compile(q.where);
    if (!w) return w.error();
    if (w->type()->kind != TypeKind::Boolean)
      return sql_error(q.where->loc, "Type error in WHERE expression: Should evaluate to "
                                     "boolean but is " + to_sql(*q.where) + " (" +
                                     w->type()->to_string() + ") instead.");
    return std::optional<CompiledExpr>(std::move(*w));
  }

  // A pull query's result: the projection of each row, then "Limit
  // Reached" when LIMIT cut it short.
  void print_pull_rows(const std::vector<std::pair<std::string, sql::CompiledExpr>>& projection,
                       const std::vector<std::vector<Value>>& rows, bool limited) {
    Table t;
    for (const auto& [name, expr] : projection) t.header.push_back(name);
    for (const auto& row : rows) {
      std::vector<Value> cells;
      cells.reserve(projection.size());
      for (const auto& [name, expr] : projection) cells.push_back(expr.evaluate(row));
      t.rows.push_back(std::move(cells));
    }
    print_table(t, true);
    if (limited && !options.json) out << "Limit Reached" << std::endl;
  }

  // A pull query's projection over the table's row: `*` is every column;
  // an expression is named by its alias, the column it reads, or
  // KSQL_COL_<n> (ksqlDB's names).
  // `star`: how many of the schema's first columns `*` stands for (all by
  // default; a stream's pseudo columns ROWTIME, ... are named, not starred).
  Expected<std::vector<std::pair<std::string, sql::CompiledExpr>>> pull_projection(
      const sql::Query& q, const Schema& schema, const sql::Scope& scope,
      size_t star = static_cast<size_t>(-1)) {
    using namespace sql;
    ExpressionCompiler compiler(scope, FunctionRegistry::global(), CompileOptions{false, "SELECT"});
    const std::set<std::string> used = explicit_output_names(q.select);
    int generated = 0;
    std::vector<std::pair<std::string, CompiledExpr>> out;
    for (const SelectItem& item : q.select) {
      if (item.kind != SelectItem::Kind::Expression) {
        for (const Column& c : schema.columns) {
          if (static_cast<size_t>(&c - schema.columns.data()) >= star) break;
          auto ref = std::make_shared<Expr>();
          ref->kind = ExprKind::Column;
          ref->name = c.name;
          ref->loc = item.loc;
          auto e = compiler.compile(ref);
          if (!e) return e.error();
          out.emplace_back(c.name, std::move(*e));
        }
        continue;
      }
      auto e = compiler.compile(item.expr);
      if (!e) return e.error();
      std::string name = item.alias;
      if (name.empty() &&
          (item.expr->kind == ExprKind::Column || item.expr->kind == ExprKind::Dereference))
        name = item.expr->name;
      if (name.empty()) {
        do {
          name = "KSQL_COL_" + std::to_string(generated++);
        } while (used.count(name));
      }
      out.emplace_back(std::move(name), std::move(*e));
    }
    return out;
  }

  // The literal of a `key_column = literal` conjunct of `w` (either side of
  // `=`, at the top of WHERE or of an AND), or nullptr.
  static const sql::Expr* key_literal(const sql::Query& q, const std::string& key_column,
                                      const sql::Expr* w) {
    using namespace sql;
    if (!w || w->kind != ExprKind::Binary) return nullptr;
    if (w->binary_op == BinaryOp::And) {
      if (const Expr* l = key_literal(q, key_column, w->args[0].get())) return l;
      return key_literal(q, key_column, w->args[1].get());
    }
    if (w->binary_op != BinaryOp::Eq) return nullptr;
    auto is_key = [&](const Expr& e) {
      return e.kind == ExprKind::Column && e.name == key_column &&
             (e.qualifier.empty() || e.qualifier == q.from.qualifier());
    };
    if (is_key(*w->args[0]) && w->args[1]->kind == ExprKind::Literal) return w->args[1].get();
    if (is_key(*w->args[1]) && w->args[0]->kind == ExprKind::Literal) return w->args[0].get();
    return nullptr;
  }

  // One stored row of `target` as the values of its columns (key column,
  // the window's bounds when windowed, then value columns), each as its
  // column's type (a stored DOUBLE 7.0 may come back as 7).
  static std::vector<Value> table_row(const cluster::TableTarget& target, const Value& key,
                                      const Value& value) {
    cluster::KeyTarget k;
    k.key = window_inner_key(key);
    cluster::QueryAnswer a;
    a.value = value;
    std::vector<Value> row;
    const auto named = cluster::answer_row(target, k, a);
    for (const auto* cols : {&target.key_columns, &target.value_columns}) {
      if (cols == &target.value_columns && target.windowed) {
        const WindowBounds w = window_of(key);
        row.push_back(Value::int64(w.start));
        row.push_back(Value::int64(w.end));
      }
      for (const Column& c : *cols) {
        Value v;
        for (const auto& [name, x] : named)
          if (name == c.name) v = x;
        if (c.type && !v.is_null())
          if (auto typed = coerce(v, *c.type); typed && !typed->is_null()) v = std::move(*typed);
        row.push_back(std::move(v));
      }
    }
    return row;
  }

  // Every row of the tasks of `partitions`, one task after another: each
  // task's rows (an Array of [key, value] Arrays) go to `on_rows`, which
  // returns false to stop. Through the coordinator, all the tasks are asked
  // over one connection (cluster::lookup_keys).
  Expected<bool> scan_tasks(const cluster::TableTarget& target,
                            const std::vector<int32_t>& partitions, Application* app,
                            const std::optional<Config>& cluster_config,
                            const std::function<bool(const Value&)>& on_rows) {
    std::vector<cluster::KeyTarget> all(partitions.size());  // no key: a task's whole table
    for (size_t i = 0; i < partitions.size(); ++i) all[i].partition = partitions[i];
    std::optional<Error> failed;
    auto rows_of = [&](size_t i, const cluster::QueryAnswer& answer) {
      const std::string task = target.query + "-" + std::to_string(partitions[i]);
      if (answer.status != cluster::kLookupFound) {
        failed = Error::fatal(target.table + ": the scan of task " + task + " failed: " +
                              (answer.error.empty() ? "no answer" : answer.error));
      } else if (answer.value.kind() != TypeKind::Array) {
        failed = Error::fatal(target.table + ": the scan of task " + task + " answered no rows");
      }
      return !failed && on_rows(answer.value);
    };
    if (cluster_config) {
      SignalBlock block;
      auto asked = cluster::lookup_keys(options.coordinator, *cluster_config, target, all,
                                        [&](size_t i, cluster::QueryAnswer& a) {
                                          return rows_of(i, a);
                                        });
      if (!asked) return asked.error();
    } else {
      for (size_t i = 0; i < all.size(); ++i) {
        auto answer = ask_task(target, all[i], app, cluster_config);
        if (!answer) return answer.error();
        if (!rows_of(i, *answer)) break;
      }
    }
    if (failed) return *failed;
    return true;
  }

  // Asks the task of `key.partition` for its key (or, with empty key_bytes,
  // its rows): through the coordinator with `cluster_config`, else of the
  // local `app`.
  Expected<cluster::QueryAnswer> ask_task(const cluster::TableTarget& target,
                                          const cluster::KeyTarget& key, Application* app,
                                          const std::optional<Config>& cluster_config) {
    if (cluster_config) {
      SignalBlock block;
      return cluster::lookup_key(options.coordinator, *cluster_config, target, key);
    }
    auto promise = std::make_shared<std::promise<Expected<std::pair<bool, std::string>>>>();
    auto future = promise->get_future();
    app->lookup(key.partition, -1, target.store, key.key_bytes, std::chrono::seconds(5),
                [promise](Expected<std::pair<bool, std::string>> r) {
                  promise->set_value(std::move(r));
                });
    auto r = future.get();
    if (!r) return Error::fatal(target.table + ": lookup failed: " + r.error().message);
    cluster::QueryAnswer answer;
    answer.node = "local";
    answer.status = r->first ? cluster::kLookupFound : cluster::kLookupAbsent;
    if (r->first) {
      auto v = codecs::msgpack()()->decode(r->second);
      if (!v) return Error::fatal("undecodable answer: " + v.error().message);
      answer.value = std::move(*v);
    }
    return answer;
  }

  // ---- push queries ---------------------------------------------------------

  Expected<bool> push(const sql::Query& q) {
    auto engine = session.fork();
    auto rows = std::make_shared<RowQueue>();
    auto info = engine.plan_push(q, [rows](const Record& r) { rows->push(r); });
    if (!info) return info.error();
    auto valid = engine.topology().validate();
    if (!valid) return valid.error();
    auto config = query_config(transient_id(++transient_count));
    if (!config) return config.error();
    (void)config->set("checkpoint.interval.ms", "0");  // nothing of it outlives the query
    if (!config->is_set("errors.deadletterqueue.topic.name"))  // one for every push query
      (void)config->set("errors.deadletterqueue.topic.name", "rivulet-sql-transient-dlq");
    if (!config->is_set("log.level") || config->get("log.level") == "warn")
      (void)config->set("log.level", "error");
    // Latest unless set to earliest (a SET of either ksqlDB spelling,
    // --set or the configuration), as ksqlDB's push queries: its group is
    // new, so each stream partition starts at its end when assigned.
    if (!config->is_set("auto.offset.reset")) (void)config->set("auto.offset.reset", "latest");
    std::unique_ptr<Application> app;
    {
      SignalBlock block;
      auto loading = load_sources(engine.catalog(), engine.topology(), *config);
      if (!loading) return loading.error();
      app = std::make_unique<Application>(engine.topology(), *config);
      auto started = app->start();
      if (!started) {
        app->stop();
        return Error::fatal("push query did not start: " + started.error().to_string());
      }
    }
    // Columns in the projection's order. A windowed result's key carries
    // its window: shown as WINDOWSTART and WINDOWEND (epoch ms) after the
    // key unless the projection has them.
    const Schema& schema = info->schema;
    const size_t key_count = schema.key_columns().size();
    const size_t value_count = schema.value_columns().size();
    const bool window_columns = info->window.has_value() && !schema.index_of("WINDOWSTART") &&
                                !schema.index_of("WINDOWEND");
    enum class From : uint8_t { Key, Value, WindowStart, WindowEnd };
    struct Shown {
      std::string name;
      From from;
      DataTypePtr type;
    };
    std::vector<Shown> shown;
    auto window_bounds = [&] {
      shown.push_back({"WINDOWSTART", From::WindowStart, DataType::of(TypeKind::BigInt)});
      shown.push_back({"WINDOWEND", From::WindowEnd, DataType::of(TypeKind::BigInt)});
    };
    if (window_columns && key_count == 0) window_bounds();
    size_t keys_seen = 0;
    for (const Column& c : schema.columns) {
      shown.push_back({c.name, c.is_key ? From::Key : From::Value, c.type});
      if (c.is_key && ++keys_seen == key_count && window_columns) window_bounds();
    }
    std::vector<std::string> header;
    for (const auto& c : shown) header.push_back(c.name);
    // The rows are not known yet: each column as wide as its header or what
    // its type usually needs (at least 12), a longer value wrapped over
    // several lines.
    std::vector<size_t> width;
    for (const auto& c : shown)
      width.push_back(std::max(text_width(c.name), typical_width(c.type)));
    std::string rule = "+";
    for (size_t w : width) rule += std::string(w + 2, '-') + "+";
    if (!options.json)
      out << rule << "\n" << bordered_row(header, width) << "\n" << rule << std::endl;
    interrupted = false;
    int64_t printed = 0;
    std::string end = "Query terminated";
    bool failed = false;
    std::string failure;
    while (!q.limit || printed < *q.limit) {
      if (interrupted.exchange(false)) break;
      if (auto f = app->failure()) {
        failed = true;
        failure = *f;
        break;
      }
      for (const Record& r : rows->take(std::chrono::milliseconds(100))) {
        if (q.limit && printed >= *q.limit) break;
        std::vector<Value> row;
        const Value& key = window_inner_key(r.key);
        for (const auto& c : shown) {
          if (c.from == From::Key) {
            const Value* f = key.kind() == TypeKind::Struct ? key.field(c.name) : nullptr;
            row.push_back(f ? *f : (key_count == 1 ? key : Value()));
          } else if (c.from == From::Value) {
            const Value* f = r.value.kind() == TypeKind::Struct ? r.value.field(c.name) : nullptr;
            row.push_back(
                f ? *f
                  : (value_count == 1 && r.value.kind() != TypeKind::Struct ? r.value : Value()));
          } else {
            WindowBounds w = window_of(r.key);
            row.push_back(Value::int64(c.from == From::WindowStart ? w.start : w.end));
          }
        }
        if (options.json) {
          std::string obj = "{";
          for (size_t i = 0; i < header.size(); ++i)
            obj += (i ? ", " : "") + nlohmann::json(header[i]).dump() + ": " + to_json(row[i]);
          out << obj << "}\n";
        } else {
          std::vector<std::string> cells;
          for (const auto& v : row) cells.push_back(cell(v));
          if (r.value.is_null() && info->is_table() && !cells.empty())
            cells.back() += " (deleted)";
          out << bordered_row(cells, width) << "\n";
        }
        ++printed;
      }
      out << std::flush;
    }
    if (q.limit && printed >= *q.limit) end = "Limit Reached";
    rows->close();
    {
      SignalBlock block;
      app->stop();
    }
    if (!options.json) out << rule << "\n" << end << std::endl;
    if (failed) return Error::fatal("push query failed: " + failure);
    return true;
  }
};

SqlShell::SqlShell(ShellOptions options, std::ostream& out, std::ostream& err)
    : impl_(std::make_unique<Impl>(std::move(options), out, err)) {}

SqlShell::~SqlShell() { stop_all(); }

void SqlShell::stop_all() {
  for (auto& q : impl_->queries) {
    SignalBlock block;
    q.app->stop();
  }
  impl_->queries.clear();
  for (auto& l : impl_->loaders) l->stop();
  impl_->loaders.clear();
  impl_->loaded.clear();
}

void SqlShell::define(const sql::Variables& variables) {
  for (const auto& [name, value] : variables) impl_->session.define(name, value);
}

bool SqlShell::execute(const StatementSplitter::Chunk& chunk) {
  return impl_->execute_chunk(chunk, "");
}

}  // namespace rivulet::cli
