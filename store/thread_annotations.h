// Clang thread-safety annotations (no-ops elsewhere): document which mutex guards a field.
#pragma once

#if defined(__clang__)
#define TIDEMQ_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define TIDEMQ_THREAD_ANNOTATION(x)
#endif

#define GUARDED_BY(x) TIDEMQ_THREAD_ANNOTATION(guarded_by(x))
