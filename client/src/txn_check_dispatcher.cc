#include "client/src/txn_check_dispatcher.h"

#include <spdlog/spdlog.h>

#include <exception>

#include "client/src/client_core.h"
#include "common/logging.h"

namespace tidemq::client {

wire::TxnResolution ToWire(TransactionResolution r) {
  switch (r) {
    case TransactionResolution::kCommit:
      return wire::TXN_COMMIT;
    case TransactionResolution::kRollback:
      return wire::TXN_ROLLBACK;
    case TransactionResolution::kUnknown:
      break;
  }
  return wire::TXN_UNKNOWN;
}

namespace {

bool Definitive(TransactionResolution r) { return r != TransactionResolution::kUnknown; }

}  // namespace

TxnCheckDispatcher::TxnCheckDispatcher(TransactionChecker checker, TxnCheckOptions options)
    : checker_(std::move(checker)), options_(options) {
  threads_.reserve(static_cast<size_t>(options_.threads));
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { Run(); });
}

TxnCheckDispatcher::~TxnCheckDispatcher() { Stop(); }

void TxnCheckDispatcher::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) {
    if (!t.joinable()) continue;
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();  // the last owner let go on a checker thread; it returns right after
    } else {
      t.join();
    }
  }
  MutexLock lock(mu_);
  for (const auto& [key, e] : entries_) stats_.dropped += static_cast<int64_t>(e.waiters.size());
  entries_.clear();
  queue_.clear();
}

TxnCheckDispatcher::Stats TxnCheckDispatcher::stats() const {
  MutexLock lock(mu_);
  return stats_;
}

void TxnCheckDispatcher::Submit(wire::Frame request, Connection::Responder respond) {
  const wire::Header& h = request.header;
  if (!h.has_check_txn_request()) {
    wire::Header response;
    response.set_code(wire::INVALID_ARGUMENT);
    response.set_error_message("check without a check_txn_request");
    respond(std::move(response), "");
    return;
  }
  const wire::Message& m = h.check_txn_request().message();
  Key key(m.log_offset(), m.message_id());
  MutexLock lock(mu_);
  if (stopping_) return;  // the broker asks again
  TransactionResolution cached;
  if (CachedLocked(key, &cached)) {
    ++stats_.from_cache;
    lock.unlock();
    Respond(key, cached, respond);
    return;
  }
  auto [it, inserted] = entries_.try_emplace(key);
  Entry& e = it->second;
  e.waiters.push_back(std::move(respond));
  if (!inserted) {
    ++stats_.joined;
    if (e.waiters.size() > kMaxWaitersPerTxn) {  // the oldest request is the stalest
      e.waiters.pop_front();
      ++stats_.dropped;
    }
    if (!e.running) e.request = std::move(request);
    return;
  }
  e.request = std::move(request);
  queue_.push_back(key);
  if (queue_.size() > options_.max_queued) {
    // Full of distinct transactions: the one waiting longest goes (its broker asks again).
    auto oldest = entries_.find(queue_.front());
    stats_.dropped += static_cast<int64_t>(oldest->second.waiters.size());
    if (stats_.dropped % 1000 == 1) {
      spdlog::warn(
          "transaction check queue full ({} transactions waiting): dropping the oldest "
          "checks, the broker will ask again ({} dropped so far)",
          queue_.size(), stats_.dropped);
    }
    entries_.erase(oldest);
    queue_.pop_front();
  }
  lock.unlock();
  cv_.notify_one();
}

void TxnCheckDispatcher::Run() {
  SetThreadName("tidemq-txn-check");
  MutexLock lock(mu_);
  while (true) {
    cv_.wait(lock, [this]() REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    const Key key = std::move(queue_.front());
    queue_.pop_front();
    auto it = entries_.find(key);
    it->second.running = true;
    wire::Frame request = std::move(it->second.request);
    ++stats_.checker_calls;
    lock.unlock();
    const TransactionResolution answer = Check(request);
    lock.lock();
    // The entry stays while the checker runs (only Stop clears it, and Stop waits for us).
    it = entries_.find(key);
    std::deque<Connection::Responder> waiters = std::move(it->second.waiters);
    entries_.erase(it);
    if (Definitive(answer)) RememberLocked(key, answer);
    lock.unlock();
    for (const Connection::Responder& to : waiters) Respond(key, answer, to);
    lock.lock();
  }
}

TransactionResolution TxnCheckDispatcher::Check(const wire::Frame& request) {
  const wire::Message& m = request.header.check_txn_request().message();
  ReceivedMessage half = ReceivedMessageAccess::FromWire(m, request.body);
  try {
    return checker_(half);
  } catch (const std::exception& e) {
    spdlog::warn("transaction checker threw for message {}: {} (answering unknown)",
                 half.message_id(), e.what());
  } catch (...) {
    spdlog::warn("transaction checker threw for message {} (answering unknown)", half.message_id());
  }
  return TransactionResolution::kUnknown;
}

bool TxnCheckDispatcher::CachedLocked(const Key& key, TransactionResolution* out) {
  auto it = cache_.find(key);
  if (it == cache_.end()) return false;
  lru_.splice(lru_.begin(), lru_, it->second.second);
  *out = it->second.first;
  return true;
}

void TxnCheckDispatcher::RememberLocked(const Key& key, TransactionResolution r) {
  if (options_.answer_cache == 0) return;
  if (auto it = cache_.find(key); it != cache_.end()) {
    it->second.first = r;
    lru_.splice(lru_.begin(), lru_, it->second.second);
    return;
  }
  lru_.push_front(key);
  cache_.emplace(key, std::make_pair(r, lru_.begin()));
  if (cache_.size() > options_.answer_cache) {
    cache_.erase(lru_.back());
    lru_.pop_back();
  }
}

void TxnCheckDispatcher::Respond(const Key& key, TransactionResolution r,
                                 const Connection::Responder& to) {
  wire::Header response;
  auto* cr = response.mutable_check_txn_response();
  cr->set_resolution(ToWire(r));
  cr->set_half_offset(key.first);
  cr->set_message_id(key.second);
  to(std::move(response), "");
}

}  // namespace tidemq::client
