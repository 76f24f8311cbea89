#include "connectors/broker_control.hpp"

#include <librdkafka/rdkafka.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

namespace rivulet::connectors {

namespace {

using json = nlohmann::json;

struct OpName {
  ControlOp op;
  const char* name;
};
constexpr OpName kOpNames[] = {
    {ControlOp::CreateTopic, "create_topic"},
    {ControlOp::BrokerDown, "broker_down"},
    {ControlOp::BrokerUp, "broker_up"},
    {ControlOp::SetLeader, "set_leader"},
    {ControlOp::PushRequestErrors, "push_request_errors"},
    {ControlOp::ClearRequestErrors, "clear_request_errors"},
    {ControlOp::SetRtt, "set_rtt"},
    {ControlOp::Reply, "reply"},
};

std::optional<ControlOp> op_from_name(const std::string& name) {
  for (const auto& entry : kOpNames) {
    if (name == entry.name) return entry.op;
  }
  return std::nullopt;
}

std::optional<int32_t> error_code_from_name(const std::string& name) {
  const rd_kafka_err_desc* descs = nullptr;
  size_t count = 0;
  rd_kafka_get_err_descs(&descs, &count);
  for (size_t i = 0; i < count; ++i) {
    if (descs[i].name != nullptr && name == descs[i].name) return descs[i].code;
  }
  return std::nullopt;
}

Error bad_request(const std::string& what) {
  return Error::data("broker control request: " + what);
}

// Reads an integer field within [min, max]; `required` fields must be there.
Expected<std::optional<int64_t>> int_field(const json& doc, const char* name, bool required,
                                           int64_t min, int64_t max) {
  auto it = doc.find(name);
  if (it == doc.end()) {
    if (required) return bad_request(std::string("missing field '") + name + "'");
    return std::optional<int64_t>{};
  }
  if (!it->is_number_integer()) {
    return bad_request(std::string("field '") + name + "' must be an integer");
  }
  const int64_t v = it->get<int64_t>();
  if (v < min || v > max) {
    return bad_request(std::string("field '") + name + "' out of range [" + std::to_string(min) +
                       ", " + std::to_string(max) + "]: " + std::to_string(v));
  }
  return std::optional<int64_t>{v};
}

Expected<std::string> topic_field(const json& doc) {
  auto it = doc.find("topic");
  if (it == doc.end() || !it->is_string() || it->get<std::string>().empty()) {
    return bad_request("field 'topic' must be a non-empty string");
  }
  return it->get<std::string>();
}

}  // namespace

const char* control_op_name(ControlOp op) {
  for (const auto& entry : kOpNames) {
    if (entry.op == op) return entry.name;
  }
  return "unknown";
}

ControlRequest ControlRequest::create_topic(std::string topic, int32_t partitions) {
  ControlRequest r;
  r.op = ControlOp::CreateTopic;
  r.topic = std::move(topic);
  r.partitions = partitions;
  return r;
}

ControlRequest ControlRequest::broker_down(int32_t broker) {
  ControlRequest r;
  r.op = ControlOp::BrokerDown;
  r.broker = broker;
  return r;
}

ControlRequest ControlRequest::broker_up(int32_t broker) {
  ControlRequest r;
  r.op = ControlOp::BrokerUp;
  r.broker = broker;
  return r;
}

ControlRequest ControlRequest::set_leader(std::string topic, int32_t partition, int32_t broker) {
  ControlRequest r;
  r.op = ControlOp::SetLeader;
  r.topic = std::move(topic);
  r.partition = partition;
  r.broker = broker;
  return r;
}

ControlRequest ControlRequest::push_request_errors(int32_t api_key, std::vector<int32_t> errors) {
  ControlRequest r;
  r.op = ControlOp::PushRequestErrors;
  r.api_key = api_key;
  r.errors = std::move(errors);
  return r;
}

ControlRequest ControlRequest::clear_request_errors(int32_t api_key) {
  ControlRequest r;
  r.op = ControlOp::ClearRequestErrors;
  r.api_key = api_key;
  return r;
}

ControlRequest ControlRequest::set_rtt(int32_t broker, int32_t rtt_ms) {
  ControlRequest r;
  r.op = ControlOp::SetRtt;
  r.broker = broker;
  r.rtt_ms = rtt_ms;
  return r;
}

ControlRequest ControlRequest::reply(std::string id, bool ok, std::string error) {
  ControlRequest r;
  r.op = ControlOp::Reply;
  r.id = std::move(id);
  r.ok = ok;
  r.error = std::move(error);
  return r;
}

std::string encode_control_request(const ControlRequest& request) {
  json doc;
  doc["op"] = control_op_name(request.op);
  if (!request.id.empty()) doc["id"] = request.id;
  switch (request.op) {
    case ControlOp::CreateTopic:
      doc["topic"] = request.topic;
      doc["partitions"] = request.partitions;
      break;
    case ControlOp::BrokerDown:
    case ControlOp::BrokerUp:
      doc["broker"] = request.broker;
      break;
    case ControlOp::SetLeader:
      doc["topic"] = request.topic;
      doc["partition"] = request.partition;
      doc["broker"] = request.broker;
      break;
    case ControlOp::PushRequestErrors:
      doc["api_key"] = request.api_key;
      doc["errors"] = request.errors;
      break;
    case ControlOp::ClearRequestErrors:
      doc["api_key"] = request.api_key;
      break;
    case ControlOp::SetRtt:
      doc["broker"] = request.broker;
      doc["rtt_ms"] = request.rtt_ms;
      break;
    case ControlOp::Reply:
      doc["ok"] = request.ok;
      if (!request.error.empty()) doc["error"] = request.error;
      break;
  }
  return doc.dump();
}

Expected<ControlRequest> parse_control_request(std::string_view text) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return bad_request("not valid JSON");
  if (!doc.is_object()) return bad_request("not a JSON object");
  auto op_it = doc.find("op");
  if (op_it == doc.end() || !op_it->is_string()) return bad_request("missing string field 'op'");
  auto op = op_from_name(op_it->get<std::string>());
  if (!op) return bad_request("unknown op '" + op_it->get<std::string>() + "'");

