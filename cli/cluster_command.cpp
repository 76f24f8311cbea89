// The cluster commands:
//   rivulet coordinator --listen HOST:PORT [--config FILE]
//   rivulet node --coordinator HOST:PORT --name NAME [--config FILE] [--http HOST:PORT]
//   rivulet submit APP.sql --coordinator HOST:PORT [--name NAME] [--config FILE]
//   rivulet status --coordinator HOST:PORT [--json] [--watch [--interval SECONDS]] (status_command.cpp)
// (cluster/README.md and docs/cluster.md describe them.)
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cli/commands.hpp"
#include "cluster/client.hpp"
#include "cluster/coordinator.hpp"
#include "cluster/insert_values.hpp"
#include "cluster/node.hpp"
#include "cluster/query.hpp"
#include "cluster/query_plan.hpp"
#include "cluster/source_loading.hpp"
#include "connectors/schema_registry_client.hpp"
#include "runtime/config.hpp"
#include "runtime/shutdown_signals.hpp"
#include "sql/planner.hpp"

namespace rivulet::cli {

namespace {

std::atomic<bool> stop_requested{false};

// SIGINT/SIGTERM through ShutdownSignals: the first sets stop_requested (a
// node hands its tasks over and leaves, the coordinator stops), a second
// exits at once with 128+signal. Construct before any thread starts.
class StopOnSignal {
 public:
  explicit StopOnSignal(const char* name)
      : signals_(name), waiter_([this] {
          while (!done_.load()) {
            if (signals_.wait(std::chrono::milliseconds(200)) != 0) {
              stop_requested.store(true);
              return;
            }
          }
        }) {}
  ~StopOnSignal() {
    done_.store(true);
    waiter_.join();
  }
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

