// `rivulet config [--markdown] [--check FILE] [--set k=v]...`: lists every
// configuration key with its type, default and meaning (the same table
// that validates configuration at start), or validates a configuration.
#include <iostream>

#include "cli/commands.hpp"
#include "runtime/config.hpp"

namespace rivulet::cli {

void add_config_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("config", "List the configuration keys, or check a configuration");
  struct Options {
    bool markdown = false;
    std::string file;
    std::vector<std::string> sets;
  };
  auto opts = std::make_shared<Options>();
  cmd->add_flag("--markdown", opts->markdown, "Print the keys as a markdown table");
  cmd->add_option("--check", opts->file, "Validate this properties file (with environment and --set)");
  cmd->add_option("--set", opts->sets, "Override a key: --set key=value");
  cmd->callback([opts] {
    if (opts->file.empty() && opts->sets.empty()) {
      std::cout << Config::describe_keys(opts->markdown);
      return;
    }
    auto config = Config::load(opts->file, opts->sets);
    if (!config) {
      std::cerr << "rivulet: " << config.error().message << "\n";
      exit_code = 2;
      return;
    }
    for (const auto& [k, v] : config->values()) std::cout << k << "=" << v << "\n";
  });
}

}  // namespace rivulet::cli
