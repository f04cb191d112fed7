// One handler per request kind (one file each). A handler validates its request, does the work
// through the broker's services, and replies exactly once — possibly later, from another
// thread (sends reply when the store confirms; receives may long-poll).
#pragma once

#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp needs std::exchange
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstdint>
#include <string>

#include "broker/config.h"
#include "broker/consumer_manager.h"
#include "broker/long_poll.h"
#include "broker/scheduled_delivery.h"
#include "broker/request.h"
#include "broker/topic_manager.h"
#include "common/clock.h"
#include "store/store.h"
#include "timer/timer_service.h"
#include "txn/txn_service.h"

namespace tidemq::broker {

class TxnCoordinator;
class DeadLetters;
class InflightBudget;

struct BrokerStats {
  std::atomic<int64_t> messages_in{0};
  std::atomic<int64_t> bytes_in{0};
  std::atomic<int64_t> send_requests{0};
  std::atomic<int64_t> send_errors{0};
  std::atomic<int64_t> receive_requests{0};
  std::atomic<int64_t> connections{0};
  std::atomic<int64_t> connections_total{0};
  std::atomic<int64_t> bad_frames{0};
  std::atomic<int64_t> bad_requests{0};
  std::atomic<int64_t> retention_runs{0};  // periodic store retention runs since start
  int64_t start_ms = 0;
  // Connections and limits (docs/operations.md).
  std::atomic<int64_t> connections_refused{0};     // over --max-connections
  std::atomic<int64_t> connections_timed_out{0};   // handshake, frame or idle timeout
  std::atomic<int64_t> reads_paused{0};            // a frame had to wait for in-flight room
  std::atomic<int64_t> receives_refused{0};        // RESOURCE_EXHAUSTED: no room for a reply
  std::atomic<int64_t> deliveries_unsent{0};       // released: the reply could not be written
  const InflightBudget* inflight = nullptr;        // bytes in flight, broker-wide
};

// What a handler may use. Owned by the Broker; outlives every request.
struct BrokerContext {
  const BrokerConfig& config;
  Clock* clock;
  store::Store* store;
  TopicManager* topics;
  ConsumerManager* consumers;
  LongPolls* polls;
  BrokerStats* stats;
  boost::asio::io_context* io;
  std::string listen_address;
  timer::TimerService* timer;
  ScheduledDelivery* scheduled;
  txn::TxnService* txn;
  TxnCoordinator* txn_coordinator;
  DeadLetters* dead_letters;
};

void HandleSend(BrokerContext& ctx, const Request& req);
void HandleReceive(BrokerContext& ctx, const Request& req);
void HandleAck(BrokerContext& ctx, const Request& req);
void HandleNack(BrokerContext& ctx, const Request& req);
void HandleChangeLease(BrokerContext& ctx, const Request& req);
void HandleHeartbeat(BrokerContext& ctx, const Request& req);
void HandleCreateTopic(BrokerContext& ctx, const Request& req);
void HandleListTopics(BrokerContext& ctx, const Request& req);
void HandleDescribeTopic(BrokerContext& ctx, const Request& req);
void HandleDeleteTopic(BrokerContext& ctx, const Request& req);
void HandleCreateGroup(BrokerContext& ctx, const Request& req);
void HandleListGroups(BrokerContext& ctx, const Request& req);
void HandleDescribeGroup(BrokerContext& ctx, const Request& req);
void HandleDeleteGroup(BrokerContext& ctx, const Request& req);
void HandleQueryMessage(BrokerContext& ctx, const Request& req);
void HandleStats(BrokerContext& ctx, const Request& req);
void HandleCancelScheduled(BrokerContext& ctx, const Request& req);
void HandleTimerStats(BrokerContext& ctx, const Request& req);
void HandleTimerShow(BrokerContext& ctx, const Request& req);
void HandleSendHalf(BrokerContext& ctx, const Request& req);
void HandleEndTxn(BrokerContext& ctx, const Request& req);
void HandleTxnList(BrokerContext& ctx, const Request& req);
void HandleTxnShow(BrokerContext& ctx, const Request& req);
void HandleTxnStats(BrokerContext& ctx, const Request& req);
void HandleDlqList(BrokerContext& ctx, const Request& req);
void HandleDlqRedrive(BrokerContext& ctx, const Request& req);
void HandleDlqPurge(BrokerContext& ctx, const Request& req);

// Shared by receive and query: a stored record as a wire message (body not included).
void ToWireMessage(const store::Record& record, wire::Message* out);
// A topic's description with per-queue offsets.
void FillTopicInfo(BrokerContext& ctx, const Topic& topic, wire::TopicInfo* out);
// Status for a request whose header lacks the payload its kind needs.
Status MissingPayload(const Request& req);

}  // namespace tidemq::broker
