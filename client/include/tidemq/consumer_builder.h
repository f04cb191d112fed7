// The options every consumer shares (SimpleConsumer and PushConsumer), set fluently. A CRTP
// base, so each setter returns the concrete builder and calls chain into its own options.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tidemq {

template <typename Derived>
class ConsumerBuilder {
 public:
  // "host:port", or the brokers of a group "h1:p1,h2:p2,h3:p3" (the client finds and follows
  // the master; see client/README.md); default 127.0.0.1:9810.
  Derived& Endpoint(std::string endpoint) {
    endpoint_ = std::move(endpoint);
    return self();
  }
  // The same as a list: Endpoints({"h1:p1", "h2:p2"}).
  Derived& Endpoints(const std::vector<std::string>& endpoints) {
    endpoint_.clear();
    for (const auto& e : endpoints) endpoint_ += (endpoint_.empty() ? "" : ",") + e;
    return self();
  }
  Derived& Group(std::string group) {  // consumer group, required
    group_ = std::move(group);
    return self();
  }
  Derived& Topic(std::string topic) {  // required
    topic_ = std::move(topic);
    return self();
  }
  // "*" (default) or "a||b||c".
  Derived& TagFilter(std::string expression) {
    tag_filter_ = std::move(expression);
    return self();
  }
  // Long-poll wait per receive; default 20000 ms.
  Derived& AwaitDuration(int64_t ms) {
    await_ms_ = ms;
    return self();
  }
  // Invisible duration of each received message; default 30000 ms.
  Derived& LeaseDuration(int64_t ms) {
    lease_ms_ = ms;
    return self();
  }
  Derived& RequestTimeout(int64_t ms) {  // default 5000 ms
    request_timeout_ms_ = ms;
    return self();
  }
  Derived& ClientId(std::string client_id) {  // generated when empty
    client_id_ = std::move(client_id);
    return self();
  }
  // How long a call keeps following the master through a failover (re-issued after a broken
  // connection, NOT_MASTER, NOT_ENOUGH_REPLICAS, UNAVAILABLE); default 10000 ms, 0: off.
  Derived& FailoverDeadline(int64_t ms) {
    failover_deadline_ms_ = ms;
    return self();
  }

 protected:
  Derived& self() { return static_cast<Derived&>(*this); }

  std::string endpoint_ = "127.0.0.1:9810";
  std::string group_;
  std::string topic_;
  std::string tag_filter_ = "*";
  std::string client_id_;
  int64_t await_ms_ = 20000;
  int64_t lease_ms_ = 30000;
  int64_t request_timeout_ms_ = 5000;
  int64_t failover_deadline_ms_ = 10'000;
};

}  // namespace tidemq
