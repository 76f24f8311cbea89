#pragma once
// A submitted query's SQL text -> the Topology every node runs, and its task
// count (the partition count of its inputs, which must agree).
#include <string>

#include "operators/topology.hpp"
#include "runtime/config.hpp"
#include "runtime/error.hpp"
#include "sql/app_file.hpp"

namespace rivulet::cluster {

// Plans every statement of `sql` (CREATE STREAM/TABLE, persistent queries,
// SET) into one Topology, as `rivulet run` does. Errors carry line:column.
// File sources, TABLEs and STREAMs, are accepted (rivulet submit writes the
// first load, then the node running task 0 loads the file, at the same
// path, into the source's topic: node.cpp); memory sources and
// INSERT INTO ... VALUES are rejected.
Expected<sql::PlannedApp> plan_query(const std::string& sql);

// Creates the topics of the file sources (PlannedApp::external_sources)
// with their PARTITIONS, so that query_partitions counts them before any
// node has loaded them.
// Creates the declared Kafka sources' topics too (create_declared_topics).
Expected<bool> create_source_topics(const sql::PlannedApp& app, const Config& config);

// Creates the topic of each source declared with WITH (PARTITIONS=n) when it
// is missing, as ksqlDB's CREATE STREAM/TABLE does; a topic that exists with
// another partition count is an error naming both counts and the source.
Expected<bool> create_declared_topics(const std::vector<sql::SourceInfo>& sources,
                                      const Config& config);

// The number of tasks: the common partition count of the topology's input
// topics (repartition topics excluded), read from the broker.
Expected<int32_t> query_partitions(const Topology& topology, const Config& config);

}  // namespace rivulet::cluster
