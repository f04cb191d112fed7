// The protocol-neutral message API of the broker core: send admission and classification,
// receive with long polls, ack / nack / lease change, heartbeats and transaction ends. A front
// end (the native adapter in broker/handlers/, a future gRPC one) decodes its request into
// the structs below, makes one call, and encodes what it gets back; every business rule —
// validation, due times, half-message properties, queue choice, record building, defaults,
// counting — is here.
//
// Send classification (shared/DESIGN.md section 3): a message with deliver_at_ms or delay_ms
// due in the future is stored as a kScheduled record (the timer re-puts it when due,
// docs/timer.md), one already due at once as a plain message; a transactional send stores
// every message as a kTxnHalf record carrying its producer group and check timeout (invisible
// until its transaction ends, docs/txn.md). Scheduled and half records carry their topic's
// incarnation (topic_manager.h).
//
// Receive (docs/retry.md): delivers what is available with a lease; with nothing available
// and a wait, the ReceiveWaiter is parked (broker/core/long_poll.h) until a message arrives
// for its topic, a redelivery falls due, or the wait runs out, and is completed exactly once.
//
// Threads: every call may come from any thread (normally a network thread) and never waits
// on a disk: appends complete through their callback on the store's writer thread, receive
// waiters complete on a network thread (the io_context of CoreParts) or inline.
#pragma once

#include <chrono>
#include <climits>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "broker/core/consumer_manager.h"
#include "broker/core/core_parts.h"
#include "broker/core/producer_channel.h"
#include "broker/core/topic_manager.h"
#include "broker/core/txn_coordinator.h"
#include "common/status.h"
#include "store/store.h"
#include "txn/txn_types.h"

namespace tidemq::broker {

// One message of a send, as a producer gave it. The core moves its strings into the stored
// record: fill it once, never copy it.
struct SendMessage {
  std::string topic;
  int32_t queue_id = -1;   // < 0: the broker picks (message group hash, round robin)
  std::string message_id;  // client-assigned, 1..kMaxMessageIdLength bytes
  std::string tag;
  std::string message_group;  // FIFO: messages of one group go to one queue
  std::vector<std::string> keys;
  std::vector<std::pair<std::string, std::string>> properties;
  int64_t born_ms = 0;
  int64_t deliver_at_ms = 0;         // scheduled: absolute due time (epoch ms), or
  int64_t delay_ms = 0;              // scheduled: due this long after the broker receives it
  int64_t txn_check_timeout_ms = 0;  // half: first check-back after this; 0: broker default
  std::string body;
};

// The hot path is one message per send: the containers hold one inline, so that such a send
// allocates no vector of its own (bench/: produce --inflight 256).
struct SendCommand {
  boost::container::small_vector<SendMessage, 1> messages;  // 1 to kMaxSendBatch
  std::string producer_group;         // required for a transactional send
  bool half = false;                  // transactional: half messages
};

inline constexpr int kMaxSendBatch = 4096;

// Where the messages of a send went, in the order sent.
struct SendReceipts {
  boost::container::small_vector<uint32_t, 4> queues;
  // Queue offset (-1 for a scheduled or half message) and log offset of each.
  std::vector<store::AppendResult> appended;
};

// What a stored send adds to its topics' counters: consecutive messages of one topic and kind
// share an entry.
struct TopicTally {
  std::shared_ptr<TopicCounters> counters;
  MessageKind kind = MessageKind::kNormal;
  int64_t messages = 0;
  int64_t bytes = 0;
};

// A send admitted by MessageService::Admit: its records, ready to append.
struct AdmittedSend {
  std::vector<store::Record> records;
  boost::container::small_vector<uint32_t, 4> queues;
  boost::container::small_vector<TopicTally, 1> tallies;
  std::chrono::steady_clock::time_point admitted;  // for the send latency histogram
  int64_t bytes = 0;
  int64_t earliest_due = INT64_MAX;  // of its scheduled messages
  int64_t first_check = INT64_MAX;   // of its half messages
};

// A parked or immediate receive's way back to its front end. Transport-neutral: the native
// adapter answers on its connection; another front end on whatever it has.
class ReceiveWaiter {
 public:
  virtual ~ReceiveWaiter() = default;
  // The receive parks: the waiter to complete later, taking over from this one (which may
  // live on the caller's stack: a receive answered at once costs no allocation). Called at
  // most once, before Complete.
  virtual std::shared_ptr<ReceiveWaiter> Park() = 0;
  // The bytes of messages a reply may carry now (> 0), or the error to answer instead (the
  // transport has no room for a reply). Asked before every look for messages.
  virtual Result<size_t> ReplyRoom() = 0;
  // Called exactly once: the deliveries (maybe none: the wait ran out or the broker stops),
  // or why the receive failed.
  virtual void Complete(Result<std::vector<Delivery>> deliveries) = 0;
};

struct ReceiveCommand {
  ReceiveArgs args;     // max_messages 0: 32; lease_ms 0: the broker's default lease
  int64_t wait_ms = 0;  // 0: answer at once; at most --max-wait-ms
};

struct HeartbeatCommand {
  std::string client_id;
  std::vector<std::string> consumer_groups;
  std::vector<std::string> producer_groups;
};

enum class TxnResolution { kUnknown, kCommit, kRollback };

enum class NackKind { kRetry, kRelease, kDeadLetter };

struct EndTxnCommand {
  TxnResolution resolution = TxnResolution::kUnknown;
  int64_t half_offset = -1;  // the half, by log offset; < 0: by message_id
  std::string message_id;
  std::string producer_group;  // when set, must be the transaction's
  txn::EndReason reason = txn::EndReason::kProducer;
};

// The transaction whose half is at half_offset, or (half_offset < 0) of message_id;
// kNotFound when there is none. Shared by EndTxn and the admin's transaction look-up.
Result<txn::TxnEntry> FindTxn(txn::TxnService* txn, int64_t half_offset,
                              const std::string& message_id);

class MessageService {
 public:
  explicit MessageService(const CoreParts& parts) : p_(parts) {}

