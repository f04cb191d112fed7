#include "client/src/connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <cstring>
#include <future>

#include "client/src/error_mapping.h"
#include "common/assert.h"
#include "common/logging.h"

namespace tidemq::client {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

// Frames written per async_write: gathers many small requests into one syscall.
constexpr size_t kMaxFramesPerWrite = 64;
// One read_some takes the rest of the frame being assembled plus up to this much.
constexpr size_t kReadBufferBytes = 256 << 10;

std::chrono::milliseconds Ms(int64_t ms) {
  return std::chrono::milliseconds(std::max<int64_t>(ms, 0));
}

}  // namespace

std::string Endpoint::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<Endpoint> ParseEndpoint(std::string_view text) {
  Endpoint ep;
  std::string_view port_text;
  if (text.empty()) return InvalidArgument("empty broker address (expected HOST:PORT)");
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return InvalidArgument("broker address '" + std::string(text) + "' has no closing ']'");
    }
    ep.host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return InvalidArgument("broker address '" + std::string(text) + "' is malformed");
      }
      port_text = rest.substr(1);
    }
  } else {
    size_t colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') != colon) {
      return InvalidArgument("IPv6 broker address '" + std::string(text) +
                             "' must be written [ADDR]:PORT");
    }
    ep.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) port_text = text.substr(colon + 1);
  }
  if (ep.host.empty()) {
    return InvalidArgument("broker address '" + std::string(text) + "' has no host");
  }
  ep.port = kDefaultPort;
  if (!port_text.empty() || (text.back() == ':')) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return InvalidArgument("bad port '" + std::string(port_text) + "' in broker address '" +
                             std::string(text) + "'");
    }
    ep.port = static_cast<uint16_t>(value);
  }
  return ep;
}

