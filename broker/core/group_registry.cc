#include "broker/core/group_registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <future>
#include <optional>
#include <tuple>

#include "broker/core/retry_copies.h"
#include "common/names.h"

namespace tidemq::broker {
namespace {

Status NoSuchGroup(const std::string& name) {
  return Status(Code::kGroupNotFound, "consumer group '" + name + "' does not exist");
}

}  // namespace

int64_t SkipToQueueStart(const std::string& group, QueueState& st, int64_t min) {
  const int64_t from = st.committed;
  const int64_t lost = st.SkipTo(min);
  const std::string& topic = std::get<0>(st.key);
  const uint32_t queue = std::get<1>(st.key);
  if (lost <= 0) return 0;
  if (IsRetryTopic(topic)) {
    // One retry queue serves every topic the group consumes, and this state reads it for one
    // of them: which of the deleted copies were its own is unknown. Logged, not counted.
    spdlog::warn(
        "group '{}': retry copies at {}:{} offsets {}..{} were deleted by retention "
        "before being delivered again",
        group, topic, queue, from, min - 1);
    return 0;
  }
  st.lost += lost;
  spdlog::warn(
      "group '{}': {} messages of {}:{} (offsets {}..{}) were deleted by retention "
      "before the group consumed them ({} so far in this queue)",
      group, lost, topic, queue, from, min - 1, st.lost);
  return lost;
}

GroupRegistry::GroupRegistry(store::Store* store, TopicManager* topics, Clock* clock,
                             const BrokerConfig& config)
    : store_(store), topics_(topics), clock_(clock), config_(config) {}

void GroupRegistry::PersistGroup(const GroupConfig& c, Durable done) {
  store::MetaChange change;
  change.Put(kGroupPrefix + c.name, EncodeGroupConfig(c));
  store_->AppendMeta(std::move(change), std::move(done));
}

Status GroupRegistry::StartEpoch() {
  ASSIGN_OR_RETURN(auto stored, store_->GetMeta(kEpochKey));
  uint64_t last = 0;
  if (stored &&
      std::from_chars(stored->data(), stored->data() + stored->size(), last).ec != std::errc()) {
    // A clear error at start, not a guess: reusing an epoch could make old receipts ack.
    return Corruption("start epoch record '" + stored->substr(0, 64) + "' is not a number");
  }
  // Without a record (a new data directory, or metadata that was lost) the count starts at
  // the wall clock's seconds, so that handles of a broker whose metadata was lost do not
  // match either.
  epoch_ = last > 0 ? last + 1 : std::max<uint64_t>(1, clock_->NowMs() / 1000);
  // Durable before the first receipt carries it (start-up: waiting is fine here).
  store::MetaChange change;
  change.Put(kEpochKey, std::to_string(epoch_)).Synced();
  return store_->AppendMetaAndWait(std::move(change));
}

Status GroupRegistry::Load() {
  RETURN_IF_ERROR(StartEpoch());
  ASSIGN_OR_RETURN(auto groups, store_->ScanMeta(kGroupPrefix));
  WriterLock lock(groups_mu_);
  for (auto& [key, value] : groups) {
    Status retry_unreadable;
    auto config = DecodeGroupConfig(key.substr(sizeof(kGroupPrefix) - 1), value, &retry_unreadable);
    if (!config.ok()) {
      malformed_.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("skipping malformed group metadata '{}': '{}'", key, value.substr(0, 128));
      continue;
    }
    if (!retry_unreadable.ok()) {
      spdlog::warn("group '{}': stored retry policy unreadable ({}); using the default ladder",
                   config->name, retry_unreadable.ToString());
    }
    auto g = std::make_shared<ConsumerGroup>();
    g->config = std::move(config).value();
    groups_[g->config.name] = g;
  }
  ASSIGN_OR_RETURN(auto offsets, store_->ScanMeta(kOffsetPrefix));
  store::MetaChange stale;
  for (auto& [key, value] : offsets) {
    auto parsed = ParseOffsetKey(key);
    auto stored = DecodeQueueOffsets(value);
    if (!parsed.ok() || !stored.ok()) {
      malformed_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("ignoring malformed offset record '{}'", key);
      continue;
    }
    auto it = groups_.find(parsed->first);
    if (it == groups_.end()) continue;  // group deleted; its offsets are stale
    const QueueKey& qk = parsed->second;
    if (!topics_->Find(std::get<0>(qk))) {
      // The topic was deleted (a crash came before its offsets were): they must not apply
      // to a topic created later under the same name.
      spdlog::info("group '{}': dropping the offsets of deleted topic '{}'", it->first,
                   std::get<0>(qk));
      stale.Delete(key);
      continue;
    }
    MutexLock glock(it->second->mu);
    QueueState& st = it->second->queues[qk];
    st.key = qk;
    st.committed = st.next = stored->committed;
    st.delivered_before = std::max(stored->next, stored->committed);
    st.lost = stored->lost_to_retention;
    for (const auto& [off, n] : stored->attempts) {
      if (off >= st.committed && off < st.delivered_before) st.attempts[off] = n;
    }
  }
  store_->AppendMeta(std::move(stale), [](const Status& st) {
    if (!st.ok()) spdlog::warn("dropping stale offset records: {}", st.ToString());
  });
  return CheckQueueRanges();
}

Status GroupRegistry::CheckQueueRanges() {
  // The highest offset any group passed (committed, or delivered) in each queue.
  std::map<std::pair<std::string, uint32_t>, int64_t> highest;
  for (auto& [_, g] : groups_) {
    MutexLock glock(g->mu);
    for (auto& [key, st] : g->queues) {
      const std::string& topic = std::get<0>(key);
      const uint32_t queue = std::get<1>(key);
      lost_at_start_ += SkipToQueueStart(g->config.name, st, store_->MinQueueOffset(topic, queue));
      int64_t& h = highest[{topic, queue}];
      h = std::max({h, st.committed, st.delivered_before});
    }
  }
  for (const auto& [queue, passed] : highest) {
    const int64_t end = store_->MaxQueueOffset(queue.first, queue.second);
    if (passed <= end) continue;
    // The log lost messages the groups had already passed (a truncated tail): new messages
    // must not take those offsets, or the groups would skip them (and their lag lie).
    spdlog::warn(
        "queue {}:{} ends at offset {} but consumer groups already passed offset {} "
        "(messages at offsets {}..{} are gone from the log): the next message of the "
        "queue gets offset {}",
        queue.first, queue.second, end, passed, end, passed - 1, passed);
    RETURN_IF_ERROR(store_->RaiseNextQueueOffset(queue.first, queue.second, passed));
  }
  return Status::Ok();
}

Result<GroupConfig> GroupRegistry::Create(GroupConfig config, Durable durable) {
  RETURN_IF_ERROR(ValidateGroupName(config.name));
  if (config.max_attempts == 0) config.max_attempts = config_.default_max_attempts;
  RETURN_IF_ERROR(CheckGroupSettings(config));
  MutexLock order(persist_mu_);
  auto g = std::make_shared<ConsumerGroup>();
  std::optional<GroupConfig> updated;
  {
    WriterLock lock(groups_mu_);
    if (auto it = groups_.find(config.name); it != groups_.end()) {
      GroupConfig& existing = it->second->config;
      RETURN_IF_ERROR(CheckSameKind(existing, config));
      MutexLock glock(it->second->mu);
      updated = existing;
      updated->max_attempts = config.max_attempts;
      updated->retry = config.retry;
      updated->fifo_block = config.fifo_block;
      existing = *updated;
    } else {
      // A group from the cluster's configuration keeps its creation time.
      if (config.created_ms == 0) config.created_ms = clock_->NowMs();
      g->config = config;
      groups_[config.name] = g;
    }
  }
  if (updated) {
    PersistGroup(*updated, std::move(durable));
    return *updated;
  }
  // A new group whose record could not be stored is gone again (unless replaced meanwhile).
  PersistGroup(config, [this, g, durable = std::move(durable)](const Status& st) {
    if (!st.ok()) {
      spdlog::error("group '{}': its record could not be stored ({}); it is gone again",
                    g->config.name, st.ToString());
      WriterLock lock(groups_mu_);
      if (auto it = groups_.find(g->config.name); it != groups_.end() && it->second == g) {
        groups_.erase(it);
      }
    }
    if (durable) durable(st);
  });
  return config;
}

Status GroupRegistry::Delete(const std::string& name, Durable durable) {
  MutexLock order(persist_mu_);
  GroupPtr g;
  {
    WriterLock lock(groups_mu_);
    auto it = groups_.find(name);
    if (it == groups_.end()) return NoSuchGroup(name);
    g = it->second;
    groups_.erase(it);
  }
  store::MetaChange change;
  change.Delete(kGroupPrefix + name);
  {
    MutexLock glock(g->mu);
    for (const auto& [key, _] : g->queues) change.Delete(OffsetKey(name, key));
  }
  store_->AppendMeta(std::move(change), [name, durable = std::move(durable)](const Status& st) {
    if (!st.ok()) {
      spdlog::error("group '{}': its deletion could not be stored: {}", name, st.ToString());
    }
    if (durable) durable(st);
  });
  return Status::Ok();
}

std::vector<GroupConfig> GroupRegistry::List() const {
  ReaderLock lock(groups_mu_);
  std::vector<GroupConfig> out;
  for (const auto& [_, g] : groups_) out.push_back(g->config);
  return out;
}

Result<GroupRegistry::GroupPtr> GroupRegistry::Find(const std::string& name) const {
  {
    ReaderLock lock(groups_mu_);
    auto it = groups_.find(name);
    if (it != groups_.end()) return it->second;
  }
  RETURN_IF_ERROR(ValidateGroupName(name));
  return NoSuchGroup(name);
}

std::vector<GroupRegistry::GroupPtr> GroupRegistry::All() const {
  ReaderLock lock(groups_mu_);
  std::vector<GroupPtr> out;
  out.reserve(groups_.size());
  for (const auto& [_, g] : groups_) out.push_back(g);
  return out;
}

Result<GroupRegistry::GroupPtr> GroupRegistry::FindOrCreate(const std::string& name) {
  auto found = Find(name);
  if (found.ok() || found.status().code() != Code::kGroupNotFound) return found;
  // The cluster has it (the watch that brings it here has not yet, or this group just joined).
  if (std::optional<GroupConfig> configured = cluster_.find ? cluster_.find(name) : std::nullopt) {
    auto created = Create(*configured);
    if (!created.ok()) return created.status();
    spdlog::info("created consumer group '{}' from the cluster's configuration", name);
    return Find(name);
  }
  if (!config_.auto_create_groups) {
    return Status(Code::kGroupNotFound,
                  found.status().message() + " (create it with `tidemq group create " + name + "`)");
  }
  GroupConfig c;
  c.name = name;
  c.retry = config_.default_retry;
  c.max_attempts = config_.default_max_attempts;
  auto created = Create(c);
  if (!created.ok()) return created.status();
  spdlog::info("created consumer group '{}' on its first receive", name);
  if (cluster_.announce) cluster_.announce(*created);
  return Find(name);
}

Status GroupRegistry::FlushOffsets(bool wait) {
  MutexLock order(persist_mu_);
  std::vector<GroupPtr> groups = All();
  const bool all = flush_all_.exchange(false, std::memory_order_relaxed);
  store::MetaChange change;
  for (auto& g : groups) {
    MutexLock lock(g->mu);
    for (auto& [key, st] : g->queues) {
      if (!st.dirty && !all) continue;
      st.dirty = false;
      StoredQueueOffsets v;
      v.committed = st.committed;
      v.next = std::max(st.next, st.delivered_before);
      for (const auto& [off, n] : st.attempts) {
        if (off >= st.committed) v.attempts[off] = n;
      }
      v.lost_to_retention = st.lost;
      change.Put(OffsetKey(g->config.name, key), EncodeQueueOffsets(v));
    }
  }
  if (change.empty()) {
    // Complete at once, unless an earlier flush is still on its way to the disk.
    if (flushes_pending_.load(std::memory_order_acquire) == 0) {
      offset_flushes_.fetch_add(1, std::memory_order_relaxed);
    }
    return Status::Ok();
  }
  flushes_pending_.fetch_add(1, std::memory_order_acq_rel);
  // One record (split only when very large) for the whole flush; appended under persist_mu_
  // so that it lands after every change made before it and before every one made after.
  auto done = [this](const Status& st) {
    flushes_pending_.fetch_sub(1, std::memory_order_acq_rel);
    if (!st.ok()) {
      flush_all_.store(true, std::memory_order_relaxed);
      spdlog::error(
          "persisting consumer offsets: {} (every queue is written again at the "
          "next flush)",
          st.ToString());
      return;
    }
    offset_flushes_.fetch_add(1, std::memory_order_relaxed);
  };
  if (!wait) {
    store_->AppendMeta(std::move(change), done);
    return Status::Ok();
  }
  std::promise<Status> durable;
  auto result = durable.get_future();
  store_->AppendMeta(std::move(change), [&durable, done](const Status& st) {
    done(st);
    durable.set_value(st);
  });
  order.Unlock();
  return result.get();
}

void GroupRegistry::OnTopicDeleted(const std::string& topic) {
  MutexLock order(persist_mu_);
  store::MetaChange change;
  {
    ReaderLock lock(groups_mu_);
    for (auto& [name, g] : groups_) {
      MutexLock glock(g->mu);
      std::erase_if(g->subscribed, [&](const auto& s) { return s.first == topic; });
      for (auto it = g->queues.begin(); it != g->queues.end();) {
        if (std::get<0>(it->first) == topic) {
          g->leases.RemoveQueue(&it->second);
          change.Delete(OffsetKey(name, it->first));
          it = g->queues.erase(it);
        } else {
          ++it;
        }
      }
    }
  }
  store_->AppendMeta(std::move(change), [topic](const Status& st) {
    if (!st.ok()) {
      spdlog::error("dropping the offsets of deleted topic '{}': {}", topic, st.ToString());
    }
  });
}

}  // namespace tidemq::broker
