#include "cluster/remote_fault.hpp"

#include "cluster/transport.hpp"

namespace rivulet::cluster {

Expected<bool> request_node_fault(const std::string& coordinator, const Config& config,
                                  const std::string& node, const std::string& kind,
                                  int64_t max_pause_ms) {
  return ask_coordinator<bool>(
      coordinator, config,
      [&](caf::scoped_actor& self, const coordinator_actor& c, Expected<bool>& result,
          caf::actor_system& system) {
        self->request(c, std::chrono::seconds(10), fault_atom::value, node, kind, max_pause_ms,
                      config.get("cluster.secret"))
            .receive(
                [&](const std::string& refusal) {
                  if (refusal.empty()) {
                    result = true;
                  } else {
                    result = Error::data(kind + " node " + node + " refused: " + refusal);
                  }
                },
                [&](caf::error& err) {
                  result = Error::fatal(kind + " node " + node +
                                        ": no answer from the coordinator: " + system.render(err));
                });
      });
}

}  // namespace rivulet::cluster
