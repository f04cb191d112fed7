// All consume queues of the store, under <root>/<topic>/<queue_id>/ (docs/storage_format.md).
// Queues are created on first use by the dispatcher and found by (topic, queue id).
//
// Thread safety: every method may be called from any thread. The returned queues are shared:
// one removed by DeleteTopic stays usable by a reader that already holds it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "common/file_system.h"
#include "common/status.h"
#include "store/consume_queue.h"
#include "store/file_cache.h"
#include "common/thread_annotations.h"

namespace tidemq::store {

class ConsumeQueueSet {
 public:
  // Loads every queue under root. *existed is false when root was missing (then every
  // consume queue must be rebuilt from the log). At most max_open_files queue files are open
  // at once (0: FileCache::DefaultCapacity()).
  static Result<std::unique_ptr<ConsumeQueueSet>> Open(FileSystem* fs, std::string root,
                                                       uint32_t entries_per_file,
                                                       size_t max_open_files, bool* existed);

  std::shared_ptr<ConsumeQueue> Find(const std::string& topic, uint32_t queue_id) const;
  Result<std::shared_ptr<ConsumeQueue>> FindOrCreate(const std::string& topic, uint32_t queue_id);
  std::vector<std::shared_ptr<ConsumeQueue>> All() const;
  std::vector<std::shared_ptr<ConsumeQueue>> TopicQueues(const std::string& topic) const;
  // Forgets every queue of topic and removes its directory.
  Status DeleteTopic(const std::string& topic);
  const FileCache& file_cache() const { return *cache_; }

 private:
  using Key = std::pair<std::string, uint32_t>;
  ConsumeQueueSet(FileSystem* fs, std::string root, uint32_t entries_per_file,
                  size_t max_open_files);
  std::string QueueDir(const std::string& topic, uint32_t queue_id) const;

  FileSystem* const fs_;
  const std::string root_;
  const uint32_t entries_per_file_;
  const std::shared_ptr<FileCache> cache_;  // every queue's files
  mutable SharedMutex mu_;
  std::map<Key, std::shared_ptr<ConsumeQueue>> queues_ GUARDED_BY(mu_);
};

// True when `topic` can be used as a directory name: not empty, not "." or "..", and free of
// '/' and NUL. (Topic names are validated by the broker; this is the store's own guard.)
bool IsSafeTopicDirName(std::string_view topic);

}  // namespace tidemq::store
