#pragma once
// Where a stream's or table's records come from: WITH (SOURCE='...').
//
//   SOURCE='kafka://orders'           a Kafka topic (the default; same as KAFKA_TOPIC)
//   SOURCE='file:///data/users.csv'   a file: VALUE_FORMAT='DELIMITED' (CSV) or 'JSON'
//                                     (one object per line), loaded into the topic
//   SOURCE='memory://orders'          rows given through the API (tests, examples)
//
// A file or memory source reads its records from a topic like any other
// source (KAFKA_TOPIC, default: the source's name, PARTITIONS default 1):
// the loader (sql/source_feeder.hpp, connectors/source_loader.hpp) writes the
// file's lines there, so the same SQL, joins and co-partitioning apply.
//
// Both functions are called by Catalog::describe_create; errors carry the
// SOURCE property's line:column. Pure functions; any thread.
#include "runtime/error.hpp"
#include "sql/ast.hpp"
#include "sql/catalog.hpp"

namespace rivulet::sql {

// Reads SOURCE into info.source_kind, info.source_path (and info.topic for
// kafka://TOPIC). An unknown scheme or a relative file path is an error.
Expected<bool> parse_source(const Properties& p, SourceInfo& info);

// After formats and PARTITIONS are known: a file source's file must exist
// and be readable and its format DELIMITED or JSON; file and memory sources
// get PARTITIONS 1 when none is given.
Expected<bool> check_source(const Properties& p, SourceInfo& info);

// "file:///data/users.csv", "memory://orders", "kafka://topic".
std::string source_uri(const SourceInfo& info);

}  // namespace rivulet::sql
