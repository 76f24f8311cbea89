#pragma once
// `rivulet chaos --coordinator HOST:PORT [--remote] kill|pause|resume NODE`
// for a node that is not a process on this machine: an orderly request
// through the coordinator, which forwards it to the node's control actor
// (node_control.hpp). Needs the cluster's secret (cluster.secret).
#include <cstdint>
#include <string>

#include "runtime/config.hpp"
#include "runtime/error.hpp"

namespace rivulet::cluster {

// kind: "kill", "pause" (for at most max_pause_ms; the node resumes by
// itself then) or "resume". An error says who refused and why.
Expected<bool> request_node_fault(const std::string& coordinator, const Config& config,
                                  const std::string& node, const std::string& kind,
                                  int64_t max_pause_ms);

}  // namespace rivulet::cluster
