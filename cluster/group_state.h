// What a broker group keeps in etcd: the key names (a builder and its parser) and the JSON of a
// member record and of the group state. docs/replication.md lists the keys.
//
//   <prefix>/groups/<group>/members/<broker_id>  MemberRecord, bound to that broker's lease
//   <prefix>/groups/<group>/leader               the master's broker_id, bound to its lease
//   <prefix>/groups/<group>/state                GroupState, changed only by compare-and-set
//
// The decoders read whatever etcd holds (another version, an operator's hand edit): anything
// unexpected is kCorruption naming the field, never an exception (tests/fuzz/etcd_json_fuzz.cc).
//
// Thread safety: pure functions and values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tidemq::cluster {

// What the broker reports about its copy of the log (the replication code fills it in).
struct MemberProgress {
  int64_t log_end = 0;  // CommitLog end offset
  int64_t epoch = 0;    // the epoch of the last record it holds
  int64_t flushed = 0;  // durable up to here
};

struct MemberRecord {
  std::string broker_id;
  std::string address;       // host:port clients reach it at
  std::string repl_address;  // host:port of its replication listener (replicas follow it there)
  std::string grpc_address;  // host:port of its RocketMQ 5 endpoint ("" when it serves none)
  int64_t log_end = 0;
  int64_t epoch = 0;
  int64_t flushed = 0;
  int64_t updated_ms = 0;  // wall clock of the writer

  bool operator==(const MemberRecord&) const = default;
};

struct GroupState {
  std::string master;
  std::string master_address;
  int64_t epoch = 0;                 // raised by one at every election
  std::vector<std::string> in_sync;  // the master included
  int64_t min_in_sync = 1;           // copies a sync ack needs, the master's included
  int64_t changed_ms = 0;
  int64_t last_failover_ms = 0;  // when a master took over from another one (0: never)
  std::string previous_master;

  bool InSync(const std::string& id) const;
  bool operator==(const GroupState&) const = default;
};

std::string EncodeMember(const MemberRecord& m);
Status DecodeMember(std::string_view json, MemberRecord* m);
std::string EncodeState(const GroupState& s);
Status DecodeState(std::string_view json, GroupState* s);

// A group or broker id: 1..128 characters of [A-Za-z0-9._-] (they become key segments).
Status ValidateClusterId(std::string_view what, std::string_view id);

class GroupKeys {
 public:
  GroupKeys(std::string prefix, std::string group);

  const std::string& group() const { return group_; }
  // "<prefix>/groups/<group>/": every key of the group (what the coordinator watches).
  std::string GroupPrefix() const { return base_; }
  std::string MembersPrefix() const { return base_ + "members/"; }
  std::string Member(const std::string& broker_id) const { return MembersPrefix() + broker_id; }
  std::string Leader() const { return base_ + "leader"; }
  std::string State() const { return base_ + "state"; }
  // The broker id of a member key, nullopt for any other key.
  std::optional<std::string> ParseMember(std::string_view key) const;

 private:
  std::string group_;
  std::string base_;
};

}  // namespace tidemq::cluster
