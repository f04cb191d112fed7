#include "console/http_server.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <future>
#include <optional>
#include <set>
#include <thread>

#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace tidemq::console {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr size_t kMaxHeaderBytes = 16 << 10;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void ParseQuery(std::string_view q, std::vector<std::pair<std::string, std::string>>* out) {
  while (!q.empty()) {
    const size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    out->emplace_back(PercentDecode(part.substr(0, eq), true),
                      eq == std::string_view::npos ? std::string()
                                                   : PercentDecode(part.substr(eq + 1), true));
  }
}

}  // namespace

void SplitTarget(std::string target, HttpRequest* req) {
  req->target = std::move(target);
  const size_t q = req->target.find('?');
  req->path = PercentDecode(std::string_view(req->target).substr(0, q), false);
  req->query.clear();
  if (q != std::string::npos) ParseQuery(std::string_view(req->target).substr(q + 1), &req->query);
}

std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

std::string HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

std::string HttpRequest::Param(std::string_view name, std::string fallback) const {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return fallback;
}

bool HttpRequest::HasParam(std::string_view name) const {
  return std::any_of(query.begin(), query.end(), [&](const auto& kv) { return kv.first == name; });
}

class HttpServer::Impl : public std::enable_shared_from_this<HttpServer::Impl> {
 public:
  Impl(const HttpServerOptions& options, HttpHandler handler)
      : options_(options), handler_(std::move(handler)), acceptor_(io_), workers_(1) {}

  Status Listen() {
    beast::error_code ec;
    const auto address = net::ip::make_address(options_.host, ec);
    if (ec) return InvalidArgument("HTTP host '" + options_.host + "': " + ec.message());
    const tcp::endpoint ep(address, options_.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status(Code::kUnavailable, "cannot listen for HTTP on " + options_.host + ":" +
                                            std::to_string(options_.port) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    return Status::Ok();
  }

  void Run() {
    Accept();
    thread_ = std::thread([self = shared_from_this()] {
      pthread_setname_np(pthread_self(), "tidemq-http");
      self->io_.run();
    });
    net::post(workers_, [] { pthread_setname_np(pthread_self(), "tidemq-http-w"); });
  }

  class Session : public std::enable_shared_from_this<Session> {
   public:
    Session(std::shared_ptr<Impl> server, tcp::socket socket)
        : server_(std::move(server)), stream_(std::move(socket)) {}

    void Start() {
      beast::error_code ec;
      const auto remote = stream_.socket().remote_endpoint(ec);
      peer_ = ec ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port());
      Read();
    }

    void Close() {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      stream_.close();
    }

   private:
    void Read() {
      parser_.emplace();
      parser_->header_limit(kMaxHeaderBytes);
      parser_->body_limit(server_->options_.max_body_bytes);
      // A keep-alive connection waits idle_timeout for the next request; a request must
      // then be complete within request_timeout.
      stream_.expires_after(first_ ? server_->options_.request_timeout
                                   : server_->options_.idle_timeout);
      first_ = false;
      http::async_read(stream_, buffer_, *parser_,
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         self->OnRead(ec);
                       });
    }

    void OnRead(beast::error_code ec) {
      if (ec == http::error::end_of_stream || ec == net::error::operation_aborted ||
          ec == beast::error::timeout || ec == net::error::connection_reset) {
        return Close();
      }
      if (ec) {
        // Malformed or over a limit: say so, then close.
        HttpResponse r;
        r.status = ec == http::error::body_limit     ? 413
                   : ec == http::error::header_limit ? 431
                                                     : 400;
        r.body = R"({"error":{"code":"INVALID_ARGUMENT","message":")" +
                 std::string(r.status == 413   ? "request body too large"
                             : r.status == 431 ? "request headers too large"
                                               : "malformed HTTP request") +
                 "\"}}";
        keep_alive_ = false;
        return Write(std::move(r));
      }
      auto& msg = parser_->get();
      keep_alive_ = msg.keep_alive();
      HttpRequest req;
      req.method = std::string(msg.method_string());
      SplitTarget(std::string(msg.target()), &req);
      for (const auto& field : msg) {
        const auto name = field.name_string();
        req.headers.emplace_back(Lower(std::string_view(name.data(), name.size())),
                                 std::string(field.value()));
      }
      req.body = std::move(msg.body());
      req.peer = peer_;
      stream_.expires_never();
      auto self = shared_from_this();
      net::post(server_->workers_, [self, req = std::move(req)]() mutable {
        Reply reply = [self](HttpResponse r) {
          net::post(self->stream_.get_executor(),
                    [self, r = std::move(r)]() mutable { self->Write(std::move(r)); });
        };
        self->server_->handler_(std::move(req), std::move(reply));
      });
    }

