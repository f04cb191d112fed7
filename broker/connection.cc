#include "broker/connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace tidemq::broker {

namespace asio = boost::asio;

Connection::Connection(asio::ip::tcp::socket socket, RequestSink* sink,
                       ConnectionOptions options, uint64_t id)
    : socket_(std::move(socket)),
      strand_(asio::make_strand(socket_.get_executor())),
      sink_(sink),
      options_(options),
      id_(id) {
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  remote_ = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

namespace {
constexpr size_t kReadChunk = 64u << 10;
constexpr size_t kIdleBufferLimit = 1u << 20;  // shrink back after a large frame
}  // namespace

void Connection::Start() {
  asio::dispatch(strand_, [self = shared_from_this()] { self->ReadMore(); });
}

void Connection::ReadMore() {
  if (queued_bytes_ > options_.max_write_bytes) {
    read_paused_ = true;  // resumed by WriteNext once the client drains replies
    return;
  }
  if (read_start_ == read_end_) {
    read_start_ = read_end_ = 0;
    if (read_buf_.size() > kIdleBufferLimit) read_buf_ = std::vector<char>(kReadChunk);
  } else if (read_start_ > 0) {
    std::memmove(read_buf_.data(), read_buf_.data() + read_start_, read_end_ - read_start_);
    read_end_ -= read_start_;
    read_start_ = 0;
  }
  if (read_buf_.size() - read_end_ < kReadChunk / 4) {
    read_buf_.resize(std::max(read_buf_.size() * 2, read_end_ + kReadChunk));
  }
  socket_.async_read_some(
      asio::buffer(read_buf_.data() + read_end_, read_buf_.size() - read_end_),
      asio::bind_executor(strand_, [self = shared_from_this()](boost::system::error_code ec,
                                                               size_t n) {
        if (ec) return self->Fail("read", ec.message());
        self->read_end_ += n;
        self->ProcessBuffered();
      }));
}

void Connection::ProcessBuffered() {
  while (!closed_.load() && queued_bytes_ <= options_.max_write_bytes) {
    std::string_view avail(read_buf_.data() + read_start_, read_end_ - read_start_);
    if (avail.size() < wire::kPrefixSize) break;
    wire::FramePrefix prefix;
    Status st = wire::ParsePrefix(avail, options_.max_frame_bytes, &prefix);
    if (!st.ok()) return Fail("bad frame", st.ToString());
    size_t total = wire::kLengthFieldSize + prefix.frame_length;
    if (avail.size() < total) {
      // The frame is checked against the limit already: make room for all of it.
      if (read_buf_.size() - read_start_ < total) read_buf_.resize(read_start_ + total);
      break;
    }
    wire::Frame frame;
    st = wire::ParseRest(prefix, avail.substr(wire::kPrefixSize, prefix.remaining()), &frame);
    if (!st.ok()) return Fail("bad frame", st.ToString());
    read_start_ += total;
    sink_->OnRequest(shared_from_this(), std::move(frame));
  }
  if (closed_.load()) return;
  ReadMore();
}

void Connection::Send(std::string frame) {
  if (closed_.load()) return;
  asio::dispatch(strand_, [self = shared_from_this(), f = std::move(frame)]() mutable {
    if (self->closed_.load()) return;
    self->queued_bytes_ += f.size();
    self->write_queue_.push_back(std::move(f));
    if (!self->writing_) self->WriteNext();
  });
}

void Connection::WriteNext() {
  if (write_queue_.empty()) {
    writing_ = false;
    MaybeResumeReading();
    return;
  }
  writing_ = true;
  // Gather several queued replies into one write: fewer syscalls under pipelining.
  auto batch = std::make_shared<std::vector<std::string>>();
  size_t bytes = 0;
  while (!write_queue_.empty() && (batch->empty() || bytes < (256u << 10))) {
    bytes += write_queue_.front().size();
    batch->push_back(std::move(write_queue_.front()));
    write_queue_.pop_front();
  }
  std::vector<asio::const_buffer> buffers;
  for (const auto& s : *batch) buffers.emplace_back(asio::buffer(s));
  asio::async_write(socket_, buffers,
                    asio::bind_executor(strand_, [self = shared_from_this(), batch, bytes](
                                                     boost::system::error_code ec, size_t) {
                      self->queued_bytes_ -= bytes;
                      if (ec) return self->Fail("write", ec.message());
                      self->WriteNext();
                    }));
}

void Connection::MaybeResumeReading() {
  if (read_paused_ && queued_bytes_ <= options_.max_write_bytes / 2) {
    read_paused_ = false;
    ProcessBuffered();  // frames read before the pause come first
  }
}

void Connection::Fail(const char* what, const std::string& detail) {
  if (closed_.exchange(true)) return;
  if (std::string_view(what) == "bad frame") {
    spdlog::warn("connection {} from {}: {}; closing it", id_, remote_, detail);
  } else if (detail != "End of file" && detail != "Operation canceled") {
    spdlog::debug("connection {} from {}: {} error: {}", id_, remote_, what, detail);
  }
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  write_queue_.clear();
  sink_->OnClosed(shared_from_this());
}

void Connection::Close() {
  asio::dispatch(strand_, [self = shared_from_this()] { self->Fail("close", "closed"); });
}

}  // namespace tidemq::broker
