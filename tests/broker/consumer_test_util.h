// A broker fixture with the wire-level helpers the consumer tests share (offsets, receipts,
// topic incarnations, retention, query): stats, group descriptions, groups with a back-off,
// acks and nacks with their per-handle results, and a bounded wait for a condition the
// broker's own threads bring about.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/broker/broker_fixture.h"

namespace tidemq::testing {

class ConsumerTest : public BrokerTest {
 protected:
  static std::map<std::string, int64_t> StatsOf(WireClient& c) {
    wire::Header h;
    h.set_kind(wire::STATS);
    wire::Frame f = c.Call(std::move(h));
    EXPECT_EQ(f.header.code(), wire::OK);
    const auto& m = f.header.stats_response().counters();
    return {m.begin(), m.end()};
  }

  static int64_t StatOf(WireClient& c, const std::string& name) {
    auto stats = StatsOf(c);
    auto it = stats.find(name);
    EXPECT_NE(it, stats.end()) << "no stats counter " << name;
    return it == stats.end() ? -1 : it->second;
  }

  static wire::GroupInfo DescribeGroupOf(WireClient& c, const std::string& group) {
    wire::Header h;
    h.set_kind(wire::DESCRIBE_GROUP);
    h.mutable_describe_group_request()->set_group(group);
    wire::Frame f = c.Call(std::move(h));
    EXPECT_EQ(f.header.code(), wire::OK) << f.header.error_message();
    return f.header.describe_group_response().group();
  }

  static wire::TopicInfo DescribeTopicOf(WireClient& c, const std::string& topic) {
    wire::Header h;
    h.set_kind(wire::DESCRIBE_TOPIC);
    h.mutable_describe_topic_request()->set_topic(topic);
    wire::Frame f = c.Call(std::move(h));
    EXPECT_EQ(f.header.code(), wire::OK) << f.header.error_message();
    return f.header.describe_topic_response().topic();
  }

  // A clustering or FIFO group whose back-off is one fixed delay.
  static wire::ErrorCode MakeGroupWithBackoff(WireClient& c, const std::string& name,
                                              int64_t backoff_ms, uint32_t max_attempts,
                                              bool fifo = false) {
    wire::Header h = CreateGroup(name, false, fifo);
    auto* config = h.mutable_create_group_request()->mutable_config();
    config->set_max_attempts(max_attempts);
    config->mutable_retry()->set_kind(wire::RetryPolicy::CUSTOM);
    config->mutable_retry()->add_delays_ms(backoff_ms);
    return c.Call(std::move(h)).header.code();
  }

  // Acks or nacks one handle; the per-handle result (or the request's error).
  static wire::HandleResult SettleOne(WireClient& c, wire::RequestKind kind,
                                      const std::string& group, const std::string& topic,
                                      const std::string& handle, int64_t delay_ms = 0) {
    wire::Frame f = Settle(c, kind, group, topic, {handle}, delay_ms);
    wire::HandleResult r;
    if (f.header.code() != wire::OK) {
      r.set_code(f.header.code());
      r.set_error_message(f.header.error_message());
      return r;
    }
    return kind == wire::ACK ? f.header.ack_response().results(0)
                             : f.header.nack_response().results(0);
  }

  // Receives and acks everything deliverable now; returns what came.
  static std::vector<Received> Drain(WireClient& c, const std::string& group,
                                     const std::string& topic) {
    std::vector<Received> out;
    while (true) {
      auto got = Receive(c, group, topic, 64, 0);
      if (got.empty()) return out;
      for (auto& r : got) {
        EXPECT_EQ(Ack(c, group, topic, r.meta.receipt_handle()), wire::OK);
        out.push_back(std::move(r));
      }
    }
  }

  // Waits (bounded, real time) for something the broker's threads do on their own: the timer
  // thread firing, the periodic housekeeping running retention. The bound only keeps a broken
  // broker from hanging the test; no assertion depends on how long it takes.
  static bool WaitUntil(const std::function<bool()>& done,
                        std::chrono::seconds bound = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // poll interval
    }
    return done();
  }
};

}  // namespace tidemq::testing
