// Ed25519 keys (libsodium): key ids, a signer holding a secret key in guarded memory, and
// detached signatures.
//
// A key id is the lowercase hex of the first 16 bytes of SHA-256(public key): 32 characters.
//
// Thread safety: a signer is immutable after creation and may sign from many threads.
#ifndef EVREPL_DOMAIN_KEYS_H
#define EVREPL_DOMAIN_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evrepl/status.h"
#include "evrepl/types.h"

#define EVRI_SECRET_KEY_BYTES 64 // libsodium's Ed25519 secret key: seed || public key
#define EVRI_SEED_BYTES       32
#define EVRI_KEY_ID_LEN       32 // hex characters, without NUL

typedef struct evri_signer evri_signer;

// Initialises libsodium (idempotent, thread-safe). False if it cannot be used.
bool evri_crypto_init(void);

// Writes the key id of public_key into out (EVRI_KEY_ID_LEN + 1 bytes).
void evri_key_id(const uint8_t public_key[EVREPL_PUBLIC_KEY_BYTES], char out[EVRI_KEY_ID_LEN + 1]);

// Makes a signer from a 64-byte libsodium secret key, checking that its public half is the
// one its seed derives (INVALID_ARGUMENT otherwise). The secret is copied into guarded memory;
// the caller wipes its own copy. Writes *out only on success.
EVREPL_NODISCARD evrepl_code evri_signer_create(evri_signer **out,
                                                const uint8_t secret_key[EVRI_SECRET_KEY_BYTES],
                                                evrepl_status *st);

// Makes a new random key pair. Writes *out only on success.
EVREPL_NODISCARD evrepl_code evri_signer_generate(evri_signer **out, evrepl_status *st);

// Wipes and frees. Accepts NULL.
void evri_signer_destroy(evri_signer *s);

const uint8_t *evri_signer_public_key(const evri_signer *s); // EVREPL_PUBLIC_KEY_BYTES
const char *evri_signer_key_id(const evri_signer *s);        // EVRI_KEY_ID_LEN chars

// Copies the 64-byte secret key out (for writing a key file). The caller wipes it.
void evri_signer_export_secret(const evri_signer *s, uint8_t out[EVRI_SECRET_KEY_BYTES]);

// Ed25519 detached signature of msg.
void evri_signer_sign(const evri_signer *s, const uint8_t *msg, size_t len,
                      uint8_t sig[EVREPL_SIGNATURE_BYTES]);

// True when sig is public_key's valid signature of msg.
bool evri_signature_valid(const uint8_t public_key[EVREPL_PUBLIC_KEY_BYTES], const uint8_t *msg,
                          size_t len, const uint8_t sig[EVREPL_SIGNATURE_BYTES]);

#endif // EVREPL_DOMAIN_KEYS_H
