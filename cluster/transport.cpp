#include "cluster/transport.hpp"

#include <fstream>

#include <caf/openssl/all.hpp>

namespace rivulet::cluster {

TlsSettings tls_settings(const Config& config) {
  TlsSettings t;
  t.certificate = config.get("cluster.tls.certificate");
  t.key = config.get("cluster.tls.key");
  t.passphrase = config.get("cluster.tls.key.passphrase");
  t.ca = config.get("cluster.tls.ca");
  return t;
}

std::string check_tls(const TlsSettings& tls) {
  if (!tls.enabled()) return "";
  if (tls.certificate.empty() || tls.key.empty() || tls.ca.empty()) {
    return "TLS needs all of cluster.tls.certificate, cluster.tls.key and cluster.tls.ca "
           "(some are set, some are not)";
  }
  for (const auto& [key, path] : {std::pair<const char*, const std::string&>{"cluster.tls.certificate", tls.certificate},
                                  {"cluster.tls.key", tls.key},
                                  {"cluster.tls.ca", tls.ca}}) {
    std::ifstream in(path);
    if (!in) return std::string(key) + ": cannot read " + path;
  }
  return "";
}

void configure_cluster_system(caf::actor_system_config& cfg, int64_t failure_timeout_ms,
                              const TlsSettings& tls, int64_t peer_failure_timeout_ms) {
  configure_actor_system(cfg, failure_timeout_ms, peer_failure_timeout_ms);
  if (!tls.enabled()) return;
  if (!openssl_error_queue_guard()) return;
  cfg.load<caf::openssl::manager>();
  cfg.openssl_certificate = tls.certificate;
  cfg.openssl_key = tls.key;
  cfg.openssl_passphrase = tls.passphrase;
  cfg.openssl_cafile = tls.ca;
}

caf::expected<coordinator_actor> connect_coordinator(caf::actor_system& system,
                                                     const std::string& host, uint16_t port) {
  if (system.has_openssl_manager()) {
    return caf::openssl::remote_actor<coordinator_actor>(system, host, port);
  }
  return system.middleman().remote_actor<coordinator_actor>(host, port);
}

caf::expected<uint16_t> publish_coordinator(caf::actor_system& system,
                                            const coordinator_actor& coordinator, uint16_t port,
                                            const std::string& host) {
  if (system.has_openssl_manager()) {
    return caf::openssl::publish(coordinator, port, host.c_str(), true);
  }
  return system.middleman().publish(coordinator, port, host.c_str(), true);
}

}  // namespace rivulet::cluster
