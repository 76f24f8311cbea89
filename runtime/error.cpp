#include "runtime/error.hpp"

namespace rivulet {

std::string Error::to_string() const {
  std::string out;
  if (!context.operation.empty()) out = context.operation + " failed";
  if (!context.topic.empty()) {
    out += out.empty() ? "at " : " at ";
    out += context.topic;
    if (context.partition >= 0) out += "[" + std::to_string(context.partition) + "]";
    if (context.offset >= 0) out += "@" + std::to_string(context.offset);
  }
  if (context.key) out += " key " + *context.key;
  if (context.attempt > 0) out += " (attempt " + std::to_string(context.attempt) + ")";
  if (!context.correlation_id.empty()) out += " [" + context.correlation_id + "]";
  if (out.empty()) return message;
  return out + ": " + message;
}

}  // namespace rivulet
