#include "cluster/node_control.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <map>

#include "actors/application.hpp"
#include "cluster/protocol.hpp"
#include "runtime/log.hpp"

namespace rivulet::cluster {

namespace {

using lookup_done_atom = caf::atom_constant<caf::atom("lookupdone")>;
using die_atom = caf::atom_constant<caf::atom("die")>;

struct ControlState {
  static inline const char* name = "rivulet.node-control";
  NodeControlHooks hooks;
  uint64_t next_id = 0;
  std::map<uint64_t, caf::typed_response_promise<int32_t, std::string>> pending;
};

caf::behavior control_behavior(caf::stateful_actor<ControlState>* self, NodeControlHooks hooks) {
  self->state.hooks = std::move(hooks);
  return {
      [=](lookup_atom, const std::string& query, int32_t partition, int64_t epoch,
          const std::string& store, const std::string& key)
          -> caf::result<int32_t, std::string> {
        auto& st = self->state;
        auto app = st.hooks.app(query);
        if (!app) {
          return caf::result<int32_t, std::string>(
              int32_t{kLookupError}, "node " + st.hooks.name + " does not run query " + query);
        }
        const uint64_t id = st.next_id++;
        auto rp = self->make_response_promise<int32_t, std::string>();
        st.pending.emplace(id, rp);
        caf::actor me = caf::actor_cast<caf::actor>(self);
        // The answer comes on the application's CAF thread: back to us as a
        // message (a promise is delivered by its own actor only).
        app->lookup(partition, epoch, store, key, std::chrono::seconds(3),
                    [me, id](Expected<std::pair<bool, std::string>> r) {
                      if (!r) {
                        caf::anon_send(me, lookup_done_atom::value, id, int32_t{kLookupError},
                                       r.error().message);
                      } else if (!r->first) {
                        caf::anon_send(me, lookup_done_atom::value, id, int32_t{kLookupAbsent},
                                       std::string());
                      } else {
                        caf::anon_send(me, lookup_done_atom::value, id, int32_t{kLookupFound},
                                       std::move(r->second));
                      }
                    });
        return rp;
      },
      [=](lookup_done_atom, uint64_t id, int32_t status, std::string& payload) {
        auto& st = self->state;
        auto it = st.pending.find(id);
        if (it == st.pending.end()) return;
        it->second.deliver(status, std::move(payload));
        st.pending.erase(it);
      },
      [=](fault_atom, const std::string& kind, int64_t max_ms) -> std::string {
        auto& st = self->state;
        if (kind == "kill") {
          logger()->warn("node {}: fault request: kill (the process dies now)", st.hooks.name);
          // The answer leaves first; then the process dies as in a crash.
          self->delayed_send(self, std::chrono::milliseconds(100), die_atom::value);
          return "";
        }
        if (kind == "pause") {
          if (max_ms <= 0) return "pause needs a positive bound in ms";
          logger()->warn("node {}: fault request: pause (at most {} ms)", st.hooks.name, max_ms);
          st.hooks.pause(max_ms);
          return "";
        }
        if (kind == "resume") {
          logger()->warn("node {}: fault request: resume", st.hooks.name);
          st.hooks.resume();
          return "";
        }
        return "unknown fault '" + kind + "'; expected kill, pause or resume";
      },
      [=](die_atom) {
        if (self->current_sender() != caf::actor_cast<caf::strong_actor_ptr>(self)) return;
        ::kill(::getpid(), SIGKILL);
      },
  };
}

}  // namespace

caf::actor spawn_node_control(caf::actor_system& system, NodeControlHooks hooks) {
  return system.spawn(control_behavior, std::move(hooks));
}

}  // namespace rivulet::cluster
