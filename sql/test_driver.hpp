#pragma once
// TestDriver: a deterministic, in-process executor of a Topology, like
// Kafka Streams' TopologyTestDriver. No broker, no actors, no threads: each
// record piped in is processed at once by the task of its partition, and
// the records the task writes are collected per topic. A record written to
// a topic the topology also reads (a repartition topic, the output of one
// query read by another) is fed back in before pipe() returns, in the order
// written.
//
//   rivulet::sql::SqlEngine engine;
//   engine.execute_script("CREATE STREAM S (ID INT KEY, X INT) WITH (...); ...");
//   auto driver = rivulet::sql::TestDriver::create(engine.topology());
//   (*driver)->pipe("input", key_bytes, value_bytes, 1000);
//   for (const auto& r : (*driver)->outputs("output")) ...
//
// One partition task (partition 0): every record goes to it, so results do
// not depend on a partitioner. Global tables (operators/global_tables.hpp,
// subqueries that scan a table) are fed by pipe() in record order, before
// the task sees the record when the topic is also a task input.
//
// Ownership: owned by the test; used from one thread.
#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "operators/topology.hpp"
#include "runtime/error.hpp"

namespace rivulet::sql {

class TestDriver {
 public:
  // Fails when the topology is invalid.
  static Expected<std::unique_ptr<TestDriver>> create(const Topology& topology);

  // Processes one record of `topic` (encoded bytes; nullopt: null). False
  // when neither a node nor a global table reads `topic`.
  bool pipe(const std::string& topic, std::optional<std::string> key,
            std::optional<std::string> value, TimestampMs timestamp, Headers headers = {});

  // Writes what the output cache holds (TaskGraph::set_output_cache: table
  // sinks, two-phase pre-aggregations) and processes what of it is read
  // again (repartition topics).
  void flush_output_cache();

  // Everything written, in order, repartition topics included.
  const std::vector<OutputRecord>& outputs() const { return outputs_; }
  // The records written to `topic`, in order.
  std::vector<OutputRecord> outputs(const std::string& topic) const;
  // Forgets the records collected so far (a long run reads them in pieces
  // and keeps memory flat); data errors and skip counters stay.
  void clear_outputs() { outputs_.clear(); }
  // Records that failed (decoding, evaluation, encoding), in order.
  const std::vector<DataError>& data_errors() const { return errors_; }
  // Records skipped (counted, not processed) for `reason`.
  uint64_t skipped(SkipReason reason) const { return skipped_[static_cast<size_t>(reason)]; }
  // Expression evaluations that failed and gave NULL (a function that threw).
  uint64_t expression_errors() const { return expression_errors_; }
  // What a task logs once: the first record skipped for each reason, the
  // first expression that failed (with the record's topic[partition]@offset).
  const std::vector<std::string>& first_skips() const { return first_skips_; }
  TaskGraph& graph() { return *graph_; }
  // The global tables' replicas; nullptr when the topology has none.
  const GlobalTables* globals() const { return globals_.get(); }

 private:
  explicit TestDriver(std::unique_ptr<TaskGraph> graph) : graph_(std::move(graph)) {}
  using Pending = std::deque<std::pair<std::string, RawRecord>>;
  void process(const std::string& topic, RawRecord record);
  // Processes the queued records and what they make that is read again.
  void run(Pending pending);
  // Moves one step's data errors and outputs into the driver's, queueing
  // the outputs that are read again.
  void take(TaskOutput& out, Pending& pending);
  bool reads(const std::string& topic) const;

  std::unique_ptr<TaskGraph> graph_;
  std::shared_ptr<GlobalTables> globals_;
  std::map<std::string, int64_t> next_offset_;
  std::vector<OutputRecord> outputs_;
  std::vector<DataError> errors_;
  std::array<uint64_t, kSkipReasons> skipped_{};
  uint64_t expression_errors_ = 0;
  std::vector<std::string> first_skips_;
};

}  // namespace rivulet::sql
