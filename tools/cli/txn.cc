// tidemq txn list | show | commit | rollback | stats: transactional messages (docs/txn.md).
#include <cstdio>
#include <memory>
#include <utility>

#include "tools/cli/commands.h"

namespace tidemq::tools {

namespace {

struct TxnArgs {
  std::string message_id;
  std::string state = "any";
  bool parked = false;
  uint32_t limit = 100;
  bool json = false;
};

nlohmann::json TransactionFields(const TransactionInfo& t);

nlohmann::json TransactionJson(const TransactionInfo& t) {
  nlohmann::json j = TransactionFields(t);
  if (!t.broker_group.empty()) j["broker_group"] = t.broker_group;
  return j;
}

nlohmann::json TransactionFields(const TransactionInfo& t) {
  return {{"message_id", t.message_id},
          {"state", ToString(t.state)},
          {"parked", t.parked},
          {"producer_group", t.producer_group},
          {"topic", t.topic},
          {"queue_id", t.queue_id},
          {"checks", t.checks},
          {"half_store_ms", t.half_store_ms},
          {"timeout_ms", t.timeout_ms},
          {"next_check_ms", t.next_check_ms},
          {"end_ms", t.end_ms},
          {"end_reason", t.end_reason},
          {"half_offset", t.half_offset}};
}

void PrintTransaction(const TransactionInfo& t) {
  std::printf("%-14s %s\n", "message id", t.message_id.c_str());
  std::printf("%-14s %s%s\n", "state", ToString(t.state), t.parked ? " (parked)" : "");
  std::printf("%-14s %s\n", "producer group", t.producer_group.c_str());
  std::printf("%-14s %s (queue %d)\n", "topic", t.topic.c_str(), t.queue_id);
  if (!t.broker_group.empty()) std::printf("%-14s %s\n", "broker group", t.broker_group.c_str());
  std::printf("%-14s %s\n", "half stored", FormatTime(t.half_store_ms).c_str());
  std::printf("%-14s %lld ms\n", "check timeout", static_cast<long long>(t.timeout_ms));
  std::printf("%-14s %u\n", "checks sent", t.checks);
  if (t.state == TransactionState::kPending) {
    std::printf("%-14s %s\n", "next check", FormatTime(t.next_check_ms).c_str());
  } else {
    std::printf("%-14s %s by %s\n", "ended", FormatTime(t.end_ms).c_str(), t.end_reason.c_str());
  }
  std::printf("%-14s %lld\n", "half offset", static_cast<long long>(t.half_offset));
}

int TxnList(const Globals& g, const TxnArgs& a) {
  TransactionFilter filter;
  if (a.state == "pending") {
    filter.state = TransactionState::kPending;
  } else if (a.state == "committed") {
    filter.state = TransactionState::kCommitted;
  } else if (a.state == "rolled-back") {
    filter.state = TransactionState::kRolledBack;
  }
  filter.parked_only = a.parked;
  filter.limit = a.limit;
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->ListTransactions(filter);
  if (!r.ok()) return Fail(r.status());
  if (a.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& t : *r) j.push_back(TransactionJson(t));
    PrintJson(j);
    return kExitOk;
  }
  if (r->empty()) {
    std::printf("no transactions\n");
    return kExitOk;
  }
  std::printf("%-34s %-12s %-16s %-20s %6s  %s\n", "MESSAGE ID", "STATE", "GROUP", "TOPIC",
              "CHECKS", "NEXT CHECK / ENDED");
  for (const auto& t : *r) {
    const bool pending = t.state == TransactionState::kPending;
    std::string state = ToString(t.state);
    if (t.parked) state = "parked";
    std::printf("%-34s %-12s %-16s %-20s %6u  %s\n", t.message_id.c_str(), state.c_str(),
                t.producer_group.c_str(), t.topic.c_str(), t.checks,
                pending ? FormatTime(t.next_check_ms).c_str()
                        : (FormatTime(t.end_ms) + " (" + t.end_reason + ")").c_str());
  }
  if (r->size() == a.limit) {
    std::printf("(first %u shown; use --limit for more)\n", a.limit);
  }
  return kExitOk;
}

int TxnShow(const Globals& g, const TxnArgs& a) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->ShowTransaction(a.message_id);
  if (!r.ok()) return Fail(r.status());
  if (a.json) {
    PrintJson(TransactionJson(*r));
    return kExitOk;
  }
  PrintTransaction(*r);
  return kExitOk;
}