    void Write(HttpResponse r) {
      auto res = std::make_shared<http::response<http::string_body>>();
      res->version(11);
      res->result(static_cast<http::status>(r.status));
      res->set(http::field::server, "TideMQ");
      res->set(http::field::content_type, r.content_type);
      // Every answer: no caching of admin data, no sniffing, no framing by other sites.
      res->set(http::field::cache_control, "no-store");
      res->set("X-Content-Type-Options", "nosniff");
      res->set("X-Frame-Options", "DENY");
      res->set("Referrer-Policy", "no-referrer");
      for (auto& [k, v] : r.headers) res->insert(k, v);
      res->keep_alive(keep_alive_);
      res->body() = std::move(r.body);
      res->prepare_payload();
      stream_.expires_after(server_->options_.request_timeout);
      http::async_write(stream_, *res,
                        [self = shared_from_this(), res](beast::error_code ec, size_t) {
                          if (ec || !self->keep_alive_) return self->Close();
                          self->Read();
                        });
    }

    std::shared_ptr<Impl> server_;
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::string peer_;
    bool keep_alive_ = true;
    bool first_ = true;
  };

  void Stop() {
    if (stopped_.exchange(true)) return;
    std::promise<void> closed;
    net::post(io_, [this, &closed] {
      beast::error_code ec;
      acceptor_.close(ec);
      std::vector<std::shared_ptr<Session>> open;
      {
        MutexLock lock(sessions_mu_);
        for (const auto& w : sessions_) {
          if (auto s = w.lock()) open.push_back(std::move(s));
        }
      }
      for (auto& s : open) s->Close();
      closed.set_value();
    });
    closed.get_future().wait();
    // Handlers in flight finish (they may use the broker core); no new ones start.
    workers_.join();
    io_.stop();
    if (thread_.joinable()) thread_.join();
    // What the closes completed (aborted reads and writes) runs now and lets the sessions
    // go. A reply that comes later is posted to a stopped context and never written.
    io_.restart();
    io_.poll();
  }

  uint16_t port() const { return port_; }

 private:
  void Accept() {
    acceptor_.async_accept(net::make_strand(io_), [self = shared_from_this()](
                                                      beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || self->stopped_) return;
      if (!ec) self->Admit(std::move(socket));
      self->Accept();
    });
  }

  void Admit(tcp::socket socket) {
    MutexLock lock(sessions_mu_);
    // Forget the closed ones first, then refuse past the bound.
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      it = it->expired() ? sessions_.erase(it) : std::next(it);
    }
    if (sessions_.size() >= options_.max_connections) {
      beast::error_code ec;
      socket.close(ec);
      return;
    }
    auto s = std::make_shared<Session>(shared_from_this(), std::move(socket));
    sessions_.insert(s);
    s->Start();
  }

  const HttpServerOptions options_;
  const HttpHandler handler_;
  net::io_context io_;
  tcp::acceptor acceptor_;
  net::thread_pool workers_;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
  uint16_t port_ = 0;
  Mutex sessions_mu_;
  std::set<std::weak_ptr<Session>, std::owner_less<std::weak_ptr<Session>>> sessions_
      GUARDED_BY(sessions_mu_);
};

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      HttpHandler handler) {
  auto impl = std::make_shared<Impl>(options, std::move(handler));
  RETURN_IF_ERROR(impl->Listen());
  impl->Run();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

uint16_t HttpServer::port() const { return impl_->port(); }

void HttpServer::Stop() { impl_->Stop(); }

}  // namespace tidemq::console
