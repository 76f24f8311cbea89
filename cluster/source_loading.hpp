#pragma once
// SourceLoading: runs the loader of a planned SQL application's file and
// memory sources (WITH (SOURCE='file://...' | 'memory://...')): the
// sql::SourceFeeder reads the files, the connectors::SourceLoader writes
// their records into the sources' topics, where the application's tasks
// read them like any Kafka input. Start it before Application::start (it
// creates the topics with their PARTITIONS and writes the first load).
//
//   auto loading = SourceLoading::start(app, config);   // app: sql::PlannedApp
//   Application running(app.topology, config); running.start();
//   (*loading)->feeder().insert("ORDERS", row);          // memory sources
//   ...; running.stop(); (*loading)->stop();
//
// Bad lines are logged as "path:line: reason" and, with
// errors.tolerance=all, written to the dead-letter topic (value: the line;
// headers rivulet.error, rivulet.source.file, rivulet.source.line).
//
// Who runs it: `rivulet run`, the `rivulet sql` shell (and C++ programs);
// in a cluster `rivulet submit` (the first load, before the query is
// registered) and then only the node running the query's task 0, while its
// lease runs (node.cpp): one writer at a time, which restores what the
// topics hold before it writes, so no row or line is written twice (memory
// sources are rejected at submit, cluster/query_plan.cpp).
//
// Threads: start() and stop() from one thread; feeder().insert from any.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/source_loader.hpp"
#include "runtime/config.hpp"
#include "runtime/error.hpp"
#include "sql/app_file.hpp"
#include "sql/source_feeder.hpp"

namespace rivulet::cluster {

class SourceLoading {
 public:
  // nullptr when `app` reads no file or memory source. `may_write`, when
  // set, holds the loader still while it is false
  // (connectors::SourceLoaderOptions::may_write).
  static Expected<std::unique_ptr<SourceLoading>> start(const sql::PlannedApp& app,
                                                        const Config& config,
                                                        std::function<bool()> may_write = {});
  static Expected<std::unique_ptr<SourceLoading>> start(const std::vector<sql::SourceInfo>& sources,
                                                        const Config& config,
                                                        std::function<bool()> may_write = {});
  ~SourceLoading();

  sql::SourceFeeder& feeder() { return *feeder_; }
  // Polls now instead of at the next source.file.poll.ms.
  void wake() { loader_->wake(); }
  void stop();

  uint64_t records_written() const { return loader_->records_written(); }
  uint64_t bad_lines() const { return bad_lines_; }
  std::optional<std::string> failure() const { return loader_->failure(); }

 private:
  SourceLoading() = default;
  bool poll(const std::function<void(connectors::LoaderRecord&&)>& emit, size_t max);

  std::unique_ptr<sql::SourceFeeder> feeder_;
  std::unique_ptr<connectors::SourceLoader> loader_;
  std::string dead_letter_;  // "" when bad lines are only logged
  uint64_t bad_lines_ = 0;   // reported so far
  size_t warnings_ = 0;
};

}  // namespace rivulet::cluster
