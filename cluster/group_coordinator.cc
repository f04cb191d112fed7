#include "cluster/group_coordinator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cluster/etcd_watch.h"
#include "common/logging.h"

namespace tidemq::cluster {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kStarting:
      return "starting";
    case Role::kCandidate:
      return "candidate";
    case Role::kMaster:
      return "master";
    case Role::kReplica:
      return "replica";
    case Role::kFenced:
      return "fenced";
  }
  return "?";
}

std::string ClusterStatusJson(const ClusterStatus& s) {
  nlohmann::json j;
  j["group"] = s.group;
  j["self"] = s.self;
  j["role"] = std::string(RoleName(s.role));
  j["note"] = s.note;
  j["master"] = s.master;
  j["master_address"] = s.master_address;
  j["epoch"] = s.epoch;
  j["in_sync"] = s.in_sync;
  j["min_in_sync"] = s.min_in_sync;
  j["last_failover_ms"] = s.last_failover_ms;
  j["previous_master"] = s.previous_master;
  nlohmann::json members = nlohmann::json::array();
  for (const auto& m : s.members) {
    members.push_back({{"broker_id", m.broker_id},
                       {"address", m.address},
                       {"grpc_address", m.grpc_address},
                       {"role", m.role},
                       {"in_sync", m.in_sync},
                       {"log_end", m.log_end},
                       {"flushed", m.flushed},
                       {"epoch", m.epoch},
                       {"lag_bytes", m.lag_bytes},
                       {"lag_ms", m.lag_ms},
                       {"updated_ms", m.updated_ms}});
  }
  j["members"] = std::move(members);
  // Replace, not throw, on bytes that are not UTF-8 (ids are validated; notes quote etcd).
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

struct GroupCoordinator::View {
  std::optional<KeyValue> leader;
  std::optional<KeyValue> state_kv;
  bool has_state = false;
  GroupState state;
  std::map<std::string, MemberRecord> members;  // live ones (their key exists)
  int64_t revision = 0;
};

namespace {

std::string JoinIds(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ",") + id;
  return "[" + out + "]";
}

}  // namespace

GroupCoordinator::GroupCoordinator(EtcdApi* etcd, GroupCoordinatorOptions options,
                                   GroupCallbacks callbacks)
    : etcd_(etcd),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      keys_(options_.prefix, options_.group),
      clock_(options_.clock != nullptr ? options_.clock : SystemClock::Get()),
      keepalive_interval_ms_(options_.keepalive_interval_ms > 0 ? options_.keepalive_interval_ms
                                                                : options_.lease_ttl_s * 1000 / 3),
      safety_margin_ms_(options_.safety_margin_ms > 0
                            ? options_.safety_margin_ms
                            : std::max<int64_t>(200, options_.lease_ttl_s * 1000 / 10)) {
  MutexLock lock(mu_);
  status_.group = options_.group;
  status_.self = options_.broker_id;
}

GroupCoordinator::~GroupCoordinator() { Stop(false); }

::tidemq::Status GroupCoordinator::Start() {
  RETURN_IF_ERROR(ValidateClusterId("group", options_.group));
  RETURN_IF_ERROR(ValidateClusterId("broker id", options_.broker_id));
  if (options_.lease_ttl_s <= 0) return InvalidArgument("lease ttl must be positive");
  if (safety_margin_ms_ >= options_.lease_ttl_s * 1000) {
    return InvalidArgument("the fencing safety margin must be below the lease ttl");
  }
  if (thread_.joinable()) return ::tidemq::Status(Code::kFailedPrecondition, "already started");
  if (!options_.watch_endpoints.empty()) {
    EtcdWatchOptions wo;
    wo.endpoints = options_.watch_endpoints;
    wo.prefix = keys_.GroupPrefix();
    EtcdWatchCallbacks cb;
    cb.on_events = [this](const std::vector<WatchEvent>&) { Wake(); };
    cb.on_compacted = [this](const RangeResult&, int64_t) { Wake(); };
    watch_ = std::make_unique<EtcdWatch>(std::move(wo), std::move(cb));
    watch_->Start();
  }
  thread_ = std::thread([this] {
    SetThreadName("tidemq-cluster");
    Run();
  });
  return ::tidemq::Status::Ok();
}

void GroupCoordinator::Stop(bool revoke) {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  watch_.reset();
  if (thread_.joinable()) thread_.join();
  write_deadline_ms_.store(0, std::memory_order_release);
  is_master_.store(false);
  if (revoke && lease_ != 0) {
    ::tidemq::Status st = etcd_->Revoke(lease_);
    if (!st.ok())
      spdlog::warn("cluster {}: revoking lease on stop: {}", options_.group, st.ToString());
    lease_ = 0;
  }
}

