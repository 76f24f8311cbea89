#pragma once
// SourceFeeder: turns the file and memory sources of a catalog into the
// records of their topics. The one piece both runners use: the TestDriver
// (pipe_sources, no broker) and the running loader
// (connectors/source_loader.hpp, which produces them to Kafka).
//
//  - a STREAM file is read once and then tailed: every poll emits the
//    complete ('\n'-terminated) lines appended since the last one;
//  - a TABLE file is read whole; a poll that sees it changed (size or
//    modification time) reads it again and emits only the difference:
//    changed or added keys as upserts, removed keys as tombstones;
//  - a memory source emits the rows insert()ed since the last poll.
// Bad lines are counted and kept (the newest 100) with file:line and the
// reason; they never stop the feed.
//
// Restart without duplicates: the loader tells the feeder what the topic
// already holds before the first poll (restore_table: the table's rows;
// restore_stream: the lines already written).
//
//   auto feeder = SourceFeeder::create(engine.catalog(), engine.topology().source_topics());
//   (*feeder)->insert("ORDERS", Value::structure({{"ID", Value::int32(1)}, ...}));
//   pipe_sources(*driver, **feeder, 1000);   // TestDriver: files and rows in
//
// Threads: poll() and the restore_*() calls from one thread; insert() from
// any thread.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.hpp"
#include "runtime/value.hpp"
#include "sql/catalog.hpp"
#include "sql/source_rows.hpp"

namespace rivulet::sql {

class TestDriver;

struct FeedRecord {
  std::string source;  // the stream's or table's name
  std::string topic;
  std::optional<std::string> key;
  std::optional<std::string> value;  // nullopt: a tombstone (a key removed from a table file)
  std::string origin;                // the file's path, or memory://NAME
  int64_t line = 0;                  // the file line (0: memory rows, tombstones)
};

struct FeedSource {
  std::string name;
  std::string topic;
  SourceKind kind = SourceKind::File;
  std::string path;  // file path, or the memory name
  bool table = false;
  int32_t partitions = 1;
};

class SourceFeeder {
 public:
  // The file and memory sources of `catalog` whose topics are among
  // `topics` (those a topology reads; empty: every such source).
  static Expected<std::unique_ptr<SourceFeeder>> create(const Catalog& catalog,
                                                        const std::vector<std::string>& topics = {});
  // The file and memory sources among `sources` (Kafka sources are ignored).
  static Expected<std::unique_ptr<SourceFeeder>> create(const std::vector<SourceInfo>& sources);
  ~SourceFeeder();

  const std::vector<FeedSource>& sources() const { return sources_; }
  bool empty() const { return sources_.empty(); }

  // Before the first poll: the rows a table's topic holds (key bytes ->
  // value bytes; the next reload emits only the difference to the file).
  void restore_table(const std::string& topic, std::map<std::string, std::string> rows);
  // Before the first poll: a stream file's lines 1..complete_through are in
  // the topic, and so are the later lines `present`; the others are emitted.
  void restore_stream(const std::string& topic, int64_t complete_through, std::set<int64_t> present);

  // Emits what is new (see the header comment), at most `max_records`
  // stream-file lines per call (0: no limit; the rest follows on the next
  // call). Returns the number of records emitted.
  using Emit = std::function<void(FeedRecord&&)>;
  size_t poll(const Emit& emit, size_t max_records = 0);
  // True when the last poll stopped at max_records with lines left.
  bool more() const { return more_; }

  // Queues a row of a memory (or file) source for the next poll: a STRUCT
  // of column name -> value, or a line in the source's file format.
  Expected<bool> insert(const std::string& source, const Value& row);
  Expected<bool> insert_line(const std::string& source, std::string_view line);

  uint64_t bad_line_count() const { return bad_line_count_; }
  const std::deque<BadLine>& bad_lines() const { return bad_lines_; }
  // Problems that are not lines (a table file that vanished), newest last.
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  struct State;
  SourceFeeder() = default;
  State* find(const std::string& source);
  void bad(BadLine b);
  size_t poll_stream(State& s, const Emit& emit, size_t budget);
  size_t poll_table(State& s, const Emit& emit);

  std::vector<FeedSource> sources_;
  std::vector<std::unique_ptr<State>> states_;
  std::mutex inserts_mutex_;
  std::vector<std::pair<State*, EncodedRow>> inserts_;
  uint64_t bad_line_count_ = 0;
  std::deque<BadLine> bad_lines_;
  std::vector<std::string> warnings_;
  bool more_ = false;
};

// TestDriver: pipes everything `feeder` has (files, tables' differences,
// inserted rows) into `driver` at `timestamp`. Returns the records piped.
size_t pipe_sources(TestDriver& driver, SourceFeeder& feeder, int64_t timestamp);

}  // namespace rivulet::sql
