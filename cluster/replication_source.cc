#include "cluster/replication_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <optional>

#include "common/logging.h"

namespace tidemq::cluster {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// How often waiters are checked for their deadline and the in-sync set for lagging replicas.
constexpr auto kSweepInterval = std::chrono::milliseconds(100);
// The longest a fetch is parked, whatever it asked.
constexpr uint32_t kMaxParkMs = 10'000;

}  // namespace

// One replica's connection. Lives on the io thread only.
class ReplicationSource::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(ReplicationSource* source, tcp::socket socket)
      : source_(source), socket_(std::move(socket)), park_timer_(socket_.get_executor()) {
    boost::system::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    peer_ = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
    socket_.set_option(tcp::no_delay(true), ec);
  }

  void Start() { ReadHeader(); }
  const std::string& id() const { return id_; }

  // New records on the master: answer a parked fetch.
  void Wake() {
    if (parked_) AnswerFetch(/*timed_out=*/false);
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    park_timer_.cancel();
    source_->Disconnected(this);
  }

 private:
  void ReadHeader() {
    rbuf_.resize(4);
    asio::async_read(socket_, asio::buffer(rbuf_),
                     [self = shared_from_this()](boost::system::error_code ec, size_t) {
                       if (ec) return self->Close();
                       self->ReadBody();
                     });
  }

  void ReadBody() {
    Result<size_t> size = FrameSize(rbuf_);
    if (!size.ok()) return Fail(size.status());
    rbuf_.resize(*size);
    asio::async_read(socket_, asio::buffer(rbuf_.data() + 4, *size - 4),
                     [self = shared_from_this()](boost::system::error_code ec, size_t) {
                       if (ec) return self->Close();
                       self->OnFrame();
                     });
  }

  void OnFrame() {
    Result<ReplFrame> frame = DecodeFrame(rbuf_);
    if (!frame.ok()) return Fail(frame.status());
    Status st;
    switch (frame->kind) {
      case ReplKind::kHello: {
        Hello hello;
        st = DecodeHello(frame->payload, &hello);
        if (st.ok()) st = OnHello(hello);
        break;
      }
      case ReplKind::kFetch: {
        Fetch fetch;
        st = DecodeFetch(frame->payload, &fetch);
        if (st.ok() && id_.empty()) st = Status(Code::kFailedPrecondition, "fetch before hello");
        if (st.ok() && parked_) st = Status(Code::kFailedPrecondition, "a fetch is outstanding");
        if (st.ok()) {
          parked_ = fetch;
          source_->Fetched(this, fetch);
          AnswerFetch(/*timed_out=*/false);
        }
        break;
      }
      default:
        st = Corruption("a replica sent a frame a master never takes");
    }
    if (!st.ok()) return Fail(st);
    ReadHeader();
  }

  Status OnHello(const Hello& hello) {
    if (!id_.empty()) return Status(Code::kFailedPrecondition, "a second hello");
    if (hello.version != kReplProtocolVersion) {
      return Status(Code::kUnsupported, "replication protocol version " +
                                            std::to_string(hello.version) + "; this master speaks " +
                                            std::to_string(kReplProtocolVersion));
    }
    if (hello.replica_id.empty()) return InvalidArgument("a replica without an id");
    ASSIGN_OR_RETURN(Welcome welcome, source_->Welcomed(this, hello));
    id_ = hello.replica_id;
    spdlog::info("replication: replica {} ({}) connected: log end {}, {}", id_, peer_,
                 hello.log_end.value(),
                 welcome.truncate_to == kNoLogOffset
                     ? std::string("a prefix of this log")
                     : "diverged: truncates to " + std::to_string(welcome.truncate_to.value()));
    Send(EncodeWelcome(welcome));
    return Status::Ok();
  }

  void AnswerFetch(bool timed_out) {
    const Fetch fetch = *parked_;
    const uint32_t max = std::clamp<uint32_t>(fetch.max_bytes, 1, kMaxFetchBytes);
    Result<store::LogChunk> chunk = source_->store_->ReadLog(fetch.from, max);
    if (!chunk.ok()) {
      Status st = chunk.status();
      if (st.code() == Code::kOutOfRange) {
        st = Status(Code::kFailedPrecondition,
                    "the replica's log (end " + std::to_string(fetch.from.value()) +
                        ") runs past the master's: reconnect, the hello finds where they diverge");
      }
      return Fail(st);
    }
    if (chunk->bytes.empty() && !timed_out && fetch.max_wait_ms > 0) {
      if (!timer_armed_) {
        timer_armed_ = true;
        park_timer_.expires_after(
            std::chrono::milliseconds(std::min(fetch.max_wait_ms, kMaxParkMs)));
        park_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
          self->timer_armed_ = false;
          if (!ec && self->parked_ && !self->closed_) self->AnswerFetch(/*timed_out=*/true);
        });
      }
      return;
    }
    parked_.reset();
    if (timer_armed_) park_timer_.cancel();
    Chunk out;
    {
      MutexLock lock(source_->mu_);
      out.epoch = source_->epoch_;
    }
    out.from = chunk->from;
    out.segment_base = chunk->segment_base;
    out.master_end = source_->store_->ConfirmedEnd();
    out.commit_end = source_->CommitEnd();
    out.bytes = std::move(chunk->bytes);
    source_->Sent(this, out.from + static_cast<int64_t>(out.bytes.size()), out.master_end);
    Send(EncodeChunk(out));
  }

  void Send(std::string frame) {
    wq_.push_back(std::move(frame));
    if (wq_.size() == 1) WriteNext();
  }

  void WriteNext() {
    asio::async_write(socket_, asio::buffer(wq_.front()),
                      [self = shared_from_this()](boost::system::error_code ec, size_t) {
                        if (ec) return self->Close();
                        self->wq_.pop_front();
                        if (self->wq_.empty()) {
                          if (self->closing_) self->Close();
                          return;
                        }
                        self->WriteNext();
                      });
  }

  // Tells the replica why, then closes; it reconnects and says hello again.
  void Fail(const Status& st) {
    if (closed_ || closing_) return;
    spdlog::warn("replication: replica {} ({}): {}", id_.empty() ? "?" : id_, peer_,
                 st.ToString());
    closing_ = true;
    parked_.reset();
    Send(EncodeError(ReplError{st.code(), st.message()}));
  }

  ReplicationSource* const source_;
  tcp::socket socket_;
  asio::steady_timer park_timer_;
  std::string peer_;
  std::string id_;
  std::string rbuf_;
  std::deque<std::string> wq_;
  std::optional<Fetch> parked_;
  // The master's end when the last chunk went out: a fetch from at least here is caught up.
  LogOffset end_at_last_chunk_{INT64_MAX};
  bool timer_armed_ = false;
  bool closing_ = false;
  bool closed_ = false;

  friend class ReplicationSource;
};

