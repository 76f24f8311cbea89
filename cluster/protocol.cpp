#include "cluster/protocol.hpp"

#include <algorithm>
#include <set>

#include <caf/io/all.hpp>

#include "actors/scheduler_config.hpp"

namespace rivulet::cluster {

namespace {

template <long... Is>
void collect_names(std::vector<std::string>& out, caf::detail::int_list<Is...>) {
  (out.emplace_back(caf::type_name_by_id<Is>::value), ...);
}

}  // namespace

std::vector<std::string> protocol_type_names() {
  std::vector<std::string> out;
  using block = caf::id_block::rivulet_cluster;
  collect_names(out, typename caf::detail::il_range<block::begin, block::end>::type{});
  return out;
}

std::string check_hello(uint32_t version, const std::vector<std::string>& types,
                        const std::string& secret, const std::string& expected_secret) {
  if (version != kProtocolVersion) {
    return "protocol version mismatch: the node speaks version " + std::to_string(version) +
           ", the coordinator version " + std::to_string(kProtocolVersion) +
           " (run the same rivulet release on every process)";
  }
  auto ours = protocol_type_names();
  if (types != ours) {
    std::set<std::string> mine(ours.begin(), ours.end()), theirs(types.begin(), types.end());
    std::string missing, extra;
    for (const auto& t : mine) {
      if (!theirs.count(t)) missing += (missing.empty() ? "" : ", ") + t;
    }
    for (const auto& t : theirs) {
      if (!mine.count(t)) extra += (extra.empty() ? "" : ", ") + t;
    }
    std::string why = "protocol message types differ between node and coordinator";
    if (!missing.empty()) why += "; the node lacks: " + missing;
    if (!extra.empty()) why += "; the coordinator lacks: " + extra;
    if (missing.empty() && extra.empty()) why += " (same types, different order)";
    return why + " (run the same rivulet release on every process)";
  }
  if (secret != expected_secret) {
    return expected_secret.empty() || secret.empty()
               ? "cluster.secret mismatch: set the same cluster.secret on the coordinator and "
                 "every node"
               : "cluster.secret mismatch: the node presented a wrong secret";
  }
  return "";
}

void configure_actor_system(caf::actor_system_config& cfg, int64_t failure_timeout_ms,
                            int64_t peer_failure_timeout_ms) {
  cfg.add_message_types<caf::id_block::rivulet_cluster>();
  cfg.load<caf::io::middleman>();
  cfg.set("logger.verbosity", caf::atom("quiet"));
  actors::configure_scheduler(cfg);
  // Without both a hung peer is never noticed (PLATFORM.md). The connection
  // timeout stays below the failure timeout so that the transport gives up
  // on a silent peer before the coordinator declares it dead.
  const int64_t shortest = peer_failure_timeout_ms > 0
                               ? std::min(failure_timeout_ms, peer_failure_timeout_ms)
                               : failure_timeout_ms;
  int64_t heartbeat = std::max<int64_t>(50, shortest / 15);
  int64_t timeout = std::max<int64_t>(heartbeat * 4, failure_timeout_ms / 3);
  cfg.set("middleman.heartbeat-interval", caf::timespan{std::chrono::milliseconds(heartbeat)});
  cfg.set("middleman.connection-timeout", caf::timespan{std::chrono::milliseconds(timeout)});
}

}  // namespace rivulet::cluster
