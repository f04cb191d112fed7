#include "client/src/cluster_consumer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>

namespace tidemq::client {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr int64_t kMinPollBackoffMs = 100;
constexpr int64_t kMaxPollBackoffMs = 5000;

Status ShutDown() { return Status(Code::kCancelled, "consumer is shut down"); }

// The groups a consumer of `topic` polls: those holding its queues, in route order; every
// group when the routes have none (a system topic such as %RETRY%g lives on each group).
std::vector<std::string> TopicGroups(const ClusterRoutes& routes, const std::string& topic) {
  std::vector<std::string> out;
  if (const TopicRoute* t = routes.FindTopic(topic)) {
    for (const QueueRange& r : t->queues) {
      if (std::find(out.begin(), out.end(), r.group) == out.end()) out.push_back(r.group);
    }
  }
  if (out.empty()) {
    for (const auto& g : routes.groups) out.push_back(g.name);
  }
  return out;
}

// Several groups' answers to one settle call, joined into one status.
struct SettleJoin {
  Mutex mu;
  size_t left GUARDED_BY(mu) = 0;
  size_t failed GUARDED_BY(mu) = 0;
  Status first GUARDED_BY(mu);
  SettleCallback done;

  void Add(Status st) {
    Status out;
    {
      MutexLock lock(mu);
      if (!st.ok()) {
        if (first.ok()) first = std::move(st);
        ++failed;
      }
      if (--left > 0) return;
      out = first;
      if (failed > 1) {
        out = Status(first.code(), first.message() + " (and " + std::to_string(failed - 1) +
                                       " more broker group(s) failed)");
      }
    }
    done(std::move(out));
  }
};

}  // namespace

Result<std::unique_ptr<ClusterClient>> ConnectConsumer(ConsumerSpec* spec, std::string endpoint,
                                                       int64_t request_timeout_ms, int64_t await_ms,
                                                       int64_t failover_deadline_ms) {
  RETURN_IF_ERROR(ValidateConsumerSpec(*spec));
  if (await_ms < 0) return InvalidArgument("await duration is negative");
  ClusterOptions options;
  options.core.endpoint = std::move(endpoint);
  options.core.request_timeout_ms = request_timeout_ms;
  options.core.failover_deadline_ms = failover_deadline_ms;
  options.core.client_id = spec->client_id;
  options.core.consumer_groups.push_back(spec->group);
  options.topics.push_back(spec->topic);
  ASSIGN_OR_RETURN(auto cluster, ClusterClient::Create(std::move(options)));
  spec->client_id = cluster->client_id();
  return cluster;
}

ClusterConsumer::ClusterConsumer(ClusterClient* cluster, ConsumerSpec spec)
    : cluster_(cluster), spec_(std::move(spec)) {}

ClusterConsumer::~ClusterConsumer() { Shutdown(); }

// ---- receiving -------------------------------------------------------------------------

void ClusterConsumer::ReceiveAsync(uint32_t max_messages, int64_t await_ms, ReceiveCallback done) {
  if (Status st = CheckReceive(max_messages, await_ms); !st.ok()) return done(st);
  cluster_->WhenReady([this, max_messages, await_ms, done = std::move(done)]() mutable {
    StartReceive(max_messages, await_ms, std::move(done));
  });
}

Result<std::vector<ReceivedMessage>> ClusterConsumer::Receive(uint32_t max_messages,
                                                              int64_t await_ms) {
  RETURN_IF_ERROR(CheckReceive(max_messages, await_ms));
  if (cluster_->OnClientThread()) {
    return Status(Code::kFailedPrecondition, "blocking Receive called from a client callback");
  }
  std::promise<Result<std::vector<ReceivedMessage>>> promise;
  auto future = promise.get_future();
  ReceiveAsync(max_messages, await_ms, [&promise](Result<std::vector<ReceivedMessage>> r) {
    promise.set_value(std::move(r));
  });
  return future.get();
}

