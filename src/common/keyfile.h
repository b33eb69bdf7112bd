// Key files. A secret key file holds the 64 raw bytes of a libsodium Ed25519 secret key
// (seed || public key), mode 0600; `evrepl keygen` writes it, and FILE.pub beside it with the
// public key as one line of 64 lowercase hex digits. A trusted-keys file (--trusted-keys)
// lists public keys, one hex line each; blank lines and lines starting with '#' are ignored.
//
// Thread safety: no shared state.
#ifndef EVREPL_COMMON_KEYFILE_H
#define EVREPL_COMMON_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include "domain/keys.h"
#include "evrepl/status.h"

// Reads a secret key file. INVALID_ARGUMENT when it is not a key file (wrong size, corrupt),
// FAILED_PRECONDITION when group or others may read it, NOT_FOUND / PERMISSION_DENIED /
// INTERNAL for I/O errors. Messages name the path, never the key. Writes *out only on success.
EVREPL_NODISCARD evrepl_code evri_keyfile_read(evri_signer **out, const char *path,
                                               evrepl_status *st);

// Writes s's secret key to path (created, mode 0600, never overwriting: ALREADY_EXISTS) and
// its public key to path.pub.
EVREPL_NODISCARD evrepl_code evri_keyfile_write(const evri_signer *s, const char *path,
                                                evrepl_status *st);

// A list of trusted Ed25519 public keys.
typedef struct evri_keyset {
    uint8_t (*keys)[EVREPL_PUBLIC_KEY_BYTES];
    char (*ids)[EVRI_KEY_ID_LEN + 1];
    size_t n;
} evri_keyset;

// Reads a trusted-keys file into *out (zeroed by the caller; free with evri_keyset_clear()).
// INVALID_ARGUMENT names the first bad line.
EVREPL_NODISCARD evrepl_code evri_keyset_read(evri_keyset *out, const char *path,
                                              evrepl_status *st);

// Adds one key (ignored when already present). False when memory runs out.
bool evri_keyset_add(evri_keyset *ks, const uint8_t public_key[EVREPL_PUBLIC_KEY_BYTES]);

// The key with this id, or NULL.
const uint8_t *evri_keyset_find(const evri_keyset *ks, const char *key_id);

void evri_keyset_clear(evri_keyset *ks);

#endif // EVREPL_COMMON_KEYFILE_H
