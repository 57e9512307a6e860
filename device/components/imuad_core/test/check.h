// Minimal test helpers (no test framework dependency).
#pragma once
#include <cstdio>
#include <cstdlib>

static int g_failures = 0;  // test binaries only
#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++g_failures;                                                          \
    }                                                                        \
  } while (0)
#define CHECK_EQ(a, b)                                                                          \
  do {                                                                                          \
    const long long _va = static_cast<long long>(a), _vb = static_cast<long long>(b);           \
    if (_va != _vb) {                                                                           \
      std::fprintf(stderr, "%s:%d: CHECK_EQ failed: %s (%lld) != %s (%lld)\n", __FILE__, __LINE__, #a, \
                   _va, #b, _vb);                                                               \
      ++g_failures;                                                                             \
    }                                                                                           \
  } while (0)
#define TEST_MAIN_END()                                      \
  do {                                                       \
    if (g_failures) std::fprintf(stderr, "%d failures\n", g_failures); \
    else std::printf("ok\n");                                \
    return g_failures ? 1 : 0;                               \
  } while (0)