ReplicationSource::ReplicationSource(ReplicationSourceOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : SystemClock::Get()),
      acceptor_(io_),
      sweep_timer_(io_) {}

ReplicationSource::~ReplicationSource() { Stop(); }

Status ReplicationSource::Start(store::Store* store) {
  store_ = store;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(options_.host, ec);
  if (ec) return InvalidArgument("replication host '" + options_.host + "': " + ec.message());
  tcp::endpoint ep(address, options_.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status(Code::kUnavailable, "replication port " + options_.host + ":" +
                                          std::to_string(options_.port) + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  commit_end_ = store_->ConfirmedEnd().value();
  // What the master holds now counts as committed (it was acknowledged under whatever held
  // before); from here on only what enough copies hold becomes visible.
  if (options_.min_copies > 1) store_->SetVisibleEnd(LogOffset(commit_end_.load()));
  Accept();
  Sweep();
  thread_ = std::thread([this] {
    SetThreadName("tidemq-repl");
    io_.run();
  });
  started_ = true;
  return Status::Ok();
}

void ReplicationSource::Stop() {
  {
    MutexLock lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  if (thread_.joinable()) {
    asio::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      sweep_timer_.cancel();
      std::vector<std::shared_ptr<Session>> sessions;
      {
        MutexLock lock(mu_);
        sessions = sessions_;
      }
      for (auto& s : sessions) s->Close();
      io_.stop();  // what the closes left pending is dropped with the io_context
    });
    thread_.join();
  }
  std::multimap<int64_t, Waiter> waiters;
  {
    MutexLock lock(mu_);
    waiters.swap(waiters_);
    sessions_.clear();
  }
  for (auto& [end, w] : waiters) {
    w.done(Status(Code::kUnavailable, "replication stopped before the copies were made"));
  }
}

void ReplicationSource::SetEpoch(int64_t epoch, std::vector<EpochStart> history) {
  MutexLock lock(mu_);
  epoch_ = epoch;
  history_ = std::move(history);
}

void ReplicationSource::Accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      spdlog::warn("replication: accept failed: {}", ec.message());
    } else {
      auto session = std::make_shared<Session>(this, std::move(socket));
      {
        MutexLock lock(mu_);
        sessions_.push_back(session);
      }
      session->Start();
    }
    Accept();
  });
}

