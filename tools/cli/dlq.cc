// tidemq dlq list | show | redrive | purge: a consumer group's dead letters (docs/retry.md).
#include <cstdio>
#include <iostream>
#include <memory>

#include "tools/cli/commands.h"

namespace tidemq::tools {

namespace {

// What selects dead letters on the command line: MESSAGE_ID, --offset and the filters.
struct DlqArgs {
  std::string group;
  std::string message_id;
  int64_t offset = -1;
  std::string tag;
  std::string key;
  std::string topic;
  std::string since;
  std::string until;
  bool all = false;
  uint32_t limit = 100;
  int64_t after = -1;
  std::string to = "original";
  bool json = false;
};

// Builds the filter from the selectors; a usage problem comes back as InvalidArgument.
Result<DeadLetterFilter> DlqFilterFrom(const DlqArgs& o) {
  DeadLetterFilter f;
  if (!o.message_id.empty() && o.offset >= 0) {
    return InvalidArgument("give MESSAGE_ID or --offset, not both");
  }
  f.message_id = o.message_id;
  f.dlq_offset = o.offset;
  f.tag = o.tag;
  f.key = o.key;
  f.original_topic = o.topic;
  const int64_t now = NowMs();
  if (!o.since.empty()) {
    auto t = ParseTime(o.since, now);
    if (!t.ok()) return InvalidArgument("--since: " + t.status().message());
    f.from_ms = *t;
  }
  if (!o.until.empty()) {
    auto t = ParseTime(o.until, now);
    if (!t.ok()) return InvalidArgument("--until: " + t.status().message());
    f.to_ms = *t;
  }
  if (f.from_ms > 0 && f.to_ms > 0 && f.from_ms >= f.to_ms) {
    return InvalidArgument("--since must be before --until");
  }
  return f;
}

// Redrive and purge: a selection, or --all, never both and never neither.
Result<DeadLetterFilter> DlqSelection(const DlqArgs& o, const char* verb) {
  auto f = DlqFilterFrom(o);
  if (!f.ok()) return f;
  if (o.all && !f->empty()) {
    return InvalidArgument(
        "--all selects every dead letter; do not combine it with MESSAGE_ID, --offset or "
        "filters");
  }
  if (!o.all && f->empty()) {
    return InvalidArgument(std::string("select what to ") + verb +
                           ": MESSAGE_ID, --offset N, filters (--tag, --key, --topic, "
                           "--since, --until) or --all");
  }
  return f;
}

nlohmann::json DeadLetterJson(const ReceivedMessage& m, bool with_body) {
  nlohmann::json j;
  j["dlq_offset"] = m.dlq_offset();
  if (!m.broker_group().empty()) j["broker_group"] = m.broker_group();
  j["message_id"] = m.message_id();
  j["original_topic"] = m.original_topic();
  j["tag"] = m.tag();
  j["keys"] = m.keys();
  j["properties"] = m.properties();
  if (!m.message_group().empty()) j["message_group"] = m.message_group();
  j["attempts"] = m.delivery_attempt();
  j["first_failure_ms"] = m.first_failure_ms();
  j["dead_lettered_ms"] = m.store_ms();
  j["reason"] = m.dead_letter_reason();
  j["born_ms"] = m.born_ms();
  if (with_body) j["body"] = m.body();
  return j;
}

int DlqList(const Globals& g, const DlqArgs& o) {
  auto filter = DlqFilterFrom(o);
  if (!filter.ok()) return Usage(filter.status().message());
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->ListDeadLetters(o.group, *filter, o.after, o.limit);
  if (!r.ok()) return Fail(r.status());
  if (o.json) {
    nlohmann::json j;
    j["total"] = r->total;
    j["messages"] = nlohmann::json::array();
    for (const auto& m : r->messages) j["messages"].push_back(DeadLetterJson(m, false));
    PrintJson(j);
    return kExitOk;
  }
  if (r->messages.empty()) {
    std::printf("no dead letters%s (%lld in the DLQ of %s)\n",
                filter->empty() && o.after < 0 ? "" : " match", static_cast<long long>(r->total),
                o.group.c_str());
    return kExitOk;
  }
  std::printf("%10s  %-32s  %-20s  %-12s  %8s  %-23s  %-23s  %s\n", "DLQ_OFFSET", "MESSAGE ID",
              "ORIGINAL TOPIC", "TAG", "ATTEMPTS", "FIRST FAILURE", "DEAD-LETTERED", "REASON");
  for (const auto& m : r->messages) {
    std::printf("%10lld  %-32s  %-20s  %-12s  %8u  %-23s  %-23s  %s\n",
                static_cast<long long>(m.dlq_offset()), m.message_id().c_str(),
                m.original_topic().c_str(), m.tag().empty() ? "-" : m.tag().c_str(),
                m.delivery_attempt(), FormatTime(m.first_failure_ms()).c_str(),
                FormatTime(m.store_ms()).c_str(), m.dead_letter_reason().c_str());
  }
  std::printf("%zu shown, %lld in the DLQ of %s\n", r->messages.size(),
              static_cast<long long>(r->total), o.group.c_str());
  if (r->messages.size() == o.limit) {
    std::printf("more may follow: --after %lld\n",
                static_cast<long long>(r->messages.back().dlq_offset()));
  }
  return kExitOk;
}

void PrintDeadLetter(const ReceivedMessage& m) {
  std::printf("%-16s %lld\n", "dlq offset", static_cast<long long>(m.dlq_offset()));
  if (!m.broker_group().empty())
    std::printf("%-16s %s\n", "broker group", m.broker_group().c_str());
  std::printf("%-16s %s\n", "message id", m.message_id().c_str());
  std::printf("%-16s %s\n", "original topic", m.original_topic().c_str());
  std::printf("%-16s %s\n", "tag", m.tag().empty() ? "-" : m.tag().c_str());
  std::printf("%-16s %s\n", "keys", m.keys().empty() ? "-" : Join(m.keys(), ", ").c_str());
  if (!m.message_group().empty()) {
    std::printf("%-16s %s\n", "message group", m.message_group().c_str());
  }
  for (const auto& [k, v] : m.properties()) {
    std::printf("%-16s %s=%s\n", "property", k.c_str(), Printable(v, 256).c_str());
  }
  std::printf("%-16s %u\n", "attempts", m.delivery_attempt());
  std::printf("%-16s %s\n", "born", FormatTime(m.born_ms()).c_str());
  std::printf("%-16s %s\n", "first failure", FormatTime(m.first_failure_ms()).c_str());
  std::printf("%-16s %s\n", "dead-lettered", FormatTime(m.store_ms()).c_str());
  std::printf("%-16s %s\n", "reason", m.dead_letter_reason().c_str());
  const bool text = IsText(m.body());
  std::printf("body (%zu bytes, %s):\n", m.body().size(), text ? "text" : "hex");
  if (text) {
    std::cout << m.body();
    if (!m.body().empty() && m.body().back() != '\n') std::cout << "\n";
  } else {
    std::cout << HexDump(m.body());
  }
  std::cout.flush();
}

int DlqShow(const Globals& g, const DlqArgs& o) {
  if (o.message_id.empty() == (o.offset < 0)) return Usage("give MESSAGE_ID or --offset N");
  DeadLetterFilter filter;
  filter.message_id = o.message_id;
  filter.dlq_offset = o.offset;
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->ListDeadLetters(o.group, filter, -1, o.limit, /*with_bodies=*/true);
  if (!r.ok()) return Fail(r.status());
  if (r->messages.empty()) {
    std::fprintf(stderr, "no such dead letter in the DLQ of %s\n", o.group.c_str());
    return kExitError;
  }
  if (o.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& m : r->messages) j.push_back(DeadLetterJson(m, true));
    PrintJson(j);
    return kExitOk;
  }
  for (size_t i = 0; i < r->messages.size(); ++i) {
    if (i) std::printf("\n");
    PrintDeadLetter(r->messages[i]);
  }
  return kExitOk;
}

int DlqRedrive(const Globals& g, const DlqArgs& o) {
  auto filter = DlqSelection(o, "redrive");
  if (!filter.ok()) return Usage(filter.status().message());
  const auto target = o.to == "retry" ? RedriveTarget::kRetryQueue : RedriveTarget::kOriginalTopic;
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->RedriveDeadLetters(o.group, *filter, o.all, target);
  if (!r.ok()) return Fail(r.status());
  if (o.json) {
    PrintJson({{"group", o.group}, {"to", o.to}, {"redriven", *r}});
    return kExitOk;
  }
  if (*r == 0) {
    std::printf("no dead letter of %s matched; nothing redriven\n", o.group.c_str());
  } else if (target == RedriveTarget::kRetryQueue) {
    std::printf(
        "redriven %lld message(s) to %%RETRY%%%s: group %s receives them again, "
        "attempts counted from 1\n",
        static_cast<long long>(*r), o.group.c_str(), o.group.c_str());
  } else {
    std::printf(
        "redriven %lld message(s) to their original topic: every group receives "
        "them again\n",
        static_cast<long long>(*r));
  }
  return kExitOk;
}

int DlqPurge(const Globals& g, const DlqArgs& o) {
  auto filter = DlqSelection(o, "purge");
  if (!filter.ok()) return Usage(filter.status().message());
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->PurgeDeadLetters(o.group, *filter, o.all);
  if (!r.ok()) return Fail(r.status());
  if (o.json) {
    PrintJson({{"group", o.group}, {"purged", *r}});
    return kExitOk;
  }
  std::printf("purged %lld dead letter(s) of %s\n", static_cast<long long>(*r), o.group.c_str());
  return kExitOk;
}

}  // namespace

