// What every fuzz target shares: the libFuzzer entry point's signature and FUZZ_CHECK, which
// turns a broken property (a round trip that changes a value, two decoders that disagree) into an
// abort, so libFuzzer and the standalone driver (standalone_main.cc) report it like a crash.
#ifndef IM_TESTS_FUZZ_FUZZ_CHECK_H_
#define IM_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(cond)                                                                    \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

namespace im::fuzz {

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace im::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

#endif  // IM_TESTS_FUZZ_FUZZ_CHECK_H_
