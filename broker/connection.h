// One client connection: reads frames, hands each to the RequestSink, writes replies.
//
// Lifetime: owned by shared_ptrs (the read loop, pending writes and in-flight requests each
// hold one); the socket closes when the last goes. Threads: all socket work runs on the
// connection's strand; Send(), Close() and the accessors may be called from any thread.
//
// Memory (docs/wire_protocol.md "Limits"): the read buffer grows only as bytes arrive, and a
// frame's announced length is checked against --max-frame-bytes before anything is allocated
// for it. Every frame is admitted against the InflightBudget before its body is read: its
// bytes stay charged to this connection until the request is answered (the frame handed to
// the sink carries the charge and gives it back when its last reference goes), and replies
// stay charged until they are written. When a frame does not fit, reading stops (TCP
// back-pressure) until bytes come back, so a client that never reads its replies, or pipelines
// sends faster than the store takes them, cannot grow broker memory beyond the budget.
//
// Timeouts (Expired(), polled by the broker): no complete frame within the handshake timeout
// of connecting; a frame still incomplete after the frame timeout (slowloris, whatever the
// trickle); replies not read for the idle timeout; nothing in flight for the idle timeout (a
// parked long-poll is in flight). A malformed frame (bad magic, bad length, unparsable
// header) closes only this connection, after the sink has counted it.
#pragma once

#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp needs std::exchange
#include <boost/asio.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "broker/core/producer_channel.h"
#include "broker/inflight_budget.h"
#include "common/clock.h"
#include "common/status.h"
#include "proto/frame.h"
#include "proto/read_buffer.h"

namespace tidemq::broker {

class Connection;

class RequestSink {
 public:
  virtual ~RequestSink() = default;
  // `frame` carries its in-flight charge: keep it (or a copy) until the request is answered.
  virtual void OnRequest(const std::shared_ptr<Connection>& conn,
                         std::shared_ptr<const wire::ArenaFrame> frame) = 0;
  virtual void OnClosed(const std::shared_ptr<Connection>& conn) = 0;
  // A malformed frame arrived; the connection closes right after.
  virtual void OnBadFrame(const std::shared_ptr<Connection>& conn, const Status& why) = 0;
  // Reading stopped because a frame did not fit in the in-flight budget.
  virtual void OnReadPaused(const std::shared_ptr<Connection>& conn) = 0;
};

struct ConnectionOptions {
  uint32_t max_frame_bytes = wire::kDefaultMaxFrameBytes;
  std::shared_ptr<InflightBudget> budget;  // required
  Clock* clock = nullptr;                  // required: the timeouts' monotonic time
  int64_t handshake_timeout_ms = 10'000;   // 0: no limit (same for the others)
  int64_t frame_timeout_ms = 60'000;
  int64_t idle_timeout_ms = 600'000;
};

// A connection is also the ProducerChannel of the producer on the other end: check-backs for
// the producer groups its heartbeats name are sent over it as CHECK_TXN request frames.
class Connection : public std::enable_shared_from_this<Connection>, public ProducerChannel {
 public:
  // Runs once: true when the frame was handed to the kernel, false when the connection closed
  // before it could be (it never reached the client).
  using Written = std::function<void(bool written)>;

  Connection(boost::asio::ip::tcp::socket socket, RequestSink* sink, ConnectionOptions options,
             uint64_t id);
  ~Connection() override;

  void Start();
  // Queues an encoded frame for writing; charged to the budget until written. Thread-safe.
  void Send(std::string frame, Written written = nullptr);
  // Closes the socket (pending writes are dropped). Thread-safe, idempotent.
  void Close();

  uint64_t id() const { return id_; }
  const std::string& remote() const { return remote_; }
  bool closed() const override { return closed_.load(); }

  // ProducerChannel
  uint64_t channel_id() const override { return id_; }
  void SendCheck(const TxnCheck& check) override;
  // Bytes this connection holds in flight (requests being served, replies not yet written).
  int64_t held_bytes() const { return held_.load(); }
  // Bytes of replies this connection may still queue now (<= 0: none); see InflightBudget.
  int64_t ReplyRoom() const { return options_.budget->Room(held_.load()); }
  // Why the connection should be closed at monotonic now_ms, or nullptr. Any thread.
  const char* Expired(int64_t now_ms) const;

 private:
  // A request frame and its charge on the budget, given back when the request is done with
  // it (one allocation for both: the handler sees the frame through an aliasing pointer).
  struct ChargedFrame;

  // Reads what the socket has into the buffer, then hands every complete frame in it to the
  // sink: one syscall and one strand hop for a burst of pipelined requests.
  void ReadMore();
  void ProcessBuffered();
  // Charges a frame of `total` bytes to the budget; false (reading paused) when it does not fit.
  bool Admit(size_t total);
  void Resume();
  void Release(int64_t bytes);
  // Strand only: charges a reply and queues it (writing it when no write is under way).
  void Queue(std::string frame);
  void WriteNext();
  // Strand only: runs the `written` callbacks of replies up to number up_to.
  void NotifyWritten(uint64_t up_to, bool ok);
  void Fail(const char* what, const std::string& detail);
  int64_t Now() const { return options_.clock->MonotonicMs(); }

  boost::asio::ip::tcp::socket socket_;
  boost::asio::strand<boost::asio::any_io_executor> strand_;
  RequestSink* sink_;
  ConnectionOptions options_;
  uint64_t id_;
  std::string remote_;
  std::atomic<bool> closed_{false};

  // Readable from any thread (timeouts, back-pressure).
  std::atomic<int64_t> held_{0};
  std::atomic<bool> read_paused_{false};
  std::atomic<uint64_t> frames_in_{0};
  std::atomic<int64_t> handshake_since_ms_;    // accepted, or resumed before the first frame
  std::atomic<int64_t> partial_since_ms_{-1};  // first byte of the incomplete frame; -1: none
  std::atomic<int64_t> write_since_ms_{-1};    // the write under way started; -1: none
  std::atomic<int64_t> last_active_ms_;

  // All below: strand only.
  // Back to at most 128 KiB after a large frame: an idle connection costs little.
  wire::ReadBuffer read_{128u << 10};
  size_t admitted_ = 0;                // size of the frame at the front of read_ once admitted
  size_t charged_ = 0;                 // what that frame holds of the budget
  wire::FramePrefix admitted_prefix_;
  bool waiting_admission_ = false;
  bool reading_ = false;               // a read is under way (it owns read_'s prepared room)
  std::deque<std::string> write_queue_;
  // Replies queued so far and handed to a write so far, counted; a `written` callback waits
  // for the reply it was queued with (its number) to be written. Strand only. Kept apart from
  // the queue: only receive replies have one, and every other reply stays a plain string.
  uint64_t queued_seq_ = 0;
  uint64_t written_seq_ = 0;
  std::deque<std::pair<uint64_t, Written>> written_;
  bool writing_ = false;
};

}  // namespace tidemq::broker
