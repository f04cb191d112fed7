// The JSON admin API (docs/console.md, "JSON API"): /api/v1/... over the broker core's
// AdminService and MessageService. The web console's pages use it, and so can scripts with a
// bearer token. An adapter: it decodes the request, makes one call to the core, encodes what
// comes back; validation and defaults are the core's (so the CLI over the native protocol and
// this API answer alike).
//
// Threads: Handle runs on the HTTP worker; calls that end in an append answer through
// `reply` later, from the store's writer thread or the DLQ worker.
#pragma once

#include <string_view>

#include "broker/core/broker_core.h"
#include "console/auth.h"
#include "console/http_server.h"

namespace tidemq::console {

class AdminApi {
 public:
  explicit AdminApi(broker::BrokerCore* core) : core_(core) {}

  // `path` is what follows "/api/v1/"; the caller checked that `role` may make this request
  // (read: GET only).
  void Handle(const HttpRequest& req, std::string_view path, Reply reply);

 private:
  broker::BrokerCore* const core_;
};

// Helpers shared with the console's own routes.
HttpResponse JsonResponse(int status, const std::string& json);
HttpResponse ErrorResponse(const Status& st);
HttpResponse ErrorResponse(int http_status, std::string_view code, std::string_view message);
int HttpStatusOf(Code code);

}  // namespace tidemq::console
