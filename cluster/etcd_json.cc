#include "cluster/etcd_json.h"

#include <charconv>
#include <climits>
#include <cstdint>
#include <exception>
#include <nlohmann/json.hpp>

namespace tidemq::cluster {

std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    unsigned char last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // etcd: range_end "\0" = every key >= key
}

TxnOp TxnOp::GetPrefix(std::string prefix) {
  TxnOp op{Kind::kRange, std::move(prefix), {}, 0, {}};
  op.range_end = PrefixEnd(op.key);
  return op;
}

namespace etcd_json {
namespace {

using Json = nlohmann::json;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

Status Malformed(const std::string& what) {
  return Internal("etcd answer does not parse: " + what);
}

// An int64 field: etcd sends strings ("42"); numbers are accepted too. Absent: 0.
Status GetInt(const Json& obj, const char* name, int64_t* out) {
  *out = 0;
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (it->is_number_unsigned()) {  // before is_number_integer, which includes it
    uint64_t v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(INT64_MAX)) return Malformed(std::string(name) + " out of range");
    *out = static_cast<int64_t>(v);
    return Status::Ok();
  }
  if (it->is_number_integer()) {
    *out = it->get<int64_t>();
    return Status::Ok();
  }
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    if (ec == std::errc() && end == s.data() + s.size() && !s.empty()) return Status::Ok();
  }
  return Malformed(std::string(name) + " is not an int64");
}

Status GetBool(const Json& obj, const char* name, bool* out) {
  *out = false;
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_boolean()) return Malformed(std::string(name) + " is not a boolean");
  *out = it->get<bool>();
  return Status::Ok();
}

Status GetString(const Json& obj, const char* name, std::string* out) {
  out->clear();
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) return Malformed(std::string(name) + " is not a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

// A bytes field: base64 in a string.
Status GetBytes(const Json& obj, const char* name, std::string* out) {
  std::string b64;
  RETURN_IF_ERROR(GetString(obj, name, &b64));
  if (!Base64Decode(b64, out)) return Malformed(std::string(name) + " is not base64");
  return Status::Ok();
}

// An optional object field; nullptr when absent.
Result<const Json*> GetObject(const Json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return static_cast<const Json*>(nullptr);
  if (!it->is_object()) return Malformed(std::string(name) + " is not an object");
  return &*it;
}

// An optional array field; nullptr when absent.
Result<const Json*> GetArray(const Json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return static_cast<const Json*>(nullptr);
  if (!it->is_array()) return Malformed(std::string(name) + " is not an array");
  return &*it;
}

Status HeaderRevision(const Json& obj, int64_t* revision) {
  *revision = 0;
  ASSIGN_OR_RETURN(const Json* header, GetObject(obj, "header"));
  if (header == nullptr) return Status::Ok();
  return GetInt(*header, "revision", revision);
}

Status DecodeKv(const Json& j, KeyValue* kv) {
  if (!j.is_object()) return Malformed("a key-value is not an object");
  RETURN_IF_ERROR(GetBytes(j, "key", &kv->key));
  RETURN_IF_ERROR(GetBytes(j, "value", &kv->value));
  RETURN_IF_ERROR(GetInt(j, "create_revision", &kv->create_revision));
  RETURN_IF_ERROR(GetInt(j, "mod_revision", &kv->mod_revision));
  RETURN_IF_ERROR(GetInt(j, "version", &kv->version));
  RETURN_IF_ERROR(GetInt(j, "lease", &kv->lease));
  return Status::Ok();
}

Status DecodeKvs(const Json& obj, std::vector<KeyValue>* kvs) {
  ASSIGN_OR_RETURN(const Json* arr, GetArray(obj, "kvs"));
  if (arr == nullptr) return Status::Ok();
  kvs->reserve(arr->size());
  for (const Json& item : *arr) {
    KeyValue kv;
    RETURN_IF_ERROR(DecodeKv(item, &kv));
    kvs->push_back(std::move(kv));
  }
  return Status::Ok();
}

// An error object, either the unary form {"error": "msg", "code": N, "message": "msg"} or the
// stream form {"error": {"grpc_code": N, "message": "msg", ...}}.
Status ErrorFromObject(const Json& obj, int http_status) {
  const Json* err = nullptr;
  auto it = obj.find("error");
  if (it != obj.end() && it->is_object()) err = &*it;
  int64_t code = 0;
  std::string message;
  if (err != nullptr) {
    RETURN_IF_ERROR(GetInt(*err, "grpc_code", &code));
    RETURN_IF_ERROR(GetString(*err, "message", &message));
  } else {
    RETURN_IF_ERROR(GetInt(obj, "code", &code));
    RETURN_IF_ERROR(GetString(obj, "message", &message));
    if (message.empty() && it != obj.end() && it->is_string()) message = it->get<std::string>();
  }
  if (code == 0) {
    // No gRPC code: judge by the HTTP status.
    code = http_status == 404 ? 5 : http_status == 503 ? 14 : 13;
  }
  if (message.empty()) message = "HTTP " + std::to_string(http_status);
  return StatusFromGrpc(code, message);
}

// Parses a unary answer: the object, or the Status of an error answer.
Result<Json> ParseAnswer(int http_status, std::string_view body) {
  Json j = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Internal("etcd answered HTTP " + std::to_string(http_status) +
                    " with a body that is not a JSON object (" + std::to_string(body.size()) +
                    " bytes)");
  }
  if (http_status != 200 || j.contains("error")) return ErrorFromObject(j, http_status);
  return j;
}

