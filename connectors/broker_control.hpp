#pragma once
// The embedded broker's control channel: the protocol by which any process
// asks the process that owns the mock cluster to create a topic or inject a
// fault. librdkafka's mock answers no CreateTopics request and only the owning
// process can call rd_kafka_mock_*, so requests travel as JSON records on the
// topic `__rivulet_broker_control` (1 partition), which the EmbeddedBroker
// consumes; it answers each request that carries an id with a reply record on
// the same topic. A real Kafka cluster has no such topic, which is how
// TopicAdmin tells the two apart.
//
// Requests (one JSON object per record):
//   {"op":"create_topic","topic":"orders","partitions":8}
//   {"op":"broker_down","broker":2}            {"op":"broker_up","broker":2}
//   {"op":"set_leader","topic":"orders","partition":3,"broker":1}
//   {"op":"push_request_errors","api_key":0,"errors":["NOT_LEADER_FOR_PARTITION",6]}
//   {"op":"clear_request_errors","api_key":0}
//   {"op":"set_rtt","broker":1,"rtt_ms":200}
// plus an optional "id" (string). Replies:
//   {"op":"reply","id":"...","ok":true}  or  {"op":"reply","id":"...","ok":false,"error":"..."}
// Pure encoding and parsing; no Kafka I/O here.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.hpp"

namespace rivulet::connectors {

inline constexpr const char* kBrokerControlTopic = "__rivulet_broker_control";

enum class ControlOp {
  CreateTopic,
  BrokerDown,
  BrokerUp,
  SetLeader,
  PushRequestErrors,
  ClearRequestErrors,
  SetRtt,
  Reply,
};

const char* control_op_name(ControlOp op);

struct ControlRequest {
  ControlOp op = ControlOp::CreateTopic;
  std::string id;  // correlates the reply; empty: no reply wanted
  std::string topic;
  int32_t partitions = 0;  // create_topic
  int32_t partition = -1;  // set_leader
  int32_t broker = -1;     // broker_down/_up, set_leader (-1: leaderless), set_rtt
  int32_t api_key = -1;    // push/clear_request_errors: Kafka protocol ApiKey
  std::vector<int32_t> errors;  // push_request_errors: rd_kafka_resp_err_t codes
  int32_t rtt_ms = 0;           // set_rtt
  // Replies only.
  bool ok = false;
  std::string error;

  static ControlRequest create_topic(std::string topic, int32_t partitions);
  static ControlRequest broker_down(int32_t broker);
  static ControlRequest broker_up(int32_t broker);
  static ControlRequest set_leader(std::string topic, int32_t partition, int32_t broker);
  static ControlRequest push_request_errors(int32_t api_key, std::vector<int32_t> errors);
  static ControlRequest clear_request_errors(int32_t api_key);
  static ControlRequest set_rtt(int32_t broker, int32_t rtt_ms);
  static ControlRequest reply(std::string id, bool ok, std::string error);
};

std::string encode_control_request(const ControlRequest& request);

// Checks every field an op needs (names, ranges); errors are Data errors
// naming the field. Error codes may be given as numbers or librdkafka names
// ("NOT_LEADER_FOR_PARTITION", "_TRANSPORT").
Expected<ControlRequest> parse_control_request(std::string_view json);

}  // namespace rivulet::connectors
