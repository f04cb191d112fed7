#include "console/console.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string_view>

#include "console/api.h"
#include "console/auth.h"
#include "console/http_server.h"
#include "console/metrics_text.h"
#include "console/web_assets.h"

namespace tidemq::console {

using nlohmann::json;

namespace {

constexpr std::string_view kApiPrefix = "/api/v1/";
constexpr char kSessionCookie[] = "tidemq_session";
// Failed logins per minute, broker-wide, before logins are refused for the rest of it.
constexpr int kMaxFailedLoginsPerMinute = 30;

std::string CookieValue(const std::string& header, std::string_view name) {
  std::string_view rest = header;
  while (!rest.empty()) {
    const size_t semi = rest.find(';');
    std::string_view part = rest.substr(0, semi);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.substr(0, name.size()) == name &&
        part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
    if (semi == std::string_view::npos) break;
    rest.remove_prefix(semi + 1);
  }
  return {};
}

bool Unsafe(const std::string& method) { return method != "GET" && method != "HEAD"; }

}  // namespace

class Console::Impl {
 public:
  Impl(broker::BrokerCore* core, const ConsoleOptions& options, Tokens tokens, bool created)
      : core_(core),
        options_(options),
        sessions_(tokens),
        api_(core),
        new_admin_token_(created ? tokens.admin : "") {}

  Status Start() {
    HttpServerOptions o;
    o.host = options_.host;
    o.port = options_.port;
    auto server = HttpServer::Start(o, [this](HttpRequest req, Reply reply) {
      Handle(std::move(req), std::move(reply));
    });
    if (!server.ok()) return server.status();
    server_ = std::move(*server);
    port_ = server_->port();
    return Status::Ok();
  }

  void Stop() {
    if (server_) server_->Stop();
  }

  uint16_t port() const { return port_; }
  std::string url() const { return "http://" + options_.host + ":" + std::to_string(port_) + "/"; }
  std::string token_file() const { return options_.data_dir + "/" + kTokenFileName; }
  const std::string& new_admin_token() const { return new_admin_token_; }

 private:
  // Host must name this server: a page on another site that rebinds its name to 127.0.0.1
  // sends its own name.
  bool HostAllowed(const HttpRequest& req) const {
    const std::string host = req.Header("host");
    const std::string port = ":" + std::to_string(port_);
    if (options_.host == "0.0.0.0" || options_.host == "::") return true;  // any name: opted in
    return host == options_.host + port || host == "127.0.0.1" + port ||
           host == "localhost" + port || host == "[::1]" + port;
  }

  void Handle(HttpRequest req, Reply reply) {
    if (!HostAllowed(req)) {
      return reply(ErrorResponse(421, "INVALID_ARGUMENT",
                                 "the Host header does not name this server"));
    }
    const std::string& path = req.path;
    if (path == "/metrics" && req.method == "GET") return Metrics(reply);
    if (path == "/healthz" && req.method == "GET") {
      const bool serving = core_->serving();
      return reply(JsonResponse(serving ? 200 : 503,
                                json{{"status", serving ? "serving" : "not serving"}}.dump()));
    }
    if (path.starts_with(kApiPrefix)) return Api(req, std::string_view(path).substr(kApiPrefix.size()), reply);
    if (req.method == "GET") return Asset(path, reply);
    reply(ErrorResponse(405, "INVALID_ARGUMENT", "method not allowed"));
  }

  void Metrics(const Reply& reply) {
    HttpResponse r;
    r.content_type = kMetricsContentType;
    std::optional<broker::RoutesInfo> routes;
    if (core_->clustered()) routes = core_->Routes({});
    r.body = RenderMetrics(core_->Metrics(), core_->Replication(), core_->config(),
                           routes ? &*routes : nullptr);
    reply(std::move(r));
  }

  void Asset(const std::string& path, const Reply& reply) {
    const WebAsset* asset = FindWebAsset(path == "/" ? "/index.html" : path);
    if (asset == nullptr) return reply(ErrorResponse(404, "NOT_FOUND", "no such page"));
    HttpResponse r;
    r.content_type = asset->content_type;
    r.body.assign(asset->data, asset->size);
    // The page loads only its own scripts and styles and talks only to this server.
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    reply(std::move(r));
  }

