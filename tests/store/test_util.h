// Helpers shared by the store tests: a temporary data directory and record builders.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <memory>
#include <string>
#include <vector>

#include "common/file_system.h"
#include "store/record.h"
#include "store/store.h"

namespace tidemq::store::testing {

// A fresh directory under /tmp, removed (with everything in it) on destruction.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/tidemq-store-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { (void)FileSystem::Default()->RemoveAll(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline Record MakeMessage(const std::string& topic, uint32_t queue_id, const std::string& body,
                          const std::string& tag = "", std::vector<std::string> keys = {},
                          const std::string& message_id = "") {
  Record r;
  r.type = RecordType::kMessage;
  r.topic = topic;
  r.queue_id = queue_id;
  r.body = body;
  r.tag = tag;
  r.keys = std::move(keys);
  r.message_id = message_id;
  r.born_ms = 42;
  return r;
}

// Appends one record and returns its result; fails the test on error.
inline AppendResult AppendOne(Store* store, Record record) {
  auto result = store->AppendAndWait({std::move(record)});
  if (!result.ok() || result->size() != 1) {
    ADD_FAILURE() << "append failed: " << result.status().ToString();
    return AppendResult{};
  }
  return result->front();
}

inline StoreOptions SmallOptions(const std::string& dir) {
  StoreOptions o;
  o.data_dir = dir;
  o.segment_bytes = 4096;
  o.queue_entries_per_file = 8;
  o.flush_policy = FlushPolicy::kAsync;
  o.flush_interval_ms = 10;
  o.disk_high_watermark = 1.0;  // never delete for disk pressure unless a test asks
  return o;
}

// The name of the newest segment file in <data_dir>/commitlog.
std::string LastSegmentPath(const std::string& data_dir);

}  // namespace tidemq::store::testing
