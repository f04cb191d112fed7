// Producer: sends messages to a broker, or to the master of a broker group.
//
//   auto producer = tidemq::Producer::NewBuilder().Endpoint("127.0.0.1:9810").Build();
//   if (!producer.ok()) ...;
//   auto receipt = producer->Send(message);
//
// Every send is retried under the same message id (and the same body and properties):
//   - after a failover error — the connection broke, no broker connected, NOT_MASTER (sent
//     again to the master), NOT_ENOUGH_REPLICAS, UNAVAILABLE — until FailoverDeadline after
//     the send (default 10 s), at least MaxSendAttempts attempts in total;
//   - after Timeout and ResourceExhausted, up to MaxSendAttempts attempts in total, with
//     exponential back-off.
// Errors that retrying cannot fix (InvalidArgument, TopicNotFound, TooLarge, ...) are returned
// at once. A retried send may have been stored by its first attempt (the answer was lost, or
// NOT_ENOUGH_REPLICAS after the master stored it): a message may be stored twice
// (at-least-once); consumers dedupe by message id.
//
// Transactional messages (docs/txn.md): build the producer with a Group and a
// TransactionChecker, then either
//
//   auto r = producer->SendInTransaction(message, [&](const tidemq::SendReceipt& half) {
//     return db.InsertOrder(...) ? tidemq::TransactionResolution::kCommit
//                                : tidemq::TransactionResolution::kRollback;
//   });
//
// or explicitly: auto txn = producer->BeginTransaction(); txn->Send(m); txn->Commit();
// A half message is stored but invisible until committed. If the producer never ends it
// (it crashed, or answered kUnknown), the broker asks a live producer of the same group — the
// checker — after the message's check timeout, and keeps asking with back-off.
//
// Thread safety: every method may be called from any thread concurrently. Async callbacks
// run on the client's network thread ("tidemq-client"): keep them short, never block in them
// and never destroy the Producer from inside one. The checker runs on its own threads
// ("tidemq-txn-check", TransactionCheckerThreads of them) and may block (e.g. on a database).
// Calls never throw.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "tidemq/message.h"

namespace tidemq {

enum class TransactionResolution {
  kCommit,    // make the message visible
  kRollback,  // discard it
  kUnknown,   // not decided yet: the broker will ask the checker later
};
const char* ToString(TransactionResolution r);

// Answers the broker's check-back for a half message whose transaction it has no outcome
// for. Look the business record up (e.g. the order row) and answer; throwing counts as
// kUnknown. It runs on a pool of TransactionCheckerThreads threads: calls for different
// transactions may overlap (so it must be thread-safe), never two for the same transaction.
// A commit or rollback answer is final: repeated check-backs of that transaction are answered
// from a cache of recent answers without calling it again (docs/txn.md).
using TransactionChecker = std::function<TransactionResolution(const ReceivedMessage& half)>;
// The local transaction of SendInTransaction, run after the half message is stored.
using LocalTransaction = std::function<TransactionResolution(const SendReceipt& half)>;

class Transaction;

class Producer {
 public:
  using SendCallback = std::function<void(const Result<SendReceipt>&)>;

  class Builder {
   public:
    // "host:port", or the brokers of a group "h1:p1,h2:p2,h3:p3": the producer connects to
    // the first that answers and follows the master (client/README.md); default
    // 127.0.0.1:9810.
    Builder& Endpoint(std::string endpoint);
    // The same as a list: Endpoints({"h1:p1", "h2:p2"}).
    Builder& Endpoints(const std::vector<std::string>& endpoints);
    // Producer group: required for transactions (check-backs go to any live member).
    Builder& Group(std::string group);
    // Enables transactions; requires Group.
    Builder& TransactionChecker(TransactionChecker checker);
    // Threads that run the checker, 1..64; default 4. A slow checker (say 5 ms a look-up)
    // with thousands of open transactions needs several, or check-backs queue up behind it.
    Builder& TransactionCheckerThreads(int threads);
    // Transactions whose check-back may wait for a checker thread, 1..1000000; default
    // 10000. Beyond it the check that waited longest is dropped unanswered (the broker asks
    // again later). Repeated check-backs of one transaction take one place.
    Builder& MaxQueuedTransactionChecks(size_t transactions);
    // Per request; default 5000 ms.
    Builder& RequestTimeout(int64_t timeout_ms);
    // Total attempts per send, the first included; default 3, at least 1.
    Builder& MaxSendAttempts(int attempts);
    // How long a send (or transaction end) keeps being re-sent through a failover; default
    // 10000 ms, 0: only MaxSendAttempts attempts.
    Builder& FailoverDeadline(int64_t ms);
    // Identifies this client instance in heartbeats; generated when empty.
    Builder& ClientId(std::string client_id);
    // Connects; Unavailable when the broker cannot be reached.
    Result<Producer> Build() const;

   private:
    std::string endpoint_ = "127.0.0.1:9810";
    std::string group_;
    tidemq::TransactionChecker checker_;
    std::string client_id_;
    int64_t request_timeout_ms_ = 5000;
    int64_t failover_deadline_ms_ = 10'000;
    int max_send_attempts_ = 3;
    int checker_threads_ = 4;
    size_t max_queued_checks_ = 10'000;
  };

  static Builder NewBuilder() { return Builder(); }

  Producer(Producer&&) noexcept;
  Producer& operator=(Producer&&) noexcept;
  ~Producer();  // closes the connection; pending sends fail with Cancelled

  Result<SendReceipt> Send(const Message& message);
  void SendAsync(Message message, SendCallback callback);
  std::future<Result<SendReceipt>> SendFuture(Message message);
  // All messages in one request; one receipt per message, in order.
  Result<std::vector<SendReceipt>> SendBatch(std::vector<Message> messages);

  // Transactions (FailedPrecondition unless built with Group and TransactionChecker).
  // Starts a transaction; the Transaction must not outlive this Producer.
  Result<Transaction> BeginTransaction();
  // Sends `message` as a half message, runs local_transaction, then commits or rolls back as
  // it answers (kUnknown, or a throw: left to the check-back). Returns what was applied; an
  // error when the half could not be stored (the local transaction did not run) or the end
  // could not be delivered (the check-back resolves it then).
  Result<TransactionResolution> SendInTransaction(const Message& message,
                                                  const LocalTransaction& local_transaction);
  // Ends the transaction of a half message by its receipt (e.g. one sent before a restart).
  // Ending twice the same way is OK; the opposite way fails with TxnConflict.
  Status EndTransaction(const SendReceipt& half, TransactionResolution resolution);

  // Closes now instead of in the destructor. Idempotent.
  void Shutdown();

  class Impl;

 private:
  explicit Producer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One transaction: any number of half messages, then one Commit or Rollback for all of them.
// Destroyed without either, it is left to the check-back. Not thread-safe; must not outlive the
// Producer that began it.
class Transaction {
 public:
  Transaction(Transaction&&) noexcept;
  Transaction& operator=(Transaction&&) noexcept;
  ~Transaction();

  // Stores a half message (invisible until Commit). FailedPrecondition once ended.
  Result<SendReceipt> Send(const Message& message);
  // Ends every half message sent in it. A retry after a failure is safe (ends are idempotent).
  Status Commit();
  Status Rollback();
  const std::vector<SendReceipt>& halves() const { return halves_; }
  bool ended() const { return ended_; }

 private:
  friend class Producer;
  explicit Transaction(Producer::Impl* producer) : producer_(producer) {}
  Status End(TransactionResolution resolution);
  Producer::Impl* producer_;
  std::vector<SendReceipt> halves_;
  bool ended_ = false;
};

}  // namespace tidemq
