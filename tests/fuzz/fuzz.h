// The libFuzzer entry point every target defines (also driven by replay_main.c, which runs a
// corpus through a target in ordinary builds, so that ctest replays every saved input).
#ifndef EVREPL_TESTS_FUZZ_FUZZ_H
#define EVREPL_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif // EVREPL_TESTS_FUZZ_FUZZ_H
