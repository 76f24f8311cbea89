#pragma once
// A submitted query's SQL text -> the Topology every node runs, and its task
// count (the partition count of its inputs, which must agree).
#include <string>
#include <vector>

#include "operators/topology.hpp"
#include "partitioning/copartition.hpp"
#include "runtime/config.hpp"
#include "runtime/error.hpp"
#include "sql/app_file.hpp"

namespace rivulet::cluster {

// A submitted query is planned as `rivulet run` plans a file
// (sql::plan_script), by `rivulet submit` and by every node. In a cluster,
// `rivulet submit` creates the topics of file and memory sources, writes
// the first load of the file sources and the INSERT INTO ... VALUES rows,
// once, before it registers the query; then only the node running task 0
// loads the files, at the same path (node.cpp). A node never writes the
// inserted rows.

// The file sources of `app` (external_sources without the memory ones): what
// a loader writes in a cluster. A memory source's topic only receives the
// rows of INSERT INTO ... VALUES and of other producers.
std::vector<sql::SourceInfo> file_sources(const sql::PlannedApp& app);

// Creates the topics of the file sources (PlannedApp::external_sources)
// with their PARTITIONS, so that query_partition_plan counts them before any
// node has loaded them.
// Creates the declared Kafka sources' topics too (create_declared_topics).
Expected<bool> create_source_topics(const sql::PlannedApp& app, const Config& config);

// Creates the topic of each source declared with WITH (PARTITIONS=n) when it
// is missing, as ksqlDB's CREATE STREAM/TABLE does; a topic that exists with
// another partition count is an error naming both counts and the source.
Expected<bool> create_declared_topics(const std::vector<sql::SourceInfo>& sources,
                                      const Config& config);

// A query's tasks (the partition count of its largest input topic) and
// each input's count, read from the broker (plan_topology_partitions); an
// error when the inputs of a join differ.
Expected<PartitionPlan> query_partition_plan(const Topology& topology, const Config& config);

}  // namespace rivulet::cluster
