// Clang thread-safety annotations (no-ops for other compilers): which mutex guards a field,
// which a function needs or takes. scripts/check_thread_safety.sh compiles every module with
// clang's -Wthread-safety -Werror, so an annotation is a checked claim, not a comment.
// Annotated locks are tidemq::Mutex / MutexLock (common/mutex.h): std::mutex carries no
// annotations in libstdc++.
#pragma once

#if defined(__clang__)
#define TIDEMQ_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define TIDEMQ_THREAD_ANNOTATION(x)
#endif

// Abseil (under grpc++) defines some of these names the same way; ours win.
#undef GUARDED_BY
#undef PT_GUARDED_BY
#undef NO_THREAD_SAFETY_ANALYSIS

#define CAPABILITY(x) TIDEMQ_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY TIDEMQ_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) TIDEMQ_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) TIDEMQ_THREAD_ANNOTATION(pt_guarded_by(x))
#define REQUIRES(...) TIDEMQ_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) TIDEMQ_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) TIDEMQ_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) TIDEMQ_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) TIDEMQ_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define RELEASE(...) TIDEMQ_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) TIDEMQ_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) TIDEMQ_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) TIDEMQ_THREAD_ANNOTATION(assert_capability(x))
#define ASSERT_SHARED_CAPABILITY(x) TIDEMQ_THREAD_ANNOTATION(assert_shared_capability(x))
#define RETURN_CAPABILITY(x) TIDEMQ_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS TIDEMQ_THREAD_ANNOTATION(no_thread_safety_analysis)
