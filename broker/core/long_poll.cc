#include "broker/core/long_poll.h"

namespace tidemq::broker {

uint64_t LongPolls::Seq(const std::string& topic) {
  MutexLock lock(mu_);
  return topics_[topic].seq;
}

bool LongPolls::Park(const std::string& topic, uint64_t seen_seq, uint64_t* ticket,
                     Retry retry) {
  MutexLock lock(mu_);
  if (stopping_.load(std::memory_order_relaxed)) return false;
  TopicWaiters& t = topics_[topic];
  if (t.seq != seen_seq) return false;
  *ticket = next_ticket_++;
  t.waiters.emplace(*ticket, std::move(retry));
  return true;
}

bool LongPolls::Cancel(const std::string& topic, uint64_t ticket) {
  MutexLock lock(mu_);
  auto it = topics_.find(topic);
  return it != topics_.end() && it->second.waiters.erase(ticket) > 0;
}

std::vector<LongPolls::Retry> LongPolls::Notify(const std::string& topic) {
  std::vector<Retry> out;
  MutexLock lock(mu_);
  TopicWaiters& t = topics_[topic];
  ++t.seq;
  for (auto& [_, r] : t.waiters) out.push_back(std::move(r));
  t.waiters.clear();
  return out;
}

std::vector<LongPolls::Retry> LongPolls::TakeAll() {
  std::vector<Retry> out;
  MutexLock lock(mu_);
  for (auto& [_, t] : topics_) {
    for (auto& [__, r] : t.waiters) out.push_back(std::move(r));
    t.waiters.clear();
  }
  return out;
}

void LongPolls::Stop() {
  MutexLock lock(mu_);
  stopping_.store(true, std::memory_order_release);
}

bool LongPolls::stopping() const { return stopping_.load(std::memory_order_acquire); }

size_t LongPolls::parked() const {
  MutexLock lock(mu_);
  size_t n = 0;
  for (const auto& [_, t] : topics_) n += t.waiters.size();
  return n;
}

}  // namespace tidemq::broker