int TxnResolve(const Globals& g, const TxnArgs& a, bool commit) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  Status st = admin->ResolveTransaction(a.message_id, commit);
  if (!st.ok()) return Fail(st);
  if (a.json) {
    const auto state = commit ? TransactionState::kCommitted : TransactionState::kRolledBack;
    PrintJson({{"message_id", a.message_id}, {"state", ToString(state)}});
    return kExitOk;
  }
  std::printf("%s\n", commit ? "committed" : "rolled back");
  return kExitOk;
}

int TxnStats(const Globals& g, bool json) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->TransactionStats();
  if (!r.ok()) return Fail(r.status());
  const std::vector<std::pair<const char*, int64_t>> rows = {
      {"pending", r->pending},
      {"committed", r->committed},
      {"rolled_back", r->rolled_back},
      {"parked", r->parked},
      {"checks_sent", r->checks_sent},
      {"answers_commit", r->answers_commit},
      {"answers_rollback", r->answers_rollback},
      {"answers_unknown", r->answers_unknown},
      {"answers_failed", r->answers_failed},
      {"waiting_groups", r->waiting_groups},
      {"answers_unmatched", r->answers_unmatched},
      {"answers_late", r->answers_late},
      {"final_actions_deferred", r->final_actions_deferred},
      {"checks_in_flight", r->checks_in_flight},
      {"final_actions_waiting", r->final_actions_waiting}};
  if (json) {
    nlohmann::json j;
    for (const auto& [k, v] : rows) j[k] = v;
    PrintJson(j);
    return kExitOk;
  }
  for (const auto& [k, v] : rows) std::printf("%-22s %lld\n", k, static_cast<long long>(v));
  return kExitOk;
}

}  // namespace

void AddTxnCommands(CLI::App& app, const Globals& g, Action& action) {
  auto a = std::make_shared<TxnArgs>();
  auto* txn = app.add_subcommand("txn", "transactional messages: list, show, resolve, stats");
  txn->require_subcommand(1);

  auto* list = txn->add_subcommand("list", "transactions, oldest half first");
  list->add_option("--state", a->state, "pending, committed, rolled-back or any")
      ->check(CLI::IsMember({"pending", "committed", "rolled-back", "any"}))
      ->capture_default_str();
  list->add_flag("--parked", a->parked, "only those parked after their last check-back");
  list->add_option("--limit", a->limit, "at most this many")
      ->check(CLI::Range(1u, 10'000u))
      ->capture_default_str();
  AddJsonFlag(list, a->json);
  OnChosen(list, action, [&g, a] { return TxnList(g, *a); });

  auto* show = txn->add_subcommand("show", "one transaction by the id of its message");
  show->add_option("MESSAGE_ID", a->message_id, "message id")->required();
  AddJsonFlag(show, a->json);
  OnChosen(show, action, [&g, a] { return TxnShow(g, *a); });

  auto* commit = txn->add_subcommand("commit", "resolve a pending transaction by hand: commit");
  commit->add_option("MESSAGE_ID", a->message_id, "message id")->required();
  AddJsonFlag(commit, a->json);
  OnChosen(commit, action, [&g, a] { return TxnResolve(g, *a, /*commit=*/true); });

  auto* rollback =
      txn->add_subcommand("rollback", "resolve a pending transaction by hand: roll back");
  rollback->add_option("MESSAGE_ID", a->message_id, "message id")->required();
  AddJsonFlag(rollback, a->json);
  OnChosen(rollback, action, [&g, a] { return TxnResolve(g, *a, /*commit=*/false); });

  auto* stats = txn->add_subcommand("stats", "pending, committed, rolled back, checks, answers");
  AddJsonFlag(stats, a->json);
  OnChosen(stats, action, [&g, a] { return TxnStats(g, a->json); });
}

}  // namespace tidemq::tools