void ReplicationSource::Sweep() {
  sweep_timer_.expires_after(kSweepInterval);
  sweep_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    Update();
    SweepTimeouts();
    Sweep();
  });
}

Result<Welcome> ReplicationSource::Welcomed(Session* session, const Hello& hello) {
  if (!options_.group.empty() && hello.group != options_.group) {
    return Status(Code::kFailedPrecondition, "replica " + hello.replica_id + " is of group '" +
                                                 hello.group + "', this master serves '" +
                                                 options_.group + "'");
  }
  Welcome w;
  std::vector<EpochStart> history;
  {
    MutexLock lock(mu_);
    if (epoch_ <= 0) return Status(Code::kNotMaster, "this broker is not serving as master yet");
    w.epoch = epoch_;
    history = history_;
  }
  w.master_log_end = store_->ConfirmedEnd();
  w.master_log_start = LogOffset(store_->Stats().min_log_offset);
  w.truncate_to = DivergencePoint(history, w.master_log_end, hello.epochs, hello.log_end);
  if (w.truncate_to == kNoLogOffset && hello.log_end > LogOffset(0) &&
      hello.log_end < w.master_log_start) {
    // Retention deleted what the replica needs next: it starts over.
    w.truncate_to = LogOffset(0);
  }
  std::shared_ptr<Session> older;
  {
    MutexLock lock(mu_);
    for (auto& s : sessions_) {
      if (s.get() != session && s->id() == hello.replica_id) older = s;
    }
    ReplicaInfo& info = replicas_[hello.replica_id];
    info.id = hello.replica_id;
    info.peer = session->peer_;
    info.written = hello.log_end;
    info.connected = true;
  }
  if (older) older->Close();  // the replica reconnected: the old connection is dead
  return w;
}

void ReplicationSource::Fetched(Session* session, const Fetch& fetch) {
  const int64_t now = NowMs();
  {
    MutexLock lock(mu_);
    ReplicaInfo& info = replicas_[session->id()];
    info.written = fetch.from;
    info.flushed = fetch.flushed;
    info.last_fetch_ms = now;
    info.connected = true;
    // Caught up: it holds everything the master had when the last chunk went out to it (or
    // everything the master has now).
    if (fetch.from >= session->end_at_last_chunk_ || fetch.from >= store_->ConfirmedEnd()) {
      info.caught_up_ms = now;
    }
  }
  Update();
}

void ReplicationSource::Sent(Session* session, LogOffset chunk_end, LogOffset master_end) {
  (void)chunk_end;
  session->end_at_last_chunk_ = master_end;
}

void ReplicationSource::Disconnected(Session* session) {
  {
    MutexLock lock(mu_);
    std::erase_if(sessions_, [session](const auto& s) { return s.get() == session; });
    if (!session->id().empty()) {
      bool other = false;
      for (auto& s : sessions_) other = other || s->id() == session->id();
      if (!other) replicas_[session->id()].connected = false;
    }
  }
  Update();
}

void ReplicationSource::OnBatchEnd(bool replay) {
  if (replay || !started_.load() || wake_pending_.exchange(true)) return;
  asio::post(io_, [this] {
    wake_pending_ = false;
    std::vector<std::shared_ptr<Session>> sessions;
    {
      MutexLock lock(mu_);
      sessions = sessions_;
    }
    for (auto& s : sessions) s->Wake();
    Update();
  });
}

Status ReplicationSource::CanAccept() const {
  if (options_.min_copies <= 1) return Status::Ok();
  const int copies = 1 + in_sync_count_.load();
  if (copies >= options_.min_copies) return Status::Ok();
  return Status(Code::kNotEnoughReplicas,
                "NOT_ENOUGH_REPLICAS: " + std::to_string(copies) + " of the " +
                    std::to_string(options_.min_copies) +
                    " copies the ack policy asks for are in sync (the master included); sends "
                    "are refused until replicas catch up");
}

