// libevrepl: the C client of an evrepl server (NNG req0 over ipc://, tcp://, tls+tcp://).
//
// Thread safety: an evrepl_client belongs to one thread at a time; use one client per thread
// (they are cheap) for concurrent calls. Distinct clients share nothing.
#ifndef EVREPL_CLIENT_H
#define EVREPL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "evrepl/status.h"
#include "evrepl/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct evrepl_client evrepl_client;

// Default per-call deadline when neither the client options nor the call set one.
#define EVREPL_CLIENT_DEFAULT_TIMEOUT_MS 5000u

// Method paths of contract version 1.
#define EVREPL_METHOD_PROPAGATE_EVENT "/evrepl.v1.EventReplicator/PropagateEvent"
#define EVREPL_METHOD_VERIFY_REPLICAS "/evrepl.v1.EventReplicator/VerifyReplicas"
#define EVREPL_METHOD_HEALTH_CHECK    "/evrepl.v1.Health/Check"
#define EVREPL_METHOD_DESCRIBE        "/evrepl.v1.Server/Describe"

typedef struct evrepl_client_opts {
    const char *url;     // required: ipc://PATH, tcp://HOST:PORT, tls+tcp://HOST:PORT, inproc://
    uint32_t timeout_ms; // default deadline of every call; 0 = EVREPL_CLIENT_DEFAULT_TIMEOUT_MS
    const char *tls_cert_file;   // tls+tcp://: client certificate (PEM), required by the server
    const char *tls_key_file;    // tls+tcp://: its private key (PEM)
    const char *tls_ca_file;     // tls+tcp://: CA that the server's certificate must chain to
    const char *tls_server_name; // tls+tcp://: name to check the server certificate against;
                                 // NULL = the URL's host
    const char *token;           // bearer token sent as `authorization: Bearer TOKEN`, or NULL
    size_t max_response_bytes;   // largest response accepted; 0 = 64 MiB
} evrepl_client_opts;

typedef struct evrepl_metadata_entry {
    const char *key; // lowercase [a-z0-9._-], 1-64 characters
    const char *value;
} evrepl_metadata_entry;

// Per-call options; every call accepts NULL for "all defaults".
typedef struct evrepl_call_opts {
    uint32_t timeout_ms;                   // 0 = the client's default
    const char *request_id;                // sent as x-request-id, or NULL
    const evrepl_metadata_entry *metadata; // extra metadata, or NULL
    size_t n_metadata;
} evrepl_call_opts;

// Opens a client for opts->url and connects to it once. Returns OK and writes *out, or
// INVALID_ARGUMENT (bad URL or options), UNAVAILABLE (cannot connect: the sentence says why);
// *out is written only on success. After a successful create the client reconnects by itself
// when the connection drops.
EVREPL_NODISCARD evrepl_code evrepl_client_create(evrepl_client **out,
                                                  const evrepl_client_opts *opts,
                                                  evrepl_status *st);

// Closes the client. Accepts NULL.
void evrepl_client_destroy(evrepl_client *c);

// Calls /evrepl.v1.EventReplicator/PropagateEvent. On OK *out (zeroed or cleared by the
// caller) holds the receipt; free it with evrepl_receipt_clear(). Other codes: the server's
// status (INVALID_ARGUMENT, NOT_FOUND, UNAVAILABLE, ...), DEADLINE_EXCEEDED when no answer came
// before the deadline, UNAVAILABLE when the server cannot be reached, INTERNAL for a response
// that breaks the contract. The request is never sent twice.
EVREPL_NODISCARD evrepl_code evrepl_client_propagate_event(evrepl_client *c, const char *event_id,
                                                           const evrepl_call_opts *co,
                                                           evrepl_receipt *out, evrepl_status *st);

// Calls /evrepl.v1.EventReplicator/VerifyReplicas; req may be NULL (head only). On OK *out
// holds the result; free it with evrepl_verification_clear(). Codes as above.
EVREPL_NODISCARD evrepl_code evrepl_client_verify_replicas(evrepl_client *c,
                                                           const evrepl_verify_request *req,
                                                           const evrepl_call_opts *co,
                                                           evrepl_verification *out,
                                                           evrepl_status *st);

// Calls /evrepl.v1.Health/Check for service ("" or NULL = the whole server). On OK writes
// *out. NOT_FOUND for a service the server does not have.
EVREPL_NODISCARD evrepl_code evrepl_client_health_check(evrepl_client *c, const char *service,
                                                        const evrepl_call_opts *co,
                                                        evrepl_serving_status *out,
                                                        evrepl_status *st);

// Calls /evrepl.v1.Server/Describe. On OK *out holds the description; free it with
// evrepl_server_description_clear().
EVREPL_NODISCARD evrepl_code evrepl_client_describe(evrepl_client *c, const evrepl_call_opts *co,
                                                    evrepl_server_description *out,
                                                    evrepl_status *st);

// Low-level call: sends `payload` (a serialized request message) to `method` and, on OK,
// returns the serialized response message in *resp (free with evrepl_free()) and its length
// in *resp_len. *resp is written only on OK.
EVREPL_NODISCARD evrepl_code evrepl_client_call(evrepl_client *c, const char *method,
                                                const void *payload, size_t payload_len,
                                                const evrepl_call_opts *co, uint8_t **resp,
                                                size_t *resp_len, evrepl_status *st);

// A metadata value of the last response on this client (any outcome), or NULL. Borrowed until
// the next call on c.
const char *evrepl_client_response_metadata(const evrepl_client *c, const char *key);

// Frees memory that libevrepl returned (evrepl_client_call's *resp). Accepts NULL.
void evrepl_free(void *p);

#ifdef __cplusplus
}
#endif

#endif // EVREPL_CLIENT_H
