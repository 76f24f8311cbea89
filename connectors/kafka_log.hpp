#pragma once
// The connectors' logger: spdlog logger "kafka", writing to stderr (stdout
// belongs to the commands: `rivulet broker` prints its bootstrap list there).
// Created on first use, at the level of Rivulet's logger; set_log_level
// (log.level) sets both. An application may register its own "kafka"
// logger before that to redirect it.
#include <spdlog/spdlog.h>

#include <memory>

namespace rivulet::connectors {

spdlog::logger& kafka_log();

}  // namespace rivulet::connectors