void ClusterConsumer::StartReceive(uint32_t max_messages, int64_t await_ms, ReceiveCallback done) {
  if (cluster_->shut_down()) return done(ShutDown());
  if (!cluster_->clustered()) {
    return client::ReceiveAsync(cluster_->bootstrap(), spec_, max_messages, await_ms,
                                std::move(done));
  }
  const std::vector<std::string> groups = TopicGroups(*cluster_->routes(), spec_.topic);
  auto waiter = std::make_shared<Waiter>();
  waiter->max = max_messages;
  const SteadyTime now = SteadyClock::now();
  waiter->deadline = now + std::chrono::milliseconds(await_ms);
  waiter->done = std::move(done);
  std::vector<std::pair<std::string, ClientCore*>> to_open;
  std::vector<Completion> completions;
  bool waiting = false;
  {
    MutexLock lock(mu_);
    if (stopping_) {
      completions.emplace_back(std::move(waiter->done), ShutDown());
    } else {
      waiters_.push_back(waiter);
      if (buffer_.empty()) {
        for (const std::string& g : groups) {
          Poll& p = polls_[g];
          if (p.open || now < p.next_at) continue;
          ClientCore* core = cluster_->Core(g);
          if (core == nullptr) continue;  // no address yet: the routes will give one
          p.open = true;
          p.opened_by.push_back(waiter);
          ++waiter->started;
          to_open.emplace_back(g, core);
        }
      }
      if (groups.empty()) {
        waiters_.remove(waiter);
        completions.emplace_back(std::move(waiter->done),
                                 Status(Code::kUnavailable,
                                        "the cluster's routes name no broker "
                                        "group to receive from"));
      }
      auto served = ServeLocked(now);
      for (auto& c : served) completions.push_back(std::move(c));
      waiting = std::find(waiters_.begin(), waiters_.end(), waiter) != waiters_.end();
    }
  }
  for (auto& [group, core] : to_open) {
    client::ReceiveAsync(*core, spec_, max_messages, await_ms,
                         [this, group = group](Result<std::vector<ReceivedMessage>> r) {
                           OnPolled(group, std::move(r));
                         });
  }
  if (waiting) {
    cluster_->bootstrap().connection().RunAfter(await_ms, [this](bool) { OnTimer(); });
  }
  for (auto& [fn, result] : completions) fn(std::move(result));
}

void ClusterConsumer::OnPolled(const std::string& group, Result<std::vector<ReceivedMessage>> r) {
  std::vector<std::string> to_release;  // arrived after Shutdown
  std::vector<Completion> completions;
  {
    MutexLock lock(mu_);
    const SteadyTime now = SteadyClock::now();
    Poll& p = polls_[group];
    p.open = false;
    Status error;
    if (r.ok()) {
      p.backoff_ms = 0;
      for (ReceivedMessage& m : *r) {
        if (stopping_) {
          to_release.push_back(m.receipt_handle());
          continue;
        }
        ReceivedMessageAccess::SetReceiptHandle(&m, PrefixHandle(group, m.receipt_handle()));
        ReceivedMessageAccess::SetBrokerGroup(&m, group);
        buffer_.push_back(std::move(m));
      }
    } else {
      error = Status(r.status().code(), "broker group '" + group + "': " + r.status().message());
      if (p.backoff_ms == 0 && r.status().code() != Code::kCancelled) {
        spdlog::warn("consumer {}: receiving from {}", spec_.group, error.ToString());
      }
      p.backoff_ms =
          p.backoff_ms == 0 ? kMinPollBackoffMs : std::min(p.backoff_ms * 2, kMaxPollBackoffMs);
      p.next_at = now + std::chrono::milliseconds(p.backoff_ms);
    }
    for (auto& weak : p.opened_by) {
      if (auto w = weak.lock()) {
        ++w->finished;
        if (error.ok()) {
          ++w->succeeded;
        } else if (w->first_error.ok()) {
          w->first_error = error;
        }
      }
    }
    p.opened_by.clear();
    for (auto& w : waiters_) w->any_finished = true;
    completions = ServeLocked(now);
  }
  if (!to_release.empty()) {
    std::vector<std::string_view> views(to_release.begin(), to_release.end());
    if (ClientCore* core = cluster_->Core(group)) {
      client::ReleaseAsync(*core, spec_, views, [](Status) {});
    }
  }
  for (auto& [fn, result] : completions) fn(std::move(result));
}

