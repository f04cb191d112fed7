// order_service serve: a long-lived member of the order-service producer group. It sends
// nothing itself; it is there to answer the broker's check-backs, e.g. about the transactions
// a crashed `place` left open, from the order database.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "examples/order_service/commands.h"
#include "examples/order_service/console.h"
#include "examples/order_service/order_checker.h"
#include "examples/order_service/order_db.h"
#include "examples/order_service/order_messages.h"
#include "tidemq/admin.h"
#include "tidemq/producer.h"

namespace order_service {
namespace {

constexpr int kMaxListPages = 10;  // what the start-up summary looks at: 10 pages of 1000

// The group's open transactions as the broker sees them, before this process joins the group.
void DescribeOpenTransactions(const std::string& addr) {
  auto admin = tidemq::Admin::NewBuilder().Endpoint(addr).Build();
  if (!admin.ok()) return;
  tidemq::TransactionFilter filter;
  filter.state = tidemq::TransactionState::kPending;
  filter.limit = 1000;
  std::vector<tidemq::TransactionInfo> open;
  for (int page = 0; page < kMaxListPages; ++page) {
    auto r = admin->ListTransactions(filter);
    if (!r.ok()) {
      Say("could not list open transactions: " + r.status().message());
      return;
    }
    for (const auto& t : *r) {
      if (t.producer_group == kProducerGroup) open.push_back(t);
    }
    if (r->size() < filter.limit) break;
    filter.after_offset = r->back().half_offset;
  }
  if (open.empty()) {
    Say(std::string("the broker holds no open transaction of group ") + kProducerGroup);
    return;
  }
  int64_t next = std::numeric_limits<int64_t>::max();
  for (const auto& t : open) next = std::min(next, t.next_check_ms);
  const int64_t in_ms = next - EpochMs();
  Say("the broker holds " + std::to_string(open.size()) + " open transaction(s) of group " +
      kProducerGroup + "; the first check-back is due " +
      (in_ms > 0 ? "in " + std::to_string(in_ms) + " ms" : "now"));
}

}  // namespace

int RunServe(const ServeOptions& o) {
  auto db = OrderDb::Open(o.db);
  if (!db.ok()) return Fail("database", db.status());
  InstallStopSignals();
  DescribeOpenTransactions(o.addr);
  CheckCounts checks;
  auto producer = tidemq::Producer::NewBuilder()
                      .Endpoint(o.addr)
                      .Group(kProducerGroup)
                      .TransactionChecker(MakeOrderChecker(db->get(), &checks))
                      .Build();
  if (!producer.ok()) return Fail("connect to " + o.addr, producer.status());
  Say("serving check-backs of producer group " + std::string(kProducerGroup) + " from " + o.db +
      ForSeconds(o.seconds));
  bool signalled = SleepUntilStopOr(DeadlineAfter(o.seconds));
  producer->Shutdown();  // a check not yet answered is asked again later
  Say(std::string(signalled ? "stopped by a signal" : "time is up") + "; answered " +
      std::to_string(checks.commit + checks.rollback + checks.unknown) + " check-back(s): " +
      std::to_string(checks.commit) + " commit, " + std::to_string(checks.rollback) +
      " rollback, " + std::to_string(checks.unknown) + " unknown");
  return kExitOk;
}

}  // namespace order_service
