// Connection: one TCP connection to a broker of a list, speaking the framed protocol
// (proto/frame.h).
//
// Owns an io_context and its thread ("tidemq-client"). All socket, timer and pending-call
// state lives on that thread; public methods may be called from any thread and only post
// work to it. Responsibilities:
//   - async resolve + connect to the first broker of the list that answers, and reconnect when
//     the connection drops: to the next broker of the list at once (one broker: the same
//     one), with exponential back-off (50 ms .. 1 s) once a whole round of the list failed;
//     in-flight calls then fail with Unavailable,
//   - following the master of a broker group: a response NOT_MASTER makes the connection
//     move to the master it names (Header.master_address, possibly not in the list: a
//     redirect), or to the next broker of the list when it names none; the call itself fails
//     with NotMaster and the caller re-issues it (client_core.h CallAsync),
//   - with several brokers, a call that got no answer in time (a hung broker) also makes the
//     connection move on to the next broker,
//   - request/response matching by request id, with a per-call deadline (one steady_timer
//     armed for the earliest deadline); a call that could not even be written because the
//     broker is unreachable fails with Unavailable, one that got no answer with Timeout,
//   - a bounded write queue (calls beyond it fail at once with ResourceExhausted),
//   - requests the broker sends us (check-backs, later), dispatched to a handler registered
//     per RequestKind; kinds without a handler are answered UNSUPPORTED,
//   - an optional heartbeat timer,
//   - an optional observer that sees the header of every response (errors included), which
//     is how a cluster client notices that the routes changed (Header.route_revision).
//
// Callbacks run on the io thread: they must not block. The owner must not destroy a
// Connection from inside one of its callbacks (Close() joins the io thread).
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "proto/frame.h"
#include "proto/read_buffer.h"

namespace tidemq::client {

struct Endpoint {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const;
};

inline bool operator==(const Endpoint& a, const Endpoint& b) {
  return a.host == b.host && a.port == b.port;
}

// "host:port", "[v6addr]:port" or "host" (default port 9810).
Result<Endpoint> ParseEndpoint(std::string_view text);
// A comma-separated list of endpoints ("h1:p1,h2:p2"; spaces around entries allowed): at least
// one, at most kMaxEndpoints, no empty entry; a repeated endpoint is kept once.
Result<std::vector<Endpoint>> ParseEndpoints(std::string_view text);
std::string JoinEndpoints(const std::vector<Endpoint>& endpoints);
inline constexpr size_t kMaxEndpoints = 64;

inline constexpr uint16_t kDefaultPort = 9810;

struct ConnectionOptions {
  std::vector<Endpoint> endpoints;  // tried in this order; at least one
  int64_t connect_timeout_ms = 3000;
  int64_t min_reconnect_backoff_ms = 50;
  int64_t max_reconnect_backoff_ms = 1000;
  // 0: no heartbeats. fill_heartbeat completes each HeartbeatRequest (client id, groups).
  int64_t heartbeat_interval_ms = 0;
  std::function<void(wire::HeartbeatRequest*)> fill_heartbeat;
  // Runs on the io thread for every response header, before the call completes; must not
  // block.
  std::function<void(const wire::Header&)> on_response;
  size_t max_queued_bytes = 2 * size_t{wire::kDefaultMaxFrameBytes};
  uint32_t max_frame_bytes = wire::kDefaultMaxFrameBytes;
};

class Connection {
 public:
  // A response whose code is not OK arrives as an error Status carrying the broker's message.
  using Callback = std::function<void(Result<wire::Frame>)>;
  // Sends the reply to a broker-initiated request. request_id, kind and is_response are
  // filled in; the handler sets the payload and, on failure, code + error_message.
  // May be called from any thread, once.
  using Responder = std::function<void(wire::Header response, std::string body)>;
  using RequestHandler = std::function<void(wire::Frame request, Responder respond)>;