void ClusterConsumer::OnTimer() {
  std::vector<Completion> completions;
  {
    MutexLock lock(mu_);
    completions = ServeLocked(SteadyClock::now());
  }
  for (auto& [fn, result] : completions) fn(std::move(result));
}

std::vector<ClusterConsumer::Completion> ClusterConsumer::ServeLocked(SteadyTime now) {
  std::vector<Completion> out;
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    Waiter& w = **it;
    if (!buffer_.empty()) {
      std::vector<ReceivedMessage> batch;
      while (!buffer_.empty() && batch.size() < w.max) {
        batch.push_back(std::move(buffer_.front()));
        buffer_.pop_front();
      }
      out.emplace_back(std::move(w.done), std::move(batch));
    } else if (stopping_) {
      out.emplace_back(std::move(w.done), ShutDown());
    } else if (w.started > 0 && w.finished == w.started) {
      // Every group it asked answered, with nothing: empty, or the error when none succeeded.
      if (w.succeeded == 0 && !w.first_error.ok()) {
        out.emplace_back(std::move(w.done), w.first_error);
      } else {
        out.emplace_back(std::move(w.done), std::vector<ReceivedMessage>());
      }
    } else if (now >= w.deadline && (w.any_finished || w.started == 0)) {
      // Its time is up and the groups that answer have answered: a group that is down does
      // not hold it past its await.
      out.emplace_back(std::move(w.done), std::vector<ReceivedMessage>());
    } else {
      ++it;
      continue;
    }
    it = waiters_.erase(it);
  }
  return out;
}

// ---- settling --------------------------------------------------------------------------

void ClusterConsumer::Settle(const std::vector<std::string_view>& handles, GroupCall call,
                             SettleCallback done) {
  // Copies: the caller's handles need not outlive an async call.
  std::vector<std::string> owned(handles.begin(), handles.end());
  cluster_->WhenReady(
      [this, owned = std::move(owned), call = std::move(call), done = std::move(done)]() mutable {
        if (cluster_->shut_down()) return done(ShutDown());
        if (!cluster_->clustered()) {
          std::vector<std::string_view> views(owned.begin(), owned.end());
          return call(cluster_->bootstrap(), views, std::move(done));
        }
        std::map<std::string, std::vector<std::string>> by_group;
        for (const std::string& h : owned) {
          auto split = SplitHandle(h);
          if (!split.ok()) return done(split.status());
          by_group[split->first].push_back(std::move(split->second));
        }
        if (by_group.empty()) return done(Status::Ok());
        auto join = std::make_shared<SettleJoin>();
        {
          MutexLock lock(join->mu);
          join->left = by_group.size();
        }
        join->done = std::move(done);
        for (auto& [group, raw] : by_group) {
          ClientCore* core = cluster_->Core(group);
          if (core == nullptr) {
            join->Add(Status(Code::kUnavailable,
                             "broker group '" + group + "' is not in the cluster's routes"));
            continue;
          }
          std::vector<std::string_view> views(raw.begin(), raw.end());
          call(*core, views, [join](Status st) { join->Add(std::move(st)); });
        }
      });
}

template <typename AsyncCall>
Status ClusterConsumer::Blocking(const char* what, AsyncCall&& call) {
  if (cluster_->OnClientThread()) {
    return Status(Code::kFailedPrecondition,
                  std::string("blocking ") + what + " called from a client callback");
  }
  std::promise<Status> promise;
  auto future = promise.get_future();
  call([&promise](Status st) { promise.set_value(std::move(st)); });
  return future.get();
}