  ControlRequest r;
  r.op = *op;
  if (auto id = doc.find("id"); id != doc.end()) {
    if (!id->is_string()) return bad_request("field 'id' must be a string");
    r.id = id->get<std::string>();
  }
  constexpr int64_t kMaxPartitions = 100000;
  constexpr int64_t kMaxBroker = 1000000;
  switch (r.op) {
    case ControlOp::CreateTopic: {
      auto topic = topic_field(doc);
      if (!topic) return topic.error();
      r.topic = std::move(*topic);
      auto partitions = int_field(doc, "partitions", true, 1, kMaxPartitions);
      if (!partitions) return partitions.error();
      r.partitions = static_cast<int32_t>(**partitions);
      break;
    }
    case ControlOp::BrokerDown:
    case ControlOp::BrokerUp: {
      auto broker = int_field(doc, "broker", true, 0, kMaxBroker);
      if (!broker) return broker.error();
      r.broker = static_cast<int32_t>(**broker);
      break;
    }
    case ControlOp::SetLeader: {
      auto topic = topic_field(doc);
      if (!topic) return topic.error();
      r.topic = std::move(*topic);
      auto partition = int_field(doc, "partition", true, 0, kMaxPartitions);
      if (!partition) return partition.error();
      r.partition = static_cast<int32_t>(**partition);
      auto broker = int_field(doc, "broker", true, -1, kMaxBroker);
      if (!broker) return broker.error();
      r.broker = static_cast<int32_t>(**broker);
      break;
    }
    case ControlOp::PushRequestErrors: {
      auto api_key = int_field(doc, "api_key", true, 0, INT16_MAX);
      if (!api_key) return api_key.error();
      r.api_key = static_cast<int32_t>(**api_key);
      auto errors = doc.find("errors");
      if (errors == doc.end() || !errors->is_array() || errors->empty()) {
        return bad_request("field 'errors' must be a non-empty array");
      }
      for (const auto& e : *errors) {
        if (e.is_number_integer()) {
          r.errors.push_back(e.get<int32_t>());
        } else if (e.is_string()) {
          auto code = error_code_from_name(e.get<std::string>());
          if (!code) return bad_request("unknown error name '" + e.get<std::string>() + "'");
          r.errors.push_back(*code);
        } else {
          return bad_request("field 'errors' must hold error codes or names");
        }
      }
      break;
    }
    case ControlOp::ClearRequestErrors: {
      auto api_key = int_field(doc, "api_key", true, 0, INT16_MAX);
      if (!api_key) return api_key.error();
      r.api_key = static_cast<int32_t>(**api_key);
      break;
    }
    case ControlOp::SetRtt: {
      auto broker = int_field(doc, "broker", true, 0, kMaxBroker);
      if (!broker) return broker.error();
      r.broker = static_cast<int32_t>(**broker);
      auto rtt = int_field(doc, "rtt_ms", true, 0, 600000);
      if (!rtt) return rtt.error();
      r.rtt_ms = static_cast<int32_t>(**rtt);
      break;
    }
    case ControlOp::Reply: {
      auto ok = doc.find("ok");
      if (ok == doc.end() || !ok->is_boolean()) return bad_request("field 'ok' must be a boolean");
      r.ok = ok->get<bool>();
      if (auto err = doc.find("error"); err != doc.end() && err->is_string()) {
        r.error = err->get<std::string>();
      }
      break;
    }
  }
  return r;
}

}  // namespace rivulet::connectors
