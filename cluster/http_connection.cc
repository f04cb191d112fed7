#include "cluster/http_connection.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <limits>

namespace tidemq::cluster {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

struct HttpConnection::Impl {
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  std::optional<http::response_parser<http::buffer_body>> stream_parser;
  bool open = false;

  Mutex mu;
  bool interrupted GUARDED_BY(mu) = false;

  // Runs the io_context until the operation sets *done; kCancelled when interrupted first (the
  // operation is then abandoned: the io_context never runs again).
  Status Run(const bool* done) EXCLUDES(mu) {
    {
      MutexLock lock(mu);
      if (interrupted) return Status(Code::kCancelled, "etcd connection interrupted");
      ioc.restart();
    }
    ioc.run();
    if (!*done) return Status(Code::kCancelled, "etcd connection interrupted");
    return Status::Ok();
  }

  void SetDeadline(Deadline deadline) {
    if (deadline == Deadline::max()) {
      stream.expires_never();
    } else {
      stream.expires_at(deadline);
    }
  }

  void Close() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
    buffer.consume(buffer.size());
    stream_parser.reset();
    open = false;
  }

  // Closes the connection and turns an Asio error into a Status.
  Status Fail(const beast::error_code& ec, const std::string& endpoint, const char* what) {
    Close();
    if (ec == beast::error::timeout) {
      return Status(Code::kTimeout, std::string("etcd ") + endpoint + ": " + what + " timed out");
    }
    return Status(Code::kUnavailable,
                  std::string("etcd ") + endpoint + ": " + what + ": " + ec.message());
  }
};

HttpConnection::HttpConnection() : impl_(std::make_unique<Impl>()) {}
HttpConnection::~HttpConnection() = default;

bool HttpConnection::connected() const { return impl_->open; }

void HttpConnection::Close() {
  impl_->Close();
  exchanges_ = 0;
}

void HttpConnection::Interrupt() {
  MutexLock lock(impl_->mu);
  impl_->interrupted = true;
  impl_->ioc.stop();
}

Status HttpConnection::Connect(const std::string& endpoint, Deadline deadline) {
  if (impl_->open && endpoint == endpoint_) return Status::Ok();
  Close();
  endpoint_ = endpoint;
  std::string hostport = endpoint;
  if (hostport.rfind("http://", 0) == 0) hostport = hostport.substr(7);
  size_t colon = hostport.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == hostport.size()) {
    return InvalidArgument("etcd endpoint '" + endpoint + "' is not host:port");
  }
  std::string host = hostport.substr(0, colon);
  std::string port = hostport.substr(colon + 1);
  beast::error_code ec;
  tcp::resolver resolver(impl_->ioc);
  auto results = resolver.resolve(host, port, ec);
  if (ec) return Status(Code::kUnavailable, "etcd " + endpoint + ": resolve: " + ec.message());
  impl_->SetDeadline(deadline);
  bool done = false;
  impl_->stream.async_connect(results, [&](beast::error_code e, const tcp::endpoint&) {
    ec = e;
    done = true;
  });
  RETURN_IF_ERROR(impl_->Run(&done));
  if (ec) return impl_->Fail(ec, endpoint_, "connect");
  beast::error_code ignored;
  impl_->stream.socket().set_option(tcp::no_delay(true), ignored);
  impl_->open = true;
  exchanges_ = 0;
  return Status::Ok();
}

namespace {

http::request<http::string_body> MakePost(const std::string& endpoint, const std::string& path,
                                          const std::string& body) {
  http::request<http::string_body> req{http::verb::post, path, 11};
  req.set(http::field::host, endpoint);
  req.set(http::field::content_type, "application/json");
  req.keep_alive(true);
  req.body() = body;
  req.prepare_payload();
  return req;
}

}  // namespace

Status HttpConnection::SendPost(const std::string& path, const std::string& body,
                                Deadline deadline) {
  if (!impl_->open) return Status(Code::kUnavailable, "etcd connection is not open");
  auto req = MakePost(endpoint_, path, body);
  impl_->SetDeadline(deadline);
  beast::error_code ec;
  bool done = false;
  http::async_write(impl_->stream, req, [&](beast::error_code e, size_t) {
    ec = e;
    done = true;
  });
  RETURN_IF_ERROR(impl_->Run(&done));
  if (ec) return impl_->Fail(ec, endpoint_, "write");
  return Status::Ok();
}

Result<HttpResponse> HttpConnection::Post(const std::string& path, const std::string& body,
                                          Deadline deadline, size_t max_body) {
  RETURN_IF_ERROR(SendPost(path, body, deadline));
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body);
  beast::error_code ec;
  bool done = false;
  http::async_read(impl_->stream, impl_->buffer, parser, [&](beast::error_code e, size_t) {
    ec = e;
    done = true;
  });
  RETURN_IF_ERROR(impl_->Run(&done));
  if (ec) return impl_->Fail(ec, endpoint_, "read");
  ++exchanges_;
  auto res = parser.release();
  if (!res.keep_alive()) Close();
  return HttpResponse{static_cast<int>(res.result_int()), std::move(res.body())};
}

Result<int> HttpConnection::StartStream(const std::string& path, const std::string& body,
                                        Deadline deadline) {
  RETURN_IF_ERROR(SendPost(path, body, deadline));
  impl_->stream_parser.emplace();
  impl_->stream_parser->body_limit(std::numeric_limits<std::uint64_t>::max());  // a stream
  beast::error_code ec;
  bool done = false;
  http::async_read_header(impl_->stream, impl_->buffer, *impl_->stream_parser,
                          [&](beast::error_code e, size_t) {
                            ec = e;
                            done = true;
                          });
  RETURN_IF_ERROR(impl_->Run(&done));
  if (ec) return impl_->Fail(ec, endpoint_, "read header");
  ++exchanges_;
  return static_cast<int>(impl_->stream_parser->get().result_int());
}

Result<std::string> HttpConnection::ReadStream(Deadline deadline) {
  if (!impl_->open || !impl_->stream_parser) {
    return Status(Code::kUnavailable, "etcd stream is not open");
  }
  auto& parser = *impl_->stream_parser;
  char chunk[16384];
  // A read may end after a chunk header with no body bytes yet: read again.
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof(chunk);
    impl_->SetDeadline(deadline);
    beast::error_code ec;
    bool done = false;
    // read_some: return with what has arrived (read would wait for the whole body).
    http::async_read_some(impl_->stream, impl_->buffer, parser, [&](beast::error_code e, size_t) {
      ec = e;
      done = true;
    });
    RETURN_IF_ERROR(impl_->Run(&done));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return impl_->Fail(ec, endpoint_, "read stream");
    size_t n = sizeof(chunk) - parser.get().body().size;
    if (n > 0) return std::string(chunk, n);
  }
  return std::string();
}

bool HttpConnection::stream_done() const {
  return impl_->stream_parser.has_value() && impl_->stream_parser->is_done();
}

Result<HttpResponse> HttpConnection::PostFirstLine(const std::string& path, const std::string& body,
                                                   Deadline deadline, size_t max_line) {
  ASSIGN_OR_RETURN(int status, StartStream(path, body, deadline));
  HttpResponse res{status, {}};
  while (res.body.find('\n') == std::string::npos && res.body.size() <= max_line) {
    ASSIGN_OR_RETURN(std::string more, ReadStream(deadline));
    if (more.empty()) break;  // the stream ended
    res.body += more;
  }
  if (!stream_done()) {
    Close();  // the rest of the stream would be read as the next answer
  } else {
    impl_->stream_parser.reset();
  }
  return res;
}

}  // namespace tidemq::cluster
