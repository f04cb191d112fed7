// OrderDb: the order service's own database, a SQLite file with one `orders` table.
//
// This is the "local transaction" of a transactional send: an order row is inserted in a
// SQLite transaction, and the row being there (or not) is the truth the transaction checker
// reports to the broker. Several processes may open the same file (WAL mode, busy timeout).
//
// Thread safety: every method may be called from any thread; one mutex serialises the use of
// the connection (the checker runs on the client's "tidemq-txn-check" threads, several at once).
// Never throws.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

struct sqlite3;

namespace order_service {

struct Order {
  std::string id;
  std::string customer;
  std::string item;
  int quantity = 0;
  int64_t amount_cents = 0;
  int64_t created_ms = 0;
  std::string message_id;  // the half message that announced it (set by Insert's caller)
};

class OrderDb {
 public:
  // Opens (creating when missing) the database file and its schema.
  static tidemq::Result<std::unique_ptr<OrderDb>> Open(const std::string& path);
  ~OrderDb();
  OrderDb(const OrderDb&) = delete;
  OrderDb& operator=(const OrderDb&) = delete;

  // Inserts the order in one database transaction. AlreadyExists when an order with this id
  // is there already; IOError for any other database failure (nothing is inserted then).
  tidemq::Status Insert(const Order& order);
  // The order with this id; nullopt when there is none; IOError when the database cannot say.
  tidemq::Result<std::optional<Order>> Find(const std::string& id);
  // Newest first, at most `limit`.
  tidemq::Result<std::vector<Order>> List(int limit);
  tidemq::Result<int64_t> Count();

  const std::string& path() const { return path_; }

 private:
  OrderDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  tidemq::Status Exec(const char* sql);  // mu_ held
  tidemq::Status Error(const std::string& what) const;

  std::mutex mu_;
  sqlite3* const db_;  // GUARDED_BY(mu_)
  const std::string path_;
};

}  // namespace order_service