  void Api(const HttpRequest& req, std::string_view rest, const Reply& reply) {
    if (rest == "login" && req.method == "POST") return Login(req, reply);
    // Who is asking: a bearer token, or a session cookie.
    Role role = Role::kNone;
    bool by_cookie = false;
    std::string csrf;
    const std::string auth = req.Header("authorization");
    const std::string sid = CookieValue(req.Header("cookie"), kSessionCookie);
    if (auth.starts_with("Bearer ")) {
      role = sessions_.RoleOf(std::string_view(auth).substr(7));
    } else if (!sid.empty()) {
      if (auto s = sessions_.Find(sid, core_->clock()->NowMs())) {
        role = s->role;
        csrf = s->csrf;
        by_cookie = true;
      }
    }
    if (role == Role::kNone) {
      return reply(ErrorResponse(401, "UNAUTHORIZED",
                                 "log in with the console token (see " + token_file() + ")"));
    }
    if (by_cookie && Unsafe(req.method)) {
      // A cookie comes with any request the browser makes, whoever's page asks: a change
      // must also carry the session's CSRF token, which only our page knows.
      const std::string origin = req.Header("origin");
      if (req.Header("x-csrf-token") != csrf ||
          (!origin.empty() && origin != "http://" + req.Header("host"))) {
        return reply(ErrorResponse(403, "FORBIDDEN", "missing or wrong CSRF token"));
      }
    }
    if (rest == "session" && req.method == "GET") {
      return reply(JsonResponse(200, json{{"role", RoleName(role)}, {"csrf", csrf}}.dump()));
    }
    if (rest == "logout" && req.method == "POST") {
      sessions_.Close(sid);
      HttpResponse r = JsonResponse(200, R"({"logged_out":true})");
      r.headers.emplace_back("Set-Cookie", std::string(kSessionCookie) +
                                               "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
      return reply(std::move(r));
    }
    if (role == Role::kRead && Unsafe(req.method)) {
      return reply(ErrorResponse(403, "FORBIDDEN", "the read-only token cannot change anything"));
    }
    api_.Handle(req, rest, reply);
  }

  void Login(const HttpRequest& req, const Reply& reply) {
    const int64_t minute = core_->clock()->MonotonicMs() / 60'000;
    if (failed_minute_.load() == minute && failed_logins_.load() >= kMaxFailedLoginsPerMinute) {
      return reply(ErrorResponse(429, "RESOURCE_EXHAUSTED", "too many failed logins: wait a minute"));
    }
    json body = json::parse(req.body, nullptr, false);
    std::string token;
    if (body.is_object() && body.contains("token") && body["token"].is_string()) {
      token = body["token"].get<std::string>();
    }
    const Role role = sessions_.RoleOf(token);
    if (role == Role::kNone) {
      if (failed_minute_.exchange(minute) != minute) failed_logins_ = 0;
      failed_logins_.fetch_add(1);
      return reply(ErrorResponse(401, "UNAUTHORIZED", "wrong token"));
    }
    auto [id, session] = sessions_.Open(role, core_->clock()->NowMs());
    HttpResponse r = JsonResponse(200, json{{"role", RoleName(role)}, {"csrf", session.csrf}}.dump());
    r.headers.emplace_back("Set-Cookie", std::string(kSessionCookie) + "=" + id +
                                             "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                                             std::to_string(Sessions::kLifetimeMs / 1000));
    reply(std::move(r));
  }

  broker::BrokerCore* const core_;
  const ConsoleOptions options_;
  Sessions sessions_;
  AdminApi api_;
  const std::string new_admin_token_;
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
  std::atomic<int64_t> failed_minute_{-1};
  std::atomic<int> failed_logins_{0};
};

Result<std::unique_ptr<Console>> Console::Start(broker::BrokerCore* core,
                                                const ConsoleOptions& options) {
  bool created = false;
  ASSIGN_OR_RETURN(Tokens tokens, LoadOrCreateTokens(options.data_dir, options.admin_token,
                                                     options.read_token, &created));
  auto impl = std::make_unique<Impl>(core, options, std::move(tokens), created);
  RETURN_IF_ERROR(impl->Start());
  return std::unique_ptr<Console>(new Console(std::move(impl)));
}

Console::Console(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Console::~Console() { Stop(); }
uint16_t Console::port() const { return impl_->port(); }
std::string Console::url() const { return impl_->url(); }
std::string Console::token_file() const { return impl_->token_file(); }
std::string Console::new_admin_token() const { return impl_->new_admin_token(); }
void Console::Stop() { impl_->Stop(); }

}  // namespace tidemq::console
