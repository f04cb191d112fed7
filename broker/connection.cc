#include "broker/connection.h"

#include "broker/message_codec.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace tidemq::broker {

namespace asio = boost::asio;

struct Connection::ChargedFrame {
  wire::ArenaFrame frame;
  // Strong: a request holds its connection anyway, and one reference count is touched per
  // frame (a weak one plus the shared budget's would bounce between threads on every frame).
  std::shared_ptr<Connection> conn;
  int64_t charge = 0;  // 0 until the frame is admitted whole

  ~ChargedFrame() {
    if (charge != 0) conn->Release(charge);
  }
};

namespace {
constexpr size_t kReadChunk = 64u << 10;     // read at most this much past the current frame
constexpr size_t kMaxWriteBatch = 256u << 10;
}  // namespace

Connection::Connection(asio::ip::tcp::socket socket, RequestSink* sink,
                       ConnectionOptions options, uint64_t id)
    : socket_(std::move(socket)),
      strand_(asio::make_strand(socket_.get_executor())),
      sink_(sink),
      options_(std::move(options)),
      id_(id) {
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  remote_ = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  handshake_since_ms_ = Now();
  last_active_ms_ = Now();
}

Connection::~Connection() {
  // Replies never written and a frame never completed (the io loop stopped) go back.
  int64_t queued = static_cast<int64_t>(charged_);
  for (const auto& w : write_queue_) queued += static_cast<int64_t>(w.size());
  if (queued > 0) options_.budget->Give(queued);
}

void Connection::Start() {
  asio::dispatch(strand_, [self = shared_from_this()] { self->ReadMore(); });
}

void Connection::ReadMore() {
  if (closed_.load() || waiting_admission_) return;
  // The rest of the admitted frame (or of a prefix), then up to a chunk of what follows.
  const size_t have = read_.unparsed().size();
  std::span<char> room = read_.Prepare((admitted_ > have ? admitted_ - have : 0) + kReadChunk);
  reading_ = true;
  socket_.async_read_some(
      asio::buffer(room.data(), room.size()),
      asio::bind_executor(strand_, [self = shared_from_this()](boost::system::error_code ec,
                                                               size_t n) {
        self->reading_ = false;
        if (ec) self->Fail("read", ec.message());
        if (self->closed_.load()) {
          self->read_.Reset();  // no read uses it any more
          return;
        }
        self->read_.Commit(n);
        self->ProcessBuffered();
      }));
}

bool Connection::Admit(size_t total) {
  const auto n = static_cast<int64_t>(total);
  // The common case: there is room, and nothing else to do (no pause flag set and cleared: a
  // release seeing it set, even for an instant, would post a needless Resume).
  if (options_.budget->TryTake(held_.load(), n) == InflightBudget::TakeResult::kTaken) {
    held_.fetch_add(n);
    return true;
  }
  // Paused first: a release racing with the check below then always posts a Resume.
  read_paused_.store(true);
  auto taken = options_.budget->TryTake(held_.load(), n, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->Resume();
  });
  if (taken != InflightBudget::TakeResult::kTaken) return false;
  held_.fetch_add(n);
  read_paused_.store(false);
  return true;
}

void Connection::ProcessBuffered() {
  while (!closed_.load()) {
    std::string_view avail = read_.unparsed();
    const size_t have = avail.size();
    if (have < wire::kPrefixSize) break;
    if (admitted_ == 0) {
      wire::FramePrefix prefix;
      Status st = wire::ParsePrefix(avail, options_.max_frame_bytes, &prefix);
      if (!st.ok()) {
        sink_->OnBadFrame(shared_from_this(), st);
        return Fail("bad frame", st.ToString());
      }
      const size_t total = wire::kLengthFieldSize + prefix.frame_length;
      // Charged with what holding it costs besides its bytes, so that a flood of tiny frames
      // is bounded by the budget too.
      const size_t charge = total + sizeof(ChargedFrame);
      if (!Admit(charge)) {
        // Not our client's delay while we are not reading: its clocks restart on resume.
        waiting_admission_ = true;
        partial_since_ms_.store(-1);
        sink_->OnReadPaused(shared_from_this());
        return;
      }
      admitted_ = total;
      charged_ = charge;
      admitted_prefix_ = prefix;
    }
    if (have < admitted_) break;
    auto charged = std::make_shared<ChargedFrame>();
    Status st = wire::ParseRest(admitted_prefix_,
                                avail.substr(wire::kPrefixSize, admitted_prefix_.remaining()),
                                &charged->frame);
    if (!st.ok()) {
      sink_->OnBadFrame(shared_from_this(), st);
      return Fail("bad frame", st.ToString());
    }
    // The frame carries its charge: given back when the request is done with it.
    charged->conn = shared_from_this();
    charged->charge = static_cast<int64_t>(charged_);
    read_.Consume(admitted_);
    admitted_ = 0;
    charged_ = 0;
    frames_in_.fetch_add(1);
    last_active_ms_.store(Now());
    partial_since_ms_.store(-1);
    std::shared_ptr<const wire::ArenaFrame> shared(charged, &charged->frame);
    sink_->OnRequest(shared_from_this(), std::move(shared));
  }
  if (closed_.load()) return;
  if (!read_.unparsed().empty()) {
    if (partial_since_ms_.load() < 0) partial_since_ms_.store(Now());
  } else {
    partial_since_ms_.store(-1);
  }
  ReadMore();
}

void Connection::Resume() {
  asio::dispatch(strand_, [self = shared_from_this()] {
    if (self->closed_.load() || !self->waiting_admission_) return;
    self->waiting_admission_ = false;
    if (self->frames_in_.load() == 0) self->handshake_since_ms_.store(self->Now());
    self->ProcessBuffered();  // frames read before the pause come first
  });
}

