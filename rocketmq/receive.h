// ReceiveMessage: a server stream over the core's receive. The core answers at once or parks
// the receive (a long poll) until a message arrives or the wait runs out; the call then writes
// a status, then each message (with its receipt handle, attempt and body digest), one write at
// a time. Messages whose write failed (the client went away) are given back at once
// (MessageService::ReleaseUnsent), unattempted. The bytes a reply holds are charged to the
// endpoint (ServiceContext::ReplyRoom) until the call ends.
//
// Lifetime: gRPC owns the call until OnDone (which deletes it); a parked receive keeps a waiter
// that points at the call, so the call does not finish before the core completed the receive
// (the core completes every parked receive by the end of its wait, or at shutdown:
// BrokerCore::EndWaits).
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "broker/core/message_service.h"
#include "rocketmq/context.h"
#include "rocketmq/v2/service.pb.h"

namespace tidemq::rocketmq {

class ReceiveCall final : public grpc::ServerWriteReactor<v2::ReceiveMessageResponse> {
 public:
  ReceiveCall(ServiceContext* cx, const grpc::CallbackServerContext* ctx,
              const v2::ReceiveMessageRequest* request);
  // Starts the receive (once, right after construction): the call answers itself.
  void Begin();

  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  class Waiter;
  // The core's answer: written out as status, then messages.
  void Deliver(Result<std::vector<broker::Delivery>> got);
  void AnswerStatus(v2::Status status);
  void WriteNext();

  ServiceContext* cx_;
  const v2::ReceiveMessageRequest* request_;  // gRPC keeps it until OnDone
  std::string client_id_;
  std::string group_;
  std::string topic_;
  int64_t lease_ms_ = 0;
  std::vector<v2::ReceiveMessageResponse> responses_;  // the status, then the messages
  std::vector<std::string> receipts_;                  // of responses_[1..]
  size_t next_ = 0;                                    // the response to write next
  int64_t charged_ = 0;
};

}  // namespace tidemq::rocketmq
