// Reading the JSON records TideMQ keeps in etcd (group_state.h, routes.h) without exceptions:
// a missing or mistyped field is kCorruption naming the record and the field.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tidemq::cluster::json_fields {

using Json = nlohmann::json;

Status Bad(const char* what, const std::string& field);
// A string field; absent is an error only when required.
Status ReadString(const Json& j, const char* what, const char* field, bool required,
                  std::string* out);
// An int64 field; absent leaves *out as it is.
Status ReadInt(const Json& j, const char* what, const char* field, int64_t* out);
Result<Json> ParseObject(std::string_view text, const char* what);

}  // namespace tidemq::cluster::json_fields