void AddDlqCommands(CLI::App& app, const Globals& g, Action& action) {
  auto dq = std::make_shared<DlqArgs>();
  auto* dlq =
      app.add_subcommand("dlq", "dead letters of a consumer group: list, show, redrive, purge");
  dlq->footer(
      "A message whose deliveries failed --max-attempts times (see `tidemq group create`) is\n"
      "moved to its group's dead-letter queue %DLQ%<group>, where it waits to be inspected,\n"
      "sent back (redrive) or dropped (purge).\n"
      "  tidemq dlq list billing --since -1h\n"
      "  tidemq dlq show billing <MESSAGE_ID>\n"
      "  tidemq dlq redrive billing --tag created --to retry\n"
      "  tidemq dlq purge billing --all");
  dlq->require_subcommand(1);
  const std::string time_help =
      "-DURATION (e.g. -10m, -2h), now, YYYY-MM-DD[ HH:MM[:SS]] (local time), or ms since the "
      "epoch";
  // The filters every subcommand but show takes.
  auto add_filters = [&](CLI::App* sub) {
    sub->add_option("--tag", dq->tag, "only with this tag");
    sub->add_option("--key", dq->key, "only with this key");
    sub->add_option("--topic", dq->topic, "only those sent to this topic");
    sub->add_option("--since", dq->since, "dead-lettered at or after this time: " + time_help);
    sub->add_option("--until", dq->until, "dead-lettered before this time (same forms)");
  };
  auto add_selectors = [&](CLI::App* sub, const char* verb) {
    sub->add_option("GROUP", dq->group, "consumer group")->required();
    sub->add_option("MESSAGE_ID", dq->message_id, std::string("the message to ") + verb);
    sub->add_option(
           "--offset", dq->offset,
           std::string("the dead letter at this DLQ offset ") + "(first column of `dlq list`)")
        ->check(CLI::NonNegativeNumber);
    add_filters(sub);
    sub->add_flag("--all", dq->all,
                  std::string(verb) +
                      " every dead letter of the group (required when nothing "
                      "else is selected)");
  };

  auto* list = dlq->add_subcommand("list", "dead letters, oldest first, with attempts and reason");
  list->add_option("GROUP", dq->group, "consumer group")->required();
  add_filters(list);
  list->add_option("--limit", dq->limit, "at most this many")
      ->check(CLI::Range(1u, 10'000u))
      ->capture_default_str();
  list->add_option("--after", dq->after, "paging: only DLQ offsets above this")
      ->check(CLI::NonNegativeNumber);
  AddJsonFlag(list, dq->json);
  OnChosen(list, action, [&g, dq] { return DlqList(g, *dq); });

  auto* show = dlq->add_subcommand(
      "show", "one dead letter with every field and its body (text, or a hex dump)");
  show->add_option("GROUP", dq->group, "consumer group")->required();
  show->add_option("MESSAGE_ID", dq->message_id, "message id");
  show->add_option("--offset", dq->offset, "DLQ offset (first column of `dlq list`)")
      ->check(CLI::NonNegativeNumber);
  AddJsonFlag(show, dq->json);
  OnChosen(show, action, [&g, dq] { return DlqShow(g, *dq); });

  auto* redrive = dlq->add_subcommand(
      "redrive", "send dead letters back to their original topic or to the group's retry queue");
  redrive->footer(
      "--to original: every group of the topic receives the message again, as a new message.\n"
      "--to retry: only this group receives it again, with its attempts counted from 1.");
  add_selectors(redrive, "redrive");
  redrive->add_option("--to", dq->to, "original: the topic it was sent to; retry: %RETRY%<group>")
      ->check(CLI::IsMember({"original", "retry"}))
      ->capture_default_str();
  AddJsonFlag(redrive, dq->json);
  OnChosen(redrive, action, [&g, dq] { return DlqRedrive(g, *dq); });

  auto* purge = dlq->add_subcommand("purge", "drop dead letters for good");
  add_selectors(purge, "purge");
  AddJsonFlag(purge, dq->json);
  OnChosen(purge, action, [&g, dq] { return DlqPurge(g, *dq); });
}

}  // namespace tidemq::tools