void ReplicationSource::WaitReplicated(LogOffset end, std::function<void(const Status&)> done) {
  if (options_.min_copies <= 1 || end.value() <= commit_end_.load()) return done(Status::Ok());
  if (store_ == nullptr) return done(Status(Code::kUnavailable, "replication is not started"));
  {
    MutexLock lock(mu_);
    if (!stopped_) {
      waiters_.emplace(end.value(), Waiter{NowMs() + options_.ack_timeout_ms, std::move(done)});
      done = nullptr;
    }
  }
  if (done) return done(Status(Code::kUnavailable, "replication is stopping"));
  // The commit end may have passed `end` between the check and the insert.
  asio::post(io_, [this] { Update(); });
}

void ReplicationSource::Update() {
  const int64_t now = NowMs();
  const LogOffset master_end = store_->ConfirmedEnd();
  std::vector<std::function<void(const Status&)>> ready;
  std::function<void(std::vector<std::string>)> on_in_sync;
  std::function<void(LogOffset)> on_commit;
  std::vector<std::string> in_sync;
  LogOffset commit;
  {
    MutexLock lock(mu_);
    std::vector<int64_t> ends{master_end.value()};
    for (auto& [id, info] : replicas_) {
      info.in_sync = info.connected && now - info.caught_up_ms <= options_.max_lag_ms;
      if (!info.in_sync) continue;
      in_sync.push_back(id);
      ends.push_back(std::min(info.written, master_end).value());
    }
    std::sort(ends.rbegin(), ends.rend());
    const size_t k = static_cast<size_t>(std::max(1, options_.min_copies));
    // Fewer copies than asked: nothing more is committed until replicas catch up.
    const int64_t committed = ends.size() >= k ? ends[k - 1] : commit_end_.load();
    commit = LogOffset(std::max(committed, commit_end_.load()));
    const bool advanced = commit.value() > commit_end_.load();
    // Consumers may see what is committed before a waiter hears of it.
    if (options_.min_copies > 1) store_->SetVisibleEnd(commit);
    commit_end_.store(commit.value());
    in_sync_count_.store(static_cast<int>(in_sync.size()));
    while (!waiters_.empty() && waiters_.begin()->first <= commit.value()) {
      ready.push_back(std::move(waiters_.begin()->second.done));
      waiters_.erase(waiters_.begin());
    }
    if (in_sync != in_sync_) {
      in_sync_ = in_sync;
      on_in_sync = on_in_sync_;
    }
    if (advanced && options_.min_copies > 1) on_commit = on_commit_;
  }
  for (auto& done : ready) done(Status::Ok());
  if (on_in_sync) on_in_sync(in_sync);
  if (on_commit) on_commit(commit);
}

void ReplicationSource::SweepTimeouts() {
  const int64_t now = NowMs();
  std::vector<std::function<void(const Status&)>> expired;
  {
    MutexLock lock(mu_);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->second.deadline_ms <= now) {
        expired.push_back(std::move(it->second.done));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& done : expired) {
    done(Status(Code::kNotEnoughReplicas,
                "NOT_ENOUGH_REPLICAS: the message is on the master but fewer than " +
                    std::to_string(options_.min_copies) + " copies hold it after " +
                    std::to_string(options_.ack_timeout_ms) +
                    " ms; send it again with the same message id"));
  }
}

std::vector<ReplicaInfo> ReplicationSource::Replicas() const {
  MutexLock lock(mu_);
  std::vector<ReplicaInfo> out;
  for (const auto& [id, info] : replicas_) out.push_back(info);
  return out;
}

bool ReplicationSource::WaitCaughtUp(int64_t timeout_ms) const {
  if (store_ == nullptr) return true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    const LogOffset end = store_->ConfirmedEnd();
    bool all = true;
    for (const ReplicaInfo& r : Replicas()) all = all && (!r.connected || r.written >= end);
    if (all) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void ReplicationSource::OnInSyncChanged(std::function<void(std::vector<std::string>)> callback) {
  MutexLock lock(mu_);
  on_in_sync_ = std::move(callback);
}

void ReplicationSource::OnCommitAdvanced(std::function<void(LogOffset)> callback) {
  MutexLock lock(mu_);
  on_commit_ = std::move(callback);
}

}  // namespace tidemq::cluster