// Runs a decoder with nlohmann's exceptions kept inside (they should not happen: every access
// checks the type first; this is the boundary that guarantees it).
template <typename T, typename F>
Result<T> Guarded(F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    return Malformed(e.what());
  }
}

Json CompareJson(const Compare& c) {
  Json j;
  j["key"] = Base64Encode(c.key);
  switch (c.op) {
    case Compare::Op::kEqual:
      j["result"] = "EQUAL";
      break;
    case Compare::Op::kNotEqual:
      j["result"] = "NOT_EQUAL";
      break;
    case Compare::Op::kGreater:
      j["result"] = "GREATER";
      break;
    case Compare::Op::kLess:
      j["result"] = "LESS";
      break;
  }
  switch (c.target) {
    case Compare::Target::kValue:
      j["target"] = "VALUE";
      j["value"] = Base64Encode(c.value);
      break;
    case Compare::Target::kVersion:
      j["target"] = "VERSION";
      j["version"] = std::to_string(c.number);
      break;
    case Compare::Target::kCreateRevision:
      j["target"] = "CREATE";
      j["create_revision"] = std::to_string(c.number);
      break;
    case Compare::Target::kModRevision:
      j["target"] = "MOD";
      j["mod_revision"] = std::to_string(c.number);
      break;
  }
  return j;
}

Json RangeJson(const std::string& key, const std::string& range_end) {
  Json j;
  j["key"] = Base64Encode(key);
  if (!range_end.empty()) j["range_end"] = Base64Encode(range_end);
  return j;
}

Json PutJson(const std::string& key, const std::string& value, int64_t lease) {
  Json j;
  j["key"] = Base64Encode(key);
  j["value"] = Base64Encode(value);
  if (lease != 0) j["lease"] = std::to_string(lease);
  return j;
}

Json OpJson(const TxnOp& op) {
  Json j;
  switch (op.kind) {
    case TxnOp::Kind::kPut:
      j["request_put"] = PutJson(op.key, op.value, op.lease);
      break;
    case TxnOp::Kind::kDelete:
      j["request_delete_range"] = RangeJson(op.key, op.range_end);
      break;
    case TxnOp::Kind::kRange:
      j["request_range"] = RangeJson(op.key, op.range_end);
      break;
  }
  return j;
}

Result<TxnOpResult> DecodeOpResult(const Json& j) {
  if (!j.is_object()) return Malformed("a txn response is not an object");
  TxnOpResult r;
  ASSIGN_OR_RETURN(const Json* range, GetObject(j, "response_range"));
  ASSIGN_OR_RETURN(const Json* put, GetObject(j, "response_put"));
  ASSIGN_OR_RETURN(const Json* del, GetObject(j, "response_delete_range"));
  if (range != nullptr) {
    r.kind = TxnOp::Kind::kRange;
    RETURN_IF_ERROR(DecodeKvs(*range, &r.kvs));
  } else if (del != nullptr) {
    r.kind = TxnOp::Kind::kDelete;
    RETURN_IF_ERROR(GetInt(*del, "deleted", &r.deleted));
  } else if (put != nullptr) {
    r.kind = TxnOp::Kind::kPut;
  } else {
    return Malformed("a txn response names no operation");
  }
  return r;
}

Status DecodeEvent(const Json& j, WatchEvent* ev) {
  if (!j.is_object()) return Malformed("a watch event is not an object");
  std::string type;
  RETURN_IF_ERROR(GetString(j, "type", &type));
  if (type.empty() || type == "PUT") {
    ev->type = WatchEvent::Type::kPut;
  } else if (type == "DELETE") {
    ev->type = WatchEvent::Type::kDelete;
  } else {
    return Malformed("unknown watch event type '" + type + "'");
  }
  ASSIGN_OR_RETURN(const Json* kv, GetObject(j, "kv"));
  if (kv == nullptr) return Malformed("a watch event without kv");
  return DecodeKv(*kv, &ev->kv);
}

