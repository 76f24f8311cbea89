#include "chaos/broker_faults.hpp"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <sstream>
#include <utility>

#include "connectors/topic_admin.hpp"

namespace rivulet::chaos {

using connectors::ControlOp;
using connectors::ControlRequest;

namespace {

// Kafka protocol ApiKeys the mock cluster serves.
const std::pair<const char*, int32_t> kApis[] = {
    {"Produce", 0},          {"Fetch", 1},            {"ListOffsets", 2},
    {"Metadata", 3},         {"OffsetCommit", 8},     {"OffsetFetch", 9},
    {"FindCoordinator", 10}, {"JoinGroup", 11},       {"Heartbeat", 12},
    {"LeaveGroup", 13},      {"SyncGroup", 14},       {"DescribeGroups", 15},
    {"ListGroups", 16},      {"ApiVersions", 18},     {"CreateTopics", 19},
    {"InitProducerId", 22},  {"AddPartitionsToTxn", 24}, {"AddOffsetsToTxn", 25},
    {"EndTxn", 26},          {"TxnOffsetCommit", 28},
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::optional<int64_t> integer(const std::string& word) {
  int64_t v = 0;
  const char* end = word.data() + word.size();
  auto [p, ec] = std::from_chars(word.data(), end, v);
  if (ec != std::errc() || p != end || word.empty()) return std::nullopt;
  return v;
}

Error usage(const std::string& what) { return Error::data(what); }

const char* kForms =
    "expected one of: down BROKER_ID | up BROKER_ID | leader TOPIC PARTITION BROKER_ID | "
    "errors API COUNT ERROR | errors API clear";

Expected<int32_t> broker_id(const std::string& word, bool allow_leaderless) {
  auto v = integer(word);
  if (!v || *v < (allow_leaderless ? -1 : 1) || *v > 1000000) {
    return usage("BROKER_ID must be a broker id (1, 2, ...)" +
                 std::string(allow_leaderless ? " or -1 for no leader" : "") + ", got '" + word +
                 "'");
  }
  return static_cast<int32_t>(*v);
}

std::string api_list() {
  std::string s;
  for (const auto& [name, key] : kApis) {
    if (!s.empty()) s += ", ";
    s += name;
  }
  return s;
}

}  // namespace

std::optional<int32_t> kafka_api_key(const std::string& word) {
  if (auto v = integer(word)) {
    if (*v >= 0 && *v <= INT16_MAX) return static_cast<int32_t>(*v);
    return std::nullopt;
  }
  for (const auto& [name, key] : kApis) {
    if (lower(name) == lower(word)) return key;
  }
  return std::nullopt;
}

std::string kafka_api_name(int32_t api_key) {
  for (const auto& [name, key] : kApis) {
    if (key == api_key) return name;
  }
  return std::to_string(api_key);
}

std::optional<int32_t> kafka_error_code(const std::string& word) {
  const rd_kafka_err_desc* descs = nullptr;
  size_t count = 0;
  rd_kafka_get_err_descs(&descs, &count);
  auto known = [&](int64_t code) {
    for (size_t i = 0; i < count; ++i) {
      if (descs[i].name != nullptr && descs[i].code == code) return true;
    }
    return false;
  };
  if (auto v = integer(word)) {
    if (*v != 0 && known(*v)) return static_cast<int32_t>(*v);
    return std::nullopt;
  }
  std::string name = word;
  const std::string prefix = "RD_KAFKA_RESP_ERR_";
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  for (size_t i = 0; i < count; ++i) {
    if (descs[i].name != nullptr && descs[i].code != 0 && name == descs[i].name) {
      return descs[i].code;
    }
  }
  return std::nullopt;
}

Expected<ControlRequest> parse_broker_fault(const std::vector<std::string>& words) {
  if (words.empty()) return usage(std::string("no fault given; ") + kForms);
  const std::string& verb = words[0];
  auto arity = [&](size_t n, const char* form) -> std::optional<Error> {
    if (words.size() == n) return std::nullopt;
    return usage(verb + " takes " + std::to_string(n - 1) + " argument" + (n == 2 ? "" : "s") +
                 " (" + form + "), got " + std::to_string(words.size() - 1));
  };
  if (verb == "down" || verb == "up") {
    if (auto e = arity(2, "BROKER_ID")) return *e;
    auto id = broker_id(words[1], false);
    if (!id) return id.error();
    return verb == "down" ? ControlRequest::broker_down(*id) : ControlRequest::broker_up(*id);
  }
  if (verb == "leader") {
    if (auto e = arity(4, "TOPIC PARTITION BROKER_ID")) return *e;
    if (auto valid = connectors::validate_topic_name(words[1]); !valid) return valid.error();
    auto partition = integer(words[2]);
    if (!partition || *partition < 0 || *partition > 100000) {
      return usage("PARTITION must be a partition number (0, 1, ...), got '" + words[2] + "'");
    }
    auto id = broker_id(words[3], true);
    if (!id) return id.error();
    return ControlRequest::set_leader(words[1], static_cast<int32_t>(*partition), *id);
  }
  if (verb == "errors") {
    if (words.size() == 3 && words[2] == "clear") {
      auto api = kafka_api_key(words[1]);
      if (!api) return usage("unknown API '" + words[1] + "'; known: " + api_list() + " or a number");
      return ControlRequest::clear_request_errors(*api);
    }
    if (auto e = arity(4, "API COUNT ERROR, or API clear")) return *e;
    auto api = kafka_api_key(words[1]);
    if (!api) return usage("unknown API '" + words[1] + "'; known: " + api_list() + " or a number");
    auto count = integer(words[2]);
    if (!count || *count < 1 || *count > kMaxInjectedErrors) {
      return usage("COUNT must be between 1 and " + std::to_string(kMaxInjectedErrors) + ", got '" +
                   words[2] + "'");
    }
    auto code = kafka_error_code(words[3]);
    if (!code) {
      return usage("unknown ERROR '" + words[3] +
                   "'; give a Kafka error name such as NOT_LEADER_FOR_PARTITION, "
                   "REQUEST_TIMED_OUT, _TRANSPORT, or its number");
    }
    return ControlRequest::push_request_errors(
        *api, std::vector<int32_t>(static_cast<size_t>(*count), *code));
  }
  return usage("unknown fault '" + verb + "'; " + kForms);
}

std::string describe_broker_fault(const ControlRequest& r) {
  switch (r.op) {
    case ControlOp::BrokerDown:
      return "broker " + std::to_string(r.broker) + " down";
    case ControlOp::BrokerUp:
      return "broker " + std::to_string(r.broker) + " up";
    case ControlOp::SetLeader:
      return "leader of " + r.topic + "[" + std::to_string(r.partition) + "] -> " +
             (r.broker < 0 ? std::string("none") : "broker " + std::to_string(r.broker));
    case ControlOp::PushRequestErrors: {
      std::string name = r.errors.empty() ? "?" : rd_kafka_err2name(
                                                      static_cast<rd_kafka_resp_err_t>(r.errors[0]));
      return kafka_api_name(r.api_key) + " errors: " + std::to_string(r.errors.size()) + " x " +
             name;
    }
    case ControlOp::ClearRequestErrors:
      return kafka_api_name(r.api_key) + " errors cleared";
    case ControlOp::SetRtt:
      return "broker " + std::to_string(r.broker) + " rtt " + std::to_string(r.rtt_ms) + " ms";
    case ControlOp::CreateTopic:
      return "create topic " + r.topic;
    case ControlOp::Reply:
      return "reply";
  }
  return "?";
}

bool is_loopback_host(const std::string& host_in) {
  std::string host = host_in;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8 in dotted form.
  if (host.rfind("127.", 0) != 0) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (!std::isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return dots == 3;
}

bool is_loopback_bootstrap(const std::string& bootstrap) {
  std::stringstream in(bootstrap);
  std::string entry;
  bool any = false;
  while (std::getline(in, entry, ',')) {
    if (entry.empty()) continue;
    // Strip a protocol prefix ("PLAINTEXT://").
    if (auto p = entry.find("://"); p != std::string::npos) entry = entry.substr(p + 3);
    auto colon = entry.rfind(':');
    std::string host = colon == std::string::npos ? entry : entry.substr(0, colon);
    if (!is_loopback_host(host)) return false;
    any = true;
  }
  return any;
}

BrokerFaults::BrokerFaults(std::unique_ptr<connectors::TopicAdmin> admin)
    : admin_(std::move(admin)) {}
BrokerFaults::~BrokerFaults() = default;

Expected<std::unique_ptr<BrokerFaults>> BrokerFaults::connect(const std::string& bootstrap,
                                                              std::chrono::milliseconds timeout) {
  if (!is_loopback_bootstrap(bootstrap)) {
    return Error::data("refusing to inject faults into '" + bootstrap +
                       "': rivulet chaos targets only brokers on loopback addresses "
                       "(127.0.0.1, ::1, localhost)");
  }
  connectors::TopicAdminOptions options;
  options.request_timeout = timeout;
  auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", bootstrap}}, options);
  if (!admin) return admin.error();
  auto embedded = (*admin)->is_embedded_broker();
  if (!embedded) {
    Error e = embedded.error();
    e.message = "cannot reach the broker at " + bootstrap + ": " + e.message;
    return e;
  }
  if (!*embedded) {
    return Error::data("the cluster at " + bootstrap + " has no topic " +
                       connectors::kBrokerControlTopic +
                       ": it is not Rivulet's embedded broker (`rivulet broker`), the only "
                       "broker rivulet chaos can inject faults into");
  }
  return std::unique_ptr<BrokerFaults>(new BrokerFaults(std::move(*admin)));
}

Expected<bool> BrokerFaults::apply(const ControlRequest& request) {
  auto done = admin_->control(request);
  if (!done) {
    Error e = done.error();
    e.message = describe_broker_fault(request) + ": " + e.message;
    return e;
  }
  return true;
}

Expected<bool> apply_broker_fault(const std::string& bootstrap, const ControlRequest& request,
                                  std::chrono::milliseconds timeout) {
  auto faults = BrokerFaults::connect(bootstrap, timeout);
  if (!faults) return faults.error();
  return (*faults)->apply(request);
}

}  // namespace rivulet::chaos