Result<std::vector<Endpoint>> ParseEndpoints(std::string_view text) {
  std::vector<Endpoint> out;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string_view part = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (part.empty()) {
      return InvalidArgument(text.empty() ? std::string("empty broker address (expected HOST:PORT)")
                                          : "broker address list '" + std::string(text) +
                                                "' has an empty entry (expected HOST:PORT,...)");
    }
    ASSIGN_OR_RETURN(Endpoint ep, ParseEndpoint(part));
    if (std::find(out.begin(), out.end(), ep) == out.end()) out.push_back(std::move(ep));
    if (out.size() > kMaxEndpoints) {
      return InvalidArgument("more than " + std::to_string(kMaxEndpoints) + " broker addresses");
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string JoinEndpoints(const std::vector<Endpoint>& endpoints) {
  std::string out;
  for (const Endpoint& ep : endpoints) {
    if (!out.empty()) out += ",";
    out += ep.ToString();
  }
  return out;
}

Connection::Connection(ConnectionOptions options)
    : options_(std::move(options)),
      work_(asio::make_work_guard(io_)),
      resolver_(io_),
      socket_(io_),
      connect_timer_(io_),
      reconnect_timer_(io_),
      sweep_timer_(io_),
      heartbeat_timer_(io_) {
  TIDEMQ_CHECK(!options_.endpoints.empty());
  SetTarget(options_.endpoints.front());
}

Connection::~Connection() { Close(); }

Status Connection::Start(bool wait) {
  TIDEMQ_CHECK(!thread_.joinable());
  if (closed_.load()) return Status(Code::kCancelled, "connection is closed");
  thread_ = std::thread([this] {
    SetThreadName("tidemq-client");
    io_.run();
  });
  io_thread_id_ = thread_.get_id();
  asio::post(io_, [this] { StartConnect(); });
  if (!wait) return Status::Ok();
  MutexLock lock(start_mu_);
  // The connect timer bounds each attempt; the extra second only guards against a stuck
  // resolver.
  const int64_t round_ms =
      options_.connect_timeout_ms * static_cast<int64_t>(options_.endpoints.size());
  bool done = start_cv_.wait_for(lock, Ms(round_ms + 1000),
                                 [this]() REQUIRES(start_mu_) { return first_attempt_done_; });
  if (!done) {
    return Status(Code::kUnavailable,
                  "cannot connect to " + JoinEndpoints(options_.endpoints) + ": timed out");
  }
  return first_attempt_status_;
}

bool Connection::OnIoThread() const { return std::this_thread::get_id() == io_thread_id_; }

std::string Connection::NotConnectedMessage() const {
  if (errors_.size() <= 1 && !SeveralBrokers()) {
    std::string m = "not connected to broker " + target_.ToString();
    auto it = errors_.find(target_.ToString());
    if (it != errors_.end() && !it->second.empty()) m += " (" + it->second + ")";
    return m;
  }
  if (errors_.empty()) {
    return "not connected to any broker yet (connecting to " + target_.ToString() + ")";
  }
  return "not connected to any broker; tried " + TriedBrokers();
}

std::string Connection::TriedBrokers() const {
  std::string m;
  for (const auto& [address, why] : errors_) {
    if (!m.empty()) m += ", ";
    m += address;
    if (!why.empty()) m += " (" + why + ")";
  }
  return m;
}

std::string Connection::current_endpoint() const {
  MutexLock lock(target_mu_);
  return target_text_;
}

void Connection::SetTarget(Endpoint target) {
  target_ = std::move(target);
  MutexLock lock(target_mu_);
  target_text_ = target_.ToString();
}

void Connection::Advance() {
  const auto& list = options_.endpoints;
  // After a redirect the list resumes where it was left; otherwise at the next entry.
  if (!redirected_) index_ = (index_ + 1) % list.size();
  redirected_ = false;
  SetTarget(list[index_]);
}

// ---- connecting ----------------------------------------------------------------------

void Connection::StartConnect() {
  if (state_ == State::kClosed) return;
  state_ = State::kConnecting;
  uint64_t epoch = ++epoch_;
  error_code ignored;
  socket_.close(ignored);
  socket_ = tcp::socket(io_);
  connect_timer_.expires_after(Ms(options_.connect_timeout_ms));
  connect_timer_.async_wait([this, epoch](const error_code& ec) {
    if (ec || epoch != epoch_ || state_ != State::kConnecting) return;
    resolver_.cancel();
    error_code ignored2;
    socket_.close(ignored2);
    OnConnectFailed(
        epoch, "connect timed out after " + std::to_string(options_.connect_timeout_ms) + " ms");
  });
  resolver_.async_resolve(
      target_.host, std::to_string(target_.port),
      [this, epoch](const error_code& ec, tcp::resolver::results_type results) {
        if (epoch != epoch_ || state_ != State::kConnecting) return;
        if (ec) {
          OnConnectFailed(epoch, "cannot resolve '" + target_.host + "': " + ec.message());
          return;
        }
        asio::async_connect(socket_, results,
                            [this, epoch](const error_code& ec2, const tcp::endpoint&) {
                              if (epoch != epoch_ || state_ != State::kConnecting) return;
                              if (ec2) {
                                OnConnectFailed(epoch, ec2.message());
                                return;
                              }
                              OnConnected(epoch);
                            });
      });
}

void Connection::OnConnected(uint64_t epoch) {
  connect_timer_.cancel();
  state_ = State::kConnected;
  backoff_ms_ = 0;
  failed_connects_ = 0;
  errors_.erase(target_.ToString());
  error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  connected_ = true;
  connect_count_++;
  spdlog::debug("connected to {}", target_.ToString());
  {
    MutexLock lock(start_mu_);
    if (!first_attempt_done_) {
      first_attempt_done_ = true;
      first_attempt_status_ = Status::Ok();
    }
  }
  start_cv_.notify_all();
  read_.Consume(read_.unparsed().size());  // what the previous connection left unparsed
  read_needed_ = 0;
  ReadMore();
  DoWrite();
  // At once: the broker learns this client's groups (a transactional producer's check-backs
  // come over this connection) without waiting a whole interval.
  if (options_.heartbeat_interval_ms > 0) SendHeartbeat();
  ArmHeartbeat();
}

void Connection::OnConnectFailed(uint64_t epoch, const std::string& why) {
  if (epoch != epoch_ || state_ != State::kConnecting) return;
  connect_timer_.cancel();
  errors_[target_.ToString()] = why;
  ++failed_connects_;
  const size_t round = options_.endpoints.size();
  if (failed_connects_ >= round) {
    MutexLock lock(start_mu_);
    if (!first_attempt_done_) {
      first_attempt_done_ = true;
      first_attempt_status_ =
          round == 1
              ? Status(Code::kUnavailable,
                       "cannot connect to broker " + target_.ToString() + ": " + why)
              : Status(Code::kUnavailable, "cannot connect to any broker; tried " + TriedBrokers());
    }
  }
  start_cv_.notify_all();
  const bool was_redirect = redirected_;
  if (SeveralBrokers()) Advance();
  // A failed redirect target is not a round of the list: the list is tried at once.
  if (!was_redirect && failed_connects_ % round == 0) {
    ScheduleReconnect();
  } else {
    state_ = State::kBackoff;
    asio::post(io_, [this, epoch = epoch_] {
      if (epoch == epoch_ && state_ == State::kBackoff) StartConnect();
    });
  }
}

void Connection::DropConnection(const std::string& why) {
  connected_ = false;
  errors_[target_.ToString()] = why;
  ++epoch_;  // handlers of this socket's reads and writes bail out
  error_code ignored;
  socket_.close(ignored);
  heartbeat_timer_.cancel();
  // What was already written may or may not have reached the broker: the callers decide
  // whether to retry. Frames not yet written belong to those same calls, so they go too.
  write_queue_.clear();
  queued_bytes_ = 0;
  writing_ = false;  // the aborted write's handler sees a stale epoch and does nothing
  state_ = State::kBackoff;
  FailAll(Status(Code::kUnavailable, "connection to broker " + target_.ToString() + " " + why));
}

void Connection::OnConnectionLost(uint64_t epoch, const std::string& why) {
  if (epoch != epoch_ || state_ != State::kConnected) return;
  spdlog::warn("connection to {} lost: {}", target_.ToString(), why);
  DropConnection("lost: " + why);
  if (state_ == State::kClosed) return;  // a callback closed the client
  if (SeveralBrokers()) {
    // Most likely the broker is gone (a failover): the next one is tried at once.
    Advance();
    StartConnect();
  } else {
    ScheduleReconnect();
  }
}

void Connection::FollowMaster(const std::string& master_address) {
  if (state_ != State::kConnected) return;
  ++not_master_in_row_;
  Result<Endpoint> master = master_address.empty() ? Result<Endpoint>(NotFound("no master named"))
                                                   : ParseEndpoint(master_address);
  const bool redirect = master.ok() && !(*master == target_);
  // Once per failover at info; the retries while the group elects its new master (replicas
  // may still name the old one for a lease TTL) only at debug.
  const auto level = not_master_in_row_ == 1 ? spdlog::level::info : spdlog::level::debug;
  spdlog::log(level, "broker {} is not the master{}", target_.ToString(),
              redirect ? "; following it to " + master->ToString() : std::string());
  DropConnection(redirect ? "is not the master (it names " + master->ToString() + ")"
                          : "is not the master");
  if (state_ == State::kClosed) return;
  if (redirect) {
    redirect_count_++;
    auto it = std::find(options_.endpoints.begin(), options_.endpoints.end(), *master);
    if (it != options_.endpoints.end()) {
      index_ = static_cast<size_t>(it - options_.endpoints.begin());
      redirected_ = false;
    } else {
      redirected_ = true;  // index_ stays: the list resumes there if the master fails
    }
    SetTarget(std::move(master).value());
  } else {
    Advance();
  }
  // Brokers that all answer NOT_MASTER (an election under way) are asked again with back-off.
  if (not_master_in_row_ > options_.endpoints.size()) {
    ScheduleReconnect();
  } else {
    StartConnect();
  }
}

void Connection::ScheduleReconnect() {
  if (state_ == State::kClosed) return;
  state_ = State::kBackoff;
  backoff_ms_ = backoff_ms_ == 0 ? options_.min_reconnect_backoff_ms
                                 : std::min(backoff_ms_ * 2, options_.max_reconnect_backoff_ms);
  reconnect_timer_.expires_after(Ms(backoff_ms_));
  reconnect_timer_.async_wait([this](const error_code& ec) {
    if (ec || state_ != State::kBackoff) return;
    StartConnect();
  });
}

// ---- calls -----------------------------------------------------------------------------

uint64_t Connection::Call(wire::Header request, const std::vector<std::string_view>& bodies,
                          int64_t timeout_ms, Callback done, SteadyTime write_by) {
  uint64_t id = next_request_id_.fetch_add(1);
  if (closed_.load()) {
    done(Status(Code::kCancelled, "client is shut down"));
    return id;
  }
  request.set_request_id(id);
  request.set_is_response(false);
  std::string frame;
  wire::EncodeFrame(request, bodies, &frame);
  if (frame.size() - wire::kLengthFieldSize > options_.max_frame_bytes) {
    done(Status(Code::kTooLarge, "request of " + std::to_string(frame.size()) +
                                     " bytes exceeds the frame limit of " +
                                     std::to_string(options_.max_frame_bytes)));
    return id;
  }
  SteadyTime deadline = std::chrono::steady_clock::now() + Ms(timeout_ms);
  bool first;
  {
    MutexLock lock(submit_mu_);
    first = submitted_.empty();
    submitted_.push_back(Submission{id, std::move(frame), deadline, write_by, std::move(done)});
  }
  if (first) asio::post(io_, [this] { DrainSubmissions(); });
  return id;
}

void Connection::DrainSubmissions() {
  std::vector<Submission> batch;
  {
    MutexLock lock(submit_mu_);
    batch.swap(submitted_);
  }
  for (Submission& s : batch) Enqueue(std::move(s));
  DoWrite();
}

void Connection::Enqueue(Submission s) {
  if (state_ == State::kClosed) {
    s.done(Status(Code::kCancelled, "client is shut down"));
    return;
  }
  if (queued_bytes_ > 0 && queued_bytes_ + s.frame.size() > options_.max_queued_bytes) {
    s.done(Status(Code::kResourceExhausted,
                  "client write queue is full (" + std::to_string(queued_bytes_) + " bytes)"));
    return;
  }
  const SteadyTime first = std::min(s.deadline, s.write_by);
  pending_.emplace(s.id, PendingCall{std::move(s.done), first, s.deadline});
  deadlines_.emplace(first, s.id);
  queued_bytes_ += s.frame.size();
  write_queue_.push_back(QueuedFrame{s.id, std::move(s.frame)});
  if (first < sweep_at_) ArmSweep();
}

Result<wire::Frame> Connection::CallSync(wire::Header request,
                                         const std::vector<std::string_view>& bodies,
                                         int64_t timeout_ms) {
  if (OnIoThread()) {
    return Status(Code::kFailedPrecondition,
                  "blocking client call made from a client callback (use the async form)");
  }
  auto promise = std::make_shared<std::promise<Result<wire::Frame>>>();
  auto future = promise->get_future();
  Call(std::move(request), bodies, timeout_ms,
       [promise](Result<wire::Frame> r) { promise->set_value(std::move(r)); });
  return future.get();
}

void Connection::Cancel(uint64_t request_id, Status status) {
  asio::post(io_, [this, request_id, status = std::move(status)]() mutable {
    Complete(request_id, std::move(status));
  });
}

void Connection::Complete(uint64_t id, Result<wire::Frame> result) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;  // already timed out or cancelled
  PendingCall call = std::move(it->second);
  pending_.erase(it);
  deadlines_.erase({call.deadline, id});
  try {
    call.done(std::move(result));
  } catch (const std::exception& e) {
    spdlog::error("client callback threw: {}", e.what());
  } catch (...) {
    spdlog::error("client callback threw a non-exception");
  }
}

void Connection::FailAll(const Status& status) {
  std::vector<uint64_t> ids;
  ids.reserve(pending_.size());
  for (const auto& [id, call] : pending_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());  // oldest first, as the caller would expect
  for (uint64_t id : ids) Complete(id, status);
}

void Connection::ArmSweep() {
  if (deadlines_.empty()) {
    sweep_at_ = SteadyTime::max();
    sweep_timer_.cancel();
    return;
  }
  sweep_at_ = deadlines_.begin()->first;
  sweep_timer_.expires_at(sweep_at_);
  sweep_timer_.async_wait([this](const error_code& ec) {
    if (ec) return;  // re-armed or closing
    Sweep();
  });
}

void Connection::Sweep() {
  sweep_at_ = SteadyTime::max();
  auto now = std::chrono::steady_clock::now();
  bool unanswered = false;  // a written call got no answer in time
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    uint64_t id = deadlines_.begin()->second;
    PendingCall& call = pending_.at(id);
    if (!call.written && state_ == State::kConnected && call.response_deadline > now) {
      // Its write_by passed while it waited behind other frames of a live connection.
      deadlines_.erase(deadlines_.begin());
      call.deadline = call.response_deadline;
      deadlines_.emplace(call.deadline, id);
      continue;
    }
    if (call.written || state_ == State::kConnected) {
      unanswered = unanswered || call.written;
      Complete(id, Status(Code::kTimeout,
                          "request timed out: no response from broker " + target_.ToString()));
    } else {
      Complete(id, Status(Code::kUnavailable, NotConnectedMessage()));
    }
  }
  // A broker that leaves requests unanswered may be hung (a stopped master keeps accepting
  // connections): with others to try, move on; a healthy master is found again through them.
  if (unanswered && state_ == State::kConnected && SeveralBrokers()) {
    spdlog::warn("broker {} did not answer in time; trying the next broker", target_.ToString());
    DropConnection("did not answer in time");
    if (state_ != State::kClosed) {
      Advance();
      StartConnect();
    }
  }
  ArmSweep();
}

