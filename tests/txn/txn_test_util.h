// Helpers shared by the txn tests: record builders and a fake log that feeds a TxnService as
// the store's writer thread would.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "store/record.h"
#include "store/store.h"
#include "txn/txn_types.h"

namespace tidemq::txn::testing {

// A half as the broker stores it (store_ms is the store's, set by FakeLog or the store).
inline store::Record Half(const std::string& message_id, const std::string& group = "pg",
                          const std::string& topic = "orders") {
  store::Record r;
  r.type = store::RecordType::kTxnHalf;
  r.topic = topic;
  r.queue_id = 2;
  r.message_id = message_id;
  r.tag = "paid";
  r.keys = {"order-" + message_id};
  r.properties = {{"user", "u1"}, {kProducerGroupProperty, group}};
  r.born_ms = 42;
  r.body = "order " + message_id + " paid";
  return r;
}

inline store::Record WithTimeout(store::Record half, const std::string& timeout_ms) {
  half.properties.emplace_back(kCheckTimeoutProperty, timeout_ms);
  return half;
}

// Hands records to an observer at consecutive log offsets, as the store would: each Append is
// one group commit (OnRecord per record, then OnBatchEnd). Every record it sees is kept, so a
// test can replay them.
class FakeLog {
 public:
  explicit FakeLog(int64_t start = 0) : end_(start) {}

  LogOffset Append(store::Observer* observer, store::Record record, int64_t store_ms) {
    return AppendBatch(observer, {std::move(record)}, store_ms).front();
  }
  std::vector<LogOffset> AppendBatch(store::Observer* observer, std::vector<store::Record> batch,
                                     int64_t store_ms) {
    std::vector<LogOffset> at;
    for (store::Record& r : batch) {
      r.store_ms = store_ms;
      at.emplace_back(end_);
      end_ += static_cast<int64_t>(r.EncodedSize());
      observer->OnRecord(r, at.back(), /*replay=*/false);
      records_.emplace_back(at.back(), std::move(r));
    }
    observer->OnBatchEnd(/*replay=*/false);
    return at;
  }
  // Feeds every record from `from` on again, as a replay after a restart would.
  void Replay(store::Observer* observer, LogOffset from = LogOffset(0)) const {
    for (const auto& [at, r] : records_) {
      if (at >= from) observer->OnRecord(r, at, /*replay=*/true);
    }
    observer->OnBatchEnd(/*replay=*/true);
  }
  const store::Record& At(LogOffset offset) const {
    for (const auto& [at, r] : records_) {
      if (at == offset) return r;
    }
    static const store::Record kNone;
    return kNone;
  }
  LogOffset end() const { return LogOffset(end_); }

 private:
  int64_t end_;
  std::vector<std::pair<LogOffset, store::Record>> records_;
};

}  // namespace tidemq::txn::testing
