#include "store/consume_queue_set.h"

#include <mutex>

namespace tidemq::store {
namespace {

bool ParseQueueId(const std::string& name, uint32_t* id) {
  if (name.empty() || name.size() > 10) return false;
  uint64_t v = 0;
  for (char c : name) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > UINT32_MAX || std::to_string(v) != name) return false;
  *id = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

bool IsSafeTopicDirName(std::string_view topic) {
  return !topic.empty() && topic != "." && topic != ".." &&
         topic.find('/') == std::string_view::npos && topic.find('\0') == std::string_view::npos;
}

ConsumeQueueSet::ConsumeQueueSet(FileSystem* fs, std::string root, uint32_t entries_per_file,
                                 size_t max_open_files)
    : fs_(fs),
      root_(std::move(root)),
      entries_per_file_(entries_per_file),
      cache_(std::make_shared<FileCache>(
          fs, max_open_files != 0 ? max_open_files : FileCache::DefaultCapacity())) {}

std::string ConsumeQueueSet::QueueDir(const std::string& topic, uint32_t queue_id) const {
  return JoinPath(JoinPath(root_, topic), std::to_string(queue_id));
}

Result<std::unique_ptr<ConsumeQueueSet>> ConsumeQueueSet::Open(FileSystem* fs, std::string root,
                                                               uint32_t entries_per_file,
                                                               size_t max_open_files,
                                                               bool* existed) {
  std::unique_ptr<ConsumeQueueSet> set(
      new ConsumeQueueSet(fs, std::move(root), entries_per_file, max_open_files));
  *existed = fs->Exists(set->root_);
  if (!*existed) {
    RETURN_IF_ERROR(fs->CreateDirs(set->root_));
    return set;
  }
  ASSIGN_OR_RETURN(std::vector<std::string> topics, fs->ListDir(set->root_));
  WriterLock lock(set->mu_);
  for (const auto& topic : topics) {
    if (!IsSafeTopicDirName(topic)) continue;
    auto ids = fs->ListDir(JoinPath(set->root_, topic));
    if (!ids.ok()) continue;  // a stray file, not a topic directory
    for (const auto& name : *ids) {
      uint32_t id;
      if (!ParseQueueId(name, &id)) continue;
      ASSIGN_OR_RETURN(std::unique_ptr<ConsumeQueue> cq,
                       ConsumeQueue::Open(fs, set->cache_, set->QueueDir(topic, id),
                                                          entries_per_file));
      set->queues_[{topic, id}] = std::move(cq);
    }
  }
  return set;
}

std::shared_ptr<ConsumeQueue> ConsumeQueueSet::Find(const std::string& topic,
                                                    uint32_t queue_id) const {
  ReaderLock lock(mu_);
  auto it = queues_.find({topic, queue_id});
  return it == queues_.end() ? nullptr : it->second;
}

Result<std::shared_ptr<ConsumeQueue>> ConsumeQueueSet::FindOrCreate(const std::string& topic,
                                                                    uint32_t queue_id) {
  if (auto cq = Find(topic, queue_id)) return cq;
  if (!IsSafeTopicDirName(topic)) {
    return InvalidArgument("topic '" + topic + "' cannot name a consume queue directory");
  }
  WriterLock lock(mu_);
  auto it = queues_.find({topic, queue_id});
  if (it != queues_.end()) return it->second;
  ASSIGN_OR_RETURN(std::unique_ptr<ConsumeQueue> cq,
                   ConsumeQueue::Open(fs_, cache_, QueueDir(topic, queue_id), entries_per_file_));
  std::shared_ptr<ConsumeQueue> shared = std::move(cq);
  queues_.emplace(Key{topic, queue_id}, shared);
  return shared;
}

std::vector<std::shared_ptr<ConsumeQueue>> ConsumeQueueSet::All() const {
  ReaderLock lock(mu_);
  std::vector<std::shared_ptr<ConsumeQueue>> out;
  out.reserve(queues_.size());
  for (const auto& [key, cq] : queues_) out.push_back(cq);
  return out;
}

std::vector<std::shared_ptr<ConsumeQueue>> ConsumeQueueSet::TopicQueues(
    const std::string& topic) const {
  ReaderLock lock(mu_);
  std::vector<std::shared_ptr<ConsumeQueue>> out;
  for (auto it = queues_.lower_bound({topic, 0}); it != queues_.end() && it->first.first == topic;
       ++it) {
    out.push_back(it->second);
  }
  return out;
}

Status ConsumeQueueSet::DeleteTopic(const std::string& topic) {
  if (!IsSafeTopicDirName(topic)) return InvalidArgument("bad topic '" + topic + "'");
  {
    WriterLock lock(mu_);
    auto it = queues_.lower_bound({topic, 0});
    while (it != queues_.end() && it->first.first == topic) it = queues_.erase(it);
  }
  std::string dir = JoinPath(root_, topic);
  if (!fs_->Exists(dir)) return Status::Ok();
  RETURN_IF_ERROR(fs_->RemoveAll(dir));
  return fs_->SyncDir(root_);
}

}  // namespace tidemq::store
