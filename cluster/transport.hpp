#pragma once
// How cluster processes connect over CAF's middleman: plain TCP, or TLS
// through caf_openssl when `cluster.tls.*` is configured (every process of a
// cluster must agree: a TLS coordinator refuses plain connections and a
// plain one cannot speak TLS).
//
// TLS (caf_openssl 0.17): each process presents cluster.tls.certificate /
// cluster.tls.key and requires the peer's certificate to be signed by
// cluster.tls.ca (mutual authentication), so a node without a certificate of
// the cluster's CA is refused before it can say hello. The secret is still
// checked by hello.
#include <chrono>
#include <string>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "cluster/protocol.hpp"
#include "runtime/config.hpp"
#include "runtime/error.hpp"
#include "runtime/host_port.hpp"
#include "runtime/sanitizer.hpp"

namespace rivulet::cluster {

struct TlsSettings {
  std::string certificate, key, passphrase, ca;
  bool enabled() const { return !certificate.empty() || !key.empty() || !ca.empty(); }
};

TlsSettings tls_settings(const Config& config);
// "" when usable; otherwise what is missing or unreadable.
std::string check_tls(const TlsSettings& tls);

// configure_actor_system() plus, with TLS, caf_openssl's manager and its
// certificate, key and CA (and the error-queue guard of openssl_errors.cpp).
void configure_cluster_system(caf::actor_system_config& cfg, int64_t failure_timeout_ms,
                              const TlsSettings& tls, int64_t peer_failure_timeout_ms = 0);

// Defined beside the TLS I/O wrappers of openssl_errors.cpp: calling it
// keeps them in every program that can use TLS.
bool openssl_error_queue_guard();

caf::expected<coordinator_actor> connect_coordinator(caf::actor_system& system,
                                                     const std::string& host, uint16_t port);
caf::expected<uint16_t> publish_coordinator(caf::actor_system& system,
                                            const coordinator_actor& coordinator, uint16_t port,
                                            const std::string& host);

// How much longer a one-shot client waits for the coordinator in a
// sanitizer build (runtime/sanitizer.hpp).
constexpr int kClientSlowdown = kSanitizerSlowdown;

// The failure timeout a client's connection is configured with (its
// connection timeout is a third of it: configure_actor_system()).
constexpr int64_t kClientFailureTimeoutMs = 15000 * kClientSlowdown;

// Connects (with `config`'s TLS settings), runs `ask(self, coordinator,
// result, system)` with a scoped actor, and shuts the system down (the
// scoped actor lives in an inner scope: PLATFORM.md).
template <typename Result, typename Ask>
Expected<Result> ask_coordinator(const std::string& address, const Config& config, Ask ask) {
  auto parsed = parse_host_port(address);
  if (!parsed) return Error::fatal("--coordinator: " + parsed.error().message);
  const std::string host = parsed->host;
  const uint16_t port = parsed->port;
  auto tls = tls_settings(config);
  if (auto why = check_tls(tls); !why.empty()) return Error::fatal(why);
  caf::actor_system_config cfg;
  // A one-shot client: a lenient connection timeout (5 s), since a TLS
  // handshake on a loaded machine took longer than a node's 1 s. Its
  // heartbeats follow the coordinator's timeout (cluster.failure.timeout.ms,
  // the same on every process): the coordinator closes a connection silent
  // for a third of it, and a request sent after that is lost (a client
  // that took over a second between connecting and asking, under a
  // sanitizer, waited out its whole request timeout).
  configure_cluster_system(cfg, kClientFailureTimeoutMs, tls,
                           config.get_int("cluster.failure.timeout.ms"));
  caf::actor_system system{cfg};
  auto handle = connect_coordinator(system, host, port);
  // A connection the coordinator dropped mid-handshake (connection_timeout,
  // seen within a fraction of a second under ThreadSanitizer, for nodes as
  // well) is tried again, as a node does: nothing was asked yet.
  for (int attempt = 1;
       attempt < 5 && !handle && handle.error() == caf::sec::connection_timeout; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    handle = connect_coordinator(system, host, port);
  }
  if (!handle) {
    return Error::fatal("cannot reach the coordinator at " + address + ": " +
                        system.render(handle.error()) +
                        (tls.enabled() ? " (with TLS)" : ""));
  }
  Expected<Result> result = Error::fatal("no answer from the coordinator at " + address);
  {
    caf::scoped_actor self{system};
    ask(self, *handle, result, system);
  }
  return result;
}

}  // namespace rivulet::cluster
