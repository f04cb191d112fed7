#include "broker/connection.h"

#include <spdlog/spdlog.h>

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

void Connection::Start() {
  asio::dispatch(strand_, [self = shared_from_this()] { self->ReadPrefix(); });
}

void Connection::ReadPrefix() {
  if (queued_bytes_ > options_.max_write_bytes) {
    read_paused_ = true;  // resumed by WriteNext once the client drains replies
    return;
  }
  asio::async_read(
      socket_, asio::buffer(prefix_, sizeof(prefix_)),
      asio::bind_executor(strand_, [self = shared_from_this()](boost::system::error_code ec,
                                                               size_t) {
        if (ec) return self->Fail("read", ec.message());
        wire::FramePrefix prefix;
        Status st = wire::ParsePrefix(std::string_view(self->prefix_, sizeof(self->prefix_)),
                                      self->options_.max_frame_bytes, &prefix);
        if (!st.ok()) return self->Fail("bad frame", st.ToString());
        self->ReadRest(prefix);
      }));
}

void Connection::ReadRest(wire::FramePrefix prefix) {
  rest_.resize(prefix.remaining());
  asio::async_read(
      socket_, asio::buffer(rest_),
      asio::bind_executor(strand_, [self = shared_from_this(), prefix](
                                       boost::system::error_code ec, size_t) {
        if (ec) return self->Fail("read", ec.message());
        wire::Frame frame;
        Status st = wire::ParseRest(prefix, self->rest_, &frame);
        if (!st.ok()) return self->Fail("bad frame", st.ToString());
        self->sink_->OnRequest(self, std::move(frame));
        self->ReadPrefix();
      }));
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
    ReadPrefix();
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
