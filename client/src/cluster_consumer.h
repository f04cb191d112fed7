// ClusterConsumer: the consumer calls (receive, ack, nack, release, change lease) over a
// ClusterClient, shared by SimpleConsumer and PushConsumer.
//
// Outside a cluster each call is the one-core call of client_core.h, unchanged (receipt
// handles are the broker's). In a cluster (client/README.md, "Clusters of broker groups"):
//   - Receive keeps at most one long poll open per broker group holding queues of the topic
//     (all of them at once), and answers with the first messages any group returns. What the
//     other polls bring later waits in a buffer that the next Receive hands out first. A group
//     that is down or fails keeps its one poll pending (or backs off), so it never holds up
//     the others.
//   - Receipt handles are "<group>:<handle>"; Ack / Nack / Release / ChangeLease send each
//     handle to its group (several groups: in parallel) and fail with InvalidArgument on a
//     handle that names none.
//
// Thread safety: every method may be called from any thread; the async forms run their
// callback on a client thread (or inline on a bad argument) and the blocking forms refuse to
// run on one. Shutdown() before the ClusterClient shuts down.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "client/src/client_core.h"
#include "client/src/cluster_client.h"
#include "common/mutex.h"

namespace tidemq::client {

// What both consumer builders do last: validate the spec and the await duration, connect,
// and fill in the client id chosen (spec.client_id).
Result<std::unique_ptr<ClusterClient>> ConnectConsumer(ConsumerSpec* spec, std::string endpoint,
                                                       int64_t request_timeout_ms, int64_t await_ms,
                                                       int64_t failover_deadline_ms);

class ClusterConsumer {
 public:
  ClusterConsumer(ClusterClient* cluster, ConsumerSpec spec);
  ~ClusterConsumer();  // Shutdown()

  const ConsumerSpec& spec() const { return spec_; }

  void ReceiveAsync(uint32_t max_messages, int64_t await_ms, ReceiveCallback done);
  Result<std::vector<ReceivedMessage>> Receive(uint32_t max_messages, int64_t await_ms);

  void AckAsync(const std::vector<std::string_view>& handles, SettleCallback done);
  Status Ack(const std::vector<std::string_view>& handles);
  void NackAsync(const std::vector<std::string_view>& handles, int64_t delay_ms,
                 SettleCallback done);
  Status Nack(const std::vector<std::string_view>& handles, int64_t delay_ms);
  void ReleaseAsync(const std::vector<std::string_view>& handles, SettleCallback done);
  Status Release(const std::vector<std::string_view>& handles);
  void ChangeLeaseAsync(const std::string& handle, int64_t lease_ms, ChangeLeaseCallback done);
  Result<std::string> ChangeLease(const std::string& handle, int64_t lease_ms);

  // Gives back (release) what was received but never handed out, and from now on whatever
  // an open poll brings; pending Receives end with Cancelled. Idempotent.
  void Shutdown();

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;
  // One Receive waiting for messages.
  struct Waiter {
    uint32_t max = 0;
    SteadyTime deadline;
    int started = 0;   // polls it opened
    int finished = 0;  // of those, answered
    int succeeded = 0;
    bool any_finished = false;  // some poll (its own or another's) answered since it began
    Status first_error;
    ReceiveCallback done;
  };
  // A broker group's long poll.
  struct Poll {
    bool open = false;
    int64_t backoff_ms = 0;  // after failures: no new poll before next_at
    SteadyTime next_at;
    std::vector<std::weak_ptr<Waiter>> opened_by;
  };
  using Completion = std::pair<ReceiveCallback, Result<std::vector<ReceivedMessage>>>;
  using GroupCall =
      std::function<void(ClientCore& core, const std::vector<std::string_view>&, SettleCallback)>;

  void StartReceive(uint32_t max_messages, int64_t await_ms, ReceiveCallback done);
  void OnPolled(const std::string& group, Result<std::vector<ReceivedMessage>> r);
  void OnTimer();
  // Completes the waiters that can be: messages buffered, their polls all answered, or their
  // time up.
  std::vector<Completion> ServeLocked(SteadyTime now) REQUIRES(mu_);
  // Sends each handle to its group's core (the bootstrap core outside a cluster).
  void Settle(const std::vector<std::string_view>& handles, GroupCall call, SettleCallback done);
  template <typename AsyncCall>
  Status Blocking(const char* what, AsyncCall&& call);

  ClusterClient* const cluster_;
  const ConsumerSpec spec_;

  Mutex mu_;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::map<std::string, Poll> polls_ GUARDED_BY(mu_);
  std::deque<ReceivedMessage> buffer_ GUARDED_BY(mu_);  // received, not yet handed out
  std::list<std::shared_ptr<Waiter>> waiters_ GUARDED_BY(mu_);
};

}  // namespace tidemq::client