  explicit Connection(ConnectionOptions options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  using SteadyTime = std::chrono::steady_clock::time_point;

  // Starts the io thread and waits until a broker of the list accepted the connection, or
  // each of them refused it once. On failure the connection keeps retrying in the background
  // and the error is returned (Unavailable, naming every broker tried). With wait = false it
  // returns Ok at once: calls made meanwhile wait for the connection (their write_by).
  Status Start(bool wait = true);

  // Sends `request` (its request_id is assigned here) followed by `bodies`; `done` runs
  // exactly once, on the io thread (or inline when the connection is already closed).
  // timeout_ms bounds the wait for the response; a call that could not be written because no
  // broker is connected fails with Unavailable at that deadline or at `write_by`, whichever
  // comes first (a call already written waits for its answer until timeout_ms).
  // Returns the request id.
  uint64_t Call(wire::Header request, const std::vector<std::string_view>& bodies,
                int64_t timeout_ms, Callback done, SteadyTime write_by = SteadyTime::max());
  // Blocking form. Must not be called on the io thread (returns FailedPrecondition there).
  Result<wire::Frame> CallSync(wire::Header request, const std::vector<std::string_view>& bodies,
                               int64_t timeout_ms);
  // Fails a pending call now with `status` (a late response is then ignored).
  void Cancel(uint64_t request_id, Status status);

  void RegisterHandler(wire::RequestKind kind, RequestHandler handler);

  // Runs fn(false) on the io thread after delay_ms, or fn(true) at Close() if that comes first.
  void RunAfter(int64_t delay_ms, std::function<void(bool closed)> fn);

  bool OnIoThread() const;
  bool connected() const { return connected_.load(); }
  // How many times a connection has been established (1 after the first connect).
  uint64_t connect_count() const { return connect_count_.load(); }
  // Moves to a master named by a NOT_MASTER answer.
  uint64_t redirect_count() const { return redirect_count_.load(); }
  const std::vector<Endpoint>& endpoints() const { return options_.endpoints; }
  // The broker connected to, or being connected to ("host:port").
  std::string current_endpoint() const;

  // Fails every pending call with Cancelled, closes the socket and joins the io thread.
  // Idempotent.
  void Close();

 private:
  struct PendingCall {
    Callback done;
    SteadyTime deadline;           // its key in deadlines_: min(response, write_by) until written
    SteadyTime response_deadline;  // request time + timeout
    bool written = false;
  };
  enum class State { kIdle, kConnecting, kConnected, kBackoff, kClosed };

  // Everything below runs on the io thread.
  void StartConnect();
  void OnConnected(uint64_t epoch);
  void OnConnectFailed(uint64_t epoch, const std::string& why);
  void OnConnectionLost(uint64_t epoch, const std::string& why);
  // Closes the socket and fails the calls on it (Unavailable, "... <why>").
  void DropConnection(const std::string& why);
  // After a NOT_MASTER answer: on to the master it names, or to the next broker of the list.
  void FollowMaster(const std::string& master_address);
  // The next broker of the list becomes the target.
  void Advance();
  void SetTarget(Endpoint target);
  bool SeveralBrokers() const { return options_.endpoints.size() > 1 || redirected_; }
  void ScheduleReconnect();
  struct Submission {
    uint64_t id;
    std::string frame;
    SteadyTime deadline;
    SteadyTime write_by;
    Callback done;
  };
  void DrainSubmissions();
  // Queues the frame without starting a write; DoWrite() sends what is queued.
  void Enqueue(Submission s);
  void DoWrite();
  void ReadMore();
  // Dispatches every whole frame in the read buffer; false when the connection went away.
  bool DispatchBuffered(uint64_t epoch);
  void Dispatch(wire::Frame frame);
  void HandleBrokerRequest(wire::Frame frame);
  void Complete(uint64_t id, Result<wire::Frame> result);
  void FailAll(const Status& status);
  void ArmSweep();
  void Sweep();
  void SendHeartbeat();
  void ArmHeartbeat();
  void DoClose();
  std::string NotConnectedMessage() const;
  // "host:port (why), ..." for every broker that failed since it last answered.
  std::string TriedBrokers() const;

  ConnectionOptions options_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer connect_timer_;
  boost::asio::steady_timer reconnect_timer_;
  boost::asio::steady_timer sweep_timer_;
  boost::asio::steady_timer heartbeat_timer_;
  std::thread thread_;
  std::thread::id io_thread_id_;

  std::atomic<uint64_t> next_request_id_{1};
  std::atomic<bool> closed_{false};
  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> connect_count_{0};
  std::atomic<uint64_t> redirect_count_{0};

  mutable Mutex target_mu_;
  std::string target_text_ GUARDED_BY(target_mu_);  // target_ for other threads

  Mutex handlers_mu_;
  std::map<int, RequestHandler> handlers_ GUARDED_BY(handlers_mu_);

  // Calls made from any thread, waiting for the io thread. Only the call that finds the list
  // empty posts a drain, so a burst of pipelined calls costs the io thread one wake-up.
  Mutex submit_mu_;
  std::vector<Submission> submitted_ GUARDED_BY(submit_mu_);

  // First-attempt hand-off to Start().
  Mutex start_mu_;
  CondVar start_cv_;
  bool first_attempt_done_ GUARDED_BY(start_mu_) = false;
  Status first_attempt_status_ GUARDED_BY(start_mu_);

  // io thread only.
  State state_ = State::kIdle;
  uint64_t epoch_ = 0;  // bumps per connection attempt; stale handlers compare and bail out
  int64_t backoff_ms_ = 0;
  Endpoint target_;          // the broker connected to or being connected to
  size_t index_ = 0;         // its place in options_.endpoints (the last one, after a redirect)
  bool redirected_ = false;  // target_ came from a NOT_MASTER answer
  // Connects failed since the last success; a whole round of them means back-off.
  size_t failed_connects_ = 0;
  // NOT_MASTER answers since the last other answer; more than a round of them means back-off.
  size_t not_master_in_row_ = 0;
  // The last error per broker tried ("host:port" -> why), for the messages of failed calls.
  std::map<std::string, std::string> errors_;
  std::unordered_map<uint64_t, PendingCall> pending_;
  std::set<std::pair<SteadyTime, uint64_t>> deadlines_;
  SteadyTime sweep_at_ = SteadyTime::max();
  // Frames waiting to be written, each with the call it belongs to (0: a reply to a broker
  // request). A frame whose call already completed (timed out, cancelled) is never written:
  // the caller was told it failed, so it must not reach the broker later.
  struct QueuedFrame {
    uint64_t call_id = 0;
    std::string bytes;
  };
  std::deque<QueuedFrame> write_queue_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  std::vector<std::string> in_write_;
  // Bytes read but not yet dispatched: one read may bring many responses. Grows as the bytes
  // of a large frame arrive (never to an announced size at once), shrinks back after it.
  wire::ReadBuffer read_;
  size_t read_needed_ = 0;  // size of the incomplete frame at the front of read_, once known
  std::set<std::shared_ptr<boost::asio::steady_timer>> run_after_timers_;
};

}  // namespace tidemq::client