// ---- writing and reading ---------------------------------------------------------------

void Connection::DoWrite() {
  if (writing_ || state_ != State::kConnected || write_queue_.empty()) return;
  writing_ = true;
  in_write_.clear();
  std::vector<asio::const_buffer> buffers;
  while (!write_queue_.empty() && in_write_.size() < kMaxFramesPerWrite) {
    QueuedFrame& f = write_queue_.front();
    queued_bytes_ -= f.bytes.size();
    if (f.call_id == 0) {
      in_write_.push_back(std::move(f.bytes));
    } else if (auto it = pending_.find(f.call_id); it != pending_.end()) {
      PendingCall& call = it->second;
      call.written = true;
      if (call.deadline != call.response_deadline) {  // from now on only the answer is awaited
        deadlines_.erase({call.deadline, f.call_id});
        call.deadline = call.response_deadline;
        deadlines_.emplace(call.deadline, f.call_id);
      }
      in_write_.push_back(std::move(f.bytes));
    }
    write_queue_.pop_front();
  }
  if (in_write_.empty()) {
    writing_ = false;
    return;
  }
  buffers.reserve(in_write_.size());
  for (const auto& f : in_write_) buffers.emplace_back(asio::buffer(f));
  uint64_t epoch = epoch_;
  asio::async_write(socket_, buffers, [this, epoch](const error_code& ec, size_t) {
    if (epoch != epoch_) return;
    writing_ = false;
    in_write_.clear();
    if (ec) {
      OnConnectionLost(epoch, "write failed: " + ec.message());
      return;
    }
    DoWrite();
  });
}

