// SerialWorker: one named thread running posted tasks in order — for work that blocks (etcd
// calls, a promotion replaying the log) and so must stay off the network threads.
//
//   SerialWorker worker("tidemq-role");
//   worker.Post([] { ... });   // any thread; dropped once Stop() began
//   worker.Stop();             // waits for the running task; the queued ones are dropped
//
// Thread safety: Post and Stop from any thread but the worker's own (Stop from a task would
// wait for itself).
#pragma once

#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <utility>

#include "common/logging.h"
#include "common/mutex.h"

namespace tidemq {

class SerialWorker {
 public:
  explicit SerialWorker(std::string name) : name_(std::move(name)) {
    thread_ = std::thread([this] {
      SetThreadName(name_.c_str());
      Run();
    });
  }
  ~SerialWorker() { Stop(); }
  SerialWorker(const SerialWorker&) = delete;
  SerialWorker& operator=(const SerialWorker&) = delete;

  // False (and the task dropped) once Stop() began.
  bool Post(std::function<void()> task) EXCLUDES(mu_) {
    {
      MutexLock lock(mu_);
      if (stopping_) return false;
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
    return true;
  }

  void Stop() EXCLUDES(mu_) {
    {
      MutexLock lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    while (true) {
      while (!stopping_ && tasks_.empty()) cv_.wait(lock);
      if (stopping_) return;
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.Unlock();
      task();
      lock.Lock();
    }
  }

  const std::string name_;
  Mutex mu_;
  CondVar cv_;
  std::deque<std::function<void()>> tasks_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace tidemq
