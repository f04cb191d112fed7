#include "examples/order_service/order_messages.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "tidemq/admin.h"

namespace order_service {

tidemq::Result<tidemq::Message> MakeOrderMessage(const Order& order, int64_t check_timeout_ms) {
  nlohmann::json body = {{"order_id", order.id},
                         {"customer", order.customer},
                         {"item", order.item},
                         {"quantity", order.quantity},
                         {"amount_cents", order.amount_cents},
                         {"created_ms", order.created_ms}};
  auto b = tidemq::Message::NewBuilder();
  b.Topic(kTopic)
      .Tag(kCreatedTag)
      .Key(order.id)
      .Property(kOrderIdProperty, order.id)
      .Body(body.dump());
  if (check_timeout_ms > 0) b.TransactionCheckTimeout(check_timeout_ms);
  return b.Build();
}

std::string OrderIdOf(const tidemq::ReceivedMessage& m) {
  if (auto it = m.properties().find(kOrderIdProperty); it != m.properties().end()) {
    return it->second;
  }
  return m.keys().empty() ? "" : m.keys().front();
}

tidemq::Result<Order> OrderFromBody(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return tidemq::InvalidArgument("body is not a JSON object");
  Order o;
  o.id = j.value("order_id", "");
  o.customer = j.value("customer", "");
  o.item = j.value("item", "");
  o.quantity = j.value("quantity", 0);
  o.amount_cents = j.value("amount_cents", int64_t{0});
  o.created_ms = j.value("created_ms", int64_t{0});
  if (o.id.empty()) return tidemq::InvalidArgument("body has no order_id");
  return o;
}

std::string Describe(const Order& order) {
  char amount[48];
  std::snprintf(amount, sizeof(amount), "$%lld.%02lld",
                static_cast<long long>(order.amount_cents / 100),
                static_cast<long long>(order.amount_cents % 100));
  return std::to_string(order.quantity) + " x " + order.item + " for " + order.customer + " (" +
         amount + ")";
}

tidemq::Status EnsureOrdersTopic(const std::string& addr) {
  ASSIGN_OR_RETURN(tidemq::Admin admin, tidemq::Admin::NewBuilder().Endpoint(addr).Build());
  auto info = admin.DescribeTopic(kTopic);
  if (info.ok()) return tidemq::Status::Ok();
  if (info.status().code() != tidemq::Code::kTopicNotFound &&
      info.status().code() != tidemq::Code::kNotFound) {
    return info.status();
  }
  auto created = admin.CreateTopic(kTopic, kTopicQueues);
  if (!created.ok() && created.status().code() != tidemq::Code::kAlreadyExists) {
    return created.status();
  }
  return tidemq::Status::Ok();
}

}  // namespace order_service
