// TIDEMQ_CHECK: an invariant that must hold; when it does not, crash loudly with where and why.
// Used for programming errors only, never for bad input (bad input gets a Status).
#pragma once

#include <cstdio>
#include <cstdlib>

#define TIDEMQ_CHECK(cond)                                                             \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)
