// How orders travel: the "orders" topic, the producer group whose members answer check-backs,
// and the message of one order (key and "order_id" property = the order id, JSON body).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "examples/order_service/order_db.h"
#include "tidemq/message.h"

namespace order_service {

inline constexpr char kTopic[] = "orders";
inline constexpr uint32_t kTopicQueues = 4;
// Every order_service process that sends or checks is a member of this producer group: the
// broker asks any live member about a transaction left open by another (e.g. a crashed one).
inline constexpr char kProducerGroup[] = "order-service";
inline constexpr char kOrderIdProperty[] = "order_id";
inline constexpr char kCreatedTag[] = "created";

// The order's message; check_timeout_ms 0: the broker's --txn-check-timeout-ms.
tidemq::Result<tidemq::Message> MakeOrderMessage(const Order& order, int64_t check_timeout_ms);
// The order id a message carries (the "order_id" property, else its first key); "" if none.
std::string OrderIdOf(const tidemq::ReceivedMessage& m);
// The order in a message body; InvalidArgument when the body is not an order.
tidemq::Result<Order> OrderFromBody(const std::string& body);
// "2 x blue-widget for ada ($19.98)".
std::string Describe(const Order& order);

// Creates the topic unless it exists (any number of processes may race to do so).
tidemq::Status EnsureOrdersTopic(const std::string& addr);

}  // namespace order_service
