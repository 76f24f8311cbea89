// A stand-alone Rivulet application written with the C++ API: orders LEFT
// JOIN users, plus a per-user order count, until SIGINT or SIGTERM.
//
//   build/bin/enrich_orders BOOTSTRAP [--http HOST:PORT]
//                                   (topics users and orders must exist)
//
// Configuration comes from the environment (RIVULET_STATE_DIR,
// RIVULET_CHECKPOINT_INTERVAL_MS, ...: see docs/configuration.md); the crash
// tests run it this way and kill it with SIGKILL.
//
// While it runs it prints, every few seconds, the records processed and the
// current value of one user in the users table (a query from another thread).
// With --http it serves /metrics, /health and /tasks (actors/http_endpoint.hpp).
// SIGINT/SIGTERM stop it gracefully (final checkpoint, exit 0); a second
// signal exits at once.
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include "actors/application.hpp"
#include "actors/http_endpoint.hpp"
#include "examples/orders_enrichment.hpp"
#include "runtime/shutdown_signals.hpp"

int main(int argc, char** argv) {
  std::string http;
  if (argc == 4 && std::string(argv[2]) == "--http") http = argv[3];
  if (argc != 2 && http.empty()) {
    std::cerr << "usage: enrich_orders BOOTSTRAP [--http HOST:PORT]\n";
    return 2;
  }
  rivulet::ShutdownSignals signals("enrich_orders");  // before any thread starts

  rivulet::examples::OrdersWorkload workload;
  auto config = rivulet::Config::load(
      "", {"bootstrap.servers=" + std::string(argv[1])}, /*use_environment=*/true);
  if (config && std::getenv("RIVULET_APPLICATION_ID") == nullptr) {
    (void)config->set("application.id", "enrich-orders");
  }
  if (!config) {
    std::cerr << config.error().message << "\n";
    return 2;
  }
  rivulet::Application app(rivulet::examples::make_orders_topology(workload), *config);
  if (auto started = app.start(); !started) {
    std::cerr << "cannot start: " << started.error().to_string() << "\n";
    return 1;
  }
  std::unique_ptr<rivulet::HttpEndpoint> endpoint;
  if (!http.empty()) {
    auto e = rivulet::HttpEndpoint::start(http, app);
    if (!e) {
      std::cerr << "cannot serve http on " << http << ": " << e.error().to_string() << "\n";
      (void)app.stop();
      return 1;
    }
    endpoint = std::move(*e);
    std::cerr << "enrich_orders: http on " << endpoint->host() << ":" << endpoint->port() << "\n";
  }
  // The reporter stops and is joined before the application stops: a
  // detached one could wake while `app` is being destroyed and use it.
  std::mutex reporter_mutex;
  std::condition_variable reporter_wake;
  bool reporter_stop = false;
  std::thread reporter([&] {
    auto users = app.table("users");
    std::unique_lock<std::mutex> lock(reporter_mutex);
    while (!reporter_wake.wait_for(lock, std::chrono::seconds(3), [&] { return reporter_stop; })) {
      lock.unlock();
      auto stats = app.stats();
      auto user = users.get(rivulet::Value::string(workload.user_id(42)));
      std::printf("in=%llu out=%llu users=%zu user 42=%s\n",
                  static_cast<unsigned long long>(stats.records_in),
                  static_cast<unsigned long long>(stats.records_out), users.size(),
                  user ? user->to_string().c_str() : "(not loaded)");
      std::fflush(stdout);
      lock.lock();
    }
  });
  signals.wait();
  {
    std::lock_guard<std::mutex> lock(reporter_mutex);
    reporter_stop = true;
  }
  reporter_wake.notify_all();
  reporter.join();
  const bool stopped = app.stop();
  endpoint.reset();
  return stopped ? 0 : 1;
}
