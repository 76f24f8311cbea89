// `rivulet broker [--brokers N] [--topic NAME:PARTITIONS]... [--bootstrap-file PATH]`:
// runs the embedded Kafka broker (librdkafka's mock cluster) on 127.0.0.1
// until SIGINT or SIGTERM (exit 0; a second signal while it stops exits at
// once with 128+signal, as every long-running command does through
// ShutdownSignals). The first line of stdout is its bootstrap list.
#include <charconv>
#include <fstream>
#include <iostream>

#include "cli/commands.hpp"
#include "connectors/embedded_broker.hpp"
#include "runtime/shutdown_signals.hpp"

namespace rivulet::cli {

namespace {

int run_broker(int brokers, const std::vector<std::string>& topics,
               const std::string& bootstrap_file) {
  // First, before any thread starts: every thread inherits its signal mask.
  ShutdownSignals signals("rivulet broker");

  std::vector<std::pair<std::string, int32_t>> wanted;
  for (const auto& spec : topics) {
    auto colon = spec.rfind(':');
    int32_t n = 0;
    if (colon != std::string::npos) {
      const char* first = spec.data() + colon + 1;
      const char* last = spec.data() + spec.size();
      auto [end, ec] = std::from_chars(first, last, n);
      if (ec != std::errc() || end != last) n = 0;
    }
    if (colon == std::string::npos || colon == 0 || n <= 0) {
      std::cerr << "rivulet broker: --topic expects NAME:PARTITIONS, got '" << spec << "'\n";
      return 2;
    }
    wanted.emplace_back(spec.substr(0, colon), n);
  }
  connectors::EmbeddedBrokerOptions options;
  options.brokers = brokers;
  options.replication_factor = std::min(brokers, 3);
  auto broker = connectors::EmbeddedBroker::start(options);
  if (!broker) {
    std::cerr << "rivulet broker: " << broker.error().to_string() << "\n";
    return 1;
  }
  for (const auto& [name, n] : wanted) {
    auto r = (*broker)->create_topic(name, n);
    if (!r) {
      std::cerr << "rivulet broker: topic " << name << ": " << r.error().to_string() << "\n";
      return 1;
    }
  }
  std::cout << (*broker)->bootstrap() << std::endl;
  if (!bootstrap_file.empty()) {
    std::string tmp = bootstrap_file + ".tmp";
    {
      std::ofstream out(tmp);
      out << (*broker)->bootstrap() << "\n";
      if (!out) {
        std::cerr << "rivulet broker: cannot write " << bootstrap_file << "\n";
        return 1;
      }
    }
    std::rename(tmp.c_str(), bootstrap_file.c_str());  // readers never see a partial line
  }
  signals.wait();  // logs "stopping on signal N"; a second signal exits at once
  broker->reset();  // stops the brokers (closes their listeners)
  std::cerr << "rivulet broker: stopped\n";
  return 0;
}

}  // namespace

void add_broker_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "broker", "Run an embedded Kafka broker on 127.0.0.1 (prints its bootstrap list first)");
  struct Options {
    int brokers = 3;
    std::vector<std::string> topics;
    std::string bootstrap_file;
  };
  auto opts = std::make_shared<Options>();
  cmd->add_option("--brokers", opts->brokers, "Number of brokers")->check(CLI::Range(1, 9));
  cmd->add_option("--topic", opts->topics, "Create a topic: NAME:PARTITIONS (repeatable)");
  cmd->add_option("--bootstrap-file", opts->bootstrap_file, "Also write the bootstrap list here");
  cmd->callback([opts] {
    exit_code = run_broker(opts->brokers, opts->topics, opts->bootstrap_file);
  });
}

}  // namespace rivulet::cli
