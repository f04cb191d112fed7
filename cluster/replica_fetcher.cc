#include "cluster/replica_fetcher.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <utility>

#include <boost/asio.hpp>

#include "cluster/epochs.h"
#include "common/logging.h"

namespace tidemq::cluster {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

Status SocketError(const std::string& what, const boost::system::error_code& ec) {
  if (ec == asio::error::would_block || ec == asio::error::try_again ||
      ec == asio::error::timed_out) {
    return Status(Code::kTimeout, what + ": the master did not answer in time");
  }
  return Status(Code::kUnavailable, what + ": " + ec.message());
}

}  // namespace

// A blocking connection with deadlines (SO_RCVTIMEO / SO_SNDTIMEO), on the fetcher thread.
class ReplicaFetcher::Connection {
 public:
  explicit Connection(std::atomic<int>* fd_slot) : socket_(io_), fd_slot_(fd_slot) {}
  ~Connection() {
    fd_slot_->store(-1);
    boost::system::error_code ec;
    socket_.close(ec);
  }

  Status Connect(const std::string& address, int64_t timeout_ms) {
    const auto colon = address.rfind(':');
    if (colon == std::string::npos) {
      return InvalidArgument("master replication address '" + address + "' is not HOST:PORT");
    }
    tcp::resolver resolver(io_);
    boost::system::error_code ec;
    auto endpoints = resolver.resolve(address.substr(0, colon), address.substr(colon + 1), ec);
    if (ec) return SocketError("resolving " + address, ec);
    // Connect asynchronously so that the deadline holds.
    bool done = false;
    asio::async_connect(socket_, endpoints, [&](const boost::system::error_code& e, const auto&) {
      ec = e;
      done = true;
    });
    io_.run_for(std::chrono::milliseconds(timeout_ms));
    if (!done) {
      socket_.close(ec);
      return Status(Code::kTimeout, "connecting to " + address + " timed out");
    }
    if (ec) return SocketError("connecting to " + address, ec);
    socket_.set_option(tcp::no_delay(true), ec);
    // Blocking from here on, with SO_RCVTIMEO / SO_SNDTIMEO deadlines: reads and writes use
    // recv(2) / send(2) directly (Asio's blocking calls poll again when a deadline passes).
    socket_.native_non_blocking(false, ec);
    fd_slot_->store(socket_.native_handle());
    return Status::Ok();
  }

  // Deadline for every following read and write.
  void SetTimeout(int64_t ms) {
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>(ms % 1000 * 1000)};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }

  Status Write(const std::string& frame) {
    size_t sent = 0;
    while (sent < frame.size()) {
      const ssize_t n = ::send(socket_.native_handle(), frame.data() + sent, frame.size() - sent,
                               MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        return IoError("sending to the master", n < 0 ? errno : EPIPE);
      }
    }
    return Status::Ok();
  }

  // Reads one whole frame into buf_; the returned frame views it.
  Result<ReplFrame> Read() {
    buf_.resize(4);
    RETURN_IF_ERROR(ReadFully(buf_.data(), 4));
    ASSIGN_OR_RETURN(size_t size, FrameSize(buf_));
    buf_.resize(size);
    RETURN_IF_ERROR(ReadFully(buf_.data() + 4, size - 4));
    return DecodeFrame(buf_);
  }

 private:
  Status ReadFully(char* dst, size_t n) {
    size_t got = 0;
    while (got < n) {
      const ssize_t r = ::recv(socket_.native_handle(), dst + got, n - got, 0);
      if (r > 0) {
        got += static_cast<size_t>(r);
      } else if (r == 0) {
        return Status(Code::kUnavailable, "reading from the master: it closed the connection");
      } else if (errno != EINTR) {
        return IoError("reading from the master", errno);
      }
    }
    return Status::Ok();
  }

  static Status IoError(const std::string& what, int err) {
    if (err == EAGAIN || err == EWOULDBLOCK) {
      return Status(Code::kTimeout, what + ": the master did not answer in time");
    }
    return Status(Code::kUnavailable, what + ": " + std::strerror(err));
  }

  asio::io_context io_;
  tcp::socket socket_;
  std::atomic<int>* fd_slot_;
  std::string buf_;
};

ReplicaFetcher::ReplicaFetcher(store::Store* store, ReplicaFetcherOptions options, Clock* clock)
    : store_(store),
      options_(std::move(options)),
      clock_(clock != nullptr ? clock : SystemClock::Get()) {}

ReplicaFetcher::~ReplicaFetcher() { Stop(); }

void ReplicaFetcher::Start(std::function<void(LogOffset)> on_truncate) {
  on_truncate_ = std::move(on_truncate);
  thread_ = std::thread([this] {
    SetThreadName("tidemq-fetch");
    Run();
  });
}

void ReplicaFetcher::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  const int fd = fd_.load();
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);  // a blocked read or write returns at once
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

ReplicaProgress ReplicaFetcher::Progress() const {
  MutexLock lock(mu_);
  return progress_;
}

void ReplicaFetcher::Note(const std::function<void(ReplicaProgress&)>& change) {
  MutexLock lock(mu_);
  change(progress_);
}