 private:
  ShutdownSignals signals_;
  std::atomic<bool> done_{false};
  std::thread waiter_;
};

std::optional<Config> load_config(const std::string& file) {
  auto config = Config::load(file, {});
  if (!config) {
    std::cerr << "rivulet: " << config.error().message << "\n";
    exit_code = 2;
    return std::nullopt;
  }
  // A node and `rivulet submit` plan SQL files: AVRO, PROTOBUF, JSON_SR with a schema registry.
  if (auto registry = connectors::configure_schema_registry(*config); !registry) {
    std::cerr << "rivulet: " << registry.error().message << "\n";
    exit_code = 2;
    return std::nullopt;
  }
  return *config;
}

}  // namespace

void add_cluster_commands(CLI::App& app) {
  {
    auto* cmd = app.add_subcommand("coordinator", "Run the cluster coordinator");
    auto listen = std::make_shared<std::string>();
    auto file = std::make_shared<std::string>();
    cmd->add_option("--listen", *listen, "HOST:PORT to accept nodes and clients on")->required();
    cmd->add_option("--config", *file, "Properties file (cluster.*, state.dir, bootstrap.servers)");
    cmd->callback([listen, file] {
      auto config = load_config(*file);
      if (!config) return;
      StopOnSignal signals("rivulet coordinator");
      exit_code = cluster::run_coordinator(*listen, *config, stop_requested);
    });
  }
  {
    auto* cmd = app.add_subcommand("node", "Run a cluster node");
    auto opts = std::make_shared<cluster::NodeOptions>();
    auto file = std::make_shared<std::string>();
    cmd->add_option("--coordinator", opts->coordinator, "HOST:PORT of the coordinator")->required();
    cmd->add_option("--name", opts->name, "Unique name of this node")->required();
    cmd->add_option("--config", *file, "Properties file (bootstrap.servers, state.dir, cluster.*)");
    cmd->add_option("--http", opts->http, "HOST:PORT for /metrics, /health and /tasks");
    cmd->callback([opts, file] {
      auto config = load_config(*file);
      if (!config) return;
      StopOnSignal signals("rivulet node");
      exit_code = cluster::run_node(*opts, *config, stop_requested);
    });
  }
  {
    auto* cmd = app.add_subcommand("submit", "Register a SQL file's persistent queries with the cluster");
    struct Options {
      std::string file, coordinator, name, config;
      std::vector<std::string> defines;  // NAME=VALUE
    };
    auto opts = std::make_shared<Options>();
    cmd->add_option("file", opts->file, "SQL file")->required();
    cmd->add_option("--define", opts->defines,
                    "Define a variable before the file's first statement: --define NAME=VALUE "
                    "(registered with the file as DEFINE NAME = 'VALUE';)");
    cmd->add_option("--coordinator", opts->coordinator, "HOST:PORT of the coordinator")->required();
    cmd->add_option("--name", opts->name, "Query name (default: the file name without .sql)");
    cmd->add_option("--config", opts->config, "Properties file (cluster.secret, cluster.tls.*)");
    cmd->callback([opts] {
      auto config = load_config(opts->config);
      if (!config) return;
      std::ifstream in(opts->file);
      if (!in) {
        std::cerr << "rivulet submit: cannot read " << opts->file << "\n";
        exit_code = 2;
        return;
      }
      std::stringstream text;
      text << in.rdbuf();
      auto variables = sql::parse_definitions(opts->defines);
      if (!variables) {
        std::cerr << "rivulet submit: " << variables.error().message << "\n";
        exit_code = 2;
        return;
      }
      cluster::QueryDef def;
      // Every node plans the file with the same variables: their DEFINEs
      // go before it, on its first line (its other lines keep their numbers).
      def.sql = sql::define_statements(*variables) + text.str();
      def.name = opts->name.empty() ? std::filesystem::path(opts->file).stem().string() : opts->name;
      // Planned here first: a SQL error is reported with the file's
      // line:column before anything reaches the cluster.
      auto topology = sql::plan_script(text.str(), *variables);
      if (!topology) {
        std::cerr << "rivulet submit: " << opts->file << ": " << topology.error().to_string()
                  << "\n";
        exit_code = 2;
        return;
      }
      auto status = cluster::fetch_status(opts->coordinator, &*config);
      if (!status) {
        std::cerr << "rivulet submit: " << status.error().to_string() << "\n";
        exit_code = 1;
        return;
      }
      // A loop through the cluster's other queries (A submitted, then a
      // file writing back into A's input) is refused as one within a file
      // is: each query's topic flows, its repartition topics named as its
      // application names them. A query submitted again under its name
      // replaces itself; one that no longer plans here (a UDF library not
      // given) is left out.
      if (auto others = cluster::fetch_queries(opts->coordinator, *config); others) {
        Topology::TopicFlows flows = topology->topology.scoped_to(def.name).topic_flows();
        for (const auto& q : *others) {
          if (q.name == def.name) continue;
          auto planned = sql::plan_script(q.sql);
          if (!planned) continue;
          for (auto& [topic, written] : planned->topology.scoped_to(q.name).topic_flows())
            flows[topic].insert(written.begin(), written.end());
        }
        if (auto loop = find_topic_cycle(flows); !loop.empty()) {
          std::cerr << "rivulet submit: " << opts->file << ": " << sql::topic_loop_error(loop)
                    << " (through the queries the cluster runs)\n";
          exit_code = 2;
          return;
        }
      }
      Config broker = *config;
      auto j = nlohmann::json::parse(*status, nullptr, false);
      if (broker.get("bootstrap.servers").empty() && !j.is_discarded()) {
        (void)broker.set("bootstrap.servers", j["coordinator"].value("bootstrap", ""));
      }
      if (broker.get("bootstrap.servers").empty()) {
        std::cerr << "rivulet submit: bootstrap.servers is set neither here nor on the coordinator\n";
        exit_code = 2;
        return;
      }
      if (auto created = cluster::create_source_topics(*topology, broker); !created) {
        std::cerr << "rivulet submit: " << created.error().to_string() << "\n";
        exit_code = 1;
        return;
      }
      // The first load of its file sources, written here before the query
      // is registered, so that every task finds them loaded; afterwards the
      // node running task 0 loads what changes (cluster/source_loading.hpp).
      // Then its INSERT INTO ... VALUES rows, here and only here: no node
      // writes them. A query the coordinator already holds has had both.
      bool registered = false;
      if (!j.is_discarded() && j.contains("queries"))
        for (const auto& q : j["queries"])
          registered = registered || q.value("name", "") == def.name;
      Config load = broker;
      for (const auto& [k, v] : topology->properties) (void)sql::apply_set(load, k, v);
      (void)load.set("application.id", def.name);
      // The nodes run it with these SETs too (a node's own configuration
      // may still say 'latest'; this is what the file says).
      if (!registered && load.get("auto.offset.reset") == "latest")
        if (auto unread = sql::unread_at_latest(*topology); !unread.empty())
          std::cerr << "rivulet submit: warning: " << unread << "\n";
      if (auto files = cluster::file_sources(*topology); !registered && !files.empty()) {
        auto loaded = cluster::SourceLoading::start(files, load);
        if (!loaded) {
          std::cerr << "rivulet submit: loading the file sources: " << loaded.error().to_string()
                    << "\n";
          exit_code = 1;
          return;
        }
        if (*loaded) (*loaded)->stop();
      }
      if (!registered && !topology->inserts.empty()) {
        auto inserted = cluster::write_inserts(topology->inserts, load);
        if (!inserted) {
          std::cerr << "rivulet submit: " << inserted.error().to_string() << "\n";
          exit_code = 1;
          return;
        }
        std::cout << "INSERT INTO ... VALUES: " << *inserted << " row"
                  << (*inserted == 1 ? "" : "s") << " written\n";
      } else if (registered && !topology->inserts.empty()) {
        std::cout << "INSERT INTO ... VALUES: not written again (query " << def.name
                  << " is registered)\n";
      }
      auto plan = cluster::query_partition_plan(topology->topology, broker);
      if (!plan) {
        std::cerr << "rivulet submit: " << plan.error().to_string() << "\n";
        exit_code = 1;
        return;
      }
      def.partitions = plan->tasks;
      for (const auto& [topic, n] : plan->topics)
        if (n != plan->tasks) def.smaller_inputs[topic] = n;
      auto r = cluster::submit_query(opts->coordinator, def, config->get("cluster.secret"), &*config);
      if (!r) {
        std::cerr << "rivulet submit: " << r.error().to_string() << "\n";
        exit_code = 1;
        return;
      }
      std::cout << "query " << def.name << " submitted: " << def.partitions << " tasks\n";
    });
  }
  {
    auto* cmd = app.add_subcommand("status", "Show the cluster's nodes and tasks");
    auto opts = std::make_shared<StatusOptions>();
    cmd->add_option("--coordinator", opts->coordinator, "HOST:PORT of the coordinator")->required();
    cmd->add_flag("--json", opts->json, "One JSON object instead of tables (with --watch: one per line)");
    cmd->add_flag("--watch", opts->watch, "Refresh until SIGINT/SIGTERM (in place on a terminal)");
    cmd->add_option("--interval", opts->interval_s, "Seconds between refreshes with --watch")
        ->capture_default_str();
    cmd->callback([opts] { exit_code = run_status(*opts); });
  }
  {
    auto* cmd = app.add_subcommand(
        "terminate", "Stop a submitted query on every node and remove it from the cluster");
    struct Options {
      std::string name, coordinator, config;
      int timeout_s = 60;
    };
    auto opts = std::make_shared<Options>();
    cmd->add_option("query", opts->name, "Query name (as rivulet submit registered it)")
        ->required();
    cmd->add_option("--coordinator", opts->coordinator, "HOST:PORT of the coordinator")->required();
    cmd->add_option("--config", opts->config, "Properties file (cluster.secret, cluster.tls.*)");
    cmd->add_option("--timeout", opts->timeout_s, "Seconds to wait for its tasks to stop")
        ->capture_default_str();
    cmd->callback([opts] {
      auto config = load_config(opts->config);
      if (!config) return;
      auto r = cluster::terminate_query(opts->coordinator, opts->name,
                                        config->get("cluster.secret"), &*config);
      if (!r) {
        std::cerr << "rivulet terminate: " << r.error().to_string() << "\n";
        exit_code = 1;
        return;
      }
      // Done when the coordinator no longer lists it: every task was
      // released (final checkpoint and commit) or its node is gone.
      auto done = cluster::wait_terminated(opts->coordinator, opts->name, &*config,
                                           std::chrono::seconds(opts->timeout_s));
      if (!done) {
        std::cerr << "rivulet terminate: " << done.error().to_string() << "\n";
        exit_code = 1;
        return;
      }
      std::cout << "query " << opts->name << " terminated\n";
    });
  }
  for (const bool pause : {true, false}) {
    const std::string verb = pause ? "pause" : "resume";
    auto* cmd = app.add_subcommand(
        verb, pause ? "Hold a submitted query's tasks still on every node (state kept; its input "
                      "waits in its topics)"
                    : "Let a paused query's tasks go on where they stopped");
    struct Options {
      std::string name, coordinator, config;
      bool all = false;
    };
    auto opts = std::make_shared<Options>();
    auto* query =
        cmd->add_option("query", opts->name, "Query name (as rivulet submit registered it)");
    auto* all = cmd->add_flag(
        "--all", opts->all,
        std::string("Every submitted query (ksqlDB's ") + (pause ? "PAUSE" : "RESUME") + " ALL)");
    query->excludes(all);
    cmd->add_option("--coordinator", opts->coordinator, "HOST:PORT of the coordinator")->required();
    cmd->add_option("--config", opts->config, "Properties file (cluster.secret, cluster.tls.*)");
    cmd->callback([opts, pause, verb] {
      if (opts->name.empty() && !opts->all) {
        std::cerr << "rivulet " << verb << ": name a query, or --all\n";
        exit_code = 2;
        return;
      }
      auto config = load_config(opts->config);
      if (!config) return;
      const char* done = pause ? " paused" : " resumed";
      if (opts->all) {
        auto r =
            cluster::pause_all(opts->coordinator, pause, config->get("cluster.secret"), &*config);
        if (!r) {
          std::cerr << "rivulet " << verb << ": " << r.error().to_string() << "\n";
          exit_code = 1;
          return;
        }
        std::string names;
        for (const auto& n : *r) names += (names.empty() ? "" : ", ") + n;
        std::cout << r->size() << (r->size() == 1 ? " query" : " queries") << done
                  << (r->empty() ? std::string(" (none submitted)")
                                 : ": " + names + " (the nodes follow within a heartbeat)")
                  << "\n";
        return;
      }
      auto r = cluster::pause_query(opts->coordinator, opts->name, pause,
                                    config->get("cluster.secret"), &*config);
      if (!r) {
        std::cerr << "rivulet " << verb << ": " << r.error().to_string() << "\n";
        exit_code = 1;
        return;
      }
      std::cout << "query " << opts->name << done << " (the nodes follow within a heartbeat)\n";
    });
  }
}

}  // namespace rivulet::cli
