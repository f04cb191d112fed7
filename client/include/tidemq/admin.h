// Admin: topics, consumer groups, message look-up, scheduled messages and broker statistics.
//
//   auto admin = tidemq::Admin::NewBuilder().Endpoint("127.0.0.1:9810").Build();
//   admin->CreateTopic("orders", 8);
//
// Results are plain structs so tools never see wire types. Every call is synchronous, may be
// made from any thread and never throws.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "tidemq/message.h"

namespace tidemq {

struct QueueInfo {
  int32_t queue_id = 0;
  int64_t min_offset = 0;  // oldest offset still stored
  int64_t max_offset = 0;  // next offset to be written
};

struct TopicInfo {
  std::string name;
  uint32_t queue_count = 0;
  std::vector<QueueInfo> queues;
};

struct QueueLag {
  std::string topic;
  int32_t queue_id = 0;
  int64_t committed_offset = 0;
  int64_t max_offset = 0;
  int64_t lag = 0;
  int64_t inflight = 0;
  std::string client_id;  // broadcasting groups: whose offset this is
};

struct GroupInfo {
  std::string name;
  bool broadcast = false;
  bool fifo = false;
  uint32_t max_attempts = 0;
  std::vector<QueueLag> queues;
  std::vector<std::string> clients;
  int64_t total_lag = 0;
};

struct StatsInfo {
  std::map<std::string, int64_t> counters;
  std::map<std::string, std::string> info;
};

// What CancelScheduled did.
struct CancelOutcome {
  bool cancelled = false;  // false: too late, it had already fired (is or was delivered)
  int64_t due_ms = 0;      // its due time (ms since the epoch); 0 when unknown
};

struct TimerStatsInfo {
  int64_t pending = 0;  // scheduled messages waiting for their due time
  int64_t fired = 0;
  int64_t cancelled = 0;
  int64_t next_due_ms = 0;  // earliest pending due time; 0 = none
  int64_t loaded = 0;       // pending entries the broker holds in memory
  int64_t firing = 0;       // being delivered right now
  int64_t broker_time_ms = 0;
  // Fires by lateness (fire time - due time): count of those below below_ms (0: the rest).
  struct Bucket {
    int64_t below_ms = 0;
    int64_t count = 0;
  };
  std::vector<Bucket> lateness;
};

struct ScheduledInfo {
  std::string message_id;
  int64_t due_ms = 0;
  std::string topic;
  int32_t queue_id = 0;
  bool firing = false;  // being delivered: too late to cancel
  int64_t log_offset = 0;
};

class Admin {
 public:
  class Builder {
   public:
    Builder& Endpoint(std::string endpoint);  // default 127.0.0.1:9810
    Builder& RequestTimeout(int64_t ms);      // default 5000 ms
    // Connects; Unavailable when the broker cannot be reached.
    Result<Admin> Build() const;

   private:
    std::string endpoint_ = "127.0.0.1:9810";
    int64_t request_timeout_ms_ = 5000;
  };

  static Builder NewBuilder() { return Builder(); }

  Admin(Admin&&) noexcept;
  Admin& operator=(Admin&&) noexcept;
  ~Admin();

  Result<TopicInfo> CreateTopic(const std::string& name, uint32_t queue_count = 4);
  Result<std::vector<TopicInfo>> ListTopics(bool include_system = false);
  Result<TopicInfo> DescribeTopic(const std::string& name);
  Status DeleteTopic(const std::string& name);

  // max_attempts 0: the broker's default.
  Result<GroupInfo> CreateGroup(const std::string& name, bool broadcast = false, bool fifo = false,
                                uint32_t max_attempts = 0);
  Result<std::vector<GroupInfo>> ListGroups();
  Result<GroupInfo> DescribeGroup(const std::string& name);
  Status DeleteGroup(const std::string& name);

  // topic narrows the search and may be empty.
  Result<std::vector<ReceivedMessage>> QueryById(const std::string& message_id,
                                                 const std::string& topic = "");
  Result<std::vector<ReceivedMessage>> QueryByKey(const std::string& topic, const std::string& key,
                                                  uint32_t max_messages = 32);
  Result<std::vector<ReceivedMessage>> QueryByOffset(int64_t log_offset);

  Result<StatsInfo> Stats();

  // Scheduled messages (Message::Builder::Delay / DeliverAt). NotFound when no message with
  // this id is pending or was delivered (never scheduled, or already cancelled).
  Result<CancelOutcome> CancelScheduled(const std::string& message_id);
  Result<TimerStatsInfo> TimerStats();
  // A pending scheduled message; NotFound once it fired or was cancelled.
  Result<ScheduledInfo> ShowTimer(const std::string& message_id);

  void Shutdown();

  class Impl;

 private:
  explicit Admin(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tidemq
