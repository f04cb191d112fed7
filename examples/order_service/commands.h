// The order_service subcommands (main.cc parses the command line and calls one of these).
// Each returns the process exit code: 0 ok, 1 a call failed, 2 usage, 3 broker unreachable.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace order_service {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

struct PlaceOptions {
  std::string addr;
  std::string db;
  int count = 5;
  // Place the first half of the orders, then exit abruptly with two transactions open: one
  // whose order row was inserted (the check-back commits it), one whose row was not (rolled
  // back).
  bool crash_after_half = false;
  bool duplicate = false;        // then place the first order once more (rolled back)
  int64_t check_timeout_ms = 0;  // per message; 0: the broker's --txn-check-timeout-ms
  std::string id_prefix;         // order ids are <prefix>-<n>; default from the clock
};
int RunPlace(const PlaceOptions& o);

struct ServeOptions {
  std::string addr;
  std::string db;
  double seconds = 0;  // 0: until SIGINT / SIGTERM
};
int RunServe(const ServeOptions& o);

struct InventoryOptions {
  std::string addr;
  std::string group = "inventory";
  int count = 0;       // stop after this many distinct orders; 0: no limit
  double seconds = 0;  // 0: until SIGINT / SIGTERM (or count)
};
int RunInventory(const InventoryOptions& o);

struct OrdersOptions {
  std::string db;
  int limit = 20;
};
int RunListOrders(const OrdersOptions& o);

// Prints "error: <what>: <why>" and returns the exit code for it.
int Fail(const std::string& what, const tidemq::Status& st);

}  // namespace order_service
