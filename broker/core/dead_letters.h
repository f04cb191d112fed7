// A consumer group's dead-letter queue, %DLQ%<group> (one queue, readable like any topic):
// listing with filters, redrive (back to the original topic, or to the group's retry queue)
// and purge. The log is append-only, so "removed" (redriven or purged) DLQ offsets are
// remembered in store metadata (metadata records in the log): a floor below which everything is
// removed ("dlq/floor/<group>") plus single offsets above it ("dlq/removed/<group>/<offset>").
// A redrive appends the copies and, after them in the same append, the marks: the log never
// marks a message removed before its copy, and a crash cannot split them apart unless it tears
// the log's tail (then the copies before the tear stay and are redriven again: twice, never
// lost).
//
// Threads: List/Count from any thread (reads only); Redrive and Purge run on this object's own
// worker thread ("tidemq-dlq") and call `done` there, so network threads never wait on disk.
#pragma once

#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp needs std::exchange
#include <boost/asio/thread_pool.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "broker/core/topic_manager.h"
#include "common/mutex.h"
#include "common/clock.h"
#include "common/status.h"
#include "store/store.h"

namespace tidemq::broker {

struct DlqFilter {
  std::string message_id;
  int64_t dlq_offset = -1;      // -1: any
  std::string tag;
  std::string key;
  std::string original_topic;
  int64_t from_ms = 0;          // dead-lettered at or after; 0: any
  int64_t to_ms = 0;            // dead-lettered before; 0: any
  bool empty() const {
    return message_id.empty() && dlq_offset < 0 && tag.empty() && key.empty() &&
           original_topic.empty() && from_ms == 0 && to_ms == 0;
  }
};

struct DeadLetter {
  store::Record record;        // topic %DLQ%<group>; ReadRetryInfo() tells its story
  int64_t dlq_offset = 0;
  LogOffset log_offset;
};

enum class RedriveTarget { kOriginalTopic, kRetryQueue };

class DeadLetters {
 public:
  using CountDone = std::function<void(Result<int64_t>)>;

  DeadLetters(store::Store* store, TopicManager* topics, Clock* clock);
  ~DeadLetters();
  DeadLetters(const DeadLetters&) = delete;
  DeadLetters& operator=(const DeadLetters&) = delete;

  Status Load();
  // Finishes the redrive / purge in progress and stops the worker; before the store closes.
  void Stop();

  // Matching messages with DLQ offsets above after_offset, oldest first, at most `limit`.
  Result<std::vector<DeadLetter>> List(const std::string& group, const DlqFilter& filter,
                                       int64_t after_offset, size_t limit) const;
  // Messages in the group's DLQ that were neither redriven nor purged.
  int64_t Count(const std::string& group) const;

  // `all` must be set when the filter is empty. `done` gets how many were moved.
  void Redrive(const std::string& group, const DlqFilter& filter, bool all,
               RedriveTarget target, CountDone done);
  void Purge(const std::string& group, const DlqFilter& filter, bool all, CountDone done);

  int64_t redriven() const { return redriven_.load(std::memory_order_relaxed); }
  int64_t purged() const { return purged_.load(std::memory_order_relaxed); }
  // Metadata records Load() skipped because they did not parse.
  int64_t malformed_skipped() const { return malformed_.load(std::memory_order_relaxed); }

 private:
  struct Removed {
    int64_t floor = 0;
    std::set<int64_t> offsets;  // above floor
  };
  bool IsRemoved(const std::string& group, int64_t offset) const;  // takes mu_
  // Visits matching messages in offset order; `visit` returns false to stop.
  Status Scan(const std::string& group, const DlqFilter& filter, int64_t after_offset,
              const std::function<bool(DeadLetter)>& visit) const;
  // The metadata ops marking `offsets` removed, and the same in memory once durable.
  store::MetaChange RemovedMarks(const std::string& group,
                                 const std::vector<int64_t>& offsets) const;
  void NoteRemoved(const std::string& group, const std::vector<int64_t>& offsets);
  Result<int64_t> DoRedrive(const std::string& group, const DlqFilter& filter,
                            RedriveTarget target);
  Result<int64_t> DoPurge(const std::string& group, const DlqFilter& filter);
  Status CheckSelection(const std::string& group, const DlqFilter& filter, bool all) const;

  store::Store* const store_;
  TopicManager* const topics_;
  Clock* const clock_;
  std::atomic<int64_t> redriven_{0}, purged_{0}, malformed_{0};
  mutable Mutex mu_;
  std::map<std::string, Removed> removed_ GUARDED_BY(mu_);
  boost::asio::thread_pool worker_{1};
};

// Redriven copy of a dead letter: a fresh message of its original topic (attempt 1 for every
// group), or a retry copy for `group` whose attempts start again, made for the original
// topic's current `incarnation` (an operator's redrive is for the topic as it is now).
store::Record MakeRedriveCopy(const store::Record& dead, const std::string& group,
                              RedriveTarget target, int64_t now_ms, uint64_t incarnation);

}  // namespace tidemq::broker
