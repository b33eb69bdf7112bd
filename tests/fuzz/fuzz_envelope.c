// Fuzz target: a whole request body through the server's rpc layer (envelope decode, metadata
// and access checks, method lookup, payload decode, handler, response encode), as the
// transport runs it, over the stub backend.
#include "fuzz.h"
#include "fuzz_rpc.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    // Odd sizes come from an allowed ipc uid, even ones from a peer without a uid (tcp).
    static const evri_peer ipc_peer = {.has_uid = true, .uid = 1000};
    fuzz_rpc_call(data, size, size % 2 == 1 ? &ipc_peer : NULL);
    return 0;
}
