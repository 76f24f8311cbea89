#pragma once
// The session behind `rivulet sql` (cli/sql_command.cpp): statements in,
// tables and messages out.
//
//  - DDL (CREATE STREAM/TABLE, DROP, SET/UNSET) changes the session's
//    catalog (a sql::SqlEngine, the one `rivulet run` uses);
//  - a persistent query (CREATE ... AS SELECT, INSERT INTO ... SELECT) is
//    planned by a fork of that engine into a Topology of its own and run by
//    its own rivulet::Application in this process (application.id
//    "<base>-<query id>"), until TERMINATE or the end of the session;
//  - a pull query on a table (SELECT ... FROM table WHERE key = literal)
//    finds the task owning the key with the partitioner
//    (cluster::locate_key) and asks it: a local Application's task
//    (Application::lookup), or with a coordinator the cluster node running
//    it (cluster::lookup_key); without a whole key it scans every task
//    (cluster::lookup_keys through a coordinator);
//  - a pull query on a stream, and PRINT, read the topic with a consumer of
//    the shell's own, up to the end it had at the start (a pull query) or
//    until LIMIT or Ctrl-C (PRINT; connectors::RecordFormatter guesses the
//    formats);
//  - RUN SCRIPT runs a file's statements as if typed;
//  - a push query (SELECT ... EMIT CHANGES [LIMIT n]) runs as a transient
//    Application whose rows come back through a bounded queue and are
//    printed as they arrive, until LIMIT rows, an interrupt (Ctrl-C) or a
//    failure.
//
// Ownership: one SqlShell per process, used from the main thread; the
// interrupt flag may be set from a signal handler.
#include <atomic>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "runtime/config.hpp"
#include "runtime/error.hpp"
#include "sql/statement_splitter.hpp"
#include "sql/variables.hpp"

namespace rivulet::cli {

struct ShellOptions {
  std::string bootstrap;
  std::string coordinator;
  std::string config;  // properties file
  std::vector<std::string> sets;
  bool json = false;  // --output json
};

using StatementSplitter = sql::StatementSplitter;

class SqlShell {
 public:
  SqlShell(ShellOptions options, std::ostream& out, std::ostream& err);
  ~SqlShell();
  SqlShell(const SqlShell&) = delete;
  SqlShell& operator=(const SqlShell&) = delete;

  // Executes the statements of one chunk (positions as in the input).
  // False when one failed (its error was printed; the rest of the chunk is
  // skipped, as a script stops at its first error).
  bool execute(const StatementSplitter::Chunk& chunk);
  // DEFINE name = 'value' of each (`rivulet sql --define name=value`).
  void define(const sql::Variables& variables);
  // Stops every running query (graceful: drain, flush, commit).
  void stop_all();
  // Set (from a signal handler) to end the running push query.
  static std::atomic<bool> interrupted;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rivulet::cli
