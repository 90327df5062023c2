// libFuzzer entry point for one target, chosen at build time.
#include "tests/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rekall::fuzz::REKALL_FUZZ_TARGET(data, size);
  return 0;
}
