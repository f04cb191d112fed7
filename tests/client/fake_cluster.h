// A scripted cluster of broker groups for client tests: each group is one fake broker on
// 127.0.0.1 that serves any number of connections (a thread each) and answers every request
// at once from the cluster's shared state: QUERY_ROUTE from the routes the test sets (every
// response stamped with their revision, as a clustered broker does), SEND with results for
// the queue asked, RECEIVE with the messages the test queued on that group, ACK / NACK by
// recording the handles; a per-group hook may answer (or hold: no answer) anything first.
// Kill() makes a group vanish: connections closed, the port refusing. Tests wait on
// conditions (WaitFor), never on time.
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "proto/frame.h"

namespace tidemq::client::testing {

class FakeCluster;

// What a hook makes of a request: nullopt lets the default answer it; a Reply answers it
// (hold = true: never).
struct Reply {
  wire::Header header;
  std::string body;
  bool hold = false;
};
using Hook = std::function<std::optional<Reply>(const wire::Frame& request)>;

class FakeGroup {
 public:
  FakeGroup(FakeCluster* cluster, std::string name)
      : cluster_(cluster),
        name_(std::move(name)),
        acceptor_(io_, boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0)) {
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~FakeGroup() { Kill(); }

  const std::string& name() const { return name_; }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

  void SetHook(Hook hook) {
    std::lock_guard<std::mutex> lock(mu_);
    hook_ = std::move(hook);
  }

  // Requests of `kind` received so far, in order.
  std::vector<wire::Frame> Received(wire::RequestKind kind) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<wire::Frame> out;
    for (const auto& f : received_) {
      if (f.header.kind() == kind) out.push_back(f);
    }
    return out;
  }
  int connections() {
    std::lock_guard<std::mutex> lock(mu_);
    return connections_;
  }

  // Messages the next RECEIVE of this group hands out (receipt handle "h-<message id>").
  void QueueMessage(const std::string& topic, const std::string& message_id) {
    std::lock_guard<std::mutex> lock(mu_);
    wire::Message m;
    m.set_topic(topic);
    m.set_message_id(message_id);
    m.set_body_size(static_cast<uint32_t>(message_id.size()));
    m.set_receipt_handle("h-" + message_id);
    m.set_delivery_attempt(1);
    to_deliver_.push_back(std::move(m));
  }

  // Closes every connection and stops listening: the whole group is gone. Idempotent.
  void Kill() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (killed_) return;
      killed_ = true;
      for (auto& s : sockets_) ::shutdown(s->native_handle(), SHUT_RDWR);
    }
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    if (accept_thread_.joinable()) accept_thread_.join();
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

 private:
  friend class FakeCluster;

  void AcceptLoop() {
    while (true) {
      auto socket = std::make_shared<boost::asio::ip::tcp::socket>(io_);
      boost::system::error_code ec;
      acceptor_.accept(*socket, ec);
      std::lock_guard<std::mutex> lock(mu_);
      if (ec || killed_) return;
      ++connections_;
      sockets_.push_back(socket);
      threads_.emplace_back([this, socket] { Serve(socket); });
    }
  }

  void Serve(std::shared_ptr<boost::asio::ip::tcp::socket> socket) {
    while (true) {
      std::string prefix(wire::kPrefixSize, '\0');
      boost::system::error_code ec;
      boost::asio::read(*socket, boost::asio::buffer(prefix), ec);
      if (ec) return;
      wire::FramePrefix p;
      if (!wire::ParsePrefix(prefix, wire::kDefaultMaxFrameBytes, &p).ok()) return;
      std::string rest(p.remaining(), '\0');
      boost::asio::read(*socket, boost::asio::buffer(rest), ec);
      if (ec) return;
      wire::Frame f;
      if (!wire::ParseRest(p, rest, &f).ok()) return;
      std::optional<Reply> reply = Answer(f);
      if (!reply || reply->hold) continue;
      reply->header.set_request_id(f.header.request_id());
      reply->header.set_kind(f.header.kind());
      reply->header.set_is_response(true);
      std::string out;
      wire::EncodeFrame(reply->header, reply->body, &out);
      boost::asio::write(*socket, boost::asio::buffer(out), ec);
      if (ec) return;
    }
  }

  std::optional<Reply> Answer(const wire::Frame& f);

  FakeCluster* cluster_;
  std::string name_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread accept_thread_;

  std::mutex mu_;
  bool killed_ = false;
  Hook hook_;
  int connections_ = 0;
  std::vector<wire::Frame> received_;
  std::vector<wire::Message> to_deliver_;
  std::vector<std::shared_ptr<boost::asio::ip::tcp::socket>> sockets_;
  std::vector<std::thread> threads_;
};

class FakeCluster {
 public:
  // Groups named g1, g2, ... each one broker (its master).
  explicit FakeCluster(int groups) {
    routes_.set_revision(1);
    for (int i = 1; i <= groups; ++i) AddGroup("g" + std::to_string(i));
  }

