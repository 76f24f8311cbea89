#include "connectors/embedded_broker.hpp"

#include <algorithm>

#include "connectors/kafka_config.hpp"
#include "connectors/kafka_log.hpp"
#include "runtime/thread_name.hpp"

namespace rivulet::connectors {

namespace {
// librdkafka needs a group for assign(); the control consumer never commits.
constexpr const char* kControlConsumerGroup = "__rivulet_broker_control";
}  // namespace

Expected<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::start(EmbeddedBrokerOptions options) {
  if (options.brokers < 1 || options.brokers > 64) {
    return Error::fatal("embedded broker: broker count must be within [1, 64], got " +
                        std::to_string(options.brokers));
  }
  // The mock cluster needs a client handle to own it; it never connects
  // anywhere itself, so quiet its "no bootstrap.servers" notice.
  auto conf = make_conf({{"log_level", "4"}, {"client.id", "rivulet-embedded-broker"}});
  if (!conf) return conf.error();
  char errstr[512];
  rd_kafka_t* owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr, sizeof errstr);
  if (owner == nullptr) {
    return Error::fatal(std::string("embedded broker: rd_kafka_new failed: ") + errstr);
  }
  conf->release();
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(owner, options.brokers);
  if (cluster == nullptr) {
    rd_kafka_destroy(owner);
    return Error::fatal("embedded broker: rd_kafka_mock_cluster_new failed");
  }
  std::unique_ptr<EmbeddedBroker> broker(new EmbeddedBroker(options, owner, cluster));

  const rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster, kBrokerControlTopic, 1, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Error::fatal("embedded broker: creating the control topic failed: " +
                        kafka_error_text(err));
  }
  // The mock picks leaders and coordinators at random; pin the control
  // channel's to one broker so that fault injection knows which broker it
  // must not take down.
  if (auto leader = rd_kafka_mock_partition_set_leader(cluster, kBrokerControlTopic, 0,
                                                       kControlChannelBroker);
      leader != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Error::fatal("embedded broker: placing the control topic failed: " +
                        kafka_error_text(leader));
  }
  if (auto coordinator = rd_kafka_mock_coordinator_set(cluster, "group", kControlConsumerGroup,
                                                       kControlChannelBroker);
      coordinator != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Error::fatal("embedded broker: placing the control group failed: " +
                        kafka_error_text(coordinator));
  }
  auto admin = TopicAdmin::create(
      {{"bootstrap.servers", broker->bootstrap_}, {"client.id", "rivulet-embedded-broker-admin"}});
  if (!admin) return admin.error();
  broker->admin_ = std::move(*admin);
  if (auto started = broker->start_control_thread(); !started) return started.error();
  kafka_log().info("embedded broker: {} brokers at {}", options.brokers, broker->bootstrap_);
  return broker;
}

EmbeddedBroker::EmbeddedBroker(EmbeddedBrokerOptions options, rd_kafka_t* owner,
                               rd_kafka_mock_cluster_t* cluster)
    : options_(options),
      owner_(owner),
      cluster_(cluster),
      bootstrap_(rd_kafka_mock_cluster_bootstraps(cluster)) {}

EmbeddedBroker::~EmbeddedBroker() {
  stopping_ = true;
  if (control_thread_.joinable()) control_thread_.join();
  if (control_consumer_ != nullptr) {
    rd_kafka_consumer_close(control_consumer_);
    rd_kafka_destroy(control_consumer_);
  }
  // Clients of our own go before the brokers they talk to.
  admin_.reset();
  rd_kafka_mock_cluster_destroy(cluster_);
  rd_kafka_destroy(owner_);
}

Expected<bool> EmbeddedBroker::start_control_thread() {
  auto conf = make_conf(
      merge_properties(common_defaults(), {{"bootstrap.servers", bootstrap_},
                                           {"client.id", "rivulet-embedded-broker-control"},
                                           {"group.id", kControlConsumerGroup},
                                           {"enable.auto.commit", "false"},
                                           {"fetch.wait.max.ms", "10"}}));
  if (!conf) return conf.error();
  char errstr[512];
  control_consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), errstr, sizeof errstr);
  if (control_consumer_ == nullptr) {
    return Error::fatal(std::string("embedded broker: control consumer: ") + errstr);
  }
  conf->release();
  rd_kafka_poll_set_consumer(control_consumer_);
  TopicPartitionListPtr list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), kBrokerControlTopic, 0)->offset =
      RD_KAFKA_OFFSET_BEGINNING;
  resolve_logical_offsets(control_consumer_, list.get(), std::chrono::seconds(1));
  if (auto err = rd_kafka_assign(control_consumer_, list.get());
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Error::fatal("embedded broker: control consumer assign: " + kafka_error_text(err));
  }
  control_thread_ = std::thread([this] {
    set_thread_name("rivulet.broker");
    control_loop();
  });
  return true;
}

void EmbeddedBroker::control_loop() {
  while (!stopping_.load()) {
    rd_kafka_message_t* msg = rd_kafka_consumer_poll(control_consumer_, 100);
    if (msg == nullptr) continue;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      kafka_log().warn("embedded broker: control channel: {}", kafka_error_text(msg->err));
    } else {
      handle_control_record(
          std::string_view(static_cast<const char*>(msg->payload), msg->payload ? msg->len : 0),
          msg->offset);
    }
    rd_kafka_message_destroy(msg);
  }
}

