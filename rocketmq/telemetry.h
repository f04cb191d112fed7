// Telemetry: the bidirectional stream every RocketMQ 5 client opens first. The client sends
// its settings and blocks its start-up on the answer, which carries the broker's policy: for a
// producer its body limit, for a consumer the group's retry policy (max attempts, back-off),
// whether it is FIFO, the batch size and the long-polling timeout. The stream then stays open:
// the broker sends check-backs of transactions down it (RecoverOrphanedTransactionCommand),
// which makes it a ProducerChannel of the core for the producer groups of the topics the client
// publishes (TxnProducerGroup). The answer comes back as an EndTransaction call.
//
// Threads: gRPC's threads run the reactions; SendCheck comes from the core's check-back strand.
// Commands to write wait in a bounded queue (ServiceOptions::max_queued_commands).
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "broker/core/producer_channel.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "rocketmq/context.h"
#include "rocketmq/v2/service.pb.h"

namespace tidemq::rocketmq {

class TelemetryStream;

// The core's view of one client's Telemetry stream.
class TelemetryChannel final : public broker::ProducerChannel {
 public:
  TelemetryChannel(uint64_t id, const ServiceContext* cx) : id_(id), cx_(cx) {}

  uint64_t channel_id() const override { return id_; }
  bool closed() const override;
  void SendCheck(const broker::TxnCheck& check) override;

  void Attach(TelemetryStream* stream);
  void Detach();

 private:
  const uint64_t id_;
  const ServiceContext* cx_;
  mutable Mutex mu_;
  TelemetryStream* stream_ GUARDED_BY(mu_) = nullptr;
  bool detached_ GUARDED_BY(mu_) = false;
};

class TelemetryStream final
    : public grpc::ServerBidiReactor<v2::TelemetryCommand, v2::TelemetryCommand> {
 public:
  TelemetryStream(ServiceContext* cx, std::string client_id);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

  // Queues a command for the client; false when the stream is closing or its queue is full.
  bool Queue(v2::TelemetryCommand command);

 private:
  void Handle(const v2::TelemetryCommand& command);
  v2::Settings ServerSettings(const v2::Settings& client);
  void Register(const v2::Settings& client);
  void WriteNextLocked() REQUIRES(mu_);

  ServiceContext* cx_;
  const std::string client_id_;
  std::shared_ptr<TelemetryChannel> channel_;
  v2::TelemetryCommand in_;  // the read under way fills it
  Mutex mu_;
  std::deque<v2::TelemetryCommand> queue_ GUARDED_BY(mu_);
  v2::TelemetryCommand out_;  // the write under way
  bool writing_ GUARDED_BY(mu_) = false;
  bool closing_ GUARDED_BY(mu_) = false;     // nothing more is written
  bool reads_done_ GUARDED_BY(mu_) = false;  // the client's side ended
};

}  // namespace tidemq::rocketmq
