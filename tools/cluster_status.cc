#include "tools/cluster_status.h"

#include <ctime>
#include <nlohmann/json.hpp>

namespace tidemq::tools {
namespace {

using Json = nlohmann::json;

Status WrongType(std::string_view field, std::string_view expected) {
  return InvalidArgument("cluster status: field '" + std::string(field) + "' is not " +
                         std::string(expected));
}

Status GetString(const Json& obj, const char* field, std::string* out) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) return WrongType(field, "a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

// Broker ids may come as numbers or strings; both are shown as written.
Status GetId(const Json& obj, const char* field, std::string* out) {
  auto it = obj.find(field);
  if (it != obj.end() && it->is_number_integer()) {
    *out = std::to_string(it->get<int64_t>());
    return Status::Ok();
  }
  return GetString(obj, field, out);
}

Status GetInt(const Json& obj, const char* field, int64_t* out) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (it->is_number_integer()) {
    *out = it->get<int64_t>();
    return Status::Ok();
  }
  if (it->is_number_float()) {
    double d = it->get<double>();
    if (d >= -9.0e18 && d <= 9.0e18) {
      *out = static_cast<int64_t>(d);
      return Status::Ok();
    }
  }
  return WrongType(field, "an integer");
}

Status GetBool(const Json& obj, const char* field, bool* out) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_boolean()) return WrongType(field, "true or false");
  *out = it->get<bool>();
  return Status::Ok();
}

std::string UtcTime(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (gmtime_r(&secs, &tm) == nullptr) return std::to_string(ms) + " ms";
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  char out[96];
  std::snprintf(out, sizeof(out), "%s.%03d UTC", buf, static_cast<int>(ms % 1000));
  return out;
}

}  // namespace

Result<ClusterStatus> ParseClusterStatus(std::string_view json) {
  Json doc = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidArgument("cluster status: not a JSON document");
  if (!doc.is_object()) return InvalidArgument("cluster status: not a JSON object");
  ClusterStatus st;
  RETURN_IF_ERROR(GetString(doc, "group", &st.group));
  RETURN_IF_ERROR(GetId(doc, "broker_id", &st.broker_id));
  RETURN_IF_ERROR(GetString(doc, "role", &st.role));
  RETURN_IF_ERROR(GetInt(doc, "epoch", &st.epoch));
  RETURN_IF_ERROR(GetId(doc, "master", &st.master));
  RETURN_IF_ERROR(GetString(doc, "master_address", &st.master_address));
  RETURN_IF_ERROR(GetInt(doc, "min_copies", &st.min_copies));
  RETURN_IF_ERROR(GetInt(doc, "last_failover_ms", &st.last_failover_ms));
  if (auto it = doc.find("in_sync"); it != doc.end() && !it->is_null()) {
    if (!it->is_array()) return WrongType("in_sync", "a list of broker ids");
    for (const Json& id : *it) {
      if (id.is_string()) {
        st.in_sync.push_back(id.get<std::string>());
      } else if (id.is_number_integer()) {
        st.in_sync.push_back(std::to_string(id.get<int64_t>()));
      } else {
        return WrongType("in_sync", "a list of broker ids");
      }
    }
  }
  if (auto it = doc.find("members"); it != doc.end() && !it->is_null()) {
    if (!it->is_array()) return WrongType("members", "a list");
    for (const Json& m : *it) {
      if (!m.is_object()) return WrongType("members", "a list of objects");
      ClusterMember member;
      RETURN_IF_ERROR(GetId(m, "broker_id", &member.broker_id));
      RETURN_IF_ERROR(GetString(m, "address", &member.address));
      RETURN_IF_ERROR(GetString(m, "role", &member.role));
      RETURN_IF_ERROR(GetInt(m, "log_end", &member.log_end));
      RETURN_IF_ERROR(GetInt(m, "lag_bytes", &member.lag_bytes));
      RETURN_IF_ERROR(GetInt(m, "lag_ms", &member.lag_ms));
      RETURN_IF_ERROR(GetBool(m, "in_sync", &member.in_sync));
      RETURN_IF_ERROR(GetBool(m, "connected", &member.connected));
      st.members.push_back(std::move(member));
    }
  }
  return st;
}

std::string FormatClusterStatus(const ClusterStatus& st, std::string_view answered_by) {
  if (st.group.empty() || st.role == "standalone") {
    return std::string(answered_by) + " standalone (not in a broker group)\n";
  }
  auto dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
  std::string out = "group " + st.group + " epoch " + std::to_string(st.epoch) + " master " +
                    dash(st.master) + " (" + dash(st.master_address) + ") min-copies " +
                    std::to_string(st.min_copies) + " in-sync [";
  for (size_t i = 0; i < st.in_sync.size(); ++i) out += (i ? " " : "") + st.in_sync[i];
  out += "]\n";
  for (const ClusterMember& m : st.members) {
    out += "  " + dash(m.broker_id) + "  " + dash(m.address) + "  " + dash(m.role) + "  log-end " +
           std::to_string(m.log_end) + "  lag " + std::to_string(m.lag_bytes) + " bytes / " +
           std::to_string(m.lag_ms) + " ms  " + (m.in_sync ? "in-sync" : "out-of-sync") + "  " +
           (m.connected ? "connected" : "disconnected") + "\n";
  }
  out += "  last failover " + (st.last_failover_ms > 0 ? UtcTime(st.last_failover_ms) : "never") +
         "\n";
  if (st.role != "master") {
    out += "  (as seen by " + dash(st.role) + " " + dash(st.broker_id) + " at " +
           std::string(answered_by) + ")\n";
  }
  return out;
}

}  // namespace tidemq::tools
