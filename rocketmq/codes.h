// TideMQ's status codes (common/status.h) as the RocketMQ 5 API's (apache.rocketmq.v2.Code),
// the way the official clients read them: a client retries, refreshes its route or gives up
// by the code, and shows the message.
#pragma once

#include "common/status.h"
#include "rocketmq/v2/definition.pb.h"

namespace tidemq::rocketmq {

namespace v2 = ::apache::rocketmq::v2;

v2::Code ToRocketMqCode(Code code);
// An apache.rocketmq.v2.Status for `status` (OK when it is).
v2::Status ToRocketMqStatus(const Status& status);
v2::Status OkStatus();
v2::Status MakeStatus(v2::Code code, std::string message);

}  // namespace tidemq::rocketmq
