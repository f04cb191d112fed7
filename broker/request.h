// A request being served: the frame it came in and the connection to answer on. Cheap to
// copy; Reply may be called from any thread (it posts to the connection's strand). The frame
// carries the connection's in-flight charge for it (broker/connection.h): it goes back when
// the last copy of the request is gone.
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
  std::shared_ptr<const wire::ArenaFrame> frame;
  // The cluster's route revision when the request arrived (docs/cluster.md): every reply
  // carries it, so that clients with older routes ask for new ones. 0 outside a cluster.
  int64_t route_revision = 0;

  const wire::Header& header() const { return frame->header(); }
  // Fills in request id, kind and is_response, encodes and queues the reply. `written`, when
  // set, learns whether the reply reached the socket (false: the connection closed first).
  void Reply(wire::Header response, const std::vector<std::string_view>& bodies = {},
             Connection::Written written = nullptr) const;
  void ReplyError(const Status& status) const;
};

}  // namespace tidemq::broker
