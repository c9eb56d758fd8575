// Shared by the fuzz targets: property checks that fail like a crash (libFuzzer and the replay
// runner both report them), and where the committed seed files are.
#ifndef GEMMA4C_TESTS_FUZZ_FUZZ_UTIL_H_
#define GEMMA4C_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstdio>
#include <cstdlib>
#include <string>

// A property of the code under test that an input violated: print it and crash on purpose (the
// one place that aborts: a fuzz harness, never library code).
#define G4_FUZZ_EXPECT(cond)                                                          \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

namespace g4::fuzz {

// tests/fuzz/corpus (set by CMake), where the fixed plan and model of the targets live.
inline std::string CorpusDir() { return G4_FUZZ_CORPUS_DIR; }

}  // namespace g4::fuzz

#endif  // GEMMA4C_TESTS_FUZZ_FUZZ_UTIL_H_
