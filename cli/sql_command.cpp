// `rivulet sql [--bootstrap LIST] [--coordinator HOST:PORT] [--config FILE]
// [--set key=value]... [--output tabular|json] [-e 'STMT;...']`: the
// interactive SQL shell (cli/sql_shell.hpp does the work).
//
// On a terminal: GNU readline (line editing, history in ~/.rivulet_history
// or $RIVULET_HISTORY), prompt "rivulet> ", continuation "      > ";
// Ctrl-C clears the line (and stops a running push query), Ctrl-D or EXIT
// ends the session. Otherwise the statements come from stdin without
// prompts until EOF (`rivulet sql --bootstrap B < script.sql`), or from
// --execute. Results go to stdout, errors ("line L:C: ...") to stderr; an
// error never ends the session. Exit status: 0; without a terminal, 1 when
// any statement failed, 130/143 when SIGINT/SIGTERM ended it while it
// waited for input (a SIGINT during a push query ends only that query); 2
// for usage errors.
#include <readline/history.h>
#include <readline/readline.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "cli/commands.hpp"
#include "cli/sql_shell.hpp"
#include "connectors/schema_registry_client.hpp"
#include "runtime/config.hpp"

namespace rivulet::cli {

namespace {

struct SqlArgs {
  ShellOptions shell;
  std::vector<std::string> defines;  // NAME=VALUE
  std::string output = "tabular";
  std::string execute;
};

volatile sig_atomic_t g_interrupt = 0;
volatile sig_atomic_t g_terminate = 0;

void on_signal(int sig) {
  if (sig == SIGTERM) g_terminate = 1;
  g_interrupt = 1;
  SqlShell::interrupted = true;
}

void install_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocked read returns EINTR
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

SqlShell* g_shell = nullptr;               // the interactive session
StatementSplitter* g_splitter = nullptr;  // its unfinished statement

// Readline calls this (outside the signal handler) after a signal arrived
// while it waits for a key: Ctrl-C drops the statement being typed and
// shows a fresh prompt; SIGTERM ends the session.
int on_readline_signal() {
  if (g_terminate) {
    rl_cleanup_after_signal();
    if (g_shell) g_shell->stop_all();
    std::exit(143);
  }
  if (g_interrupt) {
    g_interrupt = 0;
    SqlShell::interrupted = false;
    if (g_splitter) g_splitter->clear(true);
    rl_replace_line("", 0);
    rl_crlf();
    rl_set_prompt("rivulet> ");
    rl_on_new_line();
    rl_redisplay();
  }
  return 0;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r\n;");
  return s.substr(b, e == std::string::npos || e < b ? 0 : e - b + 1);
}

bool is_exit(const std::string& line) {
  std::string t = trim(line);
  for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return t == "exit" || t == "quit";
}

std::string history_path() {
  if (const char* p = std::getenv("RIVULET_HISTORY"); p && *p) return p;
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.rivulet_history";
  return "";
}

int interactive(SqlShell& shell, const SqlArgs& a) {
  const std::string history = history_path();
  if (!history.empty()) {
    using_history();
    if (read_history(history.c_str()) != 0) write_history(history.c_str());  // create it
  }
  rl_signal_event_hook = on_readline_signal;
  std::cout << "Rivulet SQL shell. Statements end with ';'. Pull: SELECT ... FROM table WHERE "
               "key = ...;  push: SELECT ... EMIT CHANGES;\n";
  if (!a.shell.bootstrap.empty()) std::cout << "Kafka: " << a.shell.bootstrap << "\n";
  if (!a.shell.coordinator.empty())
    std::cout << "Pull queries go to the cluster of " << a.shell.coordinator << "\n";
  std::cout << "Exit with EXIT or Ctrl-D.\n" << std::endl;
  StatementSplitter splitter;
  g_shell = &shell;
  g_splitter = &splitter;
  while (!g_terminate) {
    g_interrupt = 0;
    SqlShell::interrupted = false;
    char* raw = readline(splitter.pending() ? "      > " : "rivulet> ");
    if (!raw) {  // Ctrl-D
      std::cout << std::endl;
      break;
    }
    std::string line(raw);
    std::free(raw);
    if (g_terminate) break;
    if (!trim(line).empty() && !history.empty()) {
      add_history(line.c_str());
      append_history(1, history.c_str());
    }
    if (!splitter.pending() && is_exit(line)) break;
    for (const auto& chunk : splitter.add_line(line)) {
      shell.execute(chunk);
      if (g_terminate) break;
    }
    if (!splitter.pending()) splitter.clear(true);
  }
  g_shell = nullptr;
  g_splitter = nullptr;
  if (!history.empty()) history_truncate_file(history.c_str(), 1000);
  shell.stop_all();
  return g_terminate ? 143 : 0;
}

int script(SqlShell& shell, std::istream& in) {
  StatementSplitter splitter;
  bool failed = false;
  std::string line;
  while (!g_terminate) {
    // A signal taken while a statement ran was its own (Ctrl-C stops a push
    // query); one taken while waiting for input ends the session.
    g_interrupt = 0;
    if (!std::getline(in, line)) break;
    if (!splitter.pending() && is_exit(line)) break;  // as on a terminal
    for (const auto& chunk : splitter.add_line(line)) {
      if (!shell.execute(chunk)) failed = true;
      if (g_terminate) break;
    }
  }
  const bool signalled = g_terminate || g_interrupt;
  auto rest = splitter.take_rest();  // a last statement may omit its ';'
  if (!signalled && !rest.text.empty() && !shell.execute(rest)) failed = true;
  shell.stop_all();
  if (signalled) return g_terminate ? 143 : 130;
  return failed ? 1 : 0;
}

int run_sql_shell(SqlArgs a) {
  if (a.output != "tabular" && a.output != "json") {
    std::cerr << "rivulet sql: --output is tabular or json\n";
    return 2;
  }
  a.shell.json = a.output == "json";
  {  // AVRO, PROTOBUF, JSON_SR with a schema registry (schema.registry.url)
    auto config = Config::load(a.shell.config, a.shell.sets);
    auto registry =
        config ? connectors::configure_schema_registry(*config) : Expected<bool>(config.error());
    if (!registry) {
      std::cerr << "rivulet sql: " << registry.error().message << "\n";
      return 2;
    }
  }
  install_handlers();
  SqlShell shell(a.shell, std::cout, std::cerr);
  auto variables = sql::parse_definitions(a.defines);
  if (!variables) {
    std::cerr << "rivulet sql: " << variables.error().message << "\n";
    return 2;
  }
  shell.define(*variables);
  if (!a.execute.empty()) {
    std::istringstream in(a.execute);
    return script(shell, in);
  }
  if (::isatty(STDIN_FILENO)) return interactive(shell, a);
  return script(shell, std::cin);
}

}  // namespace

void add_sql_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "sql", "Interactive SQL shell: DDL, persistent queries, pull and push queries");
  auto a = std::make_shared<SqlArgs>();
  cmd->add_option("--bootstrap", a->shell.bootstrap,
                  "Kafka bootstrap list: persistent and push queries run in this process "
                  "against it (sets bootstrap.servers)");
  cmd->add_option("--coordinator", a->shell.coordinator,
                  "HOST:PORT of a cluster's coordinator: pull queries ask the cluster's tables "
                  "(those of `rivulet submit`) instead of this shell's queries");
  cmd->add_option("--config", a->shell.config, "A properties file (see `rivulet config`)");
  cmd->add_option("--set", a->shell.sets, "Override a configuration key: --set key=value");
  cmd->add_option("--output", a->output, "tabular (bordered tables, the default) or json");
  cmd->add_option("--define", a->defines,
                  "Define a variable before the first statement: --define NAME=VALUE, as DEFINE "
                  "NAME = 'VALUE'; (referenced as ${NAME})");
  cmd->add_option("-e,--execute", a->execute,
                  "Run these statements (each ending with ';') and exit");
  cmd->footer(
      "Statements end with ';' and may span lines. On a terminal: line editing and history\n"
      "(~/.rivulet_history, or $RIVULET_HISTORY); Ctrl-C clears the line or stops a push\n"
      "query; EXIT or Ctrl-D ends the session. Otherwise statements are read from stdin\n"
      "(rivulet sql --bootstrap B < script.sql) until EOF or a line EXIT (or QUIT).\n"
      "Persistent queries run until TERMINATE or the end of the session (PAUSE and\n"
      "RESUME hold them still and let them go on). Errors (line L:C: ...) never end\n"
      "the session.\n"
      "\n"
      "Exit status: 0; when not reading a terminal, 1 if any statement failed (130/143 when\n"
      "SIGINT/SIGTERM ended it while it waited for input); 2 for usage errors.");
  cmd->callback([a] { exit_code = run_sql_shell(*a); });
}

}  // namespace rivulet::cli
