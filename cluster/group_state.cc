#include "cluster/group_state.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <nlohmann/json.hpp>

#include "cluster/json_fields.h"

namespace tidemq::cluster {

namespace {

using json_fields::Bad;
using json_fields::Json;
using json_fields::ParseObject;
using json_fields::ReadInt;
using json_fields::ReadString;

bool IdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

}  // namespace

bool GroupState::InSync(const std::string& id) const {
  return std::find(in_sync.begin(), in_sync.end(), id) != in_sync.end();
}

std::string EncodeMember(const MemberRecord& m) {
  Json j;
  j["broker_id"] = m.broker_id;
  j["address"] = m.address;
  j["repl_address"] = m.repl_address;
  if (!m.grpc_address.empty()) j["grpc_address"] = m.grpc_address;
  j["log_end"] = m.log_end;
  j["epoch"] = m.epoch;
  j["flushed"] = m.flushed;
  j["updated_ms"] = m.updated_ms;
  return j.dump();
}

Status DecodeMember(std::string_view text, MemberRecord* m) {
  try {
    ASSIGN_OR_RETURN(Json j, ParseObject(text, "member record"));
    MemberRecord out;
    const char* what = "member record";
    RETURN_IF_ERROR(ReadString(j, what, "broker_id", true, &out.broker_id));
    RETURN_IF_ERROR(ReadString(j, what, "address", false, &out.address));
    if (j.contains("repl_address")) {
      RETURN_IF_ERROR(ReadString(j, what, "repl_address", false, &out.repl_address));
    }
    if (j.contains("grpc_address")) {
      RETURN_IF_ERROR(ReadString(j, what, "grpc_address", false, &out.grpc_address));
    }
    RETURN_IF_ERROR(ReadInt(j, what, "log_end", &out.log_end));
    RETURN_IF_ERROR(ReadInt(j, what, "epoch", &out.epoch));
    RETURN_IF_ERROR(ReadInt(j, what, "flushed", &out.flushed));
    RETURN_IF_ERROR(ReadInt(j, what, "updated_ms", &out.updated_ms));
    *m = std::move(out);
    return Status::Ok();
  } catch (const std::exception& e) {
    return Corruption(std::string("member record in etcd: ") + e.what());
  }
}

std::string EncodeState(const GroupState& s) {
  Json j;
  j["master"] = s.master;
  j["master_address"] = s.master_address;
  j["epoch"] = s.epoch;
  j["in_sync"] = s.in_sync;
  j["min_in_sync"] = s.min_in_sync;
  j["changed_ms"] = s.changed_ms;
  j["last_failover_ms"] = s.last_failover_ms;
  j["previous_master"] = s.previous_master;
  return j.dump();
}

Status DecodeState(std::string_view text, GroupState* s) {
  try {
    ASSIGN_OR_RETURN(Json j, ParseObject(text, "group state"));
    GroupState out;
    const char* what = "group state";
    RETURN_IF_ERROR(ReadString(j, what, "master", true, &out.master));
    RETURN_IF_ERROR(ReadString(j, what, "master_address", false, &out.master_address));
    RETURN_IF_ERROR(ReadInt(j, what, "epoch", &out.epoch));
    RETURN_IF_ERROR(ReadInt(j, what, "min_in_sync", &out.min_in_sync));
    RETURN_IF_ERROR(ReadInt(j, what, "changed_ms", &out.changed_ms));
    RETURN_IF_ERROR(ReadInt(j, what, "last_failover_ms", &out.last_failover_ms));
    RETURN_IF_ERROR(ReadString(j, what, "previous_master", false, &out.previous_master));
    auto it = j.find("in_sync");
    if (it != j.end()) {
      if (!it->is_array()) return Bad(what, "in_sync");
      for (const Json& id : *it) {
        if (!id.is_string()) return Bad(what, "in_sync");
        out.in_sync.push_back(id.get<std::string>());
      }
    }
    if (out.epoch < 0) return Bad(what, "epoch");
    *s = std::move(out);
    return Status::Ok();
  } catch (const std::exception& e) {
    return Corruption(std::string("group state in etcd: ") + e.what());
  }
}

Status ValidateClusterId(std::string_view what, std::string_view id) {
  if (id.empty() || id.size() > 128 || !std::all_of(id.begin(), id.end(), IdChar)) {
    return InvalidArgument(std::string(what) + " '" + std::string(id) +
                           "' must be 1..128 characters of [A-Za-z0-9._-]");
  }
  return Status::Ok();
}

GroupKeys::GroupKeys(std::string prefix, std::string group) : group_(std::move(group)) {
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  base_ = prefix + "/groups/" + group_ + "/";
}

std::optional<std::string> GroupKeys::ParseMember(std::string_view key) const {
  std::string members = MembersPrefix();
  if (key.size() <= members.size() || key.substr(0, members.size()) != members) {
    return std::nullopt;
  }
  std::string_view id = key.substr(members.size());
  if (!ValidateClusterId("broker id", id).ok()) return std::nullopt;
  return std::string(id);
}

}  // namespace tidemq::cluster
