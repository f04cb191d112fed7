// A request being served: the frame it came in and the connection to answer on. Cheap to
// copy; Reply may be called from any thread (it posts to the connection's strand).
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "broker/connection.h"
#include "common/status.h"
#include "proto/frame.h"

namespace tidemq::broker {

struct Request {
  std::shared_ptr<Connection> conn;
  std::shared_ptr<const wire::Frame> frame;

  const wire::Header& header() const { return frame->header; }
  // Fills in request id, kind and is_response, encodes and queues the reply.
  void Reply(wire::Header response, const std::vector<std::string_view>& bodies = {}) const;
  void ReplyError(const Status& status) const;
};

}  // namespace tidemq::broker
