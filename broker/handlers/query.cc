// QUERY_MESSAGE: look a message up by id, by (topic, key) or by log offset.
//
// A look-up through the index finds log offsets first, then reads each record: one that no
// longer exists (retention) is left out, one that exists but cannot be read (kCorruption) is
// reported as damaged with its log offset — never as "no message matches".
#include <utility>

#include "broker/handlers/handlers.h"

namespace tidemq::broker {
namespace {

// The error for a query whose every match is damaged.
Status Damaged(const std::vector<std::pair<LogOffset, Status>>& damaged) {
  std::string text = "the record at log offset " + std::to_string(damaged[0].first.value()) +
                     " is damaged and cannot be read (" + damaged[0].second.message() + ")";
  for (size_t i = 1; i < damaged.size(); ++i) {
    text += "; so is the one at log offset " + std::to_string(damaged[i].first.value());
  }
  return Corruption(text);
}

}  // namespace

void HandleQueryMessage(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_query_message_request()) return req.ReplyError(MissingPayload(req));
  const auto& q = req.header().query_message_request();
  size_t max = q.max_messages() == 0 ? 32 : std::min<uint32_t>(q.max_messages(), 1024);
  std::vector<LogOffset> offsets;
  const bool by_offset = q.log_offset() > 0 || (q.message_id().empty() && q.key().empty());
  if (by_offset) {
    offsets.push_back(LogOffset(q.log_offset()));
  } else if (!q.message_id().empty()) {
    auto found = ctx.store->LookupMessageId(q.message_id(), max);
    if (!found.ok()) return req.ReplyError(found.status());
    offsets = std::move(found).value();
  } else {
    if (q.topic().empty()) return req.ReplyError(InvalidArgument("a key query needs a topic"));
    auto found = ctx.store->LookupKey(q.topic(), q.key(), max);
    if (!found.ok()) return req.ReplyError(found.status());
    offsets = std::move(found).value();
  }
  if (offsets.size() > max) offsets.resize(max);

  // Each record with its own log offset: skipped entries must not shift the pairing.
  std::vector<std::pair<LogOffset, store::Record>> found;
  std::vector<std::pair<LogOffset, Status>> damaged;
  for (LogOffset off : offsets) {
    auto rec = ctx.store->Read(off);
    if (!rec.ok()) {
      if (by_offset && rec.status().code() == Code::kCorruption) {
        return req.ReplyError(Corruption(
            "no intact record starts at log offset " + std::to_string(off.value()) +
            " (a damaged record, or not where a record starts): " + rec.status().message()));
      }
      if (by_offset) return req.ReplyError(rec.status());
      // The index says a record is there: damaged. Its topic cannot be read to filter it.
      if (rec.status().code() == Code::kCorruption) damaged.emplace_back(off, rec.status());
      continue;  // otherwise aged out meanwhile
    }
    if (!q.topic().empty() && rec->topic != q.topic()) continue;
    found.emplace_back(off, std::move(rec).value());
  }
  if (found.empty()) {
    if (!damaged.empty()) return req.ReplyError(Damaged(damaged));
    return req.ReplyError(NotFound("no message matches the query"));
  }
  wire::Header h;
  auto* resp = h.mutable_query_message_response();
  std::vector<std::string_view> bodies;
  for (const auto& [off, record] : found) {
    wire::Message* m = resp->add_messages();
    ToWireMessage(record, m);
    m->set_log_offset(off.value());
    bodies.push_back(record.body);
  }
  for (const auto& [off, _] : damaged) resp->add_damaged_log_offsets(off.value());
  req.Reply(std::move(h), bodies);
}

}  // namespace tidemq::broker