void Connection::ReadMore() {
  // The rest of the frame being assembled, then up to a chunk of what follows; the buffer
  // grows only as bytes arrive (proto/read_buffer.h).
  const size_t have = read_.unparsed().size();
  std::span<char> room =
      read_.Prepare((read_needed_ > have ? read_needed_ - have : 0) + kReadBufferBytes);
  uint64_t epoch = epoch_;
  socket_.async_read_some(
      asio::buffer(room.data(), room.size()), [this, epoch](const error_code& ec, size_t n) {
        if (epoch != epoch_ || state_ != State::kConnected) return;
        if (ec) {
          OnConnectionLost(epoch, ec == asio::error::eof ? "closed by broker" : ec.message());
          return;
        }
        read_.Commit(n);
        if (DispatchBuffered(epoch)) ReadMore();
      });
}

bool Connection::DispatchBuffered(uint64_t epoch) {
  read_needed_ = 0;
  while (read_.unparsed().size() >= wire::kPrefixSize) {
    std::string_view unread = read_.unparsed();
    wire::FramePrefix prefix;
    Status st =
        wire::ParsePrefix(unread.substr(0, wire::kPrefixSize), options_.max_frame_bytes, &prefix);
    if (!st.ok()) {
      OnConnectionLost(epoch, "bad frame from broker: " + st.ToString());
      return false;
    }
    size_t total = wire::kPrefixSize + prefix.remaining();
    if (unread.size() < total) {
      read_needed_ = total;
      break;
    }
    wire::Frame frame;
    st = wire::ParseRest(prefix, unread.substr(wire::kPrefixSize, prefix.remaining()), &frame);
    if (!st.ok()) {
      OnConnectionLost(epoch, "bad frame from broker: " + st.ToString());
      return false;
    }
    read_.Consume(total);
    Dispatch(std::move(frame));
    if (epoch != epoch_ || state_ != State::kConnected) return false;
  }
  return true;
}

