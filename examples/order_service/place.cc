// order_service place: each order is one transactional send. The half message is stored
// (invisible), the local transaction inserts the order row into SQLite, and its outcome
// commits or rolls back the message. --crash-after-half exits in the middle of that.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "examples/order_service/commands.h"
#include "examples/order_service/console.h"
#include "examples/order_service/order_checker.h"
#include "examples/order_service/order_db.h"
#include "examples/order_service/order_messages.h"
#include "tidemq/producer.h"

namespace order_service {
namespace {

using tidemq::TransactionResolution;

constexpr const char* kCustomers[] = {"ada", "grace", "linus", "barbara", "ken", "margaret"};
constexpr const char* kItems[] = {"blue-widget", "red-gadget", "green-sprocket", "steel-gizmo"};
constexpr int64_t kItemPriceCents[] = {999, 1450, 325, 4999};

std::string Base36(int64_t v) {
  std::string s;
  do {
    s.insert(s.begin(), "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36]);
    v /= 36;
  } while (v > 0);
  return s;
}

Order NewOrder(const std::string& prefix, int n) {
  Order o;
  o.id = prefix + "-" + std::to_string(n);
  o.customer = kCustomers[n % std::size(kCustomers)];
  const size_t item = n % std::size(kItems);
  o.item = kItems[item];
  o.quantity = 1 + n % 3;
  o.amount_cents = o.quantity * kItemPriceCents[item];
  o.created_ms = EpochMs();
  return o;
}

struct Tally {
  int committed = 0;
  int rolled_back = 0;
  int failed = 0;
};

// One order, the normal way: SendInTransaction with the row insert as the local transaction.
void PlaceOne(tidemq::Producer& producer, OrderDb& db, Order order, int64_t check_timeout_ms,
              Tally* tally) {
  auto message = MakeOrderMessage(order, check_timeout_ms);
  if (!message.ok()) {
    ++tally->failed;
    Say("order " + order.id + ": bad message: " + message.status().message());
    return;
  }
  bool ran = false;
  tidemq::Status insert;
  auto applied = producer.SendInTransaction(*message, [&](const tidemq::SendReceipt& half) {
    ran = true;
    order.message_id = half.message_id;
    insert = db.Insert(order);
    return insert.ok() ? TransactionResolution::kCommit : TransactionResolution::kRollback;
  });
  if (!applied.ok()) {
    ++tally->failed;
    if (!ran) {
      Say("order " + order.id +
          ": half message not stored, nothing inserted: " + applied.status().message());
    } else {
      Say("order " + order.id + ": row " + (insert.ok() ? "inserted" : "not inserted") +
          ", but the end did not reach the broker (" + applied.status().message() +
          "); the check-back will resolve it");
    }
    return;
  }
  if (*applied == TransactionResolution::kCommit) {
    ++tally->committed;
    Say("order " + order.id + ": row inserted, message committed (" + order.message_id +
        "): " + Describe(order));
  } else {
    ++tally->rolled_back;
    Say("order " + order.id + ": insert failed (" + insert.message() + "), message rolled back (" +
        order.message_id + ")");
  }
}

// Leaves two transactions open and exits like a crash (no destructors, no end, no goodbye):
// `inserted` has its row committed in the database, `not_inserted` never got that far (think
// of a second worker thread that had sent its half message but not yet reached the insert).
[[noreturn]] void CrashMidTransactions(tidemq::Producer& producer, OrderDb& db, Order inserted,
                                       Order not_inserted, int64_t check_timeout_ms) {
  auto fail = [](const std::string& what, const tidemq::Status& st) {
    Say("error before the crash could be staged: " + what + ": " + st.message());
    std::exit(kExitError);
  };
  auto txn = producer.BeginTransaction();
  if (!txn.ok()) fail("begin transaction", txn.status());
  auto message = MakeOrderMessage(inserted, check_timeout_ms);
  if (!message.ok()) fail("message", message.status());
  auto half = txn->Send(*message);
  if (!half.ok()) fail("half message of " + inserted.id, half.status());
  inserted.message_id = half->message_id;
  if (auto st = db.Insert(inserted); !st.ok()) fail("insert " + inserted.id, st);
  Say("order " + inserted.id + ": half message stored (" + inserted.message_id +
      "), row inserted and committed in the database; crashing before the commit is sent");

  auto txn2 = producer.BeginTransaction();
  if (!txn2.ok()) fail("begin transaction", txn2.status());
  auto message2 = MakeOrderMessage(not_inserted, check_timeout_ms);
  if (!message2.ok()) fail("message", message2.status());
  auto half2 = txn2->Send(*message2);
  if (!half2.ok()) fail("half message of " + not_inserted.id, half2.status());
  Say("order " + not_inserted.id + ": half message stored (" + half2->message_id +
      "); crashing before its row is inserted");

  Say("CRASH: std::_Exit(1) with 2 transactions open. Start `order_service serve` (same "
      "producer group): after the check timeout the broker asks it about them");
  std::fflush(stdout);
  std::_Exit(1);
}

}  // namespace

int RunPlace(const PlaceOptions& o) {
  auto db = OrderDb::Open(o.db);
  if (!db.ok()) return Fail("database", db.status());
  if (auto st = EnsureOrdersTopic(o.addr); !st.ok())
    return Fail("topic " + std::string(kTopic), st);
  CheckCounts checks;  // a placing process answers check-backs too (for any group member)
  auto producer = tidemq::Producer::NewBuilder()
                      .Endpoint(o.addr)
                      .Group(kProducerGroup)
                      .TransactionChecker(MakeOrderChecker(db->get(), &checks))
                      .Build();
  if (!producer.ok()) return Fail("connect to " + o.addr, producer.status());

  const std::string prefix = o.id_prefix.empty() ? "ord-" + Base36(EpochMs()) : o.id_prefix;
  const int normal = o.crash_after_half ? o.count / 2 : o.count;
  Say("placing " + std::to_string(normal) + " order(s) into " + o.db + " and topic " + kTopic +
      (o.crash_after_half ? ", then crashing with 2 transactions open" : ""));
  Tally tally;
  for (int n = 1; n <= normal; ++n)
    PlaceOne(*producer, **db, NewOrder(prefix, n), o.check_timeout_ms, &tally);
  if (o.duplicate && normal > 0) {
    Say("placing order " + prefix + "-1 once more (a duplicate: its insert must fail)");
    PlaceOne(*producer, **db, NewOrder(prefix, 1), o.check_timeout_ms, &tally);
  }
  if (o.crash_after_half) {
    CrashMidTransactions(*producer, **db, NewOrder(prefix, normal + 1),
                         NewOrder(prefix, normal + 2), o.check_timeout_ms);
  }
  auto rows = (*db)->Count();
  Say("done: " + std::to_string(tally.committed) + " committed, " +
      std::to_string(tally.rolled_back) + " rolled back, " + std::to_string(tally.failed) +
      " failed; " + (rows.ok() ? std::to_string(*rows) : "?") + " order(s) in " + o.db);
  producer->Shutdown();
  return tally.failed == 0 ? kExitOk : kExitError;
}

}  // namespace order_service
