#pragma once
// One-shot faults for the embedded broker (`rivulet chaos --broker BOOTSTRAP
// ...`): the command-line words turned into control requests
// (connectors/broker_control.hpp), and their delivery through the broker's
// control channel. Only Rivulet's embedded broker (librdkafka's mock cluster)
// takes them, and only on loopback addresses: a real Kafka cluster has no
// control topic and is refused before anything is sent.
//
//   down BROKER_ID | up BROKER_ID
//   leader TOPIC PARTITION BROKER_ID      (BROKER_ID -1: no leader)
//   errors API COUNT ERROR                (API: Produce, Fetch, ... or a number;
//                                          ERROR: a librdkafka name or a number)
//   errors API clear
//
// Pure parsing is separate from I/O so that it can be unit-tested.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/broker_control.hpp"
#include "connectors/topic_admin.hpp"
#include "runtime/error.hpp"

namespace rivulet::chaos {

// At most this many errors pushed by one `errors` request: faults are bounded.
inline constexpr int32_t kMaxInjectedErrors = 10000;

// "Produce" -> 0, "fetch" -> 1, "3" -> 3; nullopt for an unknown name.
std::optional<int32_t> kafka_api_key(const std::string& name_or_number);
// 0 -> "Produce"; the number as text when unnamed.
std::string kafka_api_name(int32_t api_key);
// "NOT_LEADER_FOR_PARTITION", "RD_KAFKA_RESP_ERR__TRANSPORT", "6" -> the code.
std::optional<int32_t> kafka_error_code(const std::string& name_or_number);

// The words after `--broker BOOTSTRAP` (e.g. {"down", "2"}) as a request, or
// a Data error naming the bad word and the expected form.
Expected<connectors::ControlRequest> parse_broker_fault(const std::vector<std::string>& words);

// "broker 2 down", "leader of orders[3] -> broker 1", "Produce: 5 x NOT_LEADER_FOR_PARTITION".
std::string describe_broker_fault(const connectors::ControlRequest& request);

// True when every host of a bootstrap list is a loopback address
// (127.0.0.0/8, ::1, localhost).
bool is_loopback_bootstrap(const std::string& bootstrap);
bool is_loopback_host(const std::string& host);

// A connection to the embedded broker's control channel, for several faults
// in a row (a scenario). `connect` refuses non-loopback bootstraps and
// clusters without the control topic (not Rivulet's embedded broker).
class BrokerFaults {
 public:
  static Expected<std::unique_ptr<BrokerFaults>> connect(
      const std::string& bootstrap, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~BrokerFaults();
  BrokerFaults(const BrokerFaults&) = delete;
  BrokerFaults& operator=(const BrokerFaults&) = delete;
  // Sends the request and waits for the broker's reply; the error names the fault.
  Expected<bool> apply(const connectors::ControlRequest& request);

 private:
  explicit BrokerFaults(std::unique_ptr<connectors::TopicAdmin> admin);
  std::unique_ptr<connectors::TopicAdmin> admin_;
};

// Sends `request` to the embedded broker at `bootstrap` and waits for its
// reply. Refuses non-loopback bootstraps and clusters without the control
// topic (not Rivulet's embedded broker) with an error saying so.
Expected<bool> apply_broker_fault(const std::string& bootstrap,
                                  const connectors::ControlRequest& request,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace rivulet::chaos
