#pragma once
// A node's control actor: what the coordinator forwards to the node over
// the node's own connection (the node hands the actor over with `attach`
// after every hello, so no extra port is opened):
//  - lookup(query, partition, epoch, store, key) -> (LookupStatus, payload):
//    `rivulet query` and the shell's pull queries; the lookup runs on the
//    task's actor (Application::lookup; an empty key: the table's rows);
//  - fault(kind, max_ms) -> "" or an error: `rivulet chaos` for a node on
//    another machine. "kill": the process dies at once by SIGKILL (no
//    checkpoint, no commit, no goodbye: a crash), shortly after the answer
//    left; "pause": the node stops processing (every lease expires at once)
//    and stops heartbeating until "resume" or max_ms, so the coordinator
//    declares it dead and fences it as after SIGSTOP; "resume".
// Built-in message types only (the coordinator holds it as a caf::actor).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/all.hpp>

namespace rivulet {
class Application;
}

namespace rivulet::cluster {

struct NodeControlHooks {
  std::string name;  // the node's, for messages
  // The Application running `query` here, or null.
  std::function<std::shared_ptr<Application>(const std::string& query)> app;
  std::function<void(int64_t max_ms)> pause;
  std::function<void()> resume;
};

caf::actor spawn_node_control(caf::actor_system& system, NodeControlHooks hooks);

}  // namespace rivulet::cluster
