// Builders for raw envelopes in tests: any method, payload and metadata, including invalid
// ones, packed with protobuf-c.
#ifndef EVREPL_TESTS_SUPPORT_ENVELOPE_H
#define EVREPL_TESTS_SUPPORT_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "evrepl/rpc/v1/envelope.pb-c.h"

typedef struct tenv_meta {
    const char *key;
    const char *value;
} tenv_meta;

// Packs a Request; *len receives its size. Free with free().
uint8_t *tenv_request(const char *method, const void *payload, size_t payload_len,
                      uint32_t timeout_ms, const tenv_meta *meta, size_t n_meta, size_t *len);

// Packs a PropagateEventRequest / HealthCheckRequest / VerifyReplicasRequest payload.
uint8_t *tenv_propagate(const char *event_id, size_t *len);
uint8_t *tenv_health(const char *service, size_t *len);
uint8_t *tenv_verify(uint32_t tail, int full_audit, size_t *len);

// A Response metadata value, or NULL.
const char *tenv_meta_get(const Evrepl__Rpc__V1__Response *r, const char *key);

#endif // EVREPL_TESTS_SUPPORT_ENVELOPE_H
