// The fixture of the client end-to-end tests: a real broker started in-process on an
// ephemeral port with its own data directory, and helpers to build clients against it.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "tidemq/tidemq.h"

namespace tidemq {

class ClientE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tidemq-client-e2e-XXXXXX";
    const char* dir = mkdtemp(tmpl);
    ASSERT_NE(dir, nullptr);
    dir_ = dir;
    config_.port = 0;
    config_.data_dir = dir_;
    config_.segment_bytes = 1 << 20;
    config_.housekeeping_interval_ms = 10;
    // Failed messages come back quickly (groups may set their own back-off).
    config_.default_retry = *RetryPolicy::Parse("100ms");
    config_.max_message_bytes = 1 << 20;  // below the client's 4 MiB: the broker's check shows
    StartBroker();
  }
  void TearDown() override {
    broker_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void StartBroker() {
    auto b = broker::Broker::Start(config_);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(b).value();
    address_ = broker_->address();
  }

  Admin NewAdmin() {
    auto a = Admin::NewBuilder().Endpoint(address_).Build();
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return std::move(a).value();
  }
  Producer NewProducer() {
    auto p = Producer::NewBuilder().Endpoint(address_).Build();
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return std::move(p).value();
  }
  SimpleConsumer NewConsumer(const std::string& group, const std::string& topic,
                             const std::string& client_id = "", int64_t lease_ms = 30'000) {
    auto c = SimpleConsumer::NewBuilder()
                 .Endpoint(address_)
                 .Group(group)
                 .Topic(topic)
                 .ClientId(client_id)
                 .AwaitDuration(200)
                 .LeaseDuration(lease_ms)
                 .Build();
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(c).value();
  }
  void CreateTopic(const std::string& name, uint32_t queues) {
    Admin admin = NewAdmin();
    auto t = admin.CreateTopic(name, queues);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
  }

  static Message Msg(const std::string& topic, const std::string& body, const std::string& key = "",
                     const std::string& group = "") {
    auto b = Message::NewBuilder();
    b.Topic(topic).Body(body).Tag("tag-a");
    if (!key.empty()) b.Key(key);
    if (!group.empty()) b.MessageGroup(group);
    auto m = b.Build();
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return std::move(m).value();
  }

  // Receives until `count` messages arrived or `empty_polls` receives in a row came back empty.
  static std::vector<ReceivedMessage> ReceiveUpTo(SimpleConsumer& c, size_t count,
                                                  int empty_polls = 10) {
    std::vector<ReceivedMessage> out;
    for (int empty = 0; out.size() < count && empty < empty_polls;) {
      auto batch = c.Receive(static_cast<uint32_t>(count - out.size()));
      EXPECT_TRUE(batch.ok()) << batch.status().ToString();
      if (!batch.ok()) break;
      if (batch->empty()) ++empty;
      for (auto& m : *batch) out.push_back(std::move(m));
    }
    return out;
  }

  std::string dir_;
  broker::BrokerConfig config_;
  std::unique_ptr<broker::Broker> broker_;
  std::string address_;
};

}  // namespace tidemq