void Connection::Dispatch(wire::Frame frame) {
  if (!frame.header.is_response()) {
    HandleBrokerRequest(std::move(frame));
    return;
  }
  if (options_.on_response) options_.on_response(frame.header);
  uint64_t id = frame.header.request_id();
  if (pending_.find(id) == pending_.end()) {
    spdlog::debug("response to unknown request {} ignored (timed out or cancelled)", id);
    return;
  }
  Status st = StatusFromHeader(frame.header);
  if (st.code() == Code::kNotMaster) {
    std::string master = frame.header.master_address();
    if (!master.empty()) st = Status(st.code(), st.message() + " (master: " + master + ")");
    Complete(id, std::move(st));
    // The caller re-issues the call; by then the connection is on its way to the master.
    FollowMaster(master);
    return;
  }
  not_master_in_row_ = 0;
  if (!st.ok()) {
    Complete(id, std::move(st));
  } else {
    Complete(id, std::move(frame));
  }
}

void Connection::HandleBrokerRequest(wire::Frame frame) {
  uint64_t request_id = frame.header.request_id();
  wire::RequestKind kind = frame.header.kind();
  uint64_t epoch = epoch_;
  Responder respond = [this, epoch, request_id, kind](wire::Header response, std::string body) {
    response.set_request_id(request_id);
    response.set_kind(kind);
    response.set_is_response(true);
    std::string out;
    wire::EncodeFrame(response, body, &out);
    asio::post(io_, [this, epoch, out = std::move(out)]() mutable {
      // A reply to a request from an earlier connection has no one to go to.
      if (epoch != epoch_ || state_ != State::kConnected) return;
      queued_bytes_ += out.size();
      write_queue_.push_back(QueuedFrame{0, std::move(out)});
      DoWrite();
    });
  };
  RequestHandler handler;
  {
    MutexLock lock(handlers_mu_);
    auto it = handlers_.find(static_cast<int>(kind));
    if (it != handlers_.end()) handler = it->second;
  }
  if (!handler) {
    wire::Header response;
    response.set_code(wire::UNSUPPORTED);
    response.set_error_message("client does not handle broker request kind " +
                               wire::RequestKind_Name(kind) + " (" +
                               std::to_string(static_cast<int>(kind)) + ")");
    respond(std::move(response), "");
    return;
  }
  try {
    handler(std::move(frame), std::move(respond));
  } catch (const std::exception& e) {
    spdlog::error("handler for broker request {} threw: {}", static_cast<int>(kind), e.what());
  }
}