  // Admits and classifies the send, appends it, and calls done(status, receipts) once: at
  // once for a refused send, else when the store has the batch durable under the flush
  // policy (on its writer thread: keep it short). A template so that the completion rides
  // in the store's append callback without a std::function of its own.
  template <typename Done>
  void Send(SendCommand&& command, Done done);

  // Completes `waiter` at once when messages are available, the receive is refused or
  // wait_ms is 0; parks it (ReceiveWaiter::Park) otherwise.
  void Receive(ReceiveCommand command, ReceiveWaiter& waiter);
  // Deliveries whose reply never reached the consumer (its connection closed first):
  // deliverable again at once, the attempt not counted.
  void ReleaseUnsent(const std::string& group, const std::string& topic,
                     const std::vector<std::string>& receipts);

  Status Ack(const std::string& group, const std::string& receipt);
  // kRetry: the deliveries failed (retried after delay_ms, 0: the group's back-off, or
  // dead-lettered past the group's max attempts); kRelease: given back unprocessed; kDeadLetter:
  // dead-lettered now, whatever their attempt (a client that retried them itself). `done`
  // gets one status per receipt, once, when every retry / DLQ copy is durable (maybe on the
  // store's writer thread).
  void Nack(const std::string& group, const std::string& topic, std::vector<std::string> receipts,
            int64_t delay_ms, NackKind kind, std::function<void(std::vector<Status>)> done);
  // Returns the new receipt handle.
  Result<std::string> ChangeLease(const std::string& group, const std::string& receipt,
                                  int64_t lease_ms);

  // A client is alive; its check-backs for the producer groups may go over `channel`.
  // Returns the broker's time (epoch ms).
  Result<int64_t> Heartbeat(const HeartbeatCommand& command,
                            const std::shared_ptr<ProducerChannel>& channel);
  // A producer channel closed: its check-backs in flight are lost.
  void ChannelClosed(const ProducerChannel& channel);
  // A producer's answer to a check-back sent over `channel`.
  void CheckAnswered(const ProducerChannel& channel, const CheckAnswer& answer);

  // Commits or rolls back a transaction (idempotent; the opposite of a decision already taken
  // is kTxnConflict). `done` runs once, maybe on the store's writer thread.
  void EndTxn(const EndTxnCommand& command, std::function<void(Result<EndOutcome>)> done);

 private:
  // Send's two halves: validation, classification and record building; and, once the store
  // has the records, the counters and the timer / check-back wake-ups.
  Status Admit(SendCommand& command, AdmittedSend* out);
  // Replication (docs/replication.md): whether acks wait for replicas' copies, and the wait.
  static bool NeedsCopies(const CoreParts& parts);
  static void WaitForCopies(const CoreParts& parts, LogOffset end,
                            std::function<void(const Status&)> done);
  static void Appended(const CoreParts& parts, const Status& st, const AdmittedSend& send);
  // A send acknowledged: its time from admission into the send latency histogram.
  static void ObserveLatency(const CoreParts& parts, std::chrono::steady_clock::time_point admitted);

  const CoreParts p_;
};

template <typename Done>
void MessageService::Send(SendCommand&& command, Done done) {
  AdmittedSend send;
  if (Status st = Admit(command, &send); !st.ok()) return done(st, SendReceipts{});
  std::vector<store::Record> records = std::move(send.records);
  p_.store->Append(std::move(records), [parts = &p_, send = std::move(send), done = std::move(done)](
                                           const Status& st,
                                           std::vector<store::AppendResult> results) mutable {
    Appended(*parts, st, send);
    if (!st.ok()) return done(st, SendReceipts{});
    if (NeedsCopies(*parts)) {
      // Acknowledged once enough copies hold it (docs/replication.md, "Ack policy").
      const store::AppendResult& last = results.back();
      const LogOffset end = last.log_offset + static_cast<int64_t>(last.size);
      auto receipts = std::make_shared<SendReceipts>(
          SendReceipts{std::move(send.queues), std::move(results)});
      auto shared_done = std::make_shared<Done>(std::move(done));
      return WaitForCopies(*parts, end, [parts, admitted = send.admitted, receipts,
                                         shared_done](const Status& copied) {
        if (!copied.ok()) return (*shared_done)(copied, SendReceipts{});
        ObserveLatency(*parts, admitted);
        (*shared_done)(copied, *receipts);
      });
    }
    ObserveLatency(*parts, send.admitted);
    done(st, SendReceipts{std::move(send.queues), std::move(results)});
  });
}

}  // namespace tidemq::broker
