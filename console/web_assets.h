// The console's static files (console/web/), compiled into the binary at build time
// (console/embed_assets.cmake): the broker serves its pages with no files installed beside
// it and nothing fetched from elsewhere.
#pragma once

#include <cstddef>
#include <string_view>

namespace tidemq::console {

struct WebAsset {
  std::string_view path;  // "/index.html"
  std::string_view content_type;
  const char* data;
  size_t size;
};

// nullptr when there is no such file.
const WebAsset* FindWebAsset(std::string_view path);

}  // namespace tidemq::console
