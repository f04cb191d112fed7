// order_service: transactional messages with a real database (SQLite). See README.md here.
//
//   order_service place --db orders.db --count 5 [--crash-after-half] [--duplicate]
//   order_service serve --db orders.db [--seconds S]
//   order_service inventory [--group inventory] [--count N] [--seconds S]
//   order_service orders --db orders.db
//
// Every command talks to --addr (default $TIDEMQ_ADDR or 127.0.0.1:9810). Exit codes: 0 ok,
// 1 a call failed (and `place --crash-after-half`, which exits like a crash), 2 usage,
// 3 the broker cannot be reached.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "examples/order_service/commands.h"

namespace order_service {

int Fail(const std::string& what, const tidemq::Status& st) {
  std::fprintf(stderr, "error: %s: %s\n", what.c_str(), st.message().c_str());
  return st.code() == tidemq::Code::kUnavailable ? kExitUnreachable : kExitError;
}

}  // namespace order_service

int main(int argc, char** argv) {
  using namespace order_service;
  CLI::App app{
      "order_service: an order service on SQLite that announces each order with a "
      "transactional message (TideMQ), and an inventory service that consumes them."};
  app.require_subcommand(1);
  app.fallthrough();  // --addr before or after the subcommand
  std::string addr = "127.0.0.1:9810";
  if (const char* env = std::getenv("TIDEMQ_ADDR"); env && *env) addr = env;
  app.add_option("--addr", addr, "broker HOST:PORT (or TIDEMQ_ADDR)")->capture_default_str();
  std::function<int()> action;

  PlaceOptions place;
  auto* p = app.add_subcommand("place",
                               "place orders: insert each into the database inside a "
                               "transactional send");
  p->add_option("--db", place.db, "SQLite database file (created if missing)")->required();
  p->add_option("--count", place.count, "orders to place")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  p->add_flag("--crash-after-half", place.crash_after_half,
              "place half of the orders, then exit abruptly (std::_Exit) with two transactions "
              "open: one whose row was inserted, one whose row was not");
  p->add_flag("--duplicate", place.duplicate,
              "then place the first order again: its insert fails, its message is rolled back");
  p->add_option("--check-timeout-ms", place.check_timeout_ms,
                "first check-back this long after each half message (0: the broker's "
                "--txn-check-timeout-ms)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{24} * 3600 * 1000));
  p->add_option("--id-prefix", place.id_prefix,
                "order ids are PREFIX-1, PREFIX-2, ... "
                "(default: ord-<time>)");
  p->callback([&] {
    place.addr = addr;
    action = [&] { return RunPlace(place); };
  });

  ServeOptions serve;
  auto* s = app.add_subcommand("serve", "answer the broker's check-backs from the database");
  s->add_option("--db", serve.db, "SQLite database file")->required();
  s->add_option("--seconds", serve.seconds, "exit after this long (default: until Ctrl-C)")
      ->check(CLI::Range(0.0, 86400.0));
  s->callback([&] {
    serve.addr = addr;
    action = [&] { return RunServe(serve); };
  });

  InventoryOptions inv;
  auto* i = app.add_subcommand("inventory", "consume committed orders and reserve stock");
  i->add_option("--group", inv.group, "consumer group")->capture_default_str();
  i->add_option("--count", inv.count, "stop after this many distinct orders (0: no limit)")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000000));
  i->add_option("--seconds", inv.seconds, "exit after this long (default: until Ctrl-C)")
      ->check(CLI::Range(0.0, 86400.0));
  i->callback([&] {
    inv.addr = addr;
    action = [&] { return RunInventory(inv); };
  });

  OrdersOptions orders;
  auto* o = app.add_subcommand("orders", "list the orders in the database");
  o->add_option("--db", orders.db, "SQLite database file")->required();
  o->add_option("--limit", orders.limit, "newest this many")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  o->callback([&] { action = [&] { return RunListOrders(orders); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  return action ? action() : kExitUsage;
}
