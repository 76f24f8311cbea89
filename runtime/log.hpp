#pragma once
// Logging: one spdlog logger named "rivulet" on stderr, one line per event:
//   2026-11-22 09:41:07.123 [info] task demo-3 restored checkpoint 42 ...
// Callers put the context (task, topic, partition, offset) into the message.
#include <memory>
#include <string_view>

#include <spdlog/spdlog.h>

namespace rivulet {

std::shared_ptr<spdlog::logger> logger();
// "trace", "debug", "info", "warn", "error", "off"; unknown names leave the level.
void set_log_level(std::string_view level);

}  // namespace rivulet