void Connection::Release(int64_t bytes) {
  if (bytes <= 0) return;
  const int64_t left = held_.fetch_sub(bytes) - bytes;
  options_.budget->Give(bytes);
  if (left == 0) last_active_ms_.store(Now());
  if (read_paused_.load()) Resume();
}

void Connection::Send(std::string frame, Written written) {
  if (closed_.load()) {
    if (written) written(false);
    return;
  }
  if (written) {  // rare (receive replies): the common path stays a small handler
    asio::dispatch(strand_, [self = shared_from_this(), f = std::move(frame),
                             w = std::move(written)]() mutable {
      if (self->closed_.load()) return w(false);
      self->written_.emplace_back(self->queued_seq_ + 1, std::move(w));
      self->Queue(std::move(f));
    });
    return;
  }
  asio::dispatch(strand_, [self = shared_from_this(), f = std::move(frame)]() mutable {
    if (!self->closed_.load()) self->Queue(std::move(f));
  });
}

void Connection::SendCheck(const TxnCheck& check) {
  std::string frame;
  EncodeCheckFrame(check, &frame);
  Send(std::move(frame));
}

void Connection::Queue(std::string frame) {
  // Charged here, on the strand: replies come from the store's writer thread too, which
  // should not touch the counters the network threads update.
  const auto n = static_cast<int64_t>(frame.size());
  held_.fetch_add(n);
  options_.budget->Take(n);
  write_queue_.push_back(std::move(frame));
  ++queued_seq_;
  if (!writing_) WriteNext();
}

void Connection::WriteNext() {
  if (write_queue_.empty()) {
    writing_ = false;
    write_since_ms_.store(-1);
    return;
  }
  writing_ = true;
  write_since_ms_.store(Now());
  // Gather several queued replies into one write: fewer syscalls under pipelining.
  auto batch = std::make_shared<std::vector<std::string>>();
  int64_t bytes = 0;
  while (!write_queue_.empty() &&
         (batch->empty() || bytes < static_cast<int64_t>(kMaxWriteBatch))) {
    bytes += static_cast<int64_t>(write_queue_.front().size());
    batch->push_back(std::move(write_queue_.front()));
    write_queue_.pop_front();
  }
  written_seq_ += batch->size();
  const uint64_t last = written_seq_;
  std::vector<asio::const_buffer> buffers;
  for (const auto& w : *batch) buffers.emplace_back(asio::buffer(w));
  asio::async_write(socket_, buffers,
                    asio::bind_executor(strand_, [self = shared_from_this(), batch, bytes, last](
                                                     boost::system::error_code ec, size_t) {
                      self->Release(bytes);
                      self->NotifyWritten(last, !ec);
                      if (ec) return self->Fail("write", ec.message());
                      self->WriteNext();
                    }));
}

void Connection::NotifyWritten(uint64_t up_to, bool ok) {
  while (!written_.empty() && written_.front().first <= up_to) {
    Written w = std::move(written_.front().second);
    written_.pop_front();
    w(ok);
  }
}

const char* Connection::Expired(int64_t now_ms) const {
  if (closed_.load()) return nullptr;
  const ConnectionOptions& o = options_;
  const int64_t writing = write_since_ms_.load();
  if (o.idle_timeout_ms > 0 && writing >= 0 && now_ms - writing >= o.idle_timeout_ms) {
    return "replies not read by the client within the idle timeout";
  }
  // While the broker holds reading back, the client is not the one taking its time.
  if (read_paused_.load()) return nullptr;
  if (o.handshake_timeout_ms > 0 && frames_in_.load() == 0 &&
      now_ms - handshake_since_ms_.load() >= o.handshake_timeout_ms) {
    return "no complete frame within the handshake timeout";
  }
  const int64_t partial = partial_since_ms_.load();
  if (o.frame_timeout_ms > 0 && partial >= 0 && now_ms - partial >= o.frame_timeout_ms) {
    return "a frame still incomplete after the frame timeout";
  }
  if (o.idle_timeout_ms > 0 && held_.load() == 0 && partial < 0 && writing < 0 &&
      now_ms - last_active_ms_.load() >= o.idle_timeout_ms) {
    return "idle for the idle timeout";
  }
  return nullptr;
}

void Connection::Fail(const char* what, const std::string& detail) {
  if (closed_.exchange(true)) return;
  if (detail != "End of file" && detail != "Operation canceled" &&
      std::string_view(what) != "bad frame") {  // the sink logs bad frames, rate-limited
    spdlog::debug("connection {} from {}: {} error: {}", id_, remote_, what, detail);
  }
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  // Replies that will never be written and the frame being read give their bytes back.
  std::deque<std::string> dropped;
  dropped.swap(write_queue_);
  int64_t bytes = static_cast<int64_t>(charged_);
  admitted_ = 0;
  charged_ = 0;
  for (const auto& w : dropped) bytes += static_cast<int64_t>(w.size());
  if (!reading_) read_.Reset();  // else the read's completion does: the read may still fill it
  partial_since_ms_.store(-1);
  Release(bytes);
  // Replies never handed to a write were not written; those of a write under way learn its
  // outcome from its completion (the peer may have them already).
  while (!written_.empty() && written_.back().first > written_seq_) {
    Written w = std::move(written_.back().second);
    written_.pop_back();
    w(false);
  }
  sink_->OnClosed(shared_from_this());
}

void Connection::Close() {
  asio::dispatch(strand_, [self = shared_from_this()] { self->Fail("close", "closed"); });
}

}  // namespace tidemq::broker
