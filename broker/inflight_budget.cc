#include "broker/inflight_budget.h"

#include <algorithm>

namespace tidemq::broker {

int64_t InflightBudget::RoomLocked(int64_t held) const {
  return std::max(std::min(limits_.per_connection - held, limits_.broker - used_),
                  limits_.floor - held);
}

int64_t InflightBudget::Room(int64_t held) const {
  std::lock_guard lock(mu_);
  return RoomLocked(held);
}

InflightBudget::TakeResult InflightBudget::TryTake(int64_t held, int64_t n,
                                             std::function<void()> wake) {
  std::lock_guard lock(mu_);
  const bool fits_connection = held == 0 || held + n <= limits_.per_connection;
  if (n <= RoomLocked(held) || (held == 0 && n <= limits_.broker - used_)) {
    used_ += n;
    return TakeResult::kTaken;
  }
  if (!fits_connection) return TakeResult::kConnectionFull;
  if (wake) waiters_.push_back(Waiter{n, std::move(wake)});
  return TakeResult::kBrokerFull;
}

void InflightBudget::Take(int64_t n) {
  std::lock_guard lock(mu_);
  used_ += n;
}

void InflightBudget::Give(int64_t n) {
  std::vector<std::function<void()>> wake;
  {
    std::lock_guard lock(mu_);
    used_ -= n;
    // Only those whose frame fits now: a waiter for a large frame is not woken (to fail and
    // wait again) by every small reply written meanwhile.
    std::erase_if(waiters_, [&](Waiter& w) {
      if (used_ + w.need > limits_.broker) return false;
      wake.push_back(std::move(w.wake));
      return true;
    });
  }
  for (auto& w : wake) w();
}

int64_t InflightBudget::used() const {
  std::lock_guard lock(mu_);
  return used_;
}

}  // namespace tidemq::broker
