#include "runtime/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

namespace rivulet {

std::shared_ptr<spdlog::logger> logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto l = spdlog::stderr_logger_mt("rivulet");
    l->set_pattern("%Y-%m-%d %H:%M:%S.%e [%l] %v");
    l->set_level(spdlog::level::info);
    return l;
  }();
  return instance;
}

void set_log_level(std::string_view level) {
  auto l = spdlog::level::from_str(std::string(level));
  if (l == spdlog::level::off && level != "off") return;
  logger()->set_level(l);
  // librdkafka's own messages (connectors/kafka_log.hpp) follow the same
  // level, so that kafka.consumer.debug=... with log.level=debug shows them;
  // a "kafka" logger made later takes this level when it is created.
  if (auto kafka = spdlog::get("kafka")) kafka->set_level(l);
}

}  // namespace rivulet
