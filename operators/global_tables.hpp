#pragma once
// Global tables: a table materialized in full (every partition of its
// topic) wherever it is read, like Kafka Streams' GlobalKTable. A
// subquery that scans a table (sql/subquery.hpp) needs every row of the
// table in every task, whatever partition the outer record came from, so
// such a table is not a task input: it is not co-partitioned with
// anything and never repartitions the outer stream.
//
// A Topology declares global tables (Topology::add_global_table); whoever
// runs it makes one GlobalTables for all of its tasks and hands it to
// Topology::instantiate, so processors find the tables with
// BuildContext::global_table:
//  - Application (actors/global_table_feeder.hpp): one replica per node,
//    fed by its own consumer from every partition of the topic, caught up
//    to the topic's end offsets before any task starts, then following it
//    live; shared read-only by the node's tasks;
//  - sql::TestDriver: fed in record order by pipe().
// Memory: one copy of the table per GlobalTables (per node), not per task.
// Not checkpointed: a replica is rebuilt from its topic at every start
// (as Kafka Streams does for global stores without a local checkpoint).
//
// Threads: apply() from one feeding thread at a time; the KTables may be
// read from any thread (shared lock, ktable.hpp).
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "operators/ktable.hpp"
#include "operators/serdes.hpp"
#include "operators/task_output.hpp"
#include "runtime/error.hpp"
#include "runtime/ids.hpp"
#include "runtime/record.hpp"

namespace rivulet {

struct GlobalTableSpec {
  std::string name;   // the store name processors ask for
  std::string topic;  // read from every partition
  Serdes serdes;
};

class GlobalTables {
 public:
  // Makes an empty KTable (Decoded storage) and codecs per spec.
  static Expected<std::shared_ptr<GlobalTables>> create(const std::vector<GlobalTableSpec>& specs);

  // The replica by name; nullptr when absent. Read-only for tasks.
  std::shared_ptr<const KTable> table(std::string_view name) const;
  std::vector<std::string> names() const;
  std::vector<std::string> topics() const;
  bool reads(std::string_view topic) const;

  // Applies consecutive records of one partition of `topic` (upserts; a
  // null value deletes). A record whose key or value does not decode, or
  // whose key is null, is not applied: it is appended to `errors` (with
  // topic, partition and offset) and counted. Returns false when no global
  // table reads `topic`.
  bool apply(const std::string& topic, PartitionId partition, const RawRecord* begin,
             const RawRecord* end, std::vector<DataError>& errors);

  uint64_t records_applied() const { return applied_.load(std::memory_order_relaxed); }
  uint64_t data_errors() const { return errors_.load(std::memory_order_relaxed); }
  // Heap bytes held by the replicas (KTable::bytes_estimate summed).
  size_t bytes_estimate() const;

 private:
  struct Entry {
    GlobalTableSpec spec;
    std::shared_ptr<KTable> table;
    std::unique_ptr<Codec> key;
    std::unique_ptr<Codec> value;
  };
  GlobalTables() = default;
  std::vector<Entry> entries_;
  std::atomic<uint64_t> applied_{0};
  std::atomic<uint64_t> errors_{0};
};

}  // namespace rivulet
