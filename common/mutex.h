// A mutex the thread-safety analysis understands (common/thread_annotations.h), its scoped
// lock, and the condition variable that goes with them.
//
//   Mutex mu_;
//   int64_t pending_ GUARDED_BY(mu_) = 0;
//   void Add() EXCLUDES(mu_) { MutexLock lock(mu_); ++pending_; }
//   void Wait() { MutexLock lock(mu_); while (pending_ > 0) cv_.wait(lock); }
//
// Wait in a loop that tests the guarded state rather than with a predicate lambda: the
// analysis does not know a lambda runs under the caller's lock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "common/thread_annotations.h"

namespace tidemq {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // Tells the analysis the caller holds this mutex (for code it cannot follow).
  void AssertHeld() const ASSERT_CAPABILITY(this) {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds `mu` for its scope; Unlock()/Lock() may release and retake it inside the scope.
// Also a BasicLockable, so CondVar can wait on it.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() RELEASE() {
    if (held_) mu_.unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() RELEASE() {
    mu_.unlock();
    held_ = false;
  }
  void Lock() ACQUIRE() {
    mu_.lock();
    held_ = true;
  }
  // BasicLockable (what std::scoped_lock and friends expect).
  void lock() ACQUIRE() { Lock(); }
  void unlock() RELEASE() { Unlock(); }

 private:
  friend class CondVar;
  Mutex& mu_;
  bool held_ = true;
};

// A reader-writer mutex: many readers (ReaderLock) or one writer (WriterLock).
class CAPABILITY("shared mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  void lock_shared() ACQUIRE_SHARED() { mu_.lock_shared(); }
  void unlock_shared() RELEASE_SHARED() { mu_.unlock_shared(); }
  void AssertHeld() const ASSERT_CAPABILITY(this) {}
  void AssertReaderHeld() const ASSERT_SHARED_CAPABILITY(this) {}

 private:
  std::shared_mutex mu_;
};

class SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~WriterLock() RELEASE() { mu_.unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex& mu_;
};

class SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex& mu) ACQUIRE_SHARED(mu) : mu_(mu) { mu_.lock_shared(); }
  ~ReaderLock() RELEASE() { mu_.unlock_shared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex& mu_;
};

// A condition variable waited on with a held MutexLock: wait(lock[, pred]),
// wait_for(lock, d[, pred]), wait_until(lock, t[, pred]), as std::condition_variable's (it is
// one underneath, waiting on the Mutex's own std::mutex: no extra lock per notify).
class CondVar {
 public:
  void notify_one() noexcept { cv_.notify_one(); }
  void notify_all() noexcept { cv_.notify_all(); }

  void wait(MutexLock& lock) {
    Adopted a(lock);
    cv_.wait(a.lock);
  }
  template <typename Pred>
  void wait(MutexLock& lock, Pred pred) {
    Adopted a(lock);
    cv_.wait(a.lock, std::move(pred));
  }
  template <typename Rep, typename Period>
  std::cv_status wait_for(MutexLock& lock, const std::chrono::duration<Rep, Period>& d) {
    Adopted a(lock);
    return cv_.wait_for(a.lock, d);
  }
  template <typename Rep, typename Period, typename Pred>
  bool wait_for(MutexLock& lock, const std::chrono::duration<Rep, Period>& d, Pred pred) {
    Adopted a(lock);
    return cv_.wait_for(a.lock, d, std::move(pred));
  }
  template <typename Clock, typename Duration>
  std::cv_status wait_until(MutexLock& lock, const std::chrono::time_point<Clock, Duration>& t) {
    Adopted a(lock);
    return cv_.wait_until(a.lock, t);
  }
  template <typename Clock, typename Duration, typename Pred>
  bool wait_until(MutexLock& lock, const std::chrono::time_point<Clock, Duration>& t, Pred pred) {
    Adopted a(lock);
    return cv_.wait_until(a.lock, t, std::move(pred));
  }

 private:
  // The held MutexLock's std::mutex as a std::unique_lock for the wait; still held after.
  struct Adopted {
    explicit Adopted(MutexLock& held) : lock(held.mu_.mu_, std::adopt_lock) {}
    ~Adopted() { lock.release(); }
    std::unique_lock<std::mutex> lock;
  };
  std::condition_variable cv_;
};

}  // namespace tidemq
