// Canonical bytes: the deterministic, length-prefixed encoding that hashes and signatures
// cover (docs/event-format.md, docs/receipt-format.md). Integers are big-endian; strings and
// byte strings are a u32 length followed by the bytes; every encoding starts with a
// length-prefixed domain tag such as "evrepl.event.v1".
//
// Thread safety: a buffer belongs to one thread.
#ifndef EVREPL_DOMAIN_CANON_H
#define EVREPL_DOMAIN_CANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct evri_canon {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool failed; // out of memory, or a field longer than UINT32_MAX: the bytes are unusable
} evri_canon;

void evri_canon_init(evri_canon *c);
void evri_canon_free(evri_canon *c);
void evri_canon_reset(evri_canon *c);

void evri_canon_u8(evri_canon *c, uint8_t v);
void evri_canon_bool(evri_canon *c, bool v); // one byte, 0 or 1
void evri_canon_u32(evri_canon *c, uint32_t v);
void evri_canon_u64(evri_canon *c, uint64_t v);
void evri_canon_i64(evri_canon *c, int64_t v);                   // two's complement, big-endian
void evri_canon_bytes(evri_canon *c, const void *p, size_t len); // u32 length + bytes
void evri_canon_str(evri_canon *c, const char *s);               // u32 length + UTF-8 bytes
void evri_canon_strv(evri_canon *c, char *const *v, size_t n);   // u32 count + each string

#endif // EVREPL_DOMAIN_CANON_H