void Connection::RegisterHandler(wire::RequestKind kind, RequestHandler handler) {
  MutexLock lock(handlers_mu_);
  handlers_[static_cast<int>(kind)] = std::move(handler);
}

// ---- timers ----------------------------------------------------------------------------

void Connection::SendHeartbeat() {
  wire::Header h;
  h.set_kind(wire::HEARTBEAT);
  auto* hb = h.mutable_heartbeat_request();
  if (options_.fill_heartbeat) options_.fill_heartbeat(hb);
  Call(std::move(h), {}, options_.heartbeat_interval_ms, [](Result<wire::Frame> r) {
    if (!r.ok() && r.status().code() != Code::kCancelled) {
      spdlog::debug("heartbeat failed: {}", r.status().ToString());
    }
  });
}

void Connection::ArmHeartbeat() {
  if (options_.heartbeat_interval_ms <= 0) return;
  heartbeat_timer_.expires_after(Ms(options_.heartbeat_interval_ms));
  heartbeat_timer_.async_wait([this](const error_code& ec) {
    if (ec || state_ != State::kConnected) return;
    SendHeartbeat();
    ArmHeartbeat();
  });
}

void Connection::RunAfter(int64_t delay_ms, std::function<void(bool closed)> fn) {
  if (closed_.load()) {
    fn(true);
    return;
  }
  asio::post(io_, [this, delay_ms, fn = std::move(fn)]() mutable {
    if (state_ == State::kClosed) {
      fn(true);
      return;
    }
    auto timer = std::make_shared<asio::steady_timer>(io_, Ms(delay_ms));
    run_after_timers_.insert(timer);
    timer->async_wait([this, timer, fn = std::move(fn)](const error_code& ec) {
      run_after_timers_.erase(timer);
      fn(ec == asio::error::operation_aborted || state_ == State::kClosed);
    });
  });
}

// ---- closing ---------------------------------------------------------------------------

void Connection::DoClose() {
  state_ = State::kClosed;
  ++epoch_;
  connected_ = false;
  error_code ignored;
  resolver_.cancel();
  socket_.close(ignored);
  connect_timer_.cancel();
  reconnect_timer_.cancel();
  sweep_timer_.cancel();
  heartbeat_timer_.cancel();
  for (const auto& t : run_after_timers_) t->cancel();
  write_queue_.clear();
  queued_bytes_ = 0;
  FailAll(Status(Code::kCancelled, "client is shut down"));
  {
    MutexLock lock(start_mu_);
    if (!first_attempt_done_) {
      first_attempt_done_ = true;
      first_attempt_status_ = Status(Code::kCancelled, "client is shut down");
    }
  }
  start_cv_.notify_all();
}

void Connection::Close() {
  if (closed_.exchange(true)) {
    if (thread_.joinable() && !OnIoThread()) thread_.join();
    return;
  }
  if (!thread_.joinable()) return;  // never started
  // Destroying a client from its own callback would join the io thread from itself.
  TIDEMQ_CHECK(!OnIoThread());
  asio::post(io_, [this] { DoClose(); });
  work_.reset();
  thread_.join();
}

}  // namespace tidemq::client
