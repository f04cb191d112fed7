#include "cluster/json_fields.h"

namespace tidemq::cluster::json_fields {

Status Bad(const char* what, const std::string& field) {
  return Corruption(std::string(what) + " in etcd: field '" + field + "' is missing or wrong");
}

Status ReadString(const Json& j, const char* what, const char* field, bool required,
                  std::string* out) {
  auto it = j.find(field);
  if (it == j.end()) return required ? Bad(what, field) : Status::Ok();
  if (!it->is_string()) return Bad(what, field);
  *out = it->get<std::string>();
  return Status::Ok();
}

Status ReadInt(const Json& j, const char* what, const char* field, int64_t* out) {
  auto it = j.find(field);
  if (it == j.end()) return Status::Ok();
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    return Bad(what, field);
  }
  if (it->is_number_integer()) {
    *out = it->get<int64_t>();
    return Status::Ok();
  }
  return Bad(what, field);
}

Result<Json> ParseObject(std::string_view text, const char* what) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Corruption(std::string(what) + " in etcd is not a JSON object");
  }
  return j;
}

}  // namespace tidemq::cluster::json_fields