void EmbeddedBroker::handle_control_record(std::string_view payload, int64_t offset) {
  auto request = parse_control_request(payload);
  if (!request) {
    ++handled_;
    kafka_log().error("embedded broker: control record at offset {} ignored: {}", offset,
                      request.error().message);
    return;
  }
  if (request->op == ControlOp::Reply) return;  // our own answers
  if (request->op == ControlOp::PushRequestErrors && !request->id.empty()) {
    // Injected Produce errors would fail this very reply: answer first (its
    // delivery is awaited), then inject. Pushing errors cannot fail.
    if (auto sent = admin_->send_control_record(ControlRequest::reply(request->id, true, ""));
        !sent) {
      kafka_log().error("embedded broker: reply to {} not sent: {}", request->id,
                        sent.error().message);
    }
    (void)apply(*request);
    ++handled_;
    kafka_log().info("embedded broker: applied {}", encode_control_request(*request));
    return;
  }
  auto applied = apply(*request);
  ++handled_;
  if (applied) {
    kafka_log().info("embedded broker: applied {}", encode_control_request(*request));
  } else {
    kafka_log().warn("embedded broker: {} failed: {}", encode_control_request(*request),
                     applied.error().message);
  }
  if (request->id.empty()) return;
  auto reply = ControlRequest::reply(request->id, applied.ok(),
                                     applied.ok() ? std::string() : applied.error().message);
  if (auto sent = admin_->send_control_record(reply); !sent) {
    kafka_log().error("embedded broker: reply to {} not sent: {}", request->id,
                      sent.error().message);
  }
}

Expected<std::optional<int32_t>> EmbeddedBroker::partition_count(const std::string& topic) {
  return admin_->partition_count(topic);
}

Expected<bool> EmbeddedBroker::create_topic(const std::string& topic, int32_t partitions) {
  if (auto valid = validate_topic_name(topic); !valid) return valid.error();
  if (partitions < 1 || partitions > 100000) {
    return Error::data("topic '" + topic + "': partition count must be within [1, 100000], got " +
                       std::to_string(partitions));
  }
  const int rf = std::max(1, std::min(options_.replication_factor, options_.brokers));
  const rd_kafka_resp_err_t err =
      rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, rf);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return true;
  if (err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
    return Error::fatal("creating topic '" + topic + "' failed: " + kafka_error_text(err));
  }
  auto count = admin_->partition_count(topic);
  if (!count) return count.error();
  if (!count->has_value()) {
    return Error::fatal("topic '" + topic + "' reported as existing but absent from metadata");
  }
  if (**count == partitions) return true;
  return Error::fatal("topic '" + topic + "' exists with " + std::to_string(**count) +
                      " partitions, but " + std::to_string(partitions) + " were requested");
}

Expected<bool> EmbeddedBroker::apply(const ControlRequest& request) {
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  switch (request.op) {
    case ControlOp::CreateTopic:
      return create_topic(request.topic, request.partitions);
    case ControlOp::BrokerDown:
      if (request.broker == kControlChannelBroker) {
        // Its own reply could not travel, and no later request either.
        return Error::data("broker " + std::to_string(kControlChannelBroker) +
                           " carries the control channel and cannot be taken down through it");
      }
      err = rd_kafka_mock_broker_set_down(cluster_, request.broker);
      break;
    case ControlOp::BrokerUp:
      err = rd_kafka_mock_broker_set_up(cluster_, request.broker);
      break;
    case ControlOp::SetLeader:
      if (request.topic == kBrokerControlTopic) {
        return Error::data("the control topic's leader stays on broker " +
                           std::to_string(kControlChannelBroker));
      }
      // The mock would auto-create an unknown topic here; refuse instead.
      if (auto count = admin_->partition_count(request.topic); !count) {
        return count.error();
      } else if (!count->has_value() || request.partition >= **count) {
        return Error::data("set_leader: no such partition " + request.topic + "[" +
                           std::to_string(request.partition) + "]");
      }
      err = rd_kafka_mock_partition_set_leader(cluster_, request.topic.c_str(), request.partition,
                                               request.broker);
      break;
    case ControlOp::PushRequestErrors: {
      std::vector<rd_kafka_resp_err_t> errors;
      for (int32_t code : request.errors) errors.push_back(static_cast<rd_kafka_resp_err_t>(code));
      rd_kafka_mock_push_request_errors_array(cluster_, static_cast<int16_t>(request.api_key),
                                              errors.size(), errors.data());
      return true;
    }
    case ControlOp::ClearRequestErrors:
      rd_kafka_mock_clear_request_errors(cluster_, static_cast<int16_t>(request.api_key));
      return true;
    case ControlOp::SetRtt:
      err = rd_kafka_mock_broker_set_rtt(cluster_, request.broker, request.rtt_ms);
      break;
    case ControlOp::Reply:
      return Error::data("a reply is not a request");
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Error::fatal(std::string(control_op_name(request.op)) +
                        " failed: " + kafka_error_text(err));
  }
  return true;
}

}  // namespace rivulet::connectors
