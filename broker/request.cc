#include "broker/request.h"

#include "broker/error_mapping.h"

namespace tidemq::broker {

void Request::Reply(wire::Header response, const std::vector<std::string_view>& bodies,
                    Connection::Written written) const {
  response.set_request_id(frame->header().request_id());
  response.set_kind(frame->header().kind());
  response.set_is_response(true);
  if (route_revision != 0) response.set_route_revision(route_revision);
  std::string out;
  wire::EncodeFrame(response, bodies, &out);
  conn->Send(std::move(out), std::move(written));
}

void Request::ReplyError(const Status& status) const {
  wire::Header h;
  SetResponseStatus(status, &h);
  Reply(std::move(h));
}

}  // namespace tidemq::broker
