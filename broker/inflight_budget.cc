#include "broker/inflight_budget.h"

#include <algorithm>

namespace tidemq::broker {

int64_t InflightBudget::RoomFor(int64_t held, int64_t used) const {
  return std::max(std::min(limits_.per_connection - held, limits_.broker - used),
                  limits_.floor - held);
}

int64_t InflightBudget::Room(int64_t held) const {
  return RoomFor(held, used_.load(std::memory_order_relaxed));
}

bool InflightBudget::TakeIfFits(int64_t held, int64_t n) {
  int64_t used = used_.load(std::memory_order_relaxed);
  while (n <= RoomFor(held, used) || (held == 0 && n <= limits_.broker - used)) {
    if (used_.compare_exchange_weak(used, used + n)) return true;
  }
  return false;
}

InflightBudget::TakeResult InflightBudget::TryTake(int64_t held, int64_t n) {
  if (TakeIfFits(held, n)) return TakeResult::kTaken;
  const bool fits_connection = held == 0 || held + n <= limits_.per_connection;
  return fits_connection ? TakeResult::kBrokerFull : TakeResult::kConnectionFull;
}

InflightBudget::TakeResult InflightBudget::TryTake(int64_t held, int64_t n,
                                             std::function<void()> wake) {
  TakeResult result = TryTake(held, n);
  if (result != TakeResult::kBrokerFull || !wake) return result;
  MutexLock lock(mu_);
  waiters_.push_back(Waiter{n, std::move(wake)});
  has_waiters_.store(true);
  // A Give between the refusal and the line above saw no waiter: look once more (Give
  // lowers used_ before it reads has_waiters_, this reads used_ after setting it).
  if (TakeIfFits(held, n)) {
    waiters_.pop_back();
    has_waiters_.store(!waiters_.empty());
    return TakeResult::kTaken;
  }
  return TakeResult::kBrokerFull;
}

void InflightBudget::Take(int64_t n) { used_.fetch_add(n); }

void InflightBudget::Give(int64_t n) {
  const int64_t used = used_.fetch_sub(n) - n;
  if (!has_waiters_.load()) return;  // the common case: no lock
  std::vector<std::function<void()>> wake;
  {
    MutexLock lock(mu_);
    // Only those whose frame fits now: a waiter for a large frame is not woken (to fail and
    // wait again) by every small reply written meanwhile.
    std::erase_if(waiters_, [&](Waiter& w) {
      if (used + w.need > limits_.broker) return false;
      wake.push_back(std::move(w.wake));
      return true;
    });
    has_waiters_.store(!waiters_.empty());
  }
  for (auto& w : wake) w();
}

int64_t InflightBudget::used() const { return used_.load(std::memory_order_relaxed); }

}  // namespace tidemq::broker