  FakeGroup& AddGroup(const std::string& name) {
    auto g = std::make_unique<FakeGroup>(this, name);
    FakeGroup& ref = *g;
    std::lock_guard<std::mutex> lock(mu_);
    wire::GroupRoute* r = routes_.add_groups();
    r->set_name(name);
    r->set_master_id(name + "-b1");
    r->set_master_address(ref.endpoint());
    r->add_addresses(ref.endpoint());
    r->set_epoch(1);
    groups_.push_back(std::move(g));
    return ref;
  }
  FakeGroup& group(const std::string& name) {
    for (auto& g : groups_) {
      if (g->name() == name) return *g;
    }
    ADD_FAILURE() << "no fake group " << name;
    return *groups_.front();
  }

  // Routes: the topic's queues on groups (in this order), replacing any earlier route.
  void SetTopic(const std::string& topic, const std::vector<std::pair<std::string, uint32_t>>& q) {
    std::lock_guard<std::mutex> lock(mu_);
    wire::TopicRoute* t = nullptr;
    for (auto& existing : *routes_.mutable_topics()) {
      if (existing.topic() == topic) t = &existing;
    }
    if (t == nullptr) t = routes_.add_topics();
    t->set_topic(topic);
    t->clear_queues();
    for (const auto& [group, count] : q) {
      auto* r = t->add_queues();
      r->set_group(group);
      r->set_queue_count(count);
    }
  }
  void SetDraining(const std::string& group, bool draining) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& g : *routes_.mutable_groups()) {
      if (g.name() == group) {
        g.set_state(draining ? wire::GroupRoute::DRAINING : wire::GroupRoute::ACTIVE);
      }
    }
  }
  // A route change: every later response announces the new revision.
  int64_t BumpRevision() {
    std::lock_guard<std::mutex> lock(mu_);
    routes_.set_revision(routes_.revision() + 1);
    return routes_.revision();
  }
  int RouteQueries() { return route_queries_.load(); }

  // Waits until cond() holds; false after a generous guard (a failing test must not hang).
  bool WaitFor(const std::function<bool()>& cond) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::unique_lock<std::mutex> lock(wait_mu_);
    while (!cond()) {
      if (std::chrono::steady_clock::now() > give_up) return false;
      wait_cv_.wait_for(lock, std::chrono::milliseconds(5));
    }
    return true;
  }

  wire::QueryRouteResponse Routes(const wire::QueryRouteRequest& q) {
    std::lock_guard<std::mutex> lock(mu_);
    wire::QueryRouteResponse out = routes_;
    out.set_clustered(true);
    if (q.topics_size() > 0) {
      out.clear_topics();
      for (const auto& t : routes_.topics()) {
        for (const auto& want : q.topics()) {
          if (t.topic() == want) *out.add_topics() = t;
        }
      }
    }
    return out;
  }
  int64_t revision() {
    std::lock_guard<std::mutex> lock(mu_);
    return routes_.revision();
  }

  void Notify() { wait_cv_.notify_all(); }
  void CountRouteQuery() { ++route_queries_; }

 private:
  std::mutex mu_;
  wire::QueryRouteResponse routes_;
  std::vector<std::unique_ptr<FakeGroup>> groups_;
  std::atomic<int> route_queries_{0};
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;

 public:
  ~FakeCluster() {
    for (auto& g : groups_) g->Kill();
  }
};

inline std::optional<Reply> FakeGroup::Answer(const wire::Frame& f) {
  Hook hook;
  {
    std::lock_guard<std::mutex> lock(mu_);
    received_.push_back(f);
    hook = hook_;
  }
  cluster_->Notify();
  std::optional<Reply> reply;
  if (hook) reply = hook(f);
  if (!reply) {
    reply.emplace();
    wire::Header& h = reply->header;
    switch (f.header.kind()) {
      case wire::QUERY_ROUTE:
        cluster_->CountRouteQuery();
        *h.mutable_query_route_response() = cluster_->Routes(f.header.query_route_request());
        break;
      case wire::SEND:
      case wire::SEND_HALF: {
        const auto& msgs = f.header.send_request().messages();
        for (int i = 0; i < msgs.size(); ++i) {
          auto* r = h.mutable_send_response()->add_results();
          r->set_message_id(msgs[i].message_id());
          r->set_queue_id(msgs[i].queue_id() < 0 ? 0 : msgs[i].queue_id());
          r->set_queue_offset(i);
          r->set_log_offset(4096 + i);
        }
        break;
      }
      case wire::RECEIVE: {
        std::lock_guard<std::mutex> lock(mu_);
        auto* resp = h.mutable_receive_response();
        for (auto& m : to_deliver_) {
          reply->body += m.message_id();
          *resp->add_messages() = std::move(m);
        }
        to_deliver_.clear();
        break;
      }
      case wire::HEARTBEAT:
        h.mutable_heartbeat_response();
        break;
      case wire::ACK:
        for (int i = 0; i < f.header.ack_request().receipt_handles_size(); ++i) {
          h.mutable_ack_response()->add_results()->set_code(wire::OK);
        }
        break;
      case wire::NACK:
        for (int i = 0; i < f.header.nack_request().receipt_handles_size(); ++i) {
          h.mutable_nack_response()->add_results()->set_code(wire::OK);
        }
        break;
      default:
        h.set_code(wire::UNSUPPORTED);
        h.set_error_message("fake group does not script " +
                            wire::RequestKind_Name(f.header.kind()));
    }
  }
  reply->header.set_route_revision(cluster_->revision());
  return reply;
}

}  // namespace tidemq::client::testing