void ClusterConsumer::AckAsync(const std::vector<std::string_view>& handles, SettleCallback done) {
  if (handles.empty()) return done(Status::Ok());
  Settle(
      handles,
      [this](ClientCore& core, const std::vector<std::string_view>& h, SettleCallback d) {
        AckManyAsync(core, spec_, h, std::move(d));
      },
      std::move(done));
}

Status ClusterConsumer::Ack(const std::vector<std::string_view>& handles) {
  return Blocking("Ack", [&](SettleCallback d) { AckAsync(handles, std::move(d)); });
}

void ClusterConsumer::NackAsync(const std::vector<std::string_view>& handles, int64_t delay_ms,
                                SettleCallback done) {
  if (handles.empty()) return done(Status::Ok());
  Settle(
      handles,
      [this, delay_ms](ClientCore& core, const std::vector<std::string_view>& h, SettleCallback d) {
        NackManyAsync(core, spec_, h, delay_ms, std::move(d));
      },
      std::move(done));
}

Status ClusterConsumer::Nack(const std::vector<std::string_view>& handles, int64_t delay_ms) {
  return Blocking("Nack", [&](SettleCallback d) { NackAsync(handles, delay_ms, std::move(d)); });
}

void ClusterConsumer::ReleaseAsync(const std::vector<std::string_view>& handles,
                                   SettleCallback done) {
  if (handles.empty()) return done(Status::Ok());
  Settle(
      handles,
      [this](ClientCore& core, const std::vector<std::string_view>& h, SettleCallback d) {
        client::ReleaseAsync(core, spec_, h, std::move(d));
      },
      std::move(done));
}

Status ClusterConsumer::Release(const std::vector<std::string_view>& handles) {
  return Blocking("Release", [&](SettleCallback d) { ReleaseAsync(handles, std::move(d)); });
}

void ClusterConsumer::ChangeLeaseAsync(const std::string& handle, int64_t lease_ms,
                                       ChangeLeaseCallback done) {
  cluster_->WhenReady([this, handle, lease_ms, done = std::move(done)]() mutable {
    if (cluster_->shut_down()) return done(ShutDown());
    if (!cluster_->clustered()) {
      return client::ChangeLeaseAsync(cluster_->bootstrap(), spec_, handle, lease_ms,
                                      std::move(done));
    }
    auto split = SplitHandle(handle);
    if (!split.ok()) return done(split.status());
    ClientCore* core = cluster_->Core(split->first);
    if (core == nullptr) {
      return done(Status(Code::kUnavailable,
                         "broker group '" + split->first + "' is not in the cluster's routes"));
    }
    client::ChangeLeaseAsync(*core, spec_, split->second, lease_ms,
                             [group = split->first, done = std::move(done)](Result<std::string> r) {
                               if (!r.ok()) return done(r.status());
                               done(PrefixHandle(group, *r));
                             });
  });
}

Result<std::string> ClusterConsumer::ChangeLease(const std::string& handle, int64_t lease_ms) {
  if (cluster_->OnClientThread()) {
    return Status(Code::kFailedPrecondition, "blocking ChangeLease called from a client callback");
  }
  std::promise<Result<std::string>> promise;
  auto future = promise.get_future();
  ChangeLeaseAsync(handle, lease_ms,
                   [&promise](Result<std::string> r) { promise.set_value(std::move(r)); });
  return future.get();
}

void ClusterConsumer::Shutdown() {
  std::vector<Completion> completions;
  std::vector<std::string> unreturned;
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& m : buffer_) unreturned.push_back(m.receipt_handle());
    buffer_.clear();
    completions = ServeLocked(SteadyClock::now());
  }
  for (auto& [fn, result] : completions) fn(std::move(result));
  if (unreturned.empty() || cluster_->OnClientThread() || cluster_->shut_down()) return;
  std::vector<std::string_view> views(unreturned.begin(), unreturned.end());
  Status st = Release(views);
  if (!st.ok()) {
    // Their leases lapse and the broker redelivers them (the attempt counted).
    spdlog::warn("consumer {}: releasing {} buffered message(s) failed: {}", spec_.group,
                 unreturned.size(), st.ToString());
  }
}

}  // namespace tidemq::client
