// A server-side rpc for the fuzz targets: the real method table and handlers over the stub
// backend, a receipt key, and an access policy with one token and one ipc uid, built once per
// process (libFuzzer runs many inputs in one process).
#ifndef EVREPL_TESTS_FUZZ_FUZZ_RPC_H
#define EVREPL_TESTS_FUZZ_FUZZ_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "rpc/rpc.h"

// The token the policy knows (it may call every method).
#define FUZZ_TOKEN "evrepl_fuzz-token-0123456789abcdefghijklmnopqrstuv"

// The rpc (created on first use; aborts if it cannot be).
evri_rpc *fuzz_rpc(void);

// Runs one request body through begin -> run -> encode -> end, as the transport does, with
// the given peer (NULL: none).
void fuzz_rpc_call(const uint8_t *body, size_t len, const evri_peer *peer);

#endif // EVREPL_TESTS_FUZZ_FUZZ_RPC_H