void GroupCoordinator::Wake() {
  {
    MutexLock lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void GroupCoordinator::WaitForWork(int64_t wait_ms) {
  MutexLock lock(mu_);
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  while (!stopping_ && !woken_ && std::chrono::steady_clock::now() < until) {
    cv_.wait_until(lock, until);
  }
  woken_ = false;
}

void GroupCoordinator::Run() {
  while (true) {
    {
      MutexLock lock(mu_);
      if (stopping_) break;
    }
    Tick();
    int64_t now = NowMono();
    int64_t next = std::min(next_keepalive_ms_, next_read_ms_);
    if (role_ == Role::kMaster) next = std::min(next, write_deadline_ms_.load());
    WaitForWork(std::clamp<int64_t>(next - now, 0, options_.poll_interval_ms));
  }
}

void GroupCoordinator::Tick() {
  if (role_ == Role::kMaster && !MayWrite(NowMono())) {
    Fence("no keepalive answered in time: the lease may expire at monotonic " +
          std::to_string(LeaseFloorMs()) + " ms");
  }
  if (!EnsureRegistered()) return;
  // A fenced master renews first: it may resume only on a lease etcd just confirmed.
  if ((role_ == Role::kFenced || NowMono() >= next_keepalive_ms_) && !KeepAlive()) return;
  // A decision (an election won, a stale leader revoked) is followed by a fresh read, so the
  // published status and the next decision see its effect.
  for (int round = 0; round < 3; ++round) {
    auto view = ReadView(CallTimeoutMs());
    if (!view.ok()) {
      SetNote("etcd: " + view.status().ToString());
      next_read_ms_ = NowMono() + options_.retry_interval_ms;
      return;
    }
    reread_ = false;
    Decide(*view);
    Publish(*view);
    if (!reread_) break;
  }
  next_read_ms_ = NowMono() + options_.poll_interval_ms;
}

bool GroupCoordinator::EnsureRegistered() {
  if (lease_ != 0) return true;
  int64_t sent = NowMono();
  int64_t granted = 0;
  auto id = etcd_->GrantLease(options_.lease_ttl_s, &granted);
  if (!id.ok()) {
    SetNote("etcd: cannot grant a lease: " + id.status().ToString());
    next_keepalive_ms_ = sent + options_.retry_interval_ms;
    return false;
  }
  lease_ = *id;
  lease_ttl_ms_ = (granted > 0 ? granted : options_.lease_ttl_s) * 1000;
  lease_floor_ms_.store(sent + lease_ttl_ms_, std::memory_order_release);
  next_keepalive_ms_ = sent + std::min(keepalive_interval_ms_, lease_ttl_ms_ / 3);
  spdlog::info("cluster {}: broker {} registered on lease {:x} (ttl {} ms)", options_.group,
               options_.broker_id, lease_, lease_ttl_ms_);
  ::tidemq::Status st = RefreshMember();
  if (!st.ok()) {
    SetNote("etcd: cannot register the member key: " + st.ToString());
    next_keepalive_ms_ = NowMono() + options_.retry_interval_ms;
    return false;
  }
  if (role_ == Role::kStarting) role_ = Role::kCandidate;
  return true;
}

bool GroupCoordinator::KeepAlive() {
  int64_t sent = NowMono();
  auto ttl = etcd_->KeepAliveOnce(lease_, CallTimeoutMs());
  if (!ttl.ok()) {
    SetNote("etcd: keepalive failed: " + ttl.status().ToString());
    next_keepalive_ms_ = NowMono() + options_.retry_interval_ms;
    if (role_ == Role::kMaster && !MayWrite(NowMono())) {
      Fence("etcd did not answer a keepalive before the write deadline: " +
            ttl.status().ToString());
    }
    return false;
  }
  if (*ttl <= 0) {
    DropLease(fmt::format("etcd says lease {:x} has expired", lease_));
    return false;
  }
  int64_t floor = sent + *ttl * 1000;
  lease_floor_ms_.store(floor, std::memory_order_release);
  if (role_ == Role::kMaster) {
    write_deadline_ms_.store(floor - safety_margin_ms_, std::memory_order_release);
  }
  next_keepalive_ms_ = sent + std::min(keepalive_interval_ms_, lease_ttl_ms_ / 3);
  ::tidemq::Status st = RefreshMember();
  if (!st.ok())
    spdlog::warn("cluster {}: refreshing member key: {}", options_.group, st.ToString());
  return true;
}

::tidemq::Status GroupCoordinator::RefreshMember() {
  MemberRecord m;
  m.broker_id = options_.broker_id;
  m.address = options_.address;
  m.repl_address = options_.repl_address;
  m.grpc_address = options_.grpc_address;
  if (callbacks_.progress) {
    MemberProgress p = callbacks_.progress();
    m.log_end = p.log_end;
    m.epoch = p.epoch;
    m.flushed = p.flushed;
  }
  m.updated_ms = clock_->NowMs();
  auto rev = etcd_->Put(keys_.Member(options_.broker_id), EncodeMember(m), lease_, CallTimeoutMs());
  return rev.status();
}

Result<GroupCoordinator::View> GroupCoordinator::ReadView(int64_t timeout_ms) const {
  ASSIGN_OR_RETURN(TxnResult r, etcd_->Txn({},
                                           {TxnOp::Get(keys_.Leader()), TxnOp::Get(keys_.State()),
                                            TxnOp::GetPrefix(keys_.MembersPrefix())},
                                           {}, timeout_ms));
  if (!r.succeeded || r.results.size() != 3) {
    return Internal("etcd answered the group read with " + std::to_string(r.results.size()) +
                    " results");
  }
  View v;
  v.revision = r.revision;
  if (!r.results[0].kvs.empty()) v.leader = r.results[0].kvs.front();
  if (!r.results[1].kvs.empty()) {
    v.state_kv = r.results[1].kvs.front();
    RETURN_IF_ERROR(DecodeState(v.state_kv->value, &v.state));
    v.has_state = true;
  }
  for (const KeyValue& kv : r.results[2].kvs) {
    auto id = keys_.ParseMember(kv.key);
    MemberRecord m;
    if (!id || !DecodeMember(kv.value, &m).ok() || m.broker_id != *id) {
      spdlog::warn("cluster {}: ignoring malformed member key {}", options_.group, kv.key);
      continue;
    }
    v.members[*id] = std::move(m);
  }
  return v;
}

void GroupCoordinator::Decide(const View& view) {
  const std::string& me = options_.broker_id;
  if (view.leader) {
    const std::string& leader = view.leader->value;
    if (leader == me) {
      if (view.leader->lease != lease_) {
        // An earlier run of this broker holds the leader key on a lease nobody renews now:
        // revoke it, so the election can run without waiting for its TTL.
        if (role_ == Role::kMaster) Fence("the leader key is bound to another lease");
        spdlog::warn("cluster {}: leader key names this broker on stale lease {:x}: revoking it",
                     options_.group, view.leader->lease);
        ::tidemq::Status st = etcd_->Revoke(view.leader->lease);
        if (!st.ok()) SetNote("etcd: revoking a stale lease: " + st.ToString());
        reread_ = st.ok();
        return;
      }
      if (view.has_state && view.state.master == me) {
        // Ours: after an election whose answer was lost, or after a fence while etcd was
        // unreachable for everyone and the lease survived.
        if (role_ != Role::kMaster) BecomeMaster(view.state.epoch);
        SetNote("");
        return;
      }
      if (role_ == Role::kMaster) Fence("the group state names another master");
      SetNote("leader key names this broker but the state names '" + view.state.master + "'");
      return;
    }
    if (role_ == Role::kMaster) {
      Fence("broker " + leader + " is the master now (epoch " + std::to_string(view.state.epoch) +
            ")");
    }
    std::string address = view.state.master == leader ? view.state.master_address : "";
    std::string repl_address;
    if (auto it = view.members.find(leader); it != view.members.end()) {
      if (address.empty()) address = it->second.address;
      repl_address = it->second.repl_address;
    }
    if (role_ != Role::kReplica || master_ != leader || epoch_ != view.state.epoch ||
        master_repl_address_ != repl_address) {
      BecomeReplica(leader, address, repl_address, view.state.epoch);
    }
    SetNote("");
    return;
  }
  // No leader.
  if (role_ == Role::kMaster) Fence("the leader key is gone (the lease expired or was revoked)");
  if (view.members.count(me) == 0) {
    // Our member key is gone: etcd expired our lease (or it was revoked).
    DropLease("this broker's member key is gone");
    reread_ = false;
    return;
  }
  TryElect(view);
}

void GroupCoordinator::TryElect(const View& view) {
  const std::string& me = options_.broker_id;
  if (view.has_state) {
    if (!view.state.InSync(me)) {
      SetNote("no master; this broker is not in the in-sync set " + JoinIds(view.state.in_sync) +
              " and never becomes master (it may lack acknowledged messages)");
      return;
    }
    std::string best;
    int64_t best_end = -1;
    for (const auto& id : view.state.in_sync) {
      auto it = view.members.find(id);
      if (it == view.members.end()) continue;
      if (it->second.log_end > best_end || (it->second.log_end == best_end && id < best)) {
        best = id;
        best_end = it->second.log_end;
      }
    }
    if (best != me) {
      SetNote("no master; waiting for " + best +
              ", the live in-sync member with the most data (log_end " + std::to_string(best_end) +
              ")");
      return;
    }
  } else if (!options_.bootstrap_master.empty() && options_.bootstrap_master != me) {
    SetNote("no master yet; waiting for the bootstrap master " + options_.bootstrap_master);
    return;
  }
  GroupState next;
  next.master = me;
  next.master_address = options_.address;
  next.epoch = view.has_state ? view.state.epoch + 1 : 1;
  next.in_sync = {me};
  next.min_in_sync = view.has_state ? view.state.min_in_sync : options_.min_in_sync;
  next.changed_ms = clock_->NowMs();
  next.last_failover_ms = view.has_state ? next.changed_ms : 0;
  next.previous_master = view.has_state ? view.state.master : "";
  int64_t state_rev = view.state_kv ? view.state_kv->mod_revision : 0;
  auto r = etcd_->Txn(
      {Compare::Absent(keys_.Leader()), Compare::ModRevisionEquals(keys_.State(), state_rev)},
      {TxnOp::Put(keys_.Leader(), me, lease_), TxnOp::Put(keys_.State(), EncodeState(next))}, {});
  if (!r.ok()) {
    // It may have been applied all the same: the next read tells (leader = me on my lease).
    SetNote("etcd: election: " + r.status().ToString());
    next_read_ms_ = NowMono() + options_.retry_interval_ms;
    return;
  }
  reread_ = true;
  if (!r->succeeded) {
    spdlog::info("cluster {}: broker {} lost the election race for epoch {}", options_.group, me,
                 next.epoch);
    return;
  }
  spdlog::info("cluster {}: broker {} elected master, epoch {} (previous master '{}')",
               options_.group, me, next.epoch, next.previous_master);
  BecomeMaster(next.epoch);
}

int64_t GroupCoordinator::CallTimeoutMs() const {
  if (role_ != Role::kMaster) return 0;
  return std::max<int64_t>(1, write_deadline_ms_.load() - NowMono());
}

void GroupCoordinator::BecomeMaster(int64_t epoch) {
  role_ = Role::kMaster;
  epoch_ = epoch;
  master_ = options_.broker_id;
  write_deadline_ms_.store(LeaseFloorMs() - safety_margin_ms_, std::memory_order_release);
  is_master_.store(true);
  if (callbacks_.on_master) callbacks_.on_master(epoch);
}

void GroupCoordinator::BecomeReplica(const std::string& master, const std::string& address,
                                     const std::string& repl_address, int64_t epoch) {
  write_deadline_ms_.store(0, std::memory_order_release);
  is_master_.store(false);
  role_ = Role::kReplica;
  master_ = master;
  master_repl_address_ = repl_address;
  epoch_ = epoch;
  spdlog::info("cluster {}: broker {} is a replica of {} ({}), epoch {}", options_.group,
               options_.broker_id, master, address, epoch);
  if (callbacks_.on_replica) callbacks_.on_replica(master, address, repl_address, epoch);
}

void GroupCoordinator::Fence(const std::string& reason) {
  write_deadline_ms_.store(0, std::memory_order_release);
  is_master_.store(false);
  role_ = Role::kFenced;
  spdlog::warn("cluster {}: broker {} fenced (stops writing): {}", options_.group,
               options_.broker_id, reason);
  SetNote("fenced: " + reason);
  if (callbacks_.on_fenced) callbacks_.on_fenced(reason);
}

void GroupCoordinator::DropLease(const std::string& why) {
  if (role_ == Role::kMaster) Fence(why);
  spdlog::warn("cluster {}: broker {}: {}; registering again", options_.group, options_.broker_id,
               why);
  lease_ = 0;
  lease_floor_ms_.store(0, std::memory_order_release);
  next_keepalive_ms_ = NowMono();
  if (role_ == Role::kFenced) role_ = Role::kCandidate;
}

void GroupCoordinator::SetNote(std::string note) {
  MutexLock lock(mu_);
  if (!note.empty() && note != status_.note) {
    // Said once per change (the state machine repeats it on every pass while it holds).
    spdlog::info("cluster {}: broker {}: {}", options_.group, options_.broker_id, note);
  }
  status_.note = std::move(note);
  status_.role = role_;
  status_.lease = lease_;
  status_.write_deadline_ms = write_deadline_ms_.load();
}

void GroupCoordinator::Publish(const View& view) {
  ClusterStatus s;
  s.group = options_.group;
  s.self = options_.broker_id;
  s.role = role_;
  s.lease = lease_;
  s.write_deadline_ms = write_deadline_ms_.load();
  if (view.has_state) {
    s.master = view.leader ? view.leader->value : "";
    s.master_address = view.state.master_address;
    s.epoch = view.state.epoch;
    s.in_sync = view.state.in_sync;
    s.min_in_sync = view.state.min_in_sync;
    s.last_failover_ms = view.state.last_failover_ms;
    s.previous_master = view.state.previous_master;
  }
  const MemberRecord* master = nullptr;
  if (auto it = view.members.find(s.master); it != view.members.end()) master = &it->second;
  for (const auto& [id, m] : view.members) {
    MemberStatus ms;
    ms.broker_id = id;
    ms.address = m.address;
    ms.grpc_address = m.grpc_address;
    ms.role = id == s.master ? "master" : "replica";
    ms.in_sync = view.has_state && view.state.InSync(id);
    ms.log_end = m.log_end;
    ms.flushed = m.flushed;
    ms.epoch = m.epoch;
    ms.updated_ms = m.updated_ms;
    if (master != nullptr && id != s.master) {
      ms.lag_bytes = std::max<int64_t>(0, master->log_end - m.log_end);
      ms.lag_ms = std::max<int64_t>(0, master->updated_ms - m.updated_ms);
    }
    s.members.push_back(std::move(ms));
  }
  MutexLock lock(mu_);
  s.note = status_.note;
  status_ = std::move(s);
}

ClusterStatus GroupCoordinator::Status() const {
  MutexLock lock(mu_);
  return status_;
}

::tidemq::Status GroupCoordinator::SetInSync(std::vector<std::string> in_sync) {
  const std::string& me = options_.broker_id;
  if (!is_master_.load()) {
    return ::tidemq::Status(Code::kFailedPrecondition,
                            "broker " + me + " is not the master of group " + options_.group);
  }
  std::set<std::string> seen;
  for (const auto& id : in_sync) {
    RETURN_IF_ERROR(ValidateClusterId("broker id", id));
    if (!seen.insert(id).second) return InvalidArgument("in-sync set names " + id + " twice");
  }
  if (seen.count(me) == 0) {
    return InvalidArgument("the in-sync set " + JoinIds(in_sync) + " must contain the master " +
                           me);
  }
  constexpr int kTries = 32;  // each failed CAS means another writer succeeded meanwhile
  ::tidemq::Status last;
  for (int attempt = 0; attempt < kTries; ++attempt) {
    auto view = ReadView(/*timeout_ms=*/0);
    if (!view.ok()) {
      last = view.status();
      continue;
    }
    if (!view->leader || view->leader->value != me || !view->has_state ||
        view->state.master != me) {
      return ::tidemq::Status(
          Code::kFailedPrecondition,
          "broker " + me + " is no longer the master of group " + options_.group);
    }
    if (view->state.in_sync == in_sync) return ::tidemq::Status::Ok();  // e.g. a retried write
    GroupState next = view->state;
    next.in_sync = in_sync;
    next.changed_ms = clock_->NowMs();
    auto r = etcd_->Txn({Compare::ModRevisionEquals(keys_.State(), view->state_kv->mod_revision),
                         Compare::ValueEquals(keys_.Leader(), me)},
                        {TxnOp::Put(keys_.State(), EncodeState(next))}, {});
    if (!r.ok()) {
      last = r.status();
      continue;
    }
    if (r->succeeded) {
      spdlog::info("cluster {}: in-sync set {} (epoch {})", options_.group, JoinIds(in_sync),
                   next.epoch);
      Wake();
      return ::tidemq::Status::Ok();
    }
    last = ::tidemq::Status(Code::kFailedPrecondition, "the group state changed concurrently");
  }
  return ::tidemq::Status(last.code() == Code::kOk ? Code::kFailedPrecondition : last.code(),
                          "setting the in-sync set gave up after " + std::to_string(kTries) +
                              " tries: " + last.message());
}

}  // namespace tidemq::cluster