void ReplicaFetcher::Run() {
  int64_t backoff = options_.retry_min_ms;
  while (!stopping_) {
    LogOffset truncate_to = kNoLogOffset;
    Status st = RunOnce(&truncate_to);
    Note([](ReplicaProgress& p) { p.connected = false; });
    if (truncate_to != kNoLogOffset) {
      if (on_truncate_) on_truncate_(truncate_to);
      return;
    }
    if (stopping_) return;
    Note([&st](ReplicaProgress& p) { p.last_error = st.ToString(); });
    spdlog::warn("replication: fetching from {} failed ({}); again in {} ms",
                 options_.master_address, st.ToString(), backoff);
    MutexLock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(backoff), [this] { return stopping_.load(); });
    backoff = std::min(backoff * 2, options_.retry_max_ms);
  }
}

Status ReplicaFetcher::RunOnce(LogOffset* truncate_to) {
  Connection conn(&fd_);
  RETURN_IF_ERROR(conn.Connect(options_.master_address, options_.io_timeout_ms));
  if (stopping_) return Status(Code::kCancelled, "stopping");
  conn.SetTimeout(options_.io_timeout_ms + options_.max_wait_ms);

  Hello hello;
  hello.group = options_.group;
  hello.replica_id = options_.replica_id;
  ASSIGN_OR_RETURN(hello.epochs, LoadEpochs(*store_));
  hello.log_end = store_->ConfirmedEnd();
  RETURN_IF_ERROR(conn.Write(EncodeHello(hello)));
  ASSIGN_OR_RETURN(ReplFrame frame, conn.Read());
  if (frame.kind == ReplKind::kError) {
    ReplError err;
    RETURN_IF_ERROR(DecodeError(frame.payload, &err));
    return Status(err.code, "the master refused: " + err.message);
  }
  if (frame.kind != ReplKind::kWelcome) return Corruption("the master answered hello with no welcome");
  Welcome welcome;
  RETURN_IF_ERROR(DecodeWelcome(frame.payload, &welcome));
  if (welcome.truncate_to != kNoLogOffset) {
    spdlog::warn("replication: this log (end {}) diverged from the master's at {} (epoch {}): "
                 "truncating",
                 hello.log_end.value(), welcome.truncate_to.value(), welcome.epoch);
    *truncate_to = welcome.truncate_to;
    return Status::Ok();
  }
  const store::StoreStats stats = store_->Stats();
  LogOffset from(stats.max_log_offset);
  // An empty replica starts where the master's log starts.
  if (stats.max_log_offset == stats.min_log_offset && welcome.master_log_start > from) {
    from = welcome.master_log_start;
  }
  Note([&](ReplicaProgress& p) {
    p.connected = true;
    p.master_epoch = welcome.epoch;
    p.written = LogOffset(stats.max_log_offset);
    p.master_end = welcome.master_log_end;
    p.last_error.clear();
  });
  spdlog::info("replication: following {} (epoch {}) from log offset {}", options_.master_address,
               welcome.epoch, from.value());

  while (!stopping_) {
    Fetch fetch{from, options_.sync_writes ? from : kNoLogOffset, options_.max_fetch_bytes,
                options_.max_wait_ms};
    RETURN_IF_ERROR(conn.Write(EncodeFetch(fetch)));
    ASSIGN_OR_RETURN(ReplFrame reply, conn.Read());
    if (reply.kind == ReplKind::kError) {
      ReplError err;
      RETURN_IF_ERROR(DecodeError(reply.payload, &err));
      return Status(err.code, "the master: " + err.message);
    }
    if (reply.kind != ReplKind::kChunk) return Corruption("the master answered a fetch with no chunk");
    Chunk chunk;
    RETURN_IF_ERROR(DecodeChunk(reply.payload, &chunk));
    if (chunk.from != from) {
      return Corruption("the master sent log offset " + std::to_string(chunk.from.value()) +
                        " for a fetch from " + std::to_string(from.value()));
    }
    const size_t n = chunk.bytes.size();
    if (n > 0) {
      std::promise<Result<LogOffset>> written;
      store_->AppendReplicated(
          store::LogChunk{chunk.from, chunk.segment_base, std::move(chunk.bytes)},
          options_.sync_writes, [&written](const Status& st, LogOffset end) {
            written.set_value(st.ok() ? Result<LogOffset>(end) : Result<LogOffset>(st));
          });
      ASSIGN_OR_RETURN(from, written.get_future().get());
    }
    const int64_t now = clock_->MonotonicMs();
    Note([&](ReplicaProgress& p) {
      p.written = from;
      p.master_end = chunk.master_end;
      p.commit_end = chunk.commit_end;
      p.master_epoch = chunk.epoch;
      if (n > 0) {
        p.last_chunk_ms = now;
        ++p.chunks;
        p.bytes += static_cast<int64_t>(n);
      }
      if (from >= chunk.master_end) p.caught_up_ms = now;
    });
  }
  return Status(Code::kCancelled, "stopping");
}

}  // namespace tidemq::cluster
