// The native protocol's handlers, one file per request kind. Each is an adapter over the
// broker core (broker/core/): it decodes its request (a missing payload or a frame that
// does not split is answered here), makes one call to the core's MessageService or
// AdminService, and encodes what it gets — maybe later, from another thread (sends reply
// when the store confirms; receives may long-poll). No business rule lives here: defaults,
// validation, classification and counting are the core's.
//
// Threads: a handler runs on the network thread that read its frame; its completion (a
// reply) may run on the store's writer thread, the DLQ worker or another network thread, and
// only encodes and queues the reply on the connection's strand.
#pragma once

#include <string>

#include "broker/core/admin_service.h"
#include "broker/core/broker_core.h"
#include "broker/core/message_service.h"
#include "broker/core/stats.h"
#include "broker/request.h"

namespace tidemq::broker {

// What a handler may use. Owned by the Broker; outlives every request.
struct BrokerContext {
  BrokerCore* core;
  BrokerStats* stats;
  std::string listen_address;
  // The core's services: valid while core->serving() (Broker::Dispatch checks it first).
  MessageService* messages() const { return &core->messages(); }
  AdminService* admin() const { return &core->admin(); }
};

void HandleClusterStatus(BrokerContext& ctx, const Request& req);
// The cluster's routes (docs/cluster.md): answered by any broker of a cluster.
void HandleQueryRoute(BrokerContext& ctx, const Request& req);
void HandleClusterGroup(BrokerContext& ctx, const Request& req);
void HandleExtendTopic(BrokerContext& ctx, const Request& req);
// A broker that is not its group's master: NOT_MASTER with the master's address when known.
void ReplyNotServing(BrokerContext& ctx, const Request& req);
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
void HandleResetOffset(BrokerContext& ctx, const Request& req);
void HandleQueryMessage(BrokerContext& ctx, const Request& req);
void HandleTrace(BrokerContext& ctx, const Request& req);
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
// A producer's answer (a response frame) to a CHECK_TXN the broker sent on this connection.
void HandleCheckTxnAnswer(BrokerContext& ctx, const Request& req);

// A topic's description with per-queue offsets.
void FillTopicInfo(const TopicInfo& topic, wire::TopicInfo* out);
void FillTopicRoute(const TopicRouteInfo& route, wire::TopicRoute* out);
void FillGroupRoute(const GroupRouteInfo& group, wire::GroupRoute* out);
// Status for a request whose header lacks the payload its kind needs.
Status MissingPayload(const Request& req);

}  // namespace tidemq::broker
