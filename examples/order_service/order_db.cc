#include "examples/order_service/order_db.h"

#include <sqlite3.h>

#include <utility>

namespace order_service {
namespace {

using tidemq::Code;
using tidemq::Status;

constexpr int kBusyTimeoutMs = 5000;  // another process holds the write lock

constexpr char kSchema[] =
    "CREATE TABLE IF NOT EXISTS orders ("
    "  id TEXT PRIMARY KEY,"
    "  customer TEXT NOT NULL,"
    "  item TEXT NOT NULL,"
    "  quantity INTEGER NOT NULL,"
    "  amount_cents INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  message_id TEXT NOT NULL)";

constexpr char kColumns[] = "id, customer, item, quantity, amount_cents, created_ms, message_id";

// A prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) {
    rc_ = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() const { return stmt_; }
  void Bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  std::string Text(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

Order RowToOrder(const Statement& s) {
  Order o;
  o.id = s.Text(0);
  o.customer = s.Text(1);
  o.item = s.Text(2);
  o.quantity = static_cast<int>(s.Int(3));
  o.amount_cents = s.Int(4);
  o.created_ms = s.Int(5);
  o.message_id = s.Text(6);
  return o;
}

}  // namespace

tidemq::Result<std::unique_ptr<OrderDb>> OrderDb::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Status(Code::kIOError, "cannot open order database " + path + ": " + why);
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  std::unique_ptr<OrderDb> odb(new OrderDb(db, path));
  std::lock_guard lock(odb->mu_);
  // WAL: the checker of another process can read while this one writes.
  RETURN_IF_ERROR(odb->Exec("PRAGMA journal_mode=WAL"));
  RETURN_IF_ERROR(odb->Exec(kSchema));
  return odb;
}

OrderDb::~OrderDb() { sqlite3_close(db_); }

Status OrderDb::Error(const std::string& what) const {
  return Status(Code::kIOError, what + " (" + path_ + "): " + sqlite3_errmsg(db_));
}

Status OrderDb::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) == SQLITE_OK) return Status::Ok();
  std::string why = err ? err : "unknown error";
  sqlite3_free(err);
  return Status(Code::kIOError, std::string(sql) + " (" + path_ + "): " + why);
}

Status OrderDb::Insert(const Order& order) {
  std::lock_guard lock(mu_);
  // IMMEDIATE: take the write lock now, so a busy database fails here, not at COMMIT.
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Statement s(db_, std::string("INSERT INTO orders (") + kColumns + ") VALUES (?,?,?,?,?,?,?)");
  Status st;
  if (!s.ok()) {
    st = Error("prepare insert");
  } else {
    s.Bind(1, order.id);
    s.Bind(2, order.customer);
    s.Bind(3, order.item);
    s.Bind(4, int64_t{order.quantity});
    s.Bind(5, order.amount_cents);
    s.Bind(6, order.created_ms);
    s.Bind(7, order.message_id);
    int rc = sqlite3_step(s.get());
    if (rc == SQLITE_CONSTRAINT) {
      st = Status(Code::kAlreadyExists, "order " + order.id + " already exists");
    } else if (rc != SQLITE_DONE) {
      st = Error("insert order " + order.id);
    }
  }
  if (!st.ok()) {
    (void)Exec("ROLLBACK");
    return st;
  }
  return Exec("COMMIT");  // a failed COMMIT leaves nothing behind: SQLite rolls back
}

tidemq::Result<std::optional<Order>> OrderDb::Find(const std::string& id) {
  std::lock_guard lock(mu_);
  Statement s(db_, std::string("SELECT ") + kColumns + " FROM orders WHERE id = ?");
  if (!s.ok()) return Error("prepare find");
  s.Bind(1, id);
  int rc = sqlite3_step(s.get());
  if (rc == SQLITE_DONE) return std::optional<Order>();
  if (rc != SQLITE_ROW) return Error("find order " + id);
  return std::optional<Order>(RowToOrder(s));
}

tidemq::Result<std::vector<Order>> OrderDb::List(int limit) {
  std::lock_guard lock(mu_);
  Statement s(db_, std::string("SELECT ") + kColumns +
                       " FROM orders ORDER BY created_ms DESC, id DESC LIMIT ?");
  if (!s.ok()) return Error("prepare list");
  s.Bind(1, int64_t{limit});
  std::vector<Order> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(RowToOrder(s));
  if (rc != SQLITE_DONE) return Error("list orders");
  return out;
}

tidemq::Result<int64_t> OrderDb::Count() {
  std::lock_guard lock(mu_);
  Statement s(db_, "SELECT COUNT(*) FROM orders");
  if (!s.ok() || sqlite3_step(s.get()) != SQLITE_ROW) return Error("count orders");
  return s.Int(0);
}

}  // namespace order_service
