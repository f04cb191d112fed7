// Starts a real broker in-process on an ephemeral port over a temporary data directory, with
// a ManualClock for leases, and offers wire-level helpers to drive it.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "common/clock.h"
#include "tests/broker/wire_client.h"

namespace tidemq::testing {

class BrokerTest : public ::testing::Test {
 protected:
  // The broker's connection timeouts run on the injected clock, which tests move by hours (to
  // age messages out, fire back-offs): off unless a test sets them (connection_test does).
  BrokerTest() { config_.idle_timeout_ms = 0; }

  void SetUp() override {
    char tmpl[] = "/tmp/tidemq-broker-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    config_.port = 0;
    config_.data_dir = dir_;
    config_.segment_bytes = 1 << 20;
    config_.housekeeping_interval_ms = 10;
    StartBroker();
  }
  void TearDown() override {
    broker_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartBroker() {
    auto b = broker::Broker::Start(config_, &clock_);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(b).value();
  }
  void RestartBroker() {
    broker_.reset();
    StartBroker();
  }

  std::unique_ptr<WireClient> Connect() { return std::make_unique<WireClient>(broker_->port()); }

  static wire::Header CreateTopic(const std::string& name, uint32_t queues) {
    wire::Header h;
    h.set_kind(wire::CREATE_TOPIC);
    h.mutable_create_topic_request()->mutable_config()->set_name(name);
    h.mutable_create_topic_request()->mutable_config()->set_queue_count(queues);
    return h;
  }

  static wire::Header CreateGroup(const std::string& name, bool broadcast, bool fifo) {
    wire::Header h;
    h.set_kind(wire::CREATE_GROUP);
    auto* c = h.mutable_create_group_request()->mutable_config();
    c->set_name(name);
    c->set_mode(broadcast ? wire::BROADCASTING : wire::CLUSTERING);
    c->set_fifo(fifo);
    return h;
  }

  struct Msg {
    std::string body{};
    std::string tag{};
    std::string key{};
    std::string group{};  // message group (FIFO)
  };

  // Sends msgs as one batch; returns the response frame.
  static wire::Frame Send(WireClient& c, const std::string& topic, const std::vector<Msg>& msgs) {
    wire::Header h;
    h.set_kind(wire::SEND);
    std::vector<std::string_view> bodies;
    static int counter = 0;
    for (const Msg& m : msgs) {
      auto* w = h.mutable_send_request()->add_messages();
      w->set_topic(topic);
      w->set_queue_id(-1);
      w->set_tag(m.tag);
      if (!m.key.empty()) w->add_keys(m.key);
      w->set_message_group(m.group);
      w->set_message_id("id-" + std::to_string(getpid()) + "-" + std::to_string(++counter));
      (*w->mutable_properties())["p"] = "v";
      w->set_body_size(static_cast<uint32_t>(m.body.size()));
      bodies.push_back(m.body);
    }
    return c.Call(std::move(h), bodies);
  }

  struct Received {
    wire::Message meta;
    std::string body;
  };

  static std::vector<Received> Receive(WireClient& c, const std::string& group,
                                       const std::string& topic, uint32_t max, int64_t wait_ms,
                                       const std::string& client_id = "",
                                       const std::string& filter = "",
                                       int64_t lease_ms = 30'000,
                                       wire::ErrorCode* code = nullptr) {
    wire::Header h;
    h.set_kind(wire::RECEIVE);
    auto* r = h.mutable_receive_request();
    r->set_group(group);
    r->set_topic(topic);
    r->set_max_messages(max);
    r->set_wait_ms(wait_ms);
    r->set_client_id(client_id);
    r->set_tag_filter(filter);
    r->set_lease_ms(lease_ms);
    wire::Frame f = c.Call(std::move(h));
    if (code) *code = f.header.code();
    std::vector<Received> out;
    std::vector<std::string_view> bodies;
    if (f.header.code() != wire::OK ||
        !wire::SplitBodies(f.header.receive_response().messages(), f.body, &bodies).ok()) {
      return out;
    }
    for (int i = 0; i < f.header.receive_response().messages_size(); ++i) {
      out.push_back({f.header.receive_response().messages(i), std::string(bodies[i])});
    }
    return out;
  }

  static wire::Frame Settle(WireClient& c, wire::RequestKind kind, const std::string& group,
                            const std::string& topic, const std::vector<std::string>& handles,
                            int64_t delay_ms = 0) {
    wire::Header h;
    h.set_kind(kind);
    if (kind == wire::ACK) {
      h.mutable_ack_request()->set_group(group);
      h.mutable_ack_request()->set_topic(topic);
      for (auto& x : handles) h.mutable_ack_request()->add_receipt_handles(x);
    } else {
      h.mutable_nack_request()->set_group(group);
      h.mutable_nack_request()->set_topic(topic);
      h.mutable_nack_request()->set_delay_ms(delay_ms);
      for (auto& x : handles) h.mutable_nack_request()->add_receipt_handles(x);
    }
    return c.Call(std::move(h));
  }

  static wire::ErrorCode Ack(WireClient& c, const std::string& group, const std::string& topic,
                             const std::string& handle) {
    wire::Frame f = Settle(c, wire::ACK, group, topic, {handle});
    if (f.header.code() != wire::OK) return f.header.code();
    return f.header.ack_response().results(0).code();
  }

  std::string dir_;
  broker::BrokerConfig config_;
  ManualClock clock_;
  std::unique_ptr<broker::Broker> broker_;
};

}  // namespace tidemq::testing
