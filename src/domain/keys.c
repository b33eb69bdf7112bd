#include "domain/keys.h"

#include <string.h>

#include <sodium.h>

#include "domain/status.h"

_Static_assert(crypto_sign_PUBLICKEYBYTES == EVREPL_PUBLIC_KEY_BYTES, "Ed25519 public key");
_Static_assert(crypto_sign_SECRETKEYBYTES == EVRI_SECRET_KEY_BYTES, "Ed25519 secret key");
_Static_assert(crypto_sign_BYTES == EVREPL_SIGNATURE_BYTES, "Ed25519 signature");
_Static_assert(crypto_hash_sha256_BYTES == EVREPL_HASH_BYTES, "SHA-256");
_Static_assert(EVRI_KEY_ID_LEN <= EVREPL_KEY_ID_MAX, "key id fits the wire limit");

struct evri_signer {
    uint8_t *secret; // sodium_malloc'd, read-only after creation
    uint8_t public_key[EVREPL_PUBLIC_KEY_BYTES];
    char key_id[EVRI_KEY_ID_LEN + 1];
};

bool
evri_crypto_init(void)
{
    return sodium_init() >= 0;
}

void
evri_key_id(const uint8_t public_key[EVREPL_PUBLIC_KEY_BYTES], char out[EVRI_KEY_ID_LEN + 1])
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, public_key, EVREPL_PUBLIC_KEY_BYTES);
    sodium_bin2hex(out, EVRI_KEY_ID_LEN + 1, h, EVRI_KEY_ID_LEN / 2);
}

static evrepl_code
signer_from(evri_signer **out, const uint8_t secret_key[EVRI_SECRET_KEY_BYTES], evrepl_status *st)
{
    evri_signer *s = sodium_malloc(sizeof(*s));
    if (s == NULL) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory for a signing key");
    }
    s->secret = sodium_malloc(EVRI_SECRET_KEY_BYTES);
    if (s->secret == NULL) {
        sodium_free(s);
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "out of memory for a signing key");
    }
    memcpy(s->secret, secret_key, EVRI_SECRET_KEY_BYTES);
    crypto_sign_ed25519_sk_to_pk(s->public_key, s->secret);
    evri_key_id(s->public_key, s->key_id);
    sodium_mprotect_readonly(s->secret);
    *out = s;
    return evri_status_ok(st);
}

evrepl_code
evri_signer_create(evri_signer **out, const uint8_t secret_key[EVRI_SECRET_KEY_BYTES],
                   evrepl_status *st)
{
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    if (!evri_crypto_init()) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "libsodium cannot be initialised");
    }
    // Re-derive the pair from the seed: a key file whose public half does not match its seed
    // is corrupt, and signing with it would make signatures nobody can verify.
    crypto_sign_seed_keypair(pk, sk, secret_key);
    bool match = sodium_memcmp(sk, secret_key, sizeof(sk)) == 0;
    sodium_memzero(sk, sizeof(sk));
    if (!match) {
        return evri_status_set(st, EVREPL_CODE_INVALID_ARGUMENT,
                               "the secret key is corrupt: its public half does not match its "
                               "seed");
    }
    return signer_from(out, secret_key, st);
}

evrepl_code
evri_signer_generate(evri_signer **out, evrepl_status *st)
{
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    if (!evri_crypto_init()) {
        return evri_status_set(st, EVREPL_CODE_INTERNAL, "libsodium cannot be initialised");
    }
    crypto_sign_keypair(pk, sk);
    evrepl_code code = signer_from(out, sk, st);
    sodium_memzero(sk, sizeof(sk));
    return code;
}

void
evri_signer_destroy(evri_signer *s)
{
    if (s == NULL) {
        return;
    }
    sodium_free(s->secret); // wipes
    sodium_free(s);
}

const uint8_t *
evri_signer_public_key(const evri_signer *s)
{
    return s->public_key;
}

const char *
evri_signer_key_id(const evri_signer *s)
{
    return s->key_id;
}

void
evri_signer_export_secret(const evri_signer *s, uint8_t out[EVRI_SECRET_KEY_BYTES])
{
    memcpy(out, s->secret, EVRI_SECRET_KEY_BYTES);
}

void
evri_signer_sign(const evri_signer *s, const uint8_t *msg, size_t len,
                 uint8_t sig[EVREPL_SIGNATURE_BYTES])
{
    crypto_sign_detached(sig, NULL, msg, len, s->secret);
}

bool
evri_signature_valid(const uint8_t public_key[EVREPL_PUBLIC_KEY_BYTES], const uint8_t *msg,
                     size_t len, const uint8_t sig[EVREPL_SIGNATURE_BYTES])
{
    return crypto_sign_verify_detached(sig, msg, len, public_key) == 0;
}