// A stream message {"result": {...}}: the inner object, or the Status of {"error": ...}.
Result<const Json*> StreamResult(const Json& j, int http_status) {
  if (j.contains("error")) return ErrorFromObject(j, http_status);
  ASSIGN_OR_RETURN(const Json* result, GetObject(j, "result"));
  if (result == nullptr) return Malformed("a stream message without result");
  return result;
}

}  // namespace

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                 static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

bool Base64Decode(std::string_view in, std::string* out) {
  out->clear();
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return false;
  out->reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = Base64Value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

Status StatusFromGrpc(int64_t grpc_code, const std::string& message) {
  std::string m = "etcd: " + message;
  switch (grpc_code) {
    case 0:
      return Status::Ok();
    case 1:
      return Status(Code::kCancelled, m);
    case 3:
      return InvalidArgument(m);
    case 4:
      return Status(Code::kTimeout, m);
    case 5:
      return NotFound(m);
    case 6:
      return Status(Code::kAlreadyExists, m);
    case 8:
      return Status(Code::kResourceExhausted, m);
    case 9:
      return Status(Code::kFailedPrecondition, m);
    case 11:
      return Status(Code::kOutOfRange, m);
    case 12:
      return Status(Code::kUnsupported, m);
    case 14:
      return Status(Code::kUnavailable, m);
    default:
      return Internal(m + " (gRPC code " + std::to_string(grpc_code) + ")");
  }
}

std::string RangeRequest(const std::string& key, const std::string& range_end) {
  return RangeJson(key, range_end).dump();
}

std::string PutRequest(const std::string& key, const std::string& value, int64_t lease) {
  return PutJson(key, value, lease).dump();
}

std::string DeleteRangeRequest(const std::string& key, const std::string& range_end) {
  return RangeJson(key, range_end).dump();
}

std::string TxnRequest(const std::vector<Compare>& compares, const std::vector<TxnOp>& success,
                       const std::vector<TxnOp>& failure) {
  Json j = Json::object();
  Json c = Json::array(), s = Json::array(), f = Json::array();
  for (const Compare& cmp : compares) c.push_back(CompareJson(cmp));
  for (const TxnOp& op : success) s.push_back(OpJson(op));
  for (const TxnOp& op : failure) f.push_back(OpJson(op));
  j["compare"] = std::move(c);
  j["success"] = std::move(s);
  j["failure"] = std::move(f);
  return j.dump();
}

std::string LeaseGrantRequest(int64_t ttl_s) {
  Json j;
  j["TTL"] = std::to_string(ttl_s);
  j["ID"] = "0";
  return j.dump();
}

std::string LeaseIdRequest(int64_t lease) {
  Json j;
  j["ID"] = std::to_string(lease);
  return j.dump();
}

std::string CompactionRequest(int64_t revision) {
  Json j;
  j["revision"] = std::to_string(revision);
  j["physical"] = true;
  return j.dump();
}

std::string WatchCreateRequest(const std::string& key, const std::string& range_end,
                               int64_t start_revision) {
  Json create = RangeJson(key, range_end);
  if (start_revision > 0) create["start_revision"] = std::to_string(start_revision);
  Json j;
  j["create_request"] = std::move(create);
  return j.dump();
}

Result<RangeResult> DecodeRange(int http_status, std::string_view body) {
  return Guarded<RangeResult>([&]() -> Result<RangeResult> {
    ASSIGN_OR_RETURN(Json j, ParseAnswer(http_status, body));
    RangeResult r;
    RETURN_IF_ERROR(HeaderRevision(j, &r.revision));
    RETURN_IF_ERROR(DecodeKvs(j, &r.kvs));
    RETURN_IF_ERROR(GetInt(j, "count", &r.count));
    return r;
  });
}

Result<int64_t> DecodeHeaderRevision(int http_status, std::string_view body) {
  return Guarded<int64_t>([&]() -> Result<int64_t> {
    ASSIGN_OR_RETURN(Json j, ParseAnswer(http_status, body));
    int64_t rev = 0;
    RETURN_IF_ERROR(HeaderRevision(j, &rev));
    return rev;
  });
}

Result<int64_t> DecodeDeleteRange(int http_status, std::string_view body) {
  return Guarded<int64_t>([&]() -> Result<int64_t> {
    ASSIGN_OR_RETURN(Json j, ParseAnswer(http_status, body));
    int64_t deleted = 0;
    RETURN_IF_ERROR(GetInt(j, "deleted", &deleted));
    return deleted;
  });
}

Result<TxnResult> DecodeTxn(int http_status, std::string_view body) {
  return Guarded<TxnResult>([&]() -> Result<TxnResult> {
    ASSIGN_OR_RETURN(Json j, ParseAnswer(http_status, body));
    TxnResult r;
    RETURN_IF_ERROR(HeaderRevision(j, &r.revision));
    RETURN_IF_ERROR(GetBool(j, "succeeded", &r.succeeded));
    ASSIGN_OR_RETURN(const Json* responses, GetArray(j, "responses"));
    if (responses != nullptr) {
      for (const Json& item : *responses) {
        ASSIGN_OR_RETURN(TxnOpResult op, DecodeOpResult(item));
        r.results.push_back(std::move(op));
      }
    }
    return r;
  });
}

Result<LeaseGrant> DecodeLeaseGrant(int http_status, std::string_view body) {
  return Guarded<LeaseGrant>([&]() -> Result<LeaseGrant> {
    ASSIGN_OR_RETURN(Json j, ParseAnswer(http_status, body));
    std::string error;
    RETURN_IF_ERROR(GetString(j, "error", &error));
    if (!error.empty()) return Status(Code::kUnavailable, "etcd: lease grant: " + error);
    LeaseGrant g;
    RETURN_IF_ERROR(GetInt(j, "ID", &g.id));
    RETURN_IF_ERROR(GetInt(j, "TTL", &g.ttl_s));
    if (g.id == 0) return Malformed("lease grant without an ID");
    return g;
  });
}

Result<LeaseInfo> DecodeTimeToLive(int http_status, std::string_view body) {
  return Guarded<LeaseInfo>([&]() -> Result<LeaseInfo> {
    ASSIGN_OR_RETURN(Json j, ParseAnswer(http_status, body));
    LeaseInfo info;
    RETURN_IF_ERROR(GetInt(j, "ID", &info.id));
    RETURN_IF_ERROR(GetInt(j, "TTL", &info.ttl_s));
    RETURN_IF_ERROR(GetInt(j, "grantedTTL", &info.granted_ttl_s));
    if (info.granted_ttl_s == 0) {
      // The proto field is grantedTTL; accept the snake_case spelling too.
      RETURN_IF_ERROR(GetInt(j, "granted_ttl", &info.granted_ttl_s));
    }
    return info;
  });
}

Result<int64_t> DecodeKeepAlive(int http_status, std::string_view body) {
  return Guarded<int64_t>([&]() -> Result<int64_t> {
    // A stream: the first line is the answer to our one request.
    std::string_view first = body.substr(0, body.find('\n'));
    Json j = Json::parse(first.begin(), first.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return Internal("etcd answered a keepalive with HTTP " + std::to_string(http_status) +
                      " and a body that is not a JSON object");
    }
    if (http_status != 200) return ErrorFromObject(j, http_status);
    ASSIGN_OR_RETURN(const Json* result, StreamResult(j, http_status));
    int64_t ttl = 0;
    RETURN_IF_ERROR(GetInt(*result, "TTL", &ttl));
    return ttl < 0 ? 0 : ttl;
  });
}

Result<WatchMessage> DecodeWatchMessage(std::string_view line) {
  return Guarded<WatchMessage>([&]() -> Result<WatchMessage> {
    Json j = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return Internal("a watch message is not a JSON object (" + std::to_string(line.size()) +
                      " bytes)");
    }
    ASSIGN_OR_RETURN(const Json* result, StreamResult(j, 200));
    WatchMessage m;
    RETURN_IF_ERROR(HeaderRevision(*result, &m.revision));
    RETURN_IF_ERROR(GetInt(*result, "watch_id", &m.watch_id));
    RETURN_IF_ERROR(GetBool(*result, "created", &m.created));
    RETURN_IF_ERROR(GetBool(*result, "canceled", &m.canceled));
    RETURN_IF_ERROR(GetInt(*result, "compact_revision", &m.compact_revision));
    RETURN_IF_ERROR(GetString(*result, "cancel_reason", &m.cancel_reason));
    ASSIGN_OR_RETURN(const Json* events, GetArray(*result, "events"));
    if (events != nullptr) {
      for (const Json& item : *events) {
        WatchEvent ev;
        RETURN_IF_ERROR(DecodeEvent(item, &ev));
        m.events.push_back(std::move(ev));
      }
    }
    return m;
  });
}

}  // namespace etcd_json
}  // namespace tidemq::cluster
